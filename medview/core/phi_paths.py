"""Folder and file names the user chose, as the log file writes them: pseudonyms by default.

Issue 11 (privacy). Exported studies often sit in folders named after the patient
(``DOE^JOHN_123456/CT``, a PACS export's default), and medview's log lines and error
messages name the folder or file they are about. :mod:`medview.core.phi` pseudonymises UIDs
wherever they appear; paths cannot be found that way in free text (any word may be a folder
name), so every path a user hands to medview is *registered* where it enters (the command
line, import, export) and the log file's formatter replaces each mention of it, and of
anything under it, with ``h:`` + a keyed hash of the absolute path. The same file always
gets the same pseudonym, whether a message quoted it as typed or absolute, and
``medview diagnostics --pseudonym PATH`` prints it, so a clinic can find a file's lines.

medview's own folders (data, settings, cache, logs) are not registered: what is under them
is named by UIDs, which the UID pass already covers. ``MEDVIEW_LOG_IDENTIFIERS=plain``
(:func:`medview.core.phi.identifiers_mode`) writes paths as they are.

No Qt, no torch: used by every layer.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from medview.core.phi import identifiers_mode, pseudonym

__all__ = ["path_pseudonym", "pseudonymise_paths", "register_user_path"]

#: Shorter forms are not registered: "." or "ct" would match ordinary words of a log line.
_MIN_FORM = 3
#: Where a path mentioned in a message ends: a line break, punctuation that our messages put
#: after a path, a quote or a bracket. ": " ends it too (checked separately).
_ENDS = set("\n\r,;'\"()[]{}<>")
#: Characters that may not come right before a registered form (it would be a longer word).
_GLUE = set("_-.") | set("/\\")

_lock = threading.Lock()
_forms: dict[str, str] = {}  # as it may appear in a message -> absolute path
_ordered: list[str] = []  # longest first, so a path wins over a folder above it


def _own_folders() -> list[str]:
    from medview.core.paths import app_dirs

    dirs = app_dirs()
    return [os.path.abspath(p) for p in (dirs.data, dirs.config, dirs.cache, dirs.logs)]


def register_user_path(path: str | os.PathLike[str]) -> None:
    """Remember ``path`` (a file or folder the user gave), so the log writes it, and every
    path under it, as a pseudonym. Cheap and idempotent; safe from any thread."""
    text = os.fspath(path)
    if not text:
        return
    absolute = os.path.abspath(os.path.expanduser(text))
    own = _own_folders()
    if any(absolute == o or absolute.startswith(o + os.sep) for o in own):
        return
    forms = {text, absolute}
    with contextlib.suppress(OSError, RuntimeError):
        forms.add(str(Path(absolute).resolve()))  # a symlinked folder, as errors may print it
    with _lock:
        changed = False
        for form in forms:
            trimmed = form.rstrip("/\\") or form
            if len(trimmed) < _MIN_FORM or trimmed in _forms:
                continue
            _forms[trimmed] = absolute.rstrip("/\\") or absolute
            changed = True
        if changed:
            _ordered[:] = sorted(_forms, key=len, reverse=True)


def path_pseudonym(path: str | os.PathLike[str]) -> str:
    """``h:`` + the keyed hash of ``path``'s absolute form (what the log file shows for it)."""
    return pseudonym(os.path.abspath(os.path.expanduser(os.fspath(path))))


def pseudonymise_paths(text: str) -> str:
    """``text`` with every mention of a registered path (or of a path under one) replaced by
    its pseudonym; as is in plain mode or when nothing is registered."""
    if not text or not _ordered or identifiers_mode() == "plain":
        return text
    with _lock:
        forms = list(_ordered)
    out: list[str] = []
    start = 0
    while True:
        found = _next_mention(text, start, forms)
        if found is None:
            out.append(text[start:])
            return "".join(out)
        begin, form = found
        end = _mention_end(text, begin + len(form))
        absolute = _forms[form] + text[begin + len(form) : end]
        out.append(text[start:begin])
        out.append(pseudonym(os.path.normpath(absolute)))
        start = end


def _next_mention(text: str, start: int, forms: list[str]) -> tuple[int, str] | None:
    """The earliest (then longest) registered form in ``text`` from ``start`` that stands on
    its own (not the tail of a longer name, not followed by more of a name)."""
    best: tuple[int, str] | None = None
    for form in forms:
        at = text.find(form, start)
        while at != -1:
            before = text[at - 1] if at > 0 else " "
            after_at = at + len(form)
            after = text[after_at] if after_at < len(text) else " "
            glued = before.isalnum() or before in _GLUE
            continues = after.isalnum() or after in "_-"
            if not glued and not continues:
                break
            at = text.find(form, at + 1)
        if at != -1 and (best is None or at < best[0]):
            best = (at, form)  # forms are longest first: an equal start keeps the longer
    return best


def _mention_end(text: str, index: int) -> int:
    """Where a path that reached ``index`` ends: a path under it goes on with a separator
    and runs to the next ending character or ``": "``; trailing spaces and dots are not
    part of it."""
    if index >= len(text) or text[index] not in "/\\":
        return index
    end = index
    while end < len(text):
        char = text[end]
        if char in _ENDS or (char == ":" and (end + 1 == len(text) or text[end + 1] == " ")):
            break
        end += 1
    while end > index and text[end - 1] in " .":
        end -= 1
    return end
