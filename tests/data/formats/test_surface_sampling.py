"""The one area-weighted surface sampler: triangles drawn by area, points inside them, colours per point, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from hyperalign.data.formats.mesh import face_normals, sample_surface, vertex_colourer

# two triangles in the z = 0 plane with areas 0.5 and 1.5, and one degenerate (zero-area) triangle
VERTICES = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [5, 0, 0], [2, 1, 0], [7, 7, 7]], dtype=np.float64)
FACES = np.array([[0, 1, 2], [3, 4, 5], [6, 6, 6]])


def test_triangles_are_drawn_in_proportion_to_their_area() -> None:
    sample = sample_surface(VERTICES, FACES, 20_000, seed=0)
    counts = np.bincount(sample.face, minlength=3)
    assert counts[2] == 0
    assert abs(counts[0] / counts.sum() - 0.25) < 0.01  # 0.5 / (0.5 + 1.5); binomial sd is 0.003
    np.testing.assert_allclose(sample.bary.sum(axis=1), 1.0)
    assert (sample.bary >= 0).all() and sample.rgb is None
    corners = VERTICES[FACES[sample.face]]
    np.testing.assert_allclose(sample.xyz, np.einsum("nk,nkc->nc", sample.bary, corners))
    first = sample.face == 0
    assert (sample.xyz[first, :2].sum(axis=1) <= 1 + 1e-12).all()  # inside x + y <= 1


def test_seeded_colours_and_normals() -> None:
    rgb = np.zeros((len(VERTICES), 3))
    rgb[:, 0] = VERTICES[:, 0] / 5.0
    a = sample_surface(VERTICES, FACES, 500, seed=3, colour=vertex_colourer(FACES, rgb))
    b = sample_surface(VERTICES, FACES, 500, seed=3, colour=vertex_colourer(FACES, rgb))
    np.testing.assert_array_equal(a.xyz, b.xyz)
    assert not np.array_equal(sample_surface(VERTICES, FACES, 500, seed=4).xyz, a.xyz)
    np.testing.assert_allclose(a.rgb[:, 0], a.xyz[:, 0] / 5.0)  # red is linear in x, so interpolation is exact
    np.testing.assert_allclose(face_normals(VERTICES, FACES, a.face), np.tile([0.0, 0.0, 1.0], (500, 1)))


def test_zero_total_area_is_refused() -> None:
    with pytest.raises(ValueError, match="the 1 triangles have zero total area"):
        sample_surface(VERTICES, FACES[2:], 10, seed=0)
