"""De-identification of exported objects: PS3.15 Annex E, Basic Application Level
Confidentiality Profile, applied consistently to SR, SEG, source image copies and the
report model (JSON, PDF).

Options used (PS3.15 E.3, declared in the De-identification Method Code Sequence, CID 7050):

- **Clean Structured Content** (E.3.5, DCM 113104): the Basic profile alone removes the
  whole Content Sequence of an SR; this option keeps the report's content and cleans it
  (every person name in it is replaced, every UID remapped).
- **Retain Device Identity** (E.3.8, DCM 113109), for the AI algorithms' Device UIDs only:
  they identify a model and its weights, not the patient, and IHE AI Results relies on them.

UIDs (action U) are replaced by UIDs derived from a per-export secret and the original, so
the same original maps to the same new UID in every object of one export: references
between SR, SEG and images still resolve. DICOM-defined UIDs (``1.2.840.10008.*``: SOP
classes, transfer syntaxes, coding schemes) are kept. Private attributes are removed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydicom.dataset import Dataset

from medview.reports.annex_e import DUMMY, EMPTY, REMOVE
from medview.reports.model import AuditEvent, ReportModel, StudyInfo, stable_uid

ANONYMOUS = "ANONYMOUS"
#: Person names become this (a caret: a bare word is the retired PN form to dciodvfy).
ANONYMOUS_PN = "ANONYMOUS^"
#: Study ID is type 2 but a DICOMDIR needs a value: a dummy (Annex E action Z allows it).
DUMMY_STUDY_ID = "ANON"
DUMMY_DATE, DUMMY_TIME, DUMMY_DATETIME = "19000101", "000000", "19000101000000"

#: PS3.16 CID 7050 De-identification Method codes.
METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113104", "Clean Structured Content Option"),
    ("113109", "Retain Device Identity Option"),
)
#: De-identification Method (LO, VM 1-n: one value per profile or option, 64 characters each).
METHOD = [
    "PS3.15 Annex E Basic Profile (medview)",
    "Clean Structured Content Option",
    "Retain Device Identity Option",
]


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
        # Datasets already cleaned in the current call: highdicom shares items between
        # places, and mapping a UID twice would break the references it should keep.
        self.cleaned: set[int] = set()

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

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self._map)


def _dummy(vr: str) -> str:
    return {
        "DA": DUMMY_DATE,
        "TM": DUMMY_TIME,
        "DT": DUMMY_DATETIME,
        "PN": ANONYMOUS_PN,
    }.get(vr, ANONYMOUS)


def deidentify(ds: Dataset, uids: UidMap, patient_id: str = "") -> Dataset:
    """Apply the profile to ``ds`` in place (and return it).

    ``patient_id`` replaces Patient ID (the same pseudonym in every object of an export).
    """
    ds.remove_private_tags()
    had_context = "AcquisitionContextSequence" in ds
    uids.cleaned.clear()  # ids are only unique while their objects live: per call
    _clean(ds, uids)
    uids.cleaned.clear()
    if had_context:
        # Type 2 in the Acquisition Context Module (Parametric Map, enhanced images): the
        # profile removes it (X); zero-length (Z) keeps the object valid and says nothing.
        ds.AcquisitionContextSequence = []
    if "PatientID" in ds:
        ds.PatientID = patient_id or ANONYMOUS
    if "PatientName" in ds:
        ds.PatientName = ANONYMOUS_PN
    if "StudyID" in ds:
        ds.StudyID = DUMMY_STUDY_ID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    items = []
    for value, meaning in METHOD_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = items
    if getattr(ds, "file_meta", None) is not None and "SOPInstanceUID" in ds:
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _clean(ds: Dataset, uids: UidMap) -> None:
    if id(ds) in uids.cleaned:
        return
    uids.cleaned.add(id(ds))
    for element in list(ds):
        keyword = element.keyword
        if keyword in REMOVE:
            del ds[element.tag]
            continue
        if element.VR == "SQ":
            if keyword in DUMMY:  # e.g. Person Identification Code Sequence: emptied
                element.value = []
                continue
            for item in element.value:
                _clean(item, uids)
            continue
        if keyword in EMPTY:
            element.value = ""
        elif keyword in DUMMY or element.VR == "PN":
            if element.value not in (None, ""):
                element.value = _dummy(element.VR)
        elif element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            mapped = [uids(str(v)) for v in values]
            element.value = mapped if element.VM > 1 else mapped[0]


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
