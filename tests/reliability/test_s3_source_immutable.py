"""Issue 11, S3: the source DICOM is never written.

A demo CT is copied, made read-only (``chmod -R a-w``; the tests run as root, which ignores
modes, so every file and folder is also made immutable with ``chattr +i`` where the file
system allows it), and put through the whole flow in process, as the CLI runs it: import
(referenced and ``--copy``), load as the viewer does (``info --load`` and the viewer's
open path), an AI plugin run, a report, and de-identified exports (Basic Profile, and with
Modified Dates + Clean Descriptors). The SHA-256, size and mtime of every file, and the list
of files, are identical before and after; the exports resolve their references to the
de-identified copies under ``images/``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest

from medview.app.cli import main
from medview.dicom.demo import write_demo_study

PLUGIN = "medview.threshold-blobs"


def _snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    return {
        str(p.relative_to(root)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_size,
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _chattr(root: Path, flag: str) -> bool:
    try:
        run = subprocess.run(["chattr", "-R", flag, str(root)], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return run.returncode == 0


@pytest.fixture
def read_only_study(tmp_path):
    written = write_demo_study(
        tmp_path / "written", seed=3, size=64, slices=64
    )  # spacing the plugin accepts
    source = tmp_path / "source"
    shutil.copytree(written.directory, source)
    for path in [source, *source.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)  # chmod -R a-w
    immutable = _chattr(source, "+i")
    yield source, immutable
    _chattr(source, "-i")
    for path in [source, *source.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _medview(home: Path, *args: str) -> int:
    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(home)
    try:
        return main(list(args))
    finally:
        if old is None:
            os.environ.pop("MEDVIEW_HOME", None)
        else:
            os.environ["MEDVIEW_HOME"] = old


def test_import_view_ai_report_and_anonymised_export_leave_the_source_identical(
    read_only_study, tmp_path, capsys
):
    source, immutable = read_only_study
    before = _snapshot(source)
    assert len([n for n in before if n.endswith(".dcm")]) == 64  # + the demo's marker files
    if immutable:  # as root, modes alone do not stop a write: the flag does
        with pytest.raises(OSError):
            (source / "probe").write_text("x")
        with pytest.raises(OSError), open(next(source.rglob("*.dcm")), "ab") as handle:
            handle.write(b"x")
    home, results = tmp_path / "home", tmp_path / "results"
    steps = [
        ("import", str(source)),
        ("import", "--copy", str(source)),
        ("info", "--load", str(source)),
        ("run", PLUGIN, str(source), "--out", str(results), "--device", "cpu"),
        ("report", str(source), "--results", str(results), "--out", str(tmp_path / "plain"),
         "--reader", "Doe^Jane", "--format", "sr,pdf"),
        ("report", str(source), "--results", str(results), "--out", str(tmp_path / "anon"),
         "--reader", "Doe^Jane", "--finalize", "--anonymize", "--format", "sr,seg,json"),
        ("report", str(source), "--results", str(results), "--out", str(tmp_path / "anon2"),
         "--anonymize", "--retain-dates", "modified", "--clean-descriptors", "--format", "json"),
    ]  # fmt: skip
    for step in steps:
        assert _medview(home, *step) == 0, step
    # the viewer's own open path (medview view / the GUI): import, choose, load
    from medview.dicom.loader import load_candidate
    from medview.model.opening import import_and_choose

    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(home)
    try:
        volume = load_candidate(import_and_choose(source, ""))
    finally:
        os.environ.pop("MEDVIEW_HOME", None) if old is None else os.environ.update(MEDVIEW_HOME=old)
    assert volume.array.shape[0] == 64
    after = _snapshot(source)
    assert after == before
    with capsys.disabled():
        print(f"\nS3 {len(before)} source files, SHA-256 identical after {len(steps) + 1} "
              f"steps; immutable flag used: {immutable}")  # fmt: skip
    images = sorted((tmp_path / "anon" / "images").glob("*.dcm"))
    assert len(images) == 64
    sop_uids = {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in images}
    originals = {str(pydicom.dcmread(source / n, stop_before_pixels=True).SOPInstanceUID)
                 for n in before if n.endswith(".dcm")}  # fmt: skip
    assert not sop_uids & originals
    seg = pydicom.dcmread(tmp_path / "anon" / "report-seg.dcm")
    referenced = {
        str(item.ReferencedSOPInstanceUID)
        for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced and referenced <= sop_uids
