"""Sampling a Volume for measurements: planes, ROI statistics, probes and line profiles.

Everything here takes and returns patient LPS millimetres and goes through the Volume's own
index <-> LPS helpers (ARCHITECTURE.md, rule 2), so a flipped or oblique ``direction`` gives
the same answers for the same anatomy. Array axes are only used to read voxel values.

numpy only: the viewer draws, this module measures (issue 3, "Measurements").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from medview.imaging.volume import Volume

Point = tuple[float, float, float]

#: How far from unit length / orthogonality a stored plane may be (rounding in JSON, VTK).
_UNIT_TOLERANCE = 1e-6
#: UCUM codes of the volume units medview knows (PS3.16 CID 7181, UCUM "[hnsf'U]" for HU).
_UCUM = {"HU": "[hnsf'U]", "": "1"}


def as_point(value: Sequence[float] | np.ndarray, name: str = "point") -> Point:
    """Three finite floats as a tuple (the storage form of every point and vector)."""
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be three finite numbers (LPS mm), got {value!r}")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def ucum_units(units: str) -> str:
    """UCUM code for a Volume's ``meta.units`` ("HU" -> "[hnsf'U]"; unknown -> annotation)."""
    # An unknown unit is kept as a UCUM annotation ({...}) rather than guessed.
    return _UCUM.get(units, f"{{{units}}}")


