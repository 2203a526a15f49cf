"""A new user's first minutes from a fresh venv: the README's install command, then ``hyperalign search "a chair"
--in`` a folder of 20 Sweet Home 3D meshes, with no training step.

    python benchmarks/fresh_install.py [--work /tmp/hyperalign-fresh-install] [--checkpoint NAME_OR_RUN_DIR]

Steps: ``git archive`` of ``--rev`` (default HEAD) into ``<work>/checkout`` (a fresh clone), ``python -m venv
<work>/venv``, then each ``pip install`` of the README's first command, run with that venv's pip from the checkout
and ``--no-cache-dir`` (``hyperalign demo``, the command's last part, is left out). Then, from the venv, with an empty
HOME (no caches), ``hyperalign search "a chair" --in <work>/my-meshes -k 20 --json``: the first run (embeds the
folder) and a second one (cached). ``--checkpoint`` adds ``--checkpoint X`` to the search; without it the CLI's
default shipped model is used. If the install took less than ``--demo-under`` seconds, ``hyperalign demo`` is timed
in the venv too. The folder is the one ``sh3d_folders.mesh_folder`` writes (``<id>/<model>.obj``, vertex colours).
The load average and the busiest processes are recorded before and after each step. Writes
``fresh_install.json`` and ``fresh_install.md`` to ``--out``; nothing here asserts anything about time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from first_minute import machine_state
from sh3d_folders import CHAIR_RULE, chosen_items, item_labels, mesh_folder

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".made-by-fresh-install"  # only directories carrying it are ever removed


def readme_install_commands(readme: Path) -> tuple[str, list[list[str]]]:
    """The README's first command (first line of its first ``bash`` block) and its ``pip install`` parts as argv."""
    match = re.search(r"```bash\n(.*?)\n", readme.read_text(encoding="utf-8"))
    if match is None:
        raise ValueError(f"{readme}: no ```bash block; expected the install command in the first one")
    line = match.group(1).strip()
    parts = [shlex.split(part) for part in line.split("&&")]
    installs = [p for p in parts if p[:2] == ["pip", "install"]]
    if not installs:
        raise ValueError(f"{readme}: the first command {line!r} has no 'pip install' part")
    return line, installs


def fresh_dir(path: Path) -> Path:
    """``path`` emptied if this script made it before, created if absent; anything else there is refused."""
    if path.exists():
        if not (path / MARKER).is_file():
            raise FileExistsError(f"{path}: exists and was not made by this script; remove it or pass another --work")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("")
    return path


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> dict[str, object]:
    """Wall and child CPU seconds of ``cmd``, its exit code and the ends of its output; the load around it."""
    before_state = machine_state()
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    sources = {kind: sum(line.lstrip().startswith(kind) for line in proc.stdout.splitlines())
               for kind in ("Downloading", "Processing", "Using cached")}  # where pip took each distribution from
    return {"cmd": shlex.join(cmd), "sources": sources, "wall": wall, "cpu": cpu, "code": proc.returncode, "stdout": proc.stdout,
            "stdout_tail": proc.stdout[-3000:], "stderr_tail": proc.stderr[-3000:], "machine_before": before_state,
            "machine_after": machine_state()}


def ranking(result: dict[str, object], labels: dict[str, dict[str, object]]) -> dict[str, object]:
    """Top result, its class and correctness, and the rank of the first chair (class rule and strict rule)."""
    try:
        hits = json.loads(str(result["stdout"]))["results"]
    except (ValueError, KeyError):
        return {"error": "no JSON results", "stderr_tail": result["stderr_tail"]}
    ranked = [(h["path"], labels.get(Path(h["path"]).parts[0], {})) for h in hits]

    def first(key: str) -> int | None:
        return next((r for r, (_, lab) in enumerate(ranked, 1) if lab.get(key)), None)

    top_path, top = ranked[0] if ranked else (None, {})
    return {"top_result": top_path, "top_class": top.get("class"), "top_correct": bool(top.get("chair")),
            "first_chair_rank": first("chair"), "first_strict_chair_rank": first("chair_strict"),
            "files_ranked": len(ranked), "ranked": [[p, lab.get("class")] for p, lab in ranked]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hyperalign-fresh-install")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--rev", default="HEAD", help="commit of this checkout to install (git archive)")
    parser.add_argument("--checkpoint", default=None,
                        help="model for the search (a shipped name or run directory; default: the CLI's default)")
    parser.add_argument("--demo-under", type=float, default=180.0,
                        help="also time `hyperalign demo` when the install took fewer seconds than this")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = {"python": platform.python_version(), "rev": args.rev, "niceness": os.nice(0),
                                 "checkpoint": args.checkpoint or "(CLI default)", "machine_start": machine_state()}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.rev], capture_output=True, text=True, check=True)
    record["commit"] = commit.stdout.strip()
    checkout = fresh_dir(args.work / "checkout")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.rev], stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    line, installs = readme_install_commands(checkout / "README.md")
    record["readme_command"] = line

    items = chosen_items()
    labels = item_labels(items)
    folder = mesh_folder(args.work, items)
    record["folder"] = {"path": str(folder), "files": sorted(str(p.relative_to(folder)) for p in folder.rglob("*.obj")),
                        "chairs": sorted(i for i, lab in labels.items() if lab["chair"]), "rule": CHAIR_RULE}

    venv, home = fresh_dir(args.work / "venv"), fresh_dir(args.work / "home")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"HOME": str(home), "OMP_NUM_THREADS": "1", "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    steps = [run([sys.executable, "-m", "venv", str(venv)], env)]
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    for part in installs:
        steps.append(run([*pip, "install", "--no-cache-dir", *part[2:]], env, cwd=checkout))
        if steps[-1]["code"] != 0:
            break
    install_ok = all(s["code"] == 0 for s in steps)
    record["install"] = {"ok": install_ok, "wall": sum(s["wall"] for s in steps), "cpu": sum(s["cpu"] for s in steps),
                         "steps": [{k: v for k, v in s.items() if k != "stdout"} for s in steps]}
    if install_ok:
        which = run([str(venv / "bin" / "python"), "-c", "import hyperalign, torch; print(hyperalign.__file__, "
                     "torch.__version__)"], env)
        record["installed"] = which["stdout_tail"].strip()
        query = [str(venv / "bin" / "hyperalign"), "search", "a chair", "--in", str(folder), "-k", "20", "--json"]
        query += ["--checkpoint", args.checkpoint] if args.checkpoint else []
        searches = {}
        for name in ("first run", "cached"):
            result = run(query, env)
            searches[name] = {**{k: v for k, v in result.items() if k != "stdout"}, **ranking(result, labels)}
        record["search"] = searches
        if record["install"]["wall"] < args.demo_under:
            demo = run([str(venv / "bin" / "hyperalign"), "demo", "--out", str(args.work / "demo"), "--no-progress"],
                       env)
            record["demo"] = {k: v for k, v in demo.items() if k != "stdout"}
    record["machine_end"] = machine_state()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fresh_install.json").write_text(json.dumps(record, indent=2) + "\n")
    (args.out / "fresh_install.md").write_text(render(record))
    print(render(record))


