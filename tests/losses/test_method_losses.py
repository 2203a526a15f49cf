"""Loss values of the related methods on tiny hand-checked cases, and the method configuration."""

import math

import pytest
import torch

from hyperalign.config import ConfigError, load_config
from hyperalign.geometry import lorentz
from hyperalign.losses.argent import ArgentLoss, adaptive_entailment_loss, norm_regulariser, one_minus_exp_distance
from hyperalign.losses.config import LossConfig
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.losses.entailment import cone_violation
from hyperalign.losses.hetero import HeteroLoss, group_mean, point_tree, tree_radius
from hyperalign.losses.pairing import training_positives
from hyperalign.losses.registry import build_loss
from hyperalign.model.embed import HeteroLorentzSpace, LorentzSpace

f64 = torch.float64


def _exterior_angle_acos(x, y, c):
    """MERU Eq. 8 as printed (float64 reference): acos[(y0 + c<x,y> x0) / (||x~|| sqrt((c<x,y>)^2 - 1))]."""
    x0, y0 = lorentz.time_component(x, c), lorentz.time_component(y, c)
    ip = (x * y).sum(-1) - x0 * y0
    return torch.acos((y0 + c * ip * x0) / (x.norm(dim=-1) * torch.sqrt((c * ip) ** 2 - 1)))


# ---------------------------------------------------------------- pairing (MERU, ARGENT, hetero use "paired")


def test_paired_positives_is_identity_and_checks_alignment():
    multi = torch.tensor([[True, True], [False, True]])
    assert torch.equal(training_positives(multi, "multi"), multi)
    assert torch.equal(training_positives(multi, "paired"), torch.eye(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="aligned batch"):
        training_positives(torch.tensor([[False, True], [True, True]]), "paired")
    with pytest.raises(ValueError, match="aligned batch"):
        training_positives(torch.ones(2, 3, dtype=torch.bool), "paired")


def test_meru_loss_is_clip_cross_entropy_plus_diagonal_cones():
    """MERU Eq. 9-10 on a 3-pair batch where captions 0 and 1 are the same text ("a chair") for two chairs."""
    cfg = LossConfig(method="meru", pairing="paired", learn_temperature=True, temperature=0.5, ordering_weight=0.2)
    loss = DualGeometricLoss(cfg, hyperbolic=True)
    space = LorentzSpace(3)
    text = torch.tensor([[0.3, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.4, 0.0]])
    points = torch.tensor([[1.0, 0.1, 0.0], [0.9, -0.2, 0.1], [0.1, 1.2, 0.0]])
    positives = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    terms = loss(text, points, positives, space).terms
    logits = -lorentz.pairwise_dist(text, points, 1.0) / 0.5
    labels = torch.arange(3)
    ce = 0.5 * (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels))
    assert terms["contrastive_loss"].item() == pytest.approx(ce.item(), rel=1e-6)
    cones = [max(0.0, _exterior_angle_acos(text[i].double(), points[i].double(), 1.0).item()
                 - math.asin(0.2 / text[i].norm().item())) for i in range(3)]
    assert terms["ordering_loss"].item() == pytest.approx(sum(cones) / 3, rel=1e-5)
    assert loss.temperature.log_value.requires_grad


# ---------------------------------------------------------------- ARGENT


def test_adaptive_weight_and_loss_by_hand():
    assert one_minus_exp_distance(torch.tensor(0.0)).item() == 0.0
    assert one_minus_exp_distance(torch.tensor(1e-10, dtype=f64)).item() == pytest.approx(1e-10, rel=1e-9)
    parent = torch.tensor([[0.3, 0.0]], dtype=f64)
    child = torch.tensor([[0.5, 0.6]], dtype=f64)
    c = 2.0
    x0, y0 = math.sqrt(1 / c + 0.09), math.sqrt(1 / c + 0.61)
    ip = 0.3 * 0.5 - x0 * y0
    d = math.acosh(-c * ip) / math.sqrt(c)
    ext = math.acos((y0 + c * ip * x0) / (0.3 * math.sqrt((c * ip) ** 2 - 1)))
    expected = (1 - math.exp(-d)) * ext
    assert adaptive_entailment_loss(parent, child, c).item() == pytest.approx(expected, rel=1e-10)
    on_ray = torch.tensor([[0.9, 0.0]], dtype=f64)  # farther out on the parent's ray: ext = 0
    assert adaptive_entailment_loss(parent, on_ray, c).item() == pytest.approx(0.0, abs=1e-12)


def test_adaptive_loss_vanishes_with_finite_gradient_for_identical_pairs():
    x = torch.tensor([[0.4, -0.1, 0.2]], requires_grad=True)
    value = adaptive_entailment_loss(x, x.detach().clone(), 1.0)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-3) and torch.isfinite(x.grad).all()


