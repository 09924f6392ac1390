"""The workstation window (issue 3): browser dock, import, drops, settings, theme, languages."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_charset_files
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication

from medview.app.i18n import install_translators, resolve_language
from medview.app.main_window import QtMainWindow
from medview.app.theme import apply_theme
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.model.settings import Settings, load_settings, settings_path
from medview.view.study_browser import SERIES_MIME_TYPE

pytestmark = pytest.mark.gui

JP_NAME_SHOWN = "山田 太郎"


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-window") / "demo"
    return write_demo_study(folder, seed=3, size=48, slices=24)


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


@pytest.fixture
def restore_look(qapp):
    """Undo global theme changes (style, palette, style sheet) after the test."""
    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    yield
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setPalette(palette)


def make_window(qtbot, database, settings: Settings | None = None) -> QtMainWindow:
    window = QtMainWindow(database=database, settings=settings or load_settings())
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    qtbot.waitExposed(window)
    return window


def import_with_menu(qtbot, window, folder: Path, monkeypatch) -> object:
    monkeypatch.setattr(
        "medview.app.main_window.QFileDialog.getExistingDirectory",
        lambda *args, **kwargs: str(folder),
    )
    with qtbot.waitSignal(window.importer.finished, timeout=60000) as blocker:
        window._import_folder_action.trigger()
    return blocker.args[0]


def send_drop(widget, mime: QMimeData) -> bool:
    """Drag-enter then drop ``mime`` at the widget's centre; True if the drop was accepted."""
    point = widget.rect().center()
    enter = QDragEnterEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        point.toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


def test_import_from_file_menu_then_double_click_shows_the_volume(
    qtbot, database, demo_study, monkeypatch
):
    window = make_window(qtbot, database)
    summary = import_with_menu(qtbot, window, demo_study.directory, monkeypatch)
    assert summary.instances_added == 24
    assert "24 new images" in window.statusBar().currentMessage()
    browser = window.browser
    qtbot.waitUntil(lambda: browser.series_item(demo_study.series_uid) is not None, timeout=10000)

    tree = browser.tree_view
    index = browser.series_item(demo_study.series_uid).index()
    tree.scrollTo(index)
    centre = tree.visualRect(index).center()
    # A press first: QTest's double click alone does not set the view's pressed index.
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    volume = window.slice_view.volume
    assert volume is not None and volume.shape == (24, 48, 48)
    assert volume.meta.series_uid == demo_study.series_uid
    assert browser.selected_series_uid() == demo_study.series_uid
    # Something is drawn: the demo chest is not one flat grey.
    pixels = window.slice_view.grab_rgb().astype(float)
    assert pixels.std() > 5.0 and pixels.max() > 100


def test_enter_on_a_series_opens_it(qtbot, database, demo_study, monkeypatch):
    window = make_window(qtbot, database)
    import_with_menu(qtbot, window, demo_study.directory, monkeypatch)
    browser = window.browser
    qtbot.waitUntil(lambda: browser.select_series(demo_study.series_uid), timeout=10000)
    browser.tree_view.setFocus()
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        qtbot.keyClick(browser.tree_view, Qt.Key.Key_Return)
    assert window.slice_view.volume.shape == (24, 48, 48)


def test_dropping_a_folder_imports_it_and_dropping_a_series_opens_it(qtbot, database, demo_study):
    window = make_window(qtbot, database)
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(demo_study.directory))])
    with qtbot.waitSignal(window.importer.finished, timeout=60000):
        assert send_drop(window.centralWidget(), files)
    qtbot.waitUntil(lambda: window.browser.series_item(demo_study.series_uid) is not None)
    assert window.slice_view.volume is None  # a desktop drop imports; it does not open

    # Remote URLs and plain text are refused.
    other = QMimeData()
    other.setUrls([QUrl("https://example.org/x.dcm")])
    assert not send_drop(window.centralWidget(), other)

    # The browser's own drag data, dropped on the views, opens the series.
    item = window.browser.series_item(demo_study.series_uid)
    series = window.browser.model.mimeData([item.index()])
    assert series.hasFormat(SERIES_MIME_TYPE)
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        assert send_drop(window.slice_view, series)
    assert window.slice_view.volume.meta.series_uid == demo_study.series_uid


