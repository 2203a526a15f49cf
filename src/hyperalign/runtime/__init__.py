"""Using a trained model: load it (model weights only), evaluate it, embed a split, search a dataset with it
(:class:`Index`), run the demo; and which dataset a run reads.

Modules: :mod:`~hyperalign.runtime.loading` (:func:`load`, :class:`Retriever`), :mod:`~hyperalign.runtime.evaluation`,
:mod:`~hyperalign.runtime.embeddings`, :mod:`~hyperalign.runtime.index` (the search facade over
:mod:`hyperalign.index`), :mod:`~hyperalign.runtime.text_search` (text queries on a saved index without torch; the ONNX
graphs it runs are written by :mod:`~hyperalign.runtime.query_export`), :mod:`~hyperalign.runtime.datasets`,
:mod:`~hyperalign.runtime.features` (caption token features, also used by training), :mod:`~hyperalign.runtime.demo`.
Nothing here imports :mod:`hyperalign.train`. The names below are imported on first use, so the torch-free modules stay
torch-free.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "resolve_dataset": "datasets", "embed_split": "embeddings", "evaluate": "evaluation", "CaptionRecord": "records",
    "Hit": "records", "ItemRecord": "records", "Index": "index", "Retriever": "loading", "load": "loading",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"hyperalign.runtime.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'hyperalign.runtime' has no attribute {name!r}")
