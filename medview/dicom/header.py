"""Header-only reading of one DICOM file into a small, picklable record.

The scan reads up to the Pixel Data element and stops (``stop_before_pixels``), which is what
makes indexing thousands of files fast. For uncompressed little-endian files it also records
where the pixel bytes start, so the loader can read them straight into a preallocated array
without a second parse.
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID

from medview.core.errors import DicomLoadError, NotDicomError, TruncatedFileError
from medview.dicom.fastheader import Truncated, read_fast, wanted_tags
from medview.dicom.limits import check_deflate, check_image_claim

PIXEL_DATA_TAG = 0x7FE00010
_IMAGE_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
# Transfer syntaxes whose pixel bytes are stored raw, little endian, not deflated (PS3.5 A.1-A.2).
_NATIVE_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
_WARNINGS_LOCK = threading.Lock()
#: Media Storage Directory Storage: a DICOMDIR (PS3.10 7.2).
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _floats(value: object, count: int) -> tuple[float, ...] | None:
    """A fixed-length tuple of floats, or None when absent or malformed."""
    if value is None:
        return None
    try:
        items = (
            list(value)
            if isinstance(value, list | tuple | pydicom.multival.MultiValue)
            else [value]
        )
        numbers = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None
    if len(numbers) != count or not all(map(_finite, numbers)):
        return None
    return numbers


def _finite(number: float) -> bool:
    return number == number and abs(number) != float("inf")


def _int(value: object, default: int | None = None) -> int | None:
    try:
        if isinstance(value, list | tuple | pydicom.multival.MultiValue):
            value = value[0]
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _float(value: object, default: float | None = None) -> float | None:
    try:
        if isinstance(value, list | tuple | pydicom.multival.MultiValue):
            value = value[0]
        number = float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
    return number if number is None or _finite(number) else default


@dataclass(frozen=True)
class FrameGeometry:
    """Plane geometry of one frame (PS3.3 C.7.6.2 Image Plane / C.7.6.16 functional groups)."""

    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None  # six direction cosines: row then column
    pixel_spacing: tuple[float, float] | None  # (row spacing, column spacing) in mm


@dataclass(frozen=True)
class InstanceHeader:
    """What the scan learns about one DICOM file, without decoding its pixels."""

    path: str
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    patient_age: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    frame_of_reference_uid: str = ""
    instance_number: int | None = None
    acquisition_number: int | None = None
    echo_number: int | None = None
    temporal_position: int | None = None
    image_type: str = ""
    #: ImageComments and DerivationDescription: medview's AI outputs say so there (writer.py).
    image_comments: str = ""
    derivation_description: str = ""
    has_pixels: bool = False
    rows: int = 0
    columns: int = 0
    number_of_frames: int = 1
    samples_per_pixel: int = 1
    photometric: str = ""
    bits_allocated: int = 0
    bits_stored: int = 0
    pixel_representation: int = 0
    planar_configuration: int = 0
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    rescale_type: str = ""
    #: A Modality LUT Sequence replaces slope/intercept (PS3.3 C.11.1); rare, decoded by pydicom.
    has_modality_lut_sequence: bool = False
    window_centers: tuple[float, ...] = ()
    window_widths: tuple[float, ...] = ()
    window_explanations: tuple[str, ...] = ()
    slice_thickness: float | None = None
    spacing_between_slices: float | None = None
    geometry: FrameGeometry = FrameGeometry(None, None, None)
    #: Per-frame geometry of enhanced multi-frame images (empty for single-frame files).
    frames: tuple[FrameGeometry, ...] = ()
    #: Per-frame rescale (slope, intercept) of enhanced images, when they differ by frame.
    frame_rescale: tuple[tuple[float, float], ...] = ()
    #: RT Dose frame offsets along the normal (PS3.3 C.8.8.3.2), relative to the first frame.
    grid_frame_offsets: tuple[float, ...] = ()
    #: Byte offset and length of the raw Pixel Data value for native little-endian files.
    pixel_offset: int | None = None
    pixel_length: int | None = None
    file_size: int = 0
    warnings: tuple[str, ...] = field(default=())

    @property
    def is_multiframe(self) -> bool:
        return self.number_of_frames > 1

    @property
    def expected_pixel_bytes(self) -> int:
        per_sample = self.bits_allocated // 8 if self.bits_allocated >= 8 else 1
        return (
            self.rows * self.columns * self.samples_per_pixel * self.number_of_frames * per_sample
        )


def has_dicom_preamble(path: str | Path) -> bool:
    """True when the file carries the Part 10 marker 'DICM' after the 128-byte preamble."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_header(path: str | Path) -> InstanceHeader:
    """Read one file's header; raise a :class:`DicomLoadError` subclass if it is unusable.

    Only DICOM Part 10 files (preamble + 'DICM' + file meta) are accepted: medview never uses
    ``force=True`` on untrusted input.
    """
    path = Path(path)
    if not has_dicom_preamble(path):
        raise NotDicomError("not a DICOM Part 10 file (no 'DICM' marker)", path)
    if path.is_dir():
        raise NotDicomError("is a folder, not a file", path)
    # warnings.catch_warnings is process-global state: one reader at a time per process.
    # Header parsing is pure Python (GIL-bound), so the lock costs no parallelism; the scanner
    # gets its speed-up from worker processes instead.
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        truncated = ""
        try:
            try:
                fast = read_fast(path, _WANTED_TAGS)
            except Truncated as cut:
                fast = None
                truncated = (
                    f"the file is truncated: element {cut} runs past its end, so the object "
                    "is incomplete"
                )
            if fast is None:
                # pydicom inflates a deflated data set whole, even for the header: bound the
                # expansion first (issue 11, R6).
                check_deflate(path)
            if fast is not None:
                header = header_from_dataset(
                    fast.dataset,
                    path,
                    fast.pixel_element_position or fast.file_size,
                    file_size=fast.file_size,
                    native_pixels=fast.native_pixels or (None, None),
                )
            else:
                with open(path, "rb") as handle:
                    ds = pydicom.dcmread(handle, stop_before_pixels=True)
                    stop_position = handle.tell()
                header = header_from_dataset(ds, path, stop_position)
        except InvalidDicomError as exc:
            raise NotDicomError(f"not a valid DICOM file ({exc})", path) from exc
        except EOFError as exc:
            raise TruncatedFileError("the file ends inside its header (truncated)", path) from exc
        except DicomLoadError:
            raise
        except Exception as exc:  # untrusted bytes: any parser failure means "unreadable"
            # pydicom raises many types on hostile input (ValueError, struct.error,
            # BytesLengthException, RecursionError...); none may escape as a crash (issue 2).
            raise DicomLoadError(
                f"unreadable DICOM header ({type(exc).__name__}: {exc})", path
            ) from exc
    caught = [str(r.message).splitlines()[0] for r in records]
    if truncated:
        caught.insert(0, truncated)
    if caught:
        header = replace(header, warnings=tuple(dict.fromkeys((*header.warnings, *caught))))
    return header


