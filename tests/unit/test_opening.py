"""Opening studies for the viewer (Qt-free): user paths, and the demo on first start."""

from __future__ import annotations

import json

import numpy as np

from medview.core.paths import app_dirs
from medview.dicom.index import StudyDatabase
from medview.model.opening import ensure_demo_study, open_for_viewer

from dicom_factory import write_series


def test_open_paths_imports_and_loads_the_biggest_volume(tmp_path):
    write_series(tmp_path / "big", [(0.0, 0.0, float(z)) for z in range(6)])
    write_series(tmp_path / "small", [(0.0, 0.0, float(z)) for z in range(2)])
    volume = open_for_viewer([tmp_path])
    assert volume.shape[0] == 6
    with StudyDatabase(app_dirs().database) as database:
        assert database.counts()["series"] == 2


def test_demo_is_generated_once_and_reused():
    dirs = app_dirs().ensure()
    messages: list[str] = []
    folder = ensure_demo_study(dirs, messages.append, size=48, slices=24)
    truth = json.loads((folder / "truth.json").read_text())
    stamp = (folder / "truth.json").stat().st_mtime_ns
    assert messages and "demo" in messages[0].lower()
    again = ensure_demo_study(dirs, messages.append, size=48, slices=24)
    assert again == folder and (folder / "truth.json").stat().st_mtime_ns == stamp
    assert len(messages) == 1
    assert truth["nodules"]
    volume = open_for_viewer([folder])
    assert volume.shape == (24, 48, 48) and volume.meta.units == "HU"
    assert np.issubdtype(volume.array.dtype, np.integer)
