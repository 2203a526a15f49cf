"""A tiny trained model and its search index, built once per session (shared with tests/serve through the same
on-disk location, so the model trains once)."""

from __future__ import annotations

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
