"""Embedding spaces: where pooled vectors become points that losses, metrics and indexes compare.

* :class:`LorentzSpace` — ``h = expmap0(alpha * z, c)`` (H2ARN Sec. "Lorentz embedding", MERU Eq. 5), ``alpha`` per
  modality learned in log space (init ``1/sqrt(d)``), ``c`` shared (:class:`~hyperalign.model.scalars.Curvature`).
  Similarity is ``-d_L``. Runs in float32 with autocast off, whatever the towers ran in.
* :class:`EuclideanSpace` — the ablations' Euclidean twin: ``h = z / ||z||``, similarity is the cosine.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from hyperalign.geometry import lorentz
from hyperalign.model.scalars import BoundedLogScalar, Curvature


def _float32_island(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class LorentzSpace(nn.Module):
    """Lorentz embedding for two modalities with a shared curvature and one scale per modality."""

    kind: Literal["lorentz"] = "lorentz"

    def __init__(
        self,
        dim: int,
        curvature_init: float = 1.0,
        curvature_bounds: tuple[float, float] = (0.1, 10.0),
        learn_curvature: bool = True,
        alpha_init: float | None = None,
        alpha_max: float = 1.0,
        modalities: tuple[str, ...] = ("text", "points"),
    ) -> None:
        super().__init__()
        self.curvature = Curvature(curvature_init, *curvature_bounds, learnable=learn_curvature)
        a0 = alpha_init if alpha_init is not None else 1.0 / math.sqrt(dim)
        low = min(a0, 1e-4)
        self.alpha = nn.ModuleDict(
            {m: BoundedLogScalar(a0, low, max(alpha_max, a0), name=f"alpha_{m}") for m in modalities}
        )

    def c(self) -> Tensor:
        return self.curvature()

    def tangent(self, z: Tensor, modality: str) -> Tensor:
        """Scaled tangent vector ``alpha_m * z`` at the origin (float32)."""
        return self.alpha[modality]() * _float32_island(z)

    def forward(self, z: Tensor, modality: str) -> Tensor:
        """Space parts of the Lorentz points ``expmap0(alpha_m z, c)``; (B, d) -> (B, d), float32."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            return lorentz.expmap0(self.tangent(z, modality), self.c())

    def pairwise_distance(self, x: Tensor, y: Tensor) -> Tensor:
        """Geodesic distances (B, N) between embedded points; ranking metric and logits basis."""
        return lorentz.pairwise_dist(x, y, self.c())


class EuclideanSpace(nn.Module):
    """Unit-sphere embedding with cosine similarity (the Eu+MP / Eu+CA ablations)."""

    kind: Literal["euclidean"] = "euclidean"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, z: Tensor, modality: str) -> Tensor:
        return nn.functional.normalize(_float32_island(z), dim=-1)

    def pairwise_distance(self, x: Tensor, y: Tensor) -> Tensor:
        """Cosine distance ``1 - cos`` (B, N): same ranking as the cosine similarity."""
        return 1.0 - x @ y.transpose(-1, -2)
