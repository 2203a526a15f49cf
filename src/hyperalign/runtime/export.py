"""Export a trained model to ONNX: two graphs that end in Lorentz (or Euclidean) points.

* ``points.onnx`` -- a batch of prepared clouds ``points (B, N, C)`` float32 (unit-sphere normalised and resampled
  to the trained point count, as :meth:`~hyperalign.runtime.loading.Retriever.prepare_cloud` does) through the point
  tower, its context encoder, the aggregation and the embedding: ``embedding (B, d)``.
* ``text.onnx`` -- the text side after the frozen text tower: token features ``tokens (B, L, D)`` float32 and
  ``mask (B, L)`` bool (True = real token) through the text context encoder, aggregation and embedding. The text tower
  itself (a Hugging Face model) is not part of the export: run it with its own tooling and feed its last hidden state.

:func:`write_text_query` writes the text graph into a search index, for text queries without torch
(:mod:`hyperalign.runtime.text_search`).

Both graphs compute in float32 (hyperbolic math is never exported in half precision); batch size (and token count)
are dynamic. ``export.json`` beside them records inputs, outputs, preprocessing, space and curvature. The directory is
written atomically: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from hyperalign.atomic import atomic_directory
from hyperalign.encoders.text import TextTower, resolve_model_path
from hyperalign.encoders.text_onnx import OnnxTextTower, onnx_file
from hyperalign.model.h2arn import H2ARN
from hyperalign.runtime.text_search import HEAD_FILE, QUERY_FILE, QUERY_FORMAT

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever

OPSET = 18
MANIFEST = "export.json"
FORMAT = "hyperalign-onnx/1"


class PointGraph(nn.Module):
    """``points (B, N, C) -> embedding (B, d)``: the model's whole point side."""

    def __init__(self, model: H2ARN) -> None:
        super().__init__()
        self.model = model

    def forward(self, points: Tensor) -> Tensor:
        return self.model.embed_points(points)


class TextGraph(nn.Module):
    """``tokens (B, L, D), mask (B, L) -> embedding (B, d)``: the model's text side after the frozen tower."""

    def __init__(self, model: H2ARN) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        return self.model.embed_text_tokens(tokens, mask)


