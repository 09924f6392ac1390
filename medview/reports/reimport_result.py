"""Re-imported reports as :class:`medview.ai.api.Result` objects the review takes (issue 8).

Each finding of a TID 1500 report (:mod:`.reimport`) becomes a :class:`Finding`: label (the
SEG segment label, else the finding type's meaning), the medview names of its measurements
(``diameter_mm``, ``volume_mm3``, ``mean_hu``; others by concept and unit), its box (the
mask's voxel corners, the region's extent, or the long axis around a point) and mask. The
provenance says where it came from ("imported from SR <UID>, <manufacturer> <software>"),
with the first AI group's algorithm (TID 4019) as plugin and version.
"""

from __future__ import annotations

import re

import numpy as np

from medview.ai.api import API_VERSION, Finding, Overlay, Provenance, Result
from medview.imaging.volume import Volume
from medview.reports.reimport import (
    NAMED_MEASUREMENTS,
    ImportedFinding,
    ImportedMeasurement,
    ImportedReport,
)
from medview.reports.reimport_seg import ImportedSegmentation


def _key(measurement: ImportedMeasurement) -> str:
    text = re.sub(r"[^a-z0-9]+", "_", measurement.concept[2].lower()).strip("_") or "value"
    unit = re.sub(r"[^a-z0-9]+", "", (measurement.unit[0] if measurement.unit else "").lower())
    return f"{text}_{unit}" if unit and unit != "1" else text


def _finding(imported: ImportedFinding, volume: Volume) -> Finding:
    measurements: dict[str, float] = {}
    for m in imported.measurements:  # the named ones get medview's names below
        if (m.concept[1], m.concept[0]) not in NAMED_MEASUREMENTS:
            measurements.setdefault(_key(m), m.value)
    for name, value in (("diameter_mm", imported.long_axis_mm),
                        ("volume_mm3", imported.volume_mm3), ("mean_hu", imported.mean_hu)):  # fmt: skip
        if value is not None:
            measurements[name] = float(value)
    label = (
        imported.label
        or (imported.finding_type[2].lower() if imported.finding_type else "")
        or imported.tracking_id
        or "finding"
    )
    # A finding without a score (a reader's own, or a tool that gives none) shows 1.0:
    # the report asserts it; ``metadata["findings"]`` keeps the None.
    score = imported.score if imported.score is not None else 1.0
    extra = {"code": imported.finding_type, "measurements": measurements}
    centre = np.asarray(imported.center_lps_mm)
    if imported.mask is not None:
        zyx = np.argwhere(imported.mask)
        return Finding.from_voxel_box(
            volume, label, score, zyx.min(axis=0), zyx.max(axis=0),
            center_zyx=volume.lps_to_zyx(centre),
            mask=volume.with_array(imported.mask.astype(np.uint8)), **extra,
        )  # fmt: skip
    if imported.region_lps_mm is not None and len(imported.region_lps_mm) > 1:
        low, high = imported.region_lps_mm.min(axis=0), imported.region_lps_mm.max(axis=0)
    else:
        half = (imported.long_axis_mm or 0.0) / 2.0
        low, high = centre - half, centre + half
    low, high = np.minimum(low, centre), np.maximum(high, centre)
    return Finding(label, score, tuple(centre), (tuple(low), tuple(high)), tuple(high - low),
                   **extra)  # fmt: skip


def source_sentence(report: ImportedReport) -> str:
    """The provenance sentence: imported from SR <SOP Instance UID>, <maker> <software>."""
    maker = " ".join(p for p in (report.manufacturer, report.software) if p) or "unknown maker"
    return f"imported from SR {report.sop_instance_uid}, {maker}"


def to_result(
    report: ImportedReport, volume: Volume, segmentation: ImportedSegmentation | None = None
) -> Result:
    """The report's findings as a :class:`Result` the review and the AI panel take.

    The provenance names the source (``versions["imported_from"]``), the algorithm of the
    first AI group (TID 4019) as plugin and version, and the report's date as the job's
    time; ``segmentation`` (the SEG its groups reference) gives the masks overlay.
    """
    findings = tuple(_finding(f, volume) for f in report.findings)
    first_ai = next((f for f in report.findings if f.algorithm_name), None)
    device = report.device
    plugin_id = "imported"
    if first_ai is not None:
        model = device.get("device_model", "")
        named = device.get("device_name", "")
        plugin_id = (
            named
            if named and model.startswith(first_ai.algorithm_name)
            else first_ai.algorithm_name
        )
    when = _iso(report.content_date, report.content_time)
    parameters = (
        dict(p.partition("=")[::2] for p in first_ai.algorithm_parameters) if first_ai else {}
    )
    provenance = Provenance(
        job_id=f"sr-{report.sop_instance_uid}", plugin_id=plugin_id,
        plugin_version=first_ai.algorithm_version if first_ai else "", api_version=API_VERSION,
        weights_sha256={}, parameters=parameters, device="", device_requested="",
        mixed_precision=False,
        versions={"imported_from": source_sentence(report),
                  **({"device_uid": device["device_uid"]} if "device_uid" in device else {})},
        input_series_uid=volume.meta.series_uid, input_study_uid=volume.meta.study_uid,
        started=when, finished=when, seconds=0.0, outcome="imported",
    )  # fmt: skip
    overlays = () if segmentation is None else (masks_overlay(segmentation, volume),)
    metadata = {
        "source": source_sentence(report),
        "sr_sop_instance_uid": report.sop_instance_uid,
        "verification_flag": report.verification_flag,
        "observer": report.observer,
        "warnings": list(report.warnings),
        "findings": [
            {"tracking_id": f.tracking_id, "tracking_uid": f.tracking_uid, "score": f.score,
             "region": f.region_type, "sites": [list(s) for s in f.finding_sites],
             "evaluations": [[list(c), list(v) if isinstance(v, tuple) else v]
                             for c, v in f.evaluations],
             "algorithm": [f.algorithm_name, f.algorithm_version]}
            for f in report.findings
        ],
    }  # fmt: skip
    return Result(findings=findings, overlays=overlays, metadata=metadata, provenance=provenance)


def masks_overlay(segmentation: ImportedSegmentation, volume: Volume) -> Overlay:
    """Every segment of ``segmentation`` as one 0/1 map on ``volume``'s grid."""
    union = np.zeros(volume.shape, dtype=np.float32)
    for segment in segmentation.segments:
        union[segment.mask] = 1.0
    name = f"SEG {segmentation.content_label or segmentation.sop_instance_uid[-8:]}"
    return Overlay(name, volume.with_array(union), "masks of the imported segmentation", (0.0, 1.0))


def _iso(date: str, time: str) -> str:
    if len(date) != 8 or not date.isdigit():
        return ""
    text = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    digits = time.split(".")[0]
    if len(digits) >= 4 and digits.isdigit():
        text += f"T{digits[:2]}:{digits[2:4]}" + (f":{digits[4:6]}" if len(digits) >= 6 else "")
    return text
