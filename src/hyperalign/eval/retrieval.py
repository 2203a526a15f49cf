"""Retrieval evaluation: ranks from a distance matrix, then R@K, MedR, MeanR, MRR, Rsum and mAP.

Conventions used throughout:

* Gallery items are ranked by **ascending distance** (smaller is better); ranks are 1-based.
* **Ties count against the model**: an irrelevant item at the same distance as the best relevant one is ranked
  before it, so a constant distance matrix gives the worst rank, never R@1 = 1 (unlike H2ARN's ``recall.py``).
* Every query must have at least one relevant gallery item; a query without one raises ``ValueError`` naming its
  index instead of being dropped. NaN distances raise ``ValueError`` too.
* Metrics are flat ``dict[str, float]``: R@K and MRR are fractions in [0, 1], MedR is the NumPy median (the mean
  of the two middle ranks for an even count), ``rsum`` is in percentage points (as in the literature).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Hashable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "first_relevant_ranks",
    "rank_metrics",
    "retrieval_metrics",
    "cross_modal_metrics",
    "average_precision",
    "relevance_matrix",
    "format_table",
]

Distance = Callable[[Tensor, Tensor], Tensor]
_RECALL_KEY = re.compile(r"R@\d+(/|$)")


def _as_dist(dist: Tensor) -> Tensor:
    """Check a (Q, G) real distance matrix; integer distances are promoted to float64 (exact up to 2^53)."""
    if dist.dim() != 2:
        raise ValueError(f"distance matrix must be 2-D (queries, gallery); got shape {tuple(dist.shape)}")
    if dist.dtype == torch.bool or dist.is_complex():
        raise TypeError(f"distances must be real numbers; got dtype {dist.dtype}")
    return dist if dist.is_floating_point() else dist.double()


def _check_no_nan(dist: Tensor, first_query: int = 0) -> None:
    nan = torch.isnan(dist)
    if bool(nan.any()):
        q, g = (int(i) for i in nan.nonzero()[0])
        raise ValueError(f"distance matrix has NaN at query {first_query + q}, gallery item {g}")


def _check_relevance(relevant: Tensor, shape: tuple[int, int]) -> None:
    """``relevant`` must be a bool (Q, G) matrix in which every query has at least one relevant item."""
    if relevant.dtype != torch.bool:
        raise TypeError(f"relevance matrix must have dtype torch.bool; got {relevant.dtype}")
    if tuple(relevant.shape) != tuple(shape):
        raise ValueError(
            f"relevance matrix must have shape {tuple(shape)} (queries, gallery); got {tuple(relevant.shape)}"
        )
    missing = (~relevant.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        shown = ", ".join(str(i) for i in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise ValueError(
            f"query {missing[0]} has no relevant gallery item ({len(missing)} such queries: {shown}); "
            "every query needs at least one"
        )


def _ranks(dist: Tensor, relevant: Tensor, first_query: int = 0) -> Tensor:
    """Ranks of a checked block: 1 + number of irrelevant items at distance <= the best relevant distance."""
    _check_no_nan(dist, first_query)
    best = torch.where(relevant, dist, torch.inf).amin(dim=1, keepdim=True)
    return 1 + ((dist <= best) & ~relevant).sum(dim=1)


def first_relevant_ranks(dist: Tensor, relevant: Tensor) -> Tensor:
    """1-based rank of the best-ranked relevant gallery item of each query, ties counted against the model.

    ``rank_q = 1 + #{g irrelevant : dist[q, g] <= min_{g' relevant} dist[q, g']}``.
    Shapes: ``dist`` (Q, G) real, ``relevant`` (Q, G) bool; returns int64 (Q,).
    """
    dist = _as_dist(dist)
    _check_relevance(relevant, tuple(dist.shape))
    return _ranks(dist, relevant.to(dist.device))


def rank_metrics(ranks: Tensor, ks: Sequence[int] = (1, 5, 10), prefix: str = "") -> dict[str, float]:
    """R@K (fraction of ranks <= K), MedR (NumPy median), MeanR and MRR (mean of 1/rank) of 1-based ``ranks`` (Q,).

    Keys are ``f"{prefix}R@{k}"`` for each K, then ``f"{prefix}MedR"``, ``f"{prefix}MeanR"``, ``f"{prefix}MRR"``.
    """
    if ranks.dim() != 1 or ranks.is_floating_point() or ranks.is_complex() or ranks.dtype == torch.bool:
        raise TypeError(f"ranks must be a 1-D integer tensor; got dtype {ranks.dtype}, shape {tuple(ranks.shape)}")
    if ranks.numel() == 0:
        raise ValueError("no queries: ranks is empty")
    if int(ranks.min()) < 1:
        raise ValueError(f"ranks are 1-based; got a rank of {int(ranks.min())}")
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive integers; got {tuple(ks)}")
    r = ranks.detach().cpu().double()
    metrics = {f"{prefix}R@{int(k)}": float((r <= k).double().mean()) for k in ks}
    metrics[f"{prefix}MedR"] = float(np.median(r.numpy()))
    metrics[f"{prefix}MeanR"] = float(r.mean())
    metrics[f"{prefix}MRR"] = float(r.reciprocal().mean())
    return metrics


@torch.no_grad()
def retrieval_metrics(
    queries: Tensor,
    gallery: Tensor,
    relevant: Tensor,
    distance: Distance,
    *,
    chunk_size: int = 1024,
    ks: Sequence[int] = (1, 5, 10),
    prefix: str = "",
) -> dict[str, float]:
    """:func:`rank_metrics` of ``queries`` (Q, n) against ``gallery`` (G, n), ``relevant`` (Q, G) bool.

    The distance matrix is computed ``chunk_size`` query rows at a time with ``distance(q_chunk, gallery)`` -> (q, G)
    and each block is ranked at once, so at most one block is held in memory. Runs without autograd.
    """
    if queries.dim() != 2 or gallery.dim() != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"queries and gallery must be (Q, n) and (G, n) with the same n; "
            f"got {tuple(queries.shape)} and {tuple(gallery.shape)}"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1; got {chunk_size}")
    n_queries, n_gallery = queries.shape[0], gallery.shape[0]
    _check_relevance(relevant, (n_queries, n_gallery))
    ranks = torch.empty(n_queries, dtype=torch.long)
    for start in range(0, n_queries, chunk_size):
        stop = min(start + chunk_size, n_queries)
        block = distance(queries[start:stop], gallery)
        if tuple(block.shape) != (stop - start, n_gallery):
            raise ValueError(
                f"distance returned shape {tuple(block.shape)} for {stop - start} queries and {n_gallery} gallery "
                f"items; expected {(stop - start, n_gallery)}"
            )
        block = _as_dist(block)
        ranks[start:stop] = _ranks(block, relevant[start:stop].to(block.device), first_query=start).cpu()
    return rank_metrics(ranks, ks, prefix)


def cross_modal_metrics(
    text: Tensor,
    shapes: Tensor,
    text_to_shape: Tensor,
    distance: Distance,
    *,
    chunk_size: int = 1024,
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Text -> shape (``t2s_*``) and shape -> text (``s2t_*``) metrics, ``rsum``, ``n_text`` and ``n_shapes``.

    ``text`` (T, n), ``shapes`` (S, n), ``text_to_shape`` (T, S) bool marks each caption's shape(s). A shape query is
    correct when any of its captions is retrieved (relevance ``text_to_shape.T``); ``distance(shape_chunk, text)``
    is used for that direction. ``rsum = 100 * sum over both directions and ks of R@K`` (the usual Rsum over
    R@1/5/10 with the default ``ks``).
    """
    _check_relevance(text_to_shape, (text.shape[0], shapes.shape[0]))
    uncaptioned = (~text_to_shape.any(dim=0)).nonzero().flatten().tolist()
    if uncaptioned:
        raise ValueError(f"shape {uncaptioned[0]} has no caption ({len(uncaptioned)} shapes without one)")
    t2s = retrieval_metrics(text, shapes, text_to_shape, distance, chunk_size=chunk_size, ks=ks, prefix="t2s_")
    s2t = retrieval_metrics(shapes, text, text_to_shape.T, distance, chunk_size=chunk_size, ks=ks, prefix="s2t_")
    rsum = 100.0 * sum(t2s[f"t2s_R@{int(k)}"] + s2t[f"s2t_R@{int(k)}"] for k in ks)
    return {**t2s, **s2t, "rsum": rsum, "n_text": int(text.shape[0]), "n_shapes": int(shapes.shape[0])}


