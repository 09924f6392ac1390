"""Helpers shared by the GUI tests."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget


def shown(widget: QWidget, width: int, height: int) -> Iterator[QWidget]:
    """Yield ``widget`` resized, shown and exposed; close it afterwards.

    Module-scoped fixtures use it to share one widget per test module: every OpenGL context
    compiles its shaders again, which costs more than the tests on a software renderer.
    """
    widget.resize(width, height)
    widget.show()
    assert QTest.qWaitForWindowExposed(widget)
    yield widget
    widget.close()


def grey_at(view, lps) -> float:
    """Grey level (0-255) a slice view renders at the widget position of an LPS point."""
    point = view.world_to_widget(lps)
    rgb = view.grab_rgb()
    scale = rgb.shape[1] / view.vtk_widget.width()  # device pixels per widget pixel
    return float(rgb[round(point.y() * scale), round(point.x() * scale)].mean())