def header_from_dataset(
    ds: Dataset,
    path: Path,
    stop_position: int | None = None,
    caught: list[str] | None = None,
    *,
    file_size: int | None = None,
    native_pixels: tuple[int, int] | tuple[None, None] | None = None,
) -> InstanceHeader:
    """Build the record from an already-read dataset (no pixel data needed).

    ``file_size`` and ``native_pixels`` (value offset and length of the Pixel Data element)
    save a second look at the file when the caller already knows them.
    """
    warnings_found = list(caught or [])
    meta = getattr(ds, "file_meta", None)
    transfer_syntax = _text(meta.get("TransferSyntaxUID")) if meta is not None else ""
    if not transfer_syntax:
        raise DicomLoadError("the file meta header has no Transfer Syntax UID", path)
    fields = _FastFields(ds)
    sop_class = _text(fields.get("SOPClassUID")) or (
        _text(meta.get("MediaStorageSOPClassUID")) if meta is not None else ""
    )
    sop_instance = _text(fields.get("SOPInstanceUID")) or (
        _text(meta.get("MediaStorageSOPInstanceUID")) if meta is not None else ""
    )
    if not sop_instance:
        raise DicomLoadError("no SOP Instance UID", path)
    if file_size is None:
        try:
            file_size = os.path.getsize(path)
        except OSError:
            file_size = 0
    # Issue 11, R6: the size the header claims is checked before anything loops over its
    # frames or allocates for its pixels.
    check_image_claim(
        rows=_int(fields.get("Rows"), 0) or 0,
        columns=_int(fields.get("Columns"), 0) or 0,
        frames=max(1, _int(fields.get("NumberOfFrames"), 1) or 1),
        samples=_int(fields.get("SamplesPerPixel"), 1) or 1,
        bits_allocated=_int(fields.get("BitsAllocated"), 0) or 0,
        file_size=file_size,
        transfer_syntax=transfer_syntax,
        path=path,
    )
    try:
        values = _read_values(ds, fields, warnings_found)
    except (ValueError, TypeError, LookupError, AttributeError) as exc:
        raise DicomLoadError(f"malformed header value ({type(exc).__name__}: {exc})", path) from exc
    # The reader stopped at Pixel Data unless the file ended first. A deflated file is read
    # through a decompressing stream, so its file position says nothing: trust Rows there.
    deflated = transfer_syntax == "1.2.840.10008.1.2.1.99"
    reached_pixels = stop_position is not None and (deflated or stop_position < file_size)
    has_pixels = reached_pixels and "Rows" in ds
    pixel_offset, pixel_length = None, None
    if has_pixels and transfer_syntax in _NATIVE_LITTLE_ENDIAN and native_pixels is not None:
        pixel_offset, pixel_length = native_pixels
    elif has_pixels and transfer_syntax in _NATIVE_LITTLE_ENDIAN:
        pixel_offset, pixel_length = _locate_native_pixels(
            path, stop_position, transfer_syntax == "1.2.840.10008.1.2"
        )
    return InstanceHeader(
        path=str(path),
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        transfer_syntax_uid=transfer_syntax,
        has_pixels=bool(has_pixels),
        pixel_offset=pixel_offset,
        pixel_length=pixel_length,
        file_size=file_size,
        warnings=tuple(dict.fromkeys(warnings_found)),
        **values,
    )


