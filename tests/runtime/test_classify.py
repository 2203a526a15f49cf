"""Zero-shot classification: prompts, label parsing, top-k accuracy with ties against the model, the CLI."""

import json

import pytest
import torch
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.formats import PointCloud, write_point_cloud
from hyperalign.data.layout import load_dataset
from hyperalign.runtime.classify import parse_labels, prompts, rank_labels, topk_accuracy


def test_prompts_add_the_right_article_and_keep_given_ones():
    assert prompts(["chair", "armchair", "an office chair", "The lamp"]) == [
        "a chair", "an armchair", "an office chair", "The lamp"]
    assert prompts(["chair"], "a 3D model of {a} {label}") == ["a 3D model of a chair"]
    with pytest.raises(ValueError, match="placeholder"):
        prompts(["chair"], "a thing")


def test_labels_parse_from_commas_and_lines_and_refuse_duplicates():
    assert parse_labels("chair, table\nlamp,\n\n") == ["chair", "table", "lamp"]
    with pytest.raises(ValueError, match="given twice"):
        parse_labels("chair,Chair")
    with pytest.raises(ValueError, match="at least two"):
        parse_labels("chair")


def test_topk_accuracy_counts_ties_against_the_model():
    d = torch.tensor([[0.1, 0.5, 0.9], [0.4, 0.4, 0.9], [0.9, 0.8, 0.1]])
    acc = topk_accuracy(d, [0, 1, 0], ks=(1, 2))  # ranks 0, 1 (tied with label 0), 2
    assert acc == {"top1": pytest.approx(1 / 3), "top2": pytest.approx(2 / 3)}
    ranked = rank_labels(d, ["a", "b", "c"], k=2)
    assert [s.label for s in ranked[1]] == ["a", "b"] and ranked[2][0].label == "c"


def test_cli_classify_a_folder_and_a_file(tiny_run, tiny_demo, tmp_path):
    dataset = load_dataset(tiny_demo)
    for item in dataset.items()[:3]:
        pts = dataset.load_points(item)
        write_point_cloud(tmp_path / "in" / f"{item.id}.npy", PointCloud(pts[:, :3], pts[:, 3:6]))
    labels = "chair,table,lamp,shelf"
    common = ["--checkpoint", str(tiny_run), "--labels", labels, "--up-axis", "z", "--json", "-k", "2"]
    result = CliRunner().invoke(app, ["classify", str(tmp_path / "in"), "--cache-dir", str(tmp_path / "c"), *common])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert payload["labels"] == ["chair", "table", "lamp", "shelf"] and len(payload["results"]) == 3
    for row in payload["results"]:
        assert len(row["labels"]) == 2 and row["labels"][0]["distance"] <= row["labels"][1]["distance"]
    one = next((tmp_path / "in").iterdir())
    single = CliRunner().invoke(app, ["classify", str(one), *common])
    assert single.exit_code == 0, single.output
    first = json.loads(single.stdout[single.stdout.index("{"):])["results"][0]
    in_folder = next(r for r in payload["results"] if r["file"] == one.name)["labels"]
    assert [s["label"] for s in first["labels"]] == [s["label"] for s in in_folder]
    assert [s["distance"] for s in first["labels"]] == pytest.approx([s["distance"] for s in in_folder], abs=1e-5)
    missing = CliRunner().invoke(app, ["classify", str(one), "--checkpoint", str(tiny_run)])
    assert missing.exit_code == 2 and "--labels" in missing.output
