"""What a new user waits for in the first minute: ``--help``, a usage error, ``search`` on a built index, folder
search, and ``hyperalign demo`` while two other single-thread jobs run.

    python benchmarks/first_minute.py [--out benchmarks/results] [--repeats 5] [--baseline 8ff4cbd] [--skip-demo]
        [--checkpoint NAME_OR_RUN_DIR]
    python benchmarks/first_minute.py --folders-only [--checkpoint NAME_OR_RUN_DIR]   # folder searches only

Every command runs as a fresh process (cold: a new interpreter each time; the OS file cache stays warm, as it does
for a user's second command). Wall and CPU (user + sys of the child) seconds are recorded, median over repeats. The
CLI costs are also measured on a baseline checkout (``git archive`` of ``--baseline`` into the work directory, run
with ``PYTHONPATH`` pointing at it) and reported as ratios, interleaved command by command so the machine's load
drifts hit both alike. The machine's load average and the busiest other processes are recorded before and after.
Folder search: ``search "a chair" --in FOLDER`` (first run with an empty cache, then cached) over three folders of
the same 20 Sweet Home 3D test items (``sh3d_folders.py``): the converted point files, the shipped models as OBJ
meshes with vertex colours, and the shipped OBJ + MTL + textures verbatim; each records the full ranking, the top
result's coarse class, whether it is a chair (the rule is printed) and the rank of the first chair. ``--checkpoint``
picks the model (default: the CLI's own default, the shipped model).
With ``--skip-demo`` the demo is not run, and the demo record of the results file being replaced is kept (marked).
Writes ``first_minute.json`` and ``first_minute.md`` (``first_minute_folders.*`` with ``--folders-only``,
``first_minute_fifo.*`` with ``--fifo``); nothing here asserts anything about time.
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

from sh3d_folders import (
    CHAIR_RULE,
    chosen_items,
    colour_check,
    item_labels,
    mesh_folder,
    point_folder,
    shipped_folder,
    up_axis_check,
)

ROOT = Path(__file__).resolve().parents[1]


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
    return {"wall": wall, "cpu": cpu, "code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
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
    does not depend on how well the model is trained). A baseline's index (a fixed commit) is reused from an earlier
    run; the current checkout's is rebuilt every time, since its code may have changed since."""
    run, index, data = work / f"{name}-run", work / f"{name}-index", work / f"{name}-data"
    if name != "current" and (index / "index.json").is_file():
        return index
    for made in (run, index, data):  # this benchmark's own earlier output
        shutil.rmtree(made, ignore_errors=True)
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


def folder_search(folder: Path, labels: dict[str, dict[str, object]], checkpoint: str | None, work: Path,
                  repeats: int) -> dict[str, object]:
    """``search "a chair" --in folder`` with an empty cache (first run: embeds every file), then ``repeats`` cached
    runs; the full ranking, the top result's class, and the rank of the first chair (see ``sh3d_folders``)."""
    cache = work / f"{folder.name}-cache"
    shutil.rmtree(cache, ignore_errors=True)
    query = ["search", "a chair", "--in", str(folder), "--cache-dir", str(cache), "-k", "1000", "--json"]  # all
    query += ["--checkpoint", checkpoint] if checkpoint else []
    first = timed(query, ROOT / "src")
    again = [timed(query, ROOT / "src") for _ in range(repeats)]
    try:
        hits = json.loads(first["stdout"])["results"]
    except (ValueError, KeyError):
        hits = []
    ranked = [(h["path"], labels.get(Path(h["path"]).parts[0].removesuffix(".npy"), {})) for h in hits]
    distances = [float(h["distance"]) for h in hits]

    def first_rank(key: str) -> int | None:
        return next((r for r, (_, lab) in enumerate(ranked, 1) if lab.get(key)), None)

    top_path, top = ranked[0] if ranked else (None, {})
    return {"folder": folder.name, "files": len(ranked), "first_run": {k: first[k] for k in ("wall", "cpu", "code")},
            "cached": median_of(again), "query": "a chair", "checkpoint": checkpoint, "top_result": top_path,
            "top_result_class": top.get("class"), "top_correct": bool(top.get("chair")),
            "first_chair_rank": first_rank("chair"), "first_strict_chair_rank": first_rank("chair_strict"),
            "ranked": [(path, lab.get("class")) for path, lab in ranked], "distances": distances, "stderr_tail": first["stderr"][-500:],
            "skipped": [line for line in first["stderr"].splitlines() if line.startswith("skipped ")]}


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


