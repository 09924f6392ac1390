"""Small pieces of the main window kept out of ``main_window.py`` (one concept each, short).

- :class:`QtDropArea`, the central widget that accepts drops: series dragged from the study
  browser (opened) and files or folders from the desktop (imported).
- :func:`import_result_sentence`, what an import did, in one sentence (rule 5).
- :func:`add_choice_menu`, a menu of exclusive checkable choices (theme, language).
- :func:`remember_window` / :func:`restore_window`, the window geometry and dock layout as
  base64 text in the settings file (see :mod:`medview.model.settings` for why not QSettings).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QMimeData, Signal
from PySide6.QtGui import QAction, QActionGroup, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from medview.dicom.importer import ImportSummary
from medview.model.settings import Settings
from medview.view.import_controller import paths_from_mime
from medview.view.study_browser import SERIES_MIME_TYPE, series_uids_from_mime

__all__ = [
    "QtDropArea",
    "add_choice_menu",
    "import_result_sentence",
    "remember_window",
    "restore_window",
]

log = logging.getLogger(__name__)


def _tr(text: str) -> str:
    # The main window's context: these strings are the main window's to translators.
    return QCoreApplication.translate("QtMainWindow", text)


def import_result_sentence(summary: ImportSummary) -> str:
    """One sentence saying what an import did, partial results included."""
    text = _tr("Imported {new} new images ({known} already known) in {series} series.").format(
        new=summary.instances_added, known=summary.instances_known, series=summary.series
    )
    if summary.errors:
        path, reason = summary.errors[0]
        text += " " + _tr("{count} files could not be read (first: {path}: {reason}).").format(
            count=len(summary.errors), path=Path(path).name, reason=reason
        )
    return text


class QtDropArea(QWidget):
    """A widget that accepts series from the study browser and files from outside.

    Signals
    -------
    series_dropped(list)
        SeriesInstanceUIDs dragged from the browser.
    paths_dropped(list)
        Local files and folders (``pathlib.Path``) dropped from the desktop.
    """

    series_dropped = Signal(list)
    paths_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)

    @staticmethod
    def _wanted(mime: QMimeData | None) -> bool:
        if mime is None:
            return False
        return mime.hasFormat(SERIES_MIME_TYPE) or bool(paths_from_mime(mime))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._wanted(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._wanted(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        uids = series_uids_from_mime(mime)
        paths = [] if uids else paths_from_mime(mime)
        if not uids and not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        if uids:
            self.series_dropped.emit(uids)
        else:
            self.paths_dropped.emit(paths)


def remember_window(window: QMainWindow, settings: Settings) -> None:
    """Store the window's geometry and toolbar/dock state in ``settings`` (not saved yet)."""
    settings.window_geometry = base64.b64encode(bytes(window.saveGeometry().data())).decode()
    settings.window_state = base64.b64encode(bytes(window.saveState().data())).decode()


def restore_window(window: QMainWindow, settings: Settings) -> None:
    """Apply a remembered geometry and dock state; bad values are ignored (logged)."""
    try:
        if settings.window_geometry:
            geometry = base64.b64decode(settings.window_geometry, validate=True)
            window.restoreGeometry(QByteArray(geometry))
        if settings.window_state:
            state = base64.b64decode(settings.window_state, validate=True)
            window.restoreState(QByteArray(state))
    except (ValueError, binascii.Error) as exc:
        log.warning("ignoring the saved window geometry: %s", exc)


def add_choice_menu(
    menu: QMenu, choices: Sequence[tuple[str, str]], current: str, slot: Callable[[], None]
) -> dict[str, QAction]:
    """Fill ``menu`` with exclusive checkable actions, one per ``(key, label)``.

    Each action carries its key as ``data()``; ``slot`` (a bound method, so that no lambda
    held by C++ keeps the window alive) reads it from ``sender()``.

    Returns
    -------
    dict
        The actions by key.
    """
    group = QActionGroup(menu)
    actions: dict[str, QAction] = {}
    for key, label in choices:
        action = QAction(label, menu)
        action.setCheckable(True)
        action.setChecked(key == current)
        action.setData(key)
        action.triggered.connect(slot)
        group.addAction(action)
        menu.addAction(action)
        actions[key] = action
    return actions
