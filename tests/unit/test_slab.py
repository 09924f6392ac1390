"""Thick-slab sampling and the value under the pointer (medview.imaging.slab), no display."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.slab import (
    Slab,
    parse_slab,
    sample_offsets,
    slab_value,
    span_mm,
    step_thickness,
)
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.viewer_state import ViewerState


def test_samples_are_the_slice_positions_within_half_the_thickness():
    offsets = sample_offsets(10.0, 1.0)
    assert offsets[0] == -5.0 and offsets[-1] == 5.0 and len(offsets) == 11
    assert np.allclose(np.diff(offsets), 1.0)
    assert 0.0 in offsets  # the shown slice itself
    # 2.5 mm slices: 10 mm reaches two slices each side.
    assert np.allclose(sample_offsets(10.0, 2.5), np.arange(-2, 3) * 2.5)
    # Thinner than a slice: the slice alone.
    assert np.allclose(sample_offsets(2.0, 2.5), [0.0])
    assert span_mm(sample_offsets(2.0, 2.5)) == 0.0


def test_samples_stop_at_the_volume_ends():
    # The first slice 3 mm below the shown one, the last 20 mm above it.
    offsets = sample_offsets(10.0, 1.0, low_mm=-3.0, high_mm=20.0)
    assert offsets[0] == -3.0 and offsets[-1] == 5.0
    assert span_mm(offsets) == 8.0
    assert np.allclose(sample_offsets(10.0, 1.0, low_mm=0.0, high_mm=0.0), [0.0])


def _volume() -> Volume:
    """1 x 1 x 2 mm voxels stored with k running inferior (direction flips z): values rise
    with k, so the superior end of a slab holds the smallest values."""
    direction = np.diag([1.0, 1.0, -1.0])
    array = np.zeros((11, 3, 3), np.int16)
    array += (np.arange(11) * 10).astype(np.int16)[:, None, None]
    return Volume(array, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), direction, VolumeMeta(modality="CT"))


def test_slab_value_projects_along_the_lps_normal():
    volume = _volume()
    centre = volume.index_to_lps(np.array([1.0, 1.0, 5.0]))  # k = 5, value 50
    normal = np.array([0.0, 0.0, 1.0])  # superior
    offsets = sample_offsets(4.0, 2.0)  # slices at -2, 0, +2 mm: k = 6, 5, 4
    assert slab_value(volume, centre, normal, offsets, "mip") == 60.0
    assert slab_value(volume, centre, normal, offsets, "minip") == 40.0
    assert slab_value(volume, centre, normal, offsets, "mean") == 50.0
    # The same slab with the normal reversed projects the same voxels.
    assert slab_value(volume, centre, -normal, offsets, "mip") == 60.0
    # Clipped at the superior end (k = 0 is the top): only what is inside counts.
    top = volume.index_to_lps(np.array([1.0, 1.0, 0.0]))
    clipped = sample_offsets(4.0, 2.0, low_mm=-20.0, high_mm=0.0)
    assert slab_value(volume, top, normal, clipped, "mean") == 5.0  # mean of k = 0 and 1
    assert slab_value(volume, top + np.array([0.0, 50.0, 0.0]), normal, offsets, "mip") is None


def test_parse_and_step():
    assert parse_slab("mip:10") == Slab("mip", 10.0)
    assert parse_slab("MinIP") == Slab("minip", 10.0)
    assert parse_slab("mean:5.5") == Slab("mean", 5.5)
    assert parse_slab("off") is None and parse_slab("") is None
    for bad in ("max:10", "mip:ten", "mip:-3", "mip:nan"):
        with pytest.raises(ValueError):
            parse_slab(bad)
    assert step_thickness(10.0, 1) == 15.0 and step_thickness(10.0, -1) == 5.0
    assert step_thickness(12.0, 1) == 15.0 and step_thickness(12.0, -1) == 10.0
    assert step_thickness(50.0, 1) == 50.0 and step_thickness(3.0, -1) == 3.0
    assert Slab("mip", 10.0).label == "MIP 10 mm"


def test_viewer_state_slab_changes_and_resets():
    state = ViewerState()
    changes = []
    state.add_listener(changes.append)
    state.set_volume(_volume())
    state.set_slab(Slab("mip", 10.0))
    state.set_slab(Slab("mip", 10.0))  # no change, no notification
    assert changes == ["volume", "slab"] and state.slab == Slab("mip", 10.0)
    state.reset()
    assert state.slab is None
    state.set_slab(Slab("minip", 5.0))
    state.set_volume(_volume())
    assert state.slab is None  # a new volume starts on thin slices


def test_colour_volumes_stay_thin():
    state = ViewerState()
    rgb = np.zeros((4, 5, 6, 3), np.uint8)
    state.set_volume(Volume(rgb, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), VolumeMeta()))
    state.set_slab(Slab("mip", 10.0))
    assert state.slab is None
