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
* on the demo data, the fixed example queries of ``hyperalign demo`` (:data:`hyperalign.runtime.demo.EXAMPLE_QUERIES`):
  whether the nearest test shape lies under the query's category (``examples_right_category``, a fraction);
* from ``metrics.jsonl``: curvature, alpha per modality, the anchor gate and validation Rsum per epoch.

Each run's measurements are kept beside it (``geometry.json``, ``examples.json``) and reused while its best
checkpoint is unchanged. Euclidean runs (unit vectors) have no radius or cones and are skipped. Writes
``<out>/<tag>.json`` and ``.md`` (``--tag``, default ``quality-geometry``) and the plots ``radius_per_level.png`` and
``scalars_over_training.png`` under ``--plots``.
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
from hyperalign.eval.evaluate import embed_store
from hyperalign.eval.hierarchy import entailment_relations
from hyperalign.eval.stats import mean_std, paired_difference
from hyperalign.geometry import lorentz
from hyperalign.runtime.demo import EXAMPLE_QUERIES, check_top_result

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realdata import SPLITS  # noqa: E402

TRACKED = ("curvature", "alpha_text", "alpha_points", "text_gate", "val/rsum")
RECORDED_VARIANTS = ("H2ARN", "simple Euclidean")  # realdata.py variants paired with (h2arn-cpu, the baseline)
RECORDED_METRICS = ("inst_t2s_R@1", "name_R@1", "class_mAP", "inst_rsum", "open_tune_R@10", "open_held_R@10")


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


def cached(path: Path, compute):
    """``compute()``, stored as JSON at ``path`` (beside the checkpoint it measured) and reused when present."""
    if path.is_file() and path.stat().st_mtime >= (path.parent / "best").stat().st_mtime:
        return json.loads(path.read_text())
    value = compute()
    write_text_atomic(path, json.dumps(value, indent=2))
    return value


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
        models = [m for m, row in result["datasets"][ds].items() if any(k.startswith("radius/") for k in row.get("geometry") or {})]
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


def versus_recorded(work: Path, recorded: Path, models: list[str]) -> dict:
    """Paired (by seed) differences of this study's Sweet Home 3D runs against the runs recorded in ``recorded``
    (``benchmarks/realdata.py``'s JSON: the same splits, seeds and data settings, their own epoch budget)."""
    runs = json.loads(recorded.read_text())["runs"]
    out: dict = {}
    for split in SPLITS:
        mine = {m: {r["seed"]: r["test"] for p in sorted((work / split).glob(f"{m}-seed*/compare.json"))
                    if (r := json.loads(p.read_text()))} for m in models}
        theirs = {}
        for r in runs:
            if r["split"] == split and r["variant"] in RECORDED_VARIANTS:
                theirs.setdefault(f"{r['variant']} (recorded, {r['epochs']} epochs)", {})[r["seed"]] = r["test"]
        for ref, ref_runs in theirs.items():
            for m, m_runs in mine.items():
                shared = sorted(set(m_runs) & set(ref_runs))
                if not shared:
                    continue
                row = {}
                for k in RECORDED_METRICS:
                    a = {s: m_runs[s][k] for s in shared if k in m_runs[s]}
                    b = {s: ref_runs[s][k] for s in shared if k in ref_runs[s]}
                    if set(a) & set(b):
                        row[k] = paired_difference(a, b).to_dict() | {"reference_mean": mean_std(list(b.values()))[0]}
                out.setdefault(split, {}).setdefault(ref, {})[m] = row
    return out


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
    for split, refs in result.get("versus_recorded", {}).items():
        lines += ["", f"## {split} split: paired differences against recorded runs", "",
                  "model - reference per shared seed: mean [95 % bootstrap CI] (reference mean in brackets after).", "",
                  "| model | reference | seeds | " + " | ".join(RECORDED_METRICS) + " |",
                  "|---" * (len(RECORDED_METRICS) + 3) + "|"]
        for ref, models in refs.items():
            for m, row in models.items():
                seeds = max((len(v["seeds"]) for v in row.values()), default=0)
                cells = [f"{row[k]['mean']:+.3f} [{row[k]['ci_low']:+.3f}, {row[k]['ci_high']:+.3f}] "
                         f"(ref {row[k]['reference_mean']:.3f})" if k in row else "-" for k in RECORDED_METRICS]
                lines.append(f"| {m} | {ref} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="benchmarks/compare.py --work directory")
    parser.add_argument("--datasets", nargs="+", default=["demo", "name", "item"])
    parser.add_argument("--models", nargs="+", default=["recommended", "h2arn-cpu"], help="run-directory stems")
    parser.add_argument("--data", type=Path, default=Path("hyperalign-data/sweethome3d"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--plots", type=Path, default=Path("benchmarks/results/plots"))
    parser.add_argument("--tag", default="quality-geometry", help="output file stem: <out>/<tag>.json and .md")
    parser.add_argument("--recorded", type=Path, default=None,
                        help="benchmarks/realdata.py JSON whose runs (same seeds) the Sweet Home 3D runs are paired with")
    args = parser.parse_args(argv)
    result: dict = {"datasets": {}}
    for ds in args.datasets:
        data = args.work / "demo-data" if ds == "demo" else args.data / SPLITS[ds]
        result["datasets"][ds] = {}
        for m in args.models:
            runs = sorted(p for p in (args.work / ds).glob(f"{m}-seed*") if (p / "best").is_dir())
            if not runs:
                continue
            geo = {r.name.rsplit("seed", 1)[1]: cached(r / "geometry.json", lambda r=r, data=data: geometry(r, data)) for r in runs}
            examples = {r.name.rsplit("seed", 1)[1]: cached(r / "examples.json", lambda r=r, data=data: example_checks(r, data))
                        for r in runs} if ds == "demo" else {}
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
    if args.recorded is not None:
        result["versus_recorded"] = versus_recorded(args.work, args.recorded, args.models)
    given = sys.argv[1:] if argv is None else argv
    result["note"] = (f"Command: `python benchmarks/quality.py {' '.join(given)}`. Mean ± std over the runs (seeds) "
                      "found; checkpoints chosen on validation by the training loop; test split measured here.")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / f"{args.tag}.json", json.dumps(result, indent=2))
    write_text_atomic(args.out / f"{args.tag}.md", markdown(result))
    for p in plot(result, args.plots):
        print(f"wrote {p}")
    print(markdown(result))


if __name__ == "__main__":
    main()
