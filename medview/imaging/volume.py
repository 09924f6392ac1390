"""The Volume: voxels plus patient geometry, the one currency between layers.

A Volume is what a DICOM series becomes, what the viewer shows, what an AI plugin receives and
what a derived result (super-resolution, segmentation mask) is. Geometry follows the
conventions in :mod:`medview.imaging.geometry` and is always patient LPS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from medview.imaging import geometry

if TYPE_CHECKING:  # pragma: no cover
    import SimpleITK as sitk


@dataclass(frozen=True)
class WindowPreset:
    center: float
    width: float
    name: str = ""


@dataclass(frozen=True)
class VolumeMeta:
    """The curated metadata viewers, plugins and reports need; never the raw dataset."""

    modality: str = ""
    units: str = ""  # "HU" for CT after the modality LUT, "" when unknown
    patient_name: str = ""
    patient_id: str = ""
    patient_sex: str = ""  # M, F, O or ""
    patient_age: str = ""  # DICOM AS, e.g. "054Y"; or "" when unknown
    patient_birth_date: str = ""  # DICOM DA, YYYYMMDD
    study_uid: str = ""
    study_date: str = ""  # DICOM DA, YYYYMMDD
    study_description: str = ""
    series_uid: str = ""
    frame_of_reference_uid: str = ""
    series_description: str = ""
    series_number: int | None = None
    photometric: str = "MONOCHROME2"
    #: Display should invert grey levels (MONOCHROME1, PS3.3 C.7.6.3.1.2).
    invert_display: bool = False
    windows: tuple[WindowPreset, ...] = ()
    #: SOP Instance UID of each k slice (one entry per frame for multi-frame: same UID repeated).
    source_sop_uids: tuple[str, ...] = ()
    #: Frame Number (1-based) of each k slice within its multi-frame source image; empty
    #: when every slice is a single-frame image. Reports reference frames by it (PS3.3
    #: C.7.6.16 frames; Referenced Frame Number, C.10.5).
    source_frames: tuple[int, ...] = ()
    #: Geometry and loading warnings the user should see (one sentence each).
    warnings: tuple[str, ...] = ()
    #: True for data computed by medview or a plugin (e.g. super-resolution): must be labelled.
    derived: bool = False
    derivation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Volume:
    """Voxel array ``(z, y, x)`` (or ``(z, y, x, c)`` for colour) and its LPS geometry.

    Parameters
    ----------
    array
        Voxel values indexed ``[k, j, i]``; CT is in Hounsfield units (modality LUT applied).
    spacing
        ``(di, dj, dk)`` in mm, index order i, j, k.
    origin
        LPS mm of the centre of voxel (0, 0, 0).
    direction
        3x3, columns are the i, j, k axis unit vectors in LPS.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    meta: VolumeMeta = field(default_factory=VolumeMeta)

    def __post_init__(self) -> None:
        if self.array.ndim not in (3, 4):
            raise ValueError(
                f"Volume array must be (z, y, x) or (z, y, x, c), got {self.array.shape}"
            )
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or any(not np.isfinite(s) or s <= 0 for s in spacing):
            raise ValueError(f"Volume spacing must be three positive numbers, got {self.spacing}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
            raise ValueError("Volume direction must be orthonormal")
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        direction.setflags(write=False)
        object.__setattr__(self, "direction", direction)

    # -- shape ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(z, y, x)`` voxel counts."""
        return tuple(int(n) for n in self.array.shape[:3])  # type: ignore[return-value]

    @property
    def size_ijk(self) -> tuple[int, int, int]:
        """``(ni, nj, nk)`` voxel counts in index order."""
        z, y, x = self.shape
        return (x, y, z)

    @property
    def is_color(self) -> bool:
        return self.array.ndim == 4

    # -- geometry ------------------------------------------------------------------------
    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) to LPS mm."""
        return geometry.affine_from(self.origin, self.spacing, self.direction)

    def index_to_lps(self, ijk: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Voxel index (i, j, k) -> LPS mm; accepts (3,) or (n, 3)."""
        return geometry.index_to_lps(self.affine, ijk)

    def lps_to_index(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS mm -> continuous voxel index (i, j, k); accepts (3,) or (n, 3)."""
        return geometry.lps_to_index(self.affine, lps)

    def index_bounds_of(self, other: Volume) -> tuple[np.ndarray, np.ndarray]:
        """Inclusive (i, j, k) index box of this grid that ``other``'s voxels cover (the
        eight outer voxel corners of ``other`` mapped here, floor and ceil), not clipped to
        this grid: the part of a full-size array a small patch or mask touches."""
        n = other.size_ijk
        corners = np.array(
            [
                [i, j, k]
                for i in (-0.5, n[0] - 0.5)
                for j in (-0.5, n[1] - 0.5)
                for k in (-0.5, n[2] - 0.5)
            ]
        )
        ijk = self.lps_to_index(other.index_to_lps(corners))
        return np.floor(ijk.min(axis=0)).astype(int), np.ceil(ijk.max(axis=0)).astype(int)

    def zyx_to_lps(self, zyx: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """Array index (k, j, i) -> LPS mm, for code that works in numpy axis order."""
        points = np.asarray(zyx, dtype=float)
        return self.index_to_lps(points[..., ::-1])

    def lps_to_zyx(self, lps: np.ndarray | tuple[float, float, float]) -> np.ndarray:
        """LPS mm -> continuous array index (k, j, i)."""
        return self.lps_to_index(lps)[..., ::-1]

    def contains_lps(self, lps: np.ndarray | tuple[float, float, float]) -> bool:
        ijk = self.lps_to_index(lps)
        upper = np.asarray(self.size_ijk, dtype=float) - 0.5
        return bool(np.all(ijk >= -0.5) and np.all(ijk <= upper))

    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def extent_mm(self) -> tuple[float, float, float]:
        """Physical size along i, j, k (voxel count x spacing)."""
        return tuple(n * s for n, s in zip(self.size_ijk, self.spacing, strict=True))  # type: ignore[return-value]

    @property
    def orientation(self) -> str:
        """Three letters for +i, +j, +k (e.g. 'LPS' for a standard axial CT)."""
        return geometry.orientation_code(self.direction)

    @property
    def plane(self) -> str:
        return geometry.plane_name(self.direction)

    # -- derived copies ------------------------------------------------------------------
    def with_array(self, array: np.ndarray, **meta_changes: Any) -> Volume:
        """Same geometry, new voxels (e.g. a mask or overlay on the input grid)."""
        if array.shape[:3] != self.array.shape[:3]:
            raise ValueError(f"array shape {array.shape} does not match grid {self.shape}")
        meta = replace(self.meta, **meta_changes) if meta_changes else self.meta
        return Volume(array, self.spacing, self.origin, self.direction, meta)

    def value_range(self) -> tuple[float, float, float]:
        """(min, max, mean) of the voxels, in the volume's units."""
        data = self.array
        return float(data.min()), float(data.max()), float(data.mean(dtype=np.float64))

    # -- SimpleITK -----------------------------------------------------------------------
    def to_sitk(self) -> sitk.Image:
        """A SimpleITK image with the same geometry (SimpleITK copies the voxels)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(np.ascontiguousarray(self.array), isVector=self.is_color)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(tuple(float(v) for v in self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image, meta: VolumeMeta | None = None) -> Volume:
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ValueError("only 3D SimpleITK images convert to a Volume")
        array = sitk.GetArrayFromImage(image)
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
        return cls(array, image.GetSpacing(), image.GetOrigin(), direction, meta or VolumeMeta())

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, dtype={self.array.dtype}, spacing={self.spacing}, "
            f"origin={self.origin}, orientation={self.orientation}, modality={self.meta.modality!r})"
        )
