"""Training throughput (pairs/s) of one process vs two DDP processes (torchrun, gloo) on this machine.

    python benchmarks/ddp_bench.py --out benchmarks/results/ddp_bench.json [--epochs 3]

Each configuration trains the CPU preset on the built-in demo data from scratch in a fresh run directory; throughput
is train pairs per second of epoch time after the first epoch (validation excluded: only rank 0 validates, after
the timed part). torchrun sets OMP_NUM_THREADS=1 per rank by default; one process is measured with 1 and with all
threads, so the comparison at equal core use is visible. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from hyperalign.data.demo import make_demo
from hyperalign.data.layout import load_dataset


def run_config(name: str, nproc: int, threads: int, data: Path, work: Path, epochs: int) -> dict:
    run_dir = work / name
    args = ["train", "--config", "h2arn-cpu", "--run-dir", str(run_dir), "--data", str(data), "--no-progress",
            "--set", f"optim.epochs={epochs}", "--set", f"eval.every={epochs}", "--set", f"cache_dir={work / 'cache'}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if nproc == 1:
        cmd = [sys.executable, "-m", "hyperalign", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "hyperalign", *args]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    n_train = len(load_dataset(data).items("train"))
    # epoch_time_s includes validation only on eval epochs; the last epoch validates, so use epochs 2 .. E-1 when E > 2.
    timed = [h for h in history[1:] if "val/rsum" not in h] or history[1:]
    rates = [n_train / h["epoch_time_s"] for h in timed]
    return {"name": name, "processes": nproc, "threads_per_process": threads, "epochs_timed": len(timed),
            "pairs_per_s_median": statistics.median(rates), "pairs_per_s": rates,
            "data_wait_s": [h["data_wait_s"] for h in timed], "final_loss": history[-1]["loss"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ddp_bench.json"))
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hyperalign-ddp-bench-"))
    try:
        data = work / "data"
        make_demo(data)
        cores = os.cpu_count() or 1
        results = [
            run_config("1 process, 1 thread", 1, 1, data, work, args.epochs),
            run_config(f"1 process, {cores} threads", 1, cores, data, work, args.epochs),
            run_config("2 processes (DDP, gloo), 1 thread each", 2, 1, data, work, args.epochs),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {"benchmark": "ddp_bench", "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "platform": platform.platform(), "epochs": args.epochs, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for r in results:
        print(f"{r['name']:<42} {r['pairs_per_s_median']:8.1f} pairs/s")


if __name__ == "__main__":
    main()
