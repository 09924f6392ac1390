"""Which saliency overlay to show for a finding and a method (issue 7, viewer).

The explanation plugin ``medview.saliency`` returns the detector's findings again together
with one overlay per explained finding, named ``saliency-<method>-finding-NNN`` where ``NNN``
is the finding's 1-based number in that result. Several runs (one per method, say) give
several such sets. The AI panel lists every run's findings; when the reader selects one, the
overlay of the chosen method for *that* finding is shown:

1. an overlay of the same run with the finding's number (the findings map 1:1 to the names);
2. else an overlay of another run whose explained finding lies at the same place (centre
   within ``tolerance_mm``): the same detector finding explained with another method, or a
   finding of a plain detector run;
3. else none (the finding was not explained with that method).

Qt-free: :mod:`medview.view.saliency_controls` keeps the catalogue and asks :func:`choose`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Methods in the order offered (the plugin's manifest order); unknown ones follow, sorted.
METHOD_ORDER: tuple[str, ...] = ("gradcam", "ig", "smoothgrad", "occlusion")

_NAME = re.compile(r"^saliency-(?P<method>[a-z0-9_]+)-finding-(?P<number>\d+)$")


def parse_overlay_name(name: str) -> tuple[str, int] | None:
    """``(method, 1-based finding number)`` of a saliency overlay name, else None."""
    match = _NAME.match(name)
    if match is None:
        return None
    return match["method"], int(match["number"])


@dataclass(frozen=True)
class SaliencyEntry:
    """One loaded saliency overlay.

    Attributes
    ----------
    key
        The caller's handle for the overlay (e.g. its row in the overlay list).
    job_id
        The run that produced it.
    method
        Attribution method (``gradcam``, ``ig``, …).
    finding_number
        1-based number of the explained finding in that run's findings.
    center_lps_mm
        Centre of that finding (LPS mm), to match findings across runs; None if unknown.
    """

    key: object
    job_id: str
    method: str
    finding_number: int
    center_lps_mm: tuple[float, float, float] | None = None


def entries_for_result(
    job_id: str,
    overlay_names: Sequence[str],
    finding_centres: Sequence[Sequence[float]],
    keys: Sequence[object] | None = None,
) -> list[SaliencyEntry]:
    """The saliency entries of one result (overlays with other names are skipped).

    ``keys`` (default: the overlay's position in ``overlay_names``) are stored as the entries'
    keys; ``finding_centres`` are the result's findings' centres in order.
    """
    keys = list(range(len(overlay_names))) if keys is None else list(keys)
    entries = []
    for key, name in zip(keys, overlay_names, strict=True):
        parsed = parse_overlay_name(name)
        if parsed is None:
            continue
        method, number = parsed
        centre = None
        if 1 <= number <= len(finding_centres):
            centre = tuple(float(v) for v in finding_centres[number - 1])
        entries.append(SaliencyEntry(key, job_id, method, number, centre))  # type: ignore[arg-type]
    return entries


def available_methods(entries: Iterable[SaliencyEntry]) -> list[str]:
    """The methods among ``entries``, in :data:`METHOD_ORDER`, unknown ones after."""
    found = {entry.method for entry in entries}
    known = [m for m in METHOD_ORDER if m in found]
    return known + sorted(found - set(METHOD_ORDER))


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    return math.dist(tuple(map(float, a)), tuple(map(float, b)))


def choose(
    entries: Sequence[SaliencyEntry],
    method: str,
    job_id: str,
    finding_number: int,
    center_lps_mm: Sequence[float] | None = None,
    tolerance_mm: float = 1.0,
) -> SaliencyEntry | None:
    """The overlay to show for a finding with ``method`` (see the module's rules).

    Parameters
    ----------
    entries
        The loaded saliency overlays, oldest first (a later run wins a tie).
    method
        The method chosen by the reader.
    job_id, finding_number
        The selected finding: its run and 1-based number in that run's findings.
    center_lps_mm
        Its original centre (the plugin's, not the reader's edit), for matching across runs.
    tolerance_mm
        Largest centre distance that still counts as the same finding.
    """
    candidates = [e for e in entries if e.method == method]
    for entry in reversed(candidates):
        if entry.job_id == job_id and entry.finding_number == finding_number:
            return entry
    if center_lps_mm is None:
        return None
    best: tuple[float, int] | None = None
    for position, entry in enumerate(candidates):
        if entry.center_lps_mm is None:
            continue
        distance = _distance(entry.center_lps_mm, center_lps_mm)
        if distance <= tolerance_mm and (best is None or distance <= best[0]):
            best = (distance, position)
    return candidates[best[1]] if best is not None else None


__all__ = [
    "METHOD_ORDER",
    "SaliencyEntry",
    "available_methods",
    "choose",
    "entries_for_result",
    "parse_overlay_name",
]
