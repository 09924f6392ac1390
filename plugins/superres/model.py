"""The super-resolution generator and the discriminator it was trained against.

Generator: ESRGAN's residual-in-residual dense blocks (Wang et al., ESRGAN, ECCV-W 2018),
shrunk to stay fast on a 2-core CPU (issue 6: one 256x256 slice in-plane x2 within 1 s, a
300-slice study through-plane x2 within 5 min). Two changes from ESRGAN keep it cheap and safe:

* every convolution runs at the *low* resolution; the last one predicts ``sy * sx`` sub-pixel
  values that a pixel shuffle puts on the fine grid (ESPCN, Shi et al. 2016), so the cost per
  output pixel falls by ``sy * sx``;
* the network predicts a *residual* over plain interpolation (bicubic in-plane, linear along
  z), so an untrained or unsure network degrades to the classical method, never to noise.

The scale may differ per axis: ``(2, 2)`` for in-plane x2, ``(2, 1)`` or ``(4, 1)`` for
through-plane on a (z, x) plane of a volume.

The discriminator (training only) is a small PatchGAN (Isola et al., pix2pix, 2017) with
spectral normalisation (Miyato et al. 2018), used in the relativistic average form
(ESRGAN).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DenseBlock(nn.Module):
    """Residual dense block: each conv sees every earlier feature map (ESRGAN's RDB)."""

    def __init__(self, channels: int, growth: int, layers: int = 3) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth, 3, padding=1) for i in range(layers - 1)
        )
        self.fuse = nn.Conv2d(channels + (layers - 1) * growth, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(F.leaky_relu(conv(torch.cat(features, 1)), 0.2))
        # Residual scaling 0.2 (ESRGAN) keeps the deep residual stack stable without BN.
        return x + 0.2 * self.fuse(torch.cat(features, 1))


class RRDB(nn.Module):
    """Residual-in-residual: a few dense blocks with one more scaled skip around them."""

    def __init__(self, channels: int, growth: int, dense_blocks: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(channels, growth) for _ in range(dense_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


class Generator(nn.Module):
    """Low-resolution image (N, 1, H, W) -> (N, 1, H * sy, W * sx).

    Intensities are expected normalised (about 0..1 over the image's range); see
    :mod:`plugins.superres.infer`.
    """

    def __init__(
        self,
        scale: tuple[int, int],
        channels: int = 24,
        growth: int = 12,
        rrdbs: int = 2,
        dense_blocks: int = 2,
    ) -> None:
        super().__init__()
        self.scale = (int(scale[0]), int(scale[1]))
        sy, sx = self.scale
        self.head = nn.Conv2d(1, channels, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(channels, growth, dense_blocks) for _ in range(rrdbs)))
        self.body_out = nn.Conv2d(channels, channels, 3, padding=1)
        self.tail = nn.Conv2d(channels, channels, 3, padding=1)
        self.subpixel = nn.Conv2d(channels, sy * sx, 3, padding=1)
        # Start as the interpolation itself: the residual head begins at zero.
        nn.init.zeros_(self.subpixel.weight)
        nn.init.zeros_(self.subpixel.bias)

    def interpolate(self, x: torch.Tensor) -> torch.Tensor:
        """The classical baseline the network corrects (bicubic in-plane, linear along z)."""
        sy, sx = self.scale
        size = (x.shape[-2] * sy, x.shape[-1] * sx)
        mode = "bicubic" if sx > 1 else "bilinear"
        return F.interpolate(x, size=size, mode=mode, align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        features = features + self.body_out(self.body(features))
        residual = self.subpixel(F.leaky_relu(self.tail(features), 0.2))
        return self.interpolate(x) + shuffle(residual, self.scale)


def shuffle(residual: torch.Tensor, scale: tuple[int, int]) -> torch.Tensor:
    """(N, sy*sx, H, W) -> (N, 1, H*sy, W*sx): a pixel shuffle with a scale per axis."""
    n, _c, h, w = residual.shape
    sy, sx = scale
    out = residual.reshape(n, sy, sx, h, w).permute(0, 3, 1, 4, 2)
    return out.reshape(n, 1, h * sy, w * sx)


class Discriminator(nn.Module):
    """PatchGAN: a realness logit per overlapping patch of a high-resolution image."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        widths = [1, channels, channels * 2, channels * 4]
        layers: list[nn.Module] = []
        for i in range(3):
            layers += [sn(nn.Conv2d(widths[i], widths[i + 1], 4, stride=2, padding=1))]
            layers += [nn.LeakyReLU(0.2)]
        layers += [sn(nn.Conv2d(widths[-1], widths[-1], 3, padding=1)), nn.LeakyReLU(0.2)]
        layers += [sn(nn.Conv2d(widths[-1], 1, 3, padding=1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
