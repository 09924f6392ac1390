"""Opening one series of the local database (Qt-free; the GUI calls it on a worker thread)."""

from __future__ import annotations

import pytest

from medview.core.errors import NoDicomFoundError
from medview.core.paths import app_dirs
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.model.opening import main_series_uid, open_series

from dicom_factory import write_series


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


def test_open_series_loads_the_series_asked_for(tmp_path, database):
    write_series(tmp_path / "big", [(0.0, 0.0, float(z)) for z in range(6)])
    write_series(tmp_path / "small", [(0.0, 0.0, float(z)) for z in range(2)])
    summary = import_paths([tmp_path], database, workers=1)
    big = main_series_uid(summary.headers)
    uids = {h.series_uid for h in summary.headers}
    (small,) = uids - {big}
    assert open_series(database, big, workers=1).shape[0] == 6
    volume = open_series(database, small, workers=1)
    assert volume.shape[0] == 2 and volume.meta.series_uid == small


def test_unknown_or_vanished_series_is_one_clear_error(tmp_path, database):
    with pytest.raises(NoDicomFoundError, match="not in the local database"):
        open_series(database, "1.2.3")
    write_series(tmp_path / "gone", [(0.0, 0.0, float(z)) for z in range(3)])
    summary = import_paths([tmp_path], database, workers=1)
    for path in (tmp_path / "gone").iterdir():
        path.unlink()
    with pytest.raises(NoDicomFoundError, match="import them again"):
        open_series(database, main_series_uid(summary.headers))