@dataclass(frozen=True)
class Plane:
    """An oriented plane in LPS mm: the slice a measurement was drawn on.

    Attributes
    ----------
    origin
        A point on the plane (LPS mm).
    normal
        Unit normal, ``u x v``.
    u, v
        Orthonormal in-plane axes (for a view: screen right and screen down, in LPS).

    Notes
    -----
    The constructor validates but never renormalises, so a plane read back from JSON is
    bit-identical to the one saved; use :meth:`from_axes` to build one from raw vectors.
    """

    origin: Point
    normal: Point
    u: Point
    v: Point

    def __post_init__(self) -> None:
        for name in ("origin", "normal", "u", "v"):
            object.__setattr__(self, name, as_point(getattr(self, name), f"plane {name}"))
        n, u, v = (np.asarray(x) for x in (self.normal, self.u, self.v))
        basis = np.stack([u, v, n], axis=1)
        if not np.allclose(basis.T @ basis, np.eye(3), atol=_UNIT_TOLERANCE):
            raise ValueError("plane u, v and normal must be orthonormal")
        if not np.allclose(np.cross(u, v), n, atol=_UNIT_TOLERANCE):
            raise ValueError("plane normal must be u x v")

    @classmethod
    def from_axes(cls, origin: Sequence[float], u: Sequence[float], v: Sequence[float]) -> Plane:
        """Plane through ``origin`` spanned by ``u`` and ``v`` (normalised; v made orthogonal)."""
        uu = np.asarray(u, dtype=float)
        vv = np.asarray(v, dtype=float)
        if np.linalg.norm(uu) == 0 or np.linalg.norm(vv) == 0:
            raise ValueError("plane axes must be non-zero vectors")
        uu = uu / np.linalg.norm(uu)
        vv = vv - uu * float(uu @ vv)  # Gram-Schmidt: keep u exact, fix v
        if np.linalg.norm(vv) < 1e-9:
            raise ValueError("plane axes must not be parallel")
        vv = vv / np.linalg.norm(vv)
        return cls(as_point(origin), as_point(np.cross(uu, vv)), as_point(uu), as_point(vv))

    def distance(self, point: Sequence[float] | np.ndarray) -> np.ndarray | float:
        """Signed distance(s) of LPS point(s) from the plane, mm."""
        rel = np.asarray(point, dtype=float) - np.asarray(self.origin)
        return rel @ np.asarray(self.normal)


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the voxels sampled inside a planar ROI.

    Attributes
    ----------
    mean, sd, min, max
        Of the sampled voxel values, in ``units``; ``sd`` is the population standard
        deviation (ddof=0). All None when no voxel centre falls inside the shape.
    area_mm2
        Analytic area of the shape (pi*a*b for an ellipse, |u|*|v| for a rectangle).
    sampled_area_mm2
        Area the sampled voxels stand for (count x voxel volume / slab thickness); close to
        ``area_mm2`` for ROIs many voxels wide.
    voxel_count
        Number of voxels sampled.
    units
        UCUM code of the values (``"[hnsf'U]"`` for CT).
    """

    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    area_mm2: float
    sampled_area_mm2: float
    voxel_count: int
    units: str


class ProbeResult(NamedTuple):
    """Value of the voxel nearest a point, its UCUM units and its (i, j, k) index."""

    value: float | tuple[float, ...]
    units: str
    ijk: tuple[int, int, int]


def _slab_half_thickness(volume: Volume, normal: np.ndarray) -> float:
    """Half the extent of one voxel box projected on ``normal``: the box meets the plane
    iff its centre lies within this distance, so each voxel the plane cuts is sampled."""
    steps = np.asarray(volume.direction) * np.asarray(volume.spacing)[np.newaxis, :]
    return 0.5 * float(np.sum(np.abs(normal @ steps)))


def _sample_planar(
    volume: Volume,
    plane: Plane,
    corners: np.ndarray,
    inside: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[np.ndarray, float]:
    """Values of the voxels the plane cuts whose centres project inside a shape.

    ``corners`` (n, 3) LPS bound the shape; ``inside(s, t)`` gets in-plane coordinates
    (along ``plane.u``, ``plane.v`` from ``plane.origin``). Returns (values, slab thickness).
    """
    if volume.is_color:
        raise ValueError("ROI statistics need a greyscale volume")
    normal = np.asarray(plane.normal)
    half = _slab_half_thickness(volume, normal)
    slab = np.concatenate([corners + half * normal, corners - half * normal])
    ijk = volume.lps_to_index(slab)
    size = np.asarray(volume.size_ijk)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int) - 1, 0, size - 1)
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, size - 1)
    if np.any(ijk.max(axis=0) < -0.5) or np.any(ijk.min(axis=0) > size - 0.5):
        return np.empty(0), 2 * half
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
    ii, jj = ii.ravel(), jj.ravel()
    base = np.stack([ii, jj, np.zeros_like(ii)], axis=1).astype(float)
    # LPS is affine in the index: one layer through the helper, then step along k.
    layer = volume.index_to_lps(base) - np.asarray(plane.origin)
    step_k = volume.index_to_lps((0.0, 0.0, 1.0)) - volume.index_to_lps((0.0, 0.0, 0.0))
    axes = np.stack([plane.u, plane.v, plane.normal], axis=1)
    layer_std = layer @ axes
    step_std = step_k @ axes
    # Half-open slab, nudged down, so a plane exactly between two layers takes one of them.
    nudge = 1e-7 * half
    values = []
    for k in range(lo[2], hi[2] + 1):
        std = layer_std + k * step_std
        d = std[:, 2]
        mask = (d >= -half - nudge) & (d < half - nudge) & inside(std[:, 0], std[:, 1])
        if np.any(mask):
            values.append(volume.array[k, jj[mask], ii[mask]].astype(np.float64))
    return (np.concatenate(values) if values else np.empty(0)), 2 * half


def _stats(volume: Volume, values: np.ndarray, slab: float, area: float) -> RoiStats:
    units = ucum_units(volume.meta.units)
    count = int(values.size)
    sampled = count * volume.voxel_volume_mm3() / slab
    if count == 0:
        return RoiStats(None, None, None, None, area, 0.0, 0, units)
    return RoiStats(
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
        area,
        float(sampled),
        count,
        units,
    )


def ellipse_stats(
    volume: Volume, center: Point, axis_u: Point, axis_v: Point, plane: Plane
) -> RoiStats:
    """Statistics inside the ellipse ``center + cos(t) axis_u + sin(t) axis_v`` on ``plane``.

    Parameters
    ----------
    volume
        Greyscale volume to sample.
    center, axis_u, axis_v
        LPS mm; the axes are the (perpendicular) semi-axis vectors, lying in ``plane``.
    plane
        The slice the ellipse was drawn on; voxels the plane cuts are sampled.
    """
    c, u, v = (np.asarray(x, dtype=float) for x in (center, axis_u, axis_v))
    a, b = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    area = float(np.pi * a * b)
    if a == 0 or b == 0:
        return _stats(volume, np.empty(0), 2 * _slab_half_thickness(volume, plane.normal), area)
    to_shape = _shape_coordinates(plane, c, u / a, v / b)

    def inside(s: np.ndarray, t: np.ndarray) -> np.ndarray:
        x, y = to_shape(s, t)
        return (x / a) ** 2 + (y / b) ** 2 <= 1.0 + 1e-9

    corners = np.array([c + su * u + sv * v for su in (-1, 1) for sv in (-1, 1)])
    values, slab = _sample_planar(volume, plane, corners, inside)
    return _stats(volume, values, slab, area)


def _shape_coordinates(plane: Plane, origin: np.ndarray, eu: np.ndarray, ev: np.ndarray):
    """Map plane coordinates (s, t) to a shape's own (x, y) along unit axes ``eu``, ``ev``.

    Shared by the ellipse and rectangle tests: the plane axes are projected on the shape axes,
    and ``origin`` (the shape's centre or corner) becomes (0, 0).
    """
    rel = origin - np.asarray(plane.origin)
    pu, pv = np.asarray(plane.u), np.asarray(plane.v)
    m = np.array([[pu @ eu, pv @ eu], [pu @ ev, pv @ ev]])
    shift = np.array([rel @ eu, rel @ ev])

    def to_shape(s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return m[0, 0] * s + m[0, 1] * t - shift[0], m[1, 0] * s + m[1, 1] * t - shift[1]

    return to_shape


def rectangle_stats(
    volume: Volume, corner: Point, edge_u: Point, edge_v: Point, plane: Plane
) -> RoiStats:
    """Statistics inside the rectangle ``corner + s edge_u + t edge_v`` (0 <= s, t <= 1)."""
    c, u, v = (np.asarray(x, dtype=float) for x in (corner, edge_u, edge_v))
    lu, lv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    area = lu * lv
    if lu == 0 or lv == 0:
        return _stats(volume, np.empty(0), 2 * _slab_half_thickness(volume, plane.normal), area)
    to_shape = _shape_coordinates(plane, c, u / lu, v / lv)
    tol = 1e-6  # mm: voxel centres exactly on an edge count as inside

    def inside(s: np.ndarray, t: np.ndarray) -> np.ndarray:
        x, y = to_shape(s, t)
        return (x >= -tol) & (x <= lu + tol) & (y >= -tol) & (y <= lv + tol)

    corners = np.array([c, c + u, c + v, c + u + v])
    values, slab = _sample_planar(volume, plane, corners, inside)
    return _stats(volume, values, slab, area)


def nearest_voxel(volume: Volume, point: Sequence[float]) -> tuple[int, int, int] | None:
    """(i, j, k) of the voxel whose box contains ``point``; None outside the volume."""
    ijk = np.floor(volume.lps_to_index(as_point(point)) + 0.5).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.asarray(volume.size_ijk)):
        return None
    return (int(ijk[0]), int(ijk[1]), int(ijk[2]))


def probe(volume: Volume, point: Sequence[float]) -> ProbeResult | None:
    """Value of the voxel nearest ``point`` (LPS mm), or None outside the volume.

    Returns
    -------
    ProbeResult or None
        ``value`` is a float (a tuple of floats for colour volumes), ``units`` the UCUM code,
        ``ijk`` the voxel index.
    """
    ijk = nearest_voxel(volume, point)
    if ijk is None:
        return None
    raw = volume.array[ijk[2], ijk[1], ijk[0]]
    value = tuple(float(x) for x in raw) if volume.is_color else float(raw)
    return ProbeResult(value, ucum_units(volume.meta.units), ijk)


def sample_line(
    volume: Volume, p1: Sequence[float], p2: Sequence[float], step_mm: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Trilinearly interpolated values along the segment p1 -> p2 (a line profile).

    Returns
    -------
    (distances, values)
        Distance from ``p1`` in mm of each sample and its value (NaN outside the volume).
        ``step_mm`` defaults to a quarter of the smallest voxel spacing.
    """
    if volume.is_color:
        raise ValueError("line profiles need a greyscale volume")
    a, b = np.asarray(as_point(p1)), np.asarray(as_point(p2))
    length = float(np.linalg.norm(b - a))
    step = step_mm or min(volume.spacing) / 4.0
    n = max(2, int(np.ceil(length / step)) + 1)
    dist = np.linspace(0.0, length, n)
    points = a + np.outer(dist / length if length else np.zeros(n), b - a)
    ijk = volume.lps_to_index(points)
    size = np.asarray(volume.size_ijk)
    valid = np.all((ijk >= 0) & (ijk <= size - 1), axis=1)
    out = np.full(n, np.nan)
    if np.any(valid):
        q = ijk[valid]
        base = np.minimum(np.floor(q).astype(int), np.maximum(size - 2, 0))
        frac = q - base
        acc = np.zeros(len(q))
        for corner in np.ndindex(2, 2, 2):
            off = np.asarray(corner)
            idx = np.minimum(base + off, size - 1)
            weight = np.prod(np.where(off == 1, frac, 1.0 - frac), axis=1)
            acc += weight * volume.array[idx[:, 2], idx[:, 1], idx[:, 0]]
        out[valid] = acc
    return dist, out


def find_edges(
    volume: Volume,
    center: Sequence[float],
    direction: Sequence[float],
    threshold: float,
    max_mm: float = 50.0,
) -> tuple[Point, Point] | None:
    """Where the profile through ``center`` along ``direction`` first crosses ``threshold``.

    Walks out both ways from ``center`` (which must be above the threshold, e.g. inside a
    solid nodule) and returns the two LPS crossing points, linearly interpolated between
    samples; None when the centre is below the threshold or no crossing is within ``max_mm``.
    Used to snap a length across a lesion (and by tests to check lengths on the phantom).
    """
    c = np.asarray(as_point(center))
    d = np.asarray(as_point(direction, "direction"))
    if np.linalg.norm(d) == 0:
        raise ValueError("direction must be a non-zero vector")
    d = d / np.linalg.norm(d)
    ends: list[Point] = []
    for sign in (1.0, -1.0):
        dist, values = sample_line(volume, c, c + sign * max_mm * d)
        if not values[0] > threshold:
            return None
        below = np.nonzero(~(values > threshold))[0]
        if below.size == 0 or np.isnan(values[below[0]]):
            return None
        n = below[0]
        v0, v1 = values[n - 1], values[n]
        t = dist[n - 1] + (v0 - threshold) / (v0 - v1) * (dist[n] - dist[n - 1])
        ends.append(as_point(c + sign * t * d))
    return ends[1], ends[0]


def slice_index(volume: Volume, points: np.ndarray) -> int | None:
    """The k slice all ``points`` (n, 3) LPS lie on (nearest k), or None if they span slices
    or the slice is outside the volume."""
    ks = volume.lps_to_index(np.asarray(points, dtype=float).reshape(-1, 3))[:, 2]
    k = int(np.floor(float(np.mean(ks)) + 0.5))
    if not 0 <= k < volume.size_ijk[2] or np.any(np.abs(ks - k) > 0.5 + 1e-6):
        return None
    return k
