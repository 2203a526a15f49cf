"""Paired comparison of models over seeds on the built-in demo data, the Sweet Home 3D splits and the KiCad splits.

    python benchmarks/compare.py --model NAME [PRESET [KEY=VALUE ...]] --model ... [--reference NAME]
        [--datasets demo name item kicad-family kicad-item] [--seeds 0 1 2 3 4] [--epochs N] [--set KEY=VALUE ...]
        [--data hyperalign-data/sweethome3d] [--kicad-data hyperalign-data/kicad] [--demo-data DIR]
        [--work runs/compare] [--out benchmarks/results] [--tag compare] [--columns METRIC ...] [--only-recorded] [--fresh]

A model is a name, a preset and ``--set``-style overrides (after ``--set``, which applies to every run; ``--epochs``
last). A bare ``--model NAME`` that is a variant of ``benchmarks/realdata.py`` (e.g. "simple Euclidean") takes its
preset and overrides; otherwise NAME is the preset. Every model is trained with every seed on every dataset
(``hyperalign.train``, checkpoint chosen on the validation split) and scored once on the test split:

* ``demo``: the built-in demo data (default settings, written once under ``--work``); the retrieval metrics of
  ``hyperalign evaluate`` and the hierarchy metrics (``--hierarchy``);
* ``name`` / ``item``: the Sweet Home 3D splits, with ``realdata.py``'s shared data settings before the model's
  overrides and its whole protocol (names, instances, classes, rooms, open-vocabulary queries), plus the generic
  retrieval and hierarchy metrics of the layout;
* ``kicad-family`` / ``kicad-item``: the KiCad splits (family-disjoint, item), with the same shared data settings and
  ``realdata.py``'s KiCad protocol (library, family, variant and instance levels), plus the generic retrieval and
  hierarchy metrics of the layout.

On every real-data split the table also holds two references of ``realdata.py``, computed, not trained (so without
a paired difference): ``chance`` (uniform random distances, mean of 20 draws) and ``MiniLM text-only`` (the frozen
text tower between the query and the item's own captions).

Reported per dataset: mean ± std over seeds per model, and for every other model the paired difference
``model - reference`` per seed with its percentile bootstrap 95 % CI (:mod:`hyperalign.eval.stats`); a CI that
excludes 0 is a difference the seeds support. Each run's scores are kept in ``<work>/<dataset>/<run>/compare.json``
and reused (a run with other settings under the same name is refused); an interrupted run resumes from its last
checkpoint. Writes ``<out>/<tag>.json`` and ``<out>/<tag>.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hyperalign
from hyperalign.atomic import write_text_atomic
from hyperalign.config import dump_config, load_config
from hyperalign.data.demo import make_demo
from hyperalign.data.layout import load_dataset
from hyperalign.encoders.text import TextTower, TextTowerConfig
from hyperalign.eval.stats import mean_std, paired_difference
from hyperalign.runtime.evaluation import evaluate
from hyperalign.train.loop import train
from realdata import (
    DATA_SETTINGS,
    KICAD,
    OPEN_QUERIES,
    PRETRAINED_ON_DEMO,
    SPLITS,
    TEXT_ONLY,
    VARIANTS,
    Kind,
    Protocol,
    ensure_open_queries,
    kind_at,
    model_metrics,
    pretrain_on_demo,
    reference_metrics,
    text_only_metrics,
)

KICAD_DATASETS = {f"kicad-{split}": split for split in KICAD.splits}  # dataset name -> split of the KiCad data
DATASETS = ("demo", *SPLITS, *KICAD_DATASETS)
# The percentile bootstrap of n differences never leaves their range and under-covers for small n: a CI is marked as
# excluding 0 only from this many seeds on.
MIN_SEEDS_FOR_MARK = 5
# Columns taken from a run's record rather than its test metrics: training time, and the validation score
# (eval.select_metric, all-level Rsum by default) the checkpoint was chosen by, to compare variants on validation.
RUN_COLUMNS = {"train_s": "train_s", "val_select": "best_val"}
COLUMNS = {
    "demo": ["rsum", "t2s_R@1", "t2s_R@1/category", "t2s_R@1/subtype", "t2s_R@1/instance", "depth_spearman",
             "train_s"],
    "sh3d": ["inst_t2s_R@1", "name_R@1", "class_mAP", "inst_rsum", "open_tune_R@10", "open_held_R@10",
             "depth_spearman", "train_s"],
    "kicad": ["inst_t2s_R@1", "inst_t2s_R@10", "inst_rsum", "rsum", "library_R@1", "family_R@1", "variant_R@1",
              "depth_spearman", "train_s"],
}


def split_source(dataset: str, args: argparse.Namespace) -> Path:
    """The index file of a real-data split: ``--data`` for Sweet Home 3D, ``--kicad-data`` for KiCad."""
    if dataset in KICAD_DATASETS:
        return args.kicad_data / KICAD.splits[KICAD_DATASETS[dataset]]
    return args.data / SPLITS[dataset]


@dataclass(frozen=True)
class Model:
    """A compared model: its name, preset and overrides."""

    name: str
    preset: str
    overrides: tuple[str, ...]

    @classmethod
    def parse(cls, words: list[str]) -> Model:
        """``NAME [PRESET [KEY=VALUE ...]]``; a bare NAME is a realdata variant or a preset."""
        name, rest = words[0], words[1:]
        if rest:
            bad = [w for w in rest[1:] if "=" not in w]
            if bad:
                raise SystemExit(f"--model {name}: expected KEY=VALUE overrides after the preset, got {bad}")
            return cls(name, rest[0], tuple(rest[1:]))
        preset, extra = VARIANTS.get(name, (name, ()))
        return cls(name, preset, tuple(extra))

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._+-]+", "-", self.name).strip("-") or "model"


def run_model(model: Model, dataset: str, seed: int, args: argparse.Namespace, say: Callable[[str], None],
              protocols: dict) -> dict | None:  # fmt: skip
    """Train (or resume, or reuse) one run and return its record; None if ``--only-recorded`` and not recorded."""
    run_dir = args.work / dataset / f"{model.slug}-seed{seed}"
    record_path = run_dir / "compare.json"
    overrides = [f"seed={seed}", *args.set, *model.overrides]
    if dataset == "demo":
        data_path = args.demo_data or demo_data(args.work)
        overrides = [f"data.path={data_path}", *overrides]
    else:
        data_path = split_source(dataset, args)
        overrides = [f"data.path={data_path}", *DATA_SETTINGS, *overrides]
    if args.epochs:
        overrides.append(f"optim.epochs={args.epochs}")
    if record_path.is_file() and not args.fresh:
        record = json.loads(record_path.read_text())
        if record["preset"] != model.preset or record["overrides"] != overrides:
            raise SystemExit(f"{record_path}: recorded with preset {record['preset']} and overrides "
                             f"{record['overrides']}, not {model.preset} {overrides}; use another --model name or --fresh")
        return record
    if args.only_recorded:
        return None
    pretrained = ([f"init_points_from={pretrain_on_demo(model.preset, seed, args.work, say)}"]
                  if model.name in PRETRAINED_ON_DEMO else [])
    cfg = load_config(model.preset, [*overrides, *pretrained])
    saved = run_dir / "config.yaml"
    if saved.is_file() and not args.fresh and saved.read_text() != dump_config(cfg):
        raise SystemExit(f"{saved}: an unfinished run with other settings; use another --model name or --fresh")
    t0 = time.perf_counter()
    result = train(cfg, run_dir, resume=not args.fresh, progress=False)
    wall = time.perf_counter() - t0
    retriever = hyperalign.load(run_dir)
    test = evaluate(retriever, "test", data=data_path, hierarchy=args.hierarchy, pep=args.pep)
    if dataset != "demo":
        loaded, protocol = protocols[dataset]
        test |= model_metrics(run_dir, loaded, protocol)
    record = {"model": model.name, "dataset": dataset, "seed": seed, "preset": model.preset, "overrides": overrides,
              "extra_overrides": pretrained,
              "epochs": cfg.optim.epochs, "train_s": sum(h["epoch_time_s"] for h in result.history),
              "wall_s_this_invocation": wall, "best_val": result.best_metric, "test": test}
    write_text_atomic(record_path, json.dumps(record, indent=2))
    say(f"{dataset:<5} {model.name:<24} seed {seed}: " + ", ".join(
        f"{k} {test[k]:.3f}" for k in columns(dataset, None) if k in test) + f" ({record['train_s']:.0f} s training)")
    return record


def demo_data(work: Path) -> Path:
    """The built-in demo data at its default settings, written once under ``work``."""
    data = work / "demo-data"
    if not (data / "index.json").is_file():
        make_demo(data)
    return data


def columns(dataset: str, chosen: list[str] | None) -> list[str]:
    return chosen or COLUMNS["demo" if dataset == "demo" else "kicad" if dataset in KICAD_DATASETS else "sh3d"]


def summarise(records: list[dict], models: list[Model], reference: str) -> dict:
    """Per model: metric -> [mean, std, n]; per other model: metric -> paired difference vs ``reference``."""
    by_model = {m.name: {r["seed"]: r["test"] | {k: r[src] for k, src in RUN_COLUMNS.items() if src in r}
                         for r in records if r["model"] == m.name} for m in models}
    table, paired = {}, {}
    for name, runs in by_model.items():
        if not runs:
            continue
        metrics = sorted({k for test in runs.values() for k, v in test.items() if isinstance(v, int | float)})
        table[name] = {k: [*mean_std(vals), len(vals)] for k in metrics
                       if (vals := [t[k] for t in runs.values() if k in t])}
    ref_runs = by_model.get(reference, {})
    for name, runs in by_model.items():
        if name == reference or not runs or not ref_runs:
            continue
        paired[name] = {}
        for k in table[name]:
            mine = {s: t[k] for s, t in runs.items() if k in t}
            theirs = {s: t[k] for s, t in ref_runs.items() if k in t}
            if set(mine) & set(theirs):
                paired[name][k] = paired_difference(mine, theirs).to_dict()
    return {"table": table, "paired": paired}


def markdown(result: dict) -> str:
    lines = ["# Paired comparison over seeds", "", result["note"]]
    for dataset, summary in result["datasets"].items():
        cols = result["columns"][dataset]
        lines += ["", f"## {dataset}", "", "Mean ± std over seeds (n = runs).", "",
                  "| model | n | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
        for name, row in summary["table"].items():
            n = max((v[2] for v in row.values()), default=0)
            cells = [_fmt(c, *row[c][:2]) if c in row else "-" for c in cols]
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
        for name, row in summary.get("references", {}).items():  # computed, not trained: no std, no seeds
            cells = [_fmt(c, row[c]) if c in row else "-" for c in cols]
            lines.append(f"| {name} (reference) | - | " + " | ".join(cells) + " |")
        if summary["paired"]:
            lines += ["", (f"Paired difference vs **{result['reference']}** per seed: mean [95 % bootstrap CI] "
                           f"(* = the CI excludes 0, marked from {MIN_SEEDS_FOR_MARK} seeds on)."), "", "| model | seeds | " + " | ".join(cols) + " |",
                      "|---" * (len(cols) + 2) + "|"]
            for name, row in summary["paired"].items():
                seeds = max((len(v["seeds"]) for v in row.values()), default=0)
                cells = []
                for c in cols:
                    if c not in row:
                        cells.append("-")
                        continue
                    d = row[c]
                    excludes_zero = d["ci_low"] > 0 or d["ci_high"] < 0
                    star = "*" if excludes_zero and len(d["seeds"]) >= MIN_SEEDS_FOR_MARK else ""
                    cells.append(f"{_fmt(c, d['mean'], signed=True)} [{_fmt(c, d['ci_low'], signed=True)}, "
                                 f"{_fmt(c, d['ci_high'], signed=True)}]{star}")
                lines.append(f"| {name} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(metric: str, value: float, std: float | None = None, signed: bool = False) -> str:
    """rsum-like metrics with 1 decimal, the rest with 3; ``± std`` when given; a sign for differences."""
    digits = 0 if metric == "train_s" else 1 if "rsum" in metric or metric == "val_select" else 3
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return text + (f" ± {std:.{digits}f}" if std is not None else "")


def load_protocols(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, tuple]:
    """Dataset and :class:`Protocol` of every requested real-data split; a missing dataset is an error saying which
    converter writes it."""
    expected: dict[Path, tuple[Kind | None, str]] = {}
    for d in args.datasets:
        if d != "demo":
            root = split_source(d, args).parent
            expected[root] = (KICAD, "kicad") if d in KICAD_DATASETS else (None, "sweethome3d")
    for root, (kind, command) in expected.items():
        if not (root / "index.json").is_file():
            raise SystemExit(f"{root}: no index.json; run `hyperalign data {command} --out {root}`")
        if kind is not None and kind_at(root) is not kind:
            raise SystemExit(f"{root}: not a {kind.name} dataset (levels {kind_at(root).levels})")
    queries = (ensure_open_queries(args.open_queries, args.data, say)
               if any(d in SPLITS for d in args.datasets) else None)  # fmt: skip
    protocols = {}
    for d in args.datasets:
        if d != "demo":
            loaded = load_dataset(split_source(d, args))
            protocols[d] = (loaded, Protocol.build(loaded, open_queries=queries if d in SPLITS else None))
    return protocols


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar="NAME [PRESET [KEY=VALUE ...]]",
                        help="a compared model (repeatable)")
    parser.add_argument("--reference", default=None, help="model the others are compared with (default: the first)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=None, help="override every run's optim.epochs")
    parser.add_argument("--set", nargs="*", default=[], help="overrides for every run (key=value), before the model's")
    parser.add_argument("--data", type=Path, default=Path("hyperalign-data/sweethome3d"),
                        help="Sweet Home 3D dataset written by `hyperalign data sweethome3d`")
    parser.add_argument("--kicad-data", type=Path, default=Path("hyperalign-data/kicad"),
                        help="KiCad dataset written by `hyperalign data kicad`")
    parser.add_argument("--demo-data", type=Path, default=None,
                        help="demo dataset to use (default: the built-in demo at default settings, under --work)")
    parser.add_argument("--open-queries", type=Path, default=OPEN_QUERIES, help="open-vocabulary query file")
    parser.add_argument("--work", type=Path, default=Path("runs/compare"), help="run directories (reused)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--tag", default="compare", help="output file stem: <out>/<tag>.json and .md")
    parser.add_argument("--columns", nargs="+", default=None, help="metrics shown in the markdown (JSON has all)")
    parser.add_argument("--no-hierarchy", dest="hierarchy", action="store_false", help="skip the hierarchy metrics")
    parser.add_argument("--no-pep", dest="pep", action="store_false",
                        help="skip PEP AUC / AP (quadratic in the test captions: slow on the KiCad item split)")
    parser.add_argument("--fresh", action="store_true", help="retrain runs that already have results")
    parser.add_argument("--only-recorded", action="store_true", help="train nothing: tabulate the recorded runs")
    parser.add_argument("--note", action="append", default=[], help="a sentence for the report (repeatable)")
    args = parser.parse_args(argv)
    models = [Model.parse(words) for words in args.model]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise SystemExit(f"--model names must be distinct; got {names}")
    reference = args.reference or names[0]
    if reference not in names:
        raise SystemExit(f"--reference {reference!r} is not one of the models {names}")

    def say(msg: str) -> None:
        print(msg, flush=True)

    t_start = time.perf_counter()
    protocols = load_protocols(args, say)
    tower = TextTower(TextTowerConfig(model="minilm", max_tokens=128)) if protocols else None
    summaries, runs = {}, []
    for dataset in args.datasets:
        records = [r for m in models for s in args.seeds if (r := run_model(m, dataset, s, args, say, protocols))]
        runs += records
        summaries[dataset] = summarise(records, models, reference)
        if dataset in protocols:
            loaded, protocol = protocols[dataset]
            summaries[dataset]["references"] = {"chance": reference_metrics(protocol, "chance"),
                                                 TEXT_ONLY: text_only_metrics(protocol, loaded, tower)}
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/compare.py " + " ".join(a if re.fullmatch(r"[\w./=@+:-]+", a) else repr(a) for a in given)
    note = (f"Test split of each dataset, read once per run; checkpoint chosen on validation. Seeds {args.seeds}; "
            f"reference {reference!r}. Command: `{command}`. R@K, mAP and correlations as fractions; rsum in "
            "percentage points; train_s = seconds of training (sum of epoch times) on this shared machine; val_select = "
            "the validation score the checkpoint was chosen by (eval.select_metric).")
    note += "".join(f"\n\n{n}" for n in args.note)
    result = {"benchmark": "compare", "note": note, "reference": reference, "seeds": args.seeds,
              "models": {m.name: {"preset": m.preset, "overrides": list(m.overrides)} for m in models},
              "columns": {d: columns(d, args.columns) for d in args.datasets}, "datasets": summaries,
              "machine": {"threads": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__},
              "hyperalign": hyperalign.__version__, "wall_s": time.perf_counter() - t_start, "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{args.tag}.json", json.dumps(result, indent=2))
    md = markdown(result)
    write_text_atomic(args.out / f"{args.tag}.md", md)
    say(md)


if __name__ == "__main__":
    main()
