"""The report text a reader is writing, kept per study until the next start (issue 8).

The free-text findings and impression of the report panel are saved to
``<data>/report-drafts/<StudyInstanceUID>.json`` (the same file naming as the measurement
sessions, :func:`~medview.model.measurements.session_path`), atomically, so a reader who
closes medview (or loses it) finds the text again when the study is opened. The measurement
session file is not reused: its schema belongs to the measurement scene. Qt-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from medview.core.paths import AppDirs, atomic_write_text
from medview.model.measurements import session_path

__all__ = ["ReportDraft", "draft_path", "load_draft", "save_draft"]

DRAFT_FORMAT = "medview.report-draft"


@dataclass(frozen=True)
class ReportDraft:
    findings_text: str = ""
    impression: str = ""

    @property
    def empty(self) -> bool:
        return not (self.findings_text.strip() or self.impression.strip())


def draft_path(dirs: AppDirs, study_uid: str) -> Path:
    """``<data>/report-drafts/<uid>.json``; ValueError without a study UID."""
    return dirs.data / "report-drafts" / session_path(dirs, study_uid).name


def load_draft(path: Path) -> ReportDraft:
    """The draft saved at ``path``; an empty one when there is none or it is unreadable
    (a lost draft is text to type again, not a reason to stop the reader)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ReportDraft()
    if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
        return ReportDraft()
    return ReportDraft(str(data.get("findings_text") or ""), str(data.get("impression") or ""))


def save_draft(path: Path, draft: ReportDraft) -> None:
    """Write ``draft`` atomically (an empty draft removes the file). Raises OSError."""
    if draft.empty:
        path.unlink(missing_ok=True)
        return
    document = {
        "format": DRAFT_FORMAT,
        "schema_version": 1,
        "findings_text": draft.findings_text,
        "impression": draft.impression,
    }
    atomic_write_text(path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")
