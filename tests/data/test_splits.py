"""The shared seeded splits: group-disjoint and stratified item splits."""

from __future__ import annotations

from collections import Counter

import numpy as np

from hyperalign.data.splits import group_split, item_split


def test_group_split_keeps_groups_together_and_item_split_is_stratified() -> None:
    rng = np.random.default_rng(0)
    names = [f"name{int(k)}" for k in rng.integers(0, 150, size=800)]
    classes = [f"class{hash(n) % 5}" for n in names]
    split = group_split(names, classes, seed=3)
    assert split == group_split(names, classes, seed=3)
    sides: dict[str, set[str]] = {}
    for name, side in zip(names, split):
        sides.setdefault(name, set()).add(side)
    assert all(len(s) == 1 for s in sides.values())
    counts = Counter(split)
    assert abs(counts["test"] / 800 - 0.2) < 0.05 and abs(counts["val"] / 800 - 0.1) < 0.05
    categories = ["kitchen"] * 50 + ["office"] * 30
    by_item = item_split(categories, seed=1)
    assert Counter(by_item[:50]) == {"train": 35, "test": 10, "val": 5}
    assert Counter(by_item[50:]) == {"train": 21, "test": 6, "val": 3}
