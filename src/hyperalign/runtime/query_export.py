"""Export what a text query needs without torch: the model's text side and the search's distances as ONNX graphs,
traced from the torch functions the torch path calls, so every formula keeps its one home in
:mod:`hyperalign.geometry.lorentz`.

:func:`write_text_query` writes into a ``text-query/`` directory (of a saved index or a folder cache):

* ``text.onnx`` -- ``tokens (B, L, D), mask (B, L)`` (the frozen tower's features) to ``embedding (B, d)`` (the
  model's point), ``query (B, d)`` (the point as an index compares it, :meth:`SpaceCodec.compared
  <hyperalign.index.space.SpaceCodec.compared>`) and ``search (B, width)`` (its inner-product search form,
  :meth:`SpaceCodec.search_form <hyperalign.index.space.SpaceCodec.search_form>`, computed in float64 as the index
  does);
* ``rerank.onnx`` -- ``query (Q, d), candidates (Q, K, d)`` to ``distance (Q, K)``: :meth:`SpaceCodec.exact
  <hyperalign.index.space.SpaceCodec.exact>` as :meth:`SpaceCodec.rerank <hyperalign.index.space.SpaceCodec.rerank>`
  applies it (:func:`lorentz.dist <hyperalign.geometry.lorentz.dist>`, or ``1 - cos``);
* ``generality.onnx`` (Lorentz only) -- ``points (N, d)`` to ``generality (N,)``: :func:`lorentz.dist0
  <hyperalign.geometry.lorentz.dist0>` in float32 (ONNX Runtime has no float64 ``Asinh``; the torch path's
  :func:`~hyperalign.index.hierarchy.generality` computes in float64 and rounds, a few float32 ulps apart);
* ``pairwise.onnx`` -- ``query (B, d), points (N, d)`` to ``distance (B, N)``: the model's ranking distance
  (:func:`lorentz.pairwise_dist <hyperalign.geometry.lorentz.pairwise_dist>`, or ``1 - cos``), as a folder search
  ranks;
* ``query.json`` -- the tower's ONNX file and tokenizer, the truncation length, the weights, space and curvature.

The curvature is baked into the graphs (the model's, recorded in ``query.json``); they compute in float32, the query's
forms in float64 as the index makes them, with dynamic batch and candidate counts.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from hyperalign.encoders.text import TextTower, resolve_model_path
from hyperalign.encoders.text_onnx import OnnxTextTower, onnx_file
from hyperalign.geometry import lorentz
from hyperalign.index.space import SpaceCodec
from hyperalign.model.h2arn import H2ARN
from hyperalign.runtime.export import TEXT_INPUTS, example_inputs, export_graph
from hyperalign.runtime.text_search import (
    GENERALITY_FILE,
    HEAD_FILE,
    PAIRWISE_FILE,
    QUERY_FILE,
    QUERY_FORMAT,
    RERANK_FILE,
)

if TYPE_CHECKING:
    from hyperalign.runtime.loading import Retriever


class TextQueryGraph(nn.Module):
    """``tokens, mask -> embedding, query, search``: the model's text point and its forms in an index."""

    def __init__(self, model: H2ARN, codec: SpaceCodec) -> None:
        super().__init__()
        self.model, self.codec = model, codec

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        point = self.model.embed_text_tokens(tokens, mask)
        compared = self.codec.compared(point)
        return point, compared.float(), self.codec.search_form(compared).float()


class RerankGraph(nn.Module):
    """``query (Q, d), candidates (Q, K, d) -> distance (Q, K)``: exact distances of each query's candidates."""

    def __init__(self, codec: SpaceCodec) -> None:
        super().__init__()
        self.codec = codec

    def forward(self, query: Tensor, candidates: Tensor) -> Tensor:
        return self.codec.exact(query.unsqueeze(1), candidates)


class GeneralityGraph(nn.Module):
    """``points (N, d) -> generality (N,)``: distance from the origin."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, points: Tensor) -> Tensor:
        return lorentz.dist0(points, self.c)


class PairwiseGraph(nn.Module):
    """``query (B, d), points (N, d) -> distance (B, N)``: the model's ranking distance."""

    def __init__(self, model: H2ARN) -> None:
        super().__init__()
        self.model = model

    def forward(self, query: Tensor, points: Tensor) -> Tensor:
        return self.model.pairwise_distance(query, points)


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
    """Write the graphs and ``query.json`` described in the module docstring into ``directory``. Nothing is written,
    and False returned, without :func:`text_query_sources`."""
    sources = text_query_sources(retriever)
    if sources is None:
        return False
    tower_file, tokenizer = sources
    model = retriever.model.eval().float()
    c = retriever.curvature()
    codec = SpaceCodec(retriever.cfg.model.dim, c)
    x = example_inputs(retriever)
    queries = model.embed_text_tokens(x["tokens"], x["mask"])  # (2, d) model points to trace the distances with
    candidates = torch.stack([queries[[0, 1, 1]], queries[[1, 0, 0]]])  # (2, 3, d)
    directory.mkdir(parents=True, exist_ok=True)
    # The tracer warns at the context encoder's input checks and its all-real-tokens shortcut: the graph keeps the
    # general (padded) branch, which computes the same for unpadded queries (tests/runtime/test_text_search.py).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        batch = {0: "batch"}
        export_graph(
            TextQueryGraph(model, codec).eval(), (x["tokens"], x["mask"]), directory / HEAD_FILE, TEXT_INPUTS,
            {"embedding": batch, "query": batch, "search": batch},
        )
        export_graph(
            RerankGraph(codec), (queries, candidates), directory / RERANK_FILE,
            {"query": {0: "queries"}, "candidates": {0: "queries", 1: "candidates"}},
            {"distance": {0: "queries", 1: "candidates"}},
        )
        export_graph(
            PairwiseGraph(model).eval(), (queries[:1], candidates[0]), directory / PAIRWISE_FILE,
            {"query": batch, "points": {0: "points"}}, {"distance": {0: "batch", 1: "points"}},
        )
        if c is not None:
            export_graph(
                GeneralityGraph(c), (candidates[0],), directory / GENERALITY_FILE, {"points": {0: "points"}},
                {"generality": {0: "points"}},
            )
    manifest = {
        "format": QUERY_FORMAT,
        "weights_sha256": retriever.weights_sha256(),
        "tower": str(tower_file.resolve()),
        "tower_model_id": retriever.tower.model_id,
        "tokenizer": str(tokenizer.resolve()),
        "max_tokens": retriever.tower.cfg.max_tokens,
        "space": retriever.cfg.model.space.kind,
        "curvature": c,
        "dim": retriever.cfg.model.dim,
    }
    (directory / QUERY_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return True
