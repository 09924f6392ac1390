"""AI panel › Save as DICOM… (issue 6): a derived volume written as a series, then imported.

A purpose-built plugin doubles the slices of the series on screen (a stand-in for
super-resolution); the real writer writes it; the files are read back with pydicom and with
medview's own loader, and, with a study database, found in the database next to the original.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pydicom
import pytest

from medview.ai.audit import AuditLog
from medview.ai.jobs import JobState
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.app.main_window import QtMainWindow
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

pytestmark = pytest.mark.gui

STUDY_UID = "1.2.826.0.1.3680043.9.7001"
SERIES_UID = "1.2.826.0.1.3680043.9.7002"
FRAME_UID = "1.2.826.0.1.3680043.9.7003"

PLUGIN_CODE = '''
import numpy as np

from medview.ai.api import Result


class Derives:
    """Twice the slices at half the spacing: what a z super-resolution model returns."""

    def prepare(self, ctx):
        pass

    def run(self, volume, params, ctx):
        finer = np.repeat(volume.array, 2, axis=0)
        spacing = (volume.spacing[0], volume.spacing[1], volume.spacing[2] / 2)
        meta = volume.meta.__class__(modality="CT", units="HU", derived=True,
                                     derivation="fake thin slices",
                                     series_description="thin slices")
        derived = volume.__class__(finer, spacing, volume.origin, volume.direction, meta)
        return Result(volumes=(derived,))

    def release(self):
        pass
'''

MANIFEST = """
[plugin]
id = "test.derives"
name = "Fake thin slices"
version = "0.1.0"
api_version = "1.0"
kind = "enhancement"
factory = "plugin:Derives"
outputs = ["volumes"]
license = "MIT"
intended_use = "Tests only."
not_for_diagnostic_use = true

[applies_to]
modalities = ["CT"]
min_slices = 4

[runtime]
devices = ["cpu"]
"""


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-plugins")
    folder = root / "test.derives"
    folder.mkdir()
    (folder / "plugin.py").write_text(PLUGIN_CODE, encoding="utf-8")
    (folder / "plugin.toml").write_text(textwrap.dedent(MANIFEST), encoding="utf-8")
    return root


def _make_window(qtbot, plugin_root, tmp_path, database=None) -> QtMainWindow:
    registry = PluginRegistry(
        discover(bundled=False, user=False, entry_points=False, extra=[plugin_root])
    )
    runner = Runner(registry, audit=AuditLog(tmp_path / "audit.jsonl"), cpu_workers=1)
    window = QtMainWindow(runner=runner, database=database)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    window.ai.dock.show()
    return window


@pytest.fixture
def window(qtbot, plugin_root, phantom, tmp_path):
    window = _make_window(qtbot, plugin_root, tmp_path)
    window.show_volume(
        phantom.make(
            shape_zyx=(8, 32, 32),
            study_uid=STUDY_UID,
            series_uid=SERIES_UID,
            frame_of_reference_uid=FRAME_UID,
            patient_name="Export^Test",
            patient_id="EXP1",
        )
    )
    return window


def _derive(qtbot, window):
    """Run the plugin on the series on screen; the derived volume it returned."""
    panel = window.ai.panel
    panel.select_plugin("test.derives")
    job = panel.run()
    assert job is not None, panel.status_text
    qtbot.waitUntil(lambda: job.state in (JobState.SUCCEEDED, JobState.FAILED), timeout=20000)
    assert job.state is JobState.SUCCEEDED, job.error
    qtbot.waitUntil(lambda: panel._derived_choice.count() == 1)
    (derived,) = job.result.volumes
    return derived


def _save_into(qtbot, window, folder, signal_name="saved"):
    export = window.ai.export
    asked = []
    export.choose_folder = lambda start: asked.append(start) or str(folder)
    with qtbot.waitSignal(getattr(export, signal_name), timeout=30000) as blocker:
        window.ai.panel._save_button.click()
        # The click returned before the series was written: the write runs on a worker.
        assert export.busy
    assert asked and not export.busy
    return blocker.args[0]


def _load_back(folder):
    scan = scan_paths([folder], workers=1)
    (group,) = group_series(scan.headers)
    return load_candidate(group.candidates[0], workers=1)


def test_save_is_disabled_until_a_derived_volume_exists(qtbot, window):
    button = window.ai.panel._save_button
    assert button.text() == "Save as DICOM…"
    assert not button.isEnabled()
    _derive(qtbot, window)
    assert button.isEnabled()


def test_saving_writes_a_derived_series_in_the_source_patient_space(qtbot, window, tmp_path):
    derived = _derive(qtbot, window)
    original = window.mpr.volume
    assert window.ai.panel.derived_source(derived) is original
    out = tmp_path / "export" / "thin"
    series = _save_into(qtbot, window, out)
    files = sorted(out.glob("*.dcm"))
    assert len(files) == derived.shape[0] == 16
    assert series.files == files
    datasets = [pydicom.dcmread(f) for f in files]
    for ds in datasets:
        assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
        assert ds.DerivationDescription == "fake thin slices"
        assert ds.SeriesInstanceUID == series.series_uid
        assert ds.StudyInstanceUID == STUDY_UID
        assert ds.FrameOfReferenceUID == FRAME_UID
        assert ds.PatientID == "EXP1"
    assert series.series_uid not in (SERIES_UID, "")
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    back = _load_back(out)
    assert back.shape == derived.shape
    np.testing.assert_allclose(back.affine, derived.affine, atol=1e-4)
    np.testing.assert_allclose(back.array, derived.array)
    message = window.statusBar().currentMessage()
    assert message.startswith("Saved the derived series (16 images)") and str(out) in message
    assert window.ai.panel.status_text == message
    # Nothing left beside the series (the staging folder was renamed into place).
    assert [p.name for p in out.parent.iterdir()] == ["thin"]


def test_with_a_database_the_saved_series_is_imported_beside_the_original(
    qtbot, plugin_root, tmp_path
):
    study = write_demo_study(tmp_path / "demo", seed=5, size=32, slices=8)
    with StudyDatabase(app_dirs().ensure().database) as database:
        window = _make_window(qtbot, plugin_root, tmp_path, database)
        with qtbot.waitSignal(window.volume_shown, timeout=60000):
            assert window.import_paths([study.directory], open_main=True)
        original = window.mpr.volume
        assert original.meta.study_uid == study.study_uid
        derived = _derive(qtbot, window)
        out = tmp_path / "derived"
        with qtbot.waitSignal(window.importer.finished, timeout=60000):
            series = _save_into(qtbot, window, out)
        (patient,) = database.tree()
        (found,) = patient["studies"]
        assert found["study_uid"] == study.study_uid
        by_uid = {s["series_uid"]: s for s in found["series"]}
        assert set(by_uid) == {original.meta.series_uid, series.series_uid}
        assert by_uid[series.series_uid]["instances"] == derived.shape[0]
        assert by_uid[series.series_uid]["description"] == "thin slices"
        assert sorted(database.series_paths(series.series_uid)) == [str(f) for f in series.files]
        qtbot.waitUntil(lambda: series.series_uid in window.browser.shown_series(), timeout=10000)
        window.close()


def test_a_folder_that_is_not_empty_gives_one_sentence_and_writes_nothing(qtbot, window, tmp_path):
    _derive(qtbot, window)
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    message = _save_into(qtbot, window, out, signal_name="failed")
    assert message.startswith("Could not save the derived series: ")
    assert "not an empty folder" in message and str(out) in message
    assert "\n" not in message and "Traceback" not in message
    assert window.statusBar().currentMessage() == message
    assert window.ai.panel.status_text == message
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []
