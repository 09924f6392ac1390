"""Open a 300-slice CT from the local database in the main window: time to the first image
(the middle-slice preview) and to the whole series (issue 3, progressive loading; goal: first
image under 0.5 s).

Run with: ``.venv/bin/python -m pytest tests/benchmarks -m benchmark -s``. The files are read
warm (just written), as for a study opened again; the cold-read cost is in test_load_speed.py.
Prints figures, never asserts a timing.
"""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtWidgets import QApplication

from medview.app.main_window import QtMainWindow
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase

pytestmark = pytest.mark.benchmark

SIZE = 512
SLICES = int(os.environ.get("MEDVIEW_BENCH_SLICES", "300"))


def test_first_image_before_the_whole_series(qapp, tmp_path):
    study = write_demo_study(tmp_path / "ct", seed=5, size=SIZE, slices=SLICES)
    with StudyDatabase(app_dirs().ensure().database) as database:
        import_paths([study.directory], database)
        window = QtMainWindow(database=database)
        window.resize(1400, 900)
        window.show()
        QApplication.processEvents()
        times: dict[str, float] = {}
        window.preview_shown.connect(lambda _v: times.setdefault("preview", time.perf_counter()))
        window.volume_shown.connect(lambda _v: times.setdefault("volume", time.perf_counter()))
        start = time.perf_counter()
        window.open_series(study.series_uid)
        while "volume" not in times and time.perf_counter() - start < 120:
            QApplication.processEvents()
            time.sleep(0.001)
        window.close()
    first = times.get("preview", float("nan")) - start
    whole = times["volume"] - start
    print(
        f"\nopen a {SIZE}x{SIZE}x{SLICES} CT from the database in the main window (2x2): "
        f"first image {first * 1000:.0f} ms (middle slice), whole series {whole:.2f} s "
        f"({whole / first:.1f}x later)"
    )
    assert "preview" in times and times["preview"] <= times["volume"]
