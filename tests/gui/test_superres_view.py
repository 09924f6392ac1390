"""Super-resolution in the workstation (issue 6): the shipped plugin's output opens beside the
original, linked by patient position, labelled as AI-generated.

The plugin runs through the window's own runner (the AI panel's path) on a small phantom
with 3 mm slices; its through-plane x2 output (1.5 mm) is shown, then View › Compare. A true
nodule of the phantom must be drawn at the same widget position, with the same brightness,
in both views.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from medview.ai.runner import JobState
from medview.app.main_window import QtMainWindow
from medview.imaging.phantom import PhantomSpec, make_phantom

from gui_widgets import grey_at

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    main = QtMainWindow()
    qtbot.addWidget(main)
    main.resize(1000, 600)
    main.show()
    qtbot.waitExposed(main)
    return main


def test_superres_output_lines_up_with_the_original(window, qtbot):
    volume, truth = make_phantom(PhantomSpec(size=128, slices=40, slice_spacing=3.0, seed=2))
    lower, upper = np.sort([volume.index_to_lps((0, 0, 0))[2], volume.index_to_lps((0, 0, 39))[2]])
    inside = [
        t
        for t in truth
        if lower + 10 < t.center_lps[2] < upper - 10 and t.kind == "solid" and t.diameter_mm >= 8
    ]
    nodule = max(inside, key=lambda t: t.diameter_mm)
    centre = np.asarray(nodule.center_lps)
    window.show_volume(volume)

    job = window.ai.runner.submit("medview.superres", volume, {"mode": "through", "scale": "2"})
    qtbot.waitUntil(lambda: job.done, timeout=120_000)
    assert job.state == JobState.SUCCEEDED, job.error
    (derived,) = job.result.volumes
    assert derived.spacing[2] == pytest.approx(volume.spacing[2] / 2)
    window.show_volume(derived)  # what the AI panel's "Open as a series" does
    assert window.mpr.view("axial").overlays.title.GetInput().startswith("AI-GENERATED")

    window.mpr.state.set_crosshair(centre)
    window.compare.action.trigger()
    view = window.compare.view
    assert view is not None and view.isVisible()
    for side in (view.original_view, view.enhanced_view):
        side.set_window(-300.0, 1200.0)  # nodule (soft tissue) bright, lung dark
    qtbot.wait(50)
    nodule_grey = [grey_at(v, centre) for v in (view.original_view, view.enhanced_view)]
    lung = centre.copy()
    lung[0] -= np.sign(centre[0]) * 1.5 * nodule.diameter_mm  # towards the midline: lung
    lung_grey = [grey_at(v, lung) for v in (view.original_view, view.enhanced_view)]
    assert abs(nodule_grey[0] - nodule_grey[1]) < 40, nodule_grey
    assert min(nodule_grey) > max(lung_grey) + 60, (nodule_grey, lung_grey)
    assert "AI-generated" in view.header_text("enhanced")
    positions = [
        view.original_view.world_to_widget(centre),
        view.enhanced_view.world_to_widget(centre),
    ]
    assert (
        abs(positions[0].x() - positions[1].x()) < 2
        and abs(positions[0].y() - positions[1].y()) < 2
    )
