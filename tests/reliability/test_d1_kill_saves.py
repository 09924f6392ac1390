"""Issue 11, D1: kill -9 at 40 random points during report, SR, SEG or annotation saves.

A saving process (``rel_save_worker.py``, forked by a small server so each kill costs a fork,
not a Python start) saves version after version of the measurement session (the GUI's
annotation save), the report draft and a report export (SR, SEG, PDF, JSON), logging the
SHA-256 of every file it is about to write and when each write returned. It is killed with
SIGKILL 40 times at seeded random moments: half uniform over a measured save cycle (so they
fall wherever the time goes: building the SR, SEG and PDF, writing, fsync, rename), half
a random few milliseconds after a write began (so they land inside the writes). After each
kill every target must be absent (never saved yet) or byte-identical to a version that was
completely written (its last finished write, or the one in flight), and valid: the session
loads with ``load_session``, the SR and SEG read with pydicom (and pass ``dciodvfy``, for
a sample), the PDF starts with ``%PDF`` and ends with ``%%EOF``, the JSON parses. The
temp files the kills leave are swept at the next start (``medview import`` for medview's
folders, the next export for the export folder), and the sweep spares a live writer's.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest

from medview.app.cli import main
from medview.core import paths
from medview.core.sweep import (
    FRESH_S,
    MIN_AGE_S,
    complete_commits,
    sweep_app_dirs,
    sweep_folder,
)
from medview.model.measurements import load_session

KILLS = 40
SEED = 11
WORKER = Path(__file__).with_name("rel_save_worker.py")
ABSENT = "absent"
DCIODVFY = shutil.which("dciodvfy")  # dicom3tools
VERSION = re.compile(rb"version (\d+)")

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the save worker forks (POSIX)")


# -- the worker ----------------------------------------------------------------------------


class Worker:
    """The fork server of ``rel_save_worker.py``: one child per kill."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "MEDVIEW_HOME": str(root / "home")},
        )
        assert self._answer(300) == "ready"

    def _answer(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        assert ready, "the save worker did not answer"
        line = self.process.stdout.readline().strip()
        assert line, f"the save worker ended (exit {self.process.wait(10)})"
        return line

    def _ask(self, command: str, timeout: float = 60) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._answer(timeout)

    def run(self, first: int, count: int = 0) -> int:
        return int(self._ask(f"run {first} {count}").removeprefix("pid "))

    def wait(self, timeout: float = 120) -> int:
        return int(self._ask("wait", timeout).removeprefix("status "))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(30)


@dataclass(frozen=True)
class Event:
    t: float
    pid: int
    kind: str  # begin, end, intent, done
    version: int
    what: str  # begin/end: session, draft, report; intent/done: the target's relative path
    sha: str = ""


class EventLog:
    """``events.log``, read incrementally (the wait for a write to begin polls it often, and
    must not take the CPU from the child it is about to kill)."""

    def __init__(self, path: Path) -> None:
        self.path, self.events, self._offset = path, [], 0

    def read(self) -> list[Event]:
        size = self.path.stat().st_size if self.path.exists() else 0
        if size > self._offset:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read(size - self._offset)
            chunk = chunk[: chunk.rfind(b"\n") + 1]  # whole lines only
            self._offset += len(chunk)
            for line in chunk.decode().splitlines():
                t, pid, kind, version, what, *sha = line.split()
                self.events.append(Event(float(t), int(pid), kind, int(version), what, *sha))
        return self.events

    def of(self, pid: int) -> list[Event]:
        return [e for e in self.read() if e.pid == pid]


# -- checking the targets --------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ABSENT


def one_version(text: str) -> int:
    """The version a text names; all of its mentions must agree (no mixture)."""
    versions = {int(v) for v in VERSION.findall(text.encode())}
    assert len(versions) == 1, f"not one version: {sorted(versions)}"
    return versions.pop()


def content_version(path: Path) -> int | None:
    """Validate ``path`` as what its name says; the version its content names (None: SEG)."""
    name = path.name
    if path.parent.name == "sessions":
        scene = load_session(path)  # raises on a broken or half file
        assert len(scene) == 3
        return one_version(" ".join(m.label for m in scene))
    if path.parent.name == "report-drafts":
        return one_version(json.loads(path.read_text())["findings_text"])
    if name == "report.json":
        return one_version(json.dumps(json.loads(path.read_text())))
    if name == "report.pdf":
        data = path.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), name
        return None
    ds = pydicom.dcmread(path)  # the SR and the SEG: whole Part 10 files
    if name == "report-seg.dcm":
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and ds.pixel_array.any()
        return None
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    return one_version(ds.to_json())


