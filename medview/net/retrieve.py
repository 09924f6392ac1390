"""Retrieve a study or series by C-GET or C-MOVE (PS3.4 C.4.2, C.4.3) into the database.

Both write into an :class:`~medview.net.inbox.Inbox` and import only after the peer's final
response says every sub-operation succeeded. Anything else (failed or missing
sub-operations, abort, drop, timeout) discards what arrived and raises, so the database holds
either the whole series or nothing of this retrieve.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from medview.core.errors import Cancelled
from medview.core.paths import AppDirs, app_dirs
from medview.core.phi import identifier as logged_id
from medview.dicom.importer import ImportSummary
from medview.dicom.index import StudyDatabase
from medview.net.association import associate, raise_lost, wake_to_abort
from medview.net.cancel import CancelToken
from medview.net.contexts import get_contexts, move_contexts
from medview.net.errors import NetworkError, PartialRetrieveError, RemoteStatusError
from medview.net.inbox import Inbox
from medview.net.nodes import Node
from medview.net.scp import StorageListener

log = logging.getLogger(__name__)

_PENDING = (0xFF00,)

#: ``progress(received, expected)``: instances arrived so far and the total the peer
#: announced in its pending responses (``None`` until it says). Called on worker threads.
Progress = Callable[[int, "int | None"], None]


@dataclass
class RetrieveResult:
    """A completed retrieve: instances received, the import, and the extra copy folder."""

    received: int
    seconds: float
    imported: ImportSummary | None
    out: Path | None = None

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "seconds": round(self.seconds, 3),
            "import": self.imported.as_dict() if self.imported else None,
            "out": str(self.out) if self.out else None,
        }


def retrieve_identifier(study_uid: str, series_uid: str = "") -> Dataset:
    """The C-GET/C-MOVE identifier: STUDY level, or SERIES with its study (PS3.4 C.6.2.1)."""
    if not study_uid:
        raise NetworkError("give the study UID (and optionally the series UID) to retrieve")
    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES" if series_uid else "STUDY"
    ds.StudyInstanceUID = study_uid
    if series_uid:
        ds.SeriesInstanceUID = series_uid
    return ds


def _what(identifier: Dataset) -> str:
    if identifier.QueryRetrieveLevel == "SERIES":
        return f"series {identifier.SeriesInstanceUID}"
    return f"study {identifier.StudyInstanceUID}"


def _logged(identifier: Dataset) -> str:
    """:func:`_what` for the log: the UID as the clinic's log may hold it (issue 11)."""
    if identifier.QueryRetrieveLevel == "SERIES":
        return f"series {logged_id(identifier.SeriesInstanceUID)}"
    return f"study {logged_id(identifier.StudyInstanceUID)}"


def _collect(
    responses,
    assoc,
    node: Node,
    service: str,
    inbox: Inbox,
    started: float,
    what: str,
    destination: str = "",
    cancel: CancelToken | None = None,
    on_total: Callable[[int], None] | None = None,
):
    """Walk the C-GET/C-MOVE responses; raise unless the final one is a full success."""
    final = None
    for status, _identifier in responses:
        if cancel is not None and cancel.cancelled:
            raise Cancelled(f"the {service} of {what} was cancelled; nothing was imported")
        if not status:  # pynetdicom yields an empty status when the association died
            try:
                raise_lost(assoc, node, service, started)
            except NetworkError as exc:
                raise type(exc)(
                    f"{exc}; {inbox.count} instance(s) of {what} had arrived, nothing was imported"
                ) from None
        if status.Status in _PENDING:
            started = time.monotonic()  # a timeout counts from the last message
            if on_total is not None:  # PS3.4 C.4.3.1.3: the counts are optional in pending
                keys = ("Remaining", "Completed", "Failed", "Warning")
                counts = [status.get(f"NumberOf{key}Suboperations") for key in keys]
                if counts[0] is not None:
                    on_total(sum(int(c or 0) for c in counts))
            continue
        final = status
        break
    if final is None:
        raise NetworkError(f"{node.describe()} ended the {service} without a final status")
    completed = int(final.get("NumberOfCompletedSuboperations", 0) or 0)
    failed = int(final.get("NumberOfFailedSuboperations", 0) or 0)
    warned = int(final.get("NumberOfWarningSuboperations", 0) or 0)
    remaining = int(final.get("NumberOfRemainingSuboperations", 0) or 0)
    code = final.Status
    if code == 0x0000 and not failed and not remaining:
        return completed + warned
    expected = completed + failed + warned + remaining or None
    if code == 0xB000 or failed or remaining or code == 0xFE00:
        raise PartialRetrieveError(
            f"{service} of {what} from {node.describe()} was partial: {inbox.count} instance(s) "
            f"arrived, {failed} failed, {remaining} not sent (status 0x{code:04X}); "
            "nothing was imported, retry the retrieve",
            received=inbox.count,
            failed=failed,
            expected=expected,
        )
    comment = f" ({final.ErrorComment})" if "ErrorComment" in final else ""
    hint = ""
    if service == "C-MOVE":
        # PS3.4 C.4.2.1.4.1: 0xA801 is "move destination unknown"; many PACS answer 0xC000.
        hint = (
            f"; check that the PACS knows {destination!r} (medview's host and listener port) "
            "as a C-MOVE destination"
        )
    raise RemoteStatusError(
        f"{node.describe()} failed the {service} of {what} with status 0x{code:04X}{comment}"
        f"{hint}; nothing was imported"
    )


