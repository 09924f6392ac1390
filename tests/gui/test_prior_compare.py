"""View › Compare with the selected series: a prior scan beside the current one.

The prior is the same synthetic patient scanned "a year earlier" lying elsewhere on the
table: every file of the demo series rewritten with its positions and orientation moved by
a rigid transform (3 degrees about the feet-head axis and 18 mm; a new study, frame of
reference and date). The nodule the reader looks at must then be on the slice the prior's
view shows, within a few millimetres, and the headers must say which scan is which.
"""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.app.main_window import QtMainWindow
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.imaging.planes import rotation_matrix
from medview.imaging.slab import Slab

pytestmark = pytest.mark.gui

ROTATION = rotation_matrix((0.0, 0.0, 1.0), 3.0)
SHIFT = np.array([12.0, -6.0, 12.0])


def _moved_prior(current_files, folder, study_date="20250502"):
    """The current series as a prior: positions and orientations through ROTATION, SHIFT."""
    folder.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for path in current_files:
        ds = pydicom.dcmread(path)
        row, column = np.reshape(np.asarray(ds.ImageOrientationPatient, float), (2, 3))
        position = np.asarray(ds.ImagePositionPatient, float)
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*ROTATION @ row, *ROTATION @ column)]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in ROTATION @ position + SHIFT]
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = frame
        ds.StudyDate = ds.SeriesDate = study_date
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / path.name, enforce_file_format=True)
    return series


def test_compare_with_a_prior_links_the_nodule_across_scans(qtbot, tmp_path):
    current = write_demo_study(tmp_path / "current", seed=5, size=128, slices=80)
    prior_series = _moved_prior(current.files, tmp_path / "prior")
    nodule = max(
        json.loads(current.truth_path.read_text())["nodules"], key=lambda n: n["diameter_mm"]
    )
    centre = np.asarray(nodule["center_lps"], float)

    with StudyDatabase(app_dirs().ensure().database) as database:
        window = QtMainWindow(database=database)
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        qtbot.waitExposed(window)
        with qtbot.waitSignal(window.volume_shown, timeout=60_000):
            window.import_paths([current.directory, tmp_path / "prior"], open_main=False)
            qtbot.waitUntil(
                lambda: window.browser.series_item(prior_series) is not None, timeout=60_000
            )
            window.open_series(current.series_uid)
        window.mpr.state.set_crosshair(centre)  # the reader is on the nodule
        prior = window.prior_compare

        # Nothing else selected: the reader is told what to do.
        window.browser.select_series(current.series_uid)
        assert not prior.compare_selected()
        assert "Select another series" in window.statusBar().currentMessage()

        window.browser.select_series(prior_series)
        assert prior.action.shortcut().toString() == "Ctrl+Shift+P"
        prior.action.trigger()
        qtbot.waitUntil(lambda: not prior.busy, timeout=120_000)
        view = window.compare.view
        assert view is not None and view.isVisible() and not window.mpr.isVisible()

        left, right = view.header_text("original"), view.header_text("enhanced")
        assert left.startswith("Current · 2026-01-01")
        assert right.startswith("Prior · 2025-05-02") and "aligned by anatomy" in right
        assert "Aligned in" in window.statusBar().currentMessage()

        # The alignment finds the nodule where it lay in the prior, and the prior's view
        # shows the slice through it (slices are 3.75 mm apart: half of that, plus 1.5 mm).
        expected = ROTATION @ centre + SHIFT
        found = view.alignment.to_moving(centre)
        assert np.linalg.norm(found - expected) < 2.0, (found, expected)
        shown = view.enhanced_view
        tolerance = 3.75 / 2 + 1.5
        assert abs(shown.slice_position - expected @ shown.normal) < tolerance
        # Scrolling the current scan moves the prior with it, by anatomy.
        view.original_view.scroll(10)
        point = centre.copy()
        point[2] = view.original_view.slice_position  # axial: the normal is +z (superior)
        moved = ROTATION @ point + SHIFT
        assert abs(shown.slice_position - moved @ shown.normal) < tolerance

        # M: a 10 mm MIP on both sides (a new nodule stands out against the prior's MIP).
        toggles = {a.shortcut().toString(): a for a in view.actions() if a.shortcut().toString()}
        toggles["M"].trigger()
        assert view.slab == Slab("mip", 10.0)
        assert view.original_view.slab == view.enhanced_view.slab == Slab("mip", 10.0)
        # The slices within ±5 mm, 3.75 mm apart: three, 7.5 mm from first to last.
        assert "MIP slab 7.5 mm" in view.enhanced_view.info_text()
        toggles["M"].trigger()
        assert view.slab is None and view.enhanced_view.slab is None

        view.closed.emit()  # Escape: back to the MPR views
        assert window.mpr.isVisible() and not view.isVisible()
        window.close()
