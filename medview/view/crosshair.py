"""Crosshair lines drawn in a slice view, in world (LPS) coordinates.

In each MPR view the crosshair is drawn as the intersection lines of the other views' planes
with this view's plane, in the other views' colours (as in 3D Slicer: axial red, coronal
green, sagittal yellow), with a small gap around the crosshair point so the anatomy under it
stays visible.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor, vtkPolyDataMapper, vtkRenderer

#: Colour of each view's plane: its title and the lines it draws in the other views.
PLANE_COLOURS = {
    "axial": (0.95, 0.33, 0.33),
    "coronal": (0.40, 0.85, 0.40),
    "sagittal": (0.95, 0.85, 0.30),
}
_GAP_MM = 6.0


class CrosshairLines:
    """The crosshair lines of one slice view (one line per other plane)."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self._renderer = renderer
        self._lines: dict[str, tuple[vtkPolyData, vtkActor]] = {}

    def update(
        self,
        point: np.ndarray,
        view_normal: np.ndarray,
        others: dict[str, np.ndarray],
        half_length: float,
    ) -> None:
        """Draw the lines through ``point`` (already on this view's slice plane).

        Parameters
        ----------
        point
            Crosshair on this view's slice, LPS mm.
        view_normal
            This view's normal (the camera looks along it).
        others
            Normal of each other plane by view name.
        half_length
            Half the length of each line, mm (enough to cross the whole image).
        """
        view_normal = np.asarray(view_normal, float)
        # Lift the lines a little towards the camera so the slice never hides them.
        lifted = np.asarray(point, float) - view_normal * 0.5
        for name, normal in others.items():
            polydata, actor = self._line(name)
            direction = np.cross(view_normal, np.asarray(normal, float))
            length = np.linalg.norm(direction)
            if length < 1e-6:  # parallel planes do not intersect
                actor.VisibilityOff()
                continue
            direction /= length
            points = vtkPoints()
            for distance in (-half_length, -_GAP_MM, _GAP_MM, half_length):
                points.InsertNextPoint(*(lifted + direction * distance))
            polydata.SetPoints(points)
            actor.VisibilityOn()

    def set_visible(self, visible: bool) -> None:
        for _, actor in self._lines.values():
            actor.SetVisibility(visible)

    def names(self) -> tuple[str, ...]:
        """Views whose lines are shown."""
        return tuple(name for name, (_, actor) in self._lines.items() if actor.GetVisibility())

    def endpoints(self, name: str) -> np.ndarray:
        """The 4 LPS points (two segments) of the line of ``name``."""
        polydata, _ = self._lines[name]
        points = polydata.GetPoints()
        return np.array([points.GetPoint(i) for i in range(points.GetNumberOfPoints())])

    def _line(self, name: str) -> tuple[vtkPolyData, vtkActor]:
        if name not in self._lines:
            polydata = vtkPolyData()
            cells = vtkCellArray()
            cells.InsertNextCell(2, (0, 1))
            cells.InsertNextCell(2, (2, 3))
            polydata.SetLines(cells)
            mapper = vtkPolyDataMapper()
            mapper.SetInputData(polydata)
            actor = vtkActor()
            actor.SetMapper(mapper)
            prop = actor.GetProperty()
            prop.SetColor(*PLANE_COLOURS.get(name, (0.3, 0.6, 1.0)))
            prop.SetLineWidth(1.5)
            prop.LightingOff()
            actor.PickableOff()
            self._renderer.AddActor(actor)
            self._lines[name] = (polydata, actor)
        return self._lines[name]
