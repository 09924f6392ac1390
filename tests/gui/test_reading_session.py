"""Acceptance: a radiologist's reading session in the real main window, on the demo study.

The demo chest CT (synthetic phantom, 128 x 128 x 64, seed 0) is written as real DICOM with
its ``truth.json`` (nodule centres in LPS mm and diameters), imported through the window
and read as a radiologist would: progressive loading, scrolling with the keys, window
presets, a click on a nodule that brings every view to it, a length across a nodule drawn
with the mouse, an ellipse ROI in the liver, undo/redo, layouts and orientation letters.

Everything is asserted on model state (viewer state, volume, measurement scene, the
Measurements dock) and on rendered pixels (``grab_rgb``). One window serves the module: its
OpenGL contexts are slow to create on a software renderer. The tests run in file order; the
``loaded`` fixture imports the study itself if the import test did not run first, and puts
the window back in a known state (2x2, navigate, no measurements, reset view).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from medview.app.main_window import QtMainWindow
from medview.app.screenshot import compose_window_image
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.imaging.volume import Volume
from medview.imaging.windowing import ct_preset
from medview.model.measurements import EllipseRoi, Length, length_mm, roi_stats
from medview.model.roi_stats import find_edges
from medview.view.measure_actors import SELECTED_COLOUR

pytestmark = pytest.mark.gui

SIZE, SLICES = 128, 64
#: The liver of the seed-0 phantom (58 HU, 18 HU noise): uniform over this box, LPS mm.
LIVER_CENTRE = np.array([-80.0, 17.0, -100.0])
LIVER_HU, NOISE_HU = 58.0, 18.0
#: Yellow of the orientation letters and corner texts (medview.view.vtk_widget.TEXT_COLOR).
_TEXT_RGB = np.array([255.0, 217.0, 77.0])


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def session(qapp, tmp_path_factory):
    """The demo study on disk and one main window with its own study database."""
    root = tmp_path_factory.mktemp("reading-session")
    demo = write_demo_study(root / "demo", seed=0, size=SIZE, slices=SLICES)
    truth = json.loads(demo.truth_path.read_text(encoding="utf-8"))
    with StudyDatabase(root / "studies.sqlite") as database:
        window = QtMainWindow(database=database)  # no settings: nothing is saved
        window.resize(1200, 900)
        window.show()
        assert QTest.qWaitForWindowExposed(window)
        yield SimpleNamespace(window=window, demo=demo, truth=truth)
        window.close()
        QApplication.processEvents()


def _import_and_wait(qtbot, window: QtMainWindow, folder) -> None:
    with qtbot.waitSignal(window.volume_shown, timeout=120000):
        assert window.import_paths([folder], open_main=True)


def _is_loaded(window: QtMainWindow) -> bool:
    volume = window.mpr.volume
    return volume is not None and volume.shape == (SLICES, SIZE, SIZE)


@pytest.fixture
def loaded(session, qtbot):
    """The window showing the whole demo series, reset: 2x2, navigate, no measurements."""
    window = session.window
    if not _is_loaded(window):
        _import_and_wait(qtbot, window, session.demo.directory)
    mpr = window.mpr
    mpr.set_tool("navigate")
    scene = mpr.measurement_scene
    for m in scene.items():
        scene.remove(m.id)
    scene.clear_history()
    window._layout_actions["2x2"].trigger()
    mpr.state.set_active("axial")
    mpr.state.reset()
    QApplication.processEvents()
    return session


def _nodule(truth: dict, kind: str = "solid") -> dict:
    """The largest nodule of ``kind`` in truth.json."""
    return max((n for n in truth["nodules"] if n["kind"] == kind), key=lambda n: n["diameter_mm"])


# -- helpers -----------------------------------------------------------------------------------
def _mouse(widget, kind: QEvent.Type, point: QPointF, button=Qt.MouseButton.LeftButton) -> None:
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    pressed = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else button
    event = QMouseEvent(
        kind, point, widget.mapToGlobal(point), pressed, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def _drag(view, start_lps, end_lps, steps: int = 4) -> None:
    start, end = view.world_to_widget(start_lps), view.world_to_widget(end_lps)
    widget = view.vtk_widget
    _mouse(widget, QEvent.Type.MouseButtonPress, start)
    for t in np.linspace(0.0, 1.0, steps + 1)[1:]:
        _mouse(widget, QEvent.Type.MouseMove, start + (end - start) * float(t))
    _mouse(widget, QEvent.Type.MouseButtonRelease, end)


def _click(view, lps) -> None:
    point = view.world_to_widget(lps)
    _mouse(view.vtk_widget, QEvent.Type.MouseButtonPress, point)
    _mouse(view.vtk_widget, QEvent.Type.MouseButtonRelease, point)


def _focus_views(qtbot, window: QtMainWindow) -> None:
    """Shortcuts need the window active and the focus inside the layout."""
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.slice_view.setFocus()


def _on_slice(view, lps) -> np.ndarray:
    """``lps`` moved along the view's normal onto the slice the view shows."""
    lps = np.asarray(lps, float)
    return lps + view.normal * (view.slice_position - lps @ view.normal)


