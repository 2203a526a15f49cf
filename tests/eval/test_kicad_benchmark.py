"""The real-data benchmark on a KiCad layout: its protocol (library / family / variant / instance, seen and unseen
families), the frozen-MiniLM text-only reference, and ``compare.py`` / ``realdata.py`` end to end for one epoch on a
dataset converted from the real-package fixture."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from hyperalign.data.kicad import ITEM_INDEX, convert_kicad
from hyperalign.data.layout import LayoutIndex, load_dataset, write_dataset
from hyperalign.encoders.text import TextTower, TextTowerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import compare
import realdata

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "kicad" / "fixture"
# The fixture has two families (Diode_SMD/D, Resistor_THT/R_Box): the family split keeps R_Box out of training; the
# item split also does, but puts one diode in test, so its test items have a seen and an unseen family.
FAMILY_SPLIT = {"Diode_SMD/": "train", "Resistor_THT/R_Box_L13.0mm": "val"}
ITEM_SPLIT = {"Diode_SMD/D_SOD-923": "test", "Diode_SMD/D_SOD-523": "val", "Diode_SMD/": "train",
              "Resistor_THT/R_Box_L13.0mm": "val"}  # fmt: skip


def _split(item_id: str, rules: dict[str, str]) -> str:
    return next((side for prefix, side in rules.items() if item_id.startswith(prefix)), "test")


@pytest.fixture(scope="module")
def kicad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture converted (128 points per model), with splits that have val and test items."""
    out = tmp_path_factory.mktemp("kicad-bench")
    convert_kicad(out, deb=FIXTURE / "3dmodels", footprints=FIXTURE / "footprints", n_points=128, workers=1)
    for name, rules in (("index.json", FAMILY_SPLIT), (ITEM_INDEX, ITEM_SPLIT)):
        index = load_dataset(out / name).index
        items = [it.model_copy(update={"split": _split(it.id, rules)}) for it in index.items]
        updated = LayoutIndex.model_validate(index.model_copy(update={"items": items}).model_dump(mode="json"))
        if name == "index.json":
            write_dataset(out, updated)
        else:
            (out / name).write_text(json.dumps(updated.model_dump(mode="json")))
    return out


def test_protocol_scores_every_level_and_the_unseen_families(kicad: Path) -> None:
    dataset = load_dataset(kicad / ITEM_INDEX)
    p = realdata.Protocol.build(dataset)
    assert p.kind is realdata.KICAD and p.rooms == [] and realdata.kind_at(kicad) is realdata.KICAD
    assert set(p.queries) == {"library", "family", "variant", "instance"}
    assert [it.id for it, unseen in zip(p.items, p.unseen_item.tolist()) if not unseen] == ["Diode_SMD/D_SOD-923"]
    perfect = {level: (~rel).double() for level, rel in p.relevance.items()}
    m = realdata.protocol_metrics(p, perfect)
    for level in ("library", "family", "variant"):
        assert (m[f"{level}_R@1"], m[f"{level}_R@10"], m[f"{level}_mAP"]) == (1.0, 1.0, 1.0)
    assert m["inst_rsum"] == 600.0 and m["unseen_family_R@1"] == 1.0 and m["inst_t2s_R@1_seen"] == 1.0
    assert not any(k.startswith(("room", "open", "name", "class")) for k in m)
    worst = dict(perfect, family=p.relevance["family"].double())  # every relevant item ranked last
    assert realdata.protocol_metrics(p, worst)["family_R@1"] == 0.0
    by_family = realdata.Protocol.build(load_dataset(kicad))  # every test family unseen: no seen / unseen columns
    assert bool(by_family.unseen_item.all())
    assert "unseen_family_R@1" not in realdata.protocol_metrics(
        by_family, {level: (~rel).double() for level, rel in by_family.relevance.items()})


