"""Re-import of SR (TID 1500) and SEG objects as findings and masks (issue 8).

Round trips: a real detection (``medview run`` of the threshold-blob detector) on the demo CT
and on a copy of it stored with the i axis running to the patient's right and the slices
running feet-ward (a naive index-space reader would mirror it), exported by ``medview
report`` and read back onto the source grid. A third-party style report built here with
highdicom directly, and broken files.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.codedict import codes as dcm_codes
from pydicom.uid import generate_uid
from report_helpers import PLUGIN, READER, home

from medview.app.cli import main
from medview.core.errors import DicomLoadError
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.dicom.writer import write_derived_series
from medview.imaging.volume import Volume
from medview.model.review import FindingReview
from medview.reports.reimport import read_sr
from medview.reports.reimport_find import (
    ReportObject,
    describe,
    import_for_series,
    import_for_volume,
    objects_for,
)
from medview.reports.reimport_result import to_result
from medview.reports.reimport_seg import read_seg


def _load(folder: Path) -> Volume:
    (candidate,) = [
        c
        for g in group_series(scan_paths([folder]).headers)
        if g.first.modality == "CT"
        for c in g.candidates
    ]
    return load_candidate(candidate)


def _flipped(volume: Volume) -> Volume:
    """The same patient, stored with +i to the patient's right and +k to the feet."""
    array = np.ascontiguousarray(volume.array[::-1, :, ::-1])
    ni, _, nk = volume.size_ijk
    origin = volume.index_to_lps(np.array([ni - 1, 0, nk - 1], dtype=float))
    direction = volume.direction @ np.diag([-1.0, 1.0, -1.0])
    return Volume(array, volume.spacing, tuple(origin), direction, volume.meta)


@pytest.fixture(scope="module")
def flipped_run(demo_run, tmp_path_factory):
    """The demo CT written flipped, the detector run on it, SR + SEG exported."""
    root = tmp_path_factory.mktemp("reimport-flipped")
    source = _load(demo_run.study.directory)
    write_derived_series(_flipped(source), root / "ct", source=source.meta,
                         description="flipped copy", series_number=7)  # fmt: skip
    results, out = root / "results", root / "report"
    with home(demo_run.home):
        assert (
            main(["run", PLUGIN, str(root / "ct"), "--out", str(results), "--device", "cpu"]) == 0
        )
        assert main(["report", str(root / "ct"), "--results", str(results), "--out", str(out),
                     "--reader", READER, "--format", "sr,seg"]) == 0  # fmt: skip
    volume = _load(root / "ct")
    assert volume.orientation == "RPI"
    return volume, results, out


@pytest.fixture(scope="module")
def demo_case(demo_run, exported):
    return _load(demo_run.study.directory), demo_run.results, exported


def _check_round_trip(volume: Volume, results: Path, report: Path) -> None:
    document = json.loads((results / "result.json").read_text(encoding="utf-8"))
    seg = read_seg(report / "report-seg.dcm", volume)
    imported = read_sr(report / "report-sr.dcm", volume, segmentations=[seg])
    assert imported.warnings == () and seg.warnings == ()
    assert imported.person_observer == READER
    assert imported.verification_flag == "UNVERIFIED"
    assert imported.device["device_name"] == PLUGIN
    assert len(imported.findings) == len(document["findings"]) >= 2
    spacing = np.asarray(volume.spacing)
    for finding, expected in zip(imported.findings, document["findings"], strict=True):
        # centre: the mask centroid, within half a voxel along every axis
        offset = volume.lps_to_index(np.asarray(finding.center_lps_mm)) - volume.lps_to_index(
            np.asarray(expected["center_lps_mm"])
        )
        assert np.all(np.abs(offset) <= 0.5), (offset, spacing)
        assert finding.long_axis_mm == pytest.approx(expected["measurements"]["diameter_mm"])
        assert finding.volume_mm3 == pytest.approx(expected["measurements"]["volume_mm3"])
        assert finding.mean_hu == pytest.approx(expected["measurements"]["mean_hu"])
        assert finding.score == pytest.approx(expected["score"], abs=1e-4)
        assert finding.finding_type[:2] == tuple(expected["code"][:2]) == ("27925004", "SCT")
        assert finding.finding_sites == (("39607008", "SCT", "Lung"),)
        assert (finding.algorithm_name, finding.algorithm_version) == (
            "Threshold blob detector",
            "1.0.0",
        )
        assert any(c[0] == "AISCOREBAND" for c, _ in finding.evaluations)
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(results / expected["mask"]))) > 0
        dice = 2 * np.sum(truth & finding.mask) / (truth.sum() + finding.mask.sum())
        assert dice >= 0.99
        segment = seg.segment(finding.segment[1])
        assert segment.tracking_uid == finding.tracking_uid
        assert segment.algorithm_type == "AUTOMATIC"
        assert segment.algorithm_name == "Threshold blob detector"


