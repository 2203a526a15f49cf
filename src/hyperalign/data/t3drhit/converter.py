"""The paper's T3DR-HIT data (Elephant objects and S3DIS rooms), read as the reference code reads it.

Layouts under one root, per split ``train`` / ``test``:

* Elephant: ``Elephant_caption_{split}.json`` = ``{"result": {object: [caption, ...]}}``, points in
  ``pcd_normalize_{split}/<object>/model.txt``;
* S3DIS: ``S3DIS_{split}_captions.json`` (same shape, keys ``Area_N_<room>``), points in
  ``S3DIS_{split}_pcds/<key>.txt``.

Point files are space-separated with at least 6 columns (x y z r g b). Elephant clouds above ``max_points``
(10,000) are reduced by farthest point sampling started at the point farthest from the barycentre; S3DIS rooms are
kept whole, as in the reference. The model input there has 9 channels: xyz, rgb and per-cloud min-max normalised
xyz (:func:`preprocess_9ch`). :func:`convert_t3drhit` writes the generic layout with 6 channels (xyz + rgb in
[0, 1]); apply :func:`preprocess_9ch` to ``dataset.load_points(item)`` to get the 9-channel form at load. The data
has no validation split: one is carved out of train (seeded); test is never used for selection.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from hyperalign import sampling
from hyperalign.atomic import write_text_atomic
from hyperalign.data.formats import write_point_cloud
from hyperalign.data.formats.cloud import PointCloud
from hyperalign.data.layout import Item, LayoutError, LayoutIndex, write_dataset

Source = Literal["elephant", "s3dis"]
SOURCES: tuple[Source, ...] = ("elephant", "s3dis")
SOURCE_SPLITS = ("train", "test")
MAX_POINTS = 10_000  # the reference's num_points for Elephant
REPORT = "conversion-report.json"


class T3DRHITError(LayoutError):
    """A missing or malformed T3DR-HIT file; the message names the file and what was expected."""


@dataclass(frozen=True)
class Entry:
    """One captioned cloud of the source data."""

    source: Source
    split: str
    key: str
    captions: tuple[str, ...]
    points: Path


def caption_file(root: Path, source: Source, split: str) -> Path:
    """Where the captions of ``split`` live for ``source``."""
    name = f"Elephant_caption_{split}.json" if source == "elephant" else f"S3DIS_{split}_captions.json"
    return root / name


def points_file(root: Path, source: Source, split: str, key: str) -> Path:
    """Where the point file of object / room ``key`` lives."""
    if source == "elephant":
        return root / f"pcd_normalize_{split}" / key / "model.txt"
    return root / f"S3DIS_{split}_pcds" / f"{key}.txt"


def detect_source(root: str | os.PathLike[str]) -> Source:
    """The layout found under ``root`` (its train caption file decides); raises if none or both are there."""
    root = Path(root)
    found = [s for s in SOURCES if caption_file(root, s, "train").is_file()]
    if len(found) != 1:
        expected = " or ".join(caption_file(root, s, "train").name for s in SOURCES)
        problem = "both layouts are present; pass the source explicitly" if found else f"expected {expected}"
        raise T3DRHITError(f"{root}: cannot tell the T3DR-HIT layout: {problem}")
    return found[0]


def read_entries(root: str | os.PathLike[str], source: Source, split: str) -> Iterator[Entry]:
    """The captioned clouds of one split, in file order (the point files are not opened here)."""
    root = Path(root)
    path = caption_file(root, source, split)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise T3DRHITError(f"{path}: no such file; expected the {source} captions of split {split!r}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise T3DRHITError(f"{path}: not valid UTF-8 JSON ({exc})") from None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise T3DRHITError(f"{path}: expected an object {{\"result\": {{name: [captions]}}}}")
    for key, captions in result.items():
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise T3DRHITError(f"{path}: result[{key!r}]: expected a list of caption strings; got {captions!r:.60}")
        kept = tuple(c.strip() for c in captions if c.strip())
        yield Entry(source, split, key, kept, points_file(root, source, split, key))


def load_points(path: Path) -> np.ndarray:
    """(N, >= 6) float64 table of a space-separated point file (x y z r g b ...)."""
    try:
        table = np.loadtxt(path, ndmin=2)
    except OSError:
        raise T3DRHITError(f"{path}: no such file") from None
    except ValueError as exc:
        raise T3DRHITError(f"{path}: not a table of numbers ({exc})") from None
    if table.shape[0] == 0 or table.shape[1] < 6:
        raise T3DRHITError(f"{path}: expected >= 1 row of >= 6 columns (x y z r g b); got shape {table.shape}")
    if not np.isfinite(table[:, :6]).all():
        raise T3DRHITError(f"{path}: columns 1-6 contain NaN/Inf values")
    return table


def farthest_point_sample(xyz: np.ndarray, n: int) -> np.ndarray:
    """Indices ``(n,)`` of ``n`` of the ``(N, 3)`` points by :func:`hyperalign.sampling.farthest_point_sample` on
    float32 coordinates: as the reference (``utils/fps.py``, ``fps_1``), it starts at the point farthest from the
    barycentre and takes the first index on ties."""
    points = torch.from_numpy(np.ascontiguousarray(xyz, dtype=np.float32))
    if not 1 <= n <= len(points):
        raise ValueError(f"n must be in [1, {len(points)}]; got {n}")
    return sampling.farthest_point_sample(points[None], n)[0].numpy()


def preprocess_9ch(points: np.ndarray) -> np.ndarray:
    """(N, >= 6) -> (N, 9): xyz, rgb, then xyz min-max normalised per cloud (a flat axis divides by 1e-8)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 6:
        raise ValueError(f"points must have shape (N, >= 6); got {points.shape}")
    xyz = points[:, :3]
    lo = xyz.min(axis=0)
    extent = xyz.max(axis=0) - lo
    extent = np.where(extent == 0, 1e-8, extent)
    return np.concatenate([points[:, :6], (xyz - lo) / extent], axis=1)


