"""A searched folder's files and its embedding cache, without torch: which files are shapes, how a model reads them
(:class:`ShapeReader`), where their embeddings are cached and under which fingerprint.

The cache of a folder is ``cache_dir/<sha256 of the folder's path, 16 hex>/``: ``embeddings.safetensors`` (one row
per file content), ``entries.json`` (the fingerprint, the folder, the sha256 of each row's file) and ``text-query/``
(what a text query needs without torch, as in a saved index: :mod:`hyperalign.runtime.text_search`). The fingerprint
names the model's weights, its preprocessing and the reader's settings; a cache under another fingerprint is never
used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError

from hyperalign.checkpoint import recorded_up_axis
from hyperalign.data.combine import Axis, up_rotation
from hyperalign.data.formats import SUFFIXES, read_point_cloud
from hyperalign.data.formats.tables import TEXT_SUFFIXES, looks_like_point_table

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever

CACHE_FORMAT = "hyperalign-folder-cache/3"  # raised whenever files are read differently (3: OBJ materials and textures)
DEFAULT_CACHE = Path("~/.cache/hyperalign/folders")
ENTRIES = "entries.json"
EMBEDDINGS = "embeddings.safetensors"


class FolderError(ValueError):
    """A folder that cannot be searched (missing, not a directory, nothing readable in it)."""


def shape_files(root: Path) -> list[Path]:
    """Every supported point cloud or mesh file below ``root`` (recursively, sorted, hidden folders skipped); text
    files (.txt, .csv, .xyz) only when they start like a point table, so licences and notes beside models are not
    taken for shapes."""
    if not root.exists():
        raise FolderError(f"{root}: no such folder")
    if not root.is_dir():
        raise FolderError(f"{root}: not a folder; give a folder of point clouds or meshes")
    suffixes = {s.lower() for s in SUFFIXES}
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and (p.suffix.lower() not in TEXT_SUFFIXES or looks_like_point_table(p))
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_directory(root: Path, cache_dir: str | Path | None) -> Path:
    """Where the cache of the folder ``root`` (an absolute path) lives under ``cache_dir`` (default ~/.cache)."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else DEFAULT_CACHE.expanduser()
    return base / hashlib.sha256(str(root).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ShapeReader:
    """Reads a user's file as a model expects it: upright in the model's axes (``up_axis`` turned onto
    ``model_up_axis``), ``channels`` wide, colour dropped (grey) when ``xyz_only``."""

    points_per_cloud: int
    channels: int
    model_up_axis: Axis
    up_axis: Axis = "y"
    xyz_only: bool = False

    @classmethod
    def for_model(cls, retriever: Retriever, up_axis: Axis = "y", xyz_only: bool = False) -> ShapeReader:
        return cls.for_checkpoint(retriever.meta, up_axis, xyz_only)

    @classmethod
    def for_checkpoint(cls, meta: dict[str, Any], up_axis: Axis = "y", xyz_only: bool = False) -> ShapeReader:
        """The reader for a checkpoint's metadata: its ``preprocessing`` and the up axis it was trained with."""
        prep = meta["preprocessing"]
        model_up: Any = recorded_up_axis(meta)
        return cls(int(prep["points_per_cloud"]), int(prep["channels"]), model_up, up_axis, xyz_only)

    def read(self, path: Path) -> np.ndarray:
        """One file as an (N, 3 or channels) float32 array; meshes are surface-sampled."""
        cloud = read_point_cloud(path, mesh_samples=max(2048, self.points_per_cloud))
        array = cloud.as_array(3 if self.xyz_only else self.channels)
        array[:, :3] = array[:, :3] @ up_rotation(self.up_axis, self.model_up_axis).T
        return array


@dataclass(frozen=True)
class FolderHit:
    rank: int
    path: str
    distance: float


def fingerprint(weights_sha256: str, meta: dict[str, Any], reader: ShapeReader) -> dict[str, Any]:
    """What cached embeddings depend on: model weights, preprocessing and the reader's settings (as JSON reads it)."""
    made = {"format": CACHE_FORMAT, "model": weights_sha256, "preprocessing": meta.get("preprocessing", {}),
            "reader": asdict(reader)}  # fmt: skip
    return json.loads(json.dumps(made))


def read_cache(cache: Path, expected: dict[str, Any]) -> tuple[list[str], np.ndarray] | None:
    """The file hashes and embedding rows (n, d) float32 cached in ``cache`` under the fingerprint ``expected``;
    None when there is no cache, it is unreadable or it was written under another fingerprint."""
    from safetensors.numpy import load_file

    entries, weights = cache / ENTRIES, cache / EMBEDDINGS
    if not (entries.is_file() and weights.is_file()):
        return None
    try:
        meta = json.loads(entries.read_text(encoding="utf-8"))
        if meta.get("fingerprint") != expected:
            return None
        rows = load_file(str(weights))["embeddings"]
        hashes = [str(h) for h in meta["hashes"]]
    except (OSError, ValueError, KeyError, TypeError, SafetensorError):
        return None
    return (hashes, rows) if len(hashes) == len(rows) else None
