"""The audit log: one JSON line per AI job, appended, flushed and fsynced.

A radiologist (or a regulator) must be able to tell afterwards which model version with which
weights and parameters produced a finding on which series. Each line is written with one
``write`` call under a thread lock and, on POSIX, an advisory ``flock`` so two medview
processes (the GUI and a ``medview run``) never interleave lines; ``fsync`` makes it survive a
crash right after the job.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medview.core.paths import app_dirs

AUDIT_NAME = "audit.jsonl"

try:  # POSIX only; Windows relies on the thread lock and O_APPEND
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def default_audit_path() -> Path:
    return app_dirs().data / AUDIT_NAME


class AuditLog:
    """Append-only JSON-lines file; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_audit_path()
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line (non-JSON values become strings)."""
        line = json.dumps(dict(record), ensure_ascii=False, sort_keys=True, default=str) + "\n"
        payload = line.encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)  # closing releases the flock

    def read(self) -> list[dict[str, Any]]:
        """Every record (for tests and an audit viewer); a torn last line is skipped."""
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records
