"""Putting a patch map (its own LPS geometry) onto the input grid, through the geometry only.

The one conversion between a per-finding patch and the series the user looks at: SimpleITK
resamples through both Volumes' index -> LPS affines (any orientation, any spacing), touching
only the box of the input grid that the patch covers. Nothing here is hand-written geometry.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from medview.imaging.volume import Volume


def covered_box(patch: Volume, reference: Volume) -> tuple[np.ndarray, np.ndarray] | None:
    """Inclusive (i, j, k) index box of ``reference`` covered by ``patch``'s voxels, or None
    when they do not overlap."""
    lo, hi = reference.index_bounds_of(patch)
    size = np.asarray(reference.size_ijk)
    if np.any(hi < 0) or np.any(lo > size - 1):
        return None
    return np.clip(lo, 0, size - 1), np.clip(hi, 0, size - 1)


def onto_grid(patch: Volume, reference: Volume) -> np.ndarray:
    """``patch`` (float map) linearly resampled onto ``reference``'s grid: a float32 array of
    ``reference.shape``, zero outside the patch.

    The full-size array is allocated with ``np.zeros`` (pages the patch does not touch are
    not committed by the OS), so one overlay per finding stays cheap in memory.
    """
    full = np.zeros(reference.shape, np.float32)
    box = covered_box(patch, reference)
    if box is None:
        return full
    lo, hi = box
    ref = sitk.Image([int(v) for v in hi - lo + 1], sitk.sitkFloat32)
    ref.SetSpacing(reference.spacing)
    ref.SetOrigin(tuple(float(v) for v in reference.index_to_lps(lo.astype(float))))
    ref.SetDirection(tuple(float(v) for v in reference.direction.ravel()))
    image = sitk.Cast(patch.to_sitk(), sitk.sitkFloat32)
    out = sitk.Resample(image, ref, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    full[lo[2] : hi[2] + 1, lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] = sitk.GetArrayFromImage(out)
    return full
