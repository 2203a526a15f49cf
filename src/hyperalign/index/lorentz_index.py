"""k-nearest-neighbour search by Lorentz distance over FAISS: exact (flat) and approximate (HNSW, IVF).

Reduction (:func:`hyperalign.geometry.lorentz.mips_query`): for hyperboloid points with space parts ``q``, ``y``
(curvature ``-c``), ``mips_query(q) . mips_database(y) = <q, y>_L``, and ``d = acosh(-c <q, y>_L) / sqrt(c)``
decreases with it, so an inner-product index over database forms ranks by Lorentz distance exactly. A cosine space
(Euclidean models, curvature ``None``) stores unit vectors; the inner product is the cosine and the distance
``1 - cos``, as in :class:`hyperalign.model.embed.EuclideanSpace`.

FAISS proposes ``k' = rerank_factor * k`` candidates; their distances are recomputed with :func:`lorentz.dist`
(accurate where a float32 inner product is not: nearby points, far points on one ray) and sorted, ties broken by id.
Even the flat index is exact only up to the float32 inner product's resolution when choosing those candidates:
points that tie within it beyond the ``k'``-th candidate can be missed. Results have fixed shapes: distances (Q, k)
float32 ascending, ids (Q, k) int64, ``inf`` / ``-1`` where fewer than ``k`` points exist.

Kinds (:class:`IndexSpec`):

* ``flat``: ``IndexFlatIP`` over database forms; exact.
* ``hnsw``: the graph is built with L2 on tangent vectors at the origin (``logmap0``; in a cosine space the unit
  vectors), then walked with database forms and the inner product, i.e. with exact Lorentz inner products. FAISS
  builds a graph with its own metric *between stored vectors*, and the inner product of two database forms,
  ``y0 y0' + y~ . y~'``, is not Lorentzian: it favours far-out points, and a graph built that way found none of the
  true neighbours (recall@10 = 0.0 on :func:`hyperalign.index.synthetic.tree_mixture`). Tangent vectors keep the
  neighbourhoods of hierarchical embeddings, which models produce as ``expmap0`` of Euclidean features.
* ``ivf``: k-means on tangent vectors, centroids mapped to the hyperboloid with ``expmap0``; database points and
  queries are both assigned to their nearest centroid by Lorentz distance (database points through precomputed
  assignments: FAISS would assign their database forms by a Euclidean inner product).

Saved as a directory (``faiss.index``, ``vectors.npy``, ``ids.npy``, ``meta.json``), written atomically; loading
states the curvature of the queries' space and refuses an index built for another (:class:`IndexFileError`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hyperalign.geometry import lorentz
from hyperalign.atomic import atomic_directory, json_field_equals

FORMAT = "hyperalign-lorentz-index/1"
FAISS_FILE = "faiss.index"
VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"
META_FILE = "meta.json"
_CHUNK = 65_536  # rows per block when forming vectors, and queries per block when searching

Space = Literal["lorentz", "cosine"]


class IndexFileError(ValueError):
    """A missing, corrupt or mismatched index; the message names the file and the field."""


class IndexSpec(BaseModel):
    """Which FAISS index to build and how to search it."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    kind: Literal["flat", "hnsw", "ivf"] = "flat"
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW: links per node")
    ef_construction: int = Field(80, ge=8, description="HNSW: candidate list size while building")
    ef_search: int = Field(64, ge=1, description="HNSW: candidate list size while searching")
    nlist: int | None = Field(None, ge=1, description="IVF: cells; None = min(4 sqrt(N), N / 39) at training")
    nprobe: int = Field(16, ge=1, description="IVF: cells visited per query")
    rerank_factor: int = Field(2, ge=1, le=64, description="candidates fetched per wanted neighbour, re-ranked exactly")
    seed: int = Field(0, description="IVF k-means seed")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("hyperalign.index needs FAISS: pip install faiss-cpu") from e
    return faiss


