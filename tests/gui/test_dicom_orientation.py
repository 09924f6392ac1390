"""Acceptance: a 4-slice DICOM series shows the patient's right on the viewer's left.

Three real DICOM series (axial, coronal and sagittal acquisitions, four slices each) of one
synthetic "patient" are written to disk and loaded through the real pipeline (header scan,
grouping into candidates, pixel decoding). The patient holds two blocks whose LPS boxes are
known: a bright block (1000 HU) in the LEFT-ANTERIOR-SUPERIOR octant and a mid-grey block
(40 HU, mid-grey in the 40/400 default window) in the RIGHT-POSTERIOR-INFERIOR octant, in
air. Since they differ on every axis, any flipped or swapped axis of the loader, the reslice
or the camera moves a block to the wrong side of some view.

Conventions checked (radiological, as ``medview.imaging.planes`` and the README state):
axial seen from the feet (patient left on screen right, anterior up), coronal from the front
(patient left on screen right, superior up), sagittal from the patient's left (anterior on
screen left, superior up), as ``test_slice_view`` and ``test_mpr_layout`` assume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid

from medview.dicom.loader import load_candidate, load_preview_slice
from medview.dicom.scan import scan_paths
from medview.dicom.series import Candidate, group_series
from medview.imaging.planes import STANDARD_PLANES
from medview.imaging.volume import Volume
from medview.view.mpr_layout import QtMprLayout

from dicom_factory import AXIAL, CORONAL, SAGITTAL, write_slice
from gui_widgets import shown

pytestmark = pytest.mark.gui

#: In-plane grid (pixels, 1 mm) and the four slice positions along the slice normal (mm).
GRID = 40
PIXEL_MM = 1.0
SLICE_OFFSETS = (-15.0, -5.0, 5.0, 15.0)
AIR_HU, BRIGHT_HU, GREY_HU = -1000, 1000, 40

#: LPS boxes (x, y, z ranges, mm) of the two blocks. L = +x, P = +y, S = +z.
BRIGHT_BOX = ((2.0, 18.0), (-18.0, -2.0), (2.0, 18.0))  # left, anterior, superior
GREY_BOX = ((-18.0, -2.0), (2.0, 18.0), (-18.0, -2.0))  # right, posterior, inferior
#: Points well inside each block whatever the acquisition (4 slices: 5 and 15 mm, or their
#: negatives, lie in the blocks along the slice axis).
BRIGHT_CENTRE = np.array([10.0, -10.0, 10.0])
GREY_CENTRE = np.array([-10.0, 10.0, -10.0])

ACQUISITIONS = {"axial": AXIAL, "coronal": CORONAL, "sagittal": SAGITTAL}

#: Where each block must appear in each view, as (screen side, screen half) of its centroid.
EXPECTED_SIDES = {
    # view: (bright block's horizontal side, vertical side)
    "axial": ("right", "top"),  # patient left -> screen right, anterior -> top
    "coronal": ("right", "top"),  # patient left -> screen right, superior -> top
    "sagittal": ("left", "top"),  # anterior -> screen left, superior -> top
}
EXPECTED_LABELS = {
    "axial": {"left": "R", "right": "L", "top": "A", "bottom": "P"},
    "coronal": {"left": "R", "right": "L", "top": "S", "bottom": "I"},
    "sagittal": {"left": "A", "right": "P", "top": "S", "bottom": "I"},
}
_OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def hu_at(lps: np.ndarray) -> np.ndarray:
    """The synthetic patient: HU at LPS points ``(..., 3)``."""
    values = np.full(lps.shape[:-1], AIR_HU, np.int32)
    for box, hu in ((BRIGHT_BOX, BRIGHT_HU), (GREY_BOX, GREY_HU)):
        inside = np.ones(lps.shape[:-1], bool)
        for axis, (low, high) in enumerate(box):
            inside &= (lps[..., axis] >= low) & (lps[..., axis] <= high)
        values[inside] = hu
    return values


def slice_normal(orientation) -> np.ndarray:
    row, column = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    return np.cross(row, column)


def write_acquisition(folder: Path, orientation) -> list[np.ndarray]:
    """Four slices of the patient in ``orientation``; returns their ImagePositionPatient.

    ImagePositionPatient is the centre of the first transmitted pixel; pixel (r, c) lies at
    ``IPP + c * Δc * row_direction + r * Δr * column_direction`` (PS3.3 C.7.6.2.1.1).
    The grid is centred on the LPS origin; slices step along the slice normal.
    """
    row_dir, col_dir = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = slice_normal(orientation)
    half = (GRID - 1) / 2.0 * PIXEL_MM
    rows, columns = np.meshgrid(np.arange(GRID), np.arange(GRID), indexing="ij")
    uids = {"series_uid": generate_uid(), "study_uid": generate_uid(), "frame_uid": generate_uid()}
    positions = []
    # Files written in reverse order with scrambled names: order on disk never helps.
    for index in reversed(range(len(SLICE_OFFSETS))):
        position = -half * row_dir - half * col_dir + SLICE_OFFSETS[index] * normal
        lps = (
            position
            + columns[..., None] * PIXEL_MM * row_dir
            + rows[..., None] * PIXEL_MM * col_dir
        )
        stored = hu_at(lps) + 1024  # RescaleIntercept -1024
        write_slice(
            folder / f"s{(index * 7919) % 10007:05d}.dcm",
            position=position,
            orientation=orientation,
            index=index,
            rows=GRID,
            columns=GRID,
            pixel_spacing=(PIXEL_MM, PIXEL_MM),
            intercept=-1024.0,
            pixels=stored.astype(np.uint16),
            patient_name="Orientation^Blocks",
            **uids,
        )
        positions.insert(0, position)
    return positions


@pytest.fixture(scope="module")
def acquisitions(tmp_path_factory) -> dict[str, tuple[Volume, list[np.ndarray], Candidate]]:
    """Each acquisition written as DICOM and loaded through scan, grouping and decoding.

    Each gives the volume, the ImagePositionPatient of its files in slice order and the
    examined series (for the one-slice preview of progressive loading).
    """
    result = {}
    for name, orientation in ACQUISITIONS.items():
        folder = tmp_path_factory.mktemp(f"orientation-{name}")
        positions = write_acquisition(folder, orientation)
        scan = scan_paths([folder], workers=1)
        assert len(scan.headers) == 4 and not scan.errors
        (group,) = group_series(scan.headers)
        (candidate,) = group.candidates
        result[name] = (load_candidate(candidate, workers=1), positions, candidate)
    return result


@pytest.fixture(scope="module")
def _shared_layout(qapp):
    # One layout for the module: each OpenGL context compiles its shaders again on a software
    # renderer. set_volume resets crosshair, planes, window, layout and cameras.
    yield from shown(QtMprLayout(), 900, 760)


@pytest.fixture
def mpr(_shared_layout, qtbot):
    return _shared_layout


# -- the loaded volumes (model state) ---------------------------------------------------------
@pytest.mark.parametrize("acquisition", list(ACQUISITIONS))
def test_loader_puts_the_blocks_at_their_lps_places(acquisitions, acquisition):
    volume, positions, _candidate = acquisitions[acquisition]
    orientation = ACQUISITIONS[acquisition]
    assert volume.shape == (4, GRID, GRID)
    assert volume.meta.units == "HU"
    # i along the row direction, j along the column direction, k along the slice normal.
    np.testing.assert_allclose(volume.direction[:, 0], orientation[:3], atol=1e-6)
    np.testing.assert_allclose(volume.direction[:, 1], orientation[3:], atol=1e-6)
    np.testing.assert_allclose(volume.direction[:, 2], slice_normal(orientation), atol=1e-6)
    np.testing.assert_allclose(volume.spacing, (PIXEL_MM, PIXEL_MM, 10.0), atol=1e-6)
    np.testing.assert_allclose(volume.origin, positions[0], atol=1e-6)
    for k, position in enumerate(positions):
        np.testing.assert_allclose(volume.index_to_lps((0.0, 0.0, float(k))), position, atol=1e-6)
    # Every voxel holds the value of the patient at its LPS centre.
    nk, nj, ni = volume.shape
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    lps = volume.index_to_lps(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(nk, nj, ni, 3)
    np.testing.assert_array_equal(volume.array, hu_at(lps))
    for centre, hu in ((BRIGHT_CENTRE, BRIGHT_HU), (GREY_CENTRE, GREY_HU)):
        ijk = np.floor(volume.lps_to_index(centre) + 0.5).astype(int)
        assert volume.array[ijk[2], ijk[1], ijk[0]] == hu


# -- what the views draw ---------------------------------------------------------------------
def _grey_levels(rgb: np.ndarray) -> np.ndarray:
    """Mean grey of each pixel; NaN where it is coloured (crosshair lines, titles)."""
    spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2).astype(int)
    grey = rgb.mean(axis=2)
    grey[spread > 10] = np.nan
    return grey


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    assert rows.size > 40, f"block not on screen ({rows.size} pixels)"
    return float(cols.mean()), float(rows.mean())


def _sides(x: float, y: float, width: int, height: int, margin: float = 20.0):
    horizontal = "right" if x > width / 2 + margin else "left" if x < width / 2 - margin else "?"
    vertical = "top" if y < height / 2 - margin else "bottom" if y > height / 2 + margin else "?"
    return horizontal, vertical


def _on_slice(view, lps: np.ndarray) -> np.ndarray:
    """``lps`` moved along the view's normal onto the slice the view shows."""
    normal = view.normal
    return lps + normal * (view.slice_position - lps @ normal)


