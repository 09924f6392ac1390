"""One contract suite over every discovered plugin: a tiny synthetic volume, on the CPU.

Bundled, pip-installed (entry points) and user-folder plugins are all run through the same
runner the app uses. A plugin passes when it is available, declares what a radiologist must
know (intended use, licence, "not for diagnostic use"), and returns a valid result in patient
LPS coordinates on the input grid, twice (the second time after being released).
"""

from __future__ import annotations

import numpy as np
import pytest

from medview.ai.api import KINDS, Result
from medview.ai.audit import AuditLog
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import JobState, Runner
from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.imaging.volume import Volume, VolumeMeta

# Discovered at collection time, without the user folder (the developer's own plugins are not
# this repository's to test); MEDVIEW_HOME points at a temporary folder for each test.
PLUGINS = discover(user=False)


def tiny_volume(manifest) -> Volume:
    """The smallest volume the manifest accepts, CT-like for CT plugins."""
    low, high = manifest.spacing_mm
    spacing = float(np.clip(3.0, low, high))
    slices = max(manifest.min_slices, 24)
    modality = manifest.modalities[0] if manifest.modalities else "CT"
    if modality == "CT":
        volume, _ = make_phantom(
            PhantomSpec(size=64, slices=slices, pixel_spacing=spacing, slice_spacing=spacing)
        )
        return volume.with_array(volume.array, series_uid="1.2.826.0.1.3680043.9.77")
    rng = np.random.default_rng(0)
    array = rng.normal(100, 20, (slices, 64, 64)).astype(np.float32)
    meta = VolumeMeta(modality=modality, series_uid="1.2.826.0.1.3680043.9.78")
    return Volume(array, (spacing,) * 3, (-96.0, -96.0, -40.0), np.eye(3), meta)


def test_something_is_discovered():
    assert any(info.id == "medview.threshold-blobs" for info in PLUGINS)


@pytest.mark.parametrize("info", PLUGINS, ids=lambda info: info.id)
def test_manifest_says_what_a_user_must_know(info):
    assert info.available, info.reason
    manifest = info.manifest
    assert manifest.kind in KINDS
    assert manifest.intended_use and manifest.license
    assert manifest.not_for_diagnostic_use is True
    assert "cpu" in manifest.devices, "the contract suite (and CI) needs a CPU path"
    for spec in manifest.parameters:
        assert spec.coerce(spec.default) == spec.default
        assert spec.label and spec.help, f"parameter {spec.name} needs a label and help"


@pytest.mark.parametrize("info", PLUGINS, ids=lambda info: info.id)
def test_runs_on_a_tiny_volume_with_a_valid_result(info, tmp_path):
    manifest = info.manifest
    volume = tiny_volume(manifest)
    assert manifest.applies_to(volume) is None
    # An explanation plugin runs (and explains) another plugin: it needs the others installed.
    registry = PluginRegistry(PLUGINS if manifest.kind == "explanation" else [info])
    runner = Runner(
        registry,
        default_device="cpu",
        cache_capacity=1,
        audit=AuditLog(tmp_path / "audit.jsonl"),
        default_timeout_s=120,
    )
    fractions: list[float] = []  # progress of the current run

    class Listener:
        def job_state_changed(self, job):
            pass

        def job_progress(self, job, fraction, message):
            fractions.append(fraction)

        def job_finished(self, job):
            pass

    try:
        for _ in range(2):  # the second run checks prepare/run after release
            fractions.clear()
            job = runner.submit(manifest.id, volume, listener=Listener())
            assert job.wait(120), "the plugin did not finish in 120 s on a tiny volume"
            assert job.state is JobState.SUCCEEDED, job.error
            _check_result(job.result, volume, manifest)
            assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
            runner.cache.clear()
    finally:
        runner.shutdown()
    assert len(runner.audit.read()) == 2


def _check_result(result: Result, volume: Volume, manifest) -> None:
    low = volume.index_to_lps((-0.5, -0.5, -0.5))
    high = volume.index_to_lps(tuple(n - 0.5 for n in volume.size_ijk))
    box_low, box_high = np.minimum(low, high) - 1e-3, np.maximum(low, high) + 1e-3
    for finding in result.findings:
        assert 0.0 <= finding.score <= 1.0
        center = np.array(finding.center_lps_mm)
        assert np.all(center >= box_low) and np.all(center <= box_high), "centre outside"
        assert all(s >= 0 for s in finding.size_mm)
        if finding.mask is not None:
            assert finding.mask.shape == volume.shape
            np.testing.assert_allclose(finding.mask.affine, volume.affine, atol=1e-4)
    for overlay in result.overlays:
        assert np.isfinite(overlay.volume.array).all()
    for derived in result.volumes:
        assert derived.meta.derived and derived.meta.derivation
    provenance = result.provenance
    assert provenance.plugin_id == manifest.id and provenance.plugin_version == manifest.version
    assert provenance.device == "cpu" and provenance.outcome == "succeeded"
    assert provenance.input_series_uid == volume.meta.series_uid
    assert set(provenance.weights_sha256) == {w.name for w in manifest.weights}
