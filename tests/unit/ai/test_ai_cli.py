"""`medview plugins list` and `medview run` as a user meets them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from medview.ai.jobs import JobState
from medview.dicom.demo import write_demo_study

MEDVIEW = [sys.executable, "-m", "medview"]
PLUGIN = "medview.threshold-blobs"


def medview(*args: str, home: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    return subprocess.run(
        [*MEDVIEW, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo study at 128 x 128 x 64 (2.8 x 2.8 x 4.7 mm voxels)."""
    study = write_demo_study(tmp_path_factory.mktemp("demo") / "ct", seed=0, size=128, slices=64)
    return study


def test_run_on_the_demo_finds_its_nodules(demo, tmp_path, medview_home):
    out = tmp_path / "result"
    result = medview(
        "run",
        PLUGIN,
        str(demo.directory),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--timeout",
        "60",
        home=medview_home,
    )
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr  # the progress bar
    document = json.loads((out / "result.json").read_text())
    truth = json.loads(demo.truth_path.read_text())
    nodules = [(np.array(n["center_lps"]), n["diameter_mm"]) for n in truth["nodules"]]
    findings = document["findings"]
    assert len(findings) >= 2
    hit = set()
    for finding in findings:
        assert 0.0 <= finding["score"] <= 1.0
        center = np.array(finding["center_lps_mm"])
        distances = [np.linalg.norm(center - c) for c, _ in nodules]
        nearest = int(np.argmin(distances))
        # Every finding lies on a true nodule: within its radius (plus a voxel).
        assert distances[nearest] <= nodules[nearest][1] / 2 + 3.0, finding
        low, high = (np.array(c) for c in finding["bbox_lps_mm"])
        assert np.all(low <= center) and np.all(center <= high)
        hit.add(nearest)
        mask = sitk.ReadImage(str(out / finding["mask"]))
        assert mask.GetSize() == (128, 128, 64)
        index = mask.TransformPhysicalPointToIndex(tuple(float(v) for v in center))
        assert sitk.GetArrayViewFromImage(mask)[index[::-1]] == 1
    assert len(hit) == len(findings)  # one finding per nodule
    provenance = document["provenance"]
    assert provenance["plugin_id"] == PLUGIN and provenance["device"] == "cpu"
    assert provenance["input_series_uid"] == demo.series_uid
    assert provenance["weights_sha256"]["config"]
    assert document["input"]["series_uid"] == demo.series_uid
    assert document["not_for_diagnostic_use"] is True
    audit = (medview_home / "data" / "audit.jsonl").read_text().splitlines()
    assert len(audit) == 1 and json.loads(audit[0])["job_id"] == provenance["job_id"]


def test_run_errors_are_one_line(demo, tmp_path, medview_home):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    cases = [
        (
            ["run", "no.such.plugin", str(demo.directory), "--out", str(tmp_path / "a")],
            "no plugin 'no.such.plugin'",
        ),
        (["run", PLUGIN, str(demo.directory), "--out", str(taken)], "not an empty folder"),
        (
            [
                "run",
                PLUGIN,
                str(demo.directory),
                "--out",
                str(tmp_path / "b"),
                "--param",
                "bogus=1",
            ],
            "unknown parameter 'bogus'",
        ),
        (
            [
                "run",
                PLUGIN,
                str(demo.directory),
                "--out",
                str(tmp_path / "c"),
                "--param",
                "threshold_hu=5000",
            ],
            "must be <= 100.0",
        ),
        (["run", PLUGIN, "/no/such/folder", "--out", str(tmp_path / "d")], "no such file"),
    ]
    for args, needle in cases:
        result = medview(*args, home=medview_home)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("medview: error:") and needle in line, line
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_plugins_list_shows_broken_plugins_with_the_reason(medview_home):
    broken = medview_home / "data" / "plugins" / "half-copied"
    broken.mkdir(parents=True)
    (broken / "plugin.toml").write_text('[plugin]\nid = "clinic.thing"\n')
    result = medview("plugins", "list", "--json", home=medview_home)
    assert result.returncode == 0, result.stderr
    plugins = {p["id"]: p for p in json.loads(result.stdout)["plugins"]}
    assert plugins[PLUGIN]["available"] is True and plugins[PLUGIN]["kind"] == "detection"
    assert plugins["half-copied"]["available"] is False
    assert "[plugin].api_version is required" in plugins["half-copied"]["reason"]
    text = medview("plugins", "list", home=medview_home)
    assert text.returncode == 0
    assert any(line.startswith(PLUGIN) and "available" in line for line in text.stdout.splitlines())
    assert "half-copied" in text.stdout and "unavailable" in text.stdout


def test_write_outputs_writes_masks_overlays_and_derived_series(
    fakes, make_runner, volume, tmp_path
):
    import pydicom

    from medview.app.cli_ai import write_outputs

    ok, enhances = fakes("Ok")[0], fakes("Enhances")[0]
    runner = make_runner()
    masks = runner.run(ok, volume)
    enhanced = runner.run(enhances, volume)
    assert masks.state is enhanced.state is JobState.SUCCEEDED, enhanced.error
    out = write_outputs(tmp_path / "a", masks, volume)
    document = json.loads((out / "result.json").read_text())
    (finding,) = document["findings"]
    mask = sitk.ReadImage(str(out / finding["mask"]))
    assert mask.GetSize() == volume.size_ijk
    np.testing.assert_allclose(mask.GetOrigin(), volume.origin)
    assert document["overlays"][0]["file"] == "overlays/heat.nii.gz"
    out = write_outputs(tmp_path / "b", enhanced, volume)
    document = json.loads((out / "result.json").read_text())
    assert document["overlays"][0]["file"] == "overlays/heat_map.nii.gz"
    (derived,) = document["volumes"]
    files = sorted((out / derived["folder"]).iterdir())
    assert len(files) == 2 * volume.shape[0]
    ds = pydicom.dcmread(files[0])
    assert ds.StudyInstanceUID == "1.2.3.4" and ds.FrameOfReferenceUID == "1.2.3.4.6"
    assert str(ds.PatientName) == "Secret^Name"  # from the source, not the plugin's copy
    assert float(ds.SliceThickness) == volume.spacing[2] / 2
    assert document["provenance"]["outcome"] == "succeeded"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