def cli_costs(current: Path, base: Path, work: Path, repeats: int) -> dict[str, dict[str, object]]:
    """Median wall / CPU of the cheap CLI calls on this checkout and on the baseline, interleaved, and their ratios."""
    indexes = {"current": tiny_index(current, work, "current"), "baseline": tiny_index(base, work, "baseline")}
    cli = {
        "--help": lambda which: ["--help"],
        "usage error (search without a query)": lambda which: ["search"],
        "usage error (unknown command)": lambda which: ["serach"],
        "search on a built index": lambda which: ["search", "a chair", "--index", str(indexes[which]), "-k", "5"],
    }
    runs: dict[str, dict[str, list]] = {name: {"current": [], "baseline": []} for name in cli}
    for _ in range(repeats):
        for name, make in cli.items():
            for which, src in (("current", current), ("baseline", base)):
                runs[name][which].append(timed(make(which), src))
    results = {}
    for name, by in runs.items():
        cur, old = median_of(by["current"]), median_of(by["baseline"])
        results[name] = {"current": cur, "baseline": old, "wall_ratio": cur["wall"] / old["wall"],
                         "cpu_ratio": cur["cpu"] / old["cpu"]}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hyperalign-first-minute")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default="8ff4cbd")
    parser.add_argument("--checkpoint", default=None,
                        help="model for the folder searches (shipped name or run directory; default: the CLI's)")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--folders-only", action="store_true",
                        help="only the folder searches (no CLI timings, no demo); results go to first_minute_folders.*")
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
    command = " ".join(["python benchmarks/first_minute.py", *(sys.argv[1:] if argv is None else argv)])
    record: dict[str, object] = {"command": command, "machine_start": machine_state(), "python": platform.python_version(),
                                 "baseline": args.baseline, "repeats": args.repeats, "fifo_priority": args.fifo,
                                 "folders_only": args.folders_only, "niceness": os.nice(0)}
    if not args.folders_only:
        record["cli"] = cli_costs(current, baseline_checkout(args.baseline, work) / "src", work, args.repeats)
    items = chosen_items()
    labels = item_labels(items)
    folders = {"point files": point_folder(work, items), "meshes (one OBJ with vertex colours each)": mesh_folder(
        work, items), "meshes as shipped (OBJ + MTL + textures)": shipped_folder(work, items)}
    record["folder_rule"] = CHAIR_RULE
    record["folder_items"] = labels
    record["mesh_up_axis"] = up_axis_check(items)
    record["mesh_colour_gap"] = colour_check(folders["meshes (one OBJ with vertex colours each)"], items)
    record["folder_search"] = {name: folder_search(folder, labels, args.checkpoint, work, args.repeats)
                               for name, folder in folders.items()}
    stem = "first_minute_folders" if args.folders_only else "first_minute" if args.fifo is None else "first_minute_fifo"
    if not (args.skip_demo or args.folders_only):
        record["demo_under_load"] = demo_under_load(current, work)
    elif not args.folders_only and (args.out / f"{stem}.json").is_file():  # keep the earlier run's record, marked
        earlier = json.loads((args.out / f"{stem}.json").read_text()).get("demo_under_load")
        if earlier:
            record["demo_under_load"] = {**earlier, "from_an_earlier_run": True}
    record["machine_end"] = machine_state()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(render(record))
    print(render(record))


