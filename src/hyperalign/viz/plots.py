"""Poincare-disk projections and norm-vs-depth histograms of embedded captions and shapes, as PNG files.

* :func:`poincare_disk_coordinates` — 2-D coordinates in the unit disk: the radius is exact (the Poincare-ball norm
  ``sqrt(c) ||to_poincare(x)|| = tanh(sqrt(c) d(o, x) / 2)``, monotone in the distance from the origin), the
  direction is approximate (the first two principal components of the tangent vectors ``logmap0(x)``, normalised).
* :func:`plot_poincare` — points coloured by category, sized by depth (generic captions large, shapes small).
* :func:`plot_norm_histogram` — histograms of the distance from the origin, one per depth.
* :func:`plot_run` — both plots for a split of a trained model (``hyperalign plot``).

matplotlib is imported inside the functions (``pip install matplotlib``), through its object API (no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from hyperalign.geometry import lorentz


def _figure(size: tuple[float, float]):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install matplotlib") from e
    return Figure(figsize=size, dpi=120)


def poincare_disk_coordinates(points: Tensor, c: Tensor | float) -> np.ndarray:
    """(E, n) Lorentz points (space parts) -> (E, 2) coordinates in the unit disk (see module doc)."""
    points = points.detach().double().cpu()
    c = torch.as_tensor(c, dtype=torch.float64)
    radius = (c.sqrt() * lorentz.to_poincare(points, c).norm(dim=-1)).numpy()
    tangent = lorentz.logmap0(points, c).numpy()
    centred = tangent - tangent.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    flat = np.zeros((len(tangent), 2))
    flat[:, :k] = tangent @ vt[:k].T
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    direction = np.divide(flat, norm, out=np.zeros_like(flat), where=norm > 0)
    return direction * radius[:, None]


def plot_poincare(
    coords: np.ndarray, categories: Sequence[str], depths: Sequence[int], path: Path, title: str = "",
    depth_names: Sequence[str] = (),
) -> Path:
    """Scatter ``coords`` (E, 2) in the unit disk, colour = category, size and marker = depth; writes a PNG."""
    fig = _figure((7.5, 7.0))
    ax = fig.add_subplot()
    ax.add_patch(_circle())
    names = sorted(set(categories))
    colours = {name: _colour(i) for i, name in enumerate(names)}
    depths_a = np.asarray(depths)
    top = int(depths_a.max())
    for depth in sorted(set(depths_a.tolist())):
        rows = np.flatnonzero(depths_a == depth)
        label = depth_names[depth - 1] if depth - 1 < len(depth_names) else f"depth {depth}"
        style = {"s": 8 + 60 * (top - depth) / max(1, top - 1), "marker": "^" if depth == top else "o"}
        ax.scatter(coords[rows, 0], coords[rows, 1], c=[colours[categories[r]] for r in rows], alpha=0.75,
                   linewidths=0, **style)
        ax.scatter([], [], c="0.45", label=label, **style)
    for name in names:
        ax.scatter([], [], c=[colours[name]], s=30, label=name)
    # zoom on the occupied part of the disk (embeddings often stay well inside it); the boundary is drawn if visible
    lim = min(1.02, 1.15 * float(np.abs(coords).max(initial=0.0)) or 1.02)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title + ("" if lim >= 1.0 else f"\n(zoomed: disk radius shown {lim:.2f} of 1)"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


def plot_norm_histogram(radii: np.ndarray, depths: Sequence[int], path: Path, title: str = "", depth_names: Sequence[str] = ()) -> Path:
    """Histogram of the distance from the origin per depth (one row each, shared x axis); writes a PNG."""
    depths_a = np.asarray(depths)
    levels = sorted(set(depths_a.tolist()))
    fig = _figure((6.5, 1.6 * len(levels) + 0.8))
    axes = fig.subplots(len(levels), 1, sharex=True, squeeze=False)[:, 0]
    bins = np.linspace(float(radii.min()), float(radii.max()) + 1e-9, 40)
    for ax, depth in zip(axes, levels):
        values = radii[depths_a == depth]
        label = depth_names[depth - 1] if depth - 1 < len(depth_names) else f"depth {depth}"
        ax.hist(values, bins=bins, color=_colour(depth - 1), alpha=0.85)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        ax.axvline(float(np.median(values)), color="black", linewidth=1)
    axes[-1].set_xlabel("distance from the origin d(o, x)")
    axes[0].set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_run(retriever, out_dir: str | Path, split: str = "test", data: str | Path | None = None) -> list[Path]:
    """Poincare-disk and norm-vs-depth plots of ``split``'s captions and shapes for a loaded model
    (:func:`hyperalign.load`); returns the written PNG paths (``poincare.png``, ``norms.png`` in ``out_dir``)."""
    from hyperalign.data.pairs import CaptionTable, PointStore, SplitView
    from hyperalign.eval.evaluate import embed_caption_ids, embed_store
    from hyperalign.runtime.datasets import resolve_dataset
    from hyperalign.runtime.features import caption_features

    model = retriever.model
    if not model.hyperbolic:
        raise ValueError(f"{retriever.checkpoint}: plots need a hyperbolic model (model.space.kind is 'euclidean')")
    cfg = retriever.cfg
    dataset = resolve_dataset(cfg, data)
    table = CaptionTable.from_dataset(dataset)
    view = SplitView.build(dataset, table, split)
    features = caption_features(cfg, table.texts, retriever.tower, progress=False)
    with torch.no_grad():
        text = embed_caption_ids(model, features, view.query_ids, cfg.eval.batch_size).cpu()
        shapes = embed_store(model, PointStore(dataset, view.items), retriever.points_per_cloud, cfg.eval.batch_size).cpu()
    shape_cat = [dataset.ancestors(it.node)[0].id if it.node is not None else "(none)" for it in view.items]
    text_cat = [shape_cat[int(row.nonzero()[0])] for row in view.relevance]
    depths = [view.levels.index(table.levels[q]) + 1 for q in view.query_ids] + [len(view.levels) + 1] * len(shapes)
    names = [*view.levels, "shape"]
    points = torch.cat([text, shapes])
    c = model.space.c().detach().cpu()
    out_dir = Path(out_dir)
    title = f"{cfg.name} — {split} split"
    return [
        plot_poincare(poincare_disk_coordinates(points, c), text_cat + shape_cat, depths, out_dir / "poincare.png",
                      title, names),
        plot_norm_histogram(lorentz.dist0(points.double(), c.double()).numpy(), depths, out_dir / "norms.png", title, names),
    ]


def _circle():
    from matplotlib.patches import Circle

    return Circle((0.0, 0.0), 1.0, fill=False, color="0.6", linewidth=1)


def _colour(i: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps["tab10"](i % 10)


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
