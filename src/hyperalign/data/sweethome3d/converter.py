"""The Sweet Home 3D furniture benchmark: real artist-made meshes (Debian ``sweethome3d-furniture``) in the generic
layout, with a caption hierarchy from the catalogue metadata and the WordNet noun hierarchy (Debian ``wordnet-base``).

Tree levels, coarse to fine: ``class`` (a basic-level class such as seat or lamp, from the name's WordNet sense) >
``name`` (the catalogue name; several items share one, e.g. 25 "Chair") > ``room`` (the name within its catalogue
category: "a chair for the kitchen") > ``instance`` (the item's own description). The room category is below the
name, not beside the class: a room is not a kind of thing (a kitchen holds chairs and fridges), while "a chair for
the kitchen" is a kind of chair, so every edge of the tree stays an entailment.

One run writes ``points/*.npy`` (xyz + rgb, unit sphere, y up) and two indexes over them: ``index.json`` with a
name-disjoint split (all items of a name on one side; the zero-shot protocol and the headline) and
``index-items.json`` with an item split stratified by category; plus ``conversion-report.json`` (failures with
reasons, statistics). Each item's licence and creator are kept in its metadata.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperalign.atomic import write_text_atomic
from hyperalign.data.formats import normalize_unit_sphere, write_point_cloud
from hyperalign.data.formats.cloud import PointCloud
from hyperalign.data.layout import Dataset, Item, LayoutIndex, Node, write_dataset
from hyperalign.data.splits import group_split, item_split
from hyperalign.data.sweethome3d import text
from hyperalign.data.sweethome3d.catalog import CatalogItem, read_library
from hyperalign.data.sweethome3d.classes import ClassResolver, NameSense
from hyperalign.data.sweethome3d.mesh import sample_model
from hyperalign.data.wordnet import DEFAULT_ROOT as WORDNET_ROOT
from hyperalign.data.wordnet import WordNet

DEFAULT_ROOT = Path("/usr/share/sweethome3d/furniture")
LEVELS = ("class", "name", "room", "instance")
NAME = "sweethome3d"
ITEM_INDEX = "index-items.json"
REPORT = "conversion-report.json"


@dataclass(frozen=True)
class _Converted:
    entry: CatalogItem
    item_id: str
    sense: NameSense
    stretch: float


def convert_sweethome3d(
    out_dir: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    wordnet: str | os.PathLike[str] = WORDNET_ROOT,
    resolver: ClassResolver | None = None,
    n_points: int = 2048,
    seed: int = 0,
    limit: int | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Convert every ``*.sh3f`` library under ``root`` into ``out_dir``; return the report (also written as JSON).

    ``limit`` converts only the first items (catalogue order), for quick runs. ``resolver`` replaces the default
    name resolver built on the WordNet at ``wordnet``. A model that fails to load or sample is reported with the
    reason and skipped; the run fails only if no item converts.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1; got {n_points}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None; got {limit}")
    started = time.perf_counter()
    out = Path(out_dir)
    libraries = _libraries(Path(root))
    entries, failures = _read_catalogues(libraries)
    entries = entries[:limit] if limit is not None else entries
    resolver = resolver or ClassResolver(WordNet.load(wordnet))
    converted: list[_Converted] = []
    archives: dict[str, zipfile.ZipFile] = {}
    try:
        for entry, item_id in _progress(list(zip(entries, _item_ids(entries))), progress, "sampling meshes"):
            if entry.library not in archives:
                archives[entry.library] = zipfile.ZipFile(libraries[entry.library])
            archive = archives[entry.library]
            try:
                stretch = _write_cloud(out / f"points/{item_id}.npy", archive, entry, item_id, n_points, seed)
            except Exception as exc:  # one bad mesh must not end the run: any failure is reported and skipped
                failures.append(_failure(entry, f"{type(exc).__name__}: {exc}"))
                continue
            sense = resolver.resolve(entry.name, entry.category, entry.tags)
            converted.append(_Converted(entry, item_id, sense, stretch))
    finally:
        for archive in archives.values():
            archive.close()
    if not converted:
        first = failures[0]["reason"] if failures else "the catalogues list no items"
        raise ValueError(f"{root}: no item could be converted; first failure: {first}")
    index_by_name, index_by_item = _indexes(converted, n_points, seed)
    write_dataset(out, index_by_name)
    _write_index(out / ITEM_INDEX, index_by_item)
    report = {
        "source": {name: str(path) for name, path in libraries.items()},
        "settings": {"points": n_points, "seed": seed, "limit": limit, "wordnet": str(resolver.wordnet.root)},
        "items_converted": len(converted),
        "items_failed": len(failures),
        "failures": failures,
        "statistics": _statistics(index_by_name, index_by_item, converted),
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_text_atomic(out / REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if log is not None and failures:
        log(f"{len(failures)} item(s) failed; reasons in {out / REPORT}")
    return report


def _libraries(root: Path) -> dict[str, Path]:
    paths = sorted(root.glob("*.sh3f")) if root.is_dir() else []
    if not paths:
        raise FileNotFoundError(
            f"{root}: no Sweet Home 3D furniture libraries (*.sh3f); install the Debian package "
            "sweethome3d-furniture or pass --root"
        )
    return {path.stem: path for path in paths}


def _read_catalogues(libraries: dict[str, Path]) -> tuple[list[CatalogItem], list[dict[str, str]]]:
    entries, failures = [], []
    for path in libraries.values():
        items, bad = read_library(path)
        entries += items
        failures += [{"id": entry, "library": path.stem, "reason": reason} for entry, reason in bad]
    return entries, failures


def _item_ids(entries: Sequence[CatalogItem]) -> list[str]:
    """Stable, file-name-safe ids ``<library>-<catalogue id>``, made unique with a numeric suffix."""
    ids = []
    seen: Counter[str] = Counter()
    for entry in entries:
        local = entry.id.rpartition("#")[2] or str(entry.number)
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{entry.library}-{local}").strip("-.")
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids


def _write_cloud(
    path: Path, archive: zipfile.ZipFile, entry: CatalogItem, item_id: str, n_points: int, seed: int
) -> float:
    """Sample, normalise and write one item's cloud; return the largest axis stretch the catalogue size applied."""
    rng_seed = np.random.SeedSequence([seed, zlib.crc32(item_id.encode("utf-8"))])
    size = (entry.width, entry.height, entry.depth)
    sample = sample_model(archive, entry.model, n_points, rng_seed, rotation=entry.model_rotation, size=size)
    write_point_cloud(path, PointCloud(normalize_unit_sphere(sample.cloud.xyz), sample.cloud.rgb))
    return sample.stretch


