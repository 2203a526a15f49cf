"""Combine datasets in the generic layout into one (for training a single model on all of them).

Each :class:`Source` is one dataset under a short ``name``; it may list several index files over the same items
(alternative splits of one collection, e.g. Sweet Home 3D's name-disjoint and item splits). An item's combined split
is the strictest of its splits: ``test`` if it is a test item in any index, ``train`` only if it is a training item
in every index, else ``val`` -- so a model trained on the combination never saw a test item of any of the splits.

Point files are copied as ``.npy`` (channels widened with grey or cut to the combined width) and turned so every
cloud stands on the combined ``up_axis`` (:func:`up_rotation`). Node and item ids are prefixed with ``name:``.
Levels are aligned by depth below the root: the combined level ``k`` is the ``/``-joined names of the sources'
``k``-th tree levels (``class/category``), and the instance level comes last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from hyperalign.atomic import atomic_directory, atomic_path
from hyperalign.data.layout import (
    INDEX_NAME,
    Dataset,
    Item,
    LayoutError,
    LayoutIndex,
    Node,
    load_dataset,
    write_dataset,
)

Axis = Literal["x", "y", "z"]
_AXES = {"x": 0, "y": 1, "z": 2}


def up_rotation(source: Axis, target: Axis) -> np.ndarray:
    """The 90 degree rotation ``R`` (3 x 3, det 1) with ``R e_source = e_target`` (identity when equal).

    Rodrigues with angle pi/2 about ``u = e_source x e_target``: ``R = I + [u]_x + [u]_x^2``.
    """
    if source == target:
        return np.eye(3, dtype=np.float32)
    u = np.cross(np.eye(3)[_AXES[source]], np.eye(3)[_AXES[target]])
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return (np.eye(3) + k + k @ k).astype(np.float32)


@dataclass(frozen=True)
class Source:
    """A dataset to combine: its prefix ``name`` and one or more index files (or dataset directories) over the
    same items; with several, each item takes the strictest of its splits."""

    name: str
    indexes: tuple[Path, ...]
    #: combined splits kept (e.g. ("train", "val") for a training-only combination)
    splits: tuple[str, ...] = ("train", "val", "test")

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name or "/" in self.name:
            raise ValueError(f"source name {self.name!r}: expected a non-empty name without ':' or '/'")
        if not self.indexes:
            raise ValueError(f"source {self.name!r}: needs at least one index")


def strictest_split(splits: list[str]) -> str:
    """``test`` if any split is test, ``train`` if all are train, else ``val``."""
    if "test" in splits:
        return "test"
    return "train" if all(s == "train" for s in splits) else "val"


def _load_source(source: Source) -> tuple[Dataset, dict[str, dict[str, str]]]:
    """The source's first dataset and, per item id, its split in each index (keyed by the index path)."""
    datasets = [load_dataset(p) for p in source.indexes]
    first = datasets[0]
    points = {it.id: it.points for it in first.items()}
    splits: dict[str, dict[str, str]] = {i: {} for i in points}
    for path, ds in zip(source.indexes, datasets):
        found = {it.id: it for it in ds.items()}
        if set(found) != set(points):
            raise LayoutError(f"{ds.root / INDEX_NAME}: items differ from {first.root / INDEX_NAME}'s; "
                              f"the indexes of source {source.name!r} must list the same items")
        for item_id, item in found.items():
            if item.points != points[item_id]:
                raise LayoutError(f"{ds.root / INDEX_NAME}: items[{item_id!r}].points differs between the indexes "
                                  f"of source {source.name!r}")
            splits[item_id][str(path)] = item.split
    return first, splits


