"""A classic lung-nodule candidate detector: HU threshold, opening, shape measures.

No learning and no weights: inside a lung mask, voxels denser than the threshold form
candidates; a morphological opening with a ball a few mm wide cuts vessels (thin tubes) away
from nodules (blobs); each remaining component is scored by how compact and round it is and
how large. It finds well-circumscribed nodules; nodules fused with the chest wall
(juxtapleural) or with a large vessel are often missed, and vessel crossings can fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Settings:
    threshold_hu: float = -650.0
    lung_hu: float = -500.0
    opening_mm: float = 2.5
    min_diameter_mm: float = 4.0
    max_diameter_mm: float = 35.0
    max_elongation: float = 1.6
    max_flatness: float = 1.45
    min_roundness: float = 0.8
    max_mean_hu: float = 80.0
    min_air_around: float = 0.8


@dataclass(frozen=True)
class Blob:
    """One candidate in array (z, y, x) index space."""

    centroid_zyx: tuple[float, float, float]
    low_zyx: tuple[int, int, int]
    high_zyx: tuple[int, int, int]
    diameter_mm: float
    volume_mm3: float
    elongation: float
    flatness: float
    roundness: float
    mean_hu: float
    air_around: float
    score: float
    mask: np.ndarray  # bool (z, y, x), same shape as the input


def _radius(mm: float, spacing: tuple[float, float, float], least: int = 1) -> list[int]:
    """Per-axis voxel radius (i, j, k) of a ball of ``mm``.

    An axis whose voxels are coarser than the ball gets radius 0 (with ``least=0``): with
    5 mm slices a 3-slice element would erase every nodule under 15 mm.
    """
    return [max(least, int(mm / s + 0.25)) for s in spacing]


def lung_mask(image: sitk.Image, lung_hu: float, spacing) -> np.ndarray:
    """Air inside the body (not connected to the edge of the slices), holes closed.

    Closing and per-slice hole filling put nodules and vessels, which are dense, back into
    the lung they sit in.
    """
    smooth = sitk.SmoothingRecursiveGaussian(image, 1.5)
    air = sitk.GetArrayFromImage(smooth) < lung_hu
    labels = sitk.GetArrayFromImage(
        sitk.ConnectedComponent(sitk.GetImageFromArray(air.astype(np.uint8)))
    )
    edge = np.unique(
        np.concatenate(
            [
                labels[:, 0].ravel(),
                labels[:, -1].ravel(),
                labels[:, :, 0].ravel(),
                labels[:, :, -1].ravel(),
            ]
        )
    )
    lung = (labels > 0) & ~np.isin(labels, edge[edge > 0])
    lung_img = sitk.GetImageFromArray(lung.astype(np.uint8))
    lung_img.CopyInformation(image)
    closed = sitk.BinaryMorphologicalClosing(lung_img, _radius(8.0, spacing))
    out = sitk.GetArrayFromImage(closed).astype(bool)
    for k in range(out.shape[0]):
        if out[k].any():
            out[k] = (
                sitk.GetArrayFromImage(
                    sitk.BinaryFillhole(sitk.GetImageFromArray(out[k].astype(np.uint8)))
                )
                > 0
            )
    return out


def _air_around(mask, smooth, nonzero, spacing, lung_hu: float, shell_mm: float = 4.0) -> float:
    """Fraction of a thin shell around the blob that is aerated lung.

    A nodule sits in air; a vessel crossing or a piece of chest wall continues into dense
    tissue on some side.
    """
    zz, yy, xx = nonzero
    rz, ry, rx = (max(1, int(shell_mm / s + 0.5)) for s in (spacing[2], spacing[1], spacing[0]))
    lo = np.maximum([zz.min() - rz, yy.min() - ry, xx.min() - rx], 0)
    hi = np.minimum([zz.max() + rz + 1, yy.max() + ry + 1, xx.max() + rx + 1], mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    inside = sitk.GetImageFromArray(mask[box].astype(np.uint8))
    grown = sitk.GetArrayFromImage(sitk.BinaryDilate(inside, [rx, ry, rz], sitk.sitkBall)) > 0
    shell = grown & ~mask[box]
    if not shell.any():
        return 0.0
    return float(np.mean(smooth[box][shell] < lung_hu))


def _score(
    diameter: float, elongation: float, flatness: float, roundness: float, air: float, s: Settings
) -> float:
    """0..1: near 1 for a round, compact blob of 8 mm or more standing free in the lung.

    Each shape measure maps linearly from its ideal (1.0 for elongation and flatness, full
    air around) to 0 at its rejection limit; the weakest one counts.
    """
    shape = min(
        1.0 - (elongation - 1.0) / (s.max_elongation - 1.0),
        1.0 - (flatness - 1.0) / (s.max_flatness - 1.0),
        (roundness - s.min_roundness) / (1.0 - s.min_roundness) if roundness < 1.0 else 1.0,
        (air - s.min_air_around) / max(1e-6, 0.95 - s.min_air_around),
    )
    size = min(1.0, 0.5 + 0.5 * (diameter - s.min_diameter_mm) / max(1e-6, 8.0 - s.min_diameter_mm))
    return float(np.clip(0.1 + 0.9 * np.clip(shape, 0.0, 1.0) * size, 0.0, 1.0))


def detect(
    array: np.ndarray,
    spacing,
    origin,
    direction,
    settings: Settings,
    progress: Progress = lambda f, m: None,
) -> list[Blob]:
    """Candidates in a CT ``array`` (z, y, x, HU) with its geometry (SimpleITK conventions)."""
    image = sitk.GetImageFromArray(np.clip(array, -1024, 400).astype(np.float32))
    image.SetSpacing(tuple(float(v) for v in spacing))
    image.SetOrigin(tuple(float(v) for v in origin))
    image.SetDirection(tuple(float(v) for v in np.asarray(direction).ravel()))
    progress(0.1, "lung mask")
    lungs = lung_mask(image, settings.lung_hu, spacing)
    progress(0.4, "candidates")
    smooth = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, 1.0))
    dense = (smooth > settings.threshold_hu) & lungs
    dense_img = sitk.GetImageFromArray(dense.astype(np.uint8))
    dense_img.CopyInformation(image)
    opened = sitk.BinaryMorphologicalOpening(
        dense_img, _radius(settings.opening_mm, spacing, 0), sitk.sitkBall
    )
    labels = sitk.ConnectedComponent(opened)
    progress(0.7, "shape analysis")
    shapes = sitk.LabelShapeStatisticsImageFilter()
    shapes.Execute(labels)
    label_array = sitk.GetArrayFromImage(labels)
    # A ball fills ~52% of its bounding box; a component not bigger than ~60% of the box is
    # just the structuring element that fitted where tubes crossed, not a blob.
    element = _radius(settings.opening_mm, spacing, 0)
    ball_voxels = float(np.prod([2 * r + 1 for r in element]))
    blobs: list[Blob] = []
    for label in shapes.GetLabels():
        voxels = shapes.GetNumberOfPixels(label)
        diameter = 2.0 * shapes.GetEquivalentSphericalRadius(label)
        elongation, flatness = shapes.GetElongation(label), shapes.GetFlatness(label)
        roundness = shapes.GetRoundness(label)
        if not settings.min_diameter_mm <= diameter <= settings.max_diameter_mm:
            continue
        if voxels <= 0.6 * ball_voxels:
            continue
        if elongation > settings.max_elongation or flatness > settings.max_flatness:
            continue
        if roundness < settings.min_roundness:
            continue
        mask = label_array == label
        zz, yy, xx = np.nonzero(mask)
        mean_hu = float(array[mask].mean())
        # A blob is about as tall as it is wide; a one-slice disc is a vessel seen end-on,
        # and anything denser than soft tissue on average is bone the lung mask took in.
        depth_mm = (zz.max() - zz.min() + 1) * spacing[2]
        width_mm = max(yy.max() - yy.min() + 1, xx.max() - xx.min() + 1) * min(spacing[:2])
        if (
            zz.max() == zz.min()
            or not 0.5 <= depth_mm / width_mm <= 2.0
            or mean_hu > settings.max_mean_hu
        ):
            continue
        surround = _air_around(mask, smooth, (zz, yy, xx), spacing, settings.lung_hu)
        if surround < settings.min_air_around:
            continue
        blobs.append(
            Blob(
                centroid_zyx=(float(zz.mean()), float(yy.mean()), float(xx.mean())),
                low_zyx=(int(zz.min()), int(yy.min()), int(xx.min())),
                high_zyx=(int(zz.max()), int(yy.max()), int(xx.max())),
                diameter_mm=diameter,
                volume_mm3=float(shapes.GetPhysicalSize(label)),
                elongation=elongation,
                flatness=flatness,
                roundness=roundness,
                mean_hu=mean_hu,
                air_around=surround,
                score=_score(diameter, elongation, flatness, roundness, surround, settings),
                mask=mask,
            )
        )
    progress(0.95, f"{len(blobs)} candidate(s)")
    return sorted(blobs, key=lambda b: -b.score)
