"""The study browser: patients -> studies -> series from the local database (issue 3).

Everything slow runs off the GUI thread through :class:`~medview.view.qt_jobs.QtJobRunner`
(ARCHITECTURE.md, rule 4): the database query behind each refresh or search (so typing never
waits for an import's write transaction), and the series thumbnails, which are computed one
at a time and set on their rows as they arrive. A series row can be dragged out as
``application/x-medview-series`` data holding its SeriesInstanceUID, for a viewer to accept.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import shiboken6
from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from medview.core.phi import identifier
from medview.dicom.index import StudyDatabase
from medview.model.names import format_person_name
from medview.model.thumbnails import series_thumbnail
from medview.view.qt_jobs import QtJobRunner

__all__ = [
    "KIND_ROLE",
    "SERIES_MIME_TYPE",
    "UID_ROLE",
    "QtStudyBrowser",
    "series_uids_from_mime",
]

log = logging.getLogger(__name__)

#: MIME type of a dragged series: the SeriesInstanceUIDs as UTF-8, one per line.
SERIES_MIME_TYPE = "application/x-medview-series"
#: Item data role holding the row's key: patient ID, Study or Series Instance UID.
UID_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: Item data role holding the row's kind: "patient", "study" or "series".
KIND_ROLE = int(Qt.ItemDataRole.UserRole) + 2

#: Makes a thumbnail from a series' files and its UID (runs on a worker thread).
ThumbnailFunction = Callable[[Sequence[str], str], np.ndarray]

_COLUMNS = ("Name / description", "Date", "Modality", "Instances")
_EXPAND_ALL_MAX_PATIENTS = 50


def series_uids_from_mime(mime: QMimeData | None) -> list[str]:
    """The SeriesInstanceUIDs in a drag from the study browser (empty for other data)."""
    if mime is None or not mime.hasFormat(SERIES_MIME_TYPE):
        return []
    text = bytes(mime.data(SERIES_MIME_TYPE).data()).decode("utf-8", "replace")
    return [line for line in text.splitlines() if line]


def format_dicom_date(value: str) -> str:
    """``YYYYMMDD`` as ``YYYY-MM-DD`` (unambiguous in every locale); anything else as is."""
    value = (value or "").strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _icon_from_array(image: np.ndarray) -> QIcon:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    if image.ndim == 3:
        fmt, stride = QImage.Format.Format_RGB888, 3 * width
    else:
        fmt, stride = QImage.Format.Format_Grayscale8, width
    # copy(): the QImage must own its pixels, not borrow the numpy buffer.
    qimage = QImage(image.tobytes(), width, height, stride, fmt).copy()
    return QIcon(QPixmap.fromImage(qimage))


class _StudyModel(QStandardItemModel):
    """The browser's item model; drags of series rows carry their UIDs."""

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME_TYPE, "text/plain"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        uids: list[str] = []
        for index in indexes:
            first = index.sibling(index.row(), 0)
            if first.data(KIND_ROLE) == "series":
                uid = str(first.data(UID_ROLE))
                if uid not in uids:
                    uids.append(uid)
        mime = QMimeData()
        if uids:
            mime.setData(SERIES_MIME_TYPE, QByteArray("\n".join(uids).encode("utf-8")))
            mime.setText("\n".join(uids))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction


