"""Write a Volume as a derived DICOM series (AI output: enhanced or super-resolved volumes).

One single-frame image per slice, Explicit VR Little Endian, with new Series and SOP Instance
UIDs and the source's Study Instance UID and Frame of Reference UID when known (the derived
volume lives in the same patient space, so viewers and PACS line it up with the original).
ImageType is ``DERIVED\\SECONDARY`` (PS3.3 C.7.6.1.1.2). The geometry comes from the Volume:
ImagePositionPatient per slice, ImageOrientationPatient from the direction's first two
columns, PixelSpacing as (row spacing, column spacing) = (dj, di) (PS3.3 C.7.6.2.1.1).

The series is written into a staging folder next to the target and renamed into place, so
the user's folder holds either nothing or the whole series. The demo study writer
(:mod:`medview.dicom.demo`) shares the geometry helpers.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

from medview import __version__
from medview.core.errors import MedviewError
from medview.core.paths import fsync_dir
from medview.core.phi_paths import register_user_path
from medview.core.sweep import sweep_staging_dirs
from medview.imaging.volume import Volume, VolumeMeta

NOT_FOR_DIAGNOSIS = "DERIVED BY MEDVIEW AI PLUGIN - NOT FOR DIAGNOSTIC USE"
_SOP_CLASSES = {"CT": CTImageStorage, "MR": MRImageStorage}


@dataclass(frozen=True)
class DerivedSeries:
    """Where a derived series was written."""

    directory: Path
    files: list[Path]
    series_uid: str
    study_uid: str
    frame_of_reference_uid: str


def ds_number(value: float) -> str:
    """A DS string (at most 16 characters) as close to ``value`` as DS allows."""
    return format_number_as_ds(float(value))


def set_image_plane(ds: Dataset, volume: Volume) -> None:
    """Image Plane attributes shared by every slice (PS3.3 C.7.6.2)."""
    di, dj, dk = volume.spacing
    # PixelSpacing is (row spacing = along j, column spacing = along i).
    ds.PixelSpacing = [ds_number(dj), ds_number(di)]
    ds.ImageOrientationPatient = [ds_number(v) for v in volume.direction[:, :2].T.ravel()]
    ds.SliceThickness = ds_number(dk)
    ds.SpacingBetweenSlices = ds_number(dk)


def set_slice_position(ds: Dataset, volume: Volume, k: int) -> np.ndarray:
    """ImagePositionPatient and SliceLocation of slice ``k``; returns the LPS position."""
    position = volume.index_to_lps((0.0, 0.0, float(k)))
    ds.ImagePositionPatient = [ds_number(v) for v in position]
    # Slice Location: position along the slice normal (PS3.3 C.7.6.2.1.2).
    ds.SliceLocation = ds_number(float(np.dot(position, volume.direction[:, 2])))
    return position


def _encoding(array: np.ndarray) -> tuple[np.ndarray, float, float, int]:
    """(stored array, slope, intercept, pixel representation) that represent ``array``.

    Integral values that fit int16 are stored as they are; anything else (float output of a
    network) is scaled linearly onto uint16, losing at most half a step of (max-min)/65535.
    """
    finite = np.isfinite(array)
    if not finite.all():
        raise MedviewError("the volume holds NaN or infinite values; cannot write it as DICOM")
    low, high = float(array.min()), float(array.max())
    integral = np.issubdtype(array.dtype, np.integer) or bool(np.all(np.mod(array, 1) == 0))
    if integral and low >= -32768 and high <= 32767:
        return array.astype("<i2"), 1.0, 0.0, 1
    slope = (high - low) / 65535.0 if high > low else 1.0
    stored = np.rint((array.astype(np.float64) - low) / slope)
    return np.clip(stored, 0, 65535).astype("<u2"), slope, low, 0


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MedviewError("exists and is not an empty folder; choose a new folder", out_dir)


def _template(volume: Volume, source: VolumeMeta, description: str, series_number: int) -> Dataset:
    meta = volume.meta
    modality = (source.modality or meta.modality or "OT").upper()
    sop_class = _SOP_CLASSES.get(modality, SecondaryCaptureImageStorage)
    now = datetime.now(timezone.utc)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: patient names may not be Latin-1
    ds.SOPClassUID = sop_class
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.PatientName = source.patient_name or meta.patient_name
    ds.PatientID = source.patient_id or meta.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = source.study_uid or meta.study_uid or generate_uid()
    # The study's own date when known: a derived series joins its study, it does not start
    # one (a PACS would otherwise show one study with two dates).
    ds.StudyDate = source.study_date or meta.study_date or ds.InstanceCreationDate
    ds.StudyTime = "" if (source.study_date or meta.study_date) else ds.InstanceCreationTime
    if source.study_description or meta.study_description:
        ds.StudyDescription = source.study_description or meta.study_description
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = (description or meta.derivation or "medview derived series")[:64]
    ds.FrameOfReferenceUID = (
        source.frame_of_reference_uid or meta.frame_of_reference_uid or generate_uid()
    )
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "medview"
    ds.SoftwareVersions = __version__
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = (meta.derivation or description or "computed by medview")[:1024]
    ds.ContentDate = ds.InstanceCreationDate
    ds.ContentTime = ds.InstanceCreationTime
    ds.BurnedInAnnotation = "NO"
    ds.ImageComments = NOT_FOR_DIAGNOSIS
    if sop_class == SecondaryCaptureImageStorage:
        ds.ConversionType = "WSD"  # workstation (PS3.3 C.8.6.1)
    set_image_plane(ds, volume)
    ni, nj, _ = volume.size_ijk
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = nj
    ds.Columns = ni
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    if meta.windows:
        ds.WindowCenter = [ds_number(w.center) for w in meta.windows]
        ds.WindowWidth = [ds_number(w.width) for w in meta.windows]
    return ds


def write_derived_series(
    volume: Volume,
    out_dir: Path,
    *,
    source: VolumeMeta | None = None,
    description: str = "",
    series_number: int = 900,
    progress: Callable[[float], None] | None = None,
) -> DerivedSeries:
    """Write ``volume`` as a new DICOM series into ``out_dir`` (new or empty).

    Parameters
    ----------
    volume
        Greyscale volume in its own geometry (values in the modality's units, e.g. HU).
    out_dir
        Target folder chosen by the user; it must not exist or be empty.
    source
        Metadata of the series it was derived from: study, frame of reference, patient and
        modality are taken from it (the plugin saw a de-identified copy).
    description
        Series description (default: the volume's ``meta.derivation``).
    series_number
        Series Number (900+ keeps derived series apart from the scanner's).

    Raises
    ------
    MedviewError
        Non-empty target, colour or non-finite volume, or a write error.
    """
    out_dir = Path(out_dir)
    register_user_path(out_dir)  # the log names it by a pseudonym (issue 11, privacy)
    report = progress or (lambda _f: None)
    if volume.is_color:
        raise MedviewError("colour volumes cannot be written as a derived series yet")
    _check_target(out_dir)
    source = source or volume.meta
    stored, slope, intercept, signed = _encoding(np.asarray(volume.array))
    ds = _template(volume, source, description, series_number)
    ds.PixelRepresentation = signed
    ds.RescaleIntercept = ds_number(intercept)
    ds.RescaleSlope = ds_number(slope)
    ds.RescaleType = "HU" if source.units == "HU" or volume.meta.units == "HU" else "US"
    staging = None
    try:
        # Inside the try: a full or read-only disk fails already here (issue 11, D3).
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        sweep_staging_dirs(out_dir.parent, out_dir.name)  # a killed earlier try's (D1)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent)
        )
        names = []
        nk = volume.shape[0]
        for k in range(nk):
            sop_uid = generate_uid()
            ds.SOPInstanceUID = sop_uid
            ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
            ds.InstanceNumber = k + 1
            set_slice_position(ds, volume, k)
            ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
            name = f"IM{k + 1:05d}.dcm"
            # Encoded in memory, written here: pydicom re-raises a write error as an OSError
            # without errno whose message holds a traceback, so a full disk read "cannot
            # write the derived series (With tag (7FE0,0010) got exception: [Errno 28] No
            # space left on device\nTraceback ...)" (issue 11, D3).
            buffer = io.BytesIO()
            dcmwrite(buffer, ds, enforce_file_format=True)
            (staging / name).write_bytes(buffer.getvalue())
            names.append(name)
            report(0.95 * (k + 1) / nk)
        for name in names:  # durable before the rename makes the series visible
            with open(staging / name, "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(staging)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above); os.replace needs the name free
        os.replace(staging, out_dir)
        fsync_dir(out_dir.parent)  # the rename itself durable (issue 11, D1)
    except OSError as exc:
        _remove_staging(staging)
        # strerror, not str(exc): that names a file in the hidden staging folder.
        reason = exc.strerror or type(exc).__name__
        raise MedviewError(f"cannot write the derived series ({reason})", out_dir) from None
    except BaseException:
        _remove_staging(staging)
        raise
    report(1.0)
    return DerivedSeries(
        out_dir,
        [out_dir / n for n in names],
        str(ds.SeriesInstanceUID),
        str(ds.StudyInstanceUID),
        str(ds.FrameOfReferenceUID),
    )


def _remove_staging(staging: Path | None) -> None:
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
