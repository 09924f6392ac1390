"""Patient identifiers in logs and audit trails: pseudonyms unless the clinic says otherwise.

Issue 11 (privacy): the log files and the audit trails never carry PHI beyond what the clinic
configures. HIPAA's Safe Harbor list (45 CFR 164.514(b)(2)(i)) names, among others, names,
medical record numbers, accession and any other unique identifying numbers (a Study or
Series Instance UID is one), and all dates directly related to the patient. Logs and audit
files travel further than the images do (support tickets, bug reports, a shared drive), so
by default every such value is written as a keyed hash: ``h:`` + the first 16 hex digits of
HMAC-SHA256(key, value). The clinic, which holds the key (a random 32-byte secret in the
config folder, created on first use with owner-only permissions), can still link entries:
the same UID always gives the same pseudonym, and it can hash a UID it is looking for. A
plain SHA-256 would not do: UIDs and MRNs are guessable enough to be found by brute force,
and whoever gets the log does not have the key.

The mode is a clinic setting: the environment variable ``MEDVIEW_LOG_IDENTIFIERS``
(``hashed``, the default, or ``plain``) or, when that is not set, ``log_identifiers`` in
the ``[privacy]`` table of ``<config dir>/settings.toml``. ``plain`` writes the values as
they are (a clinic whose logs stay inside its own walls may prefer readable UIDs).

No Qt, no torch: used by every layer (ARCHITECTURE.md, layering).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from pathlib import Path

from medview.core.paths import app_dirs, atomic_write_bytes

__all__ = [
    "KEY_FILE_NAME",
    "MODE_ENV",
    "identifier",
    "identifiers_mode",
    "pseudonym",
    "pseudonymise_uids",
]

log = logging.getLogger("medview.core.phi")

#: The environment variable that chooses the mode: "hashed" (default) or "plain".
MODE_ENV = "MEDVIEW_LOG_IDENTIFIERS"
MODES = ("hashed", "plain")
#: The per-installation secret, in the config folder (honours ``MEDVIEW_HOME``).
KEY_FILE_NAME = "log-pseudonym.key"
KEY_BYTES = 32
PREFIX = "h:"

_lock = threading.Lock()
_keys: dict[Path, bytes] = {}  # key file -> key, per process (MEDVIEW_HOME may change in tests)
_settings_mode: dict[Path, str] = {}
_fallback_logged = False


def _key() -> bytes:
    """This installation's key: read, or created on first use (0600, atomically)."""
    path = app_dirs().config / KEY_FILE_NAME
    with _lock:
        key = _keys.get(path)
        if key is not None:
            return key
        problem = ""
        try:
            key = path.read_bytes()
            if len(key) != KEY_BYTES:
                raise ValueError(f"{path} holds {len(key)} bytes, not {KEY_BYTES}")
        except FileNotFoundError:
            try:
                _create_key_file(path, secrets.token_bytes(KEY_BYTES))
                key = path.read_bytes()  # another process may have won the race: its key
                if len(key) != KEY_BYTES:
                    raise OSError(f"{path} holds {len(key)} bytes after writing")
            except OSError as exc:
                problem = f"cannot write the pseudonym key {path} ({exc})"
        except (OSError, ValueError) as exc:
            # An unreadable or damaged key is not replaced: the pseudonyms already written
            # would no longer link. This process uses a key of its own and says so.
            problem = f"cannot use the pseudonym key ({exc})"
        if problem:
            key = secrets.token_bytes(KEY_BYTES)
        _keys[path] = key
    # Logged outside the lock: the log file's formatter pseudonymises UIDs through _key().
    if problem:
        _warn_once(problem)
    return key


def _warn_once(problem: str) -> None:
    global _fallback_logged
    if not _fallback_logged:
        _fallback_logged = True
        log.warning("%s: this process pseudonymises with a key of its own", problem)


def _create_key_file(path: Path, key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old_umask = os.umask(0o077)  # the temp file is created 0600 already (mkstemp); belt and braces
    try:
        if path.exists():  # created by another process meanwhile: keep it
            return
        atomic_write_bytes(path, key)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)


def pseudonym(value: str) -> str:
    """``h:`` + the first 16 hex digits of HMAC-SHA256(installation key, ``value``)."""
    digest = hmac.new(_key(), str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:16]


def identifiers_mode() -> str:
    """ "hashed" or "plain": the environment variable, else ``[privacy] log_identifiers``."""
    chosen = os.environ.get(MODE_ENV, "").strip().lower()
    if chosen in MODES:
        return chosen
    return _mode_from_settings()


def _mode_from_settings() -> str:
    path = app_dirs().config / "settings.toml"
    with _lock:
        cached = _settings_mode.get(path)
    if cached is not None:
        return cached
    mode = "hashed"
    try:
        import tomllib

        privacy = tomllib.loads(path.read_text(encoding="utf-8")).get("privacy", {})
        value = str(privacy.get("log_identifiers", "")).strip().lower()
        if value in MODES:
            mode = value
    except (OSError, ValueError, AttributeError, ImportError):
        pass  # no settings (or unreadable ones): the safe default
    with _lock:
        _settings_mode[path] = mode
    return mode


def identifier(value: object) -> str:
    """``value`` as a log or audit trail may hold it: its pseudonym, or itself in plain mode.

    Empty (or None) stays "".
    """
    if value is None:
        return ""
    text = str(value)
    if not text:
        return ""
    if identifiers_mode() == "plain":
        return text
    return pseudonym(text)


# A DICOM UID (PS3.5 9.1: digit components joined by dots, no leading zeros) of at least four
# components, not inside a longer word or number. The DICOM standard's own UIDs (transfer
# syntaxes, SOP classes: 1.2.840.10008.*) name no patient and stay readable.
_UID = re.compile(r"(?<![\w.])[0-2](?:\.(?:0|[1-9][0-9]*)){3,}(?!\w|\.[0-9])")
_STANDARD_ROOT = "1.2.840.10008."


def pseudonymise_uids(text: str) -> str:
    """``text`` with every DICOM UID in it replaced by :func:`identifier` (plain mode: as is).

    The log file's safety net (:mod:`medview.core.logging`): exception messages and library
    warnings may quote a Study, Series or SOP Instance UID that no call site chose to log.
    """
    if identifiers_mode() == "plain" or not text:
        return text

    def swap(match: re.Match[str]) -> str:
        uid = match.group(0)
        return uid if uid.startswith(_STANDARD_ROOT) else pseudonym(uid)

    return _UID.sub(swap, text)
