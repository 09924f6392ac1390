"""Issue 11, S1: medview's own de-identification, audited against the FULL PS3.15 Annex E
Table E.1-1 on 12 SOP classes from pydicom's test files.

The audit's table is dicom-anonymizer 2.1.0's (``dicomfields_2026c``, 655 rows), not
medview's (:mod:`medview.reports.annex_e_table`), so a row medview missed is still caught.
Each sample gets a recognisable value ("ORIGINAL-<keyword>", a planted date, UID, ...) in
every Table E.1-1 attribute it has at any depth, plus every missing row at the top level and
in the first item of up to 4 sequences, table sequences holding a name and an ID, an overlay,
a curve and a private block (:mod:`priv_annex_e_audit`). After ``deidentify`` the file is
written, read back and walked: no Annex E attribute may keep an original non-empty value,
no original UID, private or 50xx/60xx element may remain. The same audit of
dicom-anonymizer's default is printed as a reference point, not asserted.
"""

from __future__ import annotations

import copy

import pydicom
import pytest
from priv_annex_e_audit import ORIGINAL_DATE, audit, plant, reference, roundtrip
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from medview.reports.annex_e import TABLE, Options
from medview.reports.anonymize import UidMap, deidentify

#: pydicom's own samples hold a UID with a leading-zero component; pydicom warns on it.
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR UI:UserWarning")

#: (file in pydicom's test data, the IOD it holds)
SAMPLES = [
    ("CT_small.dcm", "CT Image"),
    ("MR_small.dcm", "MR Image"),
    ("examples_jpeg2k.dcm", "Ultrasound Image"),
    ("examples_ybr_color.dcm", "Ultrasound Multi-frame Image"),
    ("SC_rgb_jls_lossy_line.dcm", "Secondary Capture Image"),
    ("rtdose_1frame.dcm", "RT Dose"),
    ("rtplan.dcm", "RT Plan"),
    ("liver_1frame.dcm", "Segmentation"),
    ("reportsi.dcm", "Basic Text SR"),
    ("test-SR.dcm", "Comprehensive SR"),
    ("waveform_ecg.dcm", "12-lead ECG Waveform"),
    ("6247", "Computed Radiography Image"),
]
METHODS = {
    Options(): {"113100", "113104"},
    Options(retain_dates="full"): {"113100", "113106"},
    Options(retain_dates="modified"): {"113100", "113107"},
    Options(clean_descriptors=True): {"113100", "113105"},
}


@pytest.fixture(scope="module")
def ref():
    """The independent table; the tests that need it skip without the dev dependency."""
    pytest.importorskip("dicomanonymizer", reason="dev dependency dicom-anonymizer==2.1.0")
    return reference()


def _sample(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name, download=False))


def _planted(name, ref):
    ds = _sample(name)
    return ds, plant(ds, ref)


def test_the_samples_are_12_different_iods():
    classes = {str(_sample(name).SOPClassUID) for name, _iod in SAMPLES}
    assert len(classes) == len(SAMPLES) >= 10


def test_medview_table_covers_the_reference_table(ref):
    """Every row of the independent reference is a row of medview's table (by tag), and the
    committed table is what its generator makes from the installed package today."""
    from priv_make_annex_e_table import rows

    from medview.reports.annex_e_table import ROWS

    assert set(ref.actions) - set(TABLE) == set()
    assert len(TABLE) + 3 == len(ROWS) == 655  # + the 50xx / 60xx masked rows
    assert tuple(rows()) == ROWS


def test_basic_profile_leaves_no_annex_e_value_on_any_iod(ref, capsys):
    lines, totals, theirs = [], {}, {}
    for name, iod in SAMPLES:
        ds, planted = _planted(name, ref)
        other = copy.deepcopy(ds)
        out = roundtrip(deidentify(ds, UidMap(salt="s1"), "ANON-1"))
        found = audit(out, planted, ref)
        totals[iod] = found
        from dicomanonymizer import anonymize_dataset

        anonymize_dataset(other)  # its default (PS3.15 2023 table), as shipped
        theirs[iod] = audit(roundtrip(other), planted, ref).total
        lines.append(
            f"S1 {iod:<30} planted {planted.count:>6}  medview left {found.total}"
            f"  dicom-anonymizer default left {theirs[iod]}"
        )
        assert out.PatientIdentityRemoved == "YES"
        codes = {item.CodeValue for item in out.DeidentificationMethodCodeSequence}
        assert codes >= {"113100", "113104"}
    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print(f"S1 dicom-anonymizer 2.1.0 default, all samples: {sum(theirs.values())} left")
    leaks = {iod: f for iod, f in totals.items() if f.total}
    assert not leaks, {
        iod: (f.kept[:5], f.uids[:3], f.private, f.overlay_curve) for iod, f in leaks.items()
    }


