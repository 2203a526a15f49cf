"""The caption-chain terms (hyperalign.losses.hierarchy): exactly zero when every constraint holds, positive when
one is broken, invalid levels ignored, finite gradients (hypothesis fuzz over radii, directions, curvature, missing
levels, duplicate points)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperalign.geometry import lorentz
from hyperalign.losses.config import LossConfig
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.losses.hierarchy import HierarchicalDualLoss, direction_loss, hierarchy_terms
from hyperalign.model.embed import LorentzSpace


def _ray(radii: list[float], direction: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """Points on one geodesic ray from the origin at distances ``radii``: (len(radii), n)."""
    u = direction / direction.norm()
    return lorentz.expmap0(torch.tensor(radii)[:, None] * u, c)


def test_zero_when_every_finer_caption_and_the_shape_lie_outward_on_the_parents_ray():
    c = 1.0
    chain = _ray([0.2, 0.6, 1.0, 1.4], torch.tensor([1.0, 0.5, -0.3]), c)  # 3 caption levels then the shape
    terms = hierarchy_terms(chain[None, :3], torch.ones(1, 3, dtype=torch.bool), chain[None, 3], c, margin=0.2)
    assert {k: float(v) for k, v in terms.items()} == {
        "intra_entailment_loss": 0.0, "level_entailment_loss": 0.0, "radius_order_loss": 0.0}


def test_intra_term_positive_when_a_specific_caption_leaves_its_generic_cone():
    c = 1.0
    generic, specific = _ray([0.8], torch.tensor([1.0, 0.0, 0.0])), _ray([1.6], torch.tensor([0.0, 1.0, 0.0]))
    shape = _ray([2.0], torch.tensor([1.0, 0.0, 0.0]))
    terms = hierarchy_terms(torch.stack([generic[0], specific[0]])[None], torch.ones(1, 2, dtype=torch.bool), shape, c)
    expected = float(lorentz.exterior_angle(generic, specific, c) - lorentz.half_aperture(generic, c))
    assert expected > 0
    assert math.isclose(float(terms["intra_entailment_loss"]), expected, rel_tol=1e-5)
    assert float(terms["level_entailment_loss"]) > 0  # the shape is outside the specific caption's cone
    assert float(terms["radius_order_loss"]) == 0.0


def test_radius_term_is_the_mean_hinge_over_all_ordered_pairs():
    u = torch.tensor([0.0, 0.0, 1.0])
    chain = _ray([1.0, 0.5, 2.0], u)  # level 1 is farther out than level 2: one broken pair (1.0 + 0.2 > 0.5)
    terms = hierarchy_terms(chain[None, :2], torch.ones(1, 2, dtype=torch.bool), chain[None, 2], 1.0, margin=0.2)
    # pairs (0,1): 1.0 + 0.2 - 0.5 = 0.7; (0,shape): 0; (1,shape): 0
    assert math.isclose(float(terms["radius_order_loss"]), 0.7 / 3, rel_tol=1e-5)


def test_invalid_levels_are_ignored_even_when_they_hold_garbage():
    c = 1.0
    chain = _ray([0.3, 0.9, 1.5], torch.tensor([0.2, 1.0, 0.1]), c)
    garbage = torch.tensor([[50.0, -30.0, 7.0]])
    text = torch.stack([chain[0], garbage[0], chain[1]])[None]
    valid = torch.tensor([[True, False, True]])
    terms = hierarchy_terms(text, valid, chain[None, 2], c)
    assert all(float(v) == 0.0 for v in terms.values())
    none = hierarchy_terms(text, torch.zeros(1, 3, dtype=torch.bool), chain[None, 2], c)
    assert all(float(v) == 0.0 for v in none.values())  # no caption at all: no pairs, exact zeros


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="must agree"):
        hierarchy_terms(torch.zeros(2, 3, 4), torch.ones(2, 2, dtype=torch.bool), torch.zeros(2, 4), 1.0)


def test_dual_loss_adds_the_chain_terms_and_all_level_rows():
    cfg = LossConfig(method="hierarchy", hierarchy={"intra_weight": 0.1, "level_weight": 0.1, "radius_weight": 1.0,
                                                    "all_levels_contrastive": True})
    loss = HierarchicalDualLoss(cfg, hyperbolic=True)
    torch.manual_seed(0)
    space = LorentzSpace(4, learn_curvature=False)
    text, points = torch.randn(3, 4) * 0.5, torch.randn(3, 4)
    level_text = torch.randn(3, 2, 4) * 0.5
    ids = torch.tensor([[0, 5], [1, -1], [0, 6]])
    level_pos = torch.tensor([[True, False, True], [True, False, False], [False, True, False], [True, False, True],
                              [False, False, True]])  # one row per valid level caption, in row-major order
    terms = loss(text, points, torch.eye(3, dtype=torch.bool), space, level_text=level_text, level_caption_ids=ids,
                 level_positives=level_pos).terms
    assert set(terms) == {"contrastive_loss", "ordering_loss", "intra_entailment_loss", "level_entailment_loss",
                          "radius_order_loss"}
    plain = DualGeometricLoss(LossConfig(), hyperbolic=True)(text, points, torch.eye(3, dtype=torch.bool), space).terms
    assert float(terms["contrastive_loss"]) != float(plain["contrastive_loss"])  # the level rows count
    with pytest.raises(ValueError, match="level_positives"):
        loss(text, points, torch.eye(3, dtype=torch.bool), space)


def test_euclidean_space_rejects_cone_and_radius_weights():
    with pytest.raises(ValueError, match="Euclidean"):
        HierarchicalDualLoss(LossConfig(method="hierarchy", ordering_weight=0.0, hierarchy={"radius_weight": 1.0}), False)
    cfg = LossConfig(method="hierarchy", ordering_weight=0.0, hierarchy={"all_levels_contrastive": True})
    assert HierarchicalDualLoss(cfg, False)
    assert cfg.weights()["radius_order_loss"] == 0.0


def test_hierarchy_section_only_for_its_method():
    with pytest.raises(ValueError, match="loss.hierarchy"):
        LossConfig(method="h2arn", hierarchy={"intra_weight": 1.0})


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 4),
    levels=st.integers(1, 4),
    scale=st.sampled_from([0.0, 1e-6, 0.05, 1.0, 5.0, 12.0]),
    c=st.sampled_from([0.1, 1.0, 10.0]),
    duplicate=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_fuzz_terms_and_gradients_finite(b, levels, scale, c, duplicate, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    text = (torch.randn(b, levels, 5, generator=g, dtype=dtype) * scale).requires_grad_(True)
    points = (torch.randn(b, 5, generator=g, dtype=dtype) * scale)
    if duplicate:  # a caption identical to its shape, and two identical levels
        points = text[:, -1].detach().clone()
        with torch.no_grad():
            text[:, 0] = text[:, -1]
    points.requires_grad_(True)
    valid = torch.rand(b, levels, generator=g) > 0.3
    terms = hierarchy_terms(text, valid, points, torch.tensor(c, dtype=dtype))
    total = sum(terms.values())
    total.backward()
    for name, value in terms.items():
        assert torch.isfinite(value.detach()), name
        assert value.item() >= 0.0, name
    assert torch.isfinite(text.grad).all() and torch.isfinite(points.grad).all()
    assert float(text.grad[~valid].abs().sum()) == 0.0  # ignored levels get no gradient


def test_direction_term_zero_on_the_captions_ray_and_one_minus_cosine_otherwise():
    u = torch.tensor([1.0, 2.0, -0.5])
    chain = _ray([0.3, 0.9, 2.0], u)
    valid = torch.ones(1, 2, dtype=torch.bool)
    assert float(direction_loss(chain[None, :2], valid, chain[None, 2])) == pytest.approx(0.0, abs=1e-6)
    shape = _ray([2.0], torch.tensor([0.0, 0.0, 1.0]))
    cos = float(u[2] / u.norm())
    assert math.isclose(float(direction_loss(chain[None, :2], valid, shape)), 1.0 - cos, rel_tol=1e-5)
    unit = torch.nn.functional.normalize(torch.randn(4, 3), dim=-1)  # a Euclidean twin's unit vectors
    assert math.isclose(float(direction_loss(unit[None, :1], torch.ones(1, 1, dtype=torch.bool), unit[1:2])),
                        1.0 - float(unit[0] @ unit[1]), rel_tol=1e-5)
    assert float(direction_loss(chain[None, :2], torch.zeros(1, 2, dtype=torch.bool), shape)) == 0.0


def test_direction_term_is_allowed_in_a_euclidean_space_and_reported():
    cfg = LossConfig(method="hierarchy", ordering_weight=0.0, hierarchy={"direction_weight": 1.0})
    loss = HierarchicalDualLoss(cfg, False)
    assert cfg.weights()["direction_loss"] == 1.0
    assert loss.hierarchy.direction_weight == 1.0


@settings(max_examples=40, deadline=None)
@given(b=st.integers(1, 4), levels=st.integers(1, 3), scale=st.sampled_from([0.0, 1e-20, 1e-3, 1.0, 12.0]),
       dtype=st.sampled_from([torch.float32, torch.float64]), seed=st.integers(0, 2**16))
def test_fuzz_direction_term_finite_and_in_range(b, levels, scale, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    text = (torch.randn(b, levels, 5, generator=g, dtype=dtype) * scale).requires_grad_(True)
    points = (torch.randn(b, 5, generator=g, dtype=dtype) * scale).requires_grad_(True)
    valid = torch.rand(b, levels, generator=g) > 0.3
    value = direction_loss(text, valid, points)
    value.backward()
    assert torch.isfinite(value.detach()) and -1e-6 <= value.item() <= 2.0 + 1e-6
    assert torch.isfinite(text.grad).all() and torch.isfinite(points.grad).all()
    assert float(text.grad[~valid].abs().sum()) == 0.0
