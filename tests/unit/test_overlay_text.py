"""The patient/study/series corner text (issue 3, "Overlays"), without Qt."""

from __future__ import annotations

import pytest

from medview.imaging.volume import VolumeMeta
from medview.model.overlay_text import derived_lines, format_age, format_da, title_lines


@pytest.mark.parametrize(
    ("value", "expected"),
    [("20240131", "2024-01-31"), ("", ""), ("2024", "2024"), ("20241341", "20241341")],
)
def test_dates_are_iso(value, expected):
    assert format_da(value) == expected


@pytest.mark.parametrize(
    ("age", "birth", "study", "expected"),
    [
        ("054Y", "", "", "54Y"),
        ("006M", "19700101", "20240101", "6M"),  # the stated age wins
        ("", "19700615", "20240614", "53Y"),  # the day before the birthday
        ("", "19700615", "20240615", "54Y"),
        ("", "19700615", "", ""),
        ("", "20300101", "20240101", ""),  # born after the study: no age rather than a wrong one
        ("54", "", "", ""),  # not a valid AS value
    ],
)
def test_age_from_the_file_or_the_dates(age, birth, study, expected):
    meta = VolumeMeta(patient_age=age, patient_birth_date=birth, study_date=study)
    assert format_age(meta) == expected


def test_title_lines_read_like_a_workstation():
    meta = VolumeMeta(
        modality="CT",
        patient_name="Yamada^Tarou=山田^太郎",
        patient_id="ID7",
        patient_sex="M",
        patient_age="061Y",
        study_date="20260102",
        study_description="CHEST",
        series_number=3,
        series_description="Lung 1.0",
    )
    assert title_lines(meta) == [
        "Yamada, Tarou (山田 太郎)  ID7",
        "61Y M",
        "2026-01-02  CHEST",
        "#3 CT Lung 1.0",
    ]


def test_missing_parts_are_left_out():
    assert title_lines(VolumeMeta()) == []
    assert title_lines(VolumeMeta(modality="MR")) == ["MR"]


def test_derived_images_are_labelled_ai_generated_and_originals_are_not():
    derived = VolumeMeta(modality="CT", derived=True, derivation="super-resolution x2")
    assert derived_lines(derived) == [
        "AI-GENERATED — not for diagnosis",
        "Derived: super-resolution x2",
    ]
    assert derived_lines(VolumeMeta(derived=True))[1] == "Derived: ?"
    assert derived_lines(VolumeMeta(modality="CT", derivation="ignored")) == []
    # The view's translator gets the templates, before the derivation is filled in.
    german = {"Derived: {how}": "Abgeleitet: {how}"}
    translated = derived_lines(derived, lambda text: german.get(text, text))
    assert translated[1] == "Abgeleitet: super-resolution x2"
