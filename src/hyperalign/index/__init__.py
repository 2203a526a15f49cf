"""Hyperbolic search: Lorentz k-NN over FAISS or Milvus (exact and approximate) and hierarchy queries, independent
of models and datasets.

Layers: :mod:`~hyperalign.index.space` (a space's query / database forms and exact re-ranking),
:mod:`~hyperalign.index.store` (the backend protocol; :mod:`~hyperalign.index.faiss_store`,
:mod:`~hyperalign.index.milvus`), :mod:`~hyperalign.index.lorentz_index` (points and ids, search by Lorentz distance),
:mod:`~hyperalign.index.hierarchy` (entailment-cone queries). The search facade over a model and a dataset
(:class:`hyperalign.runtime.index.Index`) is built on these. FAISS and pymilvus are imported when an index on them is
first created or loaded.
"""

from hyperalign.index.lorentz_index import IndexFileError, IndexSpec, LorentzIndex, StoreSpec

__all__ = ["IndexFileError", "IndexSpec", "LorentzIndex", "StoreSpec"]
