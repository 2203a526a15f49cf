"""Metrics of a loaded model on a split of its training dataset (or of another dataset in the same layout)."""

from __future__ import annotations

import os

from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
from hyperalign.eval.evaluate import evaluate_view
from hyperalign.runtime.datasets import resolve_dataset
from hyperalign.runtime.features import caption_features
from hyperalign.runtime.loading import Retriever


def evaluate(
    retriever: Retriever, split: str = "test", data: str | os.PathLike[str] | None = None, progress: bool = False,
    hierarchy: bool = False, pep: bool = True,
) -> dict[str, float]:
    """Retrieval metrics of a loaded model on ``split`` of its training dataset (or of ``data``); with ``hierarchy``,
    also the hierarchy metrics (LA, HCA, MTA, PEP AUC / AP unless ``pep`` is off, depth-norm Spearman;
    :mod:`hyperalign.eval.hierarchy`)."""
    cfg = retriever.cfg
    dataset = resolve_dataset(cfg, data)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, split)
    features = caption_features(cfg, table.texts, retriever.tower, progress=progress)
    store = PointStore(dataset, view.items)
    metrics = evaluate_view(
        retriever.model, view, table, features, store,
        points_per_cloud=retriever.points_per_cloud, batch_size=cfg.eval.batch_size, chunk_size=cfg.eval.chunk_size,
        progress=progress,
    )
    if hierarchy:
        from hyperalign.eval.hierarchy import evaluate_hierarchy

        metrics |= evaluate_hierarchy(
            retriever.model, dataset, view, table, features, store,
            points_per_cloud=retriever.points_per_cloud, batch_size=cfg.eval.batch_size, pep=pep,
        )
    return metrics
