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
