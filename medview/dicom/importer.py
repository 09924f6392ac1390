"""Import into the local database: scan, optionally copy into the managed store, index.

The user's files are never moved or modified; with ``copy=True`` they are copied (atomically)
into the store under the data directory and the copies are what the database references.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from medview.core.paths import AppDirs, app_dirs
from medview.dicom.header import InstanceHeader
from medview.dicom.index import StudyDatabase
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

_UID_SAFE = re.compile(r"^[0-9.]{1,64}$")
#: Objects that describe a study's images rather than being images to view: Segmentation
#: (PS3.3 A.51) and the SR classes that carry TID 1500 (A.35.3 Comprehensive, A.35.13
#: Comprehensive 3D, A.35.2 Enhanced). They are indexed like any instance, so re-import
#: (:mod:`medview.reports.reimport_find`, issue 8) finds them by study.
SEGMENTATION_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
SR_CLASSES = frozenset(
    {"1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.33",
     "1.2.840.10008.5.1.4.1.1.88.22"}
)  # fmt: skip
REPORT_OBJECT_CLASSES = frozenset({SEGMENTATION_CLASS, *SR_CLASSES})


@dataclass
class ImportSummary:
    files_seen: int = 0
    instances_added: int = 0
    instances_known: int = 0
    patients_added: int = 0
    studies: int = 0
    series: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The headers imported (with their final paths), for callers that go on to load them.
    headers: list[InstanceHeader] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {
            "files_seen": self.files_seen,
            "instances_added": self.instances_added,
            "instances_already_known": self.instances_known,
            "patients_added": self.patients_added,
            "studies": self.studies,
            "series": self.series,
            "skipped_non_dicom": self.skipped,
            "errors": [{"path": p, "reason": r} for p, r in self.errors],
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        }


def import_paths(
    paths: Iterable[str | Path],
    database: StudyDatabase,
    *,
    copy: bool = False,
    dirs: AppDirs | None = None,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], None] | None = None,
) -> ImportSummary:
    """Import files, folders, zip archives or DICOMDIRs; return what happened."""
    started = time.perf_counter()
    dirs = dirs or app_dirs()
    scan = scan_paths(
        paths,
        extract_root=dirs.store / "unzipped",
        workers=workers,
        progress=(lambda f: progress(0.9 * f)) if progress else None,
        cancel=cancel,
    )
    headers = scan.headers
    if copy:
        headers = [_copy_into_store(h, dirs.store) for h in headers]
    added = database.add(headers)
    groups = group_series(headers)
    warnings = []
    for group in groups:
        if {h.sop_class_uid for h in group.headers} <= REPORT_OBJECT_CLASSES:
            continue  # a SEG's frames cover only the slices its masks touch: no "gaps" warning
        name = group.first.series_description or group.series_uid
        for warning in group.warnings + [w for c in group.candidates for w in c.warnings]:
            warnings.append(f"series {name}: {warning}")
    if progress:
        progress(1.0)
    return ImportSummary(
        files_seen=scan.files_seen,
        instances_added=added.new_instances,
        instances_known=added.known_instances,
        patients_added=added.new_patients,
        studies=len({h.study_uid for h in headers}),
        series=len(groups),
        skipped=len(scan.skipped),
        errors=scan.errors,
        warnings=list(dict.fromkeys(warnings)),
        seconds=time.perf_counter() - started,
        headers=headers,
    )


def _safe_part(uid: str) -> str:
    """A UID as a file-name part; anything that is not a plain UID is hashed (no '../')."""
    if _UID_SAFE.match(uid):
        return uid
    import hashlib

    return "x" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:32]


def _copy_into_store(header: InstanceHeader, store: Path) -> InstanceHeader:
    target = (
        store
        / _safe_part(header.study_uid)
        / _safe_part(header.series_uid)
        / f"{_safe_part(header.sop_instance_uid)}.dcm"
    )
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        shutil.copyfile(header.path, partial)
        partial.replace(target)
    return replace(header, path=str(target))
