"""Drawing a MeasurementScene in a slice view: polylines and value labels in LPS mm.

Issue 3 ("Measurements"). Measurements are Qt-free objects in patient LPS millimetres
(:mod:`medview.model.measurements`); this module turns each one into a VTK line actor in world
coordinates plus a text label with its value ("12.3 mm", "90.0°", "mean 40 HU, SD 5, area
120 mm²"). A measurement is shown in a view only while every point of its outline lies within
half a slice of the slice shown, so it appears on the slice it was drawn on, in any view whose
plane contains it. GUI thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer, vtkTextActor

from medview.imaging.volume import Volume
from medview.model.measurements import (
    Angle,
    EllipseRoi,
    Length,
    Measurement,
    PointProbe,
    RectangleRoi,
    angle_deg,
    length_mm,
    probe,
    roi_stats,
)

#: Measurement colour (cyan: unlike the crosshair's red/green/yellow and the yellow text).
MEASURE_COLOUR = (0.0, 1.0, 1.0)
#: The selected measurement.
SELECTED_COLOUR = (1.0, 0.4, 1.0)
#: A measurement being drawn.
DRAFT_COLOUR = (1.0, 1.0, 1.0)
#: Lift towards the camera (mm): above the slice and above the crosshair (0.5 mm).
_LIFT_MM = 1.0
_ELLIPSE_SEGMENTS = 72
#: Half the arm of a probe's cross (mm).
_PROBE_ARM_MM = 3.0
_ON_SLICE_TOLERANCE_MM = 1e-3
#: The points a radiologist can grab and drag one by one (the others move as a whole).
EDITABLE_POINTS = {"length": ("p1", "p2"), "angle": ("vertex", "a", "b")}


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMprLayout", text)


def kind_name(measurement: Measurement) -> str:
    """User-visible name of a measurement's kind."""
    names = {
        "length": _tr("Length"),
        "angle": _tr("Angle"),
        "ellipse": _tr("Ellipse"),
        "rectangle": _tr("Rectangle"),
        "point": _tr("Probe"),
    }
    return names.get(measurement.kind, measurement.kind)


def outline(measurement: Measurement, right=None, down=None) -> list[np.ndarray]:
    """Polylines (each ``(n, 3)`` LPS mm) that draw ``measurement``.

    ``right`` and ``down`` (the view's axes) orient a probe's cross when it has no plane.
    """
    m = measurement
    if isinstance(m, Length):
        return [np.array([m.p1, m.p2])]
    if isinstance(m, Angle):
        return [np.array([m.a, m.vertex, m.b])]
    if isinstance(m, EllipseRoi):
        t = np.linspace(0.0, 2.0 * np.pi, _ELLIPSE_SEGMENTS + 1)
        c, u, v = (np.asarray(x) for x in (m.center, m.axis_u, m.axis_v))
        return [c + np.outer(np.cos(t), u) + np.outer(np.sin(t), v)]
    if isinstance(m, RectangleRoi):
        c, u, v = (np.asarray(x) for x in (m.corner, m.edge_u, m.edge_v))
        return [np.array([c, c + u, c + u + v, c + v, c])]
    if isinstance(m, PointProbe):
        if m.plane is not None:
            right, down = m.plane.u, m.plane.v
        right = np.asarray(right if right is not None else (1.0, 0.0, 0.0), float)
        down = np.asarray(down if down is not None else (0.0, 1.0, 0.0), float)
        p = np.asarray(m.point)
        arm = _PROBE_ARM_MM
        return [
            np.array([p - right * arm, p + right * arm]),
            np.array([p - down * arm, p + down * arm]),
        ]
    raise TypeError(f"cannot draw {type(m).__name__}")


