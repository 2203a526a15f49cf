"""Alignment across trees on heterogeneous hyperbolic manifolds (Wu et al., arXiv 2510.27391): the losses.

Each modality has a feature tree whose levels run coarse to fine (here the dataset's levels: category -> sub-type ->
instance). In a batch:

* text tree of item ``i``: one caption per level (``level_caption_ids``, drawn by
  :class:`~hyperalign.data.pairs.PairDataset`), embedded by the model;
* point tree of item ``i``: at each tree level, the batch mean (in the tangent space at the origin, then ``expmap0``)
  of the shapes sharing item ``i``'s node at that level (``level_node_ids``); at the instance level, the shape itself.
  This is our reading of the paper's "batch-mean tree nodes" for a modality (point clouds) that has no per-level
  features of its own.

Terms (weights in ``loss.hetero``, 0.5 for both entailment terms as in the paper):

* ``contrastive_loss`` — InfoNCE on ``-d / tau`` with distances on the intermediate manifold ``c3*`` of the batch;
* ``intra_entailment_loss`` — in each modality, on that modality's curvature, level ``l`` entails level ``l + 1``;
  mean of ``J_ent`` over all such pairs of both trees;
* ``cross_entailment_loss`` — on ``c3*``, the text node of level ``l`` entails the point node of level ``l``;

with ``J_ent(u, v) = max(0, ext(u, v) - asin(2K / (sqrt(c) ||u~||)))``, ``K = 0.1`` (the cone violation of
:mod:`hyperalign.losses.entailment`). ``c3*`` comes from :meth:`HeteroLorentzSpace.intermediate` with the raw radii
``r`` = norm of the mean tangent vector over all nodes of the modality's batch tree (detached).

Points arrive in the space's chart (:class:`~hyperalign.model.embed.HeteroLorentzSpace`); their tangent vectors
``logmap0(x, c_chart)`` are carried to ``c_t``, ``c_p`` and ``c3*`` with ``expmap0``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from hyperalign.geometry import lorentz
from hyperalign.losses.base import LossOutput, Objective
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.entailment import cone_violation
from hyperalign.losses.pairing import training_positives

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig
    from hyperalign.model.embed import HeteroLorentzSpace


class HeteroLossConfig(BaseModel):
    """Alignment-across-trees-only settings, the section ``loss.hetero`` (read when ``loss.method`` is ``hetero``)."""

    model_config = ConfigDict(extra="forbid")

    intra_weight: float = Field(0.5, ge=0, description="weight of the intra-modal entailment loss")
    cross_weight: float = Field(0.5, ge=0, description="weight of the cross-modal entailment loss")


def hetero_weights(cfg: LossConfig) -> dict[str, float]:
    """Weights of the terms: ``loss.contrastive_weight`` and ``loss.hetero.{intra,cross}_weight``."""
    section: HeteroLossConfig = cfg.section("hetero")
    return {"contrastive_loss": cfg.contrastive_weight, "intra_entailment_loss": section.intra_weight,
            "cross_entailment_loss": section.cross_weight}


def group_mean(v: Tensor, groups: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of the rows of ``v`` (B, n) that share a group id (B,) (``-1``: no group); returns (B, n) and the group
    sizes (B,) (0 where the id is -1, whose mean row is 0)."""
    valid = groups >= 0
    same = (groups[:, None] == groups[None, :]) & valid[:, None] & valid[None, :]
    sizes = same.sum(dim=1)
    return (same.to(v.dtype) @ v) / sizes.clamp_min(1).unsqueeze(-1).to(v.dtype), sizes


