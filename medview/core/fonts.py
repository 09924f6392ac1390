"""The CJK font medview ships with (issue 3 views, issue 8 PDF reports).

Chinese, Japanese and Korean patient names must render in the image views and in PDF reports
on any machine, including clinics' offline installs without CJK system fonts. WenQuanYi Micro
Hei (Apache-2.0 / GPLv3) comes from PyPI inside the ``paperang-p2-fonts-cjk`` package, a
medview dependency; it also covers Latin, so one font serves a whole line such as
"山田 太郎  ID 0042". ``MEDVIEW_CJK_FONT`` points at another file.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

FONT_ENV = "MEDVIEW_CJK_FONT"
FONT_PACKAGE, FONT_FILE = "paperang_p2_fonts_cjk", "fonts/wqy-microhei.ttc"


def bundled_cjk_font() -> Path | None:
    """``$MEDVIEW_CJK_FONT`` if it is a file, else the pip-installed font; None if neither."""
    chosen = os.environ.get(FONT_ENV, "")
    if chosen and Path(chosen).is_file():
        return Path(chosen)
    spec = importlib.util.find_spec(FONT_PACKAGE)  # located, not imported
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / FONT_FILE
        if path.is_file():
            return path
    return None
