"""Instances a PACS pushes to medview's running Storage SCP, outside any retrieve (issue 9).

While the listener runs (started from File › PACS nodes…) and no C-MOVE is routed to it,
a peer may send studies on its own (an auto-routing rule, a "send to" in the PACS). Each
association gets its own :class:`~medview.net.inbox.Inbox`; what arrived is imported when
the peer releases the association normally (PS3.8 7.2, A-RELEASE: it has sent all it meant
to) and discarded when the association is aborted or the connection drops, so a
half-received push is never listed as complete. The import runs on a thread of its own, not
on the association's, so the peer is not kept waiting for the release response.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from medview.core.errors import MedviewError
from medview.core.paths import AppDirs
from medview.dicom.importer import ImportSummary
from medview.dicom.index import StudyDatabase
from medview.net.inbox import Inbox

log = logging.getLogger(__name__)

#: ``on_imported(summary, peer)``: a push was imported (called on a worker thread).
Imported = Callable[[ImportSummary, str], None]


class PushReceiver:
    """Keeps what peers push, one inbox per association, imported on release.

    Parameters
    ----------
    database, dirs
        Where pushed instances are imported (and the managed store they are copied into).
    on_imported
        Told about each imported push; ``None``: only logged.
    """

    def __init__(
        self, database: StudyDatabase, dirs: AppDirs, on_imported: Imported | None = None
    ) -> None:
        self._database = database
        self._dirs = dirs
        self._on_imported = on_imported
        self._lock = threading.Lock()
        self._inboxes: dict[int, tuple[Inbox, str]] = {}

    @staticmethod
    def _peer(event) -> str:
        requestor = event.assoc.requestor
        return f"{requestor.ae_title}@{requestor.address}"

    def on_store(self, event) -> int:
        """EVT_C_STORE handler (association thread): write into the association's inbox."""
        key = id(event.assoc)
        with self._lock:
            if key not in self._inboxes:
                self._inboxes[key] = (Inbox(self._dirs), self._peer(event))
            inbox = self._inboxes[key][0]
        try:
            inbox.write(event.request.AffectedSOPInstanceUID, event.encoded_dataset())
        except OSError as exc:
            log.warning("cannot write a pushed instance: %s", exc)
            return 0xA700  # PS3.4 B.2.3: Refused, out of resources
        return 0x0000

    def on_end(self, event) -> None:
        """EVT_RELEASED / EVT_ABORTED / EVT_CONN_CLOSE: import on release, else discard."""
        with self._lock:
            entry = self._inboxes.pop(id(event.assoc), None)
        if entry is None:
            return
        inbox, peer = entry
        if event.event.name != "EVT_RELEASED":
            log.warning("push from %s ended without a release: %d instance(s) discarded",
                        peer, inbox.count)  # fmt: skip
            inbox.discard()
            return
        threading.Thread(
            target=self._commit, args=(inbox, peer), name="medview-push-import", daemon=True
        ).start()

    def _commit(self, inbox: Inbox, peer: str) -> None:
        try:
            summary = inbox.commit(self._database, self._dirs)
        except (MedviewError, OSError) as exc:
            log.warning("cannot import the push from %s: %s", peer, exc)
            return
        log.info("push from %s: %d new instance(s) imported", peer, summary.instances_added)
        if self._on_imported is not None:
            self._on_imported(summary, peer)

    def discard_all(self) -> None:
        """Drop every unfinished push (the listener is stopping)."""
        with self._lock:
            entries, self._inboxes = list(self._inboxes.values()), {}
        for inbox, _peer in entries:
            inbox.discard()
