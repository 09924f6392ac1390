"""The Accept / Reject / Undecided row under a list of AI findings (AI panel, report panel).

One definition so both panels decide the same way; each panel passes its own translated
labels (Qt translation contexts are per panel) and a slot that reads the decision
("accept", "reject", "reset") of the button pressed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

DECISIONS = ("accept", "reject", "reset")


def decision_buttons(
    parent: QWidget,
    labels: tuple[str, str, str],
    name_prefix: str,
    slot: Callable[[], object],
) -> QHBoxLayout:
    """A row of three buttons named ``<name_prefix><decision>``, each clicked into ``slot``
    (a bound method of the panel), which reads the decision with :func:`decision_of`.

    Not a lambda per button: Qt would hold the lambda, the lambda the panel, and the panel
    (with its window) would never be freed (tests/gui/test_main_window.py checks that a
    dropped window releases its render windows).
    """
    row = QHBoxLayout()
    for text, decision in zip(labels, DECISIONS, strict=True):
        button = QPushButton(text, parent)
        button.setObjectName(f"{name_prefix}{decision}")
        button.clicked.connect(slot)
        row.addWidget(button)
    return row


def decision_of(button: QObject | None, name_prefix: str) -> str:
    """The decision of a button made by :func:`decision_buttons` (its object name)."""
    return button.objectName().removeprefix(name_prefix) if button is not None else ""
