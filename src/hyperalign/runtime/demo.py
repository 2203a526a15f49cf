"""``hyperalign demo``: the whole pipeline on the built-in data in one call (make data, train, evaluate on the test
split once, answer a few example text queries, build the search index for `hyperalign serve`).

By default training is a short fine-tune of a shipped pretrained model (:mod:`hyperalign.pretrained`, or any run
directory; the demo's clouds are turned onto its up axis first); ``pretrained=None`` trains the ``h2arn-cpu`` preset
from scratch instead.
The driver prints an overall estimate before it starts and a line per stage with the time left.

Training is passed in (``train``: config and run directory in, run directory out), so this driver needs nothing from
the trainer's package; the command line passes :func:`hyperalign.train.loop.train`.

The example queries are fixed here, written with the demo generator's own words (its category and sub-type
captions, and :func:`~hyperalign.data.demo.catalogue.instance_captions` with a material of its palette that test
items of that sub-type have in the default demo data), two or three per caption level. Beside each answer the report
says whether the top result lies under the query's category (and sub-type, for sub-type and instance queries) in the
dataset's caption tree, and for instance queries whether its material is the one named.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hyperalign.config import TrainConfig
from hyperalign.data.demo.catalogue import CATALOGUE, instance_captions
from hyperalign.data.layout import Dataset, Item

Trainer = Callable[[TrainConfig, Path], Path]
DEFAULT_PRETRAINED = "h2arn-furniture"
FINE_TUNE_EPOCHS = 3
SCRATCH_EPOCHS = 40
# Seconds per stage of `hyperalign demo` (fine-tune of the shipped 384-d model, 3 epochs) measured on the project's
# 2-core machine while :func:`cpu_probe` took PROBE_REFERENCE seconds; an estimate scales them by the probe's time
# now. "features" is the text tower's first pass over the demo captions (cached afterwards).
STAGE_SECONDS = {"data": 13.0, "features": 10.0, "epoch": 4.8, "evaluate": 2.0, "queries": 1.0, "index": 6.0}
PROBE_REFERENCE = 0.07


def cpu_probe() -> float:
    """Seconds a fixed pure-Python loop takes now: how fast this process runs on this machine at this load."""
    start = time.perf_counter()
    total = 0
    for i in range(400_000):
        total += i * i % 7
    return time.perf_counter() - start


def load_factor() -> float:
    """How much slower than on an idle machine work runs when it shares the CPUs with the jobs already running:
    ``(load + 1) / cpus`` from the 1-minute load average, at least 1. The short :func:`cpu_probe` alone misses
    this: it often gets a whole time slice to itself."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return 1.0
    return max(1.0, (load + 1.0) / (os.cpu_count() or 1))


class StageClock:
    """Progress lines: an overall estimate up front, then each stage's time and the estimate of what is left."""

    def __init__(self, plan: dict[str, float], say: Callable[[str], None]) -> None:
        self.plan, self.say = dict(plan), say
        self.start = time.perf_counter()
        probe = cpu_probe()
        self.factor = max(probe / PROBE_REFERENCE, load_factor())
        total = sum(self.plan.values()) * self.factor
        steps = ", ".join(f"{k} ~{v * self.factor:.0f} s" for k, v in self.plan.items())
        self.say(f"demo: about {total:.0f} s in all on this machine now ({steps}; speed probe {probe * 1000:.0f} ms)")

    def done(self, stage: str) -> None:
        self.plan.pop(stage, None)
        elapsed = time.perf_counter() - self.start
        left = sum(self.plan.values()) * self.factor
        self.say(f"[{elapsed:5.0f} s] {stage} done; about {left:.0f} s left")


def _demo_config(data_dir: Path, pretrained: str | None, epochs: int | None) -> TrainConfig:
    from hyperalign.checkpoint import read_meta, resolve_checkpoint
    from hyperalign.config import apply_overrides, load_config, validate_config

    if pretrained is None:
        return load_config("h2arn-cpu", [f"data.path={data_dir}"] + ([f"optim.epochs={epochs}"] if epochs else []))
    meta = read_meta(resolve_checkpoint(pretrained))
    raw = apply_overrides(meta["config"], [
        f"data.path={data_dir}", f"init_from={pretrained}", f"optim.epochs={epochs or FINE_TUNE_EPOCHS}",
        "optim.lr=5e-4", "optim.warmup_frac=0.0", "eval.every=1", "name=demo-fine-tune",
    ])
    return validate_config(raw, f"{pretrained} (fine-tuned on the demo data)")


@dataclass(frozen=True)
class ExampleQuery:
    """A query text, its caption level and the tree node it names (``category`` or ``category/subtype``)."""

    text: str
    level: str
    node: str
    material: str | None = None


def _subtype(category: str, subtype: str):
    cat = next(c for c in CATALOGUE if c.id == category)
    return cat, next(s for s in cat.subtypes if s.id == subtype)


def category_query(category: str) -> ExampleQuery:
    """The category's first caption ("a chair")."""
    return ExampleQuery(next(c for c in CATALOGUE if c.id == category).captions[0], "category", category)


