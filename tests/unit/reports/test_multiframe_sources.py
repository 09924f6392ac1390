"""Reports on a multi-frame source (Enhanced CT, issue 8): the slices are frames of ONE image.

The demo series is converted to a Legacy Converted Enhanced CT (highdicom, PS3.3 A.70), a
plugin runs on it and ``medview report`` exports everything. The SR and SEG must validate
(dciodvfy, dsrdump), reference the one image (and the SEG its frames), and read back onto
the volume with the same masks; an anonymised export copies the image once.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from report_helpers import PLUGIN, READER, DemoRun, dciodvfy, dsrdump, home

from medview.app.cli import main
from medview.app.startup import load_series
from medview.dicom.demo import write_demo_study
from medview.reports.reimport_seg import read_seg


@pytest.fixture(scope="module")
def enhanced(tmp_path_factory) -> tuple[DemoRun, Path]:
    root = tmp_path_factory.mktemp("multiframe")
    single = write_demo_study(root / "single", seed=0, size=128, slices=64)
    legacy = [pydicom.dcmread(p) for p in sorted(single.files)]
    image = hd.legacy.LegacyConvertedEnhancedCTImage(
        legacy, series_instance_uid=hd.UID(), series_number=50, sop_instance_uid=hd.UID(),
        instance_number=1,
    )  # fmt: skip
    folder = root / "enhanced"
    folder.mkdir()
    image.save_as(folder / "ct.dcm", enforce_file_format=True)
    results = root / "results"
    with home(root / "home"):
        assert main(["run", PLUGIN, str(folder), "--out", str(results), "--device", "cpu"]) == 0
    study = type("Study", (), {"directory": folder})()
    return DemoRun(study, results, root / "home"), folder / "ct.dcm"


def test_the_volume_knows_the_frame_of_each_slice(enhanced):
    _, path = enhanced
    volume = load_series(path.parent, "")
    assert len(set(volume.meta.source_sop_uids)) == 1
    assert sorted(volume.meta.source_frames) == list(range(1, volume.shape[0] + 1))


def test_sr_and_seg_reference_the_frames_and_validate(enhanced, tmp_path):
    run, path = enhanced
    assert run.document["findings"], "the plugin found nothing to report"
    out = tmp_path / "report"
    assert run.report(out, "--reader", READER, "--format", "sr,seg,pdf,json") == 0
    for name in ("report-sr.dcm", "report-seg.dcm"):
        errors, _ = dciodvfy(out / name)
        assert errors == [], (name, errors)
    dumped = dsrdump(out / "report-sr.dcm")
    assert dumped.returncode == 0 and "Warning" not in dumped.stdout + dumped.stderr

    source = pydicom.dcmread(path, stop_before_pixels=True)
    seg = pydicom.dcmread(out / "report-seg.dcm")
    referenced = {
        (str(ref.ReferencedSOPInstanceUID), int(ref.get("ReferencedFrameNumber", 0)))
        for frame in seg.PerFrameFunctionalGroupsSequence
        for derivation in frame.DerivationImageSequence
        for ref in derivation.SourceImageSequence
    }
    assert {uid for uid, _ in referenced} == {source.SOPInstanceUID}
    assert all(number >= 1 for _, number in referenced)  # frames, not the whole image

    sr = hd.sr.srread(out / "report-sr.dcm")
    evidence = [
        str(item.ReferencedSOPInstanceUID)
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for item in series.ReferencedSOPSequence
    ]
    assert evidence.count(source.SOPInstanceUID) == 1

    # The masks come back onto the volume exactly where the plugin put them.
    volume = load_series(path.parent, "")
    imported = read_seg(out / "report-seg.dcm", volume)
    written = [f["mask"] for f in run.document["findings"] if f.get("mask")]
    assert len(imported.segments) == len(written) >= 1
    for segment, name in zip(imported.segments, written, strict=True):
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(run.results / name))) > 0
        assert np.array_equal(segment.mask, truth), name


def test_anonymised_export_copies_the_image_once(enhanced, tmp_path):
    run, _ = enhanced
    out = tmp_path / "anon"
    assert run.report(out, "--reader", READER, "--anonymize", "--format", "sr,seg") == 0
    images = sorted((out / "images").iterdir())
    assert len(images) == 1
    copy = pydicom.dcmread(images[0])
    assert int(copy.NumberOfFrames) == 64
    seg = pydicom.dcmread(out / "report-seg.dcm")
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[
        0
    ].ReferencedSOPInstanceUID == (copy.SOPInstanceUID)
