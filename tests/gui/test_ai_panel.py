"""The AI panel in the main window, with purpose-built plugins (issue 4, "UI (AI panel)")."""

from __future__ import annotations

import textwrap
import time

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QLabel

from medview.ai.audit import AuditLog
from medview.ai.jobs import JobState
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.app.main_window import QtMainWindow
from medview.model.review import ReviewStatus
from medview.view.finding_markers import STATUS_COLOURS

pytestmark = pytest.mark.gui

PLUGIN_CODE = '''
import time

import numpy as np

from medview.ai.api import Finding, Overlay, Result


def _blob_result(volume):
    """A finding on the phantom's bright blob, and a heat map that is 1 inside it."""
    inside = volume.array > 500
    k, j, i = np.nonzero(inside)
    low, high = (k.min(), j.min(), i.min()), (k.max(), j.max(), i.max())
    centre = ((low[0] + high[0]) / 2, (low[1] + high[1]) / 2, (low[2] + high[2]) / 2)
    finding = Finding.from_voxel_box(volume, "bright blob", 0.8, low, high, center_zyx=centre,
                                     measurements={"diameter_mm": 12.0})
    heat = Overlay("blob heat", volume.with_array(inside.astype(np.float32)), "1 in the blob")
    return Result(findings=(finding,), overlays=(heat,))


class Blob:
    def prepare(self, ctx):
        pass

    def run(self, volume, params, ctx):
        for step in range(1, 5):
            ctx.progress(step / 4, f"step {step}")
        return _blob_result(volume)

    def release(self):
        pass


class Slow(Blob):
    def run(self, volume, params, ctx):
        for step in range(3000):
            ctx.check_cancelled()
            ctx.progress(step / 3000, "working")
            time.sleep(0.01)
        return _blob_result(volume)


class CpuHeavy(Blob):
    """About two seconds of numpy work in many calls, as a model's CPU inference is."""

    def run(self, volume, params, ctx):
        rng = np.random.default_rng(0)
        a = rng.random((300, 300))
        end = time.monotonic() + params["seconds"]
        while time.monotonic() < end:
            a = np.tanh(a @ a.T / 300.0)
            ctx.progress(min(1.0, 1 - (end - time.monotonic()) / params["seconds"]), "busy")
        return _blob_result(volume)


class Derives(Blob):
    def run(self, volume, params, ctx):
        finer = np.repeat(volume.array, 2, axis=0)
        spacing = (volume.spacing[0], volume.spacing[1], volume.spacing[2] / 2)
        meta = volume.meta.__class__(modality="CT", units="HU", derived=True,
                                     derivation="fake thin slices",
                                     series_description="thin slices")
        derived = volume.__class__(finer, spacing, volume.origin, volume.direction, meta)
        return Result(volumes=(derived,))
'''


def _manifest(plugin_id: str, factory: str) -> str:
    return textwrap.dedent(
        f"""
        [plugin]
        id = "{plugin_id}"
        name = "Fake {factory}"
        version = "0.1.0"
        api_version = "1.0"
        kind = "detection"
        factory = "plugin:{factory}"
        outputs = ["findings", "overlays"]
        license = "MIT"
        intended_use = "Tests only."
        not_for_diagnostic_use = true

        [applies_to]
        modalities = ["CT"]
        min_slices = 4

        [runtime]
        devices = ["cpu"]

        [[parameters]]
        name = "seconds"
        type = "float"
        default = 2.0
        min = 0.5
        max = 10.0
        unit = "s"
        label = "Busy time"
        help = "How long the fake model computes."
        """
    )


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gui-plugins")
    for factory in ("Blob", "Slow", "CpuHeavy", "Derives"):
        folder = root / f"test.{factory.lower()}"
        folder.mkdir()
        (folder / "plugin.py").write_text(PLUGIN_CODE, encoding="utf-8")
        (folder / "plugin.toml").write_text(
            _manifest(f"test.{factory.lower()}", factory), encoding="utf-8"
        )
    broken = root / "test.broken"
    broken.mkdir()
    (broken / "plugin.toml").write_text("[plugin]\nid = 'test.broken'\n", encoding="utf-8")
    return root


@pytest.fixture
def window(qtbot, plugin_root, phantom, tmp_path):
    registry = PluginRegistry(
        discover(bundled=False, user=False, entry_points=False, extra=[plugin_root])
    )
    runner = Runner(registry, audit=AuditLog(tmp_path / "audit.jsonl"), cpu_workers=2)
    window = QtMainWindow(runner=runner)
    qtbot.addWidget(window)
    window.resize(1300, 800)
    window.show()
    qtbot.waitExposed(window)
    window.show_volume(phantom.make())
    window.ai.dock.show()
    return window


def _run(qtbot, window, plugin_id: str, **params):
    panel = window.ai.panel
    panel.select_plugin(plugin_id)
    for name, value in params.items():
        panel.param_form.editor(name).setValue(value)
    job = panel.run()
    assert job is not None, panel.status_text
    return job


def _wait_done(qtbot, job, timeout=20000):
    qtbot.waitUntil(lambda: job.state in (JobState.SUCCEEDED, JobState.FAILED,
                                          JobState.CANCELLED), timeout=timeout)  # fmt: skip


