"""ARGENT's adaptive entailment loss and norm regulariser — a documented reconstruction.

ARGENT's paper states that its adaptive entailment loss minimises the exterior angle directly (no aperture term),
with an adaptive weight that keeps near-identical pairs from being pushed apart, and that a norm regulariser keeps
parents outside the region ``||y~|| <= 2K / sqrt(c)`` where the cone loss collapses (there the half-aperture is
clamped at pi/2 and its gradient vanishes). Its equations are not published in full; this module implements the
reconstruction below, and keeps the weight as a named, swappable function (:data:`WEIGHT_FUNCTIONS`) so the paper's
exact form can drop in:

* ``L_AdaEnt = mean_{(x, y)} h(x, y) ext(x, y)`` over (parent, child) pairs, ``h = 1 - exp(-d_L(x, y))`` — ``h -> 0``
  for near-identical pairs, where ``ext`` is ill-conditioned and minimising it would push the child outwards;
  ``h -> 1`` for distant pairs. ``h`` is part of the loss (not detached), as the formula is written.
* ``L_norm = mean_{parents y} ReLU(2K / sqrt(c) - ||y~||)``, ``K = 0.1``.

``ext`` and ``d_L`` come from :mod:`hyperalign.geometry.lorentz` (MERU Eq. 8, Eq. 4).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from hyperalign.geometry import lorentz
from hyperalign.losses.base import LossOutput, Objective
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.pairing import training_positives

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig
    from hyperalign.model.embed import LorentzChart

WeightFunction = Callable[[Tensor], Tensor]


def one_minus_exp_distance(distance: Tensor) -> Tensor:
    """``h(d) = 1 - exp(-d)``, written ``-expm1(-d)`` (exact for small ``d``); in [0, 1)."""
    return -torch.expm1(-distance)


WEIGHT_FUNCTIONS: dict[str, WeightFunction] = {"one_minus_exp_distance": one_minus_exp_distance}


class ArgentLossConfig(BaseModel):
    """ARGENT-only settings, the section ``loss.argent`` (read when ``loss.method`` is ``argent``)."""

    model_config = ConfigDict(extra="forbid")

    norm_weight: float = Field(0.2, ge=0, description="weight of the norm regulariser L_norm")
    weight_function: Literal["one_minus_exp_distance"] = Field(
        "one_minus_exp_distance", description="adaptive weight h of L_AdaEnt (see hyperalign.losses.argent)"
    )


def argent_weights(cfg: LossConfig) -> dict[str, float]:
    """Weights of ARGENT's terms: ``loss.contrastive_weight``, ``loss.ordering_weight`` (L_AdaEnt) and
    ``loss.argent.norm_weight``."""
    section: ArgentLossConfig = cfg.section("argent")
    return {"contrastive_loss": cfg.contrastive_weight, "adaptive_entailment_loss": cfg.ordering_weight,
            "norm_loss": section.norm_weight}


def adaptive_entailment_loss(
    parent: Tensor, child: Tensor, c: Tensor | float, weight: WeightFunction = one_minus_exp_distance
) -> Tensor:
    """``mean h(d_L(x, y)) ext(x, y)`` over aligned (parent, child) pairs (B, n), (B, n) -> 0-d tensor."""
    return (weight(lorentz.dist(parent, child, c)) * lorentz.exterior_angle(parent, child, c)).mean()


def norm_regulariser(parents: Tensor, c: Tensor | float, K: float = 0.1) -> Tensor:
    """``mean ReLU(2K / sqrt(c) - ||y~||)`` over parents (P, n) -> 0-d tensor: zero once every parent's space norm
    reaches the radius where its half-aperture drops below pi/2."""
    parents = lorentz.as_float(parents)
    c = lorentz.curvature_tensor(c, parents)
    return torch.relu(2.0 * K / c.sqrt() - parents.norm(dim=-1)).mean()


class ArgentLoss(Objective):
    """Named terms ``contrastive_loss`` (InfoNCE on ``-d_L / tau``), ``adaptive_entailment_loss`` (captions entail
    their positive shapes) and ``norm_loss`` (on the batch's captions, the parents)."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__(cfg)
        self.weight = WEIGHT_FUNCTIONS[cfg.section("argent").weight_function]

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: LorentzChart) -> LossOutput:
        """``text`` (B, n), ``points`` (N, n) embedded; ``positives`` (B, N): caption i describes shape j."""
        pos = training_positives(positives, self.cfg.pairing)
        c = space.c()
        i, j = pos.nonzero(as_tuple=True)
        return LossOutput({
            "contrastive_loss": multi_positive_infonce(space.pairwise_distance(text, points), pos, self.temperature()),
            "adaptive_entailment_loss": adaptive_entailment_loss(text[i], points[j], c, self.weight),
            "norm_loss": norm_regulariser(text, c, self.cfg.aperture_K),
        })
