"""H2ARN's dual geometric loss as named terms (H2ARN Sec. "Dual geometric loss"):

* ``contrastive_loss`` — multi-positive symmetric InfoNCE on ``-d / tau`` (:mod:`.contrastive`), ``tau = 0.07``;
* ``ordering_loss`` — the text's entailment cone must contain its own point cloud (:mod:`.entailment`), ``K = 0.1``.

The training loop weights and sums the terms (``L = L_con + lambda L_ord``, ``lambda = 0.2``); the terms are
returned unweighted so they can be logged as they are.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import Tensor, nn

from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.entailment import ordering_loss
from hyperalign.model.scalars import BoundedLogScalar


class LossConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.07, gt=0, description="InfoNCE temperature tau")
    learn_temperature: bool = False
    temperature_min: float = Field(0.01, gt=0)
    temperature_max: float = Field(1.0, gt=0)
    contrastive_weight: float = Field(1.0, ge=0)
    ordering_weight: float = Field(0.2, ge=0, description="lambda for the entailment-cone ordering loss")
    aperture_K: float = Field(0.1, gt=0, description="K in aper(x) = asin(2K / (sqrt(c) ||x~||))")

    @model_validator(mode="after")
    def _bounds(self) -> LossConfig:
        if not self.temperature_min <= self.temperature <= self.temperature_max:
            raise ValueError(f"temperature {self.temperature} must lie in [{self.temperature_min}, {self.temperature_max}]")
        return self

    def weights(self) -> dict[str, float]:
        return {"contrastive_loss": self.contrastive_weight, "ordering_loss": self.ordering_weight}


class DualGeometricLoss(nn.Module):
    """Computes the named loss terms from embedded text and points; holds the (optionally learnable) temperature."""

    def __init__(self, cfg: LossConfig, hyperbolic: bool) -> None:
        super().__init__()
        if cfg.ordering_weight > 0 and not hyperbolic:
            raise ValueError("loss.ordering_weight must be 0 in a Euclidean space (entailment cones are hyperbolic)")
        self.cfg = cfg
        self.hyperbolic = hyperbolic
        self.temperature = BoundedLogScalar(
            cfg.temperature, cfg.temperature_min, cfg.temperature_max, cfg.learn_temperature, name="temperature"
        )

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: nn.Module) -> dict[str, Tensor]:
        """``text`` (B, n) and ``points`` (N, n) embedded; ``positives`` (B, N) bool: caption i describes shape j.

        The ordering loss runs over every positive pair (a caption's cone must contain every shape it describes).
        """
        terms = {"contrastive_loss": multi_positive_infonce(space.pairwise_distance(text, points), positives, self.temperature())}
        if self.hyperbolic and self.cfg.ordering_weight > 0:
            i, j = positives.nonzero(as_tuple=True)
            terms["ordering_loss"] = ordering_loss(text[i], points[j], space.c(), self.cfg.aperture_K)
        return terms
