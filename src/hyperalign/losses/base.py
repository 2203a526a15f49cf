"""What every training objective is: an ``nn.Module`` that maps embedded points to named, unweighted loss terms.

``forward(text, points, positives, space, **inputs) -> LossOutput``: ``text`` (B, n) and ``points`` (N, n) embedded,
``positives`` (B, N) bool (caption ``i`` describes shape ``j``), ``space`` the model's embedding space, ``inputs`` the
extra batch inputs the method declares (:attr:`hyperalign.losses.registry.Method.batch_inputs`). The loop weights
the terms (:meth:`hyperalign.losses.config.LossConfig.weights`) and applies any state the loss hands back
(:attr:`LossOutput.chart_curvature`); the loss itself never writes to the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import Tensor, nn

from hyperalign.model.scalars import BoundedLogScalar

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig


@dataclass
class LossOutput:
    """Named loss terms, unweighted; ``chart_curvature``: a new chart curvature for the space (detached), set by
    objectives that choose the manifold points are compared on (the hetero intermediate curvature ``c3*``)."""

    terms: dict[str, Tensor]
    chart_curvature: Tensor | None = None


class Objective(nn.Module):
    """Base of the training objectives: holds the loss settings and the InfoNCE temperature ``tau`` (bounded, learned
    in log space when ``loss.learn_temperature``)."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.temperature = BoundedLogScalar(
            cfg.temperature, cfg.temperature_min, cfg.temperature_max, cfg.learn_temperature, name="temperature"
        )

    def scalars(self) -> dict[str, Tensor]:
        """The objective's learned scalars, by the name they are logged under."""
        return {"temperature": self.temperature()}
