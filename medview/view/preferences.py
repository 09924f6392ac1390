"""Applying the reader's own habits to the MPR layout (issue 3, "Settings and state").

Radiologists arrive with muscle memory from other workstations: which key picks the length
tool, what a left drag does, what "lung window" means at their site. Those live in
``settings.toml`` (:class:`~medview.model.settings.Settings`: ``key_bindings``,
``window_presets``, ``left_drag``); this module puts them on the layout's actions and views.
Problems (an unknown action id, a key that is not a key) come back as sentences for the log
and status bar; they never stop the window from opening.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from PySide6.QtGui import QAction, QKeySequence

__all__ = ["USER_PRESET_KEYS", "apply_key_bindings", "shortcut_table"]

#: Number keys left for the user's own window presets (1-6 are the built-in CT presets).
USER_PRESET_KEYS = ("7", "8", "9", "0")


def apply_key_bindings(
    actions: Iterable[QAction], bindings: Mapping[str, Sequence[str]]
) -> list[str]:
    """Give the actions named in ``bindings`` (by objectName) their new shortcuts.

    Returns
    -------
    list of str
        One sentence per binding that could not be applied (unknown id, invalid key, or a
        key another action already uses, which would make Qt fire neither).
    """
    by_id = {action.objectName(): action for action in actions if action.objectName()}
    problems = []
    for action_id, keys in bindings.items():
        action = by_id.get(action_id)
        if action is None:
            problems.append(f"unknown action {action_id!r} in key_bindings")
            continue
        sequences = [QKeySequence(k) for k in keys]
        if any(s.isEmpty() or s.toString() == "" for s in sequences) and keys:
            problems.append(f"invalid key {list(keys)!r} for {action_id} in key_bindings")
            continue
        action.setShortcuts(sequences)
    taken: dict[str, str] = {}
    for action_id, action in by_id.items():
        for sequence in action.shortcuts():
            key = sequence.toString()
            if key in taken and taken[key] != action_id:
                problems.append(f"key {key} is bound to both {taken[key]} and {action_id}")
            taken.setdefault(key, action_id)
    return problems


def shortcut_table(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(action id, title without the ``&`` mnemonic, keys) for every action with an id."""
    rows = []
    for action in actions:
        if action.objectName():
            keys = ", ".join(s.toString() for s in action.shortcuts())
            rows.append((action.objectName(), action.text().replace("&", ""), keys))
    return rows
