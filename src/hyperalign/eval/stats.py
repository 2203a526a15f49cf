"""Comparisons over seeds: mean ± std per model and paired differences with a percentile bootstrap 95 % CI.

Two models trained with the same seeds share each seed's split, initialisation draw and data order, so their
per-seed differences ``d_s = a_s - b_s`` are compared rather than the two means (a paired design). The CI is the
percentile bootstrap of the mean of ``d`` (Efron & Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13):
draw ``n`` differences with replacement ``B`` times, take each draw's mean, report the ``(1 - level) / 2`` and
``(1 + level) / 2`` quantiles. Resampling is seeded, so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap confidence interval; ``n`` values went in."""

    mean: float
    low: float
    high: float
    level: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PairedDifference:
    """``model - reference`` over the seeds both have: per-seed differences, their std and the bootstrap CI."""

    seeds: tuple[int, ...]
    differences: tuple[float, ...]
    std: float
    ci: Interval

    @property
    def mean(self) -> float:
        return self.ci.mean

    def to_dict(self) -> dict[str, object]:
        return {"seeds": list(self.seeds), "differences": list(self.differences), "mean": self.mean, "std": self.std,
                "ci_low": self.ci.low, "ci_high": self.ci.high, "level": self.ci.level, "n": self.ci.n}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof = 1``; 0 for a single value)."""
    x = _as_array(values, "values")
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def bootstrap_mean_ci(values: Sequence[float], *, level: float = 0.95, resamples: int = 10_000, seed: int = 0) -> Interval:
    """Percentile bootstrap CI of the mean of ``values``: quantiles ``(1 -+ level) / 2`` of ``resamples`` means of
    ``n`` values drawn with replacement (numpy Generator seeded by ``seed``)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1; got {resamples}")
    x = _as_array(values, "values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Interval(float(x.mean()), float(low), float(high), level, int(x.size))


def paired_difference(model: Mapping[int, float], reference: Mapping[int, float], *, level: float = 0.95,
                      resamples: int = 10_000, seed: int = 0) -> PairedDifference:  # fmt: skip
    """``model[s] - reference[s]`` over the seeds ``s`` present in both (keyed by seed), with the bootstrap CI of
    their mean; raises ValueError when no seed is shared."""
    seeds = tuple(sorted(set(model) & set(reference)))
    if not seeds:
        raise ValueError(f"no seed in common: model has {sorted(model)}, reference has {sorted(reference)}")
    diffs = [float(model[s]) - float(reference[s]) for s in seeds]
    _, std = mean_std(diffs)
    ci = bootstrap_mean_ci(diffs, level=level, resamples=resamples, seed=seed)
    return PairedDifference(seeds, tuple(diffs), std, ci)


def _as_array(values: Sequence[float], what: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError(f"{what}: need at least one value")
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: non-finite value in {x.tolist()}")
    return x
