"""The report panel: the reader's review of the AI findings, measurements and text (issue 8).

Lists the AI findings with their review status (accepted / rejected / pending, edited, who
decided) and the reader's measurements of the series on screen; takes the reader's name, the
free-text findings and impression, the export formats and "Anonymise"; offers "Finalise
(sign)…" and "Export…". Only accepted findings and the reader's own measurements are
reported; rejected ones stay in the audit trail (the JSON lists them with their status).

The panel only shows and collects: the export itself runs on a worker in the app layer
(:mod:`medview.app.report_dock`), which calls :meth:`QtReportPanel.set_busy` and
:meth:`QtReportPanel.set_status`. A signature is tied to what was signed: any change of the
findings' decisions, the text or the reader's name afterwards withdraws it (sign again).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QCoreApplication, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.imaging.volume import Volume
from medview.model.measurements import MeasurementScene, SceneEvent
from medview.model.names import format_person_name
from medview.model.report_export import series_findings, series_measurements
from medview.model.review import FindingReview, ReviewedFinding, ReviewStatus
from medview.view.decision_buttons import decision_buttons, decision_of
from medview.view.measure_actors import ValueCache, kind_name

__all__ = ["FORMAT_LABELS", "QtReportPanel"]

#: Export formats (``medview.reports.export.FORMATS``) and their check box labels.
FORMAT_LABELS = {
    "sr": "DICOM SR",
    "seg": "DICOM SEG",
    "pm": "Parametric map",
    "pdf": "PDF",
    "json": "JSON",
}
_STATUS_COLOURS = {"accepted": "#2e9d4a", "rejected": "#d04040", "pending": "#a08020"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtReportPanel", text)


def _status_text(finding: ReviewedFinding) -> str:
    words = {
        ReviewStatus.ACCEPTED: _tr("accepted"),
        ReviewStatus.REJECTED: _tr("rejected"),
        ReviewStatus.PENDING: _tr("pending"),
    }
    text = words[finding.status]
    return _tr("{status}, edited").format(status=text) if finding.edited else text


class QtReportPanel(QWidget):
    """Review state, measurements, text and export controls of one report.

    Parameters
    ----------
    review
        The AI findings and the reader's decisions (shared with the AI panel).
    scene
        The reader's measurements (the MPR layout's scene).
    volume
        Returns the series on screen (its measurements are listed; None: none).
    decided_by
        The name of who decided about a finding (by id), from the audit trail.

    Signals
    -------
    export_requested()
        "Export…" was pressed.
    sign_requested()
        "Finalise (sign)…" was pressed (the app asks for confirmation).
    text_changed()
        The findings or impression text changed (for the draft keeper).
    reader_changed(str)
        The reader's name was edited.
    finding_selected(str)
        The reader picked a finding (its id): the views go there.
    """

    export_requested = Signal()
    #: "Send to PACS…" was pressed: the folder of the last export (issue 9).
    send_requested = Signal(str)
    sign_requested = Signal()
    text_changed = Signal()
    reader_changed = Signal(str)
    finding_selected = Signal(str)

    def __init__(
        self,
        review: FindingReview,
        scene: MeasurementScene,
        volume: Callable[[], Volume | None] = lambda: None,
        parent: QWidget | None = None,
        decided_by: Callable[[str], str] = lambda _finding_id: "",
    ) -> None:
        super().__init__(parent)
        self._decided_by = decided_by
        self._review = review
        self._scene = scene
        self._volume = volume
        self._values = ValueCache()
        self._finding_ids: list[str] = []
        self._signed: tuple[str, str] | None = None
        self._busy = False
        self._sent_folder = ""
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_findings_box(), 3)
        layout.addWidget(self._build_measurements_box(), 2)
        layout.addWidget(self._build_text_box(), 4)
        layout.addWidget(self._build_export_box())
        self._unsubscribe_review = review.subscribe(_weak(self, QtReportPanel._on_review_changed))
        self._unsubscribe_scene = scene.subscribe(_weak(self, QtReportPanel._on_scene_event))
        self.refresh()

    # -- public API ------------------------------------------------------------------------
    def refresh(self) -> None:
        """List the findings and measurements again (e.g. another series was opened)."""
        self._fill_findings()
        self._fill_measurements()

    def reader(self) -> str:
        return self._reader.text().strip()

    @property
    def reader_edit(self) -> QLineEdit:
        """The reader's name field (typing in it counts as the reader's change)."""
        return self._reader

    def set_reader(self, name: str) -> None:
        with QSignalBlocker(self._reader):
            self._reader.setText(name)

    def findings_text(self) -> str:
        return self._findings_text.toPlainText()

    def impression(self) -> str:
        return self._impression.toPlainText()

    def set_texts(self, findings_text: str, impression: str) -> None:
        """Put text in the fields without counting it as the reader's change."""
        for edit, text in ((self._findings_text, findings_text), (self._impression, impression)):
            with QSignalBlocker(edit):
                edit.setPlainText(text)

    def type_texts(self, findings_text: str, impression: str) -> None:
        """As if the reader typed them (text_changed is emitted; a signature is withdrawn)."""
        self._findings_text.setPlainText(findings_text)
        self._impression.setPlainText(impression)

    def formats(self) -> tuple[str, ...]:
        return tuple(name for name, box in self._format_boxes.items() if box.isChecked())

    def set_formats(self, formats: tuple[str, ...] | list[str]) -> None:
        for name, box in self._format_boxes.items():
            box.setChecked(name in formats)

    def anonymize(self) -> bool:
        return self._anonymize.isChecked()

    def set_anonymize(self, on: bool) -> None:
        self._anonymize.setChecked(on)

    @property
    def signed(self) -> tuple[str, str] | None:
        """(reader, ISO time) of the signature, None when the report is not signed."""
        return self._signed

    @property
    def signature_text(self) -> str:
        """The sentence saying whether (and by whom) the report is signed."""
        return self._signature.text()

    def set_signed(self, reader: str, at: str) -> None:
        self._signed = (reader, at)
        self._show_signature()

    def clear_signature(self) -> None:
        self._signed = None
        self._show_signature()

    def set_busy(self, busy: bool) -> None:
        """While an export runs: a busy bar, and no second export or change of the choices."""
        self._busy = busy
        self._busy_bar.setVisible(busy)
        self._send_button.setEnabled(not busy and bool(self._sent_folder))
        for widget in (
            self._export_button,
            self._sign_button,
            self._anonymize,
            *self._format_boxes.values(),
        ):
            widget.setEnabled(not busy)

    @property
    def busy(self) -> bool:
        """True from the start of an export until its result (or failure) is shown."""
        return self._busy

    def _on_send_clicked(self) -> None:
        if self._sent_folder:
            self.send_requested.emit(self._sent_folder)

    def set_exported_folder(self, folder: str) -> None:
        """The folder of the last successful export ("" : none), which "Send to PACS…" sends."""
        self._sent_folder = str(folder)
        self._send_button.setEnabled(bool(folder) and not self._busy)

    def set_status(self, text: str) -> None:
        """One sentence under the buttons (the result of the last export, or why not)."""
        self._status.setText(text)
        self._status.setToolTip(text)

    @property
    def status_text(self) -> str:
        return self._status.text()

    def finding_rows(self) -> list[tuple[str, ...]]:
        """(finding, score, status, decided by) per row, as shown."""
        table = self._findings
        return [
            tuple(table.item(row, column).text() for column in range(table.columnCount()))
            for row in range(table.rowCount())
        ]

    def measurement_rows(self) -> list[tuple[str, ...]]:
        """(kind, label, value) per row, as shown."""
        table = self._measurements
        return [
            tuple(table.item(row, column).text() for column in range(table.columnCount()))
            for row in range(table.rowCount())
        ]

    def select_finding(self, finding_id: str) -> None:
        if finding_id in self._finding_ids:
            self._findings.selectRow(self._finding_ids.index(finding_id))

    def _on_decision_button(self) -> None:
        self.set_decision(decision_of(self.sender(), "report-decision-"))

    def set_decision(self, decision: str) -> None:
        """Accept, reject or reset ("reset") the selected finding."""
        rows = {index.row() for index in self._findings.selectedIndexes()}
        if not rows:
            return
        finding_id = self._finding_ids[min(rows)]
        {"accept": self._review.accept, "reject": self._review.reject}.get(
            decision, self._review.reset
        )(finding_id)

    def shutdown(self) -> None:
        self._unsubscribe_review()
        self._unsubscribe_scene()

    # -- building --------------------------------------------------------------------------
    def _build_findings_box(self) -> QGroupBox:
        box = QGroupBox(_tr("AI findings"), self)
        layout = QVBoxLayout(box)
        self._findings = QTableWidget(0, 4, box)
        self._findings.setHorizontalHeaderLabels(
            [_tr("Finding"), _tr("Score"), _tr("Status"), _tr("Decided by")]
        )
        _table_style(self._findings, stretch=0)
        self._findings.itemSelectionChanged.connect(self._on_finding_selected)
        layout.addWidget(self._findings)
        labels = (_tr("Accept"), _tr("Reject"), _tr("Undecided"))
        layout.addLayout(
            decision_buttons(box, labels, "report-decision-", self._on_decision_button)
        )
        self._counts = QLabel(box)
        self._counts.setWordWrap(True)
        layout.addWidget(self._counts)
        return box

    def _build_measurements_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Your measurements"), self)
        layout = QVBoxLayout(box)
        self._measurements = QTableWidget(0, 3, box)
        self._measurements.setHorizontalHeaderLabels([_tr("Kind"), _tr("Label"), _tr("Value")])
        _table_style(self._measurements, stretch=2)
        layout.addWidget(self._measurements)
        return box

    def _build_text_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Report"), self)
        form = QFormLayout(box)
        self._reader = QLineEdit(box)
        self._reader.setPlaceholderText(_tr("Family^Given"))
        self._reader.setToolTip(_tr("The reader who decides and signs (DICOM name: Family^Given)"))
        self._reader.textEdited.connect(self._on_reader_edited)
        form.addRow(_tr("Reader"), self._reader)
        self._findings_text = QPlainTextEdit(box)
        self._findings_text.setPlaceholderText(_tr("Findings in your words"))
        self._impression = QPlainTextEdit(box)
        self._impression.setPlaceholderText(_tr("Impression"))
        for edit in (self._findings_text, self._impression):
            edit.setTabChangesFocus(True)
            edit.setMinimumHeight(60)
            edit.textChanged.connect(self._on_text_changed)
        form.addRow(_tr("Findings"), self._findings_text)
        form.addRow(_tr("Impression"), self._impression)
        return box

    def _build_export_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Sign and export"), self)
        layout = QVBoxLayout(box)
        formats = QHBoxLayout()
        self._format_boxes: dict[str, QCheckBox] = {}
        for name, label in FORMAT_LABELS.items():
            check = QCheckBox(_tr(label), box)
            check.setObjectName(f"format-{name}")
            check.setChecked(True)
            formats.addWidget(check)
            self._format_boxes[name] = check
        formats.addStretch(1)
        layout.addLayout(formats)
        self._format_boxes["pm"].setToolTip(
            _tr("One map per accepted finding that an explanation plugin explained")
        )
        self._anonymize = QCheckBox(_tr("Anonymise (DICOM PS3.15 Annex E)"), box)
        layout.addWidget(self._anonymize)
        self._signature = QLabel(box)
        self._signature.setWordWrap(True)
        layout.addWidget(self._signature)
        buttons = QHBoxLayout()
        self._sign_button = QPushButton(_tr("Finalise (sign)…"), box)
        self._sign_button.clicked.connect(self.sign_requested)
        self._export_button = QPushButton(_tr("Export…"), box)
        self._export_button.setDefault(True)
        self._export_button.clicked.connect(self.export_requested)
        # Issue 9, "send to PACS on reports": the exported folder goes to the send dialog.
        self._send_button = QPushButton(_tr("Send to PACS…"), box)
        self._send_button.setObjectName("send-report")
        self._send_button.setEnabled(False)  # until an export succeeded
        self._send_button.clicked.connect(self._on_send_clicked)  # a bound slot: no leak
        buttons.addWidget(self._sign_button)
        buttons.addWidget(self._export_button)
        buttons.addWidget(self._send_button)
        layout.addLayout(buttons)
        self._busy_bar = QProgressBar(box)
        self._busy_bar.setRange(0, 0)  # busy: export_report reports steps, not fractions
        self._busy_bar.setVisible(False)
        layout.addWidget(self._busy_bar)
        self._status = QLabel(box)
        self._status.setWordWrap(True)
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self._status)
        self._show_signature()
        return box

    # -- content ---------------------------------------------------------------------------
    def _fill_findings(self) -> None:
        findings = series_findings(self._review, self._volume())
        selected = {index.row() for index in self._findings.selectedIndexes()}
        keep = self._finding_ids[min(selected)] if selected else None
        self._finding_ids = [f.id for f in findings]
        with QSignalBlocker(self._findings):
            self._findings.setRowCount(len(findings))
            for row, finding in enumerate(findings):
                decided = finding.status is not ReviewStatus.PENDING
                who = format_person_name(self._decided_by(finding.id)) if decided else ""
                cells = (finding.label, f"{finding.finding.score:.2f}", _status_text(finding), who)
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
                    if column == 2:
                        item.setForeground(QBrush(QColor(_STATUS_COLOURS[finding.status.value])))
                        if finding.reviewed_at:
                            item.setToolTip(finding.reviewed_at)
                    self._findings.setItem(row, column, item)
            if keep in self._finding_ids:
                self._findings.selectRow(self._finding_ids.index(keep))
        counts = {status.value: 0 for status in ReviewStatus}
        for finding in findings:
            counts[finding.status.value] += 1
        text = _tr("{accepted} accepted (reported), {rejected} rejected, {pending} pending")
        self._counts.setText(text.format(**counts))

    def _fill_measurements(self) -> None:
        volume = self._volume()
        items = series_measurements(self._scene.items(), volume) if volume is not None else []
        with QSignalBlocker(self._measurements):
            self._measurements.setRowCount(len(items))
            for row, m in enumerate(items):
                cells = (kind_name(m), m.label, self._values.text(m, volume))
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
                    self._measurements.setItem(row, column, item)

    def _show_signature(self) -> None:
        if self._signed is None:
            self._signature.setText(_tr("Not signed: the SR is exported as UNVERIFIED."))
        else:
            who, at = self._signed
            self._signature.setText(
                _tr("Signed by {reader} at {time}: the SR is exported as VERIFIED.").format(
                    reader=format_person_name(who), time=at
                )
            )

    def _withdraw_signature(self) -> None:
        if self._signed is not None:
            self.clear_signature()
            self.set_status(_tr("The report changed after it was signed; sign it again."))

    # -- events ----------------------------------------------------------------------------
    def _on_review_changed(self, _finding_id: str) -> None:
        self._fill_findings()
        self._withdraw_signature()

    def _on_scene_event(self, event: SceneEvent) -> None:
        if event.kind != "selected":
            self._fill_measurements()

    def _on_text_changed(self) -> None:
        self._withdraw_signature()
        self.text_changed.emit()

    def _on_reader_edited(self, text: str) -> None:
        self._withdraw_signature()
        self.reader_changed.emit(text.strip())

    def _on_finding_selected(self) -> None:
        rows = {index.row() for index in self._findings.selectedIndexes()}
        if rows:
            self.finding_selected.emit(self._finding_ids[min(rows)])


def _table_style(table: QTableWidget, stretch: int) -> None:
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)


def _weak(panel: QtReportPanel, method: Callable[..., None]) -> Callable[..., None]:
    """A listener for Qt-free models that outlive the panel: calls ``method`` while it lives."""
    reference = weakref.ref(panel)

    def listener(*args: object) -> None:
        target = reference()
        if target is not None and shiboken6.isValid(target):
            method(target, *args)

    return listener
