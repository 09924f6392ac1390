"""The AI panel: run plugins on the series on screen, follow the jobs, review the findings.

Issue 4, "UI (AI panel)". Plugins are listed with their availability (an unavailable one says
why); the parameter form is generated from the manifest; Run submits to the Qt-free
:class:`~medview.ai.runner.Runner` and returns at once. The job table shows state, a progress
bar, elapsed time and a Cancel button; findings of finished jobs are listed for review
(accept, reject, move to the crosshair, relabel), clicking one takes every view there;
overlays get a colour map, opacity, threshold and sign mode, and a saliency overlay follows
the selected finding and method (issue 7); derived volumes open as a new series.
All runner callbacks arrive through :class:`~medview.view.qt_ai.QtAiBridge` on this thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.ai.api import Overlay, Result
from medview.ai.jobs import FINAL, Job, JobState
from medview.ai.runner import Runner
from medview.core.errors import MedviewError
from medview.imaging.volume import Volume
from medview.model.overlay_display import threshold_value
from medview.model.review import FindingReview, ReviewedFinding
from medview.view.decision_buttons import decision_buttons, decision_of
from medview.view.finding_markers import Marker
from medview.view.overlay_layer import COLOUR_MAPS, OverlayStyle
from medview.view.param_form import QtParamForm
from medview.view.qt_ai import QtAiBridge
from medview.view.saliency_controls import QtSaliencyControls

DEVICES = ("auto", "cpu", "cuda", "mps")
_JOB_COLUMNS = ("Plugin", "State", "Progress", "Time", "")
_FINDING_COLUMNS = ("Label", "Score", "Size mm", "Review")


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtAiPanel", text)


def _disclaimer(parent: QWidget, name: str) -> QLabel:
    """Under the findings, between them and the overlays (issue 11 AI3); each plugin's own
    intended use is shown with the plugin above and goes into every report."""
    text = _tr("AI results are proposals for a qualified reader to review: not for diagnostic use.")
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #e0a030; font-style: italic;")  # visible on both themes
    return label


def finding_diameter(finding: ReviewedFinding) -> float:
    """The diameter shown and drawn: the plugin's measurement, else the mean box size."""
    measured = finding.finding.measurements.get("diameter_mm")
    if measured and not finding.edits.get("size_mm"):
        return float(measured)
    return float(sum(finding.size_mm) / 3.0)


