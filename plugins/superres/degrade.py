"""How a low-resolution image is made from a high-resolution one (training and evaluation).

The generator learns to invert this, so it must resemble acquisition:

* in-plane: the scanner's point spread (a Gaussian, ``sigma`` in high-resolution pixels)
  followed by integration over the larger pixel (an ``sy x sx`` area average);
* through-plane: the slice sensitivity profile of a thick slice, which integrates the slab
  that ``s`` thin slices cover (a box of ``s`` along z) and is a little wider than the slice
  (a Gaussian on top), with no blur across the plane;
* noise: Gaussian, in normalised intensity units, added to the low-resolution image.

The area-average convention fixes the geometry: low-resolution pixel ``i`` covers
high-resolution pixels ``s*i .. s*i+s-1``, so its centre sits at ``s*i + (s-1)/2`` (the
``align_corners=False`` convention of torch's interpolation, and what
:func:`plugins.superres.infer.upscaled_geometry` assumes for the output grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class Degradation:
    """One degradation: scale and PSF sigma per axis (high-res pixels), noise (0..1 units)."""

    scale: tuple[int, int]
    sigma: tuple[float, float]
    noise: float = 0.0


def nominal(mode: str, scale: int) -> Degradation:
    """The fixed degradation the evaluation uses (training draws around it)."""
    if mode == "inplane":
        return Degradation((scale, scale), (0.3 * scale, 0.3 * scale), 0.005)
    return Degradation((scale, 1), (0.25 * scale, 0.0), 0.005)


def random_degradation(mode: str, scale: int, gen: torch.Generator) -> Degradation:
    """A degradation drawn for training: PSF and noise vary so the model is not brittle."""

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=gen))

    noise = uniform(0.0, 0.02) if float(torch.rand((), generator=gen)) < 0.7 else 0.0
    if mode == "inplane":
        sigma = uniform(0.0, 0.6) * scale
        return Degradation((scale, scale), (sigma, sigma), noise)
    return Degradation((scale, 1), (uniform(0.0, 0.5) * scale, 0.0), noise)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def blur(images: torch.Tensor, sigma: tuple[float, float]) -> torch.Tensor:
    """Separable Gaussian blur of (N, 1, H, W) with reflected edges."""
    out = images
    for axis, s in enumerate(sigma):
        if s <= 0.05:
            continue
        kernel = gaussian_kernel(s).to(images)
        radius = kernel.numel() // 2
        if axis == 0:
            out = F.pad(out, (0, 0, radius, radius), mode="reflect")
            out = F.conv2d(out, kernel.view(1, 1, -1, 1))
        else:
            out = F.pad(out, (radius, radius, 0, 0), mode="reflect")
            out = F.conv2d(out, kernel.view(1, 1, 1, -1))
    return out


def degrade(
    images: torch.Tensor, how: Degradation, gen: torch.Generator | None = None
) -> torch.Tensor:
    """High-resolution (N, 1, H, W), H and W multiples of the scale -> low resolution."""
    sy, sx = how.scale
    if images.shape[-2] % sy or images.shape[-1] % sx:
        raise ValueError(f"image {tuple(images.shape[-2:])} is not a multiple of {how.scale}")
    low = F.avg_pool2d(blur(images, how.sigma), kernel_size=(sy, sx))
    if how.noise > 0:
        noise = torch.randn(low.shape, generator=gen, dtype=low.dtype) if gen else None
        low = low + how.noise * (noise if noise is not None else torch.randn_like(low))
    return low