class QtStudyBrowser(QWidget):
    """A search box above a tree of patients, studies and series.

    Parameters
    ----------
    database
        The study database to browse (thread-safe; queried on a worker thread).
    parent
        Qt parent.
    thumbnail_function
        ``f(paths, series_uid) -> uint8 array`` run on a worker thread for each series row;
        default :func:`medview.model.thumbnails.series_thumbnail` (cached on disk).
    thumbnail_size
        Pixel size of the thumbnails and of the icons in the tree.
    debounce_ms
        Delay after the last keystroke before the search runs.

    Signals
    -------
    series_activated(str)
        A series row was double-clicked or Enter was pressed on it: its SeriesInstanceUID.
    selection_changed(str)
        The selected series' UID, or ``""`` when no series (or a patient or study) is
        selected.
    refreshed()
        The tree was rebuilt from the database.
    thumbnail_ready(str)
        A series row got its thumbnail icon.
    """

    series_activated = Signal(str)
    selection_changed = Signal(str)
    refreshed = Signal()
    thumbnail_ready = Signal(str)

    def __init__(
        self,
        database: StudyDatabase,
        parent: QWidget | None = None,
        *,
        thumbnail_function: ThumbnailFunction | None = None,
        thumbnail_size: int = 96,
        debounce_ms: int = 150,
    ) -> None:
        super().__init__(parent)
        self._database = database
        self._thumbnail_size = thumbnail_size
        self._thumbnail_function = thumbnail_function or (
            lambda paths, uid: series_thumbnail(paths, uid, size=thumbnail_size)
        )
        self._series_items: dict[str, QStandardItem] = {}
        self._icons: dict[str, QIcon] = {}
        self._no_thumbnail: set[str] = set()
        self._pending: deque[str] = deque()
        self._in_flight: str | None = None
        self._last_selection = ""
        self._populating = False
        self._closed = False

        self._search = QLineEdit(self)
        self._search.setPlaceholderText(
            self.tr("Search patient name, ID, accession number, date or modality")
        )
        self._search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(debounce_ms)
        self._debounce.timeout.connect(self.refresh)
        self._search.textChanged.connect(lambda _text: self._debounce.start())

        self._model = _StudyModel(0, len(_COLUMNS), self)
        self._model.setHorizontalHeaderLabels([self.tr(title) for title in _COLUMNS])
        self._tree = QTreeView(self)
        self._tree.setModel(self._model)
        self._tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._tree.setDragEnabled(True)
        self._tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self._tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self._tree.setIconSize(QSize(thumbnail_size // 2, thumbnail_size // 2))
        self._tree.setAlternatingRowColors(True)
        header = self._tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._tree.activated.connect(self._on_activated)
        self._tree.selectionModel().selectionChanged.connect(self._on_selection_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._search)
        layout.addWidget(self._tree, 1)

        # Two runners: a search must not wait behind thumbnails, and each runner delivers
        # only its latest job (a newer search makes an older one's result stale).
        self._query_jobs = QtJobRunner(self)
        self._query_jobs.finished.connect(self._on_tree_loaded)
        self._query_jobs.failed.connect(self._on_query_failed)
        self._thumbnail_jobs = QtJobRunner(self)
        self._thumbnail_jobs.finished.connect(self._on_thumbnail)
        self._thumbnail_jobs.failed.connect(self._on_thumbnail_failed)
        self.refresh()

    # -- public API ------------------------------------------------------------------------
    @property
    def model(self) -> QStandardItemModel:
        return self._model

    @property
    def tree_view(self) -> QTreeView:
        return self._tree

    @property
    def search_edit(self) -> QLineEdit:
        return self._search

    def refresh(self) -> None:
        """Re-read the database (with the current search text) on a worker thread."""
        if self._closed:
            return
        self._debounce.stop()
        text = self._search.text().strip()
        database = self._database
        self._query_jobs.submit(lambda: (text, database.tree(text)))

    def series_item(self, series_uid: str) -> QStandardItem | None:
        """The first-column item of a series row currently shown, if any."""
        return self._series_items.get(series_uid)

    def shown_series(self) -> list[str]:
        """SeriesInstanceUIDs of the rows shown, in display order."""
        return list(self._series_items)

    def selected_series_uid(self) -> str:
        """The selected series' UID, or ``""``."""
        for index in self._tree.selectionModel().selectedRows(0):
            if index.data(KIND_ROLE) == "series":
                return str(index.data(UID_ROLE))
        return ""

    def select_series(self, series_uid: str) -> bool:
        """Select (and scroll to) a series row; False if it is not shown."""
        item = self._series_items.get(series_uid)
        if item is None:
            return False
        index = item.index()
        self._tree.setCurrentIndex(index)
        self._tree.scrollTo(index)
        return True

    def shutdown(self) -> None:
        """Stop background work and drop late results (call before the window closes)."""
        self._closed = True
        self._debounce.stop()
        self._pending.clear()
        self._query_jobs.shutdown()
        self._thumbnail_jobs.shutdown()

    # -- building the tree (GUI thread) ----------------------------------------------------
    def _alive(self) -> bool:
        """False once shut down or once Qt deleted the widget under a queued late result."""
        return not self._closed and shiboken6.isValid(self)

    def _on_tree_loaded(self, result: object) -> None:
        if not self._alive():
            return
        _text, patients = result  # type: ignore[misc]
        previous = self.selected_series_uid() or self._last_selection
        self._populating = True
        try:
            self._model.setRowCount(0)
            self._series_items = {}
            for patient in patients:
                self._model.appendRow(self._patient_row(patient))
            if len(patients) <= _EXPAND_ALL_MAX_PATIENTS or _text:
                self._tree.expandAll()
            if previous:
                self.select_series(previous)
        finally:
            self._populating = False
        self._emit_selection()
        self._queue_thumbnails()
        self.refreshed.emit()

    def _on_query_failed(self, message: str) -> None:
        log.warning("study browser query failed: %s", message)
        self._search.setToolTip(message)

    def _patient_row(self, patient: dict) -> list[QStandardItem]:
        name = format_person_name(patient["patient_name"]) or self.tr("(no name)")
        patient_id = patient["patient_id"]
        label = self.tr("{name} — ID {id}").format(name=name, id=patient_id) if patient_id else name
        studies = [self._study_row(study) for study in patient["studies"]]
        modalities = sorted(
            {s["modality"] for st in patient["studies"] for s in st["series"] if s["modality"]}
        )
        instances = sum(s["instances"] for st in patient["studies"] for s in st["series"])
        row = self._row("patient", patient_id, label, "", ", ".join(modalities), instances)
        tooltip = self.tr("Patient {name}, ID {id}, born {birth}, sex {sex}").format(
            name=name,
            id=patient_id or "-",
            birth=format_dicom_date(patient["birth_date"]) or "-",
            sex=patient["sex"] or "-",
        )
        row[0].setToolTip(tooltip)
        for study in studies:
            row[0].appendRow(study)
        return row

    def _study_row(self, study: dict) -> list[QStandardItem]:
        label = study["description"] or study["accession_number"] or self.tr("(no description)")
        modalities = sorted({s["modality"] for s in study["series"] if s["modality"]})
        instances = sum(s["instances"] for s in study["series"])
        row = self._row(
            "study",
            study["study_uid"],
            label,
            format_dicom_date(study["study_date"]),
            ", ".join(modalities),
            instances,
        )
        row[0].setToolTip(
            self.tr("Accession {accession}, Study Instance UID {uid}").format(
                accession=study["accession_number"] or "-", uid=study["study_uid"]
            )
        )
        for series in study["series"]:
            series_row = self._row(
                "series",
                series["series_uid"],
                self._series_label(series),
                "",
                series["modality"],
                series["instances"],
            )
            item = series_row[0]
            item.setToolTip(self.tr("Series Instance UID {uid}").format(uid=series["series_uid"]))
            for cell in series_row:
                cell.setDragEnabled(True)
            icon = self._icons.get(series["series_uid"])
            if icon is not None:
                item.setIcon(icon)
            self._series_items[series["series_uid"]] = item
            row[0].appendRow(series_row)
        return row

    def _series_label(self, series: dict) -> str:
        description = series["description"] or self.tr("(no description)")
        number = series["series_number"]
        return f"{number}: {description}" if number is not None else description

    @staticmethod
    def _row(
        kind: str, key: str, label: str, date: str, modality: str, instances: int
    ) -> list[QStandardItem]:
        cells = [QStandardItem(label), QStandardItem(date), QStandardItem(modality)]
        count = QStandardItem()
        count.setData(int(instances), Qt.ItemDataRole.DisplayRole)
        count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cells.append(count)
        for cell in cells:
            cell.setEditable(False)
            cell.setDragEnabled(False)
            cell.setDropEnabled(False)
            cell.setData(kind, KIND_ROLE)
            cell.setData(key, UID_ROLE)
        return cells

    # -- thumbnails ------------------------------------------------------------------------
    def _queue_thumbnails(self) -> None:
        self._pending = deque(
            uid
            for uid in self._series_items
            if uid not in self._icons and uid not in self._no_thumbnail and uid != self._in_flight
        )
        self._next_thumbnail()

    def _next_thumbnail(self) -> None:
        # One job at a time: the runner delivers only its latest submission.
        if self._in_flight is not None or self._closed or not self._pending:
            return
        uid = self._pending.popleft()
        self._in_flight = uid
        self._thumbnail_jobs.submit(self._make_thumbnail, uid)

    def _make_thumbnail(self, series_uid: str) -> tuple[str, np.ndarray | None]:
        """Worker thread: the series' thumbnail, or None when it cannot be made."""
        try:
            paths = self._database.series_paths(series_uid)
            return series_uid, self._thumbnail_function(paths, series_uid)
        except Exception as exc:  # a bad file must cost its thumbnail, nothing more
            log.info("no thumbnail for series %s (%s)", identifier(series_uid), exc)
            return series_uid, None

    def _on_thumbnail(self, result: object) -> None:
        if not self._alive():
            return
        uid, image = result  # type: ignore[misc]
        self._in_flight = None
        if image is None:
            self._no_thumbnail.add(uid)
        else:
            icon = _icon_from_array(np.asarray(image))
            self._icons[uid] = icon
            item = self._series_items.get(uid)
            if item is not None:
                item.setIcon(icon)
            self.thumbnail_ready.emit(uid)
        self._next_thumbnail()

    def _on_thumbnail_failed(self, message: str) -> None:
        if self._in_flight is not None:
            self._no_thumbnail.add(self._in_flight)
        self._in_flight = None
        self._next_thumbnail()

    # -- interaction -----------------------------------------------------------------------
    def _on_activated(self, index: QModelIndex) -> None:
        first = index.sibling(index.row(), 0)
        if first.data(KIND_ROLE) == "series":
            self.series_activated.emit(str(first.data(UID_ROLE)))

    def _on_selection_changed(self, *_args: object) -> None:
        if not self._populating:
            self._emit_selection()

    def _emit_selection(self) -> None:
        uid = self.selected_series_uid()
        if uid != self._last_selection:
            self._last_selection = uid
            self.selection_changed.emit(uid)
