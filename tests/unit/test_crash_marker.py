"""The run marker that tells a crash from a clean exit (issue 11, D2; medview.model.crash_marker).

Real processes where it matters: a child that dies under SIGKILL leaves a marker whose pid is
dead (a crash); a child that still runs is another medview (no crash claimed); a killed child
that nobody has reaped yet is a zombie, which does not run either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from medview.model.crash_marker import MARKER_DIR, RunInfo, begin, process_alive

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")

#: A child medview run: writes its marker, says so, then waits to be killed or released.
_CHILD = textwrap.dedent(
    """
    import sys, time
    from medview.model.crash_marker import begin
    run = begin(sys.argv[1])
    print(run.path, flush=True)
    if sys.argv[2] == "clean":
        run.end()
    else:
        time.sleep(60)
    """
)


def _start_child(data_dir, mode: str = "hang") -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir), mode], stdout=subprocess.PIPE, text=True
    )
    marker = child.stdout.readline().strip()
    return child, marker


def _write_marker(data_dir, pid: int, host: str, started: float) -> None:
    folder = data_dir / MARKER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    document = {"format": "medview.running", "pid": pid, "host": host, "started": started}
    (folder / f"{pid}.json").write_text(json.dumps(document), encoding="utf-8")


def test_a_clean_exit_leaves_nothing_to_report(tmp_path):
    first = begin(tmp_path, now=1000.0)
    assert first.path == tmp_path / MARKER_DIR / f"{os.getpid()}.json"
    assert json.loads(first.path.read_text(encoding="utf-8"))["pid"] == os.getpid()
    assert first.crashed == () and first.unclean_since is None
    first.end()
    assert not first.path.exists()
    second = begin(tmp_path)
    assert second.crashed == () and second.running == ()


@POSIX
def test_a_killed_run_is_reported_once_by_the_next_start(tmp_path):
    child, marker = _start_child(tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()  # reaped: the pid is gone
    started = json.loads(Path(marker).read_text(encoding="utf-8"))["started"]
    run = begin(tmp_path)
    assert [r.pid for r in run.crashed] == [child.pid]
    assert run.unclean_since == pytest.approx(started)
    assert sorted(p.name for p in (tmp_path / MARKER_DIR).iterdir()) == [f"{os.getpid()}.json"]
    run.end()
    assert begin(tmp_path).crashed == ()  # claimed: never reported twice


@POSIX
def test_a_live_instance_is_not_a_crash(tmp_path):
    child, marker = _start_child(tmp_path)
    try:
        run = begin(tmp_path)
        assert run.crashed == () and [r.pid for r in run.running] == [child.pid]
        assert os.path.exists(marker)  # another medview's marker is left alone
        run.end()
    finally:
        child.kill()
        child.wait()
    assert [r.pid for r in begin(tmp_path).crashed] == [child.pid]


@POSIX
def test_a_child_that_exits_cleanly_is_not_a_crash(tmp_path):
    child, _marker = _start_child(tmp_path, "clean")
    assert child.wait(timeout=30) == 0
    run = begin(tmp_path)
    assert run.crashed == () and run.running == ()


@POSIX
def test_an_unreaped_killed_process_does_not_run(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.time()
    try:
        assert process_alive(child.pid, started)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(child.pid, started) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(child.pid, started)  # a zombie until wait()
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_a_reused_pid_is_not_taken_for_the_crashed_run(tmp_path):
    # The marker says its run began an hour ago; the live process with that pid began now.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_marker(tmp_path, child.pid, "this-host", time.time() - 3600)
        run = begin(tmp_path, host="this-host")
        assert [r.pid for r in run.crashed] == [child.pid] and run.running == ()
        assert process_alive(child.pid, time.time())  # as itself, it does run
    finally:
        child.kill()
        child.wait()


def test_an_old_marker_with_our_own_pid_is_a_previous_run(tmp_path):
    # Containers start medview with the same pid every time.
    _write_marker(tmp_path, os.getpid(), "this-host", 500.0)
    run = begin(tmp_path, host="this-host", alive=lambda r: True)
    assert run.crashed == (RunInfo(os.getpid(), "this-host", 500.0),)
    assert run.path.exists()  # and ours replaced it


def test_markers_of_another_host_are_left_alone(tmp_path):
    _write_marker(tmp_path, 4242, "other-host", 500.0)
    run = begin(tmp_path, host="this-host", alive=lambda r: False)
    assert run.crashed == () and run.running == (RunInfo(4242, "other-host", 500.0),)
    assert (tmp_path / MARKER_DIR / "4242.json").exists()


def test_unclean_since_is_the_earliest_crashed_start_and_junk_is_tolerated(tmp_path):
    _write_marker(tmp_path, 111, "h", 900.0)
    _write_marker(tmp_path, 222, "h", 700.0)
    (tmp_path / MARKER_DIR / "333.json").write_text("{broken", encoding="utf-8")
    (tmp_path / MARKER_DIR / "notes.json").write_text("{}", encoding="utf-8")
    run = begin(tmp_path, pid=1, host="h", alive=lambda r: False)
    assert sorted(r.pid for r in run.crashed) == [111, 222, 333]
    # The unreadable marker's start is its file time (now): the earliest is still 700.
    assert run.unclean_since == 700.0
    assert (tmp_path / MARKER_DIR / "notes.json").exists()  # not a marker: not touched


# -- the session keeper's side (medview.app.session_keeper; QtCore only, no event loop) ------


def _keeper(tmp_path, unclean_since: float | None = None):
    from medview.app.session_keeper import QtSessionKeeper
    from medview.core.paths import AppDirs
    from medview.model.measurements import MeasurementScene

    dirs = AppDirs(tmp_path / "data", tmp_path / "config", tmp_path / "cache", tmp_path / "logs")
    scene, told = MeasurementScene(), []
    keeper = QtSessionKeeper(scene, dirs, told.append)
    keeper.note_unclean_shutdown(unclean_since)
    return keeper, scene, told


class _Timer:
    """Stands in for the keeper's QTimer (no event loop here): the test is the clock."""

    def __init__(self) -> None:
        self.active, self.starts = False, 0

    def isActive(self) -> bool:  # QTimer's name
        return self.active

    def start(self) -> None:
        self.active, self.starts = True, self.starts + 1

    def stop(self) -> None:
        self.active = False