def subtype_query(category: str, subtype: str) -> ExampleQuery:
    """The sub-type's first caption ("an office chair")."""
    _, sub = _subtype(category, subtype)
    return ExampleQuery(sub.captions[0], "subtype", f"{category}/{subtype}")


def instance_query(category: str, subtype: str, material: str) -> ExampleQuery:
    """The generator's first instance caption for the sub-type in ``material``, no size or features ("a wooden
    pedestal table")."""
    _, sub = _subtype(category, subtype)
    return ExampleQuery(instance_captions(sub.noun, None, material, None, [])[0], "instance", f"{category}/{subtype}",
                        material)


EXAMPLE_QUERIES: tuple[ExampleQuery, ...] = (
    category_query("chair"),
    category_query("vase"),
    subtype_query("chair", "office-chair"),
    subtype_query("lamp", "floor"),
    instance_query("table", "pedestal", "wood"),
    instance_query("shelf", "bookcase", "black"),
    instance_query("stool", "bar", "blue"),
)


def check_top_result(query: ExampleQuery, dataset: Dataset, item: Item) -> dict[str, bool]:
    """Whether ``item`` lies under the query's category node (``right_category``) and, for sub-type and instance
    queries, under its sub-type node (``right_subtype``), by the item's ancestry in ``dataset``'s caption tree;
    for instance queries also whether ``meta.material`` is the one named (``right_material``)."""
    ancestry = {node.id for node in dataset.ancestors(item.node)} if item.node is not None else set()
    category = query.node.split("/", 1)[0]
    out = {"right_category": category in ancestry}
    if query.level != "category":
        out["right_subtype"] = query.node in ancestry
    if query.material is not None:
        out["right_material"] = item.meta.get("material") == query.material
    return out



def run_demo(
    out: Path, train: Trainer, *, epochs: int | None = None, log: Callable[[str], None] | None = None, top_k: int = 3,
    pretrained: str | None = DEFAULT_PRETRAINED,
) -> dict[str, Any]:
    from hyperalign.atomic import write_text_atomic
    from hyperalign.checkpoint import read_meta, resolve_checkpoint
    from hyperalign.data.combine import Source, combine_datasets
    from hyperalign.data.demo import make_demo
    from hyperalign.data.layout import load_dataset
    from hyperalign.runtime.evaluation import evaluate
    from hyperalign.runtime.index import Index
    from hyperalign.runtime.loading import load

    say = log or (lambda msg: None)
    out = Path(out)
    n_epochs = epochs or (FINE_TUNE_EPOCHS if pretrained else SCRATCH_EPOCHS)
    plan = {k: v * (n_epochs if k == "epoch" else 1) for k, v in STAGE_SECONDS.items()}
    plan["train"] = plan.pop("epoch") + plan.pop("features")
    clock = StageClock(plan, say)
    data_dir = out / "data"
    if pretrained is None:
        make_demo(data_dir)
    else:
        raw_dir = make_demo(out / "data-generated").parent
        up = read_meta(resolve_checkpoint(pretrained))["preprocessing"].get("up_axis", "y")
        combine_datasets([Source("demo", (raw_dir,))], data_dir, name="hyperalign-demo", up_axis=up, prefix_ids=False)
    say(f"demo data in {data_dir}")
    clock.done("data")
    cfg = _demo_config(data_dir, pretrained, epochs)
    say(f"training: {'fine-tune of ' + pretrained if pretrained else 'h2arn-cpu from scratch'}, "
        f"{cfg.optim.epochs} epochs")
    run_dir = train(cfg, out / "run")
    clock.done("train")
    retriever = load(run_dir)
    test = evaluate(retriever, "test")
    clock.done("evaluate")

    dataset = load_dataset(data_dir)
    items = dataset.items("test")
    shapes = retriever.encode_points([dataset.load_points(it) for it in items])
    texts = retriever.encode_text([q.text for q in EXAMPLE_QUERIES])
    dist = retriever.model.pairwise_distance(texts, shapes)
    queries, checks = {}, {}
    for q, row in zip(EXAMPLE_QUERIES, dist):
        d, idx = torch.topk(row, k=min(top_k, len(items)), largest=False)
        queries[q.text] = [
            {"id": items[i].id, "distance": float(di), "caption": (items[i].captions or [""])[0]}
            for di, i in zip(d.tolist(), idx.tolist())
        ]
        checks[q.text] = {"level": q.level, "node": q.node, **check_top_result(q, dataset, items[int(idx[0])])}
    clock.done("queries")
    index_dir = Index.build(retriever, data_dir).save(out / "index")
    clock.done("index")
    say(f"search index of all demo shapes and captions in {index_dir}")
    report = {
        "run_dir": str(run_dir), "best_checkpoint": str(retriever.checkpoint), "index": str(index_dir),
        "test": test, "queries": queries, "query_checks": checks,
        "training": f"fine-tune of {pretrained}" if pretrained else "from scratch",
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=2))
    return report
