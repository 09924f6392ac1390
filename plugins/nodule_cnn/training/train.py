"""Train the nodule detector: ``python -m plugins.nodule_cnn.training.train`` (from the repo root).

Seeded end to end (data, sampling, initialisation; torch deterministic on CPU with the
same thread count). Generates or reuses the cached canonical training scans (``data.py``),
trains the CenterNet-style 3D U-Net on 32^3 patches (1.5 mm voxels) with a penalty-reduced
focal loss on the centre heatmap, L1 on log diameter and BCE + Dice on the mask, fits the
score calibration (Platt scaling on the validation seeds) and the diameter correction
(``fit_size.py``, same validation seeds), writes ``model.safetensors``,
updates the SHA-256 and size in ``plugin.toml``, and writes ``training/loss.png``.
Progress (loss, ETA) is printed every 20 steps.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .. import detect
from ..model import HEATMAP, MASK, SIZE, NoduleNet, normalise
from . import data, fit_size
from .pngplot import line_plot

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
PATCH = 32


def targets(scan: dict, start: np.ndarray, patch: int = PATCH) -> tuple[np.ndarray, ...]:
    """Heatmap, log-diameter (+ weight) and mask targets of one patch at ``start`` (zyx)."""
    sp = float(scan["spacing"])
    heat = np.zeros((patch,) * 3, np.float32)
    size = np.zeros_like(heat)
    size_w = np.zeros_like(heat)
    mask = np.zeros_like(heat)
    axes = [np.arange(patch) + start[a] for a in range(3)]
    for centre, diameter in zip(scan["centers"], scan["diameters"], strict=True):
        c = (np.asarray(centre)[::-1] - scan["origin"][::-1]) / sp  # zyx on the cached grid
        r = diameter / 2 / sp
        if np.any(c + r + 6 < start) or np.any(c - r - 6 > start + patch):
            continue
        dz, dy, dx = ((axes[a] - c[a]) ** 2 for a in range(3))
        d2 = dz[:, None, None] + dy[None, :, None] + dx[None, None, :]
        sigma = float(np.clip(0.15 * diameter / sp, 1.0, 3.0))
        g = np.exp(-d2 / (2 * sigma**2)).astype(np.float32)
        heat = np.maximum(heat, g)
        near = g > 0.3
        size[near] = math.log(diameter)
        size_w[near] = 1.0
        mask[d2 <= max(r, 0.6) ** 2] = 1.0
        peak = np.round(c).astype(int) - start
        if np.all(peak >= 0) and np.all(peak < patch):
            heat[tuple(peak)] = 1.0
    return heat, size, size_w, mask


def sample_start(scan: dict, rng: np.random.Generator) -> np.ndarray:
    """A patch corner: around a nodule (60 %), at a dense voxel (vessel, wall: 20 %), anywhere."""
    shape = np.array(scan["hu"].shape)
    sp = float(scan["spacing"])
    u = rng.random()
    if u < 0.6 and len(scan["diameters"]):
        n = rng.integers(len(scan["diameters"]))
        c = (scan["centers"][n][::-1] - scan["origin"][::-1]) / sp
        centre = c + rng.uniform(-PATCH / 2 + 6, PATCH / 2 - 6, 3)
    elif u < 0.8:
        dense = np.argwhere(scan["hu"][::3, ::3, ::3] > -300) * 3
        centre = dense[rng.integers(len(dense))] if len(dense) else shape / 2
    else:
        centre = rng.uniform(0, shape)
    start = np.round(centre - PATCH / 2).astype(int)
    return np.clip(start, 0, np.maximum(shape - PATCH, 0))


def crop(hu: np.ndarray, start: np.ndarray) -> np.ndarray:
    out = np.full((PATCH,) * 3, -1000.0, np.float32)
    block = hu[
        start[0] : start[0] + PATCH, start[1] : start[1] + PATCH, start[2] : start[2] + PATCH
    ]
    out[: block.shape[0], : block.shape[1], : block.shape[2]] = block
    return out


def batch(scans: list[dict], rng: np.random.Generator, size: int) -> tuple[torch.Tensor, ...]:
    xs, hs, ss, ws, ms = [], [], [], [], []
    for _ in range(size):
        scan = scans[rng.integers(len(scans))]
        start = sample_start(scan, rng)
        x = crop(scan["hu"], start)
        h, s, w, m = targets(scan, start)
        # augmentation: mirror axes, HU gain/offset, extra noise
        for axis in range(3):
            if rng.random() < 0.5:
                x, h, s, w, m = (np.flip(a, axis) for a in (x, h, s, w, m))
        x = x * rng.uniform(0.95, 1.05) + rng.uniform(-25, 25)
        x = x + rng.normal(0, rng.uniform(0, 20), x.shape).astype(np.float32)
        for lst, a in zip((xs, hs, ss, ws, ms), (x, h, s, w, m), strict=True):
            lst.append(np.ascontiguousarray(a, dtype=np.float32))
    return tuple(torch.from_numpy(np.stack(v))[:, None] for v in (xs, hs, ss, ws, ms))


def losses(out: torch.Tensor, heat, size, size_w, mask) -> dict[str, torch.Tensor]:
    """CenterNet focal loss (alpha 2, beta 4), L1 log-diameter, BCE + soft Dice mask."""
    logit = out[:, HEATMAP : HEATMAP + 1]
    p = logit.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = (heat >= 0.999).float()
    pos_loss = -(F.logsigmoid(logit)) * (1 - p) ** 2 * pos
    neg_loss = -(F.logsigmoid(-logit)) * p**2 * (1 - heat) ** 4 * (1 - pos)
    focal = (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp_min(1.0)
    l1 = (torch.abs(out[:, SIZE : SIZE + 1] - size) * size_w).sum() / size_w.sum().clamp_min(1.0)
    mlog = out[:, MASK : MASK + 1]
    bce = F.binary_cross_entropy_with_logits(mlog, mask)
    mp = mlog.sigmoid()
    dice = 1 - (2 * (mp * mask).sum() + 1) / (mp.sum() + mask.sum() + 1)
    return {"focal": focal, "size": l1, "mask": bce + dice}


def calibrate(net: NoduleNet, seeds) -> tuple[float, float]:
    """Platt scaling: P(a peak is on a nodule) = sigmoid(a * logit + b), fitted on ``seeds``."""
    logits, labels = [], []
    for seed in seeds:
        scan = data.canonical_scan(seed)
        pred = detect.predict(net, scan["hu"].astype(np.float32))
        sp = float(scan["spacing"])
        centres = (scan["centers"][:, ::-1] - scan["origin"][::-1]) / sp
        for peak in detect.find_peaks(pred, sp):
            dist = np.linalg.norm((centres - peak.zyx) * sp, axis=1)
            hit = bool(np.any(dist <= scan["diameters"] / 2)) if len(dist) else False
            logits.append(peak.logit)
            labels.append(float(hit))
    x, y = np.asarray(logits), np.asarray(labels)
    a, b = 1.0, 0.0
    for _ in range(3000):  # Newton-free gradient descent on the log loss (2 parameters)
        p = 1 / (1 + np.exp(-(a * x + b)))
        a -= 0.05 * float(np.mean((p - y) * x))
        b -= 0.05 * float(np.mean(p - y))
    print(f"calibration on {len(x)} peaks from {len(seeds)} validation scans "
          f"({int(y.sum())} on nodules): a={a:.4f} b={b:.4f}", flush=True)  # fmt: skip
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=48, help="training scans (seeds 1000+)")
    parser.add_argument("--steps", type=int, default=1400)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--val-scans", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=PLUGIN / "model.safetensors")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    seeds = list(data.TRAIN)[: args.scans]
    scans = []
    for n, seed in enumerate(seeds):
        scans.append(data.canonical_scan(seed))
        if n % 8 == 7:
            print(f"scans {n + 1}/{len(seeds)} ready ({time.time() - t0:.0f} s)", flush=True)
    print(f"{len(scans)} scans, {sum(len(s['diameters']) for s in scans)} nodules", flush=True)

    net = NoduleNet(args.width)
    params = sum(p.numel() for p in net.parameters())
    print(f"NoduleNet(width={args.width}): {params} parameters", flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1
    )
    history: dict[str, list[float]] = {"total": [], "focal": [], "size": [], "mask": []}
    t_train = time.time()
    net.train()
    for step in range(1, args.steps + 1):
        x, heat, size, size_w, mask = batch(scans, rng, args.batch)
        out = net(normalise(x))
        parts = losses(out, heat, size, size_w, mask)
        total = parts["focal"] + parts["size"] + parts["mask"]
        opt.zero_grad()
        total.backward()
        opt.step()
        sched.step()
        history["total"].append(float(total.detach()))
        for k, v in parts.items():
            history[k].append(float(v.detach()))
        if step % 20 == 0 or step == args.steps:
            recent = {k: np.mean(v[-20:]) for k, v in history.items()}
            spent = time.time() - t_train
            eta = spent / step * (args.steps - step)
            print(
                f"step {step}/{args.steps} loss {recent['total']:.4f} (focal {recent['focal']:.4f}"
                f" size {recent['size']:.4f} mask {recent['mask']:.4f}) lr {sched.get_last_lr()[0]:.2e}"
                f" {spent / 60:.1f} min, ETA {eta / 60:.1f} min",
                flush=True,
            )
        if step % 200 == 0 or step == args.steps:
            _plot(history)

    net.eval()
    a, b = calibrate(net, list(data.VALIDATION)[: args.val_scans])
    c0, c1 = fit_size.fit(net, list(data.VALIDATION)[: args.val_scans])
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    state["calibration"] = torch.tensor([a, b], dtype=torch.float32)
    state["size_correction"] = torch.tensor([c0, c1], dtype=torch.float32)
    state["config.width"] = torch.tensor([args.width], dtype=torch.int64)
    fit_size.write_weights(state, args.out, {"trained_steps": str(args.steps)})
    print(f"total time {(time.time() - t0) / 60:.1f} min", flush=True)


def _plot(history: dict[str, list[float]]) -> None:
    series = {}
    for name, values in history.items():
        v = np.asarray(values)
        k = min(20, len(v))
        smooth = np.convolve(v, np.ones(k) / k, mode="valid")
        series[name] = (np.arange(len(smooth)) + k, smooth)
    line_plot(HERE / "loss.png", series, "training loss (20-step mean)", "step", "loss", logy=True)


if __name__ == "__main__":
    main()
