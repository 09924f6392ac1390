"""From the review state to a report (issue 8): the audit of decisions and the report model.

:class:`ReviewAudit` listens to a :class:`~medview.model.review.FindingReview` and records
every accept, reject, edit and reset as an :class:`~medview.reports.model.AuditEvent` (who,
when, what changed, before and after), optionally appending each to a JSON-lines log beside
the AI job audit log. :func:`build_report` turns the review, the reader's measurements and
the study into the :class:`~medview.reports.model.ReportModel` the exporters read. Qt-free:
the GUI calls these, the tests drive them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from medview.ai import accountability
from medview.ai.api import Provenance
from medview.ai.audit import AuditLog
from medview.imaging.volume import Volume
from medview.model.review import FindingReview, ReviewedFinding, ReviewStatus
from medview.reports.model import (
    Algorithm,
    AuditEvent,
    ReportedFinding,
    ReportModel,
    StudyInfo,
    now_iso,
)

__all__ = ["ReviewAudit", "build_report", "reported_finding"]


def _snapshot(finding: ReviewedFinding) -> dict[str, Any]:
    return {
        "status": finding.status.value,
        "label": finding.label,
        "center_lps_mm": [float(v) for v in finding.center_lps_mm],
        "size_mm": [float(v) for v in finding.size_mm],
        "note": finding.note,
    }


class ReviewAudit:
    """Records each decision made through ``review`` (subscribe once, read ``events``).

    Parameters
    ----------
    review
        The review to watch.
    reader
        The reader's name, or a callable returning it (the user may change in a session).
    log
        Optional JSON-lines log each event is appended to (with its job id and plugin id).
    """

    def __init__(
        self,
        review: FindingReview,
        reader: str | Callable[[], str],
        log: AuditLog | None = None,
    ) -> None:
        self._review = review
        self._reader = reader if callable(reader) else (lambda: reader)
        self._log = log
        self._last = {f.id: _snapshot(f) for f in review}
        self.events: list[AuditEvent] = []
        self._unsubscribe = review.subscribe(self._changed)

    def close(self) -> None:
        self._unsubscribe()

    def _changed(self, finding_id: str) -> None:
        if not finding_id:  # a job added or removed: new findings start from their original
            current = {f.id: f for f in self._review}
            for new in set(current) - set(self._last):
                self._last[new] = _snapshot(current[new])
            for gone in set(self._last) - set(current):
                del self._last[gone]
            return
        finding = self._review.get(finding_id)
        before = self._last.get(finding_id, {})
        after = _snapshot(finding)
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        self._last[finding_id] = after
        if not changes:
            return
        if finding.status is ReviewStatus.PENDING:
            action = "reset"
        elif set(changes) - {"status", "note"}:
            action = "edit"
        else:
            action = "accept" if finding.status is ReviewStatus.ACCEPTED else "reject"
        event = AuditEvent(
            action, self._reader(), finding.reviewed_at or now_iso(), finding_id, changes,
            finding.note,
        )  # fmt: skip
        self.events.append(event)
        if self._log is not None:
            # Issue 11 AI1: a decision line names the model of the finding it decides.
            model = accountability.facts(self._review.provenance(finding.job_id).as_dict())
            self._log.append({**event.as_dict(), "job_id": finding.job_id, **model})


def _algorithm(provenance: Provenance, names: Mapping[str, tuple[str, str]]) -> Algorithm:
    name, intended_use = names.get(provenance.plugin_id, (provenance.plugin_id, ""))
    return Algorithm(
        plugin_id=provenance.plugin_id,
        name=name,
        version=provenance.plugin_version,
        weights_sha256=dict(provenance.weights_sha256),
        parameters=dict(provenance.parameters),
        intended_use=intended_use,
        provenance=provenance.as_dict(),
    )


def reported_finding(
    finding: ReviewedFinding,
    provenance: Provenance,
    volume: Volume,
    reader: str,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> ReportedFinding:
    """One reviewed finding as the report sees it (the reader's edits applied)."""
    original = finding.finding
    bbox = original.bbox_lps_mm
    if "center_lps_mm" in finding.edits or "size_mm" in finding.edits:
        center, half = np.asarray(finding.center_lps_mm), np.asarray(finding.size_mm) / 2
        bbox = (tuple(center - half), tuple(center + half))  # type: ignore[assignment]
    mask = None
    if original.mask is not None and original.mask.shape == volume.shape:
        mask = np.asarray(original.mask.array) > 0
    decided = finding.status is not ReviewStatus.PENDING
    return ReportedFinding(
        id=finding.id,
        label=finding.label,
        center_lps_mm=finding.center_lps_mm,
        size_mm=finding.size_mm,
        bbox_lps_mm=bbox,
        code=original.code,
        measurements=dict(original.measurements),
        score=original.score,
        algorithm=_algorithm(provenance, names or {}),
        status=finding.status.value,
        decided_by=reader if decided else "",
        decided_at=finding.reviewed_at if decided else "",
        edits=dict(finding.edits),
        note=finding.note,
        mask=mask,
        study_uid=volume.meta.study_uid,
    )


def build_report(
    review: FindingReview,
    volume: Volume,
    study: StudyInfo,
    *,
    reader: str,
    measurements: Iterable[dict[str, Any]] = (),
    audit: Iterable[AuditEvent] = (),
    plugin_names: Mapping[str, tuple[str, str]] | None = None,
    **report_fields: Any,
) -> ReportModel:
    """The report model of ``review`` on ``volume``.

    Parameters
    ----------
    plugin_names
        Plugin id -> (display name, intended use), from the manifests (provenance has ids).
    measurements
        ``medview.model.measurements.measurement_records(scene, volume)``.
    report_fields
        Further :class:`ReportModel` fields (language, impression, findings_text, ...).
    """
    findings = [
        reported_finding(f, review.provenance(f.job_id), volume, reader, plugin_names)
        for f in review
    ]
    return ReportModel(
        study=study,
        reader=reader,
        findings=findings,
        measurements=list(measurements),
        audit=list(audit),
        **report_fields,
    )
