from pathlib import Path

import pytest

from hyperalign.config import load_config
from hyperalign.train.loop import train
from tests.conftest import _tiny_overrides


@pytest.fixture(scope="session")
def tiny_trained_run(tmp_path_factory, tiny_demo) -> Path:
    """A one-epoch h2arn-cpu run (tiny sizes) on the tiny demo data."""
    root = tmp_path_factory.mktemp("runtime-run")
    train(load_config("h2arn-cpu", _tiny_overrides(tiny_demo, root / "cache", epochs=1)), root / "run", progress=False)
    return root / "run"
