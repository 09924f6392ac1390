"""Measurement tools in the slice views: drawing, selecting, moving (issue 3).

:class:`MeasureController` is the :data:`~medview.view.slice_view.MouseHandler` of every MPR
view. In a measuring tool a left press/drag/release draws a measurement on the view's slice
(points from :meth:`~medview.view.slice_view.QtSliceView.widget_to_world`, so LPS mm on the
view's plane); it is added to the Qt-free :class:`~medview.model.measurements.MeasurementScene`
on release, as one undo step. The angle takes a drag for its first arm and a click for the
end of the second. In "navigate" a left press on a measurement selects it and a drag moves
it (one undo step, through the scene's merge); elsewhere the view's own crosshair click and
window drag apply. Right and middle buttons always reach the view (zoom, pan).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from medview.imaging.planes import slice_step_mm
from medview.imaging.volume import Volume
from medview.model.measurements import (
    Angle,
    EllipseRoi,
    Length,
    Measurement,
    MeasurementScene,
    Plane,
    PointProbe,
    RectangleRoi,
    SceneEvent,
)
from medview.view.measure_actors import (
    EDITABLE_POINTS,
    MeasurementActors,
    ValueCache,
    outline,
)
from medview.view.slice_view import QtSliceView

#: Tool names, in their menu order.
TOOLS = ("navigate", "length", "angle", "ellipse", "rectangle", "probe")
#: A press this close (widget pixels) to a measurement's outline picks it.
PICK_PIXELS = 6.0
#: Half the width of a selected measurement's grab handles (widget pixels).
HANDLE_PIXELS = 4.0
#: Shapes smaller than this (widget pixels) are a stray click, not a measurement.
_MIN_DRAG_PIXELS = 2.0


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    denominator = float(ab @ ab)
    t = 0.0 if denominator == 0 else float(np.clip((p - a) @ ab / denominator, 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


class MeasureController:
    """Turns mouse events in slice views into measurements in a scene, and draws the scene.

    Parameters
    ----------
    scene
        The measurements (shared with the panel, reports and sessions).
    views
        The slice views by name.
    volume
        Returns the volume shown (for values and the series UID).
    """

    def __init__(
        self,
        scene: MeasurementScene,
        views: dict[str, QtSliceView],
        volume: Callable[[], Volume | None],
    ) -> None:
        self._views = views
        self._volume = volume
        self._actors = {name: MeasurementActors(view.renderer) for name, view in views.items()}
        self._values = ValueCache()
        self._tool = "navigate"
        self._draft: Measurement | None = None
        self._draft_view: str | None = None
        self._start: np.ndarray | None = None
        self._angle_second_arm = False
        self._moving: tuple[str, np.ndarray, Measurement, str | None] | None = None
        self._moved = False
        self._scene = scene
        self._unsubscribe = scene.subscribe(self._weak_listener())

    # -- public API ------------------------------------------------------------------------
    @property
    def scene(self) -> MeasurementScene:
        return self._scene

    def set_scene(self, scene: MeasurementScene) -> None:
        """Draw and edit ``scene`` instead (e.g. the measurements of another study)."""
        self._unsubscribe()
        self.cancel()
        self._scene = scene
        self._unsubscribe = scene.subscribe(self._weak_listener())
        self.refresh()

    @property
    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        """Switch tool (one of :data:`TOOLS`); a half-drawn measurement is dropped."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
        self.cancel()
        self._tool = tool

    @property
    def draft(self) -> Measurement | None:
        """The measurement being drawn (not yet in the scene)."""
        return self._draft

    def cancel(self) -> None:
        """Drop a half-drawn measurement (Esc)."""
        had_draft = self._draft is not None
        self._draft = self._draft_view = self._start = None
        self._angle_second_arm = False
        self._moving = None
        if had_draft:
            self.refresh()

    def delete_selected(self) -> bool:
        selected = self._scene.selected
        if selected is None:
            return False
        self._scene.remove(selected)
        return True

    def actors(self, view: str) -> MeasurementActors:
        return self._actors[view]

    def close(self) -> None:
        self._unsubscribe()
        for actors in self._actors.values():
            actors.clear()

    def refresh(self, names: tuple[str, ...] | None = None, render: bool = True) -> None:
        """Redraw the scene (and the draft) in the views ``names`` (all by default); with
        ``render`` False only the actors are updated (the caller renders)."""
        volume = self._volume()
        measurements = list(self._scene.items())
        if self._draft is not None:
            measurements.append(self._draft)
        texts = {m.id: self._values.text(m, volume) for m in measurements}
        for name in names or tuple(self._views):
            view = self._views[name]
            if volume is None:
                self._actors[name].clear()
                continue
            normal = view.normal
            self._actors[name].sync(
                measurements,
                normal=normal,
                offset=view.slice_position,
                half_step=slice_step_mm(volume.spacing, volume.direction, normal) / 2.0,
                right=np.asarray(view.plane.right, float),
                down=np.asarray(view.plane.down, float),
                selected=self._scene.selected,
                draft_id=self._draft.id if self._draft is not None else None,
                handle_mm=HANDLE_PIXELS / max(view.pixels_per_mm(), 1e-9),
                texts=texts,
            )
            if render:
                view.render()

    def pick(self, name: str, point: QPointF) -> str | None:
        """Id of the measurement drawn within :data:`PICK_PIXELS` of a widget point."""
        view = self._views[name]
        target = np.array([point.x(), point.y()])
        best, best_distance = None, PICK_PIXELS
        for measurement_id, m in self._actors[name].shown().items():
            right = np.asarray(view.plane.right, float)
            down = np.asarray(view.plane.down, float)
            for line in outline(m, right, down):
                pixels = [view.world_to_widget(p) for p in line]
                xy = np.array([[p.x(), p.y()] for p in pixels])
                for a, b in itertools.pairwise(xy):
                    distance = _segment_distance(target, a, b)
                    if distance <= best_distance:
                        best, best_distance = measurement_id, distance
        return best

    # -- the mouse handler -----------------------------------------------------------------
    def handle(self, view: QtSliceView, event: QMouseEvent) -> bool:
        """Use a mouse event of ``view``; True when it was a measurement action."""
        name = view.objectName()
        if name not in self._views:
            return False
        kind = event.type()
        left = event.button() == Qt.MouseButton.LeftButton
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            if not left:
                return False
            if self._tool == "navigate":
                return self._press_navigate(name, view, event.position())
            self._press_measure(name, view, event.position())
            return True
        if kind == QEvent.Type.MouseMove:
            if self._moving is not None:
                self._drag_move(view, event.position())
                return True
            if self._draft is not None and self._draft_view == name:
                self._update_draft(view, view.widget_to_world(event.position()))
                return True
            return False
        if kind == QEvent.Type.MouseButtonRelease and left:
            if self._moving is not None:
                self._moving = None
                return True
            if self._tool == "navigate":
                return False
            if self._draft is not None and self._draft_view == name:
                self._release_measure(view, view.widget_to_world(event.position()))
            return True
        return False

    # -- navigate: select and move ---------------------------------------------------------
    def pick_handle(self, name: str, point: QPointF) -> tuple[str, str] | None:
        """(measurement id, point field) of an editable point within :data:`PICK_PIXELS`."""
        view = self._views[name]
        target = np.array([point.x(), point.y()])
        best, best_distance = None, float(PICK_PIXELS + HANDLE_PIXELS)
        for measurement_id, m in self._actors[name].shown().items():
            for field in EDITABLE_POINTS.get(m.kind, ()):
                pixel = view.world_to_widget(getattr(m, field))
                distance = float(np.hypot(pixel.x() - target[0], pixel.y() - target[1]))
                # The selected measurement's handles win ties: it is the one being edited.
                if measurement_id == self._scene.selected:
                    distance -= 0.5
                if distance <= best_distance:
                    best, best_distance = (measurement_id, field), distance
        return best

    def _press_navigate(self, name: str, view: QtSliceView, point: QPointF) -> bool:
        handle = self.pick_handle(name, point)
        hit = handle[0] if handle is not None else self.pick(name, point)
        if hit is None:
            if self._scene.selected is not None:
                self._scene.select(None)
            return False  # the view's own click (crosshair) or window drag
        self._scene.select(hit)
        field = handle[1] if handle is not None else None
        self._moving = (hit, view.widget_to_world(point), self._scene.get(hit), field)
        self._moved = False
        return True

    def _drag_move(self, view: QtSliceView, point: QPointF) -> None:
        assert self._moving is not None
        measurement_id, start, original, point_field = self._moving
        if measurement_id not in self._scene:
            self._moving = None
            return
        delta = view.widget_to_world(point) - start
        if original.plane is not None:  # stay in the measurement's own plane
            normal = np.asarray(original.plane.normal)
            delta = delta - normal * float(delta @ normal)
        if point_field is not None:  # one end grabbed by its handle: only it moves
            moved = np.asarray(getattr(original, point_field)) + delta
            changes = {point_field: tuple(float(v) for v in moved)}
        else:
            changes = {
                field: tuple(np.asarray(value) + delta)
                for field, value in original.geometry().items()
                if field in original.point_fields
            }
        if point_field is None and original.plane is not None:
            plane = original.plane
            changes["plane"] = Plane(
                tuple(np.asarray(plane.origin) + delta), plane.normal, plane.u, plane.v
            )
        try:
            self._scene.update(measurement_id, merge=self._moved, **changes)
        except ValueError:
            return
        self._moved = True

    # -- measuring -------------------------------------------------------------------------
    def _press_measure(self, name: str, view: QtSliceView, point: QPointF) -> None:
        lps = view.widget_to_world(point)
        if self._tool == "angle" and self._angle_second_arm and self._draft_view == name:
            self._update_draft(view, lps)  # the click that ends the second arm
            return
        self.cancel()
        self._start = lps
        self._draft_view = name
        self._update_draft(view, lps)

    def _release_measure(self, view: QtSliceView, lps: np.ndarray) -> None:
        assert self._start is not None
        self._update_draft(view, lps)
        draft = self._draft
        assert draft is not None
        too_small = _MIN_DRAG_PIXELS / max(view.pixels_per_mm(), 1e-9)
        if self._tool == "angle" and not self._angle_second_arm:
            if np.linalg.norm(lps - self._start) < too_small:
                self.cancel()
                return
            self._angle_second_arm = True  # now move to the end of the second arm and click
            return
        if self._tool != "probe" and self._tool != "angle":
            d = lps - self._start
            right, down = (np.asarray(v, float) for v in (view.plane.right, view.plane.down))
            sizes = (abs(d @ right), abs(d @ down))
            small = max(sizes) if self._tool == "length" else min(sizes)
            if small < too_small:
                self.cancel()
                return
        self._draft = None
        self._draft_view = self._start = None
        self._angle_second_arm = False
        self._scene.add(draft)  # one undo step; the scene's event redraws
        self._scene.select(draft.id)

    def _update_draft(self, view: QtSliceView, lps: np.ndarray) -> None:
        assert self._start is not None
        start = self._start
        right = np.asarray(view.plane.right, float)
        down = np.asarray(view.plane.down, float)
        plane = Plane.from_axes(start, right, down)
        volume = self._volume()
        common = {
            "plane": plane,
            "series_uid": volume.meta.series_uid if volume is not None else "",
        }
        if self._draft is not None:
            common["id"] = self._draft.id
        tool = self._tool
        if tool == "length":
            draft: Measurement = Length(start, lps, **common)
        elif tool == "angle":
            if self._angle_second_arm and isinstance(self._draft, Angle):
                draft = Angle(self._draft.vertex, self._draft.a, lps, **common)
            else:
                draft = Angle(lps, start, lps, **common)
        elif tool == "ellipse":
            d = lps - start
            du, dv = float(d @ right), float(d @ down)
            centre = start + (right * du + down * dv) / 2.0
            common["plane"] = Plane.from_axes(centre, right, down)
            draft = EllipseRoi(centre, right * abs(du) / 2.0, down * abs(dv) / 2.0, **common)
        elif tool == "rectangle":
            d = lps - start
            draft = RectangleRoi(start, right * float(d @ right), down * float(d @ down), **common)
        else:
            common["plane"] = Plane.from_axes(lps, right, down)
            draft = PointProbe(lps, **common)
        self._draft = draft
        self.refresh()

    # -- scene events ----------------------------------------------------------------------
    def _weak_listener(self) -> Callable[[SceneEvent], None]:
        # The scene may outlive the views (it belongs to the study): hold this weakly.
        reference = weakref.ref(self)

        def listener(_event: SceneEvent) -> None:
            controller = reference()
            if controller is not None:
                controller.refresh()

        return listener