def _patch(view, rgb: np.ndarray, lps, radius_mm: float) -> np.ndarray:
    """The pixels of ``rgb`` within ``radius_mm`` (a square) of an LPS point, as (n, 3)."""
    point = view.world_to_widget(lps)
    scale = rgb.shape[1] / view.vtk_widget.width()
    x, y = point.x() * scale, point.y() * scale
    r = max(1, round(radius_mm * view.pixels_per_mm() * scale))
    x0, y0 = round(x), round(y)
    assert r <= x0 < rgb.shape[1] - r and r <= y0 < rgb.shape[0] - r, "point off screen"
    return rgb[y0 - r : y0 + r + 1, x0 - r : x0 + r + 1].reshape(-1, 3).astype(float)


def _grey_median(pixels: np.ndarray) -> float:
    """Median grey of the grey pixels (R = G = B): crosshair lines and text are left out."""
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    grey = pixels[spread <= 10].mean(axis=1)
    assert grey.size >= 5, "no grey pixels there"
    return float(np.median(grey))


def _grey_of(hu: float, window: tuple[float, float]) -> float:
    """Display grey (0-255) of ``hu`` in a (centre, width) window."""
    centre, width = window
    return float(np.clip((hu - (centre - width / 2.0)) / width * 255.0, 0.0, 255.0))


def _distinct_colours(rgb: np.ndarray) -> int:
    return int(np.unique(rgb.reshape(-1, 3), axis=0).shape[0])


def _qimage_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), np.uint8, count=image.sizeInBytes())
    return data.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3)


def _text_pixels(pixels: np.ndarray) -> int:
    """How many pixels have the yellow of the overlay text."""
    return int(np.sum(np.all(np.abs(pixels - _TEXT_RGB) < 45, axis=1)))


