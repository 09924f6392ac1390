"""What a support ticket needs: versions, plugins with their weights hashes, devices, paths.

One text, three users: Help › About medview shows it, its "Copy diagnostics" button puts it
on the clipboard, and ``medview diagnostics`` prints it (clinic IT without a display). It
holds no patient data: only versions, plugin manifests and medview's own folders.

Versions are read from package metadata where possible (cheap, no import); Qt and VTK report
their own runtime versions, which is what matters when a frozen bundle ships other builds
than the wheel names. torch is imported only through :mod:`medview.ai.torch_backend`, and
only when ``devices=True`` (about a second), to say whether CUDA is usable.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from medview import __version__

#: Distributions whose versions a support ticket needs, in the order shown.
PACKAGES = ("torch", "captum", "numpy", "pydicom", "highdicom", "SimpleITK", "pynetdicom")


@dataclass(frozen=True)
class PluginLine:
    """One discovered plugin as the About dialog lists it."""

    id: str
    version: str
    available: bool
    reason: str
    #: ``name: first 12 hex digits`` of each weights file's SHA-256 (from the verified manifest).
    weights: tuple[str, ...]

    def text(self) -> str:
        state = "available" if self.available else f"UNAVAILABLE: {self.reason}"
        weights = f"weights {', '.join(self.weights)}" if self.weights else "no weights"
        return f"{self.id} {self.version or '-'} ({state}; {weights})"


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def qt_versions() -> str:
    """PySide6 and the Qt runtime it runs on (they can differ in a frozen bundle)."""
    try:
        import PySide6
        from PySide6.QtCore import qVersion
    except ImportError as exc:
        return f"not available ({exc})"
    return f"PySide6 {PySide6.__version__}, Qt {qVersion()}"


def vtk_version() -> str:
    try:
        from vtkmodules.vtkCommonCore import vtkVersion
    except ImportError as exc:
        return f"not available ({exc})"
    return vtkVersion.GetVTKVersion()


def plugin_lines() -> list[PluginLine]:
    """Every discovered plugin (bundled, entry points, user folder) with its weights hashes.

    Discovery verifies each weights file's SHA-256 against the manifest (cached on path, size
    and mtime), so a hash shown next to "available" is the hash of the file on disk.
    """
    from medview.ai.registry import discover

    lines = []
    for info in discover():
        weights = ()
        if info.manifest is not None:
            weights = tuple(f"{w.name}: {w.sha256[:12]}" for w in info.manifest.weights)
        lines.append(PluginLine(info.id, info.version, info.available, info.reason, weights))
    return lines


def entry_points_text() -> str:
    """The ``medview.plugins`` entry points (pip-installed plugins register there).

    In a frozen bundle they exist only if the bundle carries medview's metadata, so support
    can tell "plugin not installed" from "metadata not bundled".
    """
    from medview.ai.registry import ENTRY_POINT_GROUP

    try:
        points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # broken metadata of an unrelated distribution
        return f"unreadable ({exc})"
    return ", ".join(sorted(f"{p.name} = {p.value}" for p in points)) or "none"


def device_summary() -> str:
    """The devices torch can use here (imports torch: about a second)."""
    from medview.ai import torch_backend

    try:
        found = torch_backend.probe_devices()
    except Exception as exc:  # a broken torch install must not break the About dialog
        return f"probe failed ({type(exc).__name__}: {exc})"
    gpus = [d for d in found if d != "cpu"]
    cuda = "yes" if any(d.startswith("cuda") for d in gpus) else "no"
    return f"CUDA available: {cuda}; devices: {', '.join(found)}"


def frozen() -> bool:
    """True inside a PyInstaller bundle (it sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def diagnostics_text(*, devices: bool = True, paths: bool = True) -> str:
    """The diagnostics as plain text, one fact per line (stable, for support tickets)."""
    lines = [
        f"medview {__version__}" + (" (frozen bundle)" if frozen() else ""),
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"OS: {platform.platform()} ({platform.machine()})",
        f"Qt: {qt_versions()}",
        f"VTK: {vtk_version()}",
    ]
    lines += [f"{name}: {_dist_version(name)}" for name in PACKAGES]
    if devices:
        lines.append(f"torch devices: {device_summary()}")
    lines.append(f"Entry points (medview.plugins): {entry_points_text()}")
    lines.append("AI plugins:")
    plugins = plugin_lines()
    lines += [f"  {p.text()}" for p in plugins] or ["  none found"]
    if paths:
        from medview.core.logging import LOG_FILE_NAME
        from medview.core.paths import app_dirs

        dirs = app_dirs()
        lines += [
            "Paths:",
            f"  data: {dirs.data}",
            f"  plugins: {dirs.plugins}",
            f"  settings: {dirs.config}",
            f"  cache: {dirs.cache}",
            f"  log: {dirs.logs / LOG_FILE_NAME}",
            f"  program: {sys.executable}",
        ]
    lines.append("Network: none unless a PACS node is configured; no telemetry.")
    return "\n".join(lines) + "\n"
