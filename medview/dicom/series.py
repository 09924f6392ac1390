"""Series grouping, slice sorting and geometry checks: headers -> load candidates.

Following 3D Slicer's examine-then-load design, this module only *examines*: it turns the
headers of a series into one or more :class:`Candidate` volumes, each with its geometry and
the warnings a radiologist must see, without decoding a pixel. :mod:`medview.dicom.loader`
then loads a candidate into a :class:`~medview.imaging.Volume`.

Slices are ordered by their position along the slice normal (PS3.3 C.7.6.2.1.1), never by
InstanceNumber or file name, which scanners and PACS do not keep consistent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from medview.dicom.header import FrameGeometry, InstanceHeader, sop_class_name
from medview.imaging import geometry

#: Positions closer than this along the normal are the same slice (mm).
DUPLICATE_TOLERANCE_MM = 0.01
#: Relative tolerance on slice steps before spacing counts as non-uniform.
SPACING_RELATIVE_TOLERANCE = 0.01
#: Minimum absolute tolerance on slice steps (mm): scanners round positions to ~1e-3 mm.
SPACING_ABSOLUTE_TOLERANCE = 0.01
#: In-plane drift of slice positions, as a fraction of a pixel, above which we call it tilt.
TILT_PIXEL_TOLERANCE = 0.1


@dataclass(frozen=True)
class SliceRef:
    """One k slice of a candidate: a file and the frame within it."""

    header: InstanceHeader
    frame: int = 0


@dataclass(frozen=True)
class Candidate:
    """A loadable volume (or 2D image) found in a series, with its geometry and warnings."""

    series_uid: str
    label: str
    kind: str  # "volume" (3D stack or enhanced multi-frame), "image" (2D or cine frames)
    slices: tuple[SliceRef, ...]
    rows: int
    columns: int
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    #: Acquired LPS positions of each slice; used when the loader has to regularize the grid.
    positions: np.ndarray | None = None
    #: None, "spacing" (resample along k onto a uniform grid) or "tilt" (shear correction).
    regularize: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def first(self) -> InstanceHeader:
        return self.slices[0].header

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (z, y, x) of the volume the loader will return."""
        if self.regularize == "spacing" and self.positions is not None:
            return (self._regular_count(), self.rows, self.columns)
        return (len(self.slices), self.rows, self.columns)

    def _regular_count(self) -> int:
        assert self.positions is not None
        distances = self.positions @ self.direction[:, 2]
        span = float(distances[-1] - distances[0])
        try:
            return int(round(span / self.spacing[2])) + 1
        except (ZeroDivisionError, OverflowError, ValueError):
            return len(self.slices)  # no grid to resample onto: the loader refuses (R6)

    @property
    def orientation(self) -> str:
        return geometry.orientation_code(self.direction)

    @property
    def plane(self) -> str:
        return geometry.plane_name(self.direction)


@dataclass
class SeriesGroup:
    """Everything found for one SeriesInstanceUID."""

    series_uid: str
    headers: list[InstanceHeader]
    candidates: list[Candidate] = field(default_factory=list)
    non_image: list[InstanceHeader] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def first(self) -> InstanceHeader:
        return self.headers[0]

    @property
    def sop_classes(self) -> list[str]:
        return sorted({sop_class_name(h.sop_class_uid) for h in self.headers})


def group_series(headers: Iterable[InstanceHeader]) -> list[SeriesGroup]:
    """Group headers by series and examine each; ordered by study, series number, UID."""
    by_series: dict[str, list[InstanceHeader]] = defaultdict(list)
    for header in headers:
        by_series[header.series_uid or f"no-series:{header.study_uid}:{header.modality}"].append(
            header
        )
    groups = [examine_series(uid, items) for uid, items in by_series.items()]
    groups.sort(key=lambda g: (g.first.study_uid, g.first.series_number or 0, g.series_uid))
    return groups


#: Segmentation Storage (PS3.4 B.5): its frames are binary masks of another series, shown
#: as that series' overlay (medview.reports.reimport_seg), never opened as a volume itself
#: (a multi-segment SEG could otherwise out-rank the CT when the main series is picked).
SEGMENTATION_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"


def _is_image(header: InstanceHeader) -> bool:
    return (
        header.has_pixels
        and header.rows > 0
        and header.columns > 0
        and header.sop_class_uid != SEGMENTATION_SOP_CLASS
    )


