"""Entailment-cone losses on Lorentz points (space parts).

Ordering loss (H2ARN Eq. 14, MERU Eq. 10): a text must contain its point cloud in its entailment cone,
``L_ord = mean_{(t, p) positive} max(0, ext(t, p) - aper(t))`` with ``aper(t) = asin(2K / (sqrt(c) ||t~||))``,
``K = 0.1``. Both formulas come from :mod:`hyperalign.geometry.lorentz`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hyperalign.geometry import lorentz


def cone_violation(parent: Tensor, child: Tensor, c: Tensor | float, K: float = 0.1) -> Tensor:
    """Per-pair ``max(0, ext(parent, child) - aper(parent))``; (..., n), (..., n) -> (...)."""
    return torch.relu(lorentz.exterior_angle(parent, child, c) - lorentz.half_aperture(parent, c, K))


def ordering_loss(parent: Tensor, child: Tensor, c: Tensor | float, K: float = 0.1) -> Tensor:
    """Mean cone violation over aligned (parent, child) pairs, (B, n), (B, n) -> 0-d tensor."""
    return cone_violation(parent, child, c, K).mean()
