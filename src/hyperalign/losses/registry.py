"""The training objectives, each declared in one place: a :class:`Method` entry of :data:`METHODS`.

A method names its loss module (built from the config and the space kind), the weight of each named term it
returns, the space kinds it can run in, its settings section (``loss.<name>``, a pydantic class) and the extra batch
inputs the training loop must embed for it (:data:`BatchInput`). The loop, the config and :func:`build_loss` ask the
method; nothing else switches on method names. Adding an objective: its module (a subclass of
:class:`~hyperalign.losses.base.Objective`), one entry below (or :func:`register`) and a preset.

* ``h2arn`` — H2ARN's dual geometric loss (:mod:`.dual`); ``meru`` — the same terms on MERU's settings (preset);
* ``argent`` — ARGENT's adaptive entailment loss and norm regulariser (:mod:`.argent`);
* ``hetero`` — alignment across trees on heterogeneous manifolds (:mod:`.hetero`), needs the caption levels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from hyperalign.losses.argent import ArgentLoss, ArgentLossConfig, argent_weights
from hyperalign.losses.base import Objective
from hyperalign.losses.dual import DualGeometricLoss
from hyperalign.losses.hetero import HeteroLoss, HeteroLossConfig, hetero_weights
from hyperalign.model.space_kind import SPACE_KINDS, SpaceKind, is_hyperbolic

if TYPE_CHECKING:
    from hyperalign.losses.config import LossConfig

BatchInput = Literal["levels"]
"""Extra inputs an objective may ask the loop for. ``levels``: keyword arguments ``level_text`` (B, L, n) (one
embedded caption per tree level, zero rows where an item has none), ``level_caption_ids`` (B, L) and
``level_node_ids`` (B, L) (:class:`~hyperalign.data.pairs.PairDataset`)."""


@dataclass(frozen=True)
class Method:
    """One training objective: how to build it and what it needs."""

    name: str
    build: Callable[[LossConfig, SpaceKind], Objective]
    weights: Callable[[LossConfig], dict[str, float]]
    spaces: tuple[SpaceKind, ...] = SPACE_KINDS
    section: type[BaseModel] | None = None
    batch_inputs: frozenset[BatchInput] = frozenset()


def _dual_weights(cfg: LossConfig) -> dict[str, float]:
    return {"contrastive_loss": cfg.contrastive_weight, "ordering_loss": cfg.ordering_weight}


def _dual(cfg: LossConfig, kind: SpaceKind) -> Objective:
    return DualGeometricLoss(cfg, is_hyperbolic(kind))


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("h2arn", _dual, _dual_weights, spaces=("lorentz", "euclidean")),
        Method("meru", _dual, _dual_weights, spaces=("lorentz", "euclidean")),
        Method("argent", lambda cfg, kind: ArgentLoss(cfg), argent_weights, spaces=("lorentz",), section=ArgentLossConfig),
        Method(
            "hetero", lambda cfg, kind: HeteroLoss(cfg), hetero_weights, spaces=("hetero",), section=HeteroLossConfig,
            batch_inputs=frozenset({"levels"}),
        ),
    )
}


def register(method: Method) -> None:
    """Add an objective under ``method.name`` (an error if the name is taken)."""
    if method.name in METHODS:
        raise ValueError(f"loss method {method.name!r} is already registered")
    METHODS[method.name] = method


def unregister(name: str) -> None:
    """Remove a registered objective (configs naming it no longer validate)."""
    METHODS.pop(name)


def get_method(name: str) -> Method:
    """The registered method ``name``; ``ValueError`` listing the registered ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"loss.method {name!r} is not a registered method ({', '.join(sorted(METHODS))})") from None


def sections() -> dict[str, type[BaseModel]]:
    """Settings section class of each method that has one, by method name (``loss.<name>``)."""
    return {name: m.section for name, m in METHODS.items() if m.section is not None}


def check_method_space(cfg: LossConfig, space_kind: SpaceKind | str) -> None:
    """Raise ``ValueError`` naming the fields when ``cfg`` cannot run in ``model.space.kind``: the method does not
    allow the kind, or an ordering (cone) weight is set in a space without cones."""
    method = get_method(cfg.method)
    if space_kind not in method.spaces:
        raise ValueError(
            f"loss.method {cfg.method!r} needs model.space.kind {' or '.join(map(repr, method.spaces))} (got {space_kind!r})"
        )
    if not is_hyperbolic(space_kind) and cfg.ordering_weight > 0:
        raise ValueError(
            f"loss.ordering_weight must be 0 when model.space.kind is {space_kind!r} (cones are hyperbolic)"
        )


def build_loss(cfg: LossConfig, space_kind: SpaceKind) -> Objective:
    """The objective of ``cfg.method`` for an embedding space of kind ``space_kind`` (``model.space.kind``)."""
    check_method_space(cfg, space_kind)
    return get_method(cfg.method).build(cfg, space_kind)
