"""Review decisions in reports, `medview report` errors, and a kill in the middle of a write."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import highdicom as hd
import numpy as np
import pydicom
import pytest
from report_helpers import READER, home

from medview.app.cli import main
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.reports import codes
from medview.reports.export import FILE_NAMES
from medview.reports.model import ReportModel, StudyInfo
from medview.reports.results import load_results
from medview.reports.seg import build_seg
from medview.reports.sources import SourceImages
from medview.reports.sr import build_sr


@pytest.fixture(scope="module")
def sources(demo_run) -> SourceImages:
    paths = [str(p) for p in demo_run.study.files]
    (candidate,) = [c for g in group_series(scan_paths(paths).headers) for c in g.candidates]
    return SourceImages.read(load_candidate(candidate), paths)


def _reread(sr) -> hd.sr.Comprehensive3DSR:
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return hd.sr.srread(buffer)


def test_review_file_decides_what_is_reported(demo_run, sources, tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(demo_run.results, folder)
    job = demo_run.document["provenance"]["job_id"]
    review = {
        "reviewer": "Roe^Richard",
        "findings": [
            {"id": f"{job}/0", "status": "accepted", "edits": {"label": "solid nodule",
             "size_mm": [30.0, 12.0, 10.0]}, "reviewed_at": "2026-11-26T10:00:00+00:00"},
            {"id": 2, "status": "rejected", "note": "vessel"},
        ],
    }  # fmt: skip
    (folder / "review.json").write_text(json.dumps(review), encoding="utf-8")
    loaded = load_results(folder, sources.volume, READER)
    assert [f.status for f in loaded.findings] == ["accepted", "rejected"]
    assert [(e.action, e.who) for e in loaded.audit] == [
        ("edit", "Roe^Richard"),
        ("reject", "Roe^Richard"),
    ]
    assert loaded.audit[0].changes["label"] == ["lung nodule candidate", "solid nodule"]
    assert loaded.audit[0].at == "2026-11-26T10:00:00+00:00"
    model = ReportModel(
        StudyInfo.from_dataset(sources.datasets[0]),
        reader=READER,
        findings=loaded.findings,
        audit=loaded.audit,
    )
    seg = build_seg(model, sources, series_uid=hd.UID(), sop_uid=hd.UID())
    assert list(seg.segment_numbers) == [f"{job}/0"]
    description = seg.dataset.SegmentSequence[0]
    assert description.SegmentAlgorithmType == "SEMIAUTOMATIC"  # an AI mask the reader edited
    assert description.SegmentLabel == "solid nodule"
    sr = _reread(build_sr(model, sources, seg, series_uid=hd.UID(), sop_uid=hd.UID()))
    (group,) = sr.content.get_volumetric_roi_measurement_groups()
    (long_axis,) = group.get_measurements(name=codes.LONG_AXIS)
    assert float(long_axis.value) == pytest.approx(30.0)  # the reader's size wins
    # without a SEG the finding's region is SCOORD3D in the frame of reference
    sr = _reread(build_sr(model, sources, None, series_uid=hd.UID(), sop_uid=hd.UID()))
    (group,) = sr.content.get_planar_roi_measurement_groups()
    region = group.roi
    assert region.frame_of_reference_uid == sources.volume.meta.frame_of_reference_uid


def test_pending_findings_are_not_reported(demo_run, sources, tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(demo_run.results, folder)
    (folder / "review.json").write_text(json.dumps({"findings": [{"id": 1, "status": "accepted"}]}))
    loaded = load_results(folder, sources.volume, READER)
    assert [f.status for f in loaded.findings] == ["accepted", "pending"]
    assert any("pending" in w for w in loaded.warnings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--finalize"], "--finalize needs --reader"),
        (["--format", "sr,docx"], "--format takes"),
    ],
)
def test_usage_errors_are_one_line(demo_run, tmp_path, capsys, extra, message):
    assert demo_run.report(tmp_path / "out", *extra) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_results_folder_without_result_json_is_refused(demo_run, tmp_path, capsys):
    with home(demo_run.home):
        code = main(["report", str(demo_run.study.directory), "--results", str(tmp_path),
                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 1 and "not a `medview run` output folder" in capsys.readouterr().err


KILLED_EXPORT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    out, marker = sys.argv[1], Path(sys.argv[2])
    real_fsync = os.fsync

    def slow_fsync(fd):
        # Hang only while a report file is half written (its temp file is in the folder).
        if out in os.readlink(f"/proc/self/fd/{fd}"):
            marker.write_text("writing")
            time.sleep(120)
        real_fsync(fd)

    os.fsync = slow_fsync
    from medview.app.cli import main
    sys.exit(main(sys.argv[3:]))
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc (Linux)")
def test_kill_during_export_leaves_no_partial_file(demo_run, tmp_path):
    out = tmp_path / "report"
    marker = tmp_path / "writing"
    args = ["report", str(demo_run.study.directory), "--results", str(demo_run.results),
            "--out", str(out), "--reader", READER]  # fmt: skip
    env = {**os.environ, "MEDVIEW_HOME": str(demo_run.home)}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_EXPORT, str(out), str(marker), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the export never started writing"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    names = {p.name for p in out.iterdir()}
    assert not names & set(FILE_NAMES.values())  # no report file under its real name
    leftovers = [n for n in names if n.endswith(".part")]
    assert leftovers  # the write really was interrupted
    # the next export cleans up and writes complete files
    assert demo_run.report(out, "--reader", READER, "--format", "seg,json") == 0
    names = {p.name for p in out.iterdir()}
    assert names == {FILE_NAMES["seg"], FILE_NAMES["json"]}
    pydicom.dcmread(out / FILE_NAMES["seg"])
    json.loads((out / FILE_NAMES["json"]).read_text(encoding="utf-8"))


def test_reader_measurements_become_sr_groups(sources, tmp_path):
    from report_helpers import dciodvfy, dsrdump

    from medview.model.measurements import EllipseRoi, Length, PointProbe, measurement_records

    volume = sources.volume
    center = volume.index_to_lps((64.0, 64.0, 30.0))
    step = np.asarray(volume.direction[:, 0]) * 20.0
    up = np.asarray(volume.direction[:, 1]) * 10.0
    records = measurement_records(
        [
            Length(tuple(center - step), tuple(center + step), label="trachea"),
            EllipseRoi(tuple(center), tuple(step / 2), tuple(up), label="roi"),
            PointProbe(tuple(center)),
        ],
        volume,
    )
    model = ReportModel(
        StudyInfo.from_dataset(sources.datasets[0]), reader=READER, measurements=records
    )
    sr = build_sr(model, sources, None, series_uid=hd.UID(), sop_uid=hd.UID())
    path = tmp_path / "sr.dcm"
    sr.save_as(path, enforce_file_format=True)
    errors, _ = dciodvfy(path)
    assert errors == []
    dumped = dsrdump(path)
    assert dumped.returncode == 0 and "Warning" not in dumped.stderr + dumped.stdout, dumped.stderr
    groups = hd.sr.srread(path).content.get_planar_roi_measurement_groups()
    assert len(groups) == 2  # the probe is a point: no TID 1410 region for it (below)
    (length,) = groups[0].get_measurements(name=codes.concept_from_path("SCT.Length"))
    assert float(length.value) == pytest.approx(40.0, abs=1e-3)
    assert groups[0].roi.graphic_type.value == "POLYLINE"
    assert groups[1].roi.graphic_type.value == "ELLIPSE"
    (mean,) = groups[1].get_measurements(name=codes.MEAN)
    assert mean.unit.value == "[hnsf'U]"
    # The probe: a TID 1501 group, its value with the LPS point as SCOORD3D (TID 320).
    (probe,) = hd.sr.srread(path).content.get_image_measurement_groups()
    assert "point" in probe.tracking_identifier
    (value,) = probe.get_measurements()
    assert value.unit.value == "[hnsf'U]"
    (item,) = value.referenced_coordinates
    assert item.GraphicType == "POINT"
    assert np.allclose(item.GraphicData, center, atol=1e-3)


def test_a_readers_own_finding_is_manual(sources, tmp_path):
    from report_helpers import dciodvfy

    from medview.reports.model import ReportedFinding

    volume = sources.volume
    mask = np.zeros(volume.shape, bool)
    mask[30:33, 60:66, 60:66] = True
    center = tuple(float(v) for v in volume.index_to_lps((62.5, 62.5, 31.0)))
    finding = ReportedFinding(
        id="reader/1",
        label="ground-glass nodule",
        center_lps_mm=center,
        size_mm=(17.0, 17.0, 14.0),
        bbox_lps_mm=(
            tuple(c - 8.5 for c in center),
            tuple(c + 8.5 for c in center),
        ),
        mask=mask,
        decided_by=READER,
        study_uid=volume.meta.study_uid,
    )
    model = ReportModel(StudyInfo.from_dataset(sources.datasets[0]), reader=READER,
                        findings=[finding])  # fmt: skip
    seg = build_seg(model, sources, series_uid=hd.UID(), sop_uid=hd.UID())
    description = seg.dataset.SegmentSequence[0]
    assert description.SegmentAlgorithmType == "MANUAL"
    assert "SegmentationAlgorithmIdentificationSequence" not in description
    assert len(seg.dataset.PerFrameFunctionalGroupsSequence) == 3  # only the touched slices
    sr = build_sr(model, sources, seg, series_uid=hd.UID(), sop_uid=hd.UID())
    for name, dataset in (("seg.dcm", seg.dataset), ("sr.dcm", sr)):
        dataset.save_as(tmp_path / name, enforce_file_format=True)
        errors, _ = dciodvfy(tmp_path / name)
        assert errors == [], name
    assert "ContributingEquipmentSequence" not in sr or not any(
        "DeviceUID" in item for item in sr.ContributingEquipmentSequence
    )
