"""Issue 11, R5: hostile UIDs and DICOMDIR references never reach outside medview's roots.

A UID is header text, and medview names stored files after UIDs (PS3.5 9.1 allows only
digits and dots, but nothing enforces that in a received file). Datasets whose Study, Series
and SOP Instance UIDs are ``../../x``, absolute paths, or hold NULs and odd characters are
imported into the managed store (``import --copy``) and sent to medview's Storage SCP over
loopback by pynetdicom; a snapshot of the whole test tree before and after shows every new
file under the store (or the database beside it). DICOMDIR references with ``..`` are
followed by an import that records every ``open`` (audit hook, PEP 578) in a child process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pydicom
import pynetdicom
import pytest
from packaging.version import Version
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage

from medview.core.paths import app_dirs
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.net.inbox import Inbox
from medview.net.scp import StorageListener

from dicom_factory import write_slice

AUDIT_CHILD = Path(__file__).with_name("audit_opens.py")


def _hostile_uids(outside: Path) -> list[str]:
    return [
        "../../x",
        "../../../../../../../../tmp/medview-r5-escape",
        str(outside / "absolute-escape"),
        "1.2.3/../../../x",
        "..\\..\\x",
        "1.2.3\x00/../../x",
        "1.2.\u00e9/\x01\x7f\t*?",
        "CON",  # a reserved device name on Windows
        "." * 64,
        "9" * 300,
    ]


def _write_hostile(folder: Path, outside: Path) -> list[Path]:
    """One file per hostile UID, used as SOP, Series and Study Instance UID in turn."""
    folder.mkdir(parents=True)
    files = []
    with warnings.catch_warnings():  # pydicom warns that these are invalid UIs: the point
        warnings.simplefilter("ignore", UserWarning)
        for n, uid in enumerate(_hostile_uids(outside)):
            for role in ("sop", "series", "study"):
                path = folder / f"{n:02d}-{role}.dcm"
                write_slice(
                    path,
                    position=(0.0, 0.0, float(n)),
                    series_uid=uid if role == "series" else generate_uid(),
                    study_uid=uid if role == "study" else generate_uid(),
                    frame_uid=generate_uid(),
                    sop_uid=uid if role == "sop" else generate_uid(),
                )
                files.append(path)
    return files


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            try:
                stat = os.lstat(path)
            except OSError:
                continue
            found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def _changed(before: dict, after: dict) -> list[Path]:
    return [Path(p) for p, value in after.items() if before.get(p) != value]


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """The store root three levels deep, so ``../..`` stays inside the snapshot tree."""
    home = tmp_path / "a" / "b" / "c" / "home"
    monkeypatch.setenv("MEDVIEW_HOME", str(home))
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = Path("/tmp/medview-r5-escape")
    assert not escape.exists()
    return tmp_path, home, outside


def _assert_only_under(changed: list[Path], home: Path, store: Path) -> None:
    stray = [p for p in changed if not p.is_relative_to(home)]
    assert not stray, f"written outside MEDVIEW_HOME: {stray}"
    dicom = [p for p in changed if p.suffix == ".dcm"]
    assert dicom and all(p.is_relative_to(store) for p in dicom)
    assert not Path("/tmp/medview-r5-escape").exists()


def test_hostile_uids_imported_into_the_store_stay_inside_it(layout):
    root, home, outside = layout
    sources = _write_hostile(root / "source", outside)
    dirs = app_dirs()
    before = _snapshot(root)
    with StudyDatabase(dirs.database) as database:
        summary = import_paths([root / "source"], database, copy=True, dirs=dirs, workers=1)
    changed = _changed(before, _snapshot(root))
    stored = [p for p in changed if p.suffix == ".dcm"]
    print(f"R5 import: {len(sources)} hostile files, {summary.instances_added} added, "
          f"{len(stored)} stored, {len(changed)} files changed")  # fmt: skip
    _assert_only_under(changed, home, dirs.store)
    assert summary.instances_added >= len(sources) - 3  # "9"*300 etc. may repeat a UID
    assert len(stored) == summary.instances_added
    for path in stored:  # file and folder names are plain UIDs or hashes
        for part in path.relative_to(dirs.store).parts:
            assert part not in ("..", ".") and "\x00" not in part and "/" not in part


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_hostile_uids_received_by_the_storage_scp_stay_inside_the_store(layout, monkeypatch):
    root, home, outside = layout
    # pynetdicom refuses to *send* a UI over 64 characters; a hostile peer writes its own
    # PDUs. Switch its UI check off in this process (sender and receiver alike), so what
    # keeps the files in the store is medview's naming alone (medview/net/inbox.py).
    monkeypatch.setitem(pynetdicom._config.VALIDATORS, "UI", lambda value: (True, ""))
    sources = _write_hostile(root / "source", outside)
    dirs = app_dirs()
    port = _free_port()
    inbox = Inbox(dirs)
    before = _snapshot(root)
    statuses = []
    sent = 0
    with (
        StorageListener("MEDVIEW", port, inbox=inbox, bind="127.0.0.1"),
        warnings.catch_warnings(),  # pydicom warns about the invalid UIs as it encodes them
    ):
        warnings.simplefilter("ignore", UserWarning)
        sender = AE(ae_title="R5SENDER")
        sender.add_requested_context(CTImageStorage, "1.2.840.10008.1.2.1")
        association = sender.associate("127.0.0.1", port, ae_title="MEDVIEW")
        assert association.is_established
        for path in sources:
            ds = pydicom.dcmread(path)
            if ds["SOPInstanceUID"].VM > 1:  # "..\\..\\x": a C-STORE-RQ carries one UID
                continue
            status = association.send_c_store(ds)
            sent += 1
            statuses.append(status.Status if status else None)
        association.release()
    received = inbox.count
    with StudyDatabase(dirs.database) as database:
        summary = inbox.commit(database, dirs)
    changed = _changed(before, _snapshot(root))
    print(f"R5 SCP: {sent} sent, statuses {sorted(set(map(str, statuses)))}, "
          f"{received} received, {summary.instances_added} imported")  # fmt: skip
    _assert_only_under(changed, home, dirs.store)
    assert received == sent == summary.instances_added > 0


def test_dicomdir_references_with_dotdot_are_never_opened(tmp_path, monkeypatch):
    """Files a DICOMDIR names outside its folder are not read, let alone imported."""
    home = tmp_path / "home"
    monkeypatch.setenv("MEDVIEW_HOME", str(home))
    media = tmp_path / "media"
    shutil.copytree(Path(get_testdata_file("DICOMDIR")).parent, media)  # real files beside it
    secret = tmp_path / "secret"
    secret.mkdir()
    bait = write_slice(
        secret / "bait.dcm", position=(0.0, 0.0, 0.0), series_uid=generate_uid(),
        study_uid=generate_uid(), frame_uid=generate_uid(),
    )  # fmt: skip
    dicomdir = pydicom.dcmread(media / "DICOMDIR")
    records = [r for r in dicomdir.DirectoryRecordSequence if "ReferencedFileID" in r]
    hostile = [["..", "secret", "bait.dcm"], ["..", "..", "..", "..", "etc", "passwd"],
               [str(bait)], ["SUB", "..", "..", "secret", "bait.dcm"]]  # fmt: skip
    with warnings.catch_warnings():  # lower-case and ".." IDs are invalid CS: the attack
        warnings.simplefilter("ignore")
        for record, components in zip(records, hostile, strict=False):
            record.ReferencedFileID = components
        dicomdir.save_as(media / "DICOMDIR")
    result = subprocess.run(
        [sys.executable, str(AUDIT_CHILD), str(media / "DICOMDIR")],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    opened = [Path(p) for p in report["opened"]]
    outside = [
        p for p in opened
        if p.is_relative_to(tmp_path) and not p.is_relative_to(media)
        and not p.is_relative_to(home)
    ]  # fmt: skip
    print(f"R5 DICOMDIR: {len(opened)} files opened, {len(outside)} outside the media folder")
    # The hook saw the DICOMDIR and the files it rightly references being read ...
    assert Path(os.path.realpath(media / "DICOMDIR")) in opened
    assert report["added"] == len(records) - len(hostile) > 0
    # ... and nothing outside the media folder (the bait, /etc/passwd).
    assert not outside, outside
    assert Path("/etc/passwd") not in opened


def test_pydicom_has_the_dicomdir_traversal_fix():
    """pydicom 3.0.2 fixed a path-traversal CVE in FileSet's ReferencedFileID handling."""
    assert Version(pydicom.__version__) >= Version("3.0.2"), pydicom.__version__
