"""The radiologist's review of AI findings: accept, reject or edit each one (issue 4 → 8).

An AI finding is a proposal. What goes into a report is what the radiologist made of it, so
the review keeps, per finding, the plugin's original (never changed), the decision
(pending / accepted / rejected), the radiologist's edits (centre, size, label) and a note,
together with the job's provenance. Qt-free: the AI panel shows and changes it, the report
exporters read it (:meth:`FindingReview.records`), the tests drive it directly.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from medview.ai.api import Finding, Provenance, Result

__all__ = ["FindingReview", "ReviewStatus", "ReviewedFinding"]


class ReviewStatus(str, enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ReviewedFinding:
    """One finding and what the radiologist decided about it.

    ``finding`` is the plugin's output as it came; ``center_lps_mm``, ``size_mm`` and
    ``label`` are what the report uses (the radiologist's edit when there is one).
    """

    id: str  # "<job id>/<index>": stable across sessions
    job_id: str
    plugin_id: str
    finding: Finding
    status: ReviewStatus = ReviewStatus.PENDING
    edits: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    reviewed_at: str = ""

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def label(self) -> str:
        return str(self.edits.get("label", self.finding.label))

    @property
    def center_lps_mm(self) -> tuple[float, float, float]:
        return tuple(self.edits.get("center_lps_mm", self.finding.center_lps_mm))  # type: ignore[return-value]

    @property
    def size_mm(self) -> tuple[float, float, float]:
        return tuple(self.edits.get("size_mm", self.finding.size_mm))  # type: ignore[return-value]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "plugin_id": self.plugin_id,
            "status": self.status.value,
            "label": self.label,
            "center_lps_mm": [float(v) for v in self.center_lps_mm],
            "size_mm": [float(v) for v in self.size_mm],
            "edits": {k: _jsonable(v) for k, v in self.edits.items()},
            "note": self.note,
            "reviewed_at": self.reviewed_at,
            "original": self.finding.as_dict(),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def _point(value: Any, what: str) -> tuple[float, float, float]:
    point = tuple(float(v) for v in value)
    if len(point) != 3 or not all(math.isfinite(v) for v in point):
        raise ValueError(f"{what} must be three finite numbers")
    return point  # type: ignore[return-value]


Listener = Callable[[str], None]


class FindingReview:
    """The findings of the AI jobs run on one study, with the radiologist's decisions.

    Listeners are called with the id of the finding that changed ("" when a whole job was
    added or removed).
    """

    def __init__(self) -> None:
        self._findings: dict[str, ReviewedFinding] = {}
        self._provenance: dict[str, Provenance] = {}
        self._listeners: list[Listener] = []

    # -- content ---------------------------------------------------------------------------
    def add_result(self, result: Result) -> list[str]:
        """Add a finished job's findings (all pending); returns their ids."""
        if result.provenance is None:
            raise ValueError("a result without provenance cannot be reviewed or reported")
        job_id = result.provenance.job_id
        self._provenance[job_id] = result.provenance
        ids = []
        for index, finding in enumerate(result.findings):
            finding_id = f"{job_id}/{index}"
            self._findings[finding_id] = ReviewedFinding(
                finding_id, job_id, result.provenance.plugin_id, finding
            )
            ids.append(finding_id)
        self._notify("")
        return ids

    def remove_job(self, job_id: str) -> None:
        self._provenance.pop(job_id, None)
        for finding_id in [k for k, f in self._findings.items() if f.job_id == job_id]:
            del self._findings[finding_id]
        self._notify("")

    def __iter__(self) -> Iterator[ReviewedFinding]:
        return iter(list(self._findings.values()))

    def __len__(self) -> int:
        return len(self._findings)

    def get(self, finding_id: str) -> ReviewedFinding:
        try:
            return self._findings[finding_id]
        except KeyError:
            raise KeyError(f"no finding {finding_id!r} in the review") from None

    def provenance(self, job_id: str) -> Provenance:
        return self._provenance[job_id]

    def job_findings(self, job_id: str) -> list[ReviewedFinding]:
        return [f for f in self._findings.values() if f.job_id == job_id]

    # -- decisions -------------------------------------------------------------------------
    def accept(self, finding_id: str, note: str | None = None) -> ReviewedFinding:
        return self._decide(finding_id, ReviewStatus.ACCEPTED, note)

    def reject(self, finding_id: str, note: str | None = None) -> ReviewedFinding:
        return self._decide(finding_id, ReviewStatus.REJECTED, note)

    def reset(self, finding_id: str) -> ReviewedFinding:
        """Back to pending, edits dropped (the plugin's original stands again)."""
        current = self.get(finding_id)
        return self._set(replace(current, status=ReviewStatus.PENDING, edits={}, reviewed_at=""))

    def edit(
        self,
        finding_id: str,
        *,
        label: str | None = None,
        center_lps_mm: Any = None,
        size_mm: Any = None,
        note: str | None = None,
    ) -> ReviewedFinding:
        """Correct a finding; an edited finding counts as accepted (the reader vouches for it)."""
        current = self.get(finding_id)
        edits = dict(current.edits)
        if label is not None:
            if not label.strip():
                raise ValueError("a finding's label cannot be empty")
            edits["label"] = label.strip()
        if center_lps_mm is not None:
            edits["center_lps_mm"] = _point(center_lps_mm, "center_lps_mm")
        if size_mm is not None:
            size = _point(size_mm, "size_mm")
            if any(v < 0 for v in size):
                raise ValueError("size_mm must not be negative")
            edits["size_mm"] = size
        changed = replace(
            current,
            edits=edits,
            status=ReviewStatus.ACCEPTED,
            note=current.note if note is None else note,
            reviewed_at=_now(),
        )
        return self._set(changed)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in ReviewStatus}
        for finding in self._findings.values():
            counts[finding.status.value] += 1
        return counts

    def records(self) -> list[dict[str, Any]]:
        """Every reviewed finding with its job's provenance, JSON-ready (for the reports)."""
        return [
            {**f.as_dict(), "provenance": self._provenance[f.job_id].as_dict()}
            for f in self._findings.values()
        ]

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- internals -------------------------------------------------------------------------
    def _decide(self, finding_id: str, status: ReviewStatus, note: str | None) -> ReviewedFinding:
        current = self.get(finding_id)
        return self._set(
            replace(
                current,
                status=status,
                note=current.note if note is None else note,
                reviewed_at=_now(),
            )
        )

    def _set(self, finding: ReviewedFinding) -> ReviewedFinding:
        self._findings[finding.id] = finding
        self._notify(finding.id)
        return finding

    def _notify(self, finding_id: str) -> None:
        for listener in list(self._listeners):
            listener(finding_id)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
