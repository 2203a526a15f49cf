"""Export a trained model to ONNX: two graphs that end in Lorentz (or Euclidean) points.

* ``points.onnx`` -- a batch of prepared clouds ``points (B, N, C)`` float32 (unit-sphere normalised and resampled
  to the trained point count, as :meth:`~hyperalign.runtime.loading.Retriever.prepare_cloud` does) through the point
  tower, its context encoder, the aggregation and the embedding: ``embedding (B, d)``.
* ``text.onnx`` -- the text side after the frozen text tower: token features ``tokens (B, L, D)`` float32 and
  ``mask (B, L)`` bool (True = real token) through the text context encoder, aggregation and embedding. The text tower
  itself (a Hugging Face model) is not part of the export: run it with its own tooling and feed its last hidden state.

:mod:`hyperalign.runtime.query_export` writes the text graph and the search's distance graphs into a search index
or folder cache, for text queries without torch.

Both graphs compute in float32 (hyperbolic math is never exported in half precision); batch size (and token count)
are dynamic. ``export.json`` beside them records inputs, outputs, preprocessing, space and curvature. The directory is
written atomically: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from hyperalign.atomic import atomic_directory
from hyperalign.model.h2arn import H2ARN

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


def export_graph(
    graph: nn.Module, args: tuple[Tensor, ...], path: Path, inputs: dict[str, dict[int, str]],
    outputs: dict[str, dict[int, str]],
) -> None:  # fmt: skip
    """Trace ``graph`` to ONNX with the named ``inputs`` and ``outputs`` and their dynamic axes. PyTorch's fused
    transformer-layer kernel (its eval-mode fast path) has no ONNX form, so it is off while tracing: the layers then
    run the same math as separate operators."""
    _register_hyperbolic_ops()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        torch.onnx.export(
            graph, args, str(path), input_names=list(inputs), output_names=list(outputs), opset_version=OPSET,
            dynamic_axes=inputs | outputs, dynamo=False,
        )
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)


TEXT_INPUTS = {"tokens": {0: "batch", 1: "length"}, "mask": {0: "batch", 1: "length"}}


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
        embedding = {"embedding": {0: "batch"}}
        export_graph(PointGraph(model).eval(), (x["points"],), tmp / "points.onnx", {"points": {0: "batch"}}, embedding)
        export_graph(TextGraph(model).eval(), (x["tokens"], x["mask"]), tmp / "text.onnx", TEXT_INPUTS, embedding)
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
