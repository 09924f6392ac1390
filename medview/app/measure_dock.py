"""The Measurements dock and Measure menu: the measurement panel wired to the MPR layout."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from medview.view.measurement_panel import QtMeasurementPanel
from medview.view.mpr_layout import QtMprLayout


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


def add_measurement_dock(window: QMainWindow, mpr: QtMprLayout) -> QDockWidget:
    """Dock the measurement list on the right and add the Measure menu.

    The layout owns the actions (tools, undo/redo/delete, cine): the menu reuses them, since
    a second Ctrl+Z or Delete shortcut in the window would make Qt fire neither.
    """
    panel = QtMeasurementPanel(mpr.measurement_scene, mpr_volume(mpr), window)
    panel.activated.connect(mpr.show_measurement)
    dock = QDockWidget(_tr("Measurements"), window)
    dock.setObjectName("measurements-dock")  # saveState() finds docks by object name
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    # Hidden until there is something to list: the views keep the room, and a screenshot of
    # a fresh window is just the views. The first measurement brings it up.
    dock.hide()

    mpr.measurement_scene.subscribe(_Revealer(dock))
    menu = window.menuBar().addMenu(_tr("&Measure"))
    for group in (mpr.tool_actions, mpr.edit_actions, mpr.cine_actions):
        for action in group:
            menu.addAction(action)
        menu.addSeparator()
    menu.addAction(dock.toggleViewAction())
    return dock


class _Revealer:
    """Scene listener that shows the dock on the first measurement.

    Holds the dock weakly: a strong reference from the scene (a Python object) would keep
    the window's widgets, and their render windows, alive until interpreter exit.
    """

    def __init__(self, dock: QDockWidget) -> None:
        self._dock = weakref.ref(dock)

    def __call__(self, event) -> None:
        dock = self._dock()
        if event.kind != "added" or dock is None:
            return
        try:
            if not dock.isVisible():
                dock.show()
        except RuntimeError:  # the C++ dock is gone with its window
            pass


def mpr_volume(mpr: QtMprLayout):
    """A callable giving the layout's current volume (the panel computes values with it)."""
    return lambda: mpr.volume
