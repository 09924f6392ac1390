"""Measurements saved with the study (issue 3: "saved with the study session").

Each study's measurements live in ``<data>/sessions/<StudyInstanceUID>.json``
(:func:`~medview.model.measurements.session_path`). When the window shows a study, its session
is loaded into the measurement scene; every change is written back shortly after (atomically),
and at once when another study opens or the window closes. So a radiologist who measured a
nodule yesterday finds it again today, and nothing is lost if medview is killed.

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

#: Changes within this many milliseconds are written together.
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
        if path is not None and path.exists():
            try:
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
        self._timer.start()

    @staticmethod
    def _set_aside(path: Path) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = path.with_name(f"{path.stem}.unreadable-{stamp}.json")
        try:
            path.rename(aside)
        except OSError:
            return path  # cannot rename: leave it, and never write over it
        return aside


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
