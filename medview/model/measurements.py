"""The measurement scene model: lengths, angles, ROIs and probes as objects, not pixels.

Issue 3 ("Measurements"). A radiologist's measurements are frozen dataclasses whose points are
patient LPS millimetres, so they survive a change of view, layout or zoom and map one to one
onto DICOM SR TID 1500 SCOORD3D content. :class:`MeasurementScene` orders them, tracks the
selection, tells listeners what changed and keeps an undo/redo command stack; sessions are
saved as JSON under the data dir, keyed by StudyInstanceUID. Values are computed on demand
from a :class:`~medview.imaging.volume.Volume`. The types and their values live in
:mod:`.measurement_types` and the voxel sampling in :mod:`.roi_stats`; everything public is
importable from here.

Qt-free and VTK-free: the view layer renders the scene and forwards edits to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from medview.core.errors import MedviewError
from medview.core.paths import AppDirs, atomic_write_text
from medview.imaging.volume import Volume
from medview.model.measurement_types import (
    KINDS,
    Angle,
    EllipseRoi,
    Length,
    Measurement,
    PointProbe,
    RectangleRoi,
    angle_deg,
    length_mm,
    measurement_from_json,
    measurement_to_json,
    roi_stats,
    scoord3d,
)
from medview.model.roi_stats import Plane, ProbeResult, RoiStats, probe, slice_index, ucum_units

__all__ = [
    "KINDS",
    "SCHEMA_VERSION",
    "Angle",
    "EllipseRoi",
    "Length",
    "Measurement",
    "MeasurementScene",
    "Plane",
    "PointProbe",
    "ProbeResult",
    "RectangleRoi",
    "RoiStats",
    "SceneEvent",
    "SessionError",
    "angle_deg",
    "length_mm",
    "load_session",
    "measurement_records",
    "probe",
    "roi_stats",
    "roi_stats_area",
    "save_session",
    "session_path",
]

log = logging.getLogger("medview.model.measurements")

#: Version of the session JSON layout; a file with a higher number is refused.
SCHEMA_VERSION = 1
_FORMAT = "medview.measurements"


class SessionError(MedviewError):
    """A measurement session could not be read (broken, or from a newer medview)."""


# -- the scene -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SceneEvent:
    """What changed in a :class:`MeasurementScene`.

    Attributes
    ----------
    kind
        ``"added"``, ``"removed"``, ``"updated"``, ``"selected"`` or ``"reset"`` (the
        whole content was replaced, see :meth:`MeasurementScene.replace_all`).
    id
        The measurement concerned (for ``"selected"``: the new selection, may be None).
    measurement
        Its state now (None after ``"removed"``, or when nothing is selected).
    previous
        Its state before (None after ``"added"``).
    index
        Its position in the scene order (None for ``"selected"``).
    cause
        ``"edit"``, ``"undo"`` or ``"redo"``.
    """

    kind: str
    id: str | None
    measurement: Measurement | None = None
    previous: Measurement | None = None
    index: int | None = None
    cause: str = "edit"


@dataclass(frozen=True)
class _Command:
    kind: str  # "add", "remove" or "update"
    index: int
    before: Measurement | None
    after: Measurement | None


Listener = Callable[[SceneEvent], None]


class MeasurementScene:
    """Ordered measurements with selection, change events and undo/redo.

    Parameters
    ----------
    measurements
        Initial content (not an undoable edit).
    history
        Number of undo steps kept; the oldest are dropped first.

    Notes
    -----
    Every edit is a command on a bounded stack; a new edit after an undo clears the redo
    stack. The selection is view state, not history: undo never changes it except to clear
    a selection whose measurement disappears. Listeners are called after the state changed;
    one raising is logged and does not stop the others.
    """

    def __init__(self, measurements: Iterable[Measurement] = (), *, history: int = 200) -> None:
        self._items: list[Measurement] = []
        for m in measurements:
            if self._find(m.id) is not None:
                raise ValueError(f"duplicate measurement id {m.id}")
            self._items.append(m)
        self._selected: str | None = None
        self._undo: deque[_Command] = deque(maxlen=history)
        self._redo: list[_Command] = []
        self._listeners: list[Listener] = []
        self._merge_id: str | None = None

    # -- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Measurement]:
        return iter(tuple(self._items))

    def __contains__(self, measurement_id: object) -> bool:
        return self._find(measurement_id) is not None

    def items(self) -> tuple[Measurement, ...]:
        """The measurements in scene order."""
        return tuple(self._items)

    def get(self, measurement_id: str) -> Measurement:
        """The measurement with this id; KeyError if there is none."""
        index = self._find(measurement_id)
        if index is None:
            raise KeyError(measurement_id)
        return self._items[index]

    def _find(self, measurement_id: object) -> int | None:
        for index, m in enumerate(self._items):
            if m.id == measurement_id:
                return index
        return None

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes."""
        self._listeners.append(callback)

        def unsubscribe() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return unsubscribe

    def _emit(self, event: SceneEvent) -> None:
        for callback in tuple(self._listeners):
            try:
                callback(event)
            except Exception:
                log.exception("measurement scene listener %r failed on %s", callback, event.kind)

    # -- selection -------------------------------------------------------------------------
    @property
    def selected(self) -> str | None:
        """Id of the selected measurement, or None."""
        return self._selected

    def select(self, measurement_id: str | None) -> None:
        """Select a measurement (None clears the selection); KeyError for an unknown id."""
        if measurement_id is not None and measurement_id not in self:
            raise KeyError(measurement_id)
        if measurement_id == self._selected:
            return
        self._selected = measurement_id
        current = self.get(measurement_id) if measurement_id is not None else None
        self._emit(SceneEvent("selected", measurement_id, current))

    # -- edits -----------------------------------------------------------------------------
    def add(self, measurement: Measurement, index: int | None = None) -> Measurement:
        """Append (or insert at ``index``) a measurement; ValueError if its id is taken."""
        if not isinstance(measurement, Measurement):
            raise TypeError(f"not a measurement: {measurement!r}")
        if measurement.id in self:
            raise ValueError(f"duplicate measurement id {measurement.id}")
        position = len(self._items) if index is None else max(0, min(index, len(self._items)))
        self._push(_Command("add", position, None, measurement))
        return measurement

    def remove(self, measurement_id: str) -> Measurement:
        """Delete a measurement; returns it. KeyError for an unknown id."""
        index = self._find(measurement_id)
        if index is None:
            raise KeyError(measurement_id)
        removed = self._items[index]
        self._push(_Command("remove", index, removed, None))
        return removed

    def update(self, measurement_id: str, *, merge: bool = False, **changes: Any) -> Measurement:
        """Replace fields of a measurement (move a point, rename, ...); returns the new state.

        Parameters
        ----------
        measurement_id
            Which measurement.
        merge
            Fold this change into the previous undo step if that step was an update of the
            same measurement with nothing in between: pass False on the first move of a
            drag and True on the following ones, so one drag is one undo step.
        **changes
            Field values, validated by the measurement's constructor (e.g. ``p1=(x, y, z)``).
        """
        if "id" in changes:
            raise ValueError("a measurement's id cannot change")
        index = self._find(measurement_id)
        if index is None:
            raise KeyError(measurement_id)
        before = self._items[index]
        after = replace(before, **changes)
        if after == before:
            return before
        if merge and self._merge_id == measurement_id and self._undo:
            first = self._undo.pop()
            self._apply(_Command("update", index, before, after), "edit")
            self._undo.append(_Command("update", index, first.before, after))
            self._redo.clear()
            self._merge_id = measurement_id
            return after
        self._push(_Command("update", index, before, after))
        self._merge_id = measurement_id
        return after

    def _push(self, command: _Command) -> None:
        self._apply(command, "edit")
        self._undo.append(command)
        self._redo.clear()
        self._merge_id = None

    def _apply(self, command: _Command, cause: str) -> None:
        if command.kind == "add":
            assert command.after is not None
            self._items.insert(command.index, command.after)
            self._emit(
                SceneEvent("added", command.after.id, command.after, None, command.index, cause)
            )
        elif command.kind == "remove":
            assert command.before is not None
            del self._items[command.index]
            self._emit(
                SceneEvent("removed", command.before.id, None, command.before, command.index, cause)
            )
            if self._selected == command.before.id:
                self._selected = None
                self._emit(SceneEvent("selected", None, None, None, None, cause))
        else:
            assert command.after is not None
            self._items[command.index] = command.after
            self._emit(
                SceneEvent(
                    "updated", command.after.id, command.after, command.before, command.index, cause
                )
            )

    @staticmethod
    def _inverse(command: _Command) -> _Command:
        kind = {"add": "remove", "remove": "add", "update": "update"}[command.kind]
        return _Command(kind, command.index, command.after, command.before)

    # -- undo / redo -----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Revert the last edit; False when there is nothing to undo."""
        if not self._undo:
            return False
        command = self._undo.pop()
        self._merge_id = None
        self._apply(self._inverse(command), "undo")
        self._redo.append(command)
        return True

    def redo(self) -> bool:
        """Re-apply the last undone edit; False when there is nothing to redo."""
        if not self._redo:
            return False
        command = self._redo.pop()
        self._merge_id = None
        self._apply(command, "redo")
        self._undo.append(command)
        return True

    def replace_all(self, measurements: Iterable[Measurement]) -> None:
        """Swap in another content (e.g. the session of the study just opened).

        Not an undoable edit: the history and the selection are cleared. Listeners get one
        ``"reset"`` event.
        """
        items: list[Measurement] = []
        for m in measurements:
            if any(other.id == m.id for other in items):
                raise ValueError(f"duplicate measurement id {m.id}")
            items.append(m)
        self._items = items
        self._selected = None
        self.clear_history()
        self._emit(SceneEvent("reset", None))

    def clear_history(self) -> None:
        """Forget undo and redo (e.g. after loading a session)."""
        self._undo.clear()
        self._redo.clear()
        self._merge_id = None

    # -- JSON ------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the measurements and selection (not the undo history)."""
        return {
            "format": _FORMAT,
            "schema_version": SCHEMA_VERSION,
            "selected": self._selected,
            "measurements": [measurement_to_json(m) for m in self._items],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, history: int = 200) -> MeasurementScene:
        """Rebuild a scene from :meth:`to_json`; SessionError when the data are not valid."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise SessionError("not a medview measurement session")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SessionError(f"invalid schema_version {version!r}")
        if version > SCHEMA_VERSION:
            raise SessionError(
                f"written by a newer medview (session schema {version}, this version reads up "
                f"to {SCHEMA_VERSION}); update medview to open it"
            )
        entries = data.get("measurements")
        if not isinstance(entries, list):
            raise SessionError("'measurements' must be a list")
        try:
            scene = cls([measurement_from_json(e) for e in entries], history=history)
        except (ValueError, TypeError, KeyError) as err:
            raise SessionError(f"invalid measurement: {err}") from err
        selected = data.get("selected")
        if selected is not None and selected in scene:
            scene._selected = selected
        return scene


# -- sessions --------------------------------------------------------------------------------

_PLAIN_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def session_path(dirs: AppDirs, study_uid: str) -> Path:
    """Where the measurement session of a study lives: ``<data>/sessions/<uid>.json``.

    A well-formed DICOM UID (digits and dots, at most 64 characters) is used as the file
    name; anything else is replaced by its SHA-256, so no UID can escape the folder.
    """
    if not isinstance(study_uid, str) or not study_uid:
        raise ValueError("a session needs a StudyInstanceUID")
    if len(study_uid) <= 64 and _PLAIN_UID.fullmatch(study_uid):
        name = study_uid
    else:
        name = "sha256-" + hashlib.sha256(study_uid.encode("utf-8")).hexdigest()
    return dirs.data / "sessions" / f"{name}.json"


def save_session(path: Path, scene: MeasurementScene) -> None:
    """Write the scene atomically (temp file + fsync + rename) as JSON."""
    text = json.dumps(scene.to_json(), indent=1, allow_nan=False) + "\n"
    atomic_write_text(Path(path), text)


def load_session(path: Path) -> MeasurementScene:
    """Read a session written by :func:`save_session`.

    Raises
    ------
    SessionError
        (a :class:`~medview.core.errors.MedviewError`) naming the file when it cannot be
        read, is not valid JSON or not a session, or was written by a newer medview.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise SessionError(f"cannot read the measurement session ({reason})", path) from err
    try:
        data = json.loads(text)
    except ValueError as err:
        line = getattr(err, "lineno", "?")
        raise SessionError(
            f"not a valid measurement session (broken JSON at line {line})", path
        ) from err
    try:
        return MeasurementScene.from_json(data)
    except SessionError as err:
        raise SessionError(err.reason, path) from err


