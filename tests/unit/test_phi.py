"""medview.core.phi: keyed pseudonyms of patient and study identifiers (issue 11, privacy)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from medview.core import phi
from medview.core.paths import app_dirs

UID = "1.2.826.0.1.3680043.8.498.12345"


@pytest.fixture(autouse=True)
def hashed(monkeypatch):
    monkeypatch.delenv(phi.MODE_ENV, raising=False)


def test_key_file_is_private_and_the_pseudonym_is_its_hmac():
    value = phi.pseudonym("PID-1")
    key_file = app_dirs().config / phi.KEY_FILE_NAME
    assert key_file.is_file()
    if os.name == "posix":
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    assert len(key) == 32
    expected = hmac.new(key, b"PID-1", hashlib.sha256).hexdigest()[:16]
    assert value == "h:" + expected


def test_same_value_same_pseudonym_other_value_other():
    assert phi.pseudonym(UID) == phi.pseudonym(UID)
    assert phi.pseudonym(UID) != phi.pseudonym(UID + "1")
    assert phi.identifier(UID) == phi.pseudonym(UID)


def test_other_installation_other_pseudonym(tmp_path, monkeypatch):
    here = phi.pseudonym(UID)
    monkeypatch.setenv("MEDVIEW_HOME", str(tmp_path / "other"))
    assert phi.pseudonym(UID) != here


def test_key_survives_the_process_cache(monkeypatch):
    first = phi.pseudonym(UID)
    monkeypatch.setattr(phi, "_keys", {})  # a new process: the key comes from the file
    assert phi.pseudonym(UID) == first


def test_unwritable_config_falls_back_to_a_process_key(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the home folder should be")
    monkeypatch.setenv("MEDVIEW_HOME", str(blocker))
    monkeypatch.setattr(phi, "_fallback_logged", False)
    with caplog.at_level("WARNING", logger="medview.core.phi"):
        value = phi.pseudonym(UID)
        assert phi.pseudonym(UID) == value  # stable for the process
    assert value.startswith("h:") and len(value) == 18
    assert sum("pseudonym key" in r.getMessage() for r in caplog.records) == 1


def test_plain_mode_and_empty(monkeypatch):
    assert phi.identifier("") == "" and phi.identifier(None) == ""
    monkeypatch.setenv(phi.MODE_ENV, "plain")
    assert phi.identifier(UID) == UID
    assert phi.pseudonymise_uids(f"series {UID} gone") == f"series {UID} gone"


def test_settings_choose_plain_when_the_environment_does_not(monkeypatch):
    settings = app_dirs().config / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('[privacy]\nlog_identifiers = "plain"\n')
    monkeypatch.setattr(phi, "_settings_mode", {})
    assert phi.identifier(UID) == UID
    monkeypatch.setenv(phi.MODE_ENV, "hashed")  # the environment wins
    assert phi.identifier(UID) == phi.pseudonym(UID)


def test_uids_in_free_text_are_pseudonymised():
    text = (
        f"no series with UID {UID}. SOP class 1.2.840.10008.5.1.4.1.1.2, "
        f"file /store/{UID}.3.dcm, torch 2.13.0, spacing 0.5 mm"
    )
    out = phi.pseudonymise_uids(text)
    assert UID not in out
    assert f"UID {phi.pseudonym(UID)}." in out
    assert f"/store/{phi.pseudonym(UID + '.3')}.dcm" in out
    assert "1.2.840.10008.5.1.4.1.1.2" in out  # the standard's own UIDs name no patient
    assert "torch 2.13.0" in out and "0.5 mm" in out


def test_audit_lines_carry_pseudonyms_the_record_keeps_the_uid(tmp_path):
    from medview.ai.audit import AuditLog

    log = AuditLog(tmp_path / "audit.jsonl")
    record = {
        "job_id": "abc123",
        "plugin_id": "medview.threshold-blobs",
        "input_series_uid": UID,
        "input_study_uid": "",
        "error": f"no series with UID {UID}",
        "versions": {"torch": "2.13.0"},
    }
    log.append(record)
    assert record["input_series_uid"] == UID  # the caller's record is not changed
    [line] = log.read()
    assert line["input_series_uid"] == phi.identifier(UID)
    assert line["input_study_uid"] == ""
    assert line["error"] == f"no series with UID {phi.identifier(UID)}"
    assert line["job_id"] == "abc123" and line["versions"] == {"torch": "2.13.0"}
    assert UID not in (tmp_path / "audit.jsonl").read_text()
