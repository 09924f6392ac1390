"""Original | enhanced: an acquisition and its AI-derived volume side by side (issue 6).

A super-resolution output lies on another grid than its source (thinner slices, finer
pixels, a shifted origin) but in the same patient LPS space. The two views are therefore
linked by *patient position*, never by slice index: scrolling one view brings the other to
its slice nearest the same LPS position along the view normal; the in-plane camera (pan and
zoom) is shared in LPS millimetres, so a point of the patient lies at the same widget pixel in
both views; window/level changes in one apply to the other.

The enhanced side is labelled "AI-generated — not an original acquisition" with the
derivation, in the warning colour, in its corner and in a header above it: a derived image
must never pass for an acquisition.

The same view compares two acquisitions of one patient, e.g. a prior and the current scan
(:meth:`QtCompareView.set_pair`): their frames of reference differ, so the link goes
through a rigid :class:`~medview.imaging.registration.Alignment` from the left volume's LPS
to the right one's (identity for a derived volume). GUI thread only (ARCHITECTURE.md,
rule 4).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from medview.imaging.planes import STANDARD_PLANES
from medview.imaging.registration import Alignment, identity
from medview.imaging.slab import SLAB_LABELS, Slab
from medview.imaging.volume import Volume
from medview.view.fonts import set_text
from medview.view.slice_view import QtSliceView
from medview.view.vtk_widget import TEXT_COLOR, WARNING_COLOR, make_text, weak_callback

__all__ = ["COMPARE_PLANES", "QtCompareView"]

#: The planes the compare view offers, in the order of its plane box.
COMPARE_PLANES = ("axial", "coronal", "sagittal")
#: The slabs its slab box offers (None: thin slices); M and N toggle the 10 mm MIP and MinIP.
COMPARE_SLABS = (
    None,
    Slab("mip", 5.0),
    Slab("mip", 10.0),
    Slab("mip", 20.0),
    Slab("minip", 10.0),
    Slab("mean", 10.0),
)
_PLANE_LABELS = {"axial": "Axial", "coronal": "Coronal", "sagittal": "Sagittal"}
_ORIGINAL_STYLE = "QLabel { background: #30343a; color: white; font-weight: bold; padding: 4px; }"
_ENHANCED_STYLE = "QLabel { background: #b35900; color: white; font-weight: bold; padding: 4px; }"


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtCompareView", text)


def _tr_vtk(text: str) -> str:
    # Text drawn inside the VTK views shares the slice view's context, which the shipped
    # translations leave in English: VTK's own fonts have no CJK glyphs (see the .ts file).
    return QCoreApplication.translate("QtSliceView", text)


class QtCompareView(QWidget):
    """Two slice views, "Original" on the left and the AI-enhanced volume on the right.

    Both show the same plane (axial by default; :meth:`set_plane` or the plane box for
    coronal and sagittal), linked by LPS position, camera and window/level (see the module
    docstring). Escape or the close button emits :attr:`closed`.
    """

    #: The reader asked to leave the comparison (Escape or the close button).
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._original: Volume | None = None
        self._enhanced: Volume | None = None
        self._plane_name = "axial"
        #: Left LPS -> right LPS (identity for an AI-derived volume of the same scan).
        self._alignment = identity()
        self._syncing = False
        self._finalized = False
        self._to_render: set[str] = set()

        self._plane_box = QComboBox(self)
        for name in COMPARE_PLANES:
            self._plane_box.addItem(_tr(_PLANE_LABELS[name]), name)
        self._plane_box.currentIndexChanged.connect(self._on_plane_chosen)
        self._close_button = QPushButton(_tr("Back to MPR (Esc)"), self)
        self._close_button.clicked.connect(self.closed)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel(_tr("Plane:"), self))
        bar.addWidget(self._plane_box)
        # Prior against current is where a thick MIP pays most: a new nodule stands out.
        self._slab_box = QComboBox(self)
        for slab in COMPARE_SLABS:
            text = (
                _tr("Thin slices")
                if slab is None
                else f"{_tr(SLAB_LABELS[slab.mode])} {slab.thickness_mm:g} mm"
            )
            self._slab_box.addItem(text, slab)
        self._slab_box.currentIndexChanged.connect(self._on_slab_chosen)
        bar.addWidget(QLabel(_tr("Slab:"), self))
        bar.addWidget(self._slab_box)
        bar.addStretch(1)
        bar.addWidget(self._close_button)

        self._views = {
            "original": QtSliceView(self, STANDARD_PLANES["axial"]),
            "enhanced": QtSliceView(self, STANDARD_PLANES["axial"]),
        }
        self._headers = {
            "original": QLabel(_tr("Original"), self),
            "enhanced": QLabel(self),
        }
        self._headers["original"].setStyleSheet(_ORIGINAL_STYLE)
        self._headers["enhanced"].setStyleSheet(_ENHANCED_STYLE)
        self._corner = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(2)
        grid.setVerticalSpacing(0)
        self._observers = {}
        for column, (name, view) in enumerate(self._views.items()):
            view.setObjectName(name)
            header = self._headers[name]
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            # Both views must be the same size to put a point at the same pixel: a long
            # header must wrap, never widen its column.
            header.setWordWrap(True)
            header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            grid.addWidget(self._headers[name], 0, column)
            grid.addWidget(view, 1, column)
            grid.setColumnStretch(column, 1)
            label = make_text(view.renderer, "top_right", 14, bold=True)
            # Below the top edge: a derived image's top-left text (AI line, derivation) is
            # wide enough to reach the right edge in a half-width view.
            label.SetPosition(0.99, 0.88)
            label.GetTextProperty().SetColor(*(TEXT_COLOR if name == "original" else WARNING_COLOR))
            self._corner[name] = label
            view.slice_changed.connect(self._on_slice_changed)
            view.window_changed.connect(self._on_window_changed)
            # Weakly, as the slice view does: VTK holds observers out of the gc's sight.
            camera = view.renderer.GetActiveCamera()
            self._observers[name] = camera.AddObserver(
                "ModifiedEvent", weak_callback(self._on_camera_modified)
            )
        grid.setRowStretch(1, 1)
        set_text(self._corner["original"], _tr_vtk("Original"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addLayout(grid, 1)

        # Pan and zoom of one view are copied to the other at once, but the other is drawn
        # a moment later: a camera event may come in the middle of a render.
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_pending)
        self._escape = QAction(_tr("Back to MPR"), self)
        self._escape.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self._escape.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._escape.triggered.connect(self.closed)
        self.addAction(self._escape)
        for key, slab in (("M", Slab("mip", 10.0)), ("N", Slab("minip", 10.0))):
            toggle = QAction(self)
            toggle.setShortcut(QKeySequence(key))
            toggle.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            toggle.setData(slab)
            toggle.triggered.connect(self._on_slab_key)
            self.addAction(toggle)

    # -- public API ------------------------------------------------------------------------
    @property
    def original_view(self) -> QtSliceView:
        return self._views["original"]

    @property
    def enhanced_view(self) -> QtSliceView:
        return self._views["enhanced"]

    @property
    def original(self) -> Volume | None:
        return self._original

    @property
    def enhanced(self) -> Volume | None:
        return self._enhanced

    @property
    def plane_name(self) -> str:
        return self._plane_name

    @property
    def plane_box(self) -> QComboBox:
        return self._plane_box

    @property
    def close_button(self) -> QPushButton:
        return self._close_button

    def corner_text(self, side: str) -> str:
        """The label drawn in the top-right corner of the "original" or "enhanced" view."""
        return self._corner[side].GetInput() or ""

    def header_text(self, side: str) -> str:
        """The header above the "original" or "enhanced" view."""
        return self._headers[side].text()

    def set_volumes(self, original: Volume, enhanced: Volume) -> None:
        """Show ``original`` on the left and ``enhanced`` (a derived volume) on the right.

        The enhanced view starts at the slice nearest the original's, with the original's
        camera and window.
        """
        self._original, self._enhanced = original, enhanced
        self._alignment = identity()
        self._headers["enhanced"].setStyleSheet(_ENHANCED_STYLE)
        self._corner["enhanced"].GetTextProperty().SetColor(*WARNING_COLOR)
        self._headers["original"].setText(_tr("Original"))
        set_text(self._corner["original"], _tr_vtk("Original"))
        how = enhanced.meta.derivation or enhanced.meta.series_description
        # In the corner on two short lines: the top-left corner text (which names the
        # derivation) and the orientation letter share the top edge with it.
        set_text(self._corner["enhanced"], _tr_vtk("AI-generated —\nnot an original acquisition"))
        header = _tr("AI-generated — not an original acquisition")
        self._headers["enhanced"].setText(f"{header}: {how}" if how else header)
        self._show_volumes()

    def set_pair(
        self, left: Volume, right: Volume, titles: tuple[str, str], alignment: Alignment
    ) -> None:
        """Compare two acquisitions: ``left`` and ``right`` (e.g. current and prior), linked
        through ``alignment`` (left LPS -> right LPS); ``titles`` head the two sides."""
        self._original, self._enhanced = left, right
        self._alignment = alignment
        for name, title in zip(("original", "enhanced"), titles, strict=True):
            self._headers[name].setStyleSheet(_ORIGINAL_STYLE)
            self._headers[name].setText(title)
            self._corner[name].GetTextProperty().SetColor(*TEXT_COLOR)
            set_text(self._corner[name], title.split(" · ")[0])
        self._show_volumes()

    def _show_volumes(self) -> None:
        """Load both volumes into their views; the right one follows the left."""
        self._syncing = True
        try:
            self.original_view.set_volume(self._original)
            self.enhanced_view.set_volume(self._enhanced)
        finally:
            self._syncing = False
        self._follow(self.original_view)

    @property
    def alignment(self) -> Alignment:
        """Left LPS -> right LPS."""
        return self._alignment

    def show_point(self, lps: np.ndarray | tuple[float, float, float]) -> None:
        """Show the slices through an LPS point in both views (e.g. the MPR crosshair)."""
        self.original_view.show_point(lps)
        self._follow(self.original_view)

    def set_plane(self, name: str) -> None:
        """Show ``name`` ("axial", "coronal" or "sagittal") in both views."""
        if name not in COMPARE_PLANES:
            raise ValueError(f"unknown plane {name!r}; known: {', '.join(COMPARE_PLANES)}")
        self._plane_name = name
        index = self._plane_box.findData(name)
        if self._plane_box.currentIndex() != index:
            self._plane_box.setCurrentIndex(index)  # comes back through _on_plane_chosen
            return
        self._syncing = True
        try:
            for view in self._views.values():
                view.set_plane(STANDARD_PLANES[name])
        finally:
            self._syncing = False
        if self._original is not None:
            self._follow(self.original_view)

    def finalize(self) -> None:
        """Release both render windows (idempotent)."""
        if self._finalized:
            return
        self._finalized = True
        self._render_timer.stop()
        for name, view in self._views.items():
            view.renderer.GetActiveCamera().RemoveObserver(self._observers[name])
            view.finalize()

    def closeEvent(self, event) -> None:
        self.finalize()
        super().closeEvent(event)

    # -- linking ---------------------------------------------------------------------------
    def _other(self, view: QtSliceView) -> QtSliceView:
        original = self.original_view
        return self.enhanced_view if view is original else original

    def _follow(self, leader: QtSliceView) -> None:
        """Bring the other view to ``leader``'s slice position, camera and window."""
        follower = self._other(leader)
        if leader.volume is None or follower.volume is None or self._finalized:
            return
        self._syncing = True
        try:
            self._copy_camera(leader, follower)
            follower.show_point(self._mapped(leader, self._slice_point(leader)))
            follower.set_window(*leader.window)
        finally:
            self._syncing = False
        follower.render()

    @staticmethod
    def _slice_point(view: QtSliceView) -> np.ndarray:
        """An LPS point of the slice ``view`` shows (its focal point moved onto the slice)."""
        focal = np.asarray(view.renderer.GetActiveCamera().GetFocalPoint(), float)
        normal = view.normal
        return focal + normal * (view.slice_position - focal @ normal)

    def _mapped(self, leader: QtSliceView, lps: np.ndarray) -> np.ndarray:
        """``lps`` of ``leader``'s volume in the other view's volume (through the alignment)."""
        if leader is self.original_view:
            return self._alignment.to_moving(lps)
        return self._alignment.to_fixed(lps)

    def _copy_camera(self, leader: QtSliceView, follower: QtSliceView) -> None:
        """Give ``follower`` ``leader``'s in-plane focal point, view up and zoom (LPS mm).

        The follower keeps its own depth along the normal (its own slice); with a parallel
        projection, equal in-plane focal points and parallel scales put every LPS point at
        the same pixel of two views of the same size. Between two scans the focal point goes
        through the alignment: the same anatomy is in the middle of both views (its rotation,
        a few degrees, is not applied to the picture).
        """
        source = leader.renderer.GetActiveCamera()
        target = follower.renderer.GetActiveCamera()
        normal = follower.normal
        focal = self._mapped(leader, np.asarray(source.GetFocalPoint(), float))
        depth = float(np.asarray(target.GetFocalPoint(), float) @ normal)
        focal = focal + normal * (depth - focal @ normal)
        distance = target.GetDistance()
        target.SetFocalPoint(*focal)
        target.SetPosition(*(focal - normal * distance))
        target.SetViewUp(*source.GetViewUp())
        target.SetParallelScale(source.GetParallelScale())
        follower.renderer.ResetCameraClippingRange()

    def _on_slice_changed(self, _index: int) -> None:
        view = self.sender()
        if self._syncing or not isinstance(view, QtSliceView):
            return
        follower = self._other(view)
        self._syncing = True
        try:
            follower.show_point(self._mapped(view, self._slice_point(view)))
        finally:
            self._syncing = False

    def _on_window_changed(self, center: float, width: float) -> None:
        view = self.sender()
        if self._syncing or not isinstance(view, QtSliceView):
            return
        self._syncing = True
        try:
            self._other(view).set_window(center, width)
        finally:
            self._syncing = False

    def _on_camera_modified(self, camera, _event: str) -> None:
        if self._syncing or self._finalized:
            return
        leader = next(
            (v for v in self._views.values() if v.renderer.GetActiveCamera() is camera), None
        )
        if leader is None or leader.volume is None or self._other(leader).volume is None:
            return
        follower = self._other(leader)
        self._syncing = True
        try:
            self._copy_camera(leader, follower)
        finally:
            self._syncing = False
        self._to_render.add(follower.objectName())
        self._render_timer.start()

    def _render_pending(self) -> None:
        names, self._to_render = self._to_render, set()
        if not self._finalized:
            for name in names:
                self._views[name].render()

    @property
    def slab(self) -> Slab | None:
        """The projection both views show (None: thin slices)."""
        return self._slab_box.currentData()

    def set_slab(self, slab: Slab | None) -> None:
        """Show ``slab`` (one of :data:`COMPARE_SLABS`) in both views."""
        index = COMPARE_SLABS.index(slab)
        if self._slab_box.currentIndex() != index:
            self._slab_box.setCurrentIndex(index)  # comes back through _on_slab_chosen
            return
        for view in self._views.values():
            view.set_slab(slab)

    def _on_slab_chosen(self, index: int) -> None:
        self.set_slab(COMPARE_SLABS[index])

    def _on_slab_key(self) -> None:
        slab = self.sender().data()
        self.set_slab(None if self.slab == slab else slab)

    def _on_plane_chosen(self, index: int) -> None:
        name = self._plane_box.itemData(index)
        if name:
            self.set_plane(str(name))
