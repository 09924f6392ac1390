"""Sanity checks for the saliency maps (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018): cascading model-parameter randomisation on the SHIPPED nodule detector.

A held-out phantom scan (an EVALUATION seed of the detector's data generator) gives a true
nodule; a 32^3 patch around it is explained with every method. Then the detector's blocks
are re-initialised cumulatively from the top (output head first, then the decoder, then the
encoder) and the Spearman rank correlation of |attribution| with the original map must drop
below 0.5 once the top layers are randomised: a map that survives the model being destroyed
explains the image, not the model.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("captum")

from medview_plugins.nodule_cnn.plugin import NoduleCnnDetector  # noqa: E402
from medview_plugins.nodule_cnn.training import data, evaluate  # noqa: E402
from medview_plugins.saliency import methods, summary  # noqa: E402

from medview.ai.api import ExplainHook, Finding  # noqa: E402

SEED = data.EVALUATION.start + 13  # held out: never trained on nor calibrated on
PATCH = 32
#: Top first: the cascade of Adebayo et al. (output head, decoder, then encoder blocks).
CASCADE = ("head", "dec0", "dec1", "dec2", "enc3")
#: The cascade stage (number of blocks randomised) from which every map must have changed.
TOP = 2
SETTINGS = {
    "ig": methods.Settings(method="ig", n_steps=8, internal_batch_size=8),
    "gradcam": methods.Settings(method="gradcam", layer="dec1", cam_weights="elementwise"),
    "gradcam-signed": methods.Settings(method="gradcam", layer="dec1"),  # the default
    "gradcam-pooled": methods.Settings(method="gradcam", layer="dec1", cam_weights="pooled"),
    "smoothgrad": methods.Settings(
        method="smoothgrad", smoothgrad_samples=4, internal_batch_size=4
    ),
    "occlusion": methods.Settings(
        method="occlusion", occlusion_window=16, occlusion_stride=8, internal_batch_size=9
    ),
}


def randomise(module: torch.nn.Module) -> None:
    """Re-initialise every parameterised sub-module (as at construction)."""
    for sub in module.modules():
        if isinstance(sub, (torch.nn.Conv3d, torch.nn.BatchNorm3d)):
            sub.reset_parameters()
            if isinstance(sub, torch.nn.BatchNorm3d):
                sub.reset_running_stats()


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    detector = NoduleCnnDetector()
    detector.prepare(evaluate.LocalContext())
    torch.set_num_threads(1)
    volume, truth, _ = data.make_scan(SEED)
    nodule = max(
        (n for n in truth if n.kind == "solid"), key=lambda n: n.diameter_mm, default=truth[0]
    )
    centre = tuple(nodule.center_lps)
    half = nodule.diameter_mm / 2
    finding = Finding(
        "lung nodule",
        1.0,
        centre,
        (tuple(c - half for c in centre), tuple(c + half for c in centre)),
        (nodule.diameter_mm,) * 3,
        measurements={"diameter_mm": nodule.diameter_mm},
    )
    hook = detector.explainable()
    patch = hook.patch_for(volume, finding, PATCH)
    yield hook, patch, finding
    detector.release()
    torch.set_num_threads(threads)


def _map(hook: ExplainHook, module, patch, settings) -> np.ndarray:
    torch.manual_seed(0)  # SmoothGrad noise: the same draws for every model
    return methods.attribute(module, patch, settings, cam_layer=hook.cam_layer).cpu().numpy()


@pytest.fixture(scope="module")
def cascades(setup):
    """Per method: (original map, [map after randomising CASCADE[:k]] for k = 1..)."""
    hook, patch, _ = setup
    done: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}

    def get(name: str):
        if name not in done:
            settings = SETTINGS[name]
            original = _map(hook, hook.module, patch, settings)
            model = copy.deepcopy(hook.module).eval()
            torch.manual_seed(1234)
            maps = []
            for block in CASCADE:
                randomise(getattr(model, block))
                maps.append(_map(hook, model, patch, settings))
            done[name] = (original, maps)
        return done[name]

    return get


def _xfail(reason: str):
    return pytest.mark.xfail(strict=True, reason=reason)


# (method, compare |attribution| (True) or the signed maps (False)). Measured on this patch
# (MODEL_CARD.md, "Sanity checks"): the |attribution| of a point target keeps the network's
# receptive-field envelope (a blob around the centre voxel) whatever the weights, so several
# methods keep a high rank correlation even with the whole network re-initialised.
CASES = [
    pytest.param("ig", False, id="ig-signed"),
    pytest.param(
        "ig", True, id="ig-abs",
        marks=_xfail("|IG| keeps rank correlation 0.62-0.84 with every block down to enc3 random"),
    ),
    pytest.param(
        "gradcam", True, id="gradcam-elementwise",
        marks=_xfail("element-wise Grad-CAM (HiResCAM) on dec1: 0.50 after the head, ~0.85 after"),
    ),
    pytest.param("gradcam-pooled", True, id="gradcam-pooled"),
    pytest.param("gradcam-signed", False, id="gradcam-signed"),
    pytest.param("smoothgrad", False, id="smoothgrad-signed"),
    pytest.param(
        "smoothgrad", True, id="smoothgrad-abs",
        marks=_xfail("|SmoothGrad|: 0.82 -> 0.67 down to enc3"),
    ),
    pytest.param("occlusion", True, id="occlusion"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "absolute"), CASES)
def test_cascading_randomisation_changes_the_map(cascades, name, absolute):
    started = time.perf_counter()
    original, maps = cascades(name)
    assert np.isfinite(original).all() and all(np.isfinite(m).all() for m in maps)
    assert np.abs(original).max() > 0, "the original map is all zeros"
    assert original.std() > 0, "the original map is constant"

    def prepare(a: np.ndarray) -> np.ndarray:
        return np.abs(a) if absolute else a

    correlations = [summary.rank_correlation(prepare(original), prepare(m)) for m in maps]
    what = "|attribution|" if absolute else "signed attribution"
    print(f"{name} ({what}): rank correlation with the original map after randomising "
          + ", ".join(f"{b} {r:+.2f}" for b, r in zip(CASCADE, correlations, strict=True))
          + f" ({time.perf_counter() - started:.1f} s)")  # fmt: skip
    assert all(r < 0.5 for r in correlations[TOP - 1 :]), correlations
