"""User settings in one TOML file under the config directory (issue 3, "Settings and state").

Qt-free, so the CLI and tests can read and write them without a display. The file is read with
:mod:`tomllib` and written atomically (temp file + fsync + rename, ARCHITECTURE.md rule 3), so
a crash never leaves half a file. Keys medview does not know (a newer version's, or a
user's notes) are kept and written back. A broken file is never fatal: it gives the
defaults and one logged warning, and is replaced on the next save.

The window geometry and dock state are kept here too, as base64 text of Qt's
``saveGeometry()`` / ``saveState()`` bytes, rather than in ``QSettings``: one
human-readable file that the tests can isolate with ``MEDVIEW_HOME``, no registry entries
on Windows, and nothing outside the config directory.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from medview.ai.device import REQUESTS
from medview.core.paths import app_dirs, atomic_write_text
from medview.model.viewer_state import LAYOUTS, LEFT_DRAG_MODES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "LANGUAGES",
    "SETTINGS_FILE_NAME",
    "THEMES",
    "Settings",
    "load_settings",
    "settings_path",
    "to_toml",
]

log = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "settings.toml"
#: Interface languages shipped; "" follows the system locale.
LANGUAGES = ("", "en", "zh_CN")
THEMES = ("dark", "light")
#: Where AI jobs run by default.
AI_DEVICES = REQUESTS


def settings_path() -> Path:
    """``<config dir>/settings.toml`` for this process (honours ``MEDVIEW_HOME``)."""
    return app_dirs().config / SETTINGS_FILE_NAME


@dataclass
class Settings:
    """What medview remembers between sessions.

    Attributes
    ----------
    language
        ``"en"``, ``"zh_CN"`` or ``""`` for the system locale (applies on restart).
    theme
        ``"dark"`` (the default: reading rooms are dim) or ``"light"``.
    last_import_folder
        Where File › Import starts.
    default_layout
        MPR layout for new windows: ``"1x1"``, ``"1x2"`` or ``"2x2"``.
    ai_device
        Where AI plugins run unless a job says otherwise: ``"auto"`` (CUDA, then Apple MPS,
        then the CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.
    left_drag
        What a left-button drag does in the slice views: ``"window"`` (window/level, the
        default), ``"pan"`` or ``"zoom"``.
    key_bindings
        Action id -> shortcut(s) replacing the default, e.g. ``{"tool.length" = "D",
        "edit.redo" = ["Ctrl+Y", "Ctrl+Shift+Z"]}``; ids are listed in the README.
    window_presets
        Window presets by name, ``{center, width}`` in the image's units (HU for CT): a
        built-in name (``lung``, ``bone``...) changes that preset, a new name adds one.
    window_geometry, window_state
        Base64 of Qt's ``saveGeometry()`` and ``saveState()``; opaque here.
    extra
        Keys this version does not know, written back unchanged.
    path
        The file the settings came from and are saved to (None: never saved).
    """

    language: str = ""
    theme: str = "dark"
    last_import_folder: str = ""
    default_layout: str = "2x2"
    left_drag: str = "window"
    ai_device: str = "auto"
    key_bindings: dict[str, list[str]] = field(default_factory=dict)
    window_presets: dict[str, tuple[float, float]] = field(default_factory=dict)
    window_geometry: str = ""
    window_state: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)

    def save(self, path: Path | None = None) -> Path:
        """Write the settings atomically to ``path`` (default: where they were loaded from).

        Raises
        ------
        OSError
            The config directory is not writable.
        """
        target = Path(path or self.path or settings_path())
        atomic_write_text(target, to_toml(self.as_dict()))
        self.path = target
        return target

    def as_dict(self) -> dict[str, Any]:
        """The known keys followed by the unknown ones, as written to the file."""
        known = {f.name: getattr(self, f.name) for f in _known_fields()}
        known["window_presets"] = {
            name: {"center": center, "width": width}
            for name, (center, width) in self.window_presets.items()
        }
        return {**known, **{k: v for k, v in self.extra.items() if k not in known}}


def _known_fields():
    return [f for f in fields(Settings) if f.name not in ("extra", "path")]


_CHOICES = {
    "language": LANGUAGES,
    "theme": THEMES,
    "default_layout": LAYOUTS,
    "left_drag": LEFT_DRAG_MODES,
    "ai_device": AI_DEVICES,
}


def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; a missing file gives the defaults silently.

    A file that is not valid TOML, or a known key with a wrong type or value, gives the
    default for what is wrong and a logged warning: settings must never stop the app.
    """
    target = Path(path or settings_path())
    settings = Settings(path=target)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        return settings
    except (OSError, UnicodeDecodeError) as exc:
        log.warning("cannot read settings %s (%s); using the defaults", target, exc)
        return settings
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        log.warning("settings file %s is not valid TOML (%s); using the defaults", target, exc)
        return settings
    known = {f.name for f in _known_fields()}
    for key, value in data.items():
        if key not in known:
            settings.extra[key] = value
            continue
        parser = _TABLE_PARSERS.get(key)
        if parser is not None:
            setattr(settings, key, parser(value, target))
            continue
        if not isinstance(value, str) or (key in _CHOICES and value not in _CHOICES[key]):
            log.warning("ignoring settings value %s = %r in %s", key, value, target)
            continue
        setattr(settings, key, value)
    return settings


def _key_bindings(value: object, source: Path) -> dict[str, list[str]]:
    """``{action id: "Key" or ["Key", ...]}``; entries of the wrong type are dropped."""
    if not isinstance(value, dict):
        log.warning("ignoring key_bindings in %s: not a table", source)
        return {}
    bindings = {}
    for action, keys in value.items():
        keys = [keys] if isinstance(keys, str) else keys
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            bindings[str(action)] = list(keys)
        else:
            log.warning("ignoring key binding %s = %r in %s", action, keys, source)
    return bindings


def _window_presets(value: object, source: Path) -> dict[str, tuple[float, float]]:
    """``{name: {center = C, width = W}}`` with finite numbers and a positive width."""
    if not isinstance(value, dict):
        log.warning("ignoring window_presets in %s: not a table", source)
        return {}
    presets = {}
    for name, entry in value.items():
        window = entry if isinstance(entry, dict) else {}
        center, width = window.get("center"), window.get("width")
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in (center, width)
        )
        if numbers and width > 0 and str(name).strip():
            presets[str(name).strip().lower()] = (float(center), float(width))
        else:
            log.warning("ignoring window preset %s = %r in %s", name, entry, source)
    return presets


_TABLE_PARSERS = {"key_bindings": _key_bindings, "window_presets": _window_presets}


# -- a small TOML writer: the standard library reads TOML but does not write it ---------------
def to_toml(data: dict[str, Any]) -> str:
    """TOML text for a dict of strings, numbers, booleans, lists and nested tables."""
    lines: list[str] = []
    _write_table(data, [], lines)
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(data: dict[str, Any], prefix: list[str], lines: list[str]) -> None:
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if key not in tables:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in tables.items():
        path = [*prefix, key]
        lines.append("")
        lines.append("[" + ".".join(_key(part) for part in path) + "]")
        _write_table(value, path, lines)


def _key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return key
    return _string(key)


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    # Dates and times read by tomllib come back as datetime objects; isoformat is TOML.
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
