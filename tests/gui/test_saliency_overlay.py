"""Saliency overlays in the viewer (issue 7): they follow the finding list and the method.

Runs the bundled ``medview.saliency`` plugin (on ``medview.nodule-cnn``) through the AI panel
on a small phantom, first with Grad-CAM, then with a coarse occlusion, and checks what the
axial view draws at the selected finding's centre.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from medview.ai.audit import AuditLog
from medview.ai.jobs import FINAL, JobState
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.app.main_window import QtMainWindow
from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.view.overlay_layer import OverlayStyle

pytestmark = pytest.mark.gui

#: Seed 1 at this size: the detector finds 9 nodules; the two best are real ones.
SPEC = PhantomSpec(size=128, slices=48, slice_spacing=2.5, seed=1)
#: Small patches and a coarse occlusion: about 15 s a run on two CPU cores, mostly detection.
FAST = {"max_findings": 2, "patch_size": 32, "occlusion_window": 16, "occlusion_stride": 16}


@pytest.fixture
def window(qtbot, tmp_path):
    registry = PluginRegistry(discover(user=False, entry_points=False))
    runner = Runner(registry, audit=AuditLog(tmp_path / "audit.jsonl"), cpu_workers=1)
    window = QtMainWindow(runner=runner)
    qtbot.addWidget(window)
    window.resize(1300, 800)
    window.show()
    qtbot.waitExposed(window)
    volume, _truth = make_phantom(SPEC)
    window.show_volume(volume)
    window.ai.dock.show()
    return window


def _explain(qtbot, window, method: str):
    panel = window.ai.panel
    panel.select_plugin("medview.saliency")
    panel.param_form.editor("method").setCurrentText(method)
    for name, value in FAST.items():
        panel.param_form.editor(name).setValue(value)
    rows = len(panel.overlay_names())
    job = panel.run()
    assert job is not None, panel.status_text
    qtbot.waitUntil(lambda: job.state in FINAL, timeout=90_000)
    assert job.state is JobState.SUCCEEDED, job.error
    qtbot.waitUntil(lambda: len(panel.overlay_names()) == rows + 2)
    return job


def _pixel(view, lps) -> np.ndarray:
    point = view.world_to_widget(lps)
    rgb = view.grab_rgb().astype(int)
    y, x = round(point.y()), round(point.x())
    return rgb[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(axis=0)


def test_saliency_follows_the_selected_finding_and_the_method(qtbot, window):
    panel, mpr = window.ai.panel, window.mpr
    axial = mpr.view("axial")
    panel.set_overlay_controls(opacity=0.9, threshold_fraction=0.2)
    grad = _explain(qtbot, window, "gradcam")
    assert panel.saliency.methods() == ["gradcam"]
    assert len(grad.result.findings) >= 2  # the detector found the nodules: worth explaining
    first, second = (f"{grad.id}/0", f"{grad.id}/1")

    # Selecting a finding takes the views to it and shows its Grad-CAM map there.
    panel.select_finding(first)
    centre = panel.review.get(first).center_lps_mm
    np.testing.assert_allclose(mpr.state.crosshair, centre, atol=1e-6)
    names = panel.overlay_names()
    assert names[panel.shown_overlay()].endswith("saliency-gradcam-finding-001")
    shown_grad = mpr.ai_display.overlay
    assert shown_grad is grad.result.overlays[0].volume
    assert mpr.ai_display.style.sign == "positive"  # the default for attributions
    with_grad = _pixel(axial, centre)
    panel.show_overlay(-1)
    plain = _pixel(axial, centre)
    assert np.abs(with_grad - plain).max() > 30  # the heat map is drawn on the nodule's slice
    panel.select_finding(second)
    panel.select_finding(first)  # the selection brings the overlay back
    assert mpr.ai_display.overlay is shown_grad

    # A second run with occlusion: the method selector offers both, the new one chosen.
    occl = _explain(qtbot, window, "occlusion")
    assert panel.saliency.methods() == ["gradcam", "occlusion"]
    assert panel.saliency.method() == "occlusion"
    panel.select_finding(first)  # a finding of the Grad-CAM run, shown with occlusion
    assert mpr.ai_display.overlay is occl.result.overlays[0].volume
    with_occl = _pixel(axial, centre)
    assert np.abs(with_occl - with_grad).max() > 20  # another map, other pixels

    # Switching the method swaps the overlay for the same finding, both ways.
    panel.saliency.set_method("gradcam")
    assert mpr.ai_display.overlay is shown_grad
    np.testing.assert_allclose(_pixel(axial, centre), with_grad, atol=3)
    panel.saliency.set_method("occlusion")
    assert mpr.ai_display.overlay is occl.result.overlays[0].volume

    # Another finding: its own overlay (of the occlusion run's finding 2), at its centre.
    panel.select_finding(second)
    assert mpr.ai_display.overlay is occl.result.overlays[1].volume
    other = panel.review.get(second).center_lps_mm
    np.testing.assert_allclose(mpr.state.crosshair, other, atol=1e-6)
    # A finding that was not explained hides the saliency overlay (it explains another one).
    unexplained = panel.review.job_findings(grad.id)[FAST["max_findings"] :]
    assert unexplained, "the detector found no more findings than were explained"
    panel.select_finding(unexplained[-1].id)
    assert mpr.ai_display.overlay is None and panel.shown_overlay() == -1


def test_positive_and_absolute_draw_a_signed_map_differently(qtbot, window):
    """A map that is negative around the centre: not drawn as "positive", drawn as "absolute"."""
    mpr = window.mpr
    axial = mpr.view("axial")
    volume = mpr.volume
    centre = np.asarray(volume.index_to_lps([[64, 64, 24]])[0])
    k, j, i = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    near = (np.abs(k - 24) <= 3) & (np.abs(j - 64) <= 8) & (np.abs(i - 64) <= 8)
    signed = np.where(near, -1.0, 0.0).astype(np.float32)
    signed[(np.abs(k - 24) <= 3) & (np.abs(j - 20) <= 8) & (np.abs(i - 20) <= 8)] = 0.5
    overlay = volume.with_array(signed, units="attribution", derived=True)
    mpr.state.set_crosshair(centre)
    plain = _pixel(axial, centre)
    style = OverlayStyle(opacity=0.9, threshold=0.1, value_range=(-1.0, 1.0))
    mpr.ai_display.set_overlay(overlay, style)  # positive only: the negative square not drawn
    np.testing.assert_allclose(_pixel(axial, centre), plain, atol=3)
    mpr.ai_display.set_style(dataclasses.replace(style, sign="absolute"))
    assert np.abs(_pixel(axial, centre) - plain).max() > 30
    mpr.ai_display.set_style(dataclasses.replace(style, sign="signed", colour_map="jet"))
    blueish = _pixel(axial, centre)
    assert blueish[2] - blueish[0] > 30  # the low end of "jet": negative evidence in blue
    # The panel's control sets the mode of what it shows.
    panel = window.ai.panel
    panel.saliency.set_sign("absolute")
    assert mpr.ai_display.style.sign == "absolute"
