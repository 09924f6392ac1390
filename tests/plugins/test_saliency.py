"""The saliency explanation plugin: manifest, patch geometry, summaries, runner, CLI, cancel,
and a one-scan reproduction of the pointing game (``python -m plugins.saliency.evaluate``).

The sanity checks (cascading randomisation) are in ``test_saliency_sanity.py``; the speed
benchmark in ``tests/benchmarks/test_saliency_speed.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("captum")

from medview_plugins.nodule_cnn import preprocess  # noqa: E402
from medview_plugins.nodule_cnn.plugin import NoduleCnnDetector  # noqa: E402
from medview_plugins.nodule_cnn.training import data, evaluate  # noqa: E402
from medview_plugins.saliency import grid, methods, summary  # noqa: E402
from medview_plugins.saliency.evaluate import true_positives  # noqa: E402
from medview_plugins.saliency.plugin import SaliencyExplainer, explain_finding  # noqa: E402

from medview.ai.api import Finding, Result, resolve_params  # noqa: E402
from medview.ai.audit import AuditLog  # noqa: E402
from medview.ai.registry import PluginRegistry, discover  # noqa: E402
from medview.ai.runner import JobState, Runner  # noqa: E402
from medview.core.errors import Cancelled, PluginError  # noqa: E402
from medview.dicom.demo import write_demo_study  # noqa: E402
from medview.imaging.phantom import PhantomSpec, make_phantom  # noqa: E402
from medview.imaging.volume import Volume  # noqa: E402

PLUGIN = "medview.saliency"
SEED = data.EVALUATION.start + 13  # a held-out scan of the detector (never trained on)


def _finding(centre, diameter: float = 8.0, mask: Volume | None = None) -> Finding:
    centre = tuple(float(v) for v in centre)
    half = diameter / 2
    return Finding(
        "lung nodule",
        0.9,
        centre,
        (tuple(v - half for v in centre), tuple(v + half for v in centre)),
        (diameter,) * 3,
        mask=mask,
        measurements={"diameter_mm": diameter},
    )


@pytest.fixture(scope="module")
def detector():
    threads = torch.get_num_threads()
    plugin = NoduleCnnDetector()
    plugin.prepare(evaluate.LocalContext())
    torch.set_num_threads(min(threads, 2))
    yield plugin
    plugin.release()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def oblique():
    """A small phantom, reoriented (flipped and permuted axes: not LPS-aligned)."""
    volume, _ = make_phantom(PhantomSpec(size=64, slices=40, pixel_spacing=3.0, slice_spacing=3.0))
    volume = volume.with_array(volume.array.astype(np.float32))
    return data.reorient(volume, [True, False, True], [1, 0, 2])


# -- manifest -------------------------------------------------------------------------------
def test_manifest_is_valid_and_an_explanation():
    info = next(i for i in discover(user=False, entry_points=False) if i.id == PLUGIN)
    assert info.available, info.reason
    manifest = info.manifest
    assert manifest.kind == "explanation" and manifest.not_for_diagnostic_use
    params = resolve_params(manifest.parameters, None)
    assert params["target"] == "medview.nodule-cnn"
    assert params["patch_size"] == 64 and params["n_steps"] == 32
    method = next(p for p in manifest.parameters if p.name == "method")
    assert set(method.choices) == set(methods.METHODS)
    assert set(methods.Settings.__dataclass_fields__) <= set(params)


# -- geometry -------------------------------------------------------------------------------
def test_patch_is_cut_from_the_canonical_grid_with_exact_geometry(detector, oblique):
    hook = detector.explainable()
    assert oblique.orientation != "LPS"
    centre = oblique.zyx_to_lps((20.3, 31.7, 25.2))
    patch = hook.patch_for(oblique, _finding(centre), 20)  # rounded up to 24
    assert tuple(patch.input.shape) == (1, 1, 24, 24, 24)
    assert patch.background == pytest.approx(-1.0)
    zeros = patch.input.detach()[0, 0] * 0
    geometry = patch.to_volume(zeros)
    assert geometry.shape == (24, 24, 24) and geometry.spacing == (preprocess.SPACING_MM,) * 3
    # The centre voxel (the target) is the canonical voxel nearest the finding.
    assert np.linalg.norm(geometry.zyx_to_lps((12, 12, 12)) - centre) <= 0.75 * np.sqrt(3) + 1e-6
    # Every patch voxel holds the canonical voxel at its own LPS position (or air outside).
    can = preprocess.canonical(oblique).volume
    points = summary.voxel_lps(geometry)
    zyx = np.rint(can.lps_to_zyx(points)).astype(int)
    assert np.allclose(can.lps_to_zyx(points), zyx, atol=1e-6)  # on the canonical lattice
    inside = np.all((zyx >= 0) & (zyx < np.array(can.shape)), axis=1)
    expected = np.full(len(points), -1000.0, np.float32)
    expected[inside] = can.array[tuple(zyx[inside].T)]
    hu = patch.input[0, 0].numpy().ravel() * 700.0 - 300.0  # model.normalise inverted
    np.testing.assert_allclose(hu, np.clip(expected, -1350, 750), atol=0.05)
    # A finding at the edge: the part outside the scan is padded with air.
    corner = oblique.zyx_to_lps((0, 0, 0))
    edge = hook.patch_for(oblique, _finding(corner), 24).input[0, 0].numpy()
    assert (edge == -1.0).mean() > 0.3


def test_onto_grid_reproduces_a_linear_function_on_an_oblique_grid(oblique):
    patch = Volume(
        np.zeros((12, 10, 14), np.float32), (1.5, 1.5, 1.5), tuple(oblique.zyx_to_lps((20, 30, 30)))
    )
    gradient = np.array([0.5, -1.25, 2.0])
    values = summary.voxel_lps(patch) @ gradient + 7.0
    patch = patch.with_array(values.reshape(patch.shape).astype(np.float32))
    full = grid.onto_grid(patch, oblique)
    assert full.shape == oblique.shape and full.dtype == np.float32
    points = summary.voxel_lps(oblique)
    index = patch.lps_to_index(points)
    interior = np.all((index >= 0.01) & (index <= np.array(patch.size_ijk) - 1.01), axis=1)
    assert interior.sum() > 50
    np.testing.assert_allclose(
        full.ravel()[interior], points[interior] @ gradient + 7.0, rtol=1e-4, atol=1e-3
    )
    outside = np.any((index < -1) | (index > np.array(patch.size_ijk)), axis=1)
    assert np.all(full.ravel()[outside] == 0)


def test_summary_numbers_on_a_known_map():
    shape = (20, 20, 20)
    patch = Volume(np.zeros(shape, np.float32), (2.0, 2.0, 2.0), (10.0, -20.0, 30.0))
    points = summary.voxel_lps(patch)
    peak = patch.zyx_to_lps((12, 8, 9))
    dist = np.linalg.norm(points - peak, axis=1)
    patch = patch.with_array(np.exp(-(dist**2) / 2.0).reshape(shape).astype(np.float32) - 0.01)
    mask = patch.with_array((dist <= 3.0).reshape(shape).astype(np.uint8))
    numbers = summary.summarise(patch, _finding(peak, diameter=6.0, mask=mask))
    assert numbers["peak_lps_mm"] == pytest.approx(list(peak), abs=0.01)
    assert numbers["peak_in_radius"] and numbers["peak_distance_mm"] == 0
    assert numbers["positive_fraction_in_radius"] > 0.9
    assert numbers["positive_fraction_in_mask"] == numbers["positive_fraction_in_radius"]
    far = summary.summarise(patch, _finding(peak + 15.0, diameter=4.0))
    assert not far["peak_in_radius"] and far["positive_fraction_in_radius"] < 0.05


def test_rank_correlation():
    a = np.arange(10.0)
    assert summary.rank_correlation(a, a**3) == pytest.approx(1.0)
    assert summary.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert summary.rank_correlation(a, np.ones(10)) == 0.0
    ties = np.array([0, 0, 1, 1, 2.0])
    assert summary.rank_correlation(ties, ties) == pytest.approx(1.0)


def test_folded_batch_norms_compute_the_same_function_and_map(detector, scan):
    """The IG speed-up (methods.fold_batch_norms) must not change what is explained."""
    module = detector.explainable().module
    folded = methods.fold_batch_norms(module)
    assert folded is not module
    kinds = [type(m).__name__ for m in folded.modules()]
    assert "BatchNorm3d" not in kinds and "BatchNorm3d" in [
        type(m).__name__ for m in module.modules()
    ]
    x = torch.randn(1, 1, 32, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, got = module(x), folded(x)
    assert torch.allclose(got, expected, atol=1e-4 * float(expected.abs().max()))
    assert methods.fold_batch_norms(module.train()) is module  # training: batch statistics
    module.eval()

    volume, truth = scan
    hook = detector.explainable()
    patch = hook.patch_for(volume, _finding(truth[0].center_lps, truth[0].diameter_mm), 32)
    settings = methods.Settings(method="ig", n_steps=4, internal_batch_size=4)
    patch = replace(patch, forward=None)  # the whole module's forward, through the wrapper
    with_fold = methods.attribute(hook.module, patch, settings).numpy()
    plain = methods.attribute(_Unfoldable(hook.module), patch, settings).numpy()
    assert np.abs(with_fold - plain).max() <= 1e-3 * np.abs(plain).max()


def test_the_detectors_shortcut_gives_the_same_target_and_map(detector, scan):
    """ExplainPatch.forward (dec0 on a 5^3 box) must equal target(module(x)), gradients too."""
    volume, truth = scan
    hook = detector.explainable()
    patch = hook.patch_for(volume, _finding(truth[0].center_lps, truth[0].diameter_mm), 32)
    x = torch.cat([patch.input, patch.input.flip(-1)]).requires_grad_(True)
    full = patch.target(hook.module(x))
    (g_full,) = torch.autograd.grad(full.sum(), x)
    cheap = patch.forward(hook.module, x)
    (g_cheap,) = torch.autograd.grad(cheap.sum(), x)
    assert torch.allclose(cheap, full, rtol=1e-5, atol=1e-5)
    assert torch.allclose(g_cheap, g_full, atol=1e-6 * float(g_full.abs().max()) + 1e-12)
    settings = methods.Settings(method="ig", n_steps=4, internal_batch_size=4)
    fast = methods.attribute(hook.module, patch, settings).numpy()
    slow = methods.attribute(hook.module, replace(patch, forward=None), settings).numpy()
    assert np.abs(fast - slow).max() <= 1e-4 * np.abs(slow).max()


class _Unfoldable(torch.nn.Module):
    """The detector behind a wrapper left in training mode, which fold_batch_norms returns
    as it is: the unfolded reference. The wrapped detector itself stays in eval mode."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = [inner]  # a list: not a registered submodule, so never re-moded

    def forward(self, x):
        return self.inner[0](x)


