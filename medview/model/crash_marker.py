"""Did the last medview run end cleanly? One marker file per running workstation (issue 11, D2).

When the workstation starts, :func:`begin` writes ``<data>/running/<pid>.json`` (pid, host,
start time) and looks at the markers already there; a clean exit removes ours
(:meth:`RunMarker.end`). A marker left behind by a process that no longer runs means that run
was killed or crashed (kill -9, power loss, a crash in a GL driver): its measurements came
back from the last autosave, and the user is told so. A marker whose process still runs is
another medview on the same data folder, not a crash; a marker written on another host (a
shared data folder) cannot be checked and is left alone.

The first start that finds a stale marker claims it (an atomic rename, so two starts never
both report one crash) and removes it: a crash is reported once. Qt-free.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medview.core.paths import atomic_write_text

__all__ = ["MARKER_DIR", "RunInfo", "RunMarker", "begin", "process_alive"]

log = logging.getLogger("medview.model.crash_marker")

#: Folder under the data dir that holds one marker per running medview.
MARKER_DIR = "running"
_FORMAT = "medview.running"
#: /proc start times are whole boot seconds plus clock ticks; the boot time itself is rounded.
_CLOCK_SLACK_S = 2.0


@dataclass(frozen=True)
class RunInfo:
    """One medview run, as its marker records it."""

    pid: int
    host: str
    #: When it started (seconds since the epoch).
    started: float


@dataclass(frozen=True)
class RunMarker:
    """This run's marker and what :func:`begin` found beside it.

    Attributes
    ----------
    path
        Our marker file (removed by :meth:`end`).
    crashed
        Earlier runs that did not exit cleanly (their markers are gone now: claimed).
    running
        Other medview processes using the same data folder now.
    """

    path: Path
    crashed: tuple[RunInfo, ...] = ()
    running: tuple[RunInfo, ...] = ()

    @property
    def unclean_since(self) -> float | None:
        """Start of the earliest run that did not exit cleanly (None: all ended cleanly).

        Anything saved since then may have been restored from an autosave.
        """
        return min((run.started for run in self.crashed), default=None)

    def end(self) -> None:
        """A clean exit: the next start must not report a crash."""
        self.path.unlink(missing_ok=True)


def begin(
    data_dir: Path,
    *,
    pid: int | None = None,
    host: str | None = None,
    now: float | None = None,
    alive: Callable[[RunInfo], bool] | None = None,
) -> RunMarker:
    """Record that medview runs, and find the earlier runs that did not exit cleanly.

    Parameters
    ----------
    data_dir
        The data folder (``AppDirs.data``).
    pid, host, now
        This process (defaults: ``os.getpid()``, the host name, ``time.time()``).
    alive
        ``alive(run) -> bool``: whether a marker's process still runs (default
        :func:`process_alive`; tests replace it).

    Raises
    ------
    OSError
        When the marker cannot be written (a read-only data folder).
    """
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    now = time.time() if now is None else now
    alive = alive or (lambda run: process_alive(run.pid, run.started))
    folder = Path(data_dir) / MARKER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    crashed: list[RunInfo] = []
    running: list[RunInfo] = []
    for path in sorted(folder.glob("*.json")):
        run = _read(path, host)
        if run is None:
            continue
        # Our own pid in an old marker: a previous run that had it (containers reuse pids).
        if run.host != host or (run.pid != pid and alive(run)):
            running.append(run)
        elif _claim(path, pid):
            log.warning(
                "medview (pid %d, started %s) was not closed properly",
                run.pid,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.started)),
            )
            crashed.append(run)
    marker = folder / f"{pid}.json"
    document = {"format": _FORMAT, "pid": pid, "host": host, "started": now}
    atomic_write_text(marker, json.dumps(document) + "\n")
    return RunMarker(marker, tuple(crashed), tuple(running))


def process_alive(pid: int, started: float) -> bool:
    """Whether the process that wrote a marker (``pid``, begun by ``started``) still runs.

    A zombie (killed, not yet reaped) does not run; a live process that began after
    ``started`` cannot have written the marker: its pid was reused.
    """
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    state = _linux_state(pid)
    if state is None:
        return True  # no /proc (macOS): the pid exists, trust it
    status, begun = state
    return status not in ("Z", "X") and begun <= started + _CLOCK_SLACK_S


# -- internals -------------------------------------------------------------------------------


def _read(path: Path, host: str) -> RunInfo | None:
    """The run a marker describes; None for a file that is not a marker."""
    try:
        pid = int(path.stem)
    except ValueError:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunInfo(int(data["pid"]), str(data["host"]), float(data["started"]))
    except (OSError, ValueError, TypeError, KeyError):
        pass
    # Unreadable (written by hand, or a disk that lost it): the file name and time remain.
    try:
        started = path.stat().st_mtime
    except OSError:
        return None
    return RunInfo(pid, host, started)


def _claim(path: Path, pid: int) -> bool:
    """Take a stale marker away (True), or False when another start took it first."""
    claimed = path.with_name(f"{path.name}.claimed-{pid}")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return False
    except OSError as err:
        log.warning("could not remove the stale marker %s: %s", path, err)
        return False
    claimed.unlink(missing_ok=True)
    return True


def _linux_state(pid: int) -> tuple[str, float] | None:
    """(state letter, start time since the epoch) of a process, from /proc; None without it."""
    try:
        boot = Path("/proc/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return "X", 0.0  # it ended since os.kill found it
    # "pid (command) state ppid ...": the command may hold spaces and parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    btime = next((line.split()[1] for line in boot.splitlines() if line.startswith("btime")), None)
    if len(fields) < 20 or btime is None:
        return None
    # Field 22 of proc(5), starttime: clock ticks after boot.
    return fields[0], float(btime) + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _windows_alive(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess (os.kill(pid, 0) would terminate it on Windows)."""
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # ERROR_ACCESS_DENIED: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
