"""The audit log: one JSON line per AI job, appended, flushed and fsynced.

A radiologist (or a regulator) must be able to tell afterwards which model version with which
weights and parameters produced a finding on which series. Each line is written with one
``write`` call under a thread lock and, on POSIX, an advisory ``flock`` so two medview
processes (the GUI and a ``medview run``) never interleave lines; ``fsync`` makes it survive a
crash right after the job.

Patient and study identifiers (:data:`IDENTIFIER_FIELDS`: the input study and series UIDs of
a job line, the study UID of a review decision line) are written through
:func:`medview.core.phi.identifier`: a keyed pseudonym unless the clinic chose plain
identifiers (issue 11, privacy). Only the file gets the pseudonym: the record passed in, the
job's ``Provenance`` and ``result.json`` (which goes with the study) keep the real UIDs.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medview.core.paths import app_dirs
from medview.core.phi import identifier, pseudonymise_uids

AUDIT_NAME = "audit.jsonl"

#: Top-level record keys whose values identify a patient or a study: pseudonymised on write.
IDENTIFIER_FIELDS = frozenset(
    {
        "input_series_uid",
        "input_study_uid",
        "study_uid",
        "series_uid",
        "sop_instance_uid",
        "frame_of_reference_uid",
        "patient_id",
        "patient_name",
        "patient_birth_date",
        "accession_number",
    }
)

try:  # POSIX only; Windows relies on the thread lock and O_APPEND
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


#: Free-text keys (an error message, a reader's note) that may quote a UID: any UID in them
#: is pseudonymised too.
FREE_TEXT_FIELDS = frozenset({"error", "note"})


def _for_the_file(key: str, value: Any) -> Any:
    if not value:
        return value
    if key in IDENTIFIER_FIELDS:
        return identifier(value)
    if key in FREE_TEXT_FIELDS and isinstance(value, str):
        return pseudonymise_uids(value)
    return value


def default_audit_path() -> Path:
    return app_dirs().data / AUDIT_NAME


class AuditLog:
    """Append-only JSON-lines file; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_audit_path()
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line (non-JSON values become strings; the values of
        :data:`IDENTIFIER_FIELDS` as :func:`~medview.core.phi.identifier` gives them)."""
        record = {key: _for_the_file(key, value) for key, value in record.items()}
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
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
