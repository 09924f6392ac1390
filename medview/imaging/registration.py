"""Rigid alignment of two scans of one patient (a prior and the current study), in LPS mm.

Two studies have their own frames of reference: the table moved, the patient lay a little
differently, so the same nodule sits at different LPS coordinates. To link a prior and a
current scan slice for slice (what a reader does to see whether a nodule grew), medview
finds the rigid transform between them with SimpleITK: Mattes mutual information on both
volumes resampled to a coarse grid (8 mm, then 4 mm), HU clipped to [-1000, 1000] so metal
and contrast do not dominate, starting from the centres of mass. The result maps a point of
the *fixed* (current) scan to the same anatomy in the *moving* (prior) one.

It is a reading aid, not a measurement: breathing and positioning deform the chest, so the
link is right near where the reader looks only to a few millimetres; medview says so where
it shows the comparison. numpy and SimpleITK only; runs on a worker thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from medview.core.errors import MedviewError
from medview.imaging.volume import Volume

#: Coarse-to-fine grid spacings (mm) the metric is evaluated on. Measured on a 128 x 128 x
#: 80 phantom moved by 21 mm and 4 degrees (2 cores): (8, 4) 2.7 s, worst nodule 0.55 mm;
#: (4, 2) 21.8 s; 4 alone 3.2 s, 1.04 mm.
LEVELS_MM = (8.0, 4.0)
#: HU range the alignment sees (air to dense bone).
CLIP_HU = (-1000.0, 1000.0)
#: Below this correlation of the aligned scans the alignment is called uncertain. Measured
#: on 128 x 128 x 80 phantoms: the same scan moved 21 mm and 4 degrees 0.996, another
#: phantom's anatomy 0.92, a plain cylinder -0.03: it catches a failed alignment or another
#: body region, not another patient's chest (the Patient ID check is for that).
UNCERTAIN_BELOW = 0.6


@dataclass(frozen=True)
class Alignment:
    """``matrix`` (4 x 4) maps fixed LPS mm to moving LPS mm; ``similarity`` is the
    correlation of the two scans' HU after alignment, on the 4 mm grid where either shows
    tissue (None when nothing was estimated)."""

    matrix: np.ndarray
    metric: float
    seconds: float
    similarity: float | None = None

    @property
    def uncertain(self) -> bool:
        """The aligned scans hardly look alike: the link is not to be trusted."""
        return self.similarity is not None and self.similarity < UNCERTAIN_BELOW

    def to_moving(self, lps) -> np.ndarray:
        point = np.asarray(lps, float)
        return point @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def to_fixed(self, lps) -> np.ndarray:
        point = np.asarray(lps, float)
        return (point - self.matrix[:3, 3]) @ self.matrix[:3, :3]

    @property
    def translation_mm(self) -> np.ndarray:
        return self.matrix[:3, 3].copy()

    @property
    def rotation_degrees(self) -> float:
        """The angle of the rotation part (about whatever axis)."""
        cos = (np.trace(self.matrix[:3, :3]) - 1.0) / 2.0
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def identity() -> Alignment:
    """Same frame of reference: nothing to align."""
    return Alignment(np.eye(4), 0.0, 0.0)


def _pyramid(volume: Volume) -> list:
    """``volume`` as float32 SimpleITK images on isotropic grids of :data:`LEVELS_MM`, in
    that order, HU clipped to :data:`CLIP_HU`. The full-resolution volume is smoothed and
    resampled once, to the finest level; coarser levels are made from that."""
    import SimpleITK as sitk

    if volume.is_color:
        raise MedviewError("a colour image cannot be aligned")
    image = volume.to_sitk()
    # Block-average to about half the finest level first: smoothing 78 M voxels of a
    # 512 x 512 x 300 CT at full resolution took most of the time, for nothing kept.
    finest = min(LEVELS_MM) / 2.0
    factors = [max(int(finest // s), 1) for s in image.GetSpacing()]
    if max(factors) > 1:
        image = sitk.BinShrink(image, factors)
    image = sitk.Clamp(sitk.Cast(image, sitk.sitkFloat32), sitk.sitkFloat32, *CLIP_HU)
    images = []
    for spacing in sorted(LEVELS_MM):
        images.append(_shrink(image, spacing))
        image = images[-1]
    order = sorted(range(len(LEVELS_MM)), key=lambda i: LEVELS_MM[i])
    by_spacing = dict(zip((LEVELS_MM[i] for i in order), images, strict=True))
    return [by_spacing[spacing] for spacing in LEVELS_MM]


def _shrink(image, spacing_mm: float):
    """``image`` smoothed (so the coarser grid does not alias the vessels) and resampled on
    an isotropic ``spacing_mm`` grid covering it."""
    import SimpleITK as sitk

    extent = np.asarray(image.GetSize(), float) * np.asarray(image.GetSpacing(), float)
    resampler = sitk.ResampleImageFilter()
    resampler.SetOutputSpacing((spacing_mm,) * 3)
    resampler.SetSize([max(int(round(e / spacing_mm)), 2) for e in extent])
    resampler.SetOutputDirection(image.GetDirection())
    resampler.SetOutputOrigin(image.GetOrigin())
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetDefaultPixelValue(CLIP_HU[0])
    return resampler.Execute(sitk.SmoothingRecursiveGaussian(image, spacing_mm / 2.0))


def align_rigid(fixed: Volume, moving: Volume, check=None) -> Alignment:
    """The rigid transform from ``fixed`` LPS to ``moving`` LPS (see the module docstring).

    ``check`` is called between levels (a cancel raises from it).

    Raises
    ------
    MedviewError
        When the volumes do not overlap enough to align (the optimiser found nothing).
    """
    import SimpleITK as sitk

    started = time.perf_counter()
    fixed_levels, moving_levels = _pyramid(fixed), _pyramid(moving)
    transform = None
    metric_value = float("nan")
    for spacing, fixed_image, moving_image in zip(
        LEVELS_MM, fixed_levels, moving_levels, strict=True
    ):
        if check is not None:
            check()
        if transform is None:
            transform = sitk.CenteredTransformInitializer(
                fixed_image,
                moving_image,
                sitk.Euler3DTransform(),
                sitk.CenteredTransformInitializerFilter.MOMENTS,
            )
        method = sitk.ImageRegistrationMethod()
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=32)
        method.SetMetricSamplingStrategy(method.RANDOM)
        method.SetMetricSamplingPercentage(0.25, seed=1)  # a fixed seed: the same answer
        method.SetInterpolator(sitk.sitkLinear)
        method.SetOptimizerAsRegularStepGradientDescent(
            learningRate=spacing, minStep=spacing / 50.0, numberOfIterations=150,
            relaxationFactor=0.6,
        )  # fmt: skip
        method.SetOptimizerScalesFromPhysicalShift()
        method.SetInitialTransform(transform, inPlace=True)
        try:
            method.Execute(fixed_image, moving_image)
        except RuntimeError as exc:
            raise MedviewError(f"the two series could not be aligned ({exc})") from None
        metric_value = float(method.GetMetricValue())
    assert transform is not None
    matrix = _matrix(transform)
    similarity = _similarity(fixed_levels[-1], moving_levels[-1], matrix)
    return Alignment(matrix, metric_value, time.perf_counter() - started, similarity)


def _similarity(fixed_image, moving_image, matrix: np.ndarray) -> float:
    """Pearson correlation of the fixed image and the moving one resampled through
    ``matrix``, over the voxels both cover where either shows tissue (above -900 HU)."""
    import SimpleITK as sitk

    transform = sitk.AffineTransform(3)
    transform.SetMatrix(tuple(float(v) for v in matrix[:3, :3].ravel()))
    transform.SetTranslation(tuple(float(v) for v in matrix[:3, 3]))
    outside = CLIP_HU[0] - 1000.0
    resampled = sitk.Resample(moving_image, fixed_image, transform, sitk.sitkLinear, outside)
    fixed_hu = sitk.GetArrayViewFromImage(fixed_image)
    moving_hu = sitk.GetArrayViewFromImage(resampled)
    both = (moving_hu > outside + 1.0) & ((fixed_hu > -900.0) | (moving_hu > -900.0))
    if both.sum() < 100:
        return 0.0  # hardly any overlap
    x, y = fixed_hu[both].astype(float), moving_hu[both].astype(float)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _matrix(transform) -> np.ndarray:
    """A 4 x 4 (fixed LPS -> moving LPS) from SimpleITK's Euler3D (centre, rotation,
    translation): x -> R (x - c) + c + t."""
    rotation = np.asarray(transform.GetMatrix(), float).reshape(3, 3)
    centre = np.asarray(transform.GetCenter(), float)
    translation = np.asarray(transform.GetTranslation(), float)
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = centre + translation - rotation @ centre
    return matrix
