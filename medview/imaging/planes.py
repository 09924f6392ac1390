"""Viewing planes in patient LPS millimetres: axial, coronal, sagittal and oblique.

A :class:`ViewPlane` is given by the LPS directions of screen-right and screen-down; the camera
looks along ``right x down``. The three standard planes follow the radiological convention
(the patient is seen from the feet or from the front, so the patient's right is on the screen's
left). numpy only, so the Qt-free viewer state and the VTK views share the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

    def rotated(self, axis: np.ndarray | tuple[float, float, float], degrees: float) -> ViewPlane:
        """This plane with its right and down vectors rotated about ``axis`` (an oblique plane).

        Parameters
        ----------
        axis
            LPS rotation axis (normalised here), e.g. the normal of another view.
        degrees
            Angle, counter-clockwise when looking down ``axis`` (right-hand rule).

        Returns
        -------
        ViewPlane
            Same name, rotated vectors.
        """
        rotation = rotation_matrix(axis, degrees)
        right = tuple(float(v) for v in rotation @ np.asarray(self.right, float))
        down = tuple(float(v) for v in rotation @ np.asarray(self.down, float))
        return ViewPlane(self.name, right, down)  # type: ignore[arg-type]


def rotation_matrix(axis: np.ndarray | tuple[float, float, float], degrees: float) -> np.ndarray:
    """3x3 rotation about ``axis`` by ``degrees`` (Rodrigues' formula)."""
    axis = np.asarray(axis, float)
    norm = np.linalg.norm(axis)
    if norm == 0:
        raise ValueError("rotation axis must not be zero")
    x, y, z = axis / norm
    angle = np.radians(degrees)
    cross = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * cross @ cross


#: Axial in radiological convention: viewed from the feet, patient left (+x) on screen right,
#: posterior (+y) at the bottom, so anterior is up.
AXIAL = ViewPlane("axial", right=(1.0, 0.0, 0.0), down=(0.0, 1.0, 0.0))

#: Coronal: viewed from the front, patient left (+x) on screen right, superior up (down = -S).
CORONAL = ViewPlane("coronal", right=(1.0, 0.0, 0.0), down=(0.0, 0.0, -1.0))

#: Sagittal: viewed from the patient's left, anterior on screen left (right = +P), superior up.
SAGITTAL = ViewPlane("sagittal", right=(0.0, 1.0, 0.0), down=(0.0, 0.0, -1.0))

#: The standard planes by name.
STANDARD_PLANES = {plane.name: plane for plane in (AXIAL, CORONAL, SAGITTAL)}


def slice_step_mm(
    spacing: tuple[float, float, float], direction: np.ndarray, normal: np.ndarray
) -> float:
    """Distance (mm) along ``normal`` between neighbouring slices of a volume.

    Slices are stacked along the voxel axis closest to ``normal`` (as in the slice views), so
    one step is that axis' spacing projected on the normal: the slice thickness for the
    standard planes, a little less for an oblique one.
    """
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    alignment = np.asarray(direction, float).T @ normal
    axis = int(np.argmax(np.abs(alignment)))
    return float(abs(alignment[axis]) * spacing[axis])
