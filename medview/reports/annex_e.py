"""PS3.15 Annex E Table E.1-1 by tag: the action the Basic Application Level
Confidentiality Profile takes on each attribute, adjusted by the options medview offers.

The table itself is data (:mod:`.annex_e_table`, generated, 655 rows of PS3.15 2026c with
the repeating groups (50xx,xxxx) Curve Data, (60xx,3000) Overlay Data and (60xx,4000)
Overlay Comments). Actions (PS3.15 Table E.1-1 legend): D dummy value, Z zero length (or a
dummy), X remove, K keep, C clean, U replace UID; combinations (X/Z, X/D, Z/D, X/Z/D,
X/Z/U*) depend on the attribute's type in the IOD, which medview does not look up per IOD:
it takes the choice that keeps any IOD valid (Z for X/Z, D for X/D, Z/D and X/Z/D, U inside
the items for X/Z/U*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medview.reports.annex_e_table import ROWS

#: What medview does (after the options): remove, empty, dummy, keep, clean text, shift
#: a date (Modified Dates), remap UIDs, keep a sequence and clean its items.
Action = Literal["X", "Z", "D", "K", "C", "SHIFT", "U", "ITEMS"]

_RESOLVE = {"X": "X", "Z": "Z", "D": "D", "U": "U", "X/Z": "Z", "X/D": "D", "Z/D": "D",
            "X/Z/D": "D", "X/Z/U*": "ITEMS"}  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One row of Table E.1-1."""

    tag: int
    basic: str  # the Basic Profile column as written in the standard ("X/Z/D", ...)
    options: str  # "L" longitudinal dates, "C" clean descriptors, "S" structured content
    name: str


@dataclass(frozen=True)
class Options:
    """The options of PS3.15 E.3 that medview applies on top of the Basic Profile.

    retain_dates
        ``""`` (dates follow the Basic Profile), ``"full"`` (Retain Longitudinal Temporal
        Information with Full Dates, E.3.6, DCM 113106: K) or ``"modified"`` (Modified
        Dates, DCM 113107: C, every date shifted by one offset per export).
    clean_descriptors
        Clean Descriptors Option (E.3.5, DCM 113105): descriptions, comments and labels are
        kept and cleaned of identifying text instead of removed.

    Clean Structured Content (E.3.5, DCM 113104) is always on: an SR's Content Sequence is
    kept and cleaned (the Basic Profile alone would replace the report).
    """

    retain_dates: Literal["", "full", "modified"] = ""
    clean_descriptors: bool = False

    def __post_init__(self) -> None:
        if self.retain_dates not in ("", "full", "modified"):
            raise ValueError(f"retain_dates: '', 'full' or 'modified', not {self.retain_dates!r}")


TABLE: dict[int, Row] = {}
#: Repeating groups: (tag value, mask, row).
MASKED: list[tuple[int, int, Row]] = []
for _tag, _basic, _options, _name in ROWS:
    if "(mask " in _name:
        _mask = int(_name.split("(mask ")[1].rstrip(")"), 16)
        MASKED.append((int(_tag, 16), _mask, Row(int(_tag, 16), _basic, _options, _name)))
    else:
        TABLE[int(_tag, 16)] = Row(int(_tag, 16), _basic, _options, _name)


def row_for(tag: int) -> Row | None:
    """The Table E.1-1 row of ``tag`` (a repeating group's row for 50xx / 60xx), or None."""
    row = TABLE.get(tag)
    if row is not None:
        return row
    for value, mask, masked in MASKED:
        if tag & mask == value:
            return masked
    return None


def action_for(row: Row, options: Options) -> Action:
    """What to do with an attribute of ``row`` under ``options`` (Table E.1-1 columns)."""
    if "L" in row.options and options.retain_dates:
        return "K" if options.retain_dates == "full" else "SHIFT"
    if "C" in row.options and options.clean_descriptors:
        return "C"
    if "S" in row.options:
        return "ITEMS"  # Clean Structured Content: keep the items, clean what is in them
    return _RESOLVE[row.basic]  # type: ignore[return-value]


def is_overlay_or_curve(group: int) -> bool:
    """Repeating groups 50xx (curves, retired) and 60xx (overlays): PS3.15 Table E.1-1
    removes Curve Data, Overlay Data and Overlay Comments; medview drops the whole group, as
    an overlay plane without its data is not valid (PS3.3 C.9.2)."""
    return group & 0xFF00 in (0x5000, 0x6000)


__all__ = ["MASKED", "TABLE", "Action", "Options", "Row", "action_for", "is_overlay_or_curve",
           "row_for"]  # fmt: skip
