"""Hyperbolic search: Lorentz k-NN over FAISS or Milvus (exact and approximate), hierarchy queries, the search facade.

Layers: :mod:`~hyperalign.index.space` (a space's query / database forms and exact re-ranking),
:mod:`~hyperalign.index.store` (the backend protocol; :mod:`~hyperalign.index.faiss_store`,
:mod:`~hyperalign.index.milvus`), :mod:`~hyperalign.index.lorentz_index` (points and ids, search by Lorentz distance),
:mod:`~hyperalign.index.hierarchy` (entailment-cone queries), :mod:`~hyperalign.index.search` (a model plus the
indexes of a dataset's shapes and captions). FAISS and pymilvus are imported when an index on them is first created or loaded.
"""

from hyperalign.index.lorentz_index import IndexFileError, IndexSpec, LorentzIndex, StoreSpec
from hyperalign.index.search import CaptionRecord, Hit, Index, ItemRecord

__all__ = ["CaptionRecord", "Hit", "Index", "IndexFileError", "IndexSpec", "ItemRecord", "LorentzIndex", "StoreSpec"]
