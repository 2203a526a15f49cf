"""Hierarchy terms over each item's caption chain (one caption per tree level, coarse to fine, then the shape).

For item ``i`` the chain is ``x_i1, ..., x_iL, p_i``: its caption at every level of the tree (missing levels are
skipped) followed by its shape. Every ordered pair ``(a, b)``, ``a`` coarser than ``b``, of a chain is a
generic -> specific pair:

* ``intra_entailment_loss`` — both captions: the generic caption's entailment cone contains the specific one
  (intra-modal entailment: HyCoCLIP's hierarchical compositional entailment, ARGENT's intra-modal pairs,
  HypModalAlign's intra-modal term), mean of ``max(0, ext(x_a, x_b) - aper(x_a))``;
* ``level_entailment_loss`` — caption and shape: every level's caption contains the shape (the dual loss's
  ordering term over the whole chain, not only over the drawn caption);
* ``radius_order_loss`` — ``max(0, d(o, x_a) + m - d(o, x_b))`` over all pairs, shapes included: a parent sits
  nearer the origin than its children by a margin ``m`` (a hinge form of ARGENT's norm regulariser, which only
  pulls text towards the origin).

One term is not a chain pair and holds in either space:

* ``direction_loss`` — ``1 - cos(angle x_il o p_i)`` over every valid level caption of an item and its shape
  (:func:`hyperalign.geometry.lorentz.cos_origin_angle`): the shape lands on the directions of its own captions.
  With a frozen sentence space on the text side this is the regression target of OpenShape / ULIP (the 3D encoder
  regresses onto the text embedding) and keeps shapes where free text lands; a shape on its caption's ray, farther
  out, is also inside that caption's cone (exterior angle 0).

The objective ``hierarchy`` (:class:`HierarchicalDualLoss`, settings ``loss.hierarchy``) is H2ARN's dual loss plus
these terms, and optionally InfoNCE rows for every level's caption of the batch (``all_levels_contrastive``).

Each term is a mean over the valid pairs of the batch (0 when there are none), so a batch in which every pair
satisfies its constraint gives exactly 0. Entailment formulas come from :mod:`hyperalign.losses.entailment` and
:mod:`hyperalign.geometry.lorentz`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from hyperalign.geometry import lorentz
from hyperalign.losses.base import LossOutput
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.losses.entailment import cone_violation
from hyperalign.losses.pairing import training_positives
from hyperalign.model.embed import EmbeddingSpace, LorentzChart

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig


class HierarchyLossConfig(BaseModel):
    """Weights of the chain terms (config section ``loss.hierarchy``; all 0 = off) and whether the contrastive term
    also ranks every level's caption of the batch (``all_levels_contrastive``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    intra_weight: float = Field(0.0, ge=0, description="weight of intra_entailment_loss (caption cones hold finer captions)")
    level_weight: float = Field(0.0, ge=0, description="weight of level_entailment_loss (every level's cone holds the shape)")
    radius_weight: float = Field(0.0, ge=0, description="weight of radius_order_loss (coarser nearer the origin)")
    radius_margin: float = Field(0.2, ge=0, description="margin m of radius_order_loss, in units of d(o, x)")
    direction_weight: float = Field(0.0, ge=0, description="weight of direction_loss (shapes on their captions' "
                                    "directions from the origin; any space)")
    all_levels_contrastive: bool = Field(False, description="add every level's caption of the batch as InfoNCE rows")

    @property
    def has_chain_terms(self) -> bool:
        return self.intra_weight > 0 or self.level_weight > 0 or self.radius_weight > 0

    def weights(self) -> dict[str, float]:
        return {"intra_entailment_loss": self.intra_weight, "level_entailment_loss": self.level_weight,
                "radius_order_loss": self.radius_weight, "direction_loss": self.direction_weight}


def hierarchy_weights(cfg: LossConfig) -> dict[str, float]:
    """The dual loss's weights and the chain terms' (``loss.hierarchy``)."""
    return {"contrastive_loss": cfg.contrastive_weight, "ordering_loss": cfg.ordering_weight,
            **cfg.section("hierarchy").weights()}