@pytest.mark.parametrize("options", list(METHODS), ids=["basic", "full-dates", "modified", "clean"])
def test_each_option_is_declared_and_keeps_only_what_it_may(ref, options):
    kept_by_option = {t for t, row in TABLE.items() if "L" in row.options}
    for name in ("CT_small.dcm", "test-SR.dcm"):
        ds, planted = _planted(name, ref)
        ds.SeriesDescription = "Chest Smith^John 20010203 12345678"
        ds.PatientName = "Smith^John"
        out = roundtrip(deidentify(ds, UidMap(salt="opt"), "ANON-1", options))
        codes = {item.CodeValue for item in out.DeidentificationMethodCodeSequence}
        assert codes >= METHODS[options]
        allowed = kept_by_option if options.retain_dates == "full" else set()
        if options.clean_descriptors:
            # kept on purpose, cleaned: checked below
            allowed = {t for t, row in TABLE.items() if "C" in row.options}
        if options.retain_dates == "modified":
            allowed = {
                t for t in kept_by_option if pydicom.datadict.dictionary_VR(t) in ("TM", "SH")
            }
        found = audit(out, planted, ref, allowed)
        assert found.total == 0, (name, found.kept[:5], found.uids[:3])
        if options.retain_dates == "full":
            assert out.StudyDate == ORIGINAL_DATE and out.ContentDate == ORIGINAL_DATE
            assert out.LongitudinalTemporalInformationModified == "UNMODIFIED"
        elif options.retain_dates == "modified":
            assert out.StudyDate != ORIGINAL_DATE and out.StudyDate == out.ContentDate
            assert out.LongitudinalTemporalInformationModified == "MODIFIED"
        else:
            assert out.StudyDate != ORIGINAL_DATE
        if options.clean_descriptors:
            assert out.SeriesDescription == "Chest"  # name, date and number cleaned out
        else:
            assert "SeriesDescription" not in out


def test_modified_dates_keep_intervals_across_objects():
    uids = UidMap(salt="dates")
    a, b = Dataset(), Dataset()
    a.StudyDate, b.StudyDate = "20200101", "20200111"
    options = Options(retain_dates="modified")
    deidentify(a, uids, options=options)
    deidentify(b, uids, options=options)
    assert a.StudyDate != "20200101"
    days = lambda d: pydicom.valuerep.DA(d).toordinal()  # noqa: E731
    assert days(b.StudyDate) - days(a.StudyDate) == 10


def test_uids_are_remapped_consistently_so_references_resolve():
    """An SR referencing a CT: after both are de-identified with one map, the SR's
    reference names the CT's new SOP Instance UID (and no original UID is left)."""
    ct = _sample("CT_small.dcm")
    sr = _sample("test-SR.dcm")
    item = Dataset()
    item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = ct.SOPClassUID, ct.SOPInstanceUID
    series = Dataset()
    series.SeriesInstanceUID, series.ReferencedSOPSequence = ct.SeriesInstanceUID, [item]
    study = Dataset()
    study.StudyInstanceUID = ct.StudyInstanceUID
    study.ReferencedSeriesSequence = [series]
    sr.CurrentRequestedProcedureEvidenceSequence = [study]
    originals = {str(ct.SOPInstanceUID), str(ct.StudyInstanceUID), str(ct.SeriesInstanceUID)}
    uids = UidMap(salt="refs")
    ct, sr = roundtrip(deidentify(ct, uids, "P")), roundtrip(deidentify(sr, uids, "P"))
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == ct.StudyInstanceUID
    ref_series = evidence.ReferencedSeriesSequence[0]
    assert ref_series.SeriesInstanceUID == ct.SeriesInstanceUID
    assert ref_series.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == ct.SOPInstanceUID
    left = {str(e.value) for d in (ct, sr) for e in d.iterall() if e.VR == "UI"}
    assert not left & originals
