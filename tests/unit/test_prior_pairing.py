"""Which series may be compared, and how the two sides are headed (medview.model.prior_compare)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from medview.core.errors import MedviewError
from medview.imaging.registration import Alignment, identity
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.prior_compare import Comparison, check_comparable, same_frame, titles

SHOWN = VolumeMeta(
    patient_id="P1", series_uid="1.2.3.1", study_date="20261101",
    frame_of_reference_uid="1.2.3.9", series_description="Chest 1 mm",
)  # fmt: skip


def _other(**changes) -> Volume:
    meta = replace(SHOWN, series_uid="1.2.4.1", **changes)
    return Volume(np.zeros((2, 2, 2), np.int16), (1, 1, 1), (0, 0, 0), np.eye(3), meta)


def test_another_patient_or_the_same_series_is_refused():
    with pytest.raises(MedviewError, match="another patient"):
        check_comparable(SHOWN, _other(patient_id="P2").meta)
    with pytest.raises(MedviewError, match="series on screen"):
        check_comparable(SHOWN, replace(SHOWN))
    check_comparable(SHOWN, _other(patient_id="").meta)  # no ID on one side: allowed


def test_titles_say_which_is_the_prior_and_how_it_is_linked():
    matrix = np.eye(4)
    matrix[:3, 3] = (3.0, 4.0, 0.0)
    prior = Comparison(_other(study_date="20250502"), Alignment(matrix, -0.5, 2.0), True)
    left, right = titles(SHOWN, prior)
    assert left == "Current · 2026-11-01 · Chest 1 mm"
    assert right.startswith(
        "Prior · 2025-05-02 · Chest 1 mm · aligned by anatomy (rigid: 5.0 mm, 0.0°"
    )
    later = Comparison(_other(study_date="20270101"), identity(), False)
    assert titles(SHOWN, later) == (
        "Prior · 2026-11-01 · Chest 1 mm",
        "Follow-up · 2027-01-01 · Chest 1 mm · same frame of reference",
    )
    doubtful = Comparison(_other(study_date="20250502"), Alignment(matrix, -0.1, 2.0, 0.12), True)
    assert (
        "ALIGNMENT UNCERTAIN (the scans hardly match: correlation 0.12)"
        in titles(SHOWN, doubtful)[1]
    )
    assert "UNCERTAIN" not in right
    same_day = Comparison(_other(), identity(), False)
    assert titles(SHOWN, same_day)[0].startswith("On screen")
    assert same_frame(SHOWN, _other().meta) and not same_frame(
        SHOWN, _other(frame_of_reference_uid="9").meta
    )
