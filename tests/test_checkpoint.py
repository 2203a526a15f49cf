import json
import os

import pytest
import safetensors.torch
import torch
from torch import nn

from hyperalign import checkpoint as ckpt
from hyperalign.checkpoint import (
    CheckpointError,
    CheckpointManager,
    load_trainer_state,
    load_weights,
    resolve_checkpoint,
    save_checkpoint,
)


def _net(width=4):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2))


def _trained(net):
    opt = torch.optim.AdamW(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (s + 1))
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 3)).pow(2).mean().backward()
        opt.step()
        sched.step()
    return opt, sched


def test_round_trip_restores_weights_optimiser_scheduler_and_rng(tmp_path):
    net = _net()
    opt, sched = _trained(net)
    save_checkpoint(tmp_path / "c", net, {"epoch": 3}, opt, sched)
    expected_rand = torch.rand(4)

    other = _net()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1.0)
    opt2 = torch.optim.AdamW(other.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0 / (s + 1))
    load_weights(tmp_path / "c", other)
    meta = load_trainer_state(tmp_path / "c", opt2, sched2)
    assert meta["epoch"] == 3
    for a, b in zip(net.parameters(), other.parameters()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    for k in s1["state"]:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(s1["state"][k][key], s2["state"][k][key])
    assert sched2.last_epoch == sched.last_epoch and sched2.get_last_lr() == sched.get_last_lr()
    assert torch.equal(torch.rand(4), expected_rand)  # RNG restored to the saved state


def test_strict_load_names_the_file_and_mismatching_tensors(tmp_path):
    save_checkpoint(tmp_path / "c", _net(4), {"epoch": 1})
    with pytest.raises(CheckpointError) as e:
        load_weights(tmp_path / "c", _net(8))
    msg = str(e.value)
    assert "weights.safetensors" in msg and "shape mismatch" in msg and "0.weight" in msg
    with pytest.raises(CheckpointError, match="missing 2 tensors"):
        load_weights(tmp_path / "c", nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Linear(2, 2)))


def test_truncated_and_missing_files_are_clear_errors(tmp_path):
    save_checkpoint(tmp_path / "c", _net(), {"epoch": 1})
    w = tmp_path / "c" / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_weights(tmp_path / "c", _net())
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path / "nothing-here")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "meta.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint metadata"):
        ckpt.read_meta(tmp_path / "d")


def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    net = _net()
    save_checkpoint(tmp_path / "c", net, {"epoch": 1})
    before = (tmp_path / "c" / "weights.safetensors").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)  # save_checkpoint imports it when called
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    with pytest.raises(OSError, match="injected"):
        save_checkpoint(tmp_path / "c", net, {"epoch": 2})
    assert (tmp_path / "c" / "weights.safetensors").read_bytes() == before
    assert json.loads((tmp_path / "c" / "meta.json").read_text())["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["c"]  # no temporary directory left behind


def test_manager_keeps_recent_and_resolves_best(tmp_path):
    net = _net()
    opt, sched = _trained(net)
    m = CheckpointManager(tmp_path, keep=2)
    for epoch in (1, 2, 3):
        m.save_epoch(epoch, net, {"epoch": epoch}, opt, sched)
    assert [p.name for p in m.epoch_dirs()] == ["epoch-0002", "epoch-0003"]
    assert resolve_checkpoint(tmp_path) == m.latest()
    m.save_best(net, {"epoch": 2})
    assert resolve_checkpoint(tmp_path) == tmp_path / "best"
