"""Linked MPR views: orientation of each plane, crosshair clicks, layouts, presets, maximise."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from medview.view.mpr_layout import QtMprLayout

from gui_widgets import shown

pytestmark = pytest.mark.gui

_ORIENTATIONS = ["LPS", "flip-i", "swap-ij-flip-k"]


@pytest.fixture(scope="module")
def _shared_layout(qapp):
    # One layout for the module: each OpenGL context compiles its shaders again on a software
    # renderer. set_volume resets crosshair, planes, window, layout and cameras.
    yield from shown(QtMprLayout(), 900, 760)


@pytest.fixture
def mpr(_shared_layout, qtbot):
    return _shared_layout


def _bright_centroid(rgb: np.ndarray) -> tuple[float, float]:
    spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2).astype(int)
    grey = rgb.mean(axis=2)
    rows, cols = np.nonzero((grey > 200) & (spread <= 10))  # grey pixels only, no lines/text
    assert rows.size > 30, "no bright blob on screen"
    return float(cols.mean()), float(rows.mean())


def _mouse(widget, kind: QEvent.Type, point: QPointF, buttons=Qt.MouseButton.LeftButton) -> None:
    event = QMouseEvent(
        kind, point, widget.mapToGlobal(point), buttons, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def _click(view, lps) -> None:
    point = view.world_to_widget(lps)
    _mouse(view.vtk_widget, QEvent.Type.MouseButtonPress, point)
    _mouse(view.vtk_widget, QEvent.Type.MouseButtonRelease, point)


@pytest.mark.parametrize("orientation", _ORIENTATIONS)
def test_left_anterior_blob_is_on_the_right_side_of_each_plane(mpr, phantom, orientation):
    mpr.set_volume(phantom.make(phantom.directions[orientation]))
    bx, by = phantom.blob_xy
    mpr.state.set_crosshair((bx, by, 0.0))  # every plane now cuts through the blob
    results = {}
    for name in ("axial", "coronal", "sagittal"):
        view = mpr.view(name)
        rgb = view.grab_rgb()
        x, y = _bright_centroid(rgb)
        results[name] = (x / rgb.shape[1], y / rgb.shape[0])
    # Axial: patient left on screen right, anterior up.
    assert results["axial"][0] > 0.55 and results["axial"][1] < 0.45
    # Coronal (seen from the front): patient left on screen right.
    assert results["coronal"][0] > 0.55
    # Sagittal (seen from the patient's left): anterior on screen left.
    assert results["sagittal"][0] < 0.45


@pytest.mark.parametrize("orientation", ["LPS", "swap-ij-flip-k"])
def test_orientation_letters_of_each_plane(mpr, phantom, orientation):
    mpr.set_volume(phantom.make(phantom.directions[orientation]))
    assert mpr.view("axial").orientation_labels() == {
        "left": "R", "right": "L", "top": "A", "bottom": "P"
    }  # fmt: skip
    assert mpr.view("coronal").orientation_labels() == {
        "left": "R", "right": "L", "top": "S", "bottom": "I"
    }  # fmt: skip
    assert mpr.view("sagittal").orientation_labels() == {
        "left": "A", "right": "P", "top": "S", "bottom": "I"
    }  # fmt: skip


@pytest.mark.parametrize("orientation", ["LPS", "flip-i"])
def test_click_in_axial_moves_the_other_views_to_the_crosshair(mpr, phantom, orientation):
    volume = phantom.make(phantom.directions[orientation])
    mpr.set_volume(volume)
    axial = mpr.view("axial")
    z_before = axial.slice_position
    bx, by = phantom.blob_xy
    _click(axial, (bx, by, z_before))
    crosshair = mpr.state.crosshair
    np.testing.assert_allclose(crosshair[:2], (bx, by), atol=1.0)
    assert crosshair[2] == pytest.approx(z_before)
    assert axial.slice_position == pytest.approx(z_before)  # a click does not scroll
    # Coronal shows the y plane, sagittal the x plane through the crosshair (nearest slice).
    assert mpr.view("coronal").slice_position == pytest.approx(crosshair[1], abs=0.5)
    assert mpr.view("sagittal").slice_position == pytest.approx(-crosshair[0], abs=0.5)
    # The clicked point is now bright in the coronal and sagittal views too.
    for name in ("coronal", "sagittal"):
        view = mpr.view(name)
        assert view.value_at(crosshair) == phantom.blob_hu
    # The crosshair lines of the other planes cross at the click in each view.
    lines = mpr.crosshair_lines("axial")
    assert set(lines.names()) == {"coronal", "sagittal"}
    sagittal_line = lines.endpoints("sagittal")
    np.testing.assert_allclose(sagittal_line[:, 0], crosshair[0], atol=1e-6)  # runs along y


def test_left_drag_is_still_window_level_and_is_shared(mpr, phantom):
    mpr.set_volume(phantom.make())
    axial = mpr.view("axial")
    crosshair = mpr.state.crosshair
    widget = axial.vtk_widget
    _mouse(widget, QEvent.Type.MouseButtonPress, QPointF(100, 100))
    _mouse(widget, QEvent.Type.MouseMove, QPointF(160, 100))
    _mouse(widget, QEvent.Type.MouseButtonRelease, QPointF(160, 100))
    np.testing.assert_allclose(mpr.state.crosshair, crosshair)  # a drag is not a click
    assert mpr.state.window[1] > 400.0
    assert mpr.view("coronal").window == mpr.state.window == axial.window


def test_scrolling_one_view_moves_the_crosshair(mpr, phantom, qtbot):
    mpr.set_volume(phantom.make())
    coronal = mpr.view("coronal")
    before = mpr.state.crosshair
    qtbot.keyClick(coronal.vtk_widget, Qt.Key.Key_Up)
    after = mpr.state.crosshair
    assert after[1] == pytest.approx(coronal.slice_position)
    assert abs(after[1] - before[1]) == pytest.approx(1.0, abs=0.5)
    np.testing.assert_allclose(after[[0, 2]], before[[0, 2]])
    mpr.state.scroll("axial", 2)
    assert mpr.view("axial").slice_position == pytest.approx(mpr.state.crosshair[2])


def test_layouts_change_the_visible_views(mpr, phantom, qtbot):
    mpr.set_volume(phantom.make())
    assert all(w.isVisible() for w in mpr.visible_widgets()) and len(mpr.visible_widgets()) == 4
    mpr.state.set_layout("1x2")
    assert mpr.view("axial").isVisible() and mpr.view("coronal").isVisible()
    assert not mpr.view("sagittal").isVisible() and not mpr.volume_view.isVisible()
    mpr.state.set_active("sagittal")
    mpr.state.set_layout("1x1")
    assert mpr.view("sagittal").isVisible() and not mpr.view("axial").isVisible()
    qtbot.waitUntil(lambda: mpr.view("sagittal").width() > 800)
    mpr.state.set_layout("2x2")
    assert all(w.isVisible() for w in mpr.visible_widgets())


def test_double_click_maximises_and_restores(mpr, phantom, qtbot):
    mpr.set_volume(phantom.make())
    coronal = mpr.view("coronal")
    centre = QPointF(coronal.vtk_widget.width() / 2, coronal.vtk_widget.height() / 2)
    _mouse(coronal.vtk_widget, QEvent.Type.MouseButtonDblClick, centre)
    assert mpr.state.maximised == "coronal"
    assert coronal.isVisible() and not mpr.view("axial").isVisible()
    assert not mpr.volume_view.isVisible()
    qtbot.waitUntil(lambda: coronal.width() > 800)
    centre = QPointF(coronal.vtk_widget.width() / 2, coronal.vtk_widget.height() / 2)
    _mouse(coronal.vtk_widget, QEvent.Type.MouseButtonDblClick, centre)
    assert mpr.state.maximised is None
    assert all(w.isVisible() for w in mpr.visible_widgets()) and len(mpr.visible_widgets()) == 4


def test_number_keys_apply_presets_r_resets_i_inverts(mpr, phantom, qtbot):
    mpr.set_volume(phantom.make())
    axial = mpr.view("axial")
    # Shortcuts need the window to be active and the focus inside the layout.
    mpr.activateWindow()
    qtbot.waitUntil(mpr.isActiveWindow)
    axial.setFocus()
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_1)
    assert mpr.state.window == (-600.0, 1500.0)
    assert axial.window == mpr.view("sagittal").window == (-600.0, 1500.0)
    assert "W 1500  L -600" in mpr.view("coronal").info_text()
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_3)
    assert axial.window == (400.0, 1800.0)
    body = (-10.0, 10.0, axial.slice_position)
    point = axial.world_to_widget(body)
    before = axial.grab_rgb()[round(point.y()), round(point.x())].mean()
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_I)
    assert mpr.state.inverted
    after = axial.grab_rgb()[round(point.y()), round(point.x())].mean()
    assert abs(after - (255 - before)) < 20
    mpr.state.set_crosshair((5.0, 5.0, 5.0))
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_R)
    assert mpr.state.window == (40.0, 400.0) and not mpr.state.inverted
    np.testing.assert_allclose(mpr.state.crosshair, phantom.make().index_to_lps((32, 32, 20)))


def test_oblique_rotation_turns_the_other_planes(mpr, phantom):
    mpr.set_volume(phantom.make())
    mpr.state.rotate("axial", 90.0)
    coronal = mpr.view("coronal")
    # Coronal turned 90 degrees about the axial normal looks along -x or +x: sagittal-like.
    assert abs(coronal.normal[0]) == pytest.approx(1.0)
    labels = coronal.orientation_labels()
    assert labels["top"] == "S" and {labels["left"], labels["right"]} == {"A", "P"}
    mpr.state.reset()
    assert mpr.view("coronal").orientation_labels()["left"] == "R"


def _crosshair_line_angle(view, crosshair, other_normal) -> float:
    """Screen angle (degrees, Qt's y down) of the line where another plane cuts ``view``."""
    direction = np.cross(view.normal, other_normal)
    a = view.world_to_widget(crosshair)
    b = view.world_to_widget(np.asarray(crosshair) + direction * 10.0)
    return float(np.degrees(np.arctan2(b.y() - a.y(), b.x() - a.x())))


def test_dragging_a_crosshair_line_turns_it_with_the_pointer(mpr, phantom):
    mpr.set_volume(phantom.make())
    mpr.state.set_layout("1x1")
    mpr.state.set_active("axial")
    axial = mpr.view("axial")
    crosshair = np.asarray(mpr.state.crosshair, float)
    centre = axial.world_to_widget(crosshair)
    # The coronal plane cuts the axial view along a horizontal line (screen x): grab it
    # 80 pixels right of the centre and carry it round to 80 pixels below the centre.
    start = centre + QPointF(80.0, 0.0)
    assert mpr.measure_controller.tool == "navigate"
    widget = axial.vtk_widget
    window_before = mpr.state.window
    _mouse(widget, QEvent.Type.MouseButtonPress, start)
    for degrees in np.linspace(0.0, 30.0, 7)[1:]:
        radians = np.radians(degrees)
        point = centre + QPointF(80.0 * np.cos(radians), 80.0 * np.sin(radians))
        _mouse(widget, QEvent.Type.MouseMove, point)
    _mouse(widget, QEvent.Type.MouseButtonRelease, point)
    assert not mpr.rotator.dragging
    # The line follows the pointer: now at +30 degrees on screen (clockwise, y down).
    coronal_normal = mpr.state.plane("coronal").normal
    angle = _crosshair_line_angle(axial, crosshair, coronal_normal) % 180.0
    assert angle == pytest.approx(30.0, abs=1.0)
    assert abs(mpr.state.angle("axial")) == pytest.approx(30.0, abs=1.0)
    # The coronal view itself now looks obliquely; sagittal turned with it; still orthogonal.
    assert abs(mpr.view("coronal").normal[1]) == pytest.approx(np.cos(np.radians(30.0)), abs=0.02)
    assert abs(coronal_normal @ mpr.state.plane("sagittal").normal) < 1e-6
    assert mpr.state.window == window_before  # the drag was not a window/level drag
    # A press near the centre is still a crosshair click, not a rotation.
    near = centre + QPointF(5.0, 3.0)
    _mouse(widget, QEvent.Type.MouseButtonPress, near)
    _mouse(widget, QEvent.Type.MouseButtonRelease, near)
    assert abs(mpr.state.angle("axial")) == pytest.approx(30.0, abs=1.0)
    assert not mpr.rotator.dragging
    mpr.state.reset()
