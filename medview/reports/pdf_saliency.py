"""Saliency key images for the PDF report: the finding's key image with its attribution map.

An accepted finding that an explanation plugin explained (issue 7) gets a second key image:
the same slice and crop as its plain key image (:func:`.pdf_images.key_frame`, so both stay
on the source grid), the attribution map of that slice drawn over the CT as a semi-transparent
heat colour map, and the finding's box and long axis on top. Only positive attribution is
drawn (what raised the detector's score; for Grad-CAM all of it), normalised to the map's
maximum over that slice; values below :data:`THRESHOLD` of it stay transparent so the CT
shows through. The colours run from red (at the threshold) to orange (at the maximum): a heat
scale that stays distinct from the yellow box and green long-axis line drawn on top.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from medview.imaging.volume import Volume
from medview.reports.model import ReportedFinding
from medview.reports.pdf_images import ct_image, draw_marker, key_frame, png_bytes

#: Fraction of the slice's maximum below which attribution is not drawn.
THRESHOLD = 0.2
#: Opacity of the heat colour at the threshold and at the maximum.
ALPHA_RANGE = (0.45, 0.75)
#: Green of the heat colour at the maximum (red 255, blue 0 throughout).
PEAK_GREEN = 140


def heat_rgba(
    values: np.ndarray, peak: float | None = None, threshold: float = THRESHOLD
) -> np.ndarray:
    """RGBA uint8 ``(..., 4)`` heat colours of attribution ``values``.

    Positive values only, normalised to ``peak`` (default: their maximum); below
    ``threshold`` of it (and everywhere when nothing is positive) alpha is 0. Red at the
    threshold to orange at the peak, more opaque as the value grows.
    """
    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    positive = np.clip(values, 0.0, None)
    if peak is None:
        peak = float(positive.max()) if positive.size else 0.0
    out = np.zeros((*values.shape, 4), np.uint8)
    if peak <= 0.0:
        return out
    level = np.clip(positive / peak, 0.0, 1.0)
    shown = level >= threshold
    ramp = np.clip((level - threshold) / (1.0 - threshold), 0.0, 1.0)
    low, high = ALPHA_RANGE
    out[..., 0] = 255
    out[..., 1] = np.round(PEAK_GREEN * ramp).astype(np.uint8)
    out[..., 3] = np.where(shown, np.round(255 * (low + (high - low) * ramp)), 0).astype(np.uint8)
    return out


def saliency_image(volume: Volume, finding: ReportedFinding, number: int) -> Image.Image | None:
    """The saliency key image of ``finding`` (RGB), or None when it has no explanation."""
    explanation = finding.explanation
    if explanation is None:
        return None
    array = np.asarray(explanation.array)
    if array.shape != volume.shape:
        raise ValueError(
            f"the explanation of finding {finding.id} is {array.shape}, not the grid {volume.shape}"
        )
    frame = key_frame(volume, finding)
    image = ct_image(volume, frame)
    # Normalised over the whole slice (not the crop), then cropped and resized like the CT:
    # the float map is resampled before colouring so colours stay on the ramp.
    positive = np.clip(np.nan_to_num(array[frame.k].astype(np.float32)), 0.0, None)
    peak = float(positive.max())
    if peak > 0.0:
        crop = np.ascontiguousarray(frame.crop(positive / peak), dtype=np.float32)
        level = np.asarray(frame.resize(Image.fromarray(crop, mode="F")), dtype=np.float32)
        heat = Image.fromarray(heat_rgba(level, peak=1.0), mode="RGBA")
        image = Image.alpha_composite(image.convert("RGBA"), heat).convert("RGB")
    label = f"{number}: {explanation.method_name}"
    draw_marker(image, volume, finding, frame, label)
    return image


def saliency_key_image(volume: Volume, finding: ReportedFinding, number: int) -> bytes | None:
    """PNG bytes of :func:`saliency_image`, or None when the finding has no explanation."""
    image = saliency_image(volume, finding, number)
    return None if image is None else png_bytes(image)
