"""``medview report``: a structured report (DICOM SR and SEG, PDF, JSON) without the GUI.

PATH is imported like ``medview view`` / ``medview run`` do; each ``--results DIR`` is the
output folder of ``medview run``. Every finding of a ``result.json`` counts as accepted by
``--reader`` unless a ``review.json`` beside it says otherwise (its format:
:mod:`medview.reports.results`). The reader's saved measurements of the study (the viewer's
session file) are reported too. ``--finalize`` signs the report (SR Verification Flag
VERIFIED, verifying observer = ``--reader``); without it the report is UNVERIFIED (IHE AIR).
Every decision is also appended to ``<data>/review-audit.jsonl`` with its job id.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from medview.core.errors import MedviewError

log = logging.getLogger("medview.cli.report")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``report`` on the ``medview`` parser's subcommands."""
    report = commands.add_parser(
        "report", help="export a structured report (DICOM SR, SEG, PDF, JSON) of AI results"
    )
    report.add_argument(
        "path", metavar="PATH", type=Path, help="the study: file, folder, zip or DICOMDIR"
    )
    report.add_argument(
        "--results", metavar="DIR", type=Path, action="append", required=True,
        help="output folder of `medview run` (repeatable)",
    )  # fmt: skip
    report.add_argument("--out", metavar="DIR", type=Path, required=True, help="target folder")
    report.add_argument(
        "--format",
        default="sr,seg,pm,pdf,json",
        help="comma-separated: sr, seg, pm (parametric maps of saliency explanations), pdf, json",
    )
    report.add_argument("--reader", default="", help="the reader's name (DICOM PN: Family^Given)")
    report.add_argument("--organization", default="", help="the reader's organisation")
    report.add_argument("--series", default="", help="Series Instance UID (default: the results')")
    report.add_argument(
        "--language", choices=("en", "zh"), default=None, help="PDF language (default: settings)"
    )
    report.add_argument("--impression", default="", help="impression text")
    report.add_argument("--findings-text", default="", help="free-text findings")
    report.add_argument(
        "--anonymize", action="store_true", help="de-identify (PS3.15 Annex E basic profile)"
    )
    report.add_argument(
        "--retain-dates", choices=("full", "modified"), default=None,
        help="with --anonymize: Retain Longitudinal Temporal Information, dates kept (full) "
        "or all shifted by one offset (modified)",
    )  # fmt: skip
    report.add_argument(
        "--clean-descriptors", action="store_true",
        help="with --anonymize: keep descriptions and comments, cleaned (Clean Descriptors)",
    )  # fmt: skip
    report.add_argument(
        "--accept-burned-in", action="store_true",
        help="with --anonymize: export ultrasound, secondary capture and Burned In Annotation "
        "YES images although their pixels may show the patient's identity",
    )  # fmt: skip
    report.add_argument("--finalize", action="store_true", help="sign: VERIFIED by --reader")
    report.set_defaults(handler=cmd_report)


def _language(requested: str | None) -> str:
    if requested:
        return requested
    from medview.model.report_export import report_language
    from medview.model.settings import load_settings

    try:
        return report_language(load_settings().language)
    except MedviewError:
        return "en"


def _results_series(folders: list[Path]) -> str:
    for folder in folders:
        try:
            document = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # load_results names the problem later
        series = (document.get("input") or {}).get("series_uid")
        if series:
            return str(series)
    return ""


def _load(path: Path, series_uid: str):
    """Import ``path`` and load the series; returns (volume, its file paths)."""
    from medview.dicom.loader import load_candidate
    from medview.model.opening import import_and_choose

    candidate = import_and_choose(path, series_uid)
    return load_candidate(candidate), [s.header.path for s in candidate.slices]


def _measurements(volume) -> list[dict]:
    from medview.core.paths import app_dirs
    from medview.model.measurements import load_session, measurement_records, session_path

    if not volume.meta.study_uid:
        return []
    path = session_path(app_dirs(), volume.meta.study_uid)
    if not path.exists():
        return []
    try:
        return measurement_records(load_session(path), volume)
    except MedviewError as err:
        log.warning("measurements not reported: %s", err)
        return []


def _deid_options(args: argparse.Namespace):
    from medview.reports.annex_e import Options

    chosen = args.retain_dates or args.clean_descriptors or args.accept_burned_in
    if chosen and not args.anonymize:
        raise MedviewError(
            "--retain-dates, --clean-descriptors and --accept-burned-in need --anonymize"
        )
    return Options(retain_dates=args.retain_dates or "", clean_descriptors=args.clean_descriptors)


def cmd_report(args: argparse.Namespace) -> int:
    from medview.ai.audit import AuditLog
    from medview.core.paths import app_dirs
    from medview.model.report_export import REVIEW_AUDIT_NAME, append_audit, check_writable
    from medview.reports.export import export_report, parse_formats
    from medview.reports.model import ReportModel, StudyInfo
    from medview.reports.results import load_results
    from medview.reports.sources import SourceImages

    formats = parse_formats(args.format)
    options = _deid_options(args)
    reader = args.reader.strip()
    if args.finalize and not reader:
        raise MedviewError("--finalize needs --reader (the name of the reader who signs)")
    for folder in args.results:
        if not (folder / "result.json").is_file():
            raise MedviewError("no result.json: not a `medview run` output folder", folder)
    check_writable(args.out)  # before the import and load: one sentence, not a traceback
    volume, paths = _load(args.path, args.series or _results_series(args.results))
    sources = SourceImages.read(volume, paths)
    study = StudyInfo.from_dataset(sources.datasets[0])
    model = ReportModel(
        study=study,
        reader=reader,
        organization=args.organization,
        findings_text=args.findings_text,
        impression=args.impression,
        language=_language(args.language),
        measurements=_measurements(volume),
    )
    warnings = []
    for folder in args.results:
        loaded = load_results(folder, volume, reader or "UNKNOWN", study.study_uid)
        model.findings.extend(loaded.findings)
        model.audit.extend(loaded.audit)
        warnings.extend(loaded.warnings)
    if args.finalize:
        model.finalize(reader)
    result = export_report(
        model, sources, args.out, formats, anonymize=args.anonymize, options=options,
        accept_burned_in=args.accept_burned_in,
    )  # fmt: skip
    audit = AuditLog(app_dirs().ensure().data / REVIEW_AUDIT_NAME)
    provenance = {f.id: f.algorithm.provenance for f in model.findings if f.algorithm}
    append_audit(audit, model.audit, provenance, study.study_uid)
    for warning in [*warnings, *result.warnings]:
        print(f"warning: {warning}")
    reported = len(model.reported_findings())
    state = "VERIFIED" if model.verified else "UNVERIFIED"
    print(f"{reported} finding(s) reported ({state}); {len(model.measurements)} measurement(s)")
    for kind, path in result.files.items():
        print(f"{kind}: {path}")
    if result.images:
        print(f"images: {len(result.images)} de-identified file(s) in {result.images[0].parent}")
    return 0
