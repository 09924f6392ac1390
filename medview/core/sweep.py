"""Removing the temporary files that a killed medview left behind (issue 11, D1).

medview writes every file to a temporary name and renames it into place
(:func:`medview.core.paths.atomic_write_files`); a kill or a power cut before the rename
leaves the temporary file. The whole target is never harmed, but the leftovers pile up, so
the GUI and the CLI commands that write into medview's folders sweep them at start, and an
export sweeps its destination folder before writing into it.

A second medview process may be writing at the same moment (two windows, a CLI export
while the GUI runs), and its temp file must survive. On POSIX the writer holds an exclusive
``flock`` on its temp file until the rename, and the kernel drops the lock when a process
dies, even by SIGKILL: a temp file whose lock can be taken belongs to a dead writer. One
gap remains: between ``mkstemp`` and ``flock`` the file exists, empty and unlocked, for a
few microseconds, so an empty file is only removed once it is :data:`FRESH_S` old. Temp
files written without that lock (the store's copies, the demo study's slices) and every
temp file on Windows, which has no ``flock``, are removed only when :data:`MIN_AGE_S` old:
an active writer keeps touching its file, a dead one's stops changing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

from medview.core.paths import JOURNAL_PREFIX, AppDirs, fsync_dir

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger("medview.core.sweep")

#: Temp files without a writer's lock are removed only after this long unchanged.
MIN_AGE_S = 60.0
#: An empty, unlocked atomic-write temp file may be in the mkstemp -> flock gap this long.
FRESH_S = 5.0

#: ``.<name>.<8 random characters>.part``: mkstemp's names in atomic_write_files.
ATOMIC_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.part")
#: Any hidden ``.part`` file (the demo study's ``.CT0001.dcm.part``, older medview versions).
HIDDEN_TEMP = re.compile(r"\..+\.part")


def _is_old(stat: os.stat_result, now: float, age_s: float) -> bool:
    return now - stat.st_mtime >= age_s


def _unlocked(path: Path) -> bool:
    """True when no live process holds the writer's lock on ``path`` (POSIX flock)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live writer holds it
    else:
        return True  # released with the close below
    finally:
        os.close(fd)


def _removable(path: Path, now: float, any_part: bool) -> bool:
    name = path.name
    if not (HIDDEN_TEMP.fullmatch(name) or (any_part and name.endswith(".part"))):
        return False
    try:
        stat = path.lstat()
    except OSError:
        return False
    if not path.is_file() or path.is_symlink():
        return False
    if fcntl is not None and ATOMIC_TEMP.fullmatch(name):
        if stat.st_size == 0 and not _is_old(stat, now, FRESH_S):
            return False  # maybe between mkstemp and flock in a live process
        return _unlocked(path)
    return _is_old(stat, now, MIN_AGE_S)


def sweep_folder(folder: Path, *, recursive: bool = False, any_part: bool = False) -> list[Path]:
    """Remove the dead medview temp files in ``folder``; returns the removed paths.

    Parameters
    ----------
    recursive
        Also the sub-folders (medview's own folders only, never a user's).
    any_part
        Also non-hidden ``*.part`` files (the copy store's ``<SOP UID>.part``).

    Never raises: a sweep that fails must not stop medview from starting.
    """
    complete_commits(Path(folder))  # first: their temp files are not leftovers
    now = time.time()
    removed = []
    for path in _candidates(Path(folder), recursive):
        if _removable(path, now, any_part):
            try:
                path.unlink()
            except OSError as exc:
                log.debug("cannot remove the leftover %s (%s)", path, exc)
                continue
            removed.append(path)
    return removed


def complete_commits(folder: Path) -> list[Path]:
    """Finish the multi-file writes that a killed medview left half renamed in ``folder``.

    :func:`medview.core.paths.atomic_write_files` makes a journal durable once every temp
    file is whole, then renames them; a kill in between leaves the journal. Completing the
    renames (roll forward) gives the new version of every file, so a report's SR, SEG, PDF
    and JSON are again of one export (issue 11, D1). A journal whose writer is alive (one
    of its temp files still locked) is left to it. Returns the targets completed.
    """
    completed: list[Path] = []
    try:
        journals = [
            p for p in folder.iterdir() if p.name.startswith(JOURNAL_PREFIX) and p.suffix == ".json"
        ]
    except OSError:
        return completed
    now = time.time()
    for journal in journals:
        try:
            entries = json.loads(journal.read_text(encoding="utf-8"))["renames"]
            pairs = [(folder / str(tmp), folder / str(target)) for tmp, target in entries]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read the commit journal %s (%s)", journal, exc)
            continue
        if any(_writer_alive(tmp, now) for tmp, _target in pairs):
            continue
        for tmp, target in pairs:
            if not (_inside(folder, tmp) and _inside(folder, target)) or not tmp.is_file():
                continue  # renamed before the kill (or not medview's journal)
            try:
                os.replace(tmp, target)
            except OSError as exc:
                log.warning("cannot complete the interrupted write of %s (%s)", target, exc)
                continue
            completed.append(target)
        fsync_dir(folder)
        journal.unlink(missing_ok=True)
    if completed:
        log.info("completed %d file(s) of an interrupted multi-file save", len(completed))
    return completed


def _writer_alive(tmp: Path, now: float) -> bool:
    try:
        stat = tmp.lstat()
    except OSError:
        return False  # already renamed
    if fcntl is not None:
        return not _unlocked(tmp)
    return not _is_old(stat, now, MIN_AGE_S)


def _inside(folder: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def _candidates(folder: Path, recursive: bool):
    try:
        if not recursive:
            yield from (p for p in folder.iterdir() if p.name.endswith(".part"))
            return
        for root, _dirs, files in os.walk(folder):
            yield from (Path(root, f) for f in files if f.endswith(".part"))
    except OSError:
        return  # a missing or unreadable folder has nothing to sweep


def sweep_app_dirs(dirs: AppDirs) -> list[Path]:
    """Sweep medview's own folders at start: sessions, report drafts, the copy store and the
    demo study (data), settings (config), thumbnails (cache). The user's plugins folder is
    left alone: what is in it is the user's."""
    removed = []
    for child in _children(dirs.data):
        if child == dirs.plugins:
            continue
        any_part = child == dirs.store
        removed += sweep_folder(child, recursive=child.is_dir(), any_part=any_part)
    removed += sweep_folder(dirs.data)
    removed += sweep_folder(dirs.config, recursive=True)
    removed += sweep_folder(dirs.cache, recursive=True)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted save", len(removed))
    return removed


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def sweep_staging_dirs(parent: Path, name: str) -> list[Path]:
    """Remove the staging folders ``.<name>.<random>.partial`` that a killed derived-series
    or results write left in ``parent`` (:mod:`medview.dicom.writer`). Only those of the
    same target name, and only when :data:`MIN_AGE_S` unchanged: ``parent`` is the user's
    folder, and another medview may be filling its own staging folder right now."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]+\.partial")
    now = time.time()
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for path in entries:
        if not pattern.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
            continue
        if _is_old(path.stat(), now, MIN_AGE_S):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
