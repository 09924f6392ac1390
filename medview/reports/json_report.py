"""The report as JSON: the same content as SR, SEG and PDF, machine-readable.

The schema (``"format": "medview.report"``, ``"schema_version": 1``) is documented in
``medview/reports/README.md``; a later version only adds keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from medview import __version__
from medview.reports.model import ReportModel

FORMAT = "medview.report"
SCHEMA_VERSION = 1


def report_document(
    model: ReportModel,
    *,
    objects: Mapping[str, Any] | None = None,
    segment_numbers: Mapping[str, int] | None = None,
    anonymized: bool = False,
) -> dict[str, Any]:
    """The JSON document of ``model``.

    Parameters
    ----------
    objects
        What else was exported: ``{"sr": {"file", "sop_instance_uid", "series_uid"}, ...}``.
    segment_numbers
        Finding id -> segment number in the exported SEG.
    """
    segment_numbers = segment_numbers or {}
    study = model.study
    findings = []
    for finding in model.findings:
        entry = finding.as_dict()
        entry["segment_number"] = segment_numbers.get(finding.id)
        entry["provenance"] = dict(finding.algorithm.provenance) if finding.algorithm else None
        entry["audit"] = [e.as_dict() for e in model.audit_for(finding.id)]
        findings.append(entry)
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "generator": f"medview {__version__}",
        "created": model.created,
        "language": model.language,
        "anonymized": anonymized,
        "coordinates": "patient LPS mm",
        "study": {
            "patient_name": study.patient_name,
            "patient_id": study.patient_id,
            "patient_birth_date": study.patient_birth_date,
            "patient_sex": study.patient_sex,
            "study_instance_uid": study.study_uid,
            "study_date": study.study_date,
            "study_time": study.study_time,
            "study_id": study.study_id,
            "accession_number": study.accession_number,
            "study_description": study.study_description,
            "referring_physician": study.referring_physician,
            "series_instance_uid": study.series_uid,
            "series_description": study.series_description,
            "frame_of_reference_uid": study.frame_of_reference_uid,
            "modality": study.modality,
        },
        "reader": model.reader,
        "organization": model.organization,
        "verification": {
            "flag": "VERIFIED" if model.verified else "UNVERIFIED",
            "verified_by": model.verified_by,
            "verified_at": model.verified_at,
        },
        "findings": findings,
        "measurements": [dict(m) for m in model.measurements],
        "algorithms": [a.as_dict() for a in model.algorithms()],
        "findings_text": model.findings_text,
        "impression": model.impression,
        "intended_use": model.intended_use,
        "audit": [e.as_dict() for e in model.audit],
        "objects": dict(objects or {}),
    }


def report_json(model: ReportModel, **options: Any) -> str:
    """``report_document`` as UTF-8 JSON text (indented, non-ASCII kept)."""
    document = report_document(model, **options)
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
