"""Synthetic point sets on the hyperboloid for index tests and benchmarks.

* :func:`tree_mixture` — the shape hierarchical embeddings take: a random tree whose nodes sit farther from the
  origin the deeper they are, children in directions near their parent's, and points drawn around every node. Each
  point is ``expmap0(mu + s)`` with ``mu`` the node's tangent vector and ``s`` isotropic Gaussian noise: a normal
  in the tangent space at the origin wrapped onto the hyperboloid, which is how models produce their points
  (``expmap0`` of Euclidean features). (A wrapped normal at ``mu`` itself, Nagano et al. 2019, would need parallel
  transport, which :mod:`hyperalign.geometry.lorentz` does not provide.)
* :func:`uniform_ball` — points uniform (by hyperbolic volume) in the ball of radius ``R`` around the origin: no
  structure, and in high dimension nearly all of them at distance ~R, the worst case for any index.

Both return space parts, (n, dim) float32.
"""

from __future__ import annotations

import numpy as np
import torch

from hyperalign.geometry import lorentz


def tree_mixture(
    n: int,
    dim: int = 64,
    c: float = 1.0,
    *,
    branching: int = 8,
    depth: int = 5,
    level_distance: float = 1.0,
    spread: float = 0.8,
    noise: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from a tree-structured mixture; returns (points (n, dim) float32, node depth of each point).

    The tree has ``depth`` levels below the root; every node has 2..``branching`` children. A node at depth ``l`` lies
    at distance ``l * level_distance`` from the origin, in the direction of its parent's perturbed by a random unit
    vector of size ``spread / l``. Nodes are chosen with probability proportional to ``(1 + l)^2`` (there are more
    specific items than general ones), and a point is ``expmap0(mu + noise * g / sqrt(dim))``, ``g ~ N(0, I)``.
    """
    rng = np.random.default_rng(seed)
    centres = [np.zeros(dim)]
    directions: list[np.ndarray | None] = [None]
    depths = [0]
    frontier = [0]
    for level in range(1, depth + 1):
        children = []
        for parent in frontier:
            for _ in range(int(rng.integers(2, branching + 1))):
                u = rng.normal(size=dim)
                u /= np.linalg.norm(u)
                parent_dir = directions[parent]
                if parent_dir is not None:
                    u = parent_dir + (spread / level) * u
                    u /= np.linalg.norm(u)
                directions.append(u)
                centres.append(u * level * level_distance)
                depths.append(level)
                children.append(len(centres) - 1)
        frontier = children
    node_depth = np.asarray(depths)
    weights = (1.0 + node_depth) ** 2
    node = rng.choice(len(centres), size=n, p=weights / weights.sum())
    points = np.empty((n, dim), dtype=np.float32)
    centre_arr = np.asarray(centres)
    for s in range(0, n, 65_536):
        block = node[s : s + 65_536]
        v = centre_arr[block] + rng.normal(size=(len(block), dim)) * (noise / np.sqrt(dim))
        points[s : s + len(block)] = lorentz.expmap0(torch.from_numpy(v), c).numpy()
    return points, node_depth[node]


def uniform_ball(n: int, dim: int = 64, c: float = 1.0, *, radius: float = 5.0, seed: int = 0) -> np.ndarray:
    """``n`` points uniform by hyperbolic volume in the ball of radius ``radius``; (n, dim) float32.

    Directions are uniform; the distance ``r`` from the origin has density proportional to the sphere area,
    ``sinh(sqrt(c) r)^(dim - 1)`` on [0, radius], sampled by inverting its CDF tabulated on a fine grid.
    """
    rng = np.random.default_rng(seed)
    grid = np.linspace(0.0, radius, 20_001)[1:]
    log_density = (dim - 1) * np.log(np.sinh(np.sqrt(c) * grid))
    cdf = np.cumsum(np.exp(log_density - log_density.max()))
    cdf /= cdf[-1]
    r = np.interp(rng.random(n), np.concatenate([[0.0], cdf]), np.concatenate([[0.0], grid]))
    u = rng.normal(size=(n, dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    points = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 65_536):
        points[s : s + 65_536] = lorentz.expmap0(torch.from_numpy(u[s : s + 65_536] * r[s : s + 65_536, None]), c).numpy()
    return points
