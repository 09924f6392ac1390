"""The main window's PACS menus and dialogs (issue 9).

File › Query PACS… (Ctrl+Shift+F), File › Send to PACS… (Ctrl+Shift+U) and PACS nodes…
(Ctrl+Shift+N; in the File menu, or in a Settings menu when the window passes one) open
non-modal dialogs that share one
:class:`~medview.view.pacs_common.PacsContext`: the settings, the session-only
credentials, the study database and medview's Storage SCP. A series retrieved from the PACS
refreshes the study browser; every outcome is also one line in the status bar. Closing the
window cancels what is running and stops the Storage SCP.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from medview.core.paths import app_dirs
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.model.settings import Settings
from medview.view.pacs_common import PacsContext
from medview.view.pacs_nodes_dialog import QtPacsNodesDialog
from medview.view.pacs_query_dialog import QtPacsQueryDialog
from medview.view.pacs_send_dialog import QtPacsSendDialog

__all__ = ["SHORTCUTS", "PacsWiring"]

log = logging.getLogger(__name__)

#: Checked against the window's other shortcuts by the GUI tests.
SHORTCUTS = {"query": "Ctrl+Shift+F", "send": "Ctrl+Shift+U", "nodes": "Ctrl+Shift+N"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("PacsWiring", text)


class PacsWiring(QObject):
    #: A push to the running Storage SCP was imported: (ImportSummary, peer), GUI thread.
    pushed = Signal(object, str)
    # Internal: from the push's import thread to the GUI thread (queued).
    _pushed_elsewhere = Signal(object, str)

    """Adds the PACS actions to the window's menus and owns the PACS dialogs.

    Parameters
    ----------
    window
        The main window (its status bar, ``browser`` and ``volume_shown`` are used).
    database
        The study database (None: Query PACS can search but not retrieve).
    settings
        Where nodes and the listener are kept (None: in memory for this session).
    file_menu, before
        The File menu and the action the PACS entries go above (e.g. Quit).
    settings_menu
        Where "PACS nodes…" goes (None: the File menu, after the other two).
    """

    def __init__(
        self,
        window: QMainWindow,
        database: StudyDatabase | None,
        settings: Settings | None,
        file_menu: QMenu,
        before: QAction | None = None,
        settings_menu: QMenu | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self.context = PacsContext(settings or Settings(), app_dirs(), database)
        self.context.on_pushed = self._pushed_elsewhere.emit  # thread-safe: a queued signal
        self._pushed_elsewhere.connect(self._on_pushed, Qt.ConnectionType.QueuedConnection)
        self._current: tuple[str, str] | None = None
        self._query: QtPacsQueryDialog | None = None
        self._send: QtPacsSendDialog | None = None
        self._nodes: QtPacsNodesDialog | None = None

        self.query_action = self._action(_tr("Q&uery PACS…"), "query", self.show_query)
        self.send_action = self._action(_tr("Se&nd to PACS…"), "send", self.show_send)
        self.nodes_action = self._action(_tr("&PACS nodes…"), "nodes", self.show_nodes)
        in_file = [self.query_action, self.send_action]
        if settings_menu is None:
            in_file.append(self.nodes_action)
        else:
            settings_menu.addAction(self.nodes_action)
        for action in in_file:
            if before is None:
                file_menu.addAction(action)
            else:
                file_menu.insertAction(before, action)
        if before is not None:
            file_menu.insertSeparator(before)
        window.volume_shown.connect(self._on_volume_shown)

    def _action(self, text: str, key: str, slot) -> QAction:
        action = QAction(text, self._window)
        action.setObjectName(f"pacs.{key}")
        action.setShortcut(QKeySequence(SHORTCUTS[key]))
        action.triggered.connect(slot)
        return action

    # -- the dialogs --------------------------------------------------------------------------
    @property
    def query_dialog(self) -> QtPacsQueryDialog | None:
        return self._query

    @property
    def send_dialog(self) -> QtPacsSendDialog | None:
        return self._send

    @property
    def nodes_dialog(self) -> QtPacsNodesDialog | None:
        return self._nodes

    def show_query(self) -> QtPacsQueryDialog:
        if self._query is None:
            self._query = QtPacsQueryDialog(self.context, self._window)
            self._query.series_retrieved.connect(self._on_series_retrieved)
            self._query.retrieve_finished.connect(self._status)
        else:
            self._query.reload_nodes()
        return self._raise(self._query)

    def show_send(self) -> QtPacsSendDialog:
        if self._send is None:
            database = self.context.database
            self._send = QtPacsSendDialog(
                self.context,
                lambda: self._current,
                database.series_paths if database is not None else None,
                self._window,
            )
            self._send.send_finished.connect(self._status)
        else:
            self._send.reload()
        return self._raise(self._send)

    def send_folder(self, folder: str) -> None:
        """Open File › Send to PACS… on ``folder`` (the report panel's exported report)."""
        self.show_send().set_folder(folder)

    def show_nodes(self) -> QtPacsNodesDialog:
        if self._nodes is None:
            self._nodes = QtPacsNodesDialog(self.context, self._window)
            self._nodes.nodes_saved.connect(self._on_nodes_saved)
            self._nodes.listener_changed.connect(self._status)
        return self._raise(self._nodes)

    @staticmethod
    def _raise(dialog):
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def shutdown(self) -> None:
        """Cancel running transfers and stop the Storage SCP (the window is closing)."""
        if self._query is not None:
            self._query.cancel_retrieve()
            self._query.close()
        if self._send is not None:
            self._send.cancel_send()
            self._send.close()
        listener = self.context.listener
        if listener is not None:
            listener.stop()  # no association is expected now; returns at once
            self.context.listener = None

    # -- slots ----------------------------------------------------------------------------------
    def _on_volume_shown(self, volume: object) -> None:
        meta = volume.meta if isinstance(volume, Volume) else None
        if meta is not None and meta.series_uid:
            text = meta.series_description or meta.modality or meta.series_uid
            self._current = (text, meta.series_uid)

    def _on_series_retrieved(self, _result: object) -> None:
        browser = getattr(self._window, "browser", None)
        if browser is not None:
            browser.refresh()

    def _on_pushed(self, summary: object, peer: str) -> None:
        self._on_series_retrieved(summary)
        line = _tr("{peer} sent {count} new image(s); they are in the study browser.")
        self._status(line.format(peer=peer, count=getattr(summary, "instances_added", 0)))
        self.pushed.emit(summary, peer)

    def _on_nodes_saved(self) -> None:
        if self._query is not None:
            self._query.reload_nodes()
        if self._send is not None:
            self._send.reload()

    def _status(self, line: str) -> None:
        self._window.statusBar().showMessage(line, 15000)
