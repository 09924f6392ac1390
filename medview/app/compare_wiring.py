"""View › Compare original | enhanced: the main window's side of the compare view (issue 6).

The window tells this wiring every volume it shows (its ``volume_shown`` signal). A derived
volume (an AI output, e.g. super-resolution, opened from the AI panel) shown while an
original of the same frame of reference was on screen is paired with that original; the menu
action is enabled while such a pair exists and swaps the MPR layout for the compare view
(:class:`~medview.view.compare_view.QtCompareView`) and back. Escape or the compare view's
close button go back too; opening another series ends the comparison.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QBoxLayout, QMainWindow, QMenu

from medview.imaging.registration import Alignment
from medview.imaging.volume import Volume
from medview.view.compare_view import QtCompareView
from medview.view.mpr_layout import QtMprLayout

__all__ = ["CompareWiring", "pairs_with"]


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtCompareView", text)


def pairs_with(original: Volume | None, derived: Volume) -> bool:
    """Whether ``derived`` can be compared with ``original`` (same patient space).

    Both must exist, ``derived`` be derived and ``original`` not; when both name a frame of
    reference (PS3.3 C.7.4.1), it must be the same one: otherwise their LPS coordinates are
    unrelated and a position-linked comparison would mislead.
    """
    if original is None or original.meta.derived or not derived.meta.derived:
        return False
    ours, theirs = original.meta.frame_of_reference_uid, derived.meta.frame_of_reference_uid
    return not (ours and theirs and ours != theirs)


class CompareWiring(QObject):
    """Remembers the source of a derived volume; shows the compare view on request.

    Parameters
    ----------
    window
        The main window (its ``volume_shown`` signal is followed).
    mpr
        The MPR layout the compare view takes the place of.
    layout
        The layout holding ``mpr``; the compare view is added to it, hidden.
    menu
        The View menu, which gets the action.
    """

    def __init__(
        self, window: QMainWindow, mpr: QtMprLayout, layout: QBoxLayout, menu: QMenu
    ) -> None:
        super().__init__(window)
        self._mpr = mpr
        self._layout = layout
        self._original: Volume | None = None  # the last non-derived volume shown
        self._source: Volume | None = None  # the original the derived volume came from
        self._derived: Volume | None = None
        self._view: QtCompareView | None = None  # made on first use: two GL contexts
        self.action = QAction(_tr("&Compare original | enhanced"), self)
        self.action.setCheckable(True)
        self.action.setEnabled(False)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.action.toggled.connect(self.set_comparing)
        first = menu.actions()[0] if menu.actions() else None
        if first is None:
            menu.addAction(self.action)
        else:  # at the top of the View menu, where a reader looks for it
            menu.insertAction(first, self.action)
            menu.insertSeparator(first)
        window.volume_shown.connect(self._on_volume_shown)

    # -- public API ------------------------------------------------------------------------
    @property
    def source(self) -> Volume | None:
        """The original the shown derived volume is compared with (None without a pair)."""
        return self._source

    @property
    def derived(self) -> Volume | None:
        return self._derived

    @property
    def view(self) -> QtCompareView | None:
        """The compare view (None until first shown)."""
        return self._view

    @property
    def comparing(self) -> bool:
        return self._view is not None and self._view.isVisible()

    def show_pair(
        self, left: Volume, right: Volume, titles: tuple[str, str], alignment: Alignment
    ) -> None:
        """Show two acquisitions side by side (e.g. current and prior) in place of the MPR
        layout, linked through ``alignment``, at the MPR crosshair; Escape goes back."""
        self._make_view()
        self._mpr.setVisible(False)
        self._view.setVisible(True)
        self._view.set_pair(left, right, titles, alignment)
        self._view.show_point(self._mpr.state.crosshair)
        self._view.original_view.setFocus()

    def _make_view(self) -> None:
        if self._view is None:
            self._view = QtCompareView(self._mpr.parentWidget())
            self._view.setVisible(False)
            self._view.closed.connect(self._on_closed)
            self._layout.insertWidget(self._layout.indexOf(self._mpr), self._view, 1)

    def set_comparing(self, on: bool) -> None:
        """Show the compare view in place of the MPR layout (True) or go back (False)."""
        on = bool(on) and self._source is not None and self._derived is not None
        if on:
            self._make_view()
            self._mpr.setVisible(False)
            self._view.setVisible(True)
            if self._view.original is not self._source or self._view.enhanced is not self._derived:
                self._view.set_volumes(self._source, self._derived)
            # Where the reader was in the MPR views (the crosshair), on both sides.
            self._view.show_point(self._mpr.state.crosshair)
            self._view.original_view.setFocus()
        elif self._view is not None and self._view.isVisible():
            self._view.setVisible(False)
            self._mpr.setVisible(True)
        if self.action.isChecked() != on:
            self.action.setChecked(on)  # comes back here with the same value: no-op

    def shutdown(self) -> None:
        """Release the compare view's render windows (the window is closing)."""
        if self._view is not None:
            self._view.finalize()

    # -- events ----------------------------------------------------------------------------
    def _on_volume_shown(self, volume: object) -> None:
        if not isinstance(volume, Volume):
            return
        if volume.meta.derived:
            paired = pairs_with(self._original, volume)
            self._source = self._original if paired else None
            self._derived = volume if paired else None
        else:
            self._original = volume
            self._source = self._derived = None
        self.action.setEnabled(self._source is not None)
        if self.comparing or self.action.isChecked():
            self.set_comparing(False)  # a new series is shown in the MPR layout

    def _on_closed(self) -> None:
        self.set_comparing(False)
