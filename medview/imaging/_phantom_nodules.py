"""Lung nodules for the chest phantom: placement in the lungs and their ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.imaging._phantom_anatomy import Anatomy, in_lung
from medview.imaging._phantom_segments import Segments, segment_clearance
from medview.imaging._phantom_tubes import outside_chest_wall

KINDS = ("solid", "part-solid", "ground-glass", "juxtapleural")

#: How far the centre of a juxtapleural nodule sits inside the pleura, as a fraction of r.
JUXTA_DEPTH = 0.75


@dataclass(frozen=True)
class NodulePlan:
    """One nodule to draw: a sphere (optionally with a solid core) and its measured truth."""

    kind: str
    center: np.ndarray  # sphere centre, LPS mm
    radius: float
    hu: float
    core_radius: float | None
    core_hu: float
    volume_mm3: float
    centroid: np.ndarray  # centroid of what is drawn (differs for juxtapleural)


def _sphere_directions(n: int = 64) -> np.ndarray:
    """Evenly spread unit vectors (Fibonacci sphere), to probe a sphere's surface."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)


_DIRECTIONS = _sphere_directions()


def clearance(center: np.ndarray, segs: Segments) -> float:
    """Smallest distance from ``center`` to the surface of any capsule (negative inside)."""
    return float(segment_clearance(center, segs)[0])


def _draw_kind(rng: np.random.Generator, kind: str) -> tuple[float, float, float | None, float]:
    """(diameter, hu, core diameter or None, core hu) for a nodule of ``kind``."""
    if kind == "solid":
        return rng.uniform(4.0, 25.0), rng.uniform(30.0, 60.0), None, 0.0
    if kind == "ground-glass":
        return rng.uniform(6.0, 20.0), rng.uniform(-650.0, -550.0), None, 0.0
    if kind == "part-solid":
        diameter = rng.uniform(10.0, 25.0)
        core = max(3.0, diameter * rng.uniform(0.3, 0.6))
        return diameter, rng.uniform(-650.0, -560.0), core, rng.uniform(20.0, 50.0)
    return rng.uniform(5.0, 15.0), rng.uniform(30.0, 60.0), None, 0.0


def _visible_volume(an: Anatomy, center: np.ndarray, radius: float) -> tuple[float, np.ndarray]:
    """Volume and centroid of sphere ∩ lung, by sampling a fine regular grid in mm."""
    step = radius / 24.0
    offsets = (np.arange(-24, 25) * step).astype(np.float64)
    gx, gy, gz = np.meshgrid(offsets, offsets, offsets, indexing="ij")
    inside = gx**2 + gy**2 + gz**2 <= radius * radius
    pts = np.stack([gx[inside], gy[inside], gz[inside]], 1) + center[None]
    keep = in_lung(an, pts)
    return float(keep.sum() * step**3), pts[keep].mean(axis=0)


def _candidates(an: Anatomy, rng: np.random.Generator, n: int) -> np.ndarray:
    lo = np.array([-an.cav_a, -an.cav_b_ant, an.dome_left[2] - 40.0])
    hi = np.array([an.cav_a, an.cav_b_post, an.apex_z - 15.0])
    pts = rng.uniform(lo, hi, size=(n, 3))
    return pts[in_lung(an, pts)]


def _free(center, radius, obstacles: Segments, placed: list[NodulePlan]) -> bool:
    if clearance(center, obstacles) < radius + 1.5:
        return False
    return all(np.linalg.norm(center - p.center) >= radius + p.radius + 6.0 for p in placed)


def _place_inside(an, rng, radius, obstacles, placed) -> np.ndarray | None:
    for _ in range(30):
        for center in _candidates(an, rng, 64):
            shell = center[None] + (radius + 3.0) * _DIRECTIONS
            if in_lung(an, shell).all() and _free(center, radius, obstacles, placed):
                return center
    return None


def _place_juxtapleural(an, rng, radius, obstacles, placed) -> np.ndarray | None:
    """A sphere whose centre sits ``JUXTA_DEPTH * r`` inside the costal pleura."""
    for _ in range(30):
        for start in _candidates(an, rng, 32):
            side = np.sign(start[0])
            heading = np.arctan2(start[1] - 5.0, start[0] - side * 0.55 * an.cav_a)
            heading += rng.uniform(-0.4, 0.4)
            direction = np.array([np.cos(heading), np.sin(heading), 0.0])
            steps = start[None] + np.arange(0.0, 120.0, 0.5)[:, None] * direction[None]
            outside = np.flatnonzero(~in_lung(an, steps))
            if not len(outside):
                continue
            edge = steps[outside[0]]
            if not outside_chest_wall(an, edge + 3.0 * direction).all():
                continue  # the lung ended at the heart or mediastinum, not the chest wall
            center = edge - JUXTA_DEPTH * radius * direction
            shell = center[None] + (radius + 2.0) * _DIRECTIONS
            lung = in_lung(an, shell)
            if lung.mean() < 0.6 or not outside_chest_wall(an, shell[~lung]).all():
                continue
            if _free(center, radius, obstacles, placed):
                return center
    return None


def place_nodules(an: Anatomy, rng: np.random.Generator, obstacles: Segments) -> list[NodulePlan]:
    """4 to 8 nodules, at least one of each kind, clear of each other and of large vessels."""
    count = int(rng.integers(4, 9))
    kinds = list(KINDS) + [str(k) for k in rng.choice(KINDS, count - len(KINDS))]
    kinds = [kinds[i] for i in rng.permutation(count)]
    placed: list[NodulePlan] = []
    for kind in kinds:
        diameter, hu, core, core_hu = _draw_kind(rng, kind)
        center = None
        while center is None and diameter >= 3.0:
            place = _place_juxtapleural if kind == "juxtapleural" else _place_inside
            center = place(an, rng, diameter / 2.0, obstacles, placed)
            if center is None:
                diameter *= 0.8  # a crowded lung: try a smaller one
                core = None if core is None else max(2.0, core * 0.8)
        if center is None:
            raise RuntimeError(f"could not place a {kind} nodule in the phantom")
        radius = diameter / 2.0
        if kind == "juxtapleural":
            volume, centroid = _visible_volume(an, center, radius)
        else:
            volume, centroid = 4.0 / 3.0 * np.pi * radius**3, center
        placed.append(
            NodulePlan(
                kind,
                center,
                radius,
                hu,
                None if core is None else core / 2.0,
                core_hu,
                volume,
                centroid,
            )
        )
    return placed
