"""Limits on what a DICOM file may make medview allocate (issue 11, R6: size bombs).

A header is untrusted input: Rows, Columns, NumberOfFrames and BitsAllocated can claim any
size, and a deflated file can expand a thousandfold. These checks run on the header's claims
*before* any buffer is allocated or any stream inflated, and refuse with
:class:`~medview.core.errors.DicomLoadError` (one line naming the file and the problem).

The memory budget is one setting: ``MEDVIEW_PIXEL_BUDGET_MB`` in the environment, else half of
the physical memory (4 GiB where it cannot be read). No single image or volume medview builds
may claim more; a workstation that holds one study needs the rest for the viewer and the OS.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from medview.core.errors import DicomLoadError

#: Environment setting (MiB) that overrides the default memory budget.
BUDGET_ENV = "MEDVIEW_PIXEL_BUDGET_MB"
#: Budget when the physical memory size is unknown (non-POSIX without sysconf).
FALLBACK_BUDGET_BYTES = 4 << 30
#: Deflate (PS3.5 A.5) may expand a stream at most this many times (issue 11, R6) ...
MAX_DEFLATE_RATIO = 100
#: ... unless the inflated stream is this small anyway: blank images deflate ~1000:1, and a
#: 512x512 blank frame (512 KiB) must still open. Nothing below this size is a bomb.
DEFLATE_RATIO_FLOOR_BYTES = 1 << 20
#: Deflated Explicit VR Little Endian and Deflated Image Frame Compression (PS3.5 A.5, A.4.11).
DEFLATED_SYNTAXES = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
_NATIVE_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2")
_CHUNK = 1 << 16
_MAX_META = 64 << 20


def memory_budget_bytes() -> int:
    """The most bytes one decoded image or volume may take (read on each call: tests set it)."""
    override = os.environ.get(BUDGET_ENV, "").strip()
    if override:
        try:
            return max(1, int(float(override) * (1 << 20)))
        except ValueError:
            pass  # a typo in the setting must not disable the limit: use the default
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_BUDGET_BYTES
    return physical // 2 if physical > 0 else FALLBACK_BUDGET_BYTES


def _size(nbytes: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


def check_budget(nbytes: int, what: str, path: str | Path | None) -> None:
    """Refuse before allocating ``nbytes`` for ``what`` when it exceeds the budget."""
    budget = memory_budget_bytes()
    if nbytes > budget:
        raise DicomLoadError(
            f"{what} would take {_size(nbytes)}, more than medview's memory budget of "
            f"{_size(budget)} ({BUDGET_ENV}); refused before allocating",
            path,
        )


def check_image_claim(
    *,
    rows: int,
    columns: int,
    frames: int,
    samples: int,
    bits_allocated: int,
    file_size: int,
    transfer_syntax: str,
    path: str | Path,
) -> None:
    """Refuse a header whose image cannot exist: beyond the budget or beyond the file.

    Also bounds NumberOfFrames by the file size, because the header and the series grouping
    loop once per frame: every frame needs at least one bit of a native file and one 8-byte
    item of an encapsulated one (PS3.5 A.4), so a 40 KB file claiming 2**31 frames is a lie
    to refuse, not a loop to run.
    """
    per_sample = max(1, bits_allocated // 8) if bits_allocated else 1
    claimed = rows * columns * max(1, samples) * max(1, frames) * per_sample
    check_budget(
        claimed, f"the image ({rows}x{columns}, {frames} frame(s), {bits_allocated} bits)", path
    )
    if transfer_syntax in DEFLATED_SYNTAXES:
        room = max(file_size * MAX_DEFLATE_RATIO, DEFLATE_RATIO_FLOOR_BYTES) * 8
    elif transfer_syntax in _NATIVE_SYNTAXES:
        room = file_size * 8  # 1-bit frames pack eight to a byte (PS3.5 8.1.1)
    else:
        room = file_size // 8
    if frames > max(1, room):
        raise DicomLoadError(
            f"NumberOfFrames {frames} cannot fit in a file of {file_size} bytes "
            "(corrupt header); refused",
            path,
        )


def dataset_offset(head: bytes) -> tuple[str, int] | None:
    """(transfer syntax, offset of the data set) from a Part 10 file's first bytes.

    The file meta group 0002 is always Explicit VR Little Endian (PS3.10 7.1); None when
    ``head`` does not hold a complete one.
    """
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    position, syntax = 132, ""
    while position + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, position)
        if group != 0x0002:
            return syntax, position
        vr = head[position + 4 : position + 6]
        if vr in (b"OB", b"OW", b"UN", b"UT", b"SQ", b"UC", b"UR"):
            if position + 12 > len(head):
                return None
            (length,) = struct.unpack_from("<I", head, position + 8)
            start = position + 12
        else:
            (length,) = struct.unpack_from("<H", head, position + 6)
            start = position + 8
        if length == 0xFFFFFFFF or start + length > len(head):
            return None
        if element == 0x0010:
            syntax = head[start : start + length].decode("ascii", "replace").strip(" \x00")
        position = start + length
    return None


def check_deflate(path: str | Path) -> None:
    """Refuse a deflated file whose stream inflates beyond MAX_DEFLATE_RATIO times its size.

    pydicom inflates the whole data set in one ``zlib.decompress`` call (a 100 KB stream can
    become 100 MB); this walks it first in bounded chunks (``max_length``), keeping nothing,
    so memory stays at one chunk whatever the stream claims.
    """
    try:
        with open(path, "rb") as handle:
            # The meta group is usually < 1 KiB but has no upper bound (a private OB in it):
            # read on until it ends, or a file too odd for pydicom too is left to refuse.
            head, found = b"", None
            while found is None and len(head) < _MAX_META:
                more = handle.read(max(1 << 12, len(head)))
                if not more:
                    break
                head += more
                found = dataset_offset(head)
            if found is None or found[0] not in DEFLATED_SYNTAXES:
                return
            syntax, offset = found
            if syntax != DEFLATED_SYNTAXES[0]:
                return  # Deflated Image Frame Compression: per-frame, decoded by pydicom
            handle.seek(offset)
            compressed = handle.seek(0, 2) - offset
            handle.seek(offset)
            limit = max(compressed * MAX_DEFLATE_RATIO, DEFLATE_RATIO_FLOOR_BYTES)
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            produced = 0
            while not inflater.eof and (chunk := handle.read(_CHUNK)):
                data = chunk
                # max_length caps each call's output; what it could not take waits in
                # unconsumed_tail. Bytes after the end of the stream are not part of it.
                while data and not inflater.eof:
                    produced += len(inflater.decompress(data, _CHUNK))
                    if produced > limit:
                        raise DicomLoadError(
                            f"the deflated data set expands more than {MAX_DEFLATE_RATIO}x its "
                            f"{_size(compressed)} (a decompression bomb); refused",
                            path,
                        )
                    data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise DicomLoadError(f"the deflated data set is corrupt ({exc})", path) from exc
    except OSError as exc:
        raise DicomLoadError(f"cannot read the file ({exc.strerror or exc})", path) from exc