# -- export hook for reports (DICOM SR TID 1500) -----------------------------------------------


def _value(name: str, scheme: str | None, value: float | None, unit: str) -> dict[str, Any]:
    # "concept" names the pydicom.sr.codedict entry (codes.SCT.Length, ...) the SR uses.
    concept = f"{scheme}.{name}" if scheme else None
    return {"name": name, "concept": concept, "value": value, "unit": unit}


def _values(m: Measurement, volume: Volume) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if isinstance(m, Length):
        return [_value("Length", "SCT", length_mm(m), "mm")], {}
    if isinstance(m, Angle):
        return [_value("Angle", "SCT", angle_deg(m), "deg")], {}
    units = ucum_units(volume.meta.units)
    if isinstance(m, PointProbe):
        result = probe(volume, m.point)
        hu = volume.meta.units == "HU"
        value = None if result is None or isinstance(result.value, tuple) else result.value
        name, scheme = ("AttenuationCoefficient", "DCM") if hu else ("Value", None)
        extra = {"voxel_ijk": list(result.ijk) if result else None}
        return [_value(name, scheme, value, units)], extra
    if volume.is_color:  # no HU statistics on colour data: report the area only
        area = roi_stats_area(m)
        return [_value("Area", "SCT", area, "mm2")], {}
    stats = roi_stats(volume, m)  # type: ignore[arg-type]
    values = [
        _value("Mean", "SCT", stats.mean, stats.units),
        _value("StandardDeviation", "SCT", stats.sd, stats.units),
        _value("Minimum", "SCT", stats.min, stats.units),
        _value("Maximum", "SCT", stats.max, stats.units),
        _value("Area", "SCT", stats.area_mm2, "mm2"),
    ]
    return values, {"sampled_area_mm2": stats.sampled_area_mm2, "voxel_count": stats.voxel_count}


