"""The S1 audit (issue 11): plant a recognisable value in every PS3.15 Table E.1-1 attribute
of a dataset, at every depth, then find the ones an anonymiser left in place.

The reference table is NOT medview's: it is dicom-anonymizer 2.1.0's
``dicomfields_2026c`` (PS3.15 2026c, 655 rows), so a row medview's own table missed would
still be planted and caught.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pydicom
from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

ORIGINAL_DATE, ORIGINAL_TIME = "20010203", "010203"
_SHORT = {"AE": 16, "CS": 16, "SH": 16}
NESTED = 4


@dataclass
class Reference:
    """Table E.1-1 from dicom-anonymizer: tag -> Basic Profile action, and masked rows."""

    actions: dict[int, str]
    masked: list[tuple[int, int, int, int]]

    def has(self, tag: int) -> bool:
        if tag in self.actions:
            return True
        group, element = tag >> 16, tag & 0xFFFF
        return any(group & gm == g & gm and element & em == e & em for g, e, gm, em in self.masked)


def reference() -> Reference:
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table

    actions, masked = {}, []
    for name in ("D", "Z", "X", "U", "Z_D", "X_Z", "X_D", "X_Z_D", "X_Z_U_STAR"):
        for entry in getattr(table, f"{name}_TAGS"):
            if len(entry) == 4:
                masked.append(entry)
            else:
                actions[(entry[0] << 16) | entry[1]] = name.replace("_", "/")
    return Reference(actions, masked)


def _vr(tag: int) -> str:
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return ""


def planted_value(tag: int, vr: str) -> object:
    """A recognisable original value of ``tag`` for ``vr`` ("ORIGINAL-<keyword>", ...)."""
    keyword = dictionary_keyword(tag) or f"T{tag:08X}"
    if vr in _SHORT:
        return f"ORIG{tag:08X}"
    if vr in ("LO", "ST", "LT", "UT", "UC"):
        return f"ORIGINAL-{keyword}"[:64]
    if vr == "PN":
        return f"ORIGINAL^{keyword}"[:64]
    if vr == "DA":
        return ORIGINAL_DATE
    if vr == "TM":
        return ORIGINAL_TIME
    if vr == "DT":
        return ORIGINAL_DATE + ORIGINAL_TIME
    if vr == "AS":
        return "042Y"
    if vr == "DS":
        return "77.7"
    if vr == "IS":
        return "777"
    if vr in ("US", "SS", "UL", "SL", "FL", "FD"):
        return 7777
    if vr == "UI":
        return generate_uid()
    if vr == "UR":
        return "http://original.example/" + keyword
    if vr in ("OB", "OW", "UN"):
        return b"ORIGINAL"
    return None


@dataclass
class Planted:
    """What was planted: tag -> the original values (as text), and every original UID."""

    values: dict[int, set[str]] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)
    count: int = 0

    def note(self, tag: int, value: object) -> None:
        self.values.setdefault(tag, set()).add(str(value))
        self.count += 1


def plant(ds: Dataset, ref: Reference) -> Planted:
    """Give every Table E.1-1 attribute of ``ds`` (any depth) a recognisable value; add every
    non-sequence row that is missing at the top level and in the first item of up to
    ``NESTED`` sequences spread over the tree; add sequences of the table holding a name and an ID; add an overlay, a curve
    and a private block."""
    planted = Planted()
    nested = [e.value[0] for e in ds.iterall() if e.VR == "SQ" and len(e.value)]
    # every missing row into the top level and into up to NESTED sequence items, spread
    # over the tree (all of them would take the ECG sample 20 s, for no other finding)
    step = max(1, len(nested) // NESTED)
    items = [ds, *nested[::step][:NESTED]]
    for element in list(ds.iterall()):  # what the IOD has, at any depth
        if element.VR == "UI" and element.value:
            planted.uids.update(
                str(v) for v in _as_list(element.value) if not str(v).startswith("1.2.840.10008.")
            )
        if element.VR == "SQ" or not ref.has(int(element.tag)):
            continue
        value = planted_value(int(element.tag), element.VR)
        if value is not None and element.VR != "UI":
            element.value = value
            planted.note(int(element.tag), value)
    rows = [t for t in ref.actions if t >> 16 not in (0x0000, 0x0002, 0x0004)]
    for item in items:
        for tag in rows:
            vr = _vr(tag)
            if not vr or vr == "SQ" or tag in item:
                continue
            value = planted_value(tag, vr)
            if value is None:
                continue
            item.add_new(tag, vr, value)
            planted.note(tag, value)
            if vr == "UI":
                planted.uids.add(str(value))
    for tag in ref.actions:
        if _vr(tag) == "SQ" and tag not in ds:
            inner = Dataset()
            inner.PatientID = "ORIGINAL-NestedPatientID"
            inner.PersonName = "ORIGINAL^NestedPerson"
            ds.add_new(tag, "SQ", [inner])
            planted.note(0x00100020, inner.PatientID)
            planted.note(0x0040A123, inner.PersonName)
    ds.add_new(0x60003000, "OW", b"\x01\x00" * 8)  # Overlay Data
    ds.add_new(0x60004000, "LT", "ORIGINAL-OverlayComments")
    ds.add_new(0x50000000, "UL", 4)  # a curve group (retired): Curve Data rows
    ds.add_new(0x50003000, "OB", b"ORIGINAL")
    block = ds.private_block(0x0009, "ORIGINAL PRIVATE", create=True)
    block.add_new(0x01, "LO", "ORIGINAL-PrivateValue")
    for tag, value in ((0x60003000, "x"), (0x60004000, "ORIGINAL-OverlayComments")):
        planted.note(tag, value)
    planted.note(0x50003000, b"ORIGINAL")
    return planted


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list | pydicom.multival.MultiValue) else [value]


def roundtrip(ds: Dataset) -> Dataset:
    """``ds`` written as a DICOM file and read back (the audit reads exported files)."""
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


@dataclass
class Findings:
    """What an audit found left in place."""

    kept: list[str] = field(default_factory=list)  # Annex E attributes with original values
    uids: list[str] = field(default_factory=list)  # original UIDs anywhere
    private: list[str] = field(default_factory=list)
    overlay_curve: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.kept) + len(self.uids) + len(self.private) + len(self.overlay_curve)


def audit(
    ds: Dataset, planted: Planted, ref: Reference, allowed: set[int] = frozenset()
) -> Findings:
    """Every element at every depth: a Table E.1-1 attribute still holding a planted value
    (``allowed``: tags an option keeps on purpose), an original UID, a private attribute,
    a 50xx / 60xx element."""
    found = Findings()
    for element in ds.iterall():
        tag = int(element.tag)
        name = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {element.keyword or element.name}"
        if element.tag.is_private:
            found.private.append(name)
            continue
        if element.tag.group & 0xFF00 in (0x5000, 0x6000):
            found.overlay_curve.append(name)
            continue
        if element.VR == "UI" and element.value:
            leaked = {str(v) for v in _as_list(element.value)} & planted.uids
            if leaked:
                found.uids.append(name)
            continue
        if element.VR == "SQ" or tag in allowed or not ref.has(tag):
            continue
        if element.value in (None, "", b""):
            continue
        values = {str(v) for v in _as_list(element.value)}
        if values & planted.values.get(tag, set()):
            found.kept.append(name)
    return found