def _pixel(view, rgb: np.ndarray, lps: np.ndarray) -> np.ndarray:
    point = view.world_to_widget(lps)
    scale = rgb.shape[1] / view.vtk_widget.width()
    return rgb[round(point.y() * scale), round(point.x() * scale)].astype(float)


@pytest.mark.parametrize("view_name", ["axial", "coronal", "sagittal"])
@pytest.mark.parametrize("acquisition", list(ACQUISITIONS))
def test_blocks_are_drawn_on_the_radiological_sides(mpr, acquisitions, acquisition, view_name):
    volume, _positions, _candidate = acquisitions[acquisition]
    mpr.set_volume(volume)
    view = mpr.view(view_name)
    assert view.plane == STANDARD_PLANES[view_name]
    assert view.window == (40.0, 400.0)  # CT default: the grey block is mid-grey
    assert view.orientation_labels() == EXPECTED_LABELS[view_name]
    if view_name == acquisition:
        assert view.slice_count == 4  # the acquisition plane scrolls through the 4 files

    cases = (
        # (block centre, pixel test on the grey levels, expected sides)
        (BRIGHT_CENTRE, lambda g: g > 220, EXPECTED_SIDES[view_name]),
        (
            GREY_CENTRE,
            lambda g: (g > 100) & (g < 160),
            tuple(_OPPOSITE[s] for s in EXPECTED_SIDES[view_name]),
        ),
    )
    for centre, in_block, sides in cases:
        mpr.state.set_crosshair(centre)  # every view cuts through this block now
        on_slice = _on_slice(view, centre)
        # The view shows a slice inside the block along its normal.
        assert np.linalg.norm(on_slice - centre) <= 5.0 + 1e-6
        assert view.value_at(on_slice) == hu_at(centre[None])[0]
        rgb = view.grab_rgb()
        height, width = rgb.shape[:2]
        mask = np.nan_to_num(in_block(_grey_levels(rgb)), nan=False).astype(bool)
        x, y = _centroid(mask)
        assert _sides(x, y, width, height) == sides, (acquisition, view_name, centre, x, y)
        # Geometry, not only sides: the block centre projects onto the block's pixels...
        scale = width / view.vtk_widget.width()
        point = view.world_to_widget(on_slice)
        px, py = point.x() * scale, point.y() * scale
        grey = _pixel(view, rgb, on_slice).mean()
        assert in_block(np.array([grey]))[0], (acquisition, view_name, centre, grey)
        # ... and near the middle of the drawn block along each screen axis. The block is a
        # 16 mm square in-plane; along a 10 mm slice step it is full only between two slices.
        assert abs(px - x) < 8 * view.pixels_per_mm() * scale
        assert abs(py - y) < 8 * view.pixels_per_mm() * scale
        # The other block is not in this slice: its mirror point is air (black).
        mirror = _on_slice(view, -centre)
        assert _pixel(view, rgb, mirror).mean() < 20


