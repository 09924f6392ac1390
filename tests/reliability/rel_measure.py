"""Run a command in a child process and measure its own peak RSS (issue 11, R3 and R6).

Linux keeps a process's peak resident set across ``exec``: a child forked from a big
process (pytest holds 2-3 GiB late in the full suite) reports at least the parent's size in
``ru_maxrss``, whatever it allocates itself (the first CI run of these tests measured
2,600 MiB for every command). So the command is started by a small launcher interpreter,
which forks and execs it and reports ``os.wait4``'s rusage of exactly that child: the
figure is the command's own peak (plus at most the launcher's ~10 MiB at fork time).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float
    seconds: float
    timed_out: bool


def run_medview(*args: str, timeout: float = 60.0, env: dict | None = None) -> Measured:
    """``python -m medview ARGS`` in a fresh interpreter."""
    return run_measured([sys.executable, "-m", "medview", *args], timeout=timeout, env=env)


#: Forks and execs argv[2:], then writes [exit code, ru_maxrss KiB] of that child to argv[1].
_LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss], report)
"""


def run_measured(argv: list[str], *, timeout: float = 60.0, env: dict | None = None) -> Measured:
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = os.path.join(scratch, "rusage.json")
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, report, *argv],
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # a timeout kills the launcher and the command together
        )
        timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        try:
            with open(report) as handle:
                returncode, maxrss_kib = json.load(handle)
        except (OSError, ValueError):  # killed before it could report
            returncode, maxrss_kib = proc.returncode, 0
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss_mib=maxrss_kib / 1024,
            seconds=seconds,
            timed_out=seconds >= timeout,
        )