def combined_levels(datasets: list[Dataset]) -> tuple[list[str], list[dict[str, str]]]:
    """The combined level list (aligned by depth, instance last) and, per dataset, its level -> combined level."""
    depth = max(len(ds.index.levels) - 1 for ds in datasets)
    names: list[list[str]] = [[] for _ in range(depth + 1)]
    for ds in datasets:
        tree = ds.index.levels[:-1]
        for k, level in enumerate(tree):
            if level not in names[k]:
                names[k].append(level)
        if ds.index.levels[-1] not in names[depth]:
            names[depth].append(ds.index.levels[-1])
    joined = ["/".join(n) for n in names]
    mapping = []
    for ds in datasets:
        tree = ds.index.levels[:-1]
        mapping.append({**{lv: joined[k] for k, lv in enumerate(tree)}, ds.index.levels[-1]: joined[depth]})
    return joined, mapping


def combine_datasets(
    sources: list[Source], out: str | os.PathLike[str], *, name: str = "combined", up_axis: Axis = "y",
    channels: int | None = None, prefix_ids: bool = True, log=None,  # noqa: ANN001 - optional str -> None callback
) -> Path:
    """Write the combination of ``sources`` to the new directory ``out``; returns its ``index.json``.

    ``prefix_ids=False`` keeps the sources' node and item ids as they are (e.g. one dataset turned onto another up
    axis); ids that then clash are reported by the layout's validation.

    ``channels`` defaults to the widest source. ``out`` must not exist (or be a combination written before, which
    is replaced); the directory appears complete or not at all.
    """
    say = log or (lambda msg: None)
    if len({s.name for s in sources}) != len(sources):
        raise ValueError(f"source names must be distinct; got {[s.name for s in sources]}")
    loaded = [_load_source(s) for s in sources]
    datasets = [ds for ds, _ in loaded]
    width = channels or max(ds.index.channels for ds in datasets)
    levels, level_map = combined_levels(datasets)
    nodes: list[Node] = []
    items: list[Item] = []
    out = Path(out)
    with atomic_directory(out, lambda p: _is_combination(p), what="a combined dataset") as tmp:
        for source, (ds, splits), lmap in zip(sources, loaded, level_map):
            rotation = up_rotation(ds.index.up_axis, up_axis)
            prefix = f"{source.name}:" if prefix_ids else ""
            for node in ds.index.nodes:
                nodes.append(Node(id=prefix + node.id, level=lmap[node.level], captions=node.captions,
                                  parent=prefix + node.parent if node.parent is not None else None))
            (tmp / "points" / source.name).mkdir(parents=True)
            kept = 0
            for position, item in enumerate(ds.items()):
                split = strictest_split(list(splits[item.id].values()))
                if split not in source.splits:
                    continue
                pts = ds.load_points(item)
                pts = _width(pts, width)
                pts[:, :3] = pts[:, :3] @ rotation.T
                rel = f"points/{source.name}/{position:06d}.npy"
                with atomic_path(tmp / rel) as part:
                    np.save(part, pts.astype(np.float32))
                meta = {**item.meta, "source": source.name, "source_id": item.id, "source_splits": splits[item.id]}
                items.append(Item(id=prefix + item.id, points=rel, split=split,
                                  node=prefix + item.node if item.node is not None else None,
                                  captions=item.captions, meta=meta))
                kept += 1
            say(f"{source.name}: {kept} items from {', '.join(str(p) for p in source.indexes)}")
        index = LayoutIndex(name=name, levels=levels, channels=width, up_axis=up_axis, nodes=nodes, items=items)
        write_dataset(tmp, index)
    return out / INDEX_NAME


def _width(pts: np.ndarray, width: int) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float32)
    if pts.shape[1] >= width:
        return pts[:, :width].copy()
    return np.concatenate([pts, np.full((len(pts), width - pts.shape[1]), 0.5, dtype=np.float32)], axis=1)


def _is_combination(path: Path) -> bool:
    """Whether ``path`` holds a dataset written by :func:`combine_datasets` (the only thing it may replace)."""
    try:
        items = load_dataset(path).index.items
    except LayoutError:
        return False
    return all("source" in it.meta and "source_id" in it.meta for it in items)
