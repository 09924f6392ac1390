"""SR and SEG of `medview report`: valid (dciodvfy, dsrdump), readable, values round-trip."""

from __future__ import annotations

import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from report_helpers import READER, dciodvfy, dsrdump

from medview.reports import codes

pytestmark = pytest.mark.skipif(
    not all(__import__("shutil").which(t) for t in ("dciodvfy", "dsrdump")),
    reason="dicom3tools dciodvfy and DCMTK dsrdump are needed",
)

#: dciodvfy's IOD tables predate Device UID (0018,1002) in the Contributing Equipment
#: Sequence (IHE AIR) and do not know the private scheme 99MEDVIEW: these warnings are expected.
EXPECTED_WARNINGS = ("Device UID", "Standard Extended SOP Class", "<99MEDVIEW>")


@pytest.mark.parametrize("name", ["report-sr.dcm", "report-seg.dcm"])
@pytest.mark.parametrize("which", ["exported", "finalized", "anonymized"])
def test_dciodvfy_finds_no_errors(request, which, name):
    path = request.getfixturevalue(which) / name
    errors, warnings = dciodvfy(path)
    assert errors == []
    unexpected = [w for w in warnings if not any(e in w for e in EXPECTED_WARNINGS)]
    assert unexpected == []


@pytest.mark.parametrize("which", ["exported", "finalized", "anonymized"])
def test_dsrdump_reads_the_sr(request, which):
    run = dsrdump(request.getfixturevalue(which) / "report-sr.dcm")
    assert run.returncode == 0, run.stderr
    assert "E:" not in run.stderr and "W:" not in run.stderr, run.stderr
    assert "TID 1500" in run.stdout or "Imaging Measurement Report" in run.stdout
    # TID 1500 "Qualitative Evaluations": intended use always (issue 11 AI3), and the
    # reader's impression where one was written (the `exported` fixture writes one).
    long = subprocess.run(
        ["dsrdump", "+Pl", str(request.getfixturevalue(which) / "report-sr.dcm")],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert '"Qualitative Evaluations"' in long
    assert 'TEXT:(,,"Comment")="medview is research software' in long
    assert 'TEXT:(,,"Comment")="Threshold blob detector: ' in long
    assert "not for diagnostic use" in long.lower()
    if which == "exported":
        assert 'TEXT:(,,"Impression")="Two nodules."' in long


def _value(group, concept):
    (measurement,) = group.get_measurements(name=concept)
    return float(measurement.value), measurement.unit


def test_sr_values_round_trip(exported, demo_run):
    document = demo_run.document
    sr = hd.sr.srread(exported / "report-sr.dcm")
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert sr.VerificationFlag == "UNVERIFIED" and sr.CompletionFlag == "COMPLETE"
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(document["findings"]) >= 2
    seg = pydicom.dcmread(exported / "report-seg.dcm")
    for number, (group, finding) in enumerate(
        zip(groups, document["findings"], strict=True), start=1
    ):
        assert group.finding_type.value == finding["code"][0] == "27925004"
        assert group.finding_sites[0].value.value == codes.LUNG.value
        long_axis, unit = _value(group, codes.LONG_AXIS)
        assert long_axis == pytest.approx(finding["measurements"]["diameter_mm"])
        assert unit.value == "mm"
        volume, unit = _value(group, codes.VOLUME)
        assert volume == pytest.approx(finding["measurements"]["volume_mm3"])
        assert unit.value == "mm3"
        mean, unit = _value(group, codes.ATTENUATION)
        assert mean == pytest.approx(finding["measurements"]["mean_hu"])
        assert unit.value == "[hnsf'U]"
        score, _ = _value(group, codes.AI_SCORE)
        assert score == pytest.approx(finding["score"], abs=1e-4)
        (evaluation,) = group.get_qualitative_evaluations()
        assert evaluation.value.value.startswith("AISCORE")
        reference = group.referenced_segment
        assert reference.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert reference.referenced_segment_numbers == [number]
        # TID 4019 algorithm identification on the group
        names = [
            item.TextValue
            for item in group[0].ContentSequence
            if item.ConceptNameCodeSequence[0].CodeValue in ("111001", "111003")
        ]
        assert names == ["Threshold blob detector", "1.0.0"]
    # observers: the reader and the AI device (with the device UID of the weights)
    contexts = sr.content.get_observer_contexts()
    person = contexts[0].observer_identifying_attributes
    device = contexts[1].observer_identifying_attributes
    assert str(person.name) == READER
    (equipment,) = [
        item
        for item in sr.ContributingEquipmentSequence
        if item.get("ContributionDescription", "").startswith("AI plugin")
    ]
    assert equipment.ManufacturerModelName == "Threshold blob detector"
    assert equipment.SoftwareVersions == "1.0.0"
    assert device.uid == equipment.DeviceUID
    # the evidence names the SEG and the referenced CT slices of the study
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == demo_run.study.study_uid


def test_seg_round_trips_masks_codes_and_algorithm(exported, demo_run):
    document = demo_run.document
    seg = hd.seg.segread(exported / "report-seg.dcm")
    assert seg.SegmentationType == "BINARY"
    sr = hd.sr.srread(exported / "report-sr.dcm")
    groups = sr.content.get_volumetric_roi_measurement_groups()
    total = 0
    for number, (finding, group) in enumerate(
        zip(document["findings"], groups, strict=True), start=1
    ):
        description = seg.get_segment_description(number)
        assert description.algorithm_type == hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        (algorithm,) = description.algorithm_identification
        assert algorithm.AlgorithmName == "Threshold blob detector"
        assert algorithm.AlgorithmVersion == "1.0.0"
        assert description.segmented_property_type.value == "27925004"
        assert description.tracking_uid == group.tracking_uid  # SR and SEG agree
        mask = sitk.GetArrayFromImage(sitk.ReadImage(str(demo_run.results / finding["mask"])))
        total += int(mask.sum())
    assert int(np.asarray(seg.pixel_array).sum()) == total
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == demo_run.study.series_uid
    assert any("DeviceUID" in item for item in seg.ContributingEquipmentSequence)


def test_finalize_marks_the_sr_verified(finalized):
    sr = pydicom.dcmread(finalized / "report-sr.dcm")
    assert sr.VerificationFlag == "VERIFIED"
    assert sr.PreliminaryFlag == "FINAL"
    observer = sr.VerifyingObserverSequence[0]
    assert observer.VerifyingObserverName == READER
    assert not (finalized / "report.pdf").exists()  # --format sr,seg,json


def test_character_set_follows_the_text(tmp_path):
    """Plain text keeps the default repertoire; Latin-1 text says ISO_IR 100; Chinese text
    says ISO_IR 192 (UTF-8) and survives writing and reading (no "?" for 随访)."""
    import pydicom
    from pydicom.dataset import Dataset

    from medview.reports.seg import set_character_set

    for text, expected in (
        ("Follow-up", None),
        ("Größe", "ISO_IR 100"),
        ("随访 6 月", "ISO_IR 192"),
    ):
        ds = Dataset()
        item = Dataset()
        item.TextValue = text
        ds.ContentSequence = [item]
        ds.PatientName = "Doe^Jane"
        set_character_set(ds)
        assert ds.get("SpecificCharacterSet") == expected, text
        path = tmp_path / "ds.dcm"
        ds.save_as(path, implicit_vr=False, little_endian=True)
        assert pydicom.dcmread(path, force=True).ContentSequence[0].TextValue == text
