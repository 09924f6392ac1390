"""View › Compare with the selected series (Ctrl+Shift+P): a prior beside the current scan.

Select another series of the patient in the Studies dock (one click: it is not opened) and
press Ctrl+Shift+P: the series is loaded and aligned to the one on screen on a worker thread
(:mod:`medview.model.prior_compare`; a few seconds for a chest CT), then the compare view
takes the place of the MPR layout, the series on screen on the left, linked by anatomy to the
other on the right, at the MPR crosshair. Escape goes back. Status-bar sentences say what
is happening or why a pair was refused. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from medview.app.compare_wiring import CompareWiring
from medview.dicom.index import StudyDatabase
from medview.model import prior_compare
from medview.view.mpr_layout import QtMprLayout
from medview.view.qt_jobs import QtJobRunner
from medview.view.study_browser import QtStudyBrowser

__all__ = ["SHORTCUT", "PriorWiring"]

#: Free in the window (Ctrl+Shift+O/A/C/R/F/U/N are taken).
SHORTCUT = "Ctrl+Shift+P"


def _tr(text: str) -> str:
    return QCoreApplication.translate("PriorWiring", text)


class PriorWiring(QObject):
    """The action, the background load-and-align job and the hand-over to the compare view.

    Parameters
    ----------
    window
        The main window (its status bar).
    mpr
        The MPR layout: the series on screen and the crosshair.
    compare
        Shows the pair (it owns the compare view).
    database
        The study library the other series is loaded from (None: the action stays off).
    menu
        The View menu, which gets the action.
    browser
        The Studies dock, whose selected series is compared (None without a library).
    """

    def __init__(
        self,
        window: QMainWindow,
        mpr: QtMprLayout,
        compare: CompareWiring,
        database: StudyDatabase | None,
        menu: QMenu,
        browser: QtStudyBrowser | None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._mpr = mpr
        self._compare = compare
        self._database = database
        self._browser = browser
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_prepared)
        self._jobs.failed.connect(self._on_failed)
        self._pending = None  # the Volume the running job aligns to
        self.action = QAction(_tr("Compare with the &selected series"), self)
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.setEnabled(database is not None)
        self.action.triggered.connect(self.compare_selected)
        actions = menu.actions()
        # Beside "Compare original | enhanced", at the top of the View menu.
        menu.insertAction(actions[1] if len(actions) > 1 else None, self.action)

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def compare_selected(self) -> bool:
        """Load, align and show the Studies dock's selected series beside the one on screen.

        Returns False (with a sentence in the status bar) when nothing was started."""
        shown = self._mpr.volume
        series_uid = self._browser.selected_series_uid() if self._browser is not None else ""
        if self._database is None or shown is None:
            self._say(_tr("Open a series first, then select the one to compare it with."))
            return False
        if not series_uid or series_uid == shown.meta.series_uid:
            self._say(
                _tr(
                    "Select another series of the patient in the Studies dock (one click), then compare."
                )
            )
            return False
        database = self._database
        self._pending = shown
        self._say(_tr("Loading and aligning the series to compare…"))
        self._jobs.submit(prior_compare.prepare, database, series_uid, shown)
        return True

    def shutdown(self) -> None:
        self._jobs.shutdown()

    def _on_prepared(self, comparison: object) -> None:
        shown, self._pending = self._pending, None
        if not isinstance(comparison, prior_compare.Comparison) or shown is None:
            return
        if self._mpr.volume is not shown:  # the reader opened something else meanwhile
            return
        titles = prior_compare.titles(shown.meta, comparison, _tr)
        self._compare.show_pair(shown, comparison.other, titles, comparison.alignment)
        if comparison.aligned and comparison.alignment.uncertain:
            self._say(
                _tr(
                    "The alignment is uncertain (correlation {similarity}): the two scans "
                    "hardly match; do not rely on the link."
                ).format(similarity=f"{comparison.alignment.similarity:.2f}")
            )
        elif comparison.aligned:
            self._say(
                _tr(
                    "Aligned in {seconds} s. Linked by anatomy: check the match where you read."
                ).format(seconds=f"{comparison.alignment.seconds:.1f}")
            )
        else:
            self._say(_tr("Same frame of reference: linked by patient position."))

    def _on_failed(self, message: str) -> None:
        self._pending = None
        self._say(_tr("Could not compare: {message}").format(message=message))

    def _say(self, text: str) -> None:
        self._window.statusBar().showMessage(text)
