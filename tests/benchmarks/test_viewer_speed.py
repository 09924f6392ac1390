"""Viewer speed against a bare-VTK baseline measured in the same run (issue 3).

Run with: ``.venv/bin/python -m pytest tests/benchmarks -m benchmark -s``

For a 512 x 512 CT view it prints frames per second of slice scrolling, window/level dragging
and oblique MPR (turning a plane), for medview's :class:`QtSliceView` and :class:`QtMprLayout`
(1x1, so one view is drawn, with its crosshair, overlays and state round trip) and for bare
VTK (``vtkImageReslice`` + ``vtkImageActor`` in a render window of the same size, no Qt, no
overlays), and the ratios; also the time from a Volume in memory to the first rendered frame,
and scrolling thick-slab MIPs (10 and 30 mm) against thin-slice scrolling in the same run.
Never asserts a timing.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageReslice
from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer, vtkRenderWindow

from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.imaging.planes import rotation_matrix
from medview.imaging.slab import Slab
from medview.view.mpr_layout import QtMprLayout
from medview.view.slice_view import QtSliceView
from medview.view.vtk_bridge import volume_to_vtk_image

pytestmark = pytest.mark.benchmark

SIZE = 512
SLICES = int(os.environ.get("MEDVIEW_BENCH_SLICES", "300"))
FRAMES = int(os.environ.get("MEDVIEW_BENCH_FRAMES", "60"))


@pytest.fixture(scope="module")
def ct():
    volume, _ = make_phantom(PhantomSpec(size=SIZE, slices=SLICES, seed=0))
    return volume


def _fps(step, frames: int = FRAMES) -> float:
    step(0)  # warm-up: first use compiles shaders, allocates textures
    start = time.perf_counter()
    for frame in range(1, frames + 1):
        step(frame)
    return frames / (time.perf_counter() - start)


class _BareVtk:
    """vtkImageReslice + vtkImageActor in a plain render window: the baseline."""

    def __init__(self, volume, size: int) -> None:
        self.volume = volume
        self.reslice = vtkImageReslice()
        self.reslice.SetInputData(volume_to_vtk_image(volume))
        self.reslice.SetOutputDimensionality(2)
        self.reslice.SetInterpolationModeToLinear()
        self.reslice.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)
        pixel = min(volume.spacing[:2])
        span = float(np.max(np.asarray(volume.extent_mm(), float)))
        count = round(span / pixel) + 1
        self.reslice.SetOutputSpacing(pixel, pixel, 1.0)
        self.reslice.SetOutputOrigin(-span / 2, -span / 2, 0.0)
        self.reslice.SetOutputExtent(0, count - 1, 0, count - 1, 0, 0)
        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputConnection(self.reslice.GetOutputPort())
        self.actor.GetProperty().SetColorWindow(400.0)
        self.actor.GetProperty().SetColorLevel(40.0)
        self.renderer = vtkRenderer()
        self.renderer.AddActor(self.actor)
        self.window = vtkRenderWindow()
        self.window.SetSize(size, size)
        self.window.SetMultiSamples(0)  # as medview's slice views: a fair comparison
        self.window.AddRenderer(self.renderer)
        self.centre = volume.index_to_lps((np.asarray(volume.size_ijk, float) - 1) / 2)
        self.set_axes(np.eye(3), self.centre)
        self.renderer.ResetCamera()
        self.renderer.GetActiveCamera().ParallelProjectionOn()
        self.renderer.ResetCamera()
        # Fit the image to the window as medview does, so both texture as many pixels.
        self.renderer.GetActiveCamera().SetParallelScale(span / 2.0 * 1.02)

    def set_axes(self, rotation: np.ndarray, point: np.ndarray) -> None:
        matrix = np.eye(4)
        matrix[:3, :3] = rotation
        matrix[:3, 3] = point
        axes = vtkMatrix4x4()
        axes.DeepCopy(matrix.ravel())
        # The actor shows the 2D output where it is (camera fixed), as a plain viewer would.
        self.reslice.SetResliceAxes(axes)

    def render(self) -> None:
        self.window.Render()

    def close(self) -> None:
        self.window.Finalize()


def _print(title: str, medview: dict[str, float], bare: float) -> None:
    parts = [f"{name} {fps:6.1f} fps ({fps / bare:.2f}x)" for name, fps in medview.items()]
    print(f"  {title:<26} bare VTK {bare:6.1f} fps | " + " | ".join(parts))


def test_viewer_speed(qapp, ct):
    volume = ct
    slice_count = volume.size_ijk[2]
    print(f"\nviewer speed, {SIZE}x{SIZE}x{slice_count} CT, {SIZE}x{SIZE} views, {FRAMES} frames")

    # -- time to first image -----------------------------------------------------------------
    bare_start = time.perf_counter()
    bare = _BareVtk(volume, SIZE)
    bare.render()
    bare_first = time.perf_counter() - bare_start

    view = QtSliceView()
    view.resize(SIZE, SIZE)
    view.show()
    assert QTest.qWaitForWindowExposed(view)
    first_start = time.perf_counter()
    view.set_volume(volume)
    view.grab_rgb()
    view_first = time.perf_counter() - first_start

    layout = QtMprLayout()
    layout.state.set_layout("1x1")
    layout.resize(SIZE, SIZE)
    layout.show()
    assert QTest.qWaitForWindowExposed(layout)
    QApplication.processEvents()
    layout_start = time.perf_counter()
    layout.set_volume(volume)
    layout.view("axial").grab_rgb()
    layout_first = time.perf_counter() - layout_start
    axial = layout.view("axial")
    print(
        f"  time to first image       bare VTK {bare_first * 1000:6.0f} ms | "
        f"QtSliceView {view_first * 1000:6.0f} ms | QtMprLayout {layout_first * 1000:6.0f} ms"
    )

    # -- slice scrolling -----------------------------------------------------------------------
    def bare_scroll(frame: int) -> None:
        k = frame % slice_count
        point = volume.index_to_lps(np.array([0.0, 0.0, float(k)]))
        bare.set_axes(np.eye(3), np.array([bare.centre[0], bare.centre[1], point[2]]))
        bare.render()

    def view_scroll(frame: int) -> None:
        view.set_slice(frame % slice_count)

    def layout_scroll(frame: int) -> None:
        axial.set_slice(frame % slice_count)

    _print(
        "slice scrolling",
        {"QtSliceView": _fps(view_scroll), "QtMprLayout": _fps(layout_scroll)},
        _fps(bare_scroll),
    )

    # -- thick-slab MIP scrolling; the baseline is thin-slice scrolling in this run ------------
    thin = _fps(view_scroll)
    parts = []
    for thickness in (10.0, 30.0):
        view.set_slab(Slab("mip", thickness))
        fps = _fps(view_scroll)
        parts.append(f"QtSliceView MIP {thickness:g} mm {fps:6.1f} fps ({fps / thin:.2f}x)")
    view.set_slab(None)
    print(f"  {'slab MIP scrolling':<26} thin slice {thin:6.1f} fps | " + " | ".join(parts))

    # -- window/level dragging --------------------------------------------------------------
    def width(frame: int) -> float:
        return 400.0 + 10.0 * (frame % 50)

    def bare_window(frame: int) -> None:
        prop = bare.actor.GetProperty()
        prop.SetColorWindow(width(frame))
        prop.SetColorLevel(40.0 + frame % 7)
        bare.render()

    def view_window(frame: int) -> None:
        view.set_window(40.0 + frame % 7, width(frame))

    def layout_window(frame: int) -> None:
        layout.state.set_window(40.0 + frame % 7, width(frame))

    _print(
        "window/level dragging",
        {"QtSliceView": _fps(view_window), "QtMprLayout": _fps(layout_window)},
        _fps(bare_window),
    )

    # -- oblique MPR: turn a plane 1 degree per frame ----------------------------------------
    axis = np.array([0.0, 0.0, 1.0])
    coronal = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]).T

    def bare_oblique(frame: int) -> None:
        bare.set_axes(rotation_matrix(axis, float(frame)) @ coronal, bare.centre)
        bare.render()

    view.set_plane(layout.state.plane("coronal"))

    def view_oblique(frame: int) -> None:
        view.set_plane(layout.state.plane("coronal").rotated(axis, float(frame)))

    layout.state.set_active("coronal")
    layout.state.set_layout("1x1")  # shows the coronal view, turned about the axial normal

    def layout_oblique(frame: int) -> None:
        layout.state.rotate("axial", 1.0)

    _print(
        "oblique MPR (rotate)",
        {"QtSliceView": _fps(view_oblique), "QtMprLayout": _fps(layout_oblique)},
        _fps(bare_oblique),
    )

    view.close()
    layout.close()
    bare.close()
