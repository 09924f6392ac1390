"""Re-import of a TID 1500 Measurement Report (medview's or another tool's) as AI findings.

Issue 8, "Re-import": opening a study that has an SR/SEG shows its findings and masks again.
:func:`read_sr` reads a Comprehensive 3D (or Comprehensive / Enhanced) SR whose root is
PS3.16 TID 1500 "Imaging Measurement Report" and walks its content tree itself, item by
item: highdicom's template classes refuse reports that deviate from the template (a missing
Content Template Sequence, an extra item), and a third-party report must still show what it
can. Per measurement group (TID 1410 planar / TID 1411 volumetric / TID 1501 image-level):

- Tracking Identifier and UID (TID 4108), finding type (DCM 121071) and site (SCT
  363698007), finding category;
- the region: SCOORD3D (PS3.3 C.18.9, patient LPS mm in the Referenced Frame of Reference),
  SCOORD on a referenced image (C.18.6: column/row with (0, 0) the top left corner of the top
  left pixel) mapped through that image's plane with the shared geometry helpers, or a
  Referenced Segment / Segmentation Frame, whose centre is the centroid of the SEG mask
  (:mod:`.reimport_seg`);
- measurements (TID 1419 NUM items with UCUM units: long axis / diameter mm, volume mm3,
  mean attenuation HU, medview's AI score), qualitative evaluations (CODE/TEXT items);
- the algorithm (TID 4019: name, version, parameters).

The observer context (TID 1001: person and device), Verification Flag and Verifying
Observer (PS3.3 C.17.2), manufacturer and software come from the document. Anything else is
skipped with one logged warning per kind; only an unreadable file or one that is not a TID
1500 report raises (:class:`~medview.core.errors.DicomLoadError`, one line naming the file).
:func:`.reimport_result.to_result` turns a report into a :class:`medview.ai.api.Result`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from medview.core.errors import DicomLoadError
from medview.dicom.header import FrameGeometry
from medview.imaging import geometry
from medview.imaging.volume import Volume
from medview.reports.reimport_seg import (
    Code,
    ImportedSegmentation,
    code_of,
    first,
    one_line,
    plane_affine,
    read_complete,
    referenced_series,
)

log = logging.getLogger("medview.reports.reimport")

SR_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.88.34": "Comprehensive 3D SR",
    "1.2.840.10008.5.1.4.1.1.88.33": "Comprehensive SR",
    "1.2.840.10008.5.1.4.1.1.88.22": "Enhanced SR",
}

# Concept names (scheme, value) of PS3.16 that the reader understands.
_REPORT = {("DCM", "126000"), ("LN", "126000")}
_MEASUREMENTS = ("DCM", "126010")
_GROUP = ("DCM", "125007")
_TRACKING_ID, _TRACKING_UID = ("DCM", "112039"), ("DCM", "112040")
_FINDING = ("DCM", "121071")
_FINDING_SITE = {("SCT", "363698007"), ("SRT", "G-C0E3")}
_FINDING_CATEGORY = {("SCT", "276214006"), ("SRT", "R-42018")}
_ALGORITHM = {("DCM", "111001"): "name", ("DCM", "111003"): "version",
              ("DCM", "111002"): "parameters"}  # fmt: skip
_REGION = {("DCM", "111030"), ("DCM", "121231"), ("DCM", "130488")}
_SEGMENT = {("DCM", "121191"), ("DCM", "121214")}
_OBSERVER = {
    ("DCM", "121008"): "person_name", ("DCM", "121009"): "organization",
    ("DCM", "121012"): "device_uid", ("DCM", "121013"): "device_name",
    ("DCM", "121014"): "device_manufacturer", ("DCM", "121015"): "device_model",
}  # fmt: skip
_OBSERVER_TYPE, _DEVICE = ("DCM", "121005"), ("DCM", "121007")
#: Items a group may hold that carry nothing the review shows: skipped without a warning.
_QUIET = {("DCM", "121049"), ("DCM", "121232"), ("DCM", "121233"), ("DCM", "126100"),
          ("DCM", "C2348792"), ("NCIt", "C67447"), ("DCM", "130401"), ("SCT", "370129005"),
          ("DCM", "130400"), ("DCM", "121112"), ("DCM", "126101"), ("DCM", "126102"),
          ("DCM", "130210"), ("DCM", "130211")}  # fmt: skip
_LONG_AXIS = {("SCT", "103339001"), ("SCT", "81827009"), ("SRT", "G-A193"), ("SRT", "M-02550")}
_VOLUME = {("SCT", "118565006"), ("SRT", "G-D705")}
_ATTENUATION = {("DCM", "112031")}
_MEAN = {("SCT", "373098007"), ("SRT", "R-00317")}
_SCORE = {("99MEDVIEW", "AISCORE")}
#: Measurements that :class:`ImportedFinding` names (long axis, volume, mean HU, score).
NAMED_MEASUREMENTS = frozenset(_LONG_AXIS | _VOLUME | _ATTENUATION | _SCORE)
#: UCUM length and volume units -> factor to mm / mm3.
_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "um": 0.001}
_TO_MM3 = {"mm3": 1.0, "cm3": 1000.0, "ml": 1000.0, "mL": 1000.0, "l": 1e6, "L": 1e6}


def _name(item: Dataset) -> tuple[str, str]:
    code = code_of(first(item, "ConceptNameCodeSequence"))
    return (code[1], code[0]) if code else ("", "")


def _meaning(item: Dataset) -> str:
    code = code_of(first(item, "ConceptNameCodeSequence"))
    return code[2] if code else "(no concept name)"


@dataclass(frozen=True)
class ImportedMeasurement:
    """A NUM item: concept, value, UCUM unit, and its derivation (e.g. Mean) if any."""

    concept: Code
    value: float
    unit: Code | None = None
    derivation: Code | None = None


@dataclass(frozen=True, eq=False)
class ImportedFinding:
    """One measurement group of the report, with its region resolved on the volume."""

    tracking_id: str = ""
    tracking_uid: str = ""
    finding_type: Code | None = None
    finding_sites: tuple[Code, ...] = ()
    finding_category: Code | None = None
    region_type: str = ""  # POINT, POLYLINE, POLYGON, ... or "SEGMENT"
    region_lps_mm: np.ndarray | None = None  # (n, 3) points of the region in LPS
    segment: tuple[str, int] | None = None  # (SEG SOP Instance UID, segment number)
    mask: np.ndarray | None = None  # bool (z, y, x) on the volume grid
    center_lps_mm: tuple[float, float, float] | None = None
    measurements: tuple[ImportedMeasurement, ...] = ()
    evaluations: tuple[tuple[Code, Code | str], ...] = ()
    algorithm_name: str = ""
    algorithm_version: str = ""
    algorithm_parameters: tuple[str, ...] = ()
    label: str = ""

    def _value(self, concepts: set, units: Mapping[str, float] | None = None) -> float | None:
        for m in self.measurements:
            if (m.concept[1], m.concept[0]) in concepts:
                if units is None:
                    return m.value
                factor = units.get(m.unit[0] if m.unit else "", None)
                if factor is not None:
                    return m.value * factor
        return None

    @property
    def long_axis_mm(self) -> float | None:
        return self._value(_LONG_AXIS, _TO_MM)

    @property
    def volume_mm3(self) -> float | None:
        return self._value(_VOLUME, _TO_MM3)

    @property
    def mean_hu(self) -> float | None:
        for m in self.measurements:
            derivation = (m.derivation[1], m.derivation[0]) if m.derivation else None
            unit = m.unit[0] if m.unit else ""
            attenuation = (m.concept[1], m.concept[0]) in _ATTENUATION and unit == "[hnsf'U]"
            if attenuation and (derivation is None or derivation in _MEAN):
                return m.value
        return None

    @property
    def score(self) -> float | None:
        value = self._value(_SCORE)
        return None if value is None or not 0.0 <= value <= 1.0 else value


@dataclass(frozen=True, eq=False)
class ImportedReport:
    """A TID 1500 report read back: its document attributes and findings on one volume."""

    path: Path
    sop_instance_uid: str
    series_uid: str
    study_uid: str
    manufacturer: str
    software: str
    content_date: str
    content_time: str
    verification_flag: str
    verifying_observer: str
    person_observer: str
    organization: str
    device: Mapping[str, str]
    referenced_series: tuple[str, ...]
    findings: tuple[ImportedFinding, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def observer(self) -> str:
        """The person observer, else the device's name (for titles)."""
        return self.person_observer or self.device.get("device_name", "") or ""


