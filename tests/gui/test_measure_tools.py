"""Measurement tools in the MPR views, driven with real mouse events (issue 3)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.model.measurements import EllipseRoi, Length, PointProbe, RectangleRoi, length_mm
from medview.model.roi_stats import find_edges
from medview.view.measure_actors import MEASURE_COLOUR, SELECTED_COLOUR
from medview.view.measurement_panel import QtMeasurementPanel
from medview.view.mpr_layout import CINE_FPS, QtMprLayout

from gui_widgets import shown

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def _shared_layout(qapp):
    # One layout for the module: every OpenGL context compiles its shaders again (slow on
    # a software renderer).
    yield from shown(QtMprLayout(), 900, 760)


@pytest.fixture
def mpr(_shared_layout, qtbot):
    layout = _shared_layout
    layout.set_tool("navigate")
    layout.set_cine_playing(False)
    layout.set_cine_fps(CINE_FPS)
    layout.set_overlays_visible(True)
    scene = layout.measurement_scene
    for m in scene.items():
        scene.remove(m.id)
    scene.clear_history()
    return layout


@pytest.fixture(scope="module")
def chest():
    volume, nodules = make_phantom(PhantomSpec(size=128, slices=64, seed=0))
    solid = [n for n in nodules if n.kind == "solid"]
    return volume, max(solid, key=lambda n: n.diameter_mm)


def _mouse(widget, kind: QEvent.Type, point: QPointF, button=Qt.MouseButton.LeftButton):
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    pressed = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else button
    event = QMouseEvent(
        kind, point, widget.mapToGlobal(point), pressed, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def _drag(view, start_lps, end_lps, button=Qt.MouseButton.LeftButton, steps=4):
    start, end = view.world_to_widget(start_lps), view.world_to_widget(end_lps)
    widget = view.vtk_widget
    _mouse(widget, QEvent.Type.MouseButtonPress, start, button)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        _mouse(widget, QEvent.Type.MouseMove, start + (end - start) * float(t), button)
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, button)


def _show_axial(mpr, volume, point):
    mpr.set_volume(volume)
    mpr.state.set_active("axial")
    mpr.state.set_layout("1x1")  # a bigger picture: more pixels per mm
    mpr.state.set_crosshair(point)


def _colour_near(rgb, point, colour, radius=2):
    x, y = round(point.x()), round(point.y())
    patch = rgb[y - radius : y + radius + 1, x - radius : x + radius + 1].reshape(-1, 3)
    target = np.asarray(colour) * 255
    return bool(np.any(np.all(np.abs(patch.astype(float) - target) < 40, axis=1)))


def test_length_across_the_largest_solid_nodule(mpr, chest):
    volume, nodule = chest
    centre = np.asarray(nodule.center_lps, float)
    _show_axial(mpr, volume, centre)
    axial = mpr.view("axial")
    centre = centre + axial.normal * (axial.slice_position - centre @ axial.normal)
    edges = find_edges(volume, centre, (1.0, 0.0, 0.0), threshold=-300.0)
    assert edges is not None
    mpr.set_tool("length")
    _drag(axial, edges[0], edges[1])
    items = mpr.measurement_scene.items()
    assert len(items) == 1 and isinstance(items[0], Length)
    assert length_mm(items[0]) == pytest.approx(nodule.diameter_mm, abs=max(volume.spacing))
    # Drawn on the slice (within half a slice) and labelled with the value.
    label = mpr.measure_controller.actors("axial").label(items[0].id)
    assert label.strip() == f"{length_mm(items[0]):.1f} mm"
    # The line is on screen in the measurement colour (selected after drawing).
    middle = axial.world_to_widget((np.asarray(items[0].p1) + items[0].p2) / 2.0)
    assert _colour_near(axial.grab_rgb(), middle, SELECTED_COLOUR)
    mpr.measurement_scene.select(None)
    assert _colour_near(axial.grab_rgb(), middle, MEASURE_COLOUR)
    # Two slices further on, it is not drawn.
    axial.scroll(2)
    assert items[0].id not in mpr.measure_controller.actors("axial").shown()


def test_ellipse_in_uniform_tissue_undo_redo_delete(mpr, phantom):
    volume = phantom.make()
    _show_axial(mpr, volume, (-10.0, 10.0, 0.0))
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("ellipse")
    _drag(axial, (-16.0, 4.0, z), (-4.0, 16.0, z))  # 12 mm across, inside the 40 HU body
    scene = mpr.measurement_scene
    (roi,) = scene.items()
    assert isinstance(roi, EllipseRoi)
    np.testing.assert_allclose(roi.center, (-10.0, 10.0, z), atol=0.5)
    label = mpr.measure_controller.actors("axial").label(roi.id)
    assert f"mean {phantom.body_hu} HU, SD 0" in label
    assert "area 11" in label  # pi * 6 * 6 = 113 mm²
    undo, redo, delete = mpr.edit_actions
    undo.trigger()
    assert len(scene) == 0 and not mpr.measure_controller.actors("axial").shown()
    redo.trigger()
    assert [m.id for m in scene.items()] == [roi.id]
    # Navigate mode: a click on the outline selects it; Delete removes it.
    mpr.set_tool("navigate")
    scene.select(None)
    edge = axial.world_to_widget(np.asarray(roi.center) + roi.axis_u)
    _mouse(axial.vtk_widget, QEvent.Type.MouseButtonPress, edge)
    _mouse(axial.vtk_widget, QEvent.Type.MouseButtonRelease, edge)
    assert scene.selected == roi.id
    delete.trigger()
    assert len(scene) == 0


def test_rectangle_probe_and_angle(mpr, phantom):
    volume = phantom.make()
    _show_axial(mpr, volume, (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("rectangle")
    _drag(axial, (-20.0, 0.0, z), (-5.0, 10.0, z))
    mpr.set_tool("probe")
    bx, by = phantom.blob_xy
    _drag(axial, (bx, by, z), (bx, by, z), steps=1)
    mpr.set_tool("angle")
    _drag(axial, (-15.0, -15.0, z), (0.0, -15.0, z))  # first arm
    end = axial.world_to_widget((0.0, 0.0, z))
    _mouse(axial.vtk_widget, QEvent.Type.MouseMove, end, Qt.MouseButton.NoButton)
    _mouse(axial.vtk_widget, QEvent.Type.MouseButtonPress, end)
    _mouse(axial.vtk_widget, QEvent.Type.MouseButtonRelease, end)
    rect, point, angle = mpr.measurement_scene.items()
    assert isinstance(rect, RectangleRoi) and isinstance(point, PointProbe)
    actors = mpr.measure_controller.actors("axial")
    assert f"mean {phantom.body_hu} HU" in actors.label(rect.id)
    assert actors.label(point.id).strip().startswith(f"{phantom.blob_hu} HU at (")
    assert actors.label(angle.id).strip() == "90.0°"
    # Esc (navigate) drops a half-drawn measurement.
    mpr.set_tool("length")
    start = axial.world_to_widget((0.0, 0.0, z))
    _mouse(axial.vtk_widget, QEvent.Type.MouseButtonPress, start)
    assert mpr.measure_controller.draft is not None
    mpr.set_tool("navigate")
    assert mpr.measure_controller.draft is None and len(mpr.measurement_scene) == 3


def test_dragging_a_selected_measurement_moves_it_in_one_undo_step(mpr, phantom):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("length")
    _drag(axial, (-10.0, 0.0, z), (10.0, 0.0, z))
    (line,) = mpr.measurement_scene.items()
    mpr.set_tool("navigate")
    _drag(axial, (0.0, 0.0, z), (0.0, 5.0, z))
    (moved,) = mpr.measurement_scene.items()
    np.testing.assert_allclose(moved.p1, (-10.0, 5.0, z), atol=0.2)
    assert length_mm(moved) == pytest.approx(length_mm(line))
    assert mpr.state.window == mpr.view("axial").window  # no window drag on the way
    mpr.undo()
    np.testing.assert_allclose(mpr.measurement_scene.get(line.id).p1, line.p1)


def test_dragging_an_end_handle_moves_that_end_only(mpr, phantom):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("length")
    _drag(axial, (-10.0, 0.0, z), (10.0, 0.0, z))
    (line,) = mpr.measurement_scene.items()
    # Selected after drawing: grab squares around both ends, in the selection colour.
    corner = axial.world_to_widget((10.0, 0.0, z)) + QPointF(3.0, 3.0)
    assert _colour_near(axial.grab_rgb(), corner, SELECTED_COLOUR, radius=1)
    mpr.set_tool("navigate")
    _drag(axial, (10.0, 0.0, z), (10.0, 8.0, z))
    (edited,) = mpr.measurement_scene.items()
    np.testing.assert_allclose(edited.p1, line.p1, atol=1e-6)
    np.testing.assert_allclose(edited.p2, (10.0, 8.0, z), atol=0.3)
    assert length_mm(edited) == pytest.approx(np.hypot(20.0, 8.0), abs=0.3)
    mpr.undo()  # one drag, one undo step
    np.testing.assert_allclose(mpr.measurement_scene.get(line.id).p2, line.p2)


def test_measurement_shown_in_the_views_whose_plane_contains_it(mpr, phantom):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    mpr.state.set_layout("2x2")
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("length")
    _drag(axial, (-10.0, 0.0, z), (10.0, 0.0, z))  # along x: also in the coronal plane y=0
    (line,) = mpr.measurement_scene.items()
    controller = mpr.measure_controller
    assert line.id in controller.actors("coronal").shown()
    assert line.id not in controller.actors("sagittal").shown()


def test_panel_lists_edits_and_syncs_selection(mpr, phantom, qtbot):
    volume = phantom.make()
    _show_axial(mpr, volume, (0.0, 0.0, 0.0))
    panel = QtMeasurementPanel(mpr.measurement_scene, lambda: mpr.volume)
    qtbot.addWidget(panel)
    panel.activated.connect(mpr.show_measurement)
    axial = mpr.view("axial")
    z = axial.slice_position
    mpr.set_tool("length")
    _drag(axial, (-10.0, 0.0, z), (10.0, 0.0, z))
    (line,) = mpr.measurement_scene.items()
    assert panel.row_texts() == [("Length", "", "20.0 mm")]
    # Drawing selected it: the panel row follows; the panel's selection goes to the scene.
    assert panel.table.selectedIndexes()[0].row() == 0
    panel.table.clearSelection()
    assert mpr.measurement_scene.selected is None
    panel.table.selectRow(0)
    assert mpr.measurement_scene.selected == line.id
    panel.table.item(0, 1).setText("aorta")  # as the editor does
    assert mpr.measurement_scene.get(line.id).label == "aorta"
    assert "aorta: 20.0 mm" in mpr.measure_controller.actors("axial").label(line.id)
    mpr.undo()
    assert panel.row_texts()[0][1] == ""


def test_overlays_scale_bar_and_toggle(mpr, phantom):
    volume = phantom.make(patient_name="Doe^Jane", patient_id="ID42")
    _show_axial(mpr, volume, (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    title = axial.overlays.title.GetInput()
    assert "Doe, Jane" in title and "ID42" in title and "CT test phantom" in title
    info = axial.info_text()
    assert "Slice " in info and "Thickness 2.50 mm" in info and "Zoom 1.00×" in info
    assert axial.overlays.bar_mm > 0 and axial.overlays.bar.GetVisibility()
    left, right = axial.overlays.scale_bar_pixels()
    bar_px = axial.overlays.bar_mm * axial.pixels_per_mm() * axial.vtk_widget.devicePixelRatioF()
    assert right - left == pytest.approx(bar_px, rel=0.02)
    toggle = next(a for a in mpr.view_actions if a.shortcut().toString() == "O")
    toggle.trigger()
    assert not mpr.overlays_visible
    assert not axial.overlays.bar.GetVisibility() and not axial.overlays.info.GetVisibility()
    toggle.trigger()
    assert axial.overlays.info.GetVisibility()


def test_ctrl_wheel_zooms_and_right_middle_drag_zoom_and_pan(mpr, phantom):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    widget = axial.vtk_widget
    slice_before, bar_before = axial.slice_index, axial.overlays.bar_mm
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(5):
        event = QWheelEvent(
            centre,
            widget.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.ControlModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)
    assert axial.zoom == pytest.approx(1.15**5, rel=1e-3)
    assert axial.slice_index == slice_before  # Ctrl+wheel does not scroll
    assert axial.overlays.bar_mm < bar_before  # the scale bar follows the zoom
    assert f"Zoom {axial.zoom:.2f}×" in axial.info_text()
    zoom = axial.zoom
    up = centre + QPointF(0, -60)
    _drag(
        axial, axial.widget_to_world(centre), axial.widget_to_world(up), Qt.MouseButton.RightButton
    )
    assert axial.zoom != pytest.approx(zoom)
    focal = np.asarray(axial.renderer.GetActiveCamera().GetFocalPoint())
    side = centre + QPointF(50, 0)
    _drag(
        axial,
        axial.widget_to_world(centre),
        axial.widget_to_world(side),
        Qt.MouseButton.MiddleButton,
    )
    assert not np.allclose(axial.renderer.GetActiveCamera().GetFocalPoint(), focal)
    assert len(mpr.measurement_scene) == 0


def test_cine_plays_loops_and_stops(mpr, phantom, qtbot):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    axial.set_slice(axial.slice_count - 3)  # near the end: it must loop to the start
    start = axial.slice_index
    assert mpr.cine_fps == 10.0
    mpr.set_cine_fps(25.0)
    seen = []
    axial.slice_changed.connect(seen.append)
    play = mpr.cine_actions[0]
    play.trigger()
    assert mpr.cine_playing
    qtbot.waitUntil(lambda: len(seen) >= 6, timeout=5000)
    play.trigger()
    assert not mpr.cine_playing
    axial.slice_changed.disconnect(seen.append)
    assert seen[:3] == [start + 1, start + 2, 0]
    assert mpr.state.crosshair @ axial.normal == pytest.approx(axial.slice_position)
    mpr.cine_actions[1].trigger()  # faster
    assert mpr.cine_fps > 25.0


def test_keys_pick_tools_edit_and_play(mpr, phantom, qtbot):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    # Shortcuts need the window to be active and the focus inside the layout.
    mpr.activateWindow()
    qtbot.waitUntil(mpr.isActiveWindow)
    axial.setFocus()
    keys = {
        Qt.Key.Key_L: "length",
        Qt.Key.Key_A: "angle",
        Qt.Key.Key_E: "ellipse",
        Qt.Key.Key_G: "rectangle",
        Qt.Key.Key_P: "probe",
        Qt.Key.Key_Escape: "navigate",
    }
    for key, tool in keys.items():
        qtbot.keyClick(axial.vtk_widget, key)
        assert mpr.tool == tool
    # No clash with the older keys: 1 is still a preset, I still inverts.
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_1)
    assert mpr.state.window == (-600.0, 1500.0)
    z = axial.slice_position
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_L)
    _drag(axial, (-10.0, 0.0, z), (10.0, 0.0, z))
    assert len(mpr.measurement_scene) == 1
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(mpr.measurement_scene) == 0
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(mpr.measurement_scene) == 1
    mpr.measurement_scene.select(mpr.measurement_scene.items()[0].id)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Delete)
    assert len(mpr.measurement_scene) == 0
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Z, mods)
    assert len(mpr.measurement_scene) == 0
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_O)
    assert not mpr.overlays_visible
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_O)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Space)
    assert mpr.cine_playing
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Space)
    assert not mpr.cine_playing
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Minus)
    assert mpr.cine_fps == 9.0


def test_probe_mode_shows_value_and_lps_while_hovering(mpr, phantom):
    _show_axial(mpr, phantom.make(), (0.0, 0.0, 0.0))
    axial = mpr.view("axial")
    mpr.set_tool("probe")
    bx, by = phantom.blob_xy
    point = axial.world_to_widget((bx, by, axial.slice_position))
    _mouse(axial.vtk_widget, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton)
    assert f"mm LPS: {phantom.blob_hu} HU" in axial.info_text()
    assert len(mpr.measurement_scene) == 0  # hovering places nothing


@pytest.mark.parametrize(
    ("limit", "expected"), [(0.0, 0.0), (0.7, 0.5), (1.0, 1.0), (37.0, 20.0), (99.0, 50.0)]
)
def test_scale_bar_lengths_are_round_numbers(limit, expected):
    from medview.view.slice_overlays import nice_length

    assert nice_length(limit) == pytest.approx(expected)
