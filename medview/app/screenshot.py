"""Saving the main window as a PNG, VTK views included.

``QWidget.grab()`` renders the Qt widgets but not reliably the OpenGL content of the VTK views
(often black or stale). The screenshot is therefore composed: the Qt window is grabbed, then
each visible VTK view is rendered and read back with ``vtkWindowToImageFilter`` and painted at
its place in the window.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QWidget


def _qimage(rgb: np.ndarray) -> QImage:
    height, width, _ = rgb.shape
    data = np.ascontiguousarray(rgb)
    # copy(): the QImage must not outlive the numpy buffer it points into.
    return QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def compose_window_image(window: QWidget, vtk_views: list) -> QImage:
    """The window as an image, each VTK view pasted from its own render window.

    Parameters
    ----------
    window
        The top-level widget to capture.
    vtk_views
        Visible views with ``grab_rgb()`` and ``vtk_widget`` (slice views, the 3D view).
    """
    QApplication.processEvents()
    image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ratio = image.width() / max(window.width(), 1)
    painter = QPainter(image)
    try:
        for view in vtk_views:
            if not view.isVisible():
                continue
            widget = view.vtk_widget
            top_left = widget.mapTo(window, QPoint(0, 0))
            target = QRect(
                round(top_left.x() * ratio),
                round(top_left.y() * ratio),
                round(widget.width() * ratio),
                round(widget.height() * ratio),
            )
            painter.drawImage(target, _qimage(view.grab_rgb()))
    finally:
        painter.end()
    return image


def save_window_png(window: QWidget, vtk_views: list, path: str | Path) -> Path:
    """Compose the window image (see :func:`compose_window_image`) and save it as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image = compose_window_image(window, vtk_views)
    # Written next to the target then renamed, so a half-written PNG is never left behind.
    partial = path.with_name(path.name + ".partial.png")
    if not image.save(str(partial), "PNG"):
        raise OSError(f"could not write {path}")
    partial.replace(path)
    return path
