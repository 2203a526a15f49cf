"""Shipped pretrained models: loadable offline by name, small, with a complete model card; unknown names list them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hyperalign import pretrained
from hyperalign.checkpoint import CheckpointError, resolve_checkpoint

CARD_FIELDS = ("name", "summary", "command", "seed", "training_data", "preprocessing", "test_metrics")


def test_the_variants_are_shipped_with_a_card_and_small_weights():
    assert {"h2arn-furniture", "h2arn-furniture-xyz", "h2arn-all", "h2arn-all-xyz"} <= set(pretrained.names())
    for name in pretrained.names():
        card = pretrained.card(name)
        assert all(field in card for field in CARD_FIELDS)
        assert {"sh3d-name", "sh3d-item", "demo"} <= set(card["test_metrics"])
        assert (pretrained.path(name) / "weights.safetensors").stat().st_size < 20_000_000
        assert (pretrained.path(name) / "README.md").read_text().startswith(f"# {name}")
        assert card["preprocessing"]["up_axis"].startswith("y")


def test_a_name_resolves_to_the_package_directory_and_a_local_directory_wins(tmp_path, monkeypatch):
    assert resolve_checkpoint("h2arn-furniture") == pretrained.path("h2arn-furniture")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h2arn-furniture").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint("h2arn-furniture")  # an existing path is never shadowed by a shipped name


def test_an_unknown_name_lists_the_shipped_models():
    with pytest.raises(CheckpointError, match="no pretrained model of that name; shipped models: h2arn-all, .*h2arn-furniture"):
        resolve_checkpoint("h2arn-furnitur")


@pytest.mark.parametrize("name,channels", [("h2arn-furniture", 6), ("h2arn-furniture-xyz", 3), ("h2arn-all", 6),
                                           ("h2arn-all-xyz", 3)])
def test_load_by_name_embeds_text_and_points(name, channels):
    import numpy as np

    import hyperalign

    retriever = hyperalign.load(name)
    assert retriever.channels == channels and retriever.up_axis == "y"
    assert len(retriever.weights_sha256()) == 64
    text = retriever.encode_text(["a chair", "a lamp"])
    points = retriever.encode_points([np.random.default_rng(0).normal(size=(300, channels)).astype(np.float32)])
    assert text.shape[0] == 2 and points.shape == (1, text.shape[1])


def test_cli_lists_models_and_reports_unknown_names():
    from hyperalign.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["pretrained"])
    assert listed.exit_code == 0 and "h2arn-furniture-xyz" in listed.output and "trained on" in listed.output
    cards = json.loads(runner.invoke(app, ["pretrained", "--json"]).output)
    assert [c["name"] for c in cards] == pretrained.names()
    bad = runner.invoke(app, ["eval", "--checkpoint", "no-such-model"])
    assert bad.exit_code == 2 and "shipped models: h2arn-all, h2arn-all-xyz, h2arn-furniture" in bad.output


@pytest.mark.parametrize("name", ["h2arn-all", "h2arn-all-xyz"])
def test_the_all_data_models_were_trained_and_scored_on_kicad_too(name):
    card = pretrained.card(name)
    assert set(card["training_data"]["counts"]) == {"sh3d", "demo", "kicad"}
    assert {"kicad-family", "kicad-item"} <= set(card["test_metrics"])
    assert {"kicad-family", "kicad-item", "name", "item"} <= set(card["realdata_protocol"])
    assert "--kicad" in card["command"]
