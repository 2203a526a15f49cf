"""Text towers and the feature cache: shapes, masks, padding independence, freezing, cache round trips, errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pydantic
import pytest
import torch

from hyperalign.encoders.text import TextFeatureCache, TextTower, TextTowerConfig, resolve_model_path

CAPTIONS = ["a chair", "a low wooden stool with three legs", "a tall lamp", "a red sofa with two cushions"]
LONG = "a large modern office desk with " + "many drawers and shelves on both sides " * 8


@pytest.fixture(scope="module")
def minilm() -> TextTower:
    return TextTower(TextTowerConfig(model="minilm", max_tokens=16))


def tiny_model_dir(root: Path, kind: str) -> Path:
    """A randomly initialised BERT or CLIP text model with MiniLM's tokenizer, saved as a local HF directory."""
    from transformers import BertConfig, BertModel, CLIPTextConfig, CLIPTextModel

    small = dict(vocab_size=30522, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                 max_position_embeddings=64)
    if kind == "clip":
        model = CLIPTextModel(CLIPTextConfig(**small, pad_token_id=0, bos_token_id=101, eos_token_id=102))
    else:
        model = BertModel(BertConfig(**small))
    out = root / f"tiny-{kind}"
    model.save_pretrained(out)
    source = resolve_model_path("minilm")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, out / name)
    return out


# --- tower ----------------------------------------------------------------------------------------------------


def test_shapes_and_mask_follow_the_tokenizer(minilm):
    features, mask = minilm(CAPTIONS + [LONG])
    want = minilm.tokenizer(CAPTIONS + [LONG], padding="longest", truncation=True, max_length=16, return_tensors="pt")
    assert features.shape == (5, 16, 384) and features.dtype == torch.float32 and minilm.dim == 384
    assert mask.dtype == torch.bool and torch.equal(mask, want["attention_mask"].bool())
    assert (features[~mask] == 0).all() and (features[mask].abs().sum(-1) > 0).all()
    short, short_mask = minilm(CAPTIONS[:1])
    assert short.shape == (1, 4, 384) and short_mask.all()  # [CLS] a chair [SEP]


def test_padding_does_not_change_real_token_features(minilm):
    alone, alone_mask = minilm(["a chair"])
    batched, batched_mask = minilm([LONG, "a chair"])
    n = int(alone_mask.sum())
    assert int(batched_mask[1].sum()) == n
    torch.testing.assert_close(batched[1, :n], alone[0, :n], atol=1e-5, rtol=0)


def test_frozen_tower_has_no_gradients_and_stays_in_eval(minilm):
    assert not any(p.requires_grad for p in minilm.parameters())
    minilm.train()
    assert not minilm.model.training
    features, _ = minilm(CAPTIONS)
    assert not features.requires_grad


def test_model_id_is_stable_and_tracks_truncation(minilm):
    by_path = TextTower(TextTowerConfig(model=str(resolve_model_path("minilm")), max_tokens=8))
    label, digest, length = minilm.model_id.split("-")
    assert (label, length) == ("minilm", "L16")
    assert by_path.model_id.split("-")[1:] == [digest, "L8"]  # same weights, other truncation


@pytest.mark.parametrize("kind", ["bert", "clip"])
def test_local_directory_models_train(tmp_path, kind):
    tower = TextTower(TextTowerConfig(model=str(tiny_model_dir(tmp_path, kind)), max_tokens=12, trainable=True))
    assert tower.dim == 16 and tower.model_id.startswith(f"tiny-{kind}-")
    assert type(tower.model).__name__ == ("CLIPTextModel" if kind == "clip" else "BertModel")
    tower.train()
    assert tower.model.training
    features, mask = tower(CAPTIONS)
    assert features.shape == (4, int(mask.sum(1).max()), 16) and features.requires_grad
    features.sum().backward()
    assert tower.model.get_input_embeddings().weight.grad is not None
    with pytest.raises(ValueError, match="text.trainable"):
        TextFeatureCache(tmp_path / "cache", tower)


def test_bad_inputs_and_configs_are_refused(minilm, tmp_path):
    with pytest.raises(ValueError, match=r"texts\[1\]"):
        minilm(["a chair", "   "])
    with pytest.raises(TypeError, match=r"texts\[0\]"):
        minilm([3, "a chair"])
    with pytest.raises(TypeError, match="sequence of str"):
        minilm("a chair")
    with pytest.raises(ValueError, match="at least one"):
        minilm([])
    with pytest.raises(ValueError, match=r"text\.model.*no such directory"):
        resolve_model_path(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"text\.model.*no config\.json"):
        TextTower(TextTowerConfig(model=str(tmp_path)))
    with pytest.raises(ValueError, match=r"text\.max_tokens"):
        TextTower(TextTowerConfig(max_tokens=1000))
    with pytest.raises(pydantic.ValidationError, match="extra"):
        TextTowerConfig(model="minilm", pooling="mean")


# --- cache ----------------------------------------------------------------------------------------------------


def count_calls(monkeypatch, tower: TextTower) -> list[int]:
    """Record how many texts each tower call receives."""
    calls: list[int] = []
    forward = tower.forward

    def counted(texts):
        calls.append(len(texts))
        return forward(texts)

    monkeypatch.setattr(tower, "forward", counted)
    return calls


def test_cache_matches_the_tower_and_skips_cached_texts(minilm, tmp_path, monkeypatch):
    texts = CAPTIONS + [LONG, CAPTIONS[0]]  # a repeat is computed once
    want, want_mask = minilm(texts)
    calls = count_calls(monkeypatch, minilm)
    cache = TextFeatureCache(tmp_path, minilm, batch_size=2, progress=False)
    got, got_mask = cache.get(texts)
    assert sum(calls) == 5 and max(calls) <= 2
    assert torch.equal(got_mask, want_mask)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)

    again, again_mask = cache.get(texts[::-1])
    assert sum(calls) == 5
    assert torch.equal(again, got.flip(0)) and torch.equal(again_mask, got_mask.flip(0))
    sub, sub_mask = cache.get(CAPTIONS[:1])
    assert sub.shape == (1, 4, 384) and sub_mask.all()  # padded to the longest requested text only

    cache.get([CAPTIONS[1], "a glass table"])
    assert sum(calls) == 6
    shards = sorted((tmp_path / minilm.model_id).iterdir())
    assert len(shards) == 2 and all(p.name.startswith("shard-") for p in shards)


def test_cache_survives_a_new_instance(minilm, tmp_path, monkeypatch):
    first, first_mask = TextFeatureCache(tmp_path, minilm, progress=False).get(CAPTIONS)
    calls = count_calls(monkeypatch, minilm)
    fresh = TextFeatureCache(tmp_path, minilm, progress=False)
    second, second_mask = fresh.get(CAPTIONS)
    assert calls == [] and torch.equal(second, first) and torch.equal(second_mask, first_mask)


def test_cache_names_a_broken_shard(minilm, tmp_path):
    shard_dir = tmp_path / minilm.model_id
    shard_dir.mkdir()
    (shard_dir / "shard-broken.safetensors").write_bytes(b"not a shard")
    with pytest.raises(ValueError, match="shard-broken"):
        TextFeatureCache(tmp_path, minilm, progress=False).get(CAPTIONS)