def average_precision(dist: Tensor, relevant: Tensor) -> Tensor:
    """Average precision of each query, ranking by ascending distance with ties counted against the model.

    Within equal distances irrelevant items are ranked first; ``AP_q = mean over relevant positions p of
    precision@p``. Shapes: ``dist`` (Q, G), ``relevant`` (Q, G) bool; returns float64 (Q,). mAP is its mean.
    """
    dist = _as_dist(dist)
    _check_relevance(relevant, tuple(dist.shape))
    _check_no_nan(dist)
    relevant = relevant.to(dist.device)
    # Two stable sorts: by relevance (irrelevant first), then by distance, which keeps that order within ties.
    by_relevance = torch.argsort(relevant.to(torch.int8), dim=1, stable=True)
    by_distance = torch.argsort(dist.gather(1, by_relevance), dim=1, stable=True)
    hits = relevant.gather(1, by_relevance).gather(1, by_distance).double()
    positions = torch.arange(1, dist.shape[1] + 1, dtype=torch.float64, device=dist.device)
    precision = hits.cumsum(dim=1) / positions
    return (precision * hits).sum(dim=1) / hits.sum(dim=1)


def relevance_matrix(query_targets: Sequence[Collection[Hashable]], gallery_ids: Sequence[Hashable]) -> Tensor:
    """Bool (Q, G) matrix with ``relevant[q, g] = gallery_ids[g] in query_targets[q]``.

    Gallery ids may repeat (e.g. several captions of one shape). Targets absent from the gallery are ignored, so a
    query whose targets are all absent gets an empty row (which the metric functions then reject).
    """
    positions: dict[Hashable, list[int]] = {}
    for g, gid in enumerate(gallery_ids):
        positions.setdefault(gid, []).append(g)
    relevant = torch.zeros(len(query_targets), len(gallery_ids), dtype=torch.bool)
    for q, targets in enumerate(query_targets):
        if isinstance(targets, (str, bytes)):
            raise TypeError(
                f"query_targets[{q}] is a {type(targets).__name__} ({targets!r}), which would be read as a collection "
                "of characters; wrap a single id in a set or list"
            )
        for target in targets:
            if target in positions:
                relevant[q, positions[target]] = True
    return relevant


def _format_value(name: str, value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if _RECALL_KEY.search(name):
        return f"{100.0 * value:.2f}%"
    if name.endswith("MRR"):
        return f"{value:.4f}"
    return f"{value:.2f}"


def format_table(metrics: dict[str, float], title: str = "") -> str:
    """Plain-text two-column table of ``metrics``: R@K as percentages (2 decimals), MRR 4 decimals, counts as ints."""
    rows = [(name, _format_value(name, value)) for name, value in metrics.items()]
    name_width = max([len("metric"), *(len(name) for name, _ in rows)])
    value_width = max([len("value"), *(len(text) for _, text in rows)])
    lines = [title] if title else []
    lines.append(f"{'metric':<{name_width}}  {'value':>{value_width}}")
    lines.append(f"{'-' * name_width}  {'-' * value_width}")
    lines += [f"{name:<{name_width}}  {text:>{value_width}}" for name, text in rows]
    return "\n".join(lines)
