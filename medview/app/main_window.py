"""The main window and :func:`run_gui`, the entry point the CLI calls.

Loading runs on a background thread through :class:`~medview.view.qt_jobs.QtJobRunner`; the
GUI thread only shows "Loading…", then the volume or one sentence saying what went wrong
(ARCHITECTURE.md, rules 4 and 5).

With a study database (issue 3), the window also has the study browser in a left dock, File ›
Import folder… / Import files…, drops of folders and files from the desktop (imported), drops
of series from the browser onto the views (opened), and an import progress bar with Cancel in
the status bar. The database is opened once by the composition root
(:mod:`medview.app.startup`) and passed in; it is only queried on worker threads.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from medview.ai.runner import Runner
from medview.app.about import add_help_menu
from medview.app.ai_dock import AiWiring
from medview.app.compare_wiring import CompareWiring
from medview.app.i18n import LANGUAGE_NAMES
from medview.app.measure_dock import add_measurement_dock
from medview.app.pacs_wiring import PacsWiring
from medview.app.prior_wiring import PriorWiring
from medview.app.reimport_wiring import ReimportWiring
from medview.app.report_dock import ReportWiring
from medview.app.session_keeper import QtSessionKeeper
from medview.app.theme import apply_theme
from medview.app.window_parts import (
    QtDropArea,
    add_choice_menu,
    import_result_sentence,
    remember_window,
    restore_window,
)
from medview.core.paths import AppDirs, app_dirs
from medview.dicom.importer import ImportSummary
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.model.names import format_person_name
from medview.model.opening import ensure_demo_study, main_series_uid, open_series
from medview.model.settings import THEMES, Settings
from medview.model.viewer_state import LAYOUTS, LEFT_DRAG_MODES
from medview.view.fonts import cjk_font_file, needs_fallback
from medview.view.import_controller import QtImportController, QtImportProgress, paths_from_mime
from medview.view.mpr_layout import QtMprLayout
from medview.view.qt_jobs import QtJobRunner
from medview.view.slice_view import QtSliceView
from medview.view.study_browser import QtStudyBrowser
from medview.view.volume_view import PRESETS as VOLUME_PRESETS

log = logging.getLogger(__name__)

#: Loads the volume to show at start-up (e.g. from the command line), or None for nothing.
VolumeLoader = Callable[[], "Volume | None"]
#: Loads a volume from a folder the user picked.
FolderLoader = Callable[[Path], "Volume | None"]

_SYNTHETIC_WORDS = ("synthetic", "phantom", "simulated")
_BANNER_STYLE = "QLabel { background: #b35900; color: white; font-weight: bold; padding: 6px; }"


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


def _overlay_text(text: str) -> str:
    """``text`` translated for the text drawn inside the VTK views.

    VTK's built-in fonts have no CJK glyphs; the views switch to a CJK font file when the
    system has one (:mod:`medview.view.fonts`). Without one, a Chinese sentence there would be
    a row of boxes, so those messages stay in English (the status bar shows the translation).
    """
    translated = _tr(text)
    return translated if not needs_fallback(translated) or cjk_font_file() else text


def display_patient_name(name: str) -> str:
    """A DICOM person name (``Family^Given^Middle^Prefix^Suffix``) as people write it."""
    parts = [part.strip() for part in name.split("^")]
    family, given = [*parts, "", ""][:2]
    rest = " ".join(part for part in parts[2:] if part)
    if family and (given or rest):
        return f"{family}, {' '.join(p for p in (given, rest) if p)}"
    return family or given or rest


def banner_text(volume: Volume) -> str:
    """The warning to show above a synthetic or derived image; empty for an acquisition."""
    meta = volume.meta
    described = f"{meta.series_description} {meta.derivation}".lower()
    if meta.derived or meta.extra.get("synthetic") or any(w in described for w in _SYNTHETIC_WORDS):
        detail = meta.derivation or meta.series_description
        text = _tr("Synthetic or derived image, not an original acquisition")
        return f"{text}: {detail}" if detail else text
    return ""


class QtMainWindow(QMainWindow):
    """The workstation window: study browser, MPR and 3D views, menus, a status bar.

    Parameters
    ----------
    folder_loader
        Called (on a worker thread) with the folder chosen in File > Open folder…; when
        None, the action is disabled.
    parent
        Qt parent, usually None.
    database
        The local study database: adds the study browser dock and File › Import. The
        window never closes it (the composition root owns it).
    settings
        Remembered layout, last import folder, theme, language and window geometry; saved
        when they change and when the window closes. None: defaults, nothing saved.
    runner
        The AI job runner (default: a new one over the discovered plugins); shut down when
        the window closes.
    """

    #: Progress text from worker threads; queued to the GUI thread by Qt (rule 4).
    status_reported = Signal(str)
    #: A volume was shown (GUI thread), e.g. after opening a series.
    volume_shown = Signal(object)
    #: The one-slice preview of a loading series was shown (progressive loading).
    preview_shown = Signal(object)

    def __init__(
        self,
        folder_loader: FolderLoader | None = None,
        parent: QWidget | None = None,
        *,
        database: StudyDatabase | None = None,
        settings: Settings | None = None,
        runner: Runner | None = None,
    ) -> None:
        super().__init__(parent)
        self.status_reported.connect(self._show_status, Qt.ConnectionType.QueuedConnection)
        self._folder_loader = folder_loader
        self._database = database
        self._settings = settings
        self._error_box: QMessageBox | None = None
        self._open_after_import = False
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_loaded)
        self._jobs.failed.connect(self._on_failed)
        self._jobs.partial.connect(self._on_preview)
        # Preparing the demo study must not cancel (as a newer job would) a series load.
        self._prep_jobs = QtJobRunner(self)
        self._prep_jobs.finished.connect(self._on_demo_ready)
        self._prep_jobs.failed.connect(self._on_failed)

        self._banner = QLabel(self)
        self._banner.setStyleSheet(_BANNER_STYLE)
        self._banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._banner.setVisible(False)
        self._mpr = QtMprLayout(self)
        if settings is not None and settings.default_layout in LAYOUTS:
            self._mpr.state.set_layout(settings.default_layout)
        if settings is not None:  # before the menus: they list the actions
            for problem in self._mpr.apply_preferences(
                left_drag=settings.left_drag,
                key_bindings=settings.key_bindings,
                window_presets=settings.window_presets,
            ):
                log.warning("settings %s: %s", settings.path, problem)
        self._mpr.state.add_listener(self._on_view_state_changed)
        central = QtDropArea(self)
        central.series_dropped.connect(self._on_series_dropped)
        central.paths_dropped.connect(self._on_paths_dropped)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._banner)
        layout.addWidget(self._mpr, 1)
        self.setCentralWidget(central)

        self._browser: QtStudyBrowser | None = None
        self._importer: QtImportController | None = None
        self._import_progress: QtImportProgress | None = None
        if database is not None:
            self._build_library(database)

        self._build_menu()
        self._compare = CompareWiring(self, self._mpr, layout, self._view_menu)
        # View › Compare with the selected series (a prior), linked by anatomy.
        self._prior = PriorWiring(
            self, self._mpr, self._compare, database, self._view_menu, self._browser
        )
        self._measure_dock = add_measurement_dock(self, self._mpr)
        self._ai = AiWiring(
            self, self._mpr, runner, settings.ai_device if settings is not None else "auto"
        )
        # A shown series brings back its study's SR/SEG findings and masks (issue 8).
        self.reimport = ReimportWiring(self, self._mpr, self._ai, database)
        # Measurements persist per study next to the library (none without a library).
        self._sessions = QtSessionKeeper(
            self._mpr.measurement_scene,
            app_dirs() if database is not None else None,
            self.statusBar().showMessage,
            self,
        )
        # Review, sign and export the report (issue 8): File › Export report…, Report dock.
        self._report = ReportWiring(
            self, self._mpr, self._ai, database=database, settings=settings,
            menu=self._file_menu, before=self._quit_action,
        )  # fmt: skip
        # Query/retrieve, send, nodes (issue 9): File › Query PACS…, Send to PACS…, PACS nodes….
        self._pacs = PacsWiring(self, database, settings, self._file_menu, self._quit_action)
        # A bound slot, not a lambda: a lambda would hold the window and keep it alive.
        self._report.panel.send_requested.connect(self._pacs.send_folder)
        # Help › Keyboard shortcuts… (F1) and About medview… (issue 10), last so that it
        # stays the rightmost menu.
        self.shortcuts_action, self.about_action = add_help_menu(self)
        self.statusBar().showMessage(_tr("Ready"))
        self.setWindowTitle("medview")
        self.resize(1200, 900)
        self._restore_window_state()

    # -- public API ------------------------------------------------------------------------
    @property
    def slice_view(self) -> QtSliceView:
        """The axial view."""
        return self._mpr.view("axial")

    @property
    def mpr(self) -> QtMprLayout:
        """The linked MPR and 3D views."""
        return self._mpr

    @property
    def banner(self) -> QLabel:
        return self._banner

    @property
    def error_box(self) -> QMessageBox | None:
        """The last error message box shown, if any (non-modal, so tests can inspect it)."""
        return self._error_box

    @property
    def browser(self) -> QtStudyBrowser | None:
        """The study browser (None without a database)."""
        return self._browser

    @property
    def importer(self) -> QtImportController | None:
        """The import controller (None without a database)."""
        return self._importer

    @property
    def import_progress(self) -> QtImportProgress | None:
        """The progress bar and Cancel button in the status bar (None without a database)."""
        return self._import_progress

    @property
    def settings(self) -> Settings | None:
        return self._settings

    def load(self, loader: Callable[..., Volume | None], *, progressive: bool = False) -> None:
        """Run ``loader`` on a worker thread and show its volume when it is done.

        With ``progressive``, ``loader`` gets a ``partial`` callable to hand over a one-slice
        preview first (shown at once in the acquisition plane's view).
        """
        self.statusBar().showMessage(_tr("Loading…"))
        self._mpr.set_message(_overlay_text("Loading…"))
        self._jobs.submit(loader, partial=progressive)

    def open_series(self, series_uid: str) -> None:
        """Load a series of the database on a worker thread and show it, middle slice first."""
        database = self._database
        if database is None or not series_uid:
            return
        self.load(
            lambda partial: open_series(database, series_uid, preview=partial), progressive=True
        )

    def import_paths(self, paths: Sequence[str | Path], *, open_main: bool = False) -> bool:
        """Import files or folders in the background; then refresh the browser.

        Parameters
        ----------
        paths
            Files, folders, zip archives or DICOMDIRs.
        open_main
            Then open the imported studies' main series (the biggest volume), as
            ``medview PATH`` does.

        Returns
        -------
        bool
            False when nothing was started (no database, nothing given, or an import is
            already running: one at a time, they share the database writer).
        """
        if self._importer is None or not paths:
            return False
        if self._importer.is_running:
            self.statusBar().showMessage(
                _tr("An import is already running; wait for it or cancel it first.")
            )
            return False
        self._open_after_import = open_main
        self._hide_progress.stop()
        self._import_progress.setVisible(True)
        self._importer.start(paths)
        return True

    def open_demo(self, dirs: AppDirs) -> None:
        """Write the demo study on first use (worker thread), then import and open it."""
        if self._importer is None:
            return
        self._show_status(_tr("Preparing the demo study…"))
        report = self.report_status
        self._prep_jobs.submit(
            lambda: ensure_demo_study(
                dirs, lambda _text: report(_tr("Generating the demo study (first start only)…"))
            )
        )

    def _on_demo_ready(self, folder: object) -> None:
        self.import_paths([Path(str(folder))], open_main=True)

    def report_status(self, text: str) -> None:
        """Thread-safe: show a progress sentence (e.g. from a loader on a worker thread)."""
        self.status_reported.emit(text)

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text)
        if not needs_fallback(text) or cjk_font_file():  # see _overlay_text
            self._mpr.set_message(text)

    def show_volume(self, volume: Volume) -> None:
        """Show ``volume`` now (GUI thread)."""
        meta = volume.meta
        parts = ["medview"]
        if meta.patient_name:
            parts.append(format_person_name(meta.patient_name))
        if meta.series_description:
            parts.append(meta.series_description)
        self.setWindowTitle(" — ".join(parts))
        banner = banner_text(volume)
        self._banner.setText(banner)
        self._banner.setVisible(bool(banner))
        self._mpr.set_volume(volume)
        shape = " × ".join(str(n) for n in volume.size_ijk)
        spacing = " × ".join(f"{s:g}" for s in volume.spacing)
        summary = _tr("{modality} {shape} voxels, {spacing} mm").format(
            modality=meta.modality or _tr("Image"), shape=shape, spacing=spacing
        )
        # Loading warnings (uneven spacing, missing slices) matter more than the summary.
        self.statusBar().showMessage(" ".join(meta.warnings) if meta.warnings else summary)
        if self._browser is not None and meta.series_uid:
            self._browser.select_series(meta.series_uid)
        self._sessions.open_study(meta.study_uid)  # after the summary: its problems show
        self._ai.volume_shown()
        self.volume_shown.emit(volume)

    # -- Qt events -------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        # Files dropped anywhere on the window (the browser dock too) are imported.
        if self._importer is not None and paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = paths_from_mime(event.mimeData())
        if self._importer is not None and paths:
            event.acceptProposedAction()
            self._on_paths_dropped(paths)
        else:
            event.ignore()

    @property
    def sessions(self) -> QtSessionKeeper:
        return self._sessions

    @property
    def compare(self) -> CompareWiring:
        """View › Compare original | enhanced (a derived volume next to its source)."""
        return self._compare

    @property
    def prior_compare(self) -> PriorWiring:
        """View › Compare with the selected series."""
        return self._prior

    @property
    def ai(self) -> AiWiring:
        """The AI panel, its runner and the review of its findings."""
        return self._ai

    @property
    def report(self) -> ReportWiring:
        """The report panel (review, sign, export) and its dock."""
        return self._report

    @property
    def pacs(self) -> PacsWiring:
        """File › Query PACS…, Send to PACS…, PACS nodes… and their dialogs."""
        return self._pacs

    def closeEvent(self, event: QCloseEvent) -> None:
        self._pacs.shutdown()
        self._report.shutdown()  # before the AI wiring: it stops listening to the review
        self.reimport.shutdown()
        self._ai.shutdown()
        self._compare.shutdown()
        self._prior.shutdown()
        self._sessions.close()
        self._save_window_state()
        self._jobs.shutdown()
        self._prep_jobs.shutdown()
        if self._importer is not None:
            self._importer.shutdown()
        if self._browser is not None:
            self._browser.shutdown()
        # Children get no closeEvent of their own: release the render window explicitly.
        self._mpr.finalize()
        super().closeEvent(event)

    # -- building ----------------------------------------------------------------------------
    def _build_library(self, database: StudyDatabase) -> None:
        self._browser = QtStudyBrowser(database, self)
        self._browser.series_activated.connect(self.open_series)
        dock = QDockWidget(_tr("Studies"), self)
        dock.setObjectName("studies-dock")  # saveState() finds docks by object name
        dock.setWidget(self._browser)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resizeDocks([dock], [380], Qt.Orientation.Horizontal)
        self._dock = dock

        self._importer = QtImportController(database, parent=self)
        self._importer.finished.connect(self._on_import_finished)
        self._importer.failed.connect(self._on_import_failed)
        self._importer.cancelled.connect(self._on_import_cancelled)
        self._import_progress = QtImportProgress(self._importer, self)
        self._import_progress.setVisible(False)
        self.statusBar().addPermanentWidget(self._import_progress)
        # The bar stays a few seconds after an import so its result can be read, then goes.
        self._hide_progress = QTimer(self)
        self._hide_progress.setSingleShot(True)
        self._hide_progress.setInterval(5000)
        self._hide_progress.timeout.connect(self._import_progress.hide)
        for signal in (self._importer.finished, self._importer.failed, self._importer.cancelled):
            signal.connect(self._schedule_progress_hide)
        self.setAcceptDrops(True)

    def _schedule_progress_hide(self, *args: object) -> None:
        # Not QTimer.start directly: it has a start(msec) overload the signal's argument
        # would be matched against. Unreadable files keep the bar's sentence up until the
        # next import: opening the main series replaces the status bar message.
        if args and isinstance(args[0], ImportSummary) and args[0].errors:
            return
        self._hide_progress.start()

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu(_tr("&File"))
        self._import_folder_action = QAction(_tr("Import &folder…"), self)
        self._import_folder_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self._import_folder_action.triggered.connect(self._import_folder)
        self._import_files_action = QAction(_tr("Import f&iles…"), self)
        self._import_files_action.triggered.connect(self._import_files)
        for action in (self._import_folder_action, self._import_files_action):
            action.setEnabled(self._importer is not None)
            file_menu.addAction(action)
        open_action = QAction(_tr("&Open folder…"), self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.setEnabled(self._folder_loader is not None)
        open_action.triggered.connect(self._open_folder)
        # The database workflow (import, then browse) replaces it; kept for embedders that
        # give a folder loader instead of a database.
        open_action.setVisible(self._folder_loader is not None or self._importer is None)
        file_menu.addAction(open_action)
        file_menu.addSeparator()
        quit_action = QAction(_tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self._file_menu = file_menu
        self._open_action = open_action
        self._quit_action = quit_action
        self._build_view_menu()

    def _build_view_menu(self) -> None:
        view_menu = self.menuBar().addMenu(_tr("&View"))
        self._view_menu = view_menu
        layouts = view_menu.addMenu(_tr("&Layout"))
        group = QActionGroup(self)
        self._layout_actions: dict[str, QAction] = {}
        for name in LAYOUTS:
            action = QAction(name, self)
            action.setCheckable(True)
            action.setChecked(name == self._mpr.state.layout)
            action.setData(name)
            # Bound methods, not lambdas capturing self: a C++-held lambda would keep this
            # window (and its render windows) alive after it is dropped.
            action.triggered.connect(self._on_layout_action)
            group.addAction(action)
            layouts.addAction(action)
            self._layout_actions[name] = action
        presets = view_menu.addMenu(_tr("&Window presets"))
        for action in self._mpr.preset_actions:
            presets.addAction(action)
        volume_presets = view_menu.addMenu(_tr("&3D rendering"))
        for name, (label, *_rest) in VOLUME_PRESETS.items():
            action = QAction(_tr(label), self)
            action.setData(name)
            action.triggered.connect(self._on_volume_preset_action)
            volume_presets.addAction(action)
        slab_menu = view_menu.addMenu(_tr("&Slab projection"))
        for action in self._mpr.slab_actions:
            if action.objectName() == "slab.thicker":
                slab_menu.addSeparator()
            slab_menu.addAction(action)
        view_menu.addSeparator()
        for action in self._mpr.view_actions:
            view_menu.addAction(action)
        view_menu.addSeparator()
        self._build_theme_and_language_menus(view_menu)

    def _build_theme_and_language_menus(self, view_menu: QMenu) -> None:
        settings = self._settings
        labels = {"dark": _tr("&Dark (reading room)"), "light": _tr("&Light")}
        self._theme_actions = add_choice_menu(
            view_menu.addMenu(_tr("&Theme")),
            [(name, labels[name]) for name in THEMES],
            settings.theme if settings else "dark",
            self._on_theme_action,
        )
        drag_labels = {
            "window": _tr("&Window/level"),
            "pan": _tr("&Pan"),
            "zoom": _tr("&Zoom"),
        }
        self._left_drag_actions = add_choice_menu(
            view_menu.addMenu(_tr("Left &drag")),
            [(mode, drag_labels[mode]) for mode in LEFT_DRAG_MODES],
            settings.left_drag if settings else "window",
            self._on_left_drag_action,
        )
        self._language_actions = add_choice_menu(
            view_menu.addMenu(_tr("L&anguage (applies after restart)")),
            [("", _tr("System default")), *LANGUAGE_NAMES.items()],
            settings.language if settings else "",
            self._on_language_action,
        )

    # -- settings ----------------------------------------------------------------------------
    def _save_settings(self) -> None:
        if self._settings is None or self._settings.path is None:
            return
        try:
            self._settings.save()
        except OSError as exc:  # a read-only config folder must not break the viewer
            log.warning("could not save the settings: %s", exc)

    def _restore_window_state(self) -> None:
        if self._settings is not None:
            restore_window(self, self._settings)

    def _save_window_state(self) -> None:
        if self._settings is not None:
            remember_window(self, self._settings)
            self._save_settings()

    # -- menu actions --------------------------------------------------------------------------
    def _on_layout_action(self) -> None:
        self._mpr.state.set_layout(str(self.sender().data()))

    def _on_volume_preset_action(self) -> None:
        self._mpr.volume_view.set_preset(str(self.sender().data()))

    def _on_theme_action(self) -> None:
        name = str(self.sender().data())
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        if self._settings is not None:
            self._settings.theme = name
            self._save_settings()

    def _on_left_drag_action(self) -> None:
        mode = str(self.sender().data())
        self._mpr.set_left_drag(mode)
        if self._settings is not None:
            self._settings.left_drag = mode
            self._save_settings()

    def _on_language_action(self) -> None:
        code = str(self.sender().data())
        if self._settings is not None:
            self._settings.language = code
            self._save_settings()
        self.statusBar().showMessage(_tr("The language changes when medview is restarted."))

    def _on_view_state_changed(self, change: str) -> None:
        if change == "layout":
            layout = self._mpr.state.layout
            action = self._layout_actions.get(layout)
            if action is not None:
                action.setChecked(True)
            if self._settings is not None and self._settings.default_layout != layout:
                self._settings.default_layout = layout
                self._save_settings()

    def _start_folder(self) -> str:
        folder = self._settings.last_import_folder if self._settings else ""
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def _remember_folder(self, folder: Path) -> None:
        if self._settings is not None:
            self._settings.last_import_folder = str(folder)
            self._save_settings()

    def _import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, _tr("Import a DICOM folder"), self._start_folder()
        )
        if not folder:
            return
        self._remember_folder(Path(folder))
        self.import_paths([Path(folder)])

    def _import_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(
            self,
            _tr("Import DICOM files"),
            self._start_folder(),
            _tr("DICOM files (*.dcm *.DCM *.ima *.IMA DICOMDIR *.zip);;All files (*)"),
        )
        if not files:
            return
        self._remember_folder(Path(files[0]).parent)
        self.import_paths([Path(f) for f in files])

    def _open_folder(self) -> None:
        if self._folder_loader is None:
            return
        folder = QFileDialog.getExistingDirectory(self, _tr("Open DICOM folder"))
        if not folder:
            return
        loader = self._folder_loader
        path = Path(folder)
        self.load(lambda: loader(path))

    # -- drops and imports ---------------------------------------------------------------------
    def _on_series_dropped(self, uids: list) -> None:
        if uids:
            self.open_series(str(uids[0]))

    def _on_paths_dropped(self, paths: list) -> None:
        if self._importer is None:
            self.statusBar().showMessage(_tr("Importing needs the study database."))
            return
        self.import_paths(paths)

    def _on_import_finished(self, summary: object) -> None:
        if self._browser is not None:
            self._browser.refresh()
        if not isinstance(summary, ImportSummary):
            return
        self.statusBar().showMessage(import_result_sentence(summary))
        if self._open_after_import and summary.headers and self._database is not None:
            self.open_series(main_series_uid(summary.headers))
        self._open_after_import = False

    def _on_import_failed(self, message: str) -> None:
        self._open_after_import = False
        self.statusBar().showMessage(_tr("Import failed: {reason}").format(reason=message))

    def _on_import_cancelled(self) -> None:
        self._open_after_import = False
        self.statusBar().showMessage(_tr("Import cancelled; nothing was added."))

    # -- loading results -----------------------------------------------------------------------
    def _on_preview(self, preview: object) -> None:
        if isinstance(preview, Volume):
            self._mpr.show_preview(preview, _overlay_text("Loading…"))
            self.preview_shown.emit(preview)

    def _on_loaded(self, volume: object) -> None:
        if volume is None:
            self._mpr.set_message(_overlay_text("No image"))
            self.statusBar().showMessage(_tr("Nothing to show"))
            return
        if not isinstance(volume, Volume):
            self._on_failed(_tr("The loader returned something that is not an image volume."))
            return
        self.show_volume(volume)

    def _on_failed(self, message: str) -> None:
        self._mpr.set_message(_overlay_text("Could not load the image"))
        self.statusBar().showMessage(message)
        # Non-modal: the window stays usable (File > Open folder… to try another study).
        box = QMessageBox(QMessageBox.Icon.Warning, _tr("Could not open the study"), message)
        box.setParent(self, box.windowFlags())
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.destroyed.connect(self._forget_error_box)
        self._error_box = box
        box.show()

    def _forget_error_box(self) -> None:
        self._error_box = None


def run_gui(
    volume_loader: VolumeLoader,
    argv: Sequence[str] | None = None,
    folder_loader: FolderLoader | None = None,
    *,
    loader_takes_status: bool = False,
) -> int:
    """Start the Qt application, show the main window and load the first volume.

    Parameters
    ----------
    volume_loader
        Called on a worker thread; returns the volume to show, or None. A
        :class:`~medview.core.errors.MedviewError` it raises is shown as one sentence.
    argv
        Command-line arguments for Qt (default ``sys.argv``).
    folder_loader
        Optional loader for File > Open folder….
    loader_takes_status
        Call ``volume_loader(status)``, where ``status(text)`` shows progress sentences
        (e.g. "Generating the demo study…") from the worker thread.

    Returns
    -------
    int
        The Qt event loop's exit code.
    """
    app = QApplication.instance() or QApplication(list(argv if argv is not None else sys.argv))
    app.setApplicationName("medview")
    window = QtMainWindow(folder_loader=folder_loader)
    window.show()
    if loader_takes_status:
        window.load(lambda: volume_loader(window.report_status))  # type: ignore[call-arg]
    else:
        window.load(volume_loader)
    return app.exec()
