"""How a signed overlay is shown: positive part, magnitude or both signs (issue 7).

Attribution maps (saliency) are signed: positive values raised the detector's score, negative
ones lowered it. A reader usually wants the positive evidence only; the magnitude shows
everything that mattered; the signed view shows both sides of the colour map. For an overlay
that is never negative (a probability, a mask) the three modes draw the same thing.

Qt-free and VTK-free: :mod:`medview.view.overlay_layer` draws with these numbers and the AI
panel turns its threshold slider into a value with :func:`threshold_value`.
"""

from __future__ import annotations

#: Display modes, the default first.
SIGN_MODES: tuple[str, ...] = ("positive", "absolute", "signed")


def _check(sign: str) -> None:
    if sign not in SIGN_MODES:
        raise ValueError(f"unknown overlay sign mode {sign!r}; expected one of {SIGN_MODES}")


def display_range(value_range: tuple[float, float], sign: str) -> tuple[float, float]:
    """The values mapped to the ends of the colour map for ``sign``.

    ``value_range`` is the overlay's own (low, high). A range that never goes below zero is
    returned unchanged in every mode; otherwise "positive" draws ``(0, high)``, "absolute"
    ``(0, max(|low|, |high|))`` (of the magnitude) and "signed" ``(low, high)``.
    """
    _check(sign)
    low, high = float(value_range[0]), float(value_range[1])
    if low >= 0.0 or sign == "signed":
        return low, high
    if sign == "positive":
        return 0.0, max(high, 0.0)
    return 0.0, max(abs(low), abs(high))


def threshold_value(value_range: tuple[float, float], sign: str, fraction: float) -> float:
    """The threshold (overlay units) at ``fraction`` (0..1) of what ``sign`` shows.

    Non-negative overlays: ``low + fraction * (high - low)``, as before issue 7. Signed
    overlays: a fraction of the largest value shown ("positive") or of the largest magnitude
    ("absolute", "signed", where the threshold applies to ``|value|``).
    """
    _check(sign)
    fraction = min(1.0, max(0.0, float(fraction)))
    low, high = float(value_range[0]), float(value_range[1])
    if low >= 0.0:
        return low + fraction * (high - low)
    if sign == "positive":
        return fraction * max(high, 0.0)
    return fraction * max(abs(low), abs(high))


__all__ = ["SIGN_MODES", "display_range", "threshold_value"]
