"""ONNX export: onnxruntime gives the PyTorch embeddings (within 1e-4) on real clouds and real caption features."""

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hyperalign
from hyperalign.cli import app
from hyperalign.data.layout import load_dataset
from hyperalign.runtime.loading import Retriever

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory) -> tuple[Retriever, Path]:
    out = tmp_path_factory.mktemp("onnx") / "export"
    result = CliRunner().invoke(app, ["export", "--checkpoint", str(tiny_run), "--onnx", str(out)])
    assert result.exit_code == 0, result.output
    return hyperalign.load(tiny_run), out


def _session(path: Path) -> "ort.InferenceSession":
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_point_graph_matches_pytorch_on_real_clouds(exported, tiny_demo):
    retriever, out = exported
    dataset = load_dataset(tiny_demo)
    clouds = np.stack([retriever.prepare_cloud(dataset.load_points(item)) for item in dataset.items()[:5]])
    expected = retriever.model.embed_points(torch.from_numpy(clouds)).detach().numpy()
    (got,) = _session(out / "points.onnx").run(None, {"points": clouds})
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_text_graph_matches_pytorch_on_real_captions(exported):
    retriever, out = exported
    captions = ["a chair", "a tall floor lamp with a conical shade", "a round table"]
    tokens, mask = retriever.tower(captions)
    expected = retriever.model.embed_text_tokens(tokens, mask).detach().numpy()
    (got,) = _session(out / "text.onnx").run(None, {"tokens": tokens.numpy(), "mask": mask.numpy()})
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    # A different batch and length than the traced example: the axes are dynamic.
    tokens1, mask1 = retriever.tower(captions[1:2])
    (one,) = _session(out / "text.onnx").run(None, {"tokens": tokens1.numpy(), "mask": mask1.numpy()})
    np.testing.assert_allclose(one[0], expected[1], atol=1e-4, rtol=0)


def test_export_refuses_a_directory_it_did_not_write(tiny_run, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["export", "--checkpoint", str(tiny_run), "--onnx", str(foreign)])
    assert result.exit_code == 2
    assert "not an ONNX export" in result.output
    assert (foreign / "notes.txt").read_text() == "keep me"
