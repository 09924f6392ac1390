"""The fast header walk and pydicom's full reader agree on every file pydicom ships."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydicom.data import get_charset_files, get_palette_files, get_testdata_files

from medview.core.errors import DicomLoadError
from medview.dicom import header as header_module
from medview.dicom.fastheader import read_fast

FILES = sorted(
    {
        str(p)
        for p in get_testdata_files() + get_charset_files() + get_palette_files()
        if Path(p).is_file()
    }
)


def read_both(path, monkeypatch):
    fast = header_module.read_header(path)
    with monkeypatch.context() as patch:
        patch.setattr(header_module, "read_fast", lambda *_: None)
        slow = header_module.read_header(path)
    return fast, slow


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_fast_walk_matches_pydicom(path, monkeypatch):
    try:
        fast, slow = read_both(path, monkeypatch)
    except DicomLoadError as exc:
        # Refused either way, with the same reason.
        with monkeypatch.context() as patch:
            patch.setattr(header_module, "read_fast", lambda *_: None)
            with pytest.raises(DicomLoadError) as slow_exc:
                header_module.read_header(path)
        assert type(slow_exc.value) is type(exc)
        return
    # pydicom warns about some values while reading elements the fast walk never keeps.
    assert replace(fast, warnings=()) == replace(slow, warnings=())
    # Truncation is seen by the walk only (pydicom keeps what it parsed without a word).
    own = {w for w in fast.warnings if not w.startswith("the file is truncated")}
    assert own <= set(slow.warnings)


def test_a_truncated_object_is_flagged_not_shown_silently():
    """Issue 11 R2: pydicom reads rtplan_truncated.dcm without a warning; medview says it."""
    from pydicom.data import get_testdata_file

    header = header_module.read_header(get_testdata_file("rtplan_truncated.dcm"))
    assert any("(300A,00B0) runs past its end" in w for w in header.warnings)
    intact = header_module.read_header(get_testdata_file("rtplan.dcm"))
    assert not any("truncated" in w for w in intact.warnings)


def test_fast_walk_covers_ordinary_files():
    """The speed-up only counts if common files take the fast path."""
    names = [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "JPEG2000.dcm",
        "SC_rgb_rle.dcm",
    ]
    for name in names:
        (path,) = [p for p in FILES if Path(p).name == name]
        assert read_fast(path, header_module._WANTED_TAGS) is not None, name


TEXT_FIELDS = {
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "study_description": "StudyDescription",
    "series_description": "SeriesDescription",
    "accession_number": "AccessionNumber",
    "modality": "Modality",
    "study_uid": "StudyInstanceUID",
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: Path(p).name)
def test_text_values_equal_pydicom_decoding(path):
    """Text decoded from raw bytes equals pydicom's own decoding (character sets included)."""
    import pydicom

    try:
        record = header_module.read_header(path)
    except DicomLoadError:
        return
    dataset = pydicom.dcmread(path, stop_before_pixels=True)
    for field, keyword in TEXT_FIELDS.items():
        assert getattr(record, field) == header_module._text(dataset.get(keyword)), keyword
