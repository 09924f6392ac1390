"""Help › Keyboard shortcuts (F1): the keys as bound now, with their key_bindings ids."""

from __future__ import annotations

import pytest

from medview.app.main_window import QtMainWindow
from medview.app.shortcuts_dialog import QtShortcutsDialog, shortcut_rows
from medview.model.settings import Settings

pytestmark = pytest.mark.gui


def test_the_table_shows_current_keys_and_ids_and_filters(qtbot, monkeypatch, tmp_path):
    settings = Settings(path=tmp_path / "settings.toml")
    settings.key_bindings = {"tool.length": ["D"]}  # a reader's own key
    shown = []
    monkeypatch.setattr(QtShortcutsDialog, "exec", lambda self: shown.append(self) or 0)
    window = QtMainWindow(settings=settings)
    qtbot.addWidget(window)
    assert window.shortcuts_action.shortcut().toString() == "F1"
    window.shortcuts_action.trigger()
    dialog = shown[0]
    rows = dialog.visible_rows()
    by_id = {action_id: keys for keys, _title, action_id in rows if action_id}
    assert by_id["tool.length"] == "D"  # the rebinding, not the default L
    assert by_id["slab.mip"] == "M" and by_id["preset.lung"] == "1"
    titles = {title for _keys, title, _id in rows}
    assert "Export report" in titles  # the window's own keys (Ctrl+Shift+R), without an id
    assert "Wheel" in {keys for keys, _t, _i in rows}  # mouse gestures too

    dialog.set_filter("ctrl+shift+r")
    assert [title for _k, title, _i in dialog.visible_rows()] == ["Export report"]
    dialog.set_filter("slab")
    assert {i for _k, _t, i in dialog.visible_rows()} >= {"slab.mip", "slab.thicker"}
    dialog.set_filter("")
    assert len(dialog.visible_rows()) == len(rows)
    assert "pacs.query" not in by_id  # [key_bindings] cannot change the window's own keys
    everything = shortcut_rows(window, window.mpr.all_actions)
    assert len({(k, t) for k, t, _i in everything}) == len(everything)
