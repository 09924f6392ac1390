"""Geometry helpers: voxel index <-> patient LPS millimetres.

Conventions used everywhere in medview (ARCHITECTURE.md, rule 2):

* Arrays are indexed ``array[k, j, i]`` (z, y, x); voxel index vectors are ``(i, j, k)``.
* ``spacing`` is ``(di, dj, dk)`` in mm, in index order i, j, k (as SimpleITK's GetSpacing).
* ``direction`` is a 3x3 matrix whose *columns* are the unit vectors of the i, j and k axes
  in patient LPS (as SimpleITK's direction, row-major).
* ``origin`` is the LPS position of the centre of voxel (0, 0, 0).

For a DICOM slice, column i runs along ImageOrientationPatient[0:3] (the row direction) with
PixelSpacing[1], row j along ImageOrientationPatient[3:6] with PixelSpacing[0]
(PS3.3 C.7.6.2.1.1); k runs along the slice normal, ordered by position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Letters of the patient axes for +x, +y, +z in LPS and their opposites.
_POSITIVE = "LPS"
_NEGATIVE = "RAI"


def affine_from(
    origin: Sequence[float], spacing: Sequence[float], direction: np.ndarray
) -> np.ndarray:
    """The 4x4 matrix mapping homogeneous (i, j, k, 1) to LPS mm."""
    direction = np.asarray(direction, dtype=float).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction * np.asarray(spacing, dtype=float)[np.newaxis, :]
    affine[:3, 3] = np.asarray(origin, dtype=float)
    return affine


def index_to_lps(affine: np.ndarray, ijk: np.ndarray | Sequence[float]) -> np.ndarray:
    """Map voxel indices (i, j, k), shape (3,) or (n, 3), to LPS mm."""
    points = np.asarray(ijk, dtype=float)
    return points @ affine[:3, :3].T + affine[:3, 3]


def lps_to_index(affine: np.ndarray, lps: np.ndarray | Sequence[float]) -> np.ndarray:
    """Map LPS mm, shape (3,) or (n, 3), to continuous voxel indices (i, j, k)."""
    points = np.asarray(lps, dtype=float)
    inverse = np.linalg.inv(affine[:3, :3])
    return (points - affine[:3, 3]) @ inverse.T


def slice_normal(row_cosines: Sequence[float], column_cosines: Sequence[float]) -> np.ndarray:
    """Unit normal of an image plane from ImageOrientationPatient (row x column)."""
    normal = np.cross(np.asarray(row_cosines, float), np.asarray(column_cosines, float))
    length = np.linalg.norm(normal)
    if length == 0:
        raise ValueError("row and column directions are parallel")
    return normal / length


def orthonormalize(direction: np.ndarray) -> np.ndarray:
    """Closest orthonormal matrix (polar decomposition), for rounding noise in IOP values."""
    u, _, vt = np.linalg.svd(np.asarray(direction, float))
    result = u @ vt
    return result


def axis_letters(vector: Sequence[float], threshold: float = 0.0001) -> str:
    """Patient orientation letters of a direction, strongest component first, e.g. 'LP'.

    Used for the orientation labels at the edges of views and in ``medview info``.
    """
    vec = np.asarray(vector, dtype=float)
    order = np.argsort(-np.abs(vec))
    letters = []
    for axis in order:
        if abs(vec[axis]) > threshold:
            letters.append(_POSITIVE[axis] if vec[axis] > 0 else _NEGATIVE[axis])
    return "".join(letters)


def orientation_code(direction: np.ndarray) -> str:
    """Three-letter code of the i, j, k axes' dominant directions, e.g. 'LPS' for axial CT."""
    direction = np.asarray(direction, float).reshape(3, 3)
    return "".join(axis_letters(direction[:, axis])[0] for axis in range(3))


def plane_name(direction: np.ndarray) -> str:
    """'axial', 'coronal', 'sagittal' or 'oblique' from the slice normal (column k)."""
    normal = np.abs(np.asarray(direction, float).reshape(3, 3)[:, 2])
    axis = int(np.argmax(normal))
    if normal[axis] < 0.9:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]
