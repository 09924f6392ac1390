"""Block-mean downsampling that keeps a Volume's LPS geometry (numpy only).

Used to make volume rendering interactive on a CPU ray caster: a 512 x 512 x 300 CT is
reduced to at most 256 voxels per axis (2 x 2 x 2 blocks, 1/8 of the voxels).
"""

from __future__ import annotations

import math

import numpy as np

from medview.imaging.volume import Volume


def block_factors(size_ijk: tuple[int, int, int], max_size: int) -> tuple[int, int, int]:
    """Integer factor per axis (i, j, k) so that every axis has at most ``max_size`` voxels."""
    return tuple(max(1, math.ceil(n / max_size)) for n in size_ijk)  # type: ignore[return-value]


def downsample_mean(volume: Volume, max_size: int = 256) -> Volume:
    """``volume`` averaged over blocks so no axis exceeds ``max_size`` voxels.

    Each new voxel is the mean of an ``fi x fj x fk`` block (a few trailing voxels that do
    not fill a block are dropped); its centre is the block's centre, so the geometry stays
    exact in LPS. Returns ``volume`` itself when no axis is too big. Colour volumes are not
    supported.
    """
    fi, fj, fk = block_factors(volume.size_ijk, max_size)
    if (fi, fj, fk) == (1, 1, 1):
        return volume
    if volume.is_color:
        raise ValueError("downsample_mean takes grey-level volumes")
    nk, nj, ni = (n // f for n, f in zip(volume.shape, (fk, fj, fi), strict=True))
    trimmed = volume.array[: nk * fk, : nj * fj, : ni * fi]
    blocks = trimmed.reshape(nk, fk, nj, fj, ni, fi)
    array = blocks.mean(axis=(1, 3, 5), dtype=np.float32)
    factors = np.array([fi, fj, fk], float)
    origin = volume.index_to_lps((factors - 1.0) / 2.0)
    spacing = tuple(float(s * f) for s, f in zip(volume.spacing, factors, strict=True))
    return Volume(array, spacing, tuple(origin), volume.direction.copy(), volume.meta)
