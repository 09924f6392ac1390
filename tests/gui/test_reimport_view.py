"""Re-import in the viewer (issue 8): a study folder with its SR and SEG shows them again.

The demo CT, the threshold-blob detector's findings on it and the report `medview report`
exported (SR + SEG) are put in one folder and imported; opening the CT lists the report's
findings in the AI panel as an imported job, and the SEG masks are drawn on the axial view
on the slices they cover, not on others.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from medview.app.cli import main
from medview.app.main_window import QtMainWindow
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.model.settings import load_settings

pytestmark = pytest.mark.gui

READER = "Doe^Jane"
SCREENSHOT = "/tmp/medview-reimport-view.png"


@pytest.fixture(scope="module")
def study_folder(tmp_path_factory):
    """CT + SR + SEG in one folder, made by medview's own run and report commands."""
    root = tmp_path_factory.mktemp("reimport-view")
    study = write_demo_study(root / "folder" / "ct", seed=0, size=128, slices=64)
    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(root / "home")
    try:
        results, report = root / "results", root / "report"
        assert main(["run", "medview.threshold-blobs", str(study.directory), "--out",
                     str(results), "--device", "cpu"]) == 0  # fmt: skip
        assert main(["report", str(study.directory), "--results", str(results), "--out",
                     str(report), "--reader", READER, "--format", "sr,seg"]) == 0  # fmt: skip
    finally:
        if old is None:
            os.environ.pop("MEDVIEW_HOME", None)
        else:
            os.environ["MEDVIEW_HOME"] = old
    for name in ("report-sr.dcm", "report-seg.dcm"):
        shutil.copy(report / name, root / "folder" / name)
    return root / "folder", study


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


def _pixel(view, lps) -> np.ndarray:
    """Mean RGB of the 3 x 3 device pixels a slice view draws at an LPS point."""
    point = view.world_to_widget(lps)
    rgb = view.grab_rgb().astype(int)
    scale = rgb.shape[1] / view.vtk_widget.width()
    y, x = round(point.y() * scale), round(point.x() * scale)
    return rgb[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)


def test_opening_the_study_shows_the_reports_findings_and_masks(qtbot, database, study_folder):
    folder, study = study_folder
    window = QtMainWindow(database=database, settings=load_settings())
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    assert window.import_paths([folder], open_main=True)
    qtbot.waitUntil(lambda: window.reimport.last_series_uid == study.series_uid, timeout=90_000)
    volume = window.mpr.volume
    assert volume.meta.series_uid == study.series_uid  # the CT opened, not the SEG

    panel = window.ai.panel
    (title,) = panel.imported_titles()
    assert title.startswith("Report (imported) – ") and title.endswith(READER)
    findings = list(panel.review)
    assert len(findings) == 2
    assert all(f.status.value == "pending" and f.job_id.startswith("sr-") for f in findings)
    assert {f.finding.code[0] for f in findings} == {"27925004"}
    assert window.ai.dock.isVisible()
    assert panel.shown_overlay() == 0 and panel.overlay_names()[0].startswith(title)
    assert window.mpr.ai_display.overlay is not None

    # The mask is drawn on the slices it covers: a voxel inside it, seen on its own slice.
    finding = findings[0]
    mask = np.asarray(finding.finding.mask.array) > 0
    inside = np.argwhere(mask)
    centroid = inside.mean(axis=0)
    k, j, i = inside[np.argmin(np.linalg.norm(inside - centroid, axis=1))]
    lps = volume.zyx_to_lps(np.array([k, j, i], dtype=float))
    panel.select_finding(finding.id)
    window.mpr.state.set_crosshair(lps)
    axial = window.mpr.view("axial")
    qtbot.wait(200)
    with_mask = _pixel(axial, lps)
    from medview.app.screenshot import save_window_png

    mpr = window.mpr
    save_window_png(window, [mpr.widget_for(n) for n in mpr.state.visible_views()], SCREENSHOT)
    panel.show_overlay(-1)  # "None"
    qtbot.wait(200)
    without = _pixel(axial, lps)
    assert np.abs(with_mask - without).sum() > 60, (with_mask, without)

    # A slice the mask does not reach: the overlay changes nothing there.
    covered = np.flatnonzero(mask.any(axis=(1, 2)))
    away = int(covered.max()) + 3 if covered.max() + 3 < volume.shape[0] else int(covered.min()) - 3
    elsewhere = volume.zyx_to_lps(np.array([away, j, i], dtype=float))
    window.mpr.state.set_crosshair(elsewhere)
    qtbot.wait(200)
    plain = _pixel(axial, elsewhere)
    panel.show_overlay(0)
    qtbot.wait(200)
    np.testing.assert_allclose(_pixel(axial, elsewhere), plain, atol=2)
