"""The user's folder and file names in log lines: pseudonyms (medview.core.phi_paths)."""

from __future__ import annotations

import logging
import os

import pytest

from medview.core.logging import PseudonymisingFormatter
from medview.core.paths import app_dirs
from medview.core.phi_paths import path_pseudonym, pseudonymise_paths, register_user_path


@pytest.fixture
def patient_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDVIEW_LOG_IDENTIFIERS", raising=False)
    folder = tmp_path / "exports" / "DOE JOHN_55501234"
    (folder / "CT 2").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "exports")
    register_user_path("DOE JOHN_55501234")  # as typed, relative
    return folder


def test_a_registered_folder_and_what_is_under_it_become_one_pseudonym(patient_folder):
    inside = patient_folder / "CT 2" / "IM 0001.dcm"
    text = f"{inside}: not a DICOM Part 10 file (no 'DICM' marker)"
    assert pseudonymise_paths(text) == (
        f"{path_pseudonym(inside)}: not a DICOM Part 10 file (no 'DICM' marker)"
    )
    # Quoted as typed (relative) or absolute, a folder gets the same pseudonym.
    relative = "no DICOM files found in DOE JOHN_55501234 (1 files looked at)"
    absolute = f"no DICOM files found in {patient_folder} (1 files looked at)"
    expected = f"no DICOM files found in {path_pseudonym(patient_folder)} (1 files looked at)"
    assert pseudonymise_paths(relative) == expected == pseudonymise_paths(absolute)
    # A path at the end of a sentence keeps its full stop outside the pseudonym.
    assert pseudonymise_paths(f"wrote {inside}.") == f"wrote {path_pseudonym(inside)}."
    assert "55501234" not in pseudonymise_paths(f"[{inside}, {patient_folder}]")


def test_longer_names_and_plain_mode_are_left_alone(patient_folder, monkeypatch):
    other = "DOE JOHN_555012345 and xDOE JOHN_55501234"  # longer names that contain it
    assert pseudonymise_paths(other) == other
    monkeypatch.setenv("MEDVIEW_LOG_IDENTIFIERS", "plain")
    assert pseudonymise_paths(str(patient_folder)) == str(patient_folder)


def test_short_names_and_medview_s_own_folders_are_not_registered(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    register_user_path("ct")  # would match the word "ct" in any line
    register_user_path(".")
    assert pseudonymise_paths("loaded ct series from . ok") == "loaded ct series from . ok"
    own = app_dirs().data / "sessions"
    register_user_path(own)
    assert pseudonymise_paths(f"saved {own}/x.json") == f"saved {own}/x.json"


def test_the_log_formatter_writes_paths_and_uids_as_pseudonyms(patient_folder):
    inside = patient_folder / "1.2.826.0.1.3680043.8.498.1.dcm"  # a UID as a file name
    record = logging.LogRecord(
        "medview", logging.WARNING, __file__, 1, "cannot read %s", (inside,), None
    )
    line = PseudonymisingFormatter("%(message)s").format(record)
    assert line == f"cannot read {path_pseudonym(inside)}"
    assert "55501234" not in line and "3680043" not in line
    assert os.sep not in line
