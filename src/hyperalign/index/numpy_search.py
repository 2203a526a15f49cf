"""A saved FAISS index (:meth:`LorentzIndex.save <hyperalign.index.lorentz_index.LorentzIndex.save>`) searched
without torch, for answering one query quickly from a fresh process.

The steps are those of :meth:`LorentzIndex.search`: FAISS proposes ``rerank_factor * k`` candidates by the inner
product of the query's search form (:meth:`SpaceCodec.query_form <hyperalign.index.space.SpaceCodec.query_form>`)
and the stored database forms, ``exact`` recomputes their distances (as :meth:`SpaceCodec.rerank
<hyperalign.index.space.SpaceCodec.rerank>`) and :func:`~hyperalign.index.files.nearest_candidates` orders them.
This module holds no formula: the caller passes the query's forms and the distance functions (ONNX graphs traced
from the torch path's functions, :mod:`hyperalign.runtime.query_export`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hyperalign.index.files import (
    INDEX_FORMAT,
    META_FILE,
    IndexFileError,
    load_array,
    nearest_candidates,
    read_faiss,
    read_format_json,
)

Distances = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``exact(query (Q, dim), candidates (Q, K, dim)) -> (Q, K)``, all float32."""
Generality = Callable[[np.ndarray], np.ndarray]
"""``generality(points (N, dim)) -> (N,)`` float32: distance from the origin."""


class NumpyIndex:
    """The stored points (N, dim) float32, ids and FAISS index of a saved FAISS-backed index, searchable with the
    given distance functions (``generality`` for a Lorentz index)."""

    def __init__(self, directory: str | Path, exact: Distances, generality: Generality | None = None) -> None:
        directory = Path(directory)
        self._exact, self._generality = exact, generality
        meta = read_format_json(directory / META_FILE, INDEX_FORMAT, "LorentzIndex.save")
        where = f"{directory / META_FILE}"
        backend = (meta.get("store") or {}).get("backend", "faiss")
        if backend != "faiss":
            raise IndexFileError(f"{where}: store.backend: the NumPy search reads FAISS indexes, got {backend!r}")
        try:
            self.dim, count, spec = int(meta["dim"]), int(meta["count"]), dict(meta["spec"])
            c = meta["curvature"]
            self.curvature = None if c is None else float(c)
            self.kind = str(spec["kind"])
            self.rerank_factor = int(spec["rerank_factor"])
            self.ef_search, self.nprobe = int(spec["ef_search"]), int(spec["nprobe"])
        except (KeyError, TypeError, ValueError) as e:
            raise IndexFileError(f"{where}: missing or malformed field ({type(e).__name__}: {e})") from None
        if self.curvature is not None and not (math.isfinite(self.curvature) and self.curvature > 0):
            raise IndexFileError(f"{where}: curvature: expected a finite number > 0 or null, got {c!r}")
        self.width = self.dim + (self.curvature is not None)
        self.vectors = load_array(directory / "vectors.npy", np.float32, (count, self.dim))
        self.ids = load_array(directory / "ids.npy", np.int64, (count,))
        path = directory / "faiss.index"
        self._faiss: Any = read_faiss(path, self.width, count) if path.is_file() else None
        if self._faiss is None and (self.kind != "ivf" or count > 0):
            raise IndexFileError(f"{path}: missing; the index directory is incomplete")
        order = np.argsort(self.ids, kind="stable")
        self._lookup = (self.ids[order], order)

    def __len__(self) -> int:
        return len(self.ids)

    def _checked(self, x: np.ndarray, width: int, what: str) -> np.ndarray:
        q = np.ascontiguousarray(x, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != width:
            raise ValueError(f"{what}: expected shape (N, {width}), got {q.shape}")
        if not np.isfinite(q).all():
            raise ValueError(f"{what}: contains NaN or infinite values (a cosine space has no direction for 0)")
        return q

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Stored points (len(ids), dim) float32 of existing ids."""
        sorted_ids, order = self._lookup
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
        if len(sorted_ids) == 0 or not (sorted_ids[pos] == ids).all():
            raise KeyError(f"ids not in the index: {np.asarray(ids)[:5].tolist()}")
        return self.vectors[order[pos]]

    def search(self, queries: np.ndarray, forms: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored points of each query (Q, dim), as compared exactly, given also as search forms
        (Q, width): distances (Q, m) float32 ascending and ids (Q, m) int64, ``m = min(k, len(self))``; as
        :meth:`LorentzIndex.search`."""
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = self._checked(queries, self.dim, "queries")
        forms = self._checked(forms, self.width, "search forms")
        if len(forms) != len(q):
            raise ValueError(f"search forms: expected one per query ({len(q)}), got {len(forms)}")
        k = min(k, len(self))
        if k == 0 or len(q) == 0:
            return np.full((len(q), k), np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        wanted = min(len(self), k * self.rerank_factor)
        if self.kind == "hnsw":
            self._faiss.hnsw.efSearch = self.ef_search
        elif self.kind == "ivf":
            self._faiss.nprobe = min(self.nprobe, self._faiss.nlist)
        _, rows = self._faiss.search(forms, wanted)
        candidates = np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1)
        found = candidates >= 0
        stored = np.zeros((*candidates.shape, self.dim), dtype=np.float32)
        stored[found] = self.get(candidates[found])
        return nearest_candidates(self._exact(q, stored), candidates, k)

    def generality(self, ids: np.ndarray) -> np.ndarray:
        """Distance from the origin of stored points (Lorentz only), float32; as :func:`hierarchy.generality`."""
        if self.curvature is None or self._generality is None:
            raise ValueError("generality needs a Lorentz index")
        return self._generality(self.get(ids))
