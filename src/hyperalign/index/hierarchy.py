"""Hierarchy-aware queries on a Lorentz index: what is more general or more specific than a point.

With entailment cones (Ganea et al. 2018; MERU Eqs. 7-8; H2ARN Eqs. 11-12), ``y`` is *more specific* than ``x``
when ``y`` lies in the cone of ``x``: ``ext(x, y) <= aper(x)``, ``aper(x) = asin(2K / (sqrt(c) ||x~||))``
(:func:`lorentz.exterior_angle`, :func:`lorentz.half_aperture`, ``K`` as in training, 0.1 by default); ``x`` is then
*more general* than ``y``. Generality is the distance from the origin, :func:`lorentz.dist0`: generic concepts sit
near it, so a more general point must also be nearer the origin (and a more specific one farther).

Results are ranked by cone violation ``max(0, ext - aper)`` (radians; 0 inside the cone), then by
:func:`lorentz.dist`, then by id: the points inside the cone come first, nearest first. ``strict=True`` returns only
those; otherwise near misses follow, with their violation reported, which is what a model whose cones are not yet
tight (or a query outside every cone) can still show.

The scan covers every stored point in blocks (exact; about as costly as one flat search), because a cone is not a
ball: its members need not be near neighbours.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.lorentz_index import LorentzIndex
from hyperalign.index.space import as_points

_BLOCK_ELEMENTS = 1 << 20  # query x block x dim elements per step (8 MiB of float64 per intermediate)


def _require_lorentz(index: LorentzIndex) -> float:
    if index.curvature is None:
        raise ValueError("hierarchy queries need a Lorentz index: a cosine (Euclidean) space has no entailment cones")
    return index.curvature


def generality(index: LorentzIndex, ids: Any) -> np.ndarray:
    """Distance from the origin of stored points (smaller = more general); (len(ids),) float32."""
    c = _require_lorentz(index)
    return lorentz.dist0(torch.from_numpy(index.get(ids)).double(), c).numpy().astype(np.float32)


class ConeHits(NamedTuple):
    """Per query (Q, k): distances float32, ids int64 (``-1`` where fewer qualify), violations float32 radians."""

    distances: np.ndarray
    ids: np.ndarray
    violations: np.ndarray


def _cone_search(
    index: LorentzIndex,
    queries: Any,
    k: int,
    K: float,
    direction: Literal["general", "specific"],
    exclude: Any,
    strict: bool,
) -> ConeHits:
    c = _require_lorentz(index)
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    q = as_points(queries, index.dim, "queries")
    excluded = np.asarray([] if exclude is None else exclude, dtype=np.int64).reshape(-1)
    best = [np.full((len(q), 0), np.inf), np.full((len(q), 0), np.inf), np.full((len(q), 0), -1, dtype=np.int64)]
    block = max(1, _BLOCK_ELEMENTS // max(1, len(q) * index.dim))
    qb = q.unsqueeze(1)  # (Q, 1, n)
    q_general = lorentz.dist0(qb, c)  # (Q, 1)
    for ids, stored in index.scan(block):
        y = torch.from_numpy(stored.astype(np.float64)).unsqueeze(0)  # (1, B, n)
        if direction == "specific":  # y in the cone of the query, farther from the origin
            violation = lorentz.exterior_angle(qb, y, c) - lorentz.half_aperture(qb, c, K)
            eligible = lorentz.dist0(y, c) > q_general
        else:  # the query in the cone of y, y nearer the origin
            violation = lorentz.exterior_angle(y, qb, c) - lorentz.half_aperture(y, c, K)
            eligible = lorentz.dist0(y, c) < q_general
        violation = violation.clamp_min(0.0)
        if strict:
            eligible &= violation == 0
        eligible &= torch.from_numpy(~np.isin(ids, excluded)).unsqueeze(0)
        outside = torch.where(eligible, violation, torch.inf).numpy()
        dist = torch.where(eligible, lorentz.dist(qb, y, c), torch.inf).numpy()
        cand = [np.concatenate([b, new], axis=1) for b, new in zip(best, (outside, dist, np.broadcast_to(ids, dist.shape)))]
        order = np.lexsort((cand[2], cand[1], cand[0]))[:, :k]
        best = [np.take_along_axis(a, order, axis=1) for a in cand]
    out = ConeHits(
        np.full((len(q), k), np.inf, dtype=np.float32),
        np.full((len(q), k), -1, dtype=np.int64),
        np.full((len(q), k), np.inf, dtype=np.float32),
    )
    m = best[0].shape[1]
    found = np.isfinite(best[1])
    out.distances[:, :m] = best[1]
    out.ids[:, :m] = np.where(found, best[2], -1)
    out.violations[:, :m] = best[0]
    return out


def more_general(
    index: LorentzIndex, queries: Any, k: int = 5, K: float = 0.1, exclude: Any = None, strict: bool = True
) -> ConeHits:
    """Stored points nearer the origin whose entailment cone contains each query (Q, n), nearest first; with
    ``strict=False`` near misses follow, by violation. ``exclude``: ids never returned (e.g. the query's own)."""
    return _cone_search(index, queries, k, K, "general", exclude, strict)


def more_specific(
    index: LorentzIndex, queries: Any, k: int = 5, K: float = 0.1, exclude: Any = None, strict: bool = True
) -> ConeHits:
    """Stored points farther from the origin inside each query's entailment cone, nearest first; ``strict`` and the
    result as :func:`more_general`."""
    return _cone_search(index, queries, k, K, "specific", exclude, strict)
