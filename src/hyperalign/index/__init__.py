"""Hyperbolic search: Lorentz k-NN over FAISS or Milvus (exact and approximate) and hierarchy queries, independent of
models and datasets.

Layers: :mod:`~hyperalign.index.space` (a space's query / database forms and exact re-ranking),
:mod:`~hyperalign.index.store` (the backend protocol; :mod:`~hyperalign.index.faiss_store`,
:mod:`~hyperalign.index.milvus`), :mod:`~hyperalign.index.lorentz_index` (points and ids, search by Lorentz distance),
:mod:`~hyperalign.index.hierarchy` (entailment-cone queries), :mod:`~hyperalign.index.numpy_search` (a saved FAISS
index searched without torch, with distance functions the caller passes; :mod:`~hyperalign.index.files` reads what both
need). The search facade over a model and a dataset (:class:`hyperalign.runtime.index.Index`) is built on these. FAISS
and pymilvus are imported when an index on them is first created or loaded; the names below are imported on first use,
so the torch-free modules stay torch-free.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["IndexFileError", "IndexSpec", "LorentzIndex", "StoreSpec"]


def __getattr__(name: str) -> Any:
    if name == "IndexFileError":
        return importlib.import_module("hyperalign.index.files").IndexFileError
    if name in __all__:
        return getattr(importlib.import_module("hyperalign.index.lorentz_index"), name)
    raise AttributeError(f"module 'hyperalign.index' has no attribute {name!r}")