def test_plugins_are_listed_with_availability_and_a_form(window):
    panel = window.ai.panel
    combo = panel._plugins
    texts = [combo.itemText(i) for i in range(combo.count())]
    broken = texts.index("test.broken (unavailable)")
    assert not combo.model().item(broken).isEnabled()
    assert "plugin.toml" in combo.itemData(broken, 3)  # the reason, as tooltip
    panel.select_plugin("test.cpuheavy")
    editor = panel.param_form.editor("seconds")
    assert (editor.minimum(), editor.maximum(), editor.value()) == (0.5, 10.0, 2.0)
    assert editor.suffix() == " s" and editor.toolTip() == "How long the fake model computes."
    assert "not for diagnostic use" in panel._about.text()


def test_a_run_lists_findings_draws_them_and_the_review_is_kept(qtbot, window):
    panel, mpr = window.ai.panel, window.mpr
    job = _run(qtbot, window, "test.blob")
    _wait_done(qtbot, job)
    qtbot.waitUntil(lambda: len(panel.review) == 1)
    assert job.state is JobState.SUCCEEDED
    bar = panel._bars[job.id]
    assert bar.value() == 1000
    (finding,) = list(panel.review)
    # Clicking the finding takes every view there.
    panel.select_finding(finding.id)
    np.testing.assert_allclose(mpr.state.crosshair, finding.center_lps_mm, atol=1e-6)
    axial = mpr.view("axial")
    assert finding.id in mpr.ai_display.markers("axial").shown()
    # Pending is drawn yellow; accepted green, on screen.
    panel.set_decision("accept")
    assert panel.review.get(finding.id).status is ReviewStatus.ACCEPTED
    rgb = axial.grab_rgb().astype(int)
    green = np.all(np.abs(rgb - np.array(STATUS_COLOURS["accepted"]) * 255) < 40, axis=2)
    assert green.sum() > 20
    assert "0 to review, 1 accepted" in panel._counts.text()
    # "Not for diagnostic use" under the AI findings (issue 11 AI3), drawn.
    for name in ("findings-disclaimer",):
        label = panel.findChild(QLabel, name)
        assert label is not None and label.isVisible(), name
        assert "not for diagnostic use" in label.text()
        image = label.grab().toImage()
        inked = sum(
            1
            for x in range(0, image.width(), 2)
            for y in range(image.height())
            if image.pixelColor(x, y).red() > 150 and image.pixelColor(x, y).blue() < 110
        )
        assert inked > 30, f"{name}: the warning text is not drawn ({inked} orange pixels)"
    # Moving the crosshair and "move to crosshair" edits the centre; the original stays.
    mpr.state.set_crosshair(np.add(finding.center_lps_mm, (2.0, 0.0, 0.0)))
    panel.move_selected_to(mpr.state.crosshair)
    edited = panel.review.get(finding.id)
    assert edited.edited and edited.finding.center_lps_mm == finding.center_lps_mm


def test_overlay_is_drawn_in_colour_where_the_map_is_high(qtbot, window):
    panel, mpr = window.ai.panel, window.mpr
    job = _run(qtbot, window, "test.blob")
    _wait_done(qtbot, job)
    qtbot.waitUntil(lambda: panel.overlay_names() != [])
    (finding,) = list(panel.review)
    panel.select_finding(finding.id)
    axial = mpr.view("axial")
    point = axial.world_to_widget(finding.center_lps_mm)
    offset = point + type(point)(4.0, 4.0)  # off the finding circle, inside the blob

    def colour_at():
        rgb = axial.grab_rgb().astype(int)
        return rgb[round(offset.y()), round(offset.x())]

    before = colour_at()
    assert abs(before[0] - before[2]) < 10  # grey: the bright blob, no overlay yet
    panel.set_overlay_controls(opacity=0.8, threshold_fraction=0.5)
    panel.show_overlay(0)
    assert mpr.ai_display.overlay is not None
    after = colour_at()
    assert after[0] - after[2] > 80  # "hot": red well above blue
    panel.show_overlay(-1)  # None
    assert abs(colour_at()[0] - colour_at()[2]) < 10


def test_cancel_stops_a_job_within_a_second(qtbot, window):
    panel = window.ai.panel
    job = _run(qtbot, window, "test.slow")
    qtbot.waitUntil(lambda: job.state is JobState.RUNNING, timeout=5000)
    button = panel._table.cellWidget(panel._row_of(job), 4)
    started = time.monotonic()
    button.click()
    _wait_done(qtbot, job, timeout=5000)
    assert job.state is JobState.CANCELLED
    assert time.monotonic() - started < 1.0
    qtbot.waitUntil(lambda: "cancelled" in panel._table.item(panel._row_of(job), 1).text())


def test_event_loop_stays_responsive_while_a_cpu_heavy_job_runs(qtbot, window):
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    job = _run(qtbot, window, "test.cpuheavy", seconds=2.0)
    _wait_done(qtbot, job)
    timer.stop()
    assert job.state is JobState.SUCCEEDED
    print(f"\nevent-loop gaps while a 2 s CPU job ran: max {max(gaps):.0f} ms over {len(gaps)}")
    assert len(gaps) > 50 and max(gaps) < 100


def test_derived_volume_opens_as_a_labelled_series(qtbot, window):
    panel = window.ai.panel
    job = _run(qtbot, window, "test.derives")
    _wait_done(qtbot, job)
    qtbot.waitUntil(lambda: panel._derived_choice.count() == 1)
    with qtbot.waitSignal(window.volume_shown, timeout=5000) as shown:
        panel._on_open_derived()
    volume = shown.args[0]
    assert volume.meta.derived and volume.shape[0] == 2 * 40
    assert (
        window.banner.isVisible()
        and "Derived" in window.mpr.view("axial").overlays.title.GetInput()
    )