def point_tree(v_points: Tensor, level_nodes: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Tangent vectors of each item's point-tree nodes: (B, n), (B, L) node ids -> nodes (B, L, n), mask (B, L),
    group sizes (B, L). Levels ``0 .. L-2`` are batch means over shared nodes; level ``L-1`` is the shape itself."""
    nodes, sizes = [], []
    for level in range(level_nodes.shape[1] - 1):
        mean, size = group_mean(v_points, level_nodes[:, level])
        nodes.append(mean)
        sizes.append(size)
    nodes.append(v_points)
    sizes.append(torch.ones_like(level_nodes[:, 0]))
    sizes_t = torch.stack(sizes, dim=1)
    return torch.stack(nodes, dim=1), sizes_t > 0, sizes_t


def tree_radius(nodes: Tensor, mask: Tensor) -> Tensor:
    """Norm of the mean tangent vector over the valid nodes of a batch tree, (B, L, n), (B, L) -> 0-d, detached."""
    valid = nodes[mask].detach()
    return valid.mean(dim=0).norm() if valid.numel() else nodes.new_zeros(())


def _mean(x: Tensor) -> Tensor:
    """Mean of a possibly empty 1-D tensor (0 when empty, still in the graph)."""
    return x.sum() / max(1, x.numel())


class HeteroLoss(Objective):
    """The named terms of alignment across trees; its registry entry asks the loop for the ``levels`` batch input
    (each item's level captions and tree nodes). Returns ``c3*`` as the new chart curvature."""

    def forward(
        self,
        text: Tensor,
        points: Tensor,
        positives: Tensor,
        space: HeteroLorentzSpace,
        *,
        level_text: Tensor,
        level_caption_ids: Tensor,
        level_node_ids: Tensor,
    ) -> LossOutput:
        """``text``, ``points`` (B, n) in the space's chart; ``positives`` (B, B); ``level_text`` (B, L, n) the
        embedded level captions (rows where ``level_caption_ids`` is -1 are ignored); ``level_node_ids`` (B, L) the
        items' tree node at each level (-1: none; the last level is the item itself). The output's
        ``chart_curvature`` is this batch's ``c3*``, detached."""
        if level_text.shape[:2] != level_caption_ids.shape or level_caption_ids.shape != level_node_ids.shape:
            raise ValueError(
                f"level inputs disagree: level_text {tuple(level_text.shape)}, level_caption_ids "
                f"{tuple(level_caption_ids.shape)}, level_node_ids {tuple(level_node_ids.shape)}"
            )
        K = self.cfg.aperture_K
        chart = space.c()
        c_t, c_p = space.modality_c("text"), space.modality_c("points")
        v_text, v_points, v_levels = (lorentz.logmap0(x, chart) for x in (text, points, level_text))
        t_mask = level_caption_ids >= 0
        p_nodes, p_mask, p_sizes = point_tree(v_points, level_node_ids)
        c3 = space.intermediate(tree_radius(v_levels, t_mask), tree_radius(p_nodes, p_mask))

        pos = training_positives(positives, self.cfg.pairing)
        distance = lorentz.pairwise_dist(lorentz.expmap0(v_text, c3), lorentz.expmap0(v_points, c3), c3)

        text_tree = lorentz.expmap0(v_levels, c_t)
        point_tree_c = lorentz.expmap0(p_nodes, c_p)
        text_pairs = t_mask[:, :-1] & t_mask[:, 1:]
        # a point node equal to its child (a group with a single member in the batch) has no defined angle: skip it
        point_pairs = p_mask[:, :-1] & p_mask[:, 1:] & (p_sizes[:, :-1] > p_sizes[:, 1:])
        intra = torch.cat([
            cone_violation(text_tree[:, :-1], text_tree[:, 1:], c_t, K)[text_pairs],
            cone_violation(point_tree_c[:, :-1], point_tree_c[:, 1:], c_p, K)[point_pairs],
        ])
        cross = cone_violation(lorentz.expmap0(v_levels, c3), lorentz.expmap0(p_nodes, c3), c3, K)[t_mask & p_mask]
        terms = {
            "contrastive_loss": multi_positive_infonce(distance, pos, self.temperature()),
            "intra_entailment_loss": _mean(intra),
            "cross_entailment_loss": _mean(cross),
        }
        return LossOutput(terms, chart_curvature=c3.detach().clone())
