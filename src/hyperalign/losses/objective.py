"""Training objectives as configurations: ``loss.method`` picks one, :func:`build_loss` builds it.

* ``h2arn`` — H2ARN's dual geometric loss (Sec. "Dual geometric loss", :class:`DualGeometricLoss`):
  ``contrastive_loss`` (multi-positive symmetric InfoNCE on ``-d / tau``, :mod:`.contrastive`, ``tau = 0.07``) and
  ``ordering_loss`` (a caption's entailment cone must contain its point clouds, :mod:`.entailment`, ``K = 0.1``).
* ``meru`` — MERU (Desai et al., ICML 2023, Eqs. 9-10) is the same two terms with ``pairing: paired`` (cross-entropy
  with labels ``arange(B)``, cones over each drawn pair) and a learnable logit scale ``s = 1/tau`` (init 1/0.07,
  capped at 100: ``learn_temperature``, ``temperature_min: 0.01``); its embedding and optimiser settings are in
  the ``meru`` preset. Built as :class:`DualGeometricLoss`; MERU's ``L_ent`` is the term named ``ordering_loss``.
* ``argent`` — ARGENT's adaptive entailment loss and norm regulariser (:mod:`.argent`, a documented reconstruction).
* ``hetero`` — alignment across trees on heterogeneous manifolds (:mod:`.hetero`); needs ``model.space.kind:
  hetero``.

Every objective returns its terms unweighted, by name; the training loop weights and sums them with
:meth:`LossConfig.weights` (``L = L_con + lambda L_ord`` for H2ARN, ``lambda = 0.2``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
import torch
from torch import Tensor, nn

from hyperalign.losses.argent import ArgentLoss
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.entailment import ordering_loss
from hyperalign.losses.hetero import HeteroLoss
from hyperalign.losses.hierarchy import HierarchyLossConfig, hierarchy_terms
from hyperalign.losses.pairing import Pairing, training_positives
from hyperalign.model.scalars import BoundedLogScalar

Method = Literal["h2arn", "meru", "argent", "hetero"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArgentLossConfig(_Strict):
    """ARGENT-only settings (read when ``loss.method`` is ``argent``)."""

    norm_weight: float = Field(0.2, ge=0, description="weight of the norm regulariser L_norm")
    weight_function: Literal["one_minus_exp_distance"] = Field(
        "one_minus_exp_distance", description="adaptive weight h of L_AdaEnt (see hyperalign.losses.argent)"
    )


class HeteroLossConfig(_Strict):
    """Alignment-across-trees-only settings (read when ``loss.method`` is ``hetero``)."""

    intra_weight: float = Field(0.5, ge=0, description="weight of the intra-modal entailment loss")
    cross_weight: float = Field(0.5, ge=0, description="weight of the cross-modal entailment loss")


class LossConfig(_Strict):
    method: Method = Field("h2arn", description="objective: h2arn, meru, argent or hetero")
    pairing: Pairing = Field("multi", description="positives: multi (every described shape) or paired (CLIP-style)")
    temperature: float = Field(0.07, gt=0, description="InfoNCE temperature tau (1 / logit scale)")
    learn_temperature: bool = False
    temperature_min: float = Field(0.01, gt=0)
    temperature_max: float = Field(1.0, gt=0)
    contrastive_weight: float = Field(1.0, ge=0)
    ordering_weight: float = Field(
        0.2, ge=0, description="lambda of the cone term: H2ARN L_ord, MERU L_ent, ARGENT L_AdaEnt (unused by hetero)"
    )
    aperture_K: float = Field(0.1, gt=0, description="K in aper(x) = asin(2K / (sqrt(c) ||x~||))")
    argent: ArgentLossConfig = ArgentLossConfig()
    hetero: HeteroLossConfig = HeteroLossConfig()
    hierarchy: HierarchyLossConfig = Field(
        HierarchyLossConfig(), description="terms over each item's caption chain (h2arn and meru; losses/hierarchy.py)")

    @model_validator(mode="after")
    def _checks(self) -> LossConfig:
        if not self.temperature_min <= self.temperature <= self.temperature_max:
            raise ValueError(f"temperature {self.temperature} must lie in [{self.temperature_min}, {self.temperature_max}]")
        for name, default in (("argent", ArgentLossConfig()), ("hetero", HeteroLossConfig())):
            if self.method != name and getattr(self, name) != default:
                raise ValueError(
                    f"loss.{name} is set but only read when loss.method is {name!r} (method is {self.method!r})"
                )
        if self.method not in ("h2arn", "meru") and self.hierarchy != HierarchyLossConfig():
            raise ValueError(f"loss.hierarchy is set but only read when loss.method is 'h2arn' or 'meru' "
                             f"(method is {self.method!r})")
        return self

    def weights(self) -> dict[str, float]:
        """Weight of each named term of this method's objective."""
        terms = {"contrastive_loss": self.contrastive_weight}
        if self.method in ("h2arn", "meru"):
            terms["ordering_loss"] = self.ordering_weight
            terms |= self.hierarchy.weights()
        elif self.method == "argent":
            terms |= {"adaptive_entailment_loss": self.ordering_weight, "norm_loss": self.argent.norm_weight}
        else:
            terms |= {"intra_entailment_loss": self.hetero.intra_weight, "cross_entailment_loss": self.hetero.cross_weight}
        return terms


