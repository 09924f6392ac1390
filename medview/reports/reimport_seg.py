"""Re-import of a DICOM Segmentation (PS3.3 A.51) onto the grid of the series on screen.

A SEG stores its masks as frames, each on one plane of the source images (per-frame Plane
Position, shared or per-frame Plane Orientation and Pixel Measures: PS3.3 C.7.6.16.2) and
usually only for the slices a mask touches (medview's own SEG omits empty frames). Each
frame is put back onto the source :class:`~medview.imaging.volume.Volume` by geometry: every
voxel centre of the volume slice nearest to the frame's plane is mapped to the frame's
pixel grid through the shared index <-> LPS helpers (:mod:`medview.imaging.geometry`) and
sampled there (nearest pixel). A frame without plane geometry falls back to its source
image (Derivation Image Sequence, PS3.3 C.7.6.16.2.6) when that slice is on the grid.

BINARY, FRACTIONAL (threshold 0.5, PS3.3 C.8.20.2.3) and LABELMAP segmentations are read.
Whatever cannot be placed is skipped with a warning, never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from medview.core.errors import DicomLoadError
from medview.dicom.header import FrameGeometry
from medview.imaging import geometry
from medview.imaging.volume import Volume

log = logging.getLogger("medview.reports.reimport")

SEGMENTATION_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_UNDEFINED_LENGTH = 0xFFFFFFFF
#: A frame plane counts as parallel to the volume's slices above this |cos| of the normals.
_PARALLEL = 0.999

Code = tuple[str, str, str]


def code_of(item: Dataset | None) -> Code | None:
    """``(value, scheme, meaning)`` of a code sequence item (Code Value, Long or URN form)."""
    if item is None:
        return None
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue")
    if not value:
        return None
    return (
        str(value),
        str(item.get("CodingSchemeDesignator", "")),
        str(item.get("CodeMeaning", "")),
    )


def first(ds: Dataset, keyword: str) -> Dataset | None:
    """The first item of sequence ``keyword`` in ``ds``, or None."""
    sequence = ds.get(keyword)
    return sequence[0] if sequence else None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_complete(path: Path, what: str, *, stop_before_pixels: bool = False) -> Dataset:
    """``path`` read in full, or :class:`DicomLoadError` (one line naming it).

    pydicom reads a file cut short without complaint (the last sequence just ends early)
    and parses sequences only when first touched; a report object that lost its tail would
    silently lose findings. So a top-level element whose declared length runs past the end
    of the file is refused as truncated, and every sequence is parsed here.
    """
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels)
        size = path.stat().st_size
        # get_item gives the raw (not yet parsed) element: its declared length and offset.
        raws = [ds.get_item(tag) for tag in sorted(ds.keys())]
        for raw in raws:
            defined = isinstance(raw, RawDataElement) and raw.length != _UNDEFINED_LENGTH
            if defined and raw.value_tell is not None and raw.value_tell + raw.length > size:
                raise DicomLoadError(f"the {what} file is truncated", path)
        for _element in ds.iterall():
            pass
    except DicomLoadError:
        raise
    except Exception as exc:  # pydicom raises many types for damaged files
        raise DicomLoadError(f"cannot read the {what} ({one_line(exc)})", path) from None
    return ds


@dataclass(frozen=True, eq=False)
class ImportedSegment:
    """One segment, its mask on the volume grid and what the SEG says about it."""

    number: int
    label: str
    mask: np.ndarray  # bool (z, y, x) on the volume grid
    property_type: Code | None = None
    category: Code | None = None
    anatomic_region: Code | None = None
    tracking_id: str = ""
    tracking_uid: str = ""
    algorithm_type: str = ""  # AUTOMATIC, SEMIAUTOMATIC, MANUAL
    algorithm_name: str = ""
    algorithm_version: str = ""
    algorithm_parameters: str = ""

    @property
    def voxel_count(self) -> int:
        return int(np.count_nonzero(self.mask))


@dataclass(frozen=True, eq=False)
class ImportedSegmentation:
    """A SEG read back onto a volume grid."""

    path: Path
    sop_instance_uid: str
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str
    manufacturer: str
    software: str
    content_label: str
    content_creator: str
    content_date: str
    segmentation_type: str
    referenced_series: tuple[str, ...]
    segments: tuple[ImportedSegment, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def segment(self, number: int) -> ImportedSegment | None:
        return next((s for s in self.segments if s.number == number), None)


def _frame_geometry(shared: Dataset | None, frame: Dataset | None) -> FrameGeometry:
    def pick(keyword: str, attribute: str):
        for group in (frame, shared):
            item = first(group, keyword) if group is not None else None
            if item is not None and attribute in item:
                return [float(v) for v in item.get(attribute)]
        return None

    position = pick("PlanePositionSequence", "ImagePositionPatient")
    orientation = pick("PlaneOrientationSequence", "ImageOrientationPatient")
    spacing = pick("PixelMeasuresSequence", "PixelSpacing")
    return FrameGeometry(
        tuple(position) if position and len(position) == 3 else None,  # type: ignore[arg-type]
        tuple(orientation) if orientation and len(orientation) == 6 else None,
        tuple(spacing) if spacing and len(spacing) == 2 else None,  # type: ignore[arg-type]
    )


def plane_affine(plane: FrameGeometry) -> np.ndarray:
    """4x4 (column, row, 0) -> LPS of an image plane (PS3.3 C.7.6.2.1.1).

    Columns run along the row direction cosines with the column spacing PixelSpacing[1],
    rows along the column cosines with PixelSpacing[0]; the third axis is the normal.
    """
    assert plane.position is not None and plane.orientation is not None
    row, column = np.asarray(plane.orientation[:3]), np.asarray(plane.orientation[3:])
    direction = np.column_stack([row, column, geometry.slice_normal(row, column)])
    spacing = plane.pixel_spacing or (1.0, 1.0)
    return geometry.affine_from(plane.position, (spacing[1], spacing[0], 1.0), direction)


def _onto_slice(
    frame: np.ndarray, plane: FrameGeometry, volume: Volume
) -> tuple[int, np.ndarray] | str:
    """(k, frame resampled onto volume slice k), or why it cannot be placed."""
    affine = plane_affine(plane)
    normal = affine[:3, 2]
    if abs(float(normal @ volume.direction[:, 2])) < _PARALLEL:
        return "its plane is not parallel to the series' slices"
    k_float = float(volume.lps_to_index(np.asarray(plane.position))[2])
    k = int(round(k_float))
    if not 0 <= k < volume.shape[0]:
        return "it lies outside the series"
    ni, nj = volume.size_ijk[:2]
    jj, ii = np.meshgrid(np.arange(nj), np.arange(ni), indexing="ij")
    ijk = np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, k)], axis=1).astype(float)
    # Voxel centres of slice k -> LPS -> (column, row) on the frame; nearest pixel.
    crs = geometry.lps_to_index(affine, volume.index_to_lps(ijk))
    columns, rows = np.rint(crs[:, 0]).astype(int), np.rint(crs[:, 1]).astype(int)
    inside = (columns >= 0) & (columns < frame.shape[1]) & (rows >= 0) & (rows < frame.shape[0])
    out = np.zeros(nj * ni, dtype=frame.dtype)
    out[inside] = frame[rows[inside], columns[inside]]
    return k, out.reshape(nj, ni)


def _frames(ds: Dataset, path: Path) -> np.ndarray:
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises many types for damaged or unsupported pixels
        raise DicomLoadError(
            f"cannot decode the segmentation frames ({one_line(exc)})", path
        ) from None
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    return pixels


def _values_for(seg_type: str, frame: np.ndarray, ds: Dataset, number: int) -> np.ndarray:
    if seg_type == "FRACTIONAL":
        maximum = float(ds.get("MaximumFractionalValue", 255) or 255)
        return frame.astype(np.float32) / maximum >= 0.5
    if seg_type == "LABELMAP":
        return frame == number
    return frame > 0


def _segment_info(item: Dataset) -> dict:
    algorithm = first(item, "SegmentationAlgorithmIdentificationSequence")
    return {
        "label": str(item.get("SegmentLabel", "") or ""),
        "property_type": code_of(first(item, "SegmentedPropertyTypeCodeSequence")),
        "category": code_of(first(item, "SegmentedPropertyCategoryCodeSequence")),
        "anatomic_region": code_of(first(item, "AnatomicRegionSequence")),
        "tracking_id": str(item.get("TrackingID", "") or ""),
        "tracking_uid": str(item.get("TrackingUID", "") or ""),
        "algorithm_type": str(item.get("SegmentAlgorithmType", "") or ""),
        "algorithm_name": str(
            (algorithm.get("AlgorithmName") if algorithm else None)
            or item.get("SegmentAlgorithmName", "")
            or ""
        ),
        "algorithm_version": str(algorithm.get("AlgorithmVersion", "") if algorithm else ""),
        "algorithm_parameters": str(algorithm.get("AlgorithmParameters", "") if algorithm else ""),
    }


def read_seg(
    path: str | Path,
    volume: Volume,
    *,
    dataset: Dataset | None = None,
    planes: Mapping[str, FrameGeometry] | None = None,
) -> ImportedSegmentation:
    """Read the SEG at ``path`` with every segment's mask resampled onto ``volume``'s grid.

    Parameters
    ----------
    dataset
        The file already read (the caller's copy), else it is read from ``path``.
    planes
        SOP Instance UID -> plane of the source images, for frames without plane geometry.

    Raises
    ------
    DicomLoadError
        The file is not readable, not a Segmentation, or its frames cannot be decoded (one
        line naming the file).
    """
    path = Path(path)
    if dataset is None:
        dataset = read_complete(path, "segmentation")
    ds = dataset
    if str(ds.get("SOPClassUID", "")) != SEGMENTATION_CLASS:
        raise DicomLoadError("is not a DICOM Segmentation (SEG)", path)
    if "SegmentSequence" not in ds or "PixelData" not in ds:
        raise DicomLoadError("the segmentation has no segments or no frames", path)
    seg_type = str(ds.get("SegmentationType", "BINARY")).upper()
    frames = _frames(ds, path)
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = first(ds, "SharedFunctionalGroupsSequence")
    infos = {int(item.SegmentNumber): _segment_info(item) for item in ds.SegmentSequence}
    masks = {number: np.zeros(volume.shape, dtype=bool) for number in infos}
    warnings: list[str] = []
    unplaced: dict[str, int] = {}
    sop_uids = volume.meta.source_sop_uids
    slice_of = (
        {uid: k for k, uid in enumerate(sop_uids)} if len(sop_uids) == volume.shape[0] else {}
    )
    for index, frame in enumerate(frames):
        group = per_frame[index] if index < len(per_frame) else None
        identification = first(group, "SegmentIdentificationSequence") if group else None
        if seg_type == "LABELMAP":  # pixel values are the segment numbers (PS3.3 C.8.20.2)
            numbers = list(infos)
        elif identification is not None:
            numbers = [int(identification.ReferencedSegmentNumber)]
        else:
            numbers = list(infos) if len(infos) == 1 else []
        if not numbers:
            unplaced["it names no segment"] = unplaced.get("it names no segment", 0) + 1
            continue
        plane = _frame_geometry(shared, group)
        derivation = first(group, "DerivationImageSequence") if group is not None else None
        source = first(derivation, "SourceImageSequence") if derivation is not None else None
        source_uid = str(source.get("ReferencedSOPInstanceUID", "")) if source else ""
        if (plane.position is None or plane.orientation is None) and planes and source_uid:
            plane = planes.get(source_uid, plane)
        if plane.position is not None and plane.orientation is not None:
            placed = _onto_slice(frame, plane, volume)
        elif source_uid in slice_of and frame.shape == volume.shape[1:]:
            placed = (slice_of[source_uid], frame)
        else:
            placed = "it has no plane position and no source image on this series"
        if isinstance(placed, str):
            unplaced[placed] = unplaced.get(placed, 0) + 1
            continue
        k, values = placed
        for number in numbers:
            if number in masks:
                masks[number][k] |= _values_for(seg_type, values, ds, number)
    for reason, count in unplaced.items():
        warnings.append(f"{count} frame(s) of {path.name} skipped: {reason}")
    for warning in warnings:
        log.warning("%s", warning)
    creator = ds.get("ContentCreatorName", "")
    segments = tuple(
        ImportedSegment(number=number, mask=masks[number], **info)
        for number, info in sorted(infos.items())
    )
    return ImportedSegmentation(
        path=path,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        study_uid=str(ds.get("StudyInstanceUID", "")),
        frame_of_reference_uid=str(ds.get("FrameOfReferenceUID", "")),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        software=_software(ds),
        content_label=str(ds.get("ContentLabel", "") or ""),
        content_creator="" if creator is None else str(creator),
        content_date=str(ds.get("ContentDate", "") or ds.get("SeriesDate", "") or ""),
        segmentation_type=seg_type,
        referenced_series=referenced_series(ds),
        segments=segments,
        warnings=tuple(warnings),
    )


def _software(ds: Dataset) -> str:
    value = ds.get("SoftwareVersions", "")
    if isinstance(value, Sequence) and not isinstance(value, str):
        return " ".join(str(v) for v in value)
    return str(value or "")


def referenced_series(ds: Dataset) -> tuple[str, ...]:
    """Series UIDs a SEG or SR names: Referenced Series (PS3.3 C.8.20.1) and the SR
    evidence sequences (C.17.2.3: current requested procedure and pertinent other)."""
    found: list[str] = []
    for item in ds.get("ReferencedSeriesSequence", []) or []:
        found.append(str(item.get("SeriesInstanceUID", "")))
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(keyword, []) or []:
            for series in study.get("ReferencedSeriesSequence", []) or []:
                found.append(str(series.get("SeriesInstanceUID", "")))
    return tuple(dict.fromkeys(uid for uid in found if uid))
