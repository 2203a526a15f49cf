"""Lorentz nearest-neighbour search on Milvus: embedded ``milvus-lite`` in tests, the same client on a cluster.

Any inner-product vector database serves Lorentz search exactly: with :func:`lorentz.mips_database` stored
(``y -> [-y_0, y~]``) and :func:`lorentz.mips_query` sent (``q -> [q_0, q~]``), the inner product is ``<q, y>_L``
and ``d = acosh(-c <q, y>_L) / sqrt(c)`` decreases with it. Milvus proposes ``rerank_factor * k`` candidates by
inner product (metric ``IP``); their true distances are recomputed with :func:`lorentz.dist` (accurate where a float32
inner product is not) and sorted, ties by id. Results have the fixed shapes of
:meth:`hyperalign.index.lorentz_index.LorentzIndex.search`: distances (Q, k) float32 ascending, ids (Q, k) int64,
``inf`` / ``-1`` where fewer than ``k`` points exist. A cosine space (``curvature=None``) stores unit vectors.

Collection schema: ``id`` INT64 primary key, ``vector`` FLOAT_VECTOR(n + 1) (n for cosine), ``meta`` JSON (item
metadata); the collection property ``hyperalign`` records format, space, curvature and width, and opening a collection built
for another curvature or width is an :class:`~hyperalign.index.lorentz_index.IndexFileError`. Index type: ``FLAT``
(exact; the default here) or, on a cluster, ``HNSW`` / ``IVF_FLAT`` with ``metric_type="IP"``.
Deployment: docs/vector-database.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.lorentz_index import IndexFileError, _as_ids, as_points

FORMAT = "hyperalign-milvus-lorentz/1"


def _client(uri: str, token: str | None) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the Milvus backend needs pymilvus (and milvus-lite for a local file): pip install pymilvus milvus-lite") from e
    return MilvusClient(uri, token=token) if token else MilvusClient(uri)


class MilvusLorentzIndex:
    """Points of one space with int64 ids and JSON metadata in a Milvus collection, searched by Lorentz distance.

    ``uri``: a local ``.db`` file (milvus-lite) or ``http://host:19530`` (a Milvus server or cluster).
    """

    def __init__(
        self,
        uri: str,
        collection: str,
        dim: int,
        curvature: float | None,
        *,
        index_type: str = "FLAT",
        index_params: dict[str, Any] | None = None,
        search_params: dict[str, Any] | None = None,
        rerank_factor: int = 2,
        token: str | None = None,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1; got {dim}")
        if curvature is not None and not (math.isfinite(curvature) and curvature > 0):
            raise ValueError(f"curvature must be finite and > 0, or None for a cosine space; got {curvature}")
        if rerank_factor < 1:
            raise ValueError(f"rerank_factor must be >= 1; got {rerank_factor}")
        self.dim = dim
        self.curvature = None if curvature is None else float(curvature)
        self.collection = collection
        self.rerank_factor = rerank_factor
        self.search_params = search_params or {}
        self._client = _client(uri, token)
        self._describe = {"format": FORMAT, "space": self.space, "curvature": self.curvature, "dim": dim}
        if self._client.has_collection(collection):
            self._check_existing(uri)
        else:
            self._create(index_type, index_params or {})
        self._client.load_collection(collection)

    @property
    def space(self) -> str:
        return "cosine" if self.curvature is None else "lorentz"

    @property
    def width(self) -> int:
        return self.dim + 1 if self.curvature is not None else self.dim

    def _create(self, index_type: str, index_params: dict[str, Any]) -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.width)
        schema.add_field("meta", DataType.JSON)
        params = self._client.prepare_index_params()
        params.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=index_params)
        self._client.create_collection(
            self.collection, schema=schema, index_params=params, properties={"hyperalign": json.dumps(self._describe)}
        )

    def _check_existing(self, uri: str) -> None:
        where = f"{uri} collection {self.collection!r}"
        try:
            saved = json.loads(self._client.describe_collection(self.collection).get("properties", {}).get("hyperalign", ""))
        except json.JSONDecodeError:
            raise IndexFileError(f"{where}: not a hyperalign collection (no 'hyperalign' property); refusing to use it") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise IndexFileError(f"{where}: format: expected {FORMAT!r}, got {saved!r}")
        if saved.get("space") != self.space or saved.get("dim") != self.dim:
            raise IndexFileError(
                f"{where}: built for a {saved.get('space')} space of width {saved.get('dim')}, "
                f"but the model gives a {self.space} space of width {self.dim}; rebuild it"
            )
        if self.curvature is not None and not math.isclose(saved["curvature"], self.curvature, rel_tol=1e-6):
            raise IndexFileError(
                f"{where}: curvature: built for c={saved['curvature']!r}, the model has c={self.curvature!r}; rebuild it"
            )

    def _points(self, x: Any, what: str) -> torch.Tensor:
        t = as_points(x, self.dim, what)
        if self.curvature is None:
            norms = t.norm(dim=-1, keepdim=True)
            if bool((norms == 0).any()):
                raise ValueError(f"{what}: a cosine-space index cannot hold or query the zero vector")
            t = t / norms
        return t

    def __len__(self) -> int:
        self._client.flush(self.collection)
        return int(self._client.get_collection_stats(self.collection)["row_count"])

    def add(self, points: Any, ids: Any, metadata: Sequence[dict[str, Any]] | None = None) -> None:
        """Insert points (N, dim) with int64 ids (>= 0, new) and optional JSON-serialisable metadata per point."""
        x = self._points(points, "points")
        new_ids = _as_ids(ids, len(x))
        if metadata is not None and len(metadata) != len(x):
            raise ValueError(f"metadata: expected {len(x)} entries to match the points, got {len(metadata)}")
        if len(x) == 0:
            return
        clash = self._client.get(self.collection, ids=new_ids.tolist(), output_fields=["id"])
        if clash:
            raise ValueError(f"ids: {[r['id'] for r in clash][:5]} are already in the collection")
        forms = (lorentz.mips_database(x, self.curvature) if self.curvature is not None else x).float().numpy()
        rows = [
            {"id": int(i), "vector": v.tolist(), "meta": (metadata[j] if metadata is not None else {})}
            for j, (i, v) in enumerate(zip(new_ids, forms))
        ]
        for s in range(0, len(rows), 2048):
            self._client.insert(self.collection, rows[s : s + 2048])
        self._client.flush(self.collection)

    def _space_part(self, stored: np.ndarray) -> np.ndarray:
        return stored[:, 1:] if self.curvature is not None else stored

    def search(self, queries: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest stored points of each query (Q, dim), re-ranked exactly; see the module docstring."""
        if k < 1:
            raise ValueError(f"k must be >= 1; got {k}")
        q = self._points(queries, "queries")
        dist = np.full((len(q), k), np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        if len(q) == 0:
            return dist, ids
        forms = (lorentz.mips_query(q, self.curvature) if self.curvature is not None else q).float().numpy()
        hits = self._client.search(
            self.collection, data=forms.tolist(), limit=k * self.rerank_factor, output_fields=["vector"],
            search_params={"metric_type": "IP", "params": self.search_params},
        )
        q32 = q.float()
        for row, found in enumerate(hits):
            if not found:
                continue
            cand_ids = np.array([h["id"] for h in found], dtype=np.int64)
            cand = torch.from_numpy(self._space_part(np.array([h["entity"]["vector"] for h in found], dtype=np.float32)))
            if self.curvature is not None:
                d = lorentz.dist(q32[row].unsqueeze(0), cand, self.curvature).numpy()
            else:
                d = (1.0 - cand @ q32[row]).numpy()
            order = np.lexsort((cand_ids, d))[:k]
            dist[row, : len(order)] = d[order]
            ids[row, : len(order)] = cand_ids[order]
        return dist, ids

    def metadata(self, ids: Any) -> list[dict[str, Any]]:
        """Stored metadata of ``ids`` in the given order; ``KeyError`` naming unknown ids."""
        wanted = [int(i) for i in np.atleast_1d(np.asarray(ids, dtype=np.int64))]
        rows = {r["id"]: r["meta"] for r in self._client.get(self.collection, ids=wanted, output_fields=["meta"])}
        missing = [i for i in wanted if i not in rows]
        if missing:
            raise KeyError(f"ids not in the collection: {missing[:5]}")
        return [rows[i] for i in wanted]

    def drop(self) -> None:
        """Delete the collection."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        self._client.close()
