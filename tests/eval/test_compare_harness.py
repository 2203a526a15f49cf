"""benchmarks/compare.py: model specs, the paired summary, the report, and a tiny resumable run on the demo data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import compare


def test_model_specs():
    assert compare.Model.parse(["simple Euclidean"]) == compare.Model(
        "simple Euclidean", "ablation-eu-mp", ("model.context.layers=0", "model.points.kind=pointnet"))
    assert compare.Model.parse(["h2arn-cpu"]) == compare.Model("h2arn-cpu", "h2arn-cpu", ())
    assert compare.Model.parse(["mine", "h2arn-cpu", "optim.lr=1e-3"]).overrides == ("optim.lr=1e-3",)
    assert compare.Model.parse(["a/b c"]).slug == "a-b-c"
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        compare.Model.parse(["mine", "h2arn-cpu", "oops"])


def _records(values: dict[str, dict[int, float]]) -> list[dict]:
    return [{"model": m, "seed": s, "test": {"rsum": v, "only_a": 1.0} if m == "a" else {"rsum": v}}
            for m, by_seed in values.items() for s, v in by_seed.items()]


def test_summary_pairs_by_seed_against_the_reference():
    models = [compare.Model(n, "p", ()) for n in ("ref", "a", "b")]
    seeds = range(5)
    recs = _records({"ref": {s: 10.0 * (s + 1) for s in seeds}, "a": {s: 10.0 * (s + 1) + 2 for s in seeds},
                     "b": {0: 9.0, 1: 21.0}})
    out = compare.summarise(recs, models, "ref")
    assert out["table"]["ref"]["rsum"] == pytest.approx([30.0, 250**0.5, 5])
    assert set(out["paired"]) == {"a", "b"}
    a = out["paired"]["a"]["rsum"]
    assert (a["mean"], a["std"], a["ci_low"], a["ci_high"], a["seeds"]) == (2.0, 0.0, 2.0, 2.0, [0, 1, 2, 3, 4])
    b = out["paired"]["b"]["rsum"]
    assert b["seeds"] == [0, 1] and b["differences"] == [-1.0, 1.0] and b["ci_low"] == -1.0 and b["ci_high"] == 1.0
    assert "only_a" not in out["paired"]["a"]  # the reference has no such metric: nothing to pair
    result = {"note": "n", "reference": "ref", "columns": {"demo": ["rsum", "t2s_R@1"]}, "datasets": {"demo": out}}
    md = compare.markdown(result)
    assert "| a | 5 | +2.0 [+2.0, +2.0]* | - |" in md and "| b | 2 | +0.0 [-1.0, +1.0] | - |" in md
    assert "| ref | 5 | 30.0 ± 15.8 | - |" in md
    few = compare.summarise(_records({"ref": {0: 1.0, 1: 2.0}, "a": {0: 3.0, 1: 4.0}}), models[:2], "ref")
    assert "+2.0 [+2.0, +2.0] |" in compare.markdown(result | {"datasets": {"demo": few}})  # 2 seeds: no mark


def test_tiny_comparison_runs_resumes_and_refuses_changed_settings(tiny_demo, tiny_overrides, tmp_path, capsys):
    tiny = [o for o in tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1) if not o.startswith("data.path")]
    base = ["--datasets", "demo", "--demo-data", str(tiny_demo), "--seeds", "0", "1", "--work", str(tmp_path / "w"),
            "--out", str(tmp_path / "out"), "--tag", "t", "--set", *tiny]
    models = ["--model", "H2ARN", "h2arn-cpu", "--model", "Eu+MP"]
    compare.main([*models, *base])
    result = json.loads((tmp_path / "out" / "t.json").read_text())
    demo = result["datasets"]["demo"]
    assert set(demo["table"]) == {"H2ARN", "Eu+MP"} and demo["table"]["H2ARN"]["rsum"][2] == 2
    assert demo["paired"]["Eu+MP"]["rsum"]["seeds"] == [0, 1]
    assert "depth_spearman" in demo["table"]["H2ARN"] and "depth_spearman" not in demo["table"]["Eu+MP"]
    assert (tmp_path / "out" / "t.md").read_text().startswith("# Paired comparison over seeds")
    chosen_by = [r["best_val"] for r in result["runs"] if r["model"] == "H2ARN"]
    assert demo["table"]["H2ARN"]["val_select"][0] == pytest.approx(sum(chosen_by) / 2)  # selection score, not test
    first = {(r["model"], r["seed"]): r["test"] for r in result["runs"]}
    compare.main([*models, *base, "--only-recorded", "--tag", "again"])  # reuses every record, trains nothing
    again = json.loads((tmp_path / "out" / "again.json").read_text())
    assert {(r["model"], r["seed"]): r["test"] for r in again["runs"]} == first
    with pytest.raises(SystemExit, match="recorded with preset"):
        compare.main(["--model", "H2ARN", "h2arn-cpu", "optim.lr=1e-4", *base])
