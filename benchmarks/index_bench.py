"""Lorentz index benchmark: recall@10 of HNSW and IVF against exact Lorentz kNN, with queries per second of the
exact flat index and of each approximate setting measured side by side in one process, build time and memory.

Datasets (64-d space parts, curvature 1 unless the model says otherwise):

* ``tree``    ``--n`` points from :func:`hyperalign.index.synthetic.tree_mixture` (a random tree of wrapped normals,
              deeper nodes farther from the origin), queries drawn from the same mixture with another seed;
* ``real``    a trained model's shape embeddings as the database and its caption embeddings as queries
              (``--run``: a run or checkpoint directory; skipped without one);
* ``uniform`` ``--n`` points uniform by volume in the hyperbolic ball of radius 5: no structure, the worst case.

Ground truth is the flat index (exact: FAISS inner products over the MIPS reduction, re-ranked with
``lorentz.dist``), itself checked against a brute-force ``lorentz.dist`` scan for the first queries. QPS: all
queries in one batch, best of ``--repeats``, with ``--search-threads`` threads (default 1: on a shared machine a
single thread gives the steadiest comparison; builds use every core); the flat index is timed before and
after the approximate ones and reported as their mean.

    python benchmarks/index_bench.py --n 1000000 --out benchmarks/results/index_bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hyperalign.atomic import write_text_atomic
from hyperalign.geometry import lorentz
from hyperalign.index import IndexSpec, LorentzIndex
from hyperalign.index.synthetic import tree_mixture, uniform_ball

K = 10
BUILD_THREADS = os.cpu_count() or 1
SEARCH_THREADS = 1  # set by --search-threads


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth))
    return hits / float((truth >= 0).sum())


def set_threads(n: int) -> None:
    import faiss

    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)


def timed_search(index: LorentzIndex, queries: np.ndarray, repeats: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Search all queries ``repeats`` times with the search thread count; best wall time gives the QPS."""
    set_threads(SEARCH_THREADS)
    try:
        index.search(queries[: min(len(queries), 32)], K)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            dist, ids = index.search(queries, K)
            best = min(best, time.perf_counter() - start)
    finally:
        set_threads(BUILD_THREADS)
    return dist, ids, len(queries) / best


def build(points: np.ndarray, c: float, spec: IndexSpec, scratch: Path) -> tuple[LorentzIndex, dict[str, Any]]:
    before = rss_bytes()
    start = time.perf_counter()
    index = LorentzIndex(points.shape[1], c, spec)
    index.add(points)
    seconds = time.perf_counter() - start
    grown = rss_bytes() - before
    saved = index.save(scratch / spec.kind)
    files = {p.name: p.stat().st_size for p in saved.iterdir()}
    shutil.rmtree(saved)
    stats = {"build_s": round(seconds, 2), "rss_growth_bytes": grown, "saved_bytes": sum(files.values()), "files": files}
    log(f"  {spec.kind}: built in {seconds:.1f} s, {sum(files.values()) / 2**20:.0f} MiB on disk")
    return index, stats


def brute_force_check(points: np.ndarray, queries: np.ndarray, c: float, truth: np.ndarray, n_check: int) -> float:
    """recall@10 of the flat index against a float64 lorentz.dist scan, on the first ``n_check`` queries."""
    q = torch.from_numpy(queries[:n_check].astype(np.float64))
    best_d = np.full((len(q), 0), np.inf)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    step = max(1, (1 << 23) // (len(q) * points.shape[1]))  # (queries, step, dim) float64 blocks of 64 MiB
    for s in range(0, len(points), step):
        y = torch.from_numpy(points[s : s + step].astype(np.float64))
        d = lorentz.dist(q[:, None], y[None], c).numpy()
        cand_d = np.concatenate([best_d, d], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(s, s + len(y)), d.shape)], axis=1)
        order = np.argsort(cand_d, axis=1, kind="stable")[:, :K]
        best_d, best_i = np.take_along_axis(cand_d, order, 1), np.take_along_axis(cand_i, order, 1)
    return recall(truth[:n_check], best_i)