# -- a held-out scan: runner, pointing, cancel ----------------------------------------------
@pytest.fixture(scope="module")
def scan():
    volume, truth, _ = data.make_scan(SEED)
    return volume, truth


@pytest.fixture(scope="module")
def explained(scan, tmp_path_factory):
    """The plugin run through the app's runner (Grad-CAM, the default) on the held-out scan."""
    volume, _ = scan
    registry = PluginRegistry(discover(user=False, entry_points=False))
    audit = AuditLog(tmp_path_factory.mktemp("audit") / "audit.jsonl")
    runner = Runner(registry, default_device="cpu", audit=audit, default_timeout_s=300)
    fractions: list[float] = []

    class Listener:
        def job_state_changed(self, job):
            pass

        def job_progress(self, job, fraction, message):
            fractions.append(fraction)

        def job_finished(self, job):
            pass

    try:
        # The reader detects first; the explanation then reuses that job's findings.
        detection = runner.submit("medview.nodule-cnn", volume)
        assert detection.wait(300) and detection.state is JobState.SUCCEEDED, detection.error
        job = runner.submit(PLUGIN, volume, {"method": "gradcam"}, listener=Listener())
        assert job.wait(300)
    finally:
        runner.shutdown()
    assert job.state is JobState.SUCCEEDED, job.error
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    reused = job.result.metadata["detection"]["reused_detection"]
    assert reused == {"job_id": detection.id, "findings": len(detection.result.findings)}
    assert [f.center_lps_mm for f in job.result.findings] == [
        f.center_lps_mm for f in detection.result.findings
    ]
    return job.result


