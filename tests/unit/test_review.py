"""The radiologist's review of AI findings (Qt-free model; issue 4, read by issue 8)."""

from __future__ import annotations

import pytest

from medview.ai.api import Finding, Provenance, Result
from medview.model.review import FindingReview, ReviewStatus


def _provenance(job_id: str = "job-1") -> Provenance:
    return Provenance(
        job_id=job_id, plugin_id="org.example.blobs", plugin_version="1.0", api_version="1",
        weights_sha256={}, parameters={"threshold": -300}, device="cpu", device_requested="auto",
        mixed_precision=False, versions={"medview": "0"}, input_series_uid="1.2.3",
        input_study_uid="1.2", started="2026-11-26T10:00:00", finished="2026-11-26T10:00:01",
        seconds=1.0, outcome="succeeded",
    )  # fmt: skip


def _finding(x: float, score: float = 0.8) -> Finding:
    return Finding(
        label="lung nodule", score=score, center_lps_mm=(x, 0.0, 0.0),
        bbox_lps_mm=((x - 3, -3, -3), (x + 3, 3, 3)), size_mm=(6.0, 6.0, 6.0),
    )  # fmt: skip


@pytest.fixture
def review():
    review = FindingReview()
    review.add_result(
        Result(findings=(_finding(10.0), _finding(-20.0, 0.4)), provenance=_provenance())
    )
    return review


def test_findings_start_pending_with_stable_ids(review):
    assert [f.id for f in review] == ["job-1/0", "job-1/1"]
    assert review.counts() == {"pending": 2, "accepted": 0, "rejected": 0}


def test_accept_reject_and_reset(review):
    changed = []
    review.subscribe(changed.append)
    review.accept("job-1/0", note="solid, 6 mm")
    review.reject("job-1/1")
    assert review.counts() == {"pending": 0, "accepted": 1, "rejected": 1}
    assert review.get("job-1/0").note == "solid, 6 mm" and review.get("job-1/0").reviewed_at
    assert changed == ["job-1/0", "job-1/1"]
    review.reset("job-1/1")
    assert review.get("job-1/1").status is ReviewStatus.PENDING


def test_edit_keeps_the_original_and_counts_as_accepted(review):
    edited = review.edit(
        "job-1/0", center_lps_mm=(11.0, 1.0, 0.5), size_mm=(8, 7, 6), label="nodule, solid"
    )
    assert edited.status is ReviewStatus.ACCEPTED and edited.edited
    assert edited.center_lps_mm == (11.0, 1.0, 0.5) and edited.size_mm == (8.0, 7.0, 6.0)
    assert edited.finding.center_lps_mm == (10.0, 0.0, 0.0)  # the plugin's own, unchanged
    record = review.records()[0]
    assert record["label"] == "nodule, solid" and record["original"]["label"] == "lung nodule"
    assert record["provenance"]["plugin_id"] == "org.example.blobs"
    with pytest.raises(ValueError):
        review.edit("job-1/0", size_mm=(-1, 2, 3))
    with pytest.raises(ValueError):
        review.edit("job-1/0", label="  ")


def test_a_result_without_provenance_is_refused_and_jobs_can_go():
    review = FindingReview()
    with pytest.raises(ValueError, match="provenance"):
        review.add_result(Result(findings=(_finding(0.0),)))
    review.add_result(Result(findings=(_finding(0.0),), provenance=_provenance("job-2")))
    review.remove_job("job-2")
    assert len(review) == 0
    with pytest.raises(KeyError):
        review.get("job-2/0")
