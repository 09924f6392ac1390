"""File › PACS nodes…: remote nodes and medview's own Storage SCP (issue 9).

Each node has a DIMSE address (AE title, host, port) and/or a DICOMweb base URL with
optional basic or bearer authentication. Fields are checked by :mod:`medview.net.nodes`
(the command line uses the same rules); a problem is one line naming the node. "Test
connection" runs a C-ECHO (or, for a DICOMweb-only node, a one-result QIDO-RS search) on a
worker thread and shows the outcome as one line.

Credentials: by default they are kept **for this session only** (in memory, forgotten when
medview quits). Ticking "Remember credentials" writes them into ``settings.toml``, which is
then readable by its owner only (0600). They never reach the log (see
:mod:`medview.model.pacs_config`).

The Storage SCP box sets medview's AE title and port (the C-MOVE destination the PACS must
know) and starts or stops the listener on demand; its status is one line. While it runs,
studies a PACS pushes to it are imported too (:mod:`medview.net.push`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from medview.core.errors import MedviewError
from medview.model.pacs_config import (
    NodeEntry,
    listener_config,
    load_entries,
    save_entries,
    set_listener_config,
)
from medview.model.pacs_ops import test_connection
from medview.net.nodes import DEFAULT_CALLING_AET, DEFAULT_TIMEOUT_S
from medview.net.scp import StorageListener
from medview.view.pacs_common import PacsContext, tr
from medview.view.qt_jobs import QtJobRunner

__all__ = ["QtPacsNodesDialog"]

_AUTH = ("none", "basic", "bearer")


def _tr(text: str) -> str:
    return tr("QtPacsNodesDialog", text)


def _start_listener(context: PacsContext, aet: str, port: int) -> StorageListener:
    return context.make_listener(aet, port).start()  # binds the port: off the GUI thread


def _stop_listener(listener: StorageListener) -> None:
    listener.stop()


class QtPacsNodesDialog(QDialog):
    """Add, edit, remove and test PACS nodes; configure and toggle the Storage SCP.

    Signals
    -------
    nodes_saved()
        The node list was written to the settings.
    tested(str)
        The one-line outcome of "Test connection".
    listener_changed(str)
        The Storage SCP's status line after a start or stop.
    """

    nodes_saved = Signal()
    tested = Signal(str)
    listener_changed = Signal(str)

    def __init__(self, context: PacsContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("PACS nodes"))
        self._context = context
        self._entries: list[NodeEntry] = load_entries(context.settings, context.secrets)
        self._current = -1
        self._tests = QtJobRunner(self)
        self._tests.finished.connect(self._on_tested)
        self._tests.failed.connect(self._on_tested)
        self._listener_jobs = QtJobRunner(self)
        self._listener_jobs.finished.connect(self._on_listener_done)
        self._listener_jobs.failed.connect(self._on_listener_failed)

        self.node_list = QListWidget()
        self.node_list.currentRowChanged.connect(self._on_row_changed)
        add, self.remove_button = QPushButton(_tr("&Add")), QPushButton(_tr("&Remove"))
        add.clicked.connect(self.add_node)
        self.remove_button.clicked.connect(self.remove_current)
        left = QVBoxLayout()
        left.addWidget(self.node_list, 1)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(self.remove_button)
        left.addLayout(row)

        self.form = QWidget()
        form = QFormLayout(self.form)
        self.name_edit = QLineEdit()
        self.ae_title_edit = QLineEdit()
        self.ae_title_edit.setMaxLength(16)
        self.host_edit = QLineEdit()
        self.port_edit = QSpinBox()
        self.port_edit.setRange(0, 65535)
        self.port_edit.setSpecialValueText(_tr("(none)"))
        self.calling_edit = QLineEdit()
        self.calling_edit.setMaxLength(16)
        self.calling_edit.setPlaceholderText(DEFAULT_CALLING_AET)
        self.timeout_edit = QDoubleSpinBox()
        self.timeout_edit.setRange(1.0, 3600.0)
        self.timeout_edit.setSuffix(" s")
        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("https://pacs.example.org/dicom-web")
        self.auth_combo = QComboBox()
        for key, label in zip(_AUTH, (_tr("None"), _tr("Basic (user + password)"),
                                      _tr("Bearer token")), strict=True):  # fmt: skip
            self.auth_combo.addItem(label, key)
        self.auth_combo.currentIndexChanged.connect(self._update_auth_fields)
        self.user_edit = QLineEdit()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember_box = QCheckBox(
            _tr("Remember credentials in the settings file (readable only by you)")
        )
        self.remember_box.setToolTip(
            _tr("Unticked, credentials are kept for this session only and forgotten on quit.")
        )
        self.test_button = QPushButton(_tr("&Test connection"))
        self.test_button.clicked.connect(self.test_current)
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(_tr("Name"), self.name_edit)
        form.addRow(_tr("PACS AE title"), self.ae_title_edit)
        form.addRow(_tr("Host"), self.host_edit)
        form.addRow(_tr("Port"), self.port_edit)
        form.addRow(_tr("medview's AE title"), self.calling_edit)
        form.addRow(_tr("Timeout"), self.timeout_edit)
        form.addRow(_tr("DICOMweb URL"), self.url_edit)
        form.addRow(_tr("Authentication"), self.auth_combo)
        form.addRow(_tr("Username"), self.user_edit)
        form.addRow(_tr("Password"), self.password_edit)
        form.addRow(_tr("Token"), self.token_edit)
        form.addRow("", self.remember_box)
        test_row = QHBoxLayout()  # spans both columns: the labels keep their width
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)
        form.addRow(test_row)
        self._form_layout = form

        nodes_box = QGroupBox(_tr("Remote nodes"))
        nodes_layout = QHBoxLayout(nodes_box)
        nodes_layout.addLayout(left, 1)
        nodes_layout.addWidget(self.form, 3)

        listener_box = QGroupBox(_tr("medview's Storage SCP (the C-MOVE destination)"))
        listener_layout = QHBoxLayout(listener_box)
        aet, port = listener_config(context.settings)
        self.listener_aet_edit = QLineEdit(aet)
        self.listener_aet_edit.setMaxLength(16)
        self.listener_port_edit = QSpinBox()
        self.listener_port_edit.setRange(1, 65535)
        self.listener_port_edit.setValue(port)
        self.listener_button = QPushButton()
        self.listener_button.clicked.connect(self.toggle_listener)
        self.listener_status = QLabel()
        listener_layout.addWidget(QLabel(_tr("AE title")))
        listener_layout.addWidget(self.listener_aet_edit)
        listener_layout.addWidget(QLabel(_tr("Port")))
        listener_layout.addWidget(self.listener_port_edit)
        listener_layout.addWidget(self.listener_button)
        listener_layout.addWidget(self.listener_status, 1)

        self.message = QLabel()
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).clicked.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons

        layout = QVBoxLayout(self)
        layout.addWidget(nodes_box, 1)
        layout.addWidget(listener_box)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

        for entry in self._entries:
            self.node_list.addItem(entry.name)
        self._show_listener_state()
        if self._entries:
            self.node_list.setCurrentRow(0)
        else:
            self._set_form_enabled(False)
        self.resize(760, 600)

    # -- nodes --------------------------------------------------------------------------------
    def add_node(self) -> None:
        """A new node (named ``pacs``, ``pacs2``…) selected for editing."""
        self._commit_form()
        names = {e.name for e in self._entries}
        name = next(
            f"pacs{i or ''}" for i in range(len(names) + 2) if f"pacs{i or ''}" not in names
        )
        self._entries.append(NodeEntry(name, {"calling_ae_title": DEFAULT_CALLING_AET}))
        self.node_list.addItem(name)
        self.node_list.setCurrentRow(len(self._entries) - 1)
        self.name_edit.setFocus()

    def remove_current(self) -> None:
        row = self.node_list.currentRow()
        if row < 0:
            return
        self._current = -1  # its form values are not written back
        self._context.secrets.forget(self._entries[row].name)
        del self._entries[row]
        self.node_list.takeItem(row)
        if not self._entries:
            self._set_form_enabled(False)

    def entries(self) -> list[NodeEntry]:
        """The nodes as edited so far (not yet saved)."""
        self._commit_form()
        return list(self._entries)

    def save(self) -> bool:
        """Validate every node and write them to the settings; False (and a line) if invalid."""
        try:
            save_entries(self._context.settings, self.entries(), self._context.secrets)
        except (MedviewError, OSError) as exc:
            self.message.setText(_tr("Not saved: {reason}").format(reason=exc))
            return False
        self.message.setText(_tr("Saved {count} node(s).").format(count=len(self._entries)))
        self.nodes_saved.emit()
        return True

    def test_current(self) -> None:
        """Check the node in the form (saved or not) on a worker; the outcome is one line."""
        self._commit_form()
        if self._current < 0:
            return
        try:
            node = self._entries[self._current].node()
        except MedviewError as exc:
            self._on_tested(str(exc))
            return
        self.test_button.setEnabled(False)
        self.test_result.setText(_tr("Testing {node}…").format(node=node.describe()))
        self._tests.submit(test_connection, node)

    def _on_tested(self, line: object) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(str(line))
        self.tested.emit(str(line))

    def _on_row_changed(self, row: int) -> None:
        self._commit_form()
        self._current = row
        if 0 <= row < len(self._entries):
            self._set_form_enabled(True)
            self._load_form(self._entries[row])
            self.test_result.clear()

    def _set_form_enabled(self, enabled: bool) -> None:
        self.form.setEnabled(enabled)
        self.remove_button.setEnabled(enabled)

    def _load_form(self, entry: NodeEntry) -> None:
        values = entry.values
        self.name_edit.setText(entry.name)
        self.ae_title_edit.setText(str(values.get("ae_title") or ""))
        self.host_edit.setText(str(values.get("host") or ""))
        try:
            self.port_edit.setValue(int(values.get("port") or 0))
        except (TypeError, ValueError):
            self.port_edit.setValue(0)
        self.calling_edit.setText(str(values.get("calling_ae_title") or ""))
        try:
            self.timeout_edit.setValue(float(values.get("timeout") or DEFAULT_TIMEOUT_S))
        except (TypeError, ValueError):
            self.timeout_edit.setValue(DEFAULT_TIMEOUT_S)
        self.url_edit.setText(str(values.get("base_url") or ""))
        auth = "bearer" if values.get("token") else "basic" if values.get("username") else "none"
        self.auth_combo.setCurrentIndex(_AUTH.index(auth))
        self.user_edit.setText(str(values.get("username") or ""))
        self.password_edit.setText(str(values.get("password") or ""))
        self.token_edit.setText(str(values.get("token") or ""))
        self.remember_box.setChecked(entry.remember)
        self._update_auth_fields()

    def _commit_form(self) -> None:
        """Write the form back into the current entry (validation happens on save/test)."""
        row = self._current
        if not 0 <= row < len(self._entries):
            return
        auth = self.auth_combo.currentData()
        name = self.name_edit.text().strip()
        values = {
            "ae_title": self.ae_title_edit.text().strip(),
            "host": self.host_edit.text().strip(),
            "port": self.port_edit.value() or "",
            "calling_ae_title": self.calling_edit.text().strip() or DEFAULT_CALLING_AET,
            "timeout": self.timeout_edit.value(),
            "base_url": self.url_edit.text().strip(),
            "username": self.user_edit.text().strip() if auth == "basic" else "",
            "password": self.password_edit.text() if auth == "basic" else "",
            "token": self.token_edit.text().strip() if auth == "bearer" else "",
        }
        entry = self._entries[row]
        if name != entry.name:
            self._context.secrets.forget(entry.name)
        self._entries[row] = NodeEntry(name, values, self.remember_box.isChecked())
        item = self.node_list.item(row)
        if item is not None and item.text() != name:
            item.setText(name)

    def _update_auth_fields(self) -> None:
        auth = self.auth_combo.currentData()
        for widget, shown in (
            (self.user_edit, auth == "basic"),
            (self.password_edit, auth == "basic"),
            (self.token_edit, auth == "bearer"),
            (self.remember_box, auth != "none"),
        ):
            widget.setVisible(shown)
            label = self._form_layout.labelForField(widget)
            if label is not None:
                label.setVisible(shown)

    # -- the Storage SCP ------------------------------------------------------------------------
    def toggle_listener(self) -> None:
        """Start the listener with the AE title and port shown (saved), or stop it."""
        self.listener_button.setEnabled(False)
        if self._context.listener_running():
            self._listener_jobs.submit(_stop_listener, self._context.listener)
            return
        try:
            aet, port = set_listener_config(
                self._context.settings,
                self.listener_aet_edit.text(),
                self.listener_port_edit.value(),
            )
        except (MedviewError, OSError) as exc:
            self._on_listener_failed(str(exc))
            return
        self.listener_status.setText(_tr("Starting…"))
        self._listener_jobs.submit(_start_listener, self._context, aet, port)

    def _on_listener_done(self, listener: object) -> None:
        self._context.listener = listener if isinstance(listener, StorageListener) else None
        self._show_listener_state()
        self.listener_changed.emit(self.listener_status.text())

    def _on_listener_failed(self, message: str) -> None:
        self._show_listener_state()
        self.listener_status.setText(message)
        self.listener_changed.emit(message)

    def _show_listener_state(self) -> None:
        running = self._context.listener_running()
        listener = self._context.listener
        self.listener_button.setEnabled(True)
        self.listener_button.setText(_tr("Stop") if running else _tr("Start"))
        for widget in (self.listener_aet_edit, self.listener_port_edit):
            widget.setEnabled(not running)
        if running and listener is not None:
            self.listener_status.setText(
                _tr("Listening as {aet} on port {port}").format(
                    aet=listener.ae_title, port=listener.port
                )
            )
        else:
            self.listener_status.setText(_tr("Stopped (a C-MOVE starts it for its retrieve)"))

    def done(self, result: int) -> None:
        # Late test results must not reach a closed dialog's labels.
        self._tests.invalidate()
        super().done(result)
