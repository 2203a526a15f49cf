"""Configs and runs a careless command line produces. Probe cases covered here:

- ``optim.lr: .inf`` passed validation (every float field now refuses inf and nan at load);
- ``--set optim.lr=abc`` was reported against the preset file instead of the command-line override;
- ``train --config h2arn --run-dir <an h2arn-cpu run>`` overwrote the run's ``config.yaml`` before failing;
- a ``NonFiniteLossError`` ended ``train`` with a traceback (rc 1) and left a run folder with an empty
  ``metrics.jsonl``.
"""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.config import ConfigError, TrainConfig, load_config


def _float_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, typing.Any]]:
    """Dotted paths and annotations of every field holding floats, recursively through sub-sections."""
    found = []
    for name, info in model.model_fields.items():
        path, ann = f"{prefix}{name}", info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            found += _float_fields(ann, f"{path}.")
            continue
        args = set(typing.get_args(ann)) | {a for arg in typing.get_args(ann) for a in typing.get_args(arg)}
        if ann is float or float in args or any(typing.get_args(a) and float in typing.get_args(a) for a in args):
            found.append((path, ann))
    return found


def _non_finite_value(ann: typing.Any, bad: str) -> str:
    origin = typing.get_origin(ann)
    if origin is tuple:
        return f"[{bad}, 1.0]"
    if origin is dict:
        return f"{{instance: {bad}}}"
    return bad


def _all_float_fields() -> list[tuple[str, typing.Any]]:
    """The float fields of TrainConfig and of every method section of the loss registry (``loss.<method>.*``)."""
    from hyperalign.losses import registry

    found = _float_fields(TrainConfig)
    for name, section in registry.sections().items():
        found += _float_fields(section, f"loss.{name}.")
    return found


FLOAT_FIELDS = _all_float_fields()


def test_the_walk_finds_the_float_fields():
    paths = {p for p, _ in FLOAT_FIELDS}
    assert {"optim.lr", "optim.betas", "data.scale_range", "data.level_weights", "loss.temperature",
            "loss.argent.norm_weight", "optim.grad_clip"} <= paths, sorted(paths)  # fmt: skip
    assert len(paths) >= 20


@pytest.mark.parametrize("bad", [".inf", "-.inf", ".nan"])
@pytest.mark.parametrize("path,ann", FLOAT_FIELDS, ids=[p for p, _ in FLOAT_FIELDS])
def test_every_float_field_must_be_finite(path, ann, bad):
    overrides = [f"{path}={_non_finite_value(ann, bad)}"]
    if path.startswith("loss.argent."):
        overrides.append("loss.method=argent")
    elif path.startswith("loss.hetero."):
        overrides.append("loss.method=hetero")
    with pytest.raises(ConfigError, match=rf"{path.replace('.', '[.]')}\S*: .*finite"):
        load_config("h2arn-cpu", overrides)


def test_a_bad_override_is_reported_against_the_command_line():
    result = CliRunner().invoke(app, ["train", "--set", "optim.lr=abc", "--run-dir", "/nonexistent/never"])
    assert result.exit_code == 2
    assert "--set optim.lr=abc" in result.output and "h2arn-cpu.yaml" not in result.output, result.output
    assert "optim.lr: Input should be a valid number" in result.output


def test_an_infinite_learning_rate_is_refused_before_training(tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--set", "optim.lr=.inf", "--run-dir", str(run)])
    assert result.exit_code == 2 and "optim.lr" in result.output and "finite" in result.output
    assert not run.exists()


def test_train_into_a_run_of_another_config_writes_nothing(tiny_demo, tiny_overrides, tmp_path):
    from hyperalign.train.loop import train

    cache = tmp_path / "cache"
    run = tmp_path / "run"
    train(load_config("h2arn-cpu", tiny_overrides(tiny_demo, cache, epochs=1)), run, progress=False)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    args = ["train", "--config", "h2arn", "--run-dir", str(run), "--data", str(tiny_demo), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--set", f"cache_dir={cache}"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before


def test_a_non_finite_loss_is_a_clean_error_and_leaves_no_run(tiny_demo, tiny_overrides, tmp_path):
    run = tmp_path / "run"
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1) + ["loss.contrastive_weight=1e39"]
    args = ["train", "--run-dir", str(run), "--no-progress"] + [a for o in overrides for a in ("--set", o)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "error: non-finite loss" in result.output and "Traceback" not in result.output
    assert not run.exists()
