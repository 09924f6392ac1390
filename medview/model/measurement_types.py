"""Measurement types: lengths, angles, ROIs and probes as frozen dataclasses in LPS mm.

Issue 3 ("Measurements"). Points are patient LPS millimetres, so a measurement survives a
change of view, layout or zoom and maps one to one onto DICOM SR TID 1500 SCOORD3D content.
Constructors validate eagerly (finite points, planar shapes lying in their plane) and
refuse invalid objects. Values are computed on demand: :func:`length_mm`,
:func:`angle_deg`, :func:`roi_stats` (sampling lives in :mod:`.roi_stats`). The scene,
undo/redo and sessions are in :mod:`.measurements`, which re-exports all of this.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from medview.imaging.volume import Volume
from medview.model.roi_stats import (
    Plane,
    Point,
    RoiStats,
    as_point,
    ellipse_stats,
    rectangle_stats,
)

#: Points may sit this far off their plane (mm) and axes this far off perpendicular (cosine).
_ON_PLANE_MM = 1e-3
_PERPENDICULAR = 1e-6


def _new_id() -> str:
    return uuid.uuid4().hex


def _check_on_plane(
    plane: Plane, points: Mapping[str, Point], vectors: Mapping[str, Point]
) -> None:
    for name, point in points.items():
        if abs(float(plane.distance(point))) > _ON_PLANE_MM:
            raise ValueError(f"{name} {point} is not on the measurement plane")
    normal = np.asarray(plane.normal)
    for name, vector in vectors.items():
        vec = np.asarray(vector)
        if abs(float(vec @ normal)) > _PERPENDICULAR * max(1.0, float(np.linalg.norm(vec))):
            raise ValueError(f"{name} {vector} does not lie in the measurement plane")


def _check_perpendicular(u: Point, v: Point, what: str) -> None:
    a, b = np.asarray(u), np.asarray(v)
    if abs(float(a @ b)) > _PERPENDICULAR * max(1.0, float(np.linalg.norm(a) * np.linalg.norm(b))):
        raise ValueError(f"{what} must be perpendicular")


# -- measurement types ---------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """Common fields of every measurement (keyword-only, after the geometry fields).

    Attributes
    ----------
    id
        Stable identifier (uuid4 hex); survives edits, undo and sessions.
    label
        Free text the radiologist may edit.
    series_uid
        SeriesInstanceUID of the series it was drawn on.
    plane
        The slice it was drawn on, or None (always set for ROIs: derived from their axes).
    """

    kind: ClassVar[str] = ""
    #: Names of the fields that are LPS points (the rest of the geometry are vectors).
    point_fields: ClassVar[tuple[str, ...]] = ()
    vector_fields: ClassVar[tuple[str, ...]] = ()

    _: KW_ONLY
    id: str = field(default_factory=_new_id)
    label: str = ""
    series_uid: str = ""
    plane: Plane | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("measurement id must be a non-empty string")
        for name in (*self.point_fields, *self.vector_fields):
            object.__setattr__(self, name, as_point(getattr(self, name), name))
        if self.plane is not None:
            if not isinstance(self.plane, Plane):
                raise ValueError("plane must be a Plane")
            _check_on_plane(
                self.plane,
                {name: getattr(self, name) for name in self.point_fields},
                {name: getattr(self, name) for name in self.vector_fields},
            )

    def geometry(self) -> dict[str, Point]:
        """The defining points and vectors by field name."""
        return {name: getattr(self, name) for name in (*self.point_fields, *self.vector_fields)}


@dataclass(frozen=True)
class Length(Measurement):
    """Distance between two LPS points."""

    kind: ClassVar[str] = "length"
    point_fields: ClassVar[tuple[str, ...]] = ("p1", "p2")
    p1: Point
    p2: Point


@dataclass(frozen=True)
class Angle(Measurement):
    """Angle at ``vertex`` between the arms towards ``a`` and ``b``."""

    kind: ClassVar[str] = "angle"
    point_fields: ClassVar[tuple[str, ...]] = ("vertex", "a", "b")
    vertex: Point
    a: Point
    b: Point


class _PlanarRoi(Measurement):
    """ROIs always know their plane: derived from the two axes when not given."""

    def _finish_plane(self, origin: Point, u: Point, v: Point, what: str) -> None:
        _check_perpendicular(u, v, what)
        if self.plane is None:
            object.__setattr__(self, "plane", Plane.from_axes(origin, u, v))


@dataclass(frozen=True)
class EllipseRoi(_PlanarRoi):
    """Ellipse ``center + cos(t) axis_u + sin(t) axis_v``; the axes are semi-axis vectors."""

    kind: ClassVar[str] = "ellipse"
    point_fields: ClassVar[tuple[str, ...]] = ("center",)
    vector_fields: ClassVar[tuple[str, ...]] = ("axis_u", "axis_v")
    center: Point
    axis_u: Point
    axis_v: Point

    def __post_init__(self) -> None:
        super().__post_init__()
        self._finish_plane(self.center, self.axis_u, self.axis_v, "ellipse axes")


@dataclass(frozen=True)
class RectangleRoi(_PlanarRoi):
    """Rectangle ``corner + s edge_u + t edge_v`` for 0 <= s, t <= 1."""

    kind: ClassVar[str] = "rectangle"
    point_fields: ClassVar[tuple[str, ...]] = ("corner",)
    vector_fields: ClassVar[tuple[str, ...]] = ("edge_u", "edge_v")
    corner: Point
    edge_u: Point
    edge_v: Point

    def __post_init__(self) -> None:
        super().__post_init__()
        self._finish_plane(self.corner, self.edge_u, self.edge_v, "rectangle edges")


@dataclass(frozen=True)
class PointProbe(Measurement):
    """The value at one LPS point (nearest voxel)."""

    kind: ClassVar[str] = "point"
    point_fields: ClassVar[tuple[str, ...]] = ("point",)
    point: Point


KINDS: dict[str, type[Measurement]] = {
    cls.kind: cls for cls in (Length, Angle, EllipseRoi, RectangleRoi, PointProbe)
}


# -- values ----------------------------------------------------------------------------------


def length_mm(measurement: Length) -> float:
    """Euclidean length in mm (LPS is isotropic millimetres: no volume needed)."""
    return float(np.linalg.norm(np.subtract(measurement.p2, measurement.p1)))


def angle_deg(measurement: Angle) -> float | None:
    """Angle in degrees (0..180) at the vertex; None while an arm has zero length."""
    a = np.subtract(measurement.a, measurement.vertex)
    b = np.subtract(measurement.b, measurement.vertex)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return None
    # atan2 of |cross| and dot stays accurate near 0 and 180 degrees, unlike acos.
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b)))


def roi_stats(volume: Volume, measurement: EllipseRoi | RectangleRoi) -> RoiStats:
    """Statistics of the voxels inside an ROI on its plane (see :mod:`.roi_stats`)."""
    assert measurement.plane is not None  # ROIs always derive one
    if isinstance(measurement, EllipseRoi):
        return ellipse_stats(
            volume, measurement.center, measurement.axis_u, measurement.axis_v, measurement.plane
        )
    if isinstance(measurement, RectangleRoi):
        return rectangle_stats(
            volume, measurement.corner, measurement.edge_u, measurement.edge_v, measurement.plane
        )
    raise TypeError(f"not an ROI: {type(measurement).__name__}")


# -- JSON ----------------------------------------------------------------------------------


def measurement_to_json(m: Measurement) -> dict[str, Any]:
    """JSON-ready dict of one measurement (points as lists; exact float round trip)."""
    out: dict[str, Any] = {"kind": m.kind, "id": m.id, "label": m.label}
    out["series_uid"] = m.series_uid
    out.update({name: list(value) for name, value in m.geometry().items()})
    if m.plane is not None:
        plane = m.plane
        out["plane"] = {
            "origin": list(plane.origin),
            "normal": list(plane.normal),
            "u": list(plane.u),
            "v": list(plane.v),
        }
    else:
        out["plane"] = None
    return out


def measurement_from_json(entry: Any) -> Measurement:
    """Inverse of :func:`measurement_to_json`; ValueError/TypeError for invalid data."""
    if not isinstance(entry, Mapping):
        raise ValueError("each measurement must be an object")
    kind = entry.get("kind")
    cls = KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown kind {kind!r}")
    allowed = {f.name for f in fields(cls)} | {"kind"}
    unknown = set(entry) - allowed
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)} in a {kind}")
    if "id" not in entry:
        raise ValueError(f"a {kind} without an id")
    for name in ("id", "label", "series_uid"):
        if not isinstance(entry.get(name, ""), str):
            raise ValueError(f"{name} must be a string")
    kwargs = {k: v for k, v in entry.items() if k not in ("kind", "plane")}
    plane = entry.get("plane")
    if plane is not None:
        if not isinstance(plane, Mapping) or set(plane) != {"origin", "normal", "u", "v"}:
            raise ValueError("plane needs exactly origin, normal, u, v")
        kwargs["plane"] = Plane(**plane)
    return cls(**kwargs)


# -- SR geometry -------------------------------------------------------------------------


def scoord3d(m: Measurement) -> tuple[str, list[Point]]:
    """SCOORD3D graphic type and LPS points for SR export (PS3.3 C.18.9.1.2)."""
    if isinstance(m, Length):
        return "POLYLINE", [m.p1, m.p2]
    if isinstance(m, Angle):
        return "POLYLINE", [m.a, m.vertex, m.b]
    if isinstance(m, PointProbe):
        return "POINT", [m.point]
    if isinstance(m, EllipseRoi):
        c, u, v = (np.asarray(x) for x in (m.center, m.axis_u, m.axis_v))
        if np.linalg.norm(v) > np.linalg.norm(u):  # ELLIPSE lists the major axis first
            u, v = v, u
        return "ELLIPSE", [as_point(p) for p in (c - u, c + u, c - v, c + v)]
    if isinstance(m, RectangleRoi):
        c, u, v = (np.asarray(x) for x in (m.corner, m.edge_u, m.edge_v))
        # A SCOORD3D POLYGON is closed explicitly: the first point is repeated at the end.
        return "POLYGON", [as_point(p) for p in (c, c + u, c + u + v, c + v, c)]
    raise TypeError(f"unknown measurement {type(m).__name__}")
