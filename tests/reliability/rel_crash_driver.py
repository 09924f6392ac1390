"""One medview workstation run for the crash-recovery test (issue 11, D2).

Started as its own process by ``test_d2_crash_recovery.py``: it runs ``medview STUDY`` through
the real command line (``medview.app.cli.main``: logging, the run marker, the study database,
the import, the main window), with ``MEDVIEW_HOME`` from the parent. When the study is shown
it prints what came back (measurements, report text, status bar messages), then:

- ``edit``: makes a seeded series of edits through the calls a user's mouse and keyboard end
  in (``MeasurementScene.add/update/remove`` as the measure tools make them, a drag as many
  merged updates, the report panel's typed text), each printed with its time and the whole
  expected state, and keeps running until the parent kills it;
- ``verify``: closes the window, as File › Quit does, and exits.

Every stdout line is ``KIND {json}``; times are ``time.time()`` (one clock for both processes).
Each autosave is printed too (``SAVED``/``DRAFT_SAVED``, after the file is written), and a
heartbeat (``TICK``) every 100 ms says how late the event loop ran it: an autosave timer
waits for the same loop.
"""

from __future__ import annotations

import time

T0 = time.time()  # before the heavy imports: "start" of the restart figure

import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PySide6.QtCore import QObject, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import medview.app.report_dock as report_dock  # noqa: E402
import medview.app.session_keeper as session_keeper  # noqa: E402
from medview.app.main_window import QtMainWindow  # noqa: E402
from medview.model.measurement_types import measurement_to_json  # noqa: E402
from medview.model.measurements import (  # noqa: E402
    Angle,
    EllipseRoi,
    Length,
    Plane,
    PointProbe,
    RectangleRoi,
)

#: Heartbeat period: each TICK line says how late the event loop ran it.
TICK_MS = 100


def emit(kind: str, **fields: object) -> None:
    print(kind, json.dumps(fields), flush=True)


