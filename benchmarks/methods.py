"""H2ARN, MERU, ARGENT and heterogeneous-curvature alignment as presets of the same parts: every method x 3 seeds on
one dataset, test metrics (retrieval + hierarchy) as mean +- std.

    python benchmarks/methods.py --out benchmarks/results [--seeds 0 1 2] [--epochs N] [--data DIR]

Without ``--data`` the built-in demo data (default settings) is generated under ``OUT/runs/data``; ``--data``
takes any dataset in the generic layout with a caption tree (e.g. the real benchmark data). Each run trains its
preset from config alone (``hyperalign.train``), selects its checkpoint on the validation split and is evaluated once
on the test split with ``hierarchy=True``. Writes ``OUT/methods.json`` (every run, the aggregate, the machine),
``OUT/methods.md`` (the table) and, for the first seed of each method, ``OUT/plots/<method>/{poincare,norms}.png``.
A run whose ``result.json`` exists is not trained again (an interrupted benchmark resumes).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

import hyperalign
from hyperalign.config import load_config
from hyperalign.data.demo import make_demo
from hyperalign.runtime.evaluation import evaluate
from hyperalign.train.loop import train
from hyperalign.viz.plots import plot_run

METHODS = {"H2ARN": "h2arn-cpu", "MERU": "meru", "ARGENT": "argent", "Hetero (across trees)": "hetero"}
RETRIEVAL = ["t2s_R@1", "t2s_R@5", "t2s_R@10", "s2t_R@1", "s2t_R@5", "s2t_R@10", "rsum", "t2s_MRR"]
HIERARCHY = ["LA", "HCA", "MTA", "PEP_AUC", "PEP_AP", "depth_spearman"]
PERCENT = {*RETRIEVAL[:6], "t2s_MRR", "LA", "HCA", "MTA", "PEP_AUC", "PEP_AP"}


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def run_one(preset: str, seed: int, data_dir: Path, out: Path, epochs: int | None, plots: Path | None) -> dict:
    run_dir = out / "runs" / f"{preset}-seed{seed}"
    done = run_dir / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    overrides = [f"data.path={data_dir}", f"seed={seed}"] + ([f"optim.epochs={epochs}"] if epochs else [])
    cfg = load_config(preset, overrides)
    t0 = time.perf_counter()
    result = train(cfg, run_dir, resume=True, progress=False)
    wall = time.perf_counter() - t0
    retriever = hyperalign.load(run_dir)
    test = evaluate(retriever, "test", hierarchy=True)
    if plots is not None:
        plot_run(retriever, plots)
    last = result.history[-1]
    record = {
        "preset": preset, "seed": seed, "epochs": cfg.optim.epochs, "test": test, "train_wall_s": wall,
        "epoch_time_s": statistics.fmean(h["epoch_time_s"] for h in result.history), "best_val": result.best_metric,
        "final_scalars": {k: v for k, v in last.items() if k.startswith(("curvature", "temperature", "alpha"))},
    }
    done.write_text(json.dumps(record, indent=2))
    return record


def markdown(table: dict, methods: list[str], seeds: list[int], epochs: str, data: str) -> str:
    lines = []
    for title, cols in (("Retrieval (test split)", RETRIEVAL), ("Hierarchy (test split)", HIERARCHY + ["epoch_time_s"])):
        lines += [f"### {title}", "", "| method | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for name in methods:
            cells = []
            for c in cols:
                m, s = table[name][c]
                scale = 100.0 if c in PERCENT else 1.0
                digits = 3 if c == "depth_spearman" else 1
                cells.append(f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(
        f"Mean ± std over seeds {seeds}; {epochs} epochs; data: {data}. R@K, MRR, LA, HCA, MTA, PEP AUC / AP in %; "
        "rsum in percentage points; depth_spearman is Spearman's rho between depth and distance from the origin; "
        "epoch_time_s is seconds per training epoch on this (shared) machine."
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override every preset's epochs")
    parser.add_argument("--data", type=Path, default=None, help="dataset directory (default: the built-in demo)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = args.data
    if data_dir is None:
        data_dir = args.out / "runs" / "data"  # runs/ is git-ignored: data and checkpoints stay out of the repo
        if not (data_dir / "index.json").is_file():
            make_demo(data_dir)
    runs = []
    for name in args.methods:
        for seed in args.seeds:
            plots = args.out / "plots" / METHODS[name] if seed == args.seeds[0] else None
            record = run_one(METHODS[name], seed, data_dir, args.out, args.epochs, plots)
            runs.append({"method": name, **record})
            t = record["test"]
            print(f"{name:<22} seed {seed}: rsum {t['rsum']:.1f}  LA {t['LA']:.3f}  PEP AUC {t['PEP_AUC']:.3f}  "
                  f"({record['train_wall_s']:.0f} s)", flush=True)

    table = {}
    for name in args.methods:
        rs = [r for r in runs if r["method"] == name]
        table[name] = {c: mean_std([r["test"][c] for r in rs]) for c in RETRIEVAL + HIERARCHY}
        table[name]["epoch_time_s"] = mean_std([r["epoch_time_s"] for r in rs])
    epochs = sorted({r["epochs"] for r in runs})
    data = str(args.data) if args.data else "built-in demo (default settings)"
    result = {
        "benchmark": "methods", "data": data, "seeds": args.seeds, "epochs": epochs, "presets": METHODS,
        "machine": {"threads": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__},
        "hyperalign": hyperalign.__version__, "runs": runs, "table": table,
    }
    (args.out / "methods.json").write_text(json.dumps(result, indent=2))
    md = markdown(table, args.methods, args.seeds, "/".join(map(str, epochs)), data)
    (args.out / "methods.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