def test_adds_and_deletes_are_on_disk_at_once_moves_wait_for_the_autosave(tmp_path):
    from medview.model.measurements import Length, load_session

    keeper, scene, _told = _keeper(tmp_path)
    keeper._timer = timer = _Timer()
    keeper.open_study("1.2.3")
    line = scene.add(Length((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)))
    # No event loop runs here: only a write made inside the edit can be on disk.
    assert [m.id for m in load_session(keeper.path).items()] == [line.id]
    assert timer.starts == 0
    for x in (11.0, 12.0, 13.0):  # a drag: one autosave, not postponed by each move
        scene.update(line.id, merge=x > 11.0, p2=(x, 0.0, 0.0))
    assert timer.starts == 1 and timer.active
    assert load_session(keeper.path).get(line.id).p2 == (10.0, 0.0, 0.0)  # pending
    keeper.flush()  # what the timer does when it falls due
    assert load_session(keeper.path).get(line.id).p2 == (13.0, 0.0, 0.0)
    assert not timer.active
    scene.remove(line.id)
    assert len(load_session(keeper.path)) == 0
    keeper.close()


def test_the_user_is_told_once_per_study_the_crashed_run_saved(tmp_path):
    from medview.model.measurements import Length, PointProbe

    keeper, scene, _ = _keeper(tmp_path)
    keeper.open_study("1.2.3")
    scene.add(Length((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)))
    scene.add(PointProbe((1.0, 2.0, 3.0)))
    keeper.open_study("4.5.6")
    scene.add(PointProbe((1.0, 2.0, 3.0)))
    saved = keeper.path.stat().st_mtime
    os.utime(keeper.path.with_name("1.2.3.json"), (saved - 3600, saved - 3600))  # an hour ago
    keeper.close()  # (not cleanly, as far as the next start knows)

    after, again, told = _keeper(tmp_path, unclean_since=saved - 60)
    after.open_study("4.5.6")
    clock = time.strftime("%H:%M:%S", time.localtime(saved))
    assert told == [
        "medview was not closed properly last time; restored 1 measurement(s) of this "
        f"study, saved at {clock}."
    ]
    after.open_study("1.2.3")  # saved before the crashed run began: nothing was recovered
    after.open_study("4.5.6")  # told already
    assert len(told) == 1 and len(again) == 1
    after.close()


def test_nothing_is_said_after_a_clean_exit(tmp_path):
    from medview.model.measurements import PointProbe

    keeper, scene, _ = _keeper(tmp_path)
    keeper.open_study("1.2.3")
    scene.add(PointProbe((1.0, 2.0, 3.0)))
    keeper.close()
    after, again, told = _keeper(tmp_path, unclean_since=None)
    after.open_study("1.2.3")
    assert len(again) == 1 and told == []
    after.close()