def test_cancelling_an_import_adds_nothing(qtbot, database, demo_study, monkeypatch):
    def endless_scan(paths, *, extract_root=None, workers=None, progress=None, cancel=None):
        # Reads nothing and waits for the user: the test never races a fast real scan.
        if progress:
            progress(0.2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            cancel()
            time.sleep(0.01)
        raise AssertionError("the import was never cancelled")

    monkeypatch.setattr("medview.dicom.importer.scan_paths", endless_scan)
    window = make_window(qtbot, database)
    assert window.import_paths([demo_study.directory], open_main=True)
    progress = window.import_progress
    assert progress.isVisible()
    qtbot.waitUntil(lambda: progress.cancel_button.isEnabled() and progress.bar.value() > 0)
    # A second import while one runs is refused with a sentence, not an exception.
    assert not window.import_paths([demo_study.directory])
    assert "already running" in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.importer.cancelled, timeout=10000):
        qtbot.mouseClick(progress.cancel_button, Qt.MouseButton.LeftButton)
    assert "cancelled" in window.statusBar().currentMessage().lower()
    assert database.counts()["instances"] == 0
    assert window.slice_view.volume is None and window.error_box is None


def test_import_of_a_missing_folder_is_one_sentence(qtbot, database, tmp_path):
    window = make_window(qtbot, database)
    with qtbot.waitSignal(window.importer.failed, timeout=30000):
        window.import_paths([tmp_path / "nowhere"], open_main=True)
    message = window.statusBar().currentMessage()
    assert message.startswith("Import failed:") and "Traceback" not in message
    assert "\n" not in message


def test_layout_last_folder_and_geometry_persist_across_windows(
    qtbot, database, demo_study, monkeypatch
):
    first = make_window(qtbot, database)
    first._layout_actions["1x2"].trigger()
    import_with_menu(qtbot, first, demo_study.directory, monkeypatch)
    first.resize(900, 650)
    qtbot.wait(50)
    first.close()

    saved = load_settings()
    assert saved.default_layout == "1x2"
    assert saved.last_import_folder == str(demo_study.directory)
    assert saved.window_geometry and saved.window_state

    second = make_window(qtbot, database, load_settings())
    assert second.mpr.state.layout == "1x2" and second._layout_actions["1x2"].isChecked()
    asked = []
    monkeypatch.setattr(
        "medview.app.main_window.QFileDialog.getExistingDirectory",
        lambda parent, title, start, *rest: asked.append(start) or "",
    )
    second._import_folder_action.trigger()
    assert asked == [str(demo_study.directory)]
    assert not second.importer.is_running  # the dialog was cancelled


