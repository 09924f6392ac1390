"""Thick-slab projections of the MPR views: MIP, MinIP and average, in patient LPS mm.

Radiologists read lung CT with thick-slab maximum intensity projections (a nodule stands out
as a round bright dot while vessels show as branching lines) and use minimum intensity
projections for airways and emphysema. A slab is centred on the plane through the crosshair
and is ``thickness_mm`` thick along the view's normal in LPS, whatever the voxel axes.

The views (``vtkImageReslice`` in slab mode) and the value under the pointer sample the slab
at the same offsets, from :func:`sample_offsets`. numpy only, so the Qt-free viewer state and
the tests share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medview.imaging.volume import Volume

#: Projection modes, in menu order.
SLAB_MODES = ("mip", "minip", "mean")
#: Short names shown in the views' corner text and the menus.
SLAB_LABELS = {"mip": "MIP", "minip": "MinIP", "mean": "Average"}
#: Thicknesses (mm) the thicker/thinner keys step through; 10 mm is the usual lung MIP.
SLAB_THICKNESSES_MM = (3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 50.0)
DEFAULT_THICKNESS_MM = 10.0


@dataclass(frozen=True)
class Slab:
    """A slab projection: ``mode`` from :data:`SLAB_MODES`, ``thickness_mm`` > 0."""

    mode: str
    thickness_mm: float = DEFAULT_THICKNESS_MM

    def __post_init__(self) -> None:
        if self.mode not in SLAB_MODES:
            raise ValueError(f"unknown slab mode {self.mode!r}; known: {', '.join(SLAB_MODES)}")
        if not (math.isfinite(self.thickness_mm) and self.thickness_mm > 0):
            raise ValueError(
                f"slab thickness must be a positive number of mm, not {self.thickness_mm!r}"
            )

    @property
    def label(self) -> str:
        """E.g. "MIP 10 mm"."""
        return f"{SLAB_LABELS[self.mode]} {self.thickness_mm:g} mm"


def parse_slab(text: str) -> Slab | None:
    """``"mip:10"``, ``"minip"``, ``"mean:5.5"`` or ``"off"`` (the command line's ``--slab``).

    Raises
    ------
    ValueError
        With a sentence naming what is wrong.
    """
    mode, _, thickness = text.strip().lower().partition(":")
    if mode in ("", "off", "none"):
        return None
    try:
        value = float(thickness) if thickness else DEFAULT_THICKNESS_MM
    except ValueError:
        raise ValueError(f"slab thickness {thickness!r} is not a number of mm") from None
    return Slab(mode, value)


def step_thickness(thickness_mm: float, steps: int) -> float:
    """The next (``steps`` > 0) or previous listed thickness from ``thickness_mm``."""
    listed = SLAB_THICKNESSES_MM
    if steps > 0:
        bigger = [t for t in listed if t > thickness_mm + 1e-6]
        return bigger[min(steps, len(bigger)) - 1] if bigger else listed[-1]
    smaller = [t for t in listed if t < thickness_mm - 1e-6]
    return smaller[max(len(smaller) + steps, 0)] if smaller else listed[0]


def sample_offsets(
    thickness_mm: float,
    voxel_step_mm: float,
    low_mm: float = -math.inf,
    high_mm: float = math.inf,
) -> np.ndarray:
    """Offsets (mm along the normal, from the shown slice) at which its slab is sampled.

    Every slice position within ``±thickness / 2`` of the shown slice: multiples of
    ``voxel_step_mm``, since the shown slice is on a voxel centre. On the standard planes
    these are voxel centres, so a one-voxel-thin vessel or airway keeps its full contrast in
    a MIP or MinIP (a sample between centres would blend it away), and ``vtkImageReslice``
    takes its fast path: a 10 mm axial MIP of a 512 x 512 slice took 5.5 ms against 128 ms
    with samples at half steps (VTK 9.7, 2 cores).

    ``low_mm`` and ``high_mm`` are where the volume's first and last slices lie, relative to
    the shown one; samples past them are dropped, so near the volume's ends the slab is
    thinner and the corner text says by how much. (VTK 9.7's slab mode also leaves samples
    outside the volume out of the projection; dropping them here keeps the stated thickness,
    the pointer's value and the picture in agreement.) At least the shown slice itself is
    always sampled.
    """
    step = max(float(voxel_step_mm), 1e-6)
    reach = math.floor(thickness_mm / (2.0 * step) + 1e-9)
    offsets = np.arange(-reach, reach + 1) * step
    inside = offsets[(offsets >= low_mm - 1e-6) & (offsets <= high_mm + 1e-6)]
    return inside if inside.size else np.zeros(1)


def span_mm(offsets: np.ndarray) -> float:
    """Distance between the outermost slices a slab samples (its thickness as shown)."""
    return float(offsets[-1] - offsets[0]) if len(offsets) > 1 else 0.0


def project(values: np.ndarray, mode: str, axis: int = 0) -> np.ndarray:
    """Max, min or mean of ``values`` along ``axis`` (NaN samples, outside the volume, skipped)."""
    reducer = {"mip": np.nanmax, "minip": np.nanmin, "mean": np.nanmean}[mode]
    return reducer(values, axis=axis)


def slab_value(
    volume: Volume, lps: np.ndarray, normal: np.ndarray, offsets: np.ndarray, mode: str
) -> float | None:
    """The slab's projected value at an LPS point (the pointer's corner text).

    The projection of the voxels nearest to the slice positions ``offsets`` along
    ``normal``: for a MIP or MinIP the value drawn, for an average the mean of the slab's
    voxels. None when every sample is outside the volume.
    """
    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    offsets = np.asarray(offsets, float)
    points = np.asarray(lps, float)[None, :] + offsets[:, None] * normal[None, :]
    ijk = np.floor(volume.lps_to_index(points) + 0.5).astype(int)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(volume.size_ijk)), axis=1)
    if not inside.any():
        return None
    i, j, k = ijk[inside].T
    return float(project(volume.array[k, j, i].astype(float), mode))
