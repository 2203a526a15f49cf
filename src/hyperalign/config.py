"""Run configurations: YAML presets validated with pydantic, ``base:`` inheritance and dotted ``key=value`` overrides.

Presets live in ``hyperalign/configs/*.yaml`` and are found by stem (:func:`list_presets`). A preset or file may name
``base: <preset or relative path>``; its keys are deep-merged over the base. Every load returns a fresh object, and
every error names the file and the field (``optim.lr: Input should be greater than 0 (got -1)``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hyperalign.losses.config import LossConfig
from hyperalign.losses.registry import check_method_space
from hyperalign.model.h2arn import ModelConfig


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DemoDataConfig(_Strict):
    shapes_per_subtype: int = Field(30, ge=3)
    n_points: int = Field(1024, ge=16)
    seed: int = 0
    colour: bool = True


class DataConfig(_Strict):
    path: str | None = Field(None, description="dataset directory (generic layout); None = the built-in demo data")
    demo: DemoDataConfig = DemoDataConfig()
    points_per_cloud: int = Field(1024, ge=1, description="points fed to the point tower (resampled at load)")
    channels: Literal[3, 6] = 3
    augment: bool = True
    jitter: float = Field(0.01, ge=0)
    scale_range: tuple[float, float] = (0.9, 1.1)
    rotate_up: bool = Field(True, description="random rotation about the dataset's up axis in training (index.json "
                            "`up_axis`, default y); turn it off for catalogues whose models all face the same way")
    level_weights: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="relative odds of drawing each caption level for a training pair "
        "(levels not named weigh 1; empty = uniform over the item's levels)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes for point sampling and augmentation")


class OptimConfig(_Strict):
    lr: float = Field(2e-3, gt=0)
    betas: tuple[float, float] = (0.91, 0.9993)
    weight_decay: float = Field(0.05, ge=0)
    warmup_frac: float = Field(0.1, ge=0, le=1)
    schedule: Literal["linear", "cosine"] = Field(
        "linear", description="decay after the warm-up, to 0 at the last step: linear (H2ARN) or cosine")
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(256, ge=2)
    grad_clip: float | None = Field(1.0, gt=0)
    precision: Literal["fp32", "bf16"] = Field(
        "fp32", description="bf16 = bfloat16 autocast for towers and context encoders; hyperbolic ops stay float32"
    )


class EvalConfig(_Strict):
    chunk_size: int = Field(1024, ge=1)
    every: int = Field(1, ge=1, description="validate every N epochs (and after the last)")
    select_metric: str = Field("rsum", description="validation metric that picks the best checkpoint (higher is better)")
    batch_size: int = Field(128, ge=1)


class TrainConfig(_Strict):
    name: str = "run"
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    eval: EvalConfig = EvalConfig()
    cache_dir: str = Field("~/.cache/hyperalign", description="where frozen text-tower features are cached")
    keep_checkpoints: int = Field(2, ge=1, description="most recent epoch checkpoints kept (best is kept apart)")
    init_points_from: str | None = Field(
        None, description="run or checkpoint directory whose point tower initialises this run's (pre-training; "
        "same model.points settings); ignored when the run resumes from its own checkpoint")

    @model_validator(mode="after")
    def _cross_checks(self) -> TrainConfig:
        if self.model.points.in_channels != self.data.channels:
            raise ValueError(
                f"model.points.in_channels ({self.model.points.in_channels}) must equal data.channels ({self.data.channels})"
            )
        check_method_space(self.loss, self.model.space.kind)
        return self


def _presets_dir() -> Path:
    return Path(str(resources.files("hyperalign") / "configs"))


def list_presets() -> list[str]:
    """Names of the shipped presets (file stems of ``hyperalign/configs/*.yaml``)."""
    return sorted(p.stem for p in _presets_dir().glob("*.yaml"))


def _resolve(ref: str | Path, relative_to: Path | None = None) -> Path:
    p = Path(ref).expanduser()
    candidates = [p] if p.is_absolute() else ([relative_to / p] if relative_to else []) + [p]
    for cand in candidates:
        if cand.is_file():
            return cand
    preset = _presets_dir() / f"{ref}.yaml"
    if preset.is_file():
        return preset
    raise ConfigError(f"config {str(ref)!r}: no such file, and not a preset (presets: {', '.join(list_presets())})")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path.resolve() in seen:
        raise ConfigError(f"{path}: circular 'base:' chain {' -> '.join(str(s) for s in seen)}")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    return _deep_merge(_load_raw(_resolve(base, path.parent), (*seen, path.resolve())), data)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (value parsed as YAML) to a raw config mapping."""
    out = _deep_merge({}, raw)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=1e-3")
        key, value = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = yaml.safe_load(value)
    return out


def _format_validation(e: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        got = f" (got {err['input']!r})" if err["type"] != "missing" and not isinstance(err["input"], dict) else ""
        lines.append(f"  {loc}: {err['msg']}{got}")
    return "\n".join(lines)


def validate_config(raw: dict[str, Any], source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, source)) from None


def load_config(ref: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a preset name or YAML file (with its ``base:`` chain) and apply overrides; returns a fresh TrainConfig."""
    path = _resolve(ref)
    raw = apply_overrides(_load_raw(path), overrides or [])
    return validate_config(raw, str(path))


def dump_config(cfg: TrainConfig) -> str:
    """The resolved configuration as YAML (what a run saves beside its checkpoints)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
