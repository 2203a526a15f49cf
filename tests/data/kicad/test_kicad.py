"""KiCad components: footprint parsing, caption text, and conversion of a fixture cut from the real packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hyperalign.cli import app
from hyperalign.data.kicad import ITEM_INDEX, REPORT, convert_kicad
from hyperalign.data.kicad import text as txt
from hyperalign.data.kicad.convert import worker_pool
from hyperalign.data.kicad.footprints import FootprintError, model_key, parse_footprint
from hyperalign.data.kicad.sources import SourceError
from hyperalign.data.layout import load_dataset

FIXTURE = Path(__file__).parent / "fixture"
FOOTPRINTS = FIXTURE / "footprints"
MODELS = FIXTURE / "3dmodels"
POINTS = 128


def convert(out: Path, **kwargs: object) -> dict:
    settings = {"deb": MODELS, "footprints": FOOTPRINTS, "n_points": POINTS, "workers": 1} | kwargs
    return convert_kicad(out, **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kicad")
    return out, convert(out)


def test_parse_footprint_reads_descr_tags_and_model() -> None:
    path = FOOTPRINTS / "Resistor_THT.pretty/R_Box_L8.4mm_W2.5mm_P5.08mm.kicad_mod"
    fp = parse_footprint(path.read_bytes(), "Resistor_THT.pretty/R_Box_L8.4mm_W2.5mm_P5.08mm.kicad_mod")
    assert (fp.library, fp.name) == ("Resistor_THT", "R_Box_L8.4mm_W2.5mm_P5.08mm")
    assert fp.descr.startswith("Resistor, Box series, Radial, pin pitch=5.08mm")
    assert "Resistor" in fp.tags
    assert fp.models == ("Resistor_THT.3dshapes/R_Box_L8.4mm_W2.5mm_P5.08mm.wrl",)


def test_parse_footprint_escapes_and_errors() -> None:
    fp = parse_footprint(b'(footprint "X" (descr "a \\"quoted\\" word") (tags "t"))', "L.pretty/X.kicad_mod")
    assert fp.descr == 'a "quoted" word' and fp.models == ()
    with pytest.raises(FootprintError, match=r"L.pretty/Y.kicad_mod: not a KiCad footprint"):
        parse_footprint(b"(symbol x)", "L.pretty/Y.kicad_mod")
    with pytest.raises(FootprintError, match="not UTF-8"):
        parse_footprint(b"(footprint \xff)", "L.pretty/Z.kicad_mod")


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("${KICAD6_3DMODEL_DIR}/Package_SO.3dshapes/SOIC-8_3.9x4.9mm_P1.27mm.wrl",
         "Package_SO.3dshapes/SOIC-8_3.9x4.9mm_P1.27mm.wrl"),
        ("${KISYS3DMOD}/Capacitor_SMD.3dshapes/C_0805_2012Metric.step", "Capacitor_SMD.3dshapes/C_0805_2012Metric.wrl"),
        ("$(KIPRJMOD)/model.wrl", None),
    ],
)  # fmt: skip
def test_model_key(reference: str, key: str | None) -> None:
    assert model_key(reference) == key


@pytest.mark.parametrize(
    ("name", "family", "variant"),
    [
        ("SOIC-8_3.9x4.9mm_P1.27mm", "SOIC", "SOIC-8"),
        ("QFN-16-1EP_3x3mm_P0.5mm_EP1.7x1.7mm", "QFN", "QFN-16-1EP"),
        ("PinHeader_2x05_P1.27mm_Horizontal", "PinHeader", "PinHeader_2x05"),
        ("C_0805_2012Metric", "C", "C_0805"),
        ("TerminalBlock_Phoenix_PT-1,5-14-5.0-H_1x14_P5.00mm_Horizontal", "TerminalBlock_Phoenix",
         "TerminalBlock_Phoenix_PT-1,5-14-5.0-H"),
        ("SMB_Jack_Vertical", "SMB_Jack", "SMB_Jack_Vertical"),
    ],
)  # fmt: skip
def test_family_and_variant_keys(name: str, family: str, variant: str) -> None:
    assert (txt.family_key(name), txt.variant_key(name)) == (family, variant)


def test_clean_descr_removes_links_and_generator_keeps_dimensions() -> None:
    descr = (
        "SOIC, 8 Pin (JEDEC MS-012AA, https://www.analog.com/media/r_8.pdf), 3.9x4.9mm body, "
        "generated with kicad-footprint-generator ipc_gullwing_generator.py"
    )
    assert txt.clean_descr(descr) == "SOIC, 8 Pin (JEDEC MS-012AA), 3.9x4.9mm body"
    assert txt.clean_descr("Digital unit, http://x.kr/a.pdf (footprint from http://y.de/b.pdf)") == "Digital unit"
    assert txt.clean_descr("https://www.onsemi.com/pub/ESD9B-D.PDF#page=4") == ""
    assert txt.instance_caption("Resistor, 2W, http://a.b/c.pdf", "resistor box 2W") == "Resistor, 2W; box"
    assert txt.family_phrase("CP_Radial") == "polarized capacitor Radial"
    assert txt.instance_caption("https://a.b/c.pdf p.144", "Diode SOD523") == "Diode SOD523"


def test_conversion_items_captions_and_colours(converted: tuple[Path, dict]) -> None:
    out, report = converted
    dataset = load_dataset(out)
    assert dataset.index.levels == ["library", "family", "variant", "instance"]
    assert dataset.index.up_axis == "z" and dataset.index.channels == 6
    ids = {item.id for item in dataset.items()}
    diodes = {f"Diode_SMD/D_{name}" for name in ("SC-80", "SOD-123F", "SOD-323F", "SOD-523", "SOD-923")}
    sizes = ("L13.0mm_W4.0mm_P9.00mm", "L14.0mm_W5.0mm_P9.00mm", "L26.0mm_W5.0mm_P20.00mm", "L8.4mm_W2.5mm_P5.08mm")
    resistors = {f"Resistor_THT/R_Box_{size}" for size in sizes}
    assert ids == diodes | resistors  # fmt: skip
    item = next(i for i in dataset.items() if i.id == "Resistor_THT/R_Box_L8.4mm_W2.5mm_P5.08mm")
    levels = [(c.level, c.text) for c in dataset.captions(item)]
    assert levels[0][0] == "library" and "Resistor THT" in levels[0][1]
    family = "resistor Box (Resistor, Box series, Radial), a family of the KiCad Resistor THT library"
    assert levels[1] == ("family", family)
    assert levels[2] == ("variant", "R Box L8.4mm, a resistor Box variant in Resistor THT")
    assert levels[3][0] == "instance" and "length*width=8.38*2.54mm^2" in levels[3][1] and "http" not in levels[3][1]
    assert item.meta["license"] == "CC-BY-SA-4.0 WITH KiCad-libraries-exception"
    assert item.meta["size_mm"] == pytest.approx([8.4, 2.5, 9.7], abs=0.01)
    cloud = dataset.load_points(item)
    assert cloud.shape == (POINTS, 6)
    assert np.linalg.norm(cloud[:, :3], axis=1).max() == pytest.approx(1.0, abs=1e-5)
    assert len(np.unique(cloud[:, 3:].round(3), axis=0)) >= 2  # body and pins keep their own material colours
    shared = next(i for i in dataset.items() if i.id == "Diode_SMD/D_SC-80")
    assert len(shared.meta["footprints"]) == 2  # D_SC-80 and D_SC-80_HandSoldering use one model
    assert report["statistics"]["items_with_several_footprints"] == 1
    link_only = next(i for i in dataset.items() if i.id == "Diode_SMD/D_SOD-923")
    assert link_only.captions == ["Diode SOD923"]  # the descr is only a link: the tags describe the part


def test_conversion_reports_skipped_models(converted: tuple[Path, dict]) -> None:
    out, _ = converted
    saved = json.loads((out / REPORT).read_text())
    reasons = {(f.get("file") or f.get("model")): f["reason"] for f in saved["failures"]}
    assert reasons == {"Diode_SMD.3dshapes/D_SOD-110.wrl": "unreferenced: no footprint with a descr uses this model"}
    assert saved["failures_by_reason"] == {"unreferenced": 1}
    assert "CC-BY-SA 4.0" in (out / "README.md").read_text()


def test_splits_are_seeded_and_family_disjoint(converted: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = converted
    by_family, by_item = load_dataset(out), load_dataset(out / ITEM_INDEX)
    assert [i.id for i in by_family.items()] == [i.id for i in by_item.items()]
    sides: dict[str, set[str]] = {}
    for item in by_family.items():
        sides.setdefault(item.node.rpartition("/")[0], set()).add(item.split)
    assert all(len(s) == 1 for s in sides.values())
    again = json.loads((out / ITEM_INDEX).read_text())
    assert [i["split"] for i in again["items"]] == [i.split for i in by_item.items()]


def test_rerun_converts_only_what_is_missing(tmp_path: Path) -> None:
    first = convert(tmp_path, limit=3)
    assert first["models_converted_this_run"] == 3
    started = time.perf_counter()
    again = convert(tmp_path, limit=3)
    assert again["models_converted_this_run"] == 0 and time.perf_counter() - started < 5
    (tmp_path / "points/Diode_SMD/D_SC-80.npy").unlink()
    assert convert(tmp_path, limit=3)["models_converted_this_run"] == 1
    with pytest.raises(ValueError, match="sampled with"):
        convert(tmp_path, limit=3, n_points=64)


def test_bad_input_is_reported_and_skipped(tmp_path: Path) -> None:
    models, footprints = tmp_path / "3dmodels", tmp_path / "footprints"
    shutil.copytree(MODELS, models)
    shutil.copytree(FOOTPRINTS, footprints)
    (models / "Diode_SMD.3dshapes/D_SOD-323F.wrl").write_text("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet {")
    (models / "Diode_SMD.3dshapes/D_SOD-123F.wrl").unlink()
    no_tags = footprints / "Diode_SMD.pretty/D_SOD-923.kicad_mod"
    no_tags.write_text(no_tags.read_text().replace('(tags "Diode SOD923")', ""))
    empty = footprints / "Diode_SMD.pretty/D_SOD-523.kicad_mod"
    empty.write_text(re.sub(r'\(descr "[^"]*"\)', '(descr "")', empty.read_text()).replace('(tags "Diode SOD523")', ""))
    (footprints / "Diode_SMD.pretty/Broken.kicad_mod").write_text("(symbol oops)")
    report = convert(tmp_path / "out", deb=models, footprints=footprints)
    reasons = {(f.get("file") or f.get("model")): f["reason"] for f in report["failures"]}
    assert reasons["Diode_SMD.3dshapes/D_SOD-323F.wrl"].startswith("unreadable model: Diode_SMD.3dshapes/D_SOD-323F")
    assert reasons["Diode_SMD.pretty/D_SOD-123F.kicad_mod"].startswith("model absent")
    assert reasons["Diode_SMD.pretty/D_SOD-923.kicad_mod"].startswith("descr only links, no tags")
    assert reasons["Diode_SMD.pretty/D_SOD-523.kicad_mod"].startswith("empty descr and tags")
    assert reasons["Diode_SMD.pretty/Broken.kicad_mod"].startswith("unreadable footprint")
    assert report["items_converted"] == 5  # D_SC-80 and the four resistors


def test_missing_and_corrupt_deb_are_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nothing.deb: no such file"):
        convert(tmp_path / "a", deb=tmp_path / "nothing.deb")
    bad = tmp_path / "kicad-packages3d_0_all.deb"
    bad.write_bytes(b"!<arch>\nnot really a package")
    with pytest.raises(ValueError, match="kicad-packages3d_0_all.deb"):
        convert(tmp_path / "b", deb=bad)
    assert not list((tmp_path / "b").glob("points/**/*.npy"))


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb (Debian dpkg) is needed to build a .deb")
def test_deb_source_streams_the_same_models(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(MODELS, root / "usr/share/kicad/3dmodels")
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        "Package: kicad-packages3d\nVersion: 0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: fixture\n"
    )
    deb = tmp_path / "kicad-packages3d_0_all.deb"
    subprocess.run(["dpkg-deb", "-Zxz", "--build", str(root), str(deb)], check=True, capture_output=True)
    report = convert(tmp_path / "out", deb=deb, limit=2)
    assert report["items_converted"] == 2
    assert sorted(i.id for i in load_dataset(tmp_path / "out").items()) == ["Diode_SMD/D_SC-80", "Diode_SMD/D_SOD-123F"]


def test_workers_are_replaced_after_their_quota_of_models() -> None:
    pool = worker_pool(1, models_per_worker=2)
    try:
        pids = [pool.submit(os.getpid).result() for _ in range(4)]
    finally:
        pool.shutdown()
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[1] != pids[2]


def test_cli_kicad(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "data", "kicad", "--out", str(tmp_path), "--deb", str(MODELS), "--footprints", str(FOOTPRINTS),
        "--limit", "1", "--points", "64", "--workers", "1", "--no-progress",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"] == 1
    missing = CliRunner().invoke(app, ["data", "kicad", "--out", str(tmp_path / "x"), "--deb", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "error:" in missing.output


def test_a_killed_conversion_leaves_only_whole_files_and_a_rerun_completes_it(tmp_path: Path) -> None:
    import signal
    import sys

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hyperalign", "data", "kicad", "--out", str(out), "--deb", str(MODELS),
           "--footprints", str(FOOTPRINTS), "--points", str(POINTS), "--workers", "1", "--no-progress"]
    run = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not list(out.glob("points/**/*.npy")) and run.poll() is None:
        time.sleep(0.005)
    os.killpg(run.pid, signal.SIGKILL)  # the converter and its worker, mid-run
    run.wait()
    for cloud in out.glob("points/**/[!.]*.npy"):  # what is visible is whole
        assert np.load(cloud).shape == (POINTS, 6), cloud
    visible = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert all(p.suffix in {".npy", ".json", ".md"} for p in visible), visible
    for index in out.glob("*.json"):
        json.loads(index.read_text())
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    whole = convert(tmp_path / "whole")
    assert json.loads((out / "index.json").read_text()) == json.loads((tmp_path / "whole" / "index.json").read_text())
    assert whole["items_converted"] == json.loads((out / REPORT).read_text())["items_converted"]
    for cloud in (tmp_path / "whole").glob("points/**/*.npy"):
        np.testing.assert_array_equal(np.load(cloud), np.load(out / cloud.relative_to(tmp_path / "whole")))
    leftovers = [p for p in out.rglob(".*") if p.is_file() and p.name != ".kicad-conversion-cache.json"]
    assert not leftovers  # the rerun removed the killed run's temporary files