def test_broken_settings_file_gives_defaults(qtbot, database, caplog):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("theme = 'dark\nlanguage = [\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="medview.model.settings"):
        settings = load_settings()
    assert settings == Settings()
    assert any("not valid TOML" in r.getMessage() for r in caplog.records)
    window = make_window(qtbot, database, settings)
    assert window.mpr.state.layout == "2x2"
    window._layout_actions["1x1"].trigger()  # saving replaces the broken file
    assert load_settings().default_layout == "1x1"


def test_dark_theme_is_the_default_and_light_is_persisted(qtbot, qapp, database, restore_look):
    settings = load_settings()
    assert settings.theme == "dark"
    apply_theme(qapp, settings.theme)
    assert "QDockWidget" in qapp.styleSheet()
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 60
    window = make_window(qtbot, database, settings)
    assert window._theme_actions["dark"].isChecked()
    window._theme_actions["light"].trigger()
    assert qapp.styleSheet() == ""
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 150
    assert load_settings().theme == "light"


def test_language_menu_saves_the_choice_for_the_next_start(qtbot, database):
    window = make_window(qtbot, database)
    window._language_actions["zh_CN"].trigger()
    assert load_settings().language == "zh_CN"
    assert "restart" in window.statusBar().currentMessage()
    assert resolve_language("zh_CN") == "zh_CN" and resolve_language("en") == "en"


def test_chinese_translation_and_cjk_patient_names(qtbot, qapp, database):
    translators = install_translators(qapp, "zh_CN")
    try:
        assert translators, "medview_zh_CN.qm did not load"
        window = make_window(qtbot, database)
        menus = [action.text() for action in window.menuBar().actions()]
        assert menus[:2] == ["文件(&F)", "视图(&V)"]
        header = window.browser.model.horizontalHeaderItem(0).text()
        assert header == "姓名 / 描述"
        # A Japanese patient (ISO 2022 IR 87 in the file): the browser and the title show
        # the ideographic name.
        chr_file = Path(get_charset_files("chrH31.dcm")[0])
        with qtbot.waitSignal(window.volume_shown, timeout=60000):
            window.import_paths([chr_file], open_main=True)
        model = window.browser.model
        qtbot.waitUntil(lambda: model.rowCount() > 0)
        assert JP_NAME_SHOWN in model.item(0, 0).text()
        assert JP_NAME_SHOWN in window.windowTitle()
        assert "已导入" in window.statusBar().currentMessage() or window.slice_view.volume
    finally:
        for translator in translators:
            qapp.removeTranslator(translator)


def test_rendered_volume_is_not_blank_after_open_main(qtbot, database, demo_study):
    window = make_window(qtbot, database)
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        window.import_paths([demo_study.directory], open_main=True)
    qtbot.waitUntil(lambda: window.browser.selected_series_uid() == demo_study.series_uid)
    assert window.windowTitle().startswith("medview — ")
    rgb = window.slice_view.grab_rgb()
    assert rgb.ndim == 3 and np.unique(rgb.reshape(-1, 3), axis=0).shape[0] > 10


def test_every_main_window_string_has_a_chinese_translation():
    import ast
    import xml.etree.ElementTree as ET

    import medview.app.main_window as main_window_module
    import medview.app.window_parts as parts_module
    from medview.app.resources import resource_path

    root = ET.parse(resource_path("i18n", "medview_zh_CN.ts")).getroot()
    shipped = {
        message.findtext("source")
        for context in root.iter("context")
        if context.findtext("name") == "QtMainWindow"
        for message in context.iter("message")
        if message.findtext("translation")
    }
    wanted = set()
    for module in (main_window_module, parts_module):
        for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") in ("_tr", "_overlay_text")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                wanted.add(node.args[0].value)
    assert wanted and wanted <= shipped, sorted(wanted - shipped)


def test_first_start_imports_and_opens_the_demo_study(qtbot, database):
    from medview.model.opening import ensure_demo_study

    dirs = app_dirs().ensure()
    ensure_demo_study(dirs, size=48, slices=24)  # small here; the real start writes 512²×300
    window = make_window(qtbot, database)
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        window.open_demo(dirs)
    assert window.slice_view.volume.shape == (24, 48, 48)
    assert window.banner.isVisible()  # the demo is synthetic and says so
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1)