def bench(name: str, points: np.ndarray, queries: np.ndarray, c: float, args: argparse.Namespace) -> dict[str, Any]:
    log(f"{name}: {len(points)} points, {len(queries)} queries, dim {points.shape[1]}, c = {c:g}")
    out: dict[str, Any] = {"n": len(points), "dim": points.shape[1], "queries": len(queries), "curvature": c, "k": K}
    with tempfile.TemporaryDirectory(prefix="index-bench-") as tmp:
        scratch = Path(tmp)
        flat, out["flat"] = build(points, c, IndexSpec(kind="flat"), scratch)
        _, truth, qps_before = timed_search(flat, queries, args.repeats)
        out["flat"]["recall_vs_bruteforce"] = brute_force_check(points, queries, c, truth, args.check)
        log(f"  flat: {qps_before:.0f} qps; recall vs brute force {out['flat']['recall_vs_bruteforce']:.3f}")

        hnsw, out["hnsw"] = build(points, c, IndexSpec(kind="hnsw", hnsw_m=args.hnsw_m, ef_construction=args.ef_construction), scratch)
        out["hnsw"]["params"] = {"M": args.hnsw_m, "ef_construction": args.ef_construction, "rerank_factor": 2}
        out["hnsw"]["curve"] = []
        for ef in args.ef_search:
            hnsw.configure(ef_search=ef)
            _, found, qps = timed_search(hnsw, queries, args.repeats)
            out["hnsw"]["curve"].append({"ef_search": ef, "recall@10": round(recall(found, truth), 4), "qps": round(qps, 1)})
            log(f"  hnsw ef_search={ef}: recall@10 {out['hnsw']['curve'][-1]['recall@10']:.4f}, {qps:.0f} qps")
        del hnsw

        ivf, out["ivf"] = build(points, c, IndexSpec(kind="ivf", nlist=args.nlist), scratch)
        out["ivf"]["params"] = {"nlist": ivf.store.nlist, "rerank_factor": 2, "kmeans": "tangent space, 20 iterations"}
        out["ivf"]["curve"] = []
        for nprobe in args.nprobe:
            ivf.configure(nprobe=nprobe)
            _, found, qps = timed_search(ivf, queries, args.repeats)
            out["ivf"]["curve"].append({"nprobe": nprobe, "recall@10": round(recall(found, truth), 4), "qps": round(qps, 1)})
            log(f"  ivf nprobe={nprobe}: recall@10 {out['ivf']['curve'][-1]['recall@10']:.4f}, {qps:.0f} qps")
        del ivf

        _, _, qps_after = timed_search(flat, queries, args.repeats)
        flat_qps = (qps_before + qps_after) / 2
        out["flat"].update({"qps": round(flat_qps, 1), "qps_before": round(qps_before, 1), "qps_after": round(qps_after, 1)})
        log(f"  flat again: {qps_after:.0f} qps")
    for kind in ("hnsw", "ivf"):
        for row in out[kind]["curve"]:
            row["speedup_vs_flat"] = round(row["qps"] / flat_qps, 2)
        good = [row for row in out[kind]["curve"] if row["recall@10"] >= args.target_recall]
        out[kind]["operating_point"] = max(good, key=lambda r: r["qps"]) if good else None
    point = out["hnsw"]["operating_point"]
    out["target"] = {
        "recall@10": args.target_recall,
        "speedup": args.target_speedup,
        "met_by_hnsw": bool(point and point["speedup_vs_flat"] >= args.target_speedup),
    }
    return out


def real_embeddings(run: Path, max_queries: int) -> tuple[np.ndarray, np.ndarray, float] | None:
    from hyperalign.runtime.index import Index

    index = Index.build(run, log=log)
    if index.shapes.curvature is None:
        log("real: the model is Euclidean (cosine); this benchmark is about Lorentz indexes, skipped")
        return None
    queries = np.asarray(index.captions.vectors)
    rng = np.random.default_rng(0)
    if len(queries) > max_queries:
        queries = queries[np.sort(rng.choice(len(queries), max_queries, replace=False))]
    return np.asarray(index.shapes.vectors), queries, float(index.shapes.curvature)


def run_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Generate or load one dataset and benchmark it (its arrays are freed on return)."""
    if name == "tree":
        points, _ = tree_mixture(args.n + args.queries, args.dim, 1.0, seed=0)
        return bench("tree", points[args.queries :], points[: args.queries], 1.0, args)
    if name == "uniform":
        points = uniform_ball(args.n, args.dim, 1.0, radius=5.0, seed=0)
        return bench("uniform", points, uniform_ball(args.queries, args.dim, 1.0, radius=5.0, seed=1), 1.0, args)
    if name == "real":
        if not (args.run / "best").exists() and not (args.run / "meta.json").exists():
            log(f"real: skipped, no run at {args.run}")
            return {"skipped": f"no trained run at {args.run} (pass --run)"}
        found = real_embeddings(args.run, args.queries)
        if found is None:
            return {"skipped": "Euclidean model"}
        shapes, queries, c = found
        return {**bench("real", shapes, queries, c, args), "source": str(args.run)}
    raise SystemExit(f"--datasets: unknown dataset {name!r}; expected tree, real, uniform")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="database size for tree and uniform")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--datasets", default="tree,real,uniform")
    p.add_argument("--run", type=Path, default=Path("runs/demo/run"), help="trained run for the real embeddings")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=80)
    p.add_argument("--ef-search", type=lambda s: [int(v) for v in s.split(",")], default=[16, 32, 64, 128, 256])
    p.add_argument("--nlist", type=int, default=None, help="IVF cells (default about 4 sqrt(N))")
    p.add_argument("--nprobe", type=lambda s: [int(v) for v in s.split(",")], default=[1, 4, 8, 16, 32, 64])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--search-threads", type=int, default=1, help="threads while timing searches (builds use all)")
    p.add_argument("--check", type=int, default=20, help="queries checked against a brute-force scan")
    p.add_argument("--target-recall", type=float, default=0.95)
    p.add_argument("--target-speedup", type=float, default=20.0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/index_bench.json"))
    args = p.parse_args(argv)

    import faiss

    global SEARCH_THREADS
    SEARCH_THREADS = args.search_threads
    set_threads(BUILD_THREADS)
    result: dict[str, Any] = {
        "benchmark": "hyperalign index_bench",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "build_threads": BUILD_THREADS,
            "search_threads": SEARCH_THREADS,
            "load_average_at_start": os.getloadavg(),
            "faiss": faiss.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "datasets": {},
    }
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        result["datasets"][name] = run_dataset(name, args)
        write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")  # partial results survive a later failure
    result["machine"]["load_average_at_end"] = os.getloadavg()
    write_text_atomic(args.out, json.dumps(result, indent=2) + "\n")
    log(f"results written to {args.out}")
    return result


if __name__ == "__main__":
    main()
