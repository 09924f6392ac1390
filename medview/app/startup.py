"""Starting the GUI: the composition root that wires the model's loaders into the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from medview.core.errors import MedviewError

if TYPE_CHECKING:
    from medview.imaging.slab import Slab


def run_viewer(paths: Sequence[Path] = ()) -> int:
    """``medview [PATH...]``: the workstation window over the local study database.

    The composition root (ARCHITECTURE.md, "app"): reads the settings, installs the language
    and theme, opens the study database once and hands it to the window, then imports
    ``paths`` (or the demo study on a first start) in the background and opens the main
    series. The database is closed when the event loop ends.
    """
    from PySide6.QtWidgets import QApplication

    from medview.app.i18n import install_translators, resolve_language
    from medview.app.main_window import QtMainWindow
    from medview.app.theme import apply_theme
    from medview.core.paths import app_dirs
    from medview.core.sweep import sweep_app_dirs
    from medview.dicom.index import StudyDatabase
    from medview.model.crash_marker import begin as begin_run
    from medview.model.settings import load_settings
    from medview.view.gc_timer import QtIdleCollector

    dirs = app_dirs().ensure()
    # Temp files of saves that a kill or crash interrupted (issue 11, D1); a second running
    # medview's writes in progress are left alone (see medview.core.sweep).
    sweep_app_dirs(dirs)
    settings = load_settings()
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("medview")
    # Installed before any widget exists: widgets translate their text when built.
    # (The translators are children of app, which keeps them alive.)
    install_translators(app, resolve_language(settings.language))
    apply_theme(app, settings.theme)
    collector = QtIdleCollector(app)
    with StudyDatabase(dirs.database) as database:
        window = QtMainWindow(database=database, settings=settings)
        # Issue 11 D2: a marker while we run; one left by a dead run means it crashed, and the
        # studies it saved say that their measurements were restored.
        run = begin_run(dirs.data)
        window.sessions.note_unclean_shutdown(run.unclean_since)
        window.show()
        if paths:
            window.import_paths(list(paths), open_main=True)
        else:
            window.open_demo(dirs)
        try:
            code = app.exec()
            run.end()  # a clean exit: the next start reports no crash
            return code
        finally:
            collector.stop()


@dataclass(frozen=True)
class ViewOptions:
    """What ``medview view`` applies once the volume is shown."""

    layout: str = "2x2"
    preset: str = ""
    #: 1-based axial slice number, as shown in the view (None: the middle).
    slice_number: int | None = None
    screenshot: Path | None = None
    #: Window size in pixels for the screenshot (width, height).
    size: tuple[int, int] = (1600, 1000)
    #: Thick-slab projection of the MPR views (None: thin slices).
    slab: Slab | None = None


def load_series(path: Path, series_uid: str = ""):
    """Import ``path`` like ``medview PATH`` and load one series (the biggest by default).

    Raises
    ------
    MedviewError
        When the path does not exist, holds no image series, or not ``series_uid``.
    """
    from medview.dicom.loader import load_candidate
    from medview.model.opening import import_and_choose

    return load_candidate(import_and_choose(path, series_uid))


def run_view(path: Path, series_uid: str, options: ViewOptions) -> int:
    """``medview view``: open ``path`` in the viewer, apply ``options``, maybe save a PNG.

    With ``options.screenshot`` the window is rendered, saved and closed, and the exit code
    returned without waiting for the user; otherwise the viewer stays open.
    """
    from medview.imaging.windowing import window_for
    from medview.model.viewer_state import LAYOUTS

    if options.layout not in LAYOUTS:
        raise MedviewError(f"unknown layout {options.layout!r}; use one of {', '.join(LAYOUTS)}")
    # Loaded before the window exists: a bad path or series is one line on the terminal.
    volume = load_series(path, series_uid)
    if options.preset:
        try:
            window_for(volume, options.preset)
        except KeyError as exc:
            raise MedviewError(exc.args[0]) from None
    if options.slice_number is not None:
        from medview.view.slice_geometry import AXIAL, SliceGeometry

        count = SliceGeometry(volume, AXIAL).count
        if not 1 <= options.slice_number <= count:
            raise MedviewError(f"--slice must be 1..{count} for this series")

    from PySide6.QtWidgets import QApplication

    from medview.app.main_window import QtMainWindow

    app = QApplication.instance() or QApplication([])
    app.setApplicationName("medview")
    window = QtMainWindow()
    window.resize(*options.size)
    window.show()
    app.processEvents()
    window.show_volume(volume)
    _apply_options(window, options)
    if options.screenshot is None:
        from medview.view.gc_timer import QtIdleCollector

        collector = QtIdleCollector(app)
        try:
            return app.exec()
        finally:
            collector.stop()
    try:
        _wait_for_3d(app, window)
        from medview.app.screenshot import save_window_png

        mpr = window.mpr
        views = [mpr.widget_for(name) for name in mpr.state.visible_views()]
        saved = save_window_png(window, views, options.screenshot)
        print(f"saved {saved}")
    finally:
        window.close()
        app.processEvents()
    return 0


def _apply_options(window, options: ViewOptions) -> None:
    state = window.mpr.state
    state.set_layout(options.layout)
    if options.preset:
        state.apply_preset(options.preset)
        preset = options.preset.strip().lower()
        if preset in ("lung", "1"):
            window.mpr.volume_view.set_preset("ct-lung")
        elif preset in ("bone", "3"):
            window.mpr.volume_view.set_preset("ct-bone")
    state.set_slab(options.slab)
    if options.slice_number is not None:
        # The axial view numbers its slices as shown (1-based); scrolling it moves the
        # crosshair, so the coronal and sagittal lines follow.
        window.mpr.view("axial").set_slice(options.slice_number - 1)


def _wait_for_3d(app, window, timeout_s: float = 60.0) -> None:
    """Let the 3D view finish reducing a big volume on its worker thread."""
    import time

    volume_view = window.mpr.volume_view
    if not volume_view.isVisible():
        return
    deadline = time.monotonic() + timeout_s
    while not volume_view.is_ready and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
