"""Time and memory of the full KiCad conversion, then of a rerun with nothing to do.

    python benchmarks/kicad_convert.py --debs-dir DIR --work DIR [--workers 2] [--limit N] [--out benchmarks/results]

Runs ``hyperalign data kicad`` as a child process into an empty ``<work>/kicad`` (it refuses a directory it did not
create), samples every 0.5 s the memory of the child's whole process tree (sum of PSS from
``/proc/<pid>/smaps_rollup``, so pages shared by the workers count once; the sum of RSS is recorded too), then
runs the same command again (everything cached). Records wall and CPU seconds, the converter's own report
(items, failures by reason, dataset statistics) and the machine's load before and after. Writes
``kicad_convert.json`` and ``kicad_convert.md``; nothing here asserts anything about time or memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from first_minute import machine_state

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    """``pid`` and every descendant, read from ``/proc/<pid>/task/*/children``."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                stack.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _memory_kib(pid: int, field: str) -> int:
    """One ``smaps_rollup`` field (``Pss:`` or ``Rss:``) of one process in KiB, 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_sampled(cmd: list[str]) -> dict[str, object]:
    """Run ``cmd``; wall / CPU seconds, exit code and the peak tree memory (PSS and RSS sums, GiB)."""
    start, before = time.perf_counter(), os.times()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_pss = peak_rss = 0
    peak_processes = 0
    while child.poll() is None:
        tree = _children(child.pid)
        peak_pss = max(peak_pss, sum(_memory_kib(p, "Pss:") for p in tree))
        peak_rss = max(peak_rss, sum(_memory_kib(p, "Rss:") for p in tree))
        peak_processes = max(peak_processes, len(tree))
        time.sleep(0.5)
    out, err = child.communicate()
    after = os.times()
    return {"wall_s": round(time.perf_counter() - start, 1),
            "cpu_s": round(after.children_user + after.children_system
                           - before.children_user - before.children_system, 1),
            "code": child.returncode, "peak_pss_gib": round(peak_pss / 2**20, 3),
            "peak_rss_sum_gib": round(peak_rss / 2**20, 3), "peak_processes": peak_processes,
            "stdout_tail": out[-2000:], "stderr_tail": err[-2000:]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debs-dir", type=Path, required=True, help="folder with the two KiCad .deb files")
    parser.add_argument("--work", type=Path, required=True, help="empty scratch folder (the dataset goes here)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="convert only the first N models")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    dataset = args.work / "kicad"
    if dataset.exists():
        parser.error(f"{dataset} exists: give an empty --work so the first run converts everything")
    cmd = [sys.executable, "-m", "hyperalign", "data", "kicad", "--out", str(dataset), "--debs-dir",
           str(args.debs_dir), "--workers", str(args.workers), "--no-progress"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    record: dict[str, object] = {"command": " ".join(cmd), "machine_before": machine_state()}
    record["first_run"] = run_sampled(cmd)
    record["machine_between"] = machine_state()
    record["rerun"] = run_sampled(cmd)
    record["machine_after"] = machine_state()
    report = dataset / "conversion-report.json"
    if report.is_file():
        converted = json.loads(report.read_text())
        record["report"] = {k: converted[k] for k in ("items_converted", "failures_by_reason", "statistics")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kicad_convert.json").write_text(json.dumps(record, indent=1) + "\n")
    (args.out / "kicad_convert.md").write_text(render(record, argv if argv is not None else sys.argv[1:]))
    print((args.out / "kicad_convert.md").read_text())


def render(record: dict, argv: list[str]) -> str:
    first, rerun = record["first_run"], record["rerun"]
    lines = ["# KiCad conversion: time and memory", "",
             f"Command: `python benchmarks/kicad_convert.py {' '.join(argv)}` (runs `{record['command']}` twice).", "",
             "| run | wall s | CPU s | exit | peak memory, PSS sum GiB | RSS sum GiB | processes |",
             "|---|---|---|---|---|---|---|"]
    for name, run in (("first (everything to convert)", first), ("rerun (nothing to do)", rerun)):
        lines.append(f"| {name} | {run['wall_s']} | {run['cpu_s']} | {run['code']} | {run['peak_pss_gib']} | "
                     f"{run['peak_rss_sum_gib']} | {run['peak_processes']} |")
    report = record.get("report", {})
    if report:
        lines += ["", f"Items converted: {report['items_converted']}; failures by reason: "
                  f"{json.dumps(report['failures_by_reason'])}.", "", "Dataset statistics:", "", "```",
                  json.dumps(report["statistics"], indent=1), "```"]
    for key in ("machine_before", "machine_between", "machine_after"):
        state = record[key]
        lines += ["", f"{key.replace('_', ' ')}: load average {tuple(round(v, 2) for v in state['loadavg'])}, "
                  f"busiest processes:", "", "```", *state["busiest"][:5], "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
