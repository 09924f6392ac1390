"""DICOM files that claim more than they hold (issue 11, R6), written for the tests.

Each is a valid Part 10 file whose header is the lie: Rows x Columns x NumberOfFrames x
BitsAllocated beyond any budget over a few bytes of pixel data, or a Deflated Explicit VR
Little Endian data set (PS3.5 A.5) that inflates a thousandfold. The deflate stream is
produced chunk by chunk, so the test itself never holds the inflated bytes.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)


def _dataset(syntax: str, rows: int, columns: int, frames: int, bits: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Bomb^Size"
    ds.PatientID = "R6"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    return ds


def claimed_bytes(rows: int, columns: int, frames: int, bits: int) -> int:
    return rows * columns * frames * (bits // 8)


def native_bomb(path: Path, *, rows: int, columns: int, frames: int, bits: int = 16) -> Path:
    """Explicit VR Little Endian whose header claims the size; 64 bytes of pixel data."""
    ds = _dataset(ExplicitVRLittleEndian, rows, columns, frames, bits)
    ds.PixelData = bytes(64)
    ds.save_as(path, enforce_file_format=True)
    return path


def rle_bomb(path: Path, *, rows: int, columns: int, frames: int, bits: int = 16) -> Path:
    """RLE Lossless (PS3.5 G) whose frames are one tiny fragment each."""
    ds = _dataset(RLELossless, rows, columns, frames, bits)
    header = struct.pack("<16I", 1, 64, *([0] * 14))  # one segment, right after the header
    ds.PixelData = encapsulate([header + b"\x81\x00" * 4] * frames)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def deflate_bomb(
    path: Path, *, rows: int = 8192, columns: int = 8192, bits: int = 16, meta_padding: int = 0
) -> Path:
    """Deflated Explicit VR Little Endian: a header plus rows x columns zero pixels, deflated.

    Returns the path; the file is about 1/1000 of the pixel bytes it inflates to.
    ``meta_padding`` bytes of Private Information (0002,0102) make the file meta group long,
    so a check that only reads the first few KiB would not find where the data set starts.
    """
    ds = _dataset(DeflatedExplicitVRLittleEndian, rows, columns, 1, bits)
    if meta_padding:
        ds.file_meta.PrivateInformationCreatorUID = generate_uid()
        ds.file_meta.PrivateInformation = bytes(meta_padding)
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    head.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(head, ds.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    pixel_bytes = claimed_bytes(rows, columns, 1, bits)
    # Pixel Data (7FE0,0010) OW with a 32-bit length (PS3.5 7.1.2), then the zeros.
    element = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, pixel_bytes)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    with open(path, "wb") as handle:
        handle.write(head.getvalue())
        handle.write(compressor.compress(body.getvalue() + element))
        for _ in range(pixel_bytes // len(zeros)):
            handle.write(compressor.compress(zeros))
        handle.write(compressor.compress(bytes(pixel_bytes % len(zeros))))
        handle.write(compressor.flush())
    return path
