"""A panel listing the measurements of a scene: kind, label (editable), value (issue 3).

Selection is synchronised both ways with the :class:`MeasurementScene` (so with the views);
editing a label is an undoable scene edit; the buttons delete, undo and redo.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.imaging.volume import Volume
from medview.model.measurements import MeasurementScene, SceneEvent
from medview.view.measure_actors import ValueCache, kind_name

_KIND, _LABEL, _VALUE = range(3)


class QtMeasurementPanel(QWidget):
    """The measurements of a scene as a table, with delete/undo/redo buttons.

    Parameters
    ----------
    scene
        The measurements (e.g. ``QtMprLayout.measurement_scene``).
    volume
        Returns the volume the values are measured on (None: lengths and angles only).
    parent
        Qt parent.
    """

    #: The user picked a row (the measurement id): e.g. ``QtMprLayout.show_measurement``.
    activated = Signal(str)

    def __init__(
        self,
        scene: MeasurementScene,
        volume: Callable[[], Volume | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._volume = volume
        self._values = ValueCache()
        self._ids: list[str] = []
        self._table = QTableWidget(0, 3, self)
        self._table.setHorizontalHeaderLabels([self.tr("Kind"), self.tr("Label"), self.tr("Value")])
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._table.verticalHeader().setVisible(False)
        self._table.horizontalHeader().setSectionResizeMode(_VALUE, QHeaderView.ResizeMode.Stretch)
        self._table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self._delete = QPushButton(self.tr("Delete"), self)
        self._undo = QPushButton(self.tr("Undo"), self)
        self._redo = QPushButton(self.tr("Redo"), self)
        buttons = QHBoxLayout()
        for button in (self._delete, self._undo, self._redo):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._table)
        layout.addLayout(buttons)
        self._table.itemSelectionChanged.connect(self._on_row_selected)
        self._table.itemChanged.connect(self._on_item_changed)
        self._delete.clicked.connect(self._on_delete)
        self._undo.clicked.connect(self._on_undo)
        self._redo.clicked.connect(self._on_redo)
        self._scene = scene
        self._unsubscribe = scene.subscribe(self._weak_listener())
        self.destroyed.connect(self._unsubscribe)
        self.refresh()

    # -- public API ------------------------------------------------------------------------
    @property
    def scene(self) -> MeasurementScene:
        return self._scene

    def set_scene(self, scene: MeasurementScene) -> None:
        """List ``scene`` instead (e.g. after the layout got another one)."""
        self._unsubscribe()
        self._scene = scene
        self._unsubscribe = scene.subscribe(self._weak_listener())
        self.refresh()

    @property
    def table(self) -> QTableWidget:
        return self._table

    def row_texts(self) -> list[tuple[str, str, str]]:
        """(kind, label, value) of each row, in scene order."""
        return [
            tuple(self._table.item(row, column).text() for column in range(3))  # type: ignore[misc]
            for row in range(self._table.rowCount())
        ]

    def refresh(self) -> None:
        """Rebuild the rows from the scene (cheap: a handful of measurements)."""
        volume = self._volume()
        items = self._scene.items()
        # Same rows: change texts in place, never replace the item an editor is committing.
        same_rows = [m.id for m in items] == self._ids
        self._ids = [m.id for m in items]
        with QSignalBlocker(self._table):
            self._table.setRowCount(len(items))
            for row, m in enumerate(items):
                for column, text in (
                    (_KIND, kind_name(m)),
                    (_LABEL, m.label),
                    (_VALUE, self._values.text(m, volume)),
                ):
                    existing = self._table.item(row, column) if same_rows else None
                    if existing is not None:
                        if existing.text() != text:
                            existing.setText(text)
                        continue
                    item = QTableWidgetItem(text)
                    flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                    if column == _LABEL:
                        flags |= Qt.ItemFlag.ItemIsEditable
                    item.setFlags(flags)
                    self._table.setItem(row, column, item)
            self._select_row(self._scene.selected)
        self._update_buttons()

    # -- scene -> table --------------------------------------------------------------------
    def _on_scene_event(self, event: SceneEvent) -> None:
        if event.kind == "selected":
            with QSignalBlocker(self._table):
                self._select_row(event.id)
            self._update_buttons()
        else:
            self.refresh()

    def _select_row(self, measurement_id: str | None) -> None:
        if measurement_id in self._ids:
            self._table.selectRow(self._ids.index(measurement_id))
        else:
            self._table.clearSelection()

    def _update_buttons(self) -> None:
        self._delete.setEnabled(self._scene.selected is not None)
        self._undo.setEnabled(self._scene.can_undo)
        self._redo.setEnabled(self._scene.can_redo)

    # -- table -> scene --------------------------------------------------------------------
    def _on_row_selected(self) -> None:
        rows = {index.row() for index in self._table.selectedIndexes()}
        measurement_id = self._ids[min(rows)] if rows else None
        self._scene.select(measurement_id)
        if measurement_id is not None:
            self.activated.emit(measurement_id)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != _LABEL or item.row() >= len(self._ids):
            return
        self._scene.update(self._ids[item.row()], label=item.text())

    def _on_delete(self) -> None:
        if self._scene.selected is not None:
            self._scene.remove(self._scene.selected)

    def _on_undo(self) -> None:
        self._scene.undo()

    def _on_redo(self) -> None:
        self._scene.redo()

    def _weak_listener(self) -> Callable[[SceneEvent], None]:
        # The scene outlives panels; a strong reference would keep a closed panel alive.
        reference = weakref.ref(self)

        def listener(event: SceneEvent) -> None:
            panel = reference()
            # A closed panel's Python object may outlive its Qt widgets for a while.
            if panel is not None and shiboken6.isValid(panel):
                panel._on_scene_event(event)

        return listener
