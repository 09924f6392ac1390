"""Exporting the reader's report, shared by the GUI's report panel and ``medview report``.

Issue 8, "Export: ... headless, and the same from the GUI". Qt-free. The GUI takes a
:class:`ReportRequest` snapshot of the review, the reader's measurements and text on the GUI
thread (the review and the measurement scene belong to it) and runs :func:`export_reviewed`
on a worker thread: reading the source headers, building the report model (masks copied,
SR/SEG/PDF built) and writing the files is too slow for the GUI thread (ARCHITECTURE.md
rule 4). ``medview report`` shares the language choice and the audit-log writing with it.

Only accepted findings enter the SR, SEG, Parametric Maps and PDF table
(:meth:`~medview.reports.model.ReportModel.reported_findings`); rejected and pending ones are
listed with their status in the JSON and keep their decisions in the audit trail.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from medview.ai import accountability
from medview.ai.api import Provenance, Result
from medview.ai.audit import AuditLog
from medview.core.errors import MedviewError
from medview.core.paths import app_dirs
from medview.imaging.volume import Volume
from medview.model.measurement_types import Measurement
from medview.model.measurements import measurement_records
from medview.model.report_state import reported_finding
from medview.model.review import FindingReview, ReviewedFinding, ReviewStatus
from medview.model.saliency_choice import parse_overlay_name
from medview.reports.export import ExportResult, export_report, parse_formats
from medview.reports.model import AuditEvent, Explanation, ReportModel, StudyInfo
from medview.reports.sources import SourceImages

__all__ = [
    "REVIEW_AUDIT_NAME",
    "ReportOutcome",
    "ReportRequest",
    "append_audit",
    "check_writable",
    "explanations_of",
    "export_reviewed",
    "report_language",
    "review_audit_log",
    "series_findings",
    "series_measurements",
]

#: Every accept / reject / edit / finalize of an AI finding, one JSON line each, under the
#: data folder beside the AI jobs' own ``audit.jsonl`` (issue 8, "Audit").
REVIEW_AUDIT_NAME = "review-audit.jsonl"


def review_audit_log() -> AuditLog:
    """The review audit log of this process's data folder (honours ``MEDVIEW_HOME``)."""
    return AuditLog(app_dirs().data / REVIEW_AUDIT_NAME)


def report_language(ui_language: str) -> str:
    """The report language (``en``/``zh``) of an interface language (``zh_CN``, ``en``, "")."""
    return "zh" if ui_language.startswith("zh") else "en"


def append_audit(
    log: AuditLog,
    events: Iterable[AuditEvent],
    provenance: Mapping[str, Mapping[str, Any]],
    study_uid: str,
) -> None:
    """Append ``events`` to ``log``, each with the study and, for a finding's event, its job
    id and the model that made it (``provenance``: finding id -> the job's provenance; issue
    11 AI1)."""
    for event in events:
        record = provenance.get(event.finding_id)
        model = accountability.facts(record) if record else {}
        job_id = str(record.get("job_id", "")) if record else ""
        log.append({**event.as_dict(), "job_id": job_id, **model, "study_uid": study_uid})


def series_measurements(measurements: Iterable[Measurement], volume: Volume) -> list[Measurement]:
    """The measurements drawn on ``volume``'s series (or on no recorded series).

    The scene holds the whole study's measurements; the SR places each one by SCOORD3D in the
    reported series' Frame of Reference and its image library, so only that series' belong.
    """
    series = volume.meta.series_uid
    return [m for m in measurements if not m.series_uid or not series or m.series_uid == series]


def series_findings(review: FindingReview, volume: Volume | None) -> list[ReviewedFinding]:
    """The review's findings computed on ``volume``'s series (the report's image grid).

    The AI panel keeps the findings of every job of the session; a report is about one
    series, and a finding's centre and mask mean nothing on another one.
    """
    if volume is None:
        return []
    series = volume.meta.series_uid
    return [
        f
        for f in review
        if not series or review.provenance(f.job_id).input_series_uid in ("", series)
    ]


def explanations_of(result: Result, volume: Volume) -> dict[int, Explanation]:
    """0-based finding index -> the attribution map that explains it, for an explanation
    plugin's result on ``volume`` (issue 7: overlays ``saliency-<method>-finding-NNN``, the
    method and its parameters in ``metadata["method"]``). The same as ``medview report``
    reads from a results folder (:mod:`medview.reports.results`). Maps on another grid are
    skipped: the Parametric Map frames are the source slices."""
    metadata = result.metadata or {}
    settings = metadata.get("method") or {}
    if not isinstance(settings, Mapping):
        settings = {"method": settings}
    summaries = {
        entry.get("overlay"): entry
        for entry in metadata.get("explanations") or []
        if isinstance(entry, Mapping)
    }
    provenance = result.provenance
    out: dict[int, Explanation] = {}
    for overlay in result.overlays:
        parsed = parse_overlay_name(overlay.name)
        if parsed is None or overlay.volume.shape != volume.shape:
            continue
        method, number = parsed
        summary = summaries.get(overlay.name) or {}
        out[number - 1] = Explanation(
            name=overlay.name,
            method=str(settings.get("method") or method),
            array=np.asarray(overlay.volume.array, np.float32),
            description=overlay.description,
            summary={k: v for k, v in summary.items() if k not in ("finding", "overlay")},
            parameters={k: v for k, v in settings.items() if k != "method"},
            plugin_id=provenance.plugin_id if provenance else "",
            plugin_version=provenance.plugin_version if provenance else "",
        )
    return out