def _points(item: Dataset) -> np.ndarray:
    data = np.asarray([float(v) for v in item.get("GraphicData", [])], dtype=float)
    width = 3 if item.ValueType == "SCOORD3D" else 2
    if data.size == 0 or data.size % width:
        raise ValueError(f"{data.size} graphic data values for {item.ValueType}")
    return data.reshape(-1, width)


def centre_of(points: np.ndarray) -> np.ndarray:
    """Mean of the distinct vertices (a closed polygon repeats its first one)."""
    if len(points) > 2 and np.allclose(points[0], points[-1]):
        points = points[:-1]
    return points.mean(axis=0)


class _Reader:
    """Walks one SR's content tree; collects findings and warnings."""

    def __init__(
        self,
        path: Path,
        volume: Volume,
        segmentations: Iterable[ImportedSegmentation],
        planes: Mapping[str, FrameGeometry] | None,
    ) -> None:
        self.path = path
        self.volume = volume
        self.segs = {s.sop_instance_uid: s for s in segmentations}
        self.planes = planes or {}
        self.warnings: list[str] = []
        sop_uids = volume.meta.source_sop_uids
        self.slice_of = (
            {uid: k for k, uid in enumerate(sop_uids)} if len(sop_uids) == volume.shape[0] else {}
        )

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            log.warning("%s: %s", self.path.name, text)

    # -- regions ---------------------------------------------------------------------------
    def scoord(self, item: Dataset) -> np.ndarray | None:
        """SCOORD (column, row) on its referenced image -> LPS mm, or None (warned)."""
        image = next((c for c in item.get("ContentSequence", []) if c.ValueType == "IMAGE"), None)
        reference = first(image, "ReferencedSOPSequence") if image is not None else None
        uid = str(reference.get("ReferencedSOPInstanceUID", "")) if reference else ""
        crs = _points(item)
        # PS3.3 C.18.6.1.1: (0, 0) is the top left corner of the top left pixel, so pixel
        # centre index i sits at i + 0.5.
        index = np.column_stack([crs - 0.5, np.zeros(len(crs))])
        plane = self.planes.get(uid)
        if plane is not None and plane.position is not None and plane.orientation is not None:
            return geometry.index_to_lps(plane_affine(plane), index)
        if uid in self.slice_of:
            index[:, 2] = self.slice_of[uid]
            return self.volume.index_to_lps(index)
        self.warn(f"an image region on image {uid or '(none)'} not in this series was skipped")
        return None

    def region(self, item: Dataset) -> tuple[str, np.ndarray] | None:
        try:
            if item.ValueType == "SCOORD3D":
                frame = str(item.get("ReferencedFrameOfReferenceUID", ""))
                ours = self.volume.meta.frame_of_reference_uid
                if frame and ours and frame != ours:
                    self.warn("a region in another frame of reference was skipped")
                    return None
                return str(item.get("GraphicType", "")), _points(item)
            if item.ValueType == "SCOORD":
                points = self.scoord(item)
                return None if points is None else (str(item.get("GraphicType", "")), points)
        except (ValueError, TypeError) as exc:
            self.warn(f"an unreadable region was skipped ({one_line(exc)})")
            return None
        self.warn(f"a region of value type {item.ValueType} was skipped")
        return None

    def segment(self, item: Dataset) -> tuple[str, int] | None:
        reference = first(item, "ReferencedSOPSequence")
        if reference is None:
            self.warn("a segment reference without a referenced object was skipped")
            return None
        numbers = reference.get("ReferencedSegmentNumber")
        if numbers is None:
            self.warn("a segment reference without a segment number was skipped")
            return None
        number = int(
            numbers[0]
            if isinstance(numbers, list | tuple | pydicom.multival.MultiValue)
            else numbers
        )
        return str(reference.get("ReferencedSOPInstanceUID", "")), number

    # -- groups ----------------------------------------------------------------------------
    def algorithm(self, item: Dataset, into: dict) -> None:
        key = _ALGORITHM[_name(item)]
        text = str(item.get("TextValue", "") or "")
        if key == "parameters":
            into.setdefault("algorithm_parameters", []).append(text)
        else:
            into.setdefault(f"algorithm_{key}", text)

    def measurement(self, item: Dataset, into: dict) -> None:
        value_item = first(item, "MeasuredValueSequence")
        if value_item is None or "NumericValue" not in value_item:
            return  # no value (a Numeric Value Qualifier says why, PS3.3 C.18.1)
        derivation = None
        for child in item.get("ContentSequence", []):
            name = _name(child)
            if name == ("DCM", "121401") and child.ValueType == "CODE":
                derivation = code_of(first(child, "ConceptCodeSequence"))
            elif name in _ALGORITHM:
                self.algorithm(child, into)  # TID 1419 may name the algorithm per NUM
        concept = code_of(first(item, "ConceptNameCodeSequence"))
        unit = code_of(first(value_item, "MeasurementUnitsCodeSequence"))
        try:
            number = float(value_item.NumericValue)
        except (TypeError, ValueError):
            self.warn(f"measurement {concept[2] if concept else '?'} has no number; skipped")
            return
        if concept is not None:
            into.setdefault("measurements", []).append(
                ImportedMeasurement(concept, number, unit, derivation)
            )

    def group(self, container: Dataset) -> ImportedFinding | None:
        found: dict = {}
        for item in container.get("ContentSequence", []):
            name, kind = _name(item), item.get("ValueType", "")
            if name == _TRACKING_ID:
                found["tracking_id"] = str(item.get("TextValue", "") or "")
            elif name == _TRACKING_UID:
                found["tracking_uid"] = str(item.get("UID", "") or "")
            elif name == _FINDING and kind == "CODE":
                found["finding_type"] = code_of(first(item, "ConceptCodeSequence"))
            elif name in _FINDING_SITE and kind == "CODE":
                site = code_of(first(item, "ConceptCodeSequence"))
                found.setdefault("finding_sites", []).extend([site] if site else [])
            elif name in _FINDING_CATEGORY and kind == "CODE":
                found["finding_category"] = code_of(first(item, "ConceptCodeSequence"))
            elif name in _ALGORITHM and kind == "TEXT":
                self.algorithm(item, found)
            elif name in _REGION and kind in ("SCOORD", "SCOORD3D"):
                region = self.region(item)
                if region is not None:  # TID 1411 may give one image region per slice
                    found.setdefault("region_type", region[0])
                    found.setdefault("regions", []).append(region[1])
            elif name in _SEGMENT and kind == "IMAGE":
                found["segment"] = self.segment(item)
            elif kind == "NUM":
                self.measurement(item, found)
            elif kind in ("CODE", "TEXT") and item.get("RelationshipType") == "CONTAINS":
                value = (
                    code_of(first(item, "ConceptCodeSequence"))
                    if kind == "CODE"
                    else str(item.get("TextValue", ""))
                )
                concept = code_of(first(item, "ConceptNameCodeSequence"))
                if concept is not None and value:
                    found.setdefault("evaluations", []).append((concept, value))
            elif name not in _QUIET:
                self.warn(f"unknown content '{_meaning(item)}' ({kind}) skipped")
        return self.resolve(found)

    def resolve(self, found: dict) -> ImportedFinding | None:
        """Where the finding is: its region's centre or its segment's mask centroid."""
        mask, centre = None, None
        name = found.get("tracking_id") or "a measurement group"
        segment = found.get("segment")
        if segment is not None:
            seg = self.segs.get(segment[0])
            part = seg.segment(segment[1]) if seg is not None else None
            if part is not None and part.voxel_count:
                mask = part.mask
                centroid_zyx = np.argwhere(mask).mean(axis=0)
                centre = self.volume.zyx_to_lps(centroid_zyx)
                found["region_type"] = "SEGMENT"
                found.setdefault("label", part.label)
            elif "regions" not in found:
                self.warn(f"{name}: its segmentation {segment[0]} #{segment[1]} is not available "
                          "on this series; skipped")  # fmt: skip
                return None
        regions = found.get("regions")
        if centre is None and regions:
            centre = np.mean([centre_of(points) for points in regions], axis=0)
        if centre is None:
            self.warn(f"{name}: no region or segment on this series; skipped")
            return None
        return ImportedFinding(
            tracking_id=found.get("tracking_id", ""),
            tracking_uid=found.get("tracking_uid", ""),
            finding_type=found.get("finding_type"),
            finding_sites=tuple(found.get("finding_sites", ())),
            finding_category=found.get("finding_category"),
            region_type=found.get("region_type", ""),
            region_lps_mm=np.vstack(regions) if regions else None,
            segment=segment,
            mask=mask,
            center_lps_mm=tuple(float(v) for v in centre),  # type: ignore[arg-type]
            measurements=tuple(found.get("measurements", ())),
            evaluations=tuple(found.get("evaluations", ())),
            algorithm_name=found.get("algorithm_name", ""),
            algorithm_version=found.get("algorithm_version", ""),
            algorithm_parameters=tuple(found.get("algorithm_parameters", ())),
            label=found.get("label", ""),
        )


