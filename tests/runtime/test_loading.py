"""Loading a trained run for inference builds the model alone and reads only its tensors, strictly."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import hyperalign
from hyperalign.checkpoint import MODEL_PREFIX, TRAINER, WEIGHTS, CheckpointError
from hyperalign.model.h2arn import H2ARN
from hyperalign.runtime.loading import Retriever, load


def _copy_with_weights(tiny_run, tmp_path, edit) -> object:
    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_run / "best", ckpt)
    tensors = load_file(str(ckpt / WEIGHTS))
    edit(tensors)
    save_file(tensors, str(ckpt / WEIGHTS))
    return ckpt


def test_load_builds_the_model_alone_with_the_saved_tensors(tiny_run):
    retriever = hyperalign.load(tiny_run)
    assert isinstance(retriever, Retriever) and type(retriever.model) is H2ARN
    assert not retriever.model.training
    saved = load_file(str(tiny_run / "best" / WEIGHTS))
    model_state = retriever.model.state_dict()
    assert set(model_state) == {k[len(MODEL_PREFIX):] for k in saved if k.startswith(MODEL_PREFIX)}
    assert any(not k.startswith(MODEL_PREFIX) for k in saved)  # the loss's tensors are there, and not loaded
    for name, value in model_state.items():
        assert torch.equal(value, saved[MODEL_PREFIX + name]), name


def test_load_reads_neither_the_loss_nor_the_optimiser_state(tiny_run, tmp_path):
    ckpt = _copy_with_weights(tiny_run, tmp_path, lambda t: [t.pop(k) for k in list(t) if not k.startswith(MODEL_PREFIX)])
    (ckpt / TRAINER).unlink()
    text = load(ckpt).encode_text(["a chair", "a round table"])
    assert torch.equal(text, hyperalign.load(tiny_run).encode_text(["a chair", "a round table"]))


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda t: t.pop(next(k for k in t if k.startswith(MODEL_PREFIX))), "missing 1 tensors"),
        (lambda t: t.update({MODEL_PREFIX + "extra.weight": torch.zeros(2)}), "unexpected 1 tensors"),
    ],
)
def test_load_is_strict_about_the_model_tensors(tiny_run, tmp_path, edit, needle):
    ckpt = _copy_with_weights(tiny_run, tmp_path, edit)
    with pytest.raises(CheckpointError, match=needle):
        load(ckpt)
