"""Multi-positive symmetric InfoNCE on a similarity matrix (H2ARN Sec. "Dual geometric loss", Eq. 13; MERU Eq. 9).

Logits are ``-distance / tau``: with Lorentz points the distance is the geodesic one (H2ARN, MERU); with unit vectors
it is ``1 - cos`` (the Euclidean ablations; a constant shift of the logits leaves softmax unchanged, so this is the
usual cosine InfoNCE).

Multi-positive: row ``i`` may have several positives ``P(i)``: every shape its caption describes (a batch holds
several shapes under "a chair", and several captions of one shape). Each direction's loss is
``-log( sum_{j in P(i)} exp(l_ij) / sum_j exp(l_ij) )``, i.e. the probability mass on all positives (the "sum inside
the log" form; with one positive per row it is the standard InfoNCE). The loss is the mean of both directions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _directional(logits: Tensor, positives: Tensor) -> Tensor:
    if not bool(positives.any(dim=1).all()):
        raise ValueError("multi-positive InfoNCE: every row needs at least one positive")
    pos_logits = logits.masked_fill(~positives, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - torch.logsumexp(pos_logits, dim=1)).mean()


def multi_positive_infonce(distance: Tensor, positives: Tensor, temperature: Tensor | float) -> Tensor:
    """Symmetric multi-positive InfoNCE on logits ``-distance / temperature``.

    ``distance``: (B, N) text-to-shape distances; ``positives``: (B, N) bool. Returns the mean of the text->shape
    (rows) and shape->text (columns) losses, a 0-d float32 tensor.
    """
    if distance.shape != positives.shape:
        raise ValueError(f"distance {tuple(distance.shape)} and positives {tuple(positives.shape)} must have one shape")
    logits = -distance.float() / temperature
    return 0.5 * (_directional(logits, positives) + _directional(logits.T, positives.T))

