"""The Milvus backend: a codec's database forms in a Milvus collection, candidates by inner product (metric ``IP``).

``uri``: a local ``.db`` file (embedded milvus-lite, as in the tests) or ``http://host:19530`` (a Milvus server or
cluster, the same client); a token for a server comes from ``MILVUS_TOKEN``. Collection schema: ``id`` INT64 primary
key, ``vector`` FLOAT_VECTOR(width) holding :meth:`SpaceCodec.database_form`; the stored points are recovered from it
(:meth:`SpaceCodec.from_database_form`). The collection property ``hyperalign`` records format, space, curvature and
width; opening a collection built for another is an :class:`~hyperalign.index.space.IndexFileError`. Index kinds:
``flat`` -> ``FLAT``, ``hnsw`` -> ``HNSW`` (``M``, ``efConstruction``; search ``ef``), ``ivf`` -> ``IVF_FLAT``
(``nlist``, which must be given; search ``nprobe``). Milvus builds its graphs with the inner product of database
forms itself, so for ``hnsw`` the FAISS backend (graph on tangent vectors) is the more accurate choice.
Deployment: docs/vector-database.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperalign.index.files import IndexFileError
from hyperalign.index.space import SpaceCodec
from hyperalign.index.store import IndexSpec, StoreSpec

FORMAT = "hyperalign-milvus-lorentz/2"
TOKEN_ENV = "MILVUS_TOKEN"
_INSERT_ROWS = 2048
_GET_ROWS = 4096


def _client(uri: str) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the Milvus backend needs pymilvus (and milvus-lite for a local file): pip install 'hyperalign[milvus]'") from e
    token = os.environ.get(TOKEN_ENV)
    return MilvusClient(uri, token=token) if token else MilvusClient(uri)


def _index_params(spec: IndexSpec) -> tuple[str, dict[str, Any]]:
    if spec.kind == "flat":
        return "FLAT", {}
    if spec.kind == "hnsw":
        return "HNSW", {"M": spec.hnsw_m, "efConstruction": spec.ef_construction}
    if spec.nlist is None:
        raise ValueError("a Milvus IVF index is built before its points arrive: give nlist (e.g. --nlist 1024)")
    return "IVF_FLAT", {"nlist": spec.nlist}


class MilvusStore:
    """Points of one codec with int64 ids in the Milvus collection ``where.collection`` at ``where.uri``."""

    def __init__(self, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec) -> None:
        self.codec = codec
        self.spec = spec
        self.uri = str(where.uri)
        self.collection = str(where.collection)
        self._where = f"{self.uri} collection {self.collection!r}"
        self._client = _client(self.uri)

    @classmethod
    def create(cls, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec) -> MilvusStore:
        """A new empty collection; one this tool created before (it has the ``hyperalign`` property) is replaced,
        any other is refused."""
        from pymilvus import DataType

        store = cls(codec, spec, where)
        index_type, index_params = _index_params(spec)
        client, name = store._client, store.collection
        if client.has_collection(name):
            store._saved()  # refuses a collection this tool did not create
            client.drop_collection(name)
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=codec.width)
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type=index_type, metric_type="IP", params=index_params)
        describe = {"format": FORMAT, **codec.describe()}
        client.create_collection(name, schema=schema, index_params=params, properties={"hyperalign": json.dumps(describe)})
        client.load_collection(name)
        return store

    @classmethod
    def open(cls, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec, directory: Path, count: int) -> MilvusStore:
        """The existing collection, checked against the codec and the ``count`` the index metadata records."""
        store = cls(codec, spec, where)
        if not store._client.has_collection(store.collection):
            raise IndexFileError(f"{store._where}: no such collection; the index in {directory} needs it, rebuild it")
        codec.check(store._saved(), store._where)
        store._client.load_collection(store.collection)
        if len(store) != count:
            raise IndexFileError(f"{store._where}: holds {len(store)} points, but {directory} records {count}; rebuild it")
        return store

    def _saved(self) -> dict[str, Any]:
        properties = self._client.describe_collection(self.collection).get("properties", {})
        try:
            saved = json.loads(properties.get("hyperalign", ""))
        except json.JSONDecodeError:
            raise IndexFileError(f"{self._where}: not a hyperalign collection (no 'hyperalign' property); refusing to use it") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise IndexFileError(f"{self._where}: format: expected {FORMAT!r}, got {saved!r}")
        return saved

    def __len__(self) -> int:
        self._client.flush(self.collection)
        return int(self._client.get_collection_stats(self.collection)["row_count"])

    @property
    def ids(self) -> np.ndarray:
        found: list[int] = []
        iterator = self._client.query_iterator(self.collection, batch_size=_GET_ROWS, filter="id >= 0", output_fields=["id"])
        try:
            while batch := iterator.next():
                found += [int(r["id"]) for r in batch]
        finally:
            iterator.close()
        return np.sort(np.asarray(found, dtype=np.int64))

    def contains(self, ids: np.ndarray) -> np.ndarray:
        present: set[int] = set()
        for s in range(0, len(ids), _GET_ROWS):
            rows = self._client.get(self.collection, ids=ids[s : s + _GET_ROWS].tolist(), output_fields=["id"])
            present |= {int(r["id"]) for r in rows}
        return np.array([int(i) in present for i in ids], dtype=bool)

    def add(self, points: torch.Tensor, ids: np.ndarray) -> None:
        if len(points) == 0:
            return
        forms = self.codec.database_form(points)
        rows = [{"id": int(i), "vector": v.tolist()} for i, v in zip(ids, forms)]
        for s in range(0, len(rows), _INSERT_ROWS):
            self._client.insert(self.collection, rows[s : s + _INSERT_ROWS])
        self._client.flush(self.collection)

    def _search_params(self) -> dict[str, Any]:
        if self.spec.kind == "hnsw":
            return {"ef": max(self.spec.ef_search, 1)}
        if self.spec.kind == "ivf":
            return {"nprobe": self.spec.nprobe}
        return {}

    def candidates(self, queries: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores = np.full((len(queries), n), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), n), -1, dtype=np.int64)
        if len(queries) == 0 or n == 0:
            return scores, ids
        params = self._search_params()
        if self.spec.kind == "hnsw":
            params["ef"] = max(params["ef"], n)  # Milvus requires ef >= limit
        hits = self._client.search(
            self.collection, data=self.codec.query_form(queries).tolist(), limit=n,
            search_params={"metric_type": "IP", "params": params},
        )  # fmt: skip
        for row, found in enumerate(hits):
            m = len(found)
            scores[row, :m] = [h["distance"] for h in found]
            ids[row, :m] = [h["id"] for h in found]
        return scores, ids

    def points(self, ids: np.ndarray) -> np.ndarray:
        wanted, inverse = np.unique(np.asarray(ids, dtype=np.int64), return_inverse=True)
        forms: dict[int, list[float]] = {}
        for s in range(0, len(wanted), _GET_ROWS):
            rows = self._client.get(self.collection, ids=wanted[s : s + _GET_ROWS].tolist(), output_fields=["vector"])
            forms.update((int(r["id"]), r["vector"]) for r in rows)
        missing = [int(i) for i in wanted if int(i) not in forms]
        if missing:
            raise KeyError(f"ids not in the index: {missing[:5]}")
        stored = self.codec.from_database_form(np.array([forms[int(i)] for i in wanted], dtype=np.float32))
        return stored[inverse.reshape(-1)]

    def scan(self, block: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        all_ids = self.ids
        for s in range(0, len(all_ids), block):
            chunk = all_ids[s : s + block]
            yield chunk, self.points(chunk)

    def describe(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"pymilvus": version("pymilvus")}

    def save(self, directory: Path) -> None:
        """The points live in the collection; the index metadata records where."""
        self._client.flush(self.collection)

    def drop(self) -> None:
        """Delete the collection."""
        self._client.drop_collection(self.collection)

    def close(self) -> None:
        self._client.close()
