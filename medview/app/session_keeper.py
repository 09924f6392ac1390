"""Measurements saved with the study (issue 3: "saved with the study session").

Each study's measurements live in ``<data>/sessions/<StudyInstanceUID>.json``
(:func:`~medview.model.measurements.session_path`). When the window shows a study, its session
is loaded into the measurement scene; every change is written back shortly after (atomically),
and at once when another study opens or the window closes. So a radiologist who measured a
nodule yesterday finds it again today, and nothing is lost if medview is killed.

Crash recovery (issue 11, D2): a finished edit (a measurement added or deleted, by hand or by
undo/redo) is written at once, before the next one. Moves and renames come as streams of
updates (a drag moves a point many times a second): they are written at most
:data:`SAVE_DELAY_MS` after the first unsaved one, however long the stream, so a ``kill -9``
loses at most the last :data:`SAVE_DELAY_MS` of moving (plus the time the GUI thread was busy
drawing when the timer fell due). When the previous run did not exit cleanly
(:mod:`medview.model.crash_marker`), a study whose session that run saved says so once when
it opens: "medview was not closed properly last time; restored …".

An unreadable session file is never overwritten: it is renamed aside
(``<name>.unreadable-<time>.json``) and the user is told in one sentence.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import weakref
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer

from medview.core.errors import MedviewError
from medview.core.logging import get_logger
from medview.core.paths import AppDirs
from medview.model.measurements import (
    MeasurementScene,
    SceneEvent,
    load_session,
    save_session,
    session_path,
)

_log = get_logger(__name__)

#: Updates (moves, renames) are written at most this many milliseconds after the first unsaved
#: one, together; adds and deletes at once. A crash loses at most this much moving (issue 11 D2).
SAVE_DELAY_MS = 400


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtMainWindow", text)


class QtSessionKeeper(QObject):
    """Load and save the measurement scene of the study on screen.

    Parameters
    ----------
    scene
        The window's measurement scene (its content is swapped per study).
    dirs
        Where sessions live; None: nothing is loaded or saved.
    report
        Shows one sentence to the user (the status bar).
    """

    def __init__(
        self,
        scene: MeasurementScene,
        dirs: AppDirs | None,
        report: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._scene = scene
        self._dirs = dirs
        self._report = report
        self._path: Path | None = None
        self._loading = False
        self._dirty = False
        # Issue 11 D2: sessions saved since this time may hold work of a run that crashed.
        self._unclean_since: float | None = None
        self._told: set[Path] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        # Weakly: the scene is a Python object that outlives windows in tests and sessions;
        # a strong reference would keep this QObject (and through Qt its window and render
        # windows) for the cyclic garbage collector to free at an arbitrary moment.
        self._unsubscribe = scene.subscribe(_WeakListener(self))

    @property
    def path(self) -> Path | None:
        """The session file of the study on screen (None: not saved)."""
        return self._path

    def note_unclean_shutdown(self, since: float | None) -> None:
        """The run that started at ``since`` (seconds since the epoch) did not exit cleanly.

        A study whose session was saved since then says, once, that its measurements were
        restored (None: the last run ended cleanly, nothing to say).
        """
        self._unclean_since = since

    def open_study(self, study_uid: str) -> None:
        """The window now shows ``study_uid``: save the previous study, load this one's."""
        self.flush()
        path = None
        if self._dirs is not None and study_uid:
            try:
                path = session_path(self._dirs, study_uid)
            except ValueError:
                path = None
        if path == self._path:
            return
        self._path = path
        measurements = []
        saved_at = None
        if path is not None and path.exists():
            try:
                saved_at = path.stat().st_mtime  # before anything writes it again
                measurements = list(load_session(path).items())
            except MedviewError as err:
                aside = self._set_aside(path)
                if aside == path:
                    self._path = None  # could not move it: never write over it
                _log.warning("%s; kept as %s", err, aside)
                self._report(
                    _tr("The saved measurements of this study could not be read ({reason}); "
                        "the file was kept as {aside}.").format(reason=err.reason, aside=aside)
                )  # fmt: skip
        self._loading = True
        try:
            self._scene.replace_all(measurements)
        finally:
            self._loading = False
        if measurements:
            _log.info("loaded %d measurement(s) from %s", len(measurements), path)
            self._tell_if_recovered(path, len(measurements), saved_at)

    def flush(self) -> None:
        """Write pending changes now (no-op when there are none)."""
        self._timer.stop()
        if not self._dirty or self._path is None:
            return
        self._dirty = False
        try:
            save_session(self._path, self._scene)
        except OSError as err:
            _log.warning("could not save measurements to %s: %s", self._path, err)
            self._report(
                _tr("Could not save the measurements to {path}: {reason}").format(
                    path=self._path, reason=err.strerror or err
                )
            )

    def close(self) -> None:
        """Write what is pending and stop listening (the window closes)."""
        self.flush()
        self._unsubscribe()

    # -- internals -------------------------------------------------------------------------
    def _on_scene_event(self, event: SceneEvent) -> None:
        if self._loading or event.kind == "selected" or self._path is None:
            return
        self._dirty = True
        if event.kind in ("added", "removed"):
            self.flush()  # a finished edit: on disk before the next one (issue 11, D2)
        elif not self._timer.isActive():
            # Not restarted by each update: a drag's stream of moves is still written every
            # SAVE_DELAY_MS, so a crash never loses more than that (issue 11, D2).
            self._timer.start()

    def _tell_if_recovered(self, path: Path | None, count: int, saved_at: float | None) -> None:
        since = self._unclean_since
        if path is None or saved_at is None or since is None or path in self._told:
            return
        if saved_at < since:
            return  # saved before the crashed run began: none of its work is in it
        self._told.add(path)
        text = _tr(
            "medview was not closed properly last time; restored {count} measurement(s) of "
            "this study, saved at {time}."
        ).format(count=count, time=_clock(saved_at))
        _log.warning("%s (%s)", text, path)
        self._report(text)

    @staticmethod
    def _set_aside(path: Path) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = path.with_name(f"{path.stem}.unreadable-{stamp}.json")
        try:
            path.rename(aside)
        except OSError:
            return path  # cannot rename: leave it, and never write over it
        return aside


def _clock(when: float) -> str:
    """``14:02:31`` today, ``2026-11-25 14:02:31`` on another day (local time)."""
    moment = _dt.datetime.fromtimestamp(when)
    if moment.date() == _dt.date.today():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class _WeakListener:
    """Scene listener that forwards to a keeper while it (and its Qt object) lives."""

    def __init__(self, keeper: QtSessionKeeper) -> None:
        self._keeper = weakref.ref(keeper)

    def __call__(self, event: SceneEvent) -> None:
        keeper = self._keeper()
        if keeper is None:
            return
        # RuntimeError: the window (the keeper's Qt parent) is already deleted.
        with contextlib.suppress(RuntimeError):
            keeper._on_scene_event(event)
