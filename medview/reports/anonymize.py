"""De-identification of exported objects: PS3.15 Annex E, Basic Application Level
Confidentiality Profile, applied consistently to SR, SEG, Parametric Maps, source image
copies and the report model (JSON, PDF).

Every attribute of PS3.15 Table E.1-1 (all 655 rows of the 2026c edition, at any nesting
depth: :mod:`.annex_e`, :mod:`.deid_clean`) gets its action; private attributes and the
overlay / curve groups (60xx, 50xx) are removed. Options (PS3.15 E.3, each declared in the
De-identification Method Code Sequence, CID 7050):

- **Clean Structured Content** (E.3.5, DCM 113104), always: the Basic profile alone removes
  the Content Sequence of an SR; this option keeps the report's content and cleans it
  (every person name in it is replaced, every UID remapped).
- **Retain Device Identity** (E.3.8, DCM 113109), for the AI algorithms' Device UIDs only:
  they identify a model and its weights, not the patient, and IHE AI Results relies on them.
- **Retain Longitudinal Temporal Information** (E.3.6), chosen per export: Full Dates (DCM
  113106: dates and times kept) or Modified Dates (DCM 113107: every date moved by one
  offset per export, derived from the UID map's secret, so intervals survive).
- **Clean Descriptors** (E.3.5, DCM 113105), chosen per export: descriptions, comments and
  labels are kept, less the object's own identifying texts (names, IDs, dates, ...) and
  date / long number / e-mail patterns. Free text a person typed may still name someone
  the object does not: the option is off by default.

UIDs (action U) are replaced by UIDs derived from a per-export secret and the original, so
the same original maps to the same new UID in every object of one export: references
between SR, SEG and images still resolve. DICOM-defined UIDs (``1.2.840.10008.*``: SOP
classes, transfer syntaxes, coding schemes) are kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydicom.dataset import Dataset

from medview.reports.annex_e import Options
from medview.reports.deid_clean import ANONYMOUS, ANONYMOUS_PN, Cleaner, identifying_texts
from medview.reports.model import AuditEvent, ReportModel, StudyInfo, stable_uid

#: Study ID is type 2 but a DICOMDIR needs a value: a dummy (Annex E action Z allows it).
DUMMY_STUDY_ID = "ANON"
#: Modified Dates: the offset is drawn from this many days back (about 30 years).
MAX_DATE_SHIFT_DAYS = 11000

#: PS3.16 CID 7050 De-identification Method codes, and the De-identification Method text
#: (LO, one value per profile or option).
_BASIC = ("113100", "Basic Application Confidentiality Profile", "PS3.15 Annex E Basic Profile")
_STRUCTURED = ("113104", "Clean Structured Content Option", "Clean Structured Content Option")
_DEVICE = ("113109", "Retain Device Identity Option", "Retain Device Identity Option")
_FULL_DATES = (
    "113106",
    "Retain Longitudinal Temporal Information Full Dates Option",
    "Retain Longitudinal Full Dates Option",
)
_MODIFIED_DATES = (
    "113107",
    "Retain Longitudinal Temporal Information Modified Dates Option",
    "Retain Longitudinal Modified Dates Option",
)
_DESCRIPTORS = ("113105", "Clean Descriptors Option", "Clean Descriptors Option")


def method_codes(options: Options) -> list[tuple[str, str, str]]:
    """(code value, code meaning, method text) of the profile and each option applied."""
    codes = [_BASIC, _STRUCTURED, _DEVICE]
    if options.retain_dates:
        codes.append(_FULL_DATES if options.retain_dates == "full" else _MODIFIED_DATES)
    if options.clean_descriptors:
        codes.append(_DESCRIPTORS)
    return codes


class UidMap:
    """Consistent replacement UIDs for one export (PS3.15 Annex E action U).

    Parameters
    ----------
    salt
        Secret mixed into every new UID (random by default: the mapping cannot be reversed
        or repeated without it; pass the same salt to pseudonymise several exports alike).
    keep
        UIDs kept as they are (the AI device UIDs: Retain Device Identity Option).
    """

    def __init__(self, salt: str | None = None, keep: Iterable[str] = ()) -> None:
        self.salt = salt or secrets.token_hex(16)
        self.keep = set(keep)
        self._map: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = str(uid)
        if not uid or uid in self.keep or uid.startswith("1.2.840.10008."):
            return uid
        if uid not in self._map:
            self._map[uid] = stable_uid("uid-map", self.salt, uid)
        return self._map[uid]

    def pseudonym(self, value: str) -> str:
        """A stable stand-in for an identifier (Patient ID) within this export."""
        digest = hashlib.sha256(f"{self.salt}:{value}".encode()).hexdigest()
        return "ANON-" + digest[:12].upper()

    def date_offset_days(self) -> int:
        """Modified Dates: the export's one shift (days back, 1..MAX), from the secret."""
        digest = hashlib.sha256(f"{self.salt}:dates".encode()).digest()
        return -(1 + int.from_bytes(digest[:4], "big") % MAX_DATE_SHIFT_DAYS)

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self._map)


