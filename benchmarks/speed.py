"""Speed and memory of H2ARN training and evaluation at paper scale and at the CPU preset.

    python benchmarks/speed.py [--out benchmarks/results] [--steps 10] [--scales paper cpu-preset]
    hyperalign bench speed [same options]

Writes ``speed.json`` and ``speed.md``. Every ratio comes from measurements taken side by side in one run; absolute
times depend on the machine's load (recorded). Nothing here asserts anything.

The step is the reference's cached pipeline on the real model (``H2ARN`` and its loss built from a config, the point
tower frozen): two context encoders on token features of fixed shapes (``embed_text_tokens``,
``embed_point_tokens``: towers not in the step), contribution-aware aggregation, the embedding space and the dual
loss, backward, gradient clipping and AdamW. Sections:

* step time: hyperalign (fused attention, batch trimmed to its longest caption) against the naive baseline
  (``_naive_attention.py``: the reference's materialised attention with its dropout, captions padded to 77), plus
  variants that isolate each change; all variants interleaved round-robin so load drifts hit them alike;
* peak memory: peak RSS (``VmHWM``) of a fresh subprocess per configuration (batch 64, and the paper's batch 256);
* evaluation: N text-shape pairs embedded once and ranked in chunks (``eval.retrieval.cross_modal_metrics``)
  against the reference's blockwise procedure (the model re-run on both sides of every 50 x 50 block), measured at
  N = 500 and extrapolated by its N^2 law;
* hyperbolic overhead: the step of the Lorentz model against its Euclidean twin, and the hyperbolic operations timed
  on their own;
* a torch.profiler summary of one paper-scale step;
* CPU preset only: the training loop's data wait with 0 and 2 DataLoader workers on the demo data, and the number of
  text-tower calls per phase (the frozen tower runs only to fill the feature cache).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _naive_attention import NaiveContextEncoder  # noqa: E402
from hyperalign import __version__  # noqa: E402
from hyperalign.config import load_config  # noqa: E402
from hyperalign.encoders.points import PointTowerConfig  # noqa: E402
from hyperalign.eval.retrieval import cross_modal_metrics, first_relevant_ranks, rank_metrics  # noqa: E402
from hyperalign.losses.base import Objective  # noqa: E402
from hyperalign.losses.config import LossConfig  # noqa: E402
from hyperalign.losses.registry import build_loss  # noqa: E402
from hyperalign.model.h2arn import H2ARN, ContextConfig, ModelConfig, SpaceConfig  # noqa: E402
from hyperalign.model.space_kind import SpaceKind, is_hyperbolic  # noqa: E402
from hyperalign.train.loop import TrainCallbacks, make_optimizer, param_groups, weighted_total  # noqa: E402
from hyperalign.train.setup import RunModules  # noqa: E402

MINILM_DIM = 384  # hidden size of the packaged all-MiniLM-L6-v2, the CPU preset's text tower
REFERENCE = {  # measured with the reference implementation on this kind of machine
    "step_s_batch64": 56.0, "peak_gb_batch64": 10.1, "eval_s_n500": 774.0, "eval_s_n5000_extrapolated": 21 * 3600.0,
}


@dataclass(frozen=True)
class Scale:
    """Shapes of one benchmark scale; captions have ``caption_lengths`` real tokens (uniform), padded to ``text_tokens``."""

    name: str
    text_dim: int
    point_dim: int
    dim: int
    heads: int
    layers: int
    ff_mult: int
    dropout: float
    text_tokens: int
    caption_lengths: tuple[int, int]
    point_tokens: int
    batch: int
    big_batch: int | None = None


PAPER = Scale("paper", 512, 512, 512, 64, 6, 4, 0.1, 77, (10, 30), 100, 64, big_batch=256)


def cpu_preset() -> Scale:
    """The ``h2arn-cpu`` preset's context encoders and token shapes."""
    cfg = load_config("h2arn-cpu")
    m = cfg.model
    return Scale(
        "cpu-preset", MINILM_DIM, m.points.dim, m.dim, m.context.heads, m.context.layers, m.context.ff_mult,
        m.context.dropout, m.text.max_tokens, (10, min(30, m.text.max_tokens)), m.points.num_tokens, cfg.optim.batch_size,
    )


@dataclass(frozen=True)
class Variant:
    """One model + input configuration. ``naive``: the reference's attention (dropout on the scores, every padded
    position run); otherwise hyperalign's ``ContextEncoder``. ``trim``: cut the batch to its longest caption.
    ``bf16``: CPU autocast to bfloat16 (AMX matrix units where the CPU has them; the hyperbolic parts stay float32).
    ``fused_adamw``: hyperalign's fused AdamW (``train.loop.make_optimizer``); the naive baseline keeps the
    reference's default AdamW."""

    label: str
    naive: bool = False
    space: SpaceKind = "lorentz"
    attention_dropout: float = 0.0
    trim: bool = True
    checkpoint: bool = False
    bf16: bool = False
    fused_adamw: bool = True


