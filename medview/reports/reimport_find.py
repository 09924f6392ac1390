"""Which SR and SEG objects of a study belong to the series on screen, and their Results.

Issue 8, "Re-import". The study database indexes SR and SEG instances like any other
(:meth:`~medview.dicom.index.StudyDatabase.study_instances`); this module reads the few of
one study and keeps those that name the series (a SEG's Referenced Series Sequence, PS3.3
C.8.20.1; an SR's evidence sequences, C.17.2.3) or share its Frame of Reference (PS3.3
C.7.4.1: the same patient space, so their LPS coordinates apply). Each TID 1500 SR becomes
one :class:`~medview.ai.api.Result` (with the masks of the SEG it references); a SEG no SR
refers to becomes its own Result, one finding per segment. Qt-free; runs on a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medview.ai.api import API_VERSION, Finding, Provenance, Result
from medview.core.errors import MedviewError
from medview.dicom.header import FrameGeometry
from medview.dicom.importer import REPORT_OBJECT_CLASSES, SEGMENTATION_CLASS
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.reports.reimport import ImportedReport, read_sr
from medview.reports.reimport_result import masks_overlay, to_result
from medview.reports.reimport_seg import (
    ImportedSegmentation,
    read_complete,
    read_seg,
    referenced_series,
)

log = logging.getLogger("medview.reports.reimport")


@dataclass(frozen=True)
class ReportObject:
    """An SR or SEG file of a study, with what it refers to (headers only)."""

    path: Path
    kind: str  # "sr" or "seg"
    sop_instance_uid: str
    referenced_series: tuple[str, ...]
    frame_of_reference_uid: str = ""

    def refers_to(self, volume: Volume) -> bool:
        meta = volume.meta
        if meta.series_uid and meta.series_uid in self.referenced_series:
            return True
        ours = meta.frame_of_reference_uid
        return bool(ours and self.frame_of_reference_uid == ours)


@dataclass
class ImportedJob:
    """One imported object as the AI panel lists it."""

    title: str
    result: Result
    source: Path
    warnings: list[str] = field(default_factory=list)


def describe(path: str | Path) -> ReportObject:
    """What an SR or SEG file refers to (its header and evidence, not its frames).

    Raises
    ------
    DicomLoadError
        Unreadable or truncated (one line naming the file).
    """
    path = Path(path)
    ds = read_complete(path, "report object", stop_before_pixels=True)
    kind = "seg" if str(ds.get("SOPClassUID", "")) == SEGMENTATION_CLASS else "sr"
    return ReportObject(
        path, kind, str(ds.get("SOPInstanceUID", "")), referenced_series(ds),
        str(ds.get("FrameOfReferenceUID", "") or ""),
    )  # fmt: skip


def objects_for(database: StudyDatabase, volume: Volume) -> tuple[list[ReportObject], list[str]]:
    """The study's SR and SEG objects that refer to ``volume``'s series or its space, and
    one line for each that could not be read."""
    if not volume.meta.study_uid:
        return [], []
    found, errors = [], []
    for row in database.study_instances(volume.meta.study_uid, REPORT_OBJECT_CLASSES):
        if not Path(row["path"]).exists():
            continue  # moved or deleted since the import; the browser says so when opened
        try:
            found.append(describe(row["path"]))
        except MedviewError as err:
            errors.append(str(err))
    return [o for o in found if o.refers_to(volume)], errors


def _title(kind: str, date: str, who: str) -> str:
    when = f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else ""
    return ", ".join(p for p in (f"{kind} (imported) – {when}".rstrip(" –"), who) if p)


def import_for_volume(
    volume: Volume,
    objects: Sequence[ReportObject],
    *,
    planes: Mapping[str, FrameGeometry] | None = None,
) -> tuple[list[ImportedJob], list[str]]:
    """Read ``objects`` onto ``volume``: (jobs for the review, one-line errors).

    A broken object is reported in the errors (its own one line) and the others still come.
    """
    errors: list[str] = []
    segs: dict[str, ImportedSegmentation] = {}
    for obj in (o for o in objects if o.kind == "seg"):
        try:
            seg = read_seg(obj.path, volume, planes=planes)
        except MedviewError as err:
            errors.append(str(err))
            continue
        segs[seg.sop_instance_uid] = seg
    jobs: list[ImportedJob] = []
    used: set[str] = set()
    for obj in (o for o in objects if o.kind == "sr"):
        try:
            report = read_sr(obj.path, volume, segmentations=segs.values(), planes=planes)
        except MedviewError as err:
            errors.append(str(err))
            continue
        if not report.findings:
            log.info("%s: no finding on this series", obj.path)
            continue
        referenced = [f.segment[0] for f in report.findings if f.segment]
        seg = next((segs[uid] for uid in referenced if uid in segs), None)
        used.update(referenced)
        jobs.append(ImportedJob(_sr_title(report), to_result(report, volume, seg), obj.path,
                                list(report.warnings)))  # fmt: skip
    for uid, seg in segs.items():
        if uid not in used and any(s.voxel_count for s in seg.segments):
            title = _title(
                "Segmentation", seg.content_date, seg.content_creator or seg.manufacturer
            )
            jobs.append(ImportedJob(title, seg_result(seg, volume), seg.path, list(seg.warnings)))
    return jobs, errors


def _sr_title(report: ImportedReport) -> str:
    return _title("Report", report.content_date, report.observer)


def seg_result(seg: ImportedSegmentation, volume: Volume) -> Result:
    """A SEG alone as a Result: one finding per non-empty segment (centre = centroid)."""
    findings = []
    for segment in seg.segments:
        if not segment.voxel_count:
            continue
        zyx = np.argwhere(segment.mask)
        volume_mm3 = segment.voxel_count * volume.voxel_volume_mm3()
        findings.append(
            Finding.from_voxel_box(
                volume, segment.label or f"segment {segment.number}", 1.0,
                zyx.min(axis=0), zyx.max(axis=0), center_zyx=zyx.mean(axis=0),
                mask=volume.with_array(segment.mask.astype(np.uint8)),
                code=segment.property_type, measurements={"volume_mm3": volume_mm3},
            )
        )  # fmt: skip
    first = next((s for s in seg.segments if s.algorithm_name), None)
    source = f"imported from SEG {seg.sop_instance_uid}, " + (
        " ".join(p for p in (seg.manufacturer, seg.software) if p) or "unknown maker"
    )
    provenance = Provenance(
        job_id=f"seg-{seg.sop_instance_uid}",
        plugin_id=first.algorithm_name if first else "imported",
        plugin_version=first.algorithm_version if first else "", api_version=API_VERSION,
        weights_sha256={}, parameters={}, device="", device_requested="", mixed_precision=False,
        versions={"imported_from": source}, input_series_uid=volume.meta.series_uid,
        input_study_uid=volume.meta.study_uid, started="", finished="", seconds=0.0,
        outcome="imported",
    )  # fmt: skip
    return Result(
        findings=tuple(findings),
        overlays=(masks_overlay(seg, volume),),
        metadata={"source": source, "warnings": list(seg.warnings)},
        provenance=provenance,
    )


def import_for_series(
    database: StudyDatabase, volume: Volume
) -> tuple[list[ImportedJob], list[str]]:
    """:func:`objects_for` then :func:`import_for_volume` (worker thread).

    When the volume's slices are not one per source image (a regularised grid), the source
    images' planes are read from their headers so SCOORD regions and SEG frames without
    positions still land where they were drawn.
    """
    objects, errors = objects_for(database, volume)
    if not objects:
        return [], errors
    planes = None
    if len(volume.meta.source_sop_uids) != volume.shape[0] and volume.meta.series_uid:
        from medview.dicom.scan import read_headers

        scan = read_headers(database.series_paths(volume.meta.series_uid), workers=1)
        planes = {h.sop_instance_uid: h.geometry for h in scan.headers}
    jobs, more = import_for_volume(volume, objects, planes=planes)
    return jobs, errors + more