def test_norm_regulariser_by_hand():
    parents = torch.tensor([[0.1, 0.0], [0.0, 0.3]])
    # c = 1: 2K/sqrt(c) = 0.2 -> relu(0.2 - 0.1) = 0.1 and 0; c = 4: 0.1 -> both 0
    assert norm_regulariser(parents, 1.0, K=0.1).item() == pytest.approx(0.05, rel=1e-6)
    assert norm_regulariser(parents, 4.0, K=0.1).item() == pytest.approx(0.0, abs=1e-7)


def test_argent_terms():
    cfg = LossConfig(method="argent", pairing="paired")
    loss = ArgentLoss(cfg)
    space = LorentzSpace(2)
    text = torch.tensor([[0.1, 0.0], [0.0, 0.5]])
    points = torch.tensor([[0.8, 0.3], [0.2, 1.0]])
    terms = loss(text, points, torch.eye(2, dtype=torch.bool), space).terms
    assert set(terms) == {"contrastive_loss", "adaptive_entailment_loss", "norm_loss"}
    assert terms["adaptive_entailment_loss"].item() == pytest.approx(adaptive_entailment_loss(text, points, 1.0).item())
    assert terms["norm_loss"].item() == pytest.approx(0.05, rel=1e-6)  # relu(0.2 - 0.1) / 2


# ---------------------------------------------------------------- heterogeneous curvatures


def test_group_mean_and_point_tree_by_hand():
    v = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    means, sizes = group_mean(v, torch.tensor([7, 7, 9, -1]))
    torch.testing.assert_close(means, torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [0.0, 0.0]]))
    assert sizes.tolist() == [2, 2, 1, 0]
    nodes, mask, sizes = point_tree(v, torch.tensor([[0, 3, -1], [0, 3, -1], [0, 4, -1], [1, -1, -1]]))
    assert nodes.shape == (4, 3, 2) and mask.tolist() == [[True] * 3] * 3 + [[True, False, True]]
    torch.testing.assert_close(nodes[0, 0], torch.tensor([4.0 / 3.0, 2.0 / 3.0]))  # category 0: rows 0-2
    torch.testing.assert_close(nodes[2, 1], v[2])  # a sub-type with one member: the shape itself
    torch.testing.assert_close(nodes[:, 2], v)
    assert sizes[:, 0].tolist() == [3, 3, 3, 1] and sizes[:, 1].tolist() == [2, 2, 1, 0]
    assert tree_radius(nodes, mask).item() == pytest.approx(torch.cat([nodes[mask]]).mean(0).norm().item())


def _hetero_batch():
    """Two chairs of one sub-type and a table; levels (category, sub-type, instance)."""
    space = HeteroLorentzSpace(2)
    chart = space.c()
    v_levels = torch.tensor([
        [[0.1, 0.0], [0.5, 0.05], [1.0, 0.1]],
        [[0.1, 0.0], [0.5, 0.05], [1.0, -0.1]],
        [[0.0, 0.1], [0.0, 0.6], [0.0, 0.0]],
    ])
    level_caption_ids = torch.tensor([[0, 1, 2], [0, 1, 3], [4, 5, -1]])
    level_node_ids = torch.tensor([[0, 1, -1], [0, 1, -1], [2, 3, -1]])
    v_points = torch.tensor([[1.5, 0.1], [1.5, -0.1], [0.1, 1.4]])
    level_text = lorentz.expmap0(v_levels, chart)
    return space, level_text, level_caption_ids, level_node_ids, lorentz.expmap0(v_levels[:, 2], chart), lorentz.expmap0(v_points, chart)


