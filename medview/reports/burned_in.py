"""The burned-in annotation gate of de-identified exports (issue 11, S2).

Header de-identification (PS3.15 Annex E) leaves the pixels as they are. Ultrasound and
secondary capture images very often carry the patient's name, ID or dates burned into the
pixels, and any image may say so itself (Burned In Annotation (0028,0301) YES). medview does
not clean pixel data (the Clean Pixel Data Option, PS3.15 E.3.1, DCM 113101), so such
images are refused in a de-identified export unless the user explicitly accepts them, or
the image declares that its pixels were already cleaned (113101 in its De-identification
Method Code Sequence).
"""

from __future__ import annotations

from pydicom.dataset import Dataset

#: Secondary Capture Image Storage and the multi-frame SC classes (PS3.4 B.5).
SECONDARY_CAPTURE = frozenset(
    ["1.2.840.10008.5.1.4.1.1.7"] + [f"1.2.840.10008.5.1.4.1.1.7.{n}" for n in range(1, 5)]
)
#: Ultrasound Image Storage, Ultrasound Multi-frame Image Storage (and their retired forms).
ULTRASOUND = frozenset(
    ["1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.6.2",
     "1.2.840.10008.5.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.6", "1.2.840.10008.5.1.4.1.1.3"]
)  # fmt: skip
CLEAN_PIXEL_DATA = "113101"  # CID 7050 Clean Pixel Data Option


def pixels_cleaned(ds: Dataset) -> bool:
    """Whether ``ds`` declares the Clean Pixel Data Option (already applied upstream)."""
    for item in ds.get("DeidentificationMethodCodeSequence", []):
        if str(item.get("CodeValue", "")) == CLEAN_PIXEL_DATA:
            return True
    return False


def burned_in_reason(ds: Dataset) -> str:
    """Why ``ds`` may show identifying text in its pixels ("" when there is no reason to
    think so, or its pixels were cleaned)."""
    if pixels_cleaned(ds):
        return ""
    sop_class = str(ds.get("SOPClassUID", ""))
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        return "Burned In Annotation is YES"
    if str(ds.get("Modality", "")).upper() == "US" or sop_class in ULTRASOUND:
        return "an ultrasound image (text is often burned into the pixels)"
    if sop_class in SECONDARY_CAPTURE:
        return "a secondary capture (text is often burned into the pixels)"
    return ""
