"""Where the embeddings live: geometry of trained runs on their test split, and their scalars over training.

    python benchmarks/quality.py --work runs/compare [--datasets demo name item] [--models recommended h2arn-cpu]
        [--data hyperalign-data/sweethome3d] [--out benchmarks/results] [--plots benchmarks/results/plots]

Reads the run directories written by ``benchmarks/compare.py`` (``<work>/<dataset>/<model>-seed<s>``, best
checkpoint = the one chosen on validation) and measures, on the test split (no selection is made on it):

* ``radius/<level>`` and ``radius/shape``: mean distance from the origin ``d(o, x)`` of the split's captions of each
  tree level and of its shapes; ``radius_ratio``: finest-level over coarsest-level caption radius;
* ``caption_depth_spearman``: Spearman correlation between a caption's level depth (1 = coarsest) and its radius
  (captions only; ``hyperalign evaluate --hierarchy`` reports ``depth_spearman`` with the shapes as the deepest level);
* ``cone/shape`` and ``cone/shape/<level>``: fraction of (caption, shape it describes) pairs with the shape inside
  the caption's entailment cone, ``ext(x, y) <= aper(x)`` with the run's ``loss.aperture_K`` and curvature;
  ``cone/caption``: the same for (generic caption, finer caption) pairs where every shape of the finer caption is
  a shape of the generic one (:func:`hyperalign.eval.hierarchy.entailment_relations`);
* on the demo data, the fixed example queries of ``hyperalign demo`` (:data:`hyperalign.demo_run.EXAMPLE_QUERIES`):
  whether the nearest test shape lies under the query's category (``examples_right_category``, a fraction);
* from ``metrics.jsonl``: curvature, alpha per modality, the anchor gate and validation Rsum per epoch.

Euclidean runs (unit vectors) have no radius or cones and are skipped. Writes ``<out>/quality-geometry.json`` and
``.md`` and the plots ``radius_per_level.png`` and ``scalars_over_training.png`` under ``--plots``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

import hyperalign
from hyperalign.atomic import write_text_atomic
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
from hyperalign.demo_run import EXAMPLE_QUERIES, check_top_result
from hyperalign.eval.evaluate import embed_store
from hyperalign.eval.hierarchy import entailment_relations
from hyperalign.geometry import lorentz

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realdata import SPLITS  # noqa: E402

TRACKED = ("curvature", "alpha_text", "alpha_points", "text_gate", "val/rsum")


def _inside(parent: torch.Tensor, child: torch.Tensor, c: torch.Tensor, K: float) -> torch.Tensor:
    return lorentz.exterior_angle(parent, child, c) <= lorentz.half_aperture(parent, c, K)


@torch.no_grad()
def example_checks(run_dir: Path, data: Path) -> dict[str, dict]:
    """The demo's example queries against the test shapes: the top result's category / sub-type check per query."""
    retriever = hyperalign.load(run_dir)
    dataset = load_dataset(data)
    items = dataset.items("test")
    shapes = embed_store(retriever.model, PointStore(dataset, items), retriever.points_per_cloud, 64)
    dist = retriever.model.pairwise_distance(retriever.encode_text([q.text for q in EXAMPLE_QUERIES]), shapes)
    return {q.text: {"level": q.level, "top": items[int(row.argmin())].id, **check_top_result(q, dataset, items[int(row.argmin())])}
            for q, row in zip(EXAMPLE_QUERIES, dist)}


@torch.no_grad()
def geometry(run_dir: Path, data: Path) -> dict[str, float] | None:
    """Radius, depth correlation and cone containment of the run's best checkpoint on ``data``'s test split."""
    from scipy.stats import spearmanr

    retriever = hyperalign.load(run_dir)
    model = retriever.model
    if not model.hyperbolic:
        return None
    dataset = load_dataset(data)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, "test")
    text = retriever.encode_text([table.texts[q] for q in view.query_ids])
    shapes = embed_store(model, PointStore(dataset, view.items), retriever.points_per_cloud, 64)
    c, K = model.space.c().detach(), retriever.cfg.loss.aperture_K
    r_text, r_shape = lorentz.dist0(text, c), lorentz.dist0(shapes, c)
    levels = [table.levels[q] for q in view.query_ids]
    depth = [view.levels.index(lv) + 1 for lv in levels]
    out: dict[str, float] = {"curvature": float(c)}
    for lv in view.levels:
        rows = torch.tensor([i for i, x in enumerate(levels) if x == lv])
        if len(rows):
            out[f"radius/{lv}"] = float(r_text[rows].mean())
    out["radius/shape"] = float(r_shape.mean())
    out["radius_ratio"] = out[f"radius/{view.levels[-1]}"] / out[f"radius/{view.levels[0]}"]
    out["caption_depth_spearman"] = float(spearmanr(np.asarray(depth), r_text.double().numpy()).statistic)
    q, s = view.relevance.nonzero(as_tuple=True)
    inside = _inside(text[q], shapes[s], c, K)
    out["cone/shape"] = float(inside.double().mean())
    for lv in view.levels:
        sel = torch.tensor([levels[i] == lv for i in q.tolist()])
        if bool(sel.any()):
            out[f"cone/shape/{lv}"] = float(inside[sel].double().mean())
    entails, _ = entailment_relations(view.relevance, depth)
    gq, fq = entails[:, : len(depth)].nonzero(as_tuple=True)
    if len(gq):
        out["cone/caption"] = float(_inside(text[gq], text[fq], c, K).double().mean())
    return out


def history(run_dir: Path) -> dict[str, list[float]]:
    """Tracked scalars per epoch from ``metrics.jsonl`` (epochs without the value are skipped per key)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    out: dict[str, list[float]] = {}
    for key in TRACKED:
        pts = [(r["epoch"], r[key]) for r in records if key in r]
        if pts:
            out[key] = [list(p) for p in pts]
    return out


