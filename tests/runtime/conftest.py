"""The tiny trained model and its search index of tests/index (trained and built once per session, at the same
on-disk location)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_index_fixtures", Path(__file__).parents[1] / "index" / "conftest.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

tiny_run = _fixtures.tiny_run
tiny_index_path = _fixtures.tiny_index_path
tiny_index = _fixtures.tiny_index
tiny_euclidean_index = _fixtures.tiny_euclidean_index