def deidentify(
    ds: Dataset, uids: UidMap, patient_id: str = "", options: Options | None = None
) -> Dataset:
    """Apply the profile to ``ds`` in place (and return it).

    ``patient_id`` replaces Patient ID (the same pseudonym in every object of an export);
    ``options`` are the profile options chosen (:class:`medview.reports.annex_e.Options`).
    """
    options = options or Options()
    identifying = identifying_texts(ds) if options.clean_descriptors else ()
    had_context = "AcquisitionContextSequence" in ds
    ds.remove_private_tags()
    cleaner = Cleaner(uids, options, uids.date_offset_days(), identifying)
    cleaner.clean(ds)
    if had_context:
        # Type 2 in the Acquisition Context Module (Parametric Map, enhanced images): the
        # profile removes it (X/Z); zero-length keeps the object valid and says nothing.
        ds.AcquisitionContextSequence = []
    if "PatientID" in ds:
        ds.PatientID = patient_id or ANONYMOUS
    if "PatientName" in ds:
        ds.PatientName = ANONYMOUS_PN
    if "StudyID" in ds:
        ds.StudyID = DUMMY_STUDY_ID
    ds.PatientIdentityRemoved = "YES"
    codes = method_codes(options)
    ds.DeidentificationMethod = [text for _value, _meaning, text in codes]
    items = []
    for value, meaning, _text in codes:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = items
    # PS3.3 C.7.1.1 / PS3.15 E.3.6: whether dates were kept, shifted or removed.
    ds.LongitudinalTemporalInformationModified = {
        "": "REMOVED", "full": "UNMODIFIED", "modified": "MODIFIED"
    }[options.retain_dates]  # fmt: skip
    if getattr(ds, "file_meta", None) is not None and "SOPInstanceUID" in ds:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def anonymize_model(model: ReportModel, uids: UidMap, patient_id: str) -> ReportModel:
    """The report model as the de-identified objects describe it (for JSON and PDF)."""
    s = model.study
    study = StudyInfo(
        patient_name=ANONYMOUS,
        patient_id=patient_id,
        study_uid=uids(s.study_uid),
        series_uid=uids(s.series_uid),
        frame_of_reference_uid=uids(s.frame_of_reference_uid),
        modality=s.modality,
    )
    algorithms = {}
    for finding in model.findings:
        if finding.algorithm is not None and finding.algorithm.key not in algorithms:
            algorithms[finding.algorithm.key] = replace(
                finding.algorithm, provenance=_provenance(finding.algorithm.provenance, uids)
            )
    findings = [
        replace(
            f,
            uid=uids(f.tracking_uid),
            decided_by=ANONYMOUS if f.decided_by else "",
            decided_at="",
            algorithm=algorithms.get(f.algorithm.key) if f.algorithm else None,
        )
        for f in model.findings
    ]
    measurements = []
    for record in model.measurements:
        record = dict(record)
        for key in ("series_uid", "frame_of_reference_uid", "referenced_sop_instance_uid"):
            if record.get(key):
                record[key] = uids(record[key])
        measurements.append(record)
    audit = [
        AuditEvent(e.action, ANONYMOUS, "", e.finding_id, e.changes, e.note) for e in model.audit
    ]
    return replace(
        model,
        study=study,
        reader=ANONYMOUS if model.reader else "",
        organization="",
        verified_by=ANONYMOUS if model.verified_by else "",
        verified_at="",
        findings=findings,
        measurements=measurements,
        audit=audit,
    )


def _provenance(provenance: Mapping[str, Any], uids: UidMap) -> dict[str, Any]:
    """A job's provenance without the input's UIDs (remapped) and the job's times (removed)."""
    cleaned = dict(provenance)
    for key, value in provenance.items():
        if key.endswith("_uid") and isinstance(value, str):
            cleaned[key] = uids(value)
        elif key in ("started", "finished"):
            cleaned[key] = ""
    return cleaned