class Driver(QObject):
    """Finds the main window, reports what was restored, then edits (or closes)."""

    def __init__(self, mode: str, seed: int, edits: int) -> None:
        super().__init__()
        self.mode = mode
        self.rng = random.Random(seed)
        self.edits_left = edits
        self.done = 0  # edits made so far (SAVED lines say how many a save holds)
        self.window: QtMainWindow | None = None
        self.messages: list[str] = []
        self._find = QTimer(self)
        self._find.setInterval(20)
        self._find.timeout.connect(self._look_for_window)
        self._find.start()
        self._next = QTimer(self)
        self._next.setSingleShot(True)
        self._next.timeout.connect(self._edit)
        # The GUI thread's lateness: an autosave timer falls due on the same event loop.
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._last_tick = 0.0

    # -- start ----------------------------------------------------------------------------
    def _look_for_window(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QtMainWindow):
                self._find.stop()
                self.window = widget
                widget.statusBar().messageChanged.connect(self._on_message)
                widget.volume_shown.connect(self._on_volume_shown)
                return

    def _on_message(self, text: str) -> None:
        if text:
            self.messages.append(text)

    def _on_volume_shown(self, _volume: object) -> None:
        # Connected after the window's own slots: the session and the report text are loaded.
        window = self.window
        assert window is not None
        window.volume_shown.disconnect(self._on_volume_shown)
        emit(
            "READY",
            t=time.time(),
            t0=T0,
            study=window.mpr.volume.meta.study_uid,
            session=str(window.sessions.path),
            state=self.state(),
            draft=self.draft(),
            messages=self.messages,
        )
        if self.mode == "verify":
            window.close()  # File › Quit: the event loop ends, medview exits cleanly
            return
        self._next.start(100)
        self._last_tick = time.time()
        self._tick.start()

    def _on_tick(self) -> None:
        now = time.time()
        emit("TICK", t=now, lag=max(0.0, now - self._last_tick - TICK_MS / 1000))
        self._last_tick = now

    # -- the expected state ------------------------------------------------------------------
    @property
    def scene(self):
        assert self.window is not None
        return self.window.mpr.measurement_scene

    def state(self) -> list[dict]:
        return [measurement_to_json(m) for m in self.scene.items()]

    def draft(self) -> dict:
        assert self.window is not None
        panel = self.window.report.panel
        return {"findings": panel.findings_text(), "impression": panel.impression()}

    # -- edits ----------------------------------------------------------------------------
    def _edit(self) -> None:
        what = self._one_edit()
        self.done += 1
        self.edits_left -= 1
        emit("EDIT", i=self.done, t=time.time(), what=what, state=self.state(), draft=self.draft())
        if self.edits_left <= 0:
            emit("LAST", i=self.done, t=time.time())
            return  # and keep running: the parent kills us
        # Some edits come faster than the autosave delay, some slower.
        self._next.start(self.rng.choice((15, 40, 80, 150, 300, 600)))

    def _one_edit(self) -> str:
        items = self.scene.items()
        if self.edits_left == 1 and items:
            # The last edit a drag: the one kind an early kill may legitimately lose.
            return self._drag(self.rng.choice(items))
        roll = self.rng.random()
        if self.done == 0 or len(items) < 3 or roll < 0.45:
            return self._add()
        if roll < 0.75:
            return self._drag(self.rng.choice(items))
        if roll < 0.88:
            victim = self.rng.choice(items)
            self.scene.remove(victim.id)
            return f"delete {victim.kind}"
        return self._type_report()

    def _frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A point in the middle of the volume and the axial view's right and down axes."""
        assert self.window is not None
        volume = self.window.mpr.volume
        centre = volume.index_to_lps((np.asarray(volume.size_ijk, float) - 1.0) / 2.0)
        plane = self.window.slice_view.plane
        return centre, np.asarray(plane.right, float), np.asarray(plane.down, float)

    def _add(self) -> str:
        """A measurement as the measure tools build it: on the axial plane, of this series."""
        centre, right, down = self._frame()
        start = centre + right * self.rng.uniform(-30, 30) + down * self.rng.uniform(-30, 30)
        d = right * self.rng.uniform(3, 20) + down * self.rng.uniform(3, 20)
        common = {
            "plane": Plane.from_axes(start, right, down),
            "series_uid": self.window.mpr.volume.meta.series_uid,
            "label": f"edit {self.done + 1}",
        }
        kind = self.rng.choice(("length", "ellipse", "rectangle", "angle", "point"))
        if kind == "length":
            m = Length(start, start + d, **common)
        elif kind == "ellipse":
            m = EllipseRoi(start + d / 2, right * (d @ right) / 2, down * (d @ down) / 2, **common)
        elif kind == "rectangle":
            m = RectangleRoi(start, right * (d @ right), down * (d @ down), **common)
        elif kind == "angle":
            m = Angle(start, start + d, start + right * 12.0, **common)
        else:
            m = PointProbe(start, **common)
        self.scene.add(m)
        return f"add {kind}"

    def _drag(self, m) -> str:
        """Five moves of one drag (the measure tools' merged updates, one undo step)."""
        _centre, right, down = self._frame()
        for step in range(5):
            delta = right * self.rng.uniform(-2, 2) + down * self.rng.uniform(-2, 2)
            m = self.scene.get(m.id)
            changes = {f: tuple(np.asarray(getattr(m, f)) + delta) for f in m.point_fields}
            if m.plane is not None:
                p = m.plane
                changes["plane"] = Plane(tuple(np.asarray(p.origin) + delta), p.normal, p.u, p.v)
            self.scene.update(m.id, merge=step > 0, **changes)
        return f"move {m.kind}"

    def _type_report(self) -> str:
        assert self.window is not None
        stamp = self.done + 1
        self.window.report.panel.type_texts(
            f"Findings after edit {stamp}: nodule measured.", f"Impression {stamp}."
        )
        return "type report text"


def _print_saves(driver: Driver) -> None:
    """Print a line after each autosave of the measurements and of the report text."""
    save_session, save_draft = session_keeper.save_session, report_dock.save_draft

    def saved_session(path, scene):
        save_session(path, scene)
        emit("SAVED", t=time.time(), i=driver.done, count=len(scene))

    def saved_draft(path, draft):
        save_draft(path, draft)
        emit("DRAFT_SAVED", t=time.time(), i=driver.done)

    session_keeper.save_session = saved_session
    report_dock.save_draft = saved_draft


def main() -> int:
    study, mode, seed, edits = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    app = QApplication.instance() or QApplication([])  # run_viewer takes this one
    driver = Driver(mode, seed, edits)
    _print_saves(driver)
    from medview.app.cli import main as medview_main

    code = medview_main([str(study)])  # `medview STUDY`
    del app
    emit("EXIT", code=code, t=time.time())
    return code


if __name__ == "__main__":
    sys.exit(main())
