"""Geometry for the detector: any CT Volume -> the canonical internal grid and back.

The internal grid is isotropic (``SPACING_MM``) with its axes along patient L, P, S (identity
direction), whatever the input's orientation (axial, feet-first, prone, coronal, oblique):
SimpleITK resamples through the input's own affine, so the network always sees the patient the
same way round. A cheap lung box (air inside the body, HU threshold and connected components)
restricts inference to the chest. Only numpy and SimpleITK; no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from medview.imaging.volume import Volume

#: Internal isotropic voxel size, mm.
SPACING_MM = 1.5
#: Margin kept around the lung box, mm (juxtapleural nodules sit on its edge).
LUNG_MARGIN_MM = 12.0
#: HU below which a voxel counts as air (lung parenchyma is about -860 HU).
AIR_HU = -400.0


@dataclass(frozen=True)
class Canonical:
    """A Volume on the internal grid and where it came from."""

    volume: Volume  # float32 HU, identity direction, isotropic SPACING_MM
    lung_box: tuple[slice, slice, slice]  # (z, y, x) slices of volume.array to run on


def to_canonical(volume: Volume, spacing: float = SPACING_MM) -> Volume:
    """Resample ``volume`` (any orientation) onto an LPS-aligned isotropic grid, linear."""
    corners = np.array(
        [[i, j, k] for i in (-0.5, volume.size_ijk[0] - 0.5)
         for j in (-0.5, volume.size_ijk[1] - 0.5)
         for k in (-0.5, volume.size_ijk[2] - 0.5)]
    )  # fmt: skip
    lps = volume.index_to_lps(corners)
    low, high = lps.min(axis=0), lps.max(axis=0)
    size = np.maximum(1, np.floor((high - low) / spacing)).astype(int)
    origin = low + spacing / 2.0
    image = volume.to_sitk()
    image = sitk.Cast(image, sitk.sitkFloat32)
    out = sitk.Resample(
        image,
        [int(n) for n in size],
        sitk.Transform(),
        sitk.sitkLinear,
        [float(v) for v in origin],
        [spacing] * 3,
        [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
        -1000.0,
        sitk.sitkFloat32,
    )
    return Volume.from_sitk(out, volume.meta)


def lung_box(hu: np.ndarray, spacing: float = SPACING_MM) -> tuple[slice, slice, slice]:
    """(z, y, x) box around the air inside the body (lungs, airways), plus a margin.

    Air components that touch the in-plane border are outside the body; those touching the
    top or bottom slice are kept (the lungs often run off the scanned range). Falls back to
    the whole grid when nothing is found.
    """
    air = sitk.GetImageFromArray((hu < AIR_HU).astype(np.uint8))
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(air, True))
    border = np.unique(
        np.concatenate(
            [labels[:, 0, :].ravel(), labels[:, -1, :].ravel(),
             labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]
        )
    )  # fmt: skip
    counts = np.bincount(labels.ravel())
    min_voxels = 20_000.0 / spacing**3  # 20 ml: lungs and trachea, not bowel gas specks
    keep = [n for n in range(1, len(counts)) if counts[n] >= min_voxels and n not in set(border)]
    full = tuple(slice(0, n) for n in hu.shape)
    if not keep:
        return full  # type: ignore[return-value]
    inside = np.isin(labels, keep)
    margin = int(np.ceil(LUNG_MARGIN_MM / spacing))
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        idx = np.flatnonzero(inside.any(axis=other))
        box.append(slice(max(0, idx[0] - margin), min(hu.shape[axis], idx[-1] + 1 + margin)))
    return tuple(box)  # type: ignore[return-value]


def canonical(volume: Volume) -> Canonical:
    """The input on the internal grid, with the box to run the network on."""
    vol = to_canonical(volume)
    return Canonical(vol, lung_box(vol.array))


def _reference(volume: Volume) -> sitk.Image:
    """An empty image with ``volume``'s geometry (no voxel copy of the input)."""
    ref = sitk.Image([int(n) for n in volume.size_ijk], sitk.sitkUInt8)
    ref.SetSpacing(volume.spacing)
    ref.SetOrigin(volume.origin)
    ref.SetDirection(tuple(float(v) for v in volume.direction.ravel()))
    return ref
