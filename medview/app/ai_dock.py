"""The AI dock and menu: the AI panel wired to the runner, the review and the MPR views.

Composition only (issue 4): the panel (view) talks to a :class:`~medview.ai.runner.Runner`
(Qt-free, owns discovery) and a :class:`~medview.model.review.FindingReview`; its signals move
the crosshair to a finding, draw the findings and the overlay in the views, and open derived
volumes as series or save them as DICOM (:mod:`medview.app.derived_export`, issue 6).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from medview.ai.registry import PluginRegistry
from medview.ai.runner import Runner
from medview.app.derived_export import DerivedExport
from medview.core.logging import get_logger
from medview.imaging.volume import Volume
from medview.model.review import FindingReview
from medview.view.ai_panel import QtAiPanel
from medview.view.mpr_layout import QtMprLayout

_log = get_logger(__name__)


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


class AiWiring(QObject):
    """Owns the runner and review of one window; forwards the panel's signals to the views."""

    def __init__(
        self,
        window: QMainWindow,
        mpr: QtMprLayout,
        runner: Runner | None = None,
        default_device: str = "auto",
    ):
        super().__init__(window)
        self._mpr = mpr
        self.runner = runner or Runner(PluginRegistry(), default_device=default_device)
        self.review = FindingReview()
        self.panel = QtAiPanel(self.runner, self.review, self._current_volume, window)
        self.panel.finding_activated.connect(self._go_to)
        self.panel.findings_changed.connect(self._draw_findings)
        self.panel.overlay_changed.connect(self._draw_overlay)
        self.panel.open_volume.connect(window.show_volume)  # a derived series, labelled so
        # Save as DICOM…; then imported, when the window has a study database.
        has_database = getattr(window, "importer", None) is not None
        self.export = DerivedExport(
            window, self.panel, window.import_paths if has_database else None
        )
        self.dock = QDockWidget(_tr("AI"), window)
        self.dock.setObjectName("ai-dock")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()  # View › AI panel, or the AI menu, brings it up
        menu = window.menuBar().addMenu(_tr("&AI"))
        toggle = self.dock.toggleViewAction()
        toggle.setText(_tr("AI &panel"))
        toggle.setShortcut("Ctrl+Shift+A")
        menu.addAction(toggle)

    def _current_volume(self) -> Volume | None:
        return self._mpr.volume

    def _go_to(self, center) -> None:
        if self._mpr.volume is not None:
            self._mpr.state.set_crosshair(np.asarray(center, float))

    def _draw_findings(self, markers, selected) -> None:
        self._mpr.ai_display.set_findings(list(markers), selected)

    def _draw_overlay(self, volume, style) -> None:
        shown = self._mpr.volume
        if volume is not None and (shown is None or volume.shape != shown.shape):
            self.panel.set_status(_tr("That overlay belongs to another series; open it first."))
            return
        self._mpr.ai_display.set_overlay(volume, style)

    def volume_shown(self) -> None:
        """A series was opened: draw the findings again (the views cleared them)."""
        self.panel.republish()

    def shutdown(self) -> None:
        self.export.shutdown()
        self.panel.shutdown()
        self.runner.shutdown()
