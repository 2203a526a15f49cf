"""Using a trained model: load it (model weights only), evaluate it, embed a split, search a dataset with it
(:class:`Index`), run the demo; and which dataset a run reads.

Modules: :mod:`~hyperalign.runtime.loading` (:func:`load`, :class:`Retriever`), :mod:`~hyperalign.runtime.evaluation`,
:mod:`~hyperalign.runtime.embeddings`, :mod:`~hyperalign.runtime.index` (the search facade over
:mod:`hyperalign.index`), :mod:`~hyperalign.runtime.datasets`, :mod:`~hyperalign.runtime.features` (caption token
features, also used by training), :mod:`~hyperalign.runtime.demo`. Nothing here imports :mod:`hyperalign.train`.
"""

from hyperalign.runtime.datasets import resolve_dataset
from hyperalign.runtime.embeddings import embed_split
from hyperalign.runtime.evaluation import evaluate
from hyperalign.runtime.index import CaptionRecord, Hit, Index, ItemRecord
from hyperalign.runtime.loading import Retriever, load

__all__ = ["CaptionRecord", "Hit", "Index", "ItemRecord", "Retriever", "embed_split", "evaluate", "load", "resolve_dataset"]
