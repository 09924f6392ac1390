"""The report model: what a structured report says, before it becomes SR, SEG, PDF or JSON.

Qt-free dataclasses that the application (``medview.model`` review state, or the headless
``medview report`` command) fills and the pure exporters in this package read. A report holds
the study it is about, the reader, the reported findings (AI findings the reader accepted or
edited, each with its algorithm's provenance, and findings the reader drew), the reader's
manual measurements (:func:`medview.model.measurements.measurement_records` dicts), free text
(findings, impression), the verification state (IHE AI Results: UNVERIFIED until the reader
finalises, PS3.3 C.17.2.1) and the audit trail of every accept / reject / edit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from medview import __version__
from medview.ai import accountability

#: Review states (the same words as ``medview.model.review.ReviewStatus``).
ACCEPTED, REJECTED, PENDING = "accepted", "rejected", "pending"
LANGUAGES = ("en", "zh")

#: Explanation methods of the saliency plugin (``medview.saliency``), as people read them.
METHOD_NAMES = {
    "ig": "Integrated Gradients",
    "gradcam": "Grad-CAM",
    "smoothgrad": "SmoothGrad",
    "occlusion": "Occlusion",
}

#: Shown on every report (the project's intended-use statement, README "not a medical device").
DEFAULT_INTENDED_USE = (
    "medview is research software for decision support; it is not a medical device and not "
    "for diagnostic use. "
    "AI findings are proposals that a qualified reader must review; they are not a diagnosis."
)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def stable_uid(*parts: str) -> str:
    """A UID derived from ``parts`` (2.25 form, PS3.5 B.2): the same inputs, the same UID.

    Used for tracking UIDs (a finding keeps its UID across re-exports) and device UIDs (the
    UID changes when the model's weights change: IHE AIR, Contributing Equipment).
    """
    # pydicom's generate_uid ignores entropy_srcs without a prefix: hash to 128 bits here.
    digest = hashlib.sha256("\x1f".join(["medview", *parts]).encode("utf-8")).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def parameter_strings(parameters: Mapping[str, Any]) -> list[str]:
    """``name=value`` texts sorted by name; non-strings as JSON (``true``, ``0.5``)."""
    return [
        f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
        for k, v in sorted(parameters.items())
    ]


@dataclass(frozen=True)
class StudyInfo:
    """Patient and study attributes the report header needs (from the source images)."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_id: str = ""
    accession_number: str = ""
    study_description: str = ""
    referring_physician: str = ""
    institution_name: str = ""
    series_uid: str = ""
    series_description: str = ""
    frame_of_reference_uid: str = ""
    modality: str = ""

    @classmethod
    def from_dataset(cls, ds: Any) -> StudyInfo:
        """From a pydicom dataset of the source series (any one of its images)."""

        def text(keyword: str) -> str:
            value = ds.get(keyword, "")
            return "" if value is None else str(value)

        return cls(
            patient_name=text("PatientName"),
            patient_id=text("PatientID"),
            patient_birth_date=text("PatientBirthDate"),
            patient_sex=text("PatientSex"),
            study_uid=text("StudyInstanceUID"),
            study_date=text("StudyDate"),
            study_time=text("StudyTime"),
            study_id=text("StudyID"),
            accession_number=text("AccessionNumber"),
            study_description=text("StudyDescription"),
            referring_physician=text("ReferringPhysicianName"),
            institution_name=text("InstitutionName"),
            series_uid=text("SeriesInstanceUID"),
            series_description=text("SeriesDescription"),
            frame_of_reference_uid=text("FrameOfReferenceUID"),
            modality=text("Modality"),
        )


@dataclass(frozen=True)
class Algorithm:
    """An AI algorithm that contributed findings: TID 4019 and the Contributing Equipment.

    ``provenance`` is the job's :meth:`medview.ai.api.Provenance.as_dict`, kept whole.
    """

    plugin_id: str
    name: str
    version: str
    manufacturer: str = "medview"
    weights_sha256: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    intended_use: str = ""
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def weights_digest(self) -> str:
        """One SHA-256 over all weights files (name=hash lines, sorted); "" without weights."""
        if not self.weights_sha256:
            return ""
        lines = "\n".join(f"{k}={v}" for k, v in sorted(self.weights_sha256.items()))
        return hashlib.sha256(lines.encode()).hexdigest()

    @property
    def device_uid(self) -> str:
        """Device UID (0018,1002): changes with plugin, version or weights (IHE AIR)."""
        return stable_uid("device", self.plugin_id, self.version, self.weights_digest)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.plugin_id, self.version, self.weights_digest)

    def parameter_strings(self) -> list[str]:
        """Parameters as ``name=value`` texts (TID 4019 "Algorithm Parameters")."""
        return parameter_strings(self.parameters)

    @property
    def accountable(self) -> bool:
        """Whether the job's record states the model, weights, torch and device (AI1).

        An algorithm re-imported from another tool's SR has no such record.
        """
        return bool(self.provenance) and not accountability.missing(self.provenance)

    def accountability_texts(self) -> list[str]:
        """``weights:<file>=<sha256>``, ``torch=...``, ``device=...`` (issue 11 AI1)."""
        return accountability.parameter_texts(self.provenance) if self.accountable else []

    def runtime(self) -> tuple[str, str]:
        """(torch version, device) of the job; ("", "") when not recorded."""
        found = accountability.facts(self.provenance) if self.accountable else {}
        return found.get("torch", ""), found.get("device", "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin_id": self.plugin_id,
            "name": self.name,
            "version": self.version,
            "manufacturer": self.manufacturer,
            "weights_sha256": dict(self.weights_sha256),
            "weights_digest": self.weights_digest,
            "device_uid": self.device_uid,
            "parameters": dict(self.parameters),
            "intended_use": self.intended_use,
            "provenance": dict(self.provenance),
        }


