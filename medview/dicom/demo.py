"""The demo study: the synthetic chest phantom written as a real DICOM CT series.

One CT Image Storage file per axial slice (Part 10, Explicit VR Little Endian), with the
modules a viewer, a PACS or ``dciodvfy`` expect, plus ``truth.json`` with the nodule ground
truth in LPS mm. Everything about it is deterministic per seed, UIDs included, so tests and
screenshots are reproducible. Each file says in Image Comments that it is not a patient.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medview import __version__
from medview.core.errors import MedviewError
from medview.core.paths import atomic_write_text
from medview.dicom.writer import ds_number, set_image_plane, set_slice_position
from medview.imaging.phantom import NoduleTruth, PhantomSpec, make_phantom
from medview.imaging.volume import Volume

GENERATOR = "medview.dicom.demo"
#: Written first and kept: marks the folder as a demo (even a half-written one) we may replace.
MARKER_NAME = ".medview-demo"
TRUTH_NAME = "truth.json"
NOT_A_PATIENT = "SYNTHETIC PHANTOM - NOT A PATIENT"
STUDY_DATE = "20260101"
STUDY_TIME = "090000"
#: Stored value = HU - intercept, unsigned, 12 bits: the phantom is clipped to [-1024, 3071].
RESCALE_INTERCEPT = -1024
BITS_STORED = 12

_SLICE_FILE = re.compile(r"CT\d{4,}\.dcm")
_OUR_TEMP = re.compile(r"\.(CT\d{4,}\.dcm|truth\.json|\.?medview-demo)\..*part")


@dataclass(frozen=True)
class DemoStudy:
    """Where a demo study was written and its identifiers."""

    directory: Path
    files: list[Path]
    truth_path: Path
    study_uid: str
    series_uid: str


def demo_uid(seed: int, *parts: object) -> str:
    """A UID that depends only on the seed and ``parts`` (same seed, same UIDs)."""
    return str(generate_uid(entropy_srcs=[GENERATOR, str(seed), *(str(p) for p in parts)]))


_ds = ds_number  # shared with the derived-series writer


def _check_target(out_dir: Path) -> None:
    """Refuse a folder that holds anything but a previous demo (never clobber user data)."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise MedviewError("exists and is not a folder; choose another place for the demo", out_dir)
    entries = list(out_dir.iterdir())
    if not entries:
        return
    ours = (out_dir / MARKER_NAME).is_file() or _is_demo_truth(out_dir / TRUTH_NAME)
    for entry in entries:
        name = entry.name
        allowed = name in (MARKER_NAME, TRUTH_NAME) or bool(
            _SLICE_FILE.fullmatch(name) or _OUR_TEMP.fullmatch(name)
        )
        if not (ours and allowed and entry.is_file()):
            raise MedviewError(
                "folder is not empty and is not a medview demo study; choose an empty folder",
                out_dir,
            )


