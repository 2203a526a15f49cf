"""The ONNX graphs of ``text-query/`` (:mod:`hyperalign.runtime.query_export`) compute what the torch functions they
are traced from compute: exact re-rank distances near and far from the origin (:func:`lorentz.dist`, accurate where
the matrix form is not), distances from the origin, the model's pairwise distance, and the query's search form, for
any number of queries and candidates."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.hierarchy import generality
from hyperalign.index.space import SpaceCodec
from hyperalign.runtime.text_search import (
    GENERALITY_FILE,
    PAIRWISE_FILE,
    QUERY_DIR,
    QUERY_FILE,
    RERANK_FILE,
    TextEmbedder,
    session,
)

pytest.importorskip("onnxruntime")


def _points(g: np.random.Generator, n: int, dim: int, radius: float) -> np.ndarray:
    """``n`` points whose space parts have norm ``sinh(radius)`` (distance ``radius`` from the origin at c = 1)."""
    v = g.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=-1, keepdims=True) * np.sinh(radius)).astype(np.float32)


@pytest.fixture(scope="module")
def query_dir(tiny_index_path):
    return tiny_index_path / QUERY_DIR


def test_rerank_graph_is_the_exact_distance_near_and_far(query_dir):
    c = json.loads((query_dir / QUERY_FILE).read_text())["curvature"]
    rerank = session(query_dir / RERANK_FILE)
    g = np.random.default_rng(0)
    for radius in (1e-3, 1.0, 8.0):
        for q_count, k in ((1, 7), (3, 40)):
            dim = rerank.get_inputs()[0].shape[1]
            q = _points(g, q_count, dim, radius)
            far = _points(g, q_count * k, dim, radius).reshape(q_count, k, dim)
            near = q[:, None, :] + np.float32(1e-4) * g.standard_normal((q_count, k, dim)).astype(np.float32)
            for cand in (far, near, np.zeros_like(far)):
                (got,) = rerank.run(["distance"], {"query": q, "candidates": cand})
                want = lorentz.dist(torch.from_numpy(q)[:, None], torch.from_numpy(cand), c).numpy()
                assert got.shape == (q_count, k) and got.dtype == np.float32
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_generality_and_pairwise_graphs_are_the_torch_functions(query_dir, tiny_index):
    general, pairwise = session(query_dir / GENERALITY_FILE), session(query_dir / PAIRWISE_FILE)
    ids = np.arange(min(9, len(tiny_index.shapes)))
    points = tiny_index.shapes.get(ids)
    (got,) = general.run(["generality"], {"points": points})
    np.testing.assert_allclose(got, generality(tiny_index.shapes, ids), rtol=2e-6, atol=0)  # float32 vs float64
    g = np.random.default_rng(1)
    far = _points(g, 5, points.shape[1], 9.0)
    (got,) = general.run(["generality"], {"points": far})
    want = lorentz.dist0(torch.from_numpy(far).double(), tiny_index.shapes.curvature).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=0)
    for q_count in (1, 4):
        q = _points(g, q_count, points.shape[1], 1.5)
        (got,) = pairwise.run(["distance"], {"query": q, "points": points})
        with torch.no_grad():
            want = tiny_index.retriever.model.pairwise_distance(torch.from_numpy(q), torch.from_numpy(points)).numpy()
        assert got.shape == (q_count, len(points))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("query", ["a round table", "chair"])
def test_text_graph_gives_the_index_forms_of_the_model_point(query_dir, tiny_index, query):
    forms = TextEmbedder(query_dir).embed(query)
    codec = SpaceCodec(tiny_index.shapes.dim, tiny_index.shapes.curvature)
    compared = codec.points(forms.point, "queries")
    np.testing.assert_allclose(forms.query, compared.float().numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(forms.search, codec.query_form(compared), rtol=0, atol=0)
