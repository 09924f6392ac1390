"""File › Send to PACS…: send a folder of DICOM files or the series on screen (issue 9).

The source is a folder (e.g. an exported report: SR, SEG, PDF) or the series shown in the
viewer (its files from the study database, e.g. a derived series saved by the AI panel).
Sending runs on a worker (C-STORE, or STOW-RS for a DICOMweb node) with a progress bar and
Cancel; the outcome is one line naming the node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from medview.core.errors import Cancelled, MedviewError
from medview.model.pacs_ops import send
from medview.net.cancel import CancelToken
from medview.net.nodes import Node
from medview.view.pacs_common import PacsContext, fill_node_combo, tr
from medview.view.qt_jobs import QtJobRunner

__all__ = ["QtPacsSendDialog"]

#: Returns (description, SeriesInstanceUID) of the series on screen, or None.
CurrentSeries = Callable[[], "tuple[str, str] | None"]
#: The files of a series from the study database (called on the worker thread).
SeriesFiles = Callable[[str], list[str]]


def _tr(text: str) -> str:
    return tr("QtPacsSendDialog", text)


def _send_work(
    node: Node,
    paths: list[str],
    series: tuple[str, SeriesFiles] | None,
    use_web: bool,
    token: CancelToken,
    partial,
):
    """Worker thread: the StoreSummary, or "cancelled"."""
    if series is not None:
        series_uid, series_files = series
        paths = series_files(series_uid)
        if not paths:
            raise MedviewError(
                f"series {series_uid} has no files in the study database; save it as DICOM "
                "first (AI panel › Save as DICOM…)"
            )
    try:
        return send(
            node, paths, use_web=use_web, cancel=token,
            progress=lambda done, total: partial((done, total)),
        )  # fmt: skip
    except Cancelled:
        return "cancelled"


class QtPacsSendDialog(QDialog):
    """Pick a node and what to send; send it on a worker with progress and Cancel.

    Parameters
    ----------
    context
        The shared PACS state (nodes).
    current_series
        Gives the series on screen as (description, UID); None: that choice is disabled.
    series_files
        The files of a series from the study database (run on the worker).

    Signals
    -------
    send_finished(str)
        The one-line outcome.
    """

    send_finished = Signal(str)

    def __init__(
        self,
        context: PacsContext,
        current_series: CurrentSeries | None = None,
        series_files: SeriesFiles | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("Send to PACS"))
        self._context = context
        self._current_series = current_series if series_files is not None else None
        self._series_files = series_files
        self._token: CancelToken | None = None
        self._nodes: dict[str, Node] = {}
        self._jobs = QtJobRunner(self)
        self._jobs.partial.connect(self._on_progress)
        self._jobs.finished.connect(self._on_sent)
        self._jobs.failed.connect(self._on_failed)

        self.node_combo = QComboBox()
        self.node_combo.currentIndexChanged.connect(self._on_node_changed)
        self.protocol_combo = QComboBox()
        self.folder_choice = QRadioButton(_tr("A folder of DICOM files"))
        self.series_choice = QRadioButton(_tr("The series on screen"))
        group = QButtonGroup(self)
        group.addButton(self.folder_choice)
        group.addButton(self.series_choice)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText(_tr("e.g. an exported report folder"))
        browse = QPushButton(_tr("&Browse…"))
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.series_label = QLabel()
        self.send_button = QPushButton(_tr("&Send"))
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.start_send)
        self.cancel_button = QPushButton(_tr("&Cancel send"))
        self.cancel_button.clicked.connect(self.cancel_send)
        self.progress = QProgressBar()
        self.status = QLabel()
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow(_tr("Node"), self.node_combo)
        form.addRow(_tr("Send by"), self.protocol_combo)
        form.addRow(self.folder_choice, folder_row)
        form.addRow(self.series_choice, self.series_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

        self.folder_choice.setChecked(True)
        self.reload()
        self.resize(640, 240)

    def reload(self) -> None:
        """Re-read the nodes and the series on screen."""
        nodes, problems = self._context.nodes()
        self._nodes = nodes
        fill_node_combo(self.node_combo, nodes, self.node_combo.currentData() or "")
        self._on_node_changed()
        current = self._current_series() if self._current_series else None
        self.series_choice.setEnabled(current is not None)
        self.series_label.setText(current[0] if current else _tr("(no series on screen)"))
        if not nodes:
            self.status.setText(
                problems[0] if problems else _tr("No PACS node yet: add one in File › PACS nodes…")
            )
        self._update_buttons()

    @property
    def is_sending(self) -> bool:
        return self._token is not None

    def set_folder(self, folder: str | Path) -> None:
        self.folder_edit.setText(str(folder))
        self.folder_choice.setChecked(True)

    def start_send(self) -> None:
        node = self._nodes.get(self.node_combo.currentData() or "")
        if node is None or self.is_sending:
            return
        if self.series_choice.isChecked():
            current = self._current_series() if self._current_series else None
            if current is None:
                self.status.setText(_tr("There is no series on screen to send."))
                return
            paths, series = [], (current[1], self._series_files)
        else:
            folder = Path(self.folder_edit.text().strip())
            if not self.folder_edit.text().strip() or not folder.is_dir():
                self.status.setText(
                    _tr("{folder}: not a folder; choose the folder to send.").format(
                        folder=self.folder_edit.text().strip() or _tr("(empty)")
                    )
                )
                return
            paths, series = [str(folder)], None
        self._token = CancelToken()
        self.progress.setRange(0, 0)
        self.status.setText(_tr("Sending to {node}…").format(node=node.describe()))
        self._update_buttons()
        use_web = self.protocol_combo.currentText() == "STOW-RS"
        self._jobs.submit(_send_work, node, paths, series, use_web, self._token, partial=True)

    def cancel_send(self) -> None:
        if self._token is not None:
            self.cancel_button.setEnabled(False)
            self._token.cancel()  # the worker stops before the next file

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _tr("Folder to send"))
        if folder:
            self.set_folder(folder)

    def _on_progress(self, payload: object) -> None:
        done, total = payload  # type: ignore[misc]
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))

    def _on_sent(self, summary: object) -> None:
        node = self.node_combo.currentText()
        if summary == "cancelled":
            line = _tr("Sending to {node} was cancelled; the files sent before stay there.")
            self._finish(line.format(node=node))
            return
        failed, skipped = summary.failed, summary.skipped  # type: ignore[attr-defined]
        line = _tr("Sent {sent} file(s) to {node}; {failed} failed, {skipped} non-DICOM skipped.")
        line = line.format(
            sent=summary.sent,  # type: ignore[attr-defined]
            node=node,
            failed=len(failed),
            skipped=len(skipped),
        )
        if failed:
            path, reason = failed[0]
            line += " " + _tr("First failure: {file}: {reason}.").format(
                file=Path(path).name, reason=reason
            )
        self._finish(line)

    def _on_failed(self, message: str) -> None:
        self._finish(message)

    def _finish(self, line: str) -> None:
        self._token = None
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.status.setText(line)
        self._update_buttons()
        self.send_finished.emit(line)

    def _on_node_changed(self, *_args: object) -> None:
        node = self._nodes.get(self.node_combo.currentData() or "")
        self.protocol_combo.clear()
        if node is not None:
            self.protocol_combo.addItems(
                (["C-STORE"] if node.has_dimse else []) + (["STOW-RS"] if node.has_dicomweb else [])
            )
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.is_sending
        has_node = bool(self._nodes) and self.node_combo.count() > 0
        self.send_button.setEnabled(has_node and not busy)
        self.cancel_button.setEnabled(busy)
        self.node_combo.setEnabled(not busy)

    def done(self, result: int) -> None:
        self.cancel_send()
        super().done(result)
