"""Issue 11 AI1: every AI output names its model; a record the manifest contradicts is refused.

The result, the audit line, the SR (read with dsrdump), the SEG, the PDF and the JSON report
of one real `medview run` + `medview report` each state the plugin id and version, the full
SHA-256 of each weights file, the torch version and the device.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import metadata

import pydicom
import pymupdf
import pytest
from report_helpers import PLUGIN, READER

from medview.ai import accountability
from medview.ai.api import Provenance
from medview.ai.audit import AuditLog
from medview.ai.registry import discover
from medview.core.errors import MedviewError

TORCH = metadata.version("torch")


@pytest.fixture(scope="module")
def model_facts(demo_run):
    facts = accountability.facts(demo_run.document["provenance"])
    manifest = next(i.manifest for i in discover(user=False, entry_points=False) if i.id == PLUGIN)
    # What the run recorded is what the installed manifest lists, down to the weights.
    assert facts["weights_sha256"] == {w.name: w.sha256 for w in manifest.weights}
    assert facts["weights_sha256"] and all(len(v) == 64 for v in facts["weights_sha256"].values())
    assert (facts["plugin_id"], facts["plugin_version"]) == (PLUGIN, manifest.version)
    assert (facts["torch"], facts["device"]) == (TORCH, "cpu")
    return facts


def _expected_texts(facts) -> list[str]:
    sha = [f"weights:{k}={v}" for k, v in facts["weights_sha256"].items()]
    return [*sha, f"torch={facts['torch']}", f"device={facts['device']}"]


def test_result_and_audit_lines_state_the_model(demo_run, exported, model_facts):
    assert accountability.missing(demo_run.document["provenance"]) == []
    job_id = demo_run.document["provenance"]["job_id"]
    lines = AuditLog(demo_run.home / "data" / "audit.jsonl").read()
    (job,) = [r for r in lines if r.get("job_id") == job_id]
    assert accountability.facts(job) == model_facts
    # `medview report` records each finding's decision with the model that made it.
    decisions = AuditLog(demo_run.home / "data" / "review-audit.jsonl").read()
    on_findings = [r for r in decisions if r.get("finding_id")]
    assert on_findings and all(r["job_id"] == job_id for r in on_findings)
    assert all(accountability.facts(r) == model_facts for r in on_findings)


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="DCMTK dsrdump is needed")
def test_sr_states_the_model(exported, model_facts):
    text = subprocess.run(
        ["dsrdump", "+Pl", str(exported / "report-sr.dcm")],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    for expected in _expected_texts(model_facts):
        # TID 4019 "Algorithm Parameters" of the findings' algorithm
        assert f'TEXT:(,,"Algorithm Parameters")="{expected}"' in text
    assert f'"Algorithm Version")="{model_facts["plugin_version"]}"' in text
    assert model_facts["plugin_id"] in text  # the device observer's name (TID 1004)


def test_seg_states_the_model(exported, model_facts):
    seg = pydicom.dcmread(exported / "report-seg.dcm")
    for segment in seg.SegmentSequence:
        (algorithm,) = segment.SegmentationAlgorithmIdentificationSequence
        parameters = str(algorithm.AlgorithmParameters)
        for expected in _expected_texts(model_facts):
            assert expected in parameters
        assert algorithm.AlgorithmVersion == model_facts["plugin_version"]


def test_pdf_and_json_state_the_model(exported, model_facts):
    with pymupdf.open(exported / "report.pdf") as document:
        text = "".join(page.get_text() for page in document).replace("\n", " ")
    compact = text.replace(" ", "")
    for sha in model_facts["weights_sha256"].values():
        assert sha in compact  # the whole hash, not a prefix (it may wrap across lines)
    assert f"ran on cpu with torch {TORCH}" in text
    assert f"{PLUGIN}) {model_facts['plugin_version']}" in text
    document = json.loads((exported / "report.json").read_text(encoding="utf-8"))
    (algorithm,) = document["algorithms"]
    assert accountability.facts(algorithm["provenance"]) == model_facts


def _tampered(demo_run, tmp_path, change, whole=False):
    """A copy of the run's results folder whose provenance (or ``whole`` document)
    ``change`` edited."""
    folder = tmp_path / "results"
    shutil.copytree(demo_run.results, folder)
    document = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    change(document if whole else document["provenance"])
    (folder / "result.json").write_text(json.dumps(document), encoding="utf-8")
    return folder


def _report(demo_run, results, out, capsys):
    from report_helpers import home

    from medview.app.cli import main

    with home(demo_run.home):
        code = main(["report", str(demo_run.study.directory), "--results", str(results),
                     "--out", str(out), "--reader", READER, "--format", "json"])  # fmt: skip
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def test_weights_the_manifest_does_not_list_are_refused(demo_run, tmp_path, capsys):
    def swap(provenance):
        name = next(iter(provenance["weights_sha256"]))
        provenance["weights_sha256"][name] = "0" * 64

    results = _tampered(demo_run, tmp_path, swap)
    code, err = _report(demo_run, results, tmp_path / "out", capsys)
    assert code != 0
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err
    assert "result.json" in err and "manifest does not list" in err and "refused" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("fact", ["weights_sha256", "device", "versions"])
def test_a_result_that_does_not_state_its_model_is_refused(demo_run, tmp_path, capsys, fact):
    results = _tampered(demo_run, tmp_path, lambda provenance: provenance.pop(fact))
    code, err = _report(demo_run, results, tmp_path / "out", capsys)
    assert code != 0 and "does not state its" in err and "Traceback" not in err


def test_another_version_is_reported_as_recorded_with_a_warning(demo_run, tmp_path, capsys):
    def older(document):
        document["provenance"]["plugin_version"] = document["plugin"]["version"] = "0.9.0"

    results = _tampered(demo_run, tmp_path, older, whole=True)
    code, err = _report(demo_run, results, tmp_path / "out", capsys)
    assert code == 0, err
    assert "warning: " in err and "made by version 0.9.0" in err
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["algorithms"][0]["version"] == "0.9.0"


def test_a_result_that_contradicts_itself_is_refused(demo_run, tmp_path, capsys):
    def relabel(document):
        document["plugin"]["version"] = "9.9.9"  # the provenance still says the real one

    results = _tampered(demo_run, tmp_path, relabel, whole=True)
    code, err = _report(demo_run, results, tmp_path / "out", capsys)
    assert code != 0 and "but its provenance" in err and "refused" in err


def test_check_against_manifest_unit():
    class Weights:
        def __init__(self, name, sha256):
            self.name, self.sha256 = name, sha256

    class Manifest:
        id, version = "x.det", "2.0"
        weights = (Weights("model.safetensors", "a" * 64),)

    good = {"plugin_id": "x.det", "plugin_version": "2.0", "device": "cuda:0",
            "weights_sha256": {"model.safetensors": "a" * 64}, "versions": {"torch": "2.13.0"}}  # fmt: skip
    assert accountability.check_against_manifest(good, [Manifest]) == ""
    assert accountability.check_against_manifest({**good, "plugin_id": "y"}, [Manifest]) == ""
    extra = {**good, "weights_sha256": {"model.safetensors": "a" * 64, "head.bin": "b" * 64}}
    with pytest.raises(MedviewError, match=r"head\.bin"):
        accountability.check_against_manifest(extra, [Manifest])
    assert accountability.parameter_texts(good) == [
        f"weights:model.safetensors={'a' * 64}",
        "torch=2.13.0",
        "device=cuda:0",
    ]


def test_decision_audit_lines_name_the_model(tmp_path):
    from medview.ai.api import Finding, Result
    from medview.model.report_state import ReviewAudit
    from medview.model.review import FindingReview

    provenance = Provenance(
        "job1", "x.det", "2.0", "1.0", {"model.safetensors": "c" * 64}, {}, "cpu", "cpu",
        False, {"torch": TORCH}, "1.2.3", "1.2", "", "", 1.0, "succeeded",
    )  # fmt: skip
    finding = Finding("nodule", 0.8, (0.0, 0.0, 0.0), ((-1, -1, -1), (1, 1, 1)), (2, 2, 2))
    review = FindingReview()
    (finding_id,) = review.add_result(Result(findings=(finding,), provenance=provenance))
    log = AuditLog(tmp_path / "audit.jsonl")
    audit = ReviewAudit(review, "Doe^Jane", log)
    review.accept(finding_id)
    audit.close()
    (line,) = log.read()
    assert line["action"] == "accept" and line["finding_id"] == finding_id
    assert accountability.facts(line) == accountability.facts(provenance.as_dict())
    assert line["torch"] == TORCH and line["weights_sha256"] == {"model.safetensors": "c" * 64}
