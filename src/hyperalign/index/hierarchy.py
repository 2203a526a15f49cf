"""Hierarchy-aware queries on a Lorentz index: what is more general or more specific than a point.

With entailment cones (Ganea et al. 2018; MERU Eqs. 7-8; H2ARN Eqs. 11-12), ``y`` is *more specific* than ``x``
when ``y`` lies in the cone of ``x``: ``ext(x, y) <= aper(x)``, ``aper(x) = asin(2K / (sqrt(c) ||x~||))``
(:func:`lorentz.exterior_angle`, :func:`lorentz.half_aperture`, ``K`` as in training, 0.1 by default). ``x`` is then
*more general* than ``y``. Among the points that qualify, the nearest by :func:`lorentz.dist` come first, ties by id.
Generality itself is the distance from the origin, :func:`lorentz.dist0`: generic concepts sit near the origin.

The cone test scans every stored point in blocks (exact; about as costly as one flat search), because a cone is not
a ball: its members need not be near neighbours.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.lorentz_index import LorentzIndex, as_points

_BLOCK_ELEMENTS = 1 << 22  # query x block x dim elements per step (32 MB of float64)


def _require_lorentz(index: LorentzIndex) -> float:
    if index.curvature is None:
        raise ValueError("hierarchy queries need a Lorentz index: a cosine (Euclidean) space has no entailment cones")
    return index.curvature


def generality(index: LorentzIndex, ids: Any) -> np.ndarray:
    """Distance from the origin of stored points (smaller = more general); (len(ids),) float32."""
    c = _require_lorentz(index)
    return lorentz.dist0(torch.from_numpy(index.get(ids)).double(), c).numpy().astype(np.float32)


def _cone_search(
    index: LorentzIndex, queries: Any, k: int, K: float, direction: Literal["general", "specific"], exclude: Any
) -> tuple[np.ndarray, np.ndarray]:
    c = _require_lorentz(index)
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    q = as_points(queries, index.dim, "queries")
    excluded = np.asarray([] if exclude is None else exclude, dtype=np.int64).reshape(-1)
    best_d = np.full((len(q), 0), np.inf)
    best_ids = np.full((len(q), 0), -1, dtype=np.int64)
    block = max(1, _BLOCK_ELEMENTS // max(1, len(q) * index.dim))
    qb = q.unsqueeze(1)  # (Q, 1, n)
    for s in range(0, len(index), block):
        y = torch.from_numpy(index.vectors[s : s + block].astype(np.float64)).unsqueeze(0)  # (1, B, n)
        if direction == "specific":  # y in the cone of the query
            inside = lorentz.exterior_angle(qb, y, c) <= lorentz.half_aperture(qb, c, K)
        else:  # the query in the cone of y
            inside = lorentz.exterior_angle(y, qb, c) <= lorentz.half_aperture(y, c, K)
        ids = index.ids[s : s + block]
        inside &= torch.from_numpy(~np.isin(ids, excluded)).unsqueeze(0)
        d = torch.where(inside, lorentz.dist(qb, y, c), torch.inf).numpy()
        cand_d = np.concatenate([best_d, d], axis=1)
        cand_ids = np.concatenate([best_ids, np.broadcast_to(ids, d.shape)], axis=1)
        order = np.lexsort((cand_ids, cand_d))[:, :k]
        best_d = np.take_along_axis(cand_d, order, axis=1)
        best_ids = np.take_along_axis(cand_ids, order, axis=1)
    dist = np.full((len(q), k), np.inf, dtype=np.float32)
    out_ids = np.full((len(q), k), -1, dtype=np.int64)
    m = best_d.shape[1]
    dist[:, :m] = best_d
    out_ids[:, :m] = np.where(np.isfinite(best_d), best_ids, -1)
    return dist, out_ids


def more_general(
    index: LorentzIndex, queries: Any, k: int = 5, K: float = 0.1, exclude: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stored points whose entailment cone contains each query (Q, n), nearest first: distances (Q, k) float32,
    ids (Q, k) int64 (``inf`` / ``-1`` where fewer qualify). ``exclude``: ids never returned (e.g. the query's own)."""
    return _cone_search(index, queries, k, K, "general", exclude)


def more_specific(
    index: LorentzIndex, queries: Any, k: int = 5, K: float = 0.1, exclude: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stored points inside each query's entailment cone, nearest first; shapes as :func:`more_general`."""
    return _cone_search(index, queries, k, K, "specific", exclude)
