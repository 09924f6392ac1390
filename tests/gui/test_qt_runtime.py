"""Checks on the installed Qt binding that medview's stability depends on."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.gui


def test_signal_emit_keeps_reference_counts(qapp):
    """PySide6 6.12.0 returned a borrowed True from emit(): each emit from Python lowered
    True's reference count, and a long session crashed with 'bool_dealloc' (Python < 3.12).
    pyproject.toml excludes that release; this fails if such a build is installed."""
    from PySide6.QtCore import QObject, Signal

    class Emitter(QObject):
        ping = Signal()

    emitter = Emitter()
    before = sys.getrefcount(True)
    for _ in range(50):
        emitter.ping.emit()
    assert sys.getrefcount(True) >= before
