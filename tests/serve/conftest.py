"""The tiny index of tests/index (trained and built once per session, at the same on-disk location)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("_index_fixtures", Path(__file__).parents[1] / "index" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

tiny_index_path = _fixtures.tiny_index_path
tiny_index = _fixtures.tiny_index


@pytest.fixture(scope="session")
def client(tiny_index):
    from fastapi.testclient import TestClient

    from hyperalign.serve import Limits, create_app

    with TestClient(create_app(tiny_index, Limits(max_k=20, max_query_chars=100, max_upload_bytes=100_000))) as c:
        yield c


@pytest.fixture(scope="session")
def euclidean_client(tmp_path_factory, tiny_demo):
    from fastapi.testclient import TestClient

    from hyperalign.runtime.index import Index
    from hyperalign.serve import create_app

    index = Index.build(_fixtures.tiny_run_dir(tmp_path_factory, tiny_demo, "ablation-eu-mp"), tiny_demo)
    with TestClient(create_app(index)) as c:
        yield c, index
