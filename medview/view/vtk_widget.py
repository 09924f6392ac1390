"""VTK's Qt widget with a real teardown, and small VTK helpers the views share.

Every view that owns a render window (slice views, the 3D view) embeds :class:`QtVtkWidget`
and calls its :meth:`~QtVtkWidget.release` when it closes or is deleted (pyvistaqt's rule:
explicit teardown of the render window on close).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

# vtkInteractionStyle, vtkRenderingFreeType and vtkRenderingOpenGL2 are imported for their
# factory overrides (styles, text renderer, render window); without them VTK creates
# abstract stand-ins that draw nothing.
import vtkmodules.qt
import vtkmodules.vtkInteractionStyle
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkTextActor, vtkWindowToImageFilter

# Pick the binding explicitly: VTK otherwise takes the first Qt binding it finds installed.
vtkmodules.qt.PyQtImpl = "PySide6"
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor  # noqa: E402

TEXT_COLOR = (1.0, 0.85, 0.3)
#: Text that must not be missed: the label of an AI-generated (derived) image.
WARNING_COLOR = (1.0, 0.45, 0.1)
_TEXT_PLACES = {
    "left": (0.01, 0.5, 0, 1),
    "right": (0.99, 0.5, 2, 1),
    "top": (0.5, 0.99, 1, 2),
    "bottom": (0.5, 0.01, 1, 0),
    "bottom_left": (0.01, 0.01, 0, 0),
    "bottom_right": (0.99, 0.01, 2, 0),
    "top_left": (0.01, 0.99, 0, 2),
    "top_right": (0.99, 0.99, 2, 2),
    "centre": (0.5, 0.5, 1, 1),
}


class QtVtkWidget(QVTKRenderWindowInteractor):
    """VTK's Qt widget with a teardown that really lets go of the render window.

    The stock widget registers Python callbacks on its interactor and render window; those
    C++-held references form cycles Python's garbage collector cannot see, so the render
    window would live until interpreter exit, and its X display would be closed after the X
    server is gone (an X I/O error that turns a passing test run into exit code 1).
    """

    def release(self) -> None:
        """Finalize the render window and drop every reference to it (idempotent)."""
        if self._RenderWindow is None:
            return
        self.setEnabled(False)  # no more input events into a released interactor
        self.hide()
        self._Timer.stop()
        # The Python callbacks the stock widget registered (see its __init__).
        self._Iren.RemoveObservers("CreateTimerEvent")
        self._Iren.RemoveObservers("DestroyTimerEvent")
        self._RenderWindow.RemoveObservers("CursorChangedEvent")
        self._RenderWindow.Finalize()
        self._Iren.SetRenderWindow(None)
        self._RenderWindow = None
        self._Iren = None

    def Finalize(self) -> None:
        self.release()

    def closeEvent(self, event) -> None:
        self.release()

    def paintEvent(self, event) -> None:
        if self._RenderWindow is not None:
            super().paintEvent(event)

    def resizeEvent(self, event) -> None:
        if self._RenderWindow is not None:
            super().resizeEvent(event)


def weak_callback(method: Callable[..., None]) -> Callable[..., None]:
    """A VTK observer calling ``method`` without keeping its object alive."""
    reference = weakref.WeakMethod(method)

    def callback(*args: object) -> None:
        target = reference()
        if target is not None:
            target(*args)

    return callback


def make_text(renderer: vtkRenderer, place: str, size: int = 14, bold: bool = False):
    """A shadowed annotation at a corner, edge or the centre of ``renderer``'s viewport."""
    x, y, horizontal, vertical = _TEXT_PLACES[place]
    actor = vtkTextActor()
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.SetPosition(x, y)
    prop = actor.GetTextProperty()
    prop.SetJustification(horizontal)  # 0 left, 1 centred, 2 right
    prop.SetVerticalJustification(vertical)  # 0 bottom, 1 centred, 2 top
    prop.SetFontSize(size)
    prop.SetBold(bold)
    prop.SetColor(*TEXT_COLOR)
    prop.ShadowOn()
    renderer.AddViewProp(actor)
    return actor


def grab_render_window(render_window) -> np.ndarray:
    """Render and read back ``render_window`` as ``(height, width, 3)`` uint8, top row first."""
    render_window.Render()
    grabber = vtkWindowToImageFilter()
    grabber.SetInput(render_window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.Update()
    image = grabber.GetOutput()
    width, height, _ = image.GetDimensions()
    pixels = vtk_to_numpy(image.GetPointData().GetScalars()).reshape(height, width, -1)
    return np.ascontiguousarray(pixels[::-1, :, :3])  # VTK rows run bottom to top