def test_runner_returns_one_overlay_per_finding_where_the_finding_is(scan, explained):
    volume, _ = scan
    result: Result = explained
    meta = result.metadata
    assert meta["target"] == "medview.nodule-cnn" and meta["method"]["method"] == "gradcam"
    assert meta["method"]["layer"] == "dec1" and meta["method"]["cam_weights"] == "signed"
    assert len(result.findings) >= 3
    assert len(result.overlays) == len(meta["explanations"]) == min(10, len(result.findings))
    for overlay, entry in zip(result.overlays, meta["explanations"], strict=True):
        assert overlay.name == entry["overlay"]
        assert overlay.volume.shape == volume.shape
        np.testing.assert_allclose(overlay.volume.affine, volume.affine, atol=1e-6)
        array = overlay.volume.array
        assert array.dtype == np.float32 and np.isfinite(array).all() and array.max() > 0
        # The overlay's maximum lies where the patch map's peak is (patch -> input grid).
        finding = result.findings[entry["finding"] - 1]
        top = volume.zyx_to_lps(np.unravel_index(int(np.argmax(array)), array.shape))
        assert np.linalg.norm(top - np.array(entry["peak_lps_mm"])) < 4.0
        assert np.linalg.norm(top - np.array(finding.center_lps_mm)) < 15.0
        json.dumps(entry)


