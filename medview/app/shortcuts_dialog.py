"""Help › Keyboard shortcuts (F1): every key the window answers to, as it is bound now.

Readers rebind keys in ``settings.toml`` (``[key_bindings]``, README "Keyboard and mouse"),
so a printed card goes stale; this table is read from the window's actions when it opens,
with the id a ``key_bindings`` entry needs, and the mouse gestures, which have no action.
A filter box finds a key or a word. GUI thread only.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["QtShortcutsDialog", "add_shortcuts_action", "shortcut_rows"]

#: Mouse gestures of the slice views (medview.view.slice_input, README); no action, no id.
MOUSE_ROWS = (
    ("Wheel", "Scroll slices (the crosshair follows)"),
    ("Left click", "Move the crosshair there"),
    ("Left drag", "Window/level (or pan or zoom: View › Left drag)"),
    ("Left drag on a crosshair line", "Turn the other planes (oblique MPR)"),
    ("Middle drag", "Pan"),
    ("Right drag, Ctrl+Wheel", "Zoom"),
    ("Double-click", "Maximise the view; again to restore"),
)


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtShortcutsDialog", text)


def shortcut_rows(window: QWidget, bindable_actions=()) -> list[tuple[str, str, str]]:
    """(keys, what it does, key_bindings id or "") for every action of ``window`` that has
    a key; the id only for ``bindable_actions`` (what ``[key_bindings]`` can change: the MPR
    layout's), which come first, each group sorted by id or title."""
    ids = {id(action) for action in bindable_actions}
    seen: set[int] = set()
    bindable, fixed = [], []
    for action in window.findChildren(QAction):
        if id(action) in seen or not action.shortcuts():
            continue
        seen.add(id(action))
        keys = ", ".join(
            s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts()
        )
        title = action.text().replace("&", "").rstrip("…").strip()
        row = (keys, title, action.objectName() if id(action) in ids else "")
        (bindable if row[2] else fixed).append(row)
    return sorted(bindable, key=lambda r: r[2]) + sorted(fixed, key=lambda r: r[1].lower())


class QtShortcutsDialog(QDialog):
    """The table of keys (and mouse gestures) with a filter box."""

    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("Keyboard shortcuts"))
        self._filter = QLineEdit(self)
        self._filter.setPlaceholderText(_tr("Filter: a key or a word"))
        self._filter.setClearButtonEnabled(True)
        self._filter.textChanged.connect(self._apply_filter)
        all_rows = [*rows, *((_tr(k), _tr(t), "") for k, t in MOUSE_ROWS)]
        self._table = QTableWidget(len(all_rows), 3, self)
        self._table.setHorizontalHeaderLabels(
            [_tr("Keys"), _tr("Action"), _tr("Id for [key_bindings]")]
        )
        for row, values in enumerate(all_rows):
            for column, value in enumerate(values):
                self._table.setItem(row, column, QTableWidgetItem(value))
        self._table.verticalHeader().setVisible(False)
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self._table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        hint = QLabel(
            _tr(
                'Change a key in settings.toml, e.g. [key_bindings] "tool.length" = "D" '
                "(medview paths shows where the file is); it applies at the next start."
            ),
            self,
        )
        hint.setWordWrap(True)
        hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self._filter)
        layout.addWidget(self._table, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(720, 560)

    @property
    def table(self) -> QTableWidget:
        return self._table

    def set_filter(self, text: str) -> None:
        self._filter.setText(text)

    def visible_rows(self) -> list[tuple[str, str, str]]:
        """The rows the filter leaves, as shown (for tests and a copy)."""
        table = self._table
        return [
            tuple(table.item(row, column).text() for column in range(3))  # type: ignore[misc]
            for row in range(table.rowCount())
            if not table.isRowHidden(row)
        ]

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self._table.rowCount()):
            cells = " ".join(self._table.item(row, c).text() for c in range(3)).lower()
            self._table.setRowHidden(row, bool(needle) and needle not in cells)


def add_shortcuts_action(window: QMainWindow, menu: QMenu) -> QAction:
    """Add Help › Keyboard shortcuts… (F1) to ``menu``; returns the action."""
    action = QAction(_tr("&Keyboard shortcuts…"), window)
    action.setShortcut(QKeySequence("F1"))
    # A weak reference: a slot holding the window would keep it (and its render windows)
    # alive after it is dropped.
    window_ref = weakref.ref(window)

    def show() -> None:
        parent = window_ref()
        if parent is not None:
            rows = shortcut_rows(parent, parent.mpr.all_actions)
            QtShortcutsDialog(rows, parent).exec()

    action.triggered.connect(show)
    menu.addAction(action)
    return action