def test_medview_sr_and_seg_round_trip_on_the_demo_ct(demo_case):
    _check_round_trip(*demo_case)


def test_round_trip_on_a_flipped_grid_lands_on_the_same_anatomy(flipped_run):
    _check_round_trip(*flipped_run)


def test_seg_of_another_grid_is_resampled_onto_the_series_on_screen(flipped_run, demo_case):
    """The flipped copy's SEG and SR read onto the original grid (same frame of reference)."""
    _flipped_volume, results, report = flipped_run
    original = demo_case[0]
    assert describe(report / "report-seg.dcm").refers_to(original)  # by frame of reference
    seg = read_seg(report / "report-seg.dcm", original)
    imported = read_sr(report / "report-sr.dcm", original, segmentations=[seg])
    document = json.loads((results / "result.json").read_text(encoding="utf-8"))
    for finding, expected in zip(imported.findings, document["findings"], strict=True):
        on_flipped = sitk.GetArrayFromImage(sitk.ReadImage(str(results / expected["mask"]))) > 0
        truth = on_flipped[::-1, :, ::-1]  # the same voxels on the original grid
        assert np.array_equal(finding.mask, truth)
        np.testing.assert_allclose(finding.center_lps_mm, expected["center_lps_mm"], atol=1e-3)


def test_seg_frames_without_positions_use_their_source_images(demo_case, tmp_path):
    volume, _results, report = demo_case
    ds = pydicom.dcmread(report / "report-seg.dcm")
    for frame in ds.PerFrameFunctionalGroupsSequence:
        del frame.PlanePositionSequence  # left: Derivation Image Sequence (PS3.3 C.7.6.16.2.6)
    stripped = tmp_path / "seg-no-positions.dcm"
    ds.save_as(stripped, enforce_file_format=True)
    reference = read_seg(report / "report-seg.dcm", volume)
    seg = read_seg(stripped, volume)
    assert seg.warnings == ()
    for a, b in zip(seg.segments, reference.segments, strict=True):
        assert a.voxel_count > 0 and np.array_equal(a.mask, b.mask)


def test_imported_report_becomes_a_reviewable_result(demo_case):
    volume, results, report = demo_case
    objects = [describe(report / "report-sr.dcm"), describe(report / "report-seg.dcm")]
    assert all(o.refers_to(volume) for o in objects)
    jobs, errors = import_for_volume(volume, objects)
    assert errors == []
    (job,) = jobs  # the SEG is the SR's: one job, not two
    assert job.title.startswith("Report (imported) – ") and job.title.endswith(READER)
    result = job.result
    sr_uid = pydicom.dcmread(report / "report-sr.dcm").SOPInstanceUID
    assert result.provenance.versions["imported_from"] == f"imported from SR {sr_uid}, medview"
    assert result.provenance.plugin_id == PLUGIN
    assert result.provenance.plugin_version == "1.0.0"
    document = json.loads((results / "result.json").read_text(encoding="utf-8"))
    for finding, expected in zip(result.findings, document["findings"], strict=True):
        assert finding.label == expected["label"]
        assert finding.code[0] == "27925004"
        assert finding.measurements["diameter_mm"] == pytest.approx(
            expected["measurements"]["diameter_mm"]
        )
        assert finding.mask is not None and finding.mask.shape == volume.shape
        low, high = np.asarray(finding.bbox_lps_mm)
        assert np.all(low <= finding.center_lps_mm) and np.all(finding.center_lps_mm <= high)
    (overlay,) = result.overlays
    assert overlay.volume.shape == volume.shape and overlay.volume.array.max() == 1.0
    review = FindingReview()
    ids = review.add_result(result)
    assert ids == [f"sr-{sr_uid}/0", f"sr-{sr_uid}/1"]