def _read_values(ds: Dataset, fields: _FastFields, warnings_found: list[str]) -> dict:
    centers = _multi_floats(fields.get("WindowCenter"))
    widths = _multi_floats(fields.get("WindowWidth"))
    explanations = fields.get("WindowCenterWidthExplanation")
    values = dict(
        patient_id=_text(fields.get("PatientID")),
        patient_name=_text(fields.get("PatientName")),
        patient_birth_date=_text(fields.get("PatientBirthDate")),
        patient_sex=_text(fields.get("PatientSex")),
        patient_age=_text(fields.get("PatientAge")),
        study_uid=_text(fields.get("StudyInstanceUID")),
        study_date=_text(fields.get("StudyDate")),
        study_time=_text(fields.get("StudyTime")),
        study_description=_text(fields.get("StudyDescription")),
        accession_number=_text(fields.get("AccessionNumber")),
        series_uid=_text(fields.get("SeriesInstanceUID")),
        series_number=_int(fields.get("SeriesNumber")),
        series_description=_text(fields.get("SeriesDescription")),
        modality=_text(fields.get("Modality")),
        frame_of_reference_uid=_text(fields.get("FrameOfReferenceUID")),
        instance_number=_int(fields.get("InstanceNumber")),
        acquisition_number=_int(fields.get("AcquisitionNumber")),
        echo_number=_int(fields.get("EchoNumbers")),
        temporal_position=_int(fields.get("TemporalPositionIdentifier")),
        image_type=_text(fields.get("ImageType")),
        image_comments=_text(fields.get("ImageComments")),
        derivation_description=_text(fields.get("DerivationDescription")),
        rows=_int(fields.get("Rows"), 0) or 0,
        columns=_int(fields.get("Columns"), 0) or 0,
        number_of_frames=max(1, _int(fields.get("NumberOfFrames"), 1) or 1),
        samples_per_pixel=_int(fields.get("SamplesPerPixel"), 1) or 1,
        photometric=_text(fields.get("PhotometricInterpretation")),
        bits_allocated=_int(fields.get("BitsAllocated"), 0) or 0,
        bits_stored=_int(fields.get("BitsStored"), 0) or 0,
        pixel_representation=_int(fields.get("PixelRepresentation"), 0) or 0,
        planar_configuration=_int(fields.get("PlanarConfiguration"), 0) or 0,
        rescale_slope=_float(fields.get("RescaleSlope"), 1.0) or 1.0,
        rescale_intercept=_float(fields.get("RescaleIntercept"), 0.0) or 0.0,
        rescale_type=_text(fields.get("RescaleType")),
        has_modality_lut_sequence="ModalityLUTSequence" in ds,
        window_centers=centers,
        window_widths=widths,
        window_explanations=tuple(_text(e) for e in explanations)
        if isinstance(explanations, list | tuple | pydicom.multival.MultiValue)
        else ((_text(explanations),) if explanations else ()),
        grid_frame_offsets=_multi_floats(fields.get("GridFrameOffsetVector")),
        slice_thickness=_float(fields.get("SliceThickness")),
        spacing_between_slices=_float(fields.get("SpacingBetweenSlices")),
        geometry=FrameGeometry(
            _floats(fields.get("ImagePositionPatient"), 3),  # type: ignore[arg-type]
            _floats(fields.get("ImageOrientationPatient"), 6),
            _pixel_spacing(fields),
        ),
    )
    dose_scaling = _float(fields.get("DoseGridScaling"))
    if dose_scaling:  # RT Dose: stored value x DoseGridScaling = Gy (PS3.3 C.8.8.3)
        values["rescale_slope"], values["rescale_intercept"] = dose_scaling, 0.0
        values["rescale_type"] = _text(fields.get("DoseUnits")) or "GY"
    if "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds:
        from medview.dicom.multiframe import enhanced_frame_geometry

        frames, rescale, shared_rescale = enhanced_frame_geometry(ds, warnings_found)
        values["frames"] = frames
        values["frame_rescale"] = rescale
        if shared_rescale is not None:
            values["rescale_slope"], values["rescale_intercept"] = shared_rescale
        if frames:
            values["geometry"] = frames[0]
    return values


