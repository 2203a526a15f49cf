"""Embedding spaces: where pooled vectors become points that losses, metrics and indexes compare.

* :class:`LorentzSpace` — ``h = expmap0(alpha * z, c)`` (H2ARN Sec. "Lorentz embedding", MERU Eq. 5), ``alpha`` per
  modality learned in log space (init ``1/sqrt(d)``), ``c`` shared (:class:`~hyperalign.model.scalars.Curvature`).
  Similarity is ``-d_L``. Runs in float32 with autocast off, whatever the towers ran in.
* :class:`HeteroLorentzSpace` — heterogeneous curvatures (Wu et al., "Modality Alignment across Trees on
  Heterogeneous Hyperbolic Manifolds"): text on ``-c_t``, point clouds on ``-c_p``, compared on an intermediate
  manifold ``-c3*`` (:mod:`hyperalign.geometry.curvature`).
* :class:`EuclideanSpace` — the ablations' Euclidean twin: ``h = z / ||z||``, similarity is the cosine.
"""

from __future__ import annotations

import abc
import math

import torch
from torch import Tensor, nn

from hyperalign.geometry import curvature as curv
from hyperalign.geometry import lorentz
from hyperalign.model.scalars import BoundedLogScalar, Curvature
from hyperalign.model.space_kind import SpaceKind


