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