def _is_demo_truth(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _template(volume: Volume, seed: int, study_uid: str, series_uid: str) -> Dataset:
    """Everything that is the same in every slice (PS3.3 A.3, CT Image IOD)."""
    di, _, dk = volume.spacing
    ni, nj, _ = volume.size_ijk
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = CTImageStorage
    ds.InstanceCreationDate = STUDY_DATE
    ds.InstanceCreationTime = STUDY_TIME
    # Patient and Patient Study
    ds.PatientName = "Demo^Phantom"
    ds.PatientID = f"MEDVIEW-DEMO-{seed}"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.PatientAge = "056Y"
    ds.PatientSize = "1.75"
    ds.PatientWeight = "75"
    # General Study
    ds.StudyInstanceUID = study_uid
    ds.StudyDate = STUDY_DATE
    ds.StudyTime = STUDY_TIME
    ds.ReferringPhysicianName = ""
    ds.StudyID = f"DEMO{seed}"[:16]
    ds.AccessionNumber = f"DEMO{seed:08d}"[:16]
    ds.StudyDescription = "Demo chest CT (synthetic phantom)"
    # General Series
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 1
    ds.SeriesDate = STUDY_DATE
    ds.SeriesTime = STUDY_TIME
    ds.SeriesDescription = f"Chest axial {_ds(dk)} mm (synthetic phantom)"[:64]
    ds.ProtocolName = "Demo chest"
    ds.BodyPartExamined = "CHEST"
    ds.PatientPosition = "HFS"
    # Frame of Reference
    ds.FrameOfReferenceUID = demo_uid(seed, "frame-of-reference")
    ds.PositionReferenceIndicator = ""
    # General Equipment
    ds.Manufacturer = "medview"
    ds.ManufacturerModelName = "demo phantom"
    ds.SoftwareVersions = __version__
    ds.StationName = "MEDVIEW-DEMO"
    # General Image
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ContentDate = STUDY_DATE
    ds.ContentTime = STUDY_TIME
    ds.AcquisitionNumber = 1
    ds.AcquisitionDate = STUDY_DATE
    ds.AcquisitionTime = STUDY_TIME
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    # Synthetic Data (0008,001C) would say it too, but dicom3tools' dictionary predates it
    # and calls it an error; Image Comments is in every reader's dictionary.
    ds.ImageComments = NOT_A_PATIENT
    set_image_plane(ds, volume)
    # Image Pixel
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = nj
    ds.Columns = ni
    ds.BitsAllocated = 16
    ds.BitsStored = BITS_STORED
    ds.HighBit = BITS_STORED - 1
    ds.PixelRepresentation = 0
    # CT Image
    ds.RescaleIntercept = str(RESCALE_INTERCEPT)
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = _ds(ni * di)
    ds.GantryDetectorTilt = "0"
    ds.RotationDirection = "CW"
    ds.XRayTubeCurrent = 200
    ds.ConvolutionKernel = "STANDARD"
    # VOI LUT: mediastinum and lung windows
    ds.WindowCenter = ["40", "-600"]
    ds.WindowWidth = ["400", "1500"]
    ds.WindowCenterWidthExplanation = ["MEDIASTINUM", "LUNG"]
    return ds


def _truth_json(
    volume: Volume, seed: int, study_uid: str, series_uid: str, nodules: list[NoduleTruth]
) -> str:
    payload = {
        "generator": GENERATOR,
        "synthetic": True,
        "seed": seed,
        "study_uid": study_uid,
        "series_uid": series_uid,
        "shape_zyx": list(volume.shape),
        "spacing_ijk": list(volume.spacing),
        "origin": list(volume.origin),
        "coordinates": "LPS mm",
        "nodules": [asdict(n) for n in nodules],
        "landmarks_lps": volume.meta.extra.get("landmarks_lps", {}),
    }
    return json.dumps(payload, indent=2) + "\n"


def write_demo_study(
    out_dir: Path,
    seed: int = 0,
    size: int = 512,
    slices: int = 300,
    progress: Callable[[float], None] | None = None,
) -> DemoStudy:
    """Generate the phantom for ``seed`` and write it as a DICOM CT series in ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder for the series and ``truth.json``; created if needed. It must be empty or
        hold a previous demo (which is replaced); anything else raises ``MedviewError``.
    seed, size, slices
        Phantom anatomy and grid (see :class:`medview.imaging.phantom.PhantomSpec`).
    progress
        Optional callback receiving the completed fraction (0..1).

    Returns
    -------
    DemoStudy
        The files in instance order (instance 1 is the most superior slice), the truth file
        and the study and series UIDs.
    """
    out_dir = Path(out_dir)
    report = progress or (lambda _fraction: None)
    _check_target(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.iterdir():
        if _OUR_TEMP.fullmatch(leftover.name):
            leftover.unlink()  # from an interrupted run
    atomic_write_text(out_dir / MARKER_NAME, f"{GENERATOR} seed {seed}\n")
    # truth.json goes last: its presence says the series is complete.
    (out_dir / TRUTH_NAME).unlink(missing_ok=True)

    volume, nodules = make_phantom(
        PhantomSpec(size=size, slices=slices, seed=seed), progress=lambda f: report(0.6 * f)
    )
    # One study (and frame of reference: the phantom's mm space) per seed; the series and its
    # instances also depend on the grid, so two grids never share a SOP Instance UID.
    grid = f"{size}x{slices}"
    study_uid = demo_uid(seed, "study")
    series_uid = demo_uid(seed, "series", grid)
    ds = _template(volume, seed, study_uid, series_uid)
    nk = volume.shape[0]
    files = []
    for k in range(nk):
        # Scanners number from the head down: instance 1 is the most superior slice.
        instance = nk - k
        sop_uid = demo_uid(seed, "instance", grid, instance)
        ds.SOPInstanceUID = sop_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.InstanceNumber = instance
        set_slice_position(ds, volume, k)
        stored = volume.array[k].astype(np.int32) - RESCALE_INTERCEPT
        ds.PixelData = np.clip(stored, 0, 2**BITS_STORED - 1).astype("<u2").tobytes()
        path = out_dir / f"CT{instance:04d}.dcm"
        temp = out_dir / f".{path.name}.part"
        dcmwrite(temp, ds, enforce_file_format=True)
        os.replace(temp, path)
        files.append(path)
        if k % 16 == 15:
            report(0.6 + 0.38 * (k + 1) / nk)
    keep = {p.name for p in files}
    for stale in out_dir.iterdir():
        if _SLICE_FILE.fullmatch(stale.name) and stale.name not in keep:
            stale.unlink()
    truth_path = out_dir / TRUTH_NAME
    atomic_write_text(truth_path, _truth_json(volume, seed, study_uid, series_uid, nodules))
    report(1.0)
    files.sort(key=lambda p: p.name)
    return DemoStudy(out_dir, files, truth_path, study_uid, series_uid)
