"""A colour map drawn over a slice view: AI heatmaps, probabilities, masks (issue 4, "overlays").

A plugin's overlay is a float Volume on the input grid (:class:`medview.ai.api.Overlay`). It is
resliced with the same reslice axes as the grey image, so both stay in register in every plane
(oblique too), mapped through a colour table whose values below the threshold are transparent,
and drawn a little towards the camera so it is never hidden by the image it covers.

:class:`OverlayStyle` is what the AI panel's controls set (colour map, opacity, threshold and,
for signed maps such as saliency, the sign mode of :mod:`medview.model.overlay_display`:
positive part only, magnitude, or both signs); :class:`SliceOverlayLayer` owns the VTK
pipeline of one view. GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonCore import VTK_FLOAT, vtkLookupTable
from vtkmodules.vtkCommonMath import vtkMatrix4x4
from vtkmodules.vtkImagingCore import vtkImageMapToColors, vtkImageReslice
from vtkmodules.vtkImagingMath import vtkImageMathematics
from vtkmodules.vtkRenderingCore import vtkImageActor, vtkRenderer

from medview.imaging.volume import Volume
from medview.model.overlay_display import SIGN_MODES, display_range
from medview.view.vtk_bridge import volume_to_vtk_image

#: Colour maps offered: name -> anchor colours from low to high (RGB 0..1).
COLOUR_MAPS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "hot": ((0.5, 0.0, 0.0), (1.0, 0.0, 0.0), (1.0, 0.6, 0.0), (1.0, 1.0, 0.3)),
    "jet": ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    "green": ((0.0, 0.4, 0.0), (0.0, 1.0, 0.0)),
}
_TABLE_SIZE = 256
#: Towards the camera (mm): above the image, below the crosshair lines (0.5 mm) and labels.
_LIFT_MM = 0.25


@dataclass(frozen=True)
class OverlayStyle:
    """How an overlay is drawn.

    Attributes
    ----------
    colour_map
        A key of :data:`COLOUR_MAPS`.
    opacity
        0..1 for the coloured pixels.
    threshold
        Values below it are not drawn (in the overlay's units; for a signed map shown as
        "absolute" or "signed", magnitudes below it).
    value_range
        The overlay's value range; the colour map spans
        :func:`~medview.model.overlay_display.display_range` of it.
    sign
        One of :data:`~medview.model.overlay_display.SIGN_MODES`: "positive" (negative values
        not drawn), "absolute" (the magnitude) or "signed" (both signs over the colour map).
        The same for a map that is never negative.
    """

    colour_map: str = "hot"
    opacity: float = 0.5
    threshold: float = 0.5
    value_range: tuple[float, float] = (0.0, 1.0)
    sign: str = "positive"

    def __post_init__(self) -> None:
        if self.sign not in SIGN_MODES:
            raise ValueError(f"unknown overlay sign mode {self.sign!r}")

    @property
    def signed_map(self) -> bool:
        """Whether the overlay has negative values (the sign mode matters)."""
        return self.value_range[0] < 0.0

    @property
    def shown_range(self) -> tuple[float, float]:
        """The values at the ends of the colour map (after taking the magnitude, if so)."""
        return display_range(self.value_range, self.sign)


def colour_table(style: OverlayStyle) -> np.ndarray:
    """``(256, 4)`` RGBA in 0..1 for ``style``; entries below the threshold fully transparent."""
    anchors = np.asarray(COLOUR_MAPS.get(style.colour_map, COLOUR_MAPS["hot"]), float)
    positions = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, _TABLE_SIZE)
    rgb = np.stack([np.interp(t, positions, anchors[:, c]) for c in range(3)], axis=1)
    low, high = style.shown_range
    values = low + t * (high - low)
    if style.signed_map and style.sign == "signed":
        drawn = np.abs(values) >= style.threshold
    else:
        drawn = values >= style.threshold
    if style.signed_map:
        # Zero is "no evidence" (and everything outside the explained patch): never coloured.
        step = (high - low) / (_TABLE_SIZE - 1)
        drawn &= np.abs(values) > step / 2.0
    alpha = np.where(drawn, float(np.clip(style.opacity, 0.0, 1.0)), 0.0)
    return np.column_stack([rgb, alpha])


class SliceOverlayLayer:
    """One overlay volume drawn in one slice view."""

    def __init__(self, renderer: vtkRenderer) -> None:
        self._renderer = renderer
        self._reslice = vtkImageReslice()
        self._reslice.SetOutputDimensionality(2)
        self._reslice.SetInterpolationModeToLinear()
        self._reslice.SetOutputDirection(1, 0, 0, 0, 1, 0, 0, 0, 1)
        # Float output with NaN outside the overlay's grid: NaN maps to a transparent colour
        # in every sign mode (a "below the range" background would turn opaque under |v|).
        self._reslice.SetOutputScalarType(VTK_FLOAT)
        self._reslice.SetBackgroundLevel(float("nan"))
        self._magnitude = vtkImageMathematics()  # the "absolute" sign mode
        self._magnitude.SetOperationToAbsoluteValue()
        self._magnitude.SetInputConnection(self._reslice.GetOutputPort())
        self._table = vtkLookupTable()
        self._table.SetNumberOfTableValues(_TABLE_SIZE)
        self._table.SetNanColor(0.0, 0.0, 0.0, 0.0)
        self._colours = vtkImageMapToColors()
        self._colours.SetLookupTable(self._table)
        self._colours.SetOutputFormatToRGBA()
        self._colours.SetInputConnection(self._reslice.GetOutputPort())
        self.actor = vtkImageActor()
        self.actor.GetMapper().SetInputConnection(self._colours.GetOutputPort())
        self.actor.GetProperty().SetInterpolationTypeToLinear()
        self.actor.VisibilityOff()
        renderer.AddActor(self.actor)
        self._volume: Volume | None = None
        self.style = OverlayStyle()

    @property
    def volume(self) -> Volume | None:
        return self._volume

    def set_volume(self, volume: Volume | None, style: OverlayStyle | None = None) -> None:
        """Show ``volume`` (None hides the layer) with ``style``."""
        self._volume = volume
        if style is not None:
            self.set_style(style)
        if volume is None:
            self.actor.VisibilityOff()
            return
        self._reslice.SetInputData(volume_to_vtk_image(volume))
        self.actor.VisibilityOn()

    def set_style(self, style: OverlayStyle) -> None:
        self.style = style
        magnitude = style.signed_map and style.sign == "absolute"
        source = self._magnitude if magnitude else self._reslice
        self._colours.SetInputConnection(source.GetOutputPort())
        low, high = style.shown_range
        self._table.SetTableRange(low, high if high > low else low + 1e-6)
        for index, rgba in enumerate(colour_table(style)):
            self._table.SetTableValue(index, *(float(v) for v in rgba))
        self._table.SetBelowRangeColor(0.0, 0.0, 0.0, 0.0)
        self._table.UseBelowRangeColorOn()
        self._table.Modified()

    def set_output(self, spacing: float, origin: tuple[float, float], size: tuple[int, int]):
        """The same output grid as the view's grey-image reslice."""
        self._reslice.SetOutputSpacing(spacing, spacing, 1.0)
        self._reslice.SetOutputOrigin(origin[0], origin[1], 0.0)
        self._reslice.SetOutputExtent(0, size[0] - 1, 0, size[1] - 1, 0, 0)

    def set_axes(self, axes: np.ndarray) -> None:
        """The view's reslice axes (columns right, down, normal, plane point)."""
        matrix = vtkMatrix4x4()
        matrix.DeepCopy(np.asarray(axes, float).ravel())
        self._reslice.SetResliceAxes(matrix)
        lifted = np.array(axes, float)
        lifted[:3, 3] -= lifted[:3, 2] * _LIFT_MM  # the camera looks along +normal
        shown = vtkMatrix4x4()
        shown.DeepCopy(lifted.ravel())
        self.actor.SetUserMatrix(shown)

    def remove(self) -> None:
        self._renderer.RemoveActor(self.actor)
        self._volume = None
