"""Point cloud formats: round trips, mesh sampling, column interpretation, and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from plyfile import PlyData, PlyElement

from hyperalign.data.formats import (
    SUFFIXES,
    PointCloud,
    PointCloudError,
    SizeLimitError,
    normalize_unit_sphere,
    read_point_cloud,
    write_point_cloud,
)

N = 40


def _cloud(rgb: bool, normals: bool, seed: int = 0) -> PointCloud:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(N, 3))
    colours = rng.integers(0, 256, size=(N, 3)) / 255.0 if rgb else None  # on the uint8 grid, so PLY is exact
    n = rng.normal(size=(N, 3))
    return PointCloud(xyz, colours, n / np.linalg.norm(n, axis=1, keepdims=True) if normals else None)


def _assert_same(got: PointCloud, want: PointCloud) -> None:
    np.testing.assert_array_equal(got.xyz, want.xyz)
    for name in ("rgb", "normals"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), name
        if b is not None:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-7, err_msg=name)


VARIANTS = [(False, False), (True, False), (True, True), (False, True)]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize(("rgb", "normals"), VARIANTS)
def test_round_trip(tmp_path: Path, suffix: str, rgb: bool, normals: bool) -> None:
    cloud = _cloud(rgb, normals)
    path = tmp_path / f"cloud{suffix}"
    if suffix == ".npy" and normals and not rgb:
        with pytest.raises(PointCloudError, match=r"cloud\.npy.*normals"):
            write_point_cloud(path, cloud)
        return
    write_point_cloud(path, cloud)
    _assert_same(read_point_cloud(path), cloud)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    cloud = _cloud(True, False)
    write_point_cloud(tmp_path / "a.PLY", cloud)
    _assert_same(read_point_cloud(tmp_path / "a.PLY"), cloud)


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.npy"
    write_point_cloud(path, _cloud(False, False))
    before = path.read_bytes()

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_point_cloud(path, _cloud(False, False, seed=1))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]


# ---- meshes -------------------------------------------------------------------------------------------------

CUBE_V = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=float)
CUBE_QUADS = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]


def _assert_on_unit_cube(xyz: np.ndarray) -> None:
    assert xyz.min() >= -1e-6 and xyz.max() <= 1 + 1e-6
    on_face = (np.abs(xyz) < 1e-6) | (np.abs(xyz - 1) < 1e-6)
    assert on_face.any(axis=1).all()


def _off_cube(path: Path, header: str = "OFF\n8 6 12\n") -> None:
    vertices = "\n".join(" ".join(f"{c:g}" for c in v) for v in CUBE_V)
    faces = "\n".join("4 " + " ".join(map(str, q)) for q in CUBE_QUADS)
    path.write_text(f"{header}# a comment\n{vertices}\n{faces}\n")


def test_off_mesh_is_sampled_on_the_surface(tmp_path: Path) -> None:
    path = tmp_path / "cube.off"
    _off_cube(path)
    cloud = read_point_cloud(path, mesh_samples=500, seed=3)
    assert cloud.xyz.shape == (500, 3) and cloud.rgb is None
    _assert_on_unit_cube(cloud.xyz)
    np.testing.assert_allclose(np.abs(cloud.normals).max(axis=1), 1.0, atol=1e-6)  # face normals of a cube
    np.testing.assert_array_equal(read_point_cloud(path, mesh_samples=500, seed=3).xyz, cloud.xyz)
    assert not np.array_equal(read_point_cloud(path, mesh_samples=500, seed=4).xyz, cloud.xyz)


def test_off_modelnet_header_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cube.off"
    _off_cube(path, header="OFF8 6 0\n")
    _assert_on_unit_cube(read_point_cloud(path, mesh_samples=64).xyz)


def test_coff_vertex_colours_are_interpolated(tmp_path: Path) -> None:
    path = tmp_path / "cube.off"
    vertices = "\n".join(f"{x:g} {y:g} {z:g} {int(255 * x)} 0 0 255" for x, y, z in CUBE_V)
    faces = "\n".join("4 " + " ".join(map(str, q)) for q in CUBE_QUADS)
    path.write_text(f"COFF\n8 6 0\n{vertices}\n{faces}\n")
    cloud = read_point_cloud(path, mesh_samples=300)
    np.testing.assert_allclose(cloud.rgb[:, 0], cloud.xyz[:, 0], atol=1e-5)  # red = x at the vertices
    assert np.all(cloud.rgb[:, 1:] == 0)


def test_obj_mesh_with_vertex_colours(tmp_path: Path) -> None:
    path = tmp_path / "cube.obj"
    lines = [f"v {x:g} {y:g} {z:g} {x:g} 0 {1 - x:g}" for x, y, z in CUBE_V]
    lines += ["f " + " ".join(str(i + 1) for i in q) for q in CUBE_QUADS]
    path.write_text("\n".join(lines) + "\n")
    cloud = read_point_cloud(path, mesh_samples=400, seed=1)
    assert cloud.xyz.shape == (400, 3)
    _assert_on_unit_cube(cloud.xyz)
    np.testing.assert_allclose(cloud.rgb[:, 0], cloud.xyz[:, 0], atol=1 / 255 + 1e-6)
    np.testing.assert_allclose(cloud.rgb[:, 2], 1 - cloud.xyz[:, 0], atol=1 / 255 + 1e-6)
    np.testing.assert_array_equal(read_point_cloud(path, mesh_samples=400, seed=1).xyz, cloud.xyz)


def test_ply_mesh_is_read_as_vertices(tmp_path: Path) -> None:
    path = tmp_path / "mesh.ply"
    fields = [("x", "f8"), ("y", "f8"), ("z", "f8"), ("red", "f4"), ("green", "f4"), ("blue", "f4")]
    vertex = np.array([tuple(v) + (0.25, 0.5, 1.0) for v in CUBE_V], dtype=fields)
    face = np.array([(q,) for q in CUBE_QUADS], dtype=[("vertex_indices", "i4", (4,))])
    PlyData([PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")], text=True).write(str(path))
    cloud = read_point_cloud(path)
    np.testing.assert_array_equal(cloud.xyz, CUBE_V.astype(np.float32))
    np.testing.assert_allclose(cloud.rgb, np.tile([0.25, 0.5, 1.0], (8, 1)))


# ---- text and array column interpretation ------------------------------------------------------------------


def test_text_formats(tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    csv.write_text("X,Y,Z,R,G,B\n0, 0, 0, 255, 0, 0\n1, 2, 3, 0, 128, 255\n")
    cloud = read_point_cloud(csv)
    np.testing.assert_allclose(cloud.rgb, [[1, 0, 0], [0, 128 / 255, 1]])

    modelnet = tmp_path / "b.txt"  # ModelNet40 "normal_resampled": x,y,z,nx,ny,nz without a header
    modelnet.write_text("0.1,0.2,0.3,0.0,0.0,-1.0\n0.4,0.5,0.6,1.0,0.0,0.0\n")
    cloud = read_point_cloud(modelnet)
    assert cloud.rgb is None
    np.testing.assert_array_equal(cloud.normals, [[0, 0, -1], [1, 0, 0]])

    cloudcompare = tmp_path / "c.xyz"
    cloudcompare.write_text("//X Y Z R G B\n1 2 3 0.5 0.5 0.5\n\n4 5 6 0.25 0.5 1 \n")
    np.testing.assert_allclose(read_point_cloud(cloudcompare).rgb[1], [0.25, 0.5, 1.0])

    extra = tmp_path / "d.txt"  # columns beyond the ones understood (intensity, label) are ignored
    extra.write_text("1 2 3 0.1 0.2 0.3 17 4\n4 5 6 0.1 0.2 0.3 18 4\n")
    assert read_point_cloud(extra).rgb.shape == (2, 3)


def test_npz_and_h5_variants(tmp_path: Path) -> None:
    xyz = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.savez(tmp_path / "only.npz", cloud=xyz)
    np.testing.assert_array_equal(read_point_cloud(tmp_path / "only.npz").xyz, xyz)
    with h5py.File(tmp_path / "batch.h5", "w") as f:
        f.create_dataset("pts", data=xyz[None])
    np.testing.assert_array_equal(read_point_cloud(tmp_path / "batch.h5", h5_dataset="pts").xyz, xyz)
    np.save(tmp_path / "rgb255.npy", np.concatenate([xyz, np.full((4, 3), 255.0)], axis=1))
    np.testing.assert_array_equal(read_point_cloud(tmp_path / "rgb255.npy").rgb, np.ones((4, 3)))
    # normals that also look like colours (a plane facing +z) are still normals after colour columns
    up = PointCloud(xyz, np.full((4, 3), 0.5), np.tile([0.0, 0.0, 1.0], (4, 1)))
    write_point_cloud(tmp_path / "plane.npy", up)
    _assert_same(read_point_cloud(tmp_path / "plane.npy"), up)


# ---- errors: every message names the file -------------------------------------------------------------------


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _truncated(path: Path, cloud: PointCloud, keep: float = 0.6) -> Path:
    write_point_cloud(path, cloud)
    raw = path.read_bytes()
    return _write(path, raw[: int(len(raw) * keep)])


def _bad_files(tmp: Path) -> list[tuple[Path, str]]:
    cloud = _cloud(True, True)
    xyz = np.zeros((5, 3))
    nan = xyz.copy()
    nan[2, 1] = np.nan
    np.save(tmp / "nan.npy", nan)
    np.save(tmp / "four.npy", np.zeros((5, 4)))
    np.save(tmp / "zero.npy", np.zeros((0, 3)))
    np.save(tmp / "flat.npy", np.zeros(9))
    np.save(tmp / "words.npy", np.array([["a", "b", "c"]]))
    np.savez(tmp / "many.npz", a=xyz, b=xyz)
    with h5py.File(tmp / "nodata.h5", "w") as f:
        f.create_dataset("points", data=xyz)
    with h5py.File(tmp / "batch.h5", "w") as f:
        f.create_dataset("data", data=np.zeros((2, 5, 3)))
    PlyData([PlyElement.describe(np.zeros(3, dtype=[("u", "f4")]), "vertex")], text=True).write(str(tmp / "nox.ply"))
    return [
        (tmp / "missing.ply", "no such file"),
        (tmp, "is a directory"),
        (_write(tmp / "empty.xyz", b""), "empty"),
        (_write(tmp / "cloud.stl", "solid"), "unknown extension '.stl'"),
        (_truncated(tmp / "trunc.npy", cloud), "truncated or corrupt"),
        (_truncated(tmp / "trunc.ply", cloud), "not a readable PLY"),
        (_truncated(tmp / "trunc.npz", cloud), "truncated or corrupt"),
        (_truncated(tmp / "trunc.h5", cloud), "truncated or corrupt"),
        (_write(tmp / "trunc.off", "OFF\n8 6 0\n0 0 0\n1 1 1\n"), "truncated"),
        (_write(tmp / "noheader.off", "8 6 0\n0 0 0\n"), "expected an 'OFF' header"),
        (_write(tmp / "badface.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n"), "refers to vertex 7"),
        (_write(tmp / "flat.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n"), "zero"),
        (_write(tmp / "garbage.obj", b"\x00\x01garbage"), "no vertices"),
        (_write(tmp / "badv.obj", "v 0 0 x\nf 1 2 3\n"), "OBJ"),
        (_write(tmp / "latin1.txt", "x y z\n1 2 3 \xe9\n".encode("latin-1")), "not UTF-8"),
        (tmp / "nan.npy", "NaN/Inf"),
        (_write(tmp / "inf.xyz", "0 0 0\n1 inf 2\n"), "NaN/Inf"),
        (tmp / "four.npy", "expected 3, 6 or 9 channels"),
        (_write(tmp / "five.csv", "1,2,3,4,5\n"), "expected 3 or at least 6 channels"),
        (_write(tmp / "ragged.txt", "1 2 3\n4 5\n"), "same number of columns"),
        (_write(tmp / "mixed.txt", "1 2 three\n"), "line 1: expected a header or numbers; got '1 2 three'"),
        (_write(tmp / "weird.txt", "1 2 3 -5 7 9\n"), "neither colours"),
        (_write(tmp / "bright.csv", "x,y,z,r,g,b\n1,2,3,300,0,0\n"), "colours in [0, 1] or integers in [0, 255]"),
        (_write(tmp / "partial.csv", "x,y,z,r,g\n1,2,3,1,0\n"), "name only"),
        (tmp / "zero.npy", "0 points"),
        (_write(tmp / "header_only.csv", "x,y,z\n"), "0 points"),
        (tmp / "flat.npy", "shape (N, C)"),
        (tmp / "words.npy", "must hold numbers"),
        (tmp / "many.npz", "expected a key 'points' or a single array"),
        (tmp / "nodata.h5", "no dataset 'data'; datasets in the file: ['points']"),
        (tmp / "batch.h5", "2 clouds"),
        (tmp / "nox.ply", "lacks properties ['x', 'y', 'z']"),
    ]


def test_bad_files_raise_errors_naming_the_file(tmp_path: Path) -> None:
    for path, problem in _bad_files(tmp_path):
        with pytest.raises(PointCloudError) as info:
            read_point_cloud(path)
        message = str(info.value)
        assert str(path) in message, message
        assert problem in message, f"{path.name}: {message!r} lacks {problem!r}"


def test_max_points_is_enforced_with_a_hint(tmp_path: Path) -> None:
    for suffix in (".npy", ".npz", ".ply", ".h5", ".obj"):
        path = tmp_path / f"big{suffix}"
        write_point_cloud(path, _cloud(False, False))
        expected = rf"big\{suffix}: {N} points exceed the limit of max_points=10.*max_points={N}"
        with pytest.raises(PointCloudError, match=expected):
            read_point_cloud(path, max_points=10)
    write_point_cloud(tmp_path / "big.txt", _cloud(False, False))  # text reading stops at the limit
    with pytest.raises(PointCloudError, match=r"big\.txt: more points exceed the limit of max_points=10; pass a"):
        read_point_cloud(tmp_path / "big.txt", max_points=10)
    _off_cube(tmp_path / "cube.off")
    with pytest.raises(PointCloudError, match="cube.off: 100 points exceed"):
        read_point_cloud(tmp_path / "cube.off", mesh_samples=100, max_points=50)


# ---- the in-memory cloud and normalisation ------------------------------------------------------------------


def test_point_cloud_checks_and_as_array() -> None:
    cloud = PointCloud([[0, 0, 0], [1, 2, 3]])
    assert cloud.xyz.dtype == np.float32 and len(cloud) == 2
    np.testing.assert_array_equal(cloud.as_array(3), cloud.xyz)
    np.testing.assert_array_equal(cloud.as_array(6)[:, 3:], np.full((2, 3), 0.5, dtype=np.float32))
    coloured = PointCloud(np.zeros((2, 3)), rgb=[[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(coloured.as_array(6)[:, 3:], coloured.rgb)
    with pytest.raises(ValueError, match="channels must be 3"):
        cloud.as_array(4)
    with pytest.raises(ValueError, match=r"shape \(N, 3\)"):
        PointCloud(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="0 points"):
        PointCloud(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="rgb has 1 rows but xyz has 2"):
        PointCloud(np.zeros((2, 3)), rgb=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"rgb must lie in \[0, 1\]"):
        PointCloud(np.zeros((1, 3)), rgb=[[2, 0, 0]])
    with pytest.raises(TypeError, match="PointCloud"):
        write_point_cloud("x.npy", np.zeros((3, 3)))  # type: ignore[arg-type]


def test_normalize_unit_sphere_edge_cases() -> None:
    np.testing.assert_array_equal(normalize_unit_sphere(np.array([[2.0, 3.0, 4.0]])), [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(normalize_unit_sphere(np.ones((4, 3), dtype=np.float32)), np.zeros((4, 3)))
    assert normalize_unit_sphere(np.ones((4, 3), dtype=np.float32)).dtype == np.float32
    assert normalize_unit_sphere(np.arange(6).reshape(2, 3)).dtype == np.float64
    np.testing.assert_allclose(normalize_unit_sphere(np.array([[0.0, 0, 0], [0, 0, 4]])), [[0, 0, -1], [0, 0, 1]])
    for bad in (np.zeros((0, 3)), np.zeros((3, 2)), np.array([[np.nan, 0, 0]])):
        with pytest.raises(ValueError):
            normalize_unit_sphere(bad)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(2, 30), st.just(3)), elements=st.floats(-1e3, 1e3)),
    st.floats(0.01, 100.0),
    st.tuples(*[st.floats(-50, 50)] * 3),
)
def test_normalize_unit_sphere_properties(xyz: np.ndarray, scale: float, shift: tuple[float, float, float]) -> None:
    out = normalize_unit_sphere(xyz)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    if (xyz == xyz[0]).all():
        np.testing.assert_array_equal(out, 0.0)
        return
    assert abs(np.linalg.norm(out, axis=1).max() - 1.0) < 1e-9
    if np.ptp(xyz, axis=0).max() > 1.0:  # invariant to translation and positive scaling (away from round-off)
        np.testing.assert_allclose(normalize_unit_sphere(xyz * scale + np.array(shift)), out, atol=1e-6)


@pytest.mark.parametrize(
    "text,line,form",
    [
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3", 7, "f i j k"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0", 4, "v x y z"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nv 0 0", 7, "v x y z"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nvn 0 0", 5, "vn x y z"),
    ],
    ids=["face cut short", "vertex-only cut short", "vertex after faces cut short", "normal cut short"],
)
def test_truncated_obj_names_the_file_and_line(tmp_path, text, line, form):
    """Probe: a truncated OBJ gave numpy's "inhomogeneous shape" / broadcast text instead of the file and line."""
    path = tmp_path / "cut.obj"
    path.write_text(text)
    with pytest.raises(PointCloudError, match=rf"cut\.obj, line {line}: .*expected an OBJ line '{form}"):
        read_point_cloud(path)


