"""Text queries on a saved index without torch (:mod:`hyperalign.runtime.text_search`): the same ids as the torch
path with distances within 1e-5, on both targets, Lorentz and cosine; the CLI takes this path by itself and then
imports neither torch nor transformers; shape queries and indexes without the files keep the torch path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.runtime.index import Index
from hyperalign.runtime.text_search import QUERY_DIR, TextSearch, text_query_ready

pytest.importorskip("onnxruntime")
QUERIES = ["a round table", "a tall lamp with a shade", "chair", "a wooden cabinet with two doors"]
SRC = Path(__file__).resolve().parents[2] / "src"


def _same_hits(fast, slow):
    assert [(h.kind, h.id, h.text, h.level) for h in fast] == [(h.kind, h.id, h.text, h.level) for h in slow]
    np.testing.assert_allclose([h.distance for h in fast], [h.distance for h in slow], rtol=0, atol=1e-5)
    if slow and slow[0].generality is not None:
        np.testing.assert_allclose([h.generality for h in fast], [h.generality for h in slow], rtol=0, atol=1e-5)
    else:
        assert all(h.generality is None for h in fast)


def test_saved_index_answers_text_as_the_torch_path_does(tiny_index, tiny_index_path):
    assert text_query_ready(tiny_index_path)
    fast = TextSearch(tiny_index_path)
    for query in QUERIES:
        np.testing.assert_allclose(fast.embed_text(query), tiny_index.embed_text(query), rtol=0, atol=1e-5)
        for target, k in (("shapes", 10), ("captions", 7), ("shapes", 10_000)):
            _same_hits(fast.search_text(query, k, target), tiny_index.search_text(query, k, target))


def test_a_cosine_index_answers_text_as_the_torch_path_does(tiny_euclidean_index, tmp_path):
    path = tiny_euclidean_index.save(tmp_path / "eu")
    assert text_query_ready(path)
    for query in QUERIES:
        _same_hits(TextSearch(path).search_text(query, 8), tiny_euclidean_index.search_text(query, 8))


def test_an_hnsw_index_answers_text_as_the_torch_path_does(tiny_run, tiny_demo, tmp_path):
    from hyperalign.index import IndexSpec

    index = Index.build(tiny_run, tiny_demo, spec=IndexSpec(kind="hnsw", ef_search=8))
    path = index.save(tmp_path / "hnsw")
    for query in QUERIES:
        _same_hits(TextSearch(path).search_text(query, 5), Index.load(path).search_text(query, 5))


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    """``python -X importtime -m hyperalign ARGS`` in a fresh interpreter (stderr lists every module imported)."""
    env = dict(os.environ, PYTHONPATH=str(SRC), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "hyperalign", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _imported(stderr: str) -> set[str]:
    """Top-level packages in ``python -X importtime`` output (lines ``import time: self | cumulative | name``)."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")}


def test_cli_text_search_imports_neither_torch_nor_transformers(tiny_index, tiny_index_path):
    run = _cli(["search", "a round table", "--index", str(tiny_index_path), "-k", "5", "--json"])
    assert run.returncode == 0, run.stderr[-2000:]
    imported = _imported(run.stderr)
    assert "hyperalign" in imported and "onnxruntime" in imported  # the listing is complete enough to judge
    assert "torch" not in imported and "transformers" not in imported
    results = json.loads(run.stdout)["results"]
    slow = tiny_index.search_text("a round table", 5)
    assert [r["id"] for r in results] == [h.id for h in slow]
    np.testing.assert_allclose([r["distance"] for r in results], [h.distance for h in slow], rtol=0, atol=1e-5)


def test_shape_queries_and_indexes_without_the_files_use_the_torch_path(tiny_index, tiny_index_path, tiny_demo, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_index_path, old)
    shutil.rmtree(old / QUERY_DIR)
    assert not text_query_ready(old)
    run = _cli(["search", "a round table", "--index", str(old), "-k", "5", "--json"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "torch" in _imported(run.stderr)  # the check above would see torch if the text path imported it
    assert [r["id"] for r in json.loads(run.stdout)["results"]] == [h.id for h in tiny_index.search_text("a round table", 5)]
    cloud = sorted(tiny_demo.rglob("*.npy"))[0]
    shape = CliRunner().invoke(app, ["search", "--shape", str(cloud), "-k", "2", "--index", str(tiny_index_path), "--json"])
    assert shape.exit_code == 0, shape.output
    assert [r["kind"] for r in json.loads(shape.stdout)["results"]] == ["caption", "caption"]


def test_text_query_files_of_another_model_are_refused(tiny_index_path, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index_path, copy)
    manifest = copy / QUERY_DIR / "query.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "weights_sha256": "0" * 64}))
    result = CliRunner().invoke(app, ["search", "a vase", "--index", str(copy)])
    assert result.exit_code == 2 and "weights_sha256" in result.stderr
