"""The kinds of embedding space (``model.space.kind``), named once.

* ``lorentz`` — one Lorentz model with a learnable curvature (H2ARN, MERU, ARGENT);
* ``hetero`` — text and point curvatures compared on an intermediate manifold (alignment across trees);
* ``euclidean`` — unit vectors with cosine similarity (the ablations' Euclidean twin).
"""

from __future__ import annotations

from typing import Literal, get_args

SpaceKind = Literal["lorentz", "hetero", "euclidean"]
SPACE_KINDS: tuple[SpaceKind, ...] = get_args(SpaceKind)
HYPERBOLIC_KINDS: frozenset[SpaceKind] = frozenset({"lorentz", "hetero"})


def is_hyperbolic(kind: SpaceKind | str) -> bool:
    """True for the kinds whose points live on a Lorentz model (entailment cones and curvatures exist there)."""
    if kind not in SPACE_KINDS:
        raise ValueError(f"model.space.kind must be one of {', '.join(map(repr, SPACE_KINDS))} (got {kind!r})")
    return kind in HYPERBOLIC_KINDS
