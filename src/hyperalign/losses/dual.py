"""H2ARN's dual geometric loss (Sec. "Dual geometric loss"), also MERU's objective (Desai et al., ICML 2023, Eqs. 9-10).

Terms: ``contrastive_loss`` (multi-positive symmetric InfoNCE on ``-d / tau``, :mod:`.contrastive`, ``tau = 0.07``)
and ``ordering_loss`` (a caption's entailment cone must contain its point clouds, :mod:`.entailment`, ``K = 0.1``),
weighted ``L = L_con + lambda L_ord`` (``lambda = 0.2``). MERU is the same two terms with ``pairing: paired``
(cross-entropy with labels ``arange(B)``, cones over each drawn pair) and a learnable logit scale ``s = 1/tau`` (init
1/0.07, capped at 100: ``learn_temperature``, ``temperature_min: 0.01``); MERU's ``L_ent`` is ``ordering_loss``.
In a Euclidean space (the ablations) only the contrastive term exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from hyperalign.losses.base import LossOutput, Objective
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.entailment import ordering_loss
from hyperalign.losses.pairing import training_positives
from hyperalign.model.embed import EmbeddingSpace, LorentzChart

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig


class DualGeometricLoss(Objective):
    """H2ARN's (and MERU's) named terms from embedded text and points."""

    def __init__(self, cfg: LossConfig, hyperbolic: bool) -> None:
        super().__init__(cfg)
        self.hyperbolic = hyperbolic

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: EmbeddingSpace) -> LossOutput:
        """``text`` (B, n) and ``points`` (N, n) embedded; ``positives`` (B, N) bool: caption i describes shape j.

        The ordering loss runs over every training positive (``multi``: a caption's cone must contain every shape it
        describes; ``paired``: its own shape).
        """
        pos = training_positives(positives, self.cfg.pairing)
        terms = {"contrastive_loss": multi_positive_infonce(space.pairwise_distance(text, points), pos, self.temperature())}
        if self.hyperbolic and self.cfg.ordering_weight > 0:
            if not isinstance(space, LorentzChart):
                raise TypeError(f"entailment cones need a Lorentz space, got {type(space).__name__}")
            i, j = pos.nonzero(as_tuple=True)
            terms["ordering_loss"] = ordering_loss(text[i], points[j], space.c(), self.cfg.aperture_K)
        return LossOutput(terms)
