"""A font file for text VTK cannot draw with its built-in fonts (issue 3: CJK patient names).

VTK's text actors use FreeType with three embedded Latin fonts (Arial, Courier, Times): a
Chinese, Japanese or Korean patient name comes out as empty boxes. A text property can point
at a font file instead (``VTK_FONT_FILE``), so we look for one that covers CJK: the file named
by ``MEDVIEW_CJK_FONT``, then the one medview installs (:mod:`medview.core.fonts`), then a
font fontconfig lists as covering Chinese, then well-known system files
(Windows, macOS, Debian/Ubuntu). Qt widgets do not need this: Qt finds fallback fonts itself.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from vtkmodules.vtkRenderingCore import vtkTextActor

from medview.core.fonts import bundled_cjk_font
from medview.core.logging import get_logger

_log = get_logger(__name__)

VTK_FONT_FILE = 4  # vtkTextProperty font family "from a file" (vtkSystemIncludes.h)

_KNOWN_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
)


def needs_fallback(text: str) -> bool:
    """True when ``text`` has characters beyond Latin, Greek and Cyrillic (e.g. CJK, kana)."""
    return any(ord(char) >= 0x2E80 for char in text)


@functools.cache
def cjk_font_file() -> str:
    """Path of a font file covering CJK, or "" when none is found (then boxes, no crash)."""
    shipped = bundled_cjk_font()  # MEDVIEW_CJK_FONT, else the font medview installs
    if shipped is not None:
        return str(shipped)
    # fc-list, not fc-match: fc-match always answers with its best font, covering or not.
    # One text actor has one font, and a name line holds Latin too (the patient ID), so a font
    # covering both comes first: Droid Sans Fallback, for one, has no Latin letters at all.
    for pattern in (":lang=zh:lang=en", ":lang=zh"):
        for path in _fontconfig_files(pattern):
            return path
    for candidate in _KNOWN_FILES:
        if Path(candidate).is_file():
            return candidate
    _log.info("no CJK font file found: CJK text in the image views will not render")
    return ""


def _fontconfig_files(pattern: str) -> list[str]:
    # fc-list, not fc-match: fc-match always answers with its best font, covering or not.
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        listed = subprocess.run(
            [fc_list, pattern, "file"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return []
    files = sorted(line.strip().rstrip(":").strip() for line in listed if line.strip())
    return [path for path in files if Path(path).is_file()]


def set_text(actor: vtkTextActor, text: str) -> None:
    """Set ``actor``'s text, switching to the CJK font file when the text needs it."""
    prop = actor.GetTextProperty()
    font = cjk_font_file() if needs_fallback(text) else ""
    if font:
        prop.SetFontFamily(VTK_FONT_FILE)
        prop.SetFontFile(font)
    elif prop.GetFontFamily() == VTK_FONT_FILE:
        prop.SetFontFamilyToArial()
    actor.SetInput(text)
