"""The GUI path: FindingReview decisions audited and turned into a ReportModel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medview.ai.api import Finding, Provenance, Result
from medview.ai.audit import AuditLog
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.report_state import ReviewAudit, build_report
from medview.model.review import FindingReview
from medview.reports.json_report import report_document
from medview.reports.model import StudyInfo


def _provenance() -> Provenance:
    return Provenance(
        job_id="job1", plugin_id="x.det", plugin_version="2.0", api_version="1.0",
        weights_sha256={"w": "cd" * 32}, parameters={"threshold": 0.5}, device="cpu",
        device_requested="auto", mixed_precision=False, versions={}, input_series_uid="1.2.3",
        input_study_uid="1.2", started="", finished="", seconds=1.0, outcome="succeeded",
    )  # fmt: skip


@pytest.fixture
def volume() -> Volume:
    array = np.full((6, 20, 20), -800, np.int16)
    return Volume(array, (1.0, 1.0, 2.0), meta=VolumeMeta(modality="CT", study_uid="1.2"))


def test_every_decision_is_audited_and_reported(volume, tmp_path):
    mask = volume.with_array(np.zeros(volume.shape, np.uint8))
    findings = tuple(
        Finding.from_voxel_box(volume, "nodule", 0.8, (2, 5 + i, 5), (3, 7 + i, 7), mask=mask,
                               code=("27925004", "SCT", "Nodule"),
                               measurements={"diameter_mm": 3.0, "volume_mm3": 14.0})
        for i in range(3)
    )  # fmt: skip
    review = FindingReview()
    ids = review.add_result(Result(findings=findings, provenance=_provenance()))
    log = AuditLog(tmp_path / "review-audit.jsonl")
    audit = ReviewAudit(review, "Doe^Jane", log)
    review.accept(ids[0])
    review.edit(ids[1], label="part-solid nodule", size_mm=(9.0, 8.0, 6.0))
    review.reject(ids[2], note="vessel")
    review.reset(ids[2])
    review.reject(ids[2])
    assert [e.action for e in audit.events] == ["accept", "edit", "reject", "reset", "reject"]
    edit = audit.events[1]
    assert edit.who == "Doe^Jane" and edit.at
    assert edit.changes["label"] == ["nodule", "part-solid nodule"]
    assert edit.changes["status"] == ["pending", "accepted"]
    assert len(log.read()) == 5 and log.read()[0]["job_id"] == "job1"
    audit.close()

    model = build_report(
        review, volume, StudyInfo(study_uid="1.2"), reader="Doe^Jane", audit=audit.events,
        plugin_names={"x.det": ("Detector", "Research only.")}, impression="Two nodules.",
    )  # fmt: skip
    reported = model.reported_findings()
    assert [f.id for f in reported] == ids[:2]
    assert reported[1].edited and reported[1].long_axis_mm == 9.0
    assert reported[0].long_axis_mm == 3.0
    assert reported[0].mask is not None and reported[0].mask.shape == volume.shape
    (algorithm,) = model.algorithms()
    assert algorithm.name == "Detector" and algorithm.version == "2.0"
    document = json.loads(json.dumps(report_document(model)))
    assert [f["status"] for f in document["findings"]] == ["accepted", "accepted", "rejected"]
    assert [e["action"] for e in document["findings"][2]["audit"]] == ["reject", "reset", "reject"]
    assert document["findings"][0]["provenance"]["job_id"] == "job1"
    # the device UID changes with the weights (IHE AIR)
    other = type(algorithm)(**{**algorithm.__dict__, "weights_sha256": {"w": "ef" * 32}})
    assert other.device_uid != algorithm.device_uid
