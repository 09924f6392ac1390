"""`medview report --anonymize`: PS3.15 Annex E applied to SR, SEG, images, JSON and PDF,
with references between them still resolving."""

from __future__ import annotations

import json

import pydicom
import pymupdf

from medview.reports.annex_e import TABLE
from medview.reports.anonymize import UidMap, deidentify


def _walk(ds):
    for element in ds:
        yield element
        if element.VR == "SQ":
            for item in element.value:
                yield from _walk(item)


def _strings(ds) -> set[str]:
    values = set()
    for element in _walk(ds):
        if element.VR in ("SQ", "OB", "OW", "UN") or element.value is None:
            continue
        items = element.value if element.VM > 1 else [element.value]
        values.update(str(v) for v in items)
    return values


def _original(demo_run):
    return pydicom.dcmread(demo_run.study.files[0], stop_before_pixels=True)


def test_no_annex_e_attribute_keeps_its_original_value(anonymized, demo_run):
    original = _original(demo_run)
    originals = {
        e.keyword: str(e.value)
        for e in original
        if int(e.tag) in TABLE and e.VR not in ("SQ", "UI") and str(e.value)
    }
    assert {"PatientName", "PatientID", "PatientBirthDate", "StudyDate", "AccessionNumber"} <= set(
        originals
    )
    uids = {
        str(original.StudyInstanceUID),
        str(original.SeriesInstanceUID),
        str(original.FrameOfReferenceUID),
        *(
            str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
            for f in demo_run.study.files
        ),
    }
    paths = [anonymized / "report-sr.dcm", anonymized / "report-seg.dcm"]
    paths += sorted((anonymized / "images").glob("*.dcm"))
    assert len(paths) == 2 + len(demo_run.study.files)
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        for element in _walk(ds):
            if element.keyword in originals:
                assert str(element.value) != originals[element.keyword], (path.name, element)
        leaked = _strings(ds) & (uids | {originals["PatientName"], originals["PatientID"]})
        assert not leaked, (path.name, leaked)
        assert not any(e.tag.is_private for e in _walk(ds))
    for text in (anonymized / "report.json").read_text(encoding="utf-8"), _pdf_text(anonymized):
        for secret in (originals["PatientName"], originals["PatientID"], *uids):
            assert secret not in text
        assert "Doe" not in text  # the reader's name too (Verifying Observer: Annex E)


def _pdf_text(folder) -> str:
    with pymupdf.open(folder / "report.pdf") as document:
        return "".join(page.get_text() for page in document)


def test_references_between_sr_seg_and_images_resolve(anonymized):
    images = {}
    for path in (anonymized / "images").glob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        images[str(ds.SOPInstanceUID)] = ds
    first = next(iter(images.values()))
    sr = pydicom.dcmread(anonymized / "report-sr.dcm")
    seg = pydicom.dcmread(anonymized / "report-seg.dcm")
    for obj in (sr, seg):
        assert obj.StudyInstanceUID == first.StudyInstanceUID
        assert obj.PatientID == first.PatientID
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID
    referenced_series = seg.ReferencedSeriesSequence[0]
    assert referenced_series.SeriesInstanceUID == first.SeriesInstanceUID
    for item in referenced_series.ReferencedInstanceSequence:
        assert item.ReferencedSOPInstanceUID in images
    from medview.reports.sr import referenced_uids

    referenced = referenced_uids(sr)
    assert str(seg.SOPInstanceUID) in referenced
    assert referenced - {str(seg.SOPInstanceUID)} <= set(images)
    # the JSON's tracking UIDs are the SR's (one UID map for everything)
    document = json.loads((anonymized / "report.json").read_text(encoding="utf-8"))
    assert document["anonymized"] is True
    assert document["objects"]["sr"]["sop_instance_uid"] == sr.SOPInstanceUID
    tracking = {f["tracking_uid"] for f in document["findings"]}
    in_sr = {str(e.value) for e in _walk(sr) if e.keyword == "UID" and str(e.value) in tracking}
    assert in_sr == tracking


def test_uid_map_is_consistent_and_keeps_dicom_uids():
    uids = UidMap(salt="s", keep=["1.2.3"])
    assert uids("1.2.826.1") == uids("1.2.826.1") != "1.2.826.1"
    assert UidMap(salt="t")("1.2.826.1") != uids("1.2.826.1")
    assert uids("1.2.840.10008.5.1.4.1.1.2") == "1.2.840.10008.5.1.4.1.1.2"
    assert uids("1.2.3") == "1.2.3"
    ds = pydicom.Dataset()
    ds.PatientName, ds.PatientID, ds.StudyInstanceUID = "A^B", "X", "1.2.826.1"
    ds.InstitutionName, ds.ImageComments = "Hospital", "secret"
    deidentify(ds, uids, "ANON-1")
    assert ds.PatientID == "ANON-1" and ds.StudyInstanceUID == uids("1.2.826.1")
    assert "ImageComments" not in ds and ds.InstitutionName != "Hospital"


def test_cli_options_retain_dates_and_clean_descriptors(demo_run, tmp_path, capsys):
    """`--retain-dates full|modified`, `--clean-descriptors`: applied and declared (CID 7050)."""
    original = _original(demo_run)
    full, modified = tmp_path / "full", tmp_path / "modified"
    assert demo_run.report(full, "--anonymize", "--retain-dates", "full", "--format", "json") == 0
    args = ("--anonymize", "--retain-dates", "modified", "--clean-descriptors", "--format", "json")
    assert demo_run.report(modified, *args) == 0
    kept = pydicom.dcmread(sorted((full / "images").glob("*.dcm"))[0], stop_before_pixels=True)
    assert kept.StudyDate == original.StudyDate and kept.PatientName != original.PatientName
    assert {i.CodeValue for i in kept.DeidentificationMethodCodeSequence} >= {"113100", "113106"}
    shifted = pydicom.dcmread(sorted((modified / "images").glob("*.dcm"))[0])
    assert shifted.StudyDate not in ("", original.StudyDate, "19000101")
    codes = {i.CodeValue for i in shifted.DeidentificationMethodCodeSequence}
    assert codes >= {"113100", "113107", "113105"}
    assert shifted.LongitudinalTemporalInformationModified == "MODIFIED"
    if original.get("SeriesDescription"):  # Clean Descriptors keeps the description
        assert shifted.SeriesDescription


def test_cli_options_need_anonymize(demo_run, tmp_path, capsys):
    assert demo_run.report(tmp_path / "x", "--retain-dates", "full") != 0
    assert "need --anonymize" in capsys.readouterr().err