def examine_series(series_uid: str, headers: Sequence[InstanceHeader]) -> SeriesGroup:
    group = SeriesGroup(series_uid, list(headers))
    unique, duplicates = _drop_duplicate_instances(headers)
    if duplicates:
        group.warnings.append(
            f"{duplicates} duplicate file(s) of the same instance (same SOP Instance UID) ignored"
        )
    images = [h for h in unique if _is_image(h)]
    group.non_image = [h for h in unique if not _is_image(h)]
    stacks: dict[tuple, list[InstanceHeader]] = defaultdict(list)
    for header in images:
        if header.is_multiframe:
            group.candidates.append(_multiframe_candidate(series_uid, header))
        elif header.geometry.position is None or header.geometry.orientation is None:
            group.candidates.append(_image_candidate(series_uid, header))
        else:
            stacks[_stack_key(header)].append(header)
    if len(stacks) > 1:
        group.warnings.append(
            f"series holds {len(stacks)} stacks with different orientation, size or pixel "
            "spacing: split into separate volumes"
        )
    for number, members in enumerate(stacks.values(), start=1):
        label = f"stack {number} of {len(stacks)}" if len(stacks) > 1 else ""
        group.candidates.extend(_stack_candidates(series_uid, members, label))
    return group


def _drop_duplicate_instances(
    headers: Sequence[InstanceHeader],
) -> tuple[list[InstanceHeader], int]:
    seen: dict[str, InstanceHeader] = {}
    for header in sorted(headers, key=lambda h: h.path):
        seen.setdefault(header.sop_instance_uid, header)
    return list(seen.values()), len(headers) - len(seen)


def _stack_key(header: InstanceHeader) -> tuple:
    orientation = tuple(round(v, 3) for v in header.geometry.orientation or ())
    spacing = tuple(round(v, 4) for v in header.geometry.pixel_spacing or ())
    return (header.rows, header.columns, header.samples_per_pixel, orientation, spacing)


def _direction_from(orientation: Sequence[float]) -> np.ndarray:
    row = np.asarray(orientation[:3], dtype=float)
    column = np.asarray(orientation[3:6], dtype=float)
    if np.linalg.norm(row) == 0 or np.linalg.norm(column) == 0:
        raise ValueError("ImageOrientationPatient has a zero vector")
    row, column = row / np.linalg.norm(row), column / np.linalg.norm(column)
    if abs(float(row @ column)) > 0.01:
        raise ValueError("ImageOrientationPatient row and column are not perpendicular")
    direction = np.column_stack([row, column, geometry.slice_normal(row, column)])
    return geometry.orthonormalize(direction)


def _in_plane_spacing(geo: FrameGeometry, warnings: list[str]) -> tuple[float, float]:
    """(di, dj): PixelSpacing is (row spacing, column spacing), i.e. (dj, di) (PS3.3 10.7.1.3)."""
    if geo.pixel_spacing is None:
        warnings.append("no pixel spacing in the file: 1 mm assumed, measurements are in pixels")
        return 1.0, 1.0
    return geo.pixel_spacing[1], geo.pixel_spacing[0]


def _slice_step(header: InstanceHeader) -> float:
    for value in (header.spacing_between_slices, header.slice_thickness):
        if value is not None and value > 0:
            return float(value)
    return 1.0


def _image_candidate(series_uid: str, header: InstanceHeader) -> Candidate:
    """A 2D image without patient geometry (CR/DX/MG/US/secondary capture): one slice."""
    warnings: list[str] = []
    di, dj = (
        _in_plane_spacing(header.geometry, warnings)
        if header.geometry.pixel_spacing
        else (1.0, 1.0)
    )
    if header.geometry.pixel_spacing is None and header.modality in {"CR", "DX", "MG", "IO"}:
        warnings.append("no pixel spacing in the file: distances are in pixels")
    return Candidate(
        series_uid=series_uid,
        label=f"image {header.instance_number or ''}".strip(),
        kind="image",
        slices=(SliceRef(header, 0),),
        rows=header.rows,
        columns=header.columns,
        spacing=(di, dj, 1.0),
        origin=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        warnings=tuple(warnings),
    )


