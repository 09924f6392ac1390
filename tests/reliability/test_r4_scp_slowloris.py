"""Issue 11, R4: slow-loris peers against the Storage SCP's association slots, on loopback.

pynetdicom reads a PDU whole in one blocking loop and each byte resets the socket timeout,
so a peer that trickles a byte every half second (well under the 30 s network timeout)
held its association thread, and one of the AE's ten association slots, for as long as it
liked: ten of them and every PACS was rejected ("local limit exceeded"). The listener's
watchdog (``scp._StallWatchdog``) now closes a connection that completes no PDU within
``stall_limit_s``; here 2 s, against 60 s in the app.

Ten peers trickle an A-ASSOCIATE-RQ (before associating) or a P-DATA-TF (after): the
listener must close all ten sockets and then answer a real C-ECHO. A healthy peer that
pauses between C-STOREs, and sends one dataset as several P-DATA PDUs, is never cut off.

Measured 2026-11-26 (2 cores shared with another test run): all ten closed 3.0 s (P-DATA)
and 4.0 s (A-ASSOCIATE-RQ; the listener accepted them over ~1 s) after connecting, echo
0x0000 in 60-140 ms; the healthy peer stored 5 of 5 over 5.4 s, none cut; 13 s in all.
Without the watchdog: 0 of 10 closed after 17 s and every echo rejected. Report with ``-s``::

    .venv/bin/python -m pytest tests/reliability/test_r4_scp_slowloris.py -s -p no:randomly
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import time

import numpy as np
import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage
from rel_scp_fuzz import associate_rq, echo_round_trip, free_port, p_data

from medview.core.paths import app_dirs
from medview.net.inbox import Inbox
from medview.net.scp import StorageListener

#: The watchdog's limit in these tests (the app's is scp.PDU_STALL_LIMIT_S, 60 s).
STALL_LIMIT_S = 2.0
#: Seconds between the bytes a slow loris sends: far under the 30 s network timeout.
TRICKLE_S = 0.5
#: pynetdicom's AE takes ten associations; an eleventh is rejected while they live.
SLOTS = 10
#: Generous: the limit, the watchdog's 1 s round, and a busy 2-core machine.
CLOSED_WITHIN_S = STALL_LIMIT_S + 15.0


@pytest.fixture
def listener(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVIEW_HOME", str(tmp_path / "home"))
    inbox = Inbox(app_dirs().ensure())
    scp_ = StorageListener(
        "MEDVIEW", free_port(), inbox=inbox, bind="127.0.0.1", stall_limit_s=STALL_LIMIT_S
    )
    with scp_:
        yield scp_, inbox


def _read_pdu(sock: socket.socket) -> bytes:
    header = sock.recv(6, socket.MSG_WAITALL)
    length = struct.unpack(">L", header[2:])[0]
    return header + sock.recv(length, socket.MSG_WAITALL)


def _slow_loris(port: int, associate: bool) -> tuple[socket.socket, bytes]:
    """A connection, and the PDU it will trickle: an A-ASSOCIATE-RQ, or after associating a
    P-DATA-TF (a 4,000-byte command fragment: minutes at one byte per ``TRICKLE_S``)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if not associate:
        return sock, associate_rq()
    sock.sendall(associate_rq())
    reply = _read_pdu(sock)
    assert reply[0] == 0x02, f"association not accepted: {reply[:16]!r}"
    return sock, p_data([(1, 0x03, bytes(4000))])


def _trickle(peers: list[tuple[socket.socket, bytes]], done: threading.Event) -> None:
    """One byte to each open peer every ``TRICKLE_S``; a peer the SCP closed is dropped."""
    open_ = dict(enumerate(peers))
    offset = 0
    while open_ and not done.wait(TRICKLE_S):
        for index, (sock, pdu) in list(open_.items()):
            try:
                sock.send(pdu[offset : offset + 1])
            except OSError:
                del open_[index]
        offset += 1