def _failure(entry: CatalogItem, reason: str) -> dict[str, str]:
    return {"id": entry.id, "library": entry.library, "name": entry.name, "model": entry.model, "reason": reason}


def _indexes(converted: list[_Converted], n_points: int, seed: int) -> tuple[LayoutIndex, LayoutIndex]:
    """The name-split and item-split indexes: same tree and items, different splits."""
    nodes: dict[str, Node] = {}
    slugs = _unique_slugs([c.entry.name for c in converted])
    items = []
    for c in converted:
        e, coarse = c.entry, c.sense.coarse
        class_id = coarse.id
        name_id = f"{class_id}/{slugs[e.name]}"
        room_id = f"{name_id}/{_slug(e.category)}"
        nodes.setdefault(class_id, Node(id=class_id, level="class", captions=[coarse.caption]))
        nodes.setdefault(name_id, Node(id=name_id, parent=class_id, level="name", captions=[text.name_caption(e.name)]))
        room = text.room_caption(e.name, e.category)
        nodes.setdefault(room_id, Node(id=room_id, parent=name_id, level="room", captions=[room]))
        caption = text.instance_caption(e.name, e.category, coarse, e.tags)
        items.append(Item(id=c.item_id, points=f"points/{c.item_id}.npy", split="train", node=room_id,
                          captions=[caption], meta=_meta(c, n_points, seed)))  # fmt: skip
    by_name = group_split([c.entry.name for c in converted], [c.sense.coarse.id for c in converted], seed)
    by_item = item_split([c.entry.category for c in converted], seed)
    node_list = list(nodes.values())
    return (
        LayoutIndex(name=NAME, levels=list(LEVELS), channels=6, nodes=node_list,
                    items=[it.model_copy(update={"split": s}) for it, s in zip(items, by_name)]),
        LayoutIndex(name=f"{NAME}-items", levels=list(LEVELS), channels=6, nodes=node_list,
                    items=[it.model_copy(update={"split": s}) for it, s in zip(items, by_item)]),
    )  # fmt: skip


