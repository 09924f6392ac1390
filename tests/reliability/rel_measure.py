"""Run a command in a child process and measure its own peak RSS (issue 11, R3 and R6).

``os.wait4`` returns the rusage of exactly that child, so the figure is the child's peak
resident set (``ru_maxrss``, KiB on Linux), not the test runner's and not the maximum over
every child the runner ever waited for (which ``RUSAGE_CHILDREN`` would give).
"""

from __future__ import annotations

import os
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


def run_measured(argv: list[str], *, timeout: float = 60.0, env: dict | None = None) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss_mib=usage.ru_maxrss / 1024,
            seconds=seconds,
            timed_out=seconds >= timeout,
        )
