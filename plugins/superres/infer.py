"""Tiled super-resolution of a Volume: normalise, run the generator tile by tile, stitch.

* Normalisation: one intensity map per volume (0.5th and 99.5th percentiles -> 0 and 1), not
  per tile, so neighbouring tiles see the same scale and no seams appear.
* Tiles overlap by ``MARGIN`` low-resolution pixels and only each tile's centre is kept. The
  generator sees 16 pixels around a pixel (16 stacked 3x3 convolutions), so with a margin of
  16 the stitched image equals whole-image inference (tests/plugins/test_superres.py).
* Work is bounded: a batch of tiles at a time, output written into one preallocated array,
  int16 out when the input was integral (CT in HU); the progress callback and the cancel
  check run between batches.
* Outside the foreground box (air around the patient: below 10 % of the intensity range on
  every plane) the classical interpolation is used as it is; the network would only add
  noise-shaped detail to air, and skipping it halves the work on a typical CT.
* On CUDA, autocast to float16 (``mixed_precision``); on CPU, float32.

Geometry (area convention, :mod:`plugins.superres.degrade`): ``s`` output samples replace
each input sample, centred on it, so the first output sample sits ``(s-1)/(2s)`` input
spacings before the first input sample along each upscaled axis.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from itertools import pairwise

import numpy as np
import torch

from medview.imaging.volume import Volume

from .model import Generator

#: Low-resolution pixels of context kept around each tile (the generator's reach).
MARGIN = 16
#: Longest low-resolution tile side (before margins): a 512-wide plane is one tile, so the
#: margins cost nothing there; bigger images are cut into equal tiles.
TILE = 512
#: Low-resolution pixels per forward pass (bounds memory: about 0.6 GB on the CPU at this size).
BATCH_PIXELS = 600_000
#: Foreground: normalised intensity above this on some plane.
FOREGROUND = 0.1


def intensity_range(array: np.ndarray) -> tuple[float, float]:
    """(low, high) mapped to 0 and 1: robust percentiles of a subsample of the volume."""
    flat = array.reshape(-1)
    step = max(1, flat.size // 2_000_000)
    sample = flat[::step].astype(np.float32)
    low, high = np.percentile(sample, [0.5, 99.5])
    if not high > low:
        high = low + 1.0
    return float(low), float(high)


def upscaled_geometry(
    volume: Volume, scale_ijk: tuple[int, int, int]
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(spacing, origin) of the super-resolved grid of ``volume`` (same patient space)."""
    shift = [-(s - 1) / (2.0 * s) for s in scale_ijk]
    origin = tuple(float(v) for v in volume.index_to_lps(shift))
    spacing = tuple(d / s for d, s in zip(volume.spacing, scale_ijk, strict=True))
    return spacing, origin


