"""The GUI's export path without Qt (issue 8): a review snapshot -> files, as the report
panel's worker runs it (:mod:`medview.model.report_export`), and the per-study text drafts."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pydicom
import pytest
from report_helpers import attribution

from medview.ai.api import Finding, Overlay, Provenance, Result
from medview.core.errors import MedviewError
from medview.core.paths import app_dirs
from medview.imaging.volume import Volume
from medview.model.report_draft import ReportDraft, draft_path, load_draft, save_draft
from medview.model.report_export import (
    ReportRequest,
    explanations_of,
    export_reviewed,
    report_language,
)
from medview.model.report_state import ReviewAudit
from medview.model.review import FindingReview

READER = "Doe^Jane"


def _provenance(plugin_id: str, job_id: str) -> Provenance:
    return Provenance(
        job_id=job_id, plugin_id=plugin_id, plugin_version="1.0", api_version="1.0",
        weights_sha256={}, parameters={"method": "gradcam"}, device="cpu",
        device_requested="auto", mixed_precision=False, versions={}, input_series_uid="",
        input_study_uid="", started="", finished="", seconds=1.0, outcome="succeeded",
    )  # fmt: skip


def _saliency_result(volume) -> Result:
    """What ``medview.saliency`` returns: the detector's findings again, each explained."""
    findings = tuple(
        Finding.from_voxel_box(volume, "nodule", 0.9 - 0.2 * n, (k, j - 2, i - 2),
                               (k + 1, j + 2, i + 2))
        for n, (i, j, k) in enumerate(((22, 9, 4), (10, 20, 7)))
    )  # fmt: skip
    maps = (attribution(volume.shape), np.ones(volume.shape, np.float32))
    overlays = tuple(
        Overlay(f"saliency-gradcam-finding-{n:03d}", volume.with_array(a), "Grad-CAM")
        for n, a in enumerate(maps, start=1)
    )
    metadata = {
        "method": {"method": "gradcam", "layer": "encoder.3"},
        "explanations": [
            {"finding": n, "overlay": o.name, "seconds": 0.5} for n, o in enumerate(overlays, 1)
        ],
    }
    return Result(findings, overlays, metadata=metadata, provenance=_provenance("x.sal", "j1"))


def test_explanations_of_a_saliency_result(saliency_study):
    volume = saliency_study.sources.volume
    result = _saliency_result(volume)
    found = explanations_of(result, volume)
    assert sorted(found) == [0, 1]
    assert found[0].method == "gradcam" and found[0].parameters == {"layer": "encoder.3"}
    assert found[0].plugin_id == "x.sal" and found[0].summary == {"seconds": 0.5}
    np.testing.assert_array_equal(found[0].array, attribution(volume.shape))
    # A map on another grid cannot become Parametric Map frames on the source slices.
    coarse = Volume(np.zeros((2, 2, 2), np.float32), (8.0, 8.0, 8.0))
    other = replace(result, overlays=(Overlay(result.overlays[0].name, coarse),))
    assert explanations_of(other, volume) == {}


def test_only_accepted_findings_are_reported_with_their_maps(saliency_study, tmp_path):
    sources = saliency_study.sources
    volume = sources.volume
    result = _saliency_result(volume)
    review = FindingReview()
    ids = review.add_result(result)
    audit = ReviewAudit(review, READER)
    review.accept(ids[0])
    review.reject(ids[1], note="vessel")
    explanations = {f"j1/{i}": e for i, e in explanations_of(result, volume).items()}
    request = ReportRequest(
        volume=volume, source_paths=lambda: sources.paths, out_dir=tmp_path / "out",
        formats=("sr", "pm", "json"), reader=READER, findings=tuple(review),
        provenances={"j1": review.provenance("j1")}, explanations=explanations,
        plugin_names={"x.sal": ("Saliency", "Research only.")}, audit=tuple(audit.events),
        impression="Nodule.", language=report_language("zh_CN"), sign=True,
    )  # fmt: skip
    outcome = export_reviewed(request)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["report-pm-001.dcm", "report-sr.dcm", "report.json"]
    assert outcome.file_names() == ["report-pm-001.dcm", "report-sr.dcm", "report.json"]
    pm = pydicom.dcmread(tmp_path / "out" / "report-pm-001.dcm")
    assert pm.SOPInstanceUID == outcome.result.pm_uids[ids[0]]
    sr = pydicom.dcmread(tmp_path / "out" / "report-sr.dcm")
    assert sr.VerificationFlag == "VERIFIED"
    document = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert document["language"] == "zh" and document["impression"] == "Nodule."
    assert [f["status"] for f in document["findings"]] == ["accepted", "rejected"]
    assert document["findings"][1]["explanation"] is None  # rejected: not reported
    assert [e["action"] for e in document["audit"]] == ["accept", "reject", "finalize"]


def test_an_unwritable_target_is_one_sentence_naming_it(saliency_study, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    sources = saliency_study.sources
    for target in (blocker, blocker / "report"):
        request = ReportRequest(volume=sources.volume, source_paths=lambda: sources.paths,
                                out_dir=target, formats=("json",))  # fmt: skip
        with pytest.raises(MedviewError) as caught:
            export_reviewed(request)
        assert str(target) in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(MedviewError, match="reader"):
        export_reviewed(replace(request, out_dir=tmp_path / "ok", sign=True))


def test_drafts_are_kept_per_study(tmp_path):
    dirs = app_dirs()
    path = draft_path(dirs, "1.2.3")
    assert path.parent == dirs.data / "report-drafts" and path.name == "1.2.3.json"
    assert load_draft(path) == ReportDraft()
    save_draft(path, ReportDraft("Findings 所见", "Impression"))
    assert load_draft(path) == ReportDraft("Findings 所见", "Impression")
    path.write_text("{broken", encoding="utf-8")
    assert load_draft(path) == ReportDraft()  # text to type again, not a crash
    save_draft(path, ReportDraft())
    assert not path.exists()
    with pytest.raises(ValueError):
        draft_path(dirs, "")
