"""Text queries on an already embedded folder without torch: the folder's cache (:mod:`hyperalign.runtime.folder_cache`)
holds every file's embedding and the model's text side as ONNX, so ``search "..." --in DIR`` of an unchanged folder
is tokenizers + ONNX Runtime + one NumPy distance matrix.

:meth:`FolderTextSearch.open` returns None, and the caller takes the torch path
(:class:`~hyperalign.runtime.folder.FolderSearch`, which embeds and reports), unless: the model resolves to a
checkpoint, every shape file below the folder has a cached embedding under the fingerprint of that model and these
reader settings, and the cache's ``text-query/`` belongs to that model. Ranking is the model's own pairwise distance
(``pairwise.onnx``, traced from ``pairwise_distance``: :func:`~hyperalign.geometry.lorentz.pairwise_dist`, or
``1 - cos``; :mod:`hyperalign.runtime.query_export`), ties by file order, as the torch path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hyperalign.checkpoint import CheckpointError, read_meta, resolve_checkpoint, weights_sha256
from hyperalign.data.combine import Axis
from hyperalign.runtime.folder_cache import (
    FolderHit,
    ShapeReader,
    cache_directory,
    file_sha256,
    fingerprint,
    read_cache,
    shape_files,
)
from hyperalign.runtime.text_search import PAIRWISE_FILE, QUERY_DIR, TextEmbedder, query_manifest, session


class FolderTextSearch:
    """Cached embeddings (n, d) of a folder's files and the model's text side; answers text queries."""

    def __init__(self, root: Path, files: list[str], embeddings: np.ndarray, query_dir: Path) -> None:
        self.root = root
        self.files = files
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.embedder = TextEmbedder(query_dir)
        self.pairwise = session(query_dir / PAIRWISE_FILE)

    @classmethod
    def open(
        cls, root: str | Path, checkpoint: str | Path, *, up_axis: Axis = "y", xyz_only: bool = False,
        cache_dir: str | Path | None = None,
    ) -> FolderTextSearch | None:  # fmt: skip
        """The folder's cached search when everything it needs is cached for this model and these settings, else
        None (see the module docstring)."""
        root = Path(root).expanduser().resolve()
        try:
            ckpt = resolve_checkpoint(Path(checkpoint))
            meta = read_meta(ckpt)
            reader = ShapeReader.for_checkpoint(meta, up_axis, xyz_only)
        except (CheckpointError, KeyError, TypeError, ValueError):
            return None  # the torch path reports what is wrong with the model
        files = shape_files(root)
        if not files:
            return None
        model = weights_sha256(ckpt)
        cache = cache_directory(root, cache_dir)
        manifest = query_manifest(cache / QUERY_DIR)
        if manifest is None or manifest.get("weights_sha256") != model:
            return None
        found = read_cache(cache, fingerprint(model, meta, reader))
        if found is None:
            return None
        row_of = {h: i for i, h in enumerate(found[0])}
        rows = [row_of.get(file_sha256(f)) for f in files]
        if any(r is None for r in rows):
            return None
        relative = [str(f.relative_to(root)) for f in files]
        return cls(root, relative, found[1][np.asarray(rows, dtype=np.int64)], cache / QUERY_DIR)

    def search_text(self, query: str, k: int = 10) -> list[FolderHit]:
        """The ``k`` files nearest to a text query (fewer when the folder has fewer)."""
        point = self.embedder.embed(query).point
        (dist,) = self.pairwise.run(["distance"], {"query": point, "points": self.embeddings})[0]
        order = np.argsort(dist, kind="stable")[: min(k, len(self.files))]
        return [FolderHit(r + 1, self.files[i], float(dist[i])) for r, i in enumerate(order)]
