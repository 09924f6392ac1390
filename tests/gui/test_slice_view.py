"""The slice view: radiological convention, scrolling, window/level, labels, readout."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from medview.imaging.volume import WindowPreset
from medview.view.slice_view import CT_DEFAULT_WINDOW, QtSliceView

from gui_widgets import grey_at, shown

pytestmark = pytest.mark.gui

_SIZE = (420, 380)  # not square, so a swapped width/height would show


@pytest.fixture(scope="module")
def _shared_view(qapp):
    # One window for the module: every new OpenGL context compiles its shaders again, which
    # costs more than the tests themselves on a software renderer. set_volume resets the
    # slice, window and camera, so tests do not see each other's state.
    yield from shown(QtSliceView(), *_SIZE)


@pytest.fixture
def view(_shared_view, qtbot):
    return _shared_view


def _grey(rgb: np.ndarray) -> np.ndarray:
    """Pixels that are grey (R = G = B); the yellow annotations are excluded."""
    spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2).astype(int)
    grey = rgb.mean(axis=2)
    grey[spread > 10] = np.nan
    return grey


def _bright_centroid(view: QtSliceView) -> tuple[float, float, int, int]:
    rgb = view.grab_rgb()
    grey = _grey(rgb)
    rows, cols = np.nonzero(np.nan_to_num(grey) > 200)
    assert rows.size > 50, "no bright blob on screen"
    height, width = grey.shape
    return float(cols.mean()), float(rows.mean()), width, height


@pytest.mark.parametrize("orientation", ["LPS", "flip-i", "swap-ij-flip-k"])
def test_left_anterior_blob_is_drawn_right_top(view, phantom, orientation):
    view.set_volume(phantom.make(phantom.directions[orientation]))
    x, y, width, height = _bright_centroid(view)
    # Radiological convention: patient left on screen right, anterior at the top.
    assert x > width / 2 + 20
    assert y < height / 2 - 20
    # The blob is where VTK says its LPS centre projects, and bright there.
    blob = (*phantom.blob_xy, 0.0)
    point = view.world_to_widget(blob)
    assert abs(point.x() - x) < 6 and abs(point.y() - y) < 6
    assert grey_at(view, blob) > 200


@pytest.mark.parametrize("orientation", ["LPS", "flip-i", "swap-ij-flip-k"])
def test_orientation_letters_follow_the_camera(view, phantom, orientation):
    view.set_volume(phantom.make(phantom.directions[orientation]))
    assert view.orientation_labels() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    positions = {edge: actor.GetPosition() for edge, actor in view._edge_actors.items()}
    assert positions["left"][0] < 0.1 and positions["right"][0] > 0.9
    assert positions["top"][1] > 0.9 and positions["bottom"][1] < 0.1


def test_keys_scroll_and_clamp(view, qtbot, phantom):
    view.set_volume(phantom.make())
    assert view.slice_count == 40
    start = view.slice_index
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.slice_index == start + 1
    qtbot.keyClick(view, Qt.Key.Key_Down)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.slice_index == start - 1
    qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.slice_index == start + 9
    for _ in range(5):
        qtbot.keyClick(view, Qt.Key.Key_PageUp)
    assert view.slice_index == 39
    for _ in range(6):
        qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.slice_index == 0
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.slice_index == 0
    assert "Slice 1/40" in view.info_text()


def test_keys_reach_the_view_through_the_vtk_widget(view, qtbot, phantom):
    view.set_volume(phantom.make())
    start = view.slice_index
    with qtbot.waitSignal(view.slice_changed, timeout=1000) as blocker:
        qtbot.keyClick(view.vtk_widget, Qt.Key.Key_Up)
    assert blocker.args == [start + 1]
    # VTK's own key bindings never run ('q' would end the interactor, 'w' wireframe).
    qtbot.keyClick(view.vtk_widget, Qt.Key.Key_Q)
    assert view.isVisible()


def _wheel(view: QtSliceView, notches: int) -> None:
    centre = QPointF(view.vtk_widget.width() / 2, view.vtk_widget.height() / 2)
    event = QWheelEvent(
        centre,
        view.vtk_widget.mapToGlobal(centre),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.vtk_widget, event)


def test_wheel_scrolls_and_clamps(view, phantom):
    view.set_volume(phantom.make())
    start = view.slice_index
    camera_scale = view.renderer.GetActiveCamera().GetParallelScale()
    _wheel(view, 1)
    assert view.slice_index == start + 1
    _wheel(view, -3)
    assert view.slice_index == start - 2
    _wheel(view, 100)
    assert view.slice_index == 39
    # The wheel scrolls; it does not zoom (VTK's default would).
    assert view.renderer.GetActiveCamera().GetParallelScale() == camera_scale


def test_scrolling_moves_through_the_volume(view, phantom):
    volume = phantom.make()
    view.set_volume(volume)
    view.set_slice(0)
    z_first = view.slice_position
    assert f"Pos {z_first:.1f} mm" in view.info_text()
    view.set_slice(39)
    assert view.slice_position - z_first == pytest.approx(39 * 2.5)
    assert z_first == pytest.approx(volume.index_to_lps((0, 0, 0))[2])


def test_default_window_is_ct_soft_tissue_or_the_first_preset(view, phantom):
    view.set_volume(phantom.make())
    assert view.window == CT_DEFAULT_WINDOW
    preset = WindowPreset(center=300.0, width=1500.0, name="BONE")
    view.set_volume(phantom.make(windows=(preset,)))
    assert view.window == (300.0, 1500.0)
    assert "W 1500  L 300" in view.info_text()


def test_set_window_changes_the_grey_level(view, phantom):
    view.set_volume(phantom.make())
    body = (-10.0, 10.0, 0.0)  # soft tissue, away from the blob
    mid_grey = grey_at(view, body)
    assert 100 < mid_grey < 160  # 40 HU at the centre of a 40/400 window
    view.set_window(240.0, 400.0)
    assert grey_at(view, body) < 30  # now at the bottom of the window
    view.set_window(-160.0, 400.0)
    assert grey_at(view, body) > 225


def test_monochrome1_is_shown_inverted(view, phantom):
    view.set_volume(phantom.make(invert_display=True, photometric="MONOCHROME1"))
    assert grey_at(view, (*phantom.blob_xy, 0.0)) < 30
    assert grey_at(view, (-10.0, 10.0, 0.0)) > 100


def _mouse(view: QtSliceView, kind: QEvent.Type, x: float, y: float, buttons) -> None:
    position = QPointF(x, y)
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else buttons
    event = QMouseEvent(
        kind,
        position,
        view.vtk_widget.mapToGlobal(position),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.vtk_widget, event)


def test_left_drag_changes_window_and_level(view, phantom):
    view.set_volume(phantom.make())
    center, width = view.window
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, 100, 100, left)
    _mouse(view, QEvent.Type.MouseMove, 160, 100, left)
    moved_center, moved_width = view.window
    assert moved_width > width and moved_center == center  # horizontal: width only
    _mouse(view, QEvent.Type.MouseMove, 160, 60, left)
    assert view.window[0] > center and view.window[1] == moved_width  # vertical: level only
    _mouse(view, QEvent.Type.MouseButtonRelease, 160, 60, left)
    after = view.window
    _mouse(view, QEvent.Type.MouseMove, 10, 10, Qt.MouseButton.NoButton)
    assert view.window == after  # no drag once the button is up


def test_value_under_the_pointer_is_read_in_lps(view, phantom):
    for orientation in ("LPS", "flip-i"):
        view.set_volume(phantom.make(phantom.directions[orientation]))
        blob = view.world_to_widget((*phantom.blob_xy, 0.0))
        _mouse(view, QEvent.Type.MouseMove, blob.x(), blob.y(), Qt.MouseButton.NoButton)
        assert f"{phantom.blob_hu} HU" in view.info_text()
        body = view.world_to_widget((-10.0, 10.0, 0.0))
        _mouse(view, QEvent.Type.MouseMove, body.x(), body.y(), Qt.MouseButton.NoButton)
        assert f": {phantom.body_hu} HU" in view.info_text()
        lps = view.widget_to_world(body)
        np.testing.assert_allclose(lps[:2], (-10.0, 10.0), atol=1.0)


def test_grab_png_writes_the_picture(view, phantom, tmp_path):
    view.set_volume(phantom.make())
    path = view.grab_png(tmp_path / "shots" / "view.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_close_finalizes_once(qtbot, phantom):
    view = QtSliceView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.set_volume(phantom.make())
    view.close()
    view.finalize()  # idempotent
    view.render()  # a no-op after teardown, not an X error


def test_render_window_is_freed_when_the_view_is_dropped_unclosed(qtbot, phantom):
    # A render window that outlives the test is closed after Xvfb is gone at exit: an X I/O
    # error that makes the whole run fail.
    view = QtSliceView()
    view.show()
    qtbot.waitExposed(view)
    view.set_volume(phantom.make())
    deleted = []
    view.render_window.AddObserver("DeleteEvent", lambda *_: deleted.append(True))
    del view
    gc.collect()
    assert deleted == [True]


def _title_pixels(view: QtSliceView) -> np.ndarray:
    """The top-left quarter of the view, where the patient/study text is drawn."""
    rgb = view.grab_rgb()
    height, width = rgb.shape[:2]
    return rgb[: height // 4, : width // 2].astype(int)


def test_cjk_patient_names_are_drawn_with_a_cjk_font(view, phantom):
    from medview.view.fonts import VTK_FONT_FILE, cjk_font_file

    if not cjk_font_file():
        pytest.skip("no CJK font file: medview installs one (paperang-p2-fonts-cjk)")
    pictures = {}
    for name in ("山田^太郎", "李^小龙"):  # same length: boxes would draw them the same
        view.set_volume(phantom.make(patient_name=name, patient_id="X1"))
        prop = view.overlays.title.GetTextProperty()
        assert prop.GetFontFamily() == VTK_FONT_FILE and prop.GetFontFile() == cjk_font_file()
        pictures[name] = _title_pixels(view)
    first, second = pictures.values()
    # Real glyphs: the two names differ on screen (tofu boxes would be identical).
    assert np.abs(first - second).sum(axis=2).astype(bool).sum() > 50
    # A Latin name goes back to the built-in font.
    view.set_volume(phantom.make(patient_name="Doe^Jane", patient_id="X1"))
    assert view.overlays.title.GetTextProperty().GetFontFamily() != VTK_FONT_FILE
    assert view.overlays.title.GetInput().startswith("Doe, Jane  X1")