@dataclass(frozen=True)
class AuditEvent:
    """One decision on a finding, or the report's finalisation: who, when, what changed."""

    action: str  # "accept", "reject", "edit", "reset", "finalize"
    who: str
    at: str
    finding_id: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "who": self.who,
            "at": self.at,
            "finding_id": self.finding_id,
            "changes": _jsonable(dict(self.changes)),
            "note": self.note,
        }


@dataclass(frozen=True, eq=False)
class Explanation:
    """An attribution map that explains one finding (an explanation plugin's overlay).

    Attributes
    ----------
    name
        The overlay's name in ``result.json`` (``saliency-<method>-finding-NNN``).
    method
        ``ig``, ``gradcam``, ``smoothgrad``, ``occlusion`` (or another plugin's method name).
    array
        Float32 ``(z, y, x)`` attribution on the report's image grid.
    description
        The overlay's description (what the values mean).
    summary
        The plugin's per-finding numbers (peak in LPS mm, positive fractions, seconds).
    parameters
        The method's parameters as the plugin recorded them (``result.json``
        ``metadata.method`` without its ``method`` key), for the report's provenance.
    plugin_id, plugin_version
        The explanation plugin that computed the map ("" when not known).
    """

    name: str
    method: str
    array: np.ndarray
    description: str = ""
    summary: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    plugin_id: str = ""
    plugin_version: str = ""

    @property
    def method_name(self) -> str:
        """The method as people read it ("Grad-CAM", "Integrated Gradients", ...)."""
        return METHOD_NAMES.get(self.method, self.method)

    def parameter_strings(self) -> list[str]:
        """The method's parameters as ``name=value`` texts, sorted by name."""
        return parameter_strings(self.parameters)

    def as_dict(self) -> dict[str, Any]:
        """The map's description without its values (the JSON report's ``explanation``)."""
        return {
            "overlay": self.name,
            "method": self.method,
            "method_name": self.method_name,
            "parameters": _jsonable(dict(self.parameters)),
            "plugin_id": self.plugin_id,
            "plugin_version": self.plugin_version,
            "summary": _jsonable(dict(self.summary)),
        }


