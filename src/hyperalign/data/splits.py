"""Seeded train / val / test splits shared by the dataset converters: a group-disjoint split (every item of a group,
such as a name or a family, on one side: the zero-shot protocol) and an item split, both stratified."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

SPLIT_FRACTIONS = (0.7, 0.1, 0.2)  # train, val, test


def group_split(groups: Sequence[str], strata: Sequence[str], seed: int) -> list[str]:
    """Splits with every item of a group (a name, a family; compared case-insensitively) on one side, 70 / 10 / 20
    of the items within each stratum.

    Within a stratum, groups are shuffled (seeded) and placed by the midpoint of their items on the cumulative item
    count: test below 20 %, then val below 30 %, else train (a stratum with a single group goes to train).
    """
    by_stratum: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (group, stratum) in enumerate(zip(groups, strata)):
        by_stratum[stratum][group.casefold()].append(i)
    split = ["train"] * len(groups)
    test_end, val_end = SPLIT_FRACTIONS[2], SPLIT_FRACTIONS[2] + SPLIT_FRACTIONS[1]
    for s, stratum in enumerate(sorted(by_stratum)):
        members = by_stratum[stratum]
        order = sorted(members)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1, s]))
        total = sum(len(v) for v in members.values())
        seen = 0
        for k in rng.permutation(len(order)):
            indices = members[order[int(k)]]
            middle = (seen + len(indices) / 2) / total
            side = "test" if middle < test_end else "val" if middle < val_end else "train"
            for i in indices:
                split[i] = side
            seen += len(indices)
    return split


def item_split(strata: Sequence[str], seed: int) -> list[str]:
    """Splits of items, 70 / 10 / 20 within each stratum (seeded permutation: test first, then val)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, stratum in enumerate(strata):
        groups[stratum].append(i)
    split = ["train"] * len(strata)
    for s, stratum in enumerate(sorted(groups)):
        members = groups[stratum]
        n_test = round(len(members) * SPLIT_FRACTIONS[2])
        n_val = round(len(members) * SPLIT_FRACTIONS[1])
        rng = np.random.default_rng(np.random.SeedSequence([seed, 2, s]))
        for rank, k in enumerate(rng.permutation(len(members))):
            if rank < n_test + n_val:
                split[members[int(k)]] = "test" if rank < n_test else "val"
    return split
