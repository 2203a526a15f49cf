"""Does the shapes' distance from the origin hurt text -> shape ranking? Recorded runs re-scored three ways.

    python benchmarks/t2s_scoring.py --work runs/compare --models recommended recommended-eu [--splits item name]
        [--data hyperalign-data/sweethome3d] [--seeds 0 1 2 3 4] [--out benchmarks/results]

A generic query lies near the origin and the shapes far out, so ``d(q, x)`` is close to ``d(o, x)`` plus a term of
the angle between them: a shape nearer the origin could win on its radius alone. For every recorded run
``<work>/<split>/<model>-seed<S>`` of ``benchmarks/compare.py`` this scores the Sweet Home 3D protocol of
``realdata.py`` on the validation and the test split with the text -> shape ranking by

* ``distance``: the geodesic distance ``d(q, x)`` (what the library ranks by);
* ``angle``: the angle at the origin between query and shape, ``-cos`` (:func:`hyperalign.geometry.lorentz.cos_origin_angle`);
* ``minus_radius``: ``d(q, x) - d(o, x)``, the distance without the shape's own radius (its limit for far shapes
  is the Busemann function of the shape's direction).

Shape -> text rankings are unchanged by ``minus_radius`` (a constant per shape) and use the angle under ``angle``.
Euclidean runs are scored by distance only. Writes ``t2s_scoring.json`` and ``t2s_scoring.md`` (mean ± std over
seeds, and ``variant - distance`` per seed with a percentile bootstrap 95 % CI).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hyperalign
from hyperalign.atomic import write_text_atomic
from hyperalign.data.layout import load_dataset
from hyperalign.data.pairs import PointStore
from hyperalign.eval.evaluate import embed_store
from hyperalign.eval.stats import mean_std, paired_difference
from hyperalign.geometry import lorentz
from realdata import OPEN_QUERIES, SPLITS, Protocol, load_open_queries, protocol_metrics

METRICS = ("inst_t2s_R@1", "name_R@1", "class_mAP", "inst_rsum", "open_tune_R@10", "open_held_R@10")


@torch.no_grad()
def scored(run: Path, dataset, protocols: dict[str, Protocol]) -> dict[str, dict[str, dict[str, float]]]:
    """``{split: {variant: metrics}}`` of one recorded run (its best checkpoint)."""
    retriever = hyperalign.load(run)
    model = retriever.model
    out: dict[str, dict[str, dict[str, float]]] = {}
    for split, p in protocols.items():
        shapes = embed_store(model, PointStore(dataset, p.items), retriever.points_per_cloud, 64)
        text = retriever.encode_text(p.all_texts())
        dist = model.pairwise_distance(text, shapes).double()
        variants = {"distance": dist}
        if model.hyperbolic:
            c = model.space.c().detach()
            variants["angle"] = -lorentz.cos_origin_angle(text[:, None, :], shapes[None, :, :]).double()
            variants["minus_radius"] = dist - lorentz.dist0(shapes, c).double()[None, :]
        out[split] = {name: {k: v for k, v in protocol_metrics(p, p.split_rows(d)).items() if k in METRICS}
                      for name, d in variants.items()}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="compare.py's --work with the recorded runs")
    parser.add_argument("--models", nargs="+", required=True, help="run names (compare.py --model NAME)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    parser.add_argument("--data", type=Path, default=Path("hyperalign-data/sweethome3d"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    open_queries = load_open_queries(OPEN_QUERIES)
    rows: list[dict] = []
    for split in args.splits:
        dataset = load_dataset(args.data / SPLITS[split])
        protocols = {part: Protocol.build(dataset, part, open_queries=open_queries) for part in ("val", "test")}
        for model in args.models:
            for seed in args.seeds:
                run = args.work / split / f"{model.replace(' ', '-')}-seed{seed}"
                if not (run / "best").exists():
                    continue
                rows.append({"split": split, "model": model, "seed": seed, "scores": scored(run, dataset, protocols)})
                print(f"{split} {model} seed {seed}", flush=True)
    given = sys.argv[1:] if argv is None else argv
    result = {"command": "python benchmarks/t2s_scoring.py " + " ".join(given), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out / "t2s_scoring.json", json.dumps(result, indent=1))
    write_text_atomic(args.out / "t2s_scoring.md", markdown(result))
    print(markdown(result))


def markdown(result: dict) -> str:
    lines = ["# Text -> shape ranking: distance, angle at the origin, distance minus the shape's radius", "",
             f"Command: `{result['command']}`. Mean ± std over seeds; `variant - distance` paired by seed with a "
             "percentile bootstrap 95 % CI. Fractions; inst_rsum in percentage points.", ""]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in result["rows"]:
        groups.setdefault((row["split"], row["model"]), []).append(row)
    for (split, model), rows in groups.items():
        for part in ("val", "test"):
            lines += [f"## {split} split, {model}, {part} ({len(rows)} seeds)", "",
                      "| ranking | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
            for variant in rows[0]["scores"][part]:
                cells = []
                for metric in METRICS:
                    values = [r["scores"][part][variant][metric] for r in rows]
                    mean, std = mean_std(values)
                    cell = f"{mean:.3f} ± {std:.3f}"
                    if variant != "distance" and len(values) > 1:
                        diff = paired_difference({r["seed"]: r["scores"][part][variant][metric] for r in rows},
                                                 {r["seed"]: r["scores"][part]["distance"][metric] for r in rows})
                        cell += f" ({diff.mean:+.3f} [{diff.ci.low:+.3f}, {diff.ci.high:+.3f}])"
                    cells.append(cell)
                lines.append(f"| {variant} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