NAIVE = Variant("naive (reference attention, L_t = 77)", naive=True, trim=False, fused_adamw=False)
FUSED = Variant("hyperalign (fused, trimmed)")
EUCLIDEAN = Variant("hyperalign Euclidean twin", space="euclidean")
FUSED_UNTRIMMED = Variant("hyperalign, not trimmed (L_t = 77)", trim=False)
FUSED_ATTN_DROPOUT = Variant("hyperalign, attention dropout 0.1 (unfused SDPA)", attention_dropout=0.1)
CHECKPOINTED = Variant("hyperalign + activation checkpointing", checkpoint=True)
BF16 = Variant("hyperalign + bf16 autocast (not float32: informative only)", bf16=True)
UNFUSED_ADAMW = Variant("hyperalign, unfused AdamW", fused_adamw=False)


def build_run(scale: Scale, variant: Variant) -> RunModules:
    """The real model and loss for a scale and variant: ``H2ARN`` from a ``ModelConfig`` (frozen text tower, so the
    model starts at the projection of cached features; its point tower frozen, as the step feeds point tokens) and
    the method registry's dual loss (ordering term only in a hyperbolic space). The naive variant swaps both context
    encoders for the reference's."""
    s = scale
    cfg = ModelConfig(
        dim=s.dim,
        points=PointTowerConfig(num_tokens=s.point_tokens, dim=s.point_dim),
        context=ContextConfig(heads=s.heads, layers=s.layers, ff_mult=s.ff_mult, dropout=s.dropout,
                              attention_dropout=variant.attention_dropout, checkpoint=variant.checkpoint),
        space=SpaceConfig(kind=variant.space),
    )
    model = H2ARN(cfg, s.text_dim)
    model.point_tower.requires_grad_(False)
    if variant.naive:
        model.text_context = NaiveContextEncoder(s.text_dim, s.dim, s.heads, s.layers, s.ff_mult, s.dropout)
        model.point_context = NaiveContextEncoder(s.point_dim, s.dim, s.heads, s.layers, s.ff_mult, s.dropout)
    loss = build_loss(LossConfig(ordering_weight=0.2 if is_hyperbolic(variant.space) else 0.0), variant.space)
    return RunModules(model, loss)


def embed(run: RunModules, modality: str, tokens: Tensor, mask: Tensor) -> Tensor:
    """Embedded points of token features: the model after its text or point tower."""
    if modality == "text":
        return run.model.embed_text_tokens(tokens, mask)
    return run.model.embed_point_tokens(tokens, mask)


def parameter_count(run: RunModules) -> int:
    """Parameters of the step: the model without its (frozen, unused) point tower, and the loss."""
    return sum(p.numel() for p in run.parameters()) - sum(p.numel() for p in run.model.point_tower.parameters())


@dataclass
class Batch:
    text: Tensor
    text_mask: Tensor
    points: Tensor
    point_mask: Tensor
    positives: Tensor

    def text_inputs(self, trim: bool) -> tuple[Tensor, Tensor]:
        """Text tokens and mask, cut to the longest caption when ``trim`` (as ``CaptionFeatures.batch``)."""
        if not trim:
            return self.text, self.text_mask
        length = int(self.text_mask.sum(dim=1).max())
        return self.text[:, :length], self.text_mask[:, :length]


