"""Mouse, wheel and keyboard habits of a slice view (issue 3, "Interaction").

Split from :mod:`medview.view.slice_view` to keep each file one concept: this mixin takes the
events of the VTK widget before VTK does (VTK's own key bindings must never fire: 'q' would
quit) and turns them into what radiologists expect: wheel, arrow and page keys scroll; a left
drag is window/level (or pan or zoom, a setting); a left click moves the crosshair; a double
click maximises; Ctrl+wheel zooms; middle and right drags go on to VTK's image interactor style
(pan, zoom). A :data:`MouseHandler` (the measurement tools) sees mouse events first.

The mixin relies on the attributes :class:`~medview.view.slice_view.QtSliceView` sets up.
GUI thread only.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent

from medview.model.viewer_state import LEFT_DRAG_MODES

_SCROLL_KEYS = {
    Qt.Key.Key_Up: 1,
    Qt.Key.Key_Down: -1,
    Qt.Key.Key_PageUp: 10,
    Qt.Key.Key_PageDown: -10,
}
_WHEEL_STEP = 120  # one notch of a standard mouse wheel, in 1/8 degree
#: A left press and release closer than this (pixels) is a click, not a window drag.
_CLICK_SLOP = 3.0
#: Ctrl+wheel zoom factor per notch.
_ZOOM_STEP = 1.15
_MOUSE_EVENTS = (
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick,
    QEvent.Type.MouseMove,
)
#: Takes a mouse event before the view does (measurement tools); True when it used it.
MouseHandler = Callable[[QObject, QMouseEvent], bool]


class SliceInputMixin:
    """Event handling of :class:`~medview.view.slice_view.QtSliceView`."""

    @property
    def zoom(self) -> float:
        """Magnification relative to the fitted view (1.0 after :meth:`reset_camera`)."""
        scale = self._renderer.GetActiveCamera().GetParallelScale()
        return self._fit_scale / scale if scale > 0 else 1.0

    def zoom_by(self, factor: float) -> None:
        """Magnify by ``factor`` about the centre of the view (> 1 zooms in)."""
        camera = self._renderer.GetActiveCamera()
        camera.SetParallelScale(camera.GetParallelScale() / factor)
        self._camera_touched = True
        self._renderer.ResetCameraClippingRange()
        self.render()

    def pan_by(self, shift_mm: np.ndarray) -> None:
        """Move the camera by ``shift_mm`` (LPS, in the view plane): the picture moves back."""
        camera = self._renderer.GetActiveCamera()
        shift = np.asarray(shift_mm, float)
        shift = shift - self.normal * float(shift @ self.normal)  # stay on this slice
        camera.SetFocalPoint(*(np.asarray(camera.GetFocalPoint()) + shift))
        camera.SetPosition(*(np.asarray(camera.GetPosition()) + shift))
        self._camera_touched = True
        self.render()

    @property
    def left_drag(self) -> str:
        """What a left-button drag does: ``"window"`` (level), ``"pan"`` or ``"zoom"``."""
        return self._left_drag

    def set_left_drag(self, mode: str) -> None:
        """Choose what a left-button drag does (a setting: radiologists differ)."""
        if mode not in LEFT_DRAG_MODES:
            raise ValueError(
                f"unknown left-drag mode {mode!r}; known: {', '.join(LEFT_DRAG_MODES)}"
            )
        self._left_drag = mode

    def set_mouse_handler(self, handler: MouseHandler | None) -> None:
        """Let ``handler`` see mouse events before the view (None to remove it).

        A bound method is held weakly: its owner usually holds this view, and a cycle would
        leave the render window to the cyclic garbage collector, which may run at any time.
        """
        if handler is not None and hasattr(handler, "__self__"):
            reference = weakref.WeakMethod(handler)

            def handler(view: QObject, event: QMouseEvent) -> bool:
                method = reference()
                return method is not None and method(view, event)

        self._mouse_handler = handler

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._handle_key(event):
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Take the events the radiologist expects from VTK's widget before VTK does."""
        kind = event.type()
        handler = self._mouse_handler if self._volume is not None else None
        if kind in _MOUSE_EVENTS and handler is not None and handler(self, event):
            self._drag_start = None
            if kind == QEvent.Type.MouseMove:
                self._update_pointer(event.position())  # the probe's value and LPS
            return True
        if kind == QEvent.Type.KeyPress:
            # Swallow every key: VTK's own key bindings ('q' quits, 'w' wireframe...) must
            # not reach the interactor. Application shortcuts are dispatched before this.
            self._handle_key(event)
            return True
        if kind == QEvent.Type.KeyRelease:
            return True
        if kind == QEvent.Type.Wheel:
            self._handle_wheel(event)
            return True
        if kind == QEvent.Type.MouseButtonPress:
            if event.button() == Qt.MouseButton.LeftButton:
                position = event.position()
                center, width = self._window
                self._drag_start = (position.x(), position.y(), center, width)
                self._drag_last = QPointF(position)
                return True
            self._camera_touched = True
        elif kind == QEvent.Type.MouseButtonRelease:
            if event.button() == Qt.MouseButton.LeftButton:
                start, self._drag_start = self._drag_start, None
                position = event.position()
                if start is not None and self._volume is not None:
                    moved = max(abs(position.x() - start[0]), abs(position.y() - start[1]))
                    if moved <= _CLICK_SLOP:
                        self.clicked.emit(self.widget_to_world(position))
                return True
        elif kind == QEvent.Type.MouseButtonDblClick:
            if event.button() == Qt.MouseButton.LeftButton:
                self.double_clicked.emit()
                return True
        elif kind == QEvent.Type.MouseMove:
            self._handle_mouse_move(event)
            return self._drag_start is not None
        elif kind == QEvent.Type.Leave and self._pointer_text:
            self._pointer_text = ""
            self._update_info()
            self.render()
        return False

    def _handle_key(self, event: QKeyEvent) -> bool:
        steps = _SCROLL_KEYS.get(event.key())
        if steps is None:
            return False
        self.scroll(steps)
        return True

    def _handle_wheel(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            notches = event.angleDelta().y() / _WHEEL_STEP
            if notches:
                self.zoom_by(_ZOOM_STEP**notches)
            return
        self._wheel_accumulator += event.angleDelta().y()
        # Touchpads send small deltas: move a slice only per full notch.
        steps = int(self._wheel_accumulator / _WHEEL_STEP)
        if steps:
            self._wheel_accumulator -= steps * _WHEEL_STEP
            self.scroll(steps)

    def _handle_mouse_move(self, event: QMouseEvent) -> None:
        position = event.position()
        if (
            self._drag_start is not None
            and self._volume is not None
            and self._left_drag != "window"
        ):
            last, self._drag_last = self._drag_last or position, QPointF(position)
            if self._left_drag == "pan":
                self.pan_by(self.widget_to_world(last) - self.widget_to_world(position))
            else:  # zoom: dragging up magnifies, as the right button does in VTK
                self.zoom_by(_ZOOM_STEP ** ((last.y() - position.y()) / 20.0))
            return
        if self._drag_start is not None and self._volume is not None:
            x0, y0, center0, width0 = self._drag_start
            low, high = self._value_range
            # About 500 pixels of drag sweep the whole data range, whatever the modality.
            per_pixel = max((high - low) / 500.0, 1e-3)
            width = max(width0 + (position.x() - x0) * per_pixel, per_pixel)
            # Dragging up raises the level (the picture gets darker), as in most viewers.
            center = center0 - (position.y() - y0) * per_pixel
            self.set_window(center, width)
            return
        self._update_pointer(position)
