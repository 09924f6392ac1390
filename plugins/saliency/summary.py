"""Per-finding numbers from an attribution map on its patch grid (numpy only).

* ``peak_lps_mm``: LPS mm of the map's maximum (the most positive attribution), with
  ``peak_distance_mm`` from the finding's centre and ``peak_in_radius``;
* ``positive_fraction_in_radius``: the share of the positive attribution lying within the
  finding's radius (half its ``diameter_mm`` measurement, else half its largest size) of
  its centre;
* ``positive_fraction_in_mask``: the share lying inside the finding's mask (sampled at each
  patch voxel's LPS position, nearest neighbour), when the finding has one.

Also :func:`rank_correlation` (Spearman, ties averaged) for the sanity checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medview.ai.api import Finding
from medview.imaging.volume import Volume


def finding_radius_mm(finding: Finding) -> float:
    """Half the finding's diameter measurement, else half its largest extent."""
    diameter = finding.measurements.get("diameter_mm")
    if diameter is None or not np.isfinite(diameter) or diameter <= 0:
        diameter = max(finding.size_mm)
    return float(diameter) / 2.0


def voxel_lps(volume: Volume) -> np.ndarray:
    """(z*y*x, 3) LPS mm of every voxel centre of ``volume``, in C order of its array."""
    zyx = np.indices(volume.shape, dtype=float).reshape(3, -1).T
    return volume.zyx_to_lps(zyx)


def summarise(attribution: Volume, finding: Finding) -> dict[str, Any]:
    """The numbers above for ``finding``'s map ``attribution`` (a patch Volume)."""
    values = np.asarray(attribution.array, dtype=np.float64).ravel()
    points = voxel_lps(attribution)
    centre = np.asarray(finding.center_lps_mm)
    radius = finding_radius_mm(finding)
    distance = np.linalg.norm(points - centre, axis=1)
    positive = np.clip(values, 0.0, None)
    total = float(positive.sum())
    peak = int(np.argmax(values))
    out: dict[str, Any] = {
        "peak_lps_mm": [round(float(v), 2) for v in points[peak]],
        "peak_value": float(values[peak]),
        "peak_distance_mm": round(float(distance[peak]), 2),
        "radius_mm": round(radius, 2),
        "peak_in_radius": bool(distance[peak] <= radius),
        "positive_fraction_in_radius": (
            round(float(positive[distance <= radius].sum()) / total, 4) if total > 0 else None
        ),
        "positive_fraction_in_mask": None,
        "max_abs": float(np.abs(values).max()) if values.size else 0.0,
    }
    if finding.mask is not None and total > 0:
        inside = sample_mask(finding.mask, points)
        out["positive_fraction_in_mask"] = round(float(positive[inside].sum()) / total, 4)
    return out


def sample_mask(mask: Volume, points_lps: np.ndarray) -> np.ndarray:
    """Boolean per point: the mask's nearest voxel is set (False outside the mask grid)."""
    zyx = np.rint(mask.lps_to_zyx(points_lps)).astype(int)
    shape = np.asarray(mask.shape)
    ok = np.all((zyx >= 0) & (zyx < shape), axis=1)
    inside = np.zeros(len(points_lps), dtype=bool)
    z, y, x = zyx[ok].T
    inside[ok] = np.asarray(mask.array)[z, y, x] > 0
    return inside


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped arrays (ties get average ranks);
    0.0 when either is constant."""
    ra, rb = _ranks(np.ravel(a)), _ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    start = np.cumsum(counts) - counts
    return (start + (counts - 1) / 2.0)[inverse.ravel()]
