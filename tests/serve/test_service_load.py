"""Load test of `hyperalign serve` on loopback (bounded: 2000 requests, 50 concurrent, stops by itself): no errors and
a stable memory footprint. Slow: run by .ci/run when time allows."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "load_test.py"


@pytest.mark.slow
def test_serve_holds_load_without_errors(tiny_index_path, tmp_path):
    out = tmp_path / "load.json"
    subprocess.run(
        [sys.executable, str(BENCH), "--index", str(tiny_index_path), "--requests", "2000", "--concurrency", "50",
         "--max-seconds", "240", "--out", str(out)],
        check=True, timeout=600,
    )
    report = json.loads(out.read_text())
    assert report["errors"] == 0 and report["requests_sent"] == 2000
    rss = report["server_rss_mib"]
    assert rss["after"] <= 1.25 * rss["before"], rss  # memory stable within 25 %
