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


def test_preview_is_the_middle_slice_at_its_place_before_the_whole_series(tmp_path, database):
    from medview.model.opening import PREVIEW_MIN_SLICES

    count = PREVIEW_MIN_SLICES + 8
    write_series(tmp_path / "long", [(0.0, 0.0, 2.0 * z) for z in range(count)])
    write_series(tmp_path / "short", [(0.0, 0.0, 2.0 * z) for z in range(4)])
    summary = import_paths([tmp_path], database, workers=1)
    long_uid = main_series_uid(summary.headers)
    previews = []
    volume = open_series(database, long_uid, workers=1, preview=previews.append)
    (preview,) = previews
    middle = count // 2
    assert preview.shape[0] == 1 and volume.shape[0] == count
    assert preview.origin == pytest.approx(volume.index_to_lps((0, 0, middle)))
    assert (preview.array[0] == volume.array[middle]).all()
    # A short series loads whole about as fast: no preview.
    (short_uid,) = {h.series_uid for h in summary.headers} - {long_uid}
    previews.clear()
    open_series(database, short_uid, workers=1, preview=previews.append)
    assert previews == []
