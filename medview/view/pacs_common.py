"""What the PACS dialogs share: the settings, session credentials, database and listener.

:class:`PacsContext` is handed to each dialog by :mod:`medview.app.pacs_wiring`, so the
nodes dialog, the query dialog and the send dialog see the same nodes, the same
session-only credentials (see :mod:`medview.model.pacs_config`) and the same Storage SCP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QComboBox

from medview.core.paths import AppDirs
from medview.dicom.importer import ImportSummary
from medview.dicom.index import StudyDatabase
from medview.model.pacs_config import SessionSecrets, listener_config, usable_nodes
from medview.model.settings import Settings
from medview.net.nodes import Node
from medview.net.push import PushReceiver
from medview.net.scp import StorageListener

__all__ = ["PacsContext", "fill_node_combo", "tr"]


def tr(context: str, text: str) -> str:
    return QCoreApplication.translate(context, text)


@dataclass
class PacsContext:
    """Shared PACS state of one main window.

    Attributes
    ----------
    settings
        The settings the nodes and the listener are read from and saved to.
    dirs
        Application folders (the managed store receives retrieved files).
    database
        The study database retrieves import into (None: retrieving is disabled).
    secrets
        Credentials kept for this session only.
    listener
        medview's Storage SCP while it runs (started from the nodes dialog or by a C-MOVE).
    on_pushed
        ``on_pushed(summary, peer)``: a study a peer pushed to the running listener was
        imported (called on a worker thread).
    """

    settings: Settings
    dirs: AppDirs
    database: StudyDatabase | None = None
    secrets: SessionSecrets = field(default_factory=SessionSecrets)
    listener: StorageListener | None = None
    on_pushed: Callable[[ImportSummary, str], None] | None = None

    def nodes(self) -> tuple[dict[str, Node], list[str]]:
        """Valid nodes by name and one sentence per invalid entry."""
        return usable_nodes(self.settings, self.secrets)

    def listener_for_move(self) -> StorageListener:
        """The running listener, or a stopped one from the settings (C-MOVE starts it)."""
        if self.listener is not None:
            return self.listener
        aet, port = listener_config(self.settings)
        return StorageListener(aet, port)

    def listener_running(self) -> bool:
        return self.listener is not None and self.listener.is_running

    def make_listener(self, ae_title: str, port: int) -> StorageListener:
        """A listener that also imports what peers push to it (with a database)."""
        listener = StorageListener(ae_title, port)
        if self.database is not None:
            listener.push = PushReceiver(self.database, self.dirs, self.on_pushed)
        return listener


def fill_node_combo(combo: QComboBox, nodes: dict[str, Node], current: str = "") -> None:
    """Node names with their addresses (``describe()``, no credentials) as tooltips."""
    combo.blockSignals(True)
    combo.clear()
    for name, node in nodes.items():
        combo.addItem(name, name)
        combo.setItemData(combo.count() - 1, node.describe(), Qt.ItemDataRole.ToolTipRole)
    index = combo.findData(current) if current else 0
    combo.setCurrentIndex(max(index, 0) if combo.count() else -1)
    combo.blockSignals(False)
