"""Evaluate a model on one split: embed every caption and every shape once, then rank in chunks.

Query set: every distinct caption of the split (all levels); gallery: the split's shapes. Ground truth is
multi-positive: a caption is correct on any shape it describes, a shape on any of its captions. Besides the
both-direction metrics (:func:`~hyperalign.eval.retrieval.cross_modal_metrics`), text -> shape R@1 / R@10 / MRR are
reported per caption level (``t2s_R@1/category`` ...).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
from hyperalign.eval.retrieval import cross_modal_metrics, retrieval_metrics
from hyperalign.model.h2arn import H2ARN


class TokenSource(Protocol):
    def batch(self, ids: list[int]) -> tuple[Tensor, Tensor]: ...


@torch.no_grad()
def embed_caption_ids(model: H2ARN, features: TokenSource, ids: list[int], batch_size: int) -> Tensor:
    """Embed captions ``ids`` from their token features (``features.batch(ids)``); returns (len(ids), n)."""
    device = next(model.parameters()).device
    out = []
    for s in range(0, len(ids), batch_size):
        tokens, mask = features.batch(ids[s : s + batch_size])
        out.append(model.embed_text_tokens(tokens.to(device), mask.to(device)))
    return torch.cat(out)


@torch.no_grad()
def embed_store(model: H2ARN, store: PointStore, points_per_cloud: int, batch_size: int) -> Tensor:
    """Embed every cloud of ``store`` once with a fixed (deterministic) point sample; returns (S, n)."""
    out = []
    n = len(store.clouds)
    for start in range(0, n, batch_size):
        batch = store.batch(list(range(start, min(n, start + batch_size))), points_per_cloud)
        out.append(model.embed_points(batch.to(next(model.parameters()).device)))
    return torch.cat(out)


@torch.no_grad()
def evaluate_view(
    model: H2ARN,
    view: SplitView,
    table: CaptionTable,
    features: TokenSource,
    store: PointStore,
    *,
    points_per_cloud: int,
    batch_size: int = 128,
    chunk_size: int = 1024,
) -> dict[str, float]:
    """All retrieval metrics of ``model`` on ``view``; the model is put in eval mode and restored after."""
    was_training = model.training
    model.eval()
    try:
        text = embed_caption_ids(model, features, view.query_ids, batch_size)
        shapes = embed_store(model, store, points_per_cloud, batch_size)
    finally:
        model.train(was_training)
    device = next(model.parameters()).device

    def distance(a: Tensor, b: Tensor) -> Tensor:
        return model.pairwise_distance(a.to(device), b.to(device)).cpu()

    text, shapes = text.cpu(), shapes.cpu()
    metrics = cross_modal_metrics(text, shapes, view.relevance, distance, chunk_size=chunk_size)
    levels = [table.levels[q] for q in view.query_ids]
    for level in dict.fromkeys(levels):
        rows = torch.tensor([i for i, lv in enumerate(levels) if lv == level])
        per_level = retrieval_metrics(text[rows], shapes, view.relevance[rows], distance, chunk_size=chunk_size)
        for key in ("R@1", "R@10", "MRR"):
            metrics[f"t2s_{key}/{level}"] = per_level[key]
    return metrics


__all__ = ["embed_caption_ids", "embed_store", "evaluate_view"]
