"""DDP on CPU with gloo: 2 processes x batch B/2 must equal 1 process x batch B (same seed), and bf16 autocast must
track fp32 without NaN."""

import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

from hyperalign.config import load_config
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, PairDataset, PointStore, SplitView
from hyperalign.runtime.features import caption_features
from hyperalign.train import distributed as D
from hyperalign.train.loop import train, weighted_total
from hyperalign.train.setup import build_modules

# Tolerances. Gradients: the runs differ only in float32 summation order (batch-size-dependent BLAS blocking, the
# all-gather); measured worst relative difference ~5e-6. Parameters after 4 AdamW steps: AdamW's first steps move each
# weight by ~lr * sign(g), so a gradient component that is ~0 in both runs can flip sign and move a weight by up to
# ~2 lr = 4e-3 apart; measured worst 5e-4, while the typical (median) weight agrees to ~1e-8.
GRAD_RTOL = 1e-4
PARAM_ATOL = 2e-3
PARAM_MEDIAN_ATOL = 1e-6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, world: int, port: int) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)}
    )
    torch.set_num_threads(1)
    D.init_from_env()


def _worker(rank: int, world: int, port: int, overrides: list[str], run_dir: str) -> None:
    _join(rank, world, port)
    try:
        train(load_config("h2arn-cpu", overrides), run_dir, progress=False)
    finally:
        torch.distributed.destroy_process_group()


def _first_step_grads(rank: int, world: int, port: int, overrides: list[str], out: str) -> None:
    """Gradients of one global batch of 16 pairs, this rank holding its slice of 16 / world (rank order)."""
    if world > 1:
        _join(rank, world, port)
    cfg = load_config("h2arn-cpu", overrides)
    dataset = load_dataset(cfg.data.path)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, "train")
    feats = caption_features(cfg, table.texts, progress=False)
    run = build_modules(cfg, feats.dim, feats.tower)
    pairs = PairDataset(view, table, PointStore(dataset, view.items), points_per_cloud=cfg.data.points_per_cloud, seed=0)
    per = 16 // world
    items = [pairs[i] for i in range(rank * per, (rank + 1) * per)]
    batch = {k: torch.stack([it[k] for it in items]) for k in items[0]}
    forward = DistributedDataParallel(run) if world > 1 else run
    text, points = forward(*feats.batch(batch["caption_id"]), batch["points"])
    text, points = D.gather_with_grad(text), D.gather_with_grad(points)
    pos = view.positives(D.gather_ids(batch["caption_id"]), D.gather_ids(batch["shape_id"]))
    weighted_total(run.loss(text, points, pos, run.model.space).terms, cfg.loss.weights()).backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in run.named_parameters() if p.grad is not None}, out)
    if world > 1:
        torch.distributed.destroy_process_group()


def _final_weights(run_dir):
    return load_file(str(sorted((run_dir / "checkpoints").glob("epoch-*"))[-1] / "weights.safetensors"))


def _history(run_dir):
    import json

    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_gathered_gradients_equal_single_process_gradients(tiny_demo, tiny_overrides, tmp_path):
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1) + ["model.context.dropout=0.0"]
    torch.set_num_threads(1)
    _first_step_grads(0, 1, 0, overrides, str(tmp_path / "g1.pt"))
    mp.start_processes(
        _first_step_grads, args=(2, _free_port(), overrides, str(tmp_path / "g2.pt")), nprocs=2, join=True, start_method="spawn"
    )
    g1, g2 = torch.load(tmp_path / "g1.pt"), torch.load(tmp_path / "g2.pt")
    assert g1.keys() == g2.keys() and len(g1) > 20
    for k in g1:
        scale = float(g1[k].abs().max()) + 1e-12
        assert float((g1[k] - g2[k]).abs().max()) / scale <= GRAD_RTOL, k


def test_two_processes_equal_one_process(tiny_demo, tiny_overrides, tmp_path):
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=2) + ["model.context.dropout=0.0"]
    torch.set_num_threads(1)
    single = tmp_path / "single"
    train(load_config("h2arn-cpu", overrides), single, progress=False)
    ddp = tmp_path / "ddp"
    mp.start_processes(_worker, args=(2, _free_port(), overrides, str(ddp)), nprocs=2, join=True, start_method="spawn")

    h1, h2 = _history(single), _history(ddp)
    for a, b in zip(h1, h2, strict=True):
        assert a["steps"] == b["steps"]
        assert math.isclose(a["loss"], b["loss"], rel_tol=1e-5, abs_tol=1e-6), (a["loss"], b["loss"])
    w1, w2 = _final_weights(single), _final_weights(ddp)
    diffs = torch.cat([(w1[k] - w2[k]).abs().flatten() for k in w1])
    assert float(diffs.max()) <= PARAM_ATOL and float(diffs.median()) <= PARAM_MEDIAN_ATOL, (diffs.max(), diffs.median())
    assert len(_history(ddp)) == 2  # one line per epoch: only rank 0 logs


def test_bf16_autocast_tracks_fp32(tiny_demo, tiny_overrides, tmp_path):
    overrides = tiny_overrides(tiny_demo, tmp_path / "cache", epochs=3) + ["model.context.dropout=0.0"]
    fp32 = train(load_config("h2arn-cpu", overrides), tmp_path / "fp32", progress=False)
    bf16 = train(load_config("h2arn-cpu", overrides + ["optim.precision=bf16"]), tmp_path / "bf16", progress=False)
    for a, b in zip(fp32.history, bf16.history, strict=True):
        assert math.isfinite(b["loss"])
        assert math.isclose(a["loss"], b["loss"], rel_tol=0.05), (a["loss"], b["loss"])
    for t in _final_weights(tmp_path / "bf16").values():
        assert torch.isfinite(t).all()
    assert fp32.history[-1]["loss"] != bf16.history[-1]["loss"]  # autocast really ran in bf16


@pytest.mark.parametrize("bad", [3])
def test_batch_must_divide_over_processes(tiny_demo, tiny_overrides, tmp_path, monkeypatch, bad):
    from hyperalign.train import distributed

    monkeypatch.setattr(distributed, "world_size", lambda: bad)
    with pytest.raises(ValueError, match=r"optim.batch_size \(16\) must be divisible by the number of processes \(3\)"):
        train(load_config("h2arn-cpu", tiny_overrides(tiny_demo, tmp_path / "cache", epochs=1)), tmp_path / "r", progress=False)