def _load(state: dict) -> str:
    return "/".join(f"{v:.1f}" for v in state["loadavg"])


def render(record: dict) -> str:
    inst = record["install"]
    lines = ["# Fresh install, then folder search", "",
             f"Command: `python benchmarks/fresh_install.py` (commit {record['commit'][:10]}, Python {record['python']}"
             f", search model {record['checkpoint']}, every command with `OMP_NUM_THREADS=1`, an empty HOME and niceness "
             f"{record['niceness']}: under load a niced command gets a smaller share of the CPU, so compare CPU "
             "seconds across runs).", "",
             f"README's first command: `{record['readme_command']}`; run here as a fresh venv (`python -m venv`) and "
             "its `pip install` parts with `--no-cache-dir`, from a `git archive` of the commit.", "",
             "| step | wall s | CPU s | exit | load before (1/5/15 min) | load after | pip: downloaded / local files |",
             "|---|---|---|---|---|---|---|"]
    rows = list(inst["steps"])
    rows += [{**s, "cmd": f"hyperalign search ({name})"} for name, s in record.get("search", {}).items()]
    rows += [{**record["demo"], "cmd": "hyperalign demo"}] if "demo" in record else []
    for s in rows:
        cmd = s["cmd"].replace(str(Path(record["folder"]["path"]).parent), "<work>")
        lines.append(f"| `{cmd[:150]}` | {s['wall']:.1f} | {s['cpu']:.1f} | {s['code']} | "
                     f"{_load(s['machine_before'])} | {_load(s['machine_after'])} | "
                     + (f"{s['sources']['Downloading']} / {s['sources']['Processing']} |" if "pip" in cmd else "|"))
    lines += ["", f"Install (venv + pip): {inst['wall']:.0f} s wall, {inst['cpu']:.0f} s CPU, "
              + ("succeeded." if inst["ok"] else "**failed**: " + inst["steps"][-1]["stderr_tail"][-800:])]
    if "installed" in record:
        lines.append(f"Installed: `{record['installed']}`.")
    folder = record["folder"]
    lines += ["", f"Folder: {len(folder['files'])} Sweet Home 3D test meshes (OBJ with vertex colours, as the archive "
              f"ships the geometry). Chairs in it: {', '.join(folder['chairs'])}. Rule: {folder['rule']}."]
    for name, s in record.get("search", {}).items():
        if "error" in s:
            lines.append(f"- search, {name}: {s['error']}; exit {s['code']}: `{s['stderr_tail'][-400:]}`")
            continue
        lines.append(f"- search, {name}: {s['wall']:.1f} s wall; top result `{s['top_result']}` (class "
                     f"{s['top_class']}, {'correct' if s['top_correct'] else 'not a chair'}); first chair at rank "
                     f"{s['first_chair_rank']} (strict rule: {s['first_strict_chair_rank']}) of {s['files_ranked']}.")
    if "search" in record:
        first = record["search"]["first run"]
        if "ranked" in first:
            lines += ["", "Ranking: " + ", ".join(f"{i}. {Path(p).parts[0]} ({c})" for i, (p, c) in
                                                   enumerate(first["ranked"], 1))]
    if "demo" not in record and inst["ok"]:
        lines += ["", f"`hyperalign demo` not run: the install took {inst['wall']:.0f} s (runs only under the "
                  "`--demo-under` threshold)."]
    start, end = record["machine_start"], record["machine_end"]
    lines += ["", f"Load average at the start {_load(start)}, at the end {_load(end)} on {start['cpus']} cores. "
              "Busiest processes at the start: " + "; ".join(f"`{r}`" for r in start["busiest"][:6]),
              "", "Busiest processes at the end: " + "; ".join(f"`{r}`" for r in end["busiest"][:6])]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
