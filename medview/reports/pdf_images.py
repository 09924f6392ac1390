"""Key images for the PDF report: the slice through each finding with its measurement drawn.

Pure numpy + Pillow: the axial slice through the finding's centre in a lung window, cropped
around the finding, its box and long-axis line drawn on top. Images follow the radiological
convention of the viewer: array column ``i`` left to right, row ``j`` top to bottom, which
for the usual LPS-aligned CT shows the patient's right on the left.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from medview.imaging.volume import Volume
from medview.reports.model import ReportedFinding

LUNG_WINDOW = (-600.0, 1500.0)  # centre, width (HU)
SIZE_PX = 320


def windowed(slice_hu: np.ndarray, window: tuple[float, float] = LUNG_WINDOW) -> np.ndarray:
    centre, width = window
    low = centre - width / 2
    scaled = (np.asarray(slice_hu, dtype=np.float32) - low) / width
    return (np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def key_image(volume: Volume, finding: ReportedFinding, number: int) -> bytes:
    """PNG bytes of the key image of ``finding`` (numbered ``number`` in the findings table)."""
    ci, cj, ck = volume.lps_to_index(np.asarray(finding.center_lps_mm, dtype=float))
    k = int(np.clip(round(float(ck)), 0, volume.shape[0] - 1))
    plane = windowed(volume.array[k])
    di, dj = volume.spacing[0], volume.spacing[1]
    side_mm = max(80.0, 4.0 * finding.long_axis_mm)
    half_i, half_j = side_mm / di / 2, side_mm / dj / 2
    ni, nj = plane.shape[1], plane.shape[0]
    i0 = int(np.clip(round(ci - half_i), 0, max(ni - 1, 0)))
    i1 = int(np.clip(round(ci + half_i), i0 + 1, ni))
    j0 = int(np.clip(round(cj - half_j), 0, max(nj - 1, 0)))
    j1 = int(np.clip(round(cj + half_j), j0 + 1, nj))
    crop = plane[j0:j1, i0:i1]
    # Square pixels on paper: scale each axis by its spacing.
    width_mm, height_mm = (i1 - i0) * di, (j1 - j0) * dj
    scale = SIZE_PX / max(width_mm, height_mm)
    width, height = max(1, round(width_mm * scale)), max(1, round(height_mm * scale))
    image = Image.fromarray(crop, mode="L").resize((width, height), Image.Resampling.BILINEAR)
    image = image.convert("RGB")
    draw = ImageDraw.Draw(image)

    def to_px(i: float, j: float) -> tuple[float, float]:
        return ((i - i0 + 0.5) * di * scale, (j - j0 + 0.5) * dj * scale)

    (x0, y0, z0), (x1, y1, z1) = finding.bbox_lps_mm
    corners = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    ijk = volume.lps_to_index(corners)
    (bi0, bj0), (bi1, bj1) = ijk[:, :2].min(axis=0), ijk[:, :2].max(axis=0)
    box = [*to_px(bi0, bj0), *to_px(bi1, bj1)]  # box corners are voxel edges already
    draw.rectangle(box, outline=(255, 210, 0), width=2)
    half_axis = finding.long_axis_mm / di / 2
    start, end = to_px(ci - half_axis, cj), to_px(ci + half_axis, cj)
    draw.line([start, end], fill=(0, 220, 120), width=2)
    for x, y in (start, end):
        draw.line([(x, y - 5), (x, y + 5)], fill=(0, 220, 120), width=2)
    label = f"{number}: {finding.long_axis_mm:.1f} mm"
    draw.rectangle([2, 2, 8 + 7 * len(label), 16], fill=(0, 0, 0))
    draw.text((5, 3), label, fill=(255, 255, 255))
    draw.text((5, height - 14), f"k={k + 1}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
