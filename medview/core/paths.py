"""Where medview keeps its data, settings, cache and logs.

Everything medview writes lives under the platformdirs directories, or under one folder when
the environment variable ``MEDVIEW_HOME`` is set (tests, scripts and portable installs rely on
it). The user's source DICOM is never written (ARCHITECTURE.md, rule 3).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the sweep goes by age there
    fcntl = None

APP_NAME = "medview"
HOME_ENV = "MEDVIEW_HOME"


@dataclass(frozen=True)
class AppDirs:
    data: Path
    config: Path
    cache: Path
    logs: Path

    @property
    def database(self) -> Path:
        return self.data / "studies.sqlite"

    @property
    def store(self) -> Path:
        """Managed copy store (import --copy, files extracted from zip archives)."""
        return self.data / "store"

    @property
    def plugins(self) -> Path:
        return self.data / "plugins"

    def ensure(self) -> AppDirs:
        for path in (self.data, self.config, self.cache, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        return self


def app_dirs() -> AppDirs:
    """The directories for this process, honouring ``MEDVIEW_HOME``."""
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return AppDirs(root / "data", root / "config", root / "cache", root / "logs")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return AppDirs(
        Path(dirs.user_data_dir),
        Path(dirs.user_config_dir),
        Path(dirs.user_cache_dir),
        Path(dirs.user_log_dir),
    )


def atomic_write_bytes(target: Path, payload: bytes) -> None:
    """Write ``payload`` to ``target`` so that readers see the old file or the whole new one.

    Temp file in the same directory, fsync, then rename: a crash never leaves half a file.
    """
    atomic_write_files({Path(target): payload})


#: A multi-file write's commit journal (issue 11 D1): ``.medview-commit.<random>.json`` in the
#: targets' common folder, listing ``[temp, target]`` name pairs relative to it.
JOURNAL_PREFIX = ".medview-commit."


def atomic_write_files(payloads: Mapping[Path, bytes]) -> None:
    """Write several files as one: afterwards all are new, or (on a failure) all are old.

    All temp files are written and fsynced first; only when every one of them is complete
    are they renamed over their targets (issue 11, D3: a disk that fills up while the third
    file of a report is written must not have replaced the first two already). Between the
    two, a journal naming every (temp, target) pair is made durable: a kill during the
    renames leaves the journal, and the next sweep of the folder
    (:func:`medview.core.sweep.sweep_folder`) completes the renames, so a report's SR never
    stays beside the SEG of another version (issue 11, D1).

    Raises
    ------
    OSError
        From the first write that failed; no temp file is left behind then.
    """
    staged: list[tuple[int, str, Path]] = []
    renamed = 0
    journal: Path | None = None
    try:
        for target, payload in payloads.items():
            staged.append(_write_temp(Path(target), payload))
        if len(staged) > 1:
            journal = _write_journal([(Path(tmp), target) for _fd, tmp, target in staged])
        for index, (fd, tmp, target) in enumerate(staged):
            # Renamed while the temp file is still open and locked: the sweep of a second
            # medview process (medview.core.sweep) never takes it for a dead one's leftover.
            if fcntl is None:  # ...except on Windows, which cannot rename an open file
                os.close(fd)
                staged[index] = (-1, tmp, target)
            os.replace(tmp, target)
            renamed += 1
        for folder in dict.fromkeys(target.parent for _fd, _tmp, target in staged):
            fsync_dir(folder)
    finally:
        for index, (fd, tmp, _target) in enumerate(staged):
            if fd >= 0:
                os.close(fd)
            if index >= renamed:  # a failure: the temp files not renamed yet go
                Path(tmp).unlink(missing_ok=True)
        if journal is not None:  # done, or failed in this process: nothing to complete
            journal.unlink(missing_ok=True)


def _write_journal(pairs: list[tuple[Path, Path]]) -> Path:
    """The durable list of renames still to do (see :func:`atomic_write_files`)."""
    import json
    import secrets

    folder = Path(os.path.commonpath([str(target.parent) for _tmp, target in pairs]))
    entries = [
        [os.path.relpath(tmp, folder), os.path.relpath(target, folder)] for tmp, target in pairs
    ]
    journal = folder / f"{JOURNAL_PREFIX}{secrets.token_hex(4)}.json"
    fd, tmp, _ = _write_temp(journal, json.dumps({"renames": entries}).encode("utf-8"))
    try:
        if fcntl is None:  # Windows cannot rename an open file
            os.close(fd)
            fd = -1
        os.replace(tmp, journal)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)
    fsync_dir(folder)
    return journal


def _write_temp(target: Path, payload: bytes) -> tuple[int, str, Path]:
    """(open fd, temp path, target): ``payload`` written and fsynced beside ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        if fcntl is not None:
            # Held until the rename: a live writer's temp file is locked, a killed one's is
            # not (the kernel drops the lock with the process), which is how the start-up
            # sweep tells them apart (issue 11, D1).
            fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp, target


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX): fsync of the file only covers its data,
    the new directory entry lives in the folder, and after a power cut the old name could
    come back (issue 11, D1). Best effort: some file systems refuse to fsync a folder."""
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; NTFS journals the rename itself
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # EINVAL on file systems without folder fsync; the rename itself happened
    finally:
        os.close(fd)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
