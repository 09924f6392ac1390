"""Inference on the canonical grid: batched sliding windows, peak finding and 3D NMS.

The network is fully convolutional; windows of ``WINDOW`` voxels overlap by ``OVERLAP`` and
are blended with a taper that favours each window's centre (its border has less context).
Peaks are local maxima of the heatmap (3x3x3), refined to sub-voxel precision by the
heatmap-weighted centroid of their 3x3x3 neighbourhood; 3D non-maximum suppression drops a
peak closer to a stronger one than half the stronger one's diameter (at least 4.5 mm).
Reported diameters go through ``correct_diameter`` (a map fitted on the validation scans,
``training/fit_size.py``); peaks, NMS and scores use the raw size-head diameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .model import HEATMAP, MASK, SIZE, normalise

WINDOW = 96
OVERLAP = 16
BATCH = 2


@dataclass(frozen=True)
class Peak:
    zyx: np.ndarray  # sub-voxel position on the grid given to predict()
    logit: float  # heatmap logit at the peak (before calibration)
    diameter_mm: float  # from the size head


def _tiling(n: int, window: int) -> tuple[int, list[int]]:
    """Window size (a multiple of 8, at most ``window`` unless the axis is shorter) and
    starts covering ``n`` voxels with at least ``OVERLAP`` overlap and little waste."""
    if n <= window:
        return n, [0]
    count = math.ceil((n - OVERLAP) / (window - OVERLAP))
    w = min(n, 8 * math.ceil((n + (count - 1) * OVERLAP) / count / 8))
    starts = np.linspace(0, n - w, count).round().astype(int)
    return w, sorted({int(v) for v in starts})


def _taper(shape: tuple[int, int, int]) -> torch.Tensor:
    ramps = []
    for w in shape:
        ramp = torch.minimum(torch.arange(w) + 1.0, w - torch.arange(w) + 0.0)
        ramps.append((ramp / OVERLAP).clamp(0.05, 1.0))
    return ramps[0][:, None, None] * ramps[1][None, :, None] * ramps[2][None, None, :]


@torch.inference_mode()
def predict(
    net: torch.nn.Module,
    hu: np.ndarray,
    device: str = "cpu",
    window: int = WINDOW,
    check: Callable[[float], None] | None = None,
) -> np.ndarray:
    """(3, z, y, x) float32: heatmap logit, diameter (mm), mask probability."""
    shape = np.array(hu.shape)
    padded = np.maximum(((shape + 7) // 8) * 8, 8)
    tiles = [_tiling(int(p), window) for p in padded]
    w = [t[0] for t in tiles]
    arr = np.full(tuple(padded), -1000.0, dtype=np.float32)
    arr[: shape[0], : shape[1], : shape[2]] = hu
    x = normalise(torch.from_numpy(arr))
    out = torch.zeros((3, *padded.tolist()))
    weight = torch.zeros(tuple(padded.tolist()))
    taper = _taper(tuple(w))
    boxes = [(z, y, xx) for z in tiles[0][1] for y in tiles[1][1] for xx in tiles[2][1]]
    for first in range(0, len(boxes), BATCH):
        chunk = boxes[first : first + BATCH]
        batch = torch.stack([x[z : z + w[0], y : y + w[1], xx : xx + w[2]] for z, y, xx in chunk])[
            :, None
        ].to(device)
        pred = net(batch).float().cpu()
        for (z, y, xx), p in zip(chunk, pred, strict=True):
            out[:, z : z + w[0], y : y + w[1], xx : xx + w[2]] += p * taper
            weight[z : z + w[0], y : y + w[1], xx : xx + w[2]] += taper
        if check is not None:
            check(min(1.0, (first + len(chunk)) / len(boxes)))
    out /= weight.clamp_min(1e-6)
    out[SIZE] = out[SIZE].exp()
    out[MASK] = out[MASK].sigmoid()
    return out[:, : shape[0], : shape[1], : shape[2]].numpy()


def correct_diameter(diameter_mm: float, coef: tuple[float, float]) -> float:
    """Size-head diameter corrected by ``d = exp(c0) * d_head ** c1`` (``coef = (c0, c1)``,
    fitted on the validation phantoms; ``(0, 1)`` is the identity)."""
    c0, c1 = coef
    return float(math.exp(c0 + c1 * math.log(max(diameter_mm, 1e-3))))


def find_peaks(
    pred: np.ndarray, spacing: float, min_logit: float = -4.0, max_peaks: int = 60
) -> list[Peak]:
    """Local maxima of the heatmap with sub-voxel centres, after 3D NMS, strongest first."""
    logit = torch.from_numpy(np.ascontiguousarray(pred[HEATMAP]))[None, None]
    pooled = F.max_pool3d(logit, 3, stride=1, padding=1)
    is_peak = (logit == pooled) & (logit > min_logit)
    idx = torch.nonzero(is_peak[0, 0]).numpy()
    values = pred[HEATMAP][tuple(idx.T)] if len(idx) else np.zeros(0)
    order = np.argsort(-values)[: max_peaks * 4]
    prob = 1.0 / (1.0 + np.exp(-pred[HEATMAP]))
    kept: list[Peak] = []
    for n in order:
        lo = np.maximum(0, idx[n] - 1)
        hi = np.minimum(pred.shape[1:], idx[n] + 2)
        block = prob[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        grid = np.stack(np.meshgrid(*[np.arange(lo[a], hi[a]) for a in range(3)], indexing="ij"))
        wts = np.clip(block - 0.5 * block.max(), 0, None)
        zyx = (grid * wts).reshape(3, -1).sum(1) / max(wts.sum(), 1e-9)
        sizes = pred[SIZE][lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        diameter = float((sizes * block).sum() / max(block.sum(), 1e-9))
        peak = Peak(zyx, float(values[n]), diameter)
        if any(
            np.linalg.norm((p.zyx - zyx) * spacing) < max(4.5, 0.5 * p.diameter_mm) for p in kept
        ):
            continue
        kept.append(peak)
        if len(kept) >= max_peaks:
            break
    return kept


def finding_mask(pred: np.ndarray, peak: Peak, spacing: float) -> tuple[np.ndarray, tuple]:
    """Binary mask (on a sub-box of the grid) of the nodule at ``peak``, and that box.

    Mask probability > 0.5 within 0.75 x the predicted diameter of the centre; if that is
    empty (a tiny nodule), a sphere of the predicted diameter.
    """
    reach = 0.75 * peak.diameter_mm / spacing + 1.5
    lo = np.maximum(0, np.floor(peak.zyx - reach)).astype(int)
    hi = np.minimum(pred.shape[1:], np.ceil(peak.zyx + reach) + 1).astype(int)
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    grid = np.stack(np.meshgrid(*[np.arange(lo[a], hi[a]) for a in range(3)], indexing="ij"))
    dist = np.linalg.norm((grid - peak.zyx[:, None, None, None]) * spacing, axis=0)
    mask = (pred[MASK][box] > 0.5) & (dist <= 0.75 * peak.diameter_mm + spacing)
    if not mask.any():
        mask = dist <= max(0.5 * peak.diameter_mm, 0.6 * spacing)
    return mask, box