def test_pointing_on_one_held_out_scan(detector, scan, explained):
    """Part of ``python -m plugins.saliency.evaluate`` on one scan: Grad-CAM (from the runner
    result) and Integrated Gradients (8 steps here, for time) on true positives."""
    volume, truth = scan
    tps = true_positives(explained.findings, truth)
    assert len(tps) >= 3
    by_finding = {e["finding"]: e for e in explained.metadata["explanations"]}
    index = {id(f): n + 1 for n, f in enumerate(explained.findings)}
    hits = []
    for finding, n in tps:
        peak = np.array(by_finding[index[id(finding)]]["peak_lps_mm"])
        hits.append(np.linalg.norm(peak - truth[n].center_lps) <= truth[n].diameter_mm / 2)
    assert np.mean(hits) >= 0.8, hits
    hook = detector.explainable()
    settings = methods.Settings(method="ig", n_steps=8, internal_batch_size=4)
    ig_hits = []
    for finding, n in tps[:2]:
        att, numbers = explain_finding(hook, volume, finding, settings, 64)
        assert att.shape == (64, 64, 64) and np.isfinite(att.array).all()
        peak = np.array(numbers["peak_lps_mm"])
        ig_hits.append(np.linalg.norm(peak - truth[n].center_lps) <= truth[n].diameter_mm / 2)
    assert all(ig_hits), ig_hits