def _multiframe_candidate(series_uid: str, header: InstanceHeader) -> Candidate:
    """One multi-frame file: enhanced (per-frame positions) or plain (cine, NM, US)."""
    warnings: list[str] = []
    positioned = [
        (index, frame)
        for index, frame in enumerate(header.frames)
        if frame.position is not None and frame.orientation is not None
    ]
    if header.frames and len(positioned) == header.number_of_frames:
        orientations = {tuple(round(v, 3) for v in f.orientation or ()) for _, f in positioned}
        if len(orientations) == 1:
            refs = [(SliceRef(header, index), frame) for index, frame in positioned]
            return _build_stack(
                series_uid, refs, f"multi-frame {header.instance_number or ''}".strip(), warnings
            )
        warnings.append("frames have different orientations: shown as a plain frame sequence")
    geo = header.geometry
    if (
        geo.position is not None
        and geo.orientation is not None
        and len(header.grid_frame_offsets) == header.number_of_frames
    ):
        return _grid_offset_candidate(series_uid, header, warnings)
    di, dj = _in_plane_spacing(geo, warnings) if geo.pixel_spacing else (1.0, 1.0)
    direction = np.eye(3)
    origin = (0.0, 0.0, 0.0)
    if geo.orientation is not None:
        try:
            direction = _direction_from(geo.orientation)
        except ValueError as exc:
            warnings.append(f"{exc}: identity orientation assumed")
    if geo.position is not None:
        origin = geo.position
    return Candidate(
        series_uid=series_uid,
        label=f"multi-frame {header.instance_number or ''}".strip(),
        kind="image" if geo.position is None else "volume",
        slices=tuple(SliceRef(header, index) for index in range(header.number_of_frames)),
        rows=header.rows,
        columns=header.columns,
        spacing=(di, dj, _slice_step(header)),
        origin=origin,
        direction=direction,
        warnings=tuple(warnings),
    )


def _grid_offset_candidate(
    series_uid: str, header: InstanceHeader, warnings: list[str]
) -> Candidate:
    """RT Dose style frames: one position plus offsets along the normal (PS3.3 C.8.8.3.2)."""
    geo = header.geometry
    direction = _safe_direction(header)
    origin = np.asarray(geo.position, dtype=float)
    refs = [
        (
            SliceRef(header, index),
            FrameGeometry(
                tuple(origin + offset * direction[:, 2]), geo.orientation, geo.pixel_spacing
            ),
        )
        for index, offset in enumerate(header.grid_frame_offsets)
    ]
    return _build_stack(
        series_uid, refs, f"multi-frame {header.instance_number or ''}".strip(), warnings
    )


def _stack_candidates(
    series_uid: str, headers: list[InstanceHeader], label: str
) -> list[Candidate]:
    """Sort one stack by position; split duplicates into sub-volumes when a key explains them."""
    refs = [(SliceRef(h, 0), h.geometry) for h in headers]
    direction = _safe_direction(headers[0])
    normal = direction[:, 2]
    distances = np.array([float(np.dot(g.position, normal)) for _, g in refs])
    rounded = np.round(distances / DUPLICATE_TOLERANCE_MM).astype(np.int64)
    if len(set(rounded.tolist())) == len(rounded):
        return [_build_stack(series_uid, refs, label, [])]
    # Several slices at one position: different acquisitions, echoes or time points
    # (PS3.3 C.7.6.1, C.8.3.1): try to separate them before giving up.
    for attribute in ("acquisition_number", "echo_number", "temporal_position"):
        buckets: dict[object, list] = defaultdict(list)
        for ref in refs:
            buckets[getattr(ref[0].header, attribute)].append(ref)
        if len(buckets) > 1 and all(
            _unique_positions(members, normal) for members in buckets.values()
        ):
            name = attribute.replace("_", " ")
            return [
                _build_stack(
                    series_uid,
                    members,
                    f"{label} {name} {key}".strip(),
                    [
                        f"slices repeat at the same positions: split by {name} into {len(buckets)} volumes"
                    ],
                )
                for key, members in sorted(buckets.items(), key=lambda item: str(item[0]))
            ]
    kept: dict[int, tuple] = {}
    order = sorted(
        range(len(refs)),
        key=lambda i: (refs[i][0].header.instance_number or 0, refs[i][0].header.path),
    )
    for index in order:
        kept.setdefault(int(rounded[index]), refs[index])
    dropped = len(refs) - len(kept)
    where = sorted(
        {
            round(float(distances[i]), 2)
            for i in range(len(refs))
            if list(rounded).count(rounded[i]) > 1
        }
    )
    warning = (
        f"{dropped} slice(s) share a position with another slice (at {_list_mm(where)} along the "
        "normal): kept the first by instance number"
    )
    return [_build_stack(series_uid, list(kept.values()), label, [warning])]


def _unique_positions(refs: list, normal: np.ndarray) -> bool:
    rounded = [round(float(np.dot(g.position, normal)) / DUPLICATE_TOLERANCE_MM) for _, g in refs]
    return len(set(rounded)) == len(rounded)