def roi_stats_area(m: Measurement) -> float:
    """Analytic area of an ROI in mm^2 (pi*a*b for an ellipse, |u|*|v| for a rectangle)."""
    if isinstance(m, EllipseRoi):
        return float(np.pi * np.linalg.norm(m.axis_u) * np.linalg.norm(m.axis_v))
    if isinstance(m, RectangleRoi):
        return float(np.linalg.norm(m.edge_u) * np.linalg.norm(m.edge_v))
    raise TypeError(f"not an ROI: {type(m).__name__}")


def measurement_records(
    scene: MeasurementScene | Iterable[Measurement], volume: Volume
) -> list[dict[str, Any]]:
    """Plain dicts for the report exporters (SR TID 1500, JSON, PDF), one per measurement.

    Each record holds ``id``, ``kind``, ``label``, ``series_uid``, ``frame_of_reference_uid``,
    ``geometry`` (the defining LPS points/vectors), ``graphic_type`` and ``graphic_data``
    (SCOORD3D, LPS mm), ``plane``, ``slice_index`` and ``referenced_sop_instance_uid`` (the
    acquired slice all its points lie on, nearest k; None when unknown or when it spans
    slices, e.g. drawn on an oblique MPR: then only SCOORD3D applies), ``values`` (each with
    ``name``, ``concept`` = pydicom codedict path, ``value`` and UCUM ``unit``) and extras
    (``sampled_area_mm2``/``voxel_count`` for ROIs, ``voxel_ijk`` for probes).
    """
    records = []
    sop_uids = volume.meta.source_sop_uids
    measurements = scene.items() if isinstance(scene, MeasurementScene) else tuple(scene)
    for m in measurements:
        graphic_type, graphic = scoord3d(m)
        k = slice_index(volume, np.asarray(graphic))
        sop = sop_uids[k] if k is not None and k < len(sop_uids) and sop_uids[k] else None
        values, extra = _values(m, volume)
        plane = m.plane
        records.append(
            {
                "id": m.id,
                "kind": m.kind,
                "label": m.label,
                "series_uid": m.series_uid or volume.meta.series_uid,
                "frame_of_reference_uid": volume.meta.frame_of_reference_uid or None,
                "geometry": {name: list(p) for name, p in m.geometry().items()},
                "graphic_type": graphic_type,
                "graphic_data": [list(p) for p in graphic],
                "plane": None
                if plane is None
                else {"origin": list(plane.origin), "normal": list(plane.normal)},
                "slice_index": k,
                "referenced_sop_instance_uid": sop,
                "values": values,
                **extra,
            }
        )
    return records
