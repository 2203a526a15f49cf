"""Uniform surface samplers for primitives (box, frustum, sphere zone, torus arc) and area-weighted part mixes.

Each primitive knows its surface area and draws uniform points on its surface from a NumPy Generator, so a shape
made of parts is sampled uniformly by splitting the point budget in proportion to the areas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Vec = tuple[float, float, float]


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors completing the unit ``axis`` to a right-handed orthonormal frame."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box (``size`` = full extents) turned by ``yaw`` radians about the vertical axis z."""

    center: Vec
    size: Vec
    yaw: float = 0.0

    @property
    def area(self) -> float:
        a, b, c = self.size
        return 2.0 * (a * b + b * c + c * a)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        half = np.asarray(self.size) / 2.0
        a, b, c = self.size
        face_area = np.array([b * c, a * c, a * b])  # faces normal to x, y, z
        axis = rng.choice(3, size=n, p=face_area / face_area.sum())
        pts = rng.uniform(-1.0, 1.0, size=(n, 3)) * half
        sign = rng.choice([-1.0, 1.0], size=n)
        pts[np.arange(n), axis] = sign * half[axis]
        cos, sin = math.cos(self.yaw), math.sin(self.yaw)
        rot = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        return pts @ rot.T + np.asarray(self.center)


@dataclass(frozen=True)
class Frustum:
    """Truncated cone from ``p0`` (radius ``r0``) to ``p1`` (radius ``r1``); cylinder if equal, cone if one is 0.

    ``caps`` says which end disks are closed (an open lamp shade has none).
    """

    p0: Vec
    p1: Vec
    r0: float
    r1: float
    caps: tuple[bool, bool] = (True, True)

    def _parts(self) -> np.ndarray:
        length = float(np.linalg.norm(np.subtract(self.p1, self.p0)))
        lateral = math.pi * (self.r0 + self.r1) * math.hypot(length, self.r0 - self.r1)
        return np.array([lateral, math.pi * self.r0**2 * self.caps[0], math.pi * self.r1**2 * self.caps[1]])

    @property
    def area(self) -> float:
        return float(self._parts().sum())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        p0, p1 = np.asarray(self.p0, dtype=float), np.asarray(self.p1, dtype=float)
        axis = p1 - p0
        axis_unit = axis / np.linalg.norm(axis)
        u, v = _frame(axis_unit)
        parts = self._parts()
        which = rng.choice(3, size=n, p=parts / parts.sum())
        phi = rng.uniform(0.0, 2.0 * math.pi, size=n)
        w = rng.uniform(0.0, 1.0, size=n)
        # Lateral surface: the density along the axis grows with the radius, so invert r(t)^2 linearly in w.
        if abs(self.r1 - self.r0) < 1e-12:
            t, radius = w.copy(), np.full(n, self.r0)
        else:
            radius = np.sqrt(self.r0**2 + w * (self.r1**2 - self.r0**2))
            t = (radius - self.r0) / (self.r1 - self.r0)
        for cap, (end, r_end) in enumerate(((0.0, self.r0), (1.0, self.r1)), start=1):
            on_cap = which == cap
            t[on_cap] = end
            radius[on_cap] = r_end * np.sqrt(w[on_cap])  # uniform on the disk
        ring = np.cos(phi)[:, None] * u + np.sin(phi)[:, None] * v
        return p0 + t[:, None] * axis + radius[:, None] * ring


@dataclass(frozen=True)
class Sphere:
    """Zone of a sphere between heights ``z_lo * radius`` and ``z_hi * radius`` (full sphere by default).

    Archimedes: the area of a zone is proportional to its height, so uniform z gives uniform points.
    """

    center: Vec
    radius: float
    z_lo: float = -1.0
    z_hi: float = 1.0

    @property
    def area(self) -> float:
        return 2.0 * math.pi * self.radius**2 * (self.z_hi - self.z_lo)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.uniform(self.z_lo, self.z_hi, size=n)
        phi = rng.uniform(0.0, 2.0 * math.pi, size=n)
        ring = np.sqrt(np.clip(1.0 - z**2, 0.0, None))
        unit = np.stack([ring * np.cos(phi), ring * np.sin(phi), z], axis=1)
        return np.asarray(self.center) + self.radius * unit


@dataclass(frozen=True)
class Torus:
    """Ring of radius ``major`` and tube radius ``minor`` around ``normal``; ``arc`` radians of it from ``start``.

    Angles run from ``ref`` (a unit vector perpendicular to ``normal``) towards ``normal x ref``.
    """

    center: Vec
    major: float
    minor: float
    normal: Vec = (0.0, 0.0, 1.0)
    ref: Vec = (1.0, 0.0, 0.0)
    arc: float = 2.0 * math.pi
    start: float = 0.0

    @property
    def area(self) -> float:
        return 2.0 * math.pi * self.minor * self.major * self.arc

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        normal = np.asarray(self.normal, dtype=float)
        e1 = np.asarray(self.ref, dtype=float)
        e2 = np.cross(normal, e1)
        # Tube angle: area density is proportional to (major + minor cos(psi)); draw it by rejection.
        psi = np.empty(0)
        while len(psi) < n:
            cand = rng.uniform(0.0, 2.0 * math.pi, size=2 * n)
            keep = rng.uniform(0.0, self.major + self.minor, size=2 * n) < self.major + self.minor * np.cos(cand)
            psi = np.concatenate([psi, cand[keep]])
        psi = psi[:n]
        theta = self.start + rng.uniform(0.0, self.arc, size=n)
        radial = np.cos(theta)[:, None] * e1 + np.sin(theta)[:, None] * e2
        dist = self.major + self.minor * np.cos(psi)
        return np.asarray(self.center) + dist[:, None] * radial + (self.minor * np.sin(psi))[:, None] * normal


Primitive = Box | Frustum | Sphere | Torus


def rod(p0: Vec, p1: Vec, radius: float) -> Frustum:
    """A closed cylinder between two points (legs, poles, rails)."""
    return Frustum(p0, p1, radius, radius)


def sample_parts(
    parts: Sequence[Primitive], n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points spread over ``parts`` in proportion to their areas; returns (points (n, 3), part index (n,))."""
    areas = np.array([p.area for p in parts], dtype=float)
    counts = rng.multinomial(n, areas / areas.sum())
    points = [p.sample(rng, int(c)) for p, c in zip(parts, counts)]
    return np.concatenate(points), np.repeat(np.arange(len(parts)), counts)
