"""The built-in demo dataset: seeded procedural furniture with captions at category, sub-type and instance level.

``make_demo`` writes the generic layout (``index.json`` + ``points/*.npy``) for every sub-type of
``catalogue.CATALOGUE``: shapes are area-weighted surface samples of their primitive parts, with per-point Gaussian
noise and (optionally) per-point material colour, normalised to the unit sphere. Shape ``k`` of a sub-type depends
only on (seed, category, sub-type, k), so changing ``shapes_per_subtype`` keeps the existing shapes.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hyperalign.data.demo.catalogue import ACCENTS, CATALOGUE, MATERIALS, Category, Draft, Subtype, instance_captions
from hyperalign.data.demo.primitives import sample_parts
from hyperalign.data.formats import PointCloud, normalize_unit_sphere, write_point_cloud
from hyperalign.data.layout import Dataset, Item, LayoutIndex, Node, load_dataset, write_dataset

LEVELS = ("category", "subtype", "instance")
NAME = "hyperalign-demo"
REVISION = 2  # bumped when the written data changes for the same settings (2: the index declares up_axis "z")
POSITION_NOISE = 0.008  # per-point Gaussian noise, relative to the shape's radius
COLOUR_NOISE = 0.02


def make_demo(
    out_dir: str | os.PathLike[str],
    *,
    shapes_per_subtype: int = 30,
    n_points: int = 1024,
    seed: int = 0,
    colour: bool = True,
    splits: Sequence[float] = (0.7, 0.15, 0.15),
) -> Path:
    """Write the demo dataset to ``out_dir`` and return the path of its ``index.json``.

    Splits are drawn per sub-type (train / val / test fractions ``splits``, each at least one shape), so every
    sub-type appears in every split. Points are xyz+rgb (6 channels) with ``colour``, else xyz; captions mention
    colours only when the points carry them. Rewriting the same directory replaces the files.
    """
    val_n, test_n = _check_args(shapes_per_subtype, n_points, splits)
    root = Path(out_dir)
    nodes: list[Node] = []
    items: list[Item] = []
    for ci, category in enumerate(CATALOGUE):
        nodes.append(Node(id=category.id, level=LEVELS[0], captions=list(category.captions)))
        for si, subtype in enumerate(category.subtypes):
            node_id = f"{category.id}/{subtype.id}"
            nodes.append(Node(id=node_id, parent=category.id, level=LEVELS[1], captions=list(subtype.captions)))
            split_of = _splits(np.random.SeedSequence(seed, spawn_key=(1, ci, si)), shapes_per_subtype, val_n, test_n)
            for k in range(shapes_per_subtype):
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, ci, si, k)))
                item_id = f"{category.id}-{subtype.id}-{k:03d}"
                points = f"points/{item_id}.npy"
                cloud, captions, meta = _make_shape(rng, category, subtype, n_points, colour)
                write_point_cloud(root / points, cloud)
                meta["seed"] = seed
                items.append(
                    Item(id=item_id, points=points, split=split_of[k], node=node_id, captions=captions, meta=meta)
                )
    index = LayoutIndex(name=NAME, levels=list(LEVELS), channels=6 if colour else 3, up_axis="z", nodes=nodes,
                        items=items)
    return write_dataset(root, index)


def _check_args(shapes_per_subtype: int, n_points: int, splits: Sequence[float]) -> tuple[int, int]:
    """Validate arguments; return the number of val and test shapes per sub-type."""
    if shapes_per_subtype < 3:
        raise ValueError(f"shapes_per_subtype must be >= 3 (one per split); got {shapes_per_subtype}")
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1; got {n_points}")
    if len(splits) != 3 or min(splits) <= 0 or not math.isclose(sum(splits), 1.0, abs_tol=1e-6):
        raise ValueError(f"splits must be three positive fractions (train, val, test) summing to 1; got {splits}")
    val_n = max(1, round(shapes_per_subtype * splits[1]))
    test_n = max(1, round(shapes_per_subtype * splits[2]))
    if val_n + test_n >= shapes_per_subtype:
        raise ValueError(f"splits {splits} leave no training shape with shapes_per_subtype={shapes_per_subtype}")
    return val_n, test_n


def _splits(seed: np.random.SeedSequence, n: int, val_n: int, test_n: int) -> list[str]:
    """Split names for shapes 0..n-1: a seeded permutation's first ``val_n`` go to val, the next ``test_n`` to test."""
    split_of = ["train"] * n
    for rank, k in enumerate(np.random.default_rng(seed).permutation(n)):
        if rank < val_n + test_n:
            split_of[int(k)] = "val" if rank < val_n else "test"
    return split_of


def _make_shape(
    rng: np.random.Generator, category: Category, subtype: Subtype, n_points: int, colour: bool
) -> tuple[PointCloud, list[str], dict[str, Any]]:
    """One shape: its cloud, its instance captions and its metadata."""
    material = str(rng.choice(list(MATERIALS)))
    accent = str(rng.choice(list(ACCENTS))) if category.accent else None
    draft = Draft(rng)
    subtype.build(draft)
    xyz, part = sample_parts(draft.parts, n_points, rng)
    radius = float(np.linalg.norm(xyz - xyz.mean(axis=0), axis=1).max())
    xyz = normalize_unit_sphere(xyz + rng.normal(0.0, POSITION_NOISE * radius, size=xyz.shape))
    palette = np.array([ACCENTS[accent] if accent and on else MATERIALS[material][0] for on in draft.accent])
    rgb = np.clip(palette[part] + rng.normal(0.0, COLOUR_NOISE, size=xyz.shape), 0.0, 1.0)
    cloud = PointCloud(xyz, rgb if colour else None)
    captions = instance_captions(
        subtype.noun, draft.size, material if colour else None, accent if colour else None, draft.features
    )
    meta: dict[str, Any] = {
        "category": category.id,
        "subtype": subtype.id,
        "material": material,
        **({"accent": accent} if accent else {}),
        "attributes": draft.attrs,
        "generator": "hyperalign.data.demo",
        "license": "CC0-1.0",
    }
    return cloud, captions, meta


def describe(dataset: Dataset | str | os.PathLike[str]) -> dict[str, Any]:
    """Counts for a layout dataset: items per split, nodes and captions per level, leaf nodes per split, depth."""
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(dataset)
    levels = ds.index.levels
    captions = Counter({level: 0 for level in levels})
    for node in ds.index.nodes:
        captions[node.level] += len(node.captions)
    captions[levels[-1]] += sum(len(item.captions) for item in ds.index.items)
    depth = max(len(ds.ancestors(item.node)) if item.node else 0 for item in ds.index.items) + 1
    return {
        "name": ds.index.name,
        "items": len(ds.index.items),
        "channels": ds.index.channels,
        "items_per_split": {split: len(ds.items(split)) for split in ("train", "val", "test")},
        "nodes_per_level": {level: sum(n.level == level for n in ds.index.nodes) for level in levels[:-1]},
        "leaf_nodes_per_split": {
            split: len({item.node for item in ds.items(split) if item.node}) for split in ("train", "val", "test")
        },
        "captions_per_level": dict(captions),
        "unique_captions_per_level": _unique_captions(ds),
        "tree_depth": depth,
    }


def _unique_captions(ds: Dataset) -> dict[str, int]:
    texts: dict[str, set[str]] = {level: set() for level in ds.index.levels}
    for node in ds.index.nodes:
        texts[node.level].update(node.captions)
    for item in ds.index.items:
        texts[ds.index.levels[-1]].update(item.captions)
    return {level: len(found) for level, found in texts.items()}
