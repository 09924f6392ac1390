"""The element walk of the de-identification: every attribute at every nesting depth gets
its PS3.15 Table E.1-1 action (:mod:`.annex_e`), whatever the IOD.

Beyond the table, for safety whatever the keyword: private attributes are removed (Table
E.1-1 row "Private attributes", X; no safe-private list is kept), the repeating groups 50xx
and 60xx are removed, every Person Name (PN) value is replaced and every UID that is not
DICOM-defined is remapped through the export's one UID map (action U).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from medview.reports.annex_e import Options, action_for, is_overlay_or_curve, row_for

ANONYMOUS = "ANONYMOUS"
#: Person names become this (a caret: a bare word is the retired PN form to dciodvfy).
ANONYMOUS_PN = "ANONYMOUS^"
DUMMY_DATE, DUMMY_TIME, DUMMY_DATETIME = "19000101", "000000", "19000101000000"
#: Maximum lengths (PS3.5 Table 6.2-1) of the string VRs a dummy may need to fit.
_MAX = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "UC": 64, "ST": 1024, "LT": 10240,
        "UT": 10240, "UR": 1024}  # fmt: skip
_TEXT_VRS = frozenset(["AE", "CS", "SH", "LO", "UC", "ST", "LT", "UT", "UR", "PN"])
#: Text a cleaner always takes out: dates, long digit runs (IDs, phone numbers), e-mail.
_PATTERNS = re.compile(
    r"\b\d{4}[-./]?\d{2}[-./]?\d{2}\b|\b\d{1,2}[-./]\d{1,2}[-./]\d{2,4}\b|\d{5,}"
    r"|[\w.+-]+@[\w-]+\.[\w.]+"
)


def dummy(vr: str) -> object:
    """A dummy value of ``vr`` (action D): says nothing, keeps a Type 1 attribute valid."""
    if vr == "PN":
        return ANONYMOUS_PN
    if vr in ("DA", "TM", "DT"):
        return {"DA": DUMMY_DATE, "TM": DUMMY_TIME, "DT": DUMMY_DATETIME}[vr]
    if vr in ("IS", "DS"):
        return "0"
    if vr == "AS":
        return "000D"
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"):
        return 0
    if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b"\x00\x00"
    return ANONYMOUS[: _MAX.get(vr, 64)]


class Cleaner:
    """Applies the profile to one dataset tree.

    Parameters
    ----------
    remap
        The export's UID map (action U).
    options
        Profile options (:class:`medview.reports.annex_e.Options`).
    date_offset_days
        Modified Dates: the shift of every date (one per export, so intervals survive).
    identifying
        Texts a Clean Descriptors cleaner takes out wherever they appear (the object's own
        names, IDs, dates, institution, ...).
    """

    def __init__(
        self,
        remap: Callable[[str], str],
        options: Options,
        date_offset_days: int = 0,
        identifying: Iterable[str] = (),
    ) -> None:
        self.remap = remap
        self.options = options
        self.offset = dt.timedelta(days=date_offset_days)
        words = sorted({w for w in identifying if len(w) >= 3}, key=len, reverse=True)
        self._words = re.compile("|".join(re.escape(w) for w in words), re.I) if words else None
        self._seen: set[int] = set()

    # -- the walk ------------------------------------------------------------------------
    def clean(self, ds: Dataset, dummy_text: bool = False) -> None:
        """Clean ``ds`` in place; ``dummy_text``: every text value in it becomes a dummy
        (the items of a sequence whose action is D)."""
        if id(ds) in self._seen:  # highdicom shares items: remap each UID once
            return
        self._seen.add(id(ds))
        for element in list(ds):
            self._element(ds, element, dummy_text)

    def _element(self, ds: Dataset, element: DataElement, dummy_text: bool) -> None:
        tag = element.tag
        if tag.is_private or is_overlay_or_curve(tag.group):
            del ds[tag]
            return
        row = row_for(int(tag))
        action = action_for(row, self.options) if row is not None else None
        vr = element.VR
        if action == "X":
            del ds[tag]
        elif vr == "SQ":
            self._sequence(element, action, dummy_text)
        elif vr == "UI" or action == "U":
            self._uids(element)
        elif action == "Z" and vr in ("DA", "TM", "DT") and not _empty(element):
            # Z allows a dummy (Table E.1-1 legend); Study Date / Time are needed to build
            # a DICOMDIR (dciodvfy warns), so dates become the dummy date
            element.value = dummy(vr)
        elif action == "Z":
            element.value = "" if vr in _TEXT_VRS else None
        elif action == "D":
            if not _empty(element):
                element.value = dummy(vr)
        elif action == "SHIFT":
            self._shift(element)
        elif action == "C":
            self._clean_text(element)
        elif action == "K":
            pass
        elif (vr == "PN" or (dummy_text and vr in _TEXT_VRS)) and not _empty(element):
            element.value = dummy(vr)

    def _sequence(self, element: DataElement, action: str | None, dummy_text: bool) -> None:
        if action == "Z":
            element.value = []
            return
        if action == "C":  # Clean Descriptors on a sequence: clean every text in it
            for item in element.value:
                self._clean_items(item)
            return
        for item in element.value:
            self.clean(item, dummy_text=dummy_text or action == "D")

    def _clean_items(self, ds: Dataset) -> None:
        self.clean(ds)
        for element in ds:
            if element.VR in _TEXT_VRS and element.VR != "PN":
                self._clean_text(element)

    def _uids(self, element: DataElement) -> None:
        if _empty(element):
            return
        values = _values(element)
        mapped = [self.remap(str(v)) for v in values]
        element.value = mapped if element.VM > 1 else mapped[0]

    def _shift(self, element: DataElement) -> None:
        """Modified Dates (PS3.15 E.3.6): every date moved by the export's one offset."""
        if _empty(element):
            return
        if element.VR not in ("DA", "DT"):
            return  # times of day and the UTC offset: a whole-day shift keeps them
        shifted = []
        for value in _values(element):
            text = str(value)
            try:
                day = dt.datetime.strptime(text[:8], "%Y%m%d") + self.offset
            except ValueError:
                shifted.append(dummy(element.VR))
                continue
            shifted.append(day.strftime("%Y%m%d") + text[8:])
        element.value = shifted if element.VM > 1 else shifted[0]

    def _clean_text(self, element: DataElement) -> None:
        """Clean Descriptors (PS3.15 E.3.5): keep the text, less what identifies."""
        if _empty(element) or element.VR not in _TEXT_VRS:
            if element.VR not in _TEXT_VRS and not _empty(element):
                element.value = dummy(element.VR)
            return
        if element.VR == "PN":
            element.value = ANONYMOUS_PN
            return
        cleaned = [self.clean_text(str(v)) for v in _values(element)]
        element.value = cleaned if element.VM > 1 else cleaned[0]

    def clean_text(self, text: str) -> str:
        """``text`` without the identifying words and the date / number / e-mail patterns."""
        if self._words is not None:
            text = self._words.sub("", text)
        return re.sub(r"\s{2,}", " ", _PATTERNS.sub("", text)).strip(" ^-_,;")


def _empty(element: DataElement) -> bool:
    return element.value is None or element.value == "" or element.value == b""


def _values(element: DataElement) -> list:
    value = element.value
    return list(value) if isinstance(value, list | MultiValue) else [value]


def identifying_texts(ds: Dataset) -> set[str]:
    """The texts of ``ds`` that identify (values of Table E.1-1 attributes that are not
    descriptors, names split into their components): what Clean Descriptors takes out."""
    found: set[str] = set()
    for element in ds.iterall():
        row = row_for(int(element.tag))
        if element.VR == "SQ" or _empty(element) or element.VR == "UI":
            continue
        if row is None and element.VR != "PN":
            continue
        if row is not None and "C" in row.options:
            continue
        for value in _values(element):
            text = str(value)
            found.add(text)
            found.update(p for p in re.split(r"[\^=\s,]+", text) if p)
    return found
