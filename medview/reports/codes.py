"""Coded concepts used by the report exporters (SR, SEG, JSON), in one place.

Standard codes come from pydicom's code dictionary (SNOMED CT ``SCT``, DICOM ``DCM``, LOINC
``LN``, UCUM units); a few medview-specific concepts without a standard code use the private
coding scheme ``99MEDVIEW`` (PS3.16 section 8.2: designators starting with "99" are local),
which the SR declares in its Coding Scheme Identification Sequence (PS3.3 C.12.1.1.3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from highdicom.sr import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

PRIVATE_SCHEME = "99MEDVIEW"

#: Default finding type when a plugin gives no code: SNOMED CT "Nodule" (27925004).
NODULE = CodedConcept("27925004", "SCT", "Nodule")
#: Finding site of the chest CT findings: SNOMED CT "Lung" (39607008).
LUNG = CodedConcept("39607008", "SCT", "Lung")
#: Anatomic region of a chest CT's frames (Frame Anatomy, PS3.3 C.7.6.16.2.8): SNOMED CT
#: "Chest" (51185008), an unpaired region (Frame Laterality U).
CHEST = CodedConcept("51185008", "SCT", "Chest")
#: Segmented Property Category for lesions (PS3.16 CID 7150): "Morphologically Abnormal Structure".
ABNORMAL_STRUCTURE = CodedConcept("49755003", "SCT", "Morphologically Abnormal Structure")
#: Procedure reported (TID 1500 row 4). LOINC 25045-6 "CT unspecified body region".
CT_PROCEDURE = CodedConcept("25045-6", "LN", "CT unspecified body region")
#: Contributing Equipment purpose (PS3.16 CID 7005): the AI algorithm processed the images.
PROCESSING_EQUIPMENT = CodedConcept("109102", "DCM", "Processing Equipment")

#: Finding type of a reader's free measurement (DCM 121071 "Finding").
MEASURED_FINDING = CodedConcept("121071", "DCM", "Finding")
#: TID 1500 row 12: the report-level "Qualitative Evaluations" container (UMLS C0034375)
#: and the TEXT items medview puts in it: the reader's findings text (DCM 121071 "Finding"),
#: impression (DCM 121073 "Impression") and the intended-use statement (DCM 121106 "Comment").
QUALITATIVE_EVALUATIONS = CodedConcept("C0034375", "UMLS", "Qualitative Evaluations")
FINDINGS_TEXT = CodedConcept("121071", "DCM", "Finding")
IMPRESSION = CodedConcept("121073", "DCM", "Impression")
COMMENT = CodedConcept("121106", "DCM", "Comment")

#: TID 1419 measurement names.
LONG_AXIS = CodedConcept("103339001", "SCT", "Long axis")
VOLUME = CodedConcept("118565006", "SCT", "Volume")
MEAN = CodedConcept("373098007", "SCT", "Mean")
ATTENUATION = CodedConcept("112031", "DCM", "Attenuation Coefficient")
#: No standard concept says "confidence of an AI detector that is not a calibrated
#: probability", so the score is a private concept (unit: UCUM "1", no units).
AI_SCORE = CodedConcept("AISCORE", PRIVATE_SCHEME, "AI detection score")
AI_SCORE_BAND = CodedConcept("AISCOREBAND", PRIVATE_SCHEME, "AI detection score band")
SCORE_BANDS = {
    "low": CodedConcept("AISCORELOW", PRIVATE_SCHEME, "AI score below 0.5"),
    "intermediate": CodedConcept("AISCOREMID", PRIVATE_SCHEME, "AI score 0.5 to 0.8"),
    "high": CodedConcept("AISCOREHIGH", PRIVATE_SCHEME, "AI score 0.8 or above"),
}

#: Quantity of an attribution map (Parametric Map Real World Value Mapping, PS3.16 CID 7180):
#: DCM 130402 "Class activation" (the issue's "Class Activation": how much each voxel
#: contributed to the detector's score for the finding), and its more specific child for
#: Grad-CAM, DCM 130403 "Gradient-weighted class activation". (DCM 130404 "Saliency" exists
#: as well; medview names every method's map by the class activation it explains.)
CLASS_ACTIVATION = CodedConcept("130402", "DCM", "Class activation")
GRADCAM_ACTIVATION = CodedConcept("130403", "DCM", "Gradient-weighted class activation")
#: Concept name of the SR IMAGE item that points from a finding's measurement group to the
#: Parametric Map explaining it: DCM 130401 "Visual explanation" says exactly that. (DCM
#: 121112 "Source of Measurement" would claim the group's values were measured on the map;
#: they were measured on the CT.)
VISUAL_EXPLANATION = CodedConcept("130401", "DCM", "Visual explanation")

#: UCUM units (PS3.16 CID 7181 and friends).
MM = CodedConcept("mm", "UCUM", "millimeter")
MM2 = CodedConcept("mm2", "UCUM", "square millimeter")
MM3 = CodedConcept("mm3", "UCUM", "cubic millimeter")
HU = CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
DEGREE = CodedConcept("deg", "UCUM", "degree")
NO_UNITS = CodedConcept("1", "UCUM", "no units")
_UNITS = {"mm": MM, "mm2": MM2, "mm3": MM3, "HU": HU, "[hnsf'U]": HU, "deg": DEGREE, "1": NO_UNITS}


def score_band(score: float) -> str:
    """``"low"``, ``"intermediate"`` or ``"high"`` for a score in 0..1."""
    return "high" if score >= 0.8 else "intermediate" if score >= 0.5 else "low"


def coded(value: Sequence[str] | CodedConcept | None, default: CodedConcept) -> CodedConcept:
    """A :class:`CodedConcept` from ``(value, scheme, meaning)`` (``default`` when None)."""
    if value is None:
        return default
    if isinstance(value, CodedConcept):
        return value
    code, scheme, meaning = (str(v) for v in value)
    return CodedConcept(code, scheme, meaning)


def unit(name: str) -> CodedConcept:
    """The UCUM unit for ``name`` ("mm", "mm2", "mm3", "HU", "deg", "1"); ``"1"`` if unknown."""
    return _UNITS.get(name, NO_UNITS)


def concept_from_path(path: str) -> CodedConcept | None:
    """``"SCT.Length"`` style pydicom codedict path -> concept (None when unknown)."""
    scheme, _, name = path.partition(".")
    try:
        code = getattr(getattr(codes, scheme), name)
    except AttributeError:
        return None
    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def private_scheme_item() -> Dataset:
    """Coding Scheme Identification Sequence item for ``99MEDVIEW`` (PS3.3 C.12.1.1.3.2)."""
    item = Dataset()
    item.CodingSchemeDesignator = PRIVATE_SCHEME
    item.CodingSchemeName = "medview local codes"
    item.CodingSchemeResponsibleOrganization = "medview developers"
    return item