#: Value Representations made of plain ASCII characters (PS3.5 6.2): no character set applies,
#: so the raw bytes can be split and stripped directly.
_ASCII_VRS = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"}

#: Text VRs whose bytes follow the Specific Character Set (PS3.5 6.1.2.3).
# PN is left to pydicom: its text form drops empty trailing component groups ("A=B=" -> "A=B").
_TEXT_VRS = {"LO", "SH", "ST", "LT", "UT", "UC"}
#: Specific Character Set values whose text can be decoded without code extensions.
_DIRECT_CODECS = {
    ("",): "ascii",
    ("ISO_IR 6",): "ascii",
    ("ISO_IR 100",): "latin-1",
    ("ISO_IR 192",): "utf-8",
}
_US_KEYWORDS = {
    "Rows", "Columns", "BitsAllocated", "BitsStored", "PixelRepresentation",
    "SamplesPerPixel", "PlanarConfiguration",
}  # fmt: skip


#: Every top-level attribute the header reads: what the fast walk keeps (fastheader.py).
_WANTED_KEYWORDS = (
    "SpecificCharacterSet",
    "SOPClassUID",
    "SOPInstanceUID",
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "Modality",
    "FrameOfReferenceUID",
    "InstanceNumber",
    "AcquisitionNumber",
    "EchoNumbers",
    "TemporalPositionIdentifier",
    "ImageType",
    "ImageComments",
    "DerivationDescription",
    "NumberOfFrames",
    "PhotometricInterpretation",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "WindowCenterWidthExplanation",
    "GridFrameOffsetVector",
    "SliceThickness",
    "SpacingBetweenSlices",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "NominalScannedPixelSpacing",
    "DoseGridScaling",
    "DoseUnits",
    *_US_KEYWORDS,
)
_WANTED_TAGS = wanted_tags(_WANTED_KEYWORDS)


_TAGS = {keyword: pydicom.datadict.tag_for_keyword(keyword) for keyword in _WANTED_KEYWORDS}


