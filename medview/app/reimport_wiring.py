"""Re-import in the viewer (issue 8): a shown series brings back its study's SR and SEG.

When the main window shows a series (its ``volume_shown`` signal), the study's SR and SEG
objects that refer to that series or share its Frame of Reference are looked up in the study
database and read onto the series' grid on a worker thread
(:func:`medview.reports.reimport_find.import_for_series`). Back on the GUI thread each
becomes an imported job in the AI panel ("Report (imported) – <date>, <observer>"): its
findings join the review list and the SEG masks the overlay list; the first imported mask
overlay is shown on the MPR views. A broken object gives one sentence in the status bar and
the AI panel; the others still come. Composition only: no DICOM is parsed here.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtWidgets import QMainWindow

from medview.app.ai_dock import AiWiring
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.reports.reimport_find import import_for_series
from medview.view.mpr_layout import QtMprLayout
from medview.view.qt_jobs import QtJobRunner

log = logging.getLogger(__name__)

__all__ = ["ReimportWiring"]


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


class ReimportWiring(QObject):
    """Follows the window's shown series; hands imported reports to the AI panel.

    Parameters
    ----------
    window
        The main window (its ``volume_shown`` signal and status bar).
    mpr
        The MPR layout (the series on screen: stale imports are dropped).
    ai
        The AI dock wiring (its panel lists the imported jobs).
    database
        The study database; None: nothing is imported (no study to look in).
    """

    def __init__(
        self,
        window: QMainWindow,
        mpr: QtMprLayout,
        ai: AiWiring,
        database: StudyDatabase | None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._mpr = mpr
        self._ai = ai
        self._database = database
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_imported)
        self._jobs.failed.connect(self._on_failed)
        #: Series UID of the last import finished (tests wait on it).
        self.last_series_uid = ""
        window.volume_shown.connect(self._on_volume_shown)

    def _on_volume_shown(self, volume: object) -> None:
        database = self._database
        if database is None or not isinstance(volume, Volume) or volume.meta.derived:
            return
        if not volume.meta.study_uid:
            return
        # A newer series supersedes a running import (QtJobRunner's generation number).
        self._jobs.submit(lambda: (volume, *import_for_series(database, volume)))

    def _on_imported(self, outcome: object) -> None:
        volume, jobs, errors = outcome  # type: ignore[misc]
        if volume is not self._mpr.volume:
            return  # the reader moved on to another series
        panel = self._ai.panel
        first_overlay = None
        for job in jobs:
            if job.result.overlays and first_overlay is None:
                first_overlay = len(panel.overlay_names())
            panel.add_imported(job.title, job.result)
            for warning in job.warnings:
                log.warning("%s: %s", job.source, warning)
        if jobs:
            count = sum(len(job.result.findings) for job in jobs)
            text = _tr("{count} finding(s) imported from {reports} report object(s).").format(
                count=count, reports=len(jobs)
            )
            panel.set_status(text)
            self._window.statusBar().showMessage(text)
            self._ai.dock.show()
            if first_overlay is not None and first_overlay < len(panel.overlay_names()):
                panel.show_overlay(first_overlay)
        if errors:
            self._on_failed(errors[0])
        self.last_series_uid = volume.meta.series_uid

    def _on_failed(self, message: str) -> None:
        text = _tr("Could not import a report: {reason}").format(reason=message)
        log.warning("%s", text)
        self._ai.panel.set_status(text)
        self._window.statusBar().showMessage(text)

    def shutdown(self) -> None:
        self._jobs.shutdown()
