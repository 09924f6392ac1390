"""A 2D slice view of a Volume: VTK inside Qt, in radiological convention.

The volume goes to VTK through :mod:`medview.view.vtk_bridge`, so VTK world coordinates are
patient LPS millimetres. The slice is cut in *world* coordinates by ``vtkImageReslice`` (a
plane given by a screen-right and a screen-down vector in LPS), never in index space: a
volume stored with flipped or permuted axes still shows the patient's right on the screen's
left. The camera looks along ``right x down`` with ``-down`` as view up, so the picture and
the orientation letters (computed from the camera) agree by construction.

Rendering happens on the GUI thread only (ARCHITECTURE.md, rule 4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleImage
from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer

from medview.imaging.geometry import axis_letters
from medview.imaging.slab import Slab
from medview.imaging.volume import Volume
from medview.view import slab_reslice
from medview.view.fonts import set_text
from medview.view.overlay_layer import OverlayStyle, SliceOverlayLayer
from medview.view.slice_display import grey_lookup_table, pointer_text, write_png
from medview.view.slice_geometry import (
    AXIAL,
    CT_DEFAULT_WINDOW,
    SliceGeometry,
    ViewPlane,
    default_window,
)
from medview.view.slice_input import MouseHandler, SliceInputMixin
from medview.view.slice_overlays import SliceOverlays
from medview.view.vtk_bridge import volume_to_vtk_image
from medview.view.vtk_widget import (
    QtVtkWidget,
    QVTKRenderWindowInteractor,
    grab_render_window,
    make_text,
    weak_callback,
)

__all__ = ["CT_DEFAULT_WINDOW", "MouseHandler", "QtSliceView"]

_EDGES = ("left", "right", "top", "bottom")


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtSliceView", text)


class QtSliceView(SliceInputMixin, QWidget):
    """One slice of a Volume, with window/level, scrolling and orientation labels.

    Works for any :class:`ViewPlane` (axial, coronal, sagittal, oblique). Mouse wheel, Up/Down
    and PageUp/PageDown (10 slices) scroll; left-drag changes the window (horizontal: width,
    vertical: level); a left click without drag (at most 3 pixels of movement) emits
    :attr:`clicked` with the LPS point under the pointer, a double-click :attr:`double_clicked`;
    right-drag and Ctrl+wheel zoom, middle-drag pans (VTK's image style). Slice numbers shown
    on screen are 1-based, :attr:`slice_index` is 0-based. A :data:`MouseHandler` set with
    :meth:`set_mouse_handler` sees mouse events first (measurement tools).
    """

    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    #: A left click without drag, with the LPS point under it (MPR: moves the crosshair).
    clicked = Signal(object)
    double_clicked = Signal()

    def __init__(self, parent: QWidget | None = None, plane: ViewPlane = AXIAL) -> None:
        super().__init__(parent)
        self._plane = plane
        self._volume: Volume | None = None
        self._geometry: SliceGeometry | None = None
        self._slice = 0
        self._window = CT_DEFAULT_WINDOW
        self._pointer_text = ""
        self._message = ""
        self._finalized = False
        self._wheel_accumulator = 0
        # (x, y, window centre, window width) where the left button went down.
        self._drag_start: tuple[float, float, float, float] | None = None
        self._drag_last: QPointF | None = None
        self._left_drag = "window"
        self._camera_touched = False
        self._value_range = (0.0, 1.0)
        self._inverted = False
        self._fit_scale = 1.0
        self._mouse_handler: MouseHandler | None = None
        self._render_count = 0
        self._slab: Slab | None = None
        self._slab_sampling: slab_reslice.SlabSampling | None = None

        self._vtk_widget = QtVtkWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._vtk_widget)
        self.setFocusProxy(self._vtk_widget)
        self._vtk_widget.installEventFilter(self)

        self._renderer = vtkRenderer()
        self._renderer.SetBackground(0.0, 0.0, 0.0)
        self._render_window = self._vtk_widget.GetRenderWindow()
        # No multisampling: it doubles the cost of every frame on a software renderer (about
        # 30 ms at 512 x 512 on llvmpipe) and a 2D slice gains nothing from it.
        self._render_window.SetMultiSamples(0)
        self._render_window.AddRenderer(self._renderer)
        self._vtk_widget.SetInteractorStyle(vtkInteractorStyleImage())
        self._vtk_widget.Initialize()

        self._reslice = vtkImageReslice()
        self._reslice.SetOutputDimensionality(2)
        self._reslice.SetInterpolationModeToLinear()
        # Output is in reslice-axes coordinates; the actor's user matrix puts it in LPS.
        self._reslice.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)
        self._actor = vtkImageActor()
        self._actor.GetMapper().SetInputConnection(self._reslice.GetOutputPort())
        self._actor.GetProperty().SetInterpolationTypeToLinear()
        self._actor.VisibilityOff()
        self._renderer.AddActor(self._actor)

        # AI overlays (heatmaps, masks) in register with the image; see overlay_layer.py.
        self._overlay_layer = SliceOverlayLayer(self._renderer)

        self._edge_actors = {edge: self._make_text(edge) for edge in _EDGES}
        self._overlays = SliceOverlays(self._renderer, self._make_text)
        self._info_actor = self._overlays.info
        self._message_actor = self._make_text("centre")
        self._renderer.GetActiveCamera().ParallelProjectionOn()
        # VTK holds observer callbacks strongly and Python's gc cannot see through C++, so a
        # bound method here would keep this view, and its render window, alive forever.
        self._camera_observer = self._renderer.GetActiveCamera().AddObserver(
            "ModifiedEvent", weak_callback(self._on_camera_modified)
        )
        # Deleted without being closed (e.g. its window was garbage-collected): still let go
        # of the render window while the X connection is there.
        vtk_widget = self._vtk_widget
        self.destroyed.connect(lambda *_: vtk_widget.release())
        self.set_message(_tr("No image"))

    # -- public API ------------------------------------------------------------------------
    @property
    def volume(self) -> Volume | None:
        return self._volume

    @property
    def slice_index(self) -> int:
        """0-based index of the shown slice along the scrolled voxel axis."""
        return self._slice

    @property
    def slice_count(self) -> int:
        return self._geometry.count if self._geometry is not None else 0

    @property
    def slice_position(self) -> float:
        """Position (mm) of the shown slice along the view normal (LPS z for axial)."""
        return self._geometry.plane_offset(self._slice) if self._geometry is not None else 0.0

    @property
    def window(self) -> tuple[float, float]:
        """(centre, width) of the grey-level window."""
        return self._window

    @property
    def vtk_widget(self) -> QVTKRenderWindowInteractor:
        """The embedded VTK widget (receives the mouse, wheel and key events)."""
        return self._vtk_widget

    @property
    def render_window(self):
        """The ``vtkRenderWindow`` (None after :meth:`finalize`)."""
        return self._render_window

    @property
    def renderer(self) -> vtkRenderer:
        return self._renderer

    def set_volume(self, volume: Volume) -> None:
        """Show ``volume`` at its middle slice, with its default window and a fitted camera."""
        self._volume = volume
        self._reslice.SetInputData(volume_to_vtk_image(volume))
        self._overlay_layer.set_volume(None)  # it belonged to the previous volume's grid
        # Once per volume: a 512 x 512 x 600 CT takes a noticeable time to scan.
        self._value_range = (float(volume.array.min()), float(volume.array.max()))
        self._reslice.SetBackgroundLevel(self._value_range[0])
        self._inverted = False
        self._apply_lookup_table()
        self._lay_out_plane()
        self._slice = self._geometry.count // 2
        self._apply_slice()
        self._actor.VisibilityOn()
        self._message = ""
        self._message_actor.SetInput("")
        self._overlays.update_title(volume)
        self.reset_camera()
        if not volume.is_color:
            self.set_window(*default_window(volume))
        self._update_info()
        self.render()

    @property
    def plane(self) -> ViewPlane:
        return self._plane

    @property
    def normal(self) -> np.ndarray:
        """Unit LPS normal of the shown plane (the camera looks along it)."""
        return np.asarray(self._plane.normal, float)

    def set_plane(self, plane: ViewPlane) -> None:
        """Show ``plane`` (e.g. an oblique one) through the same point as the current slice."""
        if plane == self._plane:
            return
        centre = self._geometry.centre(self._slice) if self._geometry is not None else None
        self._plane = plane
        if self._volume is None or centre is None:
            return
        self._lay_out_plane()
        self._slice = self._geometry.index_at(centre)
        self._apply_slice()
        self.reset_camera()
        self._update_info()
        self.render()

    def show_point(self, lps: np.ndarray | tuple[float, float, float]) -> None:
        """Show the slice through an LPS point (the crosshair)."""
        if self._geometry is not None:
            self.set_slice(self._geometry.index_at(lps))

    def set_inverted(self, inverted: bool) -> None:
        """Invert the grey levels (on top of MONOCHROME1's own inversion)."""
        if inverted != self._inverted:
            self._inverted = inverted
            self._apply_lookup_table()
            self.render()

    @property
    def slab(self) -> Slab | None:
        """The thick-slab projection shown (None: the thin slice)."""
        return self._slab

    def set_slab(self, slab: Slab | None) -> None:
        """Show a MIP, MinIP or average of a slab centred on the slice (None: thin slice).

        Display only: the value under the pointer follows the projection, while measurements
        and HU statistics stay on the thin slice through the crosshair."""
        if slab is not None and self._volume is not None and self._volume.is_color:
            slab = None
        if slab == self._slab:
            return
        self._slab = slab
        if self._geometry is not None:
            self._apply_slice()
            self._update_info()
            self.render()

    def set_slice(self, index: int) -> None:
        """Show slice ``index`` (clamped to the volume)."""
        if self._geometry is None:
            return
        index = int(np.clip(index, 0, self._geometry.count - 1))
        if index == self._slice:
            return
        camera = self._renderer.GetActiveCamera()
        shift = self._geometry.normal * (
            self._geometry.plane_offset(index) - self._geometry.plane_offset(self._slice)
        )
        # Move the camera with the slice so zoom and pan stay as the user left them.
        camera.SetFocalPoint(*(np.asarray(camera.GetFocalPoint()) + shift))
        camera.SetPosition(*(np.asarray(camera.GetPosition()) + shift))
        self._slice = index
        self._apply_slice()
        self._renderer.ResetCameraClippingRange()
        self._update_info()
        # Listeners (the MPR layout moving its crosshair lines) usually render this view
        # themselves: render here only if none did, so a scroll step costs one frame.
        renders = self._render_count
        self.slice_changed.emit(index)
        if self._render_count == renders:
            self.render()

    def scroll(self, steps: int) -> None:
        """Move ``steps`` slices (positive: increasing index)."""
        self.set_slice(self._slice + steps)

    def set_window(self, center: float, width: float) -> None:
        """Set the grey-level window (centre and width in the volume's units)."""
        width = max(float(width), 1e-3)
        self._window = (float(center), width)
        prop = self._actor.GetProperty()
        prop.SetColorWindow(width)
        prop.SetColorLevel(float(center))
        self._update_info()
        self.render()
        self.window_changed.emit(float(center), width)

    def set_message(self, text: str) -> None:
        """Show a centred message (e.g. "Loading…") over the view; empty to clear it."""
        self._message = text
        set_text(self._message_actor, text)
        self.render()

    def reset_camera(self) -> None:
        """Centre the slice and fit it to the view."""
        if self._geometry is None:
            return
        geometry = self._geometry
        camera = self._renderer.GetActiveCamera()
        centre = geometry.centre(self._slice)
        span = max(geometry.max_right - geometry.min_right, geometry.max_down - geometry.min_down)
        distance = 4.0 * span + 100.0
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - geometry.normal * distance))
        camera.SetViewUp(*(-geometry.down))
        self._camera_touched = False
        self._fit_camera()

    def orientation_labels(self) -> dict[str, str]:
        """The letters drawn at the ``left``, ``right``, ``top`` and ``bottom`` edges."""
        return {edge: actor.GetInput() or "" for edge, actor in self._edge_actors.items()}

    def info_text(self) -> str:
        """The corner annotation (slice, position, window, value under the pointer)."""
        return self._info_actor.GetInput() or ""

    @property
    def overlays(self) -> SliceOverlays:
        """Corner texts and scale bar."""
        return self._overlays

    @property
    def overlay_layer(self) -> SliceOverlayLayer:
        """The AI overlay drawn over the image (hidden until it gets a volume)."""
        return self._overlay_layer

    def set_overlay(self, volume: Volume | None, style: OverlayStyle | None = None) -> None:
        """Draw ``volume`` (a map on the shown volume's grid) over the image; None removes it."""
        self._overlay_layer.set_volume(volume, style)
        self.render()

    def set_overlays_visible(self, visible: bool) -> None:
        """Show or hide the corner texts and the scale bar (orientation letters stay)."""
        self._overlays.set_visible(visible)
        self.render()

    def pixels_per_mm(self) -> float:
        """Widget (Qt logical) pixels per millimetre at the current zoom."""
        height = self._vtk_widget.height()
        scale = self._renderer.GetActiveCamera().GetParallelScale()
        return height / (2.0 * scale) if scale > 0 else 0.0

    def world_to_widget(self, lps: np.ndarray | tuple[float, float, float]) -> QPointF:
        """Widget (Qt logical pixel) position of an LPS point."""
        self._renderer.SetWorldPoint(*(float(v) for v in lps), 1.0)
        self._renderer.WorldToDisplay()
        x, y, _ = self._renderer.GetDisplayPoint()
        ratio = self._vtk_widget.devicePixelRatioF()
        return QPointF(x / ratio, self._vtk_widget.height() - 1 - y / ratio)

    def widget_to_world(self, point: QPointF) -> np.ndarray:
        """LPS point on the current slice plane under a widget position."""
        ratio = self._vtk_widget.devicePixelRatioF()
        x = point.x() * ratio
        y = (self._vtk_widget.height() - 1 - point.y()) * ratio
        camera = self._renderer.GetActiveCamera()
        self._renderer.SetWorldPoint(*camera.GetFocalPoint(), 1.0)
        self._renderer.WorldToDisplay()
        depth = self._renderer.GetDisplayPoint()[2]
        self._renderer.SetDisplayPoint(x, y, depth)
        self._renderer.DisplayToWorld()
        world = np.asarray(self._renderer.GetWorldPoint(), float)
        lps = world[:3] / world[3]
        if self._geometry is not None:
            normal = self._geometry.normal
            lps = lps + normal * (self._geometry.plane_offset(self._slice) - lps @ normal)
        return lps

    def value_at(self, lps: np.ndarray) -> float | tuple[float, ...] | None:
        """Voxel value nearest to an LPS point, or None outside the volume."""
        if self._volume is None:
            return None
        ijk = np.floor(self._volume.lps_to_index(lps) + 0.5).astype(int)
        if np.any(ijk < 0) or np.any(ijk >= np.asarray(self._volume.size_ijk)):
            return None
        value = self._volume.array[ijk[2], ijk[1], ijk[0]]
        return tuple(float(v) for v in value) if np.ndim(value) else float(value)

    def render(self) -> None:
        """Render now (GUI thread only); skipped while hidden or after teardown."""
        if self._finalized or not self.isVisible():
            return
        self._render_count += 1
        self._render_window.Render()

    def grab_rgb(self) -> np.ndarray:
        """The rendered picture as an ``(height, width, 3)`` uint8 array, top row first."""
        if self._finalized:
            raise RuntimeError("the view is closed; nothing to grab")
        return grab_render_window(self._render_window)

    def grab_png(self, path: str | Path) -> Path:
        """Render and save the view as a PNG file; returns the path."""
        if self._finalized:
            raise RuntimeError("the view is closed; nothing to grab")
        return write_png(self._render_window, path)

    def finalize(self) -> None:
        """Release the render window (idempotent); call before the widget goes away."""
        if self._finalized:
            return
        self._finalized = True
        self._vtk_widget.removeEventFilter(self)
        # No more label updates: the camera outlives the render window it was drawn in.
        self._renderer.GetActiveCamera().RemoveObserver(self._camera_observer)
        # Finalize first, while the renderer is attached, so its textures are freed with the
        # OpenGL context.
        self._vtk_widget.release()
        self._render_window.RemoveRenderer(self._renderer)
        self._render_window = None

    # -- Qt events -------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self.finalize()
        super().closeEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not self._camera_touched:
            self._fit_camera()

    # -- internals -------------------------------------------------------------------------
    def _lay_out_plane(self) -> None:
        assert self._volume is not None
        self._geometry = geometry = SliceGeometry(self._volume, self._plane)
        width, height = geometry.output_size()
        self._reslice.SetOutputSpacing(geometry.pixel_mm, geometry.pixel_mm, 1.0)
        self._reslice.SetOutputOrigin(geometry.min_right, geometry.min_down, 0.0)
        self._reslice.SetOutputExtent(0, width - 1, 0, height - 1, 0, 0)
        self._overlay_layer.set_output(
            geometry.pixel_mm, (geometry.min_right, geometry.min_down), (width, height)
        )

    def _apply_lookup_table(self) -> None:
        if self._volume is None:
            return
        prop = self._actor.GetProperty()
        if self._volume.is_color:
            prop.SetLookupTable(None)
            prop.SetColorWindow(255.0)
            prop.SetColorLevel(127.5)
        else:
            inverted = self._volume.meta.invert_display != self._inverted
            prop.SetLookupTable(grey_lookup_table(inverted))
            prop.UseLookupTableScalarRangeOff()

    def _update_pointer(self, position: QPointF) -> None:
        if self._volume is None:
            return
        lps = self.widget_to_world(position)
        value = self.value_at(lps)
        if value is not None and self._slab_sampling is not None:
            value = slab_reslice.value_at(self._volume, lps, self.normal, self._slab_sampling)
        if value is None:
            self._pointer_text = ""
        else:
            self._pointer_text = pointer_text(self._volume, lps, value)
        self._update_info()
        self.render()

    def _apply_slice(self) -> None:
        assert self._geometry is not None
        shown = self._geometry.reslice_axes(self._slice)
        projected = self._slab is not None and not (self._volume and self._volume.is_color)
        self._slab_sampling = (
            slab_reslice.sampling_for(self._geometry, self._slice, self._slab)
            if projected
            else None
        )
        # The reslicer samples the (clipped) slab; the actor stays on the shown slice.
        sampled = vtkMatrix4x4()
        sampled.DeepCopy(slab_reslice.configure(self._reslice, shown, self._slab_sampling).ravel())
        self._reslice.SetResliceAxes(sampled)
        axes = vtkMatrix4x4()
        axes.DeepCopy(shown.ravel())
        self._actor.SetUserMatrix(axes)
        self._overlay_layer.set_axes(shown)

    def _fit_camera(self) -> None:
        if self._geometry is None or self._finalized:
            return
        geometry = self._geometry
        width_mm = geometry.max_right - geometry.min_right + geometry.pixel_mm
        height_mm = geometry.max_down - geometry.min_down + geometry.pixel_mm
        size = self._render_window.GetSize()
        aspect = size[0] / size[1] if size[0] > 0 and size[1] > 0 else 1.0
        camera = self._renderer.GetActiveCamera()
        self._fit_scale = max(height_mm / 2.0, width_mm / (2.0 * aspect)) * 1.02
        camera.SetParallelScale(self._fit_scale)
        self._renderer.ResetCameraClippingRange()

    def _on_camera_modified(self, camera, _event: str) -> None:
        # Letters follow the camera, so they stay right for any plane or a rotated view.
        up = np.asarray(camera.GetViewUp(), float)
        right = np.cross(camera.GetDirectionOfProjection(), up)
        vectors = {"left": -right, "right": right, "top": up, "bottom": -up}
        for edge, vector in vectors.items():
            # At most two letters: an obliquity of a few degrees is not worth a third.
            self._edge_actors[edge].SetInput(axis_letters(vector, threshold=0.25)[:2])
        # Zoom (right-drag, Ctrl+wheel, a resize) changes the scale bar and the zoom text.
        if not self._finalized:
            scale = camera.GetParallelScale()
            size = self._render_window.GetSize()
            per_mm = size[1] / (2.0 * scale) if scale > 0 else 0.0
            self._overlays.update_scale_bar(per_mm, size[0])
            self._update_info()

    def _make_text(self, place: str):
        big = place in _EDGES or place == "centre"
        return make_text(self._renderer, place, 20 if big else 14, bold=place in _EDGES)

    def _update_info(self) -> None:
        geometry = self._geometry
        self._overlays.update_info(
            self._volume if geometry is not None else None,
            index=self._slice,
            count=geometry.count if geometry is not None else 0,
            position=self.slice_position,
            normal=self.normal,
            window=self._window,
            zoom=self.zoom,
            pointer=self._pointer_text,
            slab=self._slab_sampling,
        )
