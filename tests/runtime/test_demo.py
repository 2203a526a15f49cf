"""The demo's plan: a short fine-tune of a shipped model (same model settings), an estimate printed before anything
runs and a progress line per stage."""

from __future__ import annotations

import json

from hyperalign import pretrained
from hyperalign.model.h2arn import ModelConfig
from hyperalign.runtime.demo import FINE_TUNE_EPOCHS, StageClock, _demo_config


def test_the_fine_tune_keeps_the_shipped_model_and_shortens_the_schedule(tmp_path):
    cfg = _demo_config(tmp_path, "h2arn-furniture", None)
    shipped = json.loads((pretrained.path("h2arn-furniture") / "meta.json").read_text())["config"]
    assert cfg.init_from == "h2arn-furniture" and cfg.optim.epochs == FINE_TUNE_EPOCHS
    # the shipped settings read through today's schema (fields added since take their defaults)
    assert cfg.model == ModelConfig.model_validate(shipped["model"])
    assert cfg.data.path == str(tmp_path)
    scratch = _demo_config(tmp_path, None, 5)
    assert scratch.init_from is None and scratch.optim.epochs == 5 and scratch.name == "h2arn-cpu"


def test_the_clock_prints_an_estimate_first_then_what_is_left():
    lines = []
    clock = StageClock({"data": 2.0, "train": 6.0}, lines.append)
    assert lines[0].startswith("demo: about ") and "data ~" in lines[0] and "train ~" in lines[0]
    clock.done("data")
    clock.done("train")
    assert "data done" in lines[1] and lines[2].endswith("about 0 s left")


def test_the_estimate_grows_with_the_jobs_already_running(monkeypatch):
    from hyperalign.runtime import demo

    monkeypatch.setattr(demo, "cpu_probe", lambda: demo.PROBE_REFERENCE)  # the probe sees an idle machine
    monkeypatch.setattr(demo.os, "cpu_count", lambda: 2)
    factors = {}
    for load in (0.0, 2.0):
        monkeypatch.setattr(demo.os, "getloadavg", lambda load=load: (load, load, load))
        factors[load] = demo.StageClock({"train": 10.0}, lambda _: None).factor
    assert factors[0.0] == 1.0  # idle: the measured stage times
    assert factors[2.0] == 1.5  # three jobs share two cores: each runs at 2/3 speed