@pytest.mark.parametrize("suffix", [".off", ".obj"])
def test_mesh_size_limits_are_checked_before_the_body_is_parsed(tmp_path, suffix):
    """Probe: a 16 MB OFF upload took 9 s and 1.1 GB to parse and sample; a mesh's vertex and face counts are now
    bounded (``max_points`` / ``max_faces``) before its body is read."""
    import time

    n = 200_000
    path = tmp_path / f"big{suffix}"
    if suffix == ".off":
        body = f"OFF\n3 {n} 0\n0 0 0\n1 0 0\n0 1 0\n" + "3 0 1 2\n" * n
    else:
        body = "v 0 0 0\nv 1 0 0\nv 0 1 0\n" + "f 1 2 3\n" * n
    path.write_text(body)
    t0 = time.perf_counter()
    with pytest.raises(SizeLimitError, match=rf"big\{suffix}: {n} faces exceed the limit of max_faces=1000") as info:
        read_point_cloud(path, max_faces=1000)
    assert info.value.count == n and info.value.limit == 1000 and info.value.option == "max_faces"
    assert time.perf_counter() - t0 < 5
    with pytest.raises(SizeLimitError, match="3 points exceed the limit of max_points=2"):
        read_point_cloud(path, max_points=2)
    assert len(read_point_cloud(path, mesh_samples=64, max_faces=n)) == 64


