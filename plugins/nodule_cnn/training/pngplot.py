"""Line plots as PNG with Pillow only (matplotlib is not a dependency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75)]  # fmt: skip


def line_plot(
    path: Path,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
    size: tuple[int, int] = (800, 500),
) -> None:
    """Write ``series`` (name -> (x, y)) as a simple line chart with axes and a legend."""
    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)

    def tx(v):
        return np.log10(v) if logx else v

    def ty(v):
        return np.log10(np.maximum(v, 1e-6)) if logy else v

    xs = np.concatenate([tx(np.asarray(x, float)) for x, _ in series.values()])
    ys = np.concatenate([ty(np.asarray(y, float)) for _, y in series.values()])
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = (ty(np.array(ylim[0])), ty(np.array(ylim[1]))) if ylim else (ys.min(), ys.max())
    y0, y1 = float(y0), float(y1)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def px(x, y):
        u = left + (x - x0) / (x1 - x0) * (width - left - right)
        v = height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)
        return u, v

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for n in range(6):
        fx, fy = x0 + (x1 - x0) * n / 5, y0 + (y1 - y0) * n / 5
        u, _ = px(fx, y0)
        _, v = px(x0, fy)
        lx = 10**fx if logx else fx
        ly = 10**fy if logy else fy
        draw.line([u, height - bottom, u, height - bottom + 5], fill="black")
        draw.text((u - 15, height - bottom + 8), f"{lx:.3g}", fill="black")
        draw.line([left - 5, v, left, v], fill="black")
        draw.text((5, v - 6), f"{ly:.3g}", fill="black")
    draw.text((width // 2 - 4 * len(title), 12), title, fill="black")
    draw.text((width // 2 - 3 * len(xlabel), height - 20), xlabel, fill="black")
    draw.text((5, top - 20), ylabel, fill="black")
    for n, (name, (x, y)) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        pts = [
            px(a, b)
            for a, b in zip(tx(np.asarray(x, float)), ty(np.asarray(y, float)), strict=True)
        ]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        draw.text((width - right - 180, top + 8 + 14 * n), f"-- {name}", fill=colour)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
