"""Capsule segments, the building block of the phantom's tubes, and distances to them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Segments:
    """Tapered capsules: start ``a``, end ``b`` (m, 3) and radii ``r0``, ``r1`` (m,)."""

    a: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    b: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    r0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r1: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.r0)

    def __getitem__(self, index) -> Segments:
        return Segments(self.a[index], self.b[index], self.r0[index], self.r1[index])

    def extend(self, other: Segments) -> None:
        self.a = np.concatenate([self.a, other.a])
        self.b = np.concatenate([self.b, other.b])
        self.r0 = np.concatenate([self.r0, other.r0])
        self.r1 = np.concatenate([self.r1, other.r1])

    def scaled(self, factor: float, minus: float = 0.0) -> Segments:
        """Same centrelines, radii ``r * factor - minus`` (inner lumen or marrow)."""
        return Segments(
            self.a, self.b, self.r0 * factor - minus, self.r1 * factor - minus
        ).without_thin(0.05)

    def without_thin(self, radius: float) -> Segments:
        keep = np.maximum(self.r0, self.r1) > radius
        return Segments(self.a[keep], self.b[keep], self.r0[keep], self.r1[keep])


def spline(points, radii, samples: int = 4) -> Segments:
    """Catmull-Rom curve through control ``points`` as segments; radii interpolate linearly."""
    p = np.asarray(points, dtype=np.float64)
    r = np.asarray(radii, dtype=np.float64)
    padded = np.concatenate([p[:1] * 2 - p[1:2], p, p[-1:] * 2 - p[-2:-1]])
    t = np.arange(samples) / samples
    t2, t3 = t * t, t * t * t
    curve, rad = [], []
    for i in range(len(p) - 1):
        p0, p1, p2, p3 = padded[i : i + 4]
        pts = 0.5 * (
            (2 * p1)[None]
            + (p2 - p0)[None] * t[:, None]
            + (2 * p0 - 5 * p1 + 4 * p2 - p3)[None] * t2[:, None]
            + (3 * p1 - p0 - 3 * p2 + p3)[None] * t3[:, None]
        )
        curve.append(pts)
        rad.append(r[i] + (r[i + 1] - r[i]) * t)
    curve.append(p[-1:])
    rad.append(r[-1:])
    c = np.concatenate(curve)
    rr = np.concatenate(rad)
    return Segments(c[:-1], c[1:], rr[:-1], rr[1:])


def segment_clearance(points: np.ndarray, segs: Segments) -> np.ndarray:
    """Distance from each point (n, 3) to the nearest capsule surface (negative inside)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if not len(segs):
        return np.full(len(p), np.inf)
    # Elementwise arithmetic only (no BLAS, no einsum): the same seed must make the same
    # decisions on every CPU.
    d = segs.b - segs.a
    length2 = np.maximum(d[:, 0] ** 2 + d[:, 1] ** 2 + d[:, 2] ** 2, 1e-12)
    rel = [p[:, None, axis] - segs.a[None, :, axis] for axis in range(3)]
    t = (rel[0] * d[None, :, 0] + rel[1] * d[None, :, 1] + rel[2] * d[None, :, 2]) / length2
    np.clip(t, 0.0, 1.0, out=t)
    dist2 = sum(np.square(rel[axis] - t * d[None, :, axis]) for axis in range(3))
    radius = segs.r0[None] + t * (segs.r1 - segs.r0)[None]
    return np.min(np.sqrt(dist2) - radius, axis=1)


class LungSpace:
    """Where lung vessels and bronchi may run: lung, clear of the mediastinal tubes.

    The analytic lung knows nothing of the aorta, cavae, oesophagus or trachea that are drawn
    over it; without this a bronchus could tunnel through the descending aorta.
    """

    def __init__(self, inside, keep_out: Segments, margin: float = 1.5):
        self._inside = inside
        self._keep_out = keep_out
        self._margin = margin

    def __call__(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        ok = self._inside(p)
        if ok.any():
            ok[ok] = segment_clearance(p[ok], self._keep_out) > self._margin
        return ok
