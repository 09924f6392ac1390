"""Per-frame geometry of enhanced multi-frame images (PS3.3 C.7.6.16, functional groups).

Enhanced CT/MR/PET files keep each frame's position in the Per-Frame Functional Groups and the
values shared by all frames in the Shared Functional Groups; a frame's value is the per-frame
one when present, else the shared one.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from medview.dicom import header as hdr


def _first_item(group: Dataset | None, keyword: str) -> Dataset | None:
    if group is None:
        return None
    sequence = group.get(keyword)
    if not sequence:
        return None
    return sequence[0]


def _lookup(per_frame: Dataset | None, shared: Dataset | None, sequence: str, keyword: str):
    for group in (per_frame, shared):
        item = _first_item(group, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def enhanced_frame_geometry(
    ds: Dataset, warnings_found: list[str]
) -> tuple[
    tuple[hdr.FrameGeometry, ...], tuple[tuple[float, float], ...], tuple[float, float] | None
]:
    """Frame geometries, per-frame rescale (only when it varies) and the shared rescale."""
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    per_frame_seq = ds.get("PerFrameFunctionalGroupsSequence") or []
    count = hdr._int(ds.get("NumberOfFrames"), 1) or 1
    if per_frame_seq and len(per_frame_seq) != count:
        warnings_found.append(
            f"Per-Frame Functional Groups has {len(per_frame_seq)} items for {count} frames"
        )
    frames: list[hdr.FrameGeometry] = []
    rescales: list[tuple[float, float]] = []
    for index in range(count):
        item = per_frame_seq[index] if index < len(per_frame_seq) else None
        position = hdr._floats(
            _lookup(item, shared, "PlanePositionSequence", "ImagePositionPatient"), 3
        )
        orientation = hdr._floats(
            _lookup(item, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        )
        spacing = hdr._floats(_lookup(item, shared, "PixelMeasuresSequence", "PixelSpacing"), 2)
        frames.append(hdr.FrameGeometry(position, orientation, spacing))  # type: ignore[arg-type]
        slope = hdr._float(
            _lookup(item, shared, "PixelValueTransformationSequence", "RescaleSlope"), 1.0
        )
        intercept = hdr._float(
            _lookup(item, shared, "PixelValueTransformationSequence", "RescaleIntercept"), 0.0
        )
        rescales.append((slope or 1.0, intercept or 0.0))
    if not any(frame.position for frame in frames):
        frames = []
    unique_rescales = set(rescales)
    if len(unique_rescales) == 1:
        return tuple(frames), (), rescales[0] if _has_transform(per_frame_seq, shared) else None
    return tuple(frames), tuple(rescales), None


def _has_transform(per_frame_seq, shared: Dataset | None) -> bool:
    if _first_item(shared, "PixelValueTransformationSequence") is not None:
        return True
    return (
        bool(per_frame_seq)
        and _first_item(per_frame_seq[0], "PixelValueTransformationSequence") is not None
    )