class _Tracker:
    """Reports (received, total) to a progress callback; the total comes from the peer."""

    def __init__(self, inbox: Inbox, progress: Progress | None) -> None:
        self._inbox = inbox
        self._progress = progress
        self._total: int | None = None

    def set_total(self, total: int) -> None:
        self._total = total
        self.report()

    def report(self) -> None:
        if self._progress is not None:
            self._progress(self._inbox.count, self._total)


def _aborted_on(cancel: CancelToken | None, assoc):
    """While the block runs, cancelling ``cancel`` aborts ``assoc`` (see CancelToken)."""
    if cancel is None:
        return contextlib.nullcontext()
    return cancel.on_cancel(lambda: wake_to_abort(assoc))


def _finish(
    inbox: Inbox, started: float, database: StudyDatabase | None, dirs: AppDirs, out: Path | None
) -> RetrieveResult:
    received = inbox.count
    seconds = time.monotonic() - started
    if database is None:
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            for path in inbox.files:
                shutil.move(path, out / path.name)
        inbox.discard()
        return RetrieveResult(received, seconds, None, out)
    summary = inbox.commit(database, dirs, out)
    return RetrieveResult(received, seconds, summary, out)


def get(
    node: Node,
    study_uid: str,
    series_uid: str = "",
    *,
    database: StudyDatabase | None = None,
    dirs: AppDirs | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveResult:
    """C-GET a study or series (PS3.4 C.4.3): the peer sends it on this association.

    Parameters
    ----------
    database
        Import into this database (and the managed store of ``dirs``) once all arrived;
        ``None``: do not import (``out`` then receives the files).
    out
        Also copy the received files into this folder.
    progress
        Called with (instances received, total announced or None) as instances arrive.
    cancel
        Cancelling it aborts the association at once (A-ABORT); nothing is imported and
        :class:`~medview.core.errors.Cancelled` is raised.

    Raises
    ------
    NetworkError
        Unreachable, rejected, timeout, drop, partial retrieve or failure status; nothing
        is imported then.
    """
    dirs = dirs or app_dirs()
    identifier = retrieve_identifier(study_uid, series_uid)
    what = _what(identifier)
    if cancel is not None:
        cancel.check(f"the C-GET of {what}")
    inbox = Inbox(dirs)
    tracker = _Tracker(inbox, progress)

    def on_store(event) -> int:
        if cancel is not None and cancel.cancelled:
            return 0xA700  # the association is about to be aborted; keep nothing more
        try:
            inbox.write(event.request.AffectedSOPInstanceUID, event.encoded_dataset())
        except OSError as exc:
            log.warning("cannot write received instance: %s", exc)
            return 0xA700  # PS3.4 B.2.3 Refused: out of resources
        tracker.report()
        return 0x0000

    contexts, roles = get_contexts()
    started = time.monotonic()
    try:
        with (
            associate(
                node, contexts, roles=roles, handlers=[(evt.EVT_C_STORE, on_store)], what="C-GET"
            ) as assoc,
            _aborted_on(cancel, assoc),
        ):
            responses = assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet)
            _collect(
                responses, assoc, node, "C-GET", inbox, started, what,
                cancel=cancel, on_total=tracker.set_total,
            )  # fmt: skip
    except BaseException:
        inbox.discard()
        raise
    log.info(
        "C-GET of %s from %s: %d instance(s)", _logged(identifier), node.describe(), inbox.count
    )
    return _finish(inbox, started, database, dirs, out)


def move(
    node: Node,
    study_uid: str,
    series_uid: str = "",
    *,
    listener: StorageListener,
    database: StudyDatabase | None = None,
    dirs: AppDirs | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> RetrieveResult:
    """C-MOVE a study or series (PS3.4 C.4.2) to medview's own Storage SCP.

    The peer opens a second association to ``listener`` (its AE title must be configured
    on the peer with medview's host and port). The listener is started if needed and keeps
    running afterwards only if it was running before. ``progress`` and ``cancel`` work as
    in :func:`get` (``progress`` is then called on the listener's threads).
    """
    dirs = dirs or app_dirs()
    identifier = retrieve_identifier(study_uid, series_uid)
    what = _what(identifier)
    if cancel is not None:
        cancel.check(f"the C-MOVE of {what}")
    inbox = Inbox(dirs)
    tracker = _Tracker(inbox, progress)
    inbox.on_write = tracker.report  # the listener's association threads write
    was_running = listener._server is not None
    listener.route_to(inbox)
    started = time.monotonic()
    try:
        listener.start()
        with associate(node, move_contexts(), what="C-MOVE") as assoc, _aborted_on(cancel, assoc):
            responses = assoc.send_c_move(
                identifier, listener.ae_title, StudyRootQueryRetrieveInformationModelMove
            )
            _collect(
                responses, assoc, node, "C-MOVE", inbox, started, what, listener.ae_title,
                cancel=cancel, on_total=tracker.set_total,
            )  # fmt: skip
    except BaseException:
        inbox.discard()
        raise
    finally:
        listener.route_to(None)
        if not was_running:
            listener.stop()
    log.info(
        "C-MOVE of %s from %s: %d instance(s)", _logged(identifier), node.describe(), inbox.count
    )
    return _finish(inbox, started, database, dirs, out)
