"""Pulmonary vessel trees for the chest phantom, grown by space colonisation.

Attraction points scattered through one lung pull the tree from its hilum (Runions et al.,
"Modeling trees with a space colonization algorithm", 2007): each point pulls its nearest
node, a node steps towards the mean direction of its points, points are consumed when a
node comes close. The tree ends up filling the whole lung, apex and costophrenic angles
included, with branches that split where their territories split. Calibres then follow the
pipe model from the leaves (r^k = sum of the children's r^k), so vessels taper towards the
periphery like real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medview.imaging._phantom_anatomy import Anatomy

#: Tells which LPS points (n, 3) a vessel may occupy.
Space = Callable[[np.ndarray], np.ndarray]


@dataclass
class VesselTree:
    """Nodes (n, 3) in LPS mm, each node's parent (-1 for roots) and radius (mm)."""

    nodes: np.ndarray
    parent: np.ndarray
    radius: np.ndarray

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(child, parent) node indices of every edge."""
        child = np.flatnonzero(self.parent >= 0)
        return child, self.parent[child]


def lung_points(
    an: Anatomy, space: Space, rng: np.random.Generator, n: int, side: float
) -> np.ndarray:
    """``n`` points uniformly distributed in ``space`` in one lung (side -1 right, +1 left)."""
    lo = np.array([0.0 if side > 0 else -an.cav_a, -an.cav_b_ant, an.dome_left[2] - 70.0])
    hi = np.array([an.cav_a if side > 0 else 0.0, an.cav_b_post, an.apex_z])
    found: list[np.ndarray] = []
    total = 0
    for _ in range(100):
        pts = rng.uniform(lo, hi, size=(4 * n, 3))
        pts = pts[space(pts)]
        found.append(pts)
        total += len(pts)
        if total >= n:
            return np.concatenate(found)[:n]
    raise RuntimeError("phantom lung too small to seed its vessel tree")


def _sq_distances(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Squared distances (n, m), by elementwise operations only.

    Not the faster |p|^2 + |o|^2 - 2 p.o: a BLAS product rounds differently from one CPU to
    another, and a flipped nearest-node tie would grow a different tree from the same seed.
    """
    d2 = np.square(points[:, None, 0] - others[None, :, 0])
    d2 += np.square(points[:, None, 1] - others[None, :, 1])
    d2 += np.square(points[:, None, 2] - others[None, :, 2])
    return d2


def colonize(
    space: Space,
    attractors: np.ndarray,
    roots: np.ndarray,
    step: float = 4.0,
    kill: float = 7.0,
    max_iterations: int = 150,
) -> tuple[np.ndarray, np.ndarray]:
    """Grow nodes from ``roots`` towards ``attractors``; returns (nodes, parent)."""
    roots = np.asarray(roots, dtype=np.float64).reshape(-1, 3)
    capacity = len(roots) + len(attractors) * 2 + 64
    nodes = np.empty((capacity, 3))
    parent = np.full(capacity, -1, dtype=np.int64)
    # Where each node's latest child went, to refuse a second identical step.
    last_child = np.full((capacity, 3), np.inf)
    count = len(roots)
    nodes[:count] = roots
    attr = np.asarray(attractors, dtype=np.float64)
    # Nearest node of each attractor, kept up to date incrementally (only new nodes change it).
    d2 = _sq_distances(attr, roots)
    nearest = np.argmin(d2, axis=1)
    near_d2 = d2[np.arange(len(attr)), nearest]
    strikes = np.zeros(len(attr), dtype=np.int32)
    for _ in range(max_iterations):
        if not len(attr):
            break
        pull = attr - nodes[nearest]
        pull /= np.sqrt(np.maximum(near_d2, 1e-18))[:, None]
        growing, inverse = np.unique(nearest, return_inverse=True)
        direction = np.zeros((len(growing), 3))
        np.add.at(direction, inverse, pull)
        norm = np.linalg.norm(direction, axis=1)
        ok = norm > 0.3  # points on opposite sides cancel: wait until one side is consumed
        growing, direction = growing[ok], direction[ok] / norm[ok, None]
        new = nodes[growing] + step * direction
        inside = space(new)
        # The same node stepping the same way again would only stack duplicate nodes.
        repeat = np.square(new - last_child[growing]).sum(1) < (0.3 * step) ** 2
        inside &= ~repeat
        # A step out of the lung (round the heart, across a fissure-like notch) is refused;
        # the attractors that asked for it lose patience and are dropped after a few tries.
        refused = np.isin(nearest, growing[~inside])
        strikes[refused] += 1
        new, grew = new[inside], growing[inside]
        if count + len(new) > len(nodes):
            extra = len(nodes) + len(new)
            nodes = np.concatenate([nodes, np.empty((extra, 3))])
            parent = np.concatenate([parent, np.full(extra, -1, dtype=np.int64)])
            last_child = np.concatenate([last_child, np.full((extra, 3), np.inf)])
        last_child[grew] = new
        nodes[count : count + len(new)] = new
        parent[count : count + len(new)] = grew
        first, count = count, count + len(new)
        keep = strikes < 4
        if len(new):
            d2 = _sq_distances(attr, new)
            best = np.argmin(d2, axis=1)
            best_d2 = d2[np.arange(len(attr)), best]
            closer = best_d2 < near_d2
            nearest = np.where(closer, first + best, nearest)
            near_d2 = np.where(closer, best_d2, near_d2)
            keep &= near_d2 > kill * kill
        elif not refused.any():
            break
        attr, nearest, near_d2, strikes = attr[keep], nearest[keep], near_d2[keep], strikes[keep]
    return nodes[:count].copy(), parent[:count].copy()


