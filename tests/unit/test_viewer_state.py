"""The Qt-free viewer state, tested with mock views (ndv style)."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.planes import AXIAL, CORONAL, SAGITTAL, slice_step_mm
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.viewer_state import ViewerState


def _volume(direction=None, shape=(40, 64, 64), spacing=(0.8, 1.0, 2.5), modality="CT"):
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    array = np.zeros(shape, np.int16)
    meta = VolumeMeta(modality=modality)
    return Volume(array, spacing, (-20.0, -30.0, -50.0), direction, meta)


class _MockView:
    """Shows what a slice view would: the slice through the crosshair along its normal."""

    def __init__(self, state: ViewerState, name: str) -> None:
        self.state, self.name, self.changes = state, name, []
        state.add_listener(self.changes.append)

    @property
    def position(self) -> float:
        return float(self.state.crosshair @ self.state.plane(self.name).normal)


@pytest.fixture
def state():
    viewer = ViewerState()
    viewer.set_volume(_volume())
    return viewer


def test_standard_planes_follow_the_radiological_convention():
    # Axial from the feet, coronal from the front, sagittal from the patient's left.
    np.testing.assert_allclose(AXIAL.normal, (0, 0, 1))
    np.testing.assert_allclose(CORONAL.normal, (0, 1, 0))
    np.testing.assert_allclose(SAGITTAL.normal, (-1, 0, 0))
    assert CORONAL.right == (1.0, 0.0, 0.0) and CORONAL.down == (0.0, 0.0, -1.0)
    assert SAGITTAL.right == (0.0, 1.0, 0.0) and SAGITTAL.down == (0.0, 0.0, -1.0)


def test_volume_centres_the_crosshair_and_sets_the_default_window(state):
    volume = state.volume
    np.testing.assert_allclose(state.crosshair, volume.index_to_lps((32, 32, 20)))
    assert state.window == (40.0, 400.0)
    assert state.layout == "2x2"
    assert state.visible_views() == ("axial", "coronal", "sagittal", "3d")


def test_set_crosshair_notifies_once_and_clamps_to_the_volume(state):
    views = [_MockView(state, name) for name in ("axial", "coronal", "sagittal")]
    state.set_crosshair((1.0, 2.0, 3.0))
    state.set_crosshair((1.0, 2.0, 3.0))  # no change, no notification
    assert all(view.changes == ["crosshair"] for view in views)
    assert [view.position for view in views] == pytest.approx([3.0, 2.0, -1.0])
    state.set_crosshair((1e4, 2.0, 3.0))
    top_i = state.volume.index_to_lps((63, 0, 0))[0]
    assert state.crosshair[0] == pytest.approx(top_i)


def test_scroll_moves_one_slice_spacing_along_the_normal(state):
    start = state.crosshair
    state.scroll("axial", 2)
    np.testing.assert_allclose(state.crosshair - start, (0, 0, 5.0))
    state.scroll("coronal", -1)
    np.testing.assert_allclose(state.crosshair - start, (0, -1.0, 5.0))
    state.scroll("sagittal", 1)  # normal is -x (right), spacing 0.8
    np.testing.assert_allclose(state.crosshair - start, (-0.8, -1.0, 5.0))


def test_scroll_follows_the_normal_for_a_flipped_volume():
    state = ViewerState()
    state.set_volume(_volume(np.diag([1.0, 1.0, -1.0])))
    start = state.crosshair
    state.scroll("axial", 1)
    np.testing.assert_allclose(state.crosshair - start, (0, 0, 2.5))


def test_rotate_turns_the_other_planes_about_the_crosshair(state):
    seen = []
    state.add_listener(seen.append)
    before = state.crosshair
    state.rotate("axial", 30.0)
    assert seen == ["planes"] and state.angle("axial") == 30.0
    np.testing.assert_allclose(state.plane("axial").normal, (0, 0, 1))  # unchanged
    coronal = state.plane("coronal")
    np.testing.assert_allclose(np.linalg.norm(coronal.right), 1.0)
    # Rotated about z: still contains the superior direction, normal turned by 30 degrees.
    np.testing.assert_allclose(coronal.down, (0, 0, -1), atol=1e-12)
    assert coronal.normal @ (0, 1, 0) == pytest.approx(np.cos(np.radians(30)))
    np.testing.assert_allclose(state.crosshair, before)  # rotation is about the crosshair
    # An oblique normal steps less than the slice thickness it is closest to.
    step = slice_step_mm(state.volume.spacing, state.volume.direction, coronal.normal)
    assert step == pytest.approx(np.cos(np.radians(30)))
    state.reset()
    assert state.plane("coronal") == CORONAL and state.angle("axial") == 0.0


def test_window_presets_and_invert(state):
    seen = []
    state.add_listener(seen.append)
    state.apply_preset("lung")
    assert state.window == (-600.0, 1500.0) and state.preset == "lung"
    state.apply_preset("4")
    assert state.window == (40.0, 80.0)
    state.set_window(40.0, 80.0)  # same window: nothing to tell
    assert seen == ["window", "window"]
    state.set_window(10.0, 20.0)
    assert state.preset == ""
    with pytest.raises(KeyError):
        state.apply_preset("nonsense")
    state.set_inverted(True)
    assert state.inverted and seen[-1] == "invert"
    state.reset()
    assert not state.inverted and state.window == (40.0, 400.0)


def test_mr_gets_an_automatic_window():
    state = ViewerState()
    volume = _volume(modality="MR")
    volume.array[:] = np.arange(volume.array.size).reshape(volume.array.shape) % 500
    state.set_volume(volume)
    center, width = state.window
    assert 200 < center < 300 and width > 400


def test_layouts_and_maximise(state):
    state.set_layout("1x2")
    assert state.visible_views() == ("axial", "coronal")
    state.set_active("sagittal")
    state.set_layout("1x1")
    assert state.visible_views() == ("sagittal",)
    state.set_layout("2x2")
    state.toggle_maximised("coronal")
    assert state.maximised == "coronal" and state.visible_views() == ("coronal",)
    state.toggle_maximised("coronal")
    assert state.visible_views() == ("axial", "coronal", "sagittal", "3d")
    with pytest.raises(ValueError):
        state.set_layout("3x3")
