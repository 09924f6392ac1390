"""PSNR and SSIM of the super-resolution models on held-out images (issue 6).

    python -m plugins.superres.training.evaluate                 # every model, writes the table
    python -m plugins.superres.training.evaluate --models inplane-x2 --limit 3   # a quick look

For each model the held-out images of :func:`plugins.superres.training.data.evaluation_images`
(phantom seeds never trained on, and real CT/MR/NM images never trained on) are degraded with
the fixed :func:`plugins.superres.degrade.nominal` degradation, brought back to full size by

* the classical interpolation (bicubic in-plane, linear along z),
* the pixel-loss (PSNR-oriented) generator,
* the GAN generator (the shipped default),

and compared with the truth: PSNR and SSIM on intensities normalised to the image's 0.5-99.5
percentile range (data range 1), with a border of ``2 * scale`` pixels left out. Results go to
``training/evaluation.json`` and one PNG panel per model (``training/panel-<model>.png``:
low-res | interpolation | pixel | GAN | truth, and a zoomed crop of each).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from .. import degrade
from ..model import Generator
from ..weights import load_generators
from . import data

HERE = Path(__file__).resolve().parent
METHODS = ("interpolation", "pixel", "gan")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5))


def _fit(pixels: np.ndarray, scale: tuple[int, int]) -> np.ndarray:
    """Crop so each side is a multiple of its scale."""
    h, w = pixels.shape
    return pixels[: h - h % scale[0], : w - w % scale[1]]


def reconstruct(nets: dict[str, Generator], image: data.Image, mode: str) -> dict[str, np.ndarray]:
    """Truth, low-res and each method's output for one image (normalised intensities)."""
    any_net = next(iter(nets.values()))
    scale = any_net.scale
    truth = _fit(image.pixels, scale)
    gen = torch.Generator().manual_seed(1234)  # same noise for every method and run
    how = degrade.nominal(mode, scale[0])
    low = degrade.degrade(torch.from_numpy(np.ascontiguousarray(truth))[None, None], how, gen)
    out = {"truth": truth, "low": low[0, 0].numpy()}
    with torch.inference_mode():
        out["interpolation"] = any_net.interpolate(low)[0, 0].numpy()
        for variant, net in nets.items():
            out[variant] = net(low)[0, 0].numpy()
    return out


def score(outputs: dict[str, np.ndarray], border: int) -> dict[str, dict[str, float]]:
    inner = (slice(border, -border), slice(border, -border))
    truth = outputs["truth"][inner]
    return {
        m: {"psnr": psnr(outputs[m][inner], truth), "ssim": ssim(outputs[m][inner], truth)}
        for m in METHODS
    }


def evaluate_model(
    name: str, nets: dict[str, Generator], limit: int | None = None, panel_dir: Path | None = None
) -> dict:
    """Scores of every method on the held-out images; the PNG panel into ``panel_dir``."""
    mode = "inplane" if name.startswith("inplane") else "through"
    scale = next(iter(nets.values())).scale[0]
    images = data.evaluation_images(mode)
    if limit:  # a subset spread evenly over each kind's list (every seed, every modality)
        subset = []
        for kind in ("phantom", "real"):
            some = [i for i in images if i.kind == kind]
            picks = np.unique(np.linspace(0, len(some) - 1, min(limit, len(some))).round())
            subset += [some[int(n)] for n in picks]
        images = subset
    rows, panel = [], None
    for image in images:
        outputs = reconstruct(nets, image, mode)
        rows.append({"image": image.name, "kind": image.kind, **score(outputs, 2 * scale)})
        if image.name == "693_J2KI.dcm" or panel is None:
            panel = (image.name, outputs)
    summary = {}
    for kind in ("phantom", "real", "all"):
        chosen = [r for r in rows if kind in ("all", r["kind"])]
        summary[kind] = {
            m: {k: float(np.mean([r[m][k] for r in chosen])) for k in ("psnr", "ssim")}
            for m in METHODS
        }
        summary[kind]["images"] = len(chosen)
    if panel_dir is not None:
        _panel(panel_dir / f"panel-{name}.png", name, *panel)
    return {"mode": mode, "scale": scale, "summary": summary, "images": rows}


def _busiest_window(image: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice]:
    """The window of ``size`` with the most edges (where resolution shows)."""
    gy, gx = np.gradient(image.astype(np.float64))
    edges = np.hypot(gy, gx)
    best, where = -1.0, (0, 0)
    for y in range(0, image.shape[0] - size[0] + 1, max(1, size[0] // 4)):
        for x in range(0, image.shape[1] - size[1] + 1, max(1, size[1] // 4)):
            total = float(edges[y : y + size[0], x : x + size[1]].sum())
            if total > best:
                best, where = total, (y, x)
    return slice(where[0], where[0] + size[0]), slice(where[1], where[1] + size[1])


def _panel(path: Path, model: str, image_name: str, outputs: dict[str, np.ndarray]) -> None:
    """low-res | interpolation | pixel | GAN | truth, full view above, zoomed crop below."""
    from PIL import Image, ImageDraw

    truth = outputs["truth"]
    h, w = truth.shape
    low = np.kron(
        outputs["low"], np.ones((h // outputs["low"].shape[0], w // outputs["low"].shape[1]))
    )
    tiles = [("low-res", low), ("interpolation", outputs["interpolation"]),
             ("pixel loss", outputs["pixel"]), ("GAN", outputs["gan"]), ("truth", truth)]  # fmt: skip
    side = 256
    zoom = _busiest_window(truth, (h // 4, w // 4))
    canvas = Image.new("L", (side * len(tiles), 2 * side + 40), 255)
    draw = ImageDraw.Draw(canvas)
    for n, (title, pixels) in enumerate(tiles):
        for row, crop in enumerate((pixels, pixels[zoom])):
            grey = (np.clip(crop, 0, 1) * 255).astype(np.uint8)
            tile = Image.fromarray(grey).resize((side, side), Image.NEAREST)
            canvas.paste(tile, (n * side, 20 + row * side))
        draw.text((n * side + 4, 4), title, fill=0)
    draw.text(
        (4, 2 * side + 24),
        f"{model} on {image_name} (held out); lower row: the crop with most edges, zoomed",
        fill=0,
    )
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="inplane-x2,inplane-x4,through-x2,through-x4")
    parser.add_argument("--weights", type=Path, default=None, help="default: the shipped file")
    parser.add_argument(
        "--limit", type=int, default=None, help="N images per kind, spread evenly (a quick subset)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "evaluation.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.time()
    results = {}
    for name in args.models.split(","):
        nets = load_generators(name, args.weights)
        results[name] = evaluate_model(name, nets, args.limit, HERE if args.limit is None else None)
        print(f"\n{name} ({time.time() - started:.0f} s)")
        print(f"{'images':<10}{'method':<15}{'PSNR dB':>9}{'SSIM':>8}")
        for kind, summary in results[name]["summary"].items():
            for m in METHODS:
                print(f"{kind + ' (' + str(summary['images']) + ')':<10}{m:<15}{summary[m]['psnr']:>9.2f}{summary[m]['ssim']:>8.4f}")  # fmt: skip
    if args.limit is None:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
