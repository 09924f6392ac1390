"""The PDF (opens, findings table, key images, CJK) and the JSON of a report."""

from __future__ import annotations

import json

import numpy as np
import pymupdf
import pytest

from medview.imaging.volume import Volume, VolumeMeta
from medview.reports.model import Algorithm, ReportedFinding, ReportModel, StudyInfo
from medview.reports.pdf import render_pdf


def _render(document, index=0) -> np.ndarray:
    pixmap = document[index].get_pixmap(dpi=60)
    return np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width, -1)


def test_pdf_has_the_findings_table_and_key_images(exported, demo_run):
    with pymupdf.open(exported / "report.pdf") as document:
        assert 1 <= document.page_count <= 2
        text = "".join(page.get_text() for page in document)
        for word in ("Findings", "Long axis", "AI score", "Accepted by", "Key images",
                     "Model provenance", "Intended use", "Two nodules.", "Doe Jane"):  # fmt: skip
            assert word in text, word
        for finding in demo_run.document["findings"]:
            assert f"{finding['measurements']['diameter_mm']:.1f} mm" in text
        assert "UNVERIFIED" in text
        images = [image for page in document for image in page.get_images()]
        assert len(images) == len(demo_run.document["findings"])
        pixels = _render(document)
        assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # not blank
        # the key image region holds mid greys (CT), not only text
        fonts = [font for page in document for font in page.get_fonts()]
        assert all(font[1] == "ttf" or "+" in font[3] for font in fonts)  # embedded subsets


def _tiny_model(language: str) -> tuple[ReportModel, Volume]:
    array = np.full((8, 32, 32), -800, np.int16)
    array[3:6, 12:18, 12:18] = 40
    volume = Volume(array, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3), VolumeMeta(modality="CT"))
    finding = ReportedFinding(
        id="job/0",
        label="肺结节",
        center_lps_mm=(15.0, 15.0, 8.0),
        size_mm=(6.0, 6.0, 6.0),
        bbox_lps_mm=((12.0, 12.0, 5.0), (18.0, 18.0, 11.0)),
        measurements={"diameter_mm": 6.2, "volume_mm3": 110.0, "mean_hu": 40.0},
        score=0.9,
        algorithm=Algorithm("x.det", "Detector", "2.0", weights_sha256={"w": "ab" * 32}),
        decided_by="李^医生",
    )
    study = StudyInfo(patient_name="张^三", patient_id="P1", study_date="20260101")
    model = ReportModel(study, reader="李^医生", findings=[finding], language=language,
                        impression="右肺结节。")  # fmt: skip
    return model, volume


def test_pdf_in_chinese_embeds_a_cjk_font():
    model, volume = _tiny_model("zh")
    with pymupdf.open(stream=render_pdf(model, volume), filetype="pdf") as document:
        text = document[0].get_text()
        for word in ("张 三", "所见", "关键图像", "肺结节", "右肺结节。", "李 医生", "预期用途"):
            assert word in text, word
        assert _render(document).std() > 10
        assert document[0].get_images()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_pdf_without_volume_has_no_key_images(language):
    model, _ = _tiny_model(language)
    with pymupdf.open(stream=render_pdf(model, None), filetype="pdf") as document:
        assert not document[0].get_images()


def test_json_report_matches_the_results(exported, demo_run):
    document = json.loads((exported / "report.json").read_text(encoding="utf-8"))
    assert document["format"] == "medview.report" and document["schema_version"] == 1
    assert document["verification"]["flag"] == "UNVERIFIED"
    assert document["study"]["study_instance_uid"] == demo_run.study.study_uid
    assert document["impression"] == "Two nodules."
    results = demo_run.document
    assert len(document["findings"]) == len(results["findings"])
    for number, (finding, raw) in enumerate(
        zip(document["findings"], results["findings"], strict=True), start=1
    ):
        assert finding["status"] == "accepted" and finding["decided_by"] == "Doe^Jane"
        assert finding["long_axis_mm"] == pytest.approx(raw["measurements"]["diameter_mm"])
        assert finding["volume_mm3"] == pytest.approx(raw["measurements"]["volume_mm3"])
        assert finding["code"] == raw["code"]
        assert finding["segment_number"] == number
        assert finding["provenance"]["job_id"] == results["provenance"]["job_id"]
        (event,) = finding["audit"]
        assert event["action"] == "accept" and event["who"] == "Doe^Jane" and event["at"]
        assert "no review file" in event["note"]
    (algorithm,) = document["algorithms"]
    assert algorithm["plugin_id"] == "medview.threshold-blobs"
    assert algorithm["weights_sha256"] == results["provenance"]["weights_sha256"]
    assert set(document["objects"]) == {"sr", "seg", "pdf"}
    # every decision also lands in the review audit log beside the job audit log
    lines = (demo_run.home / "data" / "review-audit.jsonl").read_text().splitlines()
    assert any(json.loads(line)["job_id"] == results["provenance"]["job_id"] for line in lines)
