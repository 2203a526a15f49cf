"""End to end on tiny demo data: training must raise retrieval quality well above the untrained model, and the
command line must train, evaluate and embed, with clear errors for bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.config import load_config
from hyperalign.data.demo import make_demo
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
from hyperalign.eval.evaluate import evaluate_view
from hyperalign.runtime.features import caption_features
from hyperalign.train.loop import train
from hyperalign.train.setup import build_modules


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-demo")
    make_demo(root, shapes_per_subtype=8, n_points=128, seed=1)
    return root


def test_training_raises_rsum_well_above_the_untrained_model(small_demo, tiny_overrides, tmp_path):
    cfg = load_config("h2arn-cpu", tiny_overrides(small_demo, tmp_path / "cache", epochs=25) + ["optim.lr=3e-3"])
    dataset = load_dataset(small_demo)
    table = CaptionTable.from_dataset(dataset)
    val = SplitView.build(dataset, table, "val")
    feats = caption_features(cfg, table.texts, progress=False)
    untrained = build_modules(cfg, feats.dim, feats.tower).model
    before = evaluate_view(untrained, val, table, feats, PointStore(dataset, val.items), points_per_cloud=64)

    result = train(cfg, tmp_path / "run", progress=False)
    after = result.best_metric
    print(f"val rsum untrained {before['rsum']:.1f} -> trained {after:.1f}")
    assert after > before["rsum"] + 60, (before["rsum"], after)
    assert result.history[-1]["loss"] < result.history[0]["loss"]


def test_cli_train_eval_embed_and_errors(tiny_demo, tiny_overrides, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["train", "--config", "h2arn-cpu", "--run-dir", str(run), "--no-progress"]
    for o in tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1):
        args += ["--set", o]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert (run / "best" / "weights.safetensors").is_file()

    res = runner.invoke(app, ["eval", "--checkpoint", str(run), "--json", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"t2s_R@1", "s2t_R@10", "rsum", "t2s_MedR", "s2t_MRR"} <= metrics.keys()
    assert "t2s_R@1" in res.output

    res = runner.invoke(app, ["embed", "--checkpoint", str(run), "--out", str(tmp_path / "e.safetensors")])
    assert res.exit_code == 0, res.output
    emb = load_file(str(tmp_path / "e.safetensors"))
    side = json.loads((tmp_path / "e.safetensors.json").read_text())
    assert emb["shapes"].shape[0] == len(side["shape_ids"]) and emb["texts"].shape[0] == len(side["texts"])

    shards = [tmp_path / f"s{i}.safetensors" for i in range(2)]
    for i, path in enumerate(shards):
        res = runner.invoke(app, ["embed", "--checkpoint", str(run), "--out", str(path), "--shard", f"{i}/2"])
        assert res.exit_code == 0, res.output
    parts = [load_file(str(p))["shapes"] for p in shards]
    ids = [json.loads(p.with_name(p.name + ".json").read_text())["shape_ids"] for p in shards]
    assert sorted(ids[0] + ids[1]) == sorted(side["shape_ids"])
    full = dict(zip(side["shape_ids"], emb["shapes"]))
    for part, part_ids in zip(parts, ids):
        for vec, sid in zip(part, part_ids):
            assert torch.allclose(vec, full[sid], atol=1e-6)
    res = runner.invoke(app, ["embed", "--checkpoint", str(run), "--out", str(tmp_path / "x.st"), "--shard", "2/2"])
    assert res.exit_code == 2 and "expected 0 <= i < n" in res.output

    bad = tmp_path / "bad.yaml"
    bad.write_text("base: h2arn-cpu\noptim: {lr: -1}\n")
    res = runner.invoke(app, ["train", "--config", str(bad), "--run-dir", str(tmp_path / "r2")])
    assert res.exit_code == 2 and "optim.lr" in res.output and "bad.yaml" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["eval", "--checkpoint", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no checkpoint found" in res.output
