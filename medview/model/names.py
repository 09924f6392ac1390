"""DICOM person names (VR PN) as people read them; no Qt, so the CLI and reports can share it.

A PN value holds up to three component groups separated by ``=`` (PS3.5 6.2.1): alphabetic,
ideographic and phonetic. Each group has up to five components separated by ``^``: family
name, given name, middle name, prefix and suffix.
"""

from __future__ import annotations

__all__ = ["format_person_name"]


def _components(group: str) -> list[str]:
    parts = [part.strip() for part in group.split("^")]
    return [*parts, "", "", "", "", ""][:5]


def _alphabetic(group: str) -> str:
    family, given, middle, prefix, suffix = _components(group)
    rest = " ".join(p for p in (prefix, given, middle, suffix) if p)
    if family and rest:
        return f"{family}, {rest}"
    return family or rest


def _ideographic(group: str) -> str:
    # Family name first, as CJK names are written; no comma.
    family, given, middle, prefix, suffix = _components(group)
    return " ".join(p for p in (prefix, family, given, middle, suffix) if p)


def format_person_name(dicom_pn: object) -> str:
    """A DICOM person name as a readable string.

    Parameters
    ----------
    dicom_pn
        The PN value, e.g. ``"Family^Given"`` or ``"Yamada^Tarou=山田^太郎=やまだ^たろう"``; a
        pydicom ``PersonName`` or ``None`` is accepted too.

    Returns
    -------
    str
        ``"Family, Given Middle"``, followed by the ideographic group (or, without one, the
        phonetic group) in parentheses: ``"Yamada, Tarou (山田 太郎)"``. A name with only an
        ideographic or phonetic group gives that group alone; an empty name gives ``""``.

    Examples
    --------
    >>> format_person_name("Doe^Jane^M")
    'Doe, Jane M'
    >>> format_person_name("Yamada^Tarou=山田^太郎=やまだ^たろう")
    'Yamada, Tarou (山田 太郎)'
    """
    if dicom_pn is None:
        return ""
    text = str(dicom_pn).strip().strip("\x00").strip()
    groups = [*text.split("="), "", ""][:3]
    alphabetic = _alphabetic(groups[0])
    other = _ideographic(groups[1]) or _ideographic(groups[2])
    if alphabetic and other:
        return f"{alphabetic} ({other})"
    return alphabetic or other
