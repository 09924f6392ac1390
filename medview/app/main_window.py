"""The main window and :func:`run_gui`, the entry point the CLI calls.

Loading runs on a background thread through :class:`~medview.view.qt_jobs.QtJobRunner`; the
GUI thread only shows "Loading…", then the volume or one sentence saying what went wrong
(ARCHITECTURE.md, rules 4 and 5).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from medview.imaging.volume import Volume
from medview.model.viewer_state import LAYOUTS
from medview.view.mpr_layout import QtMprLayout
from medview.view.qt_jobs import QtJobRunner
from medview.view.slice_view import QtSliceView
from medview.view.volume_view import PRESETS as VOLUME_PRESETS

#: Loads the volume to show at start-up (e.g. from the command line), or None for nothing.
VolumeLoader = Callable[[], "Volume | None"]
#: Loads a volume from a folder the user picked.
FolderLoader = Callable[[Path], "Volume | None"]

_SYNTHETIC_WORDS = ("synthetic", "phantom", "simulated")
_BANNER_STYLE = "QLabel { background: #b35900; color: white; font-weight: bold; padding: 6px; }"


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


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
    """The workstation window: MPR views and a 3D view, File and View menus, a status bar.

    Parameters
    ----------
    folder_loader
        Called (on a worker thread) with the folder chosen in File > Open folder…; when
        None, the action is disabled.
    parent
        Qt parent, usually None.
    """

    #: Progress text from worker threads; queued to the GUI thread by Qt (rule 4).
    status_reported = Signal(str)

    def __init__(
        self, folder_loader: FolderLoader | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.status_reported.connect(self._show_status, Qt.ConnectionType.QueuedConnection)
        self._folder_loader = folder_loader
        self._error_box: QMessageBox | None = None
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_loaded)
        self._jobs.failed.connect(self._on_failed)

        self._banner = QLabel(self)
        self._banner.setStyleSheet(_BANNER_STYLE)
        self._banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._banner.setVisible(False)
        self._mpr = QtMprLayout(self)
        self._mpr.state.add_listener(self._on_view_state_changed)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._banner)
        layout.addWidget(self._mpr, 1)
        self.setCentralWidget(central)

        self._build_menu()
        self.statusBar().showMessage(_tr("Ready"))
        self.setWindowTitle("medview")
        self.resize(1200, 900)

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

    def load(self, loader: Callable[[], Volume | None]) -> None:
        """Run ``loader`` on a worker thread and show its volume when it is done."""
        self.statusBar().showMessage(_tr("Loading…"))
        self._mpr.set_message(_tr("Loading…"))
        self._jobs.submit(loader)

    def report_status(self, text: str) -> None:
        """Thread-safe: show a progress sentence (e.g. from a loader on a worker thread)."""
        self.status_reported.emit(text)

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text)
        self._mpr.set_message(text)

    def show_volume(self, volume: Volume) -> None:
        """Show ``volume`` now (GUI thread)."""
        meta = volume.meta
        parts = ["medview"]
        if meta.patient_name:
            parts.append(display_patient_name(meta.patient_name))
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

    # -- Qt events -------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._jobs.shutdown()
        # Children get no closeEvent of their own: release the render window explicitly.
        self._mpr.finalize()
        super().closeEvent(event)

    # -- internals -------------------------------------------------------------------------
    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu(_tr("&File"))
        open_action = QAction(_tr("&Open folder…"), self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.setEnabled(self._folder_loader is not None)
        open_action.triggered.connect(self._open_folder)
        file_menu.addAction(open_action)
        file_menu.addSeparator()
        quit_action = QAction(_tr("&Quit"), self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        self._open_action = open_action
        self._quit_action = quit_action
        self._build_view_menu()

    def _build_view_menu(self) -> None:
        view_menu = self.menuBar().addMenu(_tr("&View"))
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
        view_menu.addSeparator()
        for action in self._mpr.view_actions:
            view_menu.addAction(action)

    def _on_layout_action(self) -> None:
        self._mpr.state.set_layout(str(self.sender().data()))

    def _on_volume_preset_action(self) -> None:
        self._mpr.volume_view.set_preset(str(self.sender().data()))

    def _on_view_state_changed(self, change: str) -> None:
        if change == "layout":
            action = self._layout_actions.get(self._mpr.state.layout)
            if action is not None:
                action.setChecked(True)

    def _open_folder(self) -> None:
        if self._folder_loader is None:
            return
        folder = QFileDialog.getExistingDirectory(self, _tr("Open DICOM folder"))
        if not folder:
            return
        loader = self._folder_loader
        path = Path(folder)
        self.load(lambda: loader(path))

    def _on_loaded(self, volume: object) -> None:
        if volume is None:
            self._mpr.set_message(_tr("No image"))
            self.statusBar().showMessage(_tr("Nothing to show"))
            return
        if not isinstance(volume, Volume):
            self._on_failed(_tr("The loader returned something that is not an image volume."))
            return
        self.show_volume(volume)

    def _on_failed(self, message: str) -> None:
        self._mpr.set_message(_tr("Could not load the image"))
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