def dciodvfy_errors(path: Path) -> list[str]:
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [x for x in (run.stdout + run.stderr).splitlines() if x.startswith("Error")]


def temp_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.part"))


@dataclass
class Ledger:
    """What each target may hold: its last completed write (or absent) and the one in flight."""

    root: Path
    committed: dict[str, str] = field(default_factory=dict)  # relpath -> sha256
    shas: dict[str, int] = field(default_factory=dict)  # sha256 -> version written with it

    def after_kill(self, events: list[Event]) -> tuple[dict[str, str], dict[str, str]]:
        """(pending, outcome) after the child that logged ``events`` died: the targets it
        was writing, and for every target whether it holds the previous content, the new
        one or nothing."""
        pending: dict[str, str] = {}
        for event in events:
            if event.kind == "intent":
                pending[event.what] = event.sha
                self.shas[event.sha] = event.version
            elif event.kind == "done":
                self.committed[event.what] = pending.pop(event.what)
        outcome = {}
        for relpath in {*self.committed, *pending}:
            target = self.root / relpath
            actual = sha256(target)
            previous = self.committed.get(relpath, ABSENT)
            allowed = {previous, pending.get(relpath, previous)}
            assert actual in allowed, f"{relpath}: neither the previous nor the new version"
            if actual != ABSENT:
                version = content_version(target)
                assert version in (None, self.shas[actual]), f"{relpath}: wrong version"
            outcome[relpath] = "previous" if actual == previous else "new"
            self.committed[relpath] = actual  # what is on disk is the next kill's previous
        return pending, outcome


def kill_at(worker: Worker, log: EventLog, first: int, plan: tuple[str, float]) -> tuple[int, int]:
    """Start a saving child, kill it per ``plan``; returns (pid, exit status)."""
    how, delay = plan
    pid = worker.run(first)
    if how != "uniform":  # wait until a write of that kind begins in this child
        deadline = time.monotonic() + 300
        while not any(e.kind == "intent" and how in e.what for e in log.of(pid)):
            assert time.monotonic() < deadline, f"no {how} write began"
            time.sleep(0.001)
    time.sleep(delay)
    os.kill(pid, 9)
    return pid, worker.wait()


def calibrate(worker: Worker, log: EventLog) -> tuple[float, float, float]:
    """(seconds per save cycle, per report commit, per session write), from the second of
    two complete cycles (the first warms caches up)."""
    pid = worker.run(1, 2)
    assert worker.wait() == 0
    events = log.of(pid)
    begins = [e.t for e in events if e.kind == "begin" and e.what == "session"]
    ends = [e.t for e in events if e.kind == "end" and e.what == "report"]
    intents = [e.t for e in events if e.kind == "intent" and e.what.endswith("report.json")]
    dones = [e.t for e in events if e.kind == "done" and e.what.startswith("report/")]
    session = [e.t for e in events if e.what.startswith("home/data/sessions/")]
    return ends[-1] - begins[-1], max(dones) - intents[-1], session[-1] - session[-2]


