"""Logging set-up: a rotating log file under the log directory, quiet console.

Tracebacks belong in the log file, not in front of the user (ARCHITECTURE.md, rule 5).

The log file holds no patient identifiers beyond what the clinic configures (issue 11,
privacy; :mod:`medview.core.phi`): call sites log study and series UIDs through
:func:`~medview.core.phi.identifier` and never log names, IDs, accession numbers, birth dates
or descriptions; as a safety net, the file's formatter replaces any DICOM UID left in a line
(an exception message, a library warning, a traceback) by its pseudonym.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from medview.core.paths import app_dirs
from medview.core.phi import pseudonymise_uids
from medview.core.phi_paths import pseudonymise_paths

LOG_FILE_NAME = "medview.log"
_configured = False


class PseudonymisingFormatter(logging.Formatter):
    """A formatter whose lines (message and traceback) carry UIDs and the user's folder and
    file names as pseudonyms (paths first: a path may hold a UID)."""

    def format(self, record: logging.LogRecord) -> str:
        return pseudonymise_uids(pseudonymise_paths(super().format(record)))


def setup_logging(level: int = logging.INFO, console: bool = False) -> Path:
    """Install the rotating file handler once per process and return the log file path.

    The console gets nothing by default: the CLI and GUI say what matters in their own words
    (one line, no traceback); ``console=True`` (``--verbose``) mirrors the log to stderr.
    """
    global _configured
    dirs = app_dirs()
    log_path = dirs.logs / LOG_FILE_NAME
    if _configured:
        return log_path
    dirs.logs.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("medview")
    root.setLevel(level)
    file_handler = logging.handlers.RotatingFileHandler(
        log_path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(
        PseudonymisingFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(file_handler)
    if console:
        mirror = logging.StreamHandler()
        mirror.setFormatter(PseudonymisingFormatter("medview: %(levelname)s %(name)s: %(message)s"))
        root.addHandler(mirror)
    root.propagate = False
    # Library chatter (pydicom's validation warnings, Python warnings) belongs in the log
    # file, not on the user's terminal: medview reports what matters in its own words.
    logging.captureWarnings(True)
    for name in ("pydicom", "pynetdicom", "py.warnings"):
        library = logging.getLogger(name)
        library.addHandler(file_handler)
        library.propagate = False
    _configured = True
    return log_path


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("medview") else f"medview.{name}")
