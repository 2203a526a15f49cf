"""Load test of `hyperalign serve` on loopback only: a bounded number of requests at fixed concurrency.

    python benchmarks/load_test.py --index runs/demo/index [--requests 2000 --concurrency 50] \
        [--out benchmarks/results/load_test.json]

Starts the server in a child process on 127.0.0.1 (a free port), waits for /health, sends `--requests` requests
(text searches with varied queries, item lookups, health checks) with `--concurrency` in flight, and stops by itself
(also after `--max-seconds`). Reports errors, p50 / p99 latency, requests per second and the server's RSS before and
after. Nothing is asserted about time; the exit code is non-zero only if a request failed.
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(base: str, n: int, concurrency: int, max_seconds: float, item_ids: list[str]) -> tuple[list[float], list[str]]:
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
                        r = await client.post("/search/text", json={"query": QUERIES[i % len(QUERIES)], "k": 10})
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("runs/demo/index"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load_test.json"))
    args = parser.parse_args()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "hyperalign", "serve", "--index", str(args.index), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t_start = time.time()
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.time() - t_start > 120:
                raise SystemExit("the server did not come up")
            time.sleep(0.2)
        records = json.loads((args.index / "records.json").read_text()) if (args.index / "records.json").is_file() else None
        item_ids = [it["id"] for it in records["items"]] if records else ["missing"]
        asyncio.run(_run(base, 50, 10, 60, item_ids))  # warm-up
        rss_before = _rss_mib(server.pid)
        t0 = time.perf_counter()
        latencies, errors = asyncio.run(_run(base, args.requests, args.concurrency, args.max_seconds, item_ids))
        wall = time.perf_counter() - t0
        rss_after = _rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lat = np.array(latencies) * 1000
    report = {
        "benchmark": "load_test", "requests_sent": len(latencies), "concurrency": args.concurrency,
        "errors": len(errors), "error_samples": errors[:10], "wall_s": wall, "requests_per_s": len(latencies) / wall,
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)), "max": float(lat.max())},
        "server_rss_mib": {"before": rss_before, "after": rss_after}, "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