class _FastFields:
    """Header values read straight from the raw elements where that is safe.

    pydicom converts and validates each value on access, which costs about 0.1 ms an element
    and dominated header indexing (issue 2 goal: 3,000 files in under 2 s). ASCII VRs and US
    values are decoded here directly; text that depends on the Specific Character Set (PN, LO,
    SH, ...) still goes through pydicom so names decode exactly as the author wrote them.
    """

    def __init__(self, ds: Dataset) -> None:
        self._ds = ds
        encoding = getattr(ds, "original_encoding", (None, True))
        self._little = encoding[1] is not False
        charset = self._ascii(0x00080005)
        terms = [charset] if isinstance(charset, str) else list(charset or [])
        # Single-byte Latin-1 and UTF-8 text decodes directly; ISO 2022 code extensions
        # (Japanese, Korean, ...) and every other repertoire go through pydicom (PS3.5 6.1).
        self._text_codec = _DIRECT_CODECS.get(tuple(t for t in terms if t) or ("",))

    def get(self, keyword: str) -> object:
        tag = _TAGS.get(keyword) or pydicom.datadict.tag_for_keyword(keyword)
        element = self._ds._dict.get(tag)
        if element is None:
            return None
        if not isinstance(element, pydicom.dataelem.RawDataElement):
            return element.value
        raw = element.value
        if raw is None:
            return None
        if keyword in _US_KEYWORDS and len(raw) >= 2:
            return struct.unpack("<H" if self._little else ">H", raw[:2])[0]
        vr = element.VR or pydicom.datadict.dictionary_VR(tag)
        if vr in _ASCII_VRS:
            return _split(raw.decode("ascii", "replace"))
        if vr in _TEXT_VRS and self._text_codec is not None:
            return _split(raw.decode(self._text_codec, "replace"))
        return self._ds.get(keyword)

    def _ascii(self, tag: int) -> str | list[str] | None:
        element = self._ds._dict.get(tag)
        if element is None:
            return None
        if isinstance(element, pydicom.dataelem.RawDataElement):
            return _split(element.value.decode("ascii", "replace")) if element.value else ""
        return element.value


def _split(text: str) -> str | list[str]:
    """Multi-valued text splits on backslash (PS3.5 6.4); padding spaces and NULs go."""
    parts = [part.strip(" \x00") for part in text.strip(" \x00").split("\\")]
    return parts[0] if len(parts) == 1 else parts


def _multi_floats(value: object) -> tuple[float, ...]:
    if value is None or value == "":
        return ()
    items = (
        list(value) if isinstance(value, list | tuple | pydicom.multival.MultiValue) else [value]
    )
    result = []
    for item in items:
        number = _float(item)
        if number is not None:
            result.append(number)
    return tuple(result)


def _pixel_spacing(ds: Dataset | _FastFields) -> tuple[float, float] | None:
    """PixelSpacing, else ImagerPixelSpacing (projection radiography, PS3.3 C.8.11.4)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        spacing = _floats(ds.get(keyword), 2)
        if spacing is not None and spacing[0] > 0 and spacing[1] > 0:
            return spacing  # type: ignore[return-value]
    return None


def _locate_native_pixels(
    path: Path, position: int, implicit_vr: bool
) -> tuple[int, int] | tuple[None, None]:
    """Offset and length of the Pixel Data value that starts at ``position``.

    Explicit VR OB/OW elements have a 12-byte header (tag, VR, 2 reserved bytes, 32-bit
    length); implicit VR elements an 8-byte one (PS3.5 7.1.2).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(position)
            head = handle.read(12)
    except OSError:
        return None, None
    if len(head) < 8:
        return None, None
    group, element = struct.unpack("<HH", head[:4])
    if (group << 16 | element) != PIXEL_DATA_TAG:
        return None, None
    if implicit_vr:
        (length,) = struct.unpack("<I", head[4:8])
        offset = position + 8
    else:
        if len(head) < 12 or head[4:6] not in (b"OB", b"OW"):
            return None, None
        (length,) = struct.unpack("<I", head[8:12])
        offset = position + 12
    if length == 0xFFFFFFFF:  # undefined length: encapsulated, not native
        return None, None
    return offset, length


def is_dicomdir(header: InstanceHeader) -> bool:
    return header.sop_class_uid == DICOMDIR_SOP_CLASS


def sop_class_name(uid: str) -> str:
    try:
        return UID(uid).name if uid else ""
    except (ValueError, KeyError):
        return uid


def read_dicomdir(path: str | Path) -> Dataset:
    """Read a DICOMDIR fully (its directory records are needed, not only the header)."""
    path = Path(path)
    if not has_dicom_preamble(path):
        raise NotDicomError("not a DICOM Part 10 file (no 'DICM' marker)", path)
    try:
        return pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError, ValueError, struct.error) as exc:
        raise DicomLoadError(f"unreadable DICOMDIR ({exc})", path) from exc
