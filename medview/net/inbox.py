"""A staging folder for received instances, and their import into the local database.

Retrieved instances are written here first (atomically, one file per SOP instance) and are
imported only when the whole retrieve succeeded, so the database never lists a half-received
series as if it were complete (issue 9). A failed retrieve discards the folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from medview.core.paths import AppDirs
from medview.dicom.importer import ImportSummary, import_paths
from medview.dicom.index import StudyDatabase

_UID = re.compile(r"^[0-9.]{1,64}$")


def _file_name(sop_instance_uid: str) -> str:
    uid = str(sop_instance_uid)
    if _UID.match(uid):
        return f"{uid}.dcm"
    return "x" + hashlib.sha256(uid.encode("utf-8", "replace")).hexdigest()[:32] + ".dcm"


class Inbox:
    """Received files of one operation, under ``<store>/incoming/<random>``.

    Thread-safe: pynetdicom calls the C-STORE handler on its association threads.
    """

    def __init__(self, dirs: AppDirs, on_write: Callable[[], None] | None = None) -> None:
        self.folder = dirs.store / "incoming" / uuid.uuid4().hex
        self.folder.mkdir(parents=True, exist_ok=False)
        self._lock = threading.Lock()
        self.files: list[Path] = []
        #: Called (on the writing thread) after each file is written: progress reports.
        self.on_write = on_write

    @property
    def count(self) -> int:
        return len(self.files)

    def write(self, sop_instance_uid: str, encoded: bytes) -> Path:
        """Write one Part 10 file (preamble + meta + dataset) atomically; return its path."""
        target = self.folder / _file_name(sop_instance_uid)
        partial = target.with_suffix(".part")
        with partial.open("wb") as handle:
            handle.write(encoded)
        os.replace(partial, target)
        with self._lock:
            self.files.append(target)
        if self.on_write is not None:
            self.on_write()
        return target

    def commit(
        self, database: StudyDatabase, dirs: AppDirs, out: Path | None = None
    ) -> ImportSummary:
        """Copy into ``out`` (if given), import into the store and database, then clean up."""
        try:
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                for path in self.files:
                    shutil.copyfile(path, out / path.name)
            return import_paths([self.folder], database, copy=True, dirs=dirs)
        finally:
            self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
