"""Issue 11, privacy: logs and audit trails hold no PHI beyond what the clinic configures.

A small synthetic CT study with distinctive PHI (name, ID, accession number, birth date,
description, UIDs) goes through the real command-line flow (import, info, run an AI plugin,
report) in subprocesses, with a damaged file beside it so the error paths log too. Every log
and audit file under MEDVIEW_HOME must then be free of those values; the audit lines carry
keyed pseudonyms (``h:...``) that the clinic, holding the key, can link to a UID. The study
and the output folders are named after the patient, so every log line that names a folder
or a file under it is checked too. With ``MEDVIEW_LOG_IDENTIFIERS=plain`` the UID and the
folder name do appear (the check can fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from medview.dicom.demo import write_demo_study

PATIENT_NAME = "Zyxwvut^Qponmlk"
PATIENT_ID = "PID-86753091"
ACCESSION = "ACC-31415926"
BIRTH_DATE = "19230405"
STUDY_DESCRIPTION = "Qwertzuiop chest"
SERIES_DESCRIPTION = "Plokijuh lung window"
ROOT = "1.2.826.0.1.3680043.8.498.86753091"
STUDY_UID = f"{ROOT}.1"
SERIES_UID = f"{ROOT}.2"
BROKEN_SERIES_UID = f"{ROOT}.9"
MISSING_SERIES_UID = f"{ROOT}.77"  # asked for, not there: the error message quotes it
SOP_PREFIX = f"{ROOT}.3."
PLUGIN = "medview.threshold-blobs"


def _phi_study(folder: Path, scratch: Path) -> list[str]:
    """The demo phantom (small) rewritten with our PHI; returns every SOP Instance UID."""
    demo = write_demo_study(scratch, seed=3, size=128, slices=64)
    folder.mkdir()
    sops = []
    for index, path in enumerate(demo.files):
        ds = pydicom.dcmread(path)
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.AccessionNumber = ACCESSION
        ds.PatientBirthDate = BIRTH_DATE
        ds.StudyDescription = STUDY_DESCRIPTION
        ds.SeriesDescription = SERIES_DESCRIPTION
        ds.StudyInstanceUID = STUDY_UID
        ds.SeriesInstanceUID = SERIES_UID
        sop = f"{SOP_PREFIX}{index + 1}"
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        sops.append(sop)
        ds.save_as(folder / f"im{index:03d}.dcm", enforce_file_format=True)
    # The error paths: a slice of another series whose pixel data is cut short, and a file
    # that is not DICOM beyond its preamble.
    ds = pydicom.dcmread(folder / "im000.dcm")
    ds.SeriesInstanceUID = BROKEN_SERIES_UID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{SOP_PREFIX}999"
    sops.append(f"{SOP_PREFIX}999")
    ds.save_as(folder / "broken.dcm", enforce_file_format=True)
    data = (folder / "broken.dcm").read_bytes()
    (folder / "broken.dcm").write_bytes(data[: len(data) - 5000])
    (folder / "garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f")
    return sops


# What the viewer does on open (medview.model.opening logs the series it opened).
OPEN_LIKE_THE_VIEWER = """
import sys
from medview.core.logging import setup_logging
from medview.model.opening import open_for_viewer
setup_logging()
open_for_viewer([sys.argv[1]])
"""


def _medview(home: Path, *args: str, plain: bool = False) -> subprocess.CompletedProcess:
    return _python(home, "-m", "medview", *args, plain=plain)


def _python(home: Path, *args: str, plain: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    env.pop("MEDVIEW_LOG_IDENTIFIERS", None)
    if plain:
        env["MEDVIEW_LOG_IDENTIFIERS"] = "plain"
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _trail_files(home: Path) -> list[Path]:
    """Every log or audit file medview wrote under ``home``."""
    return sorted(
        p for p in home.rglob("*") if p.is_file() and (".log" in p.name or p.suffix == ".jsonl")
    )


def _forbidden(sops: list[str]) -> list[str]:
    values = [PATIENT_NAME, PATIENT_ID, ACCESSION, BIRTH_DATE, STUDY_DESCRIPTION]
    values += [SERIES_DESCRIPTION, STUDY_UID, SERIES_UID, BROKEN_SERIES_UID, MISSING_SERIES_UID]
    values += sops
    values += ["Zyxwvut", "Qponmlk", "1923-04-05", "86753091", "31415926"]
    spelled = {v.replace("^", " ") for v in values} | set(values)
    return sorted(v.lower() for v in spelled)


def test_no_phi_in_logs_or_audit_trails(tmp_path, monkeypatch):
    home = tmp_path / "home"
    # Folders named after the patient, as PACS exports often are (one with a space): the log
    # names them, and every file under them, by a pseudonym.
    study = tmp_path / "Zyxwvut_Qponmlk_86753091"
    sops = _phi_study(study, tmp_path / "demo")
    out, report = tmp_path / "results PID-86753091", tmp_path / "report Zyxwvut"

    steps = [
        ("import", str(study)),
        ("info", str(study)),
        ("run", PLUGIN, str(study), "--out", str(out), "--device", "cpu"),
        ("report", str(study), "--results", str(out), "--out", str(report),
         "--format", "sr,json", "--reader", "Doe^Jane", "--finalize"),
    ]  # fmt: skip
    for step in steps:
        done = _medview(home, *step)
        assert done.returncode in (0, 3), (step, done.stderr)  # 3: some files unreadable
    # Error paths: a series that cannot load (truncated pixel data), one that is not there.
    for series in (BROKEN_SERIES_UID, MISSING_SERIES_UID):
        done = _medview(
            home, "run", PLUGIN, str(study), "--series", series, "--out", str(tmp_path / "x"),
        )  # fmt: skip
        assert done.returncode == 1, done.stderr
    assert MISSING_SERIES_UID in done.stderr  # the user is told which UID (not a log)
    done = _python(home, "-c", OPEN_LIKE_THE_VIEWER, str(study))
    assert done.returncode == 0, done.stderr
    assert (out / "result.json").is_file(), "the AI run must have produced a result"
    run_result = json.loads((out / "result.json").read_text())
    # result.json goes with the study, not into a log: it keeps the real UID.
    assert run_result["provenance"]["input_series_uid"] == SERIES_UID

    files = _trail_files(home)
    names = {p.name for p in files}
    assert "medview.log" in names and "audit.jsonl" in names, names
    forbidden = _forbidden(sops)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        leaked = [v for v in forbidden if v in text]
        assert not leaked, f"{path.relative_to(home)} holds PHI: {leaked}"

    # Linkable for the clinic: the pseudonyms are this installation's keyed hashes.
    monkeypatch.setenv("MEDVIEW_HOME", str(home))
    monkeypatch.delenv("MEDVIEW_LOG_IDENTIFIERS", raising=False)
    from medview.core.phi import identifier

    jobs = [json.loads(line) for line in (home / "data" / "audit.jsonl").read_text().splitlines()]
    assert jobs and all(j["input_series_uid"] == identifier(SERIES_UID) for j in jobs)
    assert all(j["input_study_uid"] == identifier(STUDY_UID) for j in jobs)
    assert identifier(SERIES_UID).startswith("h:") and len(identifier(SERIES_UID)) == 18
    assert jobs[0]["plugin_id"] == PLUGIN and jobs[0]["device"] == "cpu"  # not PHI: plain
    review = home / "data" / "review-audit.jsonl"
    if review.exists():
        decisions = [json.loads(line) for line in review.read_text().splitlines()]
        assert decisions
        for line in decisions:
            if line.get("study_uid"):
                assert line["study_uid"] == identifier(STUDY_UID)

    # The clinic may choose plain identifiers: then the UID is there (the check can fail).
    again = _medview(
        home, "run", PLUGIN, str(study), "--out", str(tmp_path / "again"), "--device", "cpu",
        plain=True,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    last = json.loads((home / "data" / "audit.jsonl").read_text().splitlines()[-1])
    assert last["input_series_uid"] == SERIES_UID
    missing = _medview(
        home, "run", PLUGIN, str(study), "--series", MISSING_SERIES_UID, "--out",
        str(tmp_path / "y"), plain=True,
    )  # fmt: skip
    assert missing.returncode == 1
    log_text = (home / "logs" / "medview.log").read_text()
    assert MISSING_SERIES_UID in log_text
    assert study.name in log_text  # plain mode writes folder names as they are


@pytest.mark.parametrize("value", ["", None])
def test_empty_identifier_stays_empty(value):
    from medview.core.phi import identifier

    assert identifier(value) == ""
