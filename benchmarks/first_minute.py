"""What a new user waits for in the first minute: ``--help``, a usage error, ``search`` on a built index, folder
search, and ``hyperalign demo`` while two other single-thread jobs run.

    python benchmarks/first_minute.py [--out benchmarks/results] [--repeats 5] [--baseline 8ff4cbd] [--skip-demo]

With ``--skip-demo`` the demo is not run, and the demo record of the results file being replaced is kept (marked).

Every command runs as a fresh process (cold: a new interpreter each time; the OS file cache stays warm, as it does
for a user's second command). Wall and CPU (user + sys of the child) seconds are recorded, median over repeats. The
CLI costs are also measured on a baseline checkout (``git archive`` of ``--baseline`` into the work directory, run
with ``PYTHONPATH`` pointing at it) and reported as ratios, interleaved command by command so the machine's load
drifts hit both alike. The machine's load average and the busiest other processes are recorded before and after.
Writes ``first_minute.json`` and ``first_minute.md``; nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SH3D = Path("/work/data/sh3d")


def _env(src: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(src), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    return env


PREFIX: list[str] = []  # ["chrt", "-f", "10"] with --fifo: each command at real-time priority (as on an idle machine)


def timed(cmd: list[str], src: Path, home: Path | None = None) -> dict[str, float]:
    """Wall and child CPU seconds of one fresh ``python -m hyperalign ...`` process, and its exit code; ``home``
    replaces HOME (an empty one: no caches from earlier runs)."""
    env = _env(src) | ({"HOME": str(home)} if home is not None else {})
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run([*PREFIX, sys.executable, "-m", "hyperalign", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, "code": proc.returncode, "stdout": proc.stdout[-2000:], "stderr": proc.stderr[-2000:],
            "stderr_head": proc.stderr[:2000]}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {"wall": statistics.median(r["wall"] for r in runs), "cpu": statistics.median(r["cpu"] for r in runs),
            "codes": sorted({int(r["code"]) for r in runs})}


def machine_state() -> dict[str, object]:
    """Load average and the busiest processes (pid, %CPU, command) at this moment."""
    top = subprocess.run(["ps", "-eo", "pid,pcpu,nice,args", "--sort=-pcpu"], stdout=subprocess.PIPE, text=True).stdout
    rows = [line.strip()[:140] for line in top.splitlines()[1:9]]
    return {"loadavg": os.getloadavg(), "cpus": os.cpu_count(), "busiest": rows}


def baseline_checkout(commit: str, work: Path) -> Path:
    """``git archive`` of ``commit`` unpacked under ``work`` (its ``src`` is what PYTHONPATH points at)."""
    target = work / f"baseline-{commit}"
    if not (target / "src" / "hyperalign").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def tiny_index(src: Path, work: Path, name: str) -> Path:
    """A search index built by the checkout at ``src`` from a 1-epoch model on small demo data (what search costs
    does not depend on how well the model is trained)."""
    run = work / f"{name}-run"
    index = work / f"{name}-index"
    if (index / "index.json").is_file():
        return index
    data = work / f"{name}-data"
    steps = [
        ["data", "make-demo", "--out", str(data), "--shapes-per-subtype", "3", "--points", "256"],
        ["train", "--run-dir", str(run), "--data", str(data), "--no-progress", "--set", "optim.epochs=1",
         "--set", f"cache_dir={work / 'cache'}"],
        ["index", "build", "--checkpoint", str(run), "--out", str(index)],
    ]
    for step in steps:
        result = timed(step, src)
        if result["code"] != 0:
            raise RuntimeError(f"{' '.join(step)} failed in {src}:\n{result['stderr']}")
    return index


def sh3d_folder(work: Path, n: int = 20) -> Path:
    """``n`` Sweet Home 3D test items (test in both splits, one per coarse class first) copied as point files."""
    folder = work / "my-shapes"
    if folder.is_dir():
        return folder
    names = json.loads((SH3D / "index.json").read_text())["items"]
    items_split = {it["id"]: it["split"] for it in json.loads((SH3D / "index-items.json").read_text())["items"]}
    test = [it for it in names if it["split"] == "test" and items_split[it["id"]] == "test"]
    test += [it for it in names if it["split"] == "test" and items_split[it["id"]] != "test"]
    chosen, seen = [], set()
    for it in test:
        cls = it["meta"].get("coarse_class")
        if cls not in seen or len(chosen) >= 12:
            chosen.append(it)
            seen.add(cls)
        if len(chosen) == n:
            break
    folder.mkdir(parents=True)
    for it in chosen:
        shutil.copyfile(SH3D / it["points"], folder / f"{it['id']}.npy")
    (folder.parent / "my-shapes-classes.json").write_text(
        json.dumps({it["id"]: it["meta"].get("coarse_class") for it in chosen}, indent=2))
    return folder


def _results(run: dict) -> list[dict]:
    try:
        return json.loads(run["stdout"])["results"]
    except (ValueError, KeyError):
        return []


def demo_under_load(src: Path, work: Path) -> dict[str, object]:
    """``hyperalign demo`` as on a first run (an empty HOME: no feature cache, no ONNX export) while two
    ``while True: pass`` processes (nice 0) run; they are stopped afterwards."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1.0)
        state = machine_state()
        out, home = work / "demo", work / "demo-home"
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        result = timed(["demo", "--out", str(out), "--no-progress"], src, home=home)
        state_after = machine_state()
    finally:
        for p in spinners:
            p.send_signal(signal.SIGTERM)
            p.wait()
    lines = result["stderr_head"].splitlines()
    return {"wall": result["wall"], "cpu": result["cpu"], "code": result["code"], "spinner_pids": [p.pid for p in spinners],
            "first_lines": lines[:3], "stage_lines": [line for line in result["stderr"].splitlines() if "done;" in line], "output_tail": result["stdout"].splitlines()[-25:], "machine_before": state,
            "machine_after": state_after}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hyperalign-first-minute")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default="8ff4cbd")
    parser.add_argument("--checkpoint", default="h2arn-furniture", help="model for folder search")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--fifo", type=int, default=None, metavar="PRIORITY",
                        help="run each timed command under `chrt -f PRIORITY` (SCHED_FIFO: it preempts the machine's "
                        "other jobs, so a shared machine times like an idle one; needs root; not for the demo); "
                        "results go to first_minute_fifo.*")
    args = parser.parse_args(argv)
    if args.fifo is not None:
        PREFIX[:] = ["chrt", "-f", str(args.fifo)]
        args.skip_demo = True
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    current = ROOT / "src"
    base = baseline_checkout(args.baseline, work) / "src"
    command = " ".join(["python benchmarks/first_minute.py", *(sys.argv[1:] if argv is None else argv)])
    record: dict[str, object] = {"command": command, "machine_start": machine_state(), "python": platform.python_version(),
                                 "baseline": args.baseline, "repeats": args.repeats}
    indexes = {"current": tiny_index(current, work, "current"), "baseline": tiny_index(base, work, "baseline")}
    cli = {
        "--help": lambda which: ["--help"],
        "usage error (search without a query)": lambda which: ["search"],
        "usage error (unknown command)": lambda which: ["serach"],
        "search on a built index": lambda which: ["search", "a chair", "--index", str(indexes[which]), "-k", "5"],
    }
    runs: dict[str, dict[str, list]] = {name: {"current": [], "baseline": []} for name in cli}
    for _ in range(args.repeats):
        for name, make in cli.items():
            for which, src in (("current", current), ("baseline", base)):
                runs[name][which].append(timed(make(which), src))
    results = {}
    for name, by in runs.items():
        cur, old = median_of(by["current"]), median_of(by["baseline"])
        results[name] = {"current": cur, "baseline": old, "wall_ratio": cur["wall"] / old["wall"],
                         "cpu_ratio": cur["cpu"] / old["cpu"]}
    record["cli"] = results

    folder = sh3d_folder(work)
    cache = work / "folder-cache"
    shutil.rmtree(cache, ignore_errors=True)
    query = ["search", "a chair", "--in", str(folder), "--checkpoint", args.checkpoint, "--cache-dir", str(cache),
             "-k", "5", "--json"]
    first = timed(query, current)
    again = [timed(query, current) for _ in range(args.repeats)]
    classes = json.loads((folder.parent / "my-shapes-classes.json").read_text())
    try:
        top = json.loads(first["stdout"])["results"][0]["path"]
    except (ValueError, KeyError, IndexError):
        top = None
    record["folder_search"] = {"files": len(list(folder.iterdir())), "first_run": {k: first[k] for k in ("wall", "cpu", "code")},
                               "cached": median_of(again), "query": "a chair", "top_result": top,
                               "top_result_class": classes.get(Path(top).stem if top else "", None),
                               "ranked": [(h["path"], classes.get(Path(h["path"]).stem)) for h in _results(first)],
                               "stderr_tail": first["stderr"][-500:]}
    stem = "first_minute" if args.fifo is None else "first_minute_fifo"
    if not args.skip_demo:
        record["demo_under_load"] = demo_under_load(current, work)
    elif (args.out / f"{stem}.json").is_file():  # not measured again: keep the earlier run's record, marked as such
        earlier = json.loads((args.out / f"{stem}.json").read_text()).get("demo_under_load")
        if earlier:
            record["demo_under_load"] = {**earlier, "from_an_earlier_run": True}
    record["machine_end"] = machine_state()
    args.out.mkdir(parents=True, exist_ok=True)
    record["fifo_priority"] = args.fifo
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(render(record))
    print(render(record))


