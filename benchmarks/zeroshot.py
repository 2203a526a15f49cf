"""Zero-shot classification benchmark: top-1 / top-5 accuracy of trained models at a dataset's class level.

For every shape of the split, the labels are all nodes of the chosen tree level (default: the coarsest, e.g. the
demo's categories or Sweet Home 3D's classes), each prompted with its own caption ("a chair"); the true label is the
shape's ancestor at that level. Scores are the model's distances (:mod:`hyperalign.runtime.classify`); ties count
against the model. Chance is ``k / number of labels``.

    python benchmarks/zeroshot.py --run demo=runs/demo --run sh3d=runs/sh3d --data hyperalign-data/sweethome3d

Writes ``benchmarks/results/zeroshot.{json,md}`` (or ``--out``); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

import hyperalign
from hyperalign.data.layout import Dataset, load_dataset
from hyperalign.runtime.classify import label_distances, topk_accuracy

RESULTS = Path(__file__).resolve().parent / "results"


def class_task(dataset: Dataset, split: str, level: str | None) -> tuple[list, list[str], list[int], str]:
    """Items of ``split`` with an ancestor at ``level``, the level's node captions as prompts, true label indices."""
    level = level or dataset.index.levels[0]
    nodes = [n for n in dataset.index.nodes if n.level == level]
    if not nodes:
        raise SystemExit(f"{dataset.root}: no nodes at level {level!r}; levels: {dataset.index.levels[:-1]}")
    row = {n.id: i for i, n in enumerate(nodes)}
    items, truth = [], []
    for item in dataset.items(split):
        if item.node is None:
            continue
        hit = [a.id for a in dataset.ancestors(item.node) if a.level == level]
        if hit:
            items.append(item)
            truth.append(row[hit[0]])
    return items, [n.captions[0] for n in nodes], truth, level


def evaluate_run(run: Path, data: Path | None, split: str, level: str | None) -> dict[str, object]:
    retriever = hyperalign.load(run)
    dataset = load_dataset(data) if data is not None else load_dataset(Path(retriever.meta["dataset"]))
    items, prompts, truth, level = class_task(dataset, split, level)
    shapes = torch.cat([
        retriever.encode_points([dataset.load_points(it) for it in items[s : s + 64]]) for s in range(0, len(items), 64)
    ])
    acc = topk_accuracy(label_distances(retriever, shapes, prompts, template="{label}"), truth, ks=(1, 5))
    return {
        "run": str(run), "dataset": dataset.index.name, "split": split, "level": level, "labels": len(prompts),
        "shapes": len(items), **acc, "chance_top1": 1 / len(prompts), "chance_top5": min(1.0, 5 / len(prompts)),
    }


def markdown(rows: list[dict[str, object]], argv: list[str]) -> str:
    lines = [
        "# Zero-shot classification (class level, top-k accuracy; ties count against the model)", "",
        "Command: `python benchmarks/zeroshot.py " + " ".join(argv) + "`", "",
        "| model | dataset | split | level | labels | shapes | top-1 | top-5 | chance top-1 / top-5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['dataset']} | {r['split']} | {r['level']} | {r['labels']} | {r['shapes']} | "
            f"{r['top1']:.3f} | {r['top5']:.3f} | {r['chance_top1']:.3f} / {r['chance_top5']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, help="NAME=RUN_DIR (repeatable)")
    parser.add_argument("--data", type=Path, default=None, help="dataset (default: each run's own)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--level", default=None, help="tree level (default: the coarsest)")
    parser.add_argument("--out", type=Path, default=RESULTS / "zeroshot")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    rows = []
    for spec in args.run:
        name, _, run = spec.partition("=")
        if not run:
            raise SystemExit(f"--run {spec!r}: expected NAME=RUN_DIR")
        rows.append({"name": name, **evaluate_run(Path(run), args.data, args.split, args.level)})
        print(json.dumps(rows[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(rows, argv), encoding="utf-8")


if __name__ == "__main__":
    main()