def _observers(root: Dataset) -> tuple[dict[str, str], str, str]:
    """TID 1001 items at the root: (device attributes, person name, organization)."""
    device: dict[str, str] = {}
    person = {"person_name": "", "organization": ""}
    is_device = False
    for item in root.get("ContentSequence", []):
        if item.get("RelationshipType") != "HAS OBS CONTEXT":
            continue
        name = _name(item)
        if name == _OBSERVER_TYPE:
            code = code_of(first(item, "ConceptCodeSequence"))
            is_device = code is not None and (code[1], code[0]) == _DEVICE
            continue
        key = _OBSERVER.get(name)
        if key is None:
            continue
        value = item.get("PersonName") or item.get("TextValue") or item.get("UID") or ""
        if key.startswith("device_") or is_device:
            device[key] = str(value)
        else:
            person[key] = str(value)
    return device, person["person_name"], person["organization"]


def read_sr(
    path: str | Path,
    volume: Volume,
    *,
    segmentations: Iterable[ImportedSegmentation] = (),
    planes: Mapping[str, FrameGeometry] | None = None,
    dataset: Dataset | None = None,
) -> ImportedReport:
    """Read the TID 1500 report at ``path``, its findings placed on ``volume``.

    Parameters
    ----------
    segmentations
        The SEGs its groups may reference (read onto ``volume`` by
        :func:`.reimport_seg.read_seg`): a referenced segment's centre is its mask centroid.
    planes
        SOP Instance UID -> image plane of the source images, for SCOORD regions on images
        that are not one ``k`` slice of ``volume`` (default: ``volume.meta.source_sop_uids``).
    dataset
        The file already read, else it is read from ``path``.

    Raises
    ------
    DicomLoadError
        Unreadable, not an SR, or not a TID 1500 Measurement Report (one line, the file named).
    """
    path = Path(path)
    ds = dataset if dataset is not None else read_complete(path, "structured report")
    if str(ds.get("SOPClassUID", "")) not in SR_CLASSES or "ContentSequence" not in ds:
        raise DicomLoadError("is not a structured report with content", path)
    root_name = _name(ds)
    if root_name not in _REPORT:
        raise DicomLoadError(
            f"is not a TID 1500 measurement report (its root is '{_meaning(ds)}')", path
        )
    reader = _Reader(path, volume, segmentations, planes)
    findings = []
    try:
        for item in ds.ContentSequence:
            if _name(item) == _MEASUREMENTS and item.get("ValueType") == "CONTAINER":
                for group in item.get("ContentSequence", []):
                    if _name(group) == _GROUP and group.get("ValueType") == "CONTAINER":
                        finding = reader.group(group)
                        if finding is not None:
                            findings.append(finding)
                    else:
                        reader.warn(
                            f"unknown content '{_meaning(group)}' in the measurements skipped"
                        )
        device, person, organization = _observers(ds)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise DicomLoadError(f"the report's content is malformed ({one_line(exc)})", path) from None
    verifying = first(ds, "VerifyingObserverSequence")
    software = ds.get("SoftwareVersions", "")
    return ImportedReport(
        path=path,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        software=" ".join(software) if isinstance(software, list | pydicom.multival.MultiValue)
        else str(software or ""),
        content_date=str(ds.get("ContentDate", "") or ""),
        content_time=str(ds.get("ContentTime", "") or ""),
        verification_flag=str(ds.get("VerificationFlag", "") or ""),
        verifying_observer=str(verifying.get("VerifyingObserverName", "")) if verifying else "",
        person_observer=person,
        organization=organization,
        device=device,
        referenced_series=referenced_series(ds),
        findings=tuple(findings),
        warnings=tuple(reader.warnings),
    )  # fmt: skip
