"""The viewer's state without Qt: crosshair, planes, window/level, layout (ndv style).

The MPR views and the 3D view are drawn by :mod:`medview.view`; this module only holds what
they show and tells listeners when it changes, so the logic (clicks move the crosshair, every
view follows it, presets, oblique rotation) is tested with mock views and no display.

Everything is in patient LPS millimetres. The crosshair is one LPS point; each MPR view shows
the plane through it that is perpendicular to the view's normal.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medview.imaging.planes import STANDARD_PLANES, ViewPlane, slice_step_mm
from medview.imaging.slab import Slab
from medview.imaging.volume import Volume
from medview.imaging.windowing import default_window, window_for

#: The multiplanar views, in their place in a 2x2 layout (row by row), then the 3D view.
MPR_VIEWS = ("axial", "coronal", "sagittal")
VIEW_3D = "3d"
ALL_VIEWS = (*MPR_VIEWS, VIEW_3D)

#: Layouts and the views they show (1x1 shows the active view).
LAYOUTS = ("1x1", "1x2", "2x2")
#: What a left-button drag does in a slice view (a setting; window/level is the default).
LEFT_DRAG_MODES = ("window", "pan", "zoom")

#: What changed, as passed to listeners.
CHANGES = ("volume", "crosshair", "planes", "window", "layout", "invert", "reset", "slab")

Listener = Callable[[str], None]


class ViewerState:
    """What the viewer shows, shared by every view of one volume.

    Listeners are called with one word from :data:`CHANGES` after each change (and only when
    something really changed, so a view echoing the state back does not loop).
    """

    def __init__(self) -> None:
        self._volume: Volume | None = None
        self._crosshair = np.zeros(3)
        self._planes: dict[str, ViewPlane] = {name: STANDARD_PLANES[name] for name in MPR_VIEWS}
        self._angles = dict.fromkeys(MPR_VIEWS, 0.0)
        self._window = (40.0, 400.0)
        self._preset = ""
        self._layout = "2x2"
        self._maximised: str | None = None
        self._active = MPR_VIEWS[0]
        self._inverted = False
        self._custom_presets: dict[str, tuple[float, float]] = {}
        self._slab: Slab | None = None
        self._listeners: list[Listener] = []

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(change)`` after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, change: str) -> None:
        for listener in list(self._listeners):
            listener(change)

    # -- read-only views of the state -------------------------------------------------------
    @property
    def volume(self) -> Volume | None:
        return self._volume

    @property
    def crosshair(self) -> np.ndarray:
        """The crosshair point, LPS mm (a copy)."""
        return self._crosshair.copy()

    @property
    def window(self) -> tuple[float, float]:
        """(centre, width), shared by the MPR views."""
        return self._window

    @property
    def preset(self) -> str:
        """Name of the last preset applied ("" after a manual window change)."""
        return self._preset

    @property
    def layout(self) -> str:
        return self._layout

    @property
    def maximised(self) -> str | None:
        return self._maximised

    @property
    def active(self) -> str:
        """The view that 1x1 shows and keyboard actions apply to."""
        return self._active

    @property
    def inverted(self) -> bool:
        return self._inverted

    @property
    def slab(self) -> Slab | None:
        """The thick-slab projection of the MPR views; None for thin slices."""
        return self._slab

    def plane(self, view: str) -> ViewPlane:
        """The (possibly oblique) plane of an MPR view."""
        return self._planes[view]

    def angle(self, view: str) -> float:
        """Degrees the other views were rotated about this view's normal (oblique MPR)."""
        return self._angles[view]

    def visible_views(self) -> tuple[str, ...]:
        """The views the layout shows, in their order (a maximised view alone)."""
        if self._maximised is not None:
            return (self._maximised,)
        if self._layout == "1x1":
            return (self._active,)
        if self._layout == "1x2":
            return ("axial", "coronal")
        return ALL_VIEWS

    # -- changes ---------------------------------------------------------------------------
    def set_volume(self, volume: Volume) -> None:
        """Show ``volume``: crosshair at its centre, standard planes, its default window."""
        self._volume = volume
        self._reset_fields()
        self._notify("volume")

    def reset(self) -> None:
        """Crosshair to the centre, standard planes, default window, no inversion, thin
        slices."""
        self._reset_fields()
        self._notify("reset")

    def _reset_fields(self) -> None:
        self._planes = {name: STANDARD_PLANES[name] for name in MPR_VIEWS}
        self._angles = dict.fromkeys(MPR_VIEWS, 0.0)
        self._maximised = None
        self._inverted = False
        self._preset = ""
        # A new study or a reset starts on thin slices: a projection nobody asked for would
        # hide small structures and could be read as the plain image.
        self._slab = None
        if self._volume is None:
            return
        # The middle voxel (as the slice views' middle slice), not the geometric centre: a
        # crosshair on voxel centres stays on the slices the views show as it is scrolled.
        centre_ijk = np.asarray(self._volume.size_ijk) // 2
        self._crosshair = self._volume.index_to_lps(centre_ijk.astype(float))
        if not self._volume.is_color:
            self._window = default_window(self._volume)

    def set_crosshair(self, lps: np.ndarray | tuple[float, float, float]) -> None:
        """Move the crosshair to an LPS point (kept inside the volume)."""
        point = np.asarray(lps, float).reshape(3)
        if self._volume is not None:
            # Clamp in index space, so a click beside the image stops at its edge.
            ijk = self._volume.lps_to_index(point)
            top = np.asarray(self._volume.size_ijk, float) - 1.0
            clamped = np.clip(ijk, 0.0, top)
            if not np.allclose(clamped, ijk):
                point = self._volume.index_to_lps(clamped)
        if np.allclose(point, self._crosshair, atol=1e-6):
            return
        self._crosshair = point
        self._notify("crosshair")

    def scroll(self, view: str, steps: int) -> None:
        """Move the crosshair ``steps`` slice spacings along ``view``'s normal (into the screen)."""
        if self._volume is None:
            return
        normal = self._planes[view].normal
        step = slice_step_mm(self._volume.spacing, self._volume.direction, normal)
        self.set_crosshair(self._crosshair + normal * step * steps)

    def rotate(self, view: str, degrees: float) -> None:
        """Oblique MPR: turn the other views' planes about ``view``'s normal, through the
        crosshair (in ``view`` their crosshair lines turn by ``degrees``)."""
        axis = self._planes[view].normal
        for other in MPR_VIEWS:
            if other != view:
                self._planes[other] = self._planes[other].rotated(axis, degrees)
        self._angles[view] = (self._angles[view] + degrees + 180.0) % 360.0 - 180.0
        self._notify("planes")

    def set_window(self, center: float, width: float) -> None:
        """Set the shared grey-level window."""
        window = (float(center), max(float(width), 1e-3))
        if np.allclose(window, self._window):
            return
        self._window = window
        self._preset = ""
        self._notify("window")

    def apply_preset(self, name: str) -> None:
        """Apply a window preset: the user's own (settings), a CT preset by name or number
        key, a DICOM preset of the file by name, or ``"auto"``.

        Raises
        ------
        KeyError
            For an unknown name; ValueError when no volume is shown.
        """
        if self._volume is None:
            raise ValueError("no volume to apply a window preset to")
        custom = self._custom_presets.get(name.strip().lower())
        window = custom if custom is not None else window_for(self._volume, name)
        self.set_window(*window)
        self._preset = name.strip().lower()

    @property
    def custom_presets(self) -> dict[str, tuple[float, float]]:
        return dict(self._custom_presets)

    def set_custom_presets(self, presets: dict[str, tuple[float, float]]) -> None:
        """The user's window presets (name -> centre, width): they win over built-in names."""
        self._custom_presets = {
            name.strip().lower(): (float(c), float(w)) for name, (c, w) in presets.items()
        }

    def set_inverted(self, inverted: bool) -> None:
        if inverted != self._inverted:
            self._inverted = inverted
            self._notify("invert")

    def set_slab(self, slab: Slab | None) -> None:
        """Show the MPR views as thick-slab projections (``None``: thin slices again).
        Colour volumes have no meaningful intensity projection and stay thin."""
        if slab is not None and self._volume is not None and self._volume.is_color:
            slab = None
        if slab == self._slab:
            return
        self._slab = slab
        self._notify("slab")

    def set_layout(self, layout: str) -> None:
        """Show ``layout`` ("1x1", "1x2" or "2x2"); leaves a maximised view."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
        if layout == self._layout and self._maximised is None:
            return
        self._layout = layout
        self._maximised = None
        self._notify("layout")

    def set_active(self, view: str) -> None:
        if view not in ALL_VIEWS:
            raise ValueError(f"unknown view {view!r}")
        self._active = view

    def toggle_maximised(self, view: str) -> None:
        """Maximise ``view``, or restore the layout when it is the maximised one."""
        if view not in ALL_VIEWS:
            raise ValueError(f"unknown view {view!r}")
        self._maximised = None if self._maximised == view else view
        self._notify("layout")
