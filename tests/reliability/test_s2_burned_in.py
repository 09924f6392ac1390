"""Issue 11, S2: the burned-in annotation gate of de-identified exports.

Header de-identification leaves the pixels as they are and medview does not clean pixel
data, so ultrasound, secondary capture and Burned In Annotation YES images are refused in a
de-identified export (one line naming the file, before anything is written) unless the user
accepts them (``accept_burned_in`` / ``medview report --accept-burned-in``: exported, each
named in the warnings) or the image declares the Clean Pixel Data Option (DCM 113101).
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from medview.core.errors import MedviewError
from medview.dicom.demo import write_demo_study
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.reports.burned_in import burned_in_reason
from medview.reports.export import export_report
from medview.reports.model import ReportModel, StudyInfo
from medview.reports.sources import SourceImages


def _read(name: str) -> Dataset:
    return pydicom.dcmread(get_testdata_file(name, download=False), stop_before_pixels=True)


@pytest.mark.parametrize(
    ("name", "flagged"),
    [
        ("examples_jpeg2k.dcm", "ultrasound"),  # Ultrasound Image Storage
        ("examples_ybr_color.dcm", "ultrasound"),  # Ultrasound Multi-frame Image Storage
        ("SC_rgb_jls_lossy_line.dcm", "secondary capture"),
        ("CT_small.dcm", ""),
        ("MR_small.dcm", ""),
    ],
)
def test_which_images_the_gate_stops(name, flagged):
    reason = burned_in_reason(_read(name))
    assert (flagged in reason) if flagged else reason == ""


def test_burned_in_annotation_yes_stops_any_image_and_clean_pixels_pass():
    ct = _read("CT_small.dcm")
    ct.BurnedInAnnotation = "YES"
    assert "Burned In Annotation" in burned_in_reason(ct)
    us = _read("examples_jpeg2k.dcm")
    cleaned = Dataset()
    cleaned.CodeValue, cleaned.CodingSchemeDesignator = "113101", "DCM"
    cleaned.CodeMeaning = "Clean Pixel Data Option"
    us.DeidentificationMethodCodeSequence = [cleaned]
    assert burned_in_reason(us) == ""


@pytest.fixture(scope="module")
def burned_in_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("s2")
    demo = write_demo_study(root / "ct", seed=2, size=32, slices=6)
    marked = demo.files[3]
    ds = pydicom.dcmread(marked)
    ds.BurnedInAnnotation = "YES"
    ds.save_as(marked)
    paths = [str(p) for p in demo.files]
    (candidate,) = [c for g in group_series(scan_paths(paths).headers) for c in g.candidates]
    sources = SourceImages.read(load_candidate(candidate), paths)
    model = ReportModel(StudyInfo.from_dataset(sources.datasets[0]))
    return root, sources, model, marked


def test_a_deidentified_export_refuses_it_in_one_line_and_writes_nothing(burned_in_study):
    root, sources, model, marked = burned_in_study
    out = root / "refused"
    with pytest.raises(MedviewError) as caught:
        export_report(model, sources, out, ["json"], anonymize=True)
    message = str(caught.value)
    assert "\n" not in message and str(marked) in message
    assert "Burned In Annotation is YES" in message and "--accept-burned-in" in message
    assert not out.exists()


def test_accepted_it_is_exported_and_named_in_the_warnings(burned_in_study):
    root, sources, model, marked = burned_in_study
    result = export_report(model, sources, root / "accepted", ["json"], anonymize=True,
                           accept_burned_in=True)  # fmt: skip
    assert len(result.images) == 6
    assert [w for w in result.warnings if str(marked) in w and "pixels" in w]


def test_a_plain_export_is_not_gated(burned_in_study):
    root, sources, model, _marked = burned_in_study
    result = export_report(model, sources, root / "plain", ["json"])
    assert result.images == [] and not result.warnings
