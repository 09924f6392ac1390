"""Viewing planes and where a volume's slices lie on them; numpy only, no Qt or VTK.

A :class:`ViewPlane` (defined in :mod:`medview.imaging.planes`, re-exported here) is given by
the LPS directions of screen-right and screen-down; the camera looks along ``right x down``.
Everything here is in patient LPS millimetres, so the same geometry serves the reslicing, the
camera and the orientation labels, for the standard planes and oblique ones alike.
"""

from __future__ import annotations

import numpy as np

from medview.imaging.planes import (
    AXIAL,
    CORONAL,
    SAGITTAL,
    STANDARD_PLANES,
    ViewPlane,
    slice_step_mm,
)
from medview.imaging.volume import Volume
from medview.imaging.windowing import CT_DEFAULT_WINDOW, default_window

__all__ = [
    "AXIAL",
    "CORONAL",
    "CT_DEFAULT_WINDOW",
    "SAGITTAL",
    "STANDARD_PLANES",
    "SliceGeometry",
    "ViewPlane",
    "default_window",
]


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

    def normal_extent(self) -> tuple[float, float]:
        """(low, high) mm along the normal of the volume's outermost voxel centres: where a
        thick slab's samples must stop."""
        sizes = np.asarray(self._volume.size_ijk, float)
        corners = np.array(
            [
                [i, j, k]
                for i in (0, sizes[0] - 1)
                for j in (0, sizes[1] - 1)
                for k in (0, sizes[2] - 1)
            ]
        )
        along = self._volume.index_to_lps(corners) @ self.normal
        return float(along.min()), float(along.max())

    def step_mm(self) -> float:
        """Distance (mm) along the normal between neighbouring slices."""
        return slice_step_mm(self._volume.spacing, self._volume.direction, self.normal)

    def index_at(self, lps: np.ndarray | tuple[float, float, float]) -> int:
        """The slice (clamped to the volume) whose plane is nearest to an LPS point."""
        if self.count <= 1:
            return 0
        first = self.plane_offset(0)
        step = self.plane_offset(1) - first
        if abs(step) < 1e-9:  # a normal parallel to the slices: no slice is nearer
            return self.count // 2
        index = round((float(np.asarray(lps, float) @ self.normal) - first) / step)
        return int(np.clip(index, 0, self.count - 1))

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
