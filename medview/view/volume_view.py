"""A 3D view of a Volume: volume rendering inside Qt, with presets and rotate/zoom.

The picture must stay interactive on a software OpenGL (Mesa llvmpipe, as under Xvfb and on
many remote desktops): there the CPU ray caster ``vtkFixedPointVolumeRayCastMapper`` is used,
with coarser samples while the camera moves, and volumes bigger than 256 voxels on an axis are
block-averaged first (on a worker thread). On a real GPU ``vtkSmartVolumeMapper`` picks the
GPU ray caster. The corner text says which mapper draws and whether the data was reduced.

The VTK image carries no direction matrix here (not every volume mapper honours one); the
index -> LPS affine goes on the ``vtkVolume`` as its user matrix, so world coordinates are
patient LPS millimetres as in the slice views.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPiecewiseFunction
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import (
    vtkColorTransferFunction,
    vtkRenderer,
    vtkVolume,
    vtkVolumeProperty,
)
from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper
from vtkmodules.vtkRenderingVolumeOpenGL2 import vtkSmartVolumeMapper

from medview.imaging.downsample import block_factors, downsample_mean
from medview.imaging.volume import Volume
from medview.view.fonts import set_text
from medview.view.qt_jobs import QtJobRunner
from medview.view.vtk_widget import QtVtkWidget, grab_render_window, make_text

#: Largest number of voxels per axis sent to the 3D renderer.
MAX_RENDER_SIZE = 256
#: Rendering presets: name -> (label, opacity points, colour points, blend).
PRESETS = {
    "ct-bone": (
        "CT bone",
        ((-1000, 0.0), (150, 0.0), (300, 0.25), (700, 0.7), (3000, 0.9)),
        ((-1000, (0.3, 0.3, 0.3)), (200, (0.75, 0.55, 0.4)), (700, (1.0, 0.97, 0.9))),
        "composite",
    ),
    # Aerated lung faintly opaque, air and solid tissue clear: the lungs and airways show as a
    # translucent cast. (A thin -600..-400 HU band, as in some viewers, aliases into stripes
    # at the coarse sampling a CPU ray caster can afford.)
    "ct-lung": (
        "CT lung",
        ((-1000, 0.0), (-950, 0.0), (-800, 0.04), (-500, 0.1), (-200, 0.0), (3000, 0.0)),
        ((-1000, (0.3, 0.5, 0.8)), (-700, (0.9, 0.6, 0.5)), (-300, (1.0, 0.9, 0.8))),
        "composite",
    ),
    "soft-tissue": (
        "Soft tissue",
        ((-1000, 0.0), (-100, 0.0), (20, 0.08), (80, 0.3), (400, 0.6), (3000, 0.85)),
        (
            (-1000, (0.0, 0.0, 0.0)),
            (0, (0.7, 0.3, 0.25)),
            (80, (0.9, 0.6, 0.45)),
            (400, (1.0, 0.95, 0.9)),
        ),
        "composite",
    ),
    "mip": (
        "MIP",
        ((-1000, 0.0), (-200, 0.0), (1200, 1.0)),
        ((-1000, (0, 0, 0)), (1200, (1, 1, 1))),
        "mip",
    ),
}
_SOFTWARE_GL = ("llvmpipe", "softpipe", "swrast", "software")


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtVolumeView", text)


class QtVolumeView(QWidget):
    """Volume rendering of a Volume; left-drag rotates, right-drag or wheel zooms.

    Signals
    -------
    ready
        The rendering pipeline for the last :meth:`set_volume` is in place.
    double_clicked
        A left double-click (the MPR layout maximises the view).
    """

    ready = Signal()
    double_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._finalized = False
        self._volume: Volume | None = None
        self._render_volume: Volume | None = None
        self._preset = "ct-bone"
        self._mapper_name = ""
        self._vtk_widget = QtVtkWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._vtk_widget)
        self._vtk_widget.installEventFilter(self)
        self._renderer = vtkRenderer()
        self._renderer.SetBackground(0.0, 0.0, 0.0)
        self._render_window = self._vtk_widget.GetRenderWindow()
        self._render_window.AddRenderer(self._renderer)
        self._vtk_widget.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        self._vtk_widget.Initialize()
        interactor = self._render_window.GetInteractor()
        # The ray caster drops to coarse samples at this frame rate while the camera moves.
        interactor.SetDesiredUpdateRate(8.0)
        interactor.SetStillUpdateRate(0.01)
        self._actor = vtkVolume()
        self._actor.VisibilityOff()
        self._renderer.AddVolume(self._actor)
        self._info_actor = make_text(self._renderer, "bottom_left")
        self._title_actor = make_text(self._renderer, "top_left")
        self._title_actor.SetInput(_tr("3D"))
        self._message_actor = make_text(self._renderer, "centre", 20)
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_reduced)
        vtk_widget = self._vtk_widget
        self.destroyed.connect(lambda *_: vtk_widget.release())

    # -- public API ------------------------------------------------------------------------
    @property
    def volume(self) -> Volume | None:
        return self._volume

    @property
    def is_ready(self) -> bool:
        """True once the last volume is in the renderer."""
        return self._render_volume is not None and self._actor.GetVisibility() == 1

    @property
    def mapper_name(self) -> str:
        """The VTK class drawing the volume ("" before the first volume)."""
        return self._mapper_name

    @property
    def preset(self) -> str:
        return self._preset

    @property
    def render_window(self):
        return self._render_window

    @property
    def vtk_widget(self) -> QtVtkWidget:
        return self._vtk_widget

    @property
    def renderer(self) -> vtkRenderer:
        return self._renderer

    def info_text(self) -> str:
        return self._info_actor.GetInput() or ""

    def set_volume(self, volume: Volume) -> None:
        """Render ``volume`` (reduced on a worker thread first when it is big)."""
        self._volume = volume
        self._render_volume = None
        self._actor.VisibilityOff()
        if volume.is_color:
            self.set_message(_tr("No 3D view for colour images"))
            return
        if block_factors(volume.size_ijk, MAX_RENDER_SIZE) == (1, 1, 1):
            self._jobs.invalidate()
            self._on_reduced(volume)
            return
        self.set_message(_tr("Preparing 3D…"))
        self._jobs.submit(downsample_mean, volume, MAX_RENDER_SIZE)

    def set_preset(self, name: str) -> None:
        """Use a rendering preset: ``ct-bone``, ``ct-lung``, ``soft-tissue`` or ``mip``."""
        if name not in PRESETS:
            raise KeyError(f"unknown 3D preset {name!r}; known: {', '.join(PRESETS)}")
        self._preset = name
        self._apply_preset()
        self._update_info()
        self.render()

    def set_message(self, text: str) -> None:
        set_text(self._message_actor, text)
        self.render()

    def reset_camera(self) -> None:
        """Look at the patient from the front (anterior), superior up: patient right on the
        screen's left, as in the coronal view."""
        if self._render_volume is None:
            return
        bounds = self._actor.GetBounds()
        centre = np.array(
            [(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2]
        )
        camera = self._renderer.GetActiveCamera()
        camera.SetFocalPoint(*centre)
        camera.SetPosition(*(centre - np.array([0.0, 1.0, 0.0]) * 1000.0))
        camera.SetViewUp(0.0, 0.0, 1.0)
        self._renderer.ResetCamera()
        self._renderer.ResetCameraClippingRange()

    def render(self) -> None:
        """Render now (GUI thread only); skipped while hidden or after teardown."""
        if self._finalized or not self.isVisible():
            return
        self._render_window.Render()

    def grab_rgb(self) -> np.ndarray:
        """The rendered picture, ``(height, width, 3)`` uint8, top row first."""
        if self._finalized:
            raise RuntimeError("the view is closed; nothing to grab")
        return grab_render_window(self._render_window)

    def finalize(self) -> None:
        """Release the render window (idempotent)."""
        if self._finalized:
            return
        self._finalized = True
        self._jobs.shutdown()
        self._vtk_widget.removeEventFilter(self)
        self._vtk_widget.release()
        self._render_window.RemoveRenderer(self._renderer)
        self._render_window = None

    def closeEvent(self, event) -> None:
        self.finalize()
        super().closeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return True  # VTK's key bindings ('q' quits, 'w' wireframe...) must not run
        if kind == QEvent.Type.MouseButtonDblClick and event.button() == Qt.MouseButton.LeftButton:
            self.double_clicked.emit()
            return True
        return False

    # -- internals -------------------------------------------------------------------------
    def _on_reduced(self, reduced: object) -> None:
        if self._finalized or not isinstance(reduced, Volume):
            return
        self._render_volume = reduced
        self._actor.SetMapper(self._make_mapper(reduced))
        self._actor.SetUserMatrix(self._index_to_lps_matrix(reduced))
        self._actor.SetProperty(vtkVolumeProperty())
        self._apply_preset()
        self._actor.VisibilityOn()
        self._message_actor.SetInput("")
        self.reset_camera()
        self._update_info()
        self.render()
        self.ready.emit()

    def _make_mapper(self, volume: Volume):
        array = np.ascontiguousarray(volume.array)
        if array.dtype not in (np.int16, np.uint16, np.uint8, np.float32):
            array = array.astype(np.float32)
        image = vtkImageData()
        ni, nj, nk = volume.size_ijk
        image.SetDimensions(ni, nj, nk)
        image.SetSpacing(*volume.spacing)
        scalars = numpy_to_vtk(array.reshape(-1), deep=False)
        image.GetPointData().SetScalars(scalars)
        image._medview_array = array  # the VTK array only borrows numpy's memory
        if self._software_gl():
            mapper = vtkFixedPointVolumeRayCastMapper()
            # Full resolution when still; up to 4x coarser rays while rotating.
            mapper.SetAutoAdjustSampleDistances(1)
            mapper.SetImageSampleDistance(1.0)
            mapper.SetMaximumImageSampleDistance(4.0)
            mapper.SetSampleDistance(float(min(volume.spacing)))
            mapper.SetInteractiveSampleDistance(float(2.0 * min(volume.spacing)))
        else:
            mapper = vtkSmartVolumeMapper()
            mapper.SetRequestedRenderModeToDefault()
        mapper.SetInputData(image)
        self._mapper_name = mapper.GetClassName()
        return mapper

    def _software_gl(self) -> bool:
        forced = os.environ.get("MEDVIEW_VOLUME_MAPPER", "").lower()
        if forced in ("cpu", "gpu"):
            return forced == "cpu"
        try:
            capabilities = self._render_window.ReportCapabilities() or ""
        except Exception:  # no context yet: assume the safe choice
            return True
        # Without a context the report is empty: the CPU ray caster works everywhere.
        return not capabilities or any(word in capabilities.lower() for word in _SOFTWARE_GL)

    @staticmethod
    def _index_to_lps_matrix(volume: Volume) -> vtkMatrix4x4:
        # The image already has the spacing; the user matrix adds direction and origin.
        affine = np.eye(4)
        affine[:3, :3] = volume.direction
        affine[:3, 3] = volume.origin
        matrix = vtkMatrix4x4()
        matrix.DeepCopy(affine.ravel())
        return matrix

    def _apply_preset(self) -> None:
        _, opacity_points, colour_points, blend = PRESETS[self._preset]
        opacity = vtkPiecewiseFunction()
        for value, alpha in opacity_points:
            opacity.AddPoint(value, alpha)
        colours = vtkColorTransferFunction()
        for value, rgb in colour_points:
            colours.AddRGBPoint(value, *rgb)
        prop = self._actor.GetProperty()
        prop.SetScalarOpacity(opacity)
        prop.SetColor(colours)
        prop.SetInterpolationTypeToLinear()
        mip = blend == "mip"
        prop.SetShade(not mip)
        prop.SetAmbient(0.3)
        prop.SetDiffuse(0.7)
        prop.SetSpecular(0.2)
        mapper = self._actor.GetMapper()
        if mapper is not None:
            if mip:
                mapper.SetBlendModeToMaximumIntensity()
            else:
                mapper.SetBlendModeToComposite()

    def _update_info(self) -> None:
        if self._volume is None or self._render_volume is None:
            self._info_actor.SetInput("")
            return
        lines = [f"{PRESETS[self._preset][0]}  ·  {self._mapper_name}"]
        if self._render_volume is not self._volume:
            shape = " × ".join(str(n) for n in self._render_volume.size_ijk)
            lines.append(_tr("Downsampled to {shape} for 3D").format(shape=shape))
        self._info_actor.SetInput("\n".join(lines))
