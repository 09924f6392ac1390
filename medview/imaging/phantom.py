"""A synthetic but plausible chest CT, in Hounsfield units, for the demo study and tests.

The anatomy is defined in physical patient LPS millimetres (see ``_phantom_anatomy``), so a
coarse grid shows the same patient as a fine one, and it varies with the seed (body habitus,
diaphragm, heart, vessel trees, nodules) while staying deterministic per seed. Its left/right
and anterior/posterior asymmetry is deliberate: the heart and the descending aorta are on the
patient's left (+x), the liver dome under the higher right hemidiaphragm (-x), the sternum
anterior (-y) and the spine posterior (+y). Orientation tests use it.

Only numpy: nothing here knows DICOM (``medview.dicom.demo`` writes the series). The private
helpers hold the parts: ``_phantom_anatomy`` (seeded parameters and analytic organ regions),
``_phantom_tubes`` and ``_phantom_vessels`` (great vessels, airways, ribs; pulmonary trees by
space colonisation), ``_phantom_nodules`` (placement and truth), ``_phantom_render`` (drawing,
point spread function, noise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from medview.imaging._phantom_anatomy import draw_anatomy, landmarks
from medview.imaging._phantom_nodules import NodulePlan, place_nodules
from medview.imaging._phantom_render import Canvas, SlicePainter, blur, finish
from medview.imaging._phantom_tubes import build_layers, obstacle_segments
from medview.imaging.volume import Volume, VolumeMeta, WindowPreset

#: Default in-plane field of view and craniocaudal coverage, mm.
FIELD_OF_VIEW_MM = 360.0
COVERAGE_MM = 300.0
#: Point spread function of the "scanner", mm (in-plane sigma; z at least this).
PSF_SIGMA_MM = 0.7
#: Juxtapleural nodules are drawn only over lung (HU below this), not into the chest wall.
_LUNG_BELOW_HU = -400.0
_STREAM = 0x6D656476  # "medv": keeps these seeds apart from other uses of the same integer

WINDOWS = (WindowPreset(40.0, 400.0, "Mediastinum"), WindowPreset(-600.0, 1500.0, "Lung"))


@dataclass(frozen=True)
class NoduleTruth:
    """Ground truth of one synthetic nodule.

    Attributes
    ----------
    id
        1-based, in placement order.
    kind
        ``"solid"``, ``"part-solid"``, ``"ground-glass"`` or ``"juxtapleural"`` (solid,
        touching the costal pleura).
    center_lps
        Centre in patient LPS mm (for juxtapleural nodules, the centroid of the drawn part).
    diameter_mm
        Volume-equivalent diameter.
    volume_mm3
        Exact volume of the drawn shape (sphere; for juxtapleural the part inside the lung).
    solid_core_diameter_mm
        Diameter of the solid component: the whole nodule for solid and juxtapleural ones,
        the core for part-solid ones, None for pure ground-glass.
    side
        ``"right"`` or ``"left"`` lung (the patient's side).
    """

    id: int
    kind: str
    center_lps: tuple[float, float, float]
    diameter_mm: float
    volume_mm3: float
    solid_core_diameter_mm: float | None
    side: str


@dataclass(frozen=True)
class PhantomSpec:
    """Grid and randomness of a phantom.

    Attributes
    ----------
    size
        Rows and columns of each axial slice.
    slices
        Number of axial slices.
    pixel_spacing
        In-plane spacing, mm; default ``360 / size`` (a 360 mm field of view).
    slice_spacing
        Slice spacing, mm; default ``300 / slices`` (300 mm coverage, 1.0 mm at 300 slices).
    seed
        Selects the anatomy and the nodules; the same seed always gives the same volume.
    noise_hu
        Standard deviation of the added Gaussian noise, HU.
    """

    size: int = 512
    slices: int = 300
    pixel_spacing: float | None = None
    slice_spacing: float | None = None
    seed: int = 0
    noise_hu: float = 18.0

    def __post_init__(self) -> None:
        if self.size < 16 or self.slices < 1:
            raise ValueError(f"phantom needs size >= 16 and slices >= 1, got {self}")
        for name in ("pixel_spacing", "slice_spacing"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"phantom {name} must be a positive number, got {value}")
        if not self.noise_hu >= 0:
            raise ValueError(f"phantom noise_hu must be >= 0, got {self.noise_hu}")

    @property
    def spacing(self) -> tuple[float, float, float]:
        """``(di, dj, dk)`` in mm."""
        pixel = self.pixel_spacing or FIELD_OF_VIEW_MM / self.size
        return (float(pixel), float(pixel), float(self.slice_spacing or COVERAGE_MM / self.slices))


def _empty_volume(spec: PhantomSpec) -> Volume:
    """Axial LPS grid centred on the patient (x = y = z = 0 at the middle)."""
    spacing = spec.spacing
    counts = (spec.size, spec.size, spec.slices)
    origin = tuple(-(n - 1) / 2.0 * s for n, s in zip(counts, spacing, strict=True))
    array = np.empty((spec.slices, spec.size, spec.size), dtype=np.float32)
    return Volume(array, spacing, origin, np.eye(3))


def _axis_coordinates(volume: Volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS x of each column, y of each row, z of each slice (via the Volume's affine)."""
    ni, nj, nk = volume.size_ijk
    coords = []
    for axis, n in enumerate((ni, nj, nk)):
        ijk = np.zeros((n, 3))
        ijk[:, axis] = np.arange(n)
        coords.append(volume.index_to_lps(ijk)[:, axis])
    return coords[0], coords[1], coords[2]


def make_phantom(
    spec: PhantomSpec, *, progress: Callable[[float], None] | None = None
) -> tuple[Volume, list[NoduleTruth]]:
    """Build the synthetic chest CT described by ``spec``.

    Parameters
    ----------
    spec
        Grid, seed and noise.
    progress
        Optional callback receiving the completed fraction (0..1).

    Returns
    -------
    (Volume, list of NoduleTruth)
        int16 HU volume ``(z, y, x)``, axial, identity direction (i -> Left, j -> Posterior,
        k -> Superior), centred on the patient; ``meta.extra["landmarks_lps"]`` names LPS
        points of known tissue (heart centre, liver dome, descending aorta, trachea, vertebral
        body, sternum). The nodule truth is in LPS mm, independent of the grid.
    """
    report = progress or (lambda _fraction: None)
    anatomy_seq, tube_seq, nodule_seq, noise_seq = np.random.SeedSequence(
        [_STREAM, spec.seed]
    ).spawn(4)
    anatomy = draw_anatomy(np.random.default_rng(anatomy_seq))
    soft, hard = build_layers(anatomy, np.random.default_rng(tube_seq))
    plans = place_nodules(
        anatomy, np.random.default_rng(nodule_seq), obstacle_segments(soft + hard)
    )
    report(0.05)

    volume = _empty_volume(spec)
    canvas = Canvas(volume.array, *_axis_coordinates(volume))
    painter = SlicePainter(anatomy, canvas)
    nz = spec.slices
    for k in range(nz):
        painter.paint(k)
        if k % 16 == 15:
            report(0.05 + 0.35 * (k + 1) / nz)
    for layer in soft:
        canvas.paint_segments(layer.segments, layer.hu)
    report(0.55)
    for plan in plans:
        below = _LUNG_BELOW_HU if plan.kind == "juxtapleural" else None
        canvas.paint_sphere(plan.center, plan.radius, plan.hu, below)
        if plan.core_radius is not None:
            canvas.paint_sphere(plan.center, plan.core_radius, plan.core_hu)
    for layer in hard:
        canvas.paint_segments(layer.segments, layer.hu)
    report(0.65)
    # The slice sensitivity profile is at least as wide as the slice (FWHM ~ thickness).
    sigma_z = max(PSF_SIGMA_MM, 0.42 * volume.spacing[2])
    blur(canvas.array, (PSF_SIGMA_MM, PSF_SIGMA_MM, sigma_z), volume.spacing)
    report(0.8)
    hu = finish(
        canvas.array,
        spec.noise_hu,
        np.random.default_rng(noise_seq),
        progress=lambda f: report(0.8 + 0.2 * f),
    )
    meta = VolumeMeta(
        modality="CT",
        units="HU",
        series_description="Demo chest CT (synthetic phantom)",
        windows=WINDOWS,
        extra={
            "synthetic": True,
            "phantom_seed": spec.seed,
            "landmarks_lps": landmarks(anatomy),
        },
    )
    result = Volume(hu, volume.spacing, volume.origin, volume.direction, meta)
    truths = [_truth(i + 1, plan) for i, plan in enumerate(plans)]
    report(1.0)
    return result, truths


def _truth(index: int, plan: NodulePlan) -> NoduleTruth:
    diameter = float((6.0 * plan.volume_mm3 / np.pi) ** (1.0 / 3.0))
    if plan.kind == "ground-glass":
        solid = None
    elif plan.core_radius is not None:
        solid = 2.0 * plan.core_radius
    else:
        solid = diameter
    center = tuple(round(float(v), 3) for v in plan.centroid)
    return NoduleTruth(
        id=index,
        kind=plan.kind,
        center_lps=center,  # type: ignore[arg-type]
        diameter_mm=round(diameter, 3),
        volume_mm3=round(float(plan.volume_mm3), 2),
        solid_core_diameter_mm=None if solid is None else round(float(solid), 3),
        side="right" if center[0] < 0 else "left",
    )