@pytest.mark.parametrize(
    ("text", "is_table"),
    [
        ("0.1 0.2 0.3\n", True),
        ("# comment\n\nx,y,z,red,green,blue\n1,2,3,4,5,6\n", True),
        ("//X,Y,Z\n1,2,3\n", True),
        ("1 2 3\n4 5\n", True),  # malformed, but a table: reading it reports the row
        ("", True),  # empty: reading it reports that it holds no points
        ("Creative Commons Attribution 4.0\nYou are free to share\n", False),
        ("Model by someone, 2019\n", False),
    ],
)
def test_text_files_are_told_from_prose(tmp_path: Path, text: str, is_table: bool) -> None:
    from hyperalign.data.formats.tables import looks_like_point_table

    path = tmp_path / "file.txt"
    path.write_text(text)
    assert looks_like_point_table(path) is is_table


def test_obj_parts_keep_their_texture_and_material_colours(tmp_path: Path) -> None:
    """An OBJ as artists ship it: one part textured (map_Kd), one with a plain diffuse colour (Kd); each sample
    takes the colour of its own part."""
    from PIL import Image

    Image.new("RGB", (4, 4), (255, 0, 0)).save(tmp_path / "red.png")
    (tmp_path / "chair.mtl").write_text("newmtl seat\nKd 1 1 1\nmap_Kd red.png\n\nnewmtl legs\nKd 0 1 0\n")
    (tmp_path / "chair.obj").write_text(
        "mtllib chair.mtl\n"
        "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\n"
        "usemtl seat\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n"
        "v 0 0 1\nv 1 0 1\nv 1 1 1\nusemtl legs\nf 5 6 7\n"
    )
    cloud = read_point_cloud(tmp_path / "chair.obj", mesh_samples=400, seed=0)
    assert cloud.rgb is not None
    top = cloud.xyz[:, 2] > 0.5  # the legs' triangle lies at z = 1, the seat at z = 0
    np.testing.assert_allclose(cloud.rgb[~top], np.tile([1.0, 0.0, 0.0], ((~top).sum(), 1)))
    np.testing.assert_allclose(cloud.rgb[top], np.tile([0.0, 1.0, 0.0], (top.sum(), 1)))
    assert 0 < top.sum() < len(top)
    (tmp_path / "plain.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    assert read_point_cloud(tmp_path / "plain.obj", mesh_samples=10).rgb is None
