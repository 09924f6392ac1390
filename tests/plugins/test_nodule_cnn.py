"""The 3D CNN nodule detector: evaluation path, input refusals, orientation, explanation hook.

The FROC evaluation itself (20 held-out scans) is ``python -m
plugins.nodule_cnn.training.evaluate``; here one held-out scan goes through the same code.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from medview_plugins.nodule_cnn import detect, preprocess  # noqa: E402
from medview_plugins.nodule_cnn.plugin import NoduleCnnDetector  # noqa: E402
from medview_plugins.nodule_cnn.training import data, evaluate  # noqa: E402

from medview.ai.api import Finding  # noqa: E402
from medview.ai.registry import discover  # noqa: E402
from medview.core.errors import PluginError  # noqa: E402
from medview.imaging.phantom import PhantomSpec, make_phantom  # noqa: E402
from medview.imaging.volume import Volume, VolumeMeta  # noqa: E402

PLUGIN = "medview.nodule-cnn"


@pytest.fixture(scope="module")
def detector():
    torch.set_num_threads(2)
    plugin = NoduleCnnDetector()
    plugin.prepare(evaluate.LocalContext())
    yield plugin
    plugin.release()


def test_manifest_is_valid_and_weights_match():
    info = next(i for i in discover(user=False, entry_points=False) if i.id == PLUGIN)
    assert info.available, info.reason
    assert info.manifest.not_for_diagnostic_use


def test_finds_nodules_in_a_held_out_scan(detector):
    seed = data.EVALUATION.start + 13  # one of the 20 FROC scans (a quick one)
    assert seed not in data.TRAIN and seed not in data.VALIDATION
    result = evaluate.run_scan(detector, evaluate.LocalContext(), seed)
    big = [n for n in range(len(result.kinds)) if result.true_diameters[n] >= 6.0]
    confident = result.scores >= 0.3
    found = {int(h) for h in result.hit[confident] if h >= 0}
    assert len(found & set(big)) >= 0.6 * len(big), (result.hit, result.scores)
    assert int(((result.hit < 0) & confident).sum()) <= 4
    fps, sens, _ = evaluate.froc([result])
    assert evaluate.sensitivity_at(fps, sens, 8.0) >= 0.5


def test_diameter_correction_is_loaded(detector):
    # fitted on the validation seeds by training/fit_size.py, stored in the weights file
    assert detector.size_correction != (0.0, 1.0)
    assert detect.correct_diameter(7.5, (0.0, 1.0)) == pytest.approx(7.5)
    c0, c1 = detector.size_correction
    small, large = (detect.correct_diameter(d, (c0, c1)) for d in (5.0, 20.0))
    assert 3.0 < small < large < 40.0


def test_orientation_does_not_change_the_canonical_grid():
    volume, _ = make_phantom(PhantomSpec(size=64, slices=40, seed=3))
    turned = data.reorient(volume, [True, False, True], [1, 0, 2])
    assert turned.orientation != volume.orientation
    a = preprocess.to_canonical(volume).array
    b = preprocess.to_canonical(turned).array
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 1.0  # same patient, same place (HU)


@pytest.mark.parametrize(
    ("shape", "modality", "message"),
    [
        ((40, 64, 64), "MR", "needs a CT"),
        ((1, 64, 64), "CT", "3D chest CT"),
        ((10, 64, 64), "CT", "3D chest CT"),
    ],
)
def test_wrong_input_is_refused(detector, shape, modality, message):
    array = np.full(shape, -800.0, np.float32)
    volume = Volume(array, (1.0, 1.0, 2.0), meta=VolumeMeta(modality=modality))
    with pytest.raises(PluginError, match=message):
        detector.run(volume, {"min_score": 0.3, "max_findings": 5, "masks": False}, None)
    info = next(i for i in discover(user=False, entry_points=False) if i.id == PLUGIN)
    assert info.manifest.applies_to(volume) is not None


def test_explanation_hook(detector):
    zz, yy, xx = np.mgrid[:40, :48, :48]
    array = np.where((zz - 20) ** 2 + (yy - 24) ** 2 + (xx - 24) ** 2 < 16, 40.0, -850.0)
    volume = Volume(array.astype(np.float32), (1.5, 1.5, 1.5), (-36.0, -36.0, -30.0))
    hook = detector.explainable()
    x = hook.preprocess(volume)
    assert x.ndim == 5 and all(n % 8 == 0 for n in x.shape[2:])
    centre = tuple(volume.zyx_to_lps((20, 24, 24)))
    finding = Finding("lung nodule", 0.5, centre, (centre, centre), (0.0, 0.0, 0.0))
    with torch.no_grad():
        value = hook.target_for(finding)(hook.module(x))
    assert value.shape == (1,) and torch.isfinite(value).all()
    overlay = hook.to_volume(x[0, 0], volume)
    assert overlay.shape == volume.shape
