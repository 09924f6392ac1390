"""Decoding one file's pixels, shared by the loader's threads and worker processes.

Two ways in:

* the *native* path reads the raw little-endian bytes of an uncompressed file straight into a
  slice of the caller's preallocated array (``readinto``: no intermediate copy, releases the GIL);
* the *codec* path lets pydicom and the pylibjpeg plugins decode everything else (JPEG, JPEG-LS,
  JPEG 2000, RLE, deflate, big endian). It is a top-level function so worker processes can run
  it: JPEG 2000 decoding is CPU-bound and does not scale with threads (issue 2).
"""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from medview.core.errors import DicomLoadError, TruncatedFileError
from medview.dicom.header import _WARNINGS_LOCK, InstanceHeader
from medview.dicom.limits import check_budget, check_deflate

# pydicom's messages that mean the pixel data is shorter than announced.
_TRUNCATION_HINTS = ("doesn't match the expected length", "shorter than", "truncated", "missing")


def native_dtype(header: InstanceHeader) -> np.dtype | None:
    """numpy dtype of the stored values for the native fast path, or None if not eligible."""
    if (
        header.pixel_offset is None
        or header.samples_per_pixel != 1
        or header.has_modality_lut_sequence
        or header.bits_allocated not in (8, 16)
    ):
        return None
    if header.bits_allocated == 8:
        return np.dtype(np.int8 if header.pixel_representation else np.uint8)
    return np.dtype("<i2" if header.pixel_representation else "<u2")


def check_native_length(header: InstanceHeader) -> None:
    expected = header.expected_pixel_bytes
    available = min(header.pixel_length or 0, max(0, header.file_size - (header.pixel_offset or 0)))
    if available < expected:
        raise TruncatedFileError(
            f"pixel data holds {available} of the {expected} bytes its header announces "
            "(the file is truncated)",
            header.path,
        )


def read_native_into(header: InstanceHeader, target: np.ndarray, frame: int = 0) -> None:
    """Read frame ``frame``'s raw stored values into ``target`` (same byte size, C-contiguous)."""
    frame_bytes = header.rows * header.columns * (header.bits_allocated // 8)
    if target.nbytes != frame_bytes or not target.flags.c_contiguous:
        raise ValueError("target buffer does not match the frame size")
    check_native_length(header)
    try:
        with open(header.path, "rb") as handle:
            handle.seek((header.pixel_offset or 0) + frame * frame_bytes)
            count = handle.readinto(memoryview(target).cast("B"))
    except OSError as exc:  # moved, deleted or unreadable since the scan
        raise DicomLoadError(
            f"cannot read pixel data ({exc.strerror or exc})", header.path
        ) from exc
    if count != frame_bytes:
        raise TruncatedFileError("pixel data ends early (the file is truncated)", header.path)


def decode_with_codecs(path: str) -> tuple[np.ndarray, dict]:
    """Decode all frames of a file with pydicom: (frames, y, x[, samples]) plus display info.

    Colour data comes back as RGB (pydicom converts YBR), palette colour is expanded to RGB;
    monochrome data as stored values, before the modality LUT. Returns a small dict with what
    the loader needs from the full dataset (modality LUT applied or not).
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        try:
            check_deflate(path)  # pydicom inflates the whole stream at once (issue 11, R6)
            ds = pydicom.dcmread(path)
            _check_decoded_size(ds, path)
            frames = ds.pixel_array
            info: dict = {"lut_applied": False}
            photometric = str(ds.get("PhotometricInterpretation", ""))
            if photometric == "PALETTE COLOR":
                from pydicom.pixels import apply_color_lut

                frames = apply_color_lut(frames, ds)
                if frames.dtype != np.uint8:  # 16-bit palettes: scale to 8 bits for display
                    frames = (frames >> 8).astype(np.uint8)
                info["palette"] = True
            elif "ModalityLUTSequence" in ds:
                from pydicom.pixels import apply_modality_lut

                frames = apply_modality_lut(frames, ds)
                info["lut_applied"] = True
        except InvalidDicomError as exc:
            raise DicomLoadError(f"not a valid DICOM file ({exc})", path) from exc
        except DicomLoadError:
            raise
        except (EOFError, struct.error) as exc:
            raise TruncatedFileError("the file ends early (truncated)", path) from exc
        except MemoryError as exc:
            raise DicomLoadError("the image is too large to decode in memory", path) from exc
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        # Untrusted bytes: any decoder failure is reported. BaseException, not Exception:
        # the Rust decoders (pylibjpeg-rle, -openjpeg via pyo3) panic with PanicException,
        # which derives from BaseException (found by the R3 fuzzer, issue 11).
        except BaseException as exc:
            message = _first_reason(exc)
            if any(hint in message for hint in _TRUNCATION_HINTS):
                raise TruncatedFileError(f"pixel data is incomplete ({message})", path) from exc
            raise DicomLoadError(f"pixel data cannot be decoded ({message})", path) from exc
    for record in records:
        message = str(record.message).splitlines()[0]
        if any(hint in message for hint in _TRUNCATION_HINTS):
            raise TruncatedFileError(f"pixel data is incomplete ({message})", path)
    count = max(1, int(ds.get("NumberOfFrames", 1) or 1))
    if count == 1 or frames.ndim == 2 or (frames.ndim == 3 and info.get("palette") and count == 1):
        frames = frames[np.newaxis, ...]
    return np.ascontiguousarray(frames), info


def _check_decoded_size(ds: pydicom.Dataset, path: str) -> None:
    """Refuse before pydicom allocates the decoded frames (issue 11, R6).

    The codec output is sized from the header, not from the compressed bytes; palette colour
    triples it again when expanded to RGB.
    """
    try:
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        frames = max(1, int(ds.get("NumberOfFrames", 1) or 1))
        samples = max(1, int(ds.get("SamplesPerPixel", 1) or 1))
        bits = int(ds.get("BitsAllocated", 8) or 8)
    except (TypeError, ValueError):
        return  # pydicom refuses such a header itself when it decodes
    palette = str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR"
    nbytes = rows * columns * frames * samples * max(1, bits // 8) * (3 if palette else 1)
    check_budget(nbytes, f"decoding {rows}x{columns}x{frames} frame(s)", path)


def _first_reason(exc: BaseException) -> str:
    """One line from an exception: pydicom lists each plugin's failure on its own line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("Unable to decode") and len(lines) > 1:
        return lines[1]
    return lines[0]


def decode_file_for_pool(path: str) -> tuple[np.ndarray, dict]:
    """Entry point for worker processes (kept trivial so it pickles by name)."""
    return decode_with_codecs(str(Path(path)))