def example_inputs(retriever: Retriever, batch: int = 2, tokens: int = 8, seed: int = 0) -> dict[str, Tensor]:
    """Inputs of the trained shapes for tracing and for checks: random clouds and token features, a ragged mask."""
    g = torch.Generator().manual_seed(seed)
    points = torch.rand(batch, retriever.points_per_cloud, retriever.channels, generator=g) * 2 - 1
    feats = torch.randn(batch, tokens, retriever.model.text_dim, generator=g)
    mask = torch.ones(batch, tokens, dtype=torch.bool)
    mask[1:, tokens // 2 :] = False
    return {"points": points, "tokens": feats.masked_fill(~mask[..., None], 0.0), "mask": mask}


# Hyperbolic functions ONNX has (opset 9+) but PyTorch's TorchScript exporter does not map: one ONNX op each.
_HYPERBOLIC_OPS = {"sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh"}


def _register_hyperbolic_ops() -> None:
    for aten, onnx_op in _HYPERBOLIC_OPS.items():
        torch.onnx.register_custom_op_symbolic(
            f"aten::{aten}", lambda g, x, _op=onnx_op: g.op(_op, x), OPSET  # type: ignore[misc]
        )


def _export(graph: nn.Module, args: tuple[Tensor, ...], path: Path, names: list[str], dynamic: dict[str, Any]) -> None:
    """Trace ``graph`` to ONNX. PyTorch's fused transformer-layer kernel (its eval-mode fast path) has no ONNX form,
    so it is off while tracing: the layers then run the same math as separate operators."""
    _register_hyperbolic_ops()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        torch.onnx.export(
            graph, args, str(path), input_names=names, output_names=["embedding"], opset_version=OPSET,
            dynamic_axes=dynamic | {"embedding": {0: "batch"}}, dynamo=False,
        )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


def _is_export(path: Path) -> bool:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@torch.no_grad()
def export_onnx(retriever: Retriever, out: str | Path) -> Path:
    """Write ``points.onnx``, ``text.onnx`` and ``export.json`` into the directory ``out``; returns it.

    An existing ``out`` is replaced only when it is empty or an earlier export (it holds an ``export.json`` of this
    format); anything else is refused."""
    out = Path(out)
    # The wrappers are in eval mode too: the exporter restores each wrapper's mode afterwards, recursively.
    model = retriever.model.eval().float()
    x = example_inputs(retriever)
    with atomic_directory(out, _is_export, what="an ONNX export") as tmp:
        _export(PointGraph(model).eval(), (x["points"],), tmp / "points.onnx", ["points"], {"points": {0: "batch"}})
        _export(
            TextGraph(model).eval(), (x["tokens"], x["mask"]), tmp / "text.onnx", ["tokens", "mask"],
            {"tokens": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"}},
        )
        manifest = {
            "format": FORMAT,
            "checkpoint": str(retriever.checkpoint),
            "space": retriever.cfg.model.space.kind,
            "curvature": retriever.curvature(),
            "dim": retriever.cfg.model.dim,
            "opset": OPSET,
            "points": {"input": "points", "shape": ["batch", retriever.points_per_cloud, retriever.channels],
                       "dtype": "float32", "output": "embedding"},
            "text": {"inputs": {"tokens": ["batch", "length", retriever.model.text_dim], "mask": ["batch", "length"]},
                     "dtype": {"tokens": "float32", "mask": "bool"}, "output": "embedding",
                     "text_model": retriever.cfg.model.text.model, "max_tokens": retriever.cfg.model.text.max_tokens},
            "preprocessing": retriever.meta.get("preprocessing", {}),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def text_query_sources(retriever: Retriever) -> tuple[Path, Path] | None:
    """The ONNX file of the model's frozen text tower and its ``tokenizer.json``, or None when the tower trains or
    either file is missing (then no text query can run without torch)."""
    tower = retriever.tower
    if not isinstance(tower, (TextTower, OnnxTextTower)) or tower.cfg.trainable:
        return None
    tower_file = onnx_file(retriever.cfg.cache_dir, tower.model_id)
    tokenizer = resolve_model_path(tower.cfg.model) / "tokenizer.json"
    return (tower_file, tokenizer) if tower_file.is_file() and tokenizer.is_file() else None


@torch.no_grad()
def write_text_query(retriever: Retriever, directory: Path) -> bool:
    """Write what a text query needs without torch into ``directory``: ``text.onnx`` (the text side after the tower,
    as in :func:`export_onnx`) and ``query.json`` (the tower's ONNX file and tokenizer, the truncation length, the
    weights, space and curvature; :mod:`hyperalign.runtime.text_search`). Nothing is written, and False returned,
    without :func:`text_query_sources`."""
    sources = text_query_sources(retriever)
    if sources is None:
        return False
    tower_file, tokenizer = sources
    model = retriever.model.eval().float()
    x = example_inputs(retriever)
    directory.mkdir(parents=True, exist_ok=True)
    # The tracer warns at the context encoder's input checks and its all-real-tokens shortcut: the graph keeps the
    # general (padded) branch, which computes the same for unpadded queries (tests/runtime/test_text_search.py).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(
            TextGraph(model).eval(), (x["tokens"], x["mask"]), directory / HEAD_FILE, ["tokens", "mask"],
            {"tokens": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"}},
        )
    manifest = {
        "format": QUERY_FORMAT,
        "weights_sha256": retriever.weights_sha256(),
        "tower": str(tower_file.resolve()),
        "tower_model_id": retriever.tower.model_id,
        "tokenizer": str(tokenizer.resolve()),
        "max_tokens": retriever.tower.cfg.max_tokens,
        "space": retriever.cfg.model.space.kind,
        "curvature": retriever.curvature(),
        "dim": retriever.cfg.model.dim,
    }
    (directory / QUERY_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return True