def _meta(c: _Converted, n_points: int, seed: int) -> dict[str, Any]:
    e = c.entry
    return {
        "name": e.name,
        "category": e.category,
        "tags": list(e.tags),
        "creator": e.creator,
        "license": e.license_id or e.license,
        "license_text": e.license,
        "library": e.library,
        "catalog_id": e.id,
        "model": e.model,
        "model_rotation": list(e.model_rotation) if e.model_rotation else None,
        "size_cm": {"width": e.width, "depth": e.depth, "height": e.height},
        "stretch": round(c.stretch, 4),
        "coarse_class": c.sense.coarse.id,
        "wordnet": c.sense.meta(),
        "translations": e.translations,
        "points": n_points,
        "seed": seed,
        "up_axis": "y",
    }


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-") or "unnamed"


def _unique_slugs(names: Sequence[str]) -> dict[str, str]:
    """Node-id slug per distinct name; names that differ only in punctuation or case get numbered slugs."""
    slugs: dict[str, str] = {}
    used: set[str] = set()
    for name in dict.fromkeys(names):
        base = slug = _slug(name)
        k = 1
        while slug in used:
            k += 1
            slug = f"{base}-{k}"
        slugs[name] = slug
        used.add(slug)
    return slugs


def _write_index(path: Path, index: LayoutIndex) -> None:
    """Validate ``index`` against the files beside ``path`` and write it atomically (any index file name)."""
    data = index.model_dump(mode="json")
    Dataset(path.parent, LayoutIndex.model_validate(data), source=path)
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _statistics(
    by_name: LayoutIndex, by_item: LayoutIndex, converted: Sequence[_Converted]
) -> dict[str, Any]:
    """Counts for the report: splits, names seen in training, captions and nodes per level, depth, WordNet matches."""
    captions: dict[str, list[str]] = {level: [] for level in by_name.levels}
    for node in by_name.nodes:
        captions[node.level] += node.captions
    captions[by_name.levels[-1]] += [c for item in by_name.items for c in item.captions]
    seen_levels: dict[str, set[str]] = defaultdict(set)
    for level, texts in captions.items():
        for caption in set(texts):
            seen_levels[caption].add(level)
    parents = {node.id: node.parent for node in by_name.nodes}
    depth = 1 + max(_depth(parents, item.node) for item in by_name.items)
    return {
        "items": len(by_name.items),
        "points_per_item": by_name.items[0].meta.get("points"),
        "names": len({item.meta.get("name", item.id).casefold() for item in by_name.items}),
        "nodes_per_level": {lv: sum(n.level == lv for n in by_name.nodes) for lv in by_name.levels[:-1]},
        "captions_per_level": {lv: len(texts) for lv, texts in captions.items()},
        "unique_captions_per_level": {lv: len(set(texts)) for lv, texts in captions.items()},
        "captions_on_several_levels": sorted(c for c, lvs in seen_levels.items() if len(lvs) > 1),
        "tree_depth": depth,
        "items_per_class": dict(Counter(item.meta.get("coarse_class") for item in by_name.items).most_common()),
        "wordnet_match": dict(Counter(c.sense.match for c in converted).most_common()),
        "name_split": _split_counts(by_name),
        "item_split": _split_counts(by_item),
    }


def _depth(parents: dict[str, str | None], node: str | None) -> int:
    depth = 0
    while node is not None:
        depth, node = depth + 1, parents[node]
    return depth


def _split_counts(index: LayoutIndex) -> dict[str, Any]:
    counts = Counter(item.split for item in index.items)
    train_names = {item.meta.get("name", "").casefold() for item in index.items if item.split == "train"}
    out: dict[str, Any] = {split: counts.get(split, 0) for split in ("train", "val", "test")}
    for split in ("val", "test"):
        members = [item for item in index.items if item.split == split]
        unseen = sum(item.meta.get("name", "").casefold() not in train_names for item in members)
        out[f"{split}_items_with_unseen_name"] = unseen
        out[f"{split}_unseen_name_fraction"] = round(unseen / len(members), 3) if members else None
    return out


def _progress(work: list[Any], enabled: bool, desc: str) -> Any:
    if not enabled:
        return work
    from tqdm import tqdm

    return tqdm(work, desc=desc, unit="item")

