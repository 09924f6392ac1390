"""The Report dock and File › Export report…: review, sign and export from the GUI (issue 8).

Composition only. The report panel (:mod:`medview.view.report_panel`) shows the AI panel's
review and the reader's measurements; :class:`ReportWiring` records every decision in the
audit trail (:class:`~medview.model.report_state.ReviewAudit`, appended to
``<data>/review-audit.jsonl`` as it happens), asks for confirmation before signing, and runs
the export (:func:`medview.model.report_export.export_reviewed`, the same code path as
``medview report``) on a worker thread through :class:`~medview.view.qt_jobs.QtJobRunner`: the
GUI thread only takes the snapshot and draws (ARCHITECTURE.md rule 4). The result is one
sentence naming the folder and the files, or one naming what failed (rule 5).

The reader's name is remembered in the settings file (key ``report_reader``); the findings and
impression text are kept per study (:mod:`medview.model.report_draft`) when the window has a
study library, like the measurement sessions.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QMessageBox

from medview.ai.audit import AuditLog
from medview.ai.jobs import Job, JobState
from medview.app.ai_dock import AiWiring
from medview.app.i18n import resolve_language
from medview.core.errors import MedviewError
from medview.core.logging import get_logger
from medview.core.paths import AppDirs, app_dirs
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.model.report_draft import ReportDraft, draft_path, load_draft, save_draft
from medview.model.report_export import (
    ReportOutcome,
    ReportRequest,
    append_audit,
    explanations_of,
    export_reviewed,
    report_language,
    review_audit_log,
    series_findings,
    series_measurements,
)
from medview.model.report_state import ReviewAudit
from medview.model.review import ReviewStatus
from medview.model.settings import Settings
from medview.reports.model import Explanation, now_iso
from medview.view.mpr_layout import QtMprLayout
from medview.view.qt_jobs import QtJobRunner
from medview.view.report_panel import QtReportPanel

__all__ = ["READER_SETTING", "SHORTCUT", "ReportWiring"]

_log = get_logger(__name__)

#: File › Export report…; free in the window (Ctrl+Shift+O/A/C, Ctrl+O/Q/Z/Y are taken).
SHORTCUT = "Ctrl+Shift+R"
#: Settings key of the last reader's name (kept in ``Settings.extra``, written back as is).
READER_SETTING = "report_reader"
#: The draft is saved at most this many milliseconds after its first unsaved change.
DRAFT_DELAY_MS = 500


def _tr(text: str) -> str:
    # The main window's context, as the other docks: the menu and dock titles are its strings.
    return QCoreApplication.translate("QtMainWindow", text)


class _QuietAuditLog(AuditLog):
    """The review audit log; a write error is logged, never raised into the accept button."""

    def append(self, record: Mapping[str, object]) -> None:
        try:
            super().append(record)
        except OSError as err:
            _log.warning("could not append to the review audit log %s: %s", self.path, err)


class _FinishedJobs(QObject):
    """A runner listener for finished jobs only (worker threads; queued to the GUI thread).

    Not :class:`~medview.view.qt_ai.QtAiBridge`: its progress events, unused here, would
    double the events the GUI thread handles while a job runs.
    """

    finished = Signal(object)

    def job_state_changed(self, job: Job) -> None:
        pass

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        pass

    def job_finished(self, job: Job) -> None:
        with contextlib.suppress(RuntimeError):  # the window, and this object, are gone
            self.finished.emit(job)


def _series_paths(database: StudyDatabase | None, series_uid: str) -> list[str]:
    """Worker thread: the files of the series on screen, from the study library.

    ``medview view PATH`` and the GUI both index what they open in the library of this
    ``MEDVIEW_HOME``; a window without one looks there too.
    """
    paths: list[str] = []
    if series_uid and database is not None:
        paths = database.series_paths(series_uid)
    elif series_uid and app_dirs().database.exists():
        with StudyDatabase(app_dirs().database) as library:
            paths = library.series_paths(series_uid)
    if not paths:
        raise MedviewError(
            "the series on screen is not in the study library (a derived or generated "
            "series?): the report needs its DICOM files; open the original series"
        )
    return paths


def _export(request: ReportRequest, log: AuditLog) -> ReportOutcome:
    """Worker thread: write the report, then record the signature in the audit log."""
    outcome = export_reviewed(request)
    signed = [event for event in outcome.model.audit if event.action == "finalize"]
    append_audit(log, signed, {}, outcome.model.study.study_uid)
    return outcome


class ReportWiring(QObject):
    """The report panel of one window, its dock and menu action, and its exports.

    Parameters
    ----------
    window
        The main window (its ``volume_shown`` signal is followed).
    mpr
        The MPR layout (the series on screen and the measurement scene).
    ai
        The AI wiring (its runner and review).
    database
        The study library: where the series' files are found; with it, drafts are saved.
    settings
        Where the reader's name is remembered; None: not remembered.
    menu, before
        The menu that gets "Export report…", inserted before the action ``before``.

    Attributes
    ----------
    choose_folder
        ``choose_folder(start) -> str``: the target folder, "" when cancelled (a dialog by
        default; tests replace it).
    confirm_sign
        ``confirm_sign(reader, accepted_count) -> bool`` (a question box by default).

    Signals
    -------
    exported(object)
        The :class:`~medview.model.report_export.ReportOutcome` of a finished export.
    failed(str)
        The sentence shown when an export failed.
    """

    exported = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        window: QMainWindow,
        mpr: QtMprLayout,
        ai: AiWiring,
        *,
        database: StudyDatabase | None = None,
        settings: Settings | None = None,
        menu: QMenu | None = None,
        before: QAction | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._mpr = mpr
        self._ai = ai
        self._database = database
        self._settings = settings
        self._dirs: AppDirs | None = app_dirs() if database is not None else None
        self._draft_path: Path | None = None
        self._shown = ("", "")  # (study, series) UIDs on screen
        self._explanations: dict[str, Explanation] = {}
        self._start = str(Path.home())
        self._target = Path()
        self.choose_folder = self._ask_folder
        self.confirm_sign = self._ask_sign
        self._log = _QuietAuditLog(review_audit_log().path)
        # Before the panel subscribes to the review: the panel's "decided by" reads the event.
        self.audit = ReviewAudit(ai.review, self._audit_reader, self._log)
        self.panel = QtReportPanel(
            ai.review, mpr.measurement_scene, self._volume, window, decided_by=self._decided_by
        )
        if settings is not None:
            self.panel.set_reader(str(settings.extra.get(READER_SETTING, "")))
        self.panel.export_requested.connect(self.export)
        self.panel.sign_requested.connect(self.sign)
        self.panel.reader_changed.connect(self._remember_reader)
        self.panel.text_changed.connect(self._schedule_draft)
        # Picking a finding here selects it in the AI panel, which takes the views there.
        self.panel.finding_selected.connect(ai.panel.select_finding)
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_DELAY_MS)
        self._draft_timer.timeout.connect(self.flush_draft)
        # Explanation plugins' maps, for Parametric Maps of the accepted findings they explain.
        self._finished_jobs = _FinishedJobs(self)
        self._finished_jobs.finished.connect(
            self._on_job_finished, Qt.ConnectionType.QueuedConnection
        )
        ai.runner.add_listener(self._finished_jobs)
        self._jobs = QtJobRunner(self)  # its own: a series load must not make it stale
        self._jobs.finished.connect(self._on_exported)
        self._jobs.failed.connect(self._on_failed)

        self.dock = QDockWidget(_tr("Report"), window)
        self.dock.setObjectName("report-dock")  # saveState() finds docks by object name
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        # A tab beside the AI panel: the column keeps its height for the review, the text and
        # the export controls; the panel has its own accept / reject buttons.
        window.tabifyDockWidget(ai.dock, self.dock)
        self.dock.hide()  # File › Export report… brings it up
        self.action = QAction(_tr("Export &report…"), window)
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.triggered.connect(self.show_panel)
        if menu is not None:
            menu.insertAction(before, self.action)
            menu.insertSeparator(before)
        window.volume_shown.connect(self._on_volume_shown)

    # -- public API ------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.panel.busy

    def show_panel(self) -> None:
        """Show and raise the dock (File › Export report…)."""
        self.dock.show()
        self.dock.raise_()
        self.panel.refresh()

    def sign(self) -> bool:
        """Finalise: after confirmation, the next exports are VERIFIED by the reader."""
        reader = self.panel.reader()
        if not reader:
            self.panel.set_status(
                _tr("Enter the reader's name first: a signed report names who signed it.")
            )
            return False
        findings = series_findings(self._ai.review, self._mpr.volume)
        accepted = sum(f.status is ReviewStatus.ACCEPTED for f in findings)
        if not self.confirm_sign(reader, accepted):
            return False
        self._remember_reader(reader)
        self.panel.set_signed(reader, now_iso())
        self.panel.set_status(_tr("Signed. Export now to write the verified report."))
        return True

    def export(self) -> bool:
        """Ask for a folder and export the report there in the background.

        Returns False when nothing was started (busy, nothing on screen, no format, or the
        dialog was cancelled); the panel says why.
        """
        if self.busy:
            return False
        volume = self._mpr.volume
        if volume is None:
            self.panel.set_status(_tr("Open a series first."))
            return False
        formats = self.panel.formats()
        if not formats:
            self.panel.set_status(_tr("Choose at least one format."))
            return False
        chosen = self.choose_folder(self._start)
        if not chosen:
            return False
        folder = Path(chosen)
        self._start = str(folder.parent)
        self._target = folder
        request = self._request(volume, folder, formats)
        self._save_settings()
        self.flush_draft()
        self.panel.set_busy(True)
        self._tell(_tr("Exporting the report to {folder}…").format(folder=folder))
        self._jobs.submit(_export, request, self._log)
        return True

    def flush_draft(self) -> None:
        """Save the findings and impression text of the study on screen now."""
        self._draft_timer.stop()
        if self._draft_path is None:
            return
        draft = ReportDraft(self.panel.findings_text(), self.panel.impression())
        try:
            save_draft(self._draft_path, draft)
        except OSError as err:
            _log.warning("could not save the report text to %s: %s", self._draft_path, err)

    def shutdown(self) -> None:
        """The window closes: save the text; a running export finishes unobserved."""
        self.flush_draft()
        self.audit.close()
        self.panel.shutdown()
        self._jobs.shutdown()

    # -- internals -------------------------------------------------------------------------
    def _volume(self) -> Volume | None:
        return self._mpr.volume

    def _audit_reader(self) -> str:
        return self.panel.reader() or "UNKNOWN"

    def _decided_by(self, finding_id: str) -> str:
        for event in reversed(self.audit.events):
            if event.finding_id == finding_id:
                return event.who
        return ""

    def _request(self, volume: Volume, folder: Path, formats: Sequence[str]) -> ReportRequest:
        review = self._ai.review
        findings = tuple(series_findings(review, volume))
        ids = {f.id for f in findings}
        plugins = self._ai.runner.registry.plugins()
        names = {
            info.id: (info.name or info.id, info.manifest.intended_use if info.manifest else "")
            for info in plugins
        }
        signed = self.panel.signed
        language = self._settings.language if self._settings is not None else ""
        return ReportRequest(
            volume=volume,
            source_paths=functools.partial(_series_paths, self._database, volume.meta.series_uid),
            out_dir=folder,
            formats=tuple(formats),
            reader=self.panel.reader(),
            findings=findings,
            provenances={f.job_id: review.provenance(f.job_id) for f in findings},
            explanations={
                f.id: self._explanations[f.id] for f in findings if f.id in self._explanations
            },
            plugin_names=names,
            measurements=tuple(series_measurements(self._mpr.measurement_scene.items(), volume)),
            # This series' decisions (and report-wide events): not other series' findings.
            audit=tuple(e for e in self.audit.events if not e.finding_id or e.finding_id in ids),
            findings_text=self.panel.findings_text(),
            impression=self.panel.impression(),
            language=report_language(resolve_language(language)),
            anonymize=self.panel.anonymize(),
            sign=signed is not None,
            signed_at=signed[1] if signed is not None else "",
        )

    def _tell(self, text: str) -> None:
        self.panel.set_status(text)
        self._window.statusBar().showMessage(text)

    def _on_exported(self, outcome: object) -> None:
        self.panel.set_busy(False)
        if not isinstance(outcome, ReportOutcome):
            return
        text = _tr("Report exported to {folder}: {files}.").format(
            folder=self._target, files=", ".join(outcome.file_names())
        )
        if outcome.result.warnings:
            text += " " + _tr("Note: {warnings}.").format(
                warnings="; ".join(outcome.result.warnings)
            )
        _log.info("report exported: %s", ", ".join(map(str, outcome.result.files.values())))
        self._tell(text)
        self.panel.set_exported_folder(str(self._target))
        self.exported.emit(outcome)

    def _on_failed(self, message: str) -> None:
        self.panel.set_busy(False)
        text = _tr("Could not export the report: {reason}").format(reason=message)
        self._tell(text)
        self.failed.emit(text)

    def _on_job_finished(self, job: Job) -> None:
        result = job.result
        if job.state is not JobState.SUCCEEDED or result is None or result.provenance is None:
            return
        job_id = result.provenance.job_id
        for index, explanation in explanations_of(result, job.volume).items():
            self._explanations[f"{job_id}/{index}"] = explanation

    def _on_volume_shown(self, volume: object) -> None:
        if not isinstance(volume, Volume):
            return
        meta = volume.meta
        if not meta.series_uid or meta.series_uid != self._shown[1]:
            self.panel.clear_signature()  # a signature is for the report of one series
        if not meta.study_uid or meta.study_uid != self._shown[0]:
            # Another study: its own text (saved with a library), never the last one's.
            self.flush_draft()
            self._draft_path = None
            if self._dirs is not None and meta.study_uid:
                try:
                    self._draft_path = draft_path(self._dirs, meta.study_uid)
                except ValueError:
                    self._draft_path = None
            draft = load_draft(self._draft_path) if self._draft_path else ReportDraft()
            self.panel.set_texts(draft.findings_text, draft.impression)
        self._shown = (meta.study_uid, meta.series_uid)
        self.panel.refresh()

    def _schedule_draft(self) -> None:
        # Saved DRAFT_DELAY_MS after the first unsaved keystroke, not after the last one:
        # restarting the timer on every key would put the save off for as long as the reader
        # keeps typing, and a crash would lose the whole paragraph (issue 11, D2).
        if self._draft_path is not None and not self._draft_timer.isActive():
            self._draft_timer.start()

    def _remember_reader(self, name: str) -> None:
        if self._settings is not None:
            self._settings.extra[READER_SETTING] = name

    def _save_settings(self) -> None:
        if self._settings is None or self._settings.path is None:
            return
        try:
            self._settings.save()
        except OSError as err:  # a read-only config folder must not stop an export
            _log.warning("could not save the settings: %s", err)

    def _ask_folder(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(
            self._window, _tr("Export the report into a folder"), start
        )

    def _ask_sign(self, reader: str, accepted: int) -> bool:
        answer = QMessageBox.question(
            self._window,
            _tr("Finalise the report"),
            _tr(
                "Sign the report as {reader}? It reports {count} accepted finding(s); the "
                "exported DICOM SR will be VERIFIED with you as the verifying observer."
            ).format(reader=reader, count=accepted),
        )
        return answer == QMessageBox.StandardButton.Yes
