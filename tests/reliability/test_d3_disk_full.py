"""Issue 11, D3: a full disk or a read-only destination during an export.

The destination is a small tmpfs (``mount -t tmpfs -o size=...``), filled up after a first
export so the next one runs out of space part way, or remounted read-only. Covered: the
``medview report`` CLI (SR, SEG, PDF, JSON) as a subprocess, the derived-series writer and
the measurement session save (the GUI's annotation save). Each must fail with a clear error
that names the destination, leave the previous files byte-identical, and leave neither a
0-byte file nor a temp file behind. Needs root (or CAP_SYS_ADMIN) to mount; skipped without.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from medview.app.cli import main
from medview.core.errors import MedviewError
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.writer import write_derived_series
from medview.model.measurements import Length, MeasurementScene, save_session, session_path

PLUGIN = "medview.threshold-blobs"
FORMATS = "sr,seg,pdf,json"
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"
READ_ONLY = os.strerror(errno.EROFS)  # "Read-only file system"
PAGE = 4096


# -- a small file system -----------------------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return subprocess.CompletedProcess(["mount"], 1, "", "no mount command")


@contextmanager
def tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` at ``path`` (unmounted afterwards); skips when mounting is not
    allowed (not root, no CAP_SYS_ADMIN: a container without privileges)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if mounted.returncode != 0:
        pytest.skip(f"D3 needs to mount a tmpfs (root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def read_only(path: Path) -> None:
    assert _mount("-o", "remount,ro", str(path)).returncode == 0


def fill(mount: Path, pages: int = 0) -> None:
    """Fill the file system, then free ``pages`` pages of 4 KiB (tmpfs allocates whole pages):
    the next writer runs out part way."""
    chunk = b"\0" * 65536
    filler = mount / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    if pages:
        whole = filler.stat().st_size // PAGE * PAGE
        os.truncate(filler, max(0, whole - pages * PAGE))


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "filler"
    }


def assert_clean(folder: Path) -> None:
    """No 0-byte file, no temp file, no staging folder left anywhere under ``folder``."""
    everything = list(folder.rglob("*"))
    assert not [p for p in everything if p.is_file() and p.stat().st_size == 0]
    assert not [p for p in everything if p.name.endswith((".part", ".partial"))]


# -- the study and its AI results ------------------------------------------------------------


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("d3")
    demo = write_demo_study(root / "ct", seed=3, size=64, slices=64)  # the plugin's spacing
    home, results = root / "home", root / "results"
    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(home)
    try:
        args = ["run", PLUGIN, str(demo.directory), "--out", str(results), "--device", "cpu"]
        assert main(args) == 0
    finally:
        os.environ.pop("MEDVIEW_HOME") if old is None else os.environ.update(MEDVIEW_HOME=old)
    return SimpleNamespace(directory=demo.directory, results=results, home=home, root=root)


def medview_report(study: SimpleNamespace, out: Path, impression: str):
    """``python -m medview report ...`` as a user runs it; the CompletedProcess."""
    command = [sys.executable, "-m", "medview", "report", str(study.directory),
               "--results", str(study.results), "--out", str(out), "--reader", "Doe^Jane",
               "--format", FORMATS, "--impression", impression]  # fmt: skip
    env = {**os.environ, "MEDVIEW_HOME": str(study.home)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def assert_one_line_error(run: subprocess.CompletedProcess, out: Path, reason: str) -> str:
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr  # one sentence, no traceback
    assert str(out) in lines[0] and reason in lines[0] and "Traceback" not in run.stderr
    return lines[0]


# -- medview report ----------------------------------------------------------------------------


@pytest.mark.parametrize("problem", ["disk full", "read-only"])
def test_report_export_fails_cleanly_and_keeps_the_previous_report(study, tmp_path, problem):
    with tmpfs(tmp_path / "dest", "4m") as dest:
        out = dest / "report"
        first = medview_report(study, out, "first")
        assert first.returncode == 0, first.stderr
        before = snapshot(out)
        assert set(before) == {"report-sr.dcm", "report-seg.dcm", "report.pdf", "report.json"}
        if problem == "disk full":
            # Room for the new SEG (written first) but not for the SR after it: the export
            # fails part way, and the new SEG must not have replaced the old one.
            seg_pages = -(-(out / "report-seg.dcm").stat().st_size // PAGE)
            assert (out / "report-sr.dcm").stat().st_size > 2 * PAGE
            fill(dest, pages=seg_pages)
        else:
            read_only(dest)
        second = medview_report(study, out, "second")
        message = assert_one_line_error(
            second, out, NO_SPACE if problem == "disk full" else READ_ONLY
        )
        assert snapshot(out) == before  # all four files byte-identical
        assert_clean(dest)
    print(f"\nD3 medview report, {problem}: exit {second.returncode}: {message}")


# -- the derived-series writer -----------------------------------------------------------------


@pytest.fixture(scope="module")
def volume(study):
    from medview.dicom.loader import load_candidate
    from medview.model.opening import import_and_choose

    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(study.home)
    try:
        return load_candidate(import_and_choose(study.directory, ""))
    finally:
        os.environ.pop("MEDVIEW_HOME") if old is None else os.environ.update(MEDVIEW_HOME=old)


@pytest.mark.parametrize("problem", ["disk full", "read-only"])
def test_derived_series_fails_cleanly_and_keeps_the_previous_series(volume, tmp_path, problem):
    # 64 slices of 64 x 64 x 2 bytes: about 560 KB a series.
    with tmpfs(tmp_path / "dest", "1m") as dest:
        first = write_derived_series(volume, dest / "first", description="first")
        before = snapshot(dest)
        assert len(before) == 64
        if problem == "read-only":
            read_only(dest)
        with pytest.raises(MedviewError) as raised:
            # disk full: the second series does not fit beside the first
            write_derived_series(volume, dest / "second", description="second")
        reason = NO_SPACE if problem == "disk full" else READ_ONLY
        message = str(raised.value)
        assert raised.value.path == dest / "second" and reason in message
        assert "\n" not in message and "Traceback" not in message  # one sentence
        assert snapshot(dest) == before and first.directory.is_dir()
        assert not (dest / "second").exists()
        assert_clean(dest)
    print(f"\nD3 derived series, {problem}: {raised.value}")


# -- the measurement session (the GUI's annotation save) ---------------------------------------


def _scene(label: str) -> MeasurementScene:
    return MeasurementScene([Length((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), label=label * 200)])


@pytest.mark.parametrize("problem", ["disk full", "read-only"])
def test_session_save_fails_cleanly_and_keeps_the_previous_session(tmp_path, monkeypatch, problem):
    with tmpfs(tmp_path / "home", "256k") as home:
        monkeypatch.setenv("MEDVIEW_HOME", str(home))
        path = session_path(app_dirs(), "1.2.3")
        save_session(path, _scene("first "))
        before = path.read_bytes()
        if problem == "disk full":
            fill(home)  # not one page left for the new session
        else:
            read_only(home)
        with pytest.raises(OSError) as raised:
            save_session(path, _scene("second "))
        # SessionKeeper.flush reports err.strerror to the reader; it must say what happened.
        expected = errno.ENOSPC if problem == "disk full" else errno.EROFS
        assert raised.value.errno == expected and raised.value.strerror == os.strerror(expected)
        assert path.read_bytes() == before
        assert_clean(home)
    print(f"\nD3 session save, {problem}: OSError {raised.value.strerror}")
