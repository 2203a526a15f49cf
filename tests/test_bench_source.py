"""``hyperalign bench`` finds the benchmarks of a source checkout, or says clearly that there is none."""

import importlib.metadata
import json
from pathlib import Path

import pytest

from hyperalign import cli


class _Dist:
    def __init__(self, direct_url: dict | None) -> None:
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return None if self.direct_url is None else json.dumps(self.direct_url)


def test_env_var_names_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPERALIGN_SOURCE", str(tmp_path))
    assert cli._source_checkout() == tmp_path


def test_the_checkout_the_package_runs_from_is_found():
    import hyperalign

    checkout = cli._checkout_containing(Path(hyperalign.__file__).resolve().parent)
    assert checkout is not None and (checkout / "src" / "hyperalign" / "cli.py").is_file()
    assert cli._checkout_containing(Path("/")) is None


def _not_in_a_checkout(monkeypatch):
    monkeypatch.delenv("HYPERALIGN_SOURCE", raising=False)
    monkeypatch.setattr(cli, "_checkout_containing", lambda package_dir: None)


def test_editable_install_is_found_from_direct_url(monkeypatch, tmp_path):
    _not_in_a_checkout(monkeypatch)
    dist = _Dist({"url": tmp_path.as_uri(), "dir_info": {"editable": True}})
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: dist)
    assert cli._source_checkout() == tmp_path


@pytest.mark.parametrize("direct_url", [None, {"url": "file:///somewhere", "dir_info": {}},
                                        {"url": "https://example.org/hyperalign.whl", "archive_info": {}}])
def test_regular_install_is_a_clear_error(monkeypatch, direct_url):
    _not_in_a_checkout(monkeypatch)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: _Dist(direct_url))
    with pytest.raises(FileNotFoundError, match="not an editable install.*HYPERALIGN_SOURCE"):
        cli._source_checkout()


def test_missing_benchmark_names_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPERALIGN_SOURCE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"benchmarks/speed\.py: no such benchmark"):
        cli._run_benchmark_script("speed", [])
