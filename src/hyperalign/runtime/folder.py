"""Your own shapes, no training: embed every point cloud or mesh below a folder with a trained model and search them.

Files are found recursively by extension (every format :func:`hyperalign.data.formats.read_point_cloud` reads; meshes are
surface-sampled). Each file is read, turned upright (its ``up_axis`` rotated onto the model's, a 90 degree turn),
optionally stripped of colour (``xyz_only``), then prepared and embedded as the model was trained
(:meth:`Retriever.prepare_cloud`). Embeddings are cached per file content: ``cache_dir/<folder key>/`` holds
``embeddings.safetensors`` and ``entries.json`` (model fingerprint, settings, one row per file sha256), so a second run
embeds only new or changed files. A cache written for another model or other settings is never reused: it is rebuilt.
Unreadable files are reported (file, reason) and skipped; a folder with nothing readable is an error.

Search is exact: every cached embedding is compared with the query by the model's own distance
(Lorentz geodesic distance, or the Euclidean twin's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import Tensor

from hyperalign.atomic import atomic_path, write_text_atomic
from hyperalign.data.formats import SUFFIXES, PointCloudError, read_point_cloud

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever

Axis = Literal["x", "y", "z"]
CACHE_FORMAT = "hyperalign-folder-cache/2"
DEFAULT_CACHE = Path("~/.cache/hyperalign/folders")
_AXES = {"x": 0, "y": 1, "z": 2}


class FolderError(ValueError):
    """A folder that cannot be searched (missing, not a directory, nothing readable in it)."""


def up_rotation(source: Axis, target: Axis) -> np.ndarray:
    """The 90 degree rotation ``R`` (3 x 3) with ``R e_source = e_target`` (identity when equal).

    Rodrigues with angle pi/2 about ``u = e_source x e_target``: ``R = I + [u]_x + [u]_x^2``.
    """
    if source == target:
        return np.eye(3, dtype=np.float32)
    u = np.cross(np.eye(3)[_AXES[source]], np.eye(3)[_AXES[target]])
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return (np.eye(3) + k + k @ k).astype(np.float32)


def shape_files(root: Path) -> list[Path]:
    """Every supported point cloud or mesh file below ``root`` (recursively, sorted, hidden folders skipped)."""
    if not root.exists():
        raise FolderError(f"{root}: no such folder")
    if not root.is_dir():
        raise FolderError(f"{root}: not a folder; give a folder of point clouds or meshes")
    suffixes = {s.lower() for s in SUFFIXES}
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        return cls(retriever.points_per_cloud, retriever.channels, retriever.up_axis, up_axis, xyz_only)

    def read(self, path: Path) -> np.ndarray:
        """One file as an (N, 3 or channels) float32 array; meshes are surface-sampled."""
        cloud = read_point_cloud(path, mesh_samples=max(2048, self.points_per_cloud))
        array = cloud.as_array(3 if self.xyz_only else self.channels)
        array[:, :3] = array[:, :3] @ up_rotation(self.up_axis, self.model_up_axis).T
        return array


@dataclass
class FolderIndex:
    """The embedded shapes of one folder: ``files`` (relative paths) and their ``embeddings`` (n, d), in file order;
    ``failures`` lists (relative path, reason) of files that could not be read."""

    root: Path
    files: list[str]
    embeddings: Tensor
    failures: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0  # how many files this call embedded (the rest came from the cache)


@dataclass(frozen=True)
class FolderHit:
    rank: int
    path: str
    distance: float


class FolderSearch:
    """Embed a folder with ``retriever`` (cached) and answer text or shape queries over it."""

    def __init__(
        self,
        retriever: Retriever,
        root: str | Path,
        *,
        up_axis: Axis = "y",
        xyz_only: bool = False,
        cache_dir: str | Path | None = None,
        progress: Callable[[Sequence[Path]], Sequence[Path]] | None = None,
    ) -> None:
        self.retriever = retriever
        self.root = Path(root).expanduser().resolve()
        self.reader = ShapeReader.for_model(retriever, up_axis, xyz_only)
        base = Path(cache_dir).expanduser() if cache_dir is not None else DEFAULT_CACHE.expanduser()
        self.cache = base / hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        self.index = self._build(progress or (lambda files: files))

    def fingerprint(self) -> dict[str, object]:
        """What the cached embeddings depend on: model weights, preprocessing and this folder's settings."""
        return {
            "format": CACHE_FORMAT, "model": self.retriever.weights_sha256(),
            "preprocessing": self.retriever.meta.get("preprocessing", {}),
            "reader": asdict(self.reader),
        }

    def _load_cache(self) -> dict[str, Tensor]:
        entries, weights = self.cache / "entries.json", self.cache / "embeddings.safetensors"
        if not (entries.is_file() and weights.is_file()):
            return {}
        from safetensors.torch import load_file

        try:
            meta = json.loads(entries.read_text(encoding="utf-8"))
            if meta.get("fingerprint") != json.loads(json.dumps(self.fingerprint())):
                return {}
            rows = load_file(str(weights))["embeddings"]
            return {h: rows[i] for i, h in enumerate(meta["hashes"])}
        except (OSError, ValueError, KeyError, IndexError):
            return {}

    def _write_cache(self, cached: dict[str, Tensor]) -> None:
        from safetensors.torch import save_file

        hashes = sorted(cached)
        dim = self.retriever.model.cfg.dim
        rows = torch.stack([cached[h] for h in hashes]) if hashes else torch.empty(0, dim)
        with atomic_path(self.cache / "embeddings.safetensors") as tmp:
            save_file({"embeddings": rows.contiguous()}, str(tmp))
        write_text_atomic(
            self.cache / "entries.json",
            json.dumps({"fingerprint": self.fingerprint(), "root": str(self.root), "hashes": hashes}, indent=1),
        )

    def _build(self, progress: Callable[[Sequence[Path]], Sequence[Path]]) -> FolderIndex:
        files = shape_files(self.root)
        if not files:
            raise FolderError(f"{self.root}: no point cloud or mesh files ({', '.join(SUFFIXES)}) below this folder")
        cached = self._load_cache()
        hashes = {f: _sha256(f) for f in files}
        failures: list[tuple[str, str]] = []
        todo = [f for f in files if hashes[f] not in cached]
        for path in progress(todo):
            try:
                cloud = self.reader.read(path)
            except (PointCloudError, ValueError, OSError) as err:
                failures.append((str(path.relative_to(self.root)), str(err)))
                continue
            cached[hashes[path]] = self.retriever.encode_points([cloud])[0]
        if todo:
            self._write_cache(cached)
        kept = [f for f in files if hashes[f] in cached]
        if not kept:
            raise FolderError(f"{self.root}: none of its {len(files)} shape files could be read: {failures[:3]}")
        embeddings = torch.stack([cached[hashes[f]] for f in kept])
        return FolderIndex(
            self.root, [str(f.relative_to(self.root)) for f in kept], embeddings, failures,
            embedded=len(todo) - len(failures),
        )

    def _rank(self, query: Tensor, k: int) -> list[FolderHit]:
        dist = self.retriever.model.pairwise_distance(query, self.index.embeddings)[0]
        k = min(k, len(self.index.files))
        values, order = torch.topk(dist, k, largest=False)
        return [FolderHit(r + 1, self.index.files[i], float(d)) for r, (d, i) in enumerate(zip(values, order.tolist()))]

    @torch.no_grad()
    def search_text(self, query: str, k: int = 10) -> list[FolderHit]:
        """The ``k`` files nearest to a text query (fewer when the folder has fewer)."""
        return self._rank(self.retriever.encode_text([query]), k)

    @torch.no_grad()
    def search_shape(self, path: str | Path, k: int = 10) -> list[FolderHit]:
        """The ``k`` files nearest to another shape file (read with this folder's up axis and colour settings)."""
        return self._rank(self.retriever.encode_points([self.reader.read(Path(path))]), k)
