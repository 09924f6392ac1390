"""Oblique MPR by grabbing a crosshair line and turning it (issue 3, "Views").

The habit radiologists bring from Horos, RadiAnt and 3D Slicer: in navigate mode, press on a
crosshair line away from its centre and drag around the centre; the line follows the pointer
and the other view's plane turns about this view's normal. Near the centre a press keeps its
old meaning (click: move the crosshair; drag: window/level). The [ and ] keys do the same in
5° steps.

:class:`CrosshairRotator` sits in front of the measurement tools' mouse handler; the geometry
(which line was grabbed, which way is "counter-clockwise" on screen) is computed from the view's
own world-to-widget mapping, so it holds in every plane and orientation. GUI thread only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from medview.imaging.planes import rotation_matrix
from medview.model.viewer_state import MPR_VIEWS, ViewerState
from medview.view.slice_view import MouseHandler, QtSliceView

#: A press closer than this to the crosshair centre (widget pixels) is not a rotation.
GRAB_MIN_RADIUS_PX = 30.0
#: How close to a crosshair line (widget pixels) a press grabs it.
GRAB_DISTANCE_PX = 5.0


@dataclass
class _Drag:
    view: str
    centre: QPointF
    last_angle: float  # screen angle of the pointer around the centre (radians)
    sign: float  # +1 when state.rotate's positive angle turns the line with the screen angle


def _ignore(_view: QtSliceView, _event: QMouseEvent) -> bool:
    return False


def _screen_angle(centre: QPointF, point: QPointF) -> float:
    return math.atan2(point.y() - centre.y(), point.x() - centre.x())


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class CrosshairRotator:
    """Mouse handler: turn the other planes by dragging a crosshair line; else ``fallback``.

    Parameters
    ----------
    state
        The layout's viewer state (crosshair, planes, the rotation itself).
    views
        The MPR slice views by name.
    tool
        Returns the current tool name; rotation only in ``"navigate"``.
    fallback
        The handler for everything else (the measurement tools).
    on_measurement
        Whether a press at a widget point of a view would pick a measurement: then the
        measurement wins (it is what the reader aimed at; the line can be grabbed elsewhere).
    """

    def __init__(
        self,
        state: ViewerState,
        views: dict[str, QtSliceView],
        tool: Callable[[], str],
        fallback: MouseHandler,
        on_measurement: Callable[[str, QPointF], bool] = lambda _name, _point: False,
    ) -> None:
        self._state = state
        self._on_measurement = on_measurement
        self._views = views
        self._tool = tool
        self._fallback = fallback
        self._drag: _Drag | None = None

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def close(self) -> None:
        """Let go of the views and callbacks (the layout is being torn down).

        Holding the views past their render windows' teardown left them for the cyclic
        garbage collector, whose timing made Mesa crash in a later window's GLX set-up.
        """
        self._drag = None
        self._views = {}
        self._fallback = _ignore
        self._on_measurement = lambda _name, _point: False
        self._tool = lambda: ""

    def handle(self, view: QtSliceView, event: QMouseEvent) -> bool:
        name = view.objectName()
        kind = event.type()
        left = event.button() == Qt.MouseButton.LeftButton
        if (
            self._drag is not None
            and kind == QEvent.Type.MouseMove
            and not event.buttons() & Qt.MouseButton.LeftButton
        ):
            self._drag = None  # the release went elsewhere (e.g. outside the window)
        if self._drag is not None and self._drag.view == name:
            if kind == QEvent.Type.MouseMove:
                self._turn(event.position())
                return True
            if kind == QEvent.Type.MouseButtonRelease and left:
                self._drag = None
                return True
        if kind == QEvent.Type.MouseButtonPress and left and self._grab(name, event.position()):
            return True
        if kind == QEvent.Type.MouseMove and event.buttons() == Qt.MouseButton.NoButton:
            self._hover_cursor(name, view, event.position())
        return self._fallback(view, event)

    def grabbable(self, name: str, point: QPointF) -> tuple[float, float] | None:
        """(pointer angle, sign) when a press at ``point`` in view ``name`` grabs a line."""
        if (
            self._tool() != "navigate"
            or name not in MPR_VIEWS
            or name not in self._views
            or self._state.volume is None
        ):
            return None
        if self._on_measurement(name, point):
            return None
        view = self._views[name]
        crosshair = np.asarray(self._state.crosshair, float)
        normal = view.normal
        on_slice = crosshair + normal * (view.slice_position - crosshair @ normal)
        centre = view.world_to_widget(on_slice)
        offset = np.array([point.x() - centre.x(), point.y() - centre.y()])
        if np.hypot(*offset) < GRAB_MIN_RADIUS_PX:
            return None
        for other in MPR_VIEWS:
            if other == name:
                continue
            direction = np.cross(normal, self._state.plane(other).normal)
            if np.linalg.norm(direction) < 1e-6:
                continue
            direction /= np.linalg.norm(direction)
            along = self._screen_direction(view, on_slice, direction, centre)
            if abs(offset[0] * along[1] - offset[1] * along[0]) > GRAB_DISTANCE_PX:
                continue
            # Which way does a positive state.rotate turn this line on screen? Measure it.
            turned = rotation_matrix(normal, 1.0) @ direction
            after = self._screen_direction(view, on_slice, turned, centre)
            change = _wrap(math.atan2(after[1], after[0]) - math.atan2(along[1], along[0]))
            return _screen_angle(centre, point), (1.0 if change > 0 else -1.0)
        return None

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _screen_direction(view: QtSliceView, origin, direction, centre: QPointF) -> np.ndarray:
        tip = view.world_to_widget(origin + direction * 10.0)
        vector = np.array([tip.x() - centre.x(), tip.y() - centre.y()])
        return vector / max(float(np.hypot(*vector)), 1e-9)

    def _grab(self, name: str, point: QPointF) -> bool:
        grabbed = self.grabbable(name, point)
        if grabbed is None:
            return False
        view = self._views[name]
        crosshair = np.asarray(self._state.crosshair, float)
        normal = view.normal
        centre = view.world_to_widget(
            crosshair + normal * (view.slice_position - crosshair @ normal)
        )
        self._state.set_active(name)
        self._drag = _Drag(name, centre, grabbed[0], grabbed[1])
        return True

    def _turn(self, point: QPointF) -> None:
        drag = self._drag
        assert drag is not None
        angle = _screen_angle(drag.centre, point)
        delta = _wrap(angle - drag.last_angle)
        if abs(delta) < 1e-4:
            return
        drag.last_angle = angle
        self._state.rotate(drag.view, drag.sign * math.degrees(delta))

    def _hover_cursor(self, name: str, view: QtSliceView, point: QPointF) -> None:
        widget = view.vtk_widget
        if self.grabbable(name, point) is not None:
            widget.setCursor(Qt.CursorShape.OpenHandCursor)
        elif widget.cursor().shape() == Qt.CursorShape.OpenHandCursor:
            widget.unsetCursor()