def _mean_std(values: list[float]) -> list[float]:
    return [statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)]


def plot(result: dict, out: Path) -> list[Path]:
    """Bar chart of mean radius per caption level and shapes; curvature / alpha / gate / val Rsum over training."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    datasets = list(result["datasets"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.6), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        models = [m for m, row in result["datasets"][ds].items() if row.get("geometry")]
        if not models:
            continue
        keys = [k for k in result["datasets"][ds][models[0]]["geometry"] if k.startswith("radius/")]
        width = 0.8 / len(models)
        for i, m in enumerate(models):
            g = result["datasets"][ds][m]["geometry"]
            ax.bar(np.arange(len(keys)) + i * width, [g[k][0] for k in keys], width, yerr=[g[k][1] for k in keys],
                   label=m)
        ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, [k.split("/")[1] for k in keys], rotation=20)
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{ds}: mean d(o, x) on test")
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths = [out / "radius_per_level.png"]
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    fig, axes = plt.subplots(len(datasets), len(TRACKED), figsize=(3.3 * len(TRACKED), 2.6 * len(datasets)),
                             squeeze=False)
    for row, ds in zip(axes, datasets):
        for ax, key in zip(row, TRACKED):
            for m, rec in result["datasets"][ds].items():
                for seed, hist in rec["history"].items():
                    if key in hist:
                        e, v = zip(*hist[key])
                        ax.plot(e, v, label=m if seed == min(rec["history"]) else None,
                                color=f"C{list(result['datasets'][ds]).index(m)}", lw=1, alpha=0.8)
            ax.set_title(f"{ds}: {key}", fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
        row[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "scalars_over_training.png")
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths


def markdown(result: dict) -> str:
    lines = ["# Embedding geometry on the test split", "", result["note"]]
    for ds, models in result["datasets"].items():
        keys = list(dict.fromkeys(k for row in models.values() if row.get("geometry") for k in row["geometry"]))
        lines += ["", f"## {ds}", "", "| model | runs | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
        for m, row in models.items():
            g = row.get("geometry")
            if not g:
                lines.append(f"| {m} | {row['runs']} | " + " | ".join("-" for _ in keys) + " |")
                continue
            cells = [f"{g[k][0]:.3f} ± {g[k][1]:.3f}" if k in g else "-" for k in keys]
            lines.append(f"| {m} | {row['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="benchmarks/compare.py --work directory")
    parser.add_argument("--datasets", nargs="+", default=["demo", "name", "item"])
    parser.add_argument("--models", nargs="+", default=["recommended", "h2arn-cpu"], help="run-directory stems")
    parser.add_argument("--data", type=Path, default=Path("hyperalign-data/sweethome3d"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--plots", type=Path, default=Path("benchmarks/results/plots"))
    args = parser.parse_args(argv)
    result: dict = {"datasets": {}}
    for ds in args.datasets:
        data = args.work / "demo-data" if ds == "demo" else args.data / SPLITS[ds]
        result["datasets"][ds] = {}
        for m in args.models:
            runs = sorted(p for p in (args.work / ds).glob(f"{m}-seed*") if (p / "best").is_dir())
            if not runs:
                continue
            geo = {r.name.rsplit("seed", 1)[1]: geometry(r, data) for r in runs}
            examples = {r.name.rsplit("seed", 1)[1]: example_checks(r, data) for r in runs} if ds == "demo" else {}
            for seed, checks in examples.items():
                right = statistics.fmean(float(ch["right_category"]) for ch in checks.values())
                geo[seed] = (geo[seed] or {}) | {"examples_right_category": right}
            per_seed = [g for g in geo.values() if g]
            keys = list(dict.fromkeys(k for g in per_seed for k in g))
            result["datasets"][ds][m] = {
                "runs": len(runs),
                "geometry": {k: _mean_std([g[k] for g in per_seed if k in g]) for k in keys} if per_seed else None,
                "per_seed": geo,
                "history": {r.name.rsplit("seed", 1)[1]: history(r) for r in runs},
                "examples": examples,
            }
            print(f"{ds} {m}: {len(runs)} runs", flush=True)
    given = sys.argv[1:] if argv is None else argv
    result["note"] = (f"Command: `python benchmarks/quality.py {' '.join(given)}`. Mean ± std over the runs (seeds) "
                      "found; checkpoints chosen on validation by the training loop; test split measured here.")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "quality-geometry.json", json.dumps(result, indent=2))
    write_text_atomic(args.out / "quality-geometry.md", markdown(result))
    for p in plot(result, args.plots):
        print(f"wrote {p}")
    print(markdown(result))


if __name__ == "__main__":
    main()
