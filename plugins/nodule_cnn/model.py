"""The network: a small 3D U-Net with CenterNet-style heads (heatmap, size, mask).

Input: one channel, CT in HU scaled to about -1..1 (:func:`normalise`), on the canonical
internal grid (isotropic, LPS-aligned axes, see ``preprocess.py``). Output: three channels on
the same grid: a centre heatmap logit (a Gaussian peak at every nodule centre), the log of the
nodule diameter in mm (read at the peak), and a nodule mask logit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Channel layout of the output tensor.
HEATMAP, SIZE, MASK = 0, 1, 2


def normalise(hu: torch.Tensor) -> torch.Tensor:
    """HU -> network input: lung window -1000..400 HU mapped to -1..1, clipped a little beyond."""
    return ((hu + 300.0) / 700.0).clamp(-1.5, 1.5)


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm3d(cout),
            nn.LeakyReLU(0.1, inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm3d(cout),
            nn.LeakyReLU(0.1, inplace=True),
        )


class NoduleNet(nn.Module):
    """3D U-Net (4 levels) with a 3-channel head; input sides must be multiples of 8."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        c = width
        self.enc0 = _Block(1, c)
        self.enc1 = _Block(c, 2 * c, stride=2)
        self.enc2 = _Block(2 * c, 4 * c, stride=2)
        self.enc3 = _Block(4 * c, 8 * c, stride=2)
        self.dec2 = _Block(8 * c + 4 * c, 4 * c)
        self.dec1 = _Block(4 * c + 2 * c, 2 * c)
        self.dec0 = _Block(2 * c + c, c)
        self.head = nn.Conv3d(c, 3, 1)
        with torch.no_grad():  # CenterNet prior: the heatmap starts near 0.01 everywhere
            self.head.bias.copy_(torch.tensor([-4.6, 2.0, -2.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([_up(e3, e2), e2], 1))
        d1 = self.dec1(torch.cat([_up(d2, e1), e1], 1))
        d0 = self.dec0(torch.cat([_up(d1, e0), e0], 1))
        return self.head(d0)


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[2:], mode="trilinear", align_corners=False)


def output_at(net: NoduleNet, x: torch.Tensor, zyx: tuple[int, int, int]) -> torch.Tensor:
    """``net(x)[:, :, z, y, x]`` (shape ``(N, 3)``), computing the full-resolution decoder only
    around that voxel: the same numbers, for about half the work.

    Explaining one finding evaluates the network on a 64^3 patch dozens of times (Integrated
    Gradients) but reads one output voxel. ``dec0`` (two 3x3x3 convolutions on 24 channels at
    full resolution) and the trilinear upsampling into it are about half the cost of a forward
    and backward pass, and that voxel sees only +-2 voxels of their input. So ``dec0`` runs
    on a 5^3 box, fed by upsampling a box of ``d1`` with a margin of one voxel, which keeps
    every value used exactly as in :meth:`NoduleNet.forward` (zero padding differs only at
    the box's edges, which the centre does not read; the upsampling is aligned on even
    indices so its coordinates are the full map's). ``tests/plugins/test_saliency.py``
    checks the equality.
    """
    e0 = net.enc0(x)
    e1 = net.enc1(e0)
    e2 = net.enc2(e1)
    e3 = net.enc3(e2)
    d2 = net.dec2(torch.cat([_up(e3, e2), e2], 1))
    d1 = net.dec1(torch.cat([_up(d2, e1), e1], 1))
    fine = [(max(0, c - 2), min(n, c + 3)) for c, n in zip(zyx, e0.shape[2:], strict=True)]
    coarse = [
        (max(0, lo // 2 - 1), min(n, (hi - 1) // 2 + 2))
        for (lo, hi), n in zip(fine, d1.shape[2:], strict=True)
    ]
    box = d1[:, :, slice(*coarse[0]), slice(*coarse[1]), slice(*coarse[2])]
    up = F.interpolate(box, scale_factor=2, mode="trilinear", align_corners=False)
    inner = tuple(
        slice(lo - 2 * a, hi - 2 * a) for (lo, hi), (a, _) in zip(fine, coarse, strict=True)
    )
    up = up[(slice(None), slice(None), *inner)]
    skip = e0[:, :, slice(*fine[0]), slice(*fine[1]), slice(*fine[2])]
    out = net.head(net.dec0(torch.cat([up, skip], 1)))
    z, y, x_ = (c - lo for c, (lo, _) in zip(zyx, fine, strict=True))
    return out[:, :, z, y, x_]
