"""medview's Storage SCP: the C-MOVE destination (PS3.4 B.2, C.4.2).

A listener with its own AE title and port, started on demand by a C-MOVE and stopped after
it. It accepts every storage SOP class with compressed transfer syntaxes too, and writes
what it receives into the :class:`~medview.net.inbox.Inbox` of the running retrieve. With a
:class:`~medview.net.push.PushReceiver` as ``push``, it also keeps what a peer sends while
no retrieve is routed to it (started from the GUI and left running).
"""

from __future__ import annotations

import logging
import threading

from pynetdicom import AE, evt

from medview.net.contexts import storage_scp_contexts
from medview.net.errors import NetworkError
from medview.net.inbox import Inbox
from medview.net.nodes import check_ae_title, check_port
from medview.net.push import PushReceiver

log = logging.getLogger(__name__)

DEFAULT_SCP_AET = "MEDVIEW"
DEFAULT_SCP_PORT = 11112
#: How an association with the listener can end (a push is imported only on the first).
_END_EVENTS = (evt.EVT_RELEASED, evt.EVT_ABORTED, evt.EVT_CONN_CLOSE)


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
    """

    def __init__(
        self, ae_title: str, port: int, inbox: Inbox | None = None, bind: str = ""
    ) -> None:
        self.ae_title = check_ae_title(ae_title, "listener AE title")
        self.port = check_port(port, "listener port")
        self.bind = bind
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
        ae.supported_contexts = storage_scp_contexts()
        ae.maximum_pdu_size = 1 << 20
        try:
            self._server = ae.start_server(
                (self.bind, self.port),
                block=False,
                evt_handlers=[
                    (evt.EVT_C_STORE, self._on_store),
                    *((event, self._on_end) for event in _END_EVENTS),
                ],
            )
        except OSError as exc:
            raise NetworkError(
                f"cannot listen on port {self.port} as {self.ae_title} ({exc.strerror or exc}); "
                "choose another --listen-port"
            ) from None
        log.info("storage SCP %s listening on port %d", self.ae_title, self.port)
        return self

    def _on_end(self, event) -> None:
        if self.push is not None:
            self.push.on_end(event)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            if self.push is not None:
                self.push.discard_all()
            log.info("storage SCP %s stopped", self.ae_title)

    def __enter__(self) -> StorageListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
