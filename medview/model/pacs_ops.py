"""The PACS operations the GUI runs on worker threads, each picking DIMSE or DICOMweb (issue 9).

Qt-free, so they can be tested and reused without a display; the dialogs in
:mod:`medview.view` call them through :class:`~medview.view.qt_jobs.QtJobRunner`. A node with
a DIMSE address is queried by C-FIND and tested by C-ECHO; a node with only a DICOMweb URL
by QIDO-RS. Every failure is a :class:`~medview.net.errors.NetworkError` sentence naming
the node (never its credentials).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from medview.core.errors import MedviewError
from medview.core.paths import AppDirs
from medview.dicom.index import StudyDatabase
from medview.net.cancel import CancelToken
from medview.net.dimse import StoreSummary
from medview.net.nodes import Node
from medview.net.query import Query
from medview.net.retrieve import Progress, RetrieveResult
from medview.net.scp import StorageListener

__all__ = [
    "CGET",
    "CMOVE",
    "WADORS",
    "SeriesOutcome",
    "list_series",
    "retrieve_methods",
    "retrieve_series",
    "search",
    "send",
    "test_connection",
]

CGET, CMOVE, WADORS = "C-GET", "C-MOVE", "WADO-RS"


def retrieve_methods(node: Node) -> list[str]:
    """How ``node`` can be retrieved from, the preferred first (C-GET needs no listener)."""
    methods = [CGET, CMOVE] if node.has_dimse else []
    return methods + ([WADORS] if node.has_dicomweb else [])


def test_connection(node: Node) -> str:
    """C-ECHO (DIMSE) or a one-result QIDO-RS search (DICOMweb-only); one sentence."""
    if node.has_dimse:
        from medview.net import dimse

        seconds = dimse.echo(node)
        return f"{node.describe()} answered C-ECHO in {seconds * 1000:.0f} ms"
    from medview.net import web

    started = time.monotonic()
    web.search(node, Query(), limit=1)
    seconds = time.monotonic() - started
    return f"{node.describe()} answered a QIDO-RS search in {seconds * 1000:.0f} ms"


def search(node: Node, query: Query, limit: int = 0) -> list[dict]:
    """Studies or series matching ``query``: C-FIND when the node has DIMSE, else QIDO-RS."""
    if node.has_dimse:
        from medview.net import dimse

        return dimse.find(node, query, limit=limit)
    from medview.net import web

    return web.search(node, query, limit=limit)


def list_series(node: Node, study_uid: str) -> list[dict]:
    """The series of one study, by series number."""
    found = search(node, Query(level="SERIES", study_uid=study_uid))
    return sorted(
        found, key=lambda s: (s.get("series_number") is None, s.get("series_number") or 0)
    )


@dataclass(frozen=True)
class SeriesOutcome:
    """What one series' retrieve did: its result, or the sentence saying why not."""

    series_uid: str
    result: RetrieveResult | None = None
    error: str = ""
    cancelled: bool = False


def retrieve_series(
    node: Node,
    method: str,
    study_uid: str,
    series_uid: str,
    *,
    database: StudyDatabase,
    dirs: AppDirs,
    listener: StorageListener | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    expected: int | None = None,
) -> RetrieveResult:
    """Retrieve one series into the database (whole, or nothing of it; see retrieve.py).

    Raises
    ------
    NetworkError
        What went wrong, naming the node; nothing of this series is imported.
    Cancelled
        ``cancel`` was cancelled; nothing of this series is imported.
    """
    if method not in retrieve_methods(node):
        raise MedviewError(f"{node.describe()} cannot be retrieved from by {method}")
    common = {"database": database, "dirs": dirs, "progress": progress, "cancel": cancel}
    if method == WADORS:
        from medview.net import web

        return web.retrieve(node, study_uid, series_uid, expected=expected, **common)
    from medview.net import retrieve

    if method == CGET:
        return retrieve.get(node, study_uid, series_uid, **common)
    if listener is None:
        raise MedviewError("C-MOVE needs medview's Storage SCP (File › PACS nodes…)")
    return retrieve.move(node, study_uid, series_uid, listener=listener, **common)


def send(
    node: Node,
    paths: Iterable[str | Path],
    *,
    use_web: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> StoreSummary:
    """C-STORE (or STOW-RS with ``use_web`` or a DICOMweb-only node) every DICOM file."""
    if use_web or not node.has_dimse:
        from medview.net import web

        return web.store(node, paths, progress=progress, cancel=cancel)
    from medview.net import dimse

    return dimse.store(node, paths, progress=progress, cancel=cancel)
