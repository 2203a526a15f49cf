"""The space an index searches: its stored, query and database forms and its exact distances, for every backend.

Lorentz (curvature ``-c``, ``c > 0``): points are space parts ``x~`` (time ``x_0`` derived). With
:func:`lorentz.mips_query` ``q -> [q_0, q~]`` and :func:`lorentz.mips_database` ``y -> [-y_0, y~]`` the inner product
is ``<q, y>_L``, and ``d = acosh(-c <q, y>_L) / sqrt(c)`` decreases with it, so any inner-product search over
database forms ranks by Lorentz distance. Cosine (Euclidean models, curvature ``None``): unit vectors, the inner
product is the cosine and the distance ``1 - cos``, as in :class:`hyperalign.model.embed.EuclideanSpace`.

A backend proposes candidates by float32 inner product; :meth:`SpaceCodec.rerank` recomputes their distances exactly
(:func:`lorentz.dist`, accurate where a float32 inner product is not: nearby points, far points on one ray) and sorts
them, ties broken by id. Results have fixed shapes, as FAISS's: distances (Q, k) float32 ascending, ids (Q, k) int64,
``inf`` / ``-1`` where fewer than ``k`` candidates exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import torch

from hyperalign.geometry import lorentz
from hyperalign.index.files import IndexFileError, nearest_candidates

Space = Literal["lorentz", "cosine"]
_GRAIN = 32_768  # elements per re-rank op: below torch's parallel grain, so shared cores are not waited for


def as_points(x: Any, dim: int, what: str) -> torch.Tensor:
    """``x`` (list, NumPy or torch; real numbers, shape (N, dim)) as a float64 CPU tensor; refuses anything else."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{what}: expected real numbers, got an array of dtype {arr.dtype}")
        t = torch.from_numpy(np.array(arr, copy=not arr.flags.writeable, order="C"))
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{what}: expected real numbers, got dtype {t.dtype}")
    if t.ndim != 2 or t.shape[1] != dim:
        raise ValueError(f"{what}: expected shape (N, {dim}), got {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{what}: contains NaN or infinite values")
    return t


def as_ids(ids: Any, n: int) -> np.ndarray:
    """``n`` distinct int64 ids >= 0 (``-1`` marks a missing result); refuses anything else."""
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"ids: expected integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"ids: expected shape ({n},) to match the points, got {arr.shape}")
    if n and int(arr.min()) < 0:
        raise ValueError("ids: must be >= 0 (-1 marks a missing result)")
    arr = arr.astype(np.int64)
    if len(np.unique(arr)) != n:
        raise ValueError("ids: contains duplicates")
    return arr


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True)


