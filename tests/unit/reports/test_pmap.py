"""Parametric Maps of saliency explanations (issue 7): valid, geometry and values round-trip,
and `medview report` writes them and points the SR's findings at them."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import highdicom as hd
import numpy as np
import pydicom
import pytest
from report_helpers import READER, attribution, dciodvfy, dsrdump, home, write_saliency_results

from medview.app.cli import main
from medview.reports import codes
from medview.reports.model import Algorithm, Explanation, ReportedFinding
from medview.reports.pmap import SERIES_DESCRIPTION, build_pmap
from medview.reports.sources import SourceImages
from medview.reports.sr import referenced_uids

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("dciodvfy", "dsrdump")),
    reason="dicom3tools dciodvfy and DCMTK dsrdump are needed",
)

#: dciodvfy's tables predate Device UID (0018,1002) in the Contributing Equipment Sequence
#: (IHE AIR), and do not know the private scheme 99MEDVIEW of the SR's AI score.
EXPECTED_WARNINGS = ("Device UID", "Standard Extended SOP Class", "<99MEDVIEW>")
PM_CLASS = "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map Storage
ALGORITHM = Algorithm(
    plugin_id="medview.saliency",
    name="Finding explanations (Captum saliency)",
    version="1.0.0",
    weights_sha256={"detector.pt": "ab" * 32},
    parameters={"target": "medview.nodule-cnn", "method": "gradcam"},
)


def _finding(sources: SourceImages, array: np.ndarray, method: str = "gradcam") -> ReportedFinding:
    center = tuple(float(v) for v in sources.volume.index_to_lps(np.array([22.0, 9.0, 4.0])))
    return ReportedFinding(
        id="job-1/0",
        label="lung nodule candidate",
        center_lps_mm=center,  # type: ignore[arg-type]
        size_mm=(6.0, 6.0, 6.0),
        bbox_lps_mm=(
            tuple(c - 3 for c in center),  # type: ignore[arg-type]
            tuple(c + 3 for c in center),  # type: ignore[arg-type]
        ),
        score=0.9,
        algorithm=ALGORITHM,
        study_uid=sources.volume.meta.study_uid,
        explanation=Explanation(f"saliency-{method}-finding-001", method, array),
    )


def _slices_of(ds, sources: SourceImages) -> dict[int, np.ndarray]:
    """Slice index -> the full slice rebuilt from the map's frame on it (checks each frame's
    source reference, orientation and pixel spacing against the source slice on the way)."""
    volume = sources.volume
    uids = [d.SOPInstanceUID for d in sources.datasets]
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient] == (
        pytest.approx([float(v) for v in sources.datasets[0].ImageOrientationPatient])
    )
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == pytest.approx(
        [float(v) for v in sources.datasets[0].PixelSpacing]
    )
    frames = np.asarray(ds.pixel_array).reshape(-1, ds.Rows, ds.Columns)
    out = {}
    for frame, group in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        assert frame.dtype == np.float32
        (derivation,) = group.DerivationImageSequence
        (source,) = derivation.SourceImageSequence
        k = uids.index(source.ReferencedSOPInstanceUID)
        position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        i0, j0, k0 = np.round(volume.lps_to_index(np.array(position))).astype(int)
        assert k0 == k  # the frame lies on the slice it references
        full = np.zeros(volume.shape[1:], np.float32)
        full[j0 : j0 + ds.Rows, i0 : i0 + ds.Columns] = frame
        out[int(k)] = full
    return out


@pytest.fixture(scope="module")
def pm_file(saliency_study):
    array = attribution(saliency_study.sources.volume.shape)
    pm = build_pmap(
        _finding(saliency_study.sources, array),
        saliency_study.sources,
        series_uid=hd.UID(),
        sop_uid=hd.UID(),
        content_creator=READER,
    )
    path = saliency_study.root / "pm.dcm"
    pm.save_as(path, enforce_file_format=True)
    return SimpleNamespace(path=path, array=array)


def test_dciodvfy_finds_no_errors_in_the_parametric_map(pm_file):
    errors, warnings = dciodvfy(pm_file.path)
    assert errors == []
    assert [w for w in warnings if not any(e in w for e in EXPECTED_WARNINGS)] == []


def test_float_pixels_and_geometry_round_trip(pm_file, saliency_study):
    sources, array = saliency_study.sources, pm_file.array
    ds = pydicom.dcmread(pm_file.path)
    assert ds.SOPClassUID == PM_CLASS
    assert "FloatPixelData" in ds and ds.BitsAllocated == 32
    slices = [k for k in range(array.shape[0]) if np.any(array[k] != 0)]
    assert 0 < len(slices) < array.shape[0]  # only the slices the map touches
    # Each frame (cropped, in whatever order highdicom stacks them) put back on its source
    # slice by its own position: the slice's values exactly (float32), zero elsewhere. The
    # asymmetric, signed blob catches flips, transposes and off-by-one crops.
    rebuilt = _slices_of(ds, sources)
    assert sorted(rebuilt) == slices
    for k, values in rebuilt.items():
        np.testing.assert_array_equal(values, array[k])
    assert ds.Rows < array.shape[1] and ds.Columns < array.shape[2]  # cropped
    assert ds.FrameOfReferenceUID == sources.volume.meta.frame_of_reference_uid
    assert ds.StudyInstanceUID == sources.volume.meta.study_uid
    (series,) = ds.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == sources.volume.meta.series_uid
    assert {i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence} == {
        sources.datasets[k].SOPInstanceUID for k in slices
    }


def test_real_world_value_mapping_and_provenance(pm_file):
    ds = pydicom.dcmread(pm_file.path)
    (mapping,) = ds.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence
    assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "1"
    assert mapping.MeasurementUnitsCodeSequence[0].CodingSchemeDesignator == "UCUM"
    (quantity,) = mapping.QuantityDefinitionSequence
    concept = quantity.ConceptCodeSequence[0]
    assert (concept.CodeValue, concept.CodingSchemeDesignator) == ("130403", "DCM")  # Grad-CAM
    assert float(mapping.RealWorldValueSlope) == 1.0
    assert float(mapping.RealWorldValueIntercept) == 0.0
    assert mapping.DoubleFloatRealWorldValueFirstValueMapped == pytest.approx(
        float(pm_file.array.min())
    )
    assert mapping.DoubleFloatRealWorldValueLastValueMapped == pytest.approx(
        float(pm_file.array.max())
    )
    assert list(ds.ImageType) == ["DERIVED", "PRIMARY", "VOLUME", "RESAMPLED"]
    assert ds.ContentLabel == "GRADCAM_MAP"
    assert "Grad-CAM" in ds.ContentDescription and "medview.saliency" in ds.ContentDescription
    assert ds.SeriesDescription == SERIES_DESCRIPTION and "not for diagnosis" in SERIES_DESCRIPTION
    assert ds.ContentQualification == "RESEARCH"
    (equipment,) = [
        item
        for item in ds.ContributingEquipmentSequence
        if item.get("ContributionDescription", "") == "AI plugin medview.saliency"
    ]
    assert equipment.SoftwareVersions == "1.0.0"
    assert equipment.DeviceUID == ALGORITHM.device_uid  # changes with the weights' SHA-256


def test_other_methods_are_class_activation(saliency_study):
    array = attribution(saliency_study.sources.volume.shape)
    pm = build_pmap(
        _finding(saliency_study.sources, array, "ig"),
        saliency_study.sources,
        series_uid=hd.UID(),
        sop_uid=hd.UID(),
    )
    mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert mapping.QuantityDefinitionSequence[0].ConceptCodeSequence[0].CodeValue == (
        codes.CLASS_ACTIVATION.value
    )
    empty = _finding(saliency_study.sources, np.zeros_like(array))
    assert build_pmap(empty, saliency_study.sources, series_uid=hd.UID(), sop_uid=hd.UID()) is None


# -- end to end: a saliency results folder -> medview report ---------------------------------


@pytest.fixture(scope="module")
def e2e(saliency_study):
    results = saliency_study.root / "saliency"
    maps = write_saliency_results(saliency_study.sources.volume, results)
    outs = {}
    for name, extra in (("plain", ()), ("anon", ("--anonymize", "--finalize"))):
        out = saliency_study.root / f"report-{name}"
        with home(saliency_study.root / "home"):
            args = ["report", str(saliency_study.demo.directory), "--results", str(results)]
            assert main([*args, "--out", str(out), "--reader", READER, *extra]) == 0
        outs[name] = out
    return SimpleNamespace(maps=maps, **outs)


def _explained_groups(sr) -> dict[str, str]:
    """Tracking identifier -> SOP Instance UID of the "Visual explanation" image in its group."""
    out = {}
    root = sr.ContentSequence
    for item in root:
        if item.ConceptNameCodeSequence[0].CodeValue != "126010":  # Imaging Measurements
            continue
        for group in item.ContentSequence:
            tracking = images = None
            for child in group.ContentSequence:
                code = child.ConceptNameCodeSequence[0].CodeValue
                if code == "112039":  # Tracking Identifier
                    tracking = child.TextValue
                if code == codes.VISUAL_EXPLANATION.value and child.ValueType == "IMAGE":
                    images = child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            if images:
                out[tracking] = images
    return out


@pytest.mark.parametrize("which", ["plain", "anon"])
def test_report_writes_one_valid_map_per_explained_finding(e2e, which):
    out = getattr(e2e, which)
    files = sorted(out.glob("report-pm-*.dcm"))
    assert [f.name for f in files] == ["report-pm-001.dcm", "report-pm-002.dcm"]
    pms = [pydicom.dcmread(f) for f in files]
    for path in files:
        errors, warnings = dciodvfy(path)
        assert errors == [], path
        assert [w for w in warnings if not any(e in w for e in EXPECTED_WARNINGS)] == []
    assert len({pm.SeriesInstanceUID for pm in pms}) == 1
    sr_path = out / "report-sr.dcm"
    errors, warnings = dciodvfy(sr_path)
    assert errors == []
    assert [w for w in warnings if not any(e in w for e in EXPECTED_WARNINGS)] == []
    run = dsrdump(sr_path)
    assert run.returncode == 0, run.stderr
    assert "E:" not in run.stderr and "W:" not in run.stderr, run.stderr
    sr = pydicom.dcmread(sr_path)
    # findings 1 and 2 point at their maps, finding 3 at none; the maps are in the evidence
    assert _explained_groups(sr) == {
        "Finding job-e2e/0": pms[0].SOPInstanceUID,
        "Finding job-e2e/1": pms[1].SOPInstanceUID,
    }
    evidence = {
        i.ReferencedSOPInstanceUID
        for s in sr.CurrentRequestedProcedureEvidenceSequence
        for series in s.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
    }
    assert {pm.SOPInstanceUID for pm in pms} <= evidence & referenced_uids(sr)
    # the images of the maps are the source slices (remapped consistently when anonymised)
    seg = pydicom.dcmread(out / "report-seg.dcm")
    assert pms[0].FrameOfReferenceUID == seg.FrameOfReferenceUID
    if which == "anon":
        assert pms[0].PatientName == seg.PatientName and "Doe" not in str(pms[0].PatientName)
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert document["objects"]["pm-001"]["sop_instance_uid"] == pms[0].SOPInstanceUID
    assert document["objects"]["pm-001"]["finding_id"] == "job-e2e/0"
    explanations = [f["explanation"] for f in document["findings"]]
    assert [e and e["overlay"] for e in explanations] == [
        "saliency-gradcam-finding-001",
        "saliency-gradcam-finding-002",
        None,
    ]


def test_report_maps_hold_the_overlays_values(e2e, saliency_study):
    ds = pydicom.dcmread(e2e.plain / "report-pm-002.dcm")
    hd.pm.ParametricMap.from_dataset(ds)  # highdicom reads it back
    expected = e2e.maps[2]
    rebuilt = _slices_of(ds, saliency_study.sources)
    assert sorted(rebuilt) == [k for k in range(expected.shape[0]) if np.any(expected[k] != 0)]
    for k, values in rebuilt.items():
        # NIfTI float32 in, DICOM float32 out: equal within float32
        np.testing.assert_allclose(values, expected[k], rtol=0, atol=1e-6)