@dataclass(frozen=True, eq=False)
class ReportRequest:
    """Everything one export needs, taken on the GUI thread (immutable from then on).

    Attributes
    ----------
    volume
        The series on screen (the report's image grid).
    source_paths
        Called on the worker: the files of that series (e.g. from the study database).
    findings, provenances
        Snapshot of the review (:class:`~medview.model.review.FindingReview`) and its jobs'
        provenance by job id.
    explanations
        Finding id -> attribution map (:func:`explanations_of`), for Parametric Maps.
    plugin_names
        Plugin id -> (display name, intended use), from the manifests.
    measurements
        The reader's measurements (the scene's, :func:`series_measurements`).
    audit
        The review decisions so far (:class:`~medview.model.report_state.ReviewAudit`).
    sign
        Finalise: SR Verification Flag VERIFIED, verifying observer ``reader``, at
        ``signed_at`` (PS3.3 C.17.2; IHE AIR).
    """

    volume: Volume
    source_paths: Callable[[], Sequence[str | Path]]
    out_dir: Path
    formats: tuple[str, ...]
    reader: str = ""
    findings: tuple[ReviewedFinding, ...] = ()
    provenances: Mapping[str, Provenance] = field(default_factory=dict)
    explanations: Mapping[str, Explanation] = field(default_factory=dict)
    plugin_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    audit: tuple[AuditEvent, ...] = ()
    findings_text: str = ""
    impression: str = ""
    language: str = "en"
    organization: str = ""
    anonymize: bool = False
    sign: bool = False
    signed_at: str = ""


@dataclass(frozen=True, eq=False)
class ReportOutcome:
    """What :func:`export_reviewed` made: the report model and the files written."""

    model: ReportModel
    result: ExportResult

    def file_names(self) -> list[str]:
        """The written files' names (de-identified image copies counted as ``images/``)."""
        names = [path.name for path in self.result.files.values()]
        return names + ([f"images/ ({len(self.result.images)})"] if self.result.images else [])


def build_model(request: ReportRequest, sources: SourceImages) -> ReportModel:
    """The report model of ``request`` (worker thread: copies the findings' masks)."""
    volume, reader = request.volume, request.reader.strip()
    findings = []
    for finding in request.findings:
        reported = reported_finding(
            finding,
            request.provenances[finding.job_id],
            volume,
            reader or "UNKNOWN",
            request.plugin_names,
        )
        explanation = request.explanations.get(finding.id)
        if explanation is not None and finding.status is ReviewStatus.ACCEPTED:
            reported = replace(reported, explanation=explanation)
        findings.append(reported)
    model = ReportModel(
        study=StudyInfo.from_dataset(sources.datasets[0]),
        reader=reader,
        organization=request.organization,
        findings=findings,
        measurements=measurement_records(request.measurements, volume),
        findings_text=request.findings_text,
        impression=request.impression,
        language=request.language,
        audit=list(request.audit),
    )
    if request.sign:
        model.finalize(reader, request.signed_at or None)
    return model


def export_reviewed(
    request: ReportRequest, progress: Callable[[str], None] | None = None
) -> ReportOutcome:
    """Build the report of ``request`` and write it into ``request.out_dir`` (atomically).

    Raises
    ------
    MedviewError
        One sentence: unknown format, signing without a reader, unreadable source images,
        a folder that cannot be created or written (with its path).
    """
    formats = parse_formats(request.formats)
    if request.sign and not request.reader.strip():
        raise MedviewError("signing the report needs the reader's name")
    say = progress or (lambda _text: None)
    check_writable(Path(request.out_dir))
    say("reading the source images")
    sources = SourceImages.read(request.volume, request.source_paths())
    model = build_model(request, sources)
    try:
        result = export_report(
            model, sources, request.out_dir, formats, anonymize=request.anonymize, progress=say
        )
    except OSError as exc:  # e.g. the folder cannot be created in a read-only parent
        reason = exc.strerror or type(exc).__name__
        raise MedviewError(f"cannot write the report there ({reason})", request.out_dir) from None
    return ReportOutcome(model, result)


def check_writable(folder: Path) -> None:
    """Refuse an unwritable target before building anything, naming the folder (rule 5):
    otherwise the first file's temporary name would be the one named."""
    if folder.exists() and not folder.is_dir():
        raise MedviewError("exists and is not a folder", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Named like a temp file of atomic_write_files, so that a probe left by a kill is
        # swept like one (issue 11, D1).
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".medview-probe.", suffix=".part"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise MedviewError(
            f"cannot write the report into this folder ({reason}); choose another", folder
        ) from None