@pytest.mark.parametrize("acquisition", list(ACQUISITIONS))
def test_acquisition_plane_scrolls_through_the_files_in_patient_order(
    mpr, acquisitions, acquisition
):
    volume, positions, _candidate = acquisitions[acquisition]
    mpr.set_volume(volume)
    view = mpr.view(acquisition)
    normal = view.normal
    shown_positions = []
    bright_slices = []
    for index in range(view.slice_count):
        view.set_slice(index)
        shown_positions.append(view.slice_position)
        bright_slices.append(view.value_at(_on_slice(view, BRIGHT_CENTRE)) == BRIGHT_HU)
    # Each file appears once, at its own position along the view normal.
    expected = sorted(float(p @ normal) for p in positions)
    np.testing.assert_allclose(sorted(shown_positions), expected, atol=1e-6)
    # The bright block is in the two slices on the left/anterior/superior side only.
    on_bright_side = [p * (BRIGHT_CENTRE @ normal) > 0 for p in shown_positions]
    assert bright_slices == on_bright_side


@pytest.mark.parametrize("acquisition", list(ACQUISITIONS))
def test_progressive_preview_slice_is_drawn_in_its_plane_with_the_same_orientation(
    mpr, acquisitions, acquisition
):
    """The one-slice preview (progressive loading) goes to the acquisition plane's view and
    shows the patient as the whole series will."""
    volume, positions, candidate = acquisitions[acquisition]
    preview = load_preview_slice(candidate)
    assert preview.shape == (1, GRID, GRID)
    middle = len(positions) // 2
    np.testing.assert_allclose(preview.origin, positions[middle], atol=1e-6)
    np.testing.assert_array_equal(preview.array[0], volume.array[middle])
    mpr.set_volume(volume)
    try:
        assert mpr.show_preview(preview, "Loading…") == acquisition
        view = mpr.view(acquisition)
        assert view.volume is preview and view.plane == STANDARD_PLANES[acquisition]
        assert view.orientation_labels() == EXPECTED_LABELS[acquisition]
        assert view.slice_position == pytest.approx(float(positions[middle] @ view.normal))
        # Slice 2 of 4 lies at +5 mm along the slice normal: which block it cuts depends on
        # the acquisition, and that block must sit where the whole series puts it.
        centre = next(
            c for c in (BRIGHT_CENTRE, GREY_CENTRE) if view.value_at(_on_slice(view, c)) > AIR_HU
        )
        bright = centre is BRIGHT_CENTRE
        in_block = (lambda g: g > 220) if bright else (lambda g: (g > 100) & (g < 160))
        sides = EXPECTED_SIDES[acquisition]
        if not bright:
            sides = tuple(_OPPOSITE[s] for s in sides)
        rgb = view.grab_rgb()
        height, width = rgb.shape[:2]
        mask = np.nan_to_num(in_block(_grey_levels(rgb)), nan=False).astype(bool)
        x, y = _centroid(mask)
        assert _sides(x, y, width, height) == sides
        assert in_block(np.array([_pixel(view, rgb, _on_slice(view, centre)).mean()]))[0]
    finally:
        mpr.set_volume(volume)  # back to the whole series in every view
