"""A frozen text tower run by ONNX Runtime: the same token features as :class:`TextTower` without importing
transformers (about half of a cold ``hyperalign search``).

:func:`export_text_onnx` writes the backbone once (``torch.onnx.export``, dynamic batch and length) to
``<cache_dir>/onnx/<model_id>.onnx``; :func:`onnx_text_tower` returns an :class:`OnnxTextTower` when that file and
onnxruntime are there (else None, and the caller builds the transformers tower). Tokenising and running the export
is :class:`~hyperalign.encoders.text_ort.OrtTokenFeatures` (NumPy, no torch); this module adds torch tensors.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from hyperalign.atomic import atomic_path
from hyperalign.encoders.text import TextTower, TextTowerConfig, _model_id, resolve_model_path
from hyperalign.encoders.text_ort import OrtTokenFeatures


def onnx_file(cache_dir: str | Path, model_id: str) -> Path:
    """Where the ONNX export of the backbone ``model_id`` lives under a feature cache directory."""
    return Path(cache_dir).expanduser() / "onnx" / f"{model_id}.onnx"


class OnnxTextTower:
    """``tower(texts) -> (features (B, L, dim) float32, mask (B, L) bool)`` by ONNX Runtime; inference only."""

    def __init__(self, cfg: TextTowerConfig, model_dir: Path, path: Path, model_id: str) -> None:
        self.features = OrtTokenFeatures(model_dir / "tokenizer.json", path, cfg.max_tokens)
        self.cfg = cfg
        self.dim = int(json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["hidden_size"])
        self.model_id = model_id

    def __call__(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        features, mask = self.features(texts)
        return torch.from_numpy(features), torch.from_numpy(mask)

    def eval(self) -> OnnxTextTower:
        return self


def _identify(cfg: TextTowerConfig) -> tuple[Path, str]:
    path = resolve_model_path(cfg.model)
    return path, _model_id(cfg.model if cfg.model == "minilm" else path.name, path, cfg.max_tokens)


def onnx_text_tower(cfg: TextTowerConfig, cache_dir: str | Path) -> OnnxTextTower | None:
    """The ONNX Runtime tower of a frozen ``cfg`` when its export exists and onnxruntime is installed, else None."""
    if cfg.trainable or importlib.util.find_spec("onnxruntime") is None:
        return None
    model_dir, model_id = _identify(cfg)
    path = onnx_file(cache_dir, model_id)
    if not path.is_file() or not (model_dir / "tokenizer.json").is_file():
        return None
    return OnnxTextTower(cfg, model_dir, path, model_id)


class _LastHidden(torch.nn.Module):
    def __init__(self, tower: TextTower) -> None:
        super().__init__()
        self.model = tower.model

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor) -> Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state


def export_text_onnx(tower: TextTower, cache_dir: str | Path) -> Path | None:
    """Export a frozen BERT-style ``tower`` (inputs ids, mask, token types) once; None when it cannot be (trainable,
    no onnxruntime to run it, or another input signature)."""
    if tower.cfg.trainable or importlib.util.find_spec("onnxruntime") is None:
        return None
    if getattr(tower.model.config, "model_type", "") not in ("bert",):
        return None
    path = onnx_file(cache_dir, tower.model_id)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    sample = tower.tokenizer(["a chair", "a tall lamp with a round base"], padding="longest", return_tensors="pt")
    args = (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"])
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "token_type_ids": {0: "batch", 1: "length"}, "last_hidden_state": {0: "batch", 1: "length"}}
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(_LastHidden(tower).eval(), args, str(tmp), input_names=list(axes)[:3],
                          output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
    return path