def convert_t3drhit(
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    source: Source | None = None,
    max_points: int = MAX_POINTS,
    val_fraction: float = 0.1,
    seed: int = 0,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Convert a T3DR-HIT root to the generic layout (levels ``["instance"]``, 6 channels); return the report.

    Each object keeps all its captions (multi-positive). ``val_fraction`` of the train objects (seeded) become the
    validation split. Objects whose point file is missing or unreadable, or that have no caption, are skipped and
    reported in ``conversion-report.json``.
    """
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES} or None (detect); got {source!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1); got {val_fraction}")
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1; got {max_points}")
    started = time.perf_counter()
    root, out = Path(root), Path(out_dir)
    source = source or detect_source(root)
    entries = [e for split in SOURCE_SPLITS for e in read_entries(root, source, split)]
    items, skipped = [], []
    used: set[str] = set()
    for entry in _progress(entries, progress):
        if not entry.captions:
            skipped.append({"split": entry.split, "key": entry.key, "reason": "no caption"})
            continue
        try:
            table = load_points(entry.points)
            rgb = _rgb01(entry.points, table[:, 3:6])
        except T3DRHITError as exc:
            skipped.append({"split": entry.split, "key": entry.key, "reason": str(exc)})
            continue
        reduced = source == "elephant" and len(table) > max_points
        if reduced:
            keep = farthest_point_sample(table[:, :3], max_points)
            table, rgb = table[keep], rgb[keep]
        rel = _unique(f"points/{entry.split}/{_file_name(entry.key)}", used)
        write_point_cloud(out / rel, PointCloud(table[:, :3], rgb))
        meta = {"source": source, "source_split": entry.split, "key": entry.key, "points": len(table),
                "farthest_point_sampled": reduced}  # fmt: skip
        item_id = f"{entry.split}/{entry.key}"
        items.append(Item(id=item_id, points=rel, split=entry.split, captions=list(entry.captions), meta=meta))
    if not items:
        raise T3DRHITError(f"{root}: no {source} object could be converted ({len(skipped)} skipped)")
    _carve_validation(items, val_fraction, seed)
    index = LayoutIndex(name=f"t3drhit-{source}", levels=["instance"], channels=6, items=items)
    write_dataset(out, index)
    report = {
        "source": source,
        "root": str(root),
        "settings": {"max_points": max_points, "val_fraction": val_fraction, "seed": seed},
        "items_per_split": {s: sum(it.split == s for it in items) for s in ("train", "val", "test")},
        "captions": sum(len(it.captions) for it in items),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_text_atomic(out / REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if log is not None and skipped:
        log(f"{len(skipped)} object(s) skipped; reasons in {out / REPORT}")
    return report


def _rgb01(path: Path, rgb: np.ndarray) -> np.ndarray:
    """Colours in [0, 1]: kept if already there, divided by 255 if within [0, 255], else refused."""
    lo, hi = float(rgb.min()), float(rgb.max())
    if lo < 0.0 or hi > 255.0:
        raise T3DRHITError(f"{path}: columns 4-6 must be colours in [0, 1] or [0, 255]; found [{lo:g}, {hi:g}]")
    return rgb if hi <= 1.0 else rgb / 255.0


def _carve_validation(items: list[Item], fraction: float, seed: int) -> None:
    """Move a seeded ``fraction`` of the train items to val (in place)."""
    train = [i for i, item in enumerate(items) if item.split == "train"]
    n_val = round(len(train) * fraction)
    for k in np.random.default_rng(np.random.SeedSequence([seed, 3])).permutation(len(train))[:n_val]:
        items[train[int(k)]].split = "val"


def _file_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "object"


def _unique(stem: str, used: set[str]) -> str:
    """``stem.npy``, or ``stem-2.npy``, ... if keys that differ only in unsafe characters met already."""
    path, k = f"{stem}.npy", 1
    while path in used:
        k += 1
        path = f"{stem}-{k}.npy"
    used.add(path)
    return path


def _progress(entries: list[Entry], enabled: bool) -> Any:
    if not enabled:
        return entries
    from tqdm import tqdm

    return tqdm(entries, desc="reading clouds", unit="cloud")
