"""Finding DICOM files under the user's paths and reading their headers in parallel.

Inputs may be folders (searched recursively), files, zip archives or a DICOMDIR. Files that
are not DICOM are skipped and counted, not reported as errors (issue 2). Header parsing is pure
Python, so large scans use worker processes rather than threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from medview.core.errors import Cancelled, DicomLoadError, NoDicomFoundError, NotDicomError
from medview.core.phi_paths import register_user_path
from medview.dicom.header import (
    InstanceHeader,
    has_dicom_preamble,
    is_dicomdir,
    read_header,
)

log = logging.getLogger(__name__)

#: Below this many files a worker pool costs more than it saves: forked workers start in
#: milliseconds, forkserver/spawn workers must import medview first (~0.3 s).
PROCESS_POOL_MIN_FILES = {"fork": 64, "forkserver": 400, "spawn": 400}
_CHUNK = 128
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class ScanResult:
    """Headers found, files skipped as non-DICOM, and DICOM files that could not be read."""

    headers: list[InstanceHeader] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    dicomdirs: list[str] = field(default_factory=list)
    files_seen: int = 0


def iter_input_files(
    paths: Iterable[str | Path], extract_root: Path | None = None
) -> Iterator[Path]:
    """Expand the user's paths into candidate files (not yet known to be DICOM).

    ``extract_root`` is where zip archives are unpacked (a folder medview owns); without it,
    zip files are not expanded.
    """
    for raw in paths:
        register_user_path(raw)  # the log names it by a pseudonym (issue 11, privacy)
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if not path.exists():
            raise NoDicomFoundError("no such file or folder", path)
        if path.is_dir():
            yield from _walk(path)
        elif extract_root is not None and zipfile.is_zipfile(path):
            yield from _walk(extract_zip(path, extract_root))
        elif path.name.upper() == "DICOMDIR" or _is_dicomdir_file(path):
            yield from dicomdir_files(path)
        else:
            yield path


def _walk(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if name not in _IGNORED_NAMES and not name.startswith("._"):
                yield Path(folder) / name


def _is_dicomdir_file(path: Path) -> bool:
    if not has_dicom_preamble(path):
        return False
    try:
        return is_dicomdir(read_header(path))
    except DicomLoadError:
        return False


def dicomdir_files(path: Path) -> Iterator[Path]:
    """Files referenced by a DICOMDIR, refusing any reference that leaves its folder.

    The directory records' Referenced File IDs are path components relative to the
    DICOMDIR's folder (PS3.10 8.6, PS3.3 F.3.2.2). pydicom's FileSet would also do, but it
    stages a temporary folder per DICOMDIR that is never cleaned up; indexing needs only the
    file list.
    """
    from medview.dicom.header import read_dicomdir

    root = path.parent.resolve()
    dataset = read_dicomdir(path)
    records = dataset.get("DirectoryRecordSequence")
    if records is None:
        raise DicomLoadError("the DICOMDIR has no Directory Record Sequence", path)
    for record in records:
        components = record.get("ReferencedFileID")
        if not components:
            continue
        if isinstance(components, str):
            components = [components]
        try:
            target = root.joinpath(*[str(c).strip() for c in components]).resolve()
        except (ValueError, OSError):
            continue
        # Anything that resolves outside the DICOMDIR's folder ("..", absolute IDs) is refused.
        if target.is_relative_to(root) and target.is_file():
            yield target


def extract_zip(archive: Path, extract_root: Path) -> Path:
    """Unpack ``archive`` under ``extract_root`` (idempotent), refusing unsafe member names."""
    stat = archive.stat()
    digest = hashlib.sha256(
        f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    ).hexdigest()
    target = extract_root / digest[:16]
    done_marker = target / ".complete"
    if done_marker.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    resolved_root = target.resolve()
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                if member.is_dir():
                    continue
                destination = (target / member.filename).resolve()
                if not destination.is_relative_to(resolved_root):
                    continue  # "../" or absolute names: never write outside the store
                destination.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DicomLoadError(f"cannot unpack zip archive ({exc})", archive) from exc
    done_marker.touch()
    return target


def _read_chunk(paths: list[str]) -> list[InstanceHeader | tuple[str, str, str]]:
    """Worker-side: headers, or (path, 'skip'|'error', reason) for files that fail."""
    results: list[InstanceHeader | tuple[str, str, str]] = []
    for path in paths:
        try:
            results.append(read_header(path))
        except NotDicomError as exc:
            results.append((path, "skip", exc.reason))
        except DicomLoadError as exc:
            results.append((path, "error", exc.reason))
    return results


def read_headers(
    files: Iterable[str | Path],
    *,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], None] | None = None,
) -> ScanResult:
    """Read the headers of ``files``; non-DICOM files are counted as skipped."""
    paths = [str(p) for p in files]
    result = ScanResult(files_seen=len(paths))
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    worker_count = workers or max(1, min(4, os.cpu_count() or 1))
    finished: list[list] = []  # outcomes of the chunks read so far, in order
    if worker_count > 1 and len(paths) >= PROCESS_POOL_MIN_FILES[pool_context().get_start_method()]:
        try:
            _read_in_processes(chunks, worker_count, finished, len(paths), progress, cancel)
        except (BrokenProcessPool, OSError) as exc:
            # A pool that cannot start (restricted sandbox, frozen app quirks) must not stop
            # an import: carry on in this process from where the pool stopped.
            log.warning("header scan pool failed (%s); continuing in-process", exc)
    for chunk in chunks[len(finished) :]:
        if cancel:
            cancel()
        finished.append(_read_chunk(chunk))
        if progress:
            progress(sum(map(len, finished)) / max(1, len(paths)))
    for outcome in finished:
        _collect(result, outcome)
    return result


def pool_context():
    """How to start worker processes.

    ``fork`` starts in milliseconds and needs no re-import, but forking a process that runs
    other threads (the GUI, a job runner) can deadlock a child on a lock held mid-fork; then
    ``forkserver`` (POSIX) or ``spawn`` is used, at the cost of importing medview in each child.
    """
    import multiprocessing
    import threading

    if os.name != "posix":
        return multiprocessing.get_context("spawn")
    if threading.active_count() == 1 and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


def _read_in_processes(chunks, worker_count, finished, total, progress, cancel) -> None:
    """Read chunks in worker processes, appending each chunk's outcome to ``finished``."""
    with ProcessPoolExecutor(max_workers=worker_count, mp_context=pool_context()) as pool:
        try:
            for outcome in pool.map(_read_chunk, chunks):
                finished.append(outcome)
                if progress:
                    progress(sum(map(len, finished)) / total)
                if cancel:
                    cancel()
        except Cancelled:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _collect(result: ScanResult, outcome: list) -> None:
    for item in outcome:
        if isinstance(item, InstanceHeader):
            if is_dicomdir(item):
                result.dicomdirs.append(item.path)
            else:
                result.headers.append(item)
        elif item[1] == "skip":
            result.skipped.append((item[0], item[2]))
        else:
            result.errors.append((item[0], item[2]))


def scan_paths(
    paths: Iterable[str | Path],
    *,
    extract_root: Path | None = None,
    workers: int | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], None] | None = None,
) -> ScanResult:
    """Expand paths and read every header; raise NoDicomFoundError if nothing is DICOM."""
    paths = list(paths)
    files = list(dict.fromkeys(iter_input_files(paths, extract_root)))
    result = read_headers(files, workers=workers, progress=progress, cancel=cancel)
    if not result.headers and not result.errors:
        if len(paths) == 1 and Path(paths[0]).is_file() and result.skipped:
            raise NotDicomError(result.skipped[0][1], result.skipped[0][0])
        where = ", ".join(str(p) for p in paths[:3])
        raise NoDicomFoundError(f"no DICOM files found in {where} ({len(files)} files looked at)")
    return result
