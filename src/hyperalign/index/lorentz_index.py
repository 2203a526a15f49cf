"""k-nearest-neighbour search by Lorentz (or cosine) distance over a pluggable backend: FAISS or Milvus.

A :class:`LorentzIndex` joins a :class:`~hyperalign.index.space.SpaceCodec` (the space's forms and exact distances)
and a :class:`~hyperalign.index.store.VectorStore` (storage and inner-product candidates):
:class:`~hyperalign.index.faiss_store.FaissStore` (embedded, flat / HNSW / IVF; the default) or
:class:`~hyperalign.index.milvus.MilvusStore` (milvus-lite file or Milvus server). The store proposes
``k' = rerank_factor * k`` candidates by inner product of query and database forms, which ranks by Lorentz distance
(:func:`hyperalign.geometry.lorentz.mips_query`); the codec recomputes their distances exactly and sorts them. Even a
flat index is exact only up to the float32 inner product's resolution when choosing those candidates: points that
tie within it beyond the ``k'``-th candidate can be missed. Results have fixed shapes on every backend: distances
(Q, k) float32 ascending, ids (Q, k) int64, ``inf`` / ``-1`` where fewer than ``k`` points exist.

Saved as a directory: ``meta.json`` (format, space, curvature, width, count, :class:`IndexSpec`, :class:`StoreSpec`)
plus the store's files (FAISS: ``faiss.index``, ``vectors.npy``, ``ids.npy``; Milvus keeps its points in the
collection), written atomically; loading states the curvature of the queries' space and refuses an index built for
another (:class:`IndexFileError`), and opens the backend the metadata names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from hyperalign.atomic import atomic_directory, json_field_equals
from hyperalign.index.faiss_store import FaissStore
from hyperalign.index.files import INDEX_FORMAT, META_FILE, IndexFileError, read_format_json
from hyperalign.index.milvus import MilvusStore
from hyperalign.index.space import Space, SpaceCodec, as_ids
from hyperalign.index.store import IndexSpec, StoreFactory, StoreSpec, VectorStore

FORMAT = INDEX_FORMAT
_CHUNK = 65_536  # queries per block when searching
STORES: dict[str, StoreFactory] = {"faiss": FaissStore, "milvus": MilvusStore}

__all__ = ["IndexFileError", "IndexSpec", "LorentzIndex", "StoreSpec", "read_format_json"]


class LorentzIndex:
    """Points of one space (``curvature`` c > 0: Lorentz; ``None``: cosine) with int64 ids, searchable by distance.

    ``dim`` is the number of space components ``n`` (the forms have ``n + 1``: time first). ``store`` chooses the
    backend (default: FAISS in memory, saved as files).
    """

    def __init__(
        self, dim: int, curvature: float | None, spec: IndexSpec | None = None, store: StoreSpec | None = None
    ) -> None:
        codec = SpaceCodec(dim, curvature)
        spec = spec if spec is not None else IndexSpec()
        where = (store if store is not None else StoreSpec()).resolved()
        self._attach(codec, spec, where, STORES[where.backend].create(codec, spec, where))

    def _attach(self, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec, store: VectorStore) -> None:
        self.codec = codec
        self.spec = spec
        self.where = where
        self.store = store

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return self.codec.dim

    @property
    def curvature(self) -> float | None:
        return self.codec.curvature

    @property
    def space(self) -> Space:
        return self.codec.space

    @property
    def backend(self) -> str:
        return self.where.backend

    def __len__(self) -> int:
        return len(self.store)

    @property
    def ids(self) -> np.ndarray:
        """All ids in the store's order (FAISS: insertion; Milvus: ascending), read-only."""
        return self.store.ids

    @property
    def vectors(self) -> np.ndarray:
        """Stored points (N, dim) float32 in the order of :attr:`ids`: space parts, or unit vectors; read-only."""
        blocks = [points for _, points in self.store.scan(_CHUNK)]
        out = np.concatenate(blocks) if blocks else np.empty((0, self.dim), dtype=np.float32)
        out.flags.writeable = False
        return out

    def scan(self, block: int = _CHUNK) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored (ids, points) in blocks of at most ``block``."""
        return self.store.scan(block)

    def __repr__(self) -> str:
        c = f"c={self.curvature:g}" if self.curvature is not None else "cosine"
        return f"LorentzIndex({self.backend}, {self.spec.kind}, {c}, dim={self.dim}, n={len(self)})"

    # ------------------------------------------------------------------ add / search
    def add(self, points: Any, ids: Any = None) -> None:
        """Add points (N, dim) with int64 ``ids`` (default: ``len(self)`` onwards); ids must be new and >= 0.

        An IVF index trains its centroids on its first add.
        """
        x = self.codec.points(points, "points")
        n = len(x)
        new_ids = np.arange(len(self), len(self) + n, dtype=np.int64) if ids is None else as_ids(ids, n)
        clash = self.store.contains(new_ids)
        if clash.any():
            raise ValueError(f"ids: {new_ids[clash][:5].tolist()} are already in the index")
        self.store.add(x, new_ids)

    def configure(self, **search_params: int) -> None:
        """Change search-time parameters (``ef_search``, ``nprobe``, ``rerank_factor``) without rebuilding."""
        allowed = {"ef_search", "nprobe", "rerank_factor"}
        unknown = set(search_params) - allowed
        if unknown:
            raise ValueError(f"configure: unknown search parameters {sorted(unknown)}; expected some of {sorted(allowed)}")
        self.spec = IndexSpec.model_validate({**self.spec.model_dump(), **search_params})
        self.store.spec = self.spec

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored points of each query (Q, dim): distances (Q, m) float32 ascending, ids (Q, m)
        int64, with ``m = min(k, len(self))``: a ``k`` beyond the index size returns the whole index, and nothing is
        allocated for the ``k`` asked.

        Distances are exact (:func:`lorentz.dist`, or ``1 - cos``) for every returned point; approximate kinds may miss
        true neighbours, and those missing results are ``inf`` / ``-1``.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = self.codec.points(queries, "queries")
        count = len(self)
        k = min(k, count)
        dist = np.full((len(q), k), np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        if count == 0 or len(q) == 0:
            return dist, ids
        wanted = min(count, k * self.spec.rerank_factor)
        for s in range(0, len(q), _CHUNK):
            block = q[s : s + _CHUNK]
            _, candidates = self.store.candidates(block, wanted)
            dist[s : s + len(block)], ids[s : s + len(block)] = self.codec.rerank(block, candidates, self.store.points, k)
        return dist, ids

    def get(self, ids: Any) -> np.ndarray:
        """Stored points (len(ids), dim) float32 of the given ids; ``KeyError`` naming unknown ones."""
        return self.store.points(np.atleast_1d(np.asarray(ids, dtype=np.int64)))

    def close(self) -> None:
        """Release the backend's connections (Milvus); the index is unusable afterwards."""
        self.store.close()

    # ------------------------------------------------------------------ persistence
    def _meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            **self.codec.describe(),
            "count": len(self),
            "spec": self.spec.model_dump(),
            "store": self.where.model_dump(),
            **self.store.describe(),
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index directory atomically (replacing an earlier index there, never anything else)."""
        directory = Path(directory)
        with atomic_directory(directory, lambda p: json_field_equals(p / META_FILE, "format", FORMAT)) as tmp:
            self.store.save(tmp)
            (tmp / META_FILE).write_text(json.dumps(self._meta(), indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], curvature: float | None, dim: int | None = None) -> LorentzIndex:
        """Load an index for queries from a space of curvature ``-curvature`` (``None``: cosine) and width ``dim``,
        on the backend it was built with.

        Raises :class:`IndexFileError` naming the file and field if anything is missing, corrupt or built for
        another space, curvature or width.
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        meta = _read_meta(meta_path)
        codec = SpaceCodec(dim if dim is not None else meta["dim"], curvature)
        codec.check(meta, str(meta_path))
        spec = IndexSpec.model_validate(meta["spec"])
        where = StoreSpec.model_validate(meta.get("store", {}))
        index = cls.__new__(cls)
        index._attach(codec, spec, where, STORES[where.backend].open(codec, spec, where, directory, meta["count"]))
        return index


def _read_meta(path: Path) -> dict[str, Any]:
    meta = read_format_json(path, FORMAT, "LorentzIndex.save")
    for key, kind in (("space", str), ("dim", int), ("count", int), ("spec", dict)):
        if not isinstance(meta.get(key), kind):
            raise IndexFileError(f"{path}: {key}: missing or not a {kind.__name__}")
    c = meta.get("curvature")
    if meta["space"] not in ("lorentz", "cosine") or (meta["space"] == "cosine") != (c is None):
        raise IndexFileError(f"{path}: space / curvature: inconsistent ({meta['space']!r} with curvature {c!r})")
    for key, model in (("spec", IndexSpec), ("store", StoreSpec)):
        try:
            model.model_validate(meta.get(key, {}))
        except ValidationError as e:
            raise IndexFileError(f"{path}: {key}: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None
    return meta