def test_sr_without_seg_gives_scoord3d_regions_on_the_finding(demo_run, tmp_path):
    """TID 1410 with a SCOORD3D polygon (no SEG exported): the centre is the polygon's."""
    out = tmp_path / "sr-only"
    assert demo_run.report(out, "--reader", READER, "--format", "sr") == 0
    volume = _load(demo_run.study.directory)
    imported = read_sr(out / "report-sr.dcm", volume)
    document = demo_run.document
    for finding, expected in zip(imported.findings, document["findings"], strict=True):
        assert finding.region_type == "POLYGON" and finding.mask is None
        low, high = (np.asarray(c) for c in expected["bbox_lps_mm"])
        assert np.all(low - 1e-3 <= finding.center_lps_mm)
        assert np.all(finding.center_lps_mm <= high + 1e-3)
        k = volume.lps_to_index(np.asarray(finding.center_lps_mm))[2]
        expected_k = volume.lps_to_index(np.asarray(expected["center_lps_mm"]))[2]
        assert abs(k - expected_k) <= 0.5
        assert finding.long_axis_mm == pytest.approx(expected["measurements"]["diameter_mm"])


# -- a report made by another tool ------------------------------------------------------------
SEVERITY = hd.sr.CodedConcept("246112005", "SCT", "Severity")
SEVERE = hd.sr.CodedConcept("24484000", "SCT", "Severe")


def _third_party_sr(sources, path: Path, *, k: int, points: np.ndarray) -> Path:
    image = sources.datasets[k]
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=points,
        source_image=hd.sr.SourceImageForRegion.from_source_image(image),
    )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="Lesion 1"),
        referenced_region=region,
        finding_type=dcm_codes.SCT.Mass,
        finding_sites=[hd.sr.FindingSite(dcm_codes.SCT.Liver)],
        measurements=[
            hd.sr.Measurement(
                name=dcm_codes.SCT.Length, value=1.25, unit=hd.sr.CodedConcept("cm", "UCUM", "cm")
            )
        ],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(SEVERITY, SEVERE)],
    )
    observer = hd.sr.ObserverContext(
        observer_type=dcm_codes.cid270.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name="Other^Reader"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=dcm_codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[image], content=report, series_instance_uid=generate_uid(), series_number=5,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="OtherVendor",
    )  # fmt: skip
    sr.SoftwareVersions = "7.1"
    # Content the reader does not know: a TEXT note with a private concept in the group.
    note = hd.sr.TextContentItem(
        name=hd.sr.CodedConcept("NOTE1", "99OTHER", "Private note"), value="look again",
        relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES,
    )  # fmt: skip
    group_item = sr.ContentSequence[-1].ContentSequence[0]
    group_item.ContentSequence.append(note)
    sr.save_as(path, enforce_file_format=True)
    return path


