"""``medview self-test --gui``: the main window opens, draws the demo and closes.

VTK needs an OpenGL context, which Qt's offscreen platform cannot give it
(ARCHITECTURE.md, tests), so this needs an X server: a desktop session, or ``xvfb-run -a``
on a headless machine. Without one the step fails with that sentence instead of letting Qt
abort the process.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from medview.core.errors import MedviewError


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise MedviewError("no display: run it under `xvfb-run -a` on a machine without one")


def open_main_window(volume, timeout_s: float = 60.0) -> str:
    """Show ``volume`` in a new main window, check each view drew pixels, close it."""
    if volume is None:
        raise MedviewError("no volume was loaded")
    _check_display()
    from PySide6.QtWidgets import QApplication

    from medview.app.main_window import QtMainWindow

    app = QApplication.instance() or QApplication([])
    window = QtMainWindow()
    try:
        window.resize(1000, 700)
        window.show()
        app.processEvents()
        window.show_volume(volume)
        deadline = time.monotonic() + timeout_s
        volume_view = window.mpr.volume_view
        while volume_view.isVisible() and not volume_view.is_ready:
            if time.monotonic() > deadline:
                raise MedviewError(f"the 3D view was not ready after {timeout_s:.0f} s")
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()
        mpr = window.mpr
        drawn = []
        for name in mpr.state.visible_views():
            pixels = np.asarray(mpr.widget_for(name).grab_rgb())
            # A view that failed to render is one flat colour (black or the background).
            if pixels.size == 0 or float(pixels.std()) < 1.0:
                raise MedviewError(f"the {name} view drew nothing")
            drawn.append(f"{name} {pixels.shape[1]}x{pixels.shape[0]}")
        return f"main window drew {', '.join(drawn)} ({app.platformName()})"
    finally:
        window.close()
        app.processEvents()
