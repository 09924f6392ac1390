"""Query keys for C-FIND and QIDO-RS, and their results as plain dicts.

PS3.4 C.6.2.1 (Study Root): a STUDY-level query matches on patient and study attributes,
a SERIES-level query on series attributes within one study. Empty return keys ask the peer
to fill them in (universal matching, PS3.4 C.2.2.2.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset

from medview.net.errors import NetworkError

LEVELS = ("STUDY", "SERIES")
_DATE = re.compile(r"^(\d{8})?(-)?(\d{8})?$")

STUDY_KEYS = {
    "PatientName": "patient_name",
    "PatientID": "patient_id",
    "PatientBirthDate": "patient_birth_date",
    "StudyInstanceUID": "study_uid",
    "StudyDate": "study_date",
    "StudyTime": "study_time",
    "AccessionNumber": "accession_number",
    "StudyDescription": "study_description",
    "ModalitiesInStudy": "modalities",
    "NumberOfStudyRelatedSeries": "series_count",
    "NumberOfStudyRelatedInstances": "instance_count",
}
SERIES_KEYS = {
    "StudyInstanceUID": "study_uid",
    "SeriesInstanceUID": "series_uid",
    "Modality": "modality",
    "SeriesNumber": "series_number",
    "SeriesDescription": "series_description",
    "NumberOfSeriesRelatedInstances": "instance_count",
}


def check_date_range(text: str) -> str:
    """``YYYYMMDD``, ``YYYYMMDD-YYYYMMDD``, ``-YYYYMMDD`` or ``YYYYMMDD-`` (PS3.4 C.2.2.2.5)."""
    value = text.strip().replace("/", "")
    match = _DATE.match(value)
    if not value or not match or not (match.group(1) or match.group(3)):
        raise NetworkError(f"date {text!r} must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    if match.group(1) and match.group(3) and not match.group(2):
        raise NetworkError(f"date {text!r} must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    return value


@dataclass(frozen=True)
class Query:
    """What to look for. Empty fields match anything.

    Attributes
    ----------
    level
        ``"STUDY"`` or ``"SERIES"`` (series need ``study_uid``, PS3.4 C.6.2.1.1).
    patient_name
        May hold ``*`` and ``?`` wildcards, e.g. ``"DOE^J*"``.
    study_date
        ``YYYYMMDD`` or a range ``YYYYMMDD-YYYYMMDD`` (open ends allowed).
    modality
        At study level matched against Modalities in Study; at series level against Modality.
    """

    level: str = "STUDY"
    patient_name: str = ""
    patient_id: str = ""
    accession_number: str = ""
    study_date: str = ""
    modality: str = ""
    study_uid: str = ""
    series_uid: str = ""

    def __post_init__(self) -> None:
        level = self.level.upper()
        object.__setattr__(self, "level", level)
        if level not in LEVELS:
            raise NetworkError(f"query level must be study or series, not {self.level!r}")
        if level == "SERIES" and not (self.study_uid or self.series_uid):
            raise NetworkError("a series-level query needs the study UID (--study UID)")
        if self.study_date:
            object.__setattr__(self, "study_date", check_date_range(self.study_date))

    def identifier(self) -> Dataset:
        """The C-FIND identifier (matching keys plus empty return keys)."""
        ds = Dataset()
        ds.QueryRetrieveLevel = self.level
        keys = STUDY_KEYS if self.level == "STUDY" else SERIES_KEYS
        for keyword in keys:
            setattr(ds, keyword, "")
        ds.StudyInstanceUID = self.study_uid
        if self.level == "STUDY":
            ds.PatientName = self.patient_name
            ds.PatientID = self.patient_id
            ds.AccessionNumber = self.accession_number
            ds.StudyDate = self.study_date
            ds.ModalitiesInStudy = self.modality
        else:
            ds.SeriesInstanceUID = self.series_uid
            ds.Modality = self.modality
        return ds

    def qido_filters(self) -> dict[str, str]:
        """The same matching keys as QIDO-RS query parameters (PS3.18 8.3.4)."""
        identifier = self.identifier()
        keys = STUDY_KEYS if self.level == "STUDY" else SERIES_KEYS
        filters = {}
        for keyword in keys:
            value = str(identifier.get(keyword, "") or "")
            if value and keyword != "StudyInstanceUID":
                filters[keyword] = value
        return filters


def _text(value: object) -> str | int | list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    if isinstance(value, int):  # IS and US values
        return int(value)
    return str(value)


def result_from_dataset(ds: Dataset, level: str) -> dict:
    """A C-FIND or QIDO-RS match as a dict with snake_case keys and ``level``."""
    keys = STUDY_KEYS if level.upper() == "STUDY" else SERIES_KEYS
    result: dict = {"level": level.lower()}
    for keyword, name in keys.items():
        value = _text(ds.get(keyword, None))
        if keyword in ("ModalitiesInStudy",) and isinstance(value, str):
            value = [value]
        result[name] = value
    return result
