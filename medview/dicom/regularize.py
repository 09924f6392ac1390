"""Resampling irregular slice stacks onto a regular grid (issue 2, geometry checks).

Only used when the examine step found missing slices, non-uniform spacing or gantry tilt, and
always together with a warning that the shown slices are interpolated, not acquired.
"""

from __future__ import annotations

import numpy as np

from medview.core.errors import DicomLoadError
from medview.dicom.limits import check_budget


def regularize_spacing(
    array: np.ndarray,
    positions: np.ndarray,
    direction: np.ndarray,
    step: float,
    path: str | None = None,
) -> np.ndarray:
    """Linear interpolation along k from the acquired slice positions to a uniform grid."""
    distances = positions @ direction[:, 2]
    distances = distances - distances[0]
    span = float(distances[-1]) / step if step > 0 else float("inf")
    if not np.isfinite(span):
        raise DicomLoadError("slice positions cannot be put on a regular grid", path)
    count = round(span) + 1
    # Positions are header values: 2 slices 1 km apart at 1 mm would be a million slices
    # (issue 11, R6). Check the claim before np.arange and np.empty.
    check_budget(count * array[0].nbytes, f"the resampled volume ({count} slices)", path)
    targets = np.arange(count) * step
    upper = np.searchsorted(distances, targets, side="left").clip(1, len(distances) - 1)
    lower = upper - 1
    span = distances[upper] - distances[lower]
    weight = np.where(span > 0, (targets - distances[lower]) / np.where(span > 0, span, 1), 0.0)
    weight = weight.clip(0.0, 1.0).astype(np.float32)
    out = np.empty((count, *array.shape[1:]), dtype=array.dtype)
    for k in range(count):
        blended = array[lower[k]].astype(np.float32) * (1 - weight[k]) + array[upper[k]] * weight[k]
        out[k] = np.rint(blended) if np.issubdtype(array.dtype, np.integer) else blended
    return out


def remove_tilt(
    array: np.ndarray,
    positions: np.ndarray,
    direction: np.ndarray,
    spacing: tuple[float, float, float],
) -> np.ndarray:
    """Shift each slice in-plane so all slices share the first slice's in-plane grid.

    With gantry tilt, slice k's pixel (i', j') lies at ``P0 + d_k n + (i' + s_i) di r +
    (j' + s_j) dj c`` where ``s`` is that slice's in-plane offset in pixels; the regular grid
    pixel (i, j) therefore samples the slice at (i - s_i, j - s_j), bilinearly. Pixels that
    fall outside the acquired slice take the slice's minimum (air/padding).
    """
    offsets = positions - positions[0]
    shift_i = offsets @ direction[:, 0] / spacing[0]
    shift_j = offsets @ direction[:, 1] / spacing[1]
    out = np.empty_like(array)
    for k in range(array.shape[0]):
        out[k] = _shift_bilinear(array[k], shift_j[k], shift_i[k])
    return out


def _shift_bilinear(image: np.ndarray, shift_rows: float, shift_cols: float) -> np.ndarray:
    """``out[r, c] = image[r - shift_rows, c - shift_cols]``, bilinear."""
    rows, cols = image.shape[:2]
    fill = image.min()
    source = image.astype(np.float32)
    r = np.arange(rows, dtype=np.float32) - shift_rows
    c = np.arange(cols, dtype=np.float32) - shift_cols
    r0 = np.floor(r).astype(int)
    c0 = np.floor(c).astype(int)
    fr = (r - r0)[:, None]
    fc = (c - c0)[None, :]

    def take(ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
        valid = (
            (ri[:, None] >= 0) & (ri[:, None] < rows) & (ci[None, :] >= 0) & (ci[None, :] < cols)
        )
        values = source[ri.clip(0, rows - 1)[:, None], ci.clip(0, cols - 1)[None, :]]
        return np.where(valid, values, np.float32(fill))

    result = (
        take(r0, c0) * (1 - fr) * (1 - fc)
        + take(r0 + 1, c0) * fr * (1 - fc)
        + take(r0, c0 + 1) * (1 - fr) * fc
        + take(r0 + 1, c0 + 1) * fr * fc
    )
    if np.issubdtype(image.dtype, np.integer):
        result = np.rint(result)
    return result.astype(image.dtype)
