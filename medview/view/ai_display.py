"""What the AI results look like in the MPR views: finding circles and one overlay map.

:class:`AiDisplay` belongs to a :class:`~medview.view.mpr_layout.QtMprLayout`; the AI panel
tells it which findings and which overlay to show, the layout tells it when the slices moved.
GUI thread only.
"""

from __future__ import annotations

from medview.imaging.volume import Volume
from medview.view.finding_markers import FindingMarkers, Marker
from medview.view.overlay_layer import OverlayStyle
from medview.view.slice_view import QtSliceView


class AiDisplay:
    """Finding markers and the overlay map over the slice views."""

    def __init__(self, views: dict[str, QtSliceView]) -> None:
        self._views = views
        self._markers = {name: FindingMarkers(view.renderer) for name, view in views.items()}
        self._findings: list[Marker] = []
        self._selected: str | None = None
        self._overlay: Volume | None = None
        self._style = OverlayStyle()

    @property
    def findings(self) -> list[Marker]:
        return list(self._findings)

    @property
    def overlay(self) -> Volume | None:
        return self._overlay

    @property
    def style(self) -> OverlayStyle:
        return self._style

    def markers(self, name: str) -> FindingMarkers:
        return self._markers[name]

    def set_findings(self, findings: list[Marker], selected: str | None = None) -> None:
        """Show these findings (replacing the previous ones) and render."""
        self._findings = list(findings)
        self._selected = selected
        self.refresh(render=True)

    def set_overlay(self, volume: Volume | None, style: OverlayStyle | None = None) -> None:
        """Show ``volume`` as a colour map in every view (None: no overlay)."""
        self._overlay = volume
        if style is not None:
            self._style = style
        for view in self._views.values():
            view.set_overlay(volume, self._style)

    def set_style(self, style: OverlayStyle) -> None:
        """Change colour map, opacity or threshold of the shown overlay."""
        self._style = style
        for view in self._views.values():
            view.overlay_layer.set_style(style)
            view.render()

    def clear(self) -> None:
        """A new series: its findings and overlays are not these."""
        self._findings, self._selected, self._overlay = [], None, None
        for name, view in self._views.items():
            self._markers[name].clear()
            view.overlay_layer.set_volume(None)

    def refresh(self, render: bool = False) -> None:
        """Redraw the circles for the slices now shown."""
        for name, view in self._views.items():
            if view.volume is None:
                continue
            self._markers[name].sync(
                self._findings,
                normal=view.normal,
                offset=view.slice_position,
                right=view.plane.right,
                down=view.plane.down,
                selected=self._selected,
            )
            if render:
                view.render()

    def close(self) -> None:
        self._views = {}
        self._markers = {}
