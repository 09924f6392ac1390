"""Volume <-> vtkImageData: voxels shared, geometry kept, VTK world = patient LPS."""

from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.util.numpy_support import vtk_to_numpy

from medview.imaging.volume import Volume, VolumeMeta
from medview.view.vtk_bridge import volume_to_vtk_image, vtk_image_to_volume

pytestmark = pytest.mark.gui

# A rotation about z by 30 degrees, then i flipped: nothing lines up with an axis.
_ANGLE = np.deg2rad(30.0)
_DIRECTION = np.array(
    [
        [-np.cos(_ANGLE), -np.sin(_ANGLE), 0.0],
        [-np.sin(_ANGLE), np.cos(_ANGLE), 0.0],
        [0.0, 0.0, 1.0],
    ]
)


def _asymmetric_volume(dtype=np.float32) -> Volume:
    rng = np.random.default_rng(7)
    array = rng.integers(-1000, 2000, size=(5, 6, 7)).astype(dtype)
    return Volume(
        array,
        spacing=(0.7, 1.3, 2.5),
        origin=(-120.5, 33.0, 410.25),
        direction=_DIRECTION,
        meta=VolumeMeta(modality="CT", units="HU"),
    )


def test_round_trip_keeps_voxels_and_geometry():
    volume = _asymmetric_volume()
    image = volume_to_vtk_image(volume)
    assert image.GetDimensions() == (7, 6, 5)
    back = vtk_image_to_volume(image, volume.meta)
    assert back.shape == volume.shape
    np.testing.assert_array_equal(back.array, volume.array)
    np.testing.assert_allclose(back.spacing, volume.spacing)
    np.testing.assert_allclose(back.origin, volume.origin)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-12)
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-9)


def test_voxels_are_shared_not_copied():
    volume = _asymmetric_volume()
    image = volume_to_vtk_image(volume)
    scalars = vtk_to_numpy(image.GetPointData().GetScalars())
    assert np.shares_memory(scalars, volume.array)
    volume.array[3, 4, 5] = 12345.0
    # VTK's own accessor, at VTK index (i, j, k) = (5, 4, 3).
    assert image.GetScalarComponentAsDouble(5, 4, 3, 0) == 12345.0


def test_image_outlives_the_volume_object():
    image = volume_to_vtk_image(_asymmetric_volume())
    expected = image.GetScalarComponentAsDouble(1, 2, 3, 0)
    import gc

    gc.collect()
    assert vtk_to_numpy(image.GetPointData().GetScalars()).size == 5 * 6 * 7
    assert image.GetScalarComponentAsDouble(1, 2, 3, 0) == expected


@pytest.mark.parametrize("ijk", [(0, 0, 0), (6, 0, 0), (0, 5, 0), (0, 0, 4), (6, 5, 4), (3, 1, 2)])
def test_vtk_index_to_physical_equals_volume_index_to_lps(ijk):
    volume = _asymmetric_volume()
    image = volume_to_vtk_image(volume)
    physical = [0.0, 0.0, 0.0]
    image.TransformIndexToPhysicalPoint(ijk, physical)
    np.testing.assert_allclose(physical, volume.index_to_lps(ijk), atol=1e-9)
    # And back: VTK's physical -> continuous index agrees with the Volume's.
    index = [0.0, 0.0, 0.0]
    image.TransformPhysicalPointToContinuousIndex(physical, index)
    np.testing.assert_allclose(index, ijk, atol=1e-9)


def test_colour_volume_has_three_components():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 255, size=(2, 3, 4, 3)).astype(np.uint8)
    volume = Volume(array, (1.0, 1.0, 1.0), meta=VolumeMeta(photometric="RGB"))
    image = volume_to_vtk_image(volume)
    assert image.GetNumberOfScalarComponents() == 3
    # VTK point (i=3, j=2, k=1), component 2 is array[1, 2, 3, 2].
    assert image.GetScalarComponentAsDouble(3, 2, 1, 2) == array[1, 2, 3, 2]
    back = vtk_image_to_volume(image)
    assert back.is_color
    np.testing.assert_array_equal(back.array, array)


def test_read_only_array_is_shared():
    volume = _asymmetric_volume(np.int16)
    volume.array.setflags(write=False)
    image = volume_to_vtk_image(volume)
    assert np.shares_memory(vtk_to_numpy(image.GetPointData().GetScalars()), volume.array)


def test_bool_mask_is_widened_to_uint8():
    mask = np.zeros((2, 3, 4), bool)
    mask[1, 2, 3] = True
    image = volume_to_vtk_image(Volume(mask, (1.0, 1.0, 1.0)))
    assert image.GetScalarTypeAsString() == "unsigned char"
    assert image.GetScalarComponentAsDouble(3, 2, 1, 0) == 1.0
