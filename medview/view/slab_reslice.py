"""Thick-slab projection in a slice view: ``vtkImageReslice``'s slab mode, set up in LPS mm.

The slab (:mod:`medview.imaging.slab`) is sampled around the shown slice at
:func:`~medview.imaging.slab.sample_offsets`, which drops the samples past the volume's first
or last slice. The reslicer samples a slab centred on its reslice plane, so a slab clipped
on one side is produced by moving the *reslice* plane along the normal onto the middle
kept sample, while the image actor stays on the shown slice: the picture, the crosshair and
the measurements stay in register. GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkImagingCore import vtkImageReslice

from medview.imaging.slab import Slab, sample_offsets, slab_value, span_mm
from medview.imaging.volume import Volume
from medview.view.slice_geometry import SliceGeometry

_MODE_SETTERS = {
    "mip": vtkImageReslice.SetSlabModeToMax,
    "minip": vtkImageReslice.SetSlabModeToMin,
    "mean": vtkImageReslice.SetSlabModeToMean,
}


@dataclass(frozen=True)
class SlabSampling:
    """One slice's slab: the projection and its sample offsets (mm along the normal, from
    the shown slice)."""

    slab: Slab
    offsets: np.ndarray

    @property
    def thickness_mm(self) -> float:
        """From the first to the last slice sampled (less than asked at the volume's ends)."""
        return span_mm(self.offsets)


def sampling_for(geometry: SliceGeometry, index: int, slab: Slab) -> SlabSampling:
    """The slab of slice ``index``, without samples outside the volume."""
    low, high = geometry.normal_extent()
    position = geometry.plane_offset(index)
    offsets = sample_offsets(slab.thickness_mm, geometry.step_mm(), low - position, high - position)
    return SlabSampling(slab, offsets)


def configure(
    reslice: vtkImageReslice, axes: np.ndarray, sampling: SlabSampling | None
) -> np.ndarray:
    """Set ``reslice`` to sample ``sampling`` (None: the thin slice) around the slice whose
    reslice axes are ``axes``; returns the axes to give the reslicer."""
    if sampling is None or len(sampling.offsets) < 2:
        reslice.SetSlabNumberOfSlices(1)
        return axes
    offsets = sampling.offsets
    _MODE_SETTERS[sampling.slab.mode](reslice)
    reslice.SetSlabNumberOfSlices(len(offsets))
    # Slab samples are SlabSliceSpacingFraction x the output z spacing apart; the views keep
    # that spacing at 1 mm, so the fraction is the sample spacing in mm.
    reslice.SetSlabSliceSpacingFraction(float(offsets[1] - offsets[0]))
    reslice.SetSlabTrapezoidIntegration(False)
    # VTK 9.7 samples n slices at (i - n // 2) x spacing from the reslice plane, i = 0..n-1
    # (checked: n = 2 at 10.5 samples 9.5 and 10.5): not centred when n is even. Putting the
    # plane on sample n // 2 makes its samples exactly ``offsets``.
    shifted = axes.copy()
    shifted[:3, 3] += axes[:3, 2] * float(offsets[len(offsets) // 2])
    return shifted


def value_at(volume: Volume, lps: np.ndarray, normal: np.ndarray, sampling: SlabSampling):
    """The projected value under the pointer (the slab's voxels, nearest voxel per slice)."""
    return slab_value(volume, lps, normal, sampling.offsets, sampling.slab.mode)
