"""Smoke test of the ``hyperalign`` command line entry point."""

from __future__ import annotations

from importlib.metadata import version

from typer.testing import CliRunner

from hyperalign import __version__
from hyperalign.cli import app


def test_version_prints_the_package_version_and_exits_0():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"hyperalign {__version__}"
    assert __version__ == version("hyperalign")  # the installed distribution agrees


def test_help_exits_0_and_names_the_program():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "hyperalign" in result.output and "--version" in result.output


def test_bench_realdata_names_the_missing_dataset(tmp_path):
    result = CliRunner().invoke(app, ["bench", "realdata", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "nowhere" in result.output and "hyperalign data sweethome3d" in result.output
    assert not (tmp_path / "realdata.json").exists()


def test_missing_optional_dependency_names_the_extra(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    result = CliRunner().invoke(app, ["plot", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "pip install 'hyperalign[viz]'" in result.output