def random_tokens(n: int, length: int, dim: int, lengths: tuple[int, int] | None, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` random token sequences (zeros where padded) and their masks; ``lengths`` None = every token real."""
    tokens = torch.randn(n, length, dim, generator=g)
    if lengths is None:
        return tokens, torch.ones(n, length, dtype=torch.bool)
    real = torch.randint(lengths[0], lengths[1] + 1, (n,), generator=g)
    mask = torch.arange(length)[None] < real[:, None]
    return tokens.masked_fill_(~mask[..., None], 0.0), mask


def make_batch(scale: Scale, batch: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    text, text_mask = random_tokens(batch, scale.text_tokens, scale.text_dim, scale.caption_lengths, g)
    points, point_mask = random_tokens(batch, scale.point_tokens, scale.point_dim, None, g)
    return Batch(text, text_mask, points, point_mask, torch.eye(batch, dtype=torch.bool))


class Trainer:
    """One model, its AdamW (the loop's parameter groups, the paper's betas) and the training step of ``train.loop``."""

    def __init__(self, scale: Scale, variant: Variant, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.variant = variant
        self.model = build_run(scale, variant).train()
        if variant.fused_adamw:
            self.optimizer = make_optimizer(self.model, lr=1e-4, betas=(0.91, 0.9993), weight_decay=0.05)
        else:
            self.optimizer = torch.optim.AdamW(param_groups(self.model, 0.05), lr=1e-4, betas=(0.91, 0.9993))
        self.weights = self.model.loss.cfg.weights()

    def step(self, batch: Batch) -> tuple[float, float]:
        """Forward, loss, backward, clipping and AdamW on one batch; returns its wall and process CPU seconds."""
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.variant.bf16):
            text = embed(self.model, "text", *batch.text_inputs(self.variant.trim))
            points = embed(self.model, "points", batch.points, batch.point_mask)
            total = weighted_total(self.model.loss(text, points, batch.positives, self.model.model.space).terms, self.weights)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        return time.perf_counter() - t0, time.process_time() - c0


def summarise(times: list[tuple[float, float]]) -> dict[str, Any]:
    """Median and spread of (wall, CPU) step times. CPU time (all threads of the process) is less sensitive to other
    processes on a shared machine than wall time; both are reported."""
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    q1, _, q3 = statistics.quantiles(wall, n=4) if len(wall) > 1 else (wall[0],) * 3
    return {"median_s": statistics.median(wall), "iqr_s": [q1, q3], "min_s": min(wall), "max_s": max(wall),
            "cpu_median_s": statistics.median(cpu), "steps": len(times), "all_s": wall, "all_cpu_s": cpu}


def time_steps(scale: Scale, variants: list[Variant], steps: int, warmup: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Round-robin steps of every variant (same batch per round); ``warmup`` rounds are dropped. Ratios are to the
    first variant: of the medians, and the median of the per-round ratios (paired, robust to load drifts)."""
    trainers = [Trainer(scale, v) for v in variants]
    times: list[list[tuple[float, float]]] = [[] for _ in variants]
    for r in range(warmup + steps):
        batch = make_batch(scale, scale.batch, seed=r)
        for t, out in zip(trainers, times):
            out.append(t.step(batch))
        say(f"  round {r + 1}/{warmup + steps}: " + "  ".join(f"{x[-1][0]:.2f}s" for x in times))
    result = {}
    for v, t, out in zip(variants, trainers, times):
        result[v.label] = {"variant": asdict(v), "parameters": parameter_count(t.model), **summarise(out[warmup:])}
    base = times[0][warmup:]
    for v, out in zip(variants[1:], times[1:]):
        mine = out[warmup:]
        result[v.label]["ratio_to_first"] = {
            "of_medians": statistics.median(a for a, _ in mine) / statistics.median(a for a, _ in base),
            "median_paired": statistics.median(a[0] / b[0] for a, b in zip(mine, base)),
            "cpu_of_medians": statistics.median(a for _, a in mine) / statistics.median(b for _, b in base),
        }
    return result


def _peak_rss_gb() -> float:
    """This process's peak resident set size: ``VmHWM`` of /proc/self/status where there is one. ``ru_maxrss`` is not
    used for the child: Linux carries the parent's RSS at fork over the exec into it, so a child forked from a large
    parent reports at least that."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) * 1024 / 1e9
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux reports KiB


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: build one variant, run ``steps`` steps, report peak RSS."""
    scale = PAPER if spec["scale"] == "paper" else cpu_preset()
    base = _peak_rss_gb()
    trainer = Trainer(scale, Variant(**spec["variant"]))
    built = _peak_rss_gb()
    times = [trainer.step(make_batch(scale, spec["batch"], seed=i))[0] for i in range(spec["steps"])]
    return {"peak_rss_gb": _peak_rss_gb(), "rss_after_import_gb": base, "rss_after_build_gb": built, "step_s": times}


def measure_memory(scale: Scale, variant: Variant, batch: int, steps: int) -> dict[str, Any]:
    spec = {"scale": scale.name, "variant": asdict(variant), "batch": batch, "steps": steps}
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        return {"variant": variant.label, "batch": batch, "error": proc.stderr.strip().splitlines()[-1:]}
    return {"variant": variant.label, "batch": batch, **json.loads(proc.stdout.strip().splitlines()[-1])}


class TokenFeatures:
    """A ``TokenSource`` over fixed token features: ``batch(ids)`` trims to the longest sequence when ``trim``."""

    def __init__(self, tokens: Tensor, mask: Tensor, trim: bool) -> None:
        self.tokens, self.mask, self.trim = tokens, mask, trim

    def batch(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        mask = self.mask[ids]
        length = int(mask.sum(dim=1).max()) if self.trim else mask.shape[1]
        return self.tokens[ids, :length], mask[:, :length]


@torch.no_grad()
def embed_all(model: RunModules, modality: str, source: TokenFeatures, n: int, batch_size: int) -> Tensor:
    return torch.cat([embed(model, modality, *source.batch(torch.arange(s, min(n, s + batch_size))))
                      for s in range(0, n, batch_size)])


def eval_data(scale: Scale, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(1234)
    text, text_mask = random_tokens(n, scale.text_tokens, scale.text_dim, scale.caption_lengths, g)
    points, point_mask = random_tokens(n, scale.point_tokens, scale.point_dim, None, g)
    return text, text_mask, points, point_mask


def hyperalign_eval(model: RunModules, data: tuple[Tensor, ...], n: int, batch_size: int = 128) -> dict[str, Any]:
    """``evaluate_view``'s procedure: embed N texts and N shapes once, in batches, then rank in chunks."""
    text, text_mask, points, point_mask = (x[:n] for x in data)
    t0 = time.perf_counter()
    emb_text = embed_all(model, "text", TokenFeatures(text, text_mask, trim=True), n, batch_size)
    t1 = time.perf_counter()
    emb_shapes = embed_all(model, "points", TokenFeatures(points, point_mask, trim=True), n, batch_size)
    t2 = time.perf_counter()
    metrics = cross_modal_metrics(emb_text, emb_shapes, torch.eye(n, dtype=torch.bool), model.model.space.pairwise_distance)
    t3 = time.perf_counter()
    return {"n": n, "total_s": t3 - t0, "embed_text_s": t1 - t0, "embed_shapes_s": t2 - t1, "rank_s": t3 - t2,
            "rsum": metrics["rsum"], "metrics": metrics}


@torch.no_grad()
def blockwise_reference(model: RunModules, data: tuple[Tensor, ...], n: int, block: int = 50,
                        max_blocks: int | None = None) -> dict[str, Any]:
    """The reference's evaluation: for every (text block, shape block) of ``block`` items, run the model on both
    blocks (captions at their fixed L_t, as the reference's cached features) and fill that block of the distance
    matrix; then rank both directions. ``max_blocks`` times only the first blocks (row-major) and extrapolates."""
    text, text_mask, points, point_mask = (x[:n] for x in data)
    texts, shapes = TokenFeatures(text, text_mask, trim=False), TokenFeatures(points, point_mask, trim=False)
    starts = [(i, j) for i in range(0, n, block) for j in range(0, n, block)]
    run = starts[:max_blocks] if max_blocks else starts
    dist = torch.full((n, n), float("nan"))
    t0 = time.perf_counter()
    for i, j in run:
        rows, cols = torch.arange(i, min(n, i + block)), torch.arange(j, min(n, j + block))
        t = embed(model, "text", *texts.batch(rows))
        s = embed(model, "points", *shapes.batch(cols))
        dist[i : i + block, j : j + block] = model.model.space.pairwise_distance(t, s)
    out: dict[str, Any] = {"n": n, "block": block, "blocks": len(starts), "blocks_timed": len(run)}
    if len(run) == len(starts):
        relevant = torch.eye(n, dtype=torch.bool)
        metrics = {**rank_metrics(first_relevant_ranks(dist, relevant), prefix="t2s_"),
                   **rank_metrics(first_relevant_ranks(dist.T, relevant), prefix="s2t_")}
        out["rsum"] = 100.0 * sum(metrics[f"{d}_R@{k}"] for d in ("t2s", "s2t") for k in (1, 5, 10))
    out["total_s"] = (time.perf_counter() - t0) * len(starts) / len(run)
    return out


def timed_backward(fn: Callable[[], Tensor], repeats: int) -> dict[str, float]:
    """Forward + backward of ``fn()`` (a scalar): minimum and median wall and CPU seconds over ``repeats`` runs."""
    wall, cpu = [], []
    fn().backward()  # warm-up
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn().backward()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"min_s": min(wall), "median_s": statistics.median(wall), "cpu_min_s": min(cpu), "cpu_median_s": statistics.median(cpu)}


def hyperbolic_ops(scale: Scale, repeats: int = 10) -> dict[str, dict[str, float]]:
    """Forward + backward of the parts that differ between the Lorentz model and its Euclidean twin, on contextual
    tokens of the step's shapes: aggregation (both modalities), + the embedding map, + the loss; also the Lorentz
    and a whole Euclidean step for scale. One thread:
    its CPU time is the work done, without the OpenMP waits that a loaded machine adds to every small operation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        batch = make_batch(scale, scale.batch, seed=0)
        text_mask = batch.text_inputs(trim=True)[1]
        h_text = torch.randn(*text_mask.shape, scale.dim, generator=g).requires_grad_()
        h_points = torch.randn(scale.batch, scale.point_tokens, scale.dim, generator=g).requires_grad_()
        out = {}
        kinds: tuple[SpaceKind, ...] = ("lorentz", "euclidean")
        for kind in kinds:
            run = build_run(replace(scale, layers=0), Variant(kind, space=kind))
            pool_t, pool_p, space, loss = run.model.text_pool, run.model.point_pool, run.model.space, run.loss

            # each closure is timed within its own iteration; the defaults bind this iteration's modules explicitly
            def pooled(pool_t: nn.Module = pool_t, pool_p: nn.Module = pool_p, space: nn.Module = space) -> tuple[Tensor, Tensor]:
                return pool_t(h_text, text_mask, space, "text")[0], pool_p(h_points, batch.point_mask, space, "points")[0]

            def embedded(pooled: Callable[[], tuple[Tensor, Tensor]] = pooled, space: nn.Module = space) -> tuple[Tensor, Tensor]:
                zt, zp = pooled()
                return space(zt, "text"), space(zp, "points")

            def full(embedded: Callable[[], tuple[Tensor, Tensor]] = embedded, loss: Objective = loss, space: nn.Module = space) -> Tensor:
                x, y = embedded()
                return weighted_total(loss(x, y, batch.positives, space).terms, loss.cfg.weights())

            out[f"{kind} aggregation"] = timed_backward(lambda: sum(z.sum() for z in pooled()), repeats)
            out[f"{kind} aggregation + embedding"] = timed_backward(lambda: sum(z.sum() for z in embedded()), repeats)
            out[f"{kind} all (+ dual loss)"] = timed_backward(full, repeats)
        trainer = Trainer(scale, EUCLIDEAN)
        cpu = [trainer.step(make_batch(scale, scale.batch, seed=i))[1] for i in range(4)][1:]
        out["euclidean step"] = {"cpu_min_s": min(cpu), "cpu_median_s": statistics.median(cpu)}
    finally:
        torch.set_num_threads(threads)
    return out


def profile_step(scale: Scale, rows: int = 10) -> dict[str, Any]:
    """torch.profiler of one hyperalign step (after one warm-up step): the top ops by self CPU time, overall and
    split by input shapes (which tells, e.g., dropout's (B, L, 4d) products from the aggregation's (B, L, d) ones)."""
    from torch.profiler import ProfilerActivity, profile

    trainer = Trainer(scale, FUSED)
    trainer.step(make_batch(scale, scale.batch, seed=0))
    batch = make_batch(scale, scale.batch, seed=1)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        wall, _ = trainer.step(batch)

    def top(events: Any, shapes: bool) -> list[dict[str, Any]]:
        events = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        return [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6, "share": e.self_cpu_time_total / total,
                 "calls": e.count, **({"input_shapes": str(e.input_shapes)} if shapes else {})} for e in events[:rows]]

    return {"step_wall_s": wall, "ops": top(prof.key_averages(), False),
            "ops_by_shape": top(prof.key_averages(group_by_input_shape=True), True)}


class TowerCallCounter(TrainCallbacks):
    """Counts the text tower's forward calls per phase of a training run: ``setup`` (filling the feature cache),
    ``epoch k`` (its training steps) and ``other`` (validation), through a forward hook on the run's tower."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.calls: dict[str, int] = {}

    def on_text_tower(self, tower: nn.Module) -> None:
        tower.register_forward_pre_hook(lambda module, args: self._count())

    def _count(self) -> None:
        self.calls[self.phase] = self.calls.get(self.phase, 0) + 1

    def on_epoch_start(self, epoch: int) -> None:
        self.phase = f"epoch {epoch}"

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        self.phase = "other"


def data_wait(workdir: Path, workers: tuple[int, ...], epochs: int, say: Callable[[str], None]) -> dict[str, Any]:
    """Train the CPU preset on the demo data with each worker count; the loop's ``data_wait_s`` per epoch and the
    text-tower calls per phase (setup = filling the feature cache, epoch k = its training steps, other = validation)."""
    from hyperalign.data.demo import make_demo
    from hyperalign.train import loop

    index = make_demo(workdir / "demo")
    runs = []
    for nw in workers:
        counter = TowerCallCounter()
        cfg = load_config("h2arn-cpu", [f"data.path={index.parent}", f"cache_dir={workdir / 'cache'}",
                                        f"data.num_workers={nw}", f"optim.epochs={epochs}"])
        result = loop.train(cfg, workdir / f"run-w{nw}", resume=False, progress=False, callbacks=counter)
        epochs_out = [{k: h[k] for k in ("epoch", "steps", "data_wait_s", "epoch_time_s")} for h in result.history]
        for e in epochs_out:
            e["wait_share"] = e["data_wait_s"] / e["epoch_time_s"]
        runs.append({"num_workers": nw, "epochs": epochs_out, "text_tower_calls": dict(counter.calls)})
        say(f"  num_workers={nw}: wait " + ", ".join(f"{e['data_wait_s']:.2f}s/{e['epoch_time_s']:.1f}s" for e in epochs_out)
            + f"; tower calls {dict(counter.calls)}")
    return {"runs": runs, "note": "first run fills the on-disk feature cache; the second reads it"}


SECTIONS = ("memory", "steps", "variants", "ops", "profile", "eval")


def run_scale(scale: Scale, args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"scale": asdict(scale)}
    if "memory" in args.sections:  # first, while this process is small: a child at batch 256 needs ~12 GB
        say(f"[{scale.name}] peak memory, one subprocess per configuration")
        configs = [(NAIVE, scale.batch), (FUSED, scale.batch)]
        if scale.big_batch:
            configs += [(FUSED, scale.big_batch), (CHECKPOINTED, scale.big_batch)]
        out["memory"] = []
        for variant, batch in configs:
            out["memory"].append(measure_memory(scale, variant, batch, args.memory_steps))
            say(f"  {variant.label}, batch {batch}: {out['memory'][-1].get('peak_rss_gb', 'failed')} GB")
    if "steps" in args.sections:
        say(f"[{scale.name}] step time, {args.steps} steps after {args.warmup} warm-up, interleaved")
        out["steps"] = time_steps(scale, [NAIVE, FUSED, EUCLIDEAN], args.steps, args.warmup, say)
    if "variants" in args.sections:
        say(f"[{scale.name}] variants isolating each change, {args.variant_steps} steps after 1 warm-up")
        variants = [FUSED, FUSED_UNTRIMMED, FUSED_ATTN_DROPOUT, UNFUSED_ADAMW, BF16]
        out["variants"] = time_steps(scale, variants, args.variant_steps, 1, say)
    gc.collect()
    if "ops" in args.sections:
        say(f"[{scale.name}] hyperbolic operations on their own")
        out["hyperbolic_ops"] = hyperbolic_ops(scale)
    if "profile" in args.sections and scale.name == "paper":
        say(f"[{scale.name}] profiling one step")
        out["profile"] = profile_step(scale)
    if "eval" in args.sections:
        torch.manual_seed(0)
        model = build_run(scale, FUSED).eval()
        data = eval_data(scale, max(args.eval_n))
        out["eval"] = []
        for n in sorted(args.eval_n):
            out["eval"].append(hyperalign_eval(model, data, n))
            say(f"[{scale.name}] eval N={n}: {out['eval'][-1]['total_s']:.1f}s")
        out["blockwise"] = blockwise_reference(model, data, args.blockwise_n, max_blocks=args.blockwise_blocks)
        say(f"[{scale.name}] blockwise N={args.blockwise_n}: {out['blockwise']['total_s']:.1f}s")
    out["summary"] = summary(out)
    return out


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers from whichever sections of one scale were measured."""
    out: dict[str, Any] = {}
    if "steps" in res:
        steps = res["steps"]
        out["parameters"] = {label: steps[label]["parameters"] for label in (NAIVE.label, FUSED.label)}
        for v in (FUSED,):
            ratio = steps[v.label]["ratio_to_first"]
            out[f"step ratio vs naive: {v.label}"] = {
                "wall_medians": ratio["of_medians"], "wall_paired": ratio["median_paired"], "cpu_medians": ratio["cpu_of_medians"]}
        for v in (FUSED,):
            paired = [a / b for a, b in zip(steps[v.label]["all_s"], steps[EUCLIDEAN.label]["all_s"])]
            out[f"hyperbolic overhead, full step vs Euclidean twin: {v.label}"] = {
                "wall_medians": steps[v.label]["median_s"] / steps[EUCLIDEAN.label]["median_s"] - 1.0,
                "wall_paired": statistics.median(paired) - 1.0,
                "cpu_medians": steps[v.label]["cpu_median_s"] / steps[EUCLIDEAN.label]["cpu_median_s"] - 1.0}
    if "hyperbolic_ops" in res:
        ops = res["hyperbolic_ops"]
        for kind in ("lorentz",):
            out[f"hyperbolic overhead, ops alone: {kind}"] = {  # one thread: per CPU second of the Euclidean step
                stat: (ops[f"{kind} all (+ dual loss)"][stat] - ops["euclidean all (+ dual loss)"][stat])
                / ops["euclidean step"][stat] for stat in ("cpu_min_s", "cpu_median_s")}
    if "memory" in res:
        out["peak_rss_gb"] = {f"{m['variant']} @ {m['batch']}": m.get("peak_rss_gb") for m in res["memory"]}
    if "eval" in res:
        largest = max(res["eval"], key=lambda e: e["n"])
        block = res["blockwise"]
        extrapolated = block["total_s"] * (largest["n"] / block["n"]) ** 2
        out.update({
            "eval_n": largest["n"], "eval_s": largest["total_s"], "blockwise_s_extrapolated": extrapolated,
            "blockwise_note": f"measured at N = {block['n']} ({block['blocks_timed']} of {block['blocks']} blocks timed), "
                              f"times (N / {block['n']})^2",
            "eval_speedup": extrapolated / largest["total_s"],
            "eval_speedup_at_blockwise_n": next((block["total_s"] / e["total_s"] for e in res["eval"] if e["n"] == block["n"]), None),
        })
    return out


def _steps_rows(title: str, steps: dict[str, Any], batch: int) -> list[str]:
    return [f"| {title}: {label}, batch {batch} | median {st['median_s']:.2f} s (IQR {st['iqr_s'][0]:.2f}-{st['iqr_s'][1]:.2f}, "
            f"{st['steps']} steps; CPU median {st['cpu_median_s']:.2f} s) | |" for label, st in steps.items()]


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Speed benchmark",
        "",
        f"{m['cpu_count']} CPU cores, torch {m['torch']}, {m['torch_threads']} threads, {m['platform']}; "
        f"load average {m['load_start']} at start, {m['load_end']} at end. The machine is shared: ratios are measured "
        "side by side (variants interleaved round by round), absolute times are noisy. CPU time is the process's (all "
        "threads); under load it includes OpenMP spin-waiting, so it is no cleaner than wall time.",
        "",
        *[f"{note}\n" for note in result.get("notes", [])],
    ]
    for name, res in result["scales"].items():
        s, batch = res["summary"], res["scale"]["batch"]
        lines += [f"## {name}", "", "| measure | value | target |", "| --- | --- | --- |"]
        if "steps" in res:
            lines.append("| parameters (naive / hyperalign) | " + " / ".join(f"{v / 1e6:.2f}M" for v in s["parameters"].values())
                         + " | the reference: 37.8M |")
            lines += _steps_rows("step", res["steps"], batch)
            for key, r in s.items():
                if key.startswith("step ratio"):
                    lines.append(f"| {key} | wall medians {r['wall_medians']:.3f}, paired per round {r['wall_paired']:.3f}, "
                                 f"CPU medians {r['cpu_medians']:.3f} | <= 0.5 |")
                if key.startswith("hyperbolic overhead, full step"):
                    lines.append(f"| {key} | wall medians {100 * r['wall_medians']:+.1f} %, paired {100 * r['wall_paired']:+.1f} %, "
                                 f"CPU medians {100 * r['cpu_medians']:+.1f} % | <= 5 % |")
        if "variants" in res:
            lines += _steps_rows("variant", res["variants"], batch)
        for key, gb in s.get("peak_rss_gb", {}).items():
            lines.append(f"| peak RSS, {key} | {'failed' if gb is None else f'{gb:.2f} GB'} | {'<= 12 GB' if key.endswith('256') else ''} |")
        if "eval" in res:
            lines.append(f"| eval N = {s['eval_n']} (both directions, all metrics) | {s['eval_s']:.1f} s | <= 600 s |")
            for e in res["eval"]:
                lines.append(f"| eval N = {e['n']}: embed text / shapes / rank | {e['embed_text_s']:.1f} / {e['embed_shapes_s']:.1f} / {e['rank_s']:.2f} s | |")
            lines.append(f"| blockwise reference, extrapolated to N = {s['eval_n']} | {s['blockwise_s_extrapolated']:.0f} s ({s['blockwise_note']}) | |")
            lines.append(f"| eval speed-up vs blockwise at N = {s['eval_n']} | {s['eval_speedup']:.0f}x | >= 100x |")
            if s["eval_speedup_at_blockwise_n"] is not None:
                lines.append(f"| eval speed-up vs blockwise at N = {res['blockwise']['n']} (both measured) | {s['eval_speedup_at_blockwise_n']:.1f}x | |")
        for key, r in s.items():
            if key.startswith("hyperbolic overhead, ops alone"):
                lines.append(f"| {key} (Lorentz - Euclidean parts, one thread, per CPU s of a Euclidean step) | "
                             f"{100 * r['cpu_min_s']:+.2f} % (minima), {100 * r['cpu_median_s']:+.2f} % (medians) | <= 5 % |")
        for op, t in res.get("hyperbolic_ops", {}).items():
            lines.append(f"| ops (one thread): {op}, fwd + bwd | CPU min {t['cpu_min_s'] * 1e3:.0f} ms, median {t['cpu_median_s'] * 1e3:.0f} ms | |")
        if "profile" in res:
            lines += ["", f"Profile of one hyperalign step ({res['profile']['step_wall_s']:.1f} s wall; top ops by self CPU time):", "",
                      "| op | self s | share | calls |", "| --- | --- | --- | --- |"]
            lines += [f"| {p['op']} | {p['self_s']:.2f} | {100 * p['share']:.1f} % | {p['calls']} |" for p in res["profile"]["ops"]]
        lines.append("")
    if "data_wait" in result:
        lines += ["## Data loading and feature caching (CPU preset, demo data)", "",
                  "| workers | epoch | steps | data wait | epoch time | wait share | text-tower calls in the run |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for run in result["data_wait"]["runs"]:
            for e in run["epochs"]:
                lines.append(f"| {run['num_workers']} | {e['epoch']} | {e['steps']} | {e['data_wait_s']:.2f} s | "
                             f"{e['epoch_time_s']:.1f} s | {100 * e['wait_share']:.1f} % | {run['text_tower_calls']} |")
        lines += ["", result["data_wait"]["note"], ""]
    return "\n".join(lines)


def carry_over(result: dict[str, Any], old: dict[str, Any], source: str) -> None:
    """Copy into ``result`` the sections it lacks from an earlier run ``old`` (per scale, and the data-wait study),
    recompute each scale's summary, and say in the notes which sections are carried over."""
    carried = []
    for name, res in result["scales"].items():
        missing = [k for k in old.get("scales", {}).get(name, {}) if k not in res and k not in ("summary", "scale")]
        for key in missing:
            res[key] = old["scales"][name][key]
        res["summary"] = summary(res)
        carried += [f"{name}/{k}" for k in missing]
    if "data_wait" not in result and "data_wait" in old:
        result["data_wait"] = old["data_wait"]
        carried.append("data_wait")
    if carried:
        result["carried_over"] = {"from": source, "sections": carried}
        result["notes"].append(f"Carried over unchanged from an earlier run ({source}, whose own notes follow): "
                               + ", ".join(carried) + ".")
        result["notes"] += [f"(earlier run) {n}" for n in old.get("notes", [])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--scales", nargs="+", default=["paper", "cpu-preset"], choices=["paper", "cpu-preset"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant after warm-up")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--variant-steps", type=int, default=3, help="timed steps of the secondary variants")
    parser.add_argument("--memory-steps", type=int, default=2, help="steps per memory subprocess (2: AdamW state is live)")
    parser.add_argument("--eval-n", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--blockwise-n", type=int, default=500)
    parser.add_argument("--blockwise-blocks", type=int, default=None, help="time only the first blocks and extrapolate")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS, help="per-scale sections to run")
    parser.add_argument("--no-data-wait", dest="data_wait", action="store_false")
    parser.add_argument("--keep-from", type=Path, default=None,
                        help="a previous speed.json: sections not measured now are carried over from it, and marked so")
    parser.add_argument("--note", action="append", default=[], help="a sentence for the report (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(memory_child(json.loads(args.child))))
        return

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "speed", "hyperalign": __version__, "reference": REFERENCE, "machine": {
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "platform": platform.platform(), "python": platform.python_version(), "load_start": os.getloadavg()}}
    result["scales"] = {}
    for name in args.scales:
        result["scales"][name] = run_scale(PAPER if name == "paper" else cpu_preset(), args, say)
    if args.data_wait:
        say("[cpu-preset] data wait and text-tower calls on the demo data")
        with tempfile.TemporaryDirectory() as tmp:
            result["data_wait"] = data_wait(Path(tmp), (0, 2), epochs=2, say=say)
    result["notes"] = list(args.note)
    if args.keep_from is not None:
        carry_over(result, json.loads(args.keep_from.read_text()), str(args.keep_from))
    result["machine"]["load_end"] = os.getloadavg()
    result["wall_s"] = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(result, indent=2))
    (args.out / "speed.md").write_text(markdown(result))
    say(f"wrote {args.out / 'speed.json'} and {args.out / 'speed.md'} ({result['wall_s'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
