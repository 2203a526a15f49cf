"""The training loop: AdamW with warm-up then linear or cosine decay, gradient clipping, validation-based model
selection, atomic checkpoints every epoch and exact resume.

Reproducibility: the model is initialised from ``seed``; the epoch's order is ``DistributedSampler``'s permutation
of ``(seed, epoch)`` and each pair's caption, point sample and augmentation come from ``(seed, epoch, index)``
(:class:`~hyperalign.data.pairs.PairDataset`); the torch RNG (dropout) is saved with every checkpoint. A run resumed
from the checkpoint of epoch ``e`` therefore reproduces the uninterrupted run on the CPU.

Distributed (``torchrun --nproc-per-node N hyperalign train ...``): each rank takes ``batch_size / N`` pairs of the
global batch, embeddings and ids are all-gathered with gradients so the losses see the whole global batch, and DDP
averages gradients (:mod:`hyperalign.train.distributed`); N ranks x B/N equal one process x B. Only rank 0
validates, writes checkpoints and logs; a checkpoint resumes under any world size.

Model selection uses the validation split only; the test split is never read here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from hyperalign import __version__
from hyperalign.atomic import write_text_atomic
from hyperalign.checkpoint import CheckpointManager, load_trainer_state, load_weights, resolve_checkpoint
from hyperalign.config import TrainConfig, dump_config
from hyperalign.data.pairs import CaptionTable, PairDataset, PointStore, SplitView
from hyperalign.encoders.text import TextTower
from hyperalign.eval.evaluate import evaluate_view
from hyperalign.losses.registry import BatchInput, get_method
from hyperalign.runtime.datasets import resolve_dataset
from hyperalign.runtime.features import CaptionFeatures, caption_features
from hyperalign.train import distributed as D
from hyperalign.train.setup import RunModules, build_modules


def param_groups(modules: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: weight decay on matrices only; biases, norms and the bounded log-scalars (curvature, alpha,
    temperatures) are never decayed (as MERU)."""
    decay, no_decay = [], []
    for name, p in modules.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and not name.endswith("log_value") else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(modules: nn.Module, lr: float, betas: tuple[float, float], weight_decay: float) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`, fused: one kernel per parameter instead of several elementwise passes, the
    same update as the unfused AdamW (on this 2-core CPU no measurable difference at paper scale:
    ``benchmarks/results/speed.md``, 16.9 vs 16.8 s per step)."""
    return torch.optim.AdamW(param_groups(modules, weight_decay), lr=lr, betas=betas, fused=True)


def lr_factor(total_steps: int, warmup_frac: float, schedule: str) -> Callable[[int], float]:
    """LR multiplier of step ``t``: linear warm-up ``(t + 1) / W`` over ``W = round(warmup_frac * T)`` steps (H2ARN:
    10 %), then decay to 0 at step ``T`` over progress ``p = (t - W) / (T - W)``: ``linear`` ``1 - p`` (H2ARN,
    Sec. Implementation) or ``cosine`` ``(1 + cos(pi p)) / 2``."""
    if schedule not in ("linear", "cosine"):
        raise ValueError(f"schedule must be 'linear' or 'cosine'; got {schedule!r}")
    warmup = max(1, int(round(warmup_frac * total_steps)))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def weighted_total(terms: dict[str, Tensor], weights: dict[str, float]) -> Tensor:
    """``sum_k w_k * term_k`` over the named terms the loss returned."""
    total = torch.zeros((), dtype=torch.float32)
    for name, value in terms.items():
        total = total + weights.get(name, 0.0) * value
    return total


def level_inputs(
    run: RunModules, feats: CaptionFeatures, batch: dict[str, Tensor], device: torch.device, bf16: bool
) -> dict[str, Tensor]:
    """The ``levels`` batch input: one caption per tree level embedded (zero rows where an item has none), with
    caption and tree-node ids, all-gathered like the batch."""
    level_ids = batch["level_caption_ids"]
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        flat = run.model.embed_text_tokens(*(t.to(device) for t in feats.batch(level_ids[level_ids >= 0])))
    where = (level_ids >= 0).nonzero(as_tuple=True)
    level_text = flat.new_zeros(*level_ids.shape, flat.shape[-1]).index_put(tuple(w.to(device) for w in where), flat)
    return {"level_text": D.gather_with_grad(level_text), "level_caption_ids": D.gather_ids(level_ids.to(device)),
            "level_node_ids": D.gather_ids(batch["level_node_ids"].to(device))}


BatchInputBuilder = Callable[[RunModules, CaptionFeatures, dict[str, Tensor], torch.device, bool], dict[str, Tensor]]
BATCH_INPUTS: dict[BatchInput, BatchInputBuilder] = {"levels": level_inputs}
"""How the loop builds each extra batch input an objective may declare (:data:`hyperalign.losses.registry.BatchInput`)."""


def _collate(batch: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {k: torch.stack([b[k] for b in batch]) for k in batch[0]}


def _scalars(run: RunModules) -> dict[str, float]:
    """Learned scalars logged each epoch: the objective's (temperature), then the model's (curvatures, scales,
    aggregation temperatures)."""
    return {k: v.item() for k, v in {**run.loss.scalars(), **run.model.scalars()}.items()}


class TrainCallbacks:
    """Hook points of :func:`train`; every method is a no-op here: subclass and override what you need (benchmarks
    and tools observe a run this way instead of patching the loop)."""

    def on_text_tower(self, tower: TextTower) -> None:
        """The run's text tower, before it fills the feature cache (or, when trainable, before training)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Before the training steps of ``epoch``."""

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        """After the training steps of ``epoch`` (its losses and timings in ``record``), before validation."""


@dataclass
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    best_metric: float
    history: list[dict[str, Any]] = field(default_factory=list)


class NonFiniteLossError(FloatingPointError):
    """Raised before an optimiser step whose loss is NaN or Inf; the weights are left untouched."""


def train(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    stop_after_epoch: int | None = None,
    callbacks: TrainCallbacks | None = None,
) -> TrainResult:
    """Train ``cfg`` into ``run_dir``; continue from its latest checkpoint when ``resume`` and one exists.

    ``stop_after_epoch`` ends the run early after that epoch (for tests of resume); the schedule is still the one
    of ``optim.epochs``. ``callbacks`` observe the run (:class:`TrainCallbacks`).
    """
    callbacks = callbacks or TrainCallbacks()
    D.init_from_env()
    main = D.is_main()
    say = (log or (lambda msg: None)) if main else (lambda msg: None)
    run_dir = Path(run_dir)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", dump_config(cfg))
    world = D.world_size()
    if cfg.optim.batch_size % world:
        raise ValueError(f"optim.batch_size ({cfg.optim.batch_size}) must be divisible by the number of processes ({world})")

    dataset = resolve_dataset(cfg)
    table = CaptionTable.from_dataset(dataset)
    train_view = SplitView.build(dataset, table, "train")
    val_view = SplitView.build(dataset, table, "val")
    say(f"data: {dataset.root} ({len(train_view.items)} train / {len(val_view.items)} val shapes, {len(table.texts)} captions)")
    tower = TextTower(cfg.model.text)
    callbacks.on_text_tower(tower)
    feats = caption_features(cfg, table.texts, tower, progress=progress and main)
    run = build_modules(cfg, feats.dim, feats.tower)
    train_store, val_store = PointStore(dataset, train_view.items), PointStore(dataset, val_view.items)
    dc = cfg.data
    pairs = PairDataset(
        train_view, table, train_store, points_per_cloud=dc.points_per_cloud, seed=cfg.seed,
        augment=dc.augment, jitter=dc.jitter, scale_range=dc.scale_range, rotate_up=dc.rotate_up,
        level_weights=dc.level_weights, up_axis=dataset.index.up_axis,
    )
    oc = cfg.optim
    steps_per_epoch = math.ceil(len(pairs) / oc.batch_size)
    optimizer = make_optimizer(run, oc.lr, oc.betas, oc.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_factor(oc.epochs * steps_per_epoch, oc.warmup_frac, oc.schedule)
    )
    manager = CheckpointManager(run_dir, cfg.keep_checkpoints)
    metrics_path = run_dir / "metrics.jsonl"

    start_epoch, best_metric, history = 1, -math.inf, []
    latest = manager.latest() if resume else None
    if latest is not None:
        load_weights(latest, run)
        meta = load_trainer_state(latest, optimizer, scheduler)
        start_epoch = int(meta["epoch"]) + 1
        best_metric = float(meta.get("best_metric", -math.inf))
        history = [h for h in _read_history(metrics_path) if h["epoch"] < start_epoch]
        say(f"resumed from {latest} (epoch {meta['epoch']})")
    elif cfg.init_points_from is not None:
        source = resolve_checkpoint(Path(cfg.init_points_from).expanduser())
        load_weights(source, run.model.point_tower, prefix="model.point_tower.")
        say(f"point tower initialised from {source}")
    if main:
        write_text_atomic(metrics_path, "".join(json.dumps(h) + "\n" for h in history))
    device = D.device()
    run.to(device)
    forward = DistributedDataParallel(run, device_ids=[device] if device.type == "cuda" else None) if D.is_distributed() else run

    meta_base = {
        "hyperalign_version": __version__,
        "config": cfg.model_dump(mode="json"),
        "text_dim": feats.dim,
        "preprocessing": {
            "points_per_cloud": dc.points_per_cloud, "channels": dc.channels,
            "normalisation": "unit sphere (centroid, max radius 1)", "text_model": cfg.model.text.model,
            "text_max_tokens": cfg.model.text.max_tokens, "up_axis": dataset.index.up_axis,
        },
        "dataset": str(dataset.root),
    }
    last_epoch = oc.epochs if stop_after_epoch is None else min(oc.epochs, stop_after_epoch)
    for epoch in range(start_epoch, last_epoch + 1):
        t0 = time.perf_counter()
        callbacks.on_epoch_start(epoch)
        record = _train_epoch(run, forward, pairs, feats, optimizer, scheduler, cfg, epoch, progress and main)
        record["epoch_time_s"] = time.perf_counter() - t0
        callbacks.on_epoch_end(epoch, record)
        record.update(_scalars(run))
        if main and (epoch % cfg.eval.every == 0 or epoch == oc.epochs):
            val = evaluate_view(
                run.model, val_view, table, feats, val_store,
                points_per_cloud=dc.points_per_cloud, batch_size=cfg.eval.batch_size, chunk_size=cfg.eval.chunk_size,
            )
            if cfg.eval.select_metric not in val:
                raise KeyError(f"eval.select_metric {cfg.eval.select_metric!r} is not a metric; choose from {sorted(val)}")
            record.update({f"val/{k}": v for k, v in val.items()})
            if val[cfg.eval.select_metric] > best_metric:
                best_metric = val[cfg.eval.select_metric]
                manager.save_best(run, {**meta_base, "epoch": epoch, "val": val, "best_metric": best_metric})
        history.append(record)
        if main:
            with metrics_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            manager.save_epoch(epoch, run, {**meta_base, "epoch": epoch, "best_metric": best_metric}, optimizer, scheduler)
        say(_epoch_line(record, cfg.eval.select_metric))
    return TrainResult(run_dir, manager.best, best_metric, history)


def _train_epoch(
    run: RunModules,
    forward: nn.Module,
    pairs: PairDataset,
    feats: CaptionFeatures,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    cfg: TrainConfig,
    epoch: int,
    progress: bool,
) -> dict[str, Any]:
    """One epoch; ``forward`` is ``run`` or its DDP wrapper. Losses are computed on the all-gathered global batch."""
    from tqdm.auto import tqdm

    run.train()
    pairs.set_epoch(epoch)
    sampler = DistributedSampler(pairs, num_replicas=D.world_size(), rank=D.rank(), shuffle=True, seed=cfg.seed)
    sampler.set_epoch(epoch)
    loader = DataLoader(
        pairs, batch_size=cfg.optim.batch_size // D.world_size(), sampler=sampler, collate_fn=_collate,
        num_workers=cfg.data.num_workers, persistent_workers=False,
    )
    method = get_method(cfg.loss.method)
    weights = method.weights(cfg.loss)
    bf16 = cfg.optim.precision == "bf16"
    sums: dict[str, float] = {}
    n_steps, wait = 0, 0.0
    t_wait = time.perf_counter()
    for batch in tqdm(loader, desc=f"epoch {epoch}/{cfg.optim.epochs}", disable=not progress, leave=False):
        wait += time.perf_counter() - t_wait
        device = next(run.parameters()).device
        tokens, mask = (t.to(device) for t in feats.batch(batch["caption_id"]))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            text, points = forward(tokens, mask, batch["points"].to(device))
        text, points = D.gather_with_grad(text), D.gather_with_grad(points)
        caption_ids, shape_ids = (D.gather_ids(batch[k].to(device)).cpu() for k in ("caption_id", "shape_id"))
        positives = pairs.view.positives(caption_ids, shape_ids).to(device)
        inputs: dict[str, Tensor] = {}
        for name in sorted(method.batch_inputs):
            inputs |= BATCH_INPUTS[name](run, feats, batch, device, bf16)
        out = run.loss(text, points, positives, run.model.space, **inputs)
        terms = out.terms
        total = weighted_total(terms, weights)
        if not bool(torch.isfinite(total)):
            raise NonFiniteLossError(
                f"non-finite loss at epoch {epoch}, step {n_steps} (shape ids {shape_ids.tolist()[:8]}...): "
                f"{ {k: v.item() for k, v in terms.items()} }; the step was skipped and the weights are unchanged"
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(run.parameters(), cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        if out.chart_curvature is not None:
            run.model.space.set_chart_curvature(out.chart_curvature)
        for k, v in {**terms, "loss": total}.items():
            sums[k] = sums.get(k, 0.0) + v.item()
        n_steps += 1
        t_wait = time.perf_counter()
    record: dict[str, Any] = {"epoch": epoch, "steps": n_steps, "lr": scheduler.get_last_lr()[0], "data_wait_s": wait}
    record.update({k: v / max(1, n_steps) for k, v in sums.items()})
    return record


def _read_history(path: Path) -> list[dict[str, Any]]:
    """Records of ``metrics.jsonl``; a torn last line (a run killed while appending) is dropped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _epoch_line(record: dict[str, Any], select: str) -> str:
    parts = [f"epoch {record['epoch']}", f"loss {record.get('loss', float('nan')):.4f}"]
    if f"val/{select}" in record:
        parts.append(f"val {select} {record[f'val/{select}']:.2f}")
    if "curvature" in record:
        parts.append(f"c {record['curvature']:.3f}")
    parts.append(f"{record['epoch_time_s']:.1f}s")
    return " | ".join(parts)
