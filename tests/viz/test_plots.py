import numpy as np
import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.viz.plots import plot_norm_histogram, plot_poincare, poincare_disk_coordinates

PNG = b"\x89PNG\r\n\x1a\n"


def test_disk_radius_is_exact_and_direction_follows_the_main_axes():
    torch.manual_seed(0)
    tangent = torch.randn(50, 6, dtype=torch.float64) * torch.tensor([3.0, 1.0, 0.01, 0.01, 0.01, 0.01])
    points = lorentz.expmap0(tangent, 2.0)
    xy = poincare_disk_coordinates(points, 2.0)
    expected = np.tanh(np.sqrt(2.0) * lorentz.dist0(points, 2.0).numpy() / 2)
    np.testing.assert_allclose(np.linalg.norm(xy, axis=1), expected, rtol=1e-12)
    assert np.all(np.linalg.norm(xy, axis=1) < 1)
    # the data lie almost in the (x0, x1) plane: up to a rotation or reflection, the projection keeps their angles
    angle = np.arctan2(tangent[:, 1].numpy(), tangent[:, 0].numpy())
    got = np.arctan2(xy[:, 1], xy[:, 0])
    np.testing.assert_allclose(np.cos(got[:, None] - got[None, :]), np.cos(angle[:, None] - angle[None, :]), atol=0.05)


def test_plots_write_png(tmp_path):
    pytest.importorskip("matplotlib")
    points = lorentz.expmap0(torch.randn(40, 4), 1.0)
    depths = [1, 2, 3, 4] * 10
    names = ["category", "subtype", "instance", "shape"]
    a = plot_poincare(poincare_disk_coordinates(points, 1.0), ["x", "y"] * 20, depths, tmp_path / "p" / "disk.png",
                      "toy", names)
    b = plot_norm_histogram(lorentz.dist0(points, 1.0).numpy(), depths, tmp_path / "norms.png", "toy", names)
    for path in (a, b):
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