def check_method_space(method: Method, space_kind: str) -> None:
    """Raise ``ValueError`` naming both fields when ``loss.method`` cannot run in ``model.space.kind``."""
    needs = {"argent": ("lorentz",), "hetero": ("hetero",)}.get(method, ("lorentz", "euclidean"))
    if space_kind not in needs:
        raise ValueError(
            f"loss.method {method!r} needs model.space.kind {' or '.join(map(repr, needs))} (got {space_kind!r})"
        )


class DualGeometricLoss(nn.Module):
    """H2ARN's (and MERU's) named terms from embedded text and points; holds the (optionally learnable) temperature."""

    def __init__(self, cfg: LossConfig, hyperbolic: bool) -> None:
        super().__init__()
        if cfg.ordering_weight > 0 and not hyperbolic:
            raise ValueError("loss.ordering_weight must be 0 in a Euclidean space (entailment cones are hyperbolic)")
        h = cfg.hierarchy
        if not hyperbolic and (h.intra_weight > 0 or h.level_weight > 0 or h.radius_weight > 0):
            raise ValueError("loss.hierarchy weights must be 0 in a Euclidean space (cones and radii are hyperbolic)")
        self.cfg = cfg
        self.hyperbolic = hyperbolic
        # the training loop embeds one caption per tree level (and their positives) only when asked
        self.needs_levels = h.active
        self.needs_level_positives = h.all_levels_contrastive
        self.temperature = BoundedLogScalar(
            cfg.temperature, cfg.temperature_min, cfg.temperature_max, cfg.learn_temperature, name="temperature"
        )

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: nn.Module,
                level_text: Tensor | None = None, level_caption_ids: Tensor | None = None,
                level_positives: Tensor | None = None, **_: Tensor) -> dict[str, Tensor]:
        """``text`` (B, n) and ``points`` (N, n) embedded; ``positives`` (B, N) bool: caption i describes shape j.

        The ordering loss runs over every training positive (``multi``: a caption's cone must contain every shape it
        describes; ``paired``: its own shape). With ``loss.hierarchy`` on, ``level_text`` (N, L, n) holds each
        shape's caption per level (``level_caption_ids`` (N, L), -1 = none) for the chain terms, and
        ``level_positives`` (number of valid level captions, N) their ground truth for the all-levels InfoNCE rows.
        """
        pos = training_positives(positives, self.cfg.pairing)
        rows, row_pos = text, pos
        h = self.cfg.hierarchy
        if h.all_levels_contrastive:
            if level_text is None or level_caption_ids is None or level_positives is None:
                raise ValueError("loss.hierarchy.all_levels_contrastive needs level_text, level_caption_ids and "
                                 "level_positives")
            rows = torch.cat([text, level_text[level_caption_ids >= 0]])
            row_pos = torch.cat([pos, training_positives(level_positives, self.cfg.pairing)])
        terms = {"contrastive_loss": multi_positive_infonce(space.pairwise_distance(rows, points), row_pos,
                                                            self.temperature())}
        if self.hyperbolic and self.cfg.ordering_weight > 0:
            i, j = pos.nonzero(as_tuple=True)
            terms["ordering_loss"] = ordering_loss(text[i], points[j], space.c(), self.cfg.aperture_K)
        if self.hyperbolic and (h.intra_weight > 0 or h.level_weight > 0 or h.radius_weight > 0):
            if level_text is None or level_caption_ids is None:
                raise ValueError("loss.hierarchy terms need level_text and level_caption_ids")
            terms |= hierarchy_terms(level_text, level_caption_ids >= 0, points, space.c(), self.cfg.aperture_K,
                                     h.radius_margin)
        return terms


def build_loss(cfg: LossConfig, space_kind: str) -> nn.Module:
    """The objective of ``cfg.method`` for an embedding space of kind ``space_kind`` (``model.space.kind``)."""
    check_method_space(cfg.method, space_kind)
    if cfg.method == "argent":
        return ArgentLoss(cfg)
    if cfg.method == "hetero":
        return HeteroLoss(cfg)
    return DualGeometricLoss(cfg, hyperbolic=space_kind == "lorentz")
