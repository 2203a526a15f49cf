"""Crash safety: a run killed with SIGKILL mid-training resumes to exactly the parameters of an uninterrupted run,
and a non-finite loss stops the step before it can touch the weights."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from hyperalign.config import load_config
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.train.loop import NonFiniteLossError, train


def _last_weights(run_dir):
    return load_file(str(sorted((run_dir / "checkpoints").glob("epoch-*"))[-1] / "weights.safetensors"))


@pytest.fixture
def one_thread():
    """Bit-exact equality needs the same arithmetic in every run: one intra-op thread here and in the subprocess
    (with several, BLAS may pick its own thread count under load and sum in another order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    torch.set_num_threads(threads)


def test_sigkill_mid_training_then_resume_equals_uninterrupted(tiny_demo, tiny_overrides, tmp_path, one_thread):
    epochs = 6
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=epochs) + ["optim.batch_size=4"]
    reference = tmp_path / "reference"
    train(load_config("h2arn-cpu", overrides), reference, progress=False)

    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hyperalign", "train", "--config", "h2arn-cpu", "--run-dir", str(run), "--no-progress"]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=one_thread)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "epoch-0002" / "meta.json").is_file():
        assert proc.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline, "training did not reach epoch 2 in time"
        time.sleep(0.01)
    time.sleep(0.05)  # inside epoch 3 (5 steps of 4 pairs), or later: either way before the end
    assert proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (run / "checkpoints").glob("epoch-*"))
    assert done[-1] < f"epoch-{epochs:04d}", done  # it really died before the end

    result = train(load_config("h2arn-cpu", overrides), run, progress=False)
    assert [h["epoch"] for h in result.history] == list(range(1, epochs + 1))
    a, b = _last_weights(reference), _last_weights(run)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, epochs + 1))


def test_non_finite_loss_stops_the_step_and_leaves_weights_untouched(tiny_demo, tiny_overrides, tmp_path, monkeypatch):
    cfg = load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=2))
    train(cfg, tmp_path / "run", progress=False, stop_after_epoch=1)
    before = _last_weights(tmp_path / "run")
    original = DualGeometricLoss.forward

    def poisoned(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        out.terms["contrastive_loss"] = out.terms["contrastive_loss"] * float("nan")
        return out

    monkeypatch.setattr(DualGeometricLoss, "forward", poisoned)
    seen = {}
    real_step = torch.optim.AdamW.step

    def counting_step(self, *a, **k):
        seen["steps"] = seen.get("steps", 0) + 1
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.AdamW, "step", counting_step)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at epoch 2, step 0 \(shape ids"):
        train(cfg, tmp_path / "run", progress=False)
    assert seen.get("steps", 0) == 0
    after = _last_weights(tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch-*")) == ["epoch-0001"]
    for k in before:
        assert torch.equal(before[k], after[k])
