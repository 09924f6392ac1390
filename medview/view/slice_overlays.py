"""Corner texts and the scale bar of a slice view (issue 3, "Overlays").

The corner texts show who and what is on screen (patient name and ID, age and sex, study
date and description, series; composed by :mod:`medview.model.overlay_text`) and how it is shown (slice number and position, slice thickness along
the view normal, window/level, zoom). The scale bar is a line in display coordinates whose
length is a round number of millimetres, recomputed whenever the camera zooms.

:class:`SliceOverlays` owns the VTK actors; :class:`~medview.view.slice_view.QtSliceView`
tells it what changed. GUI thread only.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D, vtkRenderer

from medview.imaging.planes import slice_step_mm
from medview.imaging.slab import SLAB_LABELS
from medview.imaging.volume import Volume
from medview.model.overlay_text import derived_lines, title_lines
from medview.view.fonts import set_text
from medview.view.vtk_widget import TEXT_COLOR, WARNING_COLOR, make_text

#: The scale bar is at most this fraction of the view width.
_BAR_FRACTION = 0.25
_BAR_MARGIN_PX = 12
_TICK_PX = 5


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtSliceView", text)


def nice_length(max_mm: float) -> float:
    """The largest 1, 2 or 5 x 10^n mm not above ``max_mm`` (the scale bar's length)."""
    if max_mm <= 0 or not math.isfinite(max_mm):
        return 0.0
    power = 10.0 ** math.floor(math.log10(max_mm))
    for factor in (5.0, 2.0, 1.0):
        if factor * power <= max_mm:
            return factor * power
    return power


class SliceOverlays:
    """Patient/series text (top left), slice/window/zoom text (bottom left), scale bar.

    Parameters
    ----------
    renderer
        The slice view's renderer.
    make_corner_text
        Factory for a corner text actor (the view's own, so fonts match).
    """

    def __init__(self, renderer: vtkRenderer, make_corner_text=None) -> None:
        factory = make_corner_text or (lambda place: make_text(renderer, place, 14))
        self._renderer = renderer
        self.title = factory("top_left")
        self.info = factory("bottom_left")
        self._visible = True
        self._bar_points = vtkPoints()
        self._bar_points.SetNumberOfPoints(4)
        polydata = vtkPolyData()
        polydata.SetPoints(self._bar_points)
        cells = vtkCellArray()
        cells.InsertNextCell(2, (0, 1))
        cells.InsertNextCell(2, (1, 2))
        cells.InsertNextCell(2, (2, 3))
        polydata.SetLines(cells)
        self._bar_data = polydata
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(polydata)
        self.bar = vtkActor2D()
        self.bar.SetMapper(mapper)
        self.bar.GetProperty().SetColor(*TEXT_COLOR)
        self.bar.GetProperty().SetLineWidth(2.0)
        self.bar.VisibilityOff()
        renderer.AddViewProp(self.bar)
        self.bar_label = make_text(renderer, "bottom_right", 12)
        self._bar_mm = 0.0

    # -- visibility ------------------------------------------------------------------------
    @property
    def visible(self) -> bool:
        return self._visible

    def set_visible(self, visible: bool) -> None:
        """Show or hide every overlay (text and scale bar) at once (the O key)."""
        self._visible = bool(visible)
        self.title.SetVisibility(self._visible)
        self.info.SetVisibility(self._visible)
        self.bar_label.SetVisibility(self._visible)
        self.bar.SetVisibility(self._visible and self._bar_mm > 0)

    @property
    def bar_mm(self) -> float:
        """Length the scale bar stands for (mm); 0 while there is none."""
        return self._bar_mm

    # -- texts -----------------------------------------------------------------------------
    def update_title(self, volume: Volume | None) -> None:
        if volume is None:
            self.title.SetInput("")
            return
        meta = volume.meta
        # A derived image (AI output) says so first, in the warning colour (issue 6).
        lines = [*derived_lines(meta, _tr), *title_lines(meta)]
        self.title.GetTextProperty().SetColor(*(WARNING_COLOR if meta.derived else TEXT_COLOR))
        set_text(self.title, "\n".join(lines))

    def update_info(
        self,
        volume: Volume | None,
        *,
        index: int,
        count: int,
        position: float,
        normal,
        window: tuple[float, float],
        zoom: float,
        pointer: str,
        slab=None,
    ) -> None:
        """Compose the bottom-left text (formats are relied on by tests and users alike).

        ``slab`` (a :class:`~medview.view.slab_reslice.SlabSampling`) replaces the slice
        thickness with the projection and the slab's thickness; at the volume's first and
        last slices that is the part of the slab inside the volume."""
        if volume is None or count == 0:
            self.info.SetInput("")
            return
        thickness = slice_step_mm(volume.spacing, volume.direction, normal)
        lines = [
            _tr("Slice {index}/{count}  Pos {pos:.1f} mm").format(
                index=index + 1, count=count, pos=position
            ),
            _tr("Thickness {thickness:.2f} mm  Zoom {zoom:.2f}×").format(
                thickness=thickness, zoom=zoom
            ),
        ]
        if slab is not None:
            lines[1] = _tr("{mode} slab {thickness:.1f} mm  Zoom {zoom:.2f}×").format(
                mode=_tr(SLAB_LABELS[slab.slab.mode]),
                thickness=max(slab.thickness_mm, thickness),
                zoom=zoom,
            )
        if not volume.is_color:
            center, width = window
            lines.append(_tr("W {width:.0f}  L {center:.0f}").format(width=width, center=center))
        if pointer:
            lines.append(pointer)
        self.info.SetInput("\n".join(lines))

    # -- scale bar -------------------------------------------------------------------------
    def update_scale_bar(self, pixels_per_mm: float, width_px: int) -> None:
        """Lay out the scale bar for the current zoom (display pixels per mm, view width)."""
        length = nice_length(width_px * _BAR_FRACTION / pixels_per_mm) if pixels_per_mm else 0
        self._bar_mm = length
        if length <= 0:
            self.bar.VisibilityOff()
            self.bar_label.SetInput("")
            return
        right = width_px - _BAR_MARGIN_PX
        left = right - length * pixels_per_mm
        bottom = _BAR_MARGIN_PX + 18  # above the label
        for i, (x, y) in enumerate(
            ((left, bottom + _TICK_PX), (left, bottom), (right, bottom), (right, bottom + _TICK_PX))
        ):
            self._bar_points.SetPoint(i, x, y, 0.0)
        self._bar_points.Modified()
        self._bar_data.Modified()
        shown = f"{length:g}" if length >= 1 else f"{length:.1g}"
        self.bar_label.SetInput(_tr("{length} mm").format(length=shown))
        self.bar.SetVisibility(self._visible)

    def scale_bar_pixels(self) -> tuple[float, float]:
        """(left, right) display x of the bar's ends, for tests."""
        return self._bar_points.GetPoint(1)[0], self._bar_points.GetPoint(2)[0]
