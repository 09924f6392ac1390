"""Small synthetic DICOM series for geometry tests, written with pydicom.

Each slice's pixels encode its acquisition index (value = 100 * index + column ramp) so tests
can see which file ended up at which k, and the left/right asymmetry of the ramp catches flips.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def slice_pixels(index: int, rows: int, columns: int) -> np.ndarray:
    ramp = np.arange(columns, dtype=np.int32)[np.newaxis, :].repeat(rows, axis=0)
    return (100 * index + ramp).astype(np.uint16)


def write_slice(
    path: Path,
    *,
    position: Sequence[float],
    orientation: Sequence[float] = AXIAL,
    index: int = 0,
    rows: int = 8,
    columns: int = 10,
    pixel_spacing: Sequence[float] = (0.8, 0.6),
    series_uid: str,
    study_uid: str,
    frame_uid: str,
    sop_uid: str | None = None,
    instance_number: int | None = None,
    acquisition_number: int | None = None,
    intercept: float = -1024.0,
    slope: float = 1.0,
    patient_name: str = "Test^Geometry",
    pixels: np.ndarray | None = None,
) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = patient_name
    ds.PatientID = "GEOM-1"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.StudyDate = "20260101"
    ds.InstanceNumber = instance_number if instance_number is not None else index + 1
    if acquisition_number is not None:
        ds.AcquisitionNumber = acquisition_number
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [float(v) for v in pixel_spacing]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = intercept
    ds.RescaleSlope = slope
    data = slice_pixels(index, rows, columns) if pixels is None else pixels
    ds.PixelData = data.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(
    folder: Path,
    positions: Sequence[Sequence[float]],
    orientation: Sequence[float] = AXIAL,
    **kwargs,
) -> list[Path]:
    """One file per position, named in a scrambled order so file order never helps."""
    series_uid = kwargs.pop("series_uid", generate_uid())
    study_uid = kwargs.pop("study_uid", generate_uid())
    frame_uid = kwargs.pop("frame_uid", generate_uid())
    paths = []
    for index, position in enumerate(positions):
        name = f"f{(index * 7919) % 10007:05d}.dcm"
        paths.append(
            write_slice(
                folder / name,
                position=position,
                orientation=orientation,
                index=index,
                series_uid=series_uid,
                study_uid=study_uid,
                frame_uid=frame_uid,
                **kwargs,
            )
        )
    return paths


def write_enhanced_ct(
    path: Path,
    z_positions: Sequence[float],
    rows: int = 6,
    columns: int = 7,
    slopes: Sequence[float] | None = None,
) -> Path:
    """A minimal Enhanced CT-style multi-frame file: geometry in functional groups only.

    Frame f holds ``100 * f + column`` (stored values); positions are per frame, orientation,
    pixel spacing and (unless ``slopes`` vary per frame) rescale are shared (PS3.3 C.7.6.16).
    """
    from pydicom.sequence import Sequence as DicomSequence
    from pydicom.uid import EnhancedCTImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = EnhancedCTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = EnhancedCTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID = "Enhanced^Test", "ENH-1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 5, 1
    ds.NumberOfFrames = len(z_positions)
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0

    def item(**values) -> Dataset:
        entry = Dataset()
        for key, value in values.items():
            setattr(entry, key, value)
        return entry

    shared = item(
        PlaneOrientationSequence=DicomSequence([item(ImageOrientationPatient=list(AXIAL))]),
        PixelMeasuresSequence=DicomSequence([item(PixelSpacing=[0.5, 0.25], SliceThickness=1.0)]),
    )
    if slopes is None:
        shared.PixelValueTransformationSequence = DicomSequence(
            [item(RescaleIntercept=-1024, RescaleSlope=1, RescaleType="HU")]
        )
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames = []
    for index, z in enumerate(z_positions):
        frame = item(
            PlanePositionSequence=DicomSequence([item(ImagePositionPatient=[1.0, 2.0, float(z)])])
        )
        if slopes is not None:
            frame.PixelValueTransformationSequence = DicomSequence(
                [item(RescaleIntercept=0, RescaleSlope=slopes[index], RescaleType="HU")]
            )
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    data = np.stack([slice_pixels(i, rows, columns) for i in range(len(z_positions))])
    ds.PixelData = data.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path
