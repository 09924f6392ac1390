"""Cancellable import into the study database, off the GUI thread (issue 3).

:class:`QtImportController` runs :func:`medview.dicom.importer.import_paths` on a worker
thread through :class:`~medview.view.qt_jobs.QtJobRunner`; progress comes back as a queued
signal, so the GUI thread only draws (ARCHITECTURE.md, rule 4). Cancelling is cooperative:
the importer calls our cancel check between chunks of files, and the check raises
:class:`~medview.core.errors.Cancelled`. The scan is what takes the time and it writes
nothing, so a cancelled import leaves the database as it was; once the headers are in, the
one database transaction is not interrupted and the import finishes normally.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from medview.core.errors import Cancelled
from medview.core.paths import AppDirs
from medview.dicom.importer import ImportSummary, import_paths
from medview.dicom.index import StudyDatabase
from medview.view.qt_jobs import QtJobRunner

__all__ = ["QtImportController", "QtImportProgress", "paths_from_mime"]

#: The importer reports 0..0.9 while reading headers, then indexes and reports 1.0.
_SCAN_SHARE = 0.9


class _CancelledMarker:
    """What the worker returns when the import was cancelled (the runner drops Cancelled)."""


def paths_from_mime(mime: QMimeData | None) -> list[Path]:
    """Local files and folders dropped on a widget (``file://`` URLs), in order, no repeats.

    Parameters
    ----------
    mime
        The drop's data; remote URLs (``http://``…) and non-URL data are ignored.

    Returns
    -------
    list of pathlib.Path
    """
    if mime is None or not mime.hasUrls():
        return []
    paths: list[Path] = []
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            path = Path(url.toLocalFile())
            if path not in paths:
                paths.append(path)
    return paths


class QtImportController(QObject):
    """Import files and folders into the study database on a worker thread.

    Parameters
    ----------
    database
        The (thread-safe) study database to import into.
    dirs
        Application directories (default: ``app_dirs()``).
    copy
        Copy the files into the managed store instead of referencing them where they are.
    workers
        Header-reading worker count (default: the importer's choice).
    parent
        Qt parent.

    Signals
    -------
    started()
        An import began.
    progress(int, str)
        Percent done (0..100, never decreasing within one import) and one sentence.
    finished(object)
        The :class:`~medview.dicom.importer.ImportSummary`.
    failed(str)
        One sentence for the user.
    cancelled()
        The import stopped at the user's request; the database is unchanged.
    """

    started = Signal()
    progress = Signal(int, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    # Internal: worker thread -> GUI thread (queued), carries the fraction done.
    _progress_reported = Signal(float)

    def __init__(
        self,
        database: StudyDatabase,
        *,
        dirs: AppDirs | None = None,
        copy: bool = False,
        workers: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._dirs = dirs
        self._copy = copy
        self._workers = workers
        self._cancel = threading.Event()
        self._running = False
        self._percent = -1
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_finished)
        self._jobs.failed.connect(self._on_failed)
        self._progress_reported.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)

    # -- public API ------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """True from :meth:`start` until one of finished, failed or cancelled is emitted."""
        return self._running

    def start(self, paths: Iterable[str | Path]) -> None:
        """Import ``paths`` (files, folders, zip archives, DICOMDIRs) in the background.

        Raises
        ------
        RuntimeError
            An import is already running (one at a time: they share the database writer).
        """
        if self._running:
            raise RuntimeError("an import is already running")
        targets = [Path(p) for p in paths]
        self._cancel.clear()
        self._running = True
        self._percent = -1
        self.started.emit()
        self._on_progress(0.0)
        self._jobs.submit(self._work, targets)

    def cancel(self) -> None:
        """Ask the running import to stop at its next check (thread-safe, idempotent)."""
        self._cancel.set()

    def shutdown(self) -> None:
        """Cancel any import and stop delivering signals (call when the window closes)."""
        self._cancel.set()
        self._jobs.shutdown()
        self._running = False

    # -- worker thread ---------------------------------------------------------------------
    def _work(self, targets: list[Path]) -> ImportSummary | _CancelledMarker:
        try:
            return import_paths(
                targets,
                self._database,
                copy=self._copy,
                dirs=self._dirs,
                workers=self._workers,
                progress=self._progress_reported.emit,
                cancel=self._check_cancel,
            )
        except Cancelled:
            return _CancelledMarker()

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    # -- GUI thread ------------------------------------------------------------------------
    def _on_progress(self, fraction: float) -> None:
        if not self._running:
            return
        percent = int(max(0.0, min(1.0, fraction)) * 100)
        if percent <= self._percent:
            return
        self._percent = percent
        if self._cancel.is_set():
            text = self.tr("Cancelling the import…")
        elif fraction < _SCAN_SHARE:
            text = self.tr("Reading DICOM headers… {percent}%").format(percent=percent)
        elif fraction < 1.0:
            text = self.tr("Updating the study database…")
        else:
            text = self.tr("Import complete")
        self.progress.emit(percent, text)

    def _on_finished(self, result: object) -> None:
        self._running = False
        if isinstance(result, _CancelledMarker):
            self.cancelled.emit()
        else:
            self.finished.emit(result)

    def _on_failed(self, message: str) -> None:
        self._running = False
        self.failed.emit(message)


class QtImportProgress(QWidget):
    """A label, a progress bar and a Cancel button bound to a :class:`QtImportController`.

    Parameters
    ----------
    controller
        The import to show and cancel.
    parent
        Qt parent.
    """

    def __init__(self, controller: QtImportController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._label = QLabel(self.tr("No import running"), self)
        self._bar = QProgressBar(self)
        self._bar.setRange(0, 100)
        self._bar.setValue(0)
        self._cancel = QPushButton(self.tr("Cancel"), self)
        self._cancel.setEnabled(False)
        self._cancel.clicked.connect(self._on_cancel_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self._label, 1)
        layout.addWidget(self._bar, 1)
        layout.addWidget(self._cancel)
        controller.started.connect(self._on_started)
        controller.progress.connect(self._on_progress)
        controller.finished.connect(self._on_finished)
        controller.failed.connect(self._on_failed)
        controller.cancelled.connect(self._on_cancelled)

    # For tests and for the main window's status bar.
    @property
    def label(self) -> QLabel:
        return self._label

    @property
    def bar(self) -> QProgressBar:
        return self._bar

    @property
    def cancel_button(self) -> QPushButton:
        return self._cancel

    def _on_started(self) -> None:
        self._bar.setValue(0)
        self._label.setText(self.tr("Importing…"))
        self._cancel.setEnabled(True)

    def _on_progress(self, percent: int, text: str) -> None:
        self._bar.setValue(percent)
        self._label.setText(text)

    def _on_cancel_clicked(self) -> None:
        self._controller.cancel()
        self._cancel.setEnabled(False)
        self._label.setText(self.tr("Cancelling the import…"))

    def _on_finished(self, summary: object) -> None:
        self._cancel.setEnabled(False)
        self._bar.setValue(100)
        if isinstance(summary, ImportSummary):
            text = self.tr("Imported {new} new images ({known} already known) in {series} series")
            text = text.format(
                new=summary.instances_added, known=summary.instances_known, series=summary.series
            )
            if summary.errors:
                text += " " + self.tr("{count} files could not be read.").format(
                    count=len(summary.errors)
                )
            self._label.setText(text)
        else:
            self._label.setText(self.tr("Import complete"))

    def _on_failed(self, message: str) -> None:
        self._cancel.setEnabled(False)
        self._label.setText(message)

    def _on_cancelled(self) -> None:
        self._cancel.setEnabled(False)
        self._bar.setValue(0)
        self._label.setText(self.tr("Import cancelled; nothing was added."))
