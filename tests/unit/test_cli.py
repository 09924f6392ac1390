"""The `medview` command as a user meets it: real subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dicom_factory import write_series

MEDVIEW = [sys.executable, "-m", "medview"]


def run(*args: str, home: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    return subprocess.run(
        [*MEDVIEW, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["info", "/no/such/folder"], "no such file or folder"),
        (["import", "/no/such/folder"], "no such file or folder"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, needle, medview_home):
    result = run(*args, home=medview_home)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("medview: error: /no/such/folder") and needle in line


def test_broken_and_non_dicom_files(tmp_path, medview_home):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    (good,) = write_series(tmp_path / "s", [(0.0, 0.0, 0.0)])
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(good.read_bytes()[:-50])
    result = run("info", str(text), home=medview_home)
    assert result.returncode == 1 and "notes.txt: not a DICOM Part 10 file" in result.stderr
    result = run("info", "--load", str(truncated), home=medview_home)
    assert result.returncode == 3, result.stderr
    assert "truncated.dcm: pixel data holds" in result.stdout and "truncated" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("import", str(empty), home=medview_home)
    assert result.returncode == 1 and "no DICOM files found" in result.stderr


def test_import_then_studies_and_paths(tmp_path, medview_home):
    write_series(
        tmp_path / "s", [(0.0, 0.0, float(z)) for z in range(5)], patient_name="Ünïcode^Test"
    )
    result = run("import", str(tmp_path / "s"), home=medview_home)
    assert result.returncode == 0, result.stderr
    assert "imported 5 new instance(s)" in result.stdout
    again = run("import", "--json", str(tmp_path / "s"), home=medview_home)
    summary = json.loads(again.stdout)
    assert (summary["instances_added"], summary["instances_already_known"]) == (0, 5)
    listing = json.loads(run("studies", "--json", home=medview_home).stdout)
    assert listing["counts"] == {"patients": 1, "studies": 1, "series": 1, "instances": 5}
    assert listing["patients"][0]["patient_name"] == "Ünïcode^Test"
    paths = run("paths", home=medview_home).stdout
    assert str(medview_home) in paths and "medview.log" in paths
    assert (medview_home / "logs" / "medview.log").exists()


def test_demo_round_trip(tmp_path, medview_home):
    out = tmp_path / "demo"
    result = run(
        "demo",
        "--out",
        str(out),
        "--seed",
        "3",
        "--size",
        "64",
        "--slices",
        "40",
        home=medview_home,
    )
    assert result.returncode == 0, result.stderr
    truth = json.loads((out / "truth.json").read_text())
    assert truth["nodules"]
    info = json.loads(run("info", "--json", "--load", str(out), home=medview_home).stdout)
    (patient,) = info["patients"]
    (study,) = patient["studies"]
    (series,) = study["series"]
    (volume,) = series["volumes"]
    assert series["modality"] == "CT" and series["instances"] == 40
    assert volume["shape_zyx"] == [40, 64, 64]
    assert volume["orientation"] == "LPS" and volume["plane"] == "axial"
    assert volume["spacing_mm"] == pytest.approx(truth["spacing_ijk"], abs=1e-4)
    assert volume["origin_lps"] == pytest.approx(truth["origin"], abs=1e-3)
    assert volume["value_range"]["units"] == "HU"
    assert -1025 <= volume["value_range"]["min"] < -900 and volume["value_range"]["max"] > 300
    assert volume["warnings"] == []


def test_demo_shuffled_and_duplicated_imports_to_the_same_result(tmp_path, medview_home):
    import random
    import shutil

    out = tmp_path / "demo"
    assert (
        run(
            "demo", "--out", str(out), "--size", "48", "--slices", "30", home=medview_home
        ).returncode
        == 0
    )
    files = sorted(out.glob("*.dcm"))
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = list(range(len(files)))
    random.Random(5).shuffle(order)
    for new_index, old_index in enumerate(order):  # names no longer follow slice order
        shutil.copy(files[old_index], shuffled / f"img{new_index:03d}.dcm")
    shutil.copytree(shuffled, tmp_path / "copy-of-shuffled")

    def info(path):
        document = json.loads(run("info", "--json", str(path), home=medview_home).stdout)
        return document["patients"][0]["studies"][0]["series"][0]["volumes"]

    assert info(shuffled) == info(out)
    home_a, home_b = tmp_path / "home-a", tmp_path / "home-b"
    assert run("import", str(out), home=home_a).returncode == 0
    assert (
        run("import", str(shuffled), str(tmp_path / "copy-of-shuffled"), home=home_b).returncode
        == 0
    )
    listing_a = json.loads(run("studies", "--json", home=home_a).stdout)
    listing_b = json.loads(run("studies", "--json", home=home_b).stdout)
    assert listing_a == listing_b
    assert listing_a["counts"]["instances"] == 30
