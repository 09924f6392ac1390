"""Python's cycle collector, run on a timer on the GUI thread instead of at random moments.

A garbage-collected cycle that holds a Qt widget destroys its native window wherever the
collector happens to run: inside Qt's X event dispatch that crashed Shiboken (it looked up a
Python override on the half-freed wrapper; found with gdb in the GUI tests). pyqtgraph ships
the same remedy: automatic collection off, ``gc.collect()`` from a QTimer on the GUI thread,
where the event loop is between events.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the cycle collector runs (ms); cheap: generation 0 most of the time.
COLLECT_INTERVAL_MS = 2000


class QtIdleCollector(QObject):
    """Disable automatic collection while alive; collect from the event loop instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = COLLECT_INTERVAL_MS):
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect)
        self._timer.start(interval_ms)
        self._ticks = 0

    def collect(self) -> None:
        """Collect the young generations each tick, everything every tenth tick."""
        self._ticks += 1
        gc.collect(2 if self._ticks % 10 == 0 else 0)

    def stop(self) -> None:
        """Stop the timer and give automatic collection back."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