def render(record: dict) -> str:
    start = record["machine_start"]
    lines = ["# First minute", "",
             f"Command: `{record['command']}` (median of {record['repeats']} fresh processes; baseline = "
             f"`git archive {record['baseline']}`, interleaved"
             + (f"; every command under `chrt -f {record['fifo_priority']}`, i.e. ahead of the machine's other jobs"
                if record.get("fifo_priority") is not None else "")
             + "). Load average at the start "
             f"{start['loadavg'][0]:.1f} on {start['cpus']} cores (other helpers' jobs; see first_minute.json).", "",
             "| command | wall s | CPU s | baseline wall s | baseline CPU s | wall ratio | CPU ratio |",
             "|---|---|---|---|---|---|---|"]
    for name, r in record["cli"].items():
        lines.append(f"| `{name}` | {r['current']['wall']:.2f} | {r['current']['cpu']:.2f} | {r['baseline']['wall']:.2f} | "
                     f"{r['baseline']['cpu']:.2f} | {r['wall_ratio']:.2f} | {r['cpu_ratio']:.2f} |")
    fs = record["folder_search"]
    lines += ["", f"Folder search (`search \"a chair\" --in` {fs['files']} Sweet Home 3D test shapes): first run "
              f"{fs['first_run']['wall']:.1f} s wall / {fs['first_run']['cpu']:.1f} s CPU (embeds the folder), cached "
              f"{fs['cached']['wall']:.2f} s wall / {fs['cached']['cpu']:.2f} s CPU; top result {fs['top_result']} "
              f"(class {fs['top_result_class']}); top 5: "
              + ", ".join(f"{Path(path).stem} ({cls})" for path, cls in fs.get("ranked", [])) + "."]
    demo = record.get("demo_under_load")
    if demo:
        before = demo["machine_before"]
        earlier = " (not measured in this run: the record of an earlier run, kept)" if demo.get("from_an_earlier_run") else ""
        lines += ["", f"`hyperalign demo`{earlier} with two `python -c \"while True: pass\"` jobs running: {demo['wall']:.0f} s wall, "
                  f"{demo['cpu']:.0f} s CPU, exit {demo['code']} (load average {before['loadavg'][0]:.1f} when it "
                  f"started). First lines: " + " / ".join(f"`{line}`" for line in demo["first_lines"])
                  + ". Stages: " + " / ".join(f"`{line}`" for line in demo.get("stage_lines", []))]
    end = record["machine_end"]
    lines += ["", f"Load average at the end {end['loadavg'][0]:.1f}. Busiest processes at the start: "
              + "; ".join(f"`{row}`" for row in start["busiest"][:6])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
