"""The one conversion between :class:`~medview.imaging.volume.Volume` and ``vtkImageData``.

The VTK image carries the Volume's spacing, origin and direction matrix, so VTK world
coordinates *are* patient LPS millimetres: anything drawn in world coordinates (slices,
markers, findings) lines up with the voxels without a hand-written transform at the call
site (ARCHITECTURE.md, rule 2).

The voxels are shared, not copied: a CT of 512 x 512 x 600 float32 is 600 MB, and a second
copy per view would double the memory of the workstation. The numpy array is kept alive by
a reference stored on the VTK array's buffer and on the returned image.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from vtkmodules.vtkCommonDataModel import vtkImageData

from medview.imaging.volume import Volume, VolumeMeta

#: Name of the point-data array holding the voxels.
SCALARS_NAME = "voxels"

#: numpy dtypes VTK has no native type for, and what they are widened to (this copies).
_WIDENED = {np.dtype(bool): np.uint8, np.dtype(np.float16): np.float32}


def _vtk_ready(array: np.ndarray) -> np.ndarray:
    """The array as VTK can share it: C-contiguous, native byte order, a VTK scalar type."""
    widened = _WIDENED.get(array.dtype)
    if widened is not None:
        array = array.astype(widened)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def volume_to_vtk_image(volume: Volume) -> vtkImageData:
    """Wrap a Volume's voxels in a ``vtkImageData`` with its LPS geometry.

    Parameters
    ----------
    volume
        The volume; its array is ``(z, y, x)`` or ``(z, y, x, c)`` for colour.

    Returns
    -------
    vtkImageData
        Dimensions ``(ni, nj, nk)``, the volume's spacing, origin and direction matrix, one
        point-data scalar array (``c`` components for colour). When the array is
        C-contiguous with a type VTK supports (every numeric type but bool and float16),
        the memory is shared with ``volume.array``; otherwise a converted copy is made.
    """
    array = _vtk_ready(volume.array)
    ni, nj, nk = volume.size_ijk
    components = array.shape[3] if array.ndim == 4 else 1
    # C order of (k, j, i[, c]) is VTK's point order: i fastest, then j, then k.
    flat = array.reshape(-1, components) if components > 1 else array.reshape(-1)
    scalars = numpy_to_vtk(flat, deep=False)
    scalars.SetName(SCALARS_NAME)

    image = vtkImageData()
    image.SetDimensions(ni, nj, nk)
    image.SetSpacing(*volume.spacing)
    image.SetOrigin(*volume.origin)
    # VTK's direction matrix has the same convention as the Volume: columns are the i, j, k
    # axes in world (LPS) coordinates; SetDirectionMatrix takes the 9 values row by row.
    image.SetDirectionMatrix(*(float(v) for v in volume.direction.ravel()))
    image.GetPointData().SetScalars(scalars)
    # numpy_to_vtk already ties the array to the buffer; this second reference also keeps a
    # converted copy alive and lets callers check what the image is looking at.
    image._medview_array = array
    return image


def vtk_image_to_volume(image: vtkImageData, meta: VolumeMeta | None = None) -> Volume:
    """The inverse of :func:`volume_to_vtk_image` (mainly for tests and VTK filter output).

    Parameters
    ----------
    image
        A 3D ``vtkImageData`` with point scalars.
    meta
        Metadata for the new Volume (default: empty).

    Returns
    -------
    Volume
        Array ``(z, y, x[, c])`` viewing the VTK scalars (no copy), geometry from the image.
        A non-zero extent start is folded into the origin.
    """
    scalars = image.GetPointData().GetScalars()
    if scalars is None:
        raise ValueError("the VTK image has no point scalars")
    ni, nj, nk = image.GetDimensions()
    components = scalars.GetNumberOfComponents()
    shape = (nk, nj, ni, components) if components > 1 else (nk, nj, ni)
    array = vtk_to_numpy(scalars).reshape(shape)
    matrix = image.GetDirectionMatrix()
    direction = np.array([[matrix.GetElement(r, c) for c in range(3)] for r in range(3)])
    extent = image.GetExtent()
    origin = [0.0, 0.0, 0.0]
    # The world position of the first stored voxel, which is the Volume's origin.
    image.TransformIndexToPhysicalPoint((extent[0], extent[2], extent[4]), origin)
    return Volume(array, image.GetSpacing(), tuple(origin), direction, meta or VolumeMeta())
