"""The keyboard actions of the MPR layout: presets, view, tools, edit and cine (issue 3).

Split from :mod:`medview.view.mpr_layout`. Every action has a stable id (its objectName) that
``settings.toml``'s ``key_bindings`` use (README, "Keyboard and mouse"); the actions are
children of the layout, active while the focus is in any of its views, and the window's
menus reuse them (a second shortcut for the same key would make Qt fire neither).
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from medview.imaging.slab import DEFAULT_THICKNESS_MM, SLAB_THICKNESSES_MM, Slab, step_thickness
from medview.imaging.windowing import CT_PRESETS
from medview.model.viewer_state import MPR_VIEWS
from medview.view.measure_tools import TOOLS

#: Degrees per [ or ] key press (oblique MPR).
ROTATION_STEP = 5.0
_TOOL_KEYS = {
    "navigate": "Esc",
    "length": "L",
    "angle": "A",
    "ellipse": "E",
    "rectangle": "G",
    "probe": "P",
}
#: Thick-slab projections: id suffix, menu title, default key ("" for none; bindable).
_SLAB_ACTIONS = (
    ("mip", "&MIP (maximum intensity)", "M"),
    ("minip", "Mi&nIP (minimum intensity)", "N"),
    ("mean", "A&verage intensity", ""),
)
_TOOL_TITLES = {
    "navigate": "&Navigate",
    "length": "&Length",
    "angle": "&Angle",
    "ellipse": "&Ellipse ROI",
    "rectangle": "Rectan&gle ROI",
    "probe": "&Probe",
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMprLayout", text)


class MprActionsMixin:
    """Builds and serves the actions of :class:`~medview.view.mpr_layout.QtMprLayout`."""

    def _make_actions(self) -> dict[str, list[QAction]]:
        # Each action has a stable id (its objectName): settings.toml's key_bindings use it.
        presets = []
        for preset in CT_PRESETS:
            text = _tr("{label} window").format(label=_tr(preset.label))
            presets.append(
                self._action(
                    f"preset.{preset.name}", text, preset.key, self._on_preset_action, preset.name
                )
            )
        view = [
            self._action("view.reset", _tr("&Reset view"), "R", self._reset),
            self._action("view.invert", _tr("&Invert grey levels"), "I", self._toggle_invert),
            self._action(
                "view.rotate_left", _tr("Rotate planes &left"), "[", self._rotate, -ROTATION_STEP
            ),
            self._action(
                "view.rotate_right", _tr("Rotate planes &right"), "]", self._rotate, ROTATION_STEP
            ),
            self._action("view.overlays", _tr("Show &overlays"), "O", self._toggle_overlays),
        ]
        view[-1].setCheckable(True)
        view[-1].setChecked(True)
        group = QActionGroup(self)
        tools = []
        for tool in TOOLS:
            action = self._action(
                f"tool.{tool}", _tr(_TOOL_TITLES[tool]), _TOOL_KEYS[tool], self._on_tool, tool
            )
            action.setCheckable(True)
            action.setChecked(tool == "navigate")
            group.addAction(action)
            tools.append(action)
        edit = [
            self._action("edit.undo", _tr("&Undo measurement"), ("Ctrl+Z",), self.undo),
            self._action(
                "edit.redo", _tr("&Redo measurement"), ("Ctrl+Y", "Ctrl+Shift+Z"), self.redo
            ),
            self._action(
                "edit.delete",
                _tr("&Delete measurement"),
                ("Delete", "Backspace"),
                self.delete_selected,
            ),
        ]
        cine = [
            self._action("cine.play", _tr("&Play/pause cine"), "Space", self._toggle_cine),
            self._action("cine.faster", _tr("Cine &faster"), ("+", "="), self._cine_faster),
            self._action("cine.slower", _tr("Cine &slower"), "-", self._cine_slower),
        ]
        return {
            "presets": presets,
            "view": view,
            "tools": tools,
            "edit": edit,
            "cine": cine,
            "slab": self._make_slab_actions(),
        }

    def _make_slab_actions(self) -> list[QAction]:
        """M / N toggle a MIP / MinIP slab, Ctrl+Up / Ctrl+Down change its thickness."""
        self._slab_thickness = DEFAULT_THICKNESS_MM
        self._slab_mode = "mip"
        actions = []
        for mode, title, key in _SLAB_ACTIONS:
            action = self._action(f"slab.{mode}", _tr(title), key or (), self._on_slab_mode, mode)
            action.setCheckable(True)
            actions.append(action)
        actions.append(
            self._action("slab.thicker", _tr("&Thicker slab"), "Ctrl+Up", self._step_slab, 1)
        )
        actions.append(
            self._action("slab.thinner", _tr("T&hinner slab"), "Ctrl+Down", self._step_slab, -1)
        )
        return actions

    def _on_slab_mode(self) -> None:
        mode = str(self.sender().data())
        current = self._state.slab
        if current is not None and current.mode == mode:
            self._state.set_slab(None)
        else:
            self._slab_mode = mode
            self._state.set_slab(Slab(mode, self._slab_thickness))
        self._sync_slab_actions()

    def _step_slab(self) -> None:
        steps = int(self.sender().data())
        current = self._state.slab
        if current is None:
            if steps > 0:  # thicker from thin slices: the last projection, at its thickness
                self._state.set_slab(Slab(self._slab_mode, self._slab_thickness))
        elif steps < 0 and current.thickness_mm <= SLAB_THICKNESSES_MM[0] + 1e-6:
            self._state.set_slab(None)  # thinner than the thinnest slab: back to thin slices
        else:
            self._slab_thickness = step_thickness(current.thickness_mm, steps)
            self._state.set_slab(Slab(current.mode, self._slab_thickness))
        self._sync_slab_actions()

    def _sync_slab_actions(self) -> None:
        """Tick the shown projection's action (the state may change elsewhere: reset, CLI)."""
        slab = self._state.slab
        for action in self._actions["slab"]:
            if action.isCheckable():
                action.setChecked(slab is not None and slab.mode == action.data())

    def _action(
        self, action_id: str, text: str, key: str | tuple[str, ...], slot, data: object = None
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(action_id)
        action.setData(data)
        keys = (key,) if isinstance(key, str) else key
        action.setShortcuts([QKeySequence(k) for k in keys])
        # Active while the focus is in any of the views (they are children of this widget).
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _on_preset_action(self) -> None:
        self._preset(str(self.sender().data()))

    def _reset(self) -> None:
        self._state.reset()

    def _preset(self, name: str) -> None:
        if self._state.volume is not None and not self._state.volume.is_color:
            self._state.apply_preset(name)

    def _toggle_invert(self) -> None:
        self._state.set_inverted(not self._state.inverted)

    def _rotate(self) -> None:
        degrees = float(self.sender().data())
        active = self._state.active
        if self._state.volume is not None and active in MPR_VIEWS:
            self._state.rotate(active, degrees)

    def _on_tool(self) -> None:
        self.set_tool(str(self.sender().data()))

    def _toggle_overlays(self) -> None:
        self.set_overlays_visible(not self._overlays_visible)

    def _toggle_cine(self) -> None:
        self.set_cine_playing(not self.cine_playing)

    def _cine_faster(self) -> None:
        self.set_cine_fps(self._cine_fps + (1.0 if self._cine_fps < 10 else 5.0))

    def _cine_slower(self) -> None:
        self.set_cine_fps(self._cine_fps - (1.0 if self._cine_fps <= 10 else 5.0))
