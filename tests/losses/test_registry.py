"""The method registry: a new objective is one class and one registry entry; the real training loop runs it."""

import math

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file
from torch import Tensor, nn

from hyperalign.config import ConfigError, load_config
from hyperalign.losses import registry
from hyperalign.losses.base import LossOutput, Objective
from hyperalign.losses.config import LossConfig
from hyperalign.losses.pairing import training_positives
from hyperalign.model.scalars import BoundedLogScalar
from hyperalign.train.loop import train


class MarginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    margin: float = Field(0.5, ge=0)


class MarginLoss(Objective):
    """Toy objective: hinge on (positive distance - negative distance + margin), with a learned scale."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__(cfg)
        self.margin = cfg.section("margin").margin
        self.scale = BoundedLogScalar(1.0, 0.1, 10.0, name="margin_scale")

    def scalars(self) -> dict[str, Tensor]:
        return {**super().scalars(), "margin_scale": self.scale()}

    def forward(self, text: Tensor, points: Tensor, positives: Tensor, space: nn.Module) -> LossOutput:
        pos = training_positives(positives, self.cfg.pairing)
        d = self.scale() * space.pairwise_distance(text, points)
        gap = d[pos].mean() - d[~pos].mean()
        return LossOutput({"margin_loss": torch.relu(gap + self.margin)})


TOY = registry.Method(
    "margin", lambda cfg, kind: MarginLoss(cfg), lambda cfg: {"margin_loss": 1.0},
    spaces=("lorentz",), section=MarginSettings,
)


@pytest.fixture
def toy_method():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.name)


def test_a_registered_objective_trains_one_epoch(toy_method, tiny_demo, tiny_overrides, tmp_path):
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1) + ["loss.method=margin", "loss.margin.margin=0.3"]
    cfg = load_config("h2arn-cpu", overrides)
    assert cfg.loss.section("margin").margin == 0.3 and cfg.loss.weights() == {"margin_loss": 1.0}
    result = train(cfg, tmp_path / "run", progress=False)
    (record,) = result.history
    assert math.isfinite(record["margin_loss"]) and record["loss"] == pytest.approx(record["margin_loss"])
    assert "contrastive_loss" not in record and record["margin_scale"] != 1.0  # the scale was trained and logged
    assert result.best_checkpoint.is_dir()
    assert "loss.scale.log_value" in load_file(result.best_checkpoint / "weights.safetensors")


def test_registered_objective_checks_its_section_and_spaces(toy_method):
    with pytest.raises(ConfigError, match=r"loss\.margin\.margin"):
        load_config("h2arn-cpu", ["loss.method=margin", "loss.margin.margin=-1"])
    with pytest.raises(ConfigError, match=r"loss\.method 'margin' needs model\.space\.kind 'lorentz'"):
        load_config("h2arn-cpu", ["loss.method=margin", "model.space.kind=euclidean", "loss.ordering_weight=0"])
    with pytest.raises(ConfigError, match=r"loss\.margin is set but only read when loss\.method is 'margin'"):
        load_config("h2arn-cpu", ["loss.margin.margin=0.1"])
    with pytest.raises(ValueError, match="already registered"):
        registry.register(TOY)


def test_unregistered_method_and_section_are_config_errors():
    with pytest.raises(ConfigError, match=r"loss\.method 'margin' is not a registered method"):
        load_config("h2arn-cpu", ["loss.method=margin"])
    with pytest.raises(ConfigError, match="unknown field"):
        load_config("h2arn-cpu", ["loss.margin.margin=0.1"])