# -- the session -------------------------------------------------------------------------------
def test_import_shows_a_preview_slice_before_the_whole_series(session, qtbot):
    window = session.window
    axial = window.slice_view
    events = []

    def on_preview(preview: Volume) -> None:
        # Runs on the GUI thread when the preview is shown: grab what is on screen now.
        events.append(
            SimpleNamespace(
                kind="preview",
                volume=preview,
                state_volume=window.mpr.volume,
                axial_volume=axial.volume,
                coronal_volume=window.mpr.view("coronal").volume,
                colours=_distinct_colours(axial.grab_rgb()),
                slice_position=axial.slice_position,
            )
        )

    def on_volume(volume: Volume) -> None:
        events.append(SimpleNamespace(kind="volume", volume=volume))

    window.preview_shown.connect(on_preview)
    window.volume_shown.connect(on_volume)
    try:
        assert window.mpr.volume is None
        with qtbot.waitSignals([window.preview_shown, window.volume_shown], timeout=120000):
            assert window.import_paths([session.demo.directory], open_main=True)
    finally:
        window.preview_shown.disconnect(on_preview)
        window.volume_shown.disconnect(on_volume)

    assert [e.kind for e in events] == ["preview", "volume"]
    preview, full = events
    # The preview: one slice, shown in the axial view, while the series is still loading.
    assert preview.volume.shape == (1, SIZE, SIZE)
    assert preview.state_volume is None  # the viewer state has no volume yet
    assert preview.axial_volume is preview.volume
    assert preview.coronal_volume is None  # the other views wait ("Loading…")
    assert preview.colours > 10, "the axial view was blank while the preview was shown"
    # Then the whole series, in every view, the axial view on the preview's slice.
    volume = full.volume
    assert volume.shape == (SLICES, SIZE, SIZE)
    assert volume.meta.series_uid == session.demo.series_uid
    assert window.mpr.volume is volume
    for name in ("axial", "coronal", "sagittal"):
        assert window.mpr.view(name).volume is volume
    preview_z = preview.volume.index_to_lps((0.0, 0.0, 0.0))[2]
    # The preview is the middle file (Instance Number order): one of the two middle slices.
    middle = [k for k in (SLICES // 2 - 1, SLICES // 2)
              if volume.index_to_lps((0.0, 0.0, k))[2] == pytest.approx(preview_z)]  # fmt: skip
    assert len(middle) == 1, "the preview is not at a slice position of the series"
    assert preview.slice_position == pytest.approx(preview_z)
    assert abs(axial.slice_index - middle[0]) <= 1
    # The preview slice is that slice of the volume, voxel for voxel.
    np.testing.assert_array_equal(preview.volume.array[0], volume.array[middle[0]])
    assert _distinct_colours(axial.grab_rgb()) > 10
    assert window.browser.selected_series_uid() == session.demo.series_uid


def test_keys_scroll_the_axial_view_and_carry_the_crosshair(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    volume = mpr.volume
    step = volume.spacing[2]
    start = axial.slice_index
    origin = mpr.state.crosshair
    others = {name: mpr.view(name).slice_index for name in ("coronal", "sagittal")}
    before = axial.grab_rgb()
    expected = [
        (Qt.Key.Key_Up, 1),
        (Qt.Key.Key_Down, 0),
        (Qt.Key.Key_Down, -1),
        (Qt.Key.Key_PageUp, 9),
        (Qt.Key.Key_PageDown, -1),
        (Qt.Key.Key_PageDown, -11),
    ]
    for key, offset in expected:
        qtbot.keyClick(axial.vtk_widget, key)
        assert axial.slice_index == start + offset, key
        crosshair = mpr.state.crosshair
        # The crosshair moved along the axial normal (+z, superior) by whole slices...
        assert crosshair[2] == pytest.approx(origin[2] + offset * step)
        assert crosshair[2] == pytest.approx(axial.slice_position)
        np.testing.assert_allclose(crosshair[:2], origin[:2])
        # ... and the coronal and sagittal views stayed on their slices.
        assert {n: mpr.view(n).slice_index for n in others} == others
        assert f"Slice {start + offset + 1}/{SLICES}" in axial.info_text()
    # Eleven slices (52 mm) lower down, the chest looks different.
    after = axial.grab_rgb()
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 2.0


def test_number_keys_set_the_lung_window_in_every_view(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    volume = mpr.volume
    lung = ct_preset("1")
    assert lung is not None and lung.name == "lung"
    assert mpr.state.window == (40.0, 400.0)  # the file's first VOI window (mediastinum)
    # A point of the right lung on the shown slice (HU well below -700 all around it).
    point = _on_slice(axial, (-100.0, 0.0, 0.0))
    ijk = np.round(volume.lps_to_index(point)).astype(int)
    around = volume.array[ijk[2], ijk[1] - 2 : ijk[1] + 3, ijk[0] - 2 : ijk[0] + 3]
    assert around.max() < -700, "not lung there: the phantom changed"
    before = axial.grab_rgb()
    assert _grey_median(_patch(axial, before, point, 3.0)) < 10  # lung is black at 40/400

    _focus_views(qtbot, window)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_1)
    assert mpr.state.window == lung.window == (-600.0, 1500.0)
    assert mpr.state.preset == "lung"
    for name in ("axial", "coronal", "sagittal"):
        view = mpr.view(name)
        assert view.window == lung.window
        assert "W 1500  L -600" in view.info_text()
    after = axial.grab_rgb()
    expected = _grey_of(float(np.median(around)), lung.window)
    assert _grey_median(_patch(axial, after, point, 3.0)) == pytest.approx(expected, abs=20)
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 10
    # The coronal and sagittal pictures changed too.
    coronal = mpr.view("coronal")
    mpr.state.apply_preset("mediastinum")
    dark = coronal.grab_rgb()
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_1)
    assert np.abs(coronal.grab_rgb().astype(int) - dark.astype(int)).mean() > 10
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_2)
    assert mpr.state.window == (40.0, 400.0) == mpr.view("sagittal").window


