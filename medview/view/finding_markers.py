"""AI findings drawn on the slices they cross (issue 4: results shown on the MPR views).

Each finding is drawn as the circle where its sphere (centre, diameter in LPS mm) cuts the
slice shown, so it grows and shrinks as the reader scrolls through it, in any plane. The
colour says the review state: yellow pending, green accepted, red rejected; the selected
finding is drawn thicker. GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

STATUS_COLOURS = {
    "pending": (1.0, 0.85, 0.0),
    "accepted": (0.1, 0.9, 0.2),
    "rejected": (1.0, 0.2, 0.2),
}
_SEGMENTS = 48
_LIFT_MM = 0.75  # above the image and overlays, below measurement lines (1 mm)


@dataclass(frozen=True)
class Marker:
    """What is drawn for one finding."""

    id: str
    center: tuple[float, float, float]
    diameter_mm: float
    status: str = "pending"


def cross_section_radius(marker: Marker, normal: np.ndarray, offset: float) -> float:
    """Radius (mm) of the circle where the finding's sphere meets the plane ``n.p = offset``;
    0 when the plane misses it."""
    radius = max(marker.diameter_mm, 0.0) / 2.0
    distance = float(np.asarray(marker.center) @ normal) - offset
    if abs(distance) >= radius:
        return 0.0
    return float(np.sqrt(radius * radius - distance * distance))


class FindingMarkers:
    """The finding circles of one slice view (one actor per colour)."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self._renderer = renderer
        self._actors: dict[str, tuple[vtkPolyData, vtkActor]] = {}
        self._shown: dict[str, float] = {}
        for status, colour in STATUS_COLOURS.items():
            for selected in (False, True):
                polydata = vtkPolyData()
                mapper = vtkPolyDataMapper()
                mapper.SetInputData(polydata)
                actor = vtkActor()
                actor.SetMapper(mapper)
                actor.GetProperty().SetColor(*colour)
                actor.GetProperty().SetLineWidth(3.0 if selected else 1.5)
                actor.PickableOff()
                renderer.AddActor(actor)
                self._actors[f"{status}:{selected}"] = (polydata, actor)

    def shown(self) -> dict[str, float]:
        """Finding id -> radius (mm) of its circle on the current slice."""
        return dict(self._shown)

    def sync(
        self,
        markers: list[Marker],
        *,
        normal: np.ndarray,
        offset: float,
        right: np.ndarray,
        down: np.ndarray,
        selected: str | None = None,
    ) -> None:
        normal = np.asarray(normal, float)
        right, down = np.asarray(right, float), np.asarray(down, float)
        t = np.linspace(0.0, 2.0 * np.pi, _SEGMENTS + 1)
        circles: dict[str, list[np.ndarray]] = {key: [] for key in self._actors}
        self._shown = {}
        for marker in markers:
            radius = cross_section_radius(marker, normal, offset)
            if radius <= 0:
                continue
            centre = np.asarray(marker.center, float)
            centre = centre + normal * (offset - centre @ normal) - normal * _LIFT_MM
            ring = centre + radius * (np.outer(np.cos(t), right) + np.outer(np.sin(t), down))
            status = marker.status if marker.status in STATUS_COLOURS else "pending"
            circles[f"{status}:{marker.id == selected}"].append(ring)
            self._shown[marker.id] = radius
        for key, (polydata, actor) in self._actors.items():
            _set_lines(polydata, circles[key])
            actor.SetVisibility(bool(circles[key]))

    def clear(self) -> None:
        self._shown = {}
        for polydata, actor in self._actors.values():
            _set_lines(polydata, [])
            actor.VisibilityOff()


def _set_lines(polydata: vtkPolyData, lines: list[np.ndarray]) -> None:
    points = vtkPoints()
    cells = vtkCellArray()
    for line in lines:
        ids = []
        for point in line:
            ids.append(points.InsertNextPoint(*(float(v) for v in point)))
        cells.InsertNextCell(len(ids), ids)
    polydata.SetPoints(points)
    polydata.SetLines(cells)
    polydata.Modified()