class QtAiPanel(QWidget):
    """Plugins, jobs and findings of the series on screen.

    Parameters
    ----------
    runner
        The job runner (owns the plugin registry).
    review
        Where the findings and the radiologist's decisions are kept.
    current_volume
        Returns the series on screen (None: nothing to run on).

    Signals
    -------
    finding_activated(object)
        LPS centre of the finding the user clicked.
    findings_changed(object)
        The list of :class:`~medview.view.finding_markers.Marker` to draw, and the selection.
    overlay_changed(object, object)
        The overlay Volume (or None) and its :class:`OverlayStyle`.
    open_volume(object)
        A derived Volume the user asked to open as a series.
    save_volume(object)
        A derived Volume the user asked to save as a DICOM series
        (:meth:`derived_source` gives the series it was computed from).
    """

    finding_activated = Signal(object)
    findings_changed = Signal(object, object)
    overlay_changed = Signal(object, object)
    open_volume = Signal(object)
    save_volume = Signal(object)

    def __init__(
        self,
        runner: Runner,
        review: FindingReview,
        current_volume: Callable[[], Volume | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._review = review
        self._current_volume = current_volume
        self._jobs: list[Job] = []
        self._bars: dict[str, QProgressBar] = {}
        self._overlays: list[tuple[str, Overlay]] = []
        # (label, derived volume, the job's input volume: the original it came from)
        self._derived: list[tuple[str, Volume, Volume]] = []
        self._finding_ids: list[str] = []
        self._imported: dict[str, str] = {}  # job id -> title of a re-imported SR/SEG
        self._bridge = QtAiBridge(self)
        self._bridge.state_changed.connect(self._on_job_changed)
        self._bridge.progress.connect(self._on_progress)
        self._bridge.finished.connect(self._on_finished)
        runner.add_listener(self._bridge)
        self._unsubscribe = review.subscribe(self._on_review_changed)

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_run_box())
        layout.addWidget(self._build_jobs_box(), 1)
        layout.addWidget(self._build_findings_box(), 2)
        layout.addWidget(self._build_overlay_box())
        self._clock = QTimer(self)  # elapsed times of running jobs
        self._clock.setInterval(500)
        self._clock.timeout.connect(self._update_times)
        self.refresh_plugins()

    # -- public API ------------------------------------------------------------------------
    @property
    def review(self) -> FindingReview:
        return self._review

    @property
    def jobs(self) -> list[Job]:
        return list(self._jobs)

    @property
    def param_form(self) -> QtParamForm:
        return self._form

    @property
    def status_text(self) -> str:
        return self._status.text()

    def refresh_plugins(self) -> None:
        """List the plugins again (e.g. after a folder was dropped into the user folder)."""
        current = self._plugins.currentData()
        self._plugins.blockSignals(True)
        self._plugins.clear()
        model = self._plugins.model()
        for info in self._runner.registry.plugins():
            text = info.name or info.id
            if not info.available:
                text = _tr("{name} (unavailable)").format(name=text)
            self._plugins.addItem(text, info.id)
            index = self._plugins.count() - 1
            self._plugins.setItemData(index, info.reason or info.id, Qt.ItemDataRole.ToolTipRole)
            if not info.available:
                model.item(index).setEnabled(False)
        self._plugins.blockSignals(False)
        found = self._plugins.findData(current)
        first_available = next(
            (i for i in range(self._plugins.count()) if model.item(i).isEnabled()), 0
        )
        self._plugins.setCurrentIndex(found if found >= 0 else first_available)
        self._on_plugin_chosen()

    def select_plugin(self, plugin_id: str) -> None:
        self._plugins.setCurrentIndex(self._plugins.findData(plugin_id))

    def run(self) -> Job | None:
        """Run the chosen plugin on the series on screen; None (and a sentence) if refused."""
        volume = self._current_volume()
        plugin_id = self._plugins.currentData()
        if volume is None or not plugin_id:
            self._status.setText(_tr("Open a series first."))
            return None
        try:
            job = self._runner.submit(
                plugin_id, volume, self._form.values(), device=self._device.currentText()
            )
        except MedviewError as err:
            self._status.setText(str(err))
            return None
        self._add_job_row(job)
        self._status.setText(_tr("Started {plugin}.").format(plugin=job.manifest.name))
        return job

    def cancel(self, job: Job) -> None:
        job.cancel()

    def set_status(self, text: str) -> None:
        """One sentence under the Run button."""
        self._status.setText(text)

    def republish(self) -> None:
        """Emit the findings and the overlay again (the views were cleared)."""
        self._emit_findings()

    def add_imported(self, title: str, result: Result) -> None:
        """Findings and masks read back from a report (SR/SEG, issue 8) as a job ``title``.

        The findings join the review (pending, like a job's); the overlays join the list.
        """
        if result.provenance is None or result.provenance.job_id in self._imported:
            return
        self._imported[result.provenance.job_id] = title
        self._imported_label.setText("\n".join(self._imported.values()))
        self._imported_label.setVisible(True)
        for overlay in result.overlays:
            self._overlays.append((f"{title}: {overlay.name}", overlay))
            self._overlay_choice.addItem(self._overlays[-1][0])
        if result.findings:
            self._review.add_result(result)

    def imported_titles(self) -> list[str]:
        return list(self._imported.values())

    def select_finding(self, finding_id: str) -> None:
        """Select a finding in the table (which moves the views there)."""
        if finding_id in self._finding_ids:
            self._findings.selectRow(self._finding_ids.index(finding_id))

    def selected_finding(self) -> str | None:
        rows = {index.row() for index in self._findings.selectedIndexes()}
        return self._finding_ids[min(rows)] if rows else None

    def _on_decision_button(self) -> None:
        self.set_decision(decision_of(self.sender(), "decision-"))

    def set_decision(self, decision: str) -> None:
        """Accept, reject or reset the selected finding."""
        finding_id = self.selected_finding()
        if finding_id is None:
            return
        if decision == "accept":
            self._review.accept(finding_id)
        elif decision == "reject":
            self._review.reject(finding_id)
        else:
            self._review.reset(finding_id)

    def move_selected_to(self, lps) -> None:
        """Edit: the selected finding's centre is where the reader put the crosshair."""
        finding_id = self.selected_finding()
        if finding_id is not None:
            self._review.edit(finding_id, center_lps_mm=tuple(float(v) for v in lps))

    def overlay_names(self) -> list[str]:
        return [name for name, _ in self._overlays]

    def show_overlay(self, index: int) -> None:
        self._overlay_choice.setCurrentIndex(index + 1)  # entry 0 is "None"

    @property
    def saliency(self) -> QtSaliencyControls:
        """Sign mode and saliency method controls (issue 7)."""
        return self._saliency

    def shown_overlay(self) -> int:
        """Row of the overlay shown (in :meth:`overlay_names`), -1 for none."""
        return self._overlay_choice.currentIndex() - 1

    def overlay_style(self) -> OverlayStyle:
        overlay = self._chosen_overlay()
        value_range = overlay.value_range if overlay is not None else (0.0, 1.0)
        sign = self._saliency.sign()
        return OverlayStyle(
            colour_map=self._colour_map.currentText(),
            opacity=self._opacity.value() / 100.0,
            threshold=threshold_value(value_range, sign, self._threshold.value() / 100.0),
            value_range=value_range,
            sign=sign,
        )

    def set_overlay_controls(self, opacity: float, threshold_fraction: float) -> None:
        self._opacity.setValue(round(opacity * 100))
        self._threshold.setValue(round(threshold_fraction * 100))

    def derived_source(self, volume: Volume) -> Volume | None:
        """The series a derived volume was computed from (the job's input), if listed here."""
        return next((source for _, v, source in self._derived if v is volume), None)

    def shutdown(self) -> None:
        """Cancel what runs (the window closes); the runner is the owner's to shut down."""
        self._clock.stop()
        self._unsubscribe()
        for job in self._jobs:
            if job.state not in FINAL:
                job.cancel()

    # -- building --------------------------------------------------------------------------
    def _build_run_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Run a plugin"), self)
        form = QFormLayout(box)
        self._plugins = QComboBox(box)
        self._plugins.currentIndexChanged.connect(self._on_plugin_chosen)
        form.addRow(_tr("Plugin"), self._plugins)
        self._about = QLabel(box)
        self._about.setWordWrap(True)
        form.addRow(self._about)
        self._form = QtParamForm((), box)
        form.addRow(self._form)
        self._device = QComboBox(box)
        self._device.addItems(list(DEVICES))
        # The settings' default (ai_device); a choice here applies to the next job only.
        if self._runner.default_device in DEVICES:
            self._device.setCurrentText(self._runner.default_device)
        form.addRow(_tr("Device"), self._device)
        self._run_button = QPushButton(_tr("Run on this series"), box)
        self._run_button.clicked.connect(self.run)
        form.addRow(self._run_button)
        self._status = QLabel(box)
        self._status.setWordWrap(True)
        form.addRow(self._status)
        return box

    def _build_jobs_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Jobs"), self)
        layout = QVBoxLayout(box)
        self._table = QTableWidget(0, len(_JOB_COLUMNS), box)
        self._table.setHorizontalHeaderLabels([_tr(c) for c in _JOB_COLUMNS])
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.verticalHeader().hide()
        self._table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self._table)
        return box

    def _build_findings_box(self) -> QGroupBox:
        box = QGroupBox(_tr("Findings"), self)
        layout = QVBoxLayout(box)
        self._findings = QTableWidget(0, len(_FINDING_COLUMNS), box)
        self._findings.setHorizontalHeaderLabels([_tr(c) for c in _FINDING_COLUMNS])
        self._findings.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._findings.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._findings.verticalHeader().hide()
        self._findings.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._findings.itemSelectionChanged.connect(self._on_finding_selected)
        self._findings.itemChanged.connect(self._on_finding_edited)
        self._imported_label = QLabel(box)  # titles of re-imported reports (issue 8)
        self._imported_label.setWordWrap(True)
        self._imported_label.setVisible(False)
        layout.addWidget(self._imported_label)
        layout.addWidget(self._findings)
        labels = (_tr("Accept"), _tr("Reject"), _tr("Undecided"))
        layout.addLayout(decision_buttons(box, labels, "decision-", self._on_decision_button))
        self._counts = QLabel(box)
        layout.addWidget(self._counts)
        layout.addWidget(_disclaimer(box, "findings-disclaimer"))
        return box

    def _build_overlay_box(self) -> QGroupBox:
        box = self._overlay_box = QGroupBox(_tr("Overlays and derived series"), self)
        form = QFormLayout(box)
        self._overlay_choice = QComboBox(box)
        self._overlay_choice.addItem(_tr("None"))
        self._overlay_choice.currentIndexChanged.connect(self._emit_overlay)
        form.addRow(_tr("Overlay"), self._overlay_choice)
        self._colour_map = QComboBox(box)
        self._colour_map.addItems(list(COLOUR_MAPS))
        self._colour_map.currentIndexChanged.connect(self._emit_overlay)
        form.addRow(_tr("Colour map"), self._colour_map)
        self._opacity = QSlider(Qt.Orientation.Horizontal, box)
        self._opacity.setRange(0, 100)
        self._opacity.setValue(50)
        self._opacity.valueChanged.connect(self._emit_overlay)
        form.addRow(_tr("Opacity"), self._opacity)
        self._threshold = QSlider(Qt.Orientation.Horizontal, box)
        self._threshold.setRange(0, 100)
        self._threshold.setValue(50)
        self._threshold.valueChanged.connect(self._emit_overlay)
        form.addRow(_tr("Threshold"), self._threshold)
        self._saliency = QtSaliencyControls(box)
        self._saliency.sign_changed.connect(self._emit_overlay)
        self._saliency.method_changed.connect(self._follow_saliency)
        form.addRow(_tr("Show"), self._saliency.sign_combo)
        form.addRow(_tr("Method"), self._saliency.method_combo)
        form.setRowVisible(self._saliency.method_combo, False)  # until a saliency result
        self._derived_choice = QComboBox(box)
        open_button = QPushButton(_tr("Open as a series"), box)
        open_button.clicked.connect(self._on_open_derived)
        self._save_button = QPushButton(_tr("Save as DICOM…"), box)
        self._save_button.setEnabled(False)  # until a job returns a derived volume
        self._save_button.clicked.connect(self._on_save_derived)
        row = QHBoxLayout()
        row.addWidget(self._derived_choice, 1)
        row.addWidget(open_button)
        row.addWidget(self._save_button)
        form.addRow(_tr("Derived"), row)
        return box

    # -- plugin choice ---------------------------------------------------------------------
    def _on_plugin_chosen(self) -> None:
        plugin_id = self._plugins.currentData()
        info = None
        if plugin_id:
            try:
                info = self._runner.registry.get(plugin_id)
            except MedviewError:
                info = None
        manifest = info.manifest if info is not None else None
        self._form.set_specs(manifest.parameters if manifest is not None else ())
        if info is None or manifest is None:
            self._about.setText(info.reason if info is not None else "")
            self._run_button.setEnabled(False)
            return
        lines = [manifest.description] if manifest.description else []
        if manifest.not_for_diagnostic_use:
            lines.append(_tr("Research and decision support only: not for diagnostic use."))
        if not info.available:
            lines.append(_tr("Unavailable: {reason}").format(reason=info.reason))
        self._about.setText("\n".join(lines))
        self._run_button.setEnabled(info.available)

    # -- jobs ------------------------------------------------------------------------------
    def _add_job_row(self, job: Job) -> None:
        self._jobs.append(job)
        row = self._table.rowCount()
        self._table.insertRow(row)
        self._table.setItem(row, 0, QTableWidgetItem(job.manifest.name or job.plugin_id))
        self._table.setItem(row, 1, QTableWidgetItem(_tr(job.state.value)))
        bar = QProgressBar(self._table)
        bar.setRange(0, 1000)
        self._table.setCellWidget(row, 2, bar)
        self._bars[job.id] = bar
        self._table.setItem(row, 3, QTableWidgetItem("0 s"))
        cancel = QPushButton(_tr("Cancel"), self._table)
        cancel.setObjectName(f"cancel-{job.id}")
        cancel.clicked.connect(self._on_cancel_button)
        self._table.setCellWidget(row, 4, cancel)
        self._clock.start()
        self._on_job_changed(job)

    def _row_of(self, job: Job) -> int:
        return next((i for i, j in enumerate(self._jobs) if j.id == job.id), -1)

    def _on_job_changed(self, job: Job) -> None:
        row = self._row_of(job)
        if row < 0:
            return
        text = _tr(job.state.value)
        if job.state in FINAL and job.error:
            text = f"{text}: {job.error}"
        item = self._table.item(row, 1)
        item.setText(text)
        item.setToolTip(text)
        if job.state in FINAL:
            button = self._table.cellWidget(row, 4)
            if button is not None:
                button.setEnabled(False)

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        bar = self._bars.get(job.id)
        if bar is not None:
            bar.setValue(round(fraction * 1000))
            bar.setFormat(f"{fraction:.0%} {message}".strip())
            bar.setTextVisible(True)

    def _on_finished(self, job: Job) -> None:
        self._on_job_changed(job)
        bar = self._bars.get(job.id)
        if bar is not None and job.state == JobState.SUCCEEDED:
            bar.setValue(1000)
        self._update_times()
        if job.state == JobState.SUCCEEDED and job.result is not None:
            result = job.result
            if result.findings:
                self._review.add_result(result)
            first = len(self._overlays)
            for overlay in result.overlays:
                label = f"{job.manifest.name}: {overlay.name}"
                self._overlays.append((label, overlay))
                self._overlay_choice.addItem(label)
                if overlay.description:
                    self._overlay_choice.setItemData(
                        self._overlay_choice.count() - 1,
                        overlay.description,
                        Qt.ItemDataRole.ToolTipRole,
                    )
            keys = range(first, len(self._overlays))
            if self._saliency.add_result(job.id, result, keys):
                self._overlay_box.layout().setRowVisible(self._saliency.method_combo, True)
                self._follow_saliency()
            for volume in result.volumes:
                label = f"{job.manifest.name}: {volume.meta.series_description or 'derived'}"
                self._derived.append((label, volume, job.volume))
                self._derived_choice.addItem(label)
                self._save_button.setEnabled(True)
            self._status.setText(
                _tr("{plugin}: {count} finding(s) in {seconds:.1f} s on {device}.").format(
                    plugin=job.manifest.name,
                    count=len(result.findings),
                    seconds=job.provenance.seconds if job.provenance else 0.0,
                    device=job.device,
                )
            )
        elif job.state in FINAL:
            self._status.setText(f"{job.manifest.name}: {job.error or _tr(job.state.value)}")

    def _update_times(self) -> None:
        running = False
        for row, job in enumerate(self._jobs):
            if job.started_at is None:
                continue
            if job.state in FINAL and job.provenance is not None:
                seconds = job.provenance.seconds
            else:
                seconds = time.time() - job.started_at
            self._table.item(row, 3).setText(f"{seconds:.1f} s")
            running = running or job.state not in FINAL
        if not running:
            self._clock.stop()

    def _on_cancel_button(self) -> None:
        name = self.sender().objectName().removeprefix("cancel-")
        for job in self._jobs:
            if job.id == name:
                self.cancel(job)

    # -- findings --------------------------------------------------------------------------
    def _on_review_changed(self, _finding_id: str) -> None:
        selected = self.selected_finding()
        findings = list(self._review)
        self._finding_ids = [f.id for f in findings]
        self._findings.blockSignals(True)
        self._findings.setRowCount(len(findings))
        for row, finding in enumerate(findings):
            size = finding_diameter(finding)
            cells = (
                finding.label,
                f"{finding.finding.score:.2f}",
                f"{size:.1f}",
                _tr(finding.status.value) + (" *" if finding.edited else ""),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column != 0:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if finding.job_id in self._imported:
                    item.setToolTip(self._imported[finding.job_id])
                self._findings.setItem(row, column, item)
        if selected in self._finding_ids:
            self._findings.selectRow(self._finding_ids.index(selected))
        self._findings.blockSignals(False)
        counts = self._review.counts()
        self._counts.setText(
            _tr("{pending} to review, {accepted} accepted, {rejected} rejected").format(**counts)
        )
        self._emit_findings()

    def _emit_findings(self) -> None:
        markers = [
            Marker(f.id, f.center_lps_mm, finding_diameter(f), f.status.value)
            for f in self._review  # rejected ones too, in red: the reader sees what they ruled out
        ]
        self.findings_changed.emit(markers, self.selected_finding())

    def _on_finding_selected(self) -> None:
        finding_id = self.selected_finding()
        self._emit_findings()
        if finding_id is not None:
            self.finding_activated.emit(self._review.get(finding_id).center_lps_mm)
            self._follow_saliency()

    def _on_finding_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == 0 and item.row() < len(self._finding_ids):
            try:
                self._review.edit(self._finding_ids[item.row()], label=item.text())
            except ValueError as err:
                self._status.setText(str(err))
                self._on_review_changed("")

    # -- overlays and derived volumes --------------------------------------------------------
    def _chosen_overlay(self) -> Overlay | None:
        index = self._overlay_choice.currentIndex() - 1
        return self._overlays[index][1] if 0 <= index < len(self._overlays) else None

    def _emit_overlay(self) -> None:
        overlay = self._chosen_overlay()
        self.overlay_changed.emit(
            overlay.volume if overlay is not None else None, self.overlay_style()
        )

    def _follow_saliency(self) -> None:
        """Show the chosen method's saliency overlay of the selected finding (issue 7)."""
        finding_id = self.selected_finding()
        finding = self._review.get(finding_id) if finding_id is not None else None
        row = self._saliency.row_to_show(finding, self.shown_overlay())
        if row is not None:
            self.show_overlay(row)

    def _on_open_derived(self) -> None:
        index = self._derived_choice.currentIndex()
        if 0 <= index < len(self._derived):
            self.open_volume.emit(self._derived[index][1])

    def _on_save_derived(self) -> None:
        index = self._derived_choice.currentIndex()
        if 0 <= index < len(self._derived):
            self.save_volume.emit(self._derived[index][1])


__all__ = ["DEVICES", "QtAiPanel", "finding_diameter"]
