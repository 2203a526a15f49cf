"""Load test of `hyperalign serve` on loopback only: the batched and the unbatched text path side by side, one run.

    python benchmarks/load_test.py --index runs/demo/index [--requests 2000 --concurrency 50] \
        [--distinct-queries 10] [--out benchmarks/results/load_test.json]

For each mode (``--no-batching``, then the default dynamic batching) starts the server in a child process on
127.0.0.1 (a free port), waits for /health, warms up, sends `--requests` requests (70 % text searches over
`--distinct-queries` different texts, 20 % item lookups, 10 % health checks) with `--concurrency` in flight, and stops
it (also after `--max-seconds`). Reports errors, p50 / p99 latency, requests per second and the server's RSS before and
after per mode, and the batched / unbatched throughput ratio; writes JSON and a markdown table (same name, .md).
Nothing is asserted about time; the exit code is non-zero only if a request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

QUERIES = ["a chair", "a tall floor lamp", "a round table", "a vase", "an office chair on a star base", "a bookcase",
           "a stool with three legs", "a desk lamp", "a wide armchair", "a coffee table"]
MODES = {"unbatched": ["--no-batching"], "batched": []}


def query_text(i: int, distinct: int) -> str:
    """The i-th request's text: one of ``distinct`` different queries (numbered variants beyond the ten above)."""
    j = i % distinct
    base = QUERIES[j % len(QUERIES)]
    return base if j < len(QUERIES) else f"{base} number {j // len(QUERIES)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(
    base: str, n: int, concurrency: int, max_seconds: float, item_ids: list[str], distinct: int
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    sem = asyncio.Semaphore(concurrency)
    deadline = time.perf_counter() + max_seconds

    async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:

        async def one(i: int) -> None:
            if time.perf_counter() > deadline:
                return
            async with sem:
                t0 = time.perf_counter()
                kind = i % 10
                try:
                    if kind < 7:
                        r = await client.post("/search/text", json={"query": query_text(i, distinct), "k": 10})
                    elif kind < 9:
                        r = await client.get(f"/items/{item_ids[i % len(item_ids)]}")
                    else:
                        r = await client.get("/health")
                    if r.status_code != 200:
                        errors.append(f"{r.request.method} {r.request.url.path}: {r.status_code}")
                except httpx.HTTPError as e:
                    errors.append(f"{type(e).__name__}: {e}")
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(i) for i in range(n)))
    return latencies, errors


def measure(args: argparse.Namespace, mode: str, item_ids: list[str]) -> dict:
    """Start the server in ``mode``, warm it up, load it, stop it; the mode's figures."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hyperalign", "serve", "--index", str(args.index), "--port", str(port),
               *MODES[mode]]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_start = time.time()
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() - t_start > 120:
                raise SystemExit(f"the {mode} server did not come up")
            time.sleep(0.2)
        asyncio.run(_run(base, 50, 10, 60, item_ids, args.distinct_queries))  # warm-up
        rss_before = _rss_mib(server.pid)
        t0 = time.perf_counter()
        latencies, errors = asyncio.run(
            _run(base, args.requests, args.concurrency, args.max_seconds, item_ids, args.distinct_queries)
        )
        wall = time.perf_counter() - t0
        rss_after = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat = np.array(latencies) * 1000
    return {
        "mode": mode, "command": " ".join(command[1:]), "requests_sent": len(latencies), "errors": len(errors),
        "error_samples": errors[:10], "wall_s": wall, "requests_per_s": len(latencies) / wall,
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)), "max": float(lat.max())},
        "server_rss_mib": {"before": rss_before, "after": rss_after},
    }  # fmt: skip


def markdown(report: dict) -> str:
    """The report as a markdown table."""
    lines = [
        "# Load test: batched vs unbatched text queries",
        "",
        f"`python benchmarks/load_test.py {' '.join(report['argv'])}`; {report['requests']} requests, "
        f"{report['concurrency']} concurrent, {report['distinct_queries']} distinct query texts, "
        f"{report['cpu_count']} CPUs, load average before: {report['load_average_before']}.",
        "",
        "| mode | req/s | p50 ms | p99 ms | max ms | errors | server RSS MiB (before / after) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for m in report["modes"].values():
        lat, rss = m["latency_ms"], m["server_rss_mib"]
        lines.append(
            f"| {m['mode']} | {m['requests_per_s']:.1f} | {lat['p50']:.0f} | {lat['p99']:.0f} | {lat['max']:.0f} | "
            f"{m['errors']} | {rss['before']:.0f} / {rss['after']:.0f} |"
        )
    lines += ["", f"Batched / unbatched throughput: {report['batched_over_unbatched']:.2f}x.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("runs/demo/index"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--distinct-queries", type=int, default=len(QUERIES))
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load_test.json"))
    args = parser.parse_args(argv)

    records_path = args.index / "records.json"
    records = json.loads(records_path.read_text()) if records_path.is_file() else None
    item_ids = [it["id"] for it in records["items"]] if records else ["missing"]
    load_before = os.getloadavg()
    modes = {mode: measure(args, mode, item_ids) for mode in args.modes}
    rates = {m: r["requests_per_s"] for m, r in modes.items()}
    report = {
        "benchmark": "load_test", "argv": sys.argv[1:] if argv is None else argv, "requests": args.requests,
        "concurrency": args.concurrency, "distinct_queries": args.distinct_queries, "cpu_count": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before], "modes": modes,
        "batched_over_unbatched": rates["batched"] / rates["unbatched"] if len(rates) == 2 else float("nan"),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(markdown(report))
    print(json.dumps(report, indent=2))
    if any(m["errors"] for m in modes.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
