"""Small display helpers of the slice view: grey lookup table, pointer text, PNG output.

Kept apart from :mod:`medview.view.slice_view` so that module stays one concept (the view's
geometry, camera and events) and under the project's size limit. GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkIOImage import vtkPNGWriter
from vtkmodules.vtkRenderingCore import vtkWindowToImageFilter

from medview.imaging.volume import Volume


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtSliceView", text)


def grey_lookup_table(inverted: bool) -> vtkLookupTable:
    """A linear grey ramp, white-to-black when ``inverted``."""
    table = vtkLookupTable()
    table.SetNumberOfTableValues(256)
    table.SetHueRange(0.0, 0.0)
    table.SetSaturationRange(0.0, 0.0)
    # MONOCHROME1 (PS3.3 C.7.6.3.1.2): minimum value is white.
    table.SetValueRange((1.0, 0.0) if inverted else (0.0, 1.0))
    table.SetRampToLinear()
    table.Build()
    return table


def pointer_text(volume: Volume, lps: np.ndarray, value: float | tuple[float, ...]) -> str:
    """ "(x, y, z) mm LPS: value units" for the corner text under the pointer."""
    units = f" {volume.meta.units}" if volume.meta.units else ""
    if isinstance(value, tuple):
        shown = "(" + ", ".join(f"{v:g}" for v in value) + ")"
    else:
        shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    where = ", ".join(f"{v:.1f}" for v in lps)
    return _tr("({where}) mm LPS: {value}{units}").format(where=where, value=shown, units=units)


def write_png(render_window, path: str | Path) -> Path:
    """Render ``render_window`` and save it as a PNG file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    render_window.Render()
    grabber = vtkWindowToImageFilter()  # kept referenced: the writer does not own it
    grabber.SetInput(render_window)
    grabber.SetInputBufferTypeToRGB()
    grabber.ReadFrontBufferOff()
    grabber.Update()
    writer = vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputData(grabber.GetOutput())
    writer.Write()
    return path
