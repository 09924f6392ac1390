"""Rigid alignment of a prior and a current scan (medview.imaging.registration)."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.imaging.planes import rotation_matrix
from medview.imaging.registration import align_rigid
from medview.imaging.volume import Volume


def _moved(volume: Volume, rotation: np.ndarray, shift: np.ndarray) -> Volume:
    """The same patient scanned again: lying rotated and shifted on the table.

    A point ``x`` of the first scan's patient sits at ``R x + t`` in the second scan's
    frame; the second scan is stored with the first's grid (flipped in k, as another
    scanner may store it) and filled by sampling the first at ``R^-1 (y - t)``.
    """
    import SimpleITK as sitk

    direction = volume.direction @ np.diag([1.0, 1.0, -1.0])
    size = np.asarray(volume.size_ijk, float)
    origin = volume.index_to_lps(np.array([0.0, 0.0, size[2] - 1.0]))
    reference = Volume(
        np.zeros_like(volume.array), volume.spacing, origin, direction, volume.meta
    ).to_sitk()
    inverse = sitk.AffineTransform(3)
    inverse.SetMatrix(tuple(rotation.T.ravel()))
    inverse.SetTranslation(tuple(-rotation.T @ shift))
    moved = sitk.Resample(volume.to_sitk(), reference, inverse, sitk.sitkLinear, -1000.0)
    return Volume.from_sitk(moved, volume.meta)


@pytest.mark.parametrize("degrees", [0.0, 4.0])
def test_a_moved_rescan_is_found_within_two_millimetres(degrees):
    current, truth = make_phantom(PhantomSpec(size=128, slices=80, seed=5))
    rotation = rotation_matrix((0.2, -0.1, 1.0), degrees)
    shift = np.array([11.0, -7.0, 16.0])  # mm: the table and the patient moved
    prior = _moved(current, rotation, shift)

    alignment = align_rigid(current, prior)

    for nodule in truth:  # where the reader looks: the nodules
        expected = rotation @ np.asarray(nodule.center_lps) + shift
        found = alignment.to_moving(nodule.center_lps)
        assert np.linalg.norm(found - expected) < 2.0, (nodule, found, expected)
        back = alignment.to_fixed(found)
        assert np.allclose(back, nodule.center_lps, atol=1e-6)
    assert abs(alignment.rotation_degrees - degrees) < 1.0
    assert alignment.similarity > 0.9 and not alignment.uncertain


def test_scans_that_do_not_match_are_called_uncertain():
    """A chest against a plain water cylinder: the optimiser still returns a transform, and
    the correlation after it says not to trust it."""
    chest, _ = make_phantom(PhantomSpec(size=96, slices=60, seed=5))
    cylinder = np.full(chest.array.shape, -1000, np.int16)
    _, rows, columns = np.mgrid[0 : chest.shape[0], 0 : chest.shape[1], 0 : chest.shape[2]]
    cylinder[(rows - 48) ** 2 + (columns - 48) ** 2 < 30**2] = 40
    other = Volume(cylinder, chest.spacing, chest.origin, chest.direction, chest.meta)
    alignment = align_rigid(chest, other)
    assert alignment.uncertain and alignment.similarity < 0.6
