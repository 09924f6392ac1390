"""Train the super-resolution generators: pixel loss first, then adversarially (issue 6).

    python -m plugins.superres.training.train            # every model, then pack the weights
    python -m plugins.superres.training.train --only inplane-x2 --pixel-steps 200   # a quick try

For each model (``inplane-x2``, ``inplane-x4``, ``through-x2``, ``through-x4``):

1. *pixel phase*: L1 + 0.2 (1 - SSIM) on high-resolution patches made low-resolution by
   :mod:`plugins.superres.degrade` with a degradation drawn per patch; the PSNR-oriented
   checkpoint;
2. *GAN phase*: from that checkpoint, the same pixel loss plus a small relativistic-average
   adversarial term (ESRGAN) against a spectral-normalised PatchGAN. No perceptual (VGG) loss:
   no pretrained network can be downloaded here, and one trained on this data would add little.

Both checkpoints of every model go into ``plugins/superres/model.safetensors`` (keys
``<model>.<pixel|gan>.<parameter>``, architecture in the metadata), whose SHA-256 and size are
written into ``plugin.toml``. Seeded; progress with loss and ETA; loss curves as
``training/loss-<model>.png``. Data: :mod:`plugins.superres.training.data`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ...nodule_cnn.training.pngplot import line_plot
from .. import degrade
from ..model import Discriminator, Generator, parameter_count
from ..weights import ARCHITECTURES, new_generator
from . import data
from .losses import relativistic_d_loss, relativistic_g_loss, ssim

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
CHECKPOINTS = data.CACHE / "checkpoints"

#: name -> (high-res patch (h, w), pixel steps, GAN steps); architectures in weights.py.
SCHEDULE = {
    "inplane-x2": ((96, 96), 600, 150),
    "inplane-x4": ((128, 128), 400, 100),
    "through-x2": ((96, 96), 600, 150),
    "through-x4": ((128, 96), 400, 100),
}
PIXEL_SSIM_WEIGHT = 0.2
ADVERSARIAL_WEIGHT = 2e-3


def _crop(image: data.Image, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray | None:
    h, w = shape
    pixels = image.pixels
    if pixels.shape[0] < h or pixels.shape[1] < w:
        return None
    for _ in range(8):  # skip flat crops (air): they teach nothing
        y = int(rng.integers(0, pixels.shape[0] - h + 1))
        x = int(rng.integers(0, pixels.shape[1] - w + 1))
        patch = pixels[y : y + h, x : x + w]
        if float(patch.std()) > 0.03:
            return patch
    return None


def sample_batch(
    bank: dict[str, list[data.Image]],
    mode: str,
    scale: int,
    shape: tuple[int, int],
    size: int,
    rng: np.random.Generator,
    gen: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(low-res, high-res) pairs, each patch with its own degradation and flips."""
    highs = []
    while len(highs) < size:
        kind = "phantom" if rng.random() < 0.65 else "natural"
        image = bank[kind][int(rng.integers(len(bank[kind])))]
        # Natural images have no slice axis: any orientation teaches through-plane too.
        transpose = (mode == "inplane" or kind == "natural") and rng.random() < 0.5
        patch = _crop(image, shape[::-1] if transpose else shape, rng)
        if patch is None:
            continue
        patch = patch.T if transpose else patch
        if rng.random() < 0.5:
            patch = patch[::-1]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        # Contrast jitter: inference normalises by percentiles, which vary between volumes.
        gain, offset = rng.uniform(0.8, 1.2), rng.uniform(-0.1, 0.1)
        highs.append(np.ascontiguousarray(patch) * gain + offset)
    high = torch.from_numpy(np.stack(highs).astype(np.float32))[:, None]
    low = torch.cat(
        [degrade.degrade(h[None], degrade.random_degradation(mode, scale, gen), gen) for h in high]
    )
    return low, high