def test_text_only_reference_on_kicad_captions(kicad: Path) -> None:
    dataset = load_dataset(kicad / ITEM_INDEX)
    p = realdata.Protocol.build(dataset)
    m = realdata.text_only_metrics(p, dataset, TextTower(TextTowerConfig(model="minilm", max_tokens=128)))
    assert m["inst_t2s_R@1"] == 1.0 and m["variant_R@1"] == 1.0  # each query is one of the item's own captions
    assert m["library_R@1"] == 1.0 and m["family_R@1"] == 1.0


def test_unknown_levels_are_refused(tmp_path: Path, kicad: Path) -> None:
    raw = json.loads((kicad / "index.json").read_text())
    raw["levels"] = ["a", "b", "c", "d"]
    for node in raw["nodes"]:
        node["level"] = {"library": "a", "family": "b", "variant": "c"}[node["level"]]
    shutil.copytree(kicad / "points", tmp_path / "points")
    (tmp_path / "index.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=r"no benchmark protocol for levels \['a', 'b', 'c', 'd'\]; known: sweethome3d"):
        realdata.kind_at(tmp_path)


def test_compare_and_realdata_run_on_kicad_for_one_epoch(kicad: Path, tiny_overrides, tmp_path: Path) -> None:
    tiny = [o for o in tiny_overrides(kicad, tmp_path / "cache", epochs=1) if not o.startswith("data.path")]
    compare.main(["--model", "simple Euclidean", "--model", "H2ARN", "h2arn-cpu", "--datasets", "kicad-family",
                  "kicad-item", "--kicad-data", str(kicad), "--seeds", "0", "--no-pep", "--work", str(tmp_path / "w"),
                  "--out", str(tmp_path / "out"), "--tag", "k", "--set", *tiny])  # fmt: skip
    result = json.loads((tmp_path / "out" / "k.json").read_text())
    assert set(result["datasets"]) == {"kicad-family", "kicad-item"}
    for name, summary in result["datasets"].items():
        table = summary["table"]
        assert set(table) == {"simple Euclidean", "H2ARN"}
        for key in ("library_R@1", "family_mAP", "variant_R@10", "inst_rsum", "t2s_R@1"):
            assert key in table["H2ARN"], (name, key)
        assert "depth_spearman" in table["H2ARN"] and "depth_spearman" not in table["simple Euclidean"]
        assert "HCA" in table["H2ARN"] and "PEP_AUC" not in table["H2ARN"]  # --no-pep: the rest of the hierarchy
        assert summary["paired"]["H2ARN"]["inst_rsum"]["seeds"] == [0]
        assert summary["references"]["MiniLM text-only"]["inst_t2s_R@1"] == 1.0
    assert "unseen_family_R@1" in result["datasets"]["kicad-item"]["table"]["H2ARN"]
    runs = {(r["dataset"], r["model"]): r for r in result["runs"]}
    assert f"data.path={kicad / ITEM_INDEX}" in runs[("kicad-item", "H2ARN")]["overrides"]
    assert "data.rotate_up=false" in runs[("kicad-family", "H2ARN")]["overrides"]
    md = (tmp_path / "out" / "k.md").read_text()
    assert "## kicad-family" in md and "| MiniLM text-only (reference) | - | 1.000 |" in md
    realdata.main(["--data", str(kicad), "--splits", "item", "--seeds", "0", "--variants", "simple Euclidean",
                   "--work", str(tmp_path / "rd"), "--out", str(tmp_path / "out"), "--set", *tiny])  # fmt: skip
    report = json.loads((tmp_path / "out" / "realdata-kicad.json").read_text())
    assert report["kind"] == "kicad" and report["open_queries"] is None
    assert set(report["table"]["item"]) == {"chance", "MiniLM text-only", "simple Euclidean"}
    assert report["table"]["item"]["simple Euclidean"]["runs"] == 1
    assert "unseen_family_R@1" in (tmp_path / "out" / "realdata-kicad.md").read_text()
    with pytest.raises(SystemExit, match="has splits"):
        realdata.main(["--data", str(kicad), "--splits", "name", "--out", str(tmp_path / "out")])
