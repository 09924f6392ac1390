"""Thick-slab MIP / MinIP / average in the MPR views, in patient LPS mm.

The synthetic volumes are stored with permuted and flipped axes, and carry one-voxel-thin
structures at asymmetric distances from the crosshair along each view's normal: one 4 mm on
one side, one 8 mm on the other. A 10 mm slab must show the first and not the second, a 20 mm
slab both, the thin slice neither; a slab that followed voxel indices instead of LPS, or that
was not centred on the slice, gets one of these wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.slab import Slab
from medview.imaging.volume import Volume, VolumeMeta
from medview.view.mpr_layout import QtMprLayout

from gui_widgets import grey_at, shown

pytestmark = pytest.mark.gui

#: Columns are the i, j, k axes in LPS: i posterior, j left, k inferior.
SWAPPED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
BODY, AIR = 40, -1000
#: (view, unit LPS normal of its slices, where the near and the far structure sit in plane)
NORMALS = {"axial": (0, 0, 1), "coronal": (0, 1, 0), "sagittal": (1, 0, 0)}


@pytest.fixture(scope="module")
def _layout(qapp):
    yield from shown(QtMprLayout(), 900, 760)


@pytest.fixture
def mpr(_layout, qtbot):
    return _layout


def _volume(direction: np.ndarray, value: int, near_mm: float, far_mm: float, axis: int):
    """A 1 mm isotropic body (voxel centres on whole mm, the centre at the LPS origin) with two
    8 mm x 8 mm x one-voxel plates of ``value`` at ``+near_mm`` and ``-far_mm`` along LPS
    ``axis``, off the crosshair lines; the body fills the volume along ``axis``, so its first
    and last slices are body too. Returns (volume, near plate centre, far plate centre)."""
    shape = (49, 49, 49)
    spacing = (1.0, 1.0, 1.0)
    origin = -direction @ ((np.asarray(shape[::-1], float) - 1.0) / 2.0)
    meta = VolumeMeta(modality="CT", units="HU", series_description="slab phantom")
    probe = Volume(np.zeros(shape, np.int16), spacing, origin, direction, meta)
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    lps = probe.index_to_lps(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(*shape, 3)
    in_plane = [a for a in range(3) if a != axis]
    array = np.full(shape, BODY, np.int16)
    array[np.abs(lps[..., in_plane]).max(axis=-1) > 21.0] = AIR
    near, far = np.zeros(3), np.zeros(3)
    near[axis], near[in_plane] = near_mm, 8.0
    far[axis], far[in_plane] = -far_mm, -8.0
    for centre in (near, far):
        box = np.all(np.abs(lps - centre) <= [4.0 if a != axis else 0.4 for a in range(3)], -1)
        array[box] = value
    return Volume(array, spacing, origin, direction, meta), near, far


def _body_point(axis: int) -> np.ndarray:
    """A point of plain body on the crosshair's slice, away from both plates and the lines."""
    point = np.zeros(3)
    in_plane = [a for a in range(3) if a != axis]
    point[in_plane[0]], point[in_plane[1]] = -8.0, 8.0
    return point


def _on_slice(point: np.ndarray, axis: int) -> np.ndarray:
    """``point`` moved onto the slice through the crosshair (LPS 0 along ``axis``)."""
    moved = point.copy()
    moved[axis] = 0.0
    return moved


@pytest.mark.parametrize("name", ["axial", "coronal", "sagittal"])
def test_mip_slab_shows_what_lies_within_half_its_thickness(mpr, name):
    axis = int(np.argmax(NORMALS[name]))
    volume, near, far = _volume(SWAPPED, 1000, 4.0, 8.0, axis)
    mpr.set_volume(volume)
    mpr.state.set_crosshair((0.0, 0.0, 0.0))
    mpr.state.set_window(40.0, 400.0)
    view = mpr.view(name)
    near_px, far_px = _on_slice(near, axis), _on_slice(far, axis)

    thin = grey_at(view, near_px), grey_at(view, far_px)
    mpr.state.set_slab(Slab("mip", 10.0))
    ten = grey_at(view, near_px), grey_at(view, far_px)
    mpr.state.set_slab(Slab("mip", 20.0))
    twenty = grey_at(view, near_px), grey_at(view, far_px)

    body = 255 * (BODY - (40 - 200)) / 400  # the body's grey in this window, about 128
    assert all(abs(g - body) < 20 for g in thin), thin  # neither plate on the thin slice
    assert ten[0] > 240 and abs(ten[1] - body) < 20, ten  # +4 mm inside, -8 mm outside
    assert twenty[0] > 240 and twenty[1] > 240, twenty
    assert "MIP slab 20.0 mm" in view.info_text()


