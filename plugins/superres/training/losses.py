"""Training losses: SSIM (Wang et al. 2004) and the relativistic average GAN losses (ESRGAN)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..degrade import gaussian_kernel


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of (N, 1, H, W) images, 11-tap Gaussian window (sigma 1.5), valid region."""
    kernel = gaussian_kernel(1.5).to(a)
    kx, ky = kernel.view(1, 1, 1, -1), kernel.view(1, 1, -1, 1)

    def smooth(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(x, kx), ky)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = smooth(a), smooth(b)
    var_a = smooth(a * a) - mu_a**2
    var_b = smooth(b * b) - mu_b**2
    cov = smooth(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean()


def relativistic_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator learns that real images look *more* real than the average fake."""
    bce = F.binary_cross_entropy_with_logits
    return 0.5 * (
        bce(real - fake.mean(), torch.ones_like(real))
        + bce(fake - real.mean(), torch.zeros_like(fake))
    )


def relativistic_g_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The generator pushes the other way (gradients flow through ``fake`` only)."""
    bce = F.binary_cross_entropy_with_logits
    return 0.5 * (
        bce(real - fake.mean(), torch.zeros_like(real))
        + bce(fake - real.mean(), torch.ones_like(fake))
    )
