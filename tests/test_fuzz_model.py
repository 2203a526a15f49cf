"""Fuzzing the whole model forward + loss + backward + one AdamW step (hypothesis): extreme token-feature norms (up
to 1e4), curvature at its bounds, all-padding-but-one token sequences, duplicate points, single-point clouds,
identical captions in a batch, float32 and float64, bf16 autocast. Nothing may become NaN or Inf: not the loss,
not a gradient, not a parameter after the step."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperalign.losses.config import LossConfig
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.model.h2arn import H2ARN, ModelConfig
from hyperalign.train.loop import weighted_total

TEXT_DIM = 24


def _model(curvature: float, kind: str, aggregation: str, dtype: torch.dtype) -> tuple[H2ARN, DualGeometricLoss]:
    torch.manual_seed(0)
    cfg = ModelConfig.model_validate(
        {
            "dim": 16,
            "points": {"kind": "pointnet2", "in_channels": 6, "num_tokens": 4, "k": 4, "width": 8, "dim": 16},
            "context": {"heads": 2, "layers": 1, "dropout": 0.0},
            "aggregation": {"kind": aggregation},
            "space": {"kind": kind, "curvature_init": curvature},
        }
    )
    model = H2ARN(cfg, TEXT_DIM).to(dtype)
    loss = DualGeometricLoss(LossConfig(ordering_weight=0.2 if kind == "lorentz" else 0.0), model.hyperbolic).to(dtype)
    return model, loss


@st.composite
def batches(draw):
    b = draw(st.integers(1, 5))
    length = draw(st.integers(1, 6))
    n_points = draw(st.sampled_from([1, 2, 7, 32]))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e2, 1e4]))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(b, length, TEXT_DIM, generator=g) * scale
    mask = torch.zeros(b, length, dtype=torch.bool)
    real = [draw(st.integers(1, length)) for _ in range(b)]
    for i, r in enumerate(real):
        mask[i, :r] = True
    points = torch.randn(b, n_points, 6, generator=g) * draw(st.sampled_from([1e-3, 1.0, 1e4]))
    if draw(st.booleans()):
        points[:] = points[:, :1]  # every point of a cloud identical (duplicates)
    if draw(st.booleans()) and b > 1:
        tokens[1:], mask[1:] = tokens[0], mask[0]  # identical captions in the batch
    ids = torch.tensor([draw(st.integers(0, 2)) for _ in range(b)])
    positives = ids.unsqueeze(1) == ids.unsqueeze(0)
    return tokens, mask, points, positives


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    batch=batches(),
    curvature=st.sampled_from([0.1, 1.0, 10.0]),
    kind=st.sampled_from(["lorentz", "euclidean"]),
    aggregation=st.sampled_from(["contribution", "mean"]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    bf16=st.booleans(),
)
def test_forward_backward_step_stay_finite(batch, curvature, kind, aggregation, dtype, bf16):
    tokens, mask, points, positives = batch
    if bf16 and dtype == torch.float64:
        bf16 = False  # autocast targets float32 models
    model, loss_fn = _model(curvature, kind, aggregation, dtype)
    opt = torch.optim.AdamW(list(model.parameters()) + list(loss_fn.parameters()), lr=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        text = model.embed_text_tokens(tokens.to(dtype), mask)
        shapes = model.embed_points(points.to(dtype))
    terms = loss_fn(text, shapes, positives, model.space).terms
    total = weighted_total(terms, loss_fn.cfg.weights())
    assert math.isfinite(total.item()), {k: v.item() for k, v in terms.items()}
    total.backward()
    for name, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), name
    opt.step()
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all(), name


def test_curvature_outside_bounds_is_clamped_not_nan():
    model, loss_fn = _model(1.0, "lorentz", "contribution", torch.float32)
    with torch.no_grad():
        model.space.curvature.log_value.fill_(50.0)
    assert model.space.c().item() == pytest.approx(10.0)
