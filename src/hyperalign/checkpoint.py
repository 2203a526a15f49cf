"""Checkpoints: one directory per save, written atomically, safetensors for tensors and JSON for the rest.

Layout of ``<run>/checkpoints/epoch-0007/``:
``weights.safetensors`` (the model's tensors under ``model.``, the loss's under ``loss.``; inference reads only
``model.``), ``trainer.safetensors`` (optimiser moments, RNG state), ``meta.json`` (epoch, step, metrics, the
resolved config, preprocessing, optimiser and scheduler scalars). A save writes a temporary sibling directory and
renames it into place, so a crash leaves either the previous checkpoint or the complete new one. ``<run>/best`` is
the checkpoint with the best validation metric.

torch is imported by the functions that read or write tensors, so resolving a checkpoint, reading its metadata
and hashing its weights stay torch-free.

Loading checks every tensor name and shape against the model and fails with a message that names the file and the
mismatching keys (:class:`CheckpointError`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from hyperalign import pretrained
from hyperalign.atomic import atomic_directory

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS = "weights.safetensors"
TRAINER = "trainer.safetensors"
META = "meta.json"
MODEL_PREFIX = "model."  # the model's tensors in WEIGHTS; the rest (the loss's temperature) only training reads


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, or does not fit the model; the message names the file."""


def _optimizer_split(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import torch

    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {"param_groups": sd["param_groups"], "state": {}}
    for idx, st in sd["state"].items():
        scalars["state"][str(idx)] = {}
        for key, val in st.items():
            if torch.is_tensor(val):
                tensors[f"optim.{idx}.{key}"] = val.contiguous()
            else:
                scalars["state"][str(idx)][key] = val
    return tensors, scalars


def _optimizer_join(tensors: dict[str, torch.Tensor], scalars: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in scalars["state"].items()}
    for name, val in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": scalars["param_groups"]}


def save_checkpoint(
    directory: Path,
    weights: nn.Module,
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
) -> Path:
    """Write a checkpoint directory atomically (temp dir, then rename) and return its path."""
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    with atomic_directory(directory, lambda p: (p / META).is_file(), what="a checkpoint") as tmp:
        state = {k: v.detach().contiguous() for k, v in weights.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS))
        meta = dict(meta)
        trainer: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
        if optimizer is not None:
            opt_tensors, meta["optimizer"] = _optimizer_split(optimizer)
            trainer.update(opt_tensors)
        if scheduler is not None:
            meta["scheduler"] = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
        save_file(trainer, str(tmp / TRAINER))
        (tmp / META).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    return directory


def weights_sha256(directory: Path) -> str:
    """sha256 of a checkpoint's ``weights.safetensors``: identifies the model (indexes and caches record it)."""
    digest = hashlib.sha256()
    with open(Path(directory) / WEIGHTS, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_meta(directory: Path) -> dict[str, Any]:
    path = Path(directory) / META
    if not path.is_file():
        raise CheckpointError(f"{directory}: not a checkpoint directory (no {META})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint metadata ({e})") from None


def recorded_up_axis(meta: dict[str, Any]) -> str:
    """The vertical axis of the clouds a checkpoint was trained on: recorded in its ``preprocessing``; for checkpoints
    that predate the record, the training dataset's (when it is still there), else y."""
    recorded = meta.get("preprocessing", {}).get("up_axis")
    if recorded is None and meta.get("dataset"):
        try:
            recorded = json.loads((Path(meta["dataset"]) / "index.json").read_text(encoding="utf-8")).get("up_axis", "y")
        except (OSError, ValueError, AttributeError):
            recorded = None
    return recorded if recorded in ("x", "y", "z") else "y"


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({e})") from None


def load_weights(directory: Path, weights: nn.Module, prefix: str = "") -> None:
    """Load ``weights.safetensors`` into ``weights`` with a strict name and shape check. With ``prefix`` (e.g.
    ``"model.point_tower."``) only the tensors under it are read, prefix stripped, into the submodule ``weights``."""
    path = Path(directory) / WEIGHTS
    saved = {k[len(prefix):]: v for k, v in _load_tensors(path).items() if k.startswith(prefix)}
    if prefix and not saved:
        raise CheckpointError(f"{path}: no tensors under {prefix!r}")
    expected = weights.state_dict()
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    wrong = [
        f"{k}: checkpoint {tuple(saved[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(saved) & set(expected))
        if saved[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensors (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append("shape mismatch: " + "; ".join(wrong[:3]))
        raise CheckpointError(f"{path}: checkpoint does not fit this model architecture: " + "; ".join(parts))
    weights.load_state_dict(saved, strict=True)


def load_trainer_state(
    directory: Path, optimizer: torch.optim.Optimizer, scheduler: Any | None = None
) -> dict[str, Any]:
    """Restore optimiser, scheduler and the torch RNG from a checkpoint; returns its meta."""
    import torch

    meta = read_meta(directory)
    tensors = _load_tensors(Path(directory) / TRAINER)
    if "optimizer" not in meta:
        raise CheckpointError(f"{directory}: checkpoint has no optimiser state; it cannot be resumed")
    optimizer.load_state_dict(_optimizer_join(tensors, meta["optimizer"]))
    if scheduler is not None and "scheduler" in meta:
        scheduler.load_state_dict({**scheduler.state_dict(), **meta["scheduler"]})
    torch.set_rng_state(tensors["rng.torch"])
    return meta


class CheckpointManager:
    """Epoch checkpoints under ``<run>/checkpoints`` (the most recent ``keep``) and ``<run>/best``."""

    def __init__(self, run_dir: Path, keep: int = 2) -> None:
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.keep = keep

    def epoch_dirs(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.glob("epoch-*") if (p / META).is_file())

    def latest(self) -> Path | None:
        dirs = self.epoch_dirs()
        return dirs[-1] if dirs else None

    @property
    def best(self) -> Path:
        return self.run_dir / "best"

    def save_epoch(self, epoch: int, weights: nn.Module, meta: dict[str, Any], optimizer, scheduler) -> Path:
        path = save_checkpoint(self.dir / f"epoch-{epoch:04d}", weights, meta, optimizer, scheduler)
        for old in self.epoch_dirs()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    def save_best(self, weights: nn.Module, meta: dict[str, Any]) -> Path:
        return save_checkpoint(self.best, weights, meta)


def resolve_checkpoint(path: Path | str) -> Path:
    """A checkpoint directory from a run directory (its ``best``, else its latest epoch), a checkpoint itself, or the
    name of a shipped pretrained model (:mod:`hyperalign.pretrained`) when no such path exists."""
    path = Path(path)
    if not path.exists() and pretrained.is_name(str(path)):
        try:
            return pretrained.path(str(path))
        except KeyError:
            raise CheckpointError(
                f"{path}: no such run or checkpoint directory, and no pretrained model of that name; shipped "
                f"models: {', '.join(pretrained.names()) or '(none)'} (`hyperalign pretrained` lists them)"
            ) from None
    if (path / META).is_file():
        return path
    manager = CheckpointManager(path)
    if (manager.best / META).is_file():
        return manager.best
    latest = manager.latest()
    if latest is not None:
        return latest
    raise CheckpointError(f"{path}: no checkpoint found (expected {META} here, or a run directory with best/ or checkpoints/)")
