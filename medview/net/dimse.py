"""DIMSE services as an SCU: C-ECHO, C-FIND and C-STORE (PS3.4 Annexes A, B and C).

Retrieval (C-GET, C-MOVE) is in :mod:`medview.net.retrieve`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

from medview.net.association import associate, raise_lost
from medview.net.cancel import CancelToken
from medview.net.contexts import find_contexts, store_contexts, verification_context
from medview.net.errors import NetworkError, RemoteStatusError
from medview.net.nodes import Node
from medview.net.query import Query, result_from_dataset

log = logging.getLogger(__name__)

# PS3.4 C.4.1.1.4: Pending statuses of a C-FIND response.
_PENDING = (0xFF00, 0xFF01)


def echo(node: Node) -> float:
    """C-ECHO (PS3.4 A.4, Verification): return the round trip in seconds.

    Raises
    ------
    NetworkError
        Unreachable, rejected, timed out, or a non-success status.
    """
    started = time.monotonic()
    with associate(node, verification_context(), what="C-ECHO") as assoc:
        status = assoc.send_c_echo()
        if not status:
            raise_lost(assoc, node, "C-ECHO", started)
        if status.Status != 0x0000:
            code = getattr(status, "Status", None)
            raise RemoteStatusError(f"{node.describe()} answered C-ECHO with status {code!r}")
    return time.monotonic() - started


def find(node: Node, query: Query, limit: int = 0) -> list[dict]:
    """C-FIND in the Study Root model (PS3.4 C.6.2) at study or series level.

    Parameters
    ----------
    query
        Matching keys; wildcards ``*``/``?`` in names (PS3.4 C.2.2.2.4), ranges in dates.
    limit
        Stop after this many results (0: all) with a C-CANCEL (PS3.4 C.4.1.2.2).

    Returns
    -------
    list of dict
        One dict per match (see :func:`medview.net.query.result_from_dataset`).
    """
    identifier = query.identifier()
    results: list[dict] = []
    started = time.monotonic()
    with associate(node, find_contexts(), what="C-FIND") as assoc:
        responses = assoc.send_c_find(
            identifier, StudyRootQueryRetrieveInformationModelFind, msg_id=1
        )
        cancelled = False
        for status, answer in responses:
            if not status:
                raise_lost(assoc, node, "C-FIND", started)
            code = status.Status
            started = time.monotonic()  # a timeout counts from the last message
            if code in _PENDING:
                if answer is not None:
                    results.append(result_from_dataset(answer, query.level))
                if limit and len(results) >= limit and not cancelled:
                    # PS3.4 C.4.1.2.2: C-CANCEL with the request's Message ID; the peer
                    # then ends with status Cancel (0xFE00), possibly after more matches.
                    assoc.send_c_cancel(1, query_model=StudyRootQueryRetrieveInformationModelFind)
                    cancelled = True
                continue
            if code in (0x0000, 0xFE00):
                break
            raise RemoteStatusError(
                f"{node.describe()} failed the C-FIND with status 0x{code:04X}"
                + (f" ({status.ErrorComment})" if "ErrorComment" in status else "")
            )
    return results[:limit] if limit else results


@dataclass
class StoreSummary:
    """What a C-STORE or STOW-RS of several files did."""

    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "skipped_non_dicom": self.skipped,
        }


def dicom_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files under ``paths`` (recursively), and the non-DICOM ones left out."""
    files, skipped = [], []
    for path in map(Path, paths):
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            try:
                with candidate.open("rb") as handle:
                    handle.seek(128)
                    ok = handle.read(4) == b"DICM"
            except OSError:
                ok = False
            (files if ok else skipped).append(candidate if ok else str(candidate))
    return files, skipped


def store(
    node: Node,
    paths: Iterable[str | Path],
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> StoreSummary:
    """C-STORE (PS3.4 B.2) every DICOM file under ``paths`` to ``node``, as stored.

    Files keep their transfer syntax when the peer accepts it (compressed stays compressed);
    otherwise pynetdicom falls back to an accepted uncompressed context. ``cancel`` stops
    between files (A-ABORT, then :class:`~medview.core.errors.Cancelled`); the files already
    stored stay on the peer.
    """
    files, skipped = dicom_files(paths)
    summary = StoreSummary(skipped=skipped)
    if not files:
        raise NetworkError("no DICOM files to send")
    pairs, datasets = set(), []
    for path in files:
        try:
            ds = dcmread(path, stop_before_pixels=True)
            pairs.add((str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)))
            datasets.append(path)
        except (InvalidDicomError, AttributeError, OSError) as exc:
            summary.failed.append((str(path), f"unreadable: {exc}"))
    started = time.monotonic()
    with associate(node, store_contexts(pairs), what="C-STORE") as assoc:
        for index, path in enumerate(datasets):
            if cancel is not None:
                cancel.check(f"the C-STORE (after {summary.sent} of {len(datasets)} files)")
            try:
                status = assoc.send_c_store(path)
            except ValueError as exc:  # no accepted context for this class/syntax
                summary.failed.append((str(path), str(exc).splitlines()[0]))
                continue
            if not status:
                try:
                    raise_lost(assoc, node, "C-STORE", started)
                except NetworkError as exc:
                    raise type(exc)(
                        f"{exc}, after {summary.sent} of {len(datasets)} file(s) were stored"
                    ) from None
            # PS3.4 B.2.3: 0x0000 success, 0xB000/0xB007/0xB006 warnings (stored).
            if status.Status == 0x0000 or (status.Status >> 12) == 0xB:
                summary.sent += 1
            else:
                summary.failed.append((str(path), f"status 0x{status.Status:04X}"))
            if progress:
                progress(index + 1, len(datasets))
    return summary
