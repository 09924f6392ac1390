"""Viewing planes and where a volume's slices lie on them; numpy only, no Qt or VTK.

A :class:`ViewPlane` is given by the LPS directions of screen-right and screen-down; the
camera looks along ``right x down``. Everything here is in patient LPS millimetres, so the
same geometry serves the reslicing, the camera and the orientation labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.imaging.volume import Volume


@dataclass(frozen=True)
class ViewPlane:
    """A viewing plane given by the LPS directions of screen-right and screen-down."""

    name: str
    right: tuple[float, float, float]
    down: tuple[float, float, float]

    @property
    def normal(self) -> np.ndarray:
        """Direction the camera looks along (into the screen)."""
        return np.cross(self.right, self.down)


#: Axial in radiological convention: viewed from the feet, patient left (+x) on screen right,
#: posterior (+y) at the bottom, so anterior is up.
AXIAL = ViewPlane("axial", right=(1.0, 0.0, 0.0), down=(0.0, 1.0, 0.0))

#: CT default when the series carries no window (soft tissue, centre 40 HU, width 400 HU).
CT_DEFAULT_WINDOW = (40.0, 400.0)


def default_window(volume: Volume) -> tuple[float, float]:
    """(centre, width) to show first: the first DICOM preset, CT soft tissue, or the data range.

    Parameters
    ----------
    volume
        The volume about to be shown.

    Returns
    -------
    tuple of float
        Window centre and width in the volume's units.
    """
    if volume.meta.windows:
        preset = volume.meta.windows[0]
        return float(preset.center), max(float(preset.width), 1.0)
    if volume.meta.modality.upper() == "CT":
        return CT_DEFAULT_WINDOW
    # MR and the rest: percentiles ignore the few hot voxels that would flatten the picture.
    sample = volume.array[:: max(1, volume.shape[0] // 16)]
    low, high = (float(v) for v in np.percentile(sample, [1.0, 99.5]))
    if high <= low:
        high = low + 1.0
    return (low + high) / 2.0, high - low


class SliceGeometry:
    """Where each slice of a volume lies for a viewing plane, in LPS millimetres.

    The slice planes are perpendicular to the viewing plane's normal and pass through the
    voxel centres along the volume axis closest to that normal, so scrolling steps one voxel
    (slice ``k`` of an axial series is slice ``k`` on screen). The in-plane bounds cover the
    whole volume whatever its direction.
    """

    def __init__(self, volume: Volume, plane: ViewPlane) -> None:
        """Lay out the slices of ``volume`` for ``plane``."""
        self.right = np.asarray(plane.right, float)
        self.down = np.asarray(plane.down, float)
        self.normal = plane.normal
        # Scroll along the voxel axis closest to the plane normal, one voxel per step.
        alignment = np.abs(volume.direction.T @ self.normal)
        self.axis = int(np.argmax(alignment))
        self.count = volume.size_ijk[self.axis]
        self._volume = volume
        sizes = np.asarray(volume.size_ijk, float)
        corners = np.array(
            [
                [i, j, k]
                for i in (0, sizes[0] - 1)
                for j in (0, sizes[1] - 1)
                for k in (0, sizes[2] - 1)
            ]
        )
        lps = volume.index_to_lps(corners)
        in_plane = [a for a in range(3) if a != self.axis]
        self.pixel_mm = float(min(volume.spacing[a] for a in in_plane))
        self.min_right, self.max_right = (
            float((lps @ self.right).min()),
            float((lps @ self.right).max()),
        )
        self.min_down, self.max_down = (
            float((lps @ self.down).min()),
            float((lps @ self.down).max()),
        )

    def plane_offset(self, index: int) -> float:
        """Signed distance (mm) of slice ``index`` from the LPS origin along the normal."""
        ijk = (np.asarray(self._volume.size_ijk, float) - 1.0) / 2.0
        ijk[self.axis] = index
        return float(self._volume.index_to_lps(ijk) @ self.normal)

    def output_size(self) -> tuple[int, int]:
        """(width, height) in pixels of a resliced image covering the whole volume."""
        width = round((self.max_right - self.min_right) / self.pixel_mm) + 1
        height = round((self.max_down - self.min_down) / self.pixel_mm) + 1
        return int(width), int(height)

    def reslice_axes(self, index: int) -> np.ndarray:
        """4x4 whose columns are screen-right, screen-down, normal and a point of the plane.

        It maps a point ``(x, y, 0)`` of the resliced 2D image to LPS millimetres.
        """
        matrix = np.eye(4)
        matrix[:3, 0] = self.right
        matrix[:3, 1] = self.down
        matrix[:3, 2] = self.normal
        matrix[:3, 3] = self.normal * self.plane_offset(index)
        return matrix

    def centre(self, index: int) -> np.ndarray:
        """LPS centre of slice ``index`` as drawn (the camera's focal point)."""
        mid_right = (self.min_right + self.max_right) / 2.0
        mid_down = (self.min_down + self.max_down) / 2.0
        return (
            self.right * mid_right + self.down * mid_down + self.normal * self.plane_offset(index)
        )