def test_third_party_planar_polyline_report_reimports(saliency_study, tmp_path, caplog):
    sources = saliency_study.sources
    volume = sources.volume
    k = 5
    points = np.array([[10.0, 12.0], [20.0, 16.0]])  # (column, row), SCOORD convention
    path = _third_party_sr(sources, tmp_path / "other.dcm", k=k, points=points)
    with caplog.at_level(logging.WARNING, logger="medview.reports.reimport"):
        imported = read_sr(path, volume)
    (finding,) = imported.findings
    # Expected straight from the slice's header (PS3.3 C.7.6.2.1.1 and C.18.6.1.1).
    image = sources.datasets[k]
    origin = np.asarray(image.ImagePositionPatient, float)
    row_dir = np.asarray(image.ImageOrientationPatient[:3], float)
    col_dir = np.asarray(image.ImageOrientationPatient[3:], float)
    dy, dx = (float(v) for v in image.PixelSpacing)
    c, r = points.mean(axis=0) - 0.5
    expected = origin + c * dx * row_dir + r * dy * col_dir
    np.testing.assert_allclose(finding.center_lps_mm, expected, atol=1e-6)
    assert finding.region_type == "POLYLINE"
    assert finding.tracking_id == "Lesion 1"
    assert finding.finding_type[:2] == ("4147007", "SCT")  # Mass
    assert finding.finding_sites[0][0] == "10200004"  # Liver
    assert finding.long_axis_mm is None  # "Length" is not a long axis; kept as it is
    (length,) = finding.measurements
    assert (length.value, length.unit[0]) == (1.25, "cm")
    assert finding.evaluations == (
        (("246112005", "SCT", "Severity"), ("24484000", "SCT", "Severe")),
    )
    assert imported.person_observer == "Other^Reader"
    assert imported.manufacturer == "OtherVendor"
    assert any("Private note" in w for w in imported.warnings)
    assert "Private note" in caplog.text
    result = to_result(imported, volume)
    assert result.provenance.versions["imported_from"].endswith("OtherVendor 7.1")
    assert result.provenance.plugin_id == "imported"
    (shown,) = result.findings
    assert shown.label == "mass" and shown.score == 1.0
    assert shown.measurements == {"length_cm": 1.25}


# -- broken input -----------------------------------------------------------------------------
def test_truncated_or_garbage_sr_is_one_clear_line(exported, demo_case, tmp_path):
    volume = demo_case[0]
    data = (exported / "report-sr.dcm").read_bytes()
    truncated = tmp_path / "truncated-sr.dcm"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage-sr.dcm"
    garbage.write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 4)
    for path in (truncated, garbage):
        with pytest.raises(DicomLoadError) as info:
            read_sr(path, volume)
        message = str(info.value)
        assert message.startswith(str(path)) and "\n" not in message
    with pytest.raises(DicomLoadError, match="not a structured report"):
        read_sr(exported / "report-seg.dcm", volume)
    with pytest.raises(DicomLoadError, match="Segmentation"):
        read_seg(exported / "report-sr.dcm", volume)


def test_broken_object_does_not_stop_the_others(demo_case, tmp_path):
    volume, _results, report = demo_case
    broken = tmp_path / "broken-sr.dcm"
    data = (report / "report-sr.dcm").read_bytes()
    broken.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DicomLoadError, match="truncated"):
        describe(broken)
    good = [describe(report / "report-sr.dcm"), describe(report / "report-seg.dcm")]
    named = ReportObject(broken, "sr", "1.2.3", (volume.meta.series_uid,))
    jobs, errors = import_for_volume(volume, [*good, named])
    assert len(jobs) == 1
    (error,) = errors
    assert error.startswith(str(broken)) and "truncated" in error


# -- discovery through the study database ----------------------------------------------------
def test_database_records_sr_and_seg_and_finds_them_for_the_series(demo_run, exported, tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(demo_run.study.directory, folder / "ct")
    for name in ("report-sr.dcm", "report-seg.dcm"):
        shutil.copy(exported / name, folder / name)
    with StudyDatabase(tmp_path / "index.sqlite") as database:
        summary = import_paths([folder], database, dirs=_dirs(tmp_path))
        assert summary.errors == []
        assert not [w for w in summary.warnings if "missing slice" in w]  # not a broken series
        rows = database.study_instances(demo_run.study.study_uid, ())
        modalities = sorted({r["modality"] for r in rows})
        assert modalities == ["CT", "SEG", "SR"]
        volume = _load(folder / "ct")
        objects, errors = objects_for(database, volume)
        assert errors == [] and sorted(o.kind for o in objects) == ["seg", "sr"]
        jobs, errors = import_for_series(database, volume)
        assert errors == [] and len(jobs) == 1
        assert len(jobs[0].result.findings) == len(demo_run.document["findings"])
        # Another study's series finds nothing.
        other = Volume(volume.array, volume.spacing, meta=type(volume.meta)(study_uid="1.2.3"))
        assert objects_for(database, other) == ([], [])


def _dirs(root: Path):
    from medview.core.paths import app_dirs

    with home(root / "home"):
        return app_dirs().ensure()
