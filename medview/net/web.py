"""DICOMweb with dicomweb-client: QIDO-RS search, WADO-RS retrieve, STOW-RS store (PS3.18).

Authentication is HTTP basic (username + password) or a bearer token, set on the
``requests`` session, never in the URL, so neither reaches a log line or an error message.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import requests
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO

from medview.core.paths import AppDirs, app_dirs
from medview.dicom.index import StudyDatabase
from medview.net.cancel import CancelToken
from medview.net.dimse import StoreSummary, dicom_files
from medview.net.errors import (
    AuthenticationError,
    NetworkError,
    NetworkTimeoutError,
    PeerUnreachableError,
    RemoteStatusError,
    TransferAbortedError,
)
from medview.net.inbox import Inbox
from medview.net.nodes import Node
from medview.net.query import Query, result_from_dataset
from medview.net.retrieve import Progress, RetrieveResult, _finish

log = logging.getLogger(__name__)


class _Session(requests.Session):
    """Sends QIDO-RS wildcards as typed.

    requests percent-encodes ``*``, ``?`` and ``^`` in query values; some servers (Orthanc's
    DICOMweb plugin 1.7) then match them literally, so ``PatientName=DOE*`` finds nothing.
    ``*`` and ``?`` are legal in a query component (RFC 3986 3.4) and ``^`` is accepted by
    the servers medview was tested with (PS3.18 8.3.4.1 wildcards, PS3.5 6.2 PN).
    """

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        base, sep, query = (prepared.url or "").partition("?")
        if sep:
            for code, char in (("%2A", "*"), ("%3F", "?"), ("%5E", "^")):
                query = query.replace(code, char)
            prepared.url = f"{base}?{query}"
        return prepared


def make_session(node: Node) -> requests.Session:
    """A ``requests`` session carrying the node's basic or bearer credentials."""
    session = _Session()
    if node.username:
        session.auth = (node.username, node.password)
    elif node.token:
        session.headers["Authorization"] = f"Bearer {node.token}"
    return session


def make_client(node: Node):
    from dicomweb_client.api import DICOMwebClient

    node.require_dicomweb()
    client = DICOMwebClient(
        url=node.base_url, session=make_session(node), timeout=(node.timeout_s, node.timeout_s)
    )
    # dicomweb-client retries every failed request 5 times with exponential back-off (30 s
    # before "connection refused" reaches the user); medview reports at once instead.
    client.set_http_retry_params(retry=False)
    return client


@contextlib.contextmanager
def _errors(node: Node, what: str) -> Iterator[None]:
    """Turn requests/HTTP failures into one NetworkError sentence without credentials."""
    where = node.describe()
    try:
        yield
    except requests.exceptions.ConnectTimeout:
        raise NetworkTimeoutError(f"{where} did not accept a connection for {what} within "
                                  f"{node.timeout_s:g} s") from None  # fmt: skip
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        if "Connection refused" in text or "Failed to establish" in text or "resolve" in text:
            raise PeerUnreachableError(
                f"nothing is listening at {where} ({what}); check the URL and that the "
                "server is running"
            ) from None
        raise TransferAbortedError(f"{where} dropped the connection during {what}") from None
    except requests.exceptions.Timeout:
        raise NetworkTimeoutError(
            f"{where} did not answer {what} within {node.timeout_s:g} s"
        ) from None
    except requests.exceptions.HTTPError as exc:
        code = exc.response.status_code if exc.response is not None else 0
        if code in (401, 403):
            raise AuthenticationError(
                f"{where} refused the credentials for {what} (HTTP {code}); check the "
                "username/password or token"
            ) from None
        raise RemoteStatusError(f"{where} failed {what} with HTTP {code}") from None
    except requests.exceptions.RequestException as exc:
        raise NetworkError(f"{what} with {where} failed ({type(exc).__name__})") from None


