"""A saved FAISS index (:meth:`LorentzIndex.save <hyperalign.index.lorentz_index.LorentzIndex.save>`) searched with
NumPy and FAISS only: no torch, for answering one query quickly from a fresh process.

The steps are those of :meth:`LorentzIndex.search`: queries in float64 (unit vectors for a cosine space), FAISS
proposes ``rerank_factor * k`` candidates by the inner product of query and database forms
(:func:`~hyperalign.geometry.lorentz_numpy.mips_query`), their exact distances are recomputed in float32
(:func:`~hyperalign.geometry.lorentz_numpy.dist`, or ``1 - cos``) and ordered by
:func:`~hyperalign.index.files.nearest_candidates`. The formulas are the NumPy twins of
:mod:`hyperalign.geometry.lorentz`, tested against it; results equal the torch path's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hyperalign.geometry import lorentz_numpy
from hyperalign.index.files import (
    INDEX_FORMAT,
    META_FILE,
    IndexFileError,
    load_array,
    nearest_candidates,
    read_faiss,
    read_format_json,
)


class NumpyIndex:
    """The stored points (N, dim) float32, ids and FAISS index of a saved FAISS-backed index, searchable."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
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
        self._faiss = read_faiss(path, self.width, count) if path.is_file() else None
        if self._faiss is None and (self.kind != "ivf" or count > 0):
            raise IndexFileError(f"{path}: missing; the index directory is incomplete")
        order = np.argsort(self.ids, kind="stable")
        self._lookup = (self.ids[order], order)

    def __len__(self) -> int:
        return len(self.ids)

    def _queries(self, x: np.ndarray) -> np.ndarray:
        q = np.asarray(x, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ValueError(f"queries: expected shape (N, {self.dim}), got {q.shape}")
        if not np.isfinite(q).all():
            raise ValueError("queries: contains NaN or infinite values")
        if self.curvature is None:
            norms = np.linalg.norm(q, axis=-1, keepdims=True)
            if (norms == 0).any():
                raise ValueError("a cosine-space index cannot hold or query the zero vector")
            q = q / norms
        return q

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Stored points (len(ids), dim) float32 of existing ids."""
        sorted_ids, order = self._lookup
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
        if len(sorted_ids) == 0 or not (sorted_ids[pos] == ids).all():
            raise KeyError(f"ids not in the index: {np.asarray(ids)[:5].tolist()}")
        return self.vectors[order[pos]]

    def _exact(self, q: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.curvature is not None:
            return lorentz_numpy.dist(q, y, self.curvature)
        return np.float32(1.0) - (q * y).sum(axis=-1)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored points of each query (Q, dim): distances (Q, m) float32 ascending and ids (Q, m)
        int64, ``m = min(k, len(self))``; as :meth:`LorentzIndex.search`."""
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = self._queries(queries)
        k = min(k, len(self))
        if k == 0 or len(q) == 0:
            return np.full((len(q), k), np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        wanted = min(len(self), k * self.rerank_factor)
        if self.kind == "hnsw":
            self._faiss.hnsw.efSearch = self.ef_search
        elif self.kind == "ivf":
            self._faiss.nprobe = min(self.nprobe, self._faiss.nlist)
        forms = q if self.curvature is None else lorentz_numpy.mips_query(q, self.curvature)
        _, rows = self._faiss.search(np.ascontiguousarray(forms, dtype=np.float32), wanted)
        candidates = np.where(rows >= 0, self.ids[np.maximum(rows, 0)], -1)
        found = candidates >= 0
        stored = np.zeros((*candidates.shape, self.dim), dtype=np.float32)
        stored[found] = self.get(candidates[found])
        d = self._exact(q.astype(np.float32)[:, None, :], stored)
        return nearest_candidates(d, candidates, k)

    def generality(self, ids: np.ndarray) -> np.ndarray:
        """Distance from the origin of stored points (Lorentz only), float32; as :func:`hierarchy.generality`."""
        if self.curvature is None:
            raise ValueError("generality needs a Lorentz index")
        return lorentz_numpy.dist0(self.get(ids).astype(np.float64), self.curvature).astype(np.float32)
