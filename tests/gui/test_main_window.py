"""The main window: background loading, title, banner, errors; and the job runner."""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from medview.app.main_window import QtMainWindow, banner_text, display_patient_name, run_gui
from medview.core.errors import GeometryError
from medview.view.qt_jobs import QtJobRunner

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    main = QtMainWindow()
    qtbot.addWidget(main)
    main.resize(700, 560)
    main.show()
    qtbot.waitExposed(main)
    return main


def test_loads_on_a_worker_thread_and_shows_the_volume(window, qtbot, phantom):
    volume = phantom.make(patient_name="Doe^Jane", series_description="CT chest")
    threads = []
    release = threading.Event()

    def loader():
        threads.append(threading.current_thread())
        release.wait(5)
        return volume

    window.load(loader)
    # While the worker waits, the GUI thread is free and says so.
    assert window.statusBar().currentMessage() == "Loading…"
    release.set()
    qtbot.waitUntil(lambda: window.slice_view.volume is volume, timeout=5000)
    assert threads and threads[0] is not threading.main_thread()
    assert window.windowTitle() == "medview — Doe, Jane — CT chest"
    assert window.slice_view.slice_count == 40
    assert window.slice_view.orientation_labels()["left"] == "R"
    assert not window.banner.isVisible()


def test_synthetic_volume_gets_a_banner(window, qtbot, phantom):
    volume = phantom.make(derived=True, derivation="super-resolution x2")
    window.load(lambda: volume)
    qtbot.waitUntil(lambda: window.slice_view.volume is volume, timeout=5000)
    assert window.banner.isVisible()
    assert "super-resolution x2" in window.banner.text()


def test_medview_error_shows_one_sentence_and_no_crash(window, qtbot):
    def loader():
        raise GeometryError("The slices are not evenly spaced; open them as separate series.")

    window.load(loader)
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    box = window.error_box
    assert box.text() == "The slices are not evenly spaced; open them as separate series."
    assert "Traceback" not in box.text()
    assert box.windowModality() == Qt.WindowModality.NonModal
    assert box.icon() == QMessageBox.Icon.Warning
    assert window.isVisible() and window.slice_view.volume is None
    box.close()


def test_unexpected_error_is_reported_without_traceback(window, qtbot):
    def loader():
        raise ZeroDivisionError("boom")

    window.load(loader)
    qtbot.waitUntil(lambda: window.error_box is not None and window.error_box.isVisible())
    assert "ZeroDivisionError" in window.error_box.text()
    assert "Traceback" not in window.error_box.text()
    window.error_box.close()


def test_open_folder_runs_the_folder_loader(qtbot, phantom, monkeypatch, tmp_path):
    volume = phantom.make(warnings=("Slice 7 is missing; distances are interpolated.",))
    asked = []

    def folder_loader(path):
        asked.append(path)
        return volume

    main = QtMainWindow(folder_loader=folder_loader)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    monkeypatch.setattr(
        "medview.app.main_window.QFileDialog.getExistingDirectory",
        lambda *args, **kwargs: str(tmp_path),
    )
    main._open_action.trigger()
    qtbot.waitUntil(lambda: main.slice_view.volume is volume, timeout=5000)
    assert asked == [tmp_path]
    assert "Slice 7 is missing" in main.statusBar().currentMessage()


def test_open_folder_is_disabled_without_a_folder_loader(window):
    assert not window._open_action.isEnabled()


def test_quit_action_closes_the_window(window, qtbot):
    window._quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_run_gui_loads_and_shows_the_volume(qapp, phantom):
    volume = phantom.make()
    shown = []

    def check() -> None:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, QtMainWindow)]
        visible = [w for w in windows if w.isVisible() and w.slice_view.volume is volume]
        if visible:
            shown.append(visible[0])
            qapp.exit(0)
        else:
            QTimer.singleShot(20, check)

    # Closing the last window would post a Quit event that outlives run_gui's event loop and
    # ends every later test's loop at once; exit() from inside the loop leaves nothing behind.
    qapp.setQuitOnLastWindowClosed(False)
    safety = QTimer()
    safety.setSingleShot(True)
    safety.timeout.connect(lambda: qapp.exit(1))
    safety.start(10_000)
    QTimer.singleShot(0, check)
    try:
        assert run_gui(lambda: volume, []) == 0
    finally:
        safety.stop()
        for window in shown:
            window.close()
        qapp.setQuitOnLastWindowClosed(True)
    assert [window.windowTitle() for window in shown] == ["medview — test phantom"]


def test_stale_job_result_is_dropped(qtbot):
    runner = QtJobRunner(max_workers=2)
    first_may_finish = threading.Event()
    results = []
    runner.finished.connect(results.append)
    runner.submit(lambda: (first_may_finish.wait(5), "old")[1])
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(lambda: "new")
    first_may_finish.set()
    qtbot.wait(200)  # give the stale result the chance to (wrongly) arrive
    assert results == ["new"]
    runner.shutdown()


def test_runner_delivers_on_the_gui_thread(qtbot):
    runner = QtJobRunner()
    seen = []
    runner.finished.connect(lambda value: seen.append((value, threading.current_thread())))
    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(lambda: 42)
    assert seen == [(42, threading.main_thread())]
    runner.shutdown()


def test_display_helpers(phantom):
    assert display_patient_name("Doe^Jane^Q") == "Doe, Jane Q"
    assert display_patient_name("Anonymous") == "Anonymous"
    assert banner_text(phantom.make(series_description="plain CT")) == ""
    assert banner_text(phantom.make(series_description="Synthetic phantom")) != ""


def test_render_window_is_freed_when_the_window_is_dropped_unclosed(qtbot, phantom):
    main = QtMainWindow()
    main.show()
    qtbot.waitExposed(main)
    main.show_volume(phantom.make())
    deleted = []
    main.slice_view.render_window.AddObserver("DeleteEvent", lambda *_: deleted.append(True))
    del main
    gc.collect()
    assert deleted == [True]


def test_main_window_shows_linked_mpr_views_and_a_view_menu(window, qtbot, phantom):
    volume = phantom.make()
    window.show_volume(volume)
    mpr = window.mpr
    assert window.slice_view is mpr.view("axial")
    assert mpr.view("coronal").volume is volume and mpr.view("sagittal").volume is volume
    qtbot.waitUntil(lambda: mpr.volume_view.is_ready, timeout=5000)
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["&File", "&View", "&Measure", "&AI", "&Help"]
    window._layout_actions["1x1"].trigger()
    assert mpr.state.layout == "1x1" and not mpr.view("coronal").isVisible()
    window._layout_actions["2x2"].trigger()
    assert mpr.view("coronal").isVisible() and mpr.volume_view.isVisible()
    mpr.preset_actions[0].trigger()  # lung
    assert mpr.view("sagittal").window == (-600.0, 1500.0)
    mpr.state.set_layout("1x2")
    assert window._layout_actions["1x2"].isChecked()
