"""``medview info``: describe DICOM files without importing them.

Produces one JSON-ready report (patients -> studies -> series -> volumes) and its text form.
With ``load=True`` every candidate volume is decoded, adding its value range and load time;
a volume that fails to load carries its one-line reason instead of stopping the report.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from medview.core.errors import DicomLoadError, MedviewError
from medview.dicom.header import sop_class_name
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import Candidate, SeriesGroup, group_series


def describe(paths: Iterable[str | Path], load: bool = False, workers: int | None = None) -> dict:
    """Scan ``paths`` and report what medview finds; raises NoDicomFoundError if nothing."""
    with tempfile.TemporaryDirectory(prefix="medview-info-") as unzip_root:
        scan = scan_paths(paths, extract_root=Path(unzip_root), workers=workers)
        groups = group_series(scan.headers)
        patients: dict[tuple[str, str], dict] = {}
        for group in groups:
            first = group.first
            patient = patients.setdefault(
                (first.patient_id, first.patient_name),
                {"patient_name": first.patient_name, "patient_id": first.patient_id, "studies": {}},
            )
            study = patient["studies"].setdefault(
                first.study_uid,
                {
                    "study_uid": first.study_uid,
                    "study_date": first.study_date,
                    "description": first.study_description,
                    "accession_number": first.accession_number,
                    "series": [],
                },
            )
            study["series"].append(_describe_series(group, load, workers))
    for patient in patients.values():
        patient["studies"] = list(patient["studies"].values())
    return {
        "patients": list(patients.values()),
        "files_seen": scan.files_seen,
        "skipped_non_dicom": [{"path": p, "reason": r} for p, r in scan.skipped],
        "errors": [{"path": p, "reason": r} for p, r in scan.errors],
    }


def _describe_series(group: SeriesGroup, load: bool, workers: int | None) -> dict:
    first = group.first
    entry = {
        "series_uid": group.series_uid,
        "modality": first.modality,
        "series_number": first.series_number,
        "description": first.series_description,
        "instances": len(group.headers),
        "sop_classes": group.sop_classes,
        "transfer_syntaxes": sorted({sop_class_name(h.transfer_syntax_uid) for h in group.headers}),
        # A file's own problems (e.g. truncated, issue 11 R2) are said once per series, with
        # the file: a non-image object has no volume whose warnings would carry them.
        "warnings": list(
            dict.fromkeys(
                [*group.warnings, *(f"{h.path}: {w}" for h in group.non_image for w in h.warnings)]
            )
        ),
        "volumes": [_describe_candidate(c, load, workers) for c in group.candidates],
        "non_image": [
            {"sop_instance_uid": h.sop_instance_uid, "sop_class": sop_class_name(h.sop_class_uid)}
            for h in group.non_image
        ],
    }
    return entry


def _describe_candidate(candidate: Candidate, load: bool, workers: int | None) -> dict:
    shape = candidate.shape
    entry: dict = {
        "label": candidate.label,
        "kind": candidate.kind,
        "shape_zyx": list(shape) + ([3] if candidate.first.samples_per_pixel == 3 else []),
        "spacing_mm": [round(s, 6) for s in candidate.spacing],
        "origin_lps": [round(o, 4) for o in candidate.origin],
        "orientation": candidate.orientation,
        "plane": candidate.plane,
        "photometric": candidate.first.photometric,
        "warnings": list(candidate.warnings),
    }
    if load:
        started = time.perf_counter()
        try:
            volume = load_candidate(candidate, workers=workers)
        except DicomLoadError as exc:
            entry["load_error"] = str(exc)
        except MedviewError as exc:
            entry["load_error"] = str(exc)
        else:
            low, high, mean = volume.value_range()
            entry["load_seconds"] = round(time.perf_counter() - started, 4)
            entry["shape_zyx"] = list(volume.array.shape)
            entry["value_range"] = {
                "min": round(low, 3),
                "max": round(high, 3),
                "mean": round(mean, 3),
                "units": volume.meta.units,
            }
            entry["warnings"] = list(volume.meta.warnings)
    return entry


def format_text(report: dict) -> str:
    """Human-readable form of :func:`describe`'s report."""
    lines: list[str] = []
    for patient in report["patients"]:
        lines.append(
            f"Patient {patient['patient_name'] or '(no name)'}  ID {patient['patient_id'] or '-'}"
        )
        for study in patient["studies"]:
            lines.append(
                f"  Study {study['study_date'] or '-'}  {study['description'] or '(no description)'}"
                f"  accession {study['accession_number'] or '-'}"
            )
            lines.append(f"    UID {study['study_uid']}")
            for series in study["series"]:
                lines.extend(_series_lines(series))
    skipped = report["skipped_non_dicom"]
    if skipped:
        lines.append(f"Skipped {len(skipped)} non-DICOM file(s)")
    for error in report["errors"]:
        lines.append(f"Unreadable: {error['path']}: {error['reason']}")
    return "\n".join(lines)


def _series_lines(series: dict) -> list[str]:
    lines = [
        f"    Series {series['series_number'] if series['series_number'] is not None else '-'}"
        f"  {series['modality'] or '?'}  {series['description'] or '(no description)'}"
        f"  {series['instances']} instance(s)",
        f"      UID {series['series_uid']}",
        f"      SOP class: {', '.join(series['sop_classes'])}",
        f"      Transfer syntax: {', '.join(series['transfer_syntaxes'])}",
    ]
    lines.extend(f"      warning: {w}" for w in series["warnings"])
    for volume in series["volumes"]:
        shape = "x".join(str(n) for n in volume["shape_zyx"])
        spacing = " x ".join(f"{s:g}" for s in volume["spacing_mm"])
        label = f" ({volume['label']})" if volume["label"] else ""
        lines.append(
            f"      {volume['kind'].capitalize()}{label}: shape (z,y,x) {shape}, spacing (x,y,z) "
            f"{spacing} mm, orientation {volume['orientation']} ({volume['plane']})"
        )
        if "value_range" in volume:
            vr = volume["value_range"]
            units = f" {vr['units']}" if vr["units"] else ""
            lines.append(
                f"        values {vr['min']:g} to {vr['max']:g}{units}, mean {vr['mean']:.1f};"
                f" loaded in {volume['load_seconds']:.3f} s"
            )
        if "load_error" in volume:
            lines.append(f"        cannot load: {volume['load_error']}")
        lines.extend(f"        warning: {w}" for w in volume["warnings"])
    for item in series["non_image"]:
        lines.append(f"      Non-image object: {item['sop_class']} {item['sop_instance_uid']}")
    return lines
