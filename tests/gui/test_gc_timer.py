"""The cycle collector runs from the event loop, not at random allocations (startup.py)."""

from __future__ import annotations

import gc
import weakref

import pytest

from medview.view.gc_timer import QtIdleCollector

pytestmark = pytest.mark.gui


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_by_the_timer_and_collection_is_given_back(qtbot):
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        collector = QtIdleCollector(interval_ms=20)
        assert not gc.isenabled()
        cycle = _Cycle()
        ref = weakref.ref(cycle)
        del cycle
        assert ref() is not None  # nothing collects it but the timer
        qtbot.waitUntil(lambda: ref() is None, timeout=2000)
        collector.stop()
        assert gc.isenabled()
    finally:
        (gc.enable if was_enabled else gc.disable)()