def _float32_island(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _alphas(dim: int, alpha_init: float | None, alpha_max: float, modalities: tuple[str, ...]) -> nn.ModuleDict:
    """One bounded scale per modality, init ``alpha_init`` (default ``1/sqrt(dim)``), learned in log space."""
    a0 = alpha_init if alpha_init is not None else 1.0 / math.sqrt(dim)
    return nn.ModuleDict({m: BoundedLogScalar(a0, min(a0, 1e-4), max(alpha_max, a0), name=f"alpha_{m}") for m in modalities})


def _alpha_scalars(space: LorentzChart) -> dict[str, Tensor]:
    return {f"alpha_{m}": a() for m, a in space.alpha.items()}


class LorentzChart(nn.Module, abc.ABC):
    """What every Lorentz space does with its scales ``alpha`` and curvature ``c()``: embed, compare."""

    alpha: nn.ModuleDict

    @abc.abstractmethod
    def c(self) -> Tensor:
        """The curvature magnitude of the manifold the points live on (the space has curvature ``-c``)."""

    def tangent(self, z: Tensor, modality: str) -> Tensor:
        """Scaled tangent vector ``alpha_m * z`` at the origin (float32)."""
        return self.alpha[modality]() * _float32_island(z)

    def forward(self, z: Tensor, modality: str) -> Tensor:
        """Space parts of the Lorentz points ``expmap0(alpha_m z, c())``; (B, d) -> (B, d), float32."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            return lorentz.expmap0(self.tangent(z, modality), self.c())

    def pairwise_distance(self, x: Tensor, y: Tensor) -> Tensor:
        """Geodesic distances (B, N) between embedded points; ranking metric and logits basis."""
        return lorentz.pairwise_dist(x, y, self.c())


class LorentzSpace(LorentzChart):
    """Lorentz embedding for two modalities with a shared curvature and one scale per modality."""

    kind: SpaceKind = "lorentz"

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
        self.alpha = _alphas(dim, alpha_init, alpha_max, modalities)

    def c(self) -> Tensor:
        return self.curvature()

    def scalars(self) -> dict[str, Tensor]:
        """Logged scalars: the curvature and the scales."""
        return {"curvature": self.c(), **_alpha_scalars(self)}


class HeteroLorentzSpace(LorentzChart):
    """Two learnable curvatures, ``c_t`` (text) and ``c_p`` (points), and the intermediate manifold between them.

    Representation: both modalities' points are stored in one chart, the Lorentz model of the *chart curvature*
    ``c()`` (a buffer saved with the weights: the intermediate curvature ``c3*`` of the last training batch, which
    the training loop applies with :meth:`set_chart_curvature`; initially ``curvature_init``): ``forward`` returns ``expmap0(alpha_m z, c())``. A point's tangent vector at the
    origin, ``v = logmap0(x, c())``, is the same on every manifold, so the text manifold (``expmap0(v, c_t)``), the
    point manifold (``expmap0(v, c_p)``) and a batch's intermediate manifold (``expmap0(v, c3*)``) are each one exact
    :func:`~hyperalign.geometry.curvature.transfer` away; the hetero losses work there. Because every point is in
    one chart, ``pairwise_distance`` is symmetric and modality-agnostic (retrieval ranks both directions with it, on
    the intermediate manifold, as the paper aligns the modalities there), and indexes, plots and hierarchy metrics
    use ``c()`` as for :class:`LorentzSpace`.

    Curvatures are learned in log space, bounded to ``[curvature_min, curvature_max]`` (the paper:
    ``[c_init / 10, 10 c_init]``); their gradients come only through the losses (:meth:`intermediate` and the
    intra-modal terms).
    """

    kind: SpaceKind = "hetero"

    def __init__(
        self,
        dim: int,
        curvature_init: float = 1.0,
        curvature_bounds: tuple[float, float] = (0.1, 10.0),
        learn_curvature: bool = True,
        alpha_init: float | None = None,
        alpha_max: float = 1.0,
        search_tol: float = 1e-6,
        search_max_iter: int = 100,
    ) -> None:
        super().__init__()
        modalities = ("text", "points")
        self.curvatures = nn.ModuleDict(
            {m: Curvature(curvature_init, *curvature_bounds, learnable=learn_curvature) for m in modalities}
        )
        self.alpha = _alphas(dim, alpha_init, alpha_max, modalities)
        self.search_tol = search_tol
        self.search_max_iter = search_max_iter
        self.register_buffer("chart_curvature", torch.tensor(float(curvature_init), dtype=torch.float32))

    chart_curvature: Tensor

    def c(self) -> Tensor:
        """The chart curvature (intermediate curvature of the last training batch); no gradient."""
        return self.chart_curvature

    def modality_c(self, modality: str) -> Tensor:
        """The learnable curvature ``c_t`` (``"text"``) or ``c_p`` (``"points"``)."""
        return self.curvatures[modality]()

    def intermediate(self, r_text: Tensor, r_points: Tensor) -> Tensor:
        """The intermediate curvature ``c3*`` of a batch whose tree nodes lie at raw radii ``r_text``, ``r_points``.

        Rescales the radii (:func:`~hyperalign.geometry.curvature.rescale_radii`) and solves for ``c3*`` by
        golden-section search with implicit-function gradients to ``c_t`` and ``c_p``. Pure: the chart is changed
        only by :meth:`set_chart_curvature`.
        """
        c_t, c_p = self.modality_c("text"), self.modality_c("points")
        r_p, r_t = curv.rescale_radii(r_points, r_text, c_p, c_t)
        return curv.intermediate_curvature(c_p, c_t, r_p, r_t, self.search_tol, self.search_max_iter)

    @torch.no_grad()
    def set_chart_curvature(self, c: Tensor) -> None:
        """Make ``c`` (a 0-d curvature, e.g. a training batch's ``c3*``) the chart curvature, in place (the buffer is
        saved with the weights). Call it after the backward pass of any graph that read the old value."""
        self.chart_curvature.copy_(c.detach())

    def scalars(self) -> dict[str, Tensor]:
        """Logged scalars: the chart curvature, ``c_t``, ``c_p`` and the scales."""
        return {"curvature": self.c(), **{f"curvature_{m}": c() for m, c in self.curvatures.items()}, **_alpha_scalars(self)}


class EuclideanSpace(nn.Module):
    """Unit-sphere embedding with cosine similarity (the Eu+MP / Eu+CA ablations)."""

    kind: SpaceKind = "euclidean"

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, z: Tensor, modality: str) -> Tensor:
        return nn.functional.normalize(_float32_island(z), dim=-1)

    def scalars(self) -> dict[str, Tensor]:
        """No learned scalars."""
        return {}

    def pairwise_distance(self, x: Tensor, y: Tensor) -> Tensor:
        """Cosine distance ``1 - cos`` (B, N): same ranking as the cosine similarity."""
        return 1.0 - x @ y.transpose(-1, -2)


EmbeddingSpace = LorentzChart | EuclideanSpace
"""Any embedding space: a Lorentz chart (one or heterogeneous curvatures) or the Euclidean twin."""
