"""Nodule change between a prior and a current scan: matched findings, size change, VDT.

Follow-up of a lung nodule turns on growth. Lung-RADS v2022 calls a solid nodule growing when
its mean diameter increases by more than 1.5 mm (within 12 months); volumetric follow-up uses
the volume doubling time, VDT = Δt · ln 2 / ln(V_current / V_prior) (a VDT under about 400
days is suspicious, over 600 days reassuring). This module matches the findings of two
``medview run`` results through the rigid alignment of the two scans
(:mod:`medview.imaging.registration`) and computes those numbers. No Qt.

The numbers are only as good as the sizes they start from: the bundled detector's median
diameter error on held-out phantoms is 1.11 mm (its model card), close to the 1.5 mm growth
threshold. The report says so and names the change "growing" only as a prompt to measure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from medview.imaging.registration import Alignment
from medview.reports.model import ReportedFinding

#: Lung-RADS v2022: growth is a mean-diameter increase of more than 1.5 mm.
GROWTH_MM = 1.5
#: A finding matches a prior one whose centre lies within this many mm of its own mapped
#: centre, or within its diameter when that is larger (alignment error plus a nodule's own
#: shift within the lung between breath-holds).
MATCH_MM = 8.0

CAVEAT = (
    "sizes are the algorithm's estimates, with errors close to the 1.5 mm growth threshold "
    "(the bundled CNN detector: median diameter error 1.11 mm on held-out phantoms): "
    "measure before acting on a change; the scans are aligned rigidly, as a reading aid"
)


@dataclass(frozen=True)
class Change:
    """One nodule over time: ``status`` is growing, stable, shrinking, new or resolved."""

    status: str
    current: ReportedFinding | None
    prior: ReportedFinding | None
    distance_mm: float | None = None  # between the matched centres, after alignment
    diameter_change_mm: float | None = None
    volume_change_percent: float | None = None
    doubling_time_days: float | None = None  # None: no growth, no volumes, or no interval

    def as_dict(self) -> dict:
        def side(finding: ReportedFinding | None) -> dict | None:
            if finding is None:
                return None
            return {
                "id": finding.id,
                "label": finding.label,
                "center_lps_mm": [round(float(v), 2) for v in finding.center_lps_mm],
                "diameter_mm": round(finding.long_axis_mm, 2),
                "volume_mm3": None if finding.volume_mm3 is None else round(finding.volume_mm3, 1),
            }

        return {
            "status": self.status,
            "current": side(self.current),
            "prior": side(self.prior),
            "distance_mm": _rounded(self.distance_mm, 2),
            "diameter_change_mm": _rounded(self.diameter_change_mm, 2),
            "volume_change_percent": _rounded(self.volume_change_percent, 1),
            "doubling_time_days": _rounded(self.doubling_time_days, 0),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def interval_days(current_date: str, prior_date: str) -> int | None:
    """Days from the prior to the current study (DICOM DA dates); None when one is missing."""
    try:
        later = date(int(current_date[:4]), int(current_date[4:6]), int(current_date[6:8]))
        earlier = date(int(prior_date[:4]), int(prior_date[4:6]), int(prior_date[6:8]))
    except (ValueError, IndexError):
        return None
    return (later - earlier).days


def doubling_time_days(prior_mm3: float, current_mm3: float, days: int) -> float | None:
    """VDT = days · ln 2 / ln(V_current / V_prior); None unless the volume grew over a
    positive interval (a shrinking or stable nodule has no doubling time)."""
    if days <= 0 or prior_mm3 <= 0 or current_mm3 <= prior_mm3:
        return None
    return days * math.log(2.0) / math.log(current_mm3 / prior_mm3)


def compare_findings(
    current: list[ReportedFinding],
    prior: list[ReportedFinding],
    alignment: Alignment,
    days: int | None,
) -> list[Change]:
    """Match ``current`` findings to ``prior`` ones (closest pairs first, each used once)
    through ``alignment`` (current LPS -> prior LPS) and describe each change."""
    mapped = [alignment.to_moving(f.center_lps_mm) for f in current]
    pairs = []
    for i, (finding, where) in enumerate(zip(current, mapped, strict=True)):
        for j, old in enumerate(prior):
            distance = float(np.linalg.norm(where - np.asarray(old.center_lps_mm, float)))
            reach = max(MATCH_MM, finding.long_axis_mm, old.long_axis_mm)
            if distance <= reach:
                pairs.append((distance, i, j))
    matched: dict[int, tuple[int, float]] = {}
    used: set[int] = set()
    for distance, i, j in sorted(pairs):
        if i not in matched and j not in used:
            matched[i] = (j, distance)
            used.add(j)
    changes = []
    for i, finding in enumerate(current):
        if i not in matched:
            changes.append(Change("new", finding, None))
            continue
        j, distance = matched[i]
        changes.append(_change(finding, prior[j], distance, days))
    changes += [Change("resolved", None, old) for j, old in enumerate(prior) if j not in used]
    return changes


def _change(now: ReportedFinding, before: ReportedFinding, distance: float, days: int | None):
    delta = now.long_axis_mm - before.long_axis_mm
    status = "growing" if delta > GROWTH_MM else "shrinking" if delta < -GROWTH_MM else "stable"
    volume_change = vdt = None
    if now.volume_mm3 is not None and before.volume_mm3:
        volume_change = 100.0 * (now.volume_mm3 / before.volume_mm3 - 1.0)
        if days is not None:
            vdt = doubling_time_days(before.volume_mm3, now.volume_mm3, days)
    return Change(status, now, before, distance, delta, volume_change, vdt)