def test_minip_slab_and_its_edge_slices(mpr):
    volume, near, _far = _volume(SWAPPED, -900, 4.0, 8.0, axis=2)
    mpr.set_volume(volume)
    mpr.state.set_crosshair((0.0, 0.0, 0.0))
    mpr.state.set_window(-300.0, 1400.0)
    view = mpr.view("axial")
    mpr.state.set_slab(Slab("minip", 10.0))
    plate, body_point = _on_slice(near, 2), _body_point(2)
    assert grey_at(view, plate) < 20  # the -900 HU plate 4 mm away
    assert abs(grey_at(view, body_point) - 255 * (BODY + 1000) / 1400) < 20

    # At the first and last slices half a centred slab lies outside the volume; the slab is
    # clipped there, so the body stays body instead of the reslicer's background (air).
    for index in (0, view.slice_count - 1):
        view.set_slice(index)
        assert abs(grey_at(view, body_point) - 255 * (BODY + 1000) / 1400) < 20, index
        assert "MinIP slab 5.0 mm" in view.info_text()  # 10 mm asked, 5 mm of slices inside

    # 2 mm below the top slice the slab keeps its 5 mm below the shown slice, where a plate
    # sits 4 mm away (a slab clipped on the wrong side would lose it).
    volume, near, _far = _volume(SWAPPED, -900, 18.0, 8.0, axis=2)
    mpr.set_volume(volume)
    mpr.state.set_window(-300.0, 1400.0)
    mpr.state.set_crosshair((0.0, 0.0, 22.0))
    assert grey_at(view, _on_slice(near, 2)) > 150  # thin slice: body
    mpr.state.set_slab(Slab("minip", 10.0))
    assert grey_at(view, _on_slice(near, 2)) < 20
    assert "MinIP slab 7.0 mm" in view.info_text()


def test_average_slab_and_the_value_under_the_pointer(mpr):
    volume, near, _far = _volume(SWAPPED, 1000, 2.0, 8.0, axis=1)
    mpr.set_volume(volume)
    mpr.state.set_crosshair((0.0, 0.0, 0.0))
    view = mpr.view("coronal")
    mpr.state.set_slab(Slab("mean", 10.0))
    # The pointer's value is the mean of the slab's 11 voxels (1 mm apart, -5 to +5 mm).
    point = view.world_to_widget(_on_slice(near, 1))
    view._update_pointer(point)
    expected = (10 * BODY + 1000) / 11
    assert f": {expected:.1f} HU" in view.info_text()
    assert "Average slab 10.0 mm" in view.info_text()
    mpr.state.set_slab(Slab("mip", 10.0))
    view._update_pointer(point)
    assert ": 1000 HU" in view.info_text()


def test_slab_keys_titles_and_reset(mpr, phantom):
    mpr.set_volume(phantom.make(phantom.directions["flip-i"]))
    actions = {a.objectName(): a for a in mpr.slab_actions}
    assert actions["slab.mip"].shortcut().toString() == "M"
    assert actions["slab.minip"].shortcut().toString() == "N"

    actions["slab.mip"].trigger()
    assert mpr.state.slab == Slab("mip", 10.0)
    assert actions["slab.mip"].isChecked()
    assert "Axial · MIP 10 mm" in mpr._plane_labels["axial"].GetInput()
    actions["slab.thicker"].trigger()
    assert mpr.state.slab == Slab("mip", 15.0)
    actions["slab.minip"].trigger()
    assert mpr.state.slab == Slab("minip", 15.0)
    assert not actions["slab.mip"].isChecked() and actions["slab.minip"].isChecked()
    actions["slab.minip"].trigger()  # the same key again: thin slices
    assert mpr.state.slab is None and not actions["slab.minip"].isChecked()
    assert mpr._plane_labels["axial"].GetInput() == "Axial"

    actions["slab.thicker"].trigger()  # from thin slices: the last mode at its thickness
    assert mpr.state.slab == Slab("minip", 15.0)
    mpr.state.reset()  # R: back to thin slices, and the menu says so
    assert mpr.state.slab is None and mpr.view("axial").slab is None
    assert not any(a.isChecked() for a in mpr.slab_actions)
    mpr.state.set_slab(Slab("mip", 10.0))
    mpr.set_volume(phantom.make())  # a new study starts on thin slices
    assert mpr.view("coronal").slab is None and "MIP" not in mpr.view("coronal").info_text()


def test_colour_volumes_are_never_projected(qtbot):
    from medview.view.slice_view import QtSliceView

    view = QtSliceView()
    qtbot.addWidget(view)
    view.resize(300, 300)
    view.show()
    rgb = Volume(np.zeros((6, 8, 8, 3), np.uint8), (1, 1, 1), (0, 0, 0), np.eye(3), VolumeMeta())
    view.set_slab(Slab("mip", 10.0))  # set before a colour volume arrives (the compare view)
    view.set_volume(rgb)
    assert "slab" not in view.info_text()
    view.set_slab(Slab("minip", 10.0))
    assert view.slab is None
