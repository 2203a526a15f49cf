import itertools
import json

import pytest
import torch
from safetensors.torch import load_file

from hyperalign.config import load_config
from hyperalign.train.loop import lr_factor, train


def _weights(run_dir):
    return load_file(str(sorted((run_dir / "checkpoints").glob("epoch-*"))[-1] / "weights.safetensors"))


def test_resumed_run_equals_uninterrupted_run(tiny_demo, tiny_overrides, tmp_path):
    cfg = load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=3))
    full = train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "split", progress=False, stop_after_epoch=1)
    resumed = train(cfg, tmp_path / "split", progress=False)
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    lines = (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert (tmp_path / "split" / "config.yaml").is_file() and (tmp_path / "split" / "best" / "meta.json").is_file()


@pytest.mark.parametrize("preset", ["h2arn-cpu", "ablation-no-ord", "ablation-no-agg", "ablation-no-both", "ablation-eu-mp", "ablation-eu-ca"])
def test_every_ablation_trains_and_validates_from_config_alone(tiny_demo, tiny_overrides, tmp_path, preset):
    cfg = load_config(preset, tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1))
    result = train(cfg, tmp_path / "run", progress=False)
    record = result.history[-1]
    assert torch.isfinite(torch.tensor(record["loss"]))
    assert 0 <= record["val/t2s_R@1"] <= 1 and record["val/rsum"] > 0
    assert ("ordering_loss" in record) == (cfg.loss.ordering_weight > 0)


def test_warmup_cosine_schedule():
    f = lr_factor(100, 0.1, "cosine")
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5, abs=0.01) and f(100) == pytest.approx(0.0)


def test_warmup_then_linear_decay_to_zero():
    f = lr_factor(200, 0.1, "linear")
    warm = [f(t) for t in range(20)]
    assert warm == pytest.approx([(t + 1) / 20 for t in range(20)])  # linear warm-up to the peak
    decay = [f(t) for t in range(20, 201)]
    assert decay[0] == pytest.approx(1.0) and decay[-1] == pytest.approx(0.0) and f(250) == pytest.approx(0.0)
    steps = [a - b for a, b in itertools.pairwise(decay)]
    assert steps == pytest.approx([1 / 180] * 180)  # constant slope: a straight line from 1 at W to 0 at T
    assert f(110) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="schedule"):
        lr_factor(100, 0.1, "step")


def test_point_tower_initialised_from_another_run(tiny_demo, tiny_overrides, tmp_path, monkeypatch):
    """``init_points_from`` copies the point tower (and nothing else) from a pre-training run before step 1; a
    tower of another shape is refused with a message naming the checkpoint file."""
    from hyperalign.checkpoint import CheckpointError
    from hyperalign.train import loop

    base = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1)
    train(load_config("h2arn-cpu", base), tmp_path / "pre", progress=False)
    pre = load_file(str(tmp_path / "pre" / "best" / "weights.safetensors"))

    seen = {}
    real_epoch = loop._train_epoch

    def capture(run, *args, **kwargs):  # the weights as they stand before the first step
        seen.setdefault("state", {k: v.clone() for k, v in run.state_dict().items()})
        return real_epoch(run, *args, **kwargs)

    monkeypatch.setattr(loop, "_train_epoch", capture)
    cfg = load_config("h2arn-cpu", base + [f"init_points_from={tmp_path / 'pre'}", "seed=1"])
    train(cfg, tmp_path / "fine", progress=False)
    tower = [k for k in pre if k.startswith("model.point_tower.")]
    assert tower and all(torch.equal(seen["state"][k], pre[k]) for k in tower)
    others = [k for k in pre if k.startswith("model.text_context.") and k.endswith("weight")]
    assert others and not any(torch.equal(seen["state"][k], pre[k]) for k in others)

    wider = load_config("h2arn-cpu", base + [f"init_points_from={tmp_path / 'pre'}", "model.points.width=24"])
    with pytest.raises(CheckpointError, match="weights.safetensors.*shape mismatch"):
        train(wider, tmp_path / "wider", progress=False)
