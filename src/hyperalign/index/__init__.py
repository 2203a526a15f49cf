"""Hyperbolic search: Lorentz k-NN over FAISS (exact and approximate), hierarchy queries, the search facade.

Layers: :mod:`~hyperalign.index.lorentz_index` (points and ids, search by Lorentz distance),
:mod:`~hyperalign.index.hierarchy` (entailment-cone queries), :mod:`~hyperalign.index.search` (a model plus the
indexes of a dataset's shapes and captions). FAISS is imported when an index is first created or loaded.
"""

from hyperalign.index.lorentz_index import IndexFileError, IndexSpec, LorentzIndex
from hyperalign.index.search import CaptionRecord, Hit, Index, ItemRecord

__all__ = ["CaptionRecord", "Hit", "Index", "IndexFileError", "IndexSpec", "ItemRecord", "LorentzIndex"]