def _chain_pairs(valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(B, M) valid -> indices ``(item, a, b)`` of every pair ``a < b`` of valid chain positions."""
    m = valid.shape[1]
    upper = torch.ones(m, m, dtype=torch.bool, device=valid.device).triu(1)
    item, a, b = (upper & valid[:, :, None] & valid[:, None, :]).nonzero(as_tuple=True)
    return item, a, b


def _mean(values: Tensor) -> Tensor:
    """Mean, or an exact 0 (still attached to the graph) when there is nothing to average."""
    return values.mean() if values.numel() else values.sum()


def hierarchy_terms(level_text: Tensor, level_valid: Tensor, points: Tensor, c: Tensor | float,
                    K: float = 0.1, margin: float = 0.2) -> dict[str, Tensor]:
    """The three chain terms.

    ``level_text`` (B, L, n): each item's caption per level, coarse to fine (Lorentz space parts; rows where
    ``level_valid`` (B, L) is false are ignored); ``points`` (B, n): the items' shapes; ``c`` the curvature.
    Only valid pairs are evaluated, so ignored rows cannot reach the gradient.
    """
    if level_text.shape[:2] != level_valid.shape or level_text.shape[0] != points.shape[0]:
        raise ValueError(f"level_text {tuple(level_text.shape)}, level_valid {tuple(level_valid.shape)} and points "
                         f"{tuple(points.shape)} must agree on batch and levels")
    b, n_levels = level_valid.shape
    chain = torch.cat([level_text.float(), points.float()[:, None]], dim=1)  # (B, L+1, n)
    valid = torch.cat([level_valid.bool(), level_valid.new_ones(b, 1, dtype=torch.bool)], dim=1)
    item, a, child_pos = _chain_pairs(valid)
    parent, child = chain[item, a], chain[item, child_pos]
    violation = cone_violation(parent, child, c, K)
    to_shape = child_pos == n_levels
    order = torch.relu(lorentz.dist0(parent, c) + margin - lorentz.dist0(child, c))
    return {
        "intra_entailment_loss": _mean(violation[~to_shape]),
        "level_entailment_loss": _mean(violation[to_shape]),
        "radius_order_loss": _mean(order),
    }


def direction_loss(level_text: Tensor, level_valid: Tensor, points: Tensor) -> Tensor:
    """``mean(1 - cos(angle x_il o p_i))`` over the valid level captions ``x_il`` (B, L, n) of each item and its
    shape ``p_i`` (B, n); an exact 0 when no caption is valid."""
    if level_text.shape[:2] != level_valid.shape or level_text.shape[0] != points.shape[0]:
        raise ValueError(f"level_text {tuple(level_text.shape)}, level_valid {tuple(level_valid.shape)} and points "
                         f"{tuple(points.shape)} must agree on batch and levels")
    item, level = level_valid.bool().nonzero(as_tuple=True)
    return _mean(1.0 - lorentz.cos_origin_angle(level_text[item, level], points[item]))


class HierarchicalDualLoss(DualGeometricLoss):
    """The dual loss (contrastive + ordering over the drawn captions) plus the chain terms over each item's captions
    of every level (``loss.hierarchy``)."""

    def __init__(self, cfg: LossConfig, hyperbolic: bool) -> None:
        super().__init__(cfg, hyperbolic)
        self.hierarchy: HierarchyLossConfig = cfg.section("hierarchy")
        if not hyperbolic and self.hierarchy.has_chain_terms:
            raise ValueError("loss.hierarchy: intra_weight, level_weight and radius_weight must be 0 in a Euclidean "
                             "space (cones and radii are hyperbolic)")

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: EmbeddingSpace,
                level_text: Tensor | None = None, level_caption_ids: Tensor | None = None,
                level_positives: Tensor | None = None, **_: Tensor) -> LossOutput:
        """As :meth:`DualGeometricLoss.forward`; ``level_text`` (N, L, n) holds each shape's caption per level
        (``level_caption_ids`` (N, L), -1 = none), ``level_positives`` (valid level captions in row-major order, N)
        their ground truth for the all-levels InfoNCE rows."""
        if level_text is None or level_caption_ids is None or level_positives is None:
            raise ValueError("loss.method 'hierarchy' needs level_text, level_caption_ids and level_positives")
        h = self.hierarchy
        if not h.all_levels_contrastive:
            terms = super().forward(text, points, positives, space).terms
        else:
            pos = training_positives(positives, self.cfg.pairing)
            rows = torch.cat([text, level_text[level_caption_ids >= 0]])
            row_pos = torch.cat([pos, training_positives(level_positives, self.cfg.pairing)])
            terms = super().forward(text, points, positives, space).terms
            terms["contrastive_loss"] = multi_positive_infonce(space.pairwise_distance(rows, points), row_pos,
                                                               self.temperature())
        if h.direction_weight > 0:
            terms["direction_loss"] = direction_loss(level_text, level_caption_ids >= 0, points)
        if self.hyperbolic and h.has_chain_terms:
            if not isinstance(space, LorentzChart):
                raise TypeError(f"entailment cones need a Lorentz space, got {type(space).__name__}")
            terms |= hierarchy_terms(level_text, level_caption_ids >= 0, points, space.c(), self.cfg.aperture_K,
                                     h.radius_margin)
        return LossOutput(terms)
