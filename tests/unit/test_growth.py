"""Nodule change between a prior and a current scan (medview.model.growth, medview growth)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from medview.dicom.demo import write_demo_study
from medview.imaging.planes import rotation_matrix
from medview.imaging.registration import Alignment, identity
from medview.model.growth import compare_findings, doubling_time_days, interval_days
from medview.reports.model import ReportedFinding


def _finding(name: str, centre, diameter: float, volume: float | None = None) -> ReportedFinding:
    measurements = {"diameter_mm": diameter}
    if volume is not None:
        measurements["volume_mm3"] = volume
    c = tuple(float(v) for v in centre)
    return ReportedFinding(name, "nodule", c, (diameter,) * 3, (c, c), measurements=measurements)


def test_doubling_time_and_interval():
    assert interval_days("20260101", "20250502") == 244
    assert interval_days("", "20250502") is None
    # A volume that doubled in 100 days doubles in 100 days; one that shrank has no VDT.
    assert doubling_time_days(100.0, 200.0, 100) == pytest.approx(100.0)
    assert doubling_time_days(100.0, 400.0, 100) == pytest.approx(50.0)
    assert doubling_time_days(200.0, 100.0, 100) is None
    assert doubling_time_days(100.0, 200.0, 0) is None


def test_findings_are_matched_through_the_alignment():
    matrix = np.eye(4)
    matrix[:3, :3] = rotation_matrix((0, 0, 1), 10.0)
    matrix[:3, 3] = (30.0, -20.0, 15.0)  # far more than the match radius
    alignment = Alignment(matrix, 0.0, 0.0)
    here = [(10.0, 10.0, 10.0), (-40.0, 5.0, 0.0), (0.0, -60.0, 20.0)]
    there = [alignment.to_moving(p) for p in here]
    current = [
        _finding("grew", here[0], 9.0, 4.0 / 3.0 * math.pi * 4.5**3),
        _finding("same", here[1], 6.0),
        _finding("new", here[2], 5.0),
    ]
    prior = [
        _finding("same-before", there[1] + 1.0, 6.4),  # 1.7 mm away after alignment
        _finding("grew-before", there[0], 6.0, 4.0 / 3.0 * math.pi * 3.0**3),
        _finding("gone", (100.0, 100.0, 100.0), 7.0),
    ]
    changes = {
        (c.current.id if c.current else c.prior.id): c
        for c in compare_findings(current, prior, alignment, 365)
    }
    grew = changes["grew"]
    assert grew.status == "growing" and grew.prior.id == "grew-before"
    assert grew.diameter_change_mm == pytest.approx(3.0)
    assert grew.volume_change_percent == pytest.approx(100.0 * (1.5**3 - 1.0))
    assert grew.doubling_time_days == pytest.approx(365 * math.log(2) / math.log(1.5**3))
    assert changes["same"].status == "stable" and changes["same"].prior.id == "same-before"
    assert changes["same"].distance_mm == pytest.approx(math.sqrt(3.0))
    assert changes["new"].status == "new" and changes["gone"].status == "resolved"
    # Without the alignment nothing lines up: the same findings are all new or resolved.
    unaligned = compare_findings(current, prior, identity(), 365)
    assert sorted(c.status for c in unaligned) == ["new"] * 3 + ["resolved"] * 3


def _prior_with_smaller_nodule(current, folder: Path, rotation, shift, study_date: str) -> dict:
    """The demo rewritten as a scan taken earlier, the patient moved by (rotation, shift), its
    largest nodule 70 % of today's diameter; returns that nodule's truth."""
    truth = json.loads(current.truth_path.read_text())["nodules"]
    big = max(truth, key=lambda n: n["diameter_mm"])
    centre, radius = np.asarray(big["center_lps"]), big["diameter_mm"] / 2.0
    folder.mkdir()
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for path in current.files:
        ds = pydicom.dcmread(path)
        row, column = np.reshape(np.asarray(ds.ImageOrientationPatient, float), (2, 3))
        position = np.asarray(ds.ImagePositionPatient, float)
        spacing = np.asarray(ds.PixelSpacing, float)
        pixels = ds.pixel_array.copy()
        j, i = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
        lps = position + i[..., None] * spacing[1] * row + j[..., None] * spacing[0] * column
        distance = np.linalg.norm(lps - centre, axis=-1)
        shell = (distance > 0.7 * radius) & (distance <= radius + 1.0)
        if shell.any():  # lung parenchyma where the nodule has not grown yet
            pixels[shell] = round((-860 - float(ds.RescaleIntercept)) / float(ds.RescaleSlope))
            ds.PixelData = pixels.tobytes()
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*rotation @ row, *rotation @ column)]
        ds.ImagePositionPatient = [f"{v:.4f}" for v in rotation @ position + shift]
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.StudyDate = ds.SeriesDate = study_date
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / path.name, enforce_file_format=True)
    return big


def _medview(*args, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "medview", *args], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip


def test_medview_growth_finds_the_nodule_that_grew(tmp_path):
    """End to end: the example detector on both scans (real DICOM, moved 18 mm and 3 degrees,
    8 months apart), then `medview growth`: the grown nodule and only it is growing."""
    current = write_demo_study(tmp_path / "current", seed=5, size=128, slices=80)
    rotation, shift = rotation_matrix((0, 0, 1), 3.0), np.array([12.0, -6.0, 12.0])
    big = _prior_with_smaller_nodule(current, tmp_path / "prior", rotation, shift, "20250502")
    home = tmp_path / "home"
    for scan, out in (("current", "rc"), ("prior", "rp")):
        done = _medview(
            "run", "medview.threshold-blobs", str(tmp_path / scan), "--out", str(tmp_path / out),
            "--device", "cpu", home=home,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    done = _medview(
        "growth", str(tmp_path / "current"), str(tmp_path / "prior"),
        "--current-results", str(tmp_path / "rc"), "--prior-results", str(tmp_path / "rp"),
        "--out", str(tmp_path / "growth.json"), home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "interval: 244 days; aligned rigidly" in done.stdout
    document = json.loads((tmp_path / "growth.json").read_text())
    assert (
        document["alignment"]["estimated"]
        and abs(document["alignment"]["rotation_degrees"] - 3.0) < 0.5
    )
    assert document["alignment"]["similarity"] > 0.9 and not document["alignment"]["uncertain"]
    growing = [c for c in document["changes"] if c["status"] == "growing"]
    assert len(growing) == 1, document["changes"]
    change = growing[0]
    assert np.linalg.norm(np.asarray(change["current"]["center_lps_mm"]) - big["center_lps"]) < 3.0
    expected_prior = rotation @ np.asarray(big["center_lps"]) + shift
    assert np.linalg.norm(np.asarray(change["prior"]["center_lps_mm"]) - expected_prior) < 3.0
    assert change["diameter_change_mm"] > 1.5 and change["doubling_time_days"] > 0
    others = [c for c in document["changes"] if c is not change]
    assert others and all(c["status"] == "stable" and c["distance_mm"] < 2.0 for c in others)

    # Swapped (the prior given as CURRENT): refused in one line.
    swapped = _medview(
        "growth", str(tmp_path / "prior"), str(tmp_path / "current"),
        "--current-results", str(tmp_path / "rp"), "--prior-results", str(tmp_path / "rc"),
        home=home,
    )  # fmt: skip
    assert swapped.returncode == 1 and "swap them" in swapped.stderr
    assert swapped.stderr.count("\n") == 1 and "Traceback" not in swapped.stderr