def render(record: dict) -> str:
    start = record["machine_start"]
    fifo = record.get("fifo_priority")
    command = record.get("command") or (
        "python benchmarks/first_minute.py" + (f" --fifo {fifo}" if fifo is not None else "")
        + (" --folders-only" if record.get("folders_only") else "") + f" --repeats {record['repeats']}")
    lines = ["# First minute", "",
             f"Command: `{command}` (median of {record['repeats']} fresh processes"
             + ("" if "cli" not in record else f"; baseline = `git archive {record['baseline']}`, interleaved")
             + (f"; every command under `chrt -f {fifo}`, i.e. ahead of the machine's other jobs" if fifo is not None
                else "")
             + f"; niceness {record.get('niceness', 0)}). Load average at the start "
             f"{start['loadavg'][0]:.1f} on {start['cpus']} cores (other helpers' jobs; see the JSON)."]
    if "cli" in record:
        lines += ["", "| command | wall s | CPU s | baseline wall s | baseline CPU s | wall ratio | CPU ratio |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in record["cli"].items():
            lines.append(f"| `{name}` | {r['current']['wall']:.2f} | {r['current']['cpu']:.2f} | "
                         f"{r['baseline']['wall']:.2f} | {r['baseline']['cpu']:.2f} | {r['wall_ratio']:.2f} | "
                         f"{r['cpu_ratio']:.2f} |")
    lines += ["", "Folder search, `search \"a chair\" --in FOLDER` over the same 20 Sweet Home 3D test items (see "
              "`benchmarks/sh3d_folders.py`). " + record["folder_rule"] + ".", "",
              "| folder | files | first run wall / CPU s | cached wall / CPU s | top result (class) | top correct | "
              "first chair rank (strict) |", "|---|---|---|---|---|---|---|"]
    for name, fs in record["folder_search"].items():
        top = Path(fs["top_result"]).parts[0] if fs["top_result"] else "none"
        lines.append(f"| {name} (`{fs['folder']}`) | {fs['files']} | {fs['first_run']['wall']:.1f} / "
                     f"{fs['first_run']['cpu']:.1f} | {fs['cached']['wall']:.2f} / {fs['cached']['cpu']:.2f} | "
                     f"{top} ({fs['top_result_class']}) | {'yes' if fs['top_correct'] else 'no'} | "
                     f"{fs['first_chair_rank']} ({fs['first_strict_chair_rank']}) |")
    checkpoint = next(iter(record["folder_search"].values()))["checkpoint"] or "the CLI default (shipped)"
    lines += ["", f"Model: {checkpoint}. Chairs in the folder: "
              + ", ".join(i for i, lab in record["folder_items"].items() if lab["chair"]) + "."]
    for name, fs in record["folder_search"].items():
        spread = (f" (distances {min(fs['distances']):.3f}-{max(fs['distances']):.3f})"
                  if fs.get("distances") else "")
        lines.append(f"- {name}{spread}: " + ", ".join(f"{Path(p).parts[0].removesuffix('.npy')} ({c})"
                                                         for p, c in fs["ranked"])
                     + (f"; {len(fs['skipped'])} other files reported unreadable and skipped (e.g. `"
                        f"{fs['skipped'][0][:160]}`)" if fs.get("skipped") else ""))
    up = record["mesh_up_axis"]
    y_up = [r["id"] for r in up if r["up_match"] == "y" and not r["ambiguous"]]
    lines += ["", f"Up axis of the shipped models (bounding-box proportions against the catalogue's width x height x "
              f"depth): {len(y_up)} of {len(up)} unambiguously y-up; ambiguous (two axes of near-equal extent): "
              + (", ".join(r["id"] for r in up if r["ambiguous"]) or "none") + "; not y-up: "
              + (", ".join(f"{r['id']} ({r['up_match']}-up, modelRotation {r['model_rotation']})"
                           for r in up if r["up_match"] != "y") or "none")
              + ". The folders hold the models as shipped (no modelRotation), searched with the default `--up-axis y`."]
    gaps = record.get("mesh_colour_gap")
    if gaps:
        lines += ["", "Colour of `my-meshes` as the folder search reads it (vertex colours) against the converted "
                  "clouds (texture per sample), mean colour per item, largest channel gap: median "
                  f"{statistics.median(gaps.values()):.3f}, max {max(gaps.values()):.3f} (colours in [0, 1])."]
    demo = record.get("demo_under_load")
    if demo:
        before = demo["machine_before"]
        earlier = " (not measured in this run: the record of an earlier run, kept)" if demo.get("from_an_earlier_run") else ""
        lines += ["", f"`hyperalign demo`{earlier} with two `python -c \"while True: pass\"` jobs running: {demo['wall']:.0f} s "
                  f"wall, {demo['cpu']:.0f} s CPU, exit {demo['code']} (load average {before['loadavg'][0]:.1f} when "
                  "it started). First lines: " + " / ".join(f"`{line}`" for line in demo["first_lines"])
                  + ". Stages: " + " / ".join(f"`{line}`" for line in demo.get("stage_lines", []))]
    end = record["machine_end"]
    lines += ["", f"Load average at the end {end['loadavg'][0]:.1f}. Busiest processes at the start: "
              + "; ".join(f"`{row}`" for row in start["busiest"][:6])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
