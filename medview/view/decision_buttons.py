"""The Accept / Reject / Undecided row under a list of AI findings (AI panel, report panel).

One definition so both panels decide the same way; each panel passes its own translated
labels (Qt translation contexts are per panel) and gets the decision ("accept", "reject",
"reset") of the button pressed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

DECISIONS = ("accept", "reject", "reset")


def decision_buttons(
    parent: QWidget,
    labels: tuple[str, str, str],
    name_prefix: str,
    decide: Callable[[str], object],
) -> QHBoxLayout:
    """A row of three buttons named ``<name_prefix><decision>`` calling ``decide(decision)``."""
    row = QHBoxLayout()
    for text, decision in zip(labels, DECISIONS, strict=True):
        button = QPushButton(text, parent)
        button.setObjectName(f"{name_prefix}{decision}")
        button.clicked.connect(lambda _checked=False, d=decision: decide(d))
        row.addWidget(button)
    return row
