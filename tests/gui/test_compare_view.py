"""Original | enhanced (issue 6): two grids of one patient, linked by LPS position.

The original is an asymmetric synthetic CT: a soft-tissue body and a small 1000 HU block at
the patient's left, anterior and superior side (LPS x > 0, y < 0, z > 0). The "enhanced"
volumes are that CT resampled (SimpleITK, linear) onto other grids of the same LPS space, as
a super-resolution model's output would be: slice spacing halved (a slice between every two),
and pixel spacing halved with the origin a quarter of an original pixel off. Everything is
checked on real views: slice positions, ``world_to_widget`` and rendered pixels.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from medview.app.main_window import QtMainWindow
from medview.imaging.volume import Volume, VolumeMeta
from medview.view.compare_view import QtCompareView

from gui_widgets import grey_at, shown

pytestmark = pytest.mark.gui

#: The bright block, LPS mm (left, anterior, superior of the grid centre), and its centre.
BLOCK = ((8.0, 16.0), (-16.0, -8.0), (9.5, 20.5))
BLOCK_CENTRE = np.array([12.0, -12.0, 15.0])
AI_LABEL = "AI-generated — not an original acquisition"
AI_LINE = "AI-GENERATED — not for diagnosis"


def make_original(**meta_changes) -> Volume:
    """48 x 48 x 24 voxels of 1 x 1 x 2 mm centred on the LPS origin."""
    shape_zyx, spacing = (24, 48, 48), (1.0, 1.0, 2.0)
    origin = -((np.array(shape_zyx[::-1]) - 1) / 2.0 * np.array(spacing))
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape_zyx), indexing="ij")
    x, y, z = (origin[a] + spacing[a] * index for a, index in enumerate((i, j, k)))
    array = np.full(shape_zyx, -1000, np.int16)
    array[(np.abs(x) < 20) & (np.abs(y) < 20)] = 40
    inside = [(lo < c) & (c < hi) for c, (lo, hi) in zip((x, y, z), BLOCK, strict=True)]
    array[inside[0] & inside[1] & inside[2]] = 1000
    meta = VolumeMeta(modality="CT", units="HU", series_description="original", **meta_changes)
    return Volume(array, spacing, origin, np.eye(3), meta)


def resampled(volume: Volume, spacing, origin, size_ijk, derivation: str) -> Volume:
    """``volume`` resampled (linear) onto another grid of the same LPS space, as derived."""
    image = sitk.Resample(
        volume.to_sitk(),
        [int(n) for n in size_ijk],
        sitk.Transform(),
        sitk.sitkLinear,
        [float(v) for v in origin],
        [float(v) for v in spacing],
        [float(v) for v in volume.direction.ravel()],
        -1000.0,
        sitk.sitkInt16,
    )
    meta = replace(volume.meta, derived=True, derivation=derivation, series_description="enhanced")
    return Volume.from_sitk(image, meta)


def thin_slices(volume: Volume) -> Volume:
    """Slice spacing halved: the original slices and one between every two."""
    di, dj, dk = volume.spacing
    ni, nj, nk = volume.size_ijk
    return resampled(
        volume, (di, dj, dk / 2), volume.origin, (ni, nj, 2 * nk - 1), "super-resolution z x2"
    )


def fine_pixels(volume: Volume) -> Volume:
    """Pixel spacing halved, origin a quarter of an original pixel towards the corner."""
    di, dj, dk = volume.spacing
    ni, nj, nk = volume.size_ijk
    origin = np.asarray(volume.origin) - np.array([di / 4, dj / 4, 0.0])
    return resampled(
        volume, (di / 2, dj / 2, dk), origin, (2 * ni, 2 * nj, nk), "super-resolution xy x2"
    )


ENHANCERS = {"thin-slices": thin_slices, "fine-pixels": fine_pixels}


@pytest.fixture(scope="module")
def _shared_compare(qapp):
    # One widget (two GL contexts) for the module: contexts are slow on a software renderer.
    yield from shown(QtCompareView(), 900, 480)


@pytest.fixture
def compare(_shared_compare, qtbot):
    _shared_compare.set_plane("axial")
    return _shared_compare


def _show(compare: QtCompareView, kind: str) -> tuple[Volume, Volume]:
    original = make_original()
    enhanced = ENHANCERS[kind](original)
    compare.set_volumes(original, enhanced)
    QApplication.processEvents()
    return original, enhanced


def _distance(a: QPointF, b: QPointF) -> float:
    return float(np.hypot(a.x() - b.x(), a.y() - b.y()))


def _assert_same_place(compare: QtCompareView, lps, tolerance_px: float = 2.0) -> None:
    left = compare.original_view.world_to_widget(lps)
    right = compare.enhanced_view.world_to_widget(lps)
    assert _distance(left, right) <= tolerance_px, (left, right)


def _slice_z(view) -> float:
    """LPS z (mm) of the shown axial slice."""
    return float(view.slice_position * view.normal[2])


# -- (a) linked by patient position ------------------------------------------------------------
@pytest.mark.parametrize("kind", list(ENHANCERS))
def test_scrolling_links_by_lps_position_and_the_block_is_at_the_same_place(compare, kind):
    original, enhanced = _show(compare, kind)
    left, right = compare.original_view, compare.enhanced_view
    enhanced_step = enhanced.spacing[2]
    assert _slice_z(right) == pytest.approx(_slice_z(left), abs=enhanced_step / 2 + 1e-6)

    # Scroll the original to the block the way a reader does: to the slice below, then Up.
    below = original.lps_to_index(BLOCK_CENTRE - [0.0, 0.0, original.spacing[2]])
    left.set_slice(round(below[2]))
    QTest.keyClick(left.vtk_widget, Qt.Key.Key_Up)
    QApplication.processEvents()
    assert _slice_z(left) == pytest.approx(BLOCK_CENTRE[2])
    assert abs(_slice_z(right) - _slice_z(left)) <= enhanced_step / 2 + 1e-6
    if kind == "thin-slices":  # not the same index: the enhanced grid has twice the slices
        assert right.slice_index == 2 * left.slice_index != left.slice_index

    _assert_same_place(compare, BLOCK_CENTRE)
    assert grey_at(left, BLOCK_CENTRE) > 200 and grey_at(right, BLOCK_CENTRE) > 200
    # And the other side of the body is dark in both: not a mirrored picture.
    mirrored = BLOCK_CENTRE * [-1.0, -1.0, 1.0]
    _assert_same_place(compare, mirrored)
    assert grey_at(left, mirrored) < 150 and grey_at(right, mirrored) < 150

    # Scrolling the enhanced view moves the original to its nearest slice.
    right.scroll(-3 if kind == "thin-slices" else -2)
    QApplication.processEvents()
    assert abs(_slice_z(left) - _slice_z(right)) <= original.spacing[2] / 2 + 1e-6
    assert _slice_z(left) < BLOCK_CENTRE[2]


def test_zoom_and_pan_are_linked_in_mm(compare):
    _show(compare, "fine-pixels")
    left, right = compare.original_view, compare.enhanced_view
    left.show_point(BLOCK_CENTRE)
    left.zoom_by(2.0)
    left.pan_by(np.array([6.0, -4.0, 0.0]))
    QApplication.processEvents()
    assert left.pixels_per_mm() == pytest.approx(right.pixels_per_mm(), rel=1e-6)
    _assert_same_place(compare, BLOCK_CENTRE)
    assert grey_at(left, BLOCK_CENTRE) > 200 and grey_at(right, BLOCK_CENTRE) > 200
    right.zoom_by(0.8)  # from the other side too
    QApplication.processEvents()
    assert left.pixels_per_mm() == pytest.approx(right.pixels_per_mm(), rel=1e-6)
    _assert_same_place(compare, BLOCK_CENTRE)


@pytest.mark.parametrize("plane", ["coronal", "sagittal"])
def test_coronal_and_sagittal_planes_are_linked_too(compare, plane):
    _show(compare, "thin-slices")
    compare.plane_box.setCurrentIndex(compare.plane_box.findData(plane))
    left, right = compare.original_view, compare.enhanced_view
    assert compare.plane_name == plane and left.plane.name == right.plane.name == plane
    left.show_point(BLOCK_CENTRE)
    QApplication.processEvents()
    along = left.normal
    assert right.slice_position == pytest.approx(left.slice_position, abs=0.5 + 1e-6)
    assert left.slice_position == pytest.approx(BLOCK_CENTRE @ along, abs=0.5 + 1e-6)
    _assert_same_place(compare, BLOCK_CENTRE)
    assert grey_at(left, BLOCK_CENTRE) > 200 and grey_at(right, BLOCK_CENTRE) > 200


# -- (b) window/level --------------------------------------------------------------------------
def _drag(widget, start: QPointF, end: QPointF) -> None:
    button, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, point, buttons in (
        (QEvent.Type.MouseButtonPress, start, button),
        (QEvent.Type.MouseMove, (start + end) / 2, button),
        (QEvent.Type.MouseMove, end, button),
        (QEvent.Type.MouseButtonRelease, end, none),
    ):
        pressed = none if kind == QEvent.Type.MouseMove else button
        event = QMouseEvent(
            kind, point, widget.mapToGlobal(point), pressed, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(widget, event)


def test_window_level_applies_to_both_views(compare):
    _show(compare, "thin-slices")
    left, right = compare.original_view, compare.enhanced_view
    assert right.window == left.window
    before = left.window
    _drag(left.vtk_widget, QPointF(200, 200), QPointF(260, 150))  # a reader's W/L drag
    QApplication.processEvents()
    assert left.window != before
    assert right.window == pytest.approx(left.window)
    right.set_window(-600.0, 1500.0)  # lung, from the enhanced side
    assert left.window == pytest.approx((-600.0, 1500.0))


# -- (c) the AI-generated label ----------------------------------------------------------------
def test_enhanced_side_is_labelled_ai_generated_and_the_original_is_not(compare):
    _show(compare, "fine-pixels")
    enhanced_corner = " ".join(compare.corner_text("enhanced").split())  # on two lines
    assert AI_LABEL in enhanced_corner
    assert AI_LABEL in compare.header_text("enhanced")
    assert "super-resolution xy x2" in compare.header_text("enhanced")
    assert compare.corner_text("original") == "Original"
    assert "AI" not in compare.header_text("original")
    right_title = compare.enhanced_view.overlays.title.GetInput()
    left_title = compare.original_view.overlays.title.GetInput()
    assert right_title.startswith(AI_LINE) and "super-resolution xy x2" in right_title
    assert "AI-GENERATED" not in left_title and "Derived" not in left_title


def test_screenshot_of_the_compare_view(compare, tmp_path):
    from medview.app.screenshot import save_window_png

    _show(compare, "thin-slices")
    compare.original_view.show_point(BLOCK_CENTRE)
    path = save_window_png(
        compare, [compare.original_view, compare.enhanced_view], tmp_path / "compare.png"
    )
    assert path.stat().st_size > 10_000


# -- (d) the main window ----------------------------------------------------------------------
@pytest.fixture
def window(qtbot):
    main = QtMainWindow()
    qtbot.addWidget(main)
    main.resize(1000, 600)
    main.show()
    qtbot.waitExposed(main)
    return main


def test_main_window_compares_a_derived_volume_with_its_source(window, qtbot):
    action = window.compare.action
    assert not action.isEnabled()
    original = make_original(frame_of_reference_uid="1.2.3")
    window.show_volume(original)
    assert not action.isEnabled()
    axial_title = window.mpr.view("axial").overlays.title
    assert "AI-GENERATED" not in axial_title.GetInput()

    enhanced = thin_slices(original)  # what the AI panel's open_volume hands to show_volume
    window.show_volume(enhanced)
    assert action.isEnabled() and window.compare.source is original
    assert axial_title.GetInput().startswith(AI_LINE)
    assert window.banner.isVisible()

    window.mpr.state.set_crosshair(BLOCK_CENTRE)  # the reader was looking at the block
    action.trigger()
    view = window.compare.view
    assert view is not None and view.isVisible() and not window.mpr.isVisible()
    assert view.original is original and view.enhanced is enhanced
    assert _slice_z(view.original_view) == pytest.approx(BLOCK_CENTRE[2])
    assert _slice_z(view.enhanced_view) == pytest.approx(BLOCK_CENTRE[2])
    assert AI_LABEL in view.header_text("enhanced")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view.original_view.setFocus()
    qtbot.keyClick(view.original_view.vtk_widget, Qt.Key.Key_Escape)  # back to the MPR
    assert not view.isVisible() and window.mpr.isVisible() and not action.isChecked()
    action.trigger()
    assert view.isVisible()
    view.close_button.click()
    assert window.mpr.isVisible() and not action.isChecked()

    window.show_volume(make_original())  # another original: nothing to compare any more
    assert not action.isEnabled() and window.compare.source is None
    assert "AI-GENERATED" not in axial_title.GetInput()


def test_derived_volume_of_another_frame_of_reference_is_not_paired(window):
    window.show_volume(make_original(frame_of_reference_uid="1.2.3"))
    other = thin_slices(make_original(frame_of_reference_uid="9.9.9"))
    window.show_volume(other)
    assert not window.compare.action.isEnabled()
