"""Saliency key images and explanation provenance in the PDF report (issue 7, report hook).

End to end: a saliency results folder written by the real ``write_outputs`` (two findings,
the first explained with Integrated Gradients, the second not) goes through `medview report`;
the PDF is read back with pymupdf (text, embedded images, a rendered page).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pymupdf
import pytest
from PIL import Image
from report_helpers import READER, SALIENCY_FINDINGS, home, write_saliency_results

from medview.app.cli import main
from medview.reports.model import ReportModel, StudyInfo
from medview.reports.pdf import render_pdf
from medview.reports.pdf_images import key_frame, key_image
from medview.reports.pdf_saliency import PEAK_GREEN, THRESHOLD, heat_rgba, saliency_image
from medview.reports.results import load_results

METHOD = {"method": "ig", "n_steps": 32, "internal_batch_size": 8, "baseline": "air"}
CAPTION = "AI explanation — not for diagnosis"
PROVENANCE = (
    "AI explanation of finding(s) 1: Integrated Gradients (ig), medview.saliency 1.0.0; "
    "parameters: baseline=air, internal_batch_size=8, n_steps=32"
)


def _reddish(pixels: np.ndarray) -> np.ndarray:
    """Heat colours over the CT: strong red, clearly less green and blue. The markers (yellow
    box, green line, white text) and the grey CT are not."""
    rgb = np.asarray(pixels, dtype=np.int32)[..., :3]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 150) & (r - g > 60) & (r - b > 60)


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def explained(saliency_study):
    root = saliency_study.root
    results = root / "saliency-pdf"
    volume = saliency_study.sources.volume
    maps = write_saliency_results(volume, results, explained=(1,), count=2, method=METHOD)
    out = root / "report-saliency-pdf"
    with home(root / "home-pdf"):
        args = ["report", str(saliency_study.demo.directory), "--results", str(results)]
        assert main([*args, "--out", str(out), "--reader", READER, "--format", "pdf,json"]) == 0
    findings = load_results(results, volume, READER).findings
    return SimpleNamespace(out=out, maps=maps, volume=volume, findings=findings)


def test_heat_colours_are_positive_only_and_thresholded():
    values = np.array([-1.0, 0.0, 0.1, 0.19, 0.2, 0.5, 1.0], np.float32)
    rgba = heat_rgba(values)
    assert rgba[:4, 3].tolist() == [0, 0, 0, 0]  # negative, zero, below 20 % of the max
    assert (rgba[4:, 3] > 0).all() and rgba[4, 3] < rgba[5, 3] < rgba[6, 3]
    assert (rgba[4:, 0] == 255).all() and (rgba[4:, 2] == 0).all()
    assert rgba[4, 1] == 0 and rgba[6, 1] == PEAK_GREEN  # red at the threshold, orange at the max
    assert THRESHOLD == 0.2
    # normalised to the positive maximum, whatever the negative values
    assert (heat_rgba(-values)[:, 3] > 0).tolist() == [True] + [False] * 6
    assert not heat_rgba(np.zeros((3, 3))).any()
    assert not heat_rgba(-np.ones((3, 3))).any()


def test_saliency_key_image_shows_heat_at_the_finding_only_where_positive(explained):
    volume, (first, second) = explained.volume, explained.findings
    assert first.explanation is not None and second.explanation is None
    assert saliency_image(volume, second, 2) is None
    frame = key_frame(volume, first)
    heat = np.asarray(saliency_image(volume, first, 1))
    plain = np.asarray(Image.open(io.BytesIO(key_image(volume, first, 1))))
    assert heat.shape == plain.shape  # the same slice and crop as the plain key image
    assert not _reddish(plain).any()
    # around the finding's marker (its centre, within the 6 mm box and a margin)
    x, y = (round(v) for v in frame.to_px(*frame.center_ij))
    margin = round(6.0 * frame.scale)
    near = _reddish(heat[max(y - margin, 0) : y + margin, max(x - margin, 0) : x + margin])
    assert near.sum() > 50
    # positive attribution only: the negated map has none in this crop (its positive part,
    # the negated weak blob, lies outside it), so nothing is drawn
    negated = replace(first.explanation, array=-first.explanation.array)
    assert not _reddish(
        np.asarray(saliency_image(volume, replace(first, explanation=negated), 1))
    ).any()


def test_pdf_has_the_caption_and_provenance_for_the_explained_finding_only(explained):
    with pymupdf.open(explained.out / "report.pdf") as document:
        text = _words("".join(page.get_text() for page in document))
    assert text.count(CAPTION) == 1
    assert f"1. Integrated Gradients: {CAPTION}" in text
    assert "2. Integrated Gradients" not in text
    assert PROVENANCE in text
    assert text.index("Model provenance") < text.index(PROVENANCE)
    assert text.count("AI explanation of finding(s)") == 1


def test_pdf_saliency_image_sits_under_its_finding_and_holds_the_heat(explained):
    with pymupdf.open(explained.out / "report.pdf") as document:
        placed = []  # (rect, reddish pixel count of the embedded image)
        for page in document:
            for xref, *_ in page.get_images():
                data = document.extract_image(xref)["image"]
                pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                for rect in page.get_image_rects(xref):
                    placed.append((page.number, rect, int(_reddish(pixels).sum())))
        assert len(placed) == 3  # two plain key images, one saliency key image
        heated = [p for p in placed if p[2] > 0]
        assert len(heated) == 1
        page_number, rect, _ = heated[0]
        plain = sorted((p for p in placed if p[2] == 0), key=lambda p: p[1].x0)
        assert [p[0] for p in plain] == [page_number, page_number]
        first = plain[0][1]
        assert abs(rect.x0 - first.x0) < 0.5 and rect.y0 > first.y1  # under finding 1
        # on the rendered page, heat colours lie inside the saliency image and nowhere else
        page = document[page_number]
        zoom = 100 / 72
        pixmap = page.get_pixmap(dpi=100)
        pixels = np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width, -1)
        ys, xs = np.nonzero(_reddish(pixels))
        assert len(xs) > 50
        assert xs.min() >= rect.x0 * zoom - 2 and xs.max() <= rect.x1 * zoom + 2
        assert ys.min() >= rect.y0 * zoom - 2 and ys.max() <= rect.y1 * zoom + 2


def test_json_report_names_the_method_and_its_parameters(explained):
    document = json.loads((explained.out / "report.json").read_text(encoding="utf-8"))
    first, second = document["findings"]
    assert second["explanation"] is None
    explanation = first["explanation"]
    assert explanation["overlay"] == "saliency-ig-finding-001"
    assert explanation["method"] == "ig" and explanation["method_name"] == "Integrated Gradients"
    assert explanation["parameters"] == {k: v for k, v in METHOD.items() if k != "method"}
    assert (explanation["plugin_id"], explanation["plugin_version"]) == (
        "medview.saliency",
        "1.0.0",
    )
    assert len(document["findings"]) == len(SALIENCY_FINDINGS[:2])


def test_chinese_pdf_has_the_caption_in_chinese(explained):
    model = ReportModel(StudyInfo(patient_name="张^三"), findings=explained.findings, language="zh")
    with pymupdf.open(stream=render_pdf(model, explained.volume), filetype="pdf") as document:
        text = _words("".join(page.get_text() for page in document))
    assert text.count("AI 解释——不用于诊断") == 1
    assert "所见 1 的 AI 解释: Integrated Gradients (ig)" in text
