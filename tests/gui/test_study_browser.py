"""The study browser and the cancellable import (issue 3, "Main window")."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl

from medview.core.paths import app_dirs
from medview.dicom import scan as scan_module
from medview.dicom.demo import write_demo_study
from medview.dicom.importer import ImportSummary, import_paths
from medview.dicom.index import StudyDatabase
from medview.model.thumbnails import cache_path
from medview.view.import_controller import QtImportController, QtImportProgress, paths_from_mime
from medview.view.study_browser import (
    KIND_ROLE,
    SERIES_MIME_TYPE,
    UID_ROLE,
    QtStudyBrowser,
    series_uids_from_mime,
)

pytestmark = pytest.mark.gui

JP_NAME = "Yamada^Tarou=山田^太郎=やまだ^たろう"
JP_ID = "JP-7"


def write_mr_series(folder: Path, count: int = 4) -> str:
    """A small MR series for a patient with an ideographic name (UTF-8, ISO_IR 192)."""
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    for index in range(count):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = JP_NAME
        ds.PatientID = JP_ID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "MR"
        ds.StudyDate = "20250704"
        ds.AccessionNumber = "ACC-JP-1"
        ds.StudyDescription = "Brain MR"
        ds.SeriesDescription = "T1 axial"
        ds.SeriesNumber = 3
        ds.InstanceNumber = index + 1
        ds.ImagePositionPatient = [0.0, 0.0, 5.0 * index]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.SliceThickness = 5.0
        ds.Rows = ds.Columns = 16
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = (np.arange(256, dtype=np.uint16).reshape(16, 16) * (index + 1)).tobytes()
        folder.mkdir(parents=True, exist_ok=True)
        ds.save_as(folder / f"mr{index:03d}.dcm", enforce_file_format=True)
    return series_uid


@pytest.fixture(scope="module")
def source_studies(tmp_path_factory):
    """Two demo CT patients (24 slices each) and one MR patient with a Japanese name."""
    root = tmp_path_factory.mktemp("studies")
    demo_a = write_demo_study(root / "demo-1", seed=1, size=48, slices=24)
    demo_b = write_demo_study(root / "demo-2", seed=2, size=48, slices=24)
    mr_uid = write_mr_series(root / "mr")
    return {
        "folders": [root / "demo-1", root / "demo-2", root / "mr"],
        "ct_uids": [demo_a.series_uid, demo_b.series_uid],
        "mr_uid": mr_uid,
    }


@pytest.fixture(scope="module")
def big_series(tmp_path_factory):
    """A 300-slice CT series (32x32 pixels) for the import tests."""
    folder = tmp_path_factory.mktemp("big") / "ct300"
    write_demo_study(folder, seed=5, size=32, slices=300)
    return folder


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


@pytest.fixture
def filled_database(database, source_studies):
    import_paths(source_studies["folders"], database, workers=1)
    return database


def make_browser(qtbot, database, **kwargs) -> QtStudyBrowser:
    browser = QtStudyBrowser(database, **kwargs)
    qtbot.addWidget(browser)
    browser.resize(700, 500)
    browser.show()
    qtbot.waitUntil(lambda: browser.model.rowCount() > 0 or not database.counts()["series"])
    return browser


@pytest.fixture
def browser_factory(qtbot):
    made: list[QtStudyBrowser] = []

    def make(database, **kwargs) -> QtStudyBrowser:
        browser = make_browser(qtbot, database, **kwargs)
        made.append(browser)
        return browser

    yield make
    for browser in made:
        browser.shutdown()


def top_level(browser: QtStudyBrowser) -> list[str]:
    model = browser.model
    return [str(model.index(row, 0).data(UID_ROLE)) for row in range(model.rowCount())]


def row_texts(browser: QtStudyBrowser, index) -> list[str]:
    model = browser.model
    return [str(model.index(index.row(), c, index.parent()).data() or "") for c in range(4)]


# -- the tree --------------------------------------------------------------------------------
def test_tree_shows_patients_studies_series_and_counts(
    browser_factory, filled_database, source_studies
):
    browser = browser_factory(filled_database)
    model = browser.model
    assert model.rowCount() == 3
    assert sorted(top_level(browser)) == sorted([JP_ID, "MEDVIEW-DEMO-1", "MEDVIEW-DEMO-2"])
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(4)] == [
        "Name / description",
        "Date",
        "Modality",
        "Instances",
    ]
    patients = {str(model.index(r, 0).data(UID_ROLE)): model.index(r, 0) for r in range(3)}
    # The Japanese patient: readable name with the ideographic group, one study, one series.
    jp = patients[JP_ID]
    assert row_texts(browser, jp) == ["Yamada, Tarou (山田 太郎) — ID JP-7", "", "MR", "4"]
    assert model.rowCount(jp) == 1
    study = model.index(0, 0, jp)
    assert study.data(KIND_ROLE) == "study"
    assert row_texts(browser, study) == ["Brain MR", "2025-07-04", "MR", "4"]
    series = model.index(0, 0, study)
    assert series.data(KIND_ROLE) == "series"
    assert series.data(UID_ROLE) == source_studies["mr_uid"]
    assert row_texts(browser, series) == ["3: T1 axial", "", "MR", "4"]
    # Each demo patient: one CT study, one 24-slice series.
    for seed, uid in zip((1, 2), source_studies["ct_uids"], strict=True):
        patient = patients[f"MEDVIEW-DEMO-{seed}"]
        assert row_texts(browser, patient)[0] == f"Demo, Phantom — ID MEDVIEW-DEMO-{seed}"
        assert row_texts(browser, patient)[3] == "24"
        study = model.index(0, 0, patient)
        assert model.rowCount(study) == 1
        series = model.index(0, 0, study)
        assert series.data(UID_ROLE) == uid
        assert row_texts(browser, series)[2:] == ["CT", "24"]
    assert sorted(browser.shown_series()) == sorted(
        [*source_studies["ct_uids"], source_studies["mr_uid"]]
    )
    # CJK text paints (with or without a CJK font installed).
    assert not browser.grab().isNull()


def test_refresh_picks_up_new_imports(qtbot, browser_factory, database, source_studies):
    browser = browser_factory(database)
    assert browser.model.rowCount() == 0
    import_paths([source_studies["folders"][2]], database, workers=1)
    with qtbot.waitSignal(browser.refreshed, timeout=3000):
        browser.refresh()
        # The query runs on a worker thread: the GUI thread has not waited for it.
        assert browser.model.rowCount() == 0
    assert top_level(browser) == [JP_ID]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yamada", [JP_ID]),
        ("MEDVIEW-DEMO-2", ["MEDVIEW-DEMO-2"]),
        ("MR", [JP_ID]),
        ("CT", ["MEDVIEW-DEMO-1", "MEDVIEW-DEMO-2"]),
        ("ACC-JP", [JP_ID]),
        ("20250704", [JP_ID]),
        ("no such patient", []),
    ],
)
def test_search_narrows_rows(qtbot, browser_factory, filled_database, text, expected):
    browser = browser_factory(filled_database)
    assert browser.model.rowCount() == 3
    with qtbot.waitSignal(browser.refreshed, timeout=3000):
        qtbot.keyClicks(browser.search_edit, text)
    assert sorted(top_level(browser)) == sorted(expected)
    with qtbot.waitSignal(browser.refreshed, timeout=3000):
        browser.search_edit.clear()
    assert browser.model.rowCount() == 3


def test_search_is_debounced(qtbot, browser_factory, filled_database):
    browser = browser_factory(filled_database)
    refreshes = []
    browser.refreshed.connect(lambda: refreshes.append(browser.search_edit.text()))
    qtbot.keyClicks(browser.search_edit, "Yam")
    qtbot.waitUntil(lambda: bool(refreshes), timeout=3000)
    qtbot.wait(300)
    # Three keystrokes, one query: with the whole word typed.
    assert refreshes == ["Yam"]


# -- thumbnails ------------------------------------------------------------------------------
def test_thumbnails_arrive_from_a_worker_thread(qtbot, browser_factory, filled_database):
    threads = []
    release = threading.Event()

    def slow_thumbnail(paths, series_uid):
        threads.append(threading.current_thread())
        release.wait(5)
        return np.full((96, 96), 200, np.uint8)

    browser = browser_factory(filled_database, thumbnail_function=slow_thumbnail)
    # The tree is there while the thumbnails are still being made: nothing waited for them.
    uids = browser.shown_series()
    assert len(uids) == 3
    assert all(browser.series_item(uid).icon().isNull() for uid in uids)
    release.set()
    qtbot.waitUntil(
        lambda: all(not browser.series_item(uid).icon().isNull() for uid in uids), timeout=5000
    )
    assert threads and threading.main_thread() not in threads
    # Patients and studies get no icon.
    assert browser.model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is None


def test_real_thumbnails_are_cached_on_disk(qtbot, browser_factory, filled_database):
    browser = browser_factory(filled_database)
    uids = browser.shown_series()
    qtbot.waitUntil(
        lambda: all(not browser.series_item(uid).icon().isNull() for uid in uids), timeout=10000
    )
    for uid in uids:
        cached = cache_path(uid, 96)
        assert cached.is_file()
        assert str(cached).startswith(str(app_dirs().cache / "thumbnails"))
        assert uid not in cached.name  # hashed, never the raw UID
        image = np.load(cached)
        assert image.shape == (96, 96) and image.dtype == np.uint8 and image.max() > 0


def test_broken_series_costs_only_its_thumbnail(
    qtbot, browser_factory, filled_database, source_studies
):
    mr_uid = source_studies["mr_uid"]

    def flaky(paths, series_uid):
        if series_uid == mr_uid:
            raise OSError("unreadable")
        return np.zeros((8, 8, 3), np.uint8)

    browser = browser_factory(filled_database, thumbnail_function=flaky)

    def with_icons():
        return {
            uid for uid in browser.shown_series() if not browser.series_item(uid).icon().isNull()
        }

    qtbot.waitUntil(lambda: with_icons() == set(source_studies["ct_uids"]), timeout=5000)
    qtbot.wait(100)
    assert with_icons() == set(source_studies["ct_uids"])


# -- interaction -----------------------------------------------------------------------------
def test_double_click_and_enter_emit_the_series_uid(
    qtbot, browser_factory, filled_database, source_studies
):
    browser = browser_factory(filled_database)
    uid = source_studies["mr_uid"]
    assert browser.select_series(uid)
    index = browser.series_item(uid).index()
    tree = browser.tree_view
    rect = tree.visualRect(index)
    assert rect.isValid()
    with qtbot.waitSignal(browser.series_activated, timeout=2000) as blocker:
        # QTest's double-click on a widget sends no press first; item views need one.
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [uid]
    tree.setFocus()
    with qtbot.waitSignal(browser.series_activated, timeout=2000) as blocker:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert blocker.args == [uid]


def test_activating_a_patient_row_emits_nothing(qtbot, browser_factory, filled_database):
    browser = browser_factory(filled_database)
    activated = []
    browser.series_activated.connect(activated.append)
    tree = browser.tree_view
    tree.setCurrentIndex(browser.model.index(0, 0))
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert activated == []


def test_selection_changed_reports_series_or_nothing(
    qtbot, browser_factory, filled_database, source_studies
):
    browser = browser_factory(filled_database)
    uid = source_studies["ct_uids"][1]
    with qtbot.waitSignal(browser.selection_changed, timeout=2000) as blocker:
        browser.select_series(uid)
    assert blocker.args == [uid]
    assert browser.selected_series_uid() == uid
    with qtbot.waitSignal(browser.selection_changed, timeout=2000) as blocker:
        browser.tree_view.setCurrentIndex(browser.model.index(0, 0))
    assert blocker.args == [""]


def test_selection_survives_refresh(qtbot, browser_factory, filled_database, source_studies):
    browser = browser_factory(filled_database)
    uid = source_studies["mr_uid"]
    browser.select_series(uid)
    changes = []
    browser.selection_changed.connect(changes.append)
    with qtbot.waitSignal(browser.refreshed, timeout=3000):
        browser.refresh()
    assert browser.selected_series_uid() == uid
    assert changes == []


def test_dragging_a_series_carries_its_uid(browser_factory, filled_database, source_studies):
    browser = browser_factory(filled_database)
    uid = source_studies["ct_uids"][0]
    item = browser.series_item(uid)
    index = item.index()
    row = [index.sibling(index.row(), c) for c in range(4)]
    assert item.flags() & Qt.ItemFlag.ItemIsDragEnabled
    mime = browser.model.mimeData(row)
    assert SERIES_MIME_TYPE in mime.formats()
    assert bytes(mime.data(SERIES_MIME_TYPE).data()).decode() == uid
    assert series_uids_from_mime(mime) == [uid]
    # Patients and studies are not dragged as series.
    patient = browser.model.index(0, 0)
    assert not browser.model.itemFromIndex(patient).flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert series_uids_from_mime(browser.model.mimeData([patient])) == []
    assert SERIES_MIME_TYPE in browser.model.mimeTypes()
    assert browser.tree_view.dragEnabled()


def test_paths_from_mime_keeps_local_files_only(tmp_path):
    mime = QMimeData()
    mime.setUrls(
        [
            QUrl.fromLocalFile(str(tmp_path / "a")),
            QUrl("https://example.org/b.dcm"),
            QUrl.fromLocalFile(str(tmp_path / "a")),
            QUrl.fromLocalFile(str(tmp_path / "dir with space")),
        ]
    )
    assert paths_from_mime(mime) == [tmp_path / "a", tmp_path / "dir with space"]
    text_only = QMimeData()
    text_only.setText("/etc/passwd")
    assert paths_from_mime(text_only) == []
    assert paths_from_mime(None) == []


# -- import ----------------------------------------------------------------------------------
def run_import(qtbot, controller: QtImportController, paths, timeout=60000):
    events: list[tuple] = []
    controller.progress.connect(lambda p, t: events.append(("progress", p, t)))
    controller.finished.connect(lambda s: events.append(("finished", s)))
    controller.failed.connect(lambda m: events.append(("failed", m)))
    controller.cancelled.connect(lambda: events.append(("cancelled",)))
    controller.start(paths)
    qtbot.waitUntil(lambda: not controller.is_running, timeout=timeout)
    return events


def test_import_300_files_reports_progress_and_counts(qtbot, database, big_series):
    controller = QtImportController(database)
    widget = QtImportProgress(controller)
    qtbot.addWidget(widget)
    events = run_import(qtbot, controller, [big_series])
    percents = [e[1] for e in events if e[0] == "progress"]
    assert percents[0] == 0 and percents[-1] == 100
    assert percents == sorted(set(percents)) and len(percents) >= 3
    assert events[-1][0] == "finished"
    summary = events[-1][1]
    assert isinstance(summary, ImportSummary)
    assert summary.instances_added == 300 and summary.series == 1 and not summary.errors
    assert database.counts() == {"patients": 1, "studies": 1, "series": 1, "instances": 300}
    assert widget.bar.value() == 100
    assert "300" in widget.label.text()
    assert not widget.cancel_button.isEnabled()
    # One import at a time.
    controller.start([big_series])
    with pytest.raises(RuntimeError):
        controller.start([big_series])
    qtbot.waitUntil(lambda: not controller.is_running, timeout=60000)
    controller.shutdown()


def test_cancel_mid_import_leaves_the_database_as_it_was(qtbot, database, big_series, monkeypatch):
    # Hold the header reader after its first chunk until the user has pressed Cancel, so
    # the test does not race the import (the cancel check runs between chunks).
    pressed = threading.Event()
    real_read_chunk = scan_module._read_chunk
    chunks = []

    def gated_read_chunk(paths):
        if chunks:
            pressed.wait(10)
        chunks.append(len(paths))
        return real_read_chunk(paths)

    monkeypatch.setattr(scan_module, "_read_chunk", gated_read_chunk)
    controller = QtImportController(database, workers=1)
    widget = QtImportProgress(controller)
    qtbot.addWidget(widget)

    def on_progress(percent, _text):
        if 0 < percent < 90 and not pressed.is_set():
            qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
            pressed.set()

    controller.progress.connect(on_progress)
    events = run_import(qtbot, controller, [big_series])
    assert pressed.is_set()
    assert events[-1] == ("cancelled",)
    assert not any(e[0] in ("finished", "failed") for e in events)
    assert len(chunks) < 3  # stopped before reading every chunk
    assert database.counts() == {"patients": 0, "studies": 0, "series": 0, "instances": 0}
    assert "cancelled" in widget.label.text().lower()
    # The database is still usable: the same folder imports completely afterwards.
    monkeypatch.setattr(scan_module, "_read_chunk", real_read_chunk)
    events = run_import(qtbot, controller, [big_series])
    assert events[-1][0] == "finished" and events[-1][1].instances_added == 300
    assert database.counts()["instances"] == 300
    controller.shutdown()


def test_cancel_right_after_start(qtbot, database, big_series):
    controller = QtImportController(database)
    controller.start([big_series])
    controller.cancel()
    with qtbot.waitSignal(controller.cancelled, timeout=30000):
        pass
    assert database.counts()["instances"] == 0
    controller.shutdown()


def test_import_failure_is_one_sentence(qtbot, database, tmp_path):
    controller = QtImportController(database)
    events = run_import(qtbot, controller, [tmp_path / "missing"])
    assert events[-1][0] == "failed"
    assert "no such file or folder" in events[-1][1]
    controller.shutdown()


def test_gui_stays_responsive_while_importing_300_slices(qtbot, database, big_series, capsys):
    controller = QtImportController(database)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(50)  # let the timer settle
    start = time.perf_counter()
    with qtbot.waitSignal(controller.finished, timeout=60000):
        controller.start([big_series])
    end = time.perf_counter()
    qtbot.wait(20)
    timer.stop()
    during = [t for t in ticks if start - 0.02 <= t <= end + 0.02]
    assert len(during) >= 2
    gaps = np.diff(during)
    max_gap_ms = float(gaps.max()) * 1000
    with capsys.disabled():
        print(
            f"\nimport of 300 slices: {end - start:.2f} s, {len(during)} timer ticks, "
            f"event-loop max gap {max_gap_ms:.1f} ms, median {np.median(gaps) * 1000:.1f} ms"
        )
    assert max_gap_ms < 100
    assert database.counts()["instances"] == 300
    controller.shutdown()
