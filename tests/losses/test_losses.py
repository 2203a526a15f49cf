import math

import pytest
import torch

from hyperalign.geometry import lorentz
from hyperalign.losses.contrastive import multi_positive_infonce
from hyperalign.losses.entailment import cone_violation, ordering_loss


def test_infonce_single_positive_matches_hand_computation():
    d = torch.tensor([[0.0, 1.0], [2.0, 0.5]])
    pos = torch.eye(2, dtype=torch.bool)
    t = 0.5
    logits = -d / t  # [[0, -2], [-4, -1]]
    row = [-(0 - math.log(1 + math.exp(-2))), -(-1 - math.log(math.exp(-4) + math.exp(-1)))]
    col = [-(0 - math.log(1 + math.exp(-4))), -(-1 - math.log(math.exp(-2) + math.exp(-1)))]
    expected = 0.5 * (sum(row) / 2 + sum(col) / 2)
    assert math.isclose(float(multi_positive_infonce(d, pos, t)), expected, rel_tol=1e-6)
    ce = 0.5 * (torch.nn.functional.cross_entropy(logits, torch.arange(2)) + torch.nn.functional.cross_entropy(logits.T, torch.arange(2)))
    assert math.isclose(float(multi_positive_infonce(d, pos, t)), float(ce), rel_tol=1e-6)


def test_infonce_multi_positive_sums_probability_of_all_positives():
    # rows 0 and 1 are two captions of the same shape (ids 7); row 2 another shape.
    pos = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    d = torch.tensor([[0.0, 0.2, 1.0], [0.3, 0.1, 2.0], [1.0, 1.5, 0.0]])
    logits = -d
    rows = []
    for i in range(3):
        p = torch.softmax(logits[i], 0)
        rows.append(-math.log(float(p[pos[i]].sum())))
    cols = []
    for j in range(3):
        p = torch.softmax(logits[:, j], 0)
        cols.append(-math.log(float(p[pos[:, j]].sum())))
    expected = 0.5 * (sum(rows) / 3 + sum(cols) / 3)
    assert math.isclose(float(multi_positive_infonce(d, pos, 1.0)), expected, rel_tol=1e-6)


def test_infonce_errors():
    with pytest.raises(ValueError, match="at least one positive"):
        multi_positive_infonce(torch.zeros(2, 2), torch.tensor([[True, False], [False, False]]), 1.0)
    with pytest.raises(ValueError, match="one shape"):
        multi_positive_infonce(torch.zeros(2, 3), torch.ones(2, 2, dtype=torch.bool), 1.0)


def test_ordering_loss_zero_inside_cone_and_grows_outside():
    c = 1.0
    parent = torch.tensor([[0.3, 0.0, 0.0]])  # aper = asin(0.2 / 0.3) ~ 0.73 rad
    inside = torch.tensor([[1.0, 0.05, 0.0]])  # farther out, nearly on the same ray: inside the cone
    assert float(lorentz.exterior_angle(parent, inside, c)) < float(lorentz.half_aperture(parent, c))
    assert float(ordering_loss(parent, inside, c)) == 0.0
    violations = []
    for a in (1.0, 1.8, 2.6):  # children at a growing angle from the parent's ray
        child = torch.tensor([[0.3 + 0.5 * math.cos(a), 0.5 * math.sin(a), 0.0]])
        violations.append(float(cone_violation(parent, child, c)))
        expected = max(0.0, float(lorentz.exterior_angle(parent, child, c) - lorentz.half_aperture(parent, c, 0.1)))
        assert math.isclose(violations[-1], expected, rel_tol=1e-6)
    assert 0 < violations[0] < violations[1] < violations[2]


def test_ordering_loss_gradients_finite_for_identical_points():
    x = torch.tensor([[0.5, -0.2, 0.1]], requires_grad=True)
    loss = ordering_loss(x, x.detach().clone(), torch.tensor(1.0))
    loss.backward()
    assert torch.isfinite(x.grad).all()
