"""The bundled example plugin finds the phantom's nodules with few false positives."""

from __future__ import annotations

import numpy as np
import pytest

from medview.ai.audit import AuditLog
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import JobState, Runner
from medview.imaging.phantom import PhantomSpec, make_phantom

PLUGIN = "medview.threshold-blobs"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    infos = [i for i in discover(user=False, entry_points=False) if i.id == PLUGIN]
    runner = Runner(
        PluginRegistry(infos),
        default_device="cpu",
        audit=AuditLog(tmp_path_factory.mktemp("audit") / "audit.jsonl"),
    )
    yield runner
    runner.shutdown()


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_findings_fall_on_true_nodules(runner, seed):
    volume, truth = make_phantom(PhantomSpec(size=128, slices=64, seed=seed))
    job = runner.run(PLUGIN, volume)
    assert job.state is JobState.SUCCEEDED, job.error
    findings = job.result.findings
    centres = np.array([t.center_lps for t in truth])
    on_nodule = []
    for finding in findings:
        distance = np.linalg.norm(centres - np.array(finding.center_lps_mm), axis=1)
        nearest = int(distance.argmin())
        on_nodule.append(distance[nearest] <= truth[nearest].diameter_mm / 2 + 3.0)
        assert finding.code == ("27925004", "SCT", "Nodule")
        assert finding.measurements["diameter_mm"] > 0
    # The confident ones are all right; at most one weak false positive per study.
    assert all(ok for ok, f in zip(on_nodule, findings, strict=True) if f.score >= 0.5)
    assert on_nodule.count(False) <= 1
    assert on_nodule.count(True) >= 2


def test_a_lower_threshold_parameter_changes_the_result(runner):
    volume, _ = make_phantom(PhantomSpec(size=128, slices=64, seed=2))
    strict = runner.run(PLUGIN, volume, {"min_score": 0.9})
    loose = runner.run(PLUGIN, volume, {"min_score": 0.0})
    assert len(strict.result.findings) < len(loose.result.findings)
    assert all(f.score >= 0.9 for f in strict.result.findings)
    assert strict.provenance.parameters["min_score"] == 0.9