def search(node: Node, query: Query, limit: int = 0) -> list[dict]:
    """QIDO-RS search for studies or series (PS3.18 10.6) with the same keys as C-FIND."""
    client = make_client(node)
    filters = query.qido_filters()
    fields = list(query.identifier().dir())
    kwargs = {"search_filters": filters, "fields": fields, "limit": limit or None}
    with _errors(node, "QIDO-RS search"):
        if query.level == "STUDY":
            found = client.search_for_studies(**kwargs)
        else:
            found = client.search_for_series(study_instance_uid=query.study_uid, **kwargs)
    return [result_from_dataset(Dataset.from_json(item), query.level) for item in found]


def _study_of_series(client, node: Node, series_uid: str) -> str:
    with _errors(node, "QIDO-RS search"):
        found = client.search_for_series(search_filters={"SeriesInstanceUID": series_uid})
    if not found:
        raise NetworkError(f"{node.describe()} has no series {series_uid}")
    return str(Dataset.from_json(found[0]).StudyInstanceUID)


def retrieve(
    node: Node,
    study_uid: str = "",
    series_uid: str = "",
    *,
    database: StudyDatabase | None = None,
    dirs: AppDirs | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    expected: int | None = None,
) -> RetrieveResult:
    """WADO-RS retrieve of a study or series (PS3.18 10.4), imported when complete.

    ``progress(received, expected)`` is called per instance (WADO-RS announces no total:
    ``expected`` is what a search said, or None); ``cancel`` stops between instances, closing
    the response, and raises :class:`~medview.core.errors.Cancelled` (nothing imported).
    """
    client = make_client(node)
    dirs = dirs or app_dirs()
    if not study_uid and series_uid:
        study_uid = _study_of_series(client, node, series_uid)
    if not study_uid:
        raise NetworkError("give the study UID (or a series UID) to retrieve")
    what = f"series {series_uid}" if series_uid else f"study {study_uid}"
    inbox = Inbox(dirs)
    started = time.monotonic()
    try:
        with _errors(node, f"WADO-RS retrieve of {what}"):
            if series_uid:
                instances = client.iter_series(study_uid, series_uid)
            else:
                instances = client.iter_study(study_uid)
            for ds in instances:
                if cancel is not None:
                    cancel.check(f"the WADO-RS retrieve of {what}")
                inbox.write(str(ds.SOPInstanceUID), _encode(ds))
                if progress is not None:
                    progress(inbox.count, expected)
        if not inbox.count:
            raise NetworkError(f"{node.describe()} returned no instances of {what}")
    except BaseException:
        inbox.discard()
        raise
    return _finish(inbox, started, database, dirs, out)


def _encode(ds: Dataset) -> bytes:
    buffer = DicomBytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def store(
    node: Node,
    paths: Iterable[str | Path],
    batch: int = 50,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelToken | None = None,
) -> StoreSummary:
    """STOW-RS (PS3.18 10.5) every DICOM file under ``paths``, ``batch`` files a request.

    ``progress(done, total)`` after each request; ``cancel`` stops between requests
    (:class:`~medview.core.errors.Cancelled`; what was sent stays on the server).
    """
    client = make_client(node)
    files, skipped = dicom_files(paths)
    summary = StoreSummary(skipped=skipped)
    if not files:
        raise NetworkError("no DICOM files to send")
    for start in range(0, len(files), batch):
        if cancel is not None:
            cancel.check(f"the STOW-RS store (after {summary.sent} of {len(files)} files)")
        chunk = files[start : start + batch]
        datasets = [dcmread(path) for path in chunk]
        with _errors(node, "STOW-RS store"):
            response = client.store_instances(datasets)
        items = (response.get("FailedSOPSequence") or []) if response is not None else []
        failed = {
            str(item.get("ReferencedSOPInstanceUID", "")): int(item.get("FailureReason", 0))
            for item in items
        }
        for path, ds in zip(chunk, datasets, strict=True):
            if str(ds.SOPInstanceUID) in failed:
                summary.failed.append(
                    (str(path), f"failure reason {failed[str(ds.SOPInstanceUID)]}")
                )
            else:
                summary.sent += 1
        if progress is not None:
            progress(min(start + batch, len(files)), len(files))
    return summary
