"""The patient/study/series corner text of a view, composed without Qt (issue 3, "Overlays").

Radiologists expect the top-left corner to say whose images these are and which study and
series: name and ID, age and sex, study date and description, series number, modality and
description (the habit of Horos, RadiAnt and OHIF). Dates are shown as ISO 8601 (YYYY-MM-DD):
unambiguous for readers in every locale.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

from medview.imaging.volume import VolumeMeta
from medview.model.names import format_person_name

__all__ = [
    "AI_GENERATED_LINE",
    "DERIVATION_LINE",
    "derived_lines",
    "format_age",
    "format_da",
    "title_lines",
]

#: The first corner line of a derived image (issue 6): a reader must never take an AI
#: output (super-resolution, a mask) for an acquisition, whatever else is on screen.
AI_GENERATED_LINE = "AI-GENERATED — not for diagnosis"
#: The line naming how a derived image was made (``{how}``: VolumeMeta.derivation).
DERIVATION_LINE = "Derived: {how}"

_AGE_UNITS = {"D", "W", "M", "Y"}


def format_da(value: str) -> str:
    """A DICOM date (VR DA, ``YYYYMMDD``) as ``YYYY-MM-DD``; anything else unchanged."""
    date = _parse_da(value)
    return date.isoformat() if date else value.strip()


def _parse_da(value: str) -> _dt.date | None:
    text = (value or "").strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def format_age(meta: VolumeMeta) -> str:
    """Age as the file states it (Patient's Age, VR AS, PS3.5 6.2: ``nnnD/W/M/Y``), e.g. ``54Y``.

    Without Patient's Age, the whole years between Patient's Birth Date and the Study Date;
    "" when neither is known.
    """
    age = meta.patient_age.strip().upper()
    if len(age) == 4 and age[:3].isdigit() and age[3] in _AGE_UNITS:
        return f"{int(age[:3])}{age[3]}"
    born, studied = _parse_da(meta.patient_birth_date), _parse_da(meta.study_date)
    if born is None or studied is None or studied < born:
        return ""
    years = studied.year - born.year - ((studied.month, studied.day) < (born.month, born.day))
    return f"{years}Y"


def title_lines(meta: VolumeMeta) -> list[str]:
    """The patient, study and series lines of the top-left corner (empty parts left out)."""
    lines = []
    patient = "  ".join(p for p in (format_person_name(meta.patient_name), meta.patient_id) if p)
    if patient:
        lines.append(patient)
    age_sex = " ".join(p for p in (format_age(meta), meta.patient_sex.strip()) if p)
    if age_sex:
        lines.append(age_sex)
    study = "  ".join(p for p in (format_da(meta.study_date), meta.study_description) if p)
    if study:
        lines.append(study)
    number = f"#{meta.series_number}" if meta.series_number is not None else ""
    series = " ".join(p for p in (number, meta.modality, meta.series_description) if p)
    if series:
        lines.append(series)
    return lines


def derived_lines(meta: VolumeMeta, translate: Callable[[str], str] = str) -> list[str]:
    """The warning lines heading the top-left corner of a derived image; [] for an original.

    ``translate`` turns the English templates (:data:`AI_GENERATED_LINE`,
    :data:`DERIVATION_LINE`) into the reader's language before the derivation is filled in
    (the views pass their Qt translator; this module stays Qt-free).
    """
    if not meta.derived:
        return []
    how = meta.derivation or "?"
    return [translate(AI_GENERATED_LINE), translate(DERIVATION_LINE).format(how=how)]