def test_partial_import_is_reported_in_one_sentence(qtbot, database, demo_study, tmp_path):
    import shutil

    folder = tmp_path / "partial"
    shutil.copytree(demo_study.directory, folder)
    # A DICOM preamble and magic, then nothing readable: a broken file, not a skipped one.
    (folder / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff")
    window = make_window(qtbot, database)
    with qtbot.waitSignal(window.importer.finished, timeout=60000):
        window.import_paths([folder])
    message = window.statusBar().currentMessage()
    assert "24 new images" in message and "1 files could not be read (first: broken.dcm" in message
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        window.import_paths([folder], open_main=True)
    # The volume's summary replaced the import sentence; the progress label keeps it.
    label = window.import_progress.label.text()
    assert "1 files could not be read" in label and "\n" not in label
    assert "Traceback" not in message + label and window.import_progress.isVisible()
    assert window.slice_view.volume.shape == (24, 48, 48)


def test_measurement_dock_lists_what_the_views_measure(qtbot):
    """The Measurements dock shows the layout's scene; the Measure menu holds its tools."""
    from medview.app.main_window import QtMainWindow
    from medview.model.measurement_types import Length

    window = QtMainWindow()
    qtbot.addWidget(window)
    panel = window._measure_dock.widget()
    scene = window._mpr.measurement_scene
    assert not window._measure_dock.isVisibleTo(window)  # hidden until there is something
    scene.add(Length((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)))
    qtbot.waitUntil(lambda: panel._table.rowCount() == 1, timeout=2000)
    assert window._measure_dock.isVisibleTo(window)
    titles = [action.text() for action in window.menuBar().actions()]
    assert any("Measure" in title for title in titles)
    window.close()


def _open_demo_series(qtbot, window, demo_study) -> None:
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        window.import_paths([demo_study.directory], open_main=True)


def test_measurements_are_saved_with_the_study_and_come_back(qtbot, database, demo_study):
    from medview.model.measurement_types import Length
    from medview.model.measurements import length_mm

    window = make_window(qtbot, database)
    _open_demo_series(qtbot, window, demo_study)
    scene = window.mpr.measurement_scene
    assert len(scene) == 0
    line = scene.add(Length((0.0, 0.0, 0.0), (12.5, 0.0, 0.0), label="nodule"))
    path = window.sessions.path
    assert path is not None and path.name == f"{window.mpr.volume.meta.study_uid}.json"
    qtbot.waitUntil(path.exists, timeout=3000)  # written shortly after the change
    window.close()

    second = make_window(qtbot, database)
    _open_demo_series(qtbot, second, demo_study)
    (again,) = second.mpr.measurement_scene.items()
    assert again.id == line.id and again.label == "nodule" and length_mm(again) == 12.5
    assert not second.mpr.measurement_scene.can_undo  # loading is not an edit
    second.mpr.measurement_scene.remove(line.id)
    second.close()  # closing writes what is pending at once
    third = make_window(qtbot, database)
    _open_demo_series(qtbot, third, demo_study)
    assert len(third.mpr.measurement_scene) == 0


def test_an_unreadable_session_is_kept_aside_not_overwritten(qtbot, database, demo_study):
    from medview.model.measurements import session_path

    path = session_path(app_dirs(), demo_study.study_uid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"format": broken', encoding="utf-8")
    window = make_window(qtbot, database)
    _open_demo_series(qtbot, window, demo_study)
    assert len(window.mpr.measurement_scene) == 0
    message = window.statusBar().currentMessage()
    (aside,) = path.parent.glob(f"{demo_study.study_uid}.unreadable-*.json")
    assert "could not be read" in message and aside.name in message
    assert aside.read_text(encoding="utf-8") == '{"format": broken'


def test_key_bindings_window_presets_and_left_drag_come_from_the_settings(
    qtbot, database, demo_study, caplog
):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent

    settings = Settings(
        left_drag="pan",
        key_bindings={"tool.length": ["D"], "no.such.action": ["K"]},
        window_presets={"lung": (-500.0, 1400.0), "pe": (100.0, 700.0)},
    )
    window = make_window(qtbot, database, settings)
    _open_demo_series(qtbot, window, demo_study)
    mpr, axial = window.mpr, window.slice_view
    assert "unknown action 'no.such.action'" in caplog.text  # logged, not fatal
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    axial.setFocus()
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_D)
    assert mpr.tool == "length"
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Escape)
    assert mpr.tool == "navigate"
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_1)  # the site's own lung window
    assert mpr.state.window == (-500.0, 1400.0)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_7)  # a preset of their own, on the next key
    assert mpr.state.window == (100.0, 700.0)
    assert any(a.objectName() == "preset.pe" for a in mpr.preset_actions)
    # Left drag pans: the point under the pointer moves with it; the window stays.
    widget = axial.vtk_widget
    start, end = QPointF(200.0, 200.0), QPointF(240.0, 220.0)
    grabbed = axial.widget_to_world(start)
    for kind, point in (
        (QEvent.Type.MouseButtonPress, start),
        (QEvent.Type.MouseMove, (start + end) / 2.0),
        (QEvent.Type.MouseMove, end),
        (QEvent.Type.MouseButtonRelease, end),
    ):
        buttons = (
            Qt.MouseButton.NoButton
            if kind == QEvent.Type.MouseButtonRelease
            else Qt.MouseButton.LeftButton
        )
        event = QMouseEvent(
            kind,
            point,
            widget.mapToGlobal(point),
            Qt.MouseButton.LeftButton,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(widget, event)
    np.testing.assert_allclose(axial.widget_to_world(end), grabbed, atol=0.5)
    assert mpr.state.window == (100.0, 700.0)
    # The View menu switches it back, and remembers.
    action = window._left_drag_actions["window"]
    action.trigger()
    assert axial.left_drag == "window" and load_settings(settings_path()).left_drag == "window"
