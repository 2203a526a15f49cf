"""Every method is a preset of the same parts: each trains, evaluates (retrieval + hierarchy) and plots from config
alone on the tiny demo data."""

import json

import pytest
import torch
from typer.testing import CliRunner

import hyperalign
from hyperalign.cli import app
from hyperalign.config import list_presets, load_config
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, PairDataset, PointStore, SplitView
from hyperalign.data.sweethome3d import DEFAULT_ROOT as SH3F_ROOT
from hyperalign.data.wordnet import DEFAULT_ROOT as WORDNET_ROOT
from hyperalign.runtime.evaluation import evaluate
from hyperalign.train.loop import train

METHOD_TERMS = {
    "meru": {"contrastive_loss", "ordering_loss"},
    "argent": {"contrastive_loss", "adaptive_entailment_loss", "norm_loss"},
    "hetero": {"contrastive_loss", "intra_entailment_loss", "cross_entailment_loss"},
}
HIERARCHY = {"LA", "HCA", "MTA", "PEP_AUC", "PEP_AP", "depth_spearman"}


def test_presets_are_shipped():
    assert {"h2arn", "h2arn-cpu", "meru", "argent", "hetero"} <= set(list_presets())
    meru = load_config("meru")
    assert (meru.loss.pairing, meru.loss.learn_temperature, meru.optim.lr, meru.optim.betas, meru.optim.weight_decay) == (
        "paired", True, 5e-4, (0.9, 0.98), 0.2)
    assert meru.model.space.alpha_init == pytest.approx(512 ** -0.5) and meru.loss.temperature_min == 0.01
    assert load_config("hetero").model.space.kind == "hetero"


@pytest.mark.parametrize("preset", ["meru", "argent", "hetero"])
def test_method_trains_and_evaluates_from_config_alone(tiny_demo, tiny_overrides, tmp_path, preset):
    cfg = load_config(preset, tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    result = train(cfg, tmp_path / "run", progress=False)
    record = result.history[-1]
    assert METHOD_TERMS[preset] <= set(record) and torch.isfinite(torch.tensor(record["loss"]))
    assert record["val/rsum"] > 0
    if preset == "hetero":
        assert {"curvature_text", "curvature_points", "curvature"} <= set(record)
        assert record["curvature"] != 1.0  # the chart moved to the last batch's intermediate curvature
    metrics = evaluate(hyperalign.load(tmp_path / "run"), "test", hierarchy=True)
    assert HIERARCHY <= set(metrics) and 0 <= metrics["LA"] <= 1 and 0 <= metrics["PEP_AUC"] <= 1


def test_hetero_resume_reproduces_and_cli_plots(tiny_demo, tiny_overrides, tmp_path):
    cfg = load_config("hetero", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=2))
    full = train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after_epoch=1)
    resumed = train(cfg, tmp_path / "split", progress=False)
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    assert full.history[-1]["curvature"] == resumed.history[-1]["curvature"]

    runner = CliRunner()
    out = runner.invoke(app, ["plot", "--checkpoint", str(tmp_path / "full"), "--out", str(tmp_path / "plots")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "plots" / "poincare.png").is_file() and (tmp_path / "plots" / "norms.png").is_file()
    out = runner.invoke(app, ["eval", "--checkpoint", str(tmp_path / "full"), "--hierarchy", "--json", str(tmp_path / "m.json")])
    assert out.exit_code == 0, out.output
    assert HIERARCHY <= set(json.loads((tmp_path / "m.json").read_text()))


def test_euclidean_model_gets_taxonomy_metrics_only_and_no_plot(tiny_demo, tiny_overrides, tmp_path):
    cfg = load_config("ablation-eu-mp", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    train(cfg, tmp_path / "run", progress=False)
    metrics = evaluate(hyperalign.load(tmp_path / "run"), "test", hierarchy=True)
    assert {"LA", "HCA", "MTA"} <= set(metrics) and "PEP_AUC" not in metrics
    out = CliRunner().invoke(app, ["plot", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "p")])
    assert out.exit_code == 2 and "hyperbolic" in out.output


def test_pair_items_carry_one_caption_and_node_per_level(tiny_demo):
    dataset = load_dataset(tiny_demo)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, "train")
    pairs = PairDataset(view, table, PointStore(dataset, view.items[:4]), points_per_cloud=16, seed=3)
    pairs.set_epoch(2)
    item = pairs[1]
    assert view.levels == ["category", "subtype", "instance"]
    ids, nodes = item["level_caption_ids"].tolist(), item["level_node_ids"].tolist()
    assert [table.levels[i] for i in ids] == view.levels and all(i in view.item_captions[1] for i in ids)
    path = dataset.ancestors(view.items[1].node)
    assert nodes == [dataset.index.nodes.index(path[0]), dataset.index.nodes.index(path[1]), -1]
    again = pairs[1]
    assert all(torch.equal(item[k], again[k]) for k in item)  # seeded by (seed, epoch, index)


needs_real_data = pytest.mark.skipif(
    not (any(SH3F_ROOT.glob("*.sh3f")) and (WORDNET_ROOT / "data.noun").is_file()),
    reason=f"needs Debian packages sweethome3d-furniture ({SH3F_ROOT}) and wordnet-base ({WORDNET_ROOT})",
)


@pytest.fixture(scope="module")
def real_subset(tmp_path_factory):
    """The first 60 Sweet Home 3D items, converted by the CLI (name-disjoint split in index.json)."""
    out = tmp_path_factory.mktemp("sh3d") / "data"
    result = CliRunner().invoke(app, ["data", "sweethome3d", "--out", str(out), "--limit", "60", "--points", "128",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
@needs_real_data
@pytest.mark.parametrize("preset", ["h2arn-cpu", "meru", "argent", "hetero", "ablation-eu-mp"])
def test_method_trains_and_evaluates_on_real_data_from_the_cli(real_subset, tiny_overrides, tmp_path, preset):
    runner = CliRunner()
    overrides = [x for o in tiny_overrides(real_subset, tmp_path / "cache", epochs=1) for x in ("--set", o)]
    trained = runner.invoke(app, ["train", "--config", preset, "--run-dir", str(tmp_path / "run"), "--no-progress",
                                  "--set", "data.channels=6", "--set", "model.points.in_channels=6", *overrides])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "eval.json"
    evaluated = runner.invoke(app, ["eval", "--checkpoint", str(tmp_path / "run"), "--hierarchy", "--json", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics["t2s_R@1"] <= 1.0 and "t2s_R@1/name" in metrics and 0.0 <= metrics["LA"] <= 1.0