def pipe_radii(parent: np.ndarray, leaf_radius: float, exponent: float = 2.2) -> np.ndarray:
    """Radius of every node from the pipe model: leaves ``leaf_radius``, sums up the tree.

    Nodes are created after their parents, so one reverse sweep accumulates children first.
    """
    flow = np.zeros(len(parent))
    has_child = np.zeros(len(parent), dtype=bool)
    has_child[parent[parent >= 0]] = True
    flow[~has_child] = leaf_radius**exponent
    for node in range(len(parent) - 1, 0, -1):
        p = parent[node]
        if p >= 0:
            flow[p] += flow[node]
    return flow ** (1.0 / exponent)


def simplify(nodes: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop every other node of unbranched runs (half the segments, same shape)."""
    children = np.bincount(parent[parent >= 0], minlength=len(parent))
    new_parent = parent.copy()
    removed = np.zeros(len(parent), dtype=bool)
    for node in range(len(parent)):
        p = new_parent[node]
        if p >= 0 and removed[p]:
            p = new_parent[node] = new_parent[p]
        if p >= 0 and children[node] == 1 and not removed[p]:
            removed[node] = True
    keep = np.flatnonzero(~removed)
    index = np.full(len(parent), -1)
    index[keep] = np.arange(len(keep))
    mapped = new_parent[keep]
    return nodes[keep], np.where(mapped >= 0, index[np.maximum(mapped, 0)], -1)


def grow_vessel_tree(
    an: Anatomy,
    space: Space,
    rng: np.random.Generator,
    roots: list[np.ndarray],
    side: float,
    n_attractors: int,
    leaf_radius: float,
) -> VesselTree:
    """One vessel system of one lung (e.g. right pulmonary arteries) from its hilar roots."""
    attractors = lung_points(an, space, rng, n_attractors, side)
    nodes, parent = simplify(*colonize(space, attractors, np.asarray(roots)))
    return VesselTree(nodes, parent, pipe_radii(parent, leaf_radius))


def node_directions(tree: VesselTree) -> np.ndarray:
    """Unit direction of the edge entering each node (roots: towards their first child)."""
    child, par = tree.edges()
    d = np.zeros_like(tree.nodes)
    d[child] = tree.nodes[child] - tree.nodes[par]
    roots = np.flatnonzero(tree.parent < 0)
    for r in roots:
        kids = child[par == r]
        if len(kids):
            d[r] = tree.nodes[kids[0]] - tree.nodes[r]
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    return d / np.maximum(norm, 1e-9)