def _safe_direction(header: InstanceHeader) -> np.ndarray:
    try:
        return _direction_from(header.geometry.orientation or (1, 0, 0, 0, 1, 0))
    except ValueError:
        return np.eye(3)


def _list_mm(values: Sequence[float], limit: int = 6) -> str:
    shown = ", ".join(f"{v:g} mm" for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _build_stack(
    series_uid: str, refs: list[tuple[SliceRef, FrameGeometry]], label: str, warnings: list[str]
) -> Candidate:
    """Order slices along the normal and check spacing and tilt."""
    first_geo = refs[0][1]
    header = refs[0][0].header
    warnings = list(warnings)
    try:
        direction = _direction_from(first_geo.orientation)  # type: ignore[arg-type]
    except ValueError as exc:
        warnings.append(f"{exc}: identity orientation assumed")
        direction = np.eye(3)
    normal = direction[:, 2]
    refs = sorted(
        refs, key=lambda r: (float(np.dot(r[1].position, normal)), r[0].header.instance_number or 0)
    )
    positions = np.array([r[1].position for r in refs], dtype=float)
    di, dj = _in_plane_spacing(first_geo, warnings)
    distances = positions @ normal
    steps = np.diff(distances)
    regularize: str | None = None
    if len(refs) == 1:
        step = _slice_step(header)
    elif not (np.all(np.isfinite(distances)) and float(np.median(steps)) > 0):
        # Most frames share one position, or the positions overflow (hostile headers, issue
        # 11 R3: this divided by zero): no regular grid exists to resample onto.
        warnings.append(
            "slice positions do not form a stack (most share one position): frames shown "
            "in order at the nominal slice spacing, not resampled"
        )
        step = _slice_step(header)
    else:
        step = float(np.median(steps))
        tolerance = max(SPACING_ABSOLUTE_TOLERANCE, SPACING_RELATIVE_TOLERANCE * step)
        if np.any(np.abs(steps - step) > tolerance):
            warnings.append(_spacing_warning(distances, steps, step, tolerance))
            regularize = "spacing"
        tilt = _tilt_degrees(positions, direction, (di, dj))
        if tilt is not None:
            warnings.append(
                f"gantry tilt of {tilt:.1f}\N{DEGREE SIGN}: slices resampled onto a regular grid "
                "(in-plane shift per slice)"
            )
            regularize = "tilt" if regularize is None else "tilt+spacing"
    return Candidate(
        series_uid=series_uid,
        label=label,
        kind="volume",
        slices=tuple(r[0] for r in refs),
        rows=header.rows,
        columns=header.columns,
        spacing=(di, dj, step),
        origin=tuple(positions[0]),  # type: ignore[arg-type]
        direction=direction,
        positions=positions,
        regularize=regularize,
        warnings=tuple(warnings),
    )


def _spacing_warning(distances: np.ndarray, steps: np.ndarray, step: float, tol: float) -> str:
    odd = np.flatnonzero(np.abs(steps - step) > tol)
    gaps = [(float(distances[i]), float(distances[i + 1]), float(steps[i])) for i in odd]
    multiples = [g for g in gaps if g[2] > step and abs(g[2] / step - round(g[2] / step)) < 0.05]
    described = "; ".join(f"{a:.2f} to {b:.2f} mm" for a, b, _ in gaps[:5])
    more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
    if len(multiples) == len(gaps):
        missing = sum(int(round(g[2] / step)) - 1 for g in gaps)
        head = f"{missing} missing slice(s) (gaps between {described}{more})"
    else:
        head = (
            f"non-uniform slice spacing: steps from {float(steps.min()):.3g} to "
            f"{float(steps.max()):.3g} mm (irregular between {described}{more})"
        )
    return (
        f"{head}; resampled onto a regular {step:.3g} mm grid, interpolated slices are not "
        "acquired data"
    )


def _tilt_degrees(
    positions: np.ndarray, direction: np.ndarray, pixel_spacing: tuple[float, float]
) -> float | None:
    """Angle between the slice normal and the line of slice positions, if beyond tolerance."""
    offsets = positions - positions[0]
    along = offsets @ direction[:, 2]
    in_plane = offsets - np.outer(along, direction[:, 2])
    drift = float(np.max(np.linalg.norm(in_plane, axis=1)))
    if drift <= TILT_PIXEL_TOLERANCE * min(pixel_spacing):
        return None
    span = float(abs(along[-1] - along[0])) or 1.0
    return math.degrees(math.atan2(float(np.linalg.norm(in_plane[-1])), span))
