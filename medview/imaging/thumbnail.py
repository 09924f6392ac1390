"""Small preview images of a Volume for the study browser; numpy only.

The thumbnail is cut in patient space, not index space: the plane through the volume centre
is sampled on an LPS grid in radiological convention (axial: patient right on the left,
anterior at the top; coronal: patient right on the left, head at the top; sagittal: anterior
on the left, head at the top), so a series stored with flipped or permuted axes looks the
same as the viewer shows it (ARCHITECTURE.md, rule 2).
"""

from __future__ import annotations

import numpy as np

from medview.imaging.volume import Volume

__all__ = ["thumbnail", "thumbnail_window"]

#: CT default when the series carries no window (soft tissue, centre 40 HU, width 400 HU).
CT_WINDOW = (40.0, 400.0)

#: Screen-right and screen-down directions in LPS, by acquisition plane (radiological view).
_PLANES = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


def thumbnail_window(volume: Volume, sample: np.ndarray | None = None) -> tuple[float, float]:
    """(centre, width): the first DICOM window, CT 40/400, or a 1–99.5 percentile window.

    Parameters
    ----------
    volume
        The volume to show.
    sample
        Values to take percentiles of (default: the whole volume).
    """
    if volume.meta.windows:
        preset = volume.meta.windows[0]
        return float(preset.center), max(float(preset.width), 1.0)
    if volume.meta.modality.upper() == "CT":
        return CT_WINDOW
    values = volume.array if sample is None else sample
    if values.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(values, [1.0, 99.5]))
    if high <= low:
        high = low + 1.0
    return (low + high) / 2.0, high - low


def _plane_axes(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """Screen-right and screen-down (LPS unit vectors) for the volume's acquisition plane."""
    normal = np.abs(volume.direction[:, 2])
    name = ("sagittal", "coronal", "axial")[int(np.argmax(normal))]
    right, down = _PLANES[name]
    return np.asarray(right), np.asarray(down)


def thumbnail(volume: Volume, size: int = 96) -> np.ndarray:
    """The middle slice of ``volume`` as a small 8-bit image.

    Parameters
    ----------
    volume
        Grey-level ``(z, y, x)`` or colour ``(z, y, x, 3)`` volume.
    size
        Width and height of the result in pixels.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` uint8 (or ``(size, size, 3)`` for colour): the plane through the
        volume centre, windowed (inverted for MONOCHROME1), aspect ratio preserved and
        letterboxed with black, nearest-neighbour sampled.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be positive, got {size}")
    right, down = _plane_axes(volume)
    sizes = np.asarray(volume.size_ijk, float)
    # The outer faces of the voxels (index -0.5 .. n - 0.5) bound the picture.
    corners = np.array(
        [[i, j, k] for i in (-0.5, sizes[0] - 0.5) for j in (-0.5, sizes[1] - 0.5)
         for k in (-0.5, sizes[2] - 0.5)]
    )  # fmt: skip
    lps = volume.index_to_lps(corners)
    along_right, along_down = lps @ right, lps @ down
    width = float(along_right.max() - along_right.min())
    height = float(along_down.max() - along_down.min())
    mm_per_pixel = max(width, height, 1e-6) / size
    centre = volume.index_to_lps((sizes - 1.0) / 2.0)
    offsets = (np.arange(size, dtype=float) - (size - 1) / 2.0) * mm_per_pixel
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    points = centre + cols[..., None] * right + rows[..., None] * down
    ijk = np.rint(volume.lps_to_index(points.reshape(-1, 3))).astype(np.int64)
    inside = np.all((ijk >= 0) & (ijk < np.asarray(volume.size_ijk)), axis=1)
    ijk = np.clip(ijk, 0, np.asarray(volume.size_ijk) - 1)
    values = volume.array[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    if volume.is_color:
        image = _colour_to_uint8(values)
        image[~inside] = 0
        return image.reshape(size, size, -1)[..., :3]
    centre_value, window_width = thumbnail_window(volume, values[inside])
    low = centre_value - window_width / 2.0
    scaled = (values.astype(np.float64) - low) / window_width
    grey = np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
    if volume.meta.invert_display:
        grey = 255 - grey
    grey[~inside] = 0  # the letterbox stays black, inverted display or not
    return grey.reshape(size, size)


def _colour_to_uint8(values: np.ndarray) -> np.ndarray:
    if values.dtype == np.uint8:
        return values.copy()
    top = float(values.max()) if values.size else 0.0
    scale = 255.0 / top if top > 255.0 else 1.0
    return np.clip(np.rint(values.astype(np.float64) * scale), 0, 255).astype(np.uint8)
