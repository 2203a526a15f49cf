"""``hyperalign demo``: the whole pipeline on the built-in data in one call (make data, train the CPU preset,
evaluate on the test split once, answer a few example text queries, build the search index for `hyperalign serve`).

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hyperalign.config import TrainConfig
from hyperalign.data.demo.catalogue import CATALOGUE, instance_captions
from hyperalign.data.layout import Dataset, Item

Trainer = Callable[[TrainConfig, Path], Path]


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
    out: Path, train: Trainer, *, epochs: int | None = None, log: Callable[[str], None] | None = None, top_k: int = 3
) -> dict[str, Any]:
    from hyperalign.atomic import write_text_atomic
    from hyperalign.config import load_config
    from hyperalign.data.demo import make_demo
    from hyperalign.data.layout import load_dataset
    from hyperalign.runtime.evaluation import evaluate
    from hyperalign.runtime.index import Index
    from hyperalign.runtime.loading import load

    say = log or (lambda msg: None)
    out = Path(out)
    data_dir = out / "data"
    make_demo(data_dir)
    say(f"demo data in {data_dir}")
    overrides = [f"data.path={data_dir}"] + ([f"optim.epochs={epochs}"] if epochs else [])
    cfg = load_config("h2arn-cpu", overrides)
    run_dir = train(cfg, out / "run")
    retriever = load(run_dir)
    test = evaluate(retriever, "test")

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
    index_dir = Index.build(retriever, data_dir).save(out / "index")
    say(f"search index of all demo shapes and captions in {index_dir}")
    report = {
        "run_dir": str(run_dir), "best_checkpoint": str(retriever.checkpoint), "index": str(index_dir),
        "test": test, "queries": queries, "query_checks": checks,
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=2))
    return report