def test_click_on_a_nodule_brings_every_view_to_it(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    volume = mpr.volume
    nodule = _nodule(loaded.truth)
    centre = np.asarray(nodule["center_lps"], float)
    radius = nodule["diameter_mm"] / 2.0
    mpr.state.apply_preset("lung")
    # Scroll the axial view to the nodule's slice, then click on the nodule.
    axial.show_point(centre)
    assert abs(axial.slice_position - centre[2]) <= volume.spacing[2] / 2 + 1e-6
    target = _on_slice(axial, centre)
    _click(axial, target)

    crosshair = mpr.state.crosshair
    np.testing.assert_allclose(crosshair, target, atol=0.05)
    assert mpr.state.active == "axial"
    # The coronal and sagittal views jumped to the slices through the nodule centre.
    coronal, sagittal = mpr.view("coronal"), mpr.view("sagittal")
    half_voxel = volume.spacing[0] / 2.0
    assert coronal.slice_position == pytest.approx(centre @ coronal.normal, abs=half_voxel)
    assert sagittal.slice_position == pytest.approx(centre @ sagittal.normal, abs=half_voxel)
    assert coronal.normal @ (0, 1, 0) == pytest.approx(1.0)  # y: the coronal plane
    assert abs(sagittal.normal @ (1, 0, 0)) == pytest.approx(1.0)  # x: the sagittal plane
    # The nodule is drawn (HU > -300: bright in the lung window) where the centre projects,
    # and the lung beside it is darker, in all three views.
    threshold = _grey_of(-300.0, mpr.state.window)
    for view in (axial, coronal, sagittal):
        on_slice = _on_slice(view, centre)
        assert view.value_at(on_slice) > -300
        rgb = view.grab_rgb()
        inside = _grey_median(_patch(view, rgb, on_slice, radius / 3.0))
        assert inside > threshold, (view.plane.name, inside, threshold)
    # The crosshair lines of the other planes cross at the click in the axial view.
    lines = mpr.crosshair_lines("axial")
    assert set(lines.names()) == {"coronal", "sagittal"}
    np.testing.assert_allclose(lines.endpoints("sagittal")[:, 0], crosshair[0], atol=1e-6)


def test_length_across_the_largest_solid_nodule(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    volume = mpr.volume
    nodule = _nodule(loaded.truth)
    centre = np.asarray(nodule["center_lps"], float)
    mpr.state.set_crosshair(centre)
    centre = _on_slice(axial, centre)
    edges = find_edges(volume, centre, (1.0, 0.0, 0.0), threshold=-300.0)
    assert edges is not None
    _focus_views(qtbot, window)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_L)
    assert mpr.tool == "length"
    _drag(axial, edges[0], edges[1])

    (line,) = mpr.measurement_scene.items()
    assert isinstance(line, Length)
    assert line.series_uid == loaded.demo.series_uid
    np.testing.assert_allclose(line.p1, edges[0], atol=0.05)
    np.testing.assert_allclose(line.p2, edges[1], atol=0.05)
    # The diameter from truth.json, within one voxel (the slice is up to half a slice off
    # the centre, and edges are blurred by the phantom's point spread function).
    assert length_mm(line) == pytest.approx(nodule["diameter_mm"], abs=volume.spacing[0])
    # Listed in the Measurements dock, which appeared with it, and drawn in the view.
    dock = window._measure_dock
    qtbot.waitUntil(dock.isVisible)
    assert dock.widget().row_texts() == [("Length", "", f"{length_mm(line):.1f} mm")]
    label = mpr.measure_controller.actors("axial").label(line.id)
    assert label.strip() == f"{length_mm(line):.1f} mm"
    rgb = axial.grab_rgb()
    middle = (np.asarray(line.p1) + np.asarray(line.p2)) / 2.0
    colour = np.asarray(SELECTED_COLOUR) * 255.0
    patch = _patch(axial, rgb, middle, 1.5)
    assert np.any(np.all(np.abs(patch - colour) < 40, axis=1)), "the line is not drawn"


def test_ellipse_roi_in_the_liver(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    volume = mpr.volume
    mpr.state.set_crosshair(LIVER_CENTRE)
    centre = _on_slice(axial, LIVER_CENTRE)
    a, b = 20.0, 15.0  # semi-axes, mm: about 120 voxels of 2.8 mm
    _focus_views(qtbot, window)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_E)
    assert mpr.tool == "ellipse"
    corner = np.array([a, b, 0.0])
    _drag(axial, centre - corner, centre + corner)

    (roi,) = mpr.measurement_scene.items()
    assert isinstance(roi, EllipseRoi)
    np.testing.assert_allclose(roi.center, centre, atol=0.05)
    assert np.linalg.norm(roi.axis_u) == pytest.approx(a, abs=0.05)
    assert np.linalg.norm(roi.axis_v) == pytest.approx(b, abs=0.05)
    stats = roi_stats(volume, roi)
    area = np.pi * a * b
    assert stats.area_mm2 == pytest.approx(area, rel=2e-3)
    assert stats.sampled_area_mm2 == pytest.approx(area, rel=0.12)
    assert stats.voxel_count == pytest.approx(area / volume.spacing[0] ** 2, rel=0.12)
    # Liver: 58 HU with 18 HU noise; the mean of ~120 voxels is within a few HU of it.
    assert stats.mean == pytest.approx(LIVER_HU, abs=6.0)
    assert stats.sd == pytest.approx(NOISE_HU, abs=7.0)
    assert stats.min < stats.mean < stats.max
    # The Measurements dock and the label on screen show the same statistics.
    rows = window._measure_dock.widget().row_texts()
    assert len(rows) == 1 and rows[0][0] == "Ellipse"
    assert f"mean {stats.mean:.0f} HU" in rows[0][2] and f"area {area:.0f} mm²" in rows[0][2]
    label = mpr.measure_controller.actors("axial").label(roi.id)
    assert f"mean {stats.mean:.0f} HU, SD {stats.sd:.0f}, area {area:.0f} mm²" in label


def test_undo_and_redo_keys_remove_and_restore_the_measurement(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    scene = mpr.measurement_scene
    panel = window._measure_dock.widget()
    z = axial.slice_position
    _focus_views(qtbot, window)
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_L)
    _drag(axial, (-60.0, 0.0, z), (60.0, 0.0, z))
    (line,) = scene.items()
    assert length_mm(line) == pytest.approx(120.0, abs=0.1)
    assert panel.row_texts() == [("Length", "", "120.0 mm")]
    shown_ids = set(mpr.measure_controller.actors("axial").shown())
    assert shown_ids == {line.id}
    drawn = axial.grab_rgb()

    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(scene) == 0 and panel.row_texts() == []
    assert not mpr.measure_controller.actors("axial").shown()
    undone = axial.grab_rgb()
    assert np.any(undone != drawn)  # the line left the picture

    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(axial.vtk_widget, Qt.Key.Key_Z, redo)
    assert [m.id for m in scene.items()] == [line.id]
    assert scene.get(line.id) == line
    assert panel.row_texts() == [("Length", "", "120.0 mm")]
    assert set(mpr.measure_controller.actors("axial").shown()) == {line.id}
    # The same line is drawn again (selection colour aside, the same pixels).
    mpr.measurement_scene.select(line.id)
    redone = axial.grab_rgb()
    colour = np.asarray(SELECTED_COLOUR) * 255.0
    on_line = (20.0, 0.0, z)  # away from the crosshair at the centre
    for rgb, expected in ((redone, True), (undone, False)):
        patch = _patch(axial, rgb, on_line, 1.0)
        assert np.any(np.all(np.abs(patch - colour) < 40, axis=1)) == expected


@pytest.mark.parametrize(
    ("layout", "visible"),
    [
        ("1x1", ["axial"]),
        ("1x2", ["axial", "coronal"]),
        ("2x2", ["axial", "coronal", "sagittal", "3d"]),
    ],
)
def test_layouts_change_the_views_on_screen(loaded, qtbot, layout, visible):
    window = loaded.window
    mpr = window.mpr
    window._layout_actions["1x2" if layout == "1x1" else "1x1"].trigger()
    QApplication.processEvents()
    before = _qimage_array(compose_window_image(window, mpr.visible_widgets()))
    widths_before = {name: mpr.widget_for(name).width() for name in visible}

    window._layout_actions[layout].trigger()
    assert mpr.state.layout == layout and window._layout_actions[layout].isChecked()
    widgets = mpr.visible_widgets()
    assert widgets == [mpr.widget_for(name) for name in visible]
    for name in ("axial", "coronal", "sagittal", "3d"):
        assert mpr.widget_for(name).isVisible() == (name in visible), name
    qtbot.waitUntil(lambda: all(w.width() > 100 and w.height() > 100 for w in widgets))
    after = _qimage_array(compose_window_image(window, widgets))
    assert after.shape == before.shape
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 2.0
    # The axial picture fills its new place: 1x1 is about twice as wide as 1x2 or 2x2.
    axial = window.slice_view
    rgb = axial.grab_rgb()
    assert rgb.shape[1] == pytest.approx(axial.vtk_widget.width(), abs=2)
    assert _distinct_colours(rgb) > 10
    if layout == "1x1":
        assert axial.width() > 1.6 * widths_before["axial"]
    else:
        assert axial.width() < 0.7 * widths_before["axial"]


def test_axial_orientation_letters_are_drawn_at_the_edges(loaded, qtbot):
    window = loaded.window
    mpr, axial = window.mpr, window.slice_view
    assert axial.orientation_labels() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert mpr.view("coronal").orientation_labels() == {
        "left": "R", "right": "L", "top": "S", "bottom": "I"
    }  # fmt: skip
    assert mpr.view("sagittal").orientation_labels() == {
        "left": "A", "right": "P", "top": "S", "bottom": "I"
    }  # fmt: skip
    # Crosshair lines away from the edge centres: the sagittal line is yellow like the text.
    mpr.state.set_crosshair(_on_slice(axial, (-100.0, -60.0, 0.0)))
    # The corner texts (same yellow, long lines) go; the letters stay (key O).
    mpr.set_overlays_visible(False)
    try:
        rgb = axial.grab_rgb().astype(float)
    finally:
        mpr.set_overlays_visible(True)
    height, width = rgb.shape[:2]
    band = max(12, round(0.06 * width))
    rows = slice(round(0.44 * height), round(0.56 * height))
    cols = slice(round(0.44 * width), round(0.56 * width))
    edges = {
        "left": rgb[rows, :band],
        "right": rgb[rows, width - band :],
        "top": rgb[: round(0.06 * height), cols],
        "bottom": rgb[height - round(0.06 * height) :, cols],
    }
    counts = {edge: _text_pixels(pixels.reshape(-1, 3)) for edge, pixels in edges.items()}
    assert all(count >= 10 for count in counts.values()), counts
    # Nothing yellow between the letters and the picture: the pixels are the letters'.
    inner = rgb[rows, band : 3 * band].reshape(-1, 3)
    assert _text_pixels(inner) < 5