def _wait_for_acceptors(scp_: StorageListener, count: int, deadline: float) -> bool:
    """Whether ``count`` acceptor threads run before ``deadline``.

    ``connect()`` returns once the kernel has the connection; the listener (a backlog of 5)
    may accept it a retransmission later, after an echo sent meanwhile.
    """
    while len(scp_._server.active_associations) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Whether the SCP closed ``sock`` (EOF or reset) before ``deadline``; reads any A-ABORT."""
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            return False
        try:
            if not sock.recv(4096):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def _shown(status: int | None) -> str:
    return "rejected" if status is None else f"0x{status:04X}"


@pytest.mark.parametrize("associate", [False, True], ids=["before-association", "p-data"])
def test_ten_trickling_peers_are_cut_off_and_the_listener_answers_again(
    listener, associate, caplog
):
    scp_, _inbox = listener
    caplog.set_level(logging.WARNING, logger="medview.net.scp")
    start = time.monotonic()
    peers = [_slow_loris(scp_.port, associate) for _ in range(SLOTS)]
    done = threading.Event()
    trickler = threading.Thread(target=_trickle, args=(peers, done), daemon=True)
    trickler.start()
    try:
        # While they hold every slot the listener is shut out (what the watchdog undoes).
        held = _wait_for_acceptors(scp_, SLOTS, start + STALL_LIMIT_S)
        blocked, _ = echo_round_trip(scp_.port)
        blocked_checked_in_time = held and time.monotonic() - start < STALL_LIMIT_S
        deadline = start + CLOSED_WITHIN_S
        closed = [_closed_by_server(sock, deadline) for sock, _pdu in peers]
        closed_s = time.monotonic() - start
        # Before our side closes anything: the SCP's closing alone must free the slots
        # (their threads end a few scheduler rounds after the close on a busy machine).
        status, echo_s = echo_round_trip(scp_.port)
        while status is None and time.monotonic() - start < CLOSED_WITHIN_S:
            time.sleep(0.1)
            status, echo_s = echo_round_trip(scp_.port)
    finally:
        done.set()
        trickler.join()
        for sock, _pdu in peers:
            sock.close()
    cut = [r for r in caplog.records if "no complete PDU" in r.getMessage()]
    print(
        f"\nR4 slow loris ({'p-data' if associate else 'before association'}): "
        f"{sum(closed)}/{SLOTS} closed by the SCP {closed_s:.1f} s after connecting "
        f"(limit {STALL_LIMIT_S:.0f} s); echo while held: {_shown(blocked)}; "
        f"echo after: {_shown(status)} in {echo_s * 1000:.0f} ms; {len(cut)} logged"
    )
    if blocked_checked_in_time:
        assert blocked is None, "the trickling peers did not hold the slots"
    assert all(closed), f"{closed.count(False)} trickling peers still open after {closed_s:.1f} s"
    assert status == 0x0000
    assert len(cut) >= SLOTS


def _big_ct(rows: int) -> Dataset:
    """A CT slice of ``rows`` x 1024 16-bit pixels (8 MiB at 4096: 9 P-DATA PDUs of 1 MiB)."""
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = rows, 1024
    ds.PixelData = np.zeros((rows, 1024), np.uint16).tobytes()
    return ds


def test_a_slow_healthy_peer_is_not_cut_off(listener, caplog):
    """Pauses under the limit between C-STOREs, for longer than twice the limit in all, and
    one dataset of 8 MiB (sent as 1 MiB P-DATA PDUs): every store succeeds, none is cut."""
    scp_, inbox = listener
    caplog.set_level(logging.WARNING, logger="medview.net.scp")
    pause_s = STALL_LIMIT_S / 2
    sizes = [16, 4096, 16, 16, 16]
    ae = AE(ae_title="R4HEALTHY")
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    start = time.monotonic()
    assoc = ae.associate("127.0.0.1", scp_.port, ae_title="MEDVIEW")
    assert assoc.is_established
    statuses = []
    try:
        for rows in sizes:
            time.sleep(pause_s)
            status = assoc.send_c_store(_big_ct(rows))
            statuses.append(status.Status if status and "Status" in status else None)
    finally:
        alive = assoc.is_established
        assoc.release()
    held_s = time.monotonic() - start
    cut = [r.getMessage() for r in caplog.records if "no complete PDU" in r.getMessage()]
    print(
        f"\nR4 healthy slow peer: {len(sizes)} stores over {held_s:.1f} s on one association "
        f"(pauses {pause_s:.1f} s, limit {STALL_LIMIT_S:.0f} s): statuses {statuses}, "
        f"{inbox.count} written, {len(cut)} cut"
    )
    assert held_s > 2 * STALL_LIMIT_S  # a limit on the association's age would have cut it
    assert statuses == [0x0000] * len(sizes) and alive
    assert inbox.count == len(sizes)
    assert not cut, cut


@pytest.mark.parametrize("associate", [False, True], ids=["association-rq", "p-data"])
def test_a_pdu_longer_than_announced_is_not_read(tmp_path, monkeypatch, caplog, associate):
    """A length field of 3 GiB (the listener announces 1 MiB, PS3.8 D.1): the connection is
    closed at once instead of being read into memory for as long as the peer sends."""
    monkeypatch.setenv("MEDVIEW_HOME", str(tmp_path / "home"))
    caplog.set_level(logging.WARNING, logger="medview.net.scp")
    # The default stall limit (60 s): a close within seconds is the length check's doing.
    with StorageListener("MEDVIEW", free_port(), Inbox(app_dirs().ensure()), "127.0.0.1") as scp_:
        sock = socket.create_connection(("127.0.0.1", scp_.port), timeout=10)
        if associate:
            sock.sendall(associate_rq())
            assert _read_pdu(sock)[0] == 0x02
        pdu_type = 0x04 if associate else 0x01
        started = time.monotonic()
        with contextlib.suppress(OSError):  # closed while we sent: that is the point
            sock.sendall(struct.pack(">BBL", pdu_type, 0, 3 << 30) + bytes(64 * 1024))
        closed = _closed_by_server(sock, started + 10.0)
        seconds = time.monotonic() - started
        sock.close()
        status, _ = echo_round_trip(scp_.port)
    told = [r.getMessage() for r in caplog.records if "announced a PDU" in r.getMessage()]
    print(f"\nR4 oversized PDU ({'p-data' if associate else 'association'}): closed after "
          f"{seconds:.2f} s; echo after: {_shown(status)}")  # fmt: skip
    assert closed and seconds < 5.0
    assert told and "3221225472 bytes" in told[0]
    assert status == 0x0000
