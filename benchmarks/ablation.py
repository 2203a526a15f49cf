"""H2ARN Table 3 ablations on the built-in demo data: every variant x 3 seeds, test metrics as mean +- std.

    python benchmarks/ablation.py --out benchmarks/results/ablation [--seeds 0 1 2] [--epochs N]

Writes ``ablation.json`` (every run's test metrics, epoch times and the aggregate) and ``ablation.md`` (the table).
Each run trains the preset from config alone (``hyperalign.train``), selects its checkpoint on the validation split,
and is evaluated once on the test split. A run directory left by an interrupted benchmark is resumed (exactly, from
its last checkpoint); delete ``--out`` to start over. Nothing here asserts anything about time.
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

VARIANTS = {
    "full": "h2arn-cpu",
    "w/o L_ord": "ablation-no-ord",
    "w/o aggregation": "ablation-no-agg",
    "w/o both": "ablation-no-both",
    "Eu+MP": "ablation-eu-mp",
    "Eu+CA": "ablation-eu-ca",
}
COLUMNS = ["t2s_R@1", "t2s_R@5", "t2s_R@10", "s2t_R@1", "s2t_R@5", "s2t_R@10", "rsum", "t2s_MRR",
           "t2s_R@1/category", "t2s_R@1/subtype", "t2s_R@1/instance"]


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = args.out / "data"
    make_demo(data_dir)
    runs = []
    for name in args.variants:
        for seed in args.seeds:
            overrides = [f"data.path={data_dir}", f"seed={seed}"] + ([f"optim.epochs={args.epochs}"] if args.epochs else [])
            cfg = load_config(VARIANTS[name], overrides)
            run_dir = args.out / "runs" / f"{VARIANTS[name]}-seed{seed}"
            t0 = time.perf_counter()
            result = train(cfg, run_dir, resume=True, progress=False)  # an interrupted benchmark continues
            wall = time.perf_counter() - t0
            test = evaluate(hyperalign.load(run_dir), "test")
            epoch_times = [h["epoch_time_s"] for h in result.history]
            runs.append({"variant": name, "preset": VARIANTS[name], "seed": seed, "test": test, "wall_s_this_invocation": wall,
                         "train_s": sum(epoch_times),
                         "epoch_time_s": statistics.fmean(epoch_times), "best_val": result.best_metric})
            print(f"{name:<16} seed {seed}: test rsum {test['rsum']:.1f}  t2s R@1 {test['t2s_R@1']:.3f}  ({sum(epoch_times):.0f} s training)", flush=True)

    table = {}
    for name in args.variants:
        rs = [r for r in runs if r["variant"] == name]
        table[name] = {col: mean_std([r["test"][col] for r in rs]) for col in COLUMNS if col in rs[0]["test"]}
        table[name]["epoch_time_s"] = mean_std([r["epoch_time_s"] for r in rs])
    result = {
        "benchmark": "ablation", "data": "built-in demo (default settings)", "seeds": args.seeds,
        "machine": {"cpu_count": torch.get_num_threads(), "platform": platform.platform(), "torch": torch.__version__},
        "hyperalign": hyperalign.__version__, "runs": runs, "table": table,
    }
    (args.out / "ablation.json").write_text(json.dumps(result, indent=2))
    cols = [c for c in COLUMNS if c in table[args.variants[0]]] + ["epoch_time_s"]
    lines = ["| variant | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name in args.variants:
        cells = []
        for c in cols:
            m, s = table[name][c]
            scale = 100.0 if ("R@" in c or "MRR" in c) else 1.0
            cells.append(f"{m * scale:.1f} ± {s * scale:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    md = "\n".join(lines) + "\n\nR@K and MRR in %, rsum in percentage points; mean ± std over seeds " + str(args.seeds) + ".\n"
    (args.out / "ablation.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
