"""File › Query PACS…: search a node's studies and retrieve them into the database (issue 9).

Search, series listing and retrieval run on worker threads (:class:`QtJobRunner`, rule 4);
the dialog only draws their results. A study is retrieved series by series (C-GET, C-MOVE to
medview's Storage SCP, or WADO-RS, as the node allows), each series imported only once all of
it arrived (:mod:`medview.net.retrieve`), so a failure or a cancel leaves the series that
was in flight out of the database and the ones before it complete. Each series row shows its
own progress; Cancel aborts the association at once (:mod:`medview.net.cancel`). The outcome
is one line under the table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medview.core.errors import Cancelled, MedviewError
from medview.model.names import format_person_name
from medview.model.pacs_ops import list_series, retrieve_methods, retrieve_series, search
from medview.net.cancel import CancelToken
from medview.net.nodes import Node
from medview.net.query import Query
from medview.view.pacs_common import PacsContext, fill_node_combo, tr
from medview.view.qt_jobs import QtJobRunner
from medview.view.study_browser import format_dicom_date

__all__ = ["COLUMNS", "QtPacsQueryDialog"]

COLUMNS = ("Patient", "Patient ID", "Date", "Accession", "Modality", "Description", "Images",
           "Retrieve")  # fmt: skip
_PROGRESS = COLUMNS.index("Retrieve")
_ROLE = Qt.ItemDataRole.UserRole
_MODALITIES = ("", "CT", "MR", "PT", "NM", "CR", "DX", "MG", "US", "XA", "SR", "SEG")
_NO_DATE = QDate(1900, 1, 1)


def _tr(text: str) -> str:
    return tr("QtPacsQueryDialog", text)


@dataclass
class _Target:
    """One selected study (``series`` empty: all of its series) to retrieve."""

    study_uid: str
    series: list[tuple[str, int | None]] = field(default_factory=list)


def _retrieve_work(context: PacsContext, node: Node, method: str, targets: list[_Target],
                   token: CancelToken, partial) -> dict:  # fmt: skip
    """Worker thread: retrieve every target series in turn, reporting through ``partial``."""
    done, images, started = 0, 0, time.monotonic()
    listener = context.listener_for_move() if method == "C-MOVE" else None
    # One listener for all the series of this job (a C-MOVE would otherwise start and stop
    # it per series); left running if the user had started it.
    own_listener = listener is not None and not listener.is_running
    current = ""
    try:
        if own_listener:
            listener.start()  # type: ignore[union-attr]
        for target in targets:
            series = target.series
            if not series:
                found = list_series(node, target.study_uid)
                series = [(s["series_uid"], s.get("instance_count")) for s in found]
                partial(("series", target.study_uid, found))
            for series_uid, expected in series:
                current = series_uid

                def progress(received, total, uid=series_uid, hint=expected):
                    partial(("progress", uid, received, total or hint))

                result = retrieve_series(
                    node, method, target.study_uid, series_uid, database=context.database,
                    dirs=context.dirs, listener=listener, progress=progress, cancel=token,
                    expected=expected,
                )  # fmt: skip
                done, images = done + 1, images + result.received
                partial(("done", series_uid, result))
    except Cancelled:
        partial(("cancelled", current))
        return {"done": done, "images": images, "cancelled": True, "error": ""}
    except MedviewError as exc:
        partial(("failed", current, str(exc)))
        return {"done": done, "images": images, "cancelled": False, "error": str(exc)}
    finally:
        if own_listener:
            listener.stop()  # type: ignore[union-attr]
    seconds = time.monotonic() - started
    return {"done": done, "images": images, "cancelled": False, "error": "", "seconds": seconds}


class QtPacsQueryDialog(QDialog):
    """Search a PACS node and retrieve studies or series into the local database.

    Signals
    -------
    searched(int)
        A search finished with this many studies listed.
    search_failed(str)
        A search failed; the sentence (also shown under the table).
    series_retrieved(object)
        A series was imported (its :class:`~medview.net.retrieve.RetrieveResult`).
    retrieve_finished(str)
        The one-line outcome of a retrieve (success, failure or cancel).
    series_progress(str, int, object)
        Series UID, instances received, instances expected (or None).
    """

    searched = Signal(int)
    search_failed = Signal(str)
    series_retrieved = Signal(object)
    retrieve_finished = Signal(str)
    series_progress = Signal(str, int, object)

    def __init__(self, context: PacsContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("Query PACS"))
        self._context = context
        self._nodes: dict[str, Node] = {}
        self._token: CancelToken | None = None
        self._series_queue: list[str] = []
        self._totals: dict[str, tuple[int, int | None]] = {}
        self._search_jobs = QtJobRunner(self)
        self._search_jobs.finished.connect(self._on_searched)
        self._search_jobs.failed.connect(self._on_search_failed)
        self._series_jobs = QtJobRunner(self)
        self._series_jobs.finished.connect(self._on_series_listed)
        self._series_jobs.failed.connect(self._on_series_failed)
        self._retrieve_jobs = QtJobRunner(self)
        self._retrieve_jobs.partial.connect(self._on_retrieve_event)
        self._retrieve_jobs.finished.connect(self._on_retrieve_finished)
        self._retrieve_jobs.failed.connect(self._on_retrieve_crashed)

        self.node_combo = QComboBox()
        self.node_combo.currentIndexChanged.connect(self._on_node_changed)
        self.method_combo = QComboBox()
        self.patient_name_edit = QLineEdit()
        self.patient_name_edit.setPlaceholderText(_tr("e.g. DOE* (wildcards * and ?)"))
        self.patient_id_edit = QLineEdit()
        self.accession_edit = QLineEdit()
        self.date_from = self._date_edit()
        self.date_to = self._date_edit()
        self.modality_combo = QComboBox()
        self.modality_combo.setEditable(True)
        self.modality_combo.addItems(_MODALITIES)
        self.search_button = QPushButton(_tr("&Search"))
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.start_search)

        filters = QGridLayout()
        filters.addWidget(QLabel(_tr("Node")), 0, 0)
        filters.addWidget(self.node_combo, 0, 1)
        filters.addWidget(QLabel(_tr("Patient name")), 0, 2)
        filters.addWidget(self.patient_name_edit, 0, 3)
        filters.addWidget(QLabel(_tr("Patient ID")), 0, 4)
        filters.addWidget(self.patient_id_edit, 0, 5)
        filters.addWidget(QLabel(_tr("Accession")), 1, 0)
        filters.addWidget(self.accession_edit, 1, 1)
        filters.addWidget(QLabel(_tr("Study date")), 1, 2)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from, 1)
        dates.addWidget(QLabel("–"))
        dates.addWidget(self.date_to, 1)
        filters.addLayout(dates, 1, 3)
        filters.addWidget(QLabel(_tr("Modality")), 1, 4)
        filters.addWidget(self.modality_combo, 1, 5)
        filters.addWidget(self.search_button, 1, 6)
        for column in (1, 3, 5):
            filters.setColumnStretch(column, 1)

        self.results = QTreeWidget()
        self.results.setColumnCount(len(COLUMNS))
        self.results.setHeaderLabels([_tr(c) for c in COLUMNS])
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.setUniformRowHeights(True)
        self.results.itemExpanded.connect(self._on_expanded)
        self.results.itemSelectionChanged.connect(self._update_buttons)
        header = self.results.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COLUMNS.index("Description"), QHeaderView.ResizeMode.Stretch)

        self.retrieve_button = QPushButton(_tr("&Retrieve"))
        self.retrieve_button.clicked.connect(self.start_retrieve)
        self.cancel_button = QPushButton(_tr("&Cancel retrieve"))
        self.cancel_button.clicked.connect(self.cancel_retrieve)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel(_tr("Choose a node and search."))
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        actions = QHBoxLayout()
        method = QFormLayout()
        method.addRow(_tr("Retrieve by"), self.method_combo)
        actions.addLayout(method)
        actions.addWidget(self.retrieve_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.progress, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.results, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        self.reload_nodes()
        self.resize(1100, 560)

    @staticmethod
    def _date_edit() -> QDateEdit:
        edit = QDateEdit()
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(_NO_DATE)
        edit.setSpecialValueText(_tr("any"))  # shown at the minimum: no limit on this side
        edit.setDate(_NO_DATE)
        return edit

    # -- public API ---------------------------------------------------------------------------
    @property
    def is_retrieving(self) -> bool:
        return self._token is not None

    def reload_nodes(self) -> None:
        """Re-read the nodes from the settings (after File › PACS nodes…).

        The results stay when the selected node is still there (reopening the dialog must
        not lose a search); not while a retrieve runs (its node must not change under it).
        """
        if self.is_retrieving:
            return
        current = self.node_combo.currentData() or ""
        self._nodes, problems = self._context.nodes()
        fill_node_combo(self.node_combo, self._nodes, current)
        if (self.node_combo.currentData() or "") != current or not current:
            self._on_node_changed()
        else:
            self._fill_methods()
        if not self._nodes:
            self.status.setText(
                problems[0] if problems else _tr("No PACS node yet: add one in File › PACS nodes…")
            )

    def current_node(self) -> Node | None:
        return self._nodes.get(self.node_combo.currentData() or "")

    def query(self) -> Query:
        """The study-level query the filters describe (raises NetworkError for bad input)."""
        low, high = (e.date() for e in (self.date_from, self.date_to))
        dates = ""
        if low != _NO_DATE or high != _NO_DATE:
            first = low.toString("yyyyMMdd") if low != _NO_DATE else ""
            last = high.toString("yyyyMMdd") if high != _NO_DATE else ""
            dates = f"{first}-{last}" if first != last else first
        return Query(
            level="STUDY",
            patient_name=self.patient_name_edit.text().strip(),
            patient_id=self.patient_id_edit.text().strip(),
            accession_number=self.accession_edit.text().strip(),
            study_date=dates,
            modality=self.modality_combo.currentText().strip().upper(),
        )

    def start_search(self) -> None:
        node = self.current_node()
        if node is None:
            self.status.setText(_tr("No PACS node yet: add one in File › PACS nodes…"))
            return
        try:
            query = self.query()
        except MedviewError as exc:
            self.status.setText(str(exc))
            return
        self.search_button.setEnabled(False)
        self.status.setText(_tr("Searching {node}…").format(node=node.describe()))
        self._search_jobs.submit(search, node, query)

    def study_items(self) -> list[QTreeWidgetItem]:
        return [self.results.topLevelItem(i) for i in range(self.results.topLevelItemCount())]

    def series_item(self, series_uid: str) -> QTreeWidgetItem | None:
        for study in self.study_items():
            for index in range(study.childCount()):
                child = study.child(index)
                if child.data(0, _ROLE)[2] == series_uid:
                    return child
        return None

    def start_retrieve(self) -> None:
        """Retrieve the selected studies and series (a series inside a selected study once)."""
        node, method = self.current_node(), self.method_combo.currentText()
        if node is None or self.is_retrieving:
            return
        if self._context.database is None:
            self.status.setText(_tr("Retrieving needs the study database."))
            return
        targets: dict[str, _Target] = {}
        whole: set[str] = set()
        for item in self.results.selectedItems():
            kind, study_uid, series_uid, expected = item.data(0, _ROLE)
            target = targets.setdefault(study_uid, _Target(study_uid))
            if kind == "study":
                whole.add(study_uid)
            else:
                target.series.append((series_uid, expected))
        for study_uid in whole:
            targets[study_uid].series = []  # all of its series, whichever are also selected
        if not targets:
            self.status.setText(_tr("Select a study or series to retrieve."))
            return
        self._token = CancelToken()
        self._totals.clear()
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.status.setText(_tr("Retrieving from {node} by {method}…").format(
            node=node.describe(), method=method))  # fmt: skip
        self._update_buttons()
        self._retrieve_jobs.submit(
            _retrieve_work, self._context, node, method, list(targets.values()), self._token,
            partial=True,
        )  # fmt: skip

    def cancel_retrieve(self) -> None:
        """Stop the running retrieve now (the series in flight is not imported)."""
        if self._token is not None:
            self.status.setText(_tr("Cancelling…"))
            self.cancel_button.setEnabled(False)
            self._token.cancel()  # only wakes the worker: it aborts (net/association.py)

    # -- search results -----------------------------------------------------------------------
    def _on_searched(self, studies: object) -> None:
        self.search_button.setEnabled(True)
        self.results.clear()
        self._series_queue.clear()
        for study in studies if isinstance(studies, list) else []:
            item = QTreeWidgetItem(self._study_texts(study))
            item.setData(0, _ROLE, ("study", study.get("study_uid") or "", "",
                                    study.get("instance_count")))  # fmt: skip
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            item.setToolTip(0, study.get("study_uid") or "")
            self.results.addTopLevelItem(item)
        for column in range(len(COLUMNS) - 1):
            if column != COLUMNS.index("Description"):
                self.results.resizeColumnToContents(column)
        count = self.results.topLevelItemCount()
        node = self.current_node()
        self.status.setText(_tr("{count} studies found on {node}.").format(
            count=count, node=node.describe() if node else ""))  # fmt: skip
        self._update_buttons()
        self.searched.emit(count)

    def _on_search_failed(self, message: str) -> None:
        self.search_button.setEnabled(True)
        self.status.setText(message)
        self.search_failed.emit(message)

    @staticmethod
    def _study_texts(study: dict) -> list[str]:
        images = study.get("instance_count")
        series = study.get("series_count")
        count = f"{images}" if images is not None else ""
        if series is not None:
            count = _tr("{images} in {series} series").format(images=images or 0, series=series)
        return [
            format_person_name(study.get("patient_name") or ""),
            study.get("patient_id") or "",
            format_dicom_date(study.get("study_date") or ""),
            study.get("accession_number") or "",
            ", ".join(study.get("modalities") or []),
            study.get("study_description") or "",
            count,
            "",
        ]

    # -- series (listed on expand, one listing at a time so none is dropped as stale) --------
    def _on_expanded(self, item: QTreeWidgetItem) -> None:
        kind, study_uid, _series, _count = item.data(0, _ROLE)
        if kind != "study" or item.childCount() or study_uid in self._series_queue:
            return
        self._series_queue.append(study_uid)
        if len(self._series_queue) == 1:
            self._list_next_series()

    def _list_next_series(self) -> None:
        node = self.current_node()
        if self._series_queue and node is not None:
            study_uid = self._series_queue[0]
            self._series_jobs.submit(lambda: (study_uid, list_series(node, study_uid)))

    def _on_series_listed(self, payload: object) -> None:
        study_uid, series = payload  # type: ignore[misc]
        self._add_series(study_uid, series)
        if self._series_queue and self._series_queue[0] == study_uid:
            self._series_queue.pop(0)
        self._list_next_series()

    def _on_series_failed(self, message: str) -> None:
        self._series_queue.clear()
        self.status.setText(message)

    def _study_item(self, study_uid: str) -> QTreeWidgetItem | None:
        for item in self.study_items():
            if item.data(0, _ROLE)[1] == study_uid:
                return item
        return None

    def _add_series(self, study_uid: str, series: list[dict]) -> None:
        study = self._study_item(study_uid)
        if study is None or study.childCount():
            return
        for entry in series:
            number = entry.get("series_number")
            label = f"#{number}" if number is not None else "#?"
            texts = ["", "", "", "", entry.get("modality") or "",
                     f"{label} {entry.get('series_description') or ''}".strip(),
                     str(entry.get("instance_count") or ""), ""]  # fmt: skip
            child = QTreeWidgetItem(texts)
            child.setData(0, _ROLE, ("series", study_uid, entry.get("series_uid") or "",
                                     entry.get("instance_count")))  # fmt: skip
            child.setToolTip(5, entry.get("series_uid") or "")
            study.addChild(child)
        study.setChildIndicatorPolicy(
            QTreeWidgetItem.ChildIndicatorPolicy.DontShowIndicatorWhenChildless
        )

    # -- retrieve -----------------------------------------------------------------------------
    def _on_retrieve_event(self, event: object) -> None:
        kind, *rest = event  # type: ignore[misc]
        if kind == "series":
            self._add_series(rest[0], rest[1])
            return
        item = self.series_item(rest[0]) if rest and rest[0] else None
        if kind == "progress":
            uid, received, total = rest
            self._totals[uid] = (received, total)
            if item is not None:
                item.setText(_PROGRESS, f"{received} / {total}" if total else str(received))
            self._show_total()
            self.series_progress.emit(uid, received, total)
        elif kind == "done":
            result = rest[1]
            if item is not None:
                item.setText(_PROGRESS, _tr("complete ({n})").format(n=result.received))
                study = item.parent()
                children = [study.child(i) for i in range(study.childCount())]
                if all(c.text(_PROGRESS).startswith(_tr("complete")) for c in children):
                    study.setText(_PROGRESS, _tr("complete"))
            self.series_retrieved.emit(result)
        elif kind in ("cancelled", "failed") and item is not None:
            item.setText(_PROGRESS, _tr("cancelled") if kind == "cancelled" else _tr("failed"))

    def _show_total(self) -> None:
        received = sum(r for r, _t in self._totals.values())
        totals = [t for _r, t in self._totals.values()]
        if totals and all(totals):
            self.progress.setRange(0, max(sum(totals), 1))  # type: ignore[arg-type]
            self.progress.setValue(min(received, sum(totals)))  # type: ignore[arg-type]

    def _on_retrieve_finished(self, outcome: object) -> None:
        summary = outcome if isinstance(outcome, dict) else {}
        done, images = summary.get("done", 0), summary.get("images", 0)
        if summary.get("cancelled"):
            line = _tr("Retrieve cancelled: the series in progress was not imported; "
                       "{done} series ({images} images) were retrieved before.")  # fmt: skip
        elif summary.get("error"):
            line = summary["error"] + " " + _tr("({done} series retrieved before.)")
        else:
            line = _tr("Retrieved {done} series ({images} images) in {seconds:.1f} s; they are "
                       "in the study browser.")  # fmt: skip
        line = line.format(done=done, images=images, seconds=summary.get("seconds", 0.0))
        ok = not summary.get("cancelled") and not summary.get("error")
        self._end_retrieve(line, ok)

    def _on_retrieve_crashed(self, message: str) -> None:
        self._end_retrieve(message, False)

    def _end_retrieve(self, line: str, ok: bool) -> None:
        self._token = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if ok else 0)
        self.status.setText(line)
        self._update_buttons()
        self.retrieve_finished.emit(line)

    def _on_node_changed(self, *_args: object) -> None:
        self._fill_methods()
        self.results.clear()
        self._update_buttons()

    def _fill_methods(self) -> None:
        node, chosen = self.current_node(), self.method_combo.currentText()
        self.method_combo.clear()
        if node is not None:
            self.method_combo.addItems(retrieve_methods(node))
            if chosen in retrieve_methods(node):
                self.method_combo.setCurrentText(chosen)
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self.is_retrieving
        self.retrieve_button.setEnabled(
            not busy and bool(self.results.selectedItems()) and self.current_node() is not None
        )
        self.cancel_button.setEnabled(busy)
        self.search_button.setEnabled(self.current_node() is not None and not busy)
        self.node_combo.setEnabled(not busy)

    def done(self, result: int) -> None:
        # Closing the dialog stops what it started: the user can no longer see or cancel it.
        self.cancel_retrieve()
        super().done(result)
