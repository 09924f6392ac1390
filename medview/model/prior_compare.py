"""Comparing the series on screen with another scan of the patient (a prior), without Qt.

A reader assessing a nodule asks first whether it was there before and whether it grew
(Fleischner and Lung-RADS follow-up turn on exactly that). The other series is loaded from
the study library and, when it lies in another frame of reference (another study, another
day), aligned rigidly to the series on screen (:mod:`medview.imaging.registration`), so the
two views can be scrolled together by anatomy. Runs on a worker thread; the Qt side is
:mod:`medview.app.prior_wiring`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from medview.core.errors import MedviewError
from medview.dicom.index import StudyDatabase
from medview.imaging.registration import Alignment, align_rigid, identity
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.opening import open_series

#: The words :func:`titles` passes through its ``tr`` (the GUI translates them).
TITLE_WORDS = (
    "On screen",
    "Compared",
    "Current",
    "Prior",
    "Follow-up",
    "no date",
    "aligned by anatomy (rigid: {shift} mm, {angle}°; a reading aid, not exact)",
    "same frame of reference",
    "ALIGNMENT UNCERTAIN (the scans hardly match: correlation {similarity}): do not rely on the link",
)


@dataclass(frozen=True)
class Comparison:
    """The other series, loaded, and the alignment from the shown one's LPS to its LPS."""

    other: Volume
    alignment: Alignment
    aligned: bool  # False: same frame of reference, nothing was estimated


def check_comparable(shown: VolumeMeta, other: VolumeMeta) -> None:
    """Refuse a pair that must not be compared (one sentence for the status bar).

    Raises
    ------
    MedviewError
        Another patient (by Patient ID), the same series, or a derived image.
    """
    if other.series_uid and other.series_uid == shown.series_uid:
        raise MedviewError("that is the series on screen; select another one to compare with")
    if shown.patient_id and other.patient_id and shown.patient_id != other.patient_id:
        raise MedviewError(
            "the selected series belongs to another patient (Patient ID differs): not compared"
        )


def same_frame(shown: VolumeMeta, other: VolumeMeta) -> bool:
    """Both name the same Frame of Reference (PS3.3 C.7.4.1): LPS already agrees."""
    return bool(shown.frame_of_reference_uid) and (
        shown.frame_of_reference_uid == other.frame_of_reference_uid
    )


def prepare(
    database: StudyDatabase,
    series_uid: str,
    shown: Volume,
    check: Callable[[], None] | None = None,
) -> Comparison:
    """Load ``series_uid`` and align it to ``shown`` (worker thread).

    Raises
    ------
    MedviewError
        A pair that must not be compared, a colour image, or an alignment that failed.
    """
    other = open_series(database, series_uid, cancel=check)
    check_comparable(shown.meta, other.meta)
    if shown.is_color or other.is_color:
        raise MedviewError("colour images cannot be compared")
    if same_frame(shown.meta, other.meta):
        return Comparison(other, identity(), aligned=False)
    return Comparison(other, align_rigid(shown, other, check=check), aligned=True)


def _date(value: str, tr: Callable[[str], str]) -> str:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 else (value or tr("no date"))


def titles(
    shown: VolumeMeta, comparison: Comparison, tr: Callable[[str], str] = str
) -> tuple[str, str]:
    """The headers of the two sides: which is earlier, the date, the series, and how the
    right side is linked (e.g. "Prior · 2025-05-02 · Chest axial · aligned by anatomy
    (rigid: 21.3 mm, 4.1°; …)"). ``tr`` translates the words (the GUI's translator)."""
    other = comparison.other.meta
    left_word, right_word = tr("On screen"), tr("Compared")
    if shown.study_date and other.study_date and shown.study_date != other.study_date:
        if other.study_date < shown.study_date:
            left_word, right_word = tr("Current"), tr("Prior")
        else:
            left_word, right_word = tr("Prior"), tr("Follow-up")
    left = f"{left_word} · {_date(shown.study_date, tr)} · {shown.series_description or '-'}"
    right = f"{right_word} · {_date(other.study_date, tr)} · {other.series_description or '-'}"
    if comparison.aligned:
        alignment = comparison.alignment
        how = tr("aligned by anatomy (rigid: {shift} mm, {angle}°; a reading aid, not exact)")
        shift = float((alignment.translation_mm**2).sum() ** 0.5)
        right += " · " + how.format(shift=f"{shift:.1f}", angle=f"{alignment.rotation_degrees:.1f}")
        if alignment.uncertain:
            warning = tr(
                "ALIGNMENT UNCERTAIN (the scans hardly match: correlation {similarity}): "
                "do not rely on the link"
            )
            right += " · " + warning.format(similarity=f"{alignment.similarity:.2f}")
    else:
        right += " · " + tr("same frame of reference")
    return left, right
