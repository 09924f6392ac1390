"""Which saliency overlay follows a finding and a method; how signed overlays are shown (issue 7)."""

from __future__ import annotations

import pytest

from medview.model.overlay_display import SIGN_MODES, display_range, threshold_value
from medview.model.saliency_choice import (
    SaliencyEntry,
    available_methods,
    choose,
    entries_for_result,
    parse_overlay_name,
)

A = (-58.4, -67.7, -43.5)
B = (-55.2, -62.0, -18.5)
C = (40.0, 10.0, 5.0)


def test_overlay_names_are_parsed_and_others_refused():
    assert parse_overlay_name("saliency-gradcam-finding-001") == ("gradcam", 1)
    assert parse_overlay_name("saliency-occlusion-finding-012") == ("occlusion", 12)
    for name in (
        "blob heat",
        "saliency-gradcam",
        "saliency--finding-001",
        "x-saliency-ig-finding-1",
    ):
        assert parse_overlay_name(name) is None


def test_entries_of_a_result_carry_the_explained_findings_centre():
    entries = entries_for_result(
        "job1",
        ["saliency-gradcam-finding-001", "other", "saliency-gradcam-finding-003"],
        [A, B, C],
        keys=[5, 6, 7],
    )
    assert [(e.key, e.finding_number, e.center_lps_mm) for e in entries] == [(5, 1, A), (7, 3, C)]
    # A number past the findings: no centre (matched by number within its run only).
    (odd,) = entries_for_result("job1", ["saliency-ig-finding-009"], [A])
    assert odd.center_lps_mm is None and odd.key == 0


def _catalogue():
    grad = entries_for_result(
        "grad", ["saliency-gradcam-finding-001", "saliency-gradcam-finding-002"], [A, B, C]
    )
    occl = entries_for_result(
        "occl",
        ["saliency-occlusion-finding-001", "saliency-occlusion-finding-002"],
        [A, B, C],
        keys=[2, 3],
    )
    return grad + occl


def test_methods_are_offered_in_manifest_order():
    entries = [*_catalogue(), SaliencyEntry(9, "x", "zzz", 1)]
    assert available_methods(reversed(entries)) == ["gradcam", "occlusion", "zzz"]
    assert available_methods([]) == []


def test_a_finding_of_the_same_run_maps_to_its_own_overlay():
    entries = _catalogue()
    assert choose(entries, "gradcam", "grad", 2, B).key == 1
    assert choose(entries, "occlusion", "occl", 1, A).key == 2


def test_switching_method_finds_the_same_finding_in_the_other_run():
    entries = _catalogue()
    # Finding 2 of the Grad-CAM run, shown with occlusion: the occlusion run's finding 2.
    chosen = choose(entries, "occlusion", "grad", 2, B)
    assert (chosen.job_id, chosen.finding_number) == ("occl", 2)
    # A finding of a plain detector run at the same place (within the tolerance).
    moved = (B[0] + 0.5, B[1], B[2])
    assert choose(entries, "gradcam", "detector", 4, moved).finding_number == 2
    assert choose(entries, "gradcam", "detector", 4, moved, tolerance_mm=0.1) is None


def test_unexplained_findings_and_unknown_methods_get_none():
    entries = _catalogue()
    assert choose(entries, "gradcam", "grad", 3, C) is None  # not among the explained ones
    assert choose(entries, "ig", "grad", 1, A) is None
    assert choose(entries, "gradcam", "detector", 1, None) is None


def test_the_latest_run_wins_when_a_method_was_run_twice():
    entries = _catalogue() + entries_for_result(
        "grad2", ["saliency-gradcam-finding-001"], [A], keys=[10]
    )
    assert choose(entries, "gradcam", "grad", 1, A).key == 0  # its own run first
    assert choose(entries, "gradcam", "occl", 1, A).key == 10  # else the latest


def test_non_negative_overlays_look_the_same_in_every_mode():
    for sign in SIGN_MODES:
        assert display_range((0.0, 2.0), sign) == (0.0, 2.0)
        assert threshold_value((0.0, 2.0), sign, 0.25) == 0.5
        assert threshold_value((1.0, 3.0), sign, 0.5) == 2.0


def test_signed_overlays_are_shown_by_sign_mode():
    value_range = (-4.0, 2.0)
    assert display_range(value_range, "positive") == (0.0, 2.0)
    assert display_range(value_range, "absolute") == (0.0, 4.0)
    assert display_range(value_range, "signed") == (-4.0, 2.0)
    assert threshold_value(value_range, "positive", 0.5) == 1.0
    assert threshold_value(value_range, "absolute", 0.5) == 2.0
    assert threshold_value(value_range, "signed", 0.5) == 2.0  # on |value|
    assert threshold_value(value_range, "positive", 7.0) == 2.0  # clipped to 0..1
    with pytest.raises(ValueError, match="sign mode"):
        display_range(value_range, "negative")
