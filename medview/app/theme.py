"""Dark and light themes (issue 3): a Fusion palette plus a small style sheet.

The dark theme is the default because radiologists read in dim rooms, where a bright frame
around the images dazzles and lowers perceived contrast. The palette carries the colours (so
every widget, standard dialogs included, follows); ``resources/style/dark.qss`` adds borders
and the few things a palette cannot express.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from medview.app.resources import resource_text
from medview.model.settings import THEMES

__all__ = ["THEMES", "apply_theme", "dark_palette"]

log = logging.getLogger(__name__)


def dark_palette() -> QPalette:
    """A dark grey palette with muted blue highlights (no pure white text)."""
    palette = QPalette()
    role = QPalette.ColorRole
    colours = {
        role.Window: "#232323",
        role.WindowText: "#d0d0d0",
        role.Base: "#1a1a1a",
        role.AlternateBase: "#222222",
        role.ToolTipBase: "#2b2b2b",
        role.ToolTipText: "#e0e0e0",
        role.PlaceholderText: "#808080",
        role.Text: "#d6d6d6",
        role.Button: "#2d2d2d",
        role.ButtonText: "#d6d6d6",
        role.BrightText: "#ff6666",
        role.Light: "#3a3a3a",
        role.Midlight: "#303030",
        role.Mid: "#262626",
        role.Dark: "#151515",
        role.Shadow: "#000000",
        role.Highlight: "#2f5d8a",
        role.HighlightedText: "#f0f0f0",
        role.Link: "#6aa0d8",
    }
    for key, value in colours.items():
        palette.setColor(key, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for key in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(disabled, key, QColor("#6a6a6a"))
    return palette


def apply_theme(app: QApplication, name: str) -> str:
    """Apply ``"dark"`` or ``"light"`` to the whole application; returns the theme applied.

    An unknown name, or a style sheet that cannot be read, falls back quietly (logged): a
    missing theme must not stop the viewer.
    """
    if name not in THEMES:
        log.warning("unknown theme %r; using dark", name)
        name = "dark"
    # Fusion draws the same on every platform and honours the palette fully.
    if "Fusion" in QStyleFactory.keys():  # noqa: SIM118 (a list, not a dict)
        app.setStyle("Fusion")
    if name == "dark":
        app.setPalette(dark_palette())
        try:
            app.setStyleSheet(resource_text("style", "dark.qss"))
        except OSError as exc:
            log.warning("dark style sheet not found (%s); palette only", exc)
            app.setStyleSheet("")
    else:
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("")
    app.setProperty("medview_theme", name)
    return name
