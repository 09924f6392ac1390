"""Shared fixtures for the GUI tests: asymmetric synthetic volumes.

MEDVIEW_HOME is isolated per test by the root conftest.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from medview.imaging.volume import Volume, VolumeMeta

#: LPS mm box of the bright blob: the patient's LEFT (+x) and ANTERIOR (-y) side.
BLOB_X = (10.0, 22.0)
BLOB_Y = (-22.0, -10.0)
BLOB_HU = 1000
BODY_HU = 40
AIR_HU = -1000

#: Directions to test (columns are the i, j, k axes in LPS).
DIRECTIONS = {
    "LPS": np.eye(3),
    # i runs to the patient's right: a naive index-space viewer would mirror the picture.
    "flip-i": np.diag([-1.0, 1.0, 1.0]),
    # i runs posterior, j left, k inferior: rows and columns swapped and slices reversed.
    "swap-ij-flip-k": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]),
}


def make_ct_volume(
    direction: np.ndarray | None = None,
    shape_zyx: tuple[int, int, int] = (40, 64, 64),
    spacing: tuple[float, float, float] = (0.8, 1.0, 2.5),
    **meta_changes,
) -> Volume:
    """A CT-like volume whose anatomy is defined in LPS, whatever the storage direction.

    The body is a 48 mm square of soft tissue centred on the LPS origin in x and y, with a
    1000 HU blob at the patient's left-anterior corner (see BLOB_X, BLOB_Y).
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, float)
    nk, nj, ni = shape_zyx
    size = np.array([ni, nj, nk], float)
    # Put the centre of the grid at the LPS origin so every direction covers the same box.
    half_extent = direction @ ((size - 1.0) / 2.0 * np.asarray(spacing))
    origin = -half_extent
    meta = VolumeMeta(modality="CT", units="HU", series_description="test phantom")
    probe = Volume(np.zeros(shape_zyx, np.int16), spacing, origin, direction, meta)
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    lps = probe.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3)).reshape(*shape_zyx, 3)
    x, y = lps[..., 0], lps[..., 1]
    array = np.full(shape_zyx, AIR_HU, np.int16)
    array[(np.abs(x) < 24.0) & (np.abs(y) < 24.0)] = BODY_HU
    blob = (x > BLOB_X[0]) & (x < BLOB_X[1]) & (y > BLOB_Y[0]) & (y < BLOB_Y[1])
    array[blob] = BLOB_HU
    if meta_changes:
        meta = replace(meta, **meta_changes)
    return Volume(array, spacing, origin, direction, meta)


@pytest.fixture
def phantom() -> SimpleNamespace:
    """The synthetic CT maker and the facts tests check against."""
    return SimpleNamespace(
        make=make_ct_volume,
        directions=DIRECTIONS,
        blob_xy=(sum(BLOB_X) / 2.0, sum(BLOB_Y) / 2.0),
        blob_hu=BLOB_HU,
        body_hu=BODY_HU,
        air_hu=AIR_HU,
    )


@pytest.fixture(scope="session", autouse=True)
def _collect_only_between_tests():
    """Python's cycle collector runs only between tests, as it does in the app (startup.py).

    Collected at a random allocation, a cycle holding a Qt widget tore down its native
    window in the middle of Qt's X event dispatch, and Shiboken crashed looking up a Python
    override on the half-freed wrapper (seen with gdb: BindingManager::getOverride from
    QXcbWindow::handleNativeEvent).
    """
    import gc

    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_released_windows(qapp):
    """After each test, run Qt's pending deletions and Python's cycle collector.

    Views a test dropped are then freed at once, GL context and all, instead of whenever the
    collector next runs: with many Mesa GL contexts alive, Mesa crashed intermittently in GLX
    window set-up late in the suite. Widgets still in use (module fixtures) are untouched.
    """
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