def pixel_loss(out: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(out, high) + PIXEL_SSIM_WEIGHT * (1.0 - ssim(out, high))


def _log(name: str, phase: str, step: int, steps: int, losses: dict, started: float) -> None:
    recent = " ".join(f"{k} {np.mean(v[-25:]):.4f}" for k, v in losses.items())
    spent = time.time() - started
    eta = spent / step * (steps - step)
    print(f"{name} {phase} step {step}/{steps} {recent} {spent / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)  # fmt: skip


def train_model(name: str, bank: dict, args: argparse.Namespace) -> dict[str, Generator]:
    mode, scale, _size = ARCHITECTURES[name]
    shape, pixel_steps, gan_steps = SCHEDULE[name]
    pixel_steps = args.pixel_steps or pixel_steps
    gan_steps = args.gan_steps if args.gan_steps is not None else gan_steps
    rng = np.random.default_rng([args.seed, scale, len(mode)])
    gen = torch.Generator().manual_seed(args.seed * 1000 + scale * 10 + len(mode))
    torch.manual_seed(args.seed)
    net = new_generator(name)
    print(f"{name}: generator {parameter_count(net)} parameters, patches {shape}", flush=True)
    history: dict[str, list[float]] = {"pixel": [], "gan-pixel": [], "gan-adv": []}

    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, args.lr, total_steps=pixel_steps, pct_start=0.05
    )
    started = time.time()
    net.train()
    for step in range(1, pixel_steps + 1):
        low, high = sample_batch(bank, mode, scale, shape, args.batch, rng, gen)
        loss = pixel_loss(net(low), high)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        history["pixel"].append(loss.item())
        if step % 50 == 0 or step == pixel_steps:
            _log(name, "pixel", step, pixel_steps, {"loss": history["pixel"]}, started)
    pixel_state = {k: v.detach().clone() for k, v in net.state_dict().items()}

    disc = Discriminator(channels=16)
    opt_g = torch.optim.Adam(net.parameters(), lr=args.lr / 4, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=args.lr, betas=(0.9, 0.99))
    started = time.time()
    for step in range(1, gan_steps + 1):
        low, high = sample_batch(bank, mode, scale, shape, args.batch, rng, gen)
        fake = net(low)
        d_loss = relativistic_d_loss(disc(high), disc(fake.detach()))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        pix = pixel_loss(fake, high)
        adv = relativistic_g_loss(disc(high).detach(), disc(fake))
        g_loss = pix + ADVERSARIAL_WEIGHT * adv
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        history["gan-pixel"].append(pix.item())
        history["gan-adv"].append(adv.item())
        if step % 50 == 0 or step == gan_steps:
            parts = {"pixel": history["gan-pixel"], "adv": history["gan-adv"]}
            _log(name, "gan", step, gan_steps, parts, started)
    _plot(name, history)
    pixel_net = new_generator(name)
    pixel_net.load_state_dict(pixel_state)
    return {"pixel": pixel_net.eval(), "gan": net.eval()}


def _plot(name: str, history: dict[str, list[float]]) -> None:
    series = {}
    offset = len(history["pixel"])
    for key, values in history.items():
        v = np.asarray(values)
        if len(v) < 2:
            continue
        k = min(25, len(v))
        smooth = np.convolve(v, np.ones(k) / k, mode="valid")
        start = offset if key.startswith("gan") else 0
        series[key] = (np.arange(len(smooth)) + k + start, smooth)
    title = f"{name}: loss (25-step mean); GAN phase after step {offset}"
    line_plot(HERE / f"loss-{name}.png", series, title, "step", "loss", logy=True)


def save_checkpoint(name: str, nets: dict[str, Generator]) -> Path:
    from safetensors.torch import save_file

    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    state = {f"{name}.{variant}.{k}": v.contiguous() for variant, net in nets.items() for k, v in net.state_dict().items()}  # fmt: skip
    path = CHECKPOINTS / f"{name}.safetensors"
    save_file(state, str(path))
    return path


def pack(out: Path) -> str:
    """Every model's checkpoints -> one weights file; SHA-256 and size into plugin.toml."""
    from safetensors.torch import load_file, save_file

    state: dict[str, torch.Tensor] = {}
    arch = {}
    for name in ARCHITECTURES:
        path = CHECKPOINTS / f"{name}.safetensors"
        if not path.exists():
            raise SystemExit(f"{path}: not trained yet (run without --only, or --only {name})")
        state.update(load_file(str(path)))
        mode, scale, size = ARCHITECTURES[name]
        arch[name] = {"mode": mode, "scale": scale, **size}
    save_file(state, str(out), metadata={"architecture": json.dumps(arch)})
    payload = out.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if out.resolve() == (PLUGIN / "model.safetensors").resolve():
        toml = PLUGIN / "plugin.toml"
        text = re.sub(r'sha256 = "[0-9a-f]*"', f'sha256 = "{digest}"', toml.read_text())
        toml.write_text(re.sub(r"size = \d+", f"size = {len(payload)}", text))
    print(f"wrote {out} ({len(payload)} bytes, sha256 {digest})", flush=True)
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(ARCHITECTURES), action="append")
    parser.add_argument(
        "--pixel-steps", type=int, default=0, help="override (0: the model's default)"
    )
    parser.add_argument("--gan-steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=PLUGIN / "model.safetensors")
    parser.add_argument("--pack", action="store_true", help="only pack trained checkpoints")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.pack:
        pack(args.out)
        return
    started = time.time()
    names = args.only or list(ARCHITECTURES)
    banks: dict[str, dict] = {}
    for name in names:
        mode = ARCHITECTURES[name][0]
        if mode not in banks:
            images = data.training_bank(mode)
            banks[mode] = {k: [i for i in images if i.kind == k] for k in ("phantom", "natural")}
            counts = {k: len(v) for k, v in banks[mode].items()}
            print(f"{mode} training images: {counts} ({time.time() - started:.0f} s)", flush=True)
        save_checkpoint(name, train_model(name, banks[mode], args))
    if not args.only:
        pack(args.out)
    print(f"total time {(time.time() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