def handle_squares(
    measurement: Measurement, right: np.ndarray, down: np.ndarray, half_mm: float
) -> list[np.ndarray]:
    """Small squares around a measurement's editable points (drawn while it is selected)."""
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], float) * half_mm
    offsets = corners[:, :1] * np.asarray(right, float) + corners[:, 1:] * np.asarray(down, float)
    return [
        np.asarray(getattr(measurement, field), float) + offsets
        for field in EDITABLE_POINTS.get(measurement.kind, ())
    ]


def anchor(measurement: Measurement) -> np.ndarray:
    """Where a measurement's label is drawn (LPS mm)."""
    m = measurement
    if isinstance(m, Length):
        return np.asarray(m.p2)
    if isinstance(m, Angle):
        return np.asarray(m.vertex)
    if isinstance(m, EllipseRoi):
        return np.asarray(m.center) + np.asarray(m.axis_u) - np.asarray(m.axis_v)
    if isinstance(m, RectangleRoi):
        return np.asarray(m.corner) + np.asarray(m.edge_u)
    return np.asarray(m.point)  # PointProbe


def value_text(measurement: Measurement, volume: Volume | None) -> str:
    """The measured value as shown on screen and in the panel."""
    m = measurement
    if isinstance(m, Length):
        return _tr("{value:.1f} mm").format(value=length_mm(m))
    if isinstance(m, Angle):
        degrees = angle_deg(m)
        return "–" if degrees is None else _tr("{value:.1f}°").format(value=degrees)
    if volume is None:
        return ""
    units = volume.meta.units
    if isinstance(m, EllipseRoi | RectangleRoi):
        if volume.is_color:
            return _tr("area {area:.0f} mm²").format(area=roi_stats(volume, m).area_mm2)
        stats = roi_stats(volume, m)
        if stats.mean is None:
            return _tr("area {area:.0f} mm²").format(area=stats.area_mm2)
        return _tr("mean {mean:.0f}{units}, SD {sd:.0f}, area {area:.0f} mm²").format(
            mean=stats.mean, units=f" {units}" if units else "", sd=stats.sd, area=stats.area_mm2
        )
    if isinstance(m, PointProbe):
        result = probe(volume, m.point)
        if result is None:
            return _tr("outside")
        value = result.value
        shown = (
            "(" + ", ".join(f"{v:g}" for v in value) + ")"
            if isinstance(value, tuple)
            else f"{value:.0f}"
        )
        where = ", ".join(f"{v:.1f}" for v in m.point)
        return _tr("{value}{units} at ({where}) mm").format(
            value=shown, units=f" {units}" if units else "", where=where
        )
    return ""


class ValueCache:
    """Value texts by measurement state: ROI statistics are not recomputed per frame.

    Frozen measurements hash by value, so an edit (a new state) misses the cache by itself.
    """

    def __init__(self, limit: int = 512) -> None:
        self._volume: Volume | None = None
        self._texts: dict[Measurement, str] = {}
        self._limit = limit

    def text(self, measurement: Measurement, volume: Volume | None) -> str:
        if volume is not self._volume:
            self._volume = volume
            self._texts.clear()
        text = self._texts.get(measurement)
        if text is None:
            if len(self._texts) >= self._limit:
                self._texts.clear()
            text = self._texts[measurement] = value_text(measurement, volume)
        return text


def label_text(measurement: Measurement, value: str) -> str:
    """On-screen label: the user's label (if any) and the value."""
    return f"{measurement.label}: {value}" if measurement.label else value


