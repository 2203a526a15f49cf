"""Hyperbolic search: Lorentz k-NN over FAISS (exact and approximate) and hierarchy queries, independent of models
and datasets.

Layers: :mod:`~hyperalign.index.lorentz_index` (points and ids, search by Lorentz distance),
:mod:`~hyperalign.index.hierarchy` (entailment-cone queries). The search facade over a model and a dataset
(:class:`hyperalign.runtime.index.Index`) is built on these. FAISS is imported when an index is first created or
loaded.
"""

from hyperalign.index.lorentz_index import IndexFileError, IndexSpec, LorentzIndex

__all__ = ["IndexFileError", "IndexSpec", "LorentzIndex"]
