"""``hyperalign demo``: the whole pipeline on the built-in data in one call (make data, train the CPU preset,
evaluate on the test split once, answer a few example text queries, build the search index for `hyperalign serve`).

Training is passed in (``train``: config and run directory in, run directory out), so this driver needs nothing from
the trainer's package; the command line passes :func:`hyperalign.train.loop.train`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from hyperalign.config import TrainConfig

EXAMPLE_QUERIES = ("a chair", "an office chair on a star base", "a tall floor lamp", "a round table", "a vase")
Trainer = Callable[[TrainConfig, Path], Path]


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
    texts = retriever.encode_text(list(EXAMPLE_QUERIES))
    dist = retriever.model.pairwise_distance(texts, shapes)
    queries = {}
    for q, row in zip(EXAMPLE_QUERIES, dist):
        d, idx = torch.topk(row, k=min(top_k, len(items)), largest=False)
        queries[q] = [
            {"id": items[i].id, "distance": float(di), "caption": (items[i].captions or [""])[0]}
            for di, i in zip(d.tolist(), idx.tolist())
        ]
    index_dir = Index.build(retriever, data_dir).save(out / "index")
    say(f"search index of all demo shapes and captions in {index_dir}")
    report = {
        "run_dir": str(run_dir), "best_checkpoint": str(retriever.checkpoint), "index": str(index_dir),
        "test": test, "queries": queries,
    }
    write_text_atomic(out / "report.json", json.dumps(report, indent=2))
    return report
