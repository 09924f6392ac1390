"""Hostile peers for medview's Storage SCP (issue 11, R4): raw PDUs and mutated C-STOREs.

PDUs are built by hand from PS3.8 9.3 so that any byte can be wrong: pynetdicom's own PDU
classes refuse to encode what a broken or hostile peer sends. Every input comes from a
``random.Random`` seeded with ``seed * 1_000_003 + index``, so a finding is reproduced by
its index alone (:func:`pdu_case`, :func:`mutate_dataset`).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, _config
from pynetdicom.sop_class import Verification

from dicom_factory import write_slice

APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1
VERIFICATION = b"1.2.840.10008.1.1"
CT_IMAGE = b"1.2.840.10008.5.1.4.1.1.2"
EXPLICIT_LE = b"1.2.840.10008.1.2.1"
IMPLICIT_LE = b"1.2.840.10008.1.2"

HOSTILE_UIDS = (
    "../../x",
    "../../../../../../../../tmp/medview-r4-escape",
    "/etc/passwd",
    "a/../../b",
    "1.2.3\x00/../../x",
    "1.2\x01\x1b[2J\x7f\t\r\n",
    "1." + "9" * 80,
    "",
)
#: Where an escaping write of the UID above would land; the test asserts it never exists.
ESCAPE_MARKER = Path("/tmp/medview-r4-escape")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def snapshot(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file (size, mtime) and folder (None) under ``root``: what a write would change."""
    found: dict[str, tuple[int, int] | None] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            found[os.path.join(folder, name)] = None
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def changed(before: dict, after: dict) -> list[Path]:
    return [Path(p) for p, value in after.items() if p not in before or before[p] != value]


# --- PDUs (PS3.8 9.3) ------------------------------------------------------------------


def _pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BBL", pdu_type, 0, len(body)) + body