def _float32(v: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(v.numpy(), dtype=np.float32)


class SpaceCodec:
    """Forms and exact distances of one space: ``dim`` space components, curvature ``c > 0`` (Lorentz) or ``None``
    (cosine). Backends store :meth:`database_form`, search with :meth:`query_form`, and hand candidates back to
    :meth:`rerank`; nothing about the space lives in a backend."""

    def __init__(self, dim: int, curvature: float | None) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1; got {dim}")
        if curvature is not None and not (math.isfinite(curvature) and curvature > 0):
            raise ValueError(f"curvature must be finite and > 0 (the space has curvature -c), or None; got {curvature}")
        self.dim = dim
        self.curvature = None if curvature is None else float(curvature)

    @property
    def space(self) -> Space:
        return "cosine" if self.curvature is None else "lorentz"

    @property
    def width(self) -> int:
        """Width of query and database forms: ``dim + 1`` (time first) in a Lorentz space, ``dim`` for cosine."""
        return self.dim + 1 if self.curvature is not None else self.dim

    def __repr__(self) -> str:
        return f"SpaceCodec({'cosine' if self.curvature is None else f'c={self.curvature:g}'}, dim={self.dim})"

    # ------------------------------------------------------------------ forms
    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x / ||x||``; the zero vector has no direction and is refused."""
        if bool((x.norm(dim=-1) == 0).any()):
            raise ValueError("a cosine-space index cannot hold or query the zero vector")
        return _unit(x)

    def points(self, x: Any, what: str) -> torch.Tensor:
        """Checked input (N, dim) as stored and compared exactly: space parts as given, or unit vectors (float64)."""
        t = as_points(x, self.dim, what)
        return t if self.curvature is not None else self.normalise(t)

    def compared(self, x: torch.Tensor) -> torch.Tensor:
        """What :meth:`points` makes of model points (N, dim), unchecked (traceable): float64 space parts, or unit
        vectors."""
        x = x.double()
        return x if self.curvature is not None else _unit(x)

    def search_form(self, x: torch.Tensor) -> torch.Tensor:
        """(N, width) in ``x``'s dtype: ``mips_query`` (Lorentz) or the unit vectors themselves."""
        return lorentz.mips_query(x, self.curvature) if self.curvature is not None else x

    def query_form(self, x: torch.Tensor) -> np.ndarray:
        """(N, width) float32: :meth:`search_form`."""
        return _float32(self.search_form(x))

    def database_form(self, x: torch.Tensor) -> np.ndarray:
        """(N, width) float32: ``mips_database`` (Lorentz) or the unit vectors."""
        return _float32(lorentz.mips_database(x, self.curvature) if self.curvature is not None else x)

    def from_database_form(self, forms: np.ndarray) -> np.ndarray:
        """Stored points (N, dim) float32 back from database forms: the space part ``y~`` follows the time column."""
        forms = np.asarray(forms, dtype=np.float32).reshape(-1, self.width)
        return np.ascontiguousarray(forms[:, 1:] if self.curvature is not None else forms)

    def tangent(self, x: torch.Tensor) -> np.ndarray:
        """Graph / clustering coordinates (N, dim) float32: ``logmap0`` (Lorentz), or the unit vectors themselves."""
        return _float32(lorentz.logmap0(x, self.curvature) if self.curvature is not None else x)

    def from_tangent(self, v: torch.Tensor) -> torch.Tensor:
        """Tangent coordinates back to stored points: ``expmap0`` (Lorentz), or normalised (cosine)."""
        return lorentz.expmap0(v, self.curvature) if self.curvature is not None else self.normalise(v)

    # ------------------------------------------------------------------ exact distances
    def exact(self, q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Exact distances, broadcasting (..., dim) against (..., dim): :func:`lorentz.dist`, or ``1 - q . y``."""
        if self.curvature is not None:
            return lorentz.dist(q, y, self.curvature)
        return 1.0 - (q * y).sum(dim=-1)

    def rerank(
        self, queries: torch.Tensor, candidates: np.ndarray, points_of: Callable[[np.ndarray], np.ndarray], k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest of each query's candidate ids (Q, k'; ``-1`` = none), by exact distance, ties by id.

        ``points_of(ids)`` gives the stored points (len(ids), dim) float32 of existing ids. Distances are computed in
        float32 like the stored points (:func:`lorentz.dist` is accurate to a few ulps there, near and far alike),
        in slices of a few thousand elements: many small element-wise ops that only wait for a second core when
        split across threads on a busy machine.
        """
        n_q, width = candidates.shape
        if n_q == 0 or width == 0:
            return nearest_candidates(np.empty((n_q, width), np.float32), candidates, k)
        found = candidates >= 0
        d = np.full(candidates.shape, np.inf, dtype=np.float32)
        q32 = queries.float()
        step = max(1, _GRAIN // (width * self.dim))
        for s in range(0, n_q, step):
            block, ok = candidates[s : s + step], found[s : s + step]
            cand = np.zeros((*block.shape, self.dim), dtype=np.float32)
            cand[ok] = points_of(block[ok])
            d[s : s + step] = self.exact(q32[s : s + step].unsqueeze(1), torch.from_numpy(cand)).numpy()
        return nearest_candidates(d, candidates, k)

    # ------------------------------------------------------------------ persistence
    def describe(self) -> dict[str, Any]:
        """What an index records about its space: ``space``, ``curvature``, ``dim``."""
        return {"space": self.space, "curvature": self.curvature, "dim": self.dim}

    def check(self, saved: Mapping[str, Any], where: str) -> None:
        """Refuse an index recorded (:meth:`describe`) for another space, curvature or width: :class:`IndexFileError`
        naming ``where`` and the field."""
        saved_c = saved.get("curvature")
        if (saved_c is None) != (self.curvature is None):
            raise IndexFileError(
                f"{where}: space: the index holds a {saved.get('space')} space, but the model's is "
                f"{'cosine (Euclidean)' if self.curvature is None else f'Lorentz with c={self.curvature:g}'}; "
                "rebuild the index"
            )
        if self.curvature is not None and not math.isclose(saved_c or 0.0, self.curvature, rel_tol=1e-6):
            raise IndexFileError(
                f"{where}: curvature: the index was built for c={saved_c!r}, but the model has c={self.curvature!r}; "
                "distances would be wrong, rebuild the index for this model"
            )
        if saved.get("dim") != self.dim:
            raise IndexFileError(f"{where}: dim: the index holds {saved.get('dim')}-d points, the model gives {self.dim}-d")
