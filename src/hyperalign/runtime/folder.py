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

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from hyperalign.atomic import atomic_directory, atomic_path, write_text_atomic
from hyperalign.data.combine import Axis, up_rotation
from hyperalign.data.formats import SUFFIXES, PointCloudError
from hyperalign.encoders.text import TextTower
from hyperalign.encoders.text_onnx import export_text_onnx
from hyperalign.runtime.folder_cache import (
    CACHE_FORMAT,
    DEFAULT_CACHE,
    EMBEDDINGS,
    ENTRIES,
    FolderError,
    FolderHit,
    ShapeReader,
    cache_directory,
    file_sha256,
    fingerprint,
    read_cache,
    shape_files,
)
from hyperalign.runtime.text_search import QUERY_DIR, is_text_query_dir, query_manifest

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever

__all__ = ["CACHE_FORMAT", "DEFAULT_CACHE", "FolderError", "FolderHit", "FolderIndex", "FolderSearch", "ShapeReader",
           "shape_files", "up_rotation"]


@dataclass
class FolderIndex:
    """The embedded shapes of one folder: ``files`` (relative paths) and their ``embeddings`` (n, d), in file order;
    ``failures`` lists (relative path, reason) of files that could not be read."""

    root: Path
    files: list[str]
    embeddings: Tensor
    failures: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0  # how many files this call embedded (the rest came from the cache)


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
        self.reader = ShapeReader.for_checkpoint(retriever.meta, up_axis, xyz_only)
        self.cache = cache_directory(self.root, cache_dir)
        self.index = self._build(progress or (lambda files: files))
        if isinstance(retriever.tower, TextTower):  # later searches run the frozen text tower by ONNX Runtime
            export_text_onnx(retriever.tower, retriever.cfg.cache_dir)
        self._write_text_query()

    def fingerprint(self) -> dict[str, object]:
        """What the cached embeddings depend on: model weights, preprocessing and this folder's settings."""
        return fingerprint(self.retriever.weights_sha256(), self.retriever.meta, self.reader)

    def _load_cache(self) -> dict[str, Tensor]:
        found = read_cache(self.cache, self.fingerprint())
        if found is None:
            return {}
        hashes, rows = found
        return {h: torch.from_numpy(rows[i]) for i, h in enumerate(hashes)}

    def _write_cache(self, cached: dict[str, Tensor]) -> None:
        from safetensors.torch import save_file

        hashes = sorted(cached)
        dim = self.retriever.model.cfg.dim
        rows = torch.stack([cached[h] for h in hashes]) if hashes else torch.empty(0, dim)
        with atomic_path(self.cache / EMBEDDINGS) as tmp:
            save_file({"embeddings": rows.contiguous()}, str(tmp))
        write_text_atomic(
            self.cache / ENTRIES,
            json.dumps({"fingerprint": self.fingerprint(), "root": str(self.root), "hashes": hashes}, indent=1),
        )

    def _write_text_query(self) -> None:
        """Keep ``text-query/`` in the cache for this model, so a later text query of an unchanged folder can run
        without torch (:mod:`hyperalign.runtime.folder_text`)."""
        from hyperalign.runtime.query_export import text_query_sources, write_text_query

        target = self.cache / QUERY_DIR
        manifest = query_manifest(target)
        written = manifest is not None and manifest.get("weights_sha256") == self.retriever.weights_sha256()
        if written or text_query_sources(self.retriever) is None:
            return
        with atomic_directory(target, is_text_query_dir) as tmp:
            write_text_query(self.retriever, tmp)

    def _build(self, progress: Callable[[Sequence[Path]], Sequence[Path]]) -> FolderIndex:
        files = shape_files(self.root)
        if not files:
            raise FolderError(f"{self.root}: no point cloud or mesh files ({', '.join(SUFFIXES)}) below this folder")
        cached = self._load_cache()
        hashes = {f: file_sha256(f) for f in files}
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
        order = torch.sort(dist, stable=True).indices[: min(k, len(self.index.files))]
        return [FolderHit(r + 1, self.index.files[i], float(dist[i])) for r, i in enumerate(order.tolist())]

    @torch.no_grad()
    def search_text(self, query: str, k: int = 10) -> list[FolderHit]:
        """The ``k`` files nearest to a text query (fewer when the folder has fewer)."""
        return self._rank(self.retriever.encode_text([query]), k)

    @torch.no_grad()
    def search_shape(self, path: str | Path, k: int = 10) -> list[FolderHit]:
        """The ``k`` files nearest to another shape file (read with this folder's up axis and colour settings)."""
        return self._rank(self.retriever.encode_points([self.reader.read(Path(path))]), k)