def _item(item_type: int, body: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def associate_rq(context_ids: tuple[int, int] = (1, 3)) -> bytes:
    """A-ASSOCIATE-RQ (9.3.2) from R4FUZZ to MEDVIEW: Verification, CT Image Storage."""
    contexts = b"".join(
        _item(0x20, bytes([cx_id, 0, 0, 0]) + _item(0x30, uid) + _item(0x40, EXPLICIT_LE))
        for cx_id, uid in zip(context_ids, (VERIFICATION, CT_IMAGE), strict=True)
    )
    user_info = _item(0x50, _item(0x51, struct.pack(">L", 16384)))
    header = struct.pack(">HH", 1, 0) + b"MEDVIEW".ljust(16) + b"R4FUZZ".ljust(16) + bytes(32)
    return _pdu(0x01, header + _item(0x10, APPLICATION_CONTEXT) + contexts + user_info)


def p_data(pdvs: list[tuple[int, int, bytes]]) -> bytes:
    """P-DATA-TF (9.3.5): PDV items of (context id, message control header, fragment)."""
    items = b"".join(struct.pack(">LBB", len(f) + 2, cx, mch) + f for cx, mch, f in pdvs)
    return _pdu(0x04, items)


RELEASE_RQ = _pdu(0x05, bytes(4))
ABORT_RQ = _pdu(0x07, bytes(4))


@dataclass(frozen=True)
class PduCase:
    """What one connection sends; ``associate`` first: after a real association."""

    kind: str
    payload: bytes
    associate: bool = False


def _flip(rng: random.Random, data: bytes, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _absurd_length(rng: random.Random) -> bytes:
    """A real PDU type with a length of 0, 2^32-1, or one that misses the payload."""
    body = rng.randbytes(rng.randrange(0, 200))
    length = rng.choice([0, 0xFFFFFFFF, len(body) + rng.randrange(1, 5000), max(len(body) - 3, 0)])
    return struct.pack(">BBL", rng.randrange(1, 8), 0, length) + body


def _garbage_pdvs(rng: random.Random) -> bytes:
    """P-DATA fragments a real association does not expect: bad context ids, headers, lengths."""
    choice = rng.randrange(4)
    if choice == 0:  # a command fragment of random bytes on the accepted context
        return p_data([(1, rng.choice([0x01, 0x03]), rng.randbytes(rng.randrange(0, 300)))])
    if choice == 1:  # a context id that was never proposed, data then command
        return p_data([(rng.choice([0, 2, 255]), rng.randrange(4), rng.randbytes(50))])
    if choice == 2:  # PDV item length larger than the PDU
        return _pdu(0x04, struct.pack(">LBB", 0xFFFFFFF0, 1, 3) + rng.randbytes(20))
    return _flip(rng, p_data([(1, 0x03, rng.randbytes(80))]), rng.randrange(1, 6))


def pdu_case(seed: int, index: int) -> PduCase:
    rng = random.Random(seed * 1_000_003 + index)
    kind = rng.choice(
        ["random", "absurd-length", "mutated-rq", "truncated-rq", "p-data-first",
         "release-first", "garbage-p-data"]
    )  # fmt: skip
    if kind == "random":
        return PduCase(kind, rng.randbytes(rng.randrange(1, 2000)))
    if kind == "absurd-length":
        return PduCase(kind, _absurd_length(rng))
    rq = associate_rq()
    if kind == "mutated-rq":
        return PduCase(kind, _flip(rng, rq, rng.randrange(1, 9)))
    if kind == "truncated-rq":
        return PduCase(kind, rq[: rng.randrange(1, len(rq))])
    if kind == "p-data-first":
        return PduCase(kind, p_data([(1, 0x03, rng.randbytes(rng.randrange(0, 100)))]))
    if kind == "release-first":
        return PduCase(kind, RELEASE_RQ if rng.random() < 0.5 else ABORT_RQ + RELEASE_RQ)
    return PduCase(kind, _garbage_pdvs(rng), associate=True)


def _read_pdu(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 6)
    return header + _read_exactly(sock, struct.unpack(">L", header[2:])[0])


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def send_case(port: int, case: PduCase, timeout: float) -> str:
    """Send ``case``, half-close, and wait for the SCP to close: "closed" or "timeout".

    The half-close (our EOF) is what a peer that crashed after its last byte looks like;
    the SCP must then drop the connection on its own, within ``timeout``.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        if case.associate:
            sock.sendall(associate_rq())
            reply = _read_pdu(sock)
            assert reply[0] == 0x02, f"association not accepted: {reply[:16]!r}"
        try:
            sock.sendall(case.payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the SCP already closed: fine
            return "closed"
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not sock.recv(4096):
                    return "closed"
        except TimeoutError:
            return "timeout"
        except OSError:  # reset by the SCP
            return "closed"
    return "timeout"


def stall(port: int, rng: random.Random) -> socket.socket:
    """A slow loris: part of an A-ASSOCIATE-RQ, then silence on a socket left open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    rq = associate_rq()
    sock.sendall(rq[: rng.randrange(1, len(rq))])
    return sock


# --- Datasets over C-STORE ---------------------------------------------------------------


def seed_files(folder: Path) -> list[Path]:
    """A synthetic CT slice and two of pydicom's real files (explicit and implicit VR)."""
    folder.mkdir(parents=True, exist_ok=True)
    ct = write_slice(
        folder / "factory-ct.dcm", position=(0.0, 0.0, 0.0), series_uid=generate_uid(),
        study_uid=generate_uid(), frame_uid=generate_uid(),
    )  # fmt: skip
    return [ct, Path(get_testdata_file("CT_small.dcm")), Path(get_testdata_file("MR_small.dcm"))]


def _hostile_uid(ds: pydicom.Dataset, rng: random.Random) -> str:
    keyword = rng.choice(["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"])
    uid = rng.choice(HOSTILE_UIDS)
    setattr(ds, keyword, uid)
    # The C-STORE-RQ's Affected SOP Instance UID comes from the file meta (which pydicom will
    # not write empty: an empty SOP Instance UID then stays in the dataset alone).
    if keyword == "SOPInstanceUID" and uid:
        ds.file_meta.MediaStorageSOPInstanceUID = uid
    return "hostile-uid"


def _missing_uid(ds: pydicom.Dataset, rng: random.Random) -> str:
    for keyword in rng.sample(["SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"],
                              rng.randrange(1, 4)):  # fmt: skip
        if keyword in ds:
            del ds[keyword]
    return "missing-uid"


def _wrong_vr(ds: pydicom.Dataset, rng: random.Random) -> str:
    tag, vr, value = rng.choice([
        (0x00280010, "LO", "many"),  # Rows as text
        (0x0020000D, "US", 7),  # Study Instance UID as a number
        (0x00100010, "FD", 1.5),  # Patient's Name as a double
        (0x00200032, "SQ", []),  # Image Position as an empty sequence
        (0x7FE00010, "UN", b"\x00" * 7),  # odd-length pixel data of unknown VR
    ])  # fmt: skip
    ds.add_new(tag, vr, value)
    return "wrong-vr"


def _huge_claims(ds: pydicom.Dataset, rng: random.Random) -> str:
    ds.Rows = rng.choice([0, 65535])
    ds.Columns = rng.choice([1, 65535])
    ds.NumberOfFrames = rng.choice([1, 2**31 - 1])
    ds.BitsAllocated = rng.choice([1, 16, 64])
    return "huge-claims"


def mutate_dataset(seeds: list[Path], seed: int, index: int, out: Path) -> str:
    """Write input ``index`` to ``out`` and return its kind; sent as is (chunked, raw)."""
    rng = random.Random(seed * 1_000_003 + index)
    ds = pydicom.dcmread(rng.choice(seeds))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    mutation = rng.choice([_hostile_uid, _missing_uid, _wrong_vr, _huge_claims, None])
    with warnings.catch_warnings():  # invalid UIs and VRs are the point
        warnings.simplefilter("ignore")
        kind = mutation(ds, rng) if mutation else "byte-flips"
        if "PixelData" in ds and ds["PixelData"].VR == "OB or OW":  # an implicit VR seed
            ds["PixelData"].VR = "OW"  # explicit VR needs one (the mutation is elsewhere)
        dcmwrite(out, ds, enforce_file_format=True, implicit_vr=False, little_endian=True)
    if mutation is None:  # flip bytes of the dataset, keep the file meta sendable
        data = out.read_bytes()
        offset = 132 + 12 + struct.unpack("<L", data[140:144])[0]  # after (0002,0000) group
        body = _flip(rng, data[offset:], rng.randrange(1, 17))
        out.write_bytes(data[:offset] + body[: rng.choice([len(body), rng.randrange(len(body))])])
    return kind


@dataclass
class StoreTally:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    no_response: int = 0
    #: Refused by pynetdicom on *our* side before anything went out (e.g. an empty UID).
    unsendable: int = 0


def store_files(
    port: int, files: list[Path], per_association: int, rng: random.Random
) -> StoreTally:
    """C-STORE ``files`` as raw bytes (pynetdicom's chunked send, no re-encoding).

    Associations of ``per_association`` stores, one in four aborted rather than released,
    so the push receiver both imports (release) and discards (abort) hostile inboxes.
    """
    tally = StoreTally()
    ae = AE(ae_title="R4FUZZ")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", EXPLICIT_LE.decode())  # CT
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.4", EXPLICIT_LE.decode())  # MR
    chunked = _config.STORE_SEND_CHUNKED_DATASET
    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        for start in range(0, len(files), per_association):
            assoc = ae.associate("127.0.0.1", port, ae_title="MEDVIEW")
            assert assoc.is_established, "the SCP refused a plain association"
            for path in files[start : start + per_association]:
                try:
                    status = assoc.send_c_store(path)
                except (ValueError, AttributeError):
                    tally.unsendable += 1
                    continue
                tally.sent += 1
                if not status or "Status" not in status:
                    tally.no_response += 1
                elif status.Status == 0x0000:
                    tally.accepted += 1
                else:
                    tally.refused += 1
            if assoc.is_established:
                assoc.abort() if rng.random() < 0.25 else assoc.release()
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = chunked
    return tally


def echo_round_trip(port: int) -> tuple[int | None, float]:
    """(C-ECHO status, seconds for association + echo + release)."""
    ae = AE(ae_title="R4ECHO")
    ae.add_requested_context(Verification)
    start = time.perf_counter()
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDVIEW")
    if not assoc.is_established:
        return None, time.perf_counter() - start
    status = assoc.send_c_echo()
    assoc.release()
    seconds = time.perf_counter() - start
    return (status.Status if status and "Status" in status else None), seconds