def kill_plans(
    rng: random.Random, cycle: float, commit: float, small: float
) -> list[tuple[str, float]]:
    """Half uniform over a cycle; half a moment after a session, draft or report write began
    (up to 1.2 times the length of that write as measured)."""
    plans = [("uniform", rng.uniform(0, cycle)) for _ in range(KILLS // 2)]
    for n in range(KILLS - len(plans)):
        kind = ("sessions/", "report-drafts/", "report/")[n % 3]
        longest = 1.2 * (commit if kind == "report/" else small)
        plans.append((kind, rng.uniform(0, longest)))
    rng.shuffle(plans)
    return plans


# -- the test --------------------------------------------------------------------------------


def test_kill_9_during_saves_leaves_whole_files_and_sweepable_temps(tmp_path, monkeypatch):
    started = time.monotonic()
    root = tmp_path
    log = EventLog(root / "events.log")
    home, report = root / "home", root / "report"
    monkeypatch.setenv("MEDVIEW_HOME", str(home))
    worker = Worker(root)
    ready = time.monotonic()
    try:
        cycle, commit, small = calibrate(worker, log)
        ledger = Ledger(root)
        ledger.after_kill(log.read())  # the calibration's complete versions 1 and 2
        rng = random.Random(SEED)
        landed, outcomes, saves, mixed, completed = Counter(), Counter(), Counter(), 0, 0
        seen: set[Path] = set()  # every temp file a kill left
        for number, plan in enumerate(kill_plans(rng, cycle, commit, small), start=1):
            first = max(e.version for e in log.read()) + 1
            pid, status = kill_at(worker, log, first, plan)
            assert status == -9, f"kill {number}: the child was not killed ({status})"
            pending, outcome = ledger.after_kill(log.of(pid))
            mine = [e for e in log.of(pid) if e.kind in ("begin", "end")]
            saves[mine[-1].what if mine and mine[-1].kind == "begin" else "between saves"] += 1
            where = _where(pending, outcome, root)
            landed[where] += 1
            print(f"kill {number:2d}: {plan[0]} +{1000 * plan[1]:.1f} ms: {where}")
            outcomes.update(outcome.values())
            seen.update(temp_files(home, report))
            touched = any(relpath.startswith("report/") for relpath in pending)
            mixed += touched and len(_report_versions(ledger, report)) > 1
            # What the next export does first: complete a commit the kill interrupted. Its
            # targets become exactly the killed export's files, and the folder holds one
            # version again (an SR never stays beside another export's SEG).
            for target in complete_commits(report):
                relpath = str(target.relative_to(root))
                assert sha256(target) == pending[relpath], f"kill {number}: {relpath}"
                ledger.committed[relpath] = pending[relpath]
                completed += 1
            assert len(_report_versions(ledger, report)) <= 1, f"kill {number}: mixed report"
            if number % 10 == 0 and DCIODVFY:  # a sample of the SRs and SEGs on disk
                for name in ("report-sr.dcm", "report-seg.dcm"):
                    assert dciodvfy_errors(report / name) == [], (number, name)
        killed = time.monotonic()
        swept_home = _next_start(worker, log, root)
        swept_report = len([p for p in seen if report in p.parents])
    finally:
        worker.close()
    print(
        f"\nD1: {KILLS} kills (seed {SEED}), save cycle {cycle:.2f} s, report commit "
        f"{1000 * commit:.1f} ms; killed during: {dict(saves)}; landed: {dict(landed)}; "
        f"targets after the kills: {dict(outcomes)}; report folder with files of two "
        f"versions after {mixed} kill(s), one version after the interrupted commit was "
        f"completed ({completed} file(s) rolled forward); temp files left by the kills: "
        f"{len(seen)}, swept at the "
        f"next start: {swept_home} in medview's folders, {swept_report} in the report folder "
        f"by the next export; "
        f"{time.monotonic() - started:.1f} s (worker start {ready - started:.1f} s, kills "
        f"{killed - ready:.1f} s)"
    )
    assert sum(landed.values()) == KILLS
    assert sum(n for where, n in landed.items() if where != "between writes") >= KILLS // 4
    assert outcomes["previous"] and outcomes["new"]
    assert seen and not [p for p in seen if p.exists()]
    assert swept_home + swept_report == len(seen)


def _report_versions(ledger: Ledger, report: Path) -> set[int]:
    """The export versions the report folder's files come from (the PDF names none)."""
    shas = (sha256(p) for p in report.glob("report*") if p.suffix != ".pdf")
    return {ledger.shas[sha] for sha in shas if sha in ledger.shas}


def _where(pending: dict[str, str], outcome: dict[str, str], root: Path) -> str:
    if not pending:
        return "between writes"
    replaced = sum(outcome[relpath] == "new" for relpath in pending)
    if replaced == len(pending):
        return "after the renames (folder fsync)"
    if replaced:
        return "inside the renames"  # some of the commit's targets replaced already
    if temp_files(*{(root / relpath).parent for relpath in pending}):
        return "writing the temp files (write, fsync)"
    return "inside a write: before its temp file"


def _next_start(worker: Worker, log: EventLog, root: Path) -> int:
    """The next start sweeps the leftovers: ``medview import`` (a command that writes into
    medview's folders) and each export the report folder (also during the kills: the next
    child's export swept the last one's). Returns the count swept in medview's folders."""
    home, report = root / "home", root / "report"
    targets = {p: sha256(p) for p in [*home.rglob("*.json"), *report.glob("report*")]}
    leftovers = temp_files(home, report)
    # An empty temp file may be a live writer's between mkstemp and flock: it waits FRESH_S.
    # The next start comes later than that; move the clock of those files instead of waiting.
    old = time.time() - FRESH_S - 1
    for path in leftovers:
        if path.stat().st_size == 0:
            os.utime(path, (old, old))
    assert main(["import", str(root / "ct")]) == 0  # sweeps home/ first
    assert temp_files(home) == []
    assert {p: sha256(p) for p in targets} == targets  # the sweep touched no target
    first = max(e.version for e in log.read()) + 1
    worker.run(first, 1)
    assert worker.wait() == 0
    assert temp_files(report) == []
    for path in report.glob("report*"):
        content_version(path)
    return len([p for p in leftovers if home in p.parents])


# -- the sweep itself ------------------------------------------------------------------------


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_sweep_spares_a_live_writers_temp_file_and_removes_a_dead_ones(tmp_path):
    target = tmp_path / "report.json"
    fd, tmp, _ = paths._write_temp(target, b"{}")  # a live writer, before its rename
    _age(Path(tmp), 10 * MIN_AGE_S)
    try:
        assert sweep_folder(tmp_path) == [] and Path(tmp).exists()
    finally:
        os.close(fd)  # what a SIGKILL does to the writer's lock
    assert sweep_folder(tmp_path) == [Path(tmp)]


def test_sweep_goes_by_age_for_unlocked_kinds_and_leaves_other_files(tmp_path):
    demo_temp = tmp_path / ".CT0001.dcm.part"  # the demo writer's, written without a lock
    empty = tmp_path / ".report.pdf.abcd1234.part"  # maybe between mkstemp and flock
    users = [tmp_path / "notes.part", tmp_path / "report.pdf", tmp_path / ".hidden"]
    for path in [demo_temp, empty, *users]:
        path.write_bytes(b"" if path == empty else b"x")
    assert sweep_folder(tmp_path) == []  # all fresh
    _age(demo_temp, MIN_AGE_S + 1)
    _age(empty, FRESH_S + 1)
    assert sorted(sweep_folder(tmp_path)) == sorted([demo_temp, empty])
    assert all(p.exists() for p in users)


def test_startup_sweep_covers_medview_folders_but_not_plugins(tmp_path):
    dirs = paths.AppDirs(tmp_path / "d", tmp_path / "c", tmp_path / "k", tmp_path / "l").ensure()
    dead = [
        dirs.data / "sessions" / ".1.2.json.abcd1234.part",
        dirs.data / "report-drafts" / ".1.2.json.abcd1234.part",
        dirs.store / "1.2" / "1.3" / "1.4.part",  # the importer's copy, no lock: by age
        dirs.config / ".settings.toml.abcd1234.part",
        dirs.cache / "thumbnails" / ".x.npy.abcd1234.part",
    ]
    plugin = dirs.plugins / "mine" / ".weights.bin.abcd1234.part"
    for path in [*dead, plugin]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        _age(path, MIN_AGE_S + 1)
    assert sorted(sweep_app_dirs(dirs)) == sorted(dead)
    assert plugin.exists()


def test_a_derived_series_write_removes_its_killed_predecessors_staging_folder(tmp_path):
    import numpy as np

    from medview.dicom.writer import write_derived_series
    from medview.imaging.volume import Volume

    killed = tmp_path / ".series.abcd1234.partial"  # what a kill during the write leaves
    running = tmp_path / ".series.efgh5678.partial"  # another medview's write in progress
    other = tmp_path / ".notes.abcd1234.partial"  # not this target's: left alone
    for folder in (killed, running, other):
        folder.mkdir()
        (folder / "IM00001.dcm").write_bytes(b"x")
    _age(killed, MIN_AGE_S + 1)
    _age(other, MIN_AGE_S + 1)
    volume = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), (1.0, 1.0, 2.0))
    series = write_derived_series(volume, tmp_path / "series")
    assert len(series.files) == 2
    assert not killed.exists() and running.exists() and other.exists()


def test_an_interrupted_multi_file_commit_is_completed_unless_its_writer_lives(tmp_path):
    from medview.core import paths

    targets = [tmp_path / "report-sr.dcm", tmp_path / "report-seg.dcm"]
    for target in targets:
        target.write_bytes(b"old " + target.name.encode())
    # A writer between its journal and its renames: temp files whole, fsynced and locked.
    staged = [paths._write_temp(t, b"new " + t.name.encode()) for t in targets]
    journal = paths._write_journal([(Path(tmp), target) for _fd, tmp, target in staged])
    assert complete_commits(tmp_path) == [] and journal.exists()  # alive: left to it
    for fd, _tmp, _target in staged:
        os.close(fd)  # the writer dies: the kernel drops its locks
    assert sorted(complete_commits(tmp_path)) == sorted(targets)
    assert [t.read_bytes() for t in targets] == [b"new " + t.name.encode() for t in targets]
    assert not journal.exists() and temp_files(tmp_path) == []