@dataclass(frozen=True, eq=False)
class ReportedFinding:
    """One finding in the report, with the reader's decision and the algorithm behind it.

    Attributes
    ----------
    id
        Stable id, ``"<job id>/<index>"`` for AI findings (as in ``FindingReview``).
    code, site
        Finding type and site as ``(value, scheme, meaning)`` (None: SCT Nodule / Lung).
    center_lps_mm, size_mm, bbox_lps_mm
        Where it is, in patient LPS mm (the reader's edit when there is one).
    measurements
        ``diameter_mm`` (long axis), ``volume_mm3``, ``mean_hu`` and others, as computed.
    score
        The AI score in 0..1 (None for a reader's own finding).
    algorithm
        The algorithm that proposed it (None: drawn by the reader).
    mask
        Boolean ``(z, y, x)`` mask on the report's image grid, or None.
    explanation
        The attribution map explaining it (exported as a Parametric Map), or None.
    """

    id: str
    label: str
    center_lps_mm: tuple[float, float, float]
    size_mm: tuple[float, float, float]
    bbox_lps_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    code: tuple[str, str, str] | None = None
    site: tuple[str, str, str] | None = None
    measurements: Mapping[str, float] = field(default_factory=dict)
    score: float | None = None
    algorithm: Algorithm | None = None
    status: str = ACCEPTED
    decided_by: str = ""
    decided_at: str = ""
    edits: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""
    mask: np.ndarray | None = None
    study_uid: str = ""
    #: Explicit Tracking UID (a de-identified copy keeps its remapped UID here); "" derives it.
    uid: str = ""
    explanation: Explanation | None = None

    @property
    def reported(self) -> bool:
        return self.status == ACCEPTED

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def tracking_uid(self) -> str:
        """Tracking UID (TID 1501 / Segment Tracking UID): stable for this study and id."""
        if self.uid:
            return self.uid
        return stable_uid("tracking", self.study_uid, self.id)

    @property
    def long_axis_mm(self) -> float:
        """The reader's size when edited, else the algorithm's diameter, else the box."""
        if "size_mm" in self.edits or "diameter_mm" not in self.measurements:
            return float(max(self.size_mm))
        return float(self.measurements["diameter_mm"])

    @property
    def volume_mm3(self) -> float | None:
        value = self.measurements.get("volume_mm3")
        return None if value is None else float(value)

    @property
    def mean_hu(self) -> float | None:
        value = self.measurements.get("mean_hu")
        return None if value is None else float(value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "code": list(self.code) if self.code else None,
            "site": list(self.site) if self.site else None,
            "status": self.status,
            "center_lps_mm": [round(float(v), 3) for v in self.center_lps_mm],
            "size_mm": [round(float(v), 3) for v in self.size_mm],
            "bbox_lps_mm": [[round(float(v), 3) for v in c] for c in self.bbox_lps_mm],
            "long_axis_mm": round(self.long_axis_mm, 3),
            "volume_mm3": self.volume_mm3,
            "mean_hu": self.mean_hu,
            "measurements": {k: float(v) for k, v in self.measurements.items()},
            "score": self.score,
            "algorithm": self.algorithm.plugin_id if self.algorithm else None,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "edited": self.edited,
            "edits": _jsonable(dict(self.edits)),
            "note": self.note,
            "tracking_uid": self.tracking_uid,
            "has_mask": self.mask is not None,
            "explanation": None if self.explanation is None else self.explanation.as_dict(),
        }


@dataclass
class ReportModel:
    """Everything a report says; exporters read it, never change it.

    ``verified`` is False (SR Verification Flag UNVERIFIED) until :meth:`finalize`.
    """

    study: StudyInfo
    reader: str = ""
    organization: str = ""
    findings: list[ReportedFinding] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    findings_text: str = ""
    impression: str = ""
    language: str = "en"
    intended_use: str = DEFAULT_INTENDED_USE
    verified: bool = False
    verified_by: str = ""
    verified_at: str = ""
    created: str = field(default_factory=now_iso)
    audit: list[AuditEvent] = field(default_factory=list)
    generator: str = f"medview {__version__}"

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"report language must be one of {LANGUAGES}, not {self.language!r}")

    def reported_findings(self) -> list[ReportedFinding]:
        """The findings that go into SR, SEG and the findings table (accepted ones)."""
        return [f for f in self.findings if f.reported]

    def algorithms(self) -> list[Algorithm]:
        """Each distinct algorithm behind a reported finding, in first-use order."""
        seen: dict[tuple[str, str, str], Algorithm] = {}
        for finding in self.reported_findings():
            if finding.algorithm is not None:
                seen.setdefault(finding.algorithm.key, finding.algorithm)
        return list(seen.values())

    def record(self, event: AuditEvent) -> None:
        self.audit.append(event)

    def finalize(self, reader: str, at: str | None = None) -> None:
        """The reader signs: Verification Flag VERIFIED, Verifying Observer = ``reader``."""
        if not reader.strip():
            raise ValueError("finalising a report needs the reader's name")
        self.verified, self.verified_by = True, reader.strip()
        self.verified_at = at or now_iso()
        self.reader = self.reader or self.verified_by
        self.record(AuditEvent("finalize", self.verified_by, self.verified_at))

    def audit_for(self, finding_id: str) -> list[AuditEvent]:
        return [e for e in self.audit if e.finding_id == finding_id]

    def with_study(self, study: StudyInfo) -> ReportModel:
        """A copy about ``study`` (findings keep their tracking UIDs' basis)."""
        return replace(self, study=study)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def as_points(values: Sequence[Any]) -> tuple[float, float, float]:
    point = tuple(float(v) for v in values)
    if len(point) != 3:
        raise ValueError(f"expected three numbers, got {values!r}")
    return point  # type: ignore[return-value]
