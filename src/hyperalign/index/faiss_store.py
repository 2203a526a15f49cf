"""The embedded FAISS backend: flat (exact), HNSW and IVF inner-product search over a codec's database forms.

Kinds (:class:`~hyperalign.index.store.IndexSpec`):

* ``flat``: ``IndexFlatIP`` over database forms; exact up to the float32 inner product's resolution.
* ``hnsw``: the graph is built with L2 on tangent vectors at the origin (:meth:`SpaceCodec.tangent`: ``logmap0``, or
  the unit vectors), then walked with database forms and the inner product, i.e. with exact Lorentz inner products.
  FAISS builds a graph with its own metric *between stored vectors*, and the inner product of two database forms,
  ``y0 y0' + y~ . y~'``, is not Lorentzian: it favours far-out points, and a graph built that way found none of the
  true neighbours (recall@10 = 0.0 on :func:`hyperalign.index.synthetic.tree_mixture`). Tangent vectors keep the
  neighbourhoods of hierarchical embeddings, which models produce as ``expmap0`` of Euclidean features.
* ``ivf``: k-means on tangent vectors, centroids mapped back with :meth:`SpaceCodec.from_tangent`; database points
  and queries are both assigned to their nearest centroid by the query-form inner product (database points through
  precomputed assignments: FAISS would assign their database forms by a Euclidean inner product).

Files in the index directory: ``faiss.index``, ``vectors.npy`` (stored points), ``ids.npy``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperalign.index.files import IndexFileError, faiss_module, load_array, read_faiss
from hyperalign.index.space import SpaceCodec
from hyperalign.index.store import IndexSpec, StoreSpec

FAISS_FILE = "faiss.index"
VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"
_CHUNK = 65_536  # rows per block when forming vectors


class FaissStore:
    """Points (N, dim) float32 and ids kept in memory beside a FAISS inner-product index over their database forms."""

    def __init__(self, codec: SpaceCodec, spec: IndexSpec) -> None:
        self.codec = codec
        self.spec = spec
        self._vectors = np.empty((0, codec.dim), dtype=np.float32)
        self._ids = np.empty(0, dtype=np.int64)
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows), built on demand
        self._index: Any = None
        self._storage: Any = None  # HNSW: its inner-product storage (owned by the HNSW index)
        if spec.kind in ("flat", "hnsw"):
            self._index = self._new_index()

    @classmethod
    def create(cls, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec) -> FaissStore:
        return cls(codec, spec)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> np.ndarray:
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def contains(self, ids: np.ndarray) -> np.ndarray:
        return np.isin(ids, self._ids)

    @property
    def nlist(self) -> int | None:
        """IVF: the number of cells chosen at training (None before the first add, or for other kinds)."""
        return int(self._index.nlist) if self.spec.kind == "ivf" and self._index is not None else None

    # ------------------------------------------------------------------ FAISS objects
    def _new_index(self) -> Any:
        faiss = faiss_module()
        width = self.codec.width
        if self.spec.kind == "flat":
            return faiss.IndexFlatIP(width)
        index = faiss.IndexHNSWFlat(width, self.spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.spec.ef_construction
        self._storage = faiss.downcast_index(index.storage)
        return index

    def _proxy(self, x: torch.Tensor) -> np.ndarray:
        """Tangent coordinates padded to the form width (a zero time column) for building the HNSW graph."""
        t = self.codec.tangent(x)
        pad = self.codec.width - self.codec.dim
        return np.ascontiguousarray(np.concatenate([np.zeros((len(t), pad), np.float32), t], axis=1))

    def _train_ivf(self, x: torch.Tensor) -> None:
        faiss = faiss_module()
        n = len(x)
        nlist = self.spec.nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        if n < nlist:
            raise ValueError(f"an IVF index with nlist={nlist} trains on its first add and needs >= {nlist} points; got {n}")
        rng = np.random.default_rng(self.spec.seed)
        sample = x[torch.from_numpy(np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False)))]
        kmeans = faiss.Kmeans(self.codec.dim, nlist, niter=20, seed=self.spec.seed, spherical=self.codec.curvature is None,
                              max_points_per_centroid=64, verbose=False)  # fmt: skip
        kmeans.train(self.codec.tangent(sample))
        centres = self.codec.from_tangent(torch.from_numpy(kmeans.centroids.astype(np.float64)))
        quantizer = faiss.IndexFlatIP(self.codec.width)
        quantizer.add(self.codec.database_form(centres))
        index = faiss.IndexIVFFlat(quantizer, self.codec.width, nlist, faiss.METRIC_INNER_PRODUCT)
        quantizer.this.disown()
        index.own_fields = True
        index.is_trained = True
        self._index = index

    def _stored_proxies(self) -> np.ndarray:
        out = np.empty((len(self), self.codec.width), dtype=np.float32)
        for s in range(0, len(self), _CHUNK):
            out[s : s + _CHUNK] = self._proxy(torch.from_numpy(self._vectors[s : s + _CHUNK]).double())
        return out

    def _hnsw_add(self, proxies: np.ndarray, database: np.ndarray) -> None:
        """Link new nodes using L2 between tangent proxies, then restore the inner-product storage for search."""
        faiss = faiss_module()
        index = self._index
        graph_storage = faiss.IndexFlatL2(self.codec.width)
        if len(self):
            graph_storage.add(self._stored_proxies())
        index.hnsw.efConstruction = self.spec.ef_construction
        index.storage = graph_storage
        index.metric_type = faiss.METRIC_L2
        index.hnsw.is_similarity = False
        try:
            index.add(proxies)
        finally:
            index.storage = self._storage
            index.metric_type = faiss.METRIC_INNER_PRODUCT
            index.hnsw.is_similarity = True
        self._storage.add(database)
        index.ntotal = self._storage.ntotal

    # ------------------------------------------------------------------ add / search
    def add(self, points: torch.Tensor, ids: np.ndarray) -> None:
        """Store points with ids; an IVF index trains its centroids on its first add."""
        n = len(points)
        if n == 0:
            return
        if self.spec.kind == "ivf" and self._index is None:
            self._train_ivf(points)
        faiss = faiss_module()
        if self.spec.kind == "hnsw":
            proxies = np.empty((n, self.codec.width), dtype=np.float32)
            database = np.empty((n, self.codec.width), dtype=np.float32)
            for s in range(0, n, _CHUNK):
                proxies[s : s + _CHUNK] = self._proxy(points[s : s + _CHUNK])
                database[s : s + _CHUNK] = self.codec.database_form(points[s : s + _CHUNK])
            self._hnsw_add(proxies, database)
        else:
            for s in range(0, n, _CHUNK):
                block = points[s : s + _CHUNK]
                database = self.codec.database_form(block)
                if self.spec.kind == "flat":
                    self._index.add(database)
                else:
                    _, cells = self._index.quantizer.search(self.codec.query_form(block), 1)
                    cells = np.ascontiguousarray(cells[:, 0], dtype=np.int64)
                    self._index.add_core(len(block), faiss.swig_ptr(database), None, faiss.swig_ptr(cells))
        self._vectors = np.concatenate([self._vectors, points.float().numpy()])
        self._ids = np.concatenate([self._ids, ids])
        self._lookup = None

    def candidates(self, queries: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self) == 0 or n == 0:
            return np.full((len(queries), n), -np.inf, np.float32), np.full((len(queries), n), -1, np.int64)
        index = self._index
        if self.spec.kind == "hnsw":
            index.hnsw.efSearch = self.spec.ef_search
        elif self.spec.kind == "ivf":
            index.nprobe = min(self.spec.nprobe, index.nlist)
        scores, rows = index.search(self.codec.query_form(queries), n)
        return scores, np.where(rows >= 0, self._ids[np.maximum(rows, 0)], -1)

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Insertion positions of ``ids``; ``KeyError`` naming the unknown ones."""
        if self._lookup is None:
            order = np.argsort(self._ids, kind="stable")
            self._lookup = (self._ids[order], order)
        sorted_ids, order = self._lookup
        pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
        ok = (sorted_ids[pos] == ids) if len(sorted_ids) else np.zeros(len(ids), bool)
        if not ok.all():
            raise KeyError(f"ids not in the index: {ids[~ok][:5].tolist()}")
        return order[pos]

    def points(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors[self._rows(ids)]

    def scan(self, block: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for s in range(0, len(self), block):
            yield self._ids[s : s + block], self._vectors[s : s + block]

    # ------------------------------------------------------------------ persistence
    def describe(self) -> dict[str, Any]:
        return {"faiss": faiss_module().__version__}

    def save(self, directory: Path) -> None:
        if self._index is not None:
            faiss_module().write_index(self._index, str(directory / FAISS_FILE))
        np.save(directory / VECTORS_FILE, self._vectors)
        np.save(directory / IDS_FILE, self._ids)

    @classmethod
    def open(cls, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec, directory: Path, count: int) -> FaissStore:
        """The store saved in ``directory`` holding ``count`` points (as its metadata says)."""
        store = cls.__new__(cls)
        store.codec, store.spec, store._lookup = codec, spec, None
        store._vectors = load_array(directory / VECTORS_FILE, np.float32, (count, codec.dim))
        store._ids = load_array(directory / IDS_FILE, np.int64, (count,))
        store._index, store._storage = None, None
        path = directory / FAISS_FILE
        if path.is_file():
            store._index = read_faiss(path, codec.width, count)
            if spec.kind == "hnsw":
                store._storage = faiss_module().downcast_index(store._index.storage)
        elif spec.kind != "ivf" or count > 0:
            raise IndexFileError(f"{path}: missing; the index directory is incomplete")
        return store

    def close(self) -> None:
        """Nothing to release: everything is in memory."""

