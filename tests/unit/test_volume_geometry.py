"""Volume and geometry helpers: index <-> LPS with asymmetric, non-trivial geometry."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging import geometry
from medview.imaging.volume import Volume, VolumeMeta

# i runs to the patient's right (-x), j anterior->posterior tilted, k inferior: nothing trivial.
ODD_DIRECTION = np.array(
    [
        [-1.0, 0.0, 0.0],
        [0.0, np.cos(0.3), np.sin(0.3)],
        [0.0, -np.sin(0.3), np.cos(0.3)],
    ]
)


def make_volume(direction=ODD_DIRECTION) -> Volume:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # (z, y, x) all different
    return Volume(
        array, (0.5, 0.75, 2.0), (10.0, -20.0, 30.0), direction, VolumeMeta(modality="CT")
    )


def test_index_to_lps_follows_spacing_direction_and_origin():
    volume = make_volume()
    assert np.allclose(volume.index_to_lps((0, 0, 0)), (10.0, -20.0, 30.0))
    # One step along i moves 0.5 mm along the first direction column (towards patient right).
    assert np.allclose(volume.index_to_lps((1, 0, 0)), (9.5, -20.0, 30.0))
    step_j = volume.index_to_lps((0, 1, 0)) - volume.index_to_lps((0, 0, 0))
    assert np.allclose(step_j, 0.75 * ODD_DIRECTION[:, 1])
    step_k = volume.index_to_lps((0, 0, 1)) - volume.index_to_lps((0, 0, 0))
    assert np.allclose(step_k, 2.0 * ODD_DIRECTION[:, 2])


def test_lps_round_trip_batch_and_zyx_order():
    volume = make_volume()
    rng = np.random.default_rng(3)
    ijk = rng.uniform(0, 4, size=(20, 3))
    assert np.allclose(volume.lps_to_index(volume.index_to_lps(ijk)), ijk)
    zyx = ijk[:, ::-1]
    assert np.allclose(volume.zyx_to_lps(zyx), volume.index_to_lps(ijk))
    assert np.allclose(volume.lps_to_zyx(volume.zyx_to_lps(zyx)), zyx)


def test_array_value_at_lps_point_is_the_indexed_voxel():
    volume = make_volume()
    k, j, i = 3, 2, 5
    point = volume.index_to_lps((i, j, k))
    back = np.rint(volume.lps_to_zyx(point)).astype(int)
    assert volume.array[tuple(back)] == volume.array[k, j, i]
    assert volume.contains_lps(point)
    assert not volume.contains_lps(volume.index_to_lps((i, j, 10)))


def test_orientation_letters_and_plane():
    assert make_volume(np.eye(3)).orientation == "LPS"
    assert make_volume(np.eye(3)).plane == "axial"
    flipped = make_volume(np.diag([-1.0, 1.0, -1.0]))
    assert flipped.orientation == "RPI"
    coronal = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # rows L, columns I, normal P
    assert make_volume(coronal).plane == "coronal"
    assert geometry.axis_letters((0.2, -0.9, 0.1)) == "ALS"


def test_sitk_round_trip_keeps_geometry_and_voxels():
    volume = make_volume()
    image = volume.to_sitk()
    assert image.GetSize() == volume.size_ijk
    # SimpleITK's own index->physical mapping agrees with ours.
    for ijk in [(0, 0, 0), (5, 4, 3), (2, 1, 3)]:
        assert np.allclose(image.TransformIndexToPhysicalPoint(ijk), volume.index_to_lps(ijk))
    back = Volume.from_sitk(image)
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.affine, volume.affine)


def test_invalid_geometry_is_refused():
    array = np.zeros((2, 2, 2), np.int16)
    with pytest.raises(ValueError, match="spacing"):
        Volume(array, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="orthonormal"):
        Volume(array, (1.0, 1.0, 1.0), direction=np.ones((3, 3)))
    with pytest.raises(ValueError, match="z, y, x"):
        Volume(np.zeros((2, 2)), (1.0, 1.0, 1.0))


def test_with_array_checks_grid():
    volume = make_volume()
    mask = volume.with_array(np.zeros(volume.shape, bool), derived=True)
    assert mask.meta.derived and np.allclose(mask.affine, volume.affine)
    with pytest.raises(ValueError):
        volume.with_array(np.zeros((1, 1, 1)))
