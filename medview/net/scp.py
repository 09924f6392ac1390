"""medview's Storage SCP: the C-MOVE destination (PS3.4 B.2, C.4.2).

A listener with its own AE title and port, started on demand by a C-MOVE and stopped after
it. It accepts every storage SOP class with compressed transfer syntaxes too, and writes
what it receives into the :class:`~medview.net.inbox.Inbox` of the running retrieve. With a
:class:`~medview.net.push.PushReceiver` as ``push``, it also keeps what a peer sends while
no retrieve is routed to it (started from the GUI and left running).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

from pynetdicom import AE, evt
from pynetdicom.pdu import A_ASSOCIATE_RQ

from medview.net.contexts import storage_scp_contexts, verification_context
from medview.net.errors import NetworkError
from medview.net.inbox import Inbox
from medview.net.nodes import check_ae_title, check_port
from medview.net.push import PushReceiver

log = logging.getLogger(__name__)

DEFAULT_SCP_AET = "MEDVIEW"
DEFAULT_SCP_PORT = 11112
#: Seconds a peer may keep the listener waiting (issue 11, R4). ACSE: for an A-ASSOCIATE-RQ
#: or A-RELEASE-RP; DIMSE: for the rest of a message; network: silence on the socket, also
#: in the middle of a PDU. 30 s is Orthanc's DicomScpTimeout default; pynetdicom's network
#: default is 60 s and, without EVT_CONN_OPEN below, never reaches the accepted socket.
ACSE_TIMEOUT_S = 30.0
DIMSE_TIMEOUT_S = 30.0
NETWORK_TIMEOUT_S = 30.0
#: Seconds an association may go without a complete PDU from its peer (issue 11, R4):
#: pynetdicom reads a PDU whole in a blocking loop that the network timeout bounds only per
#: byte, so a peer trickling a byte every few seconds held its slot forever. Twice the
#: network timeout: pynetdicom itself gives up on a silent peer after 30 s (idle timer,
#: ACSE timeout), but it cannot while its reader is blocked; this makes that giving up
#: happen. Legitimate peers send whole PDUs (at most ``maximum_pdu_size``, 1 MiB) far faster.
PDU_STALL_LIMIT_S = 60.0
#: How often the watchdog looks: a stalled peer is cut within the limit plus this.
_WATCHDOG_INTERVAL_S = 1.0
#: The largest PDU the listener announces it receives (PS3.8 D.1: P-DATA-TF PDUs may not be
#: longer) and the largest it reads at all (association PDUs are a few KiB).
MAX_PDU_BYTES = 1 << 20
#: How an association with the listener can end (a push is imported only on the first).
_END_EVENTS = (evt.EVT_RELEASED, evt.EVT_ABORTED, evt.EVT_CONN_CLOSE)


def _limit_silence(event) -> None:
    """EVT_CONN_OPEN: give the accepted socket the network timeout (issue 11, R4).

    ``socket.accept()`` returns a blocking socket with no timeout, and pynetdicom reads a
    whole PDU in one blocking loop, so a peer that sent part of a PDU and then went silent
    held its association thread, and one of the AE's ten association slots, forever: ten
    such connections and every later C-ECHO or C-STORE was rejected ("local limit
    exceeded"). With a timeout the read fails after ``NETWORK_TIMEOUT_S`` of silence and the
    connection is closed (a peer that trickles a byte now and then: :class:`_StallWatchdog`).
    """
    event.assoc.dul.socket.socket.settimeout(event.assoc.network_timeout)


def _bound_pdu_reads(event) -> None:
    """EVT_CONN_OPEN: refuse to read a PDU longer than :data:`MAX_PDU_BYTES` (issue 11, R4).

    pynetdicom reads the 4-byte length field and then that many bytes, up to 4 GiB, before
    it looks at them: a peer could make the listener hold gigabytes per connection. A longer
    PDU breaks PS3.8 (the listener announced its maximum), so the connection is shut down
    instead; pynetdicom then sees a short PDU and closes it (Evt17). The association socket's
    ``recv`` is wrapped on this one connection: pynetdicom offers no hook for it.
    """
    assoc = event.assoc
    sock = assoc.dul.socket
    read = sock.recv

    def bounded(nr_bytes: int) -> bytearray:
        if nr_bytes <= MAX_PDU_BYTES:
            return read(nr_bytes)
        log.warning(
            "storage SCP: closing the connection from %s: it announced a PDU of %d bytes "
            "(at most %d)", _peer(assoc), nr_bytes, MAX_PDU_BYTES,
        )  # fmt: skip
        _shut_down(sock)
        return bytearray()

    sock.recv = bounded


def _free_slot(event) -> None:
    """EVT_CONN_CLOSE: end the acceptor of a connection that closed before associating.

    pynetdicom's acceptor thread waits ``acse_timeout`` for an A-ASSOCIATE-RQ and is not
    told when the connection closes first (PS3.8 Sta2 + Evt17 gives the user nothing), so
    each garbage or probing connection held one of the AE's ten association slots for
    that long: ten within 30 s and the listener rejected every peer, "local limit exceeded"
    (issue 11, R4). A ``None`` on the queue it waits on is what its own timeout returns,
    and it then ends at once. (pynetdicom internals; pinned to 3.0.x in pyproject.toml.)
    """
    assoc = event.assoc
    if not (assoc.is_established or assoc.is_rejected or assoc.is_aborted or assoc.is_released):
        assoc.dul.to_user_queue.put(None)


def _drop_unusable_request(event) -> None:
    """EVT_PDU_RECV: give up at once on an A-ASSOCIATE-RQ pynetdicom cannot take in.

    pynetdicom converts the request on its DUL thread (PS3.8 action AE-6), and a value it
    refuses there (an even presentation context ID, say) kills that thread; the acceptor
    then waited the whole ACSE timeout with the connection open and a slot taken (issue 11,
    R4). The same conversion, tried here first, sends the ``None`` of :func:`_free_slot`:
    the acceptor ends and closes the connection while the DUL thread dies as before.
    """
    if isinstance(event.pdu, A_ASSOCIATE_RQ):
        try:
            event.pdu.to_primitive()
        except Exception:  # whatever AE-6 would raise on the DUL thread
            event.assoc.dul.to_user_queue.put(None)


class _StallWatchdog:
    """Closes the connection of any association stalled mid-PDU (issue 11, R4: slow loris).

    pynetdicom's DUL thread reads a PDU in one blocking ``recv`` loop, and each byte resets
    the socket timeout, so a peer that sends a byte now and then (before or after
    associating) keeps that read, its acceptor thread and one of the AE's ten association
    slots forever; ten such peers shut every PACS out. ``Association.abort()`` does not
    help: it queues an A-ABORT for the blocked DUL thread and then waits for it. Shutting
    the socket down does: the blocked read returns short, pynetdicom sees the connection
    close (Evt17) and ends the association as if the peer had hung up.

    Progress is a complete PDU received (EVT_PDU_RECV) or the connection opening. After
    :meth:`stop` it keeps watching until the listener's last association has ended, so a
    stopped listener leaves no stalled connection holding a slot of the next one.
    """

    def __init__(self, limit_s: float) -> None:
        self._server = None
        self.limit_s = limit_s
        self._lock = threading.Lock()
        #: Association -> monotonic time of its last progress.
        self._progress: dict = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scp-stall-watchdog", daemon=True)

    def start(self, server) -> None:
        """Watch ``server``'s associations (its handlers call :meth:`note_progress`)."""
        self._server = server
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def note_progress(self, event) -> None:
        """EVT_CONN_OPEN, EVT_PDU_RECV: the peer is still getting somewhere."""
        with self._lock:
            self._progress[event.assoc] = time.monotonic()

    def _run(self) -> None:
        while True:
            self._stopping.wait(_WATCHDOG_INTERVAL_S)
            active = self._server.active_associations
            self._sweep(active)
            if self._stopping.is_set() and not active:
                return

    def _sweep(self, active: list) -> None:
        now = time.monotonic()
        with self._lock:
            # Forget ended associations; one not seen yet starts its clock now.
            self._progress = {assoc: self._progress.get(assoc, now) for assoc in active}
            stalled = [(a, now - t) for a, t in self._progress.items() if now - t > self.limit_s]
            for assoc, _seconds in stalled:
                self._progress[assoc] = now  # tried again only after another full limit
        for assoc, seconds in stalled:
            _close_connection(assoc, seconds)


def _close_connection(assoc, stalled_s: float) -> None:
    """Shut down ``assoc``'s socket; its blocked read returns and pynetdicom ends it."""
    log.warning(
        "storage SCP: closing the connection from %s: no complete PDU in %.0f s",
        _peer(assoc),
        stalled_s,
    )
    _shut_down(assoc.dul.socket)


def _peer(assoc) -> str:
    """The peer's IP address for a log line (no AE title, no patient data)."""
    try:
        return str(assoc.requestor.address)
    except (ValueError, AttributeError):
        return "?"


def _shut_down(association_socket) -> None:
    """Shut the connection down from any thread: a read blocked on it returns at once."""
    raw = getattr(association_socket, "socket", None)
    if raw is None:  # closed meanwhile
        return
    with contextlib.suppress(OSError):  # already closed by pynetdicom or the peer
        raw.shutdown(socket.SHUT_RDWR)


class StorageListener:
    """A Storage SCP on ``(bind, port)``; use as a context manager.

    Parameters
    ----------
    ae_title, port
        What the PACS's configuration calls medview (its C-MOVE destination).
    inbox
        Where received files go (swap with :meth:`route_to` between retrieves).
    bind
        Interface to listen on (``""``: all interfaces).
    stall_limit_s
        Seconds an association may go without a complete PDU before its connection is
        closed (``None``: :data:`PDU_STALL_LIMIT_S`).
    """

    def __init__(
        self,
        ae_title: str,
        port: int,
        inbox: Inbox | None = None,
        bind: str = "",
        stall_limit_s: float | None = None,
    ) -> None:
        self.ae_title = check_ae_title(ae_title, "listener AE title")
        self.port = check_port(port, "listener port")
        self.bind = bind
        self.stall_limit_s = stall_limit_s
        self._watchdog: _StallWatchdog | None = None
        self._inbox = inbox
        self._lock = threading.Lock()
        self._server = None
        self.refused = 0
        #: Receives instances sent outside a retrieve (None: they are refused).
        self.push: PushReceiver | None = None

    @property
    def is_running(self) -> bool:
        return self._server is not None

    def route_to(self, inbox: Inbox | None) -> None:
        with self._lock:
            self._inbox = inbox

    def _on_store(self, event) -> int:
        with self._lock:
            inbox = self._inbox
        if inbox is None and self.push is not None:
            return self.push.on_store(event)
        if inbox is None:
            self.refused += 1
            return 0xA700  # PS3.4 B.2.3: Refused, out of resources (nothing expects it)
        request = event.request
        try:
            encoded = event.encoded_dataset()
            inbox.write(request.AffectedSOPInstanceUID, encoded)
        except OSError as exc:
            log.warning("cannot write received instance: %s", exc)
            return 0xA700
        return 0x0000

    def start(self) -> StorageListener:
        if self._server is not None:
            return self
        ae = AE(ae_title=self.ae_title)
        # Verification too: a PACS checks a C-MOVE destination with C-ECHO (PS3.4 A.4),
        # answered by pynetdicom's default handler (issue 11, R4: it was refused).
        ae.supported_contexts = [*storage_scp_contexts(), *verification_context()]
        ae.maximum_pdu_size = MAX_PDU_BYTES
        ae.acse_timeout = ACSE_TIMEOUT_S
        ae.dimse_timeout = DIMSE_TIMEOUT_S
        ae.network_timeout = NETWORK_TIMEOUT_S
        limit_s = PDU_STALL_LIMIT_S if self.stall_limit_s is None else self.stall_limit_s
        watchdog = _StallWatchdog(limit_s)
        try:
            self._server = ae.start_server(
                (self.bind, self.port),
                block=False,
                evt_handlers=[
                    (evt.EVT_CONN_OPEN, _limit_silence),
                    (evt.EVT_CONN_OPEN, _bound_pdu_reads),
                    (evt.EVT_CONN_OPEN, watchdog.note_progress),
                    (evt.EVT_CONN_CLOSE, _free_slot),
                    (evt.EVT_PDU_RECV, _drop_unusable_request),
                    (evt.EVT_PDU_RECV, watchdog.note_progress),
                    (evt.EVT_C_STORE, self._on_store),
                    *((event, self._on_end) for event in _END_EVENTS),
                ],
            )
        except OSError as exc:
            raise NetworkError(
                f"cannot listen on port {self.port} as {self.ae_title} ({exc.strerror or exc}); "
                "choose another --listen-port"
            ) from None
        watchdog.start(self._server)
        self._watchdog = watchdog
        log.info("storage SCP %s listening on port %d", self.ae_title, self.port)
        return self

    def _on_end(self, event) -> None:
        if self.push is not None:
            self.push.on_end(event)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            self._watchdog.stop()  # it ends with the last association still open
            self._watchdog = None
            if self.push is not None:
                self.push.discard_all()
            log.info("storage SCP %s stopped", self.ae_title)

    def __enter__(self) -> StorageListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
