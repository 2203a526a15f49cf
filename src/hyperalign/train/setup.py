"""The trainable state of a run, built from its config: the model (as inference builds it) and the loss."""

from __future__ import annotations

from torch import Tensor, nn

from hyperalign.config import TrainConfig
from hyperalign.encoders.text import TextTower
from hyperalign.losses.base import Objective
from hyperalign.losses.registry import build_loss
from hyperalign.model.h2arn import H2ARN
from hyperalign.runtime.loading import build_model


class RunModules(nn.Module):
    """The trainable state of a run: the model and the loss (its temperature); saved together, the model's tensors
    under :data:`~hyperalign.checkpoint.MODEL_PREFIX`.

    ``forward`` embeds one batch of caption tokens and point clouds: it is what DistributedDataParallel wraps.
    """

    def __init__(self, model: H2ARN, loss: Objective) -> None:
        super().__init__()
        self.model = model
        self.loss = loss

    def forward(self, tokens: Tensor, mask: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.embed_text_tokens(tokens, mask), self.model.embed_points(points)


def build_modules(cfg: TrainConfig, text_dim: int, text_tower: TextTower | None = None) -> RunModules:
    """Model and loss, initialised from ``cfg.seed``."""
    model = build_model(cfg, text_dim, text_tower)
    return RunModules(model, build_loss(cfg.loss, cfg.model.space.kind))
