"""Three linked slice views (axial, coronal, sagittal) and a 3D view in 1x1, 1x2 or 2x2.

Every view follows one :class:`~medview.model.viewer_state.ViewerState`: the layout turns
view events into state changes and state changes into view updates, and holds no viewing
state of its own (ndv style: the logic is in the Qt-free state).

Mouse and keys, in any MPR view:

- left click (press and release without moving more than 3 pixels): move the crosshair
  there; the other views jump to the slices through it;
- left drag: window/level (shared by the MPR views); wheel, arrows, PageUp/PageDown: scroll
  (the crosshair follows);
- double-click: maximise the view, double-click again to restore the layout;
- 1-6: CT window presets (lung, mediastinum, bone, brain, abdomen, liver); R: reset;
  I: invert grey levels; [ and ]: oblique, turn the other planes about this view's normal;
- measuring (issue 3): L length, A angle, E ellipse, G rectangle, P probe, Esc back to
  navigate (and drop a half-drawn measurement); Delete removes the selected measurement,
  Ctrl+Z / Ctrl+Y (Ctrl+Shift+Z) undo and redo through the scene;
- O toggles the overlays (corner texts, scale bar); Space plays/pauses cine in the active
  view (looping from the last slice to the first), + and - change its speed (frames/s);
  Ctrl+wheel zooms, right-drag zooms, middle-drag pans;
- M / N: thick-slab MIP / MinIP on and off (average from the menu), Ctrl+Up / Ctrl+Down:
  thicker / thinner slab (:mod:`medview.view.slab_reslice`).
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGridLayout, QWidget

from medview.imaging.planes import STANDARD_PLANES
from medview.imaging.slab import SLAB_LABELS
from medview.imaging.volume import Volume
from medview.imaging.windowing import CT_PRESETS
from medview.model.measurements import MeasurementScene
from medview.model.viewer_state import MPR_VIEWS, VIEW_3D, ViewerState
from medview.view.ai_display import AiDisplay
from medview.view.crosshair import PLANE_COLOURS, CrosshairLines
from medview.view.crosshair_drag import CrosshairRotator
from medview.view.measure_actors import anchor
from medview.view.measure_tools import MeasureController
from medview.view.mpr_actions import MprActionsMixin
from medview.view.preferences import USER_PRESET_KEYS, apply_key_bindings
from medview.view.slice_view import QtSliceView
from medview.view.volume_view import QtVolumeView
from medview.view.vtk_widget import make_text, weak_callback

#: Cine: default, lowest and highest frames per second.
CINE_FPS = 10.0
CINE_FPS_RANGE = (1.0, 60.0)
_PLANE_TITLES = {"axial": "Axial", "coronal": "Coronal", "sagittal": "Sagittal"}


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMprLayout", text)


def _volume_of(layout: QtMprLayout):
    """A function returning the volume ``layout`` shows, holding the layout weakly."""
    reference = weakref.ref(layout)

    def volume() -> Volume | None:
        target = reference()
        return target.state.volume if target is not None else None

    return volume


class QtMprLayout(MprActionsMixin, QWidget):
    """Axial, coronal and sagittal views linked by a crosshair, plus a 3D view.

    Parameters
    ----------
    parent
        Qt parent.
    state
        The viewer state to follow (a new one by default).
    scene
        The measurements to draw and edit (a new, empty one by default).
    """

    #: The crosshair moved (LPS mm, as a numpy array).
    crosshair_moved = Signal(object)

    #: The measuring tool changed (its name).
    tool_changed = Signal(str)
    #: Cine started (True) or stopped (False).
    cine_toggled = Signal(bool)

    def __init__(
        self,
        parent: QWidget | None = None,
        state: ViewerState | None = None,
        scene: MeasurementScene | None = None,
    ) -> None:
        super().__init__(parent)
        self._state = state or ViewerState()
        self._overlays_visible = True
        self._finalized = False
        self._syncing = False
        self._views: dict[str, QtSliceView] = {}
        self._lines: dict[str, CrosshairLines] = {}
        self._plane_labels = {}
        for name in MPR_VIEWS:
            view = QtSliceView(self, STANDARD_PLANES[name])
            self._views[name] = view
            self._lines[name] = CrosshairLines(view.renderer)
            label = make_text(view.renderer, "top_right", 14, bold=True)
            label.SetInput(_tr(_PLANE_TITLES[name]))
            label.GetTextProperty().SetColor(*PLANE_COLOURS[name])
            self._plane_labels[name] = label
            # Bound methods only (the sender tells which view): a lambda capturing self would
            # be held by the C++ connection, out of the garbage collector's sight, and keep
            # this widget and its render windows alive after its window is dropped.
            view.setObjectName(name)
            view.clicked.connect(self._on_clicked)
            view.slice_changed.connect(self._on_slice_changed)
            view.window_changed.connect(self._on_window_changed)
            view.double_clicked.connect(self._on_double_clicked)
        self._volume_view = QtVolumeView(self)
        self._volume_view.setObjectName(VIEW_3D)
        self._volume_view.double_clicked.connect(self._on_double_clicked)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        # Only weak references back to this widget: no cycle keeps its render windows alive.
        self._measure = MeasureController(
            scene if scene is not None else MeasurementScene(), self._views, _volume_of(self)
        )
        # In front of the measurement tools: grabbing a crosshair line turns it (oblique MPR).
        measure = self._measure
        self._rotator = CrosshairRotator(
            self._state,
            self._views,
            lambda: measure.tool,
            measure.handle,
            lambda name, point: (
                measure.pick_handle(name, point) is not None
                or measure.pick(name, point) is not None
            ),
        )
        for view in self._views.values():
            view.set_mouse_handler(self._rotator.handle)
        self._ai = AiDisplay(self._views)
        self._cine_fps = CINE_FPS
        # A QTimer on the GUI thread: each tick renders, and rendering stays on this thread.
        self._cine_timer = QTimer(self)
        self._cine_timer.timeout.connect(self._cine_step)
        self._cine_timer.setInterval(round(1000.0 / self._cine_fps))
        self._actions = self._make_actions()
        # Weakly: the state usually belongs to this widget, and a cycle through it would
        # leave the render windows to the cyclic garbage collector, which may run anywhere.
        self._state_listener = weak_callback(self._on_state_changed)
        self._state.add_listener(self._state_listener)
        self._apply_layout()

    # -- public API ------------------------------------------------------------------------
    @property
    def state(self) -> ViewerState:
        return self._state

    @property
    def volume(self) -> Volume | None:
        return self._state.volume

    def view(self, name: str) -> QtSliceView:
        """The slice view called ``name`` ("axial", "coronal" or "sagittal")."""
        return self._views[name]

    @property
    def volume_view(self) -> QtVolumeView:
        return self._volume_view

    def widget_for(self, name: str) -> QWidget:
        """The widget showing view ``name`` (a slice view, or the 3D view for "3d")."""
        return self._volume_view if name == VIEW_3D else self._views[name]

    def visible_widgets(self) -> list[QWidget]:
        return [self.widget_for(name) for name in self._state.visible_views()]

    def crosshair_lines(self, name: str) -> CrosshairLines:
        return self._lines[name]

    @property
    def preset_actions(self) -> list[QAction]:
        """Window preset actions (keys 1-6, then the user's own), for the View menu."""
        return self._actions["presets"]

    @property
    def all_actions(self) -> list[QAction]:
        """Every keyboard action, each with a stable id (objectName) for key_bindings."""
        return [action for group in self._actions.values() for action in group]

    def set_left_drag(self, mode: str) -> None:
        """What a left drag does in every slice view: "window", "pan" or "zoom"."""
        for view in self._views.values():
            view.set_left_drag(mode)

    def apply_preferences(
        self,
        *,
        left_drag: str = "window",
        key_bindings: Mapping[str, Sequence[str]] | None = None,
        window_presets: Mapping[str, tuple[float, float]] | None = None,
    ) -> list[str]:
        """Apply the reader's settings; returns one sentence per setting that did not apply.

        Call once, before the window builds its menus from the actions.
        """
        problems = []
        self.set_left_drag(left_drag)
        presets = dict(window_presets or {})
        self._state.set_custom_presets(presets)
        built_in = {p.name for p in CT_PRESETS}
        keys = iter(USER_PRESET_KEYS)
        for name in presets:
            if name in built_in:
                continue  # a changed built-in: its action applies the user's window
            key = next(keys, None)
            action = self._action(
                f"preset.{name}",
                _tr("{label} window").format(label=name),
                key or (),
                self._on_preset_action,
                name,
            )
            self._actions["presets"].append(action)
        problems += apply_key_bindings(self.all_actions, key_bindings or {})
        return problems

    @property
    def view_actions(self) -> list[QAction]:
        """Reset (R), invert (I), rotate ([ ]), overlays (O)."""
        return self._actions["view"]

    @property
    def tool_actions(self) -> list[QAction]:
        """Checkable measuring tools (Esc navigate, L, A, E, G, P), for a Tools menu."""
        return self._actions["tools"]

    @property
    def edit_actions(self) -> list[QAction]:
        """Undo (Ctrl+Z), redo (Ctrl+Y, Ctrl+Shift+Z), delete measurement (Delete)."""
        return self._actions["edit"]

    @property
    def cine_actions(self) -> list[QAction]:
        """Play/pause (Space), faster (+), slower (-)."""
        return self._actions["cine"]

    @property
    def slab_actions(self) -> list[QAction]:
        """Thick-slab MIP (M), MinIP (N), average; thicker (Ctrl+Up), thinner (Ctrl+Down)."""
        return self._actions["slab"]

    # -- measurements ----------------------------------------------------------------------
    @property
    def measurement_scene(self) -> MeasurementScene:
        """The measurements drawn in the views (give it to a QtMeasurementPanel)."""
        return self._measure.scene

    def set_measurement_scene(self, scene: MeasurementScene) -> None:
        """Draw and edit ``scene`` (e.g. a session loaded for the study)."""
        self._measure.set_scene(scene)

    @property
    def ai_display(self) -> AiDisplay:
        """AI findings and overlays drawn over the slice views."""
        return self._ai

    @property
    def rotator(self) -> CrosshairRotator:
        return self._rotator

    @property
    def measure_controller(self) -> MeasureController:
        return self._measure

    @property
    def tool(self) -> str:
        return self._measure.tool

    def set_tool(self, tool: str) -> None:
        """Pick the measuring tool: one of "navigate", "length", "angle", "ellipse",
        "rectangle", "probe"."""
        self._measure.set_tool(tool)
        for action in self._actions["tools"]:
            action.setChecked(action.data() == tool)
        cursor = Qt.CursorShape.ArrowCursor if tool == "navigate" else Qt.CursorShape.CrossCursor
        for view in self._views.values():
            view.vtk_widget.setCursor(cursor)
        self.tool_changed.emit(tool)

    def undo(self) -> bool:
        return self.measurement_scene.undo()

    def redo(self) -> bool:
        return self.measurement_scene.redo()

    def delete_selected(self) -> bool:
        """Remove the selected measurement; False when none is selected."""
        return self._measure.delete_selected()

    def show_measurement(self, measurement_id: str) -> None:
        """Select a measurement and bring every view to it (e.g. from the panel)."""
        scene = self.measurement_scene
        if measurement_id not in scene:
            return
        scene.select(measurement_id)
        self._state.set_crosshair(anchor(scene.get(measurement_id)))

    # -- overlays and cine -------------------------------------------------------------------
    @property
    def overlays_visible(self) -> bool:
        return self._overlays_visible

    def set_overlays_visible(self, visible: bool) -> None:
        """Show or hide the corner texts and scale bars of the slice views (O)."""
        self._overlays_visible = bool(visible)
        for view in self._views.values():
            view.set_overlays_visible(self._overlays_visible)

    @property
    def cine_fps(self) -> float:
        return self._cine_fps

    def set_cine_fps(self, fps: float) -> None:
        """Cine speed in frames (slices) per second, clamped to :data:`CINE_FPS_RANGE`."""
        self._cine_fps = float(np.clip(fps, *CINE_FPS_RANGE))
        self._cine_timer.setInterval(round(1000.0 / self._cine_fps))

    @property
    def cine_playing(self) -> bool:
        return self._cine_timer.isActive()

    def set_cine_playing(self, playing: bool) -> None:
        """Start or stop cine: the active slice view steps one slice per tick and loops
        from the last slice back to the first until stopped."""
        if playing == self.cine_playing:
            return
        if playing and self._state.volume is not None:
            self._cine_timer.start()
        else:
            self._cine_timer.stop()
        self.cine_toggled.emit(self.cine_playing)

    def _cine_step(self) -> None:
        if self._finalized or self._state.volume is None:
            self._cine_timer.stop()
            return
        active = self._state.active
        view = self._views[active if active in self._views else MPR_VIEWS[0]]
        following = view.slice_index + 1
        view.set_slice(following if following < view.slice_count else 0)

    def set_volume(self, volume: Volume) -> None:
        """Show ``volume`` in every view, crosshair at its centre."""
        self._state.set_volume(volume)

    def show_preview(self, preview: Volume, message: str = "") -> str:
        """Show a one-slice preview while the whole series loads (progressive loading).

        The slice goes to the view whose plane is the acquisition plane (the axial view for
        an axial CT, the sagittal view for a sagittal MR); the other views say ``message``.
        The viewer state is left alone: :meth:`set_volume` with the whole series follows.
        Returns the name of the view that shows the preview.
        """
        slice_normal = np.asarray(preview.direction, dtype=float)[:, 2]
        plane = max(MPR_VIEWS, key=lambda n: abs(float(STANDARD_PLANES[n].normal @ slice_normal)))
        visible = [n for n in self._state.visible_views() if n in self._views]
        # The acquisition plane's view, or (hidden by the layout) the first visible one,
        # turned to that plane until the whole series arrives and the planes are synced.
        name = plane if plane in visible or not visible else visible[0]
        for other, other_view in self._views.items():
            if other != name:
                other_view.set_message(message)
        self._volume_view.set_message(message)
        view = self._views[name]
        self._syncing = True  # the preview's default window is not a user's W/L change
        try:
            view.set_plane(STANDARD_PLANES[plane])
            view.set_volume(preview)  # fits the camera, clears the message, renders
        finally:
            self._syncing = False
        return name

    def set_message(self, text: str) -> None:
        """A centred message over the views (e.g. "Loading…")."""
        for view in self._views.values():
            view.set_message(text)
        self._volume_view.set_message(text)

    def finalize(self) -> None:
        """Release every render window (idempotent)."""
        if self._finalized:
            return
        self._finalized = True
        self._cine_timer.stop()
        self._state.remove_listener(self._state_listener)
        self._measure.close()
        self._rotator.close()
        self._ai.close()
        for view in self._views.values():
            view.set_mouse_handler(None)
        for view in self._views.values():
            view.finalize()
        self._volume_view.finalize()

    def closeEvent(self, event) -> None:
        self.finalize()
        super().closeEvent(event)

    # -- view events -> state --------------------------------------------------------------
    def _sender_name(self) -> str:
        sender = self.sender()
        return sender.objectName() if sender is not None else ""

    def _on_clicked(self, lps: np.ndarray) -> None:
        self.click(self._sender_name(), lps)

    def click(self, name: str, lps: np.ndarray) -> None:
        """What a click at ``lps`` in view ``name`` does: move the crosshair there."""
        self._state.set_active(name)
        self._state.set_crosshair(lps)

    def _on_double_clicked(self) -> None:
        name = self._sender_name()
        if name:
            self._state.toggle_maximised(name)

    def _on_slice_changed(self, _index: int) -> None:
        name = self._sender_name()
        if self._syncing or name not in self._views:
            return
        # The user scrolled this view: bring the crosshair onto its new slice.
        view = self._views[name]
        crosshair = self._state.crosshair
        normal = view.normal
        self._state.set_active(name)
        self._state.set_crosshair(crosshair + normal * (view.slice_position - crosshair @ normal))

    def _on_window_changed(self, center: float, width: float) -> None:
        if not self._syncing:
            self._state.set_window(center, width)

    # -- state -> views --------------------------------------------------------------------
    def _on_state_changed(self, change: str) -> None:
        if self._finalized:
            return
        self._syncing = True
        try:
            if change == "volume":
                self._measure.cancel()
                self._ai.clear()
                self._show_volume()
            elif change in ("crosshair", "planes", "reset"):
                if change == "reset":
                    self._apply_slab()  # a reset returns to thin slices
                self._sync_planes(reset=change == "reset")
            elif change == "window":
                for view in self._views.values():
                    view.set_window(*self._state.window)
            elif change == "invert":
                for view in self._views.values():
                    view.set_inverted(self._state.inverted)
            elif change == "layout":
                self._apply_layout()
            elif change == "slab":
                self._apply_slab()
        finally:
            self._syncing = False
        if change in ("volume", "crosshair", "planes", "reset"):
            self.crosshair_moved.emit(self._state.crosshair)

    def _show_volume(self) -> None:
        volume = self._state.volume
        assert volume is not None
        for view in self._views.values():
            view.set_volume(volume)
        self._apply_slab()  # a new volume starts on thin slices (ViewerState.set_volume)
        self._volume_view.set_volume(volume)
        self._sync_planes(reset=True)
        self._apply_layout()

    def _sync_planes(self, reset: bool = False) -> None:
        state = self._state
        for name, view in self._views.items():
            view.set_plane(state.plane(name))
            view.show_point(state.crosshair)
            if reset:
                view.set_inverted(state.inverted)
                view.set_window(*state.window)
                view.reset_camera()
        self._measure.refresh(render=False)  # _update_lines renders each view once
        self._ai.refresh()
        self._update_lines()

    def _apply_slab(self) -> None:
        """Every MPR view shows the state's slab; their titles say so ("Axial · MIP 10 mm")."""
        slab = self._state.slab
        for name, view in self._views.items():
            view.set_slab(slab)
            title = _tr(_PLANE_TITLES[name])
            if slab is not None:
                title = _tr("{plane} · {mode} {thickness:g} mm").format(
                    plane=title, mode=_tr(SLAB_LABELS[slab.mode]), thickness=slab.thickness_mm
                )
            self._plane_labels[name].SetInput(title)
            view.render()
        self._sync_slab_actions()

    def _update_lines(self) -> None:
        volume = self._state.volume
        if volume is None:
            return
        # Long enough to cross the whole image in any direction.
        half_length = float(np.linalg.norm(np.asarray(volume.extent_mm())))
        crosshair = self._state.crosshair
        for name, view in self._views.items():
            normal = view.normal
            on_slice = crosshair + normal * (view.slice_position - crosshair @ normal)
            others = {o: self._state.plane(o).normal for o in MPR_VIEWS if o != name}
            self._lines[name].update(on_slice, normal, others, half_length)
            view.render()

    def _apply_layout(self) -> None:
        visible = self._state.visible_views()
        for name in (*MPR_VIEWS, VIEW_3D):
            widget = self.widget_for(name)
            self._grid.removeWidget(widget)
            widget.setVisible(name in visible)
        columns = 1 if len(visible) == 1 else 2
        for index, name in enumerate(visible):
            self._grid.addWidget(self.widget_for(name), index // columns, index % columns)
        for row in range(2):
            self._grid.setRowStretch(row, 1 if row < (len(visible) + columns - 1) // columns else 0)
        for column in range(2):
            self._grid.setColumnStretch(column, 1 if column < columns else 0)
        for name in visible:
            self.widget_for(name).render()