def as_points(x: Any, dim: int, what: str) -> torch.Tensor:
    """``x`` (list, NumPy or torch; real numbers, shape (N, dim)) as a float64 CPU tensor; refuses anything else."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{what}: expected real numbers, got an array of dtype {arr.dtype}")
        t = torch.from_numpy(np.array(arr, copy=not arr.flags.writeable, order="C"))
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{what}: expected real numbers, got dtype {t.dtype}")
    if t.ndim != 2 or t.shape[1] != dim:
        raise ValueError(f"{what}: expected shape (N, {dim}), got {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what}: contains NaN or infinite values")
    return t


def _as_ids(ids: Any, n: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ids: expected integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"ids: expected shape ({n},) to match the points, got {arr.shape}")
    if n and int(arr.min()) < 0:
        raise ValueError("ids: must be >= 0 (-1 marks a missing result)")
    arr = arr.astype(np.int64)
    if len(np.unique(arr)) != n:
        raise ValueError("ids: contains duplicates")
    return arr


class LorentzIndex:
    """Points of one space (``curvature`` c > 0: Lorentz; ``None``: cosine) with int64 ids, searchable by distance.

    ``dim`` is the number of space components ``n`` (the FAISS vectors have ``n + 1``: time first).
    """

    def __init__(self, dim: int, curvature: float | None, spec: IndexSpec | None = None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1; got {dim}")
        if curvature is not None and not (math.isfinite(curvature) and curvature > 0):
            raise ValueError(f"curvature must be finite and > 0 (the space has curvature -c), or None; got {curvature}")
        self.dim = dim
        self.curvature = None if curvature is None else float(curvature)
        self.spec = spec if spec is not None else IndexSpec()
        self._vectors = np.empty((0, dim), dtype=np.float32)  # space parts (unit vectors in a cosine space)
        self._ids = np.empty(0, dtype=np.int64)
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # (sorted ids, their rows), built on demand
        self._faiss_index: Any = None
        self._storage: Any = None  # HNSW: its inner-product storage (owned by the HNSW index)
        if self.spec.kind in ("flat", "hnsw"):
            self._faiss_index = self._new_faiss_index()

    # ------------------------------------------------------------------ properties
    @property
    def space(self) -> Space:
        return "cosine" if self.curvature is None else "lorentz"

    @property
    def faiss_dim(self) -> int:
        return self.dim + 1 if self.curvature is not None else self.dim

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> np.ndarray:
        """All ids in insertion order (a read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    @property
    def vectors(self) -> np.ndarray:
        """Stored points (N, dim) float32 in insertion order (a read-only view): space parts, or unit vectors."""
        view = self._vectors.view()
        view.flags.writeable = False
        return view

    def __repr__(self) -> str:
        c = f"c={self.curvature:g}" if self.curvature is not None else "cosine"
        return f"LorentzIndex({self.spec.kind}, {c}, dim={self.dim}, n={len(self)})"

    # ------------------------------------------------------------------ forms
    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        norms = x.norm(dim=-1, keepdim=True)
        if bool((norms == 0).any()):
            raise ValueError("a cosine-space index cannot hold or query the zero vector")
        return x / norms

    def _points(self, x: torch.Tensor) -> torch.Tensor:
        """What is stored and compared exactly: space parts as given, or unit vectors."""
        return x if self.curvature is not None else self._normalise(x)

    def _query_form(self, x: torch.Tensor) -> np.ndarray:
        v = lorentz.mips_query(x, self.curvature) if self.curvature is not None else x
        return np.ascontiguousarray(v.numpy(), dtype=np.float32)

    def _database_form(self, x: torch.Tensor) -> np.ndarray:
        v = lorentz.mips_database(x, self.curvature) if self.curvature is not None else x
        return np.ascontiguousarray(v.numpy(), dtype=np.float32)

    def _tangent(self, x: torch.Tensor) -> np.ndarray:
        """Graph / clustering coordinates: ``logmap0`` (n columns), or the unit vectors themselves."""
        v = lorentz.logmap0(x, self.curvature) if self.curvature is not None else x
        return np.ascontiguousarray(v.numpy(), dtype=np.float32)

    def _proxy(self, x: torch.Tensor) -> np.ndarray:
        """Tangent coordinates padded to the FAISS width (a zero time column) for building the HNSW graph."""
        t = self._tangent(x)
        if self.curvature is None:
            return t
        return np.ascontiguousarray(np.concatenate([np.zeros((len(t), 1), np.float32), t], axis=1))

    def _exact(self, q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Exact distances, broadcasting (..., n) against (..., n)."""
        if self.curvature is not None:
            return lorentz.dist(q, y, self.curvature)
        return 1.0 - (q * y).sum(dim=-1)

    # ------------------------------------------------------------------ FAISS objects
    def _new_faiss_index(self) -> Any:
        faiss = _faiss()
        if self.spec.kind == "flat":
            return faiss.IndexFlatIP(self.faiss_dim)
        index = faiss.IndexHNSWFlat(self.faiss_dim, self.spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.spec.ef_construction
        self._storage = faiss.downcast_index(index.storage)
        return index

    def _train_ivf(self, x: torch.Tensor) -> None:
        faiss = _faiss()
        n = len(x)
        nlist = self.spec.nlist or max(1, min(int(4 * math.sqrt(n)), n // 39))
        if n < nlist:
            raise ValueError(f"an IVF index with nlist={nlist} trains on its first add and needs >= {nlist} points; got {n}")
        rng = np.random.default_rng(self.spec.seed)
        sample = x[torch.from_numpy(np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False)))]
        kmeans = faiss.Kmeans(self.dim, nlist, niter=20, seed=self.spec.seed, spherical=self.curvature is None,
                              max_points_per_centroid=64, verbose=False)
        kmeans.train(self._tangent(sample))
        centres = torch.from_numpy(kmeans.centroids.astype(np.float64))
        centres = lorentz.expmap0(centres, self.curvature) if self.curvature is not None else self._normalise(centres)
        quantizer = faiss.IndexFlatIP(self.faiss_dim)
        quantizer.add(self._database_form(centres))
        index = faiss.IndexIVFFlat(quantizer, self.faiss_dim, nlist, faiss.METRIC_INNER_PRODUCT)
        quantizer.this.disown()
        index.own_fields = True
        index.is_trained = True
        self._faiss_index = index

    def _stored_proxies(self) -> np.ndarray:
        out = np.empty((len(self), self.faiss_dim), dtype=np.float32)
        for s in range(0, len(self), _CHUNK):
            out[s : s + _CHUNK] = self._proxy(torch.from_numpy(self._vectors[s : s + _CHUNK]).double())
        return out

    def _hnsw_add(self, proxies: np.ndarray, database: np.ndarray) -> None:
        """Link new nodes using L2 between tangent proxies, then restore the inner-product storage for search."""
        faiss = _faiss()
        index = self._faiss_index
        graph_storage = faiss.IndexFlatL2(self.faiss_dim)
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
    def add(self, points: Any, ids: Any = None) -> None:
        """Add points (N, dim) with int64 ``ids`` (default: ``len(self)`` onwards); ids must be new and >= 0.

        An IVF index trains its centroids on its first add.
        """
        x = self._points(as_points(points, self.dim, "points"))
        n = len(x)
        new_ids = np.arange(len(self), len(self) + n, dtype=np.int64) if ids is None else _as_ids(ids, n)
        clash = np.isin(new_ids, self._ids)
        if clash.any():
            raise ValueError(f"ids: {new_ids[clash][:5].tolist()} are already in the index")
        if n == 0:
            return
        if self.spec.kind == "ivf" and self._faiss_index is None:
            self._train_ivf(x)
        faiss = _faiss()
        if self.spec.kind == "hnsw":
            proxies = np.empty((n, self.faiss_dim), dtype=np.float32)
            database = np.empty((n, self.faiss_dim), dtype=np.float32)
            for s in range(0, n, _CHUNK):
                proxies[s : s + _CHUNK] = self._proxy(x[s : s + _CHUNK])
                database[s : s + _CHUNK] = self._database_form(x[s : s + _CHUNK])
            self._hnsw_add(proxies, database)
        else:
            for s in range(0, n, _CHUNK):
                block = x[s : s + _CHUNK]
                database = self._database_form(block)
                if self.spec.kind == "flat":
                    self._faiss_index.add(database)
                else:
                    _, cells = self._faiss_index.quantizer.search(self._query_form(block), 1)
                    cells = np.ascontiguousarray(cells[:, 0], dtype=np.int64)
                    self._faiss_index.add_core(len(block), faiss.swig_ptr(database), None, faiss.swig_ptr(cells))
        self._vectors = np.concatenate([self._vectors, x.numpy().astype(np.float32)])
        self._ids = np.concatenate([self._ids, new_ids])
        self._lookup = None

    def configure(self, **search_params: int) -> None:
        """Change search-time parameters (``ef_search``, ``nprobe``, ``rerank_factor``) without rebuilding."""
        allowed = {"ef_search", "nprobe", "rerank_factor"}
        unknown = set(search_params) - allowed
        if unknown:
            raise ValueError(f"configure: unknown search parameters {sorted(unknown)}; expected some of {sorted(allowed)}")
        self.spec = IndexSpec.model_validate({**self.spec.model_dump(), **search_params})

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored points of each query (Q, dim): distances (Q, m) float32 ascending, ids (Q, m)
        int64, with ``m = min(k, len(self))``: a ``k`` beyond the index size returns the whole index, and nothing is
        allocated for the ``k`` asked.

        Distances are exact (:func:`lorentz.dist`, or ``1 - cos``) for every returned point; approximate kinds may miss
        true neighbours, and those missing results are ``inf`` / ``-1``.
        """
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = self._points(as_points(queries, self.dim, "queries"))
        k = min(k, len(self))
        dist = np.full((len(q), k), np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        if len(self) == 0 or len(q) == 0:
            return dist, ids
        kk = min(len(self), k * self.spec.rerank_factor)
        index = self._faiss_index
        if self.spec.kind == "hnsw":
            index.hnsw.efSearch = self.spec.ef_search
        elif self.spec.kind == "ivf":
            index.nprobe = min(self.spec.nprobe, index.nlist)
        for s in range(0, len(q), _CHUNK):
            block = q[s : s + _CHUNK]
            _, rows = index.search(self._query_form(block), kk)
            found = rows >= 0
            safe = np.where(found, rows, 0)
            d = self._rerank(block, safe)
            d[~found] = np.inf
            cand_ids = np.where(found, self._ids[safe], np.iinfo(np.int64).max)
            order = np.lexsort((cand_ids, d))[:, :k]
            top_d = np.take_along_axis(d, order, axis=1)
            top_ids = np.take_along_axis(cand_ids, order, axis=1)
            m = top_d.shape[1]
            dist[s : s + len(block), :m] = top_d
            ids[s : s + len(block), :m] = np.where(np.isfinite(top_d), top_ids, -1)
        return dist, ids

    def _rerank(self, queries: torch.Tensor, rows: np.ndarray) -> np.ndarray:
        """Exact distances (Q, k') from each query to its candidate rows, in float32 like the stored points
        (:func:`lorentz.dist` is accurate to a few ulps in float32, near and far alike).

        Computed in slices below torch's parallel grain (32768 elements per op): these are many small element-wise
        ops, and splitting each across threads only makes it wait for a second core, which is slow when cores are
        shared (tenfold in measurements on a busy 2-core machine).
        """
        out = np.empty(rows.shape, dtype=np.float32)
        q32 = queries.float()
        step = max(1, 32_768 // (rows.shape[1] * self.dim))
        for s in range(0, len(rows), step):
            cand = torch.from_numpy(self._vectors[rows[s : s + step]])
            out[s : s + step] = self._exact(q32[s : s + step].unsqueeze(1), cand).numpy()
        return out

    def get(self, ids: Any) -> np.ndarray:
        """Stored points (len(ids), dim) float32 of the given ids; ``KeyError`` naming unknown ones."""
        return self._vectors[self.rows(ids)]

    def rows(self, ids: Any) -> np.ndarray:
        """Insertion positions of ``ids``; ``KeyError`` naming the unknown ones."""
        wanted = np.atleast_1d(np.asarray(ids, dtype=np.int64))
        if self._lookup is None:
            order = np.argsort(self._ids, kind="stable")
            self._lookup = (self._ids[order], order)
        sorted_ids, order = self._lookup
        pos = np.clip(np.searchsorted(sorted_ids, wanted), 0, max(len(sorted_ids) - 1, 0))
        ok = (sorted_ids[pos] == wanted) if len(sorted_ids) else np.zeros(len(wanted), bool)
        if not ok.all():
            raise KeyError(f"ids not in the index: {wanted[~ok][:5].tolist()}")
        return order[pos]

    # ------------------------------------------------------------------ persistence
    def _meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "space": self.space,
            "curvature": self.curvature,
            "dim": self.dim,
            "count": len(self),
            "spec": self.spec.model_dump(),
            "faiss": _faiss().__version__,
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index directory atomically (replacing an earlier index there, never anything else)."""
        faiss = _faiss()
        directory = Path(directory)
        with atomic_directory(directory, lambda p: json_field_equals(p / META_FILE, "format", FORMAT)) as tmp:
            if self._faiss_index is not None:
                faiss.write_index(self._faiss_index, str(tmp / FAISS_FILE))
            np.save(tmp / VECTORS_FILE, self._vectors)
            np.save(tmp / IDS_FILE, self._ids)
            (tmp / META_FILE).write_text(json.dumps(self._meta(), indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike[str], curvature: float | None, dim: int | None = None) -> LorentzIndex:
        """Load an index for queries from a space of curvature ``-curvature`` (``None``: cosine) and width ``dim``.

        Raises :class:`IndexFileError` naming the file and field if anything is missing, corrupt or built for
        another space, curvature or width.
        """
        directory = Path(directory)
        meta_path = directory / META_FILE
        meta = _read_meta(meta_path)
        saved_c = meta["curvature"]
        if (saved_c is None) != (curvature is None):
            raise IndexFileError(
                f"{meta_path}: space: the index holds a {meta['space']} space, but the model's is "
                f"{'cosine (Euclidean)' if curvature is None else f'Lorentz with c={curvature:g}'}; rebuild the index"
            )
        if curvature is not None and not math.isclose(saved_c, curvature, rel_tol=1e-6):
            raise IndexFileError(
                f"{meta_path}: curvature: the index was built for c={saved_c!r}, but the model has c={curvature!r}; "
                "distances would be wrong, rebuild the index for this model"
            )
        if dim is not None and meta["dim"] != dim:
            raise IndexFileError(f"{meta_path}: dim: the index holds {meta['dim']}-d points, the model gives {dim}-d")
        spec = IndexSpec.model_validate(meta["spec"])
        index = cls(meta["dim"], saved_c, spec)
        index._vectors = _load_array(directory / VECTORS_FILE, np.float32, (meta["count"], meta["dim"]))
        index._ids = _load_array(directory / IDS_FILE, np.int64, (meta["count"],))
        index._faiss_index, index._storage = None, None
        faiss_path = directory / FAISS_FILE
        if faiss_path.is_file():
            index._faiss_index = _read_faiss(faiss_path, index)
            if spec.kind == "hnsw":
                index._storage = _faiss().downcast_index(index._faiss_index.storage)
        elif spec.kind != "ivf" or meta["count"] > 0:
            raise IndexFileError(f"{faiss_path}: missing; the index directory is incomplete")
        return index


def _read_meta(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise IndexFileError(f"{path}: no such file; expected an index directory written by LorentzIndex.save")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexFileError(f"{path}: corrupt index metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise IndexFileError(f"{path}: format: expected {FORMAT!r}, got {found!r}")
    for key, kind in (("space", str), ("dim", int), ("count", int), ("spec", dict)):
        if not isinstance(meta.get(key), kind):
            raise IndexFileError(f"{path}: {key}: missing or not a {kind.__name__}")
    c = meta.get("curvature")
    if meta["space"] not in ("lorentz", "cosine") or (meta["space"] == "cosine") != (c is None):
        raise IndexFileError(f"{path}: space / curvature: inconsistent ({meta['space']!r} with curvature {c!r})")
    try:
        IndexSpec.model_validate(meta["spec"])
    except ValidationError as e:
        raise IndexFileError(f"{path}: spec: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None
    return meta


def _load_array(path: Path, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    if not path.is_file():
        raise IndexFileError(f"{path}: missing; the index directory is incomplete")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise IndexFileError(f"{path}: truncated or corrupt array file ({e})") from None
    if arr.dtype != dtype or arr.shape != shape:
        raise IndexFileError(f"{path}: expected {np.dtype(dtype)} {shape} as meta.json says, got {arr.dtype} {arr.shape}")
    return arr


def _read_faiss(path: Path, index: LorentzIndex) -> Any:
    faiss = _faiss()
    try:
        loaded = faiss.read_index(str(path))
    except RuntimeError as e:
        raise IndexFileError(f"{path}: truncated or corrupt FAISS index ({str(e).splitlines()[0]})") from None
    if loaded.d != index.faiss_dim or loaded.ntotal != len(index):
        raise IndexFileError(
            f"{path}: holds {loaded.ntotal} vectors of width {loaded.d}; meta.json says {len(index)} of width {index.faiss_dim}"
        )
    if loaded.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexFileError(f"{path}: metric: expected inner product, got FAISS metric {loaded.metric_type}")
    return loaded