def test_hetero_terms_by_hand():
    cfg = LossConfig(method="hetero", pairing="paired", temperature=0.1)
    loss = HeteroLoss(cfg)
    space, level_text, cap_ids, node_ids, text, points = _hetero_batch()
    space.train()
    out = loss(text, points, torch.eye(3, dtype=torch.bool), space,
               level_text=level_text, level_caption_ids=cap_ids, level_node_ids=node_ids)
    terms, c3 = out.terms, out.chart_curvature  # the loss hands back this batch's intermediate curvature
    assert space.c().item() == 1.0  # and leaves the chart alone
    c_t, c_p = (space.modality_c(m).detach() for m in ("text", "points"))
    v_lv = lorentz.logmap0(level_text, 1.0)
    v_pt = lorentz.logmap0(points, 1.0)
    # text tree: (cat -> sub), (sub -> inst) for rows 0, 1; (cat -> sub) for row 2 (no instance caption)
    tt = lorentz.expmap0(v_lv, c_t)
    text_pairs = [cone_violation(tt[i, lv], tt[i, lv + 1], c_t) for i, lv in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]]
    # point tree: category 0 (rows 0, 1) = sub-type 1, so no (cat -> sub) pair; (sub -> shape) rows 0, 1;
    # the table is alone in its category and sub-type: no pairs
    sub_mean = v_pt[:2].mean(0)
    pt = lorentz.expmap0(torch.stack([sub_mean, v_pt[0], v_pt[1]]), c_p)
    point_pairs = [cone_violation(pt[0], pt[1], c_p), cone_violation(pt[0], pt[2], c_p)]
    expected_intra = torch.stack(text_pairs + point_pairs).mean()
    assert terms["intra_entailment_loss"].item() == pytest.approx(expected_intra.item(), rel=1e-5)
    # cross: text level l entails point level l on c3, wherever both exist
    p_nodes = [[sub_mean, sub_mean, v_pt[0]], [sub_mean, sub_mean, v_pt[1]], [v_pt[2], v_pt[2], v_pt[2]]]
    cross = [cone_violation(lorentz.expmap0(v_lv[i, lv], c3), lorentz.expmap0(p_nodes[i][lv], c3), c3)
             for i in range(3) for lv in range(3) if cap_ids[i, lv] >= 0]
    assert terms["cross_entailment_loss"].item() == pytest.approx(torch.stack(cross).mean().item(), rel=1e-5)
    d = lorentz.pairwise_dist(lorentz.expmap0(v_lv[:, 2], c3), lorentz.expmap0(v_pt, c3), c3)
    ce = torch.nn.functional.cross_entropy(-d / 0.1, torch.arange(3))
    ce_t = torch.nn.functional.cross_entropy(-d.T / 0.1, torch.arange(3))
    assert terms["contrastive_loss"].item() == pytest.approx(0.5 * (ce + ce_t).item(), rel=1e-5)


def test_hetero_gradients_reach_both_curvatures_and_the_loss_never_writes_the_chart():
    loss = HeteroLoss(LossConfig(method="hetero", pairing="paired"))
    space, level_text, cap_ids, node_ids, text, points = _hetero_batch()
    before = space.c().clone()
    for mode in (space.eval, space.train):
        mode()
        out = loss(text, points, torch.eye(3, dtype=torch.bool), space,
                   level_text=level_text, level_caption_ids=cap_ids, level_node_ids=node_ids)
        assert torch.equal(space.c(), before)
        assert out.chart_curvature is not None and not out.chart_curvature.requires_grad
    terms = out.terms
    sum(terms.values()).backward()
    for m in ("text", "points"):
        g = space.curvatures[m].log_value.grad
        assert g is not None and torch.isfinite(g) and g.item() != 0.0
    with pytest.raises(ValueError, match="level inputs disagree"):
        loss(text, points, torch.eye(3, dtype=torch.bool), space,
             level_text=level_text[:, :2], level_caption_ids=cap_ids, level_node_ids=node_ids)


def test_hetero_space_pairwise_distance_is_symmetric_and_saved():
    space = HeteroLorentzSpace(4, curvature_init=2.0, curvature_bounds=(0.2, 20.0))
    torch.manual_seed(0)
    t, p = space(torch.randn(3, 4), "text"), space(torch.randn(5, 4), "points")
    torch.testing.assert_close(space.pairwise_distance(t, p), space.pairwise_distance(p, t).T)
    space.train()
    c3 = space.intermediate(torch.tensor(1.0), torch.tensor(2.0))
    assert space.c().item() == 2.0  # computing c3* does not move the chart
    space.set_chart_curvature(c3)
    state = space.state_dict()
    assert state["chart_curvature"].item() == pytest.approx(c3.item())
    fresh = HeteroLorentzSpace(4, curvature_init=2.0, curvature_bounds=(0.2, 20.0))
    fresh.load_state_dict(state)
    assert fresh.c().item() == pytest.approx(c3.item())


# ---------------------------------------------------------------- configuration


def test_weights_per_method():
    assert LossConfig().weights() == {"contrastive_loss": 1.0, "ordering_loss": 0.2}
    assert LossConfig(method="argent").weights() == {
        "contrastive_loss": 1.0, "adaptive_entailment_loss": 0.2, "norm_loss": 0.2}
    assert LossConfig(method="hetero").weights() == {
        "contrastive_loss": 1.0, "intra_entailment_loss": 0.5, "cross_entailment_loss": 0.5}


@pytest.mark.parametrize(
    "override, message",
    [
        ("loss.method=clip", "loss.method"),
        ("loss.argent.norm_weight=0.5", "loss.argent is set but only read when loss.method is 'argent'"),
        ("loss.hetero.intra_weight=oops", "loss.hetero.intra_weight"),
        ("loss.hetero.unknown=1", "loss.hetero.unknown"),
        ("loss.pairing=single", "loss.pairing"),
    ],
)
def test_bad_method_settings_are_clear_errors(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config("h2arn-cpu", [override])


@pytest.mark.parametrize("method, space", [("argent", "euclidean"), ("hetero", "lorentz"), ("h2arn", "hetero")])
def test_method_space_mismatch(method, space):
    with pytest.raises(ValueError, match="loss.method .* needs model.space.kind"):
        build_loss(LossConfig(method=method, ordering_weight=0.0), space)