class _Context:
    """A RunContext stand-in: the real hook, detection replaced by known findings."""

    def __init__(self, hook, findings, cancel_after: int | None = None) -> None:
        self.device = "cpu"
        self.mixed_precision = False
        self.tile_scale = 1.0
        self.log = evaluate.LocalContext().log
        self.calls = 0
        self._hook = replace(hook, detect=lambda volume, ctx: Result(findings=findings))
        self._cancel_after = cancel_after

    def explainable(self, plugin_id):
        return self._hook

    def progress(self, fraction, message=""):
        self.check_cancelled()

    def check_cancelled(self):
        self.calls += 1
        if self._cancel_after is not None and self.calls > self._cancel_after:
            raise Cancelled()


def test_cancel_stops_between_model_evaluations(detector, scan, explained):
    volume, _ = scan
    plugin = SaliencyExplainer()
    ctx = _Context(detector.explainable(), explained.findings[:2], cancel_after=4)
    params = resolve_params(
        next(
            i for i in discover(user=False, entry_points=False) if i.id == PLUGIN
        ).manifest.parameters,
        {"method": "ig", "internal_batch_size": 1},
    )
    plugin.prepare(ctx)
    with pytest.raises(Cancelled):
        plugin.run(volume, params, ctx)
    assert ctx.calls == 5  # progress, progress, then the first IG batches: stopped at once


def test_a_target_without_the_per_finding_hook_is_refused(detector, scan):
    volume, _ = scan
    ctx = _Context(detector.explainable(), ())
    ctx._hook = replace(ctx._hook, detect=None)
    plugin = SaliencyExplainer()
    with pytest.raises(PluginError, match="patch_for"):
        plugin.run(volume, {"target": "medview.nodule-cnn"}, ctx)


# -- command line ---------------------------------------------------------------------------
def _medview(args: list[str], home) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "medview", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_medview_run_writes_overlays_and_numbers(tmp_path, medview_home):
    """Detect, then explain with --reuse: the explanation explains the written findings."""
    study = write_demo_study(tmp_path / "ct", seed=0, size=128, slices=64)
    detections, out = tmp_path / "detections", tmp_path / "result"
    common = [str(study.directory), "--device", "cpu"]
    done = _medview(["run", "medview.nodule-cnn", *common, "--out", str(detections)], medview_home)
    assert done.returncode == 0, done.stderr
    args = ["run", PLUGIN, *common, "--out", str(out), "--reuse", str(detections)]
    args += ["--param", "target=medview.nodule-cnn", "--param", "method=gradcam"]
    done = _medview(args, medview_home)
    assert done.returncode == 0, done.stderr
    document = json.loads((out / "result.json").read_text())
    detected = json.loads((detections / "result.json").read_text())
    assert document["plugin"]["kind"] == "explanation"
    reused = document["metadata"]["detection"]["reused_detection"]
    assert reused["job_id"] == detected["provenance"]["job_id"]
    assert [f["center_lps_mm"] for f in document["findings"]] == [
        f["center_lps_mm"] for f in detected["findings"]
    ]
    target = document["metadata"]["target_plugin"]
    assert target["plugin_id"] == "medview.nodule-cnn"
    assert target["weights_sha256"] == detected["provenance"]["weights_sha256"]
    explanations = document["metadata"]["explanations"]
    assert len(document["overlays"]) == len(explanations) >= 1
    for overlay in document["overlays"]:
        assert (out / overlay["file"]).exists()
    assert all("peak_lps_mm" in e and "positive_fraction_in_radius" in e for e in explanations)
    assert document["provenance"]["parameters"]["method"] == "gradcam"

    # Findings of another model version are not explained with this one: a one-line refusal.
    detected["plugin"]["version"] = "0.9.0"
    (detections / "result.json").write_text(json.dumps(detected))
    again = ["run", PLUGIN, *common, "--out", str(tmp_path / "again"), "--reuse", str(detections)]
    done = _medview(again, medview_home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "0.9.0" in done.stderr and "result.json" in done.stderr
