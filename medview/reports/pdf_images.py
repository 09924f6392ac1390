"""Key images for the PDF report: the slice through each finding with its measurement drawn.

Pure numpy + Pillow: the axial slice through the finding's centre in a lung window, cropped
around the finding, its box and long-axis line drawn on top. Images follow the radiological
convention of the viewer: array column ``i`` left to right, row ``j`` top to bottom, which
for the usual LPS-aligned CT shows the patient's right on the left.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from medview.imaging.volume import Volume
from medview.reports.model import ReportedFinding

LUNG_WINDOW = (-600.0, 1500.0)  # centre, width (HU)
SIZE_PX = 320
MARKER_BOX = (255, 210, 0)
MARKER_LINE = (0, 220, 120)


def windowed(slice_hu: np.ndarray, window: tuple[float, float] = LUNG_WINDOW) -> np.ndarray:
    centre, width = window
    low = centre - width / 2
    scaled = (np.asarray(slice_hu, dtype=np.float32) - low) / width
    return (np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


@dataclass(frozen=True)
class KeyFrame:
    """Where a finding's key image lies on the source grid and how it maps to pixels.

    Slice ``k`` (0-based), the crop ``[j0:j1, i0:i1]`` of that slice, and ``scale`` (image
    pixels per mm) that gives square pixels on paper whatever the voxel spacing. Every layer
    drawn on a key image (CT, saliency, markers) goes through this one mapping.
    """

    k: int
    i0: int
    i1: int
    j0: int
    j1: int
    di: float
    dj: float
    scale: float
    width: int
    height: int
    center_ij: tuple[float, float]

    def crop(self, plane: np.ndarray) -> np.ndarray:
        """The crop of a ``(y, x)`` slice of the source grid."""
        return plane[self.j0 : self.j1, self.i0 : self.i1]

    def to_px(self, i: float, j: float) -> tuple[float, float]:
        """Image pixel (x, y) of voxel index (i, j) of the slice (voxel centres)."""
        return (
            (i - self.i0 + 0.5) * self.di * self.scale,
            (j - self.j0 + 0.5) * self.dj * self.scale,
        )

    def resize(self, image: Image.Image) -> Image.Image:
        """``image`` (the crop, one pixel per voxel) at the key image's size."""
        return image.resize((self.width, self.height), Image.Resampling.BILINEAR)


def key_frame(volume: Volume, finding: ReportedFinding) -> KeyFrame:
    """The axial slice through ``finding``'s centre, cropped around it (80 mm or 4 long axes)."""
    ci, cj, ck = volume.lps_to_index(np.asarray(finding.center_lps_mm, dtype=float))
    k = int(np.clip(round(float(ck)), 0, volume.shape[0] - 1))
    di, dj = volume.spacing[0], volume.spacing[1]
    side_mm = max(80.0, 4.0 * finding.long_axis_mm)
    half_i, half_j = side_mm / di / 2, side_mm / dj / 2
    ni, nj = volume.shape[2], volume.shape[1]
    i0 = int(np.clip(round(ci - half_i), 0, max(ni - 1, 0)))
    i1 = int(np.clip(round(ci + half_i), i0 + 1, ni))
    j0 = int(np.clip(round(cj - half_j), 0, max(nj - 1, 0)))
    j1 = int(np.clip(round(cj + half_j), j0 + 1, nj))
    # Square pixels on paper: scale each axis by its spacing.
    width_mm, height_mm = (i1 - i0) * di, (j1 - j0) * dj
    scale = SIZE_PX / max(width_mm, height_mm)
    width, height = max(1, round(width_mm * scale)), max(1, round(height_mm * scale))
    return KeyFrame(
        k, i0, i1, j0, j1, float(di), float(dj), scale, width, height, (float(ci), float(cj))
    )


def ct_image(volume: Volume, frame: KeyFrame) -> Image.Image:
    """The frame's crop of the CT in the lung window, RGB at the key image's size."""
    crop = frame.crop(windowed(volume.array[frame.k]))
    return frame.resize(Image.fromarray(np.ascontiguousarray(crop), mode="L")).convert("RGB")


def draw_marker(
    image: Image.Image, volume: Volume, finding: ReportedFinding, frame: KeyFrame, label: str
) -> None:
    """The finding's box, long-axis line, ``label`` (top left) and slice number (bottom left)."""
    draw = ImageDraw.Draw(image)
    (x0, y0, z0), (x1, y1, z1) = finding.bbox_lps_mm
    corners = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
    ijk = volume.lps_to_index(corners)
    (bi0, bj0), (bi1, bj1) = ijk[:, :2].min(axis=0), ijk[:, :2].max(axis=0)
    box = [*frame.to_px(bi0, bj0), *frame.to_px(bi1, bj1)]  # box corners are voxel edges already
    draw.rectangle(box, outline=MARKER_BOX, width=2)
    ci, cj = frame.center_ij
    half_axis = finding.long_axis_mm / frame.di / 2
    start, end = frame.to_px(ci - half_axis, cj), frame.to_px(ci + half_axis, cj)
    draw.line([start, end], fill=MARKER_LINE, width=2)
    for x, y in (start, end):
        draw.line([(x, y - 5), (x, y + 5)], fill=MARKER_LINE, width=2)
    draw.rectangle([2, 2, 8 + 7 * len(label), 16], fill=(0, 0, 0))
    draw.text((5, 3), label, fill=(255, 255, 255))
    draw.text((5, image.height - 14), f"k={frame.k + 1}", fill=(255, 255, 255))


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def key_image(volume: Volume, finding: ReportedFinding, number: int) -> bytes:
    """PNG bytes of the key image of ``finding`` (numbered ``number`` in the findings table)."""
    frame = key_frame(volume, finding)
    image = ct_image(volume, frame)
    draw_marker(image, volume, finding, frame, f"{number}: {finding.long_axis_mm:.1f} mm")
    return png_bytes(image)
