"""A tiny trained model and its search index, built once per session (shared with tests/serve through the same
on-disk location, so the model trains once)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def tiny_run_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, preset: str = "h2arn-cpu") -> Path:
    """Train (once per session and preset) a seconds-long model on ``data_dir`` with the ``tiny_overrides``
    settings; ``ablation-eu-mp`` gives a Euclidean (cosine) model."""
    run = tmp_path_factory.getbasetemp() / f"index-tiny-run-{preset}"
    if not (run / "best" / "meta.json").is_file():
        from hyperalign.config import load_config
        from hyperalign.train.loop import train

        overrides = [
            f"data.path={data_dir}", f"cache_dir={tmp_path_factory.getbasetemp() / 'index-tiny-cache'}",
            "data.points_per_cloud=64", "model.dim=32", "model.points.num_tokens=8", "model.points.k=8",
            "model.points.width=16", "model.points.dim=32", "model.context.heads=2", "model.context.layers=1",
            f"optim.epochs={3 if preset == 'h2arn-cpu' else 1}", "optim.batch_size=16", "eval.every=1",
        ]  # fmt: skip
        train(load_config(preset, overrides), run, progress=False)
    return run


def tiny_index_dir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The saved flat index of every shape and caption of ``data_dir`` under the tiny model (built once)."""
    out = tmp_path_factory.getbasetemp() / "index-tiny-index"
    if not (out / "index.json").is_file():
        from hyperalign.runtime.index import Index

        Index.build(tiny_run_dir(tmp_path_factory, data_dir), data_dir).save(out)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_demo) -> Path:
    return tiny_run_dir(tmp_path_factory, tiny_demo)


@pytest.fixture(scope="session")
def tiny_index_path(tmp_path_factory, tiny_demo) -> Path:
    return tiny_index_dir(tmp_path_factory, tiny_demo)


@pytest.fixture(scope="session")
def tiny_index(tiny_index_path):
    from hyperalign.runtime.index import Index

    return Index.load(tiny_index_path)


@pytest.fixture(scope="session")
def tiny_euclidean_index(tmp_path_factory, tiny_demo):
    """An index under a one-epoch Euclidean (cosine) model: the H2ARN Eu+MP ablation."""
    from hyperalign.runtime.index import Index

    return Index.build(tiny_run_dir(tmp_path_factory, tiny_demo, "ablation-eu-mp"), tiny_demo)


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory) -> str:
    """One milvus-lite database file per test module (each file starts one embedded server)."""
    pytest.importorskip("milvus_lite", reason="the Milvus backend needs milvus-lite (pip install 'hyperalign[milvus]')")
    return str(tmp_path_factory.mktemp("milvus") / "index.db")


@pytest.fixture(params=["faiss", "milvus"])
def new_index(request):
    """``new_index(dim, curvature, spec=None)``: an empty :class:`LorentzIndex` on the parametrized backend (Milvus: a
    fresh collection in the module's milvus-lite file); closed after the test."""
    from hyperalign.index import LorentzIndex, StoreSpec

    uri = request.getfixturevalue("milvus_uri") if request.param == "milvus" else None
    made = []

    def make(dim, curvature, spec=None):
        name = re.sub(r"\W", "_", f"t{len(made)}_{request.node.name}")[:200]
        store = None if uri is None else StoreSpec(backend="milvus", uri=uri, collection=name)
        made.append(LorentzIndex(dim, curvature, spec, store))
        return made[-1]

    make.backend = request.param
    yield make
    for index in made:
        index.close()