def _tiles(length: int, tile: int = TILE) -> list[tuple[int, int]]:
    """Start and stop of each tile's kept centre along one axis: equal tiles of <= ``tile``."""
    count = max(1, -(-length // tile))
    edges = np.linspace(0, length, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in pairwise(edges) if b > a]


def _foreground_box(norm: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns (of each plane, stacked on axis 0) holding anything but air."""
    mask = (norm > FOREGROUND).any(axis=0)
    if not mask.any():
        return slice(0, 0), slice(0, 0)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(0, rows[0] - MARGIN), rows[-1] + 1 + MARGIN),
        slice(max(0, cols[0] - MARGIN), cols[-1] + 1 + MARGIN),
    )


def upscale_planes(
    net: Generator,
    planes: np.ndarray,
    device: str,
    *,
    tile: int = TILE,
    progress: Callable[[float], None] | None = None,
    skip_air: bool = True,
) -> np.ndarray:
    """Normalised planes (N, H, W) -> (N, H*sy, W*sx) float32, tile by tile.

    Tiles of one plane-set share a shape, so up to ``BATCH_PIXELS`` of them run together.
    """
    sy, sx = net.scale
    n, height, width = planes.shape
    out = np.empty((n, height * sy, width * sx), dtype=np.float32)
    with torch.inference_mode():
        base = net.interpolate(torch.from_numpy(np.ascontiguousarray(planes))[:, None])
    out[:] = base[:, 0].numpy()
    del base
    rows, cols = _foreground_box(planes) if skip_air else (slice(0, height), slice(0, width))
    r_start, r_stop = rows.start, min(rows.stop, height)
    c_start, c_stop = cols.start, min(cols.stop, width)
    tiles = [
        (r0 + r_start, r1 + r_start, c0 + c_start, c1 + c_start)
        for r0, r1 in _tiles(r_stop - r_start, tile)
        for c0, c1 in _tiles(c_stop - c_start, tile)
    ]
    jobs = [(p, t) for p in range(n) for t in tiles]
    if not jobs:
        return out
    cuda = device.startswith("cuda")
    autocast = torch.autocast("cuda", dtype=torch.float16) if cuda else nullcontext()
    # channels-last convolutions are about 1.3x faster on x86 CPUs (oneDNN).
    layout = torch.contiguous_format if cuda else torch.channels_last
    net = net.to(memory_format=layout)
    largest = max(
        min(r1 - r0 + 2 * MARGIN, height) * min(c1 - c0 + 2 * MARGIN, width)
        for r0, r1, c0, c1 in tiles
    )
    batch = max(1, BATCH_PIXELS // largest)
    for first in range(0, len(jobs), batch):
        chunk = jobs[first : first + batch]
        inputs, crops = [], []
        for p, (r0, r1, c0, c1) in chunk:
            a0, a1 = max(0, r0 - MARGIN), min(height, r1 + MARGIN)
            b0, b1 = max(0, c0 - MARGIN), min(width, c1 + MARGIN)
            inputs.append(planes[p, a0:a1, b0:b1])
            crops.append((r0 - a0, c0 - b0))
        shapes = {x.shape for x in inputs}
        groups = [[i for i, x in enumerate(inputs) if x.shape == s] for s in shapes]
        for group in groups:
            x = torch.from_numpy(np.stack([inputs[i] for i in group]))[:, None]
            x = x.to(device).contiguous(memory_format=layout)
            with torch.inference_mode(), autocast:
                y = net(x).float().cpu().numpy()[:, 0]
            for g, i in enumerate(group):
                p, (r0, r1, c0, c1) = chunk[i]
                dr, dc = crops[i]
                out[p, r0 * sy : r1 * sy, c0 * sx : c1 * sx] = y[
                    g, dr * sy : (dr + r1 - r0) * sy, dc * sx : (dc + c1 - c0) * sx
                ]
        if progress is not None:
            progress(min(1.0, (first + len(chunk)) / len(jobs)))
    return out


def super_resolve(
    volume: Volume,
    net: Generator,
    mode: str,
    device: str,
    *,
    chunk: int = 16,
    progress: Callable[[float], None] | None = None,
) -> Volume:
    """The volume on the finer grid; ``meta`` is the input's (the caller labels it derived).

    ``mode`` "inplane" upscales each k slice along i and j; "through" upscales along k on
    the (k, i) planes, one per j.
    """
    scale = net.scale[0]
    low, high = intensity_range(volume.array)
    span = high - low
    src = volume.array
    nk, nj, ni = src.shape
    if mode == "inplane":
        scale_ijk = (scale, scale, 1)
        count, out_shape = nk, (nk, nj * scale, ni * scale)
    else:
        scale_ijk = (1, 1, scale)
        count, out_shape = nj, (nk * scale, nj, ni)
    integral = np.issubdtype(src.dtype, np.integer)
    lowest, highest = (float(src.min()), float(src.max())) if integral else (0.0, 0.0)
    out = np.empty(
        out_shape,
        dtype=np.int16 if integral and lowest >= -32768 and highest <= 32767 else np.float32,
    )
    for first in range(0, count, chunk):
        last = min(count, first + chunk)
        raw = src[first:last] if mode == "inplane" else src[:, first:last].transpose(1, 0, 2)
        planes = (raw.astype(np.float32) - low) / span

        def step(fraction: float, first: int = first, last: int = last) -> None:
            if progress is not None:
                progress((first + fraction * (last - first)) / count)

        values = upscale_planes(net, planes, device, progress=step) * span + low
        if out.dtype == np.int16:
            values = np.clip(np.rint(values), lowest, highest)
        if mode == "inplane":
            out[first:last] = values
        else:
            out[:, first:last] = values.transpose(1, 0, 2)
    spacing, origin = upscaled_geometry(volume, scale_ijk)
    return Volume(out, spacing, origin, volume.direction, volume.meta)