class MeasurementActors:
    """The VTK actors of the measurements shown in one slice view."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self._renderer = renderer
        self._actors: dict[str, tuple[vtkPolyData, vtkActor, vtkTextActor]] = {}
        self._shown: dict[str, Measurement] = {}

    def shown(self) -> dict[str, Measurement]:
        """The measurements drawn now, by id (what a click can select)."""
        return dict(self._shown)

    def label(self, measurement_id: str) -> str:
        """The label text drawn for a measurement ("" when it is not shown)."""
        if measurement_id not in self._shown:
            return ""
        return self._actors[measurement_id][2].GetInput() or ""

    def sync(
        self,
        measurements: list[Measurement],
        *,
        normal: np.ndarray,
        offset: float,
        half_step: float,
        right: np.ndarray,
        down: np.ndarray,
        selected: str | None,
        draft_id: str | None,
        texts: dict[str, str],
        handle_mm: float = 0.0,
    ) -> None:
        """Draw ``measurements`` that lie on the slice ``normal . p == offset`` (within
        ``half_step`` mm); hide the rest and drop actors of measurements that are gone.

        The selected measurement gets grab handles ``2 * handle_mm`` wide on its editable
        points."""
        normal = np.asarray(normal, float)
        wanted = set()
        self._shown = {}
        for m in measurements:
            lines = outline(m, right, down)
            points = np.concatenate(lines)
            if np.max(np.abs(points @ normal - offset)) > half_step + _ON_SLICE_TOLERANCE_MM:
                continue
            wanted.add(m.id)
            self._shown[m.id] = m
            polydata, actor, text = self._item(m.id)
            if m.id == selected and handle_mm > 0:
                lines = lines + handle_squares(m, right, down, handle_mm)
            self._set_lines(polydata, [line - normal * _LIFT_MM for line in lines])
            if m.id == draft_id:
                colour, width = DRAFT_COLOUR, 2.0
            elif m.id == selected:
                colour, width = SELECTED_COLOUR, 3.0
            else:
                colour, width = MEASURE_COLOUR, 2.0
            actor.GetProperty().SetColor(*colour)
            actor.GetProperty().SetLineWidth(width)
            actor.VisibilityOn()
            where = anchor(m) - normal * _LIFT_MM
            text.GetPositionCoordinate().SetValue(*(float(v) for v in where))
            text.SetInput(" " + label_text(m, texts.get(m.id, "")))
            text.GetTextProperty().SetColor(*colour)
            text.VisibilityOn()
        for measurement_id in list(self._actors):
            if measurement_id in wanted:
                continue
            _, actor, text = self._actors[measurement_id]
            if any(m.id == measurement_id for m in measurements):
                actor.VisibilityOff()  # still in the scene, on another slice
                text.VisibilityOff()
            else:
                self._renderer.RemoveActor(actor)
                self._renderer.RemoveViewProp(text)
                del self._actors[measurement_id]

    def clear(self) -> None:
        for _, actor, text in self._actors.values():
            self._renderer.RemoveActor(actor)
            self._renderer.RemoveViewProp(text)
        self._actors.clear()
        self._shown = {}

    def _item(self, measurement_id: str) -> tuple[vtkPolyData, vtkActor, vtkTextActor]:
        if measurement_id not in self._actors:
            polydata = vtkPolyData()
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(polydata)
            actor = vtkActor()
            actor.SetMapper(mapper)
            actor.GetProperty().LightingOff()
            actor.PickableOff()
            self._renderer.AddActor(actor)
            text = vtkTextActor()
            text.GetPositionCoordinate().SetCoordinateSystemToWorld()
            prop = text.GetTextProperty()
            prop.SetFontSize(14)
            prop.SetBold(True)
            prop.ShadowOn()
            prop.SetJustificationToLeft()
            prop.SetVerticalJustificationToBottom()
            self._renderer.AddViewProp(text)
            self._actors[measurement_id] = (polydata, actor, text)
        return self._actors[measurement_id]

    @staticmethod
    def _set_lines(polydata: vtkPolyData, lines: list[np.ndarray]) -> None:
        points = vtkPoints()
        cells = vtkCellArray()
        for line in lines:
            first = points.GetNumberOfPoints()
            for point in line:
                points.InsertNextPoint(*(float(v) for v in point))
            cells.InsertNextCell(len(line), list(range(first, first + len(line))))
        polydata.SetPoints(points)
        polydata.SetLines(cells)
        polydata.Modified()
