"""The backend protocol of :class:`~hyperalign.index.lorentz_index.LorentzIndex`: storage and candidate search.

A :class:`VectorStore` keeps points with int64 ids and proposes candidates by inner product between the query and
database forms of a :class:`~hyperalign.index.space.SpaceCodec`; the index re-ranks them exactly with the same codec,
so no backend knows the space's formulas. Backends: :class:`~hyperalign.index.faiss_store.FaissStore` (embedded,
the default) and :class:`~hyperalign.index.milvus.MilvusStore` (milvus-lite file or Milvus server).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hyperalign.index.space import SpaceCodec

Backend = Literal["faiss", "milvus"]
_REMOTE = ("http://", "https://", "tcp://", "unix:")


class IndexSpec(BaseModel):
    """Which index structure to build and how to search it (the same kinds on every backend)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["flat", "hnsw", "ivf"] = "flat"
    hnsw_m: int = Field(32, ge=4, le=256, description="HNSW: links per node")
    ef_construction: int = Field(80, ge=8, description="HNSW: candidate list size while building")
    ef_search: int = Field(64, ge=1, description="HNSW: candidate list size while searching")
    nlist: int | None = Field(None, ge=1, description="IVF: cells; None = min(4 sqrt(N), N / 39) at training")
    nprobe: int = Field(16, ge=1, description="IVF: cells visited per query")
    rerank_factor: int = Field(2, ge=1, le=64, description="candidates fetched per wanted neighbour, re-ranked exactly")
    seed: int = Field(0, description="IVF k-means seed")


class StoreSpec(BaseModel):
    """Where the points live: ``faiss`` (files in the index directory) or ``milvus`` (a collection at ``uri``: a
    local ``.db`` file for milvus-lite, or ``http://host:19530`` for a server; a token, if the server needs one,
    comes from the ``MILVUS_TOKEN`` environment variable and is never saved)."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "faiss"
    uri: str | None = None
    collection: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")

    @model_validator(mode="after")
    def _complete(self) -> StoreSpec:
        if self.backend == "faiss" and (self.uri is not None or self.collection is not None):
            raise ValueError("uri / collection: only the milvus backend takes them")
        if self.backend == "milvus" and (not self.uri or not self.collection):
            raise ValueError("the milvus backend needs a uri (a .db file or http://host:port) and a collection name")
        if self.backend == "milvus" and not is_remote(self.uri or "") and not str(self.uri).endswith(".db"):
            raise ValueError(f"uri {self.uri!r}: expected a milvus-lite file ending in .db, or http(s)://host:port")
        return self

    def resolved(self) -> StoreSpec:
        """The same store with a local milvus-lite file as an absolute path (so a saved index loads from anywhere)."""
        if self.backend != "milvus" or is_remote(self.uri or ""):
            return self
        return self.model_copy(update={"uri": str(Path(os.path.expanduser(str(self.uri))).resolve())})


def is_remote(uri: str) -> bool:
    """A server address rather than a milvus-lite file."""
    return uri.startswith(_REMOTE)


class VectorStore(Protocol):
    """Points of one :class:`SpaceCodec` with int64 ids: storage and candidate search by inner product.

    Shapes follow FAISS: candidate scores and ids are (Q, n), ``-1`` where fewer than ``n`` exist.
    """

    codec: SpaceCodec
    spec: IndexSpec  # search-time fields (ef_search, nprobe) may be replaced between searches

    def __len__(self) -> int: ...

    @property
    def ids(self) -> np.ndarray:
        """All ids (N,) int64 in the store's order (FAISS: insertion; Milvus: ascending)."""
        ...

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are stored, (len(ids),) bool."""
        ...

    def add(self, points: torch.Tensor, ids: np.ndarray) -> None:
        """Store points (N, dim) float64, already in the codec's stored form (:meth:`SpaceCodec.points`), with new
        distinct ids."""
        ...

    def candidates(self, queries: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Inner-product scores (Q, n) float32, descending, and ids (Q, n) int64 of the best database forms for the
        query forms of ``queries`` (Q, dim) float64 (stored form)."""
        ...

    def points(self, ids: np.ndarray) -> np.ndarray:
        """Stored points (len(ids), dim) float32 of ``ids`` (1-d), in that order; ``KeyError`` naming unknown ones."""
        ...

    def scan(self, block: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored (ids, points) in blocks of at most ``block``, in the order of :attr:`ids`."""
        ...

    def describe(self) -> dict[str, Any]:
        """Library versions the index metadata records beside the :class:`StoreSpec`."""
        ...

    def save(self, directory: Path) -> None:
        """Write whatever the store keeps in the index directory (being written atomically by the index)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


class StoreFactory(Protocol):
    """A backend class: a new empty store, or the one a saved index directory records."""

    def create(self, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec) -> VectorStore: ...

    def open(self, codec: SpaceCodec, spec: IndexSpec, where: StoreSpec, directory: Path, count: int) -> VectorStore: ...
