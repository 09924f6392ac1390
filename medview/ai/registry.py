"""Plugin discovery: bundled folder, user folder, ``medview.plugins`` entry points.

Discovery reads manifests and checks weights; it imports no plugin code. A plugin's module is
imported only when it is first prepared (:meth:`PluginRegistry.create`). Anything wrong with a
plugin (bad manifest, missing or tampered weights, an import error later) makes *that* plugin
unavailable with a one-sentence reason; discovery itself never raises for a plugin's fault.

Places, in order (the first plugin with an id wins; later ones are listed as duplicates):

1. bundled: the ``medview_plugins`` package of the wheel, or ``plugins/`` of a checkout;
2. the ``medview.plugins`` entry-point group (pip-installed plugins): each entry point's value
   names a package whose folder holds ``plugin.toml``; it is located, not imported;
3. the user folder ``app_dirs().plugins`` (``$MEDVIEW_HOME/data/plugins``): a clinic drops a
   plugin folder there, no pip needed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import logging
import re
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from medview.ai.api import Plugin
from medview.ai.manifest import MANIFEST_NAME, Manifest, load_manifest
from medview.ai.weights import verify_all
from medview.core.errors import MedviewError, PluginError
from medview.core.paths import app_dirs

log = logging.getLogger("medview.ai.registry")

ENTRY_POINT_GROUP = "medview.plugins"
BUNDLED_PACKAGE = "medview_plugins"
#: Prefix of the synthetic package names folder plugins are imported under.
_FOLDER_PACKAGE = "_medview_plugin_"


@dataclass(frozen=True)
class PluginInfo:
    """One discovered plugin, usable or not.

    Attributes
    ----------
    id, name, version, kind
        From the manifest (for a broken manifest: the folder name and empty fields).
    source
        ``"bundled"``, ``"entry-point"`` or ``"user"``.
    folder
        The plugin folder.
    available
        False when the plugin cannot be used; ``reason`` says why in one sentence.
    manifest
        The validated manifest, None when it could not be read.
    package
        Importable package name of an installed plugin ("" for folder plugins).
    isolation
        Where its jobs run: ``"thread"`` (medview's process) or ``"process"`` (its own).
        The manifest's ``[runtime] isolation``, else "thread" for bundled plugins (shipped
        and tested with medview) and "process" for every third-party one.
    """

    id: str
    name: str
    version: str
    kind: str
    source: str
    folder: Path
    available: bool
    reason: str = ""
    manifest: Manifest | None = None
    package: str = ""
    isolation: str = "process"

    def as_dict(self) -> dict[str, object]:
        manifest = self.manifest
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "source": self.source,
            "folder": str(self.folder),
            "available": self.available,
            "reason": self.reason,
            "devices": list(manifest.devices) if manifest else [],
            "modalities": list(manifest.modalities) if manifest else [],
            "not_for_diagnostic_use": manifest.not_for_diagnostic_use if manifest else True,
            "isolation": self.isolation,
        }


def bundled_dir() -> Path | None:
    """The bundled plugins folder: the installed ``medview_plugins`` or the checkout's."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parents[2] / "plugins"
    return checkout if checkout.is_dir() else None


def _entry_point_folders() -> list[tuple[str, Path | None, str]]:
    """(package, folder or None, reason) for each entry point, without importing it."""
    found = []
    try:
        points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # broken metadata of some unrelated distribution
        log.warning("cannot read entry points: %s", exc)
        return found
    for point in points:
        package = point.value.split(":", 1)[0].strip()
        try:
            top, *rest = package.split(".")
            # find_spec on a top-level name locates it without running its __init__.
            spec = importlib.util.find_spec(top)
            if spec is None or not spec.submodule_search_locations:
                raise ModuleNotFoundError(f"package {top!r} is not installed")
            folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
            found.append((package, folder, ""))
        except Exception as exc:
            found.append((package, None, f"entry point {point.name!r}: {exc}"))
    return found


def _inspect(folder: Path, source: str, package: str = "") -> PluginInfo:
    """Read the manifest and verify the weights of the plugin in ``folder``."""
    try:
        manifest = load_manifest(folder / MANIFEST_NAME)
    except MedviewError as exc:
        return PluginInfo(
            folder.name, folder.name, "", "", source, folder, False, str(exc), package=package
        )
    bundled = source == "bundled" or package.split(".")[0] == BUNDLED_PACKAGE
    info = PluginInfo(
        manifest.id,
        manifest.name,
        manifest.version,
        manifest.kind,
        source,
        folder,
        True,
        "",
        manifest,
        package,
        manifest.isolation or ("thread" if bundled else "process"),
    )
    try:
        verify_all(manifest, use_cache=True)
    except MedviewError as exc:
        return replace(info, available=False, reason=str(exc))
    except OSError as exc:
        return replace(info, available=False, reason=f"cannot read weights: {exc}")
    return info


def discover(
    *,
    bundled: Path | bool | None = True,
    user: Path | bool | None = True,
    entry_points: bool = True,
    extra: Sequence[Path] = (),
) -> list[PluginInfo]:
    """Every plugin in the discovery places, usable or not, sorted by id.

    Parameters
    ----------
    bundled, user
        True: the default folder; a Path: that folder instead; False/None: skip it.
    entry_points
        Also look at the ``medview.plugins`` entry-point group.
    extra
        More folders holding plugin folders (tests, ``--plugins-dir``).
    """
    places: list[tuple[str, Path, str]] = []  # (source, plugin folder, package)
    broken: list[PluginInfo] = []

    def add_parent(parent: Path | None, source: str) -> None:
        if parent is None or not parent.is_dir():
            return
        for child in sorted(parent.iterdir()):
            hidden = child.name.startswith((".", "_"))
            # A user folder without a manifest is listed (as broken): the clinic dropped it
            # there on purpose. Elsewhere only folders with a manifest are plugins.
            if (
                child.is_dir()
                and not hidden
                and ((child / MANIFEST_NAME).exists() or source == "user")
            ):
                places.append((source, child, ""))

    add_parent(bundled_dir() if bundled is True else bundled or None, "bundled")
    if entry_points:
        for package, folder, reason in _entry_point_folders():
            if folder is None:
                broken.append(
                    PluginInfo(package, package, "", "", "entry-point", Path(), False, reason)
                )
            else:
                places.append(("entry-point", folder, package))
    add_parent(app_dirs().plugins if user is True else user or None, "user")
    for parent in extra:
        add_parent(Path(parent), "user")

    seen_folders: set[Path] = set()
    by_id: dict[str, PluginInfo] = {}
    result: list[PluginInfo] = list(broken)
    for source, folder, package in places:
        resolved = folder.resolve()
        if resolved in seen_folders:
            continue  # the bundled folder is also an entry point of the installed wheel
        seen_folders.add(resolved)
        info = _inspect(folder, source, package)
        first = by_id.get(info.id)
        if first is not None:
            info = replace(
                info,
                available=False,
                reason=f"duplicate plugin id {info.id!r}: {first.folder} is used",
            )
        else:
            by_id[info.id] = info
        result.append(info)
    return sorted(result, key=lambda i: (i.id, i.source))


class PluginRegistry:
    """The discovered plugins of this process, and the lazy import of their code.

    Thread-safe: the runner creates plugin instances from worker threads.
    """

    def __init__(self, infos: Iterable[PluginInfo] | None = None, **discover_options) -> None:
        self._lock = threading.RLock()
        self._options = discover_options
        self._infos: dict[str, PluginInfo] = {}
        self._all: list[PluginInfo] = []
        self._set(list(infos) if infos is not None else discover(**discover_options))

    def _set(self, infos: list[PluginInfo]) -> None:
        with self._lock:
            self._all = infos
            self._infos = {}
            for info in infos:
                # A duplicate never shadows the plugin that is used.
                if info.id not in self._infos or info.available:
                    self._infos.setdefault(info.id, info)

    def refresh(self) -> list[PluginInfo]:
        """Discover again (a plugin folder was added or fixed)."""
        self._set(discover(**self._options))
        return self.plugins()

    def plugins(self) -> list[PluginInfo]:
        """All plugins, available or not (with the reason), sorted by id."""
        with self._lock:
            return list(self._all)

    def get(self, plugin_id: str) -> PluginInfo:
        """The plugin with ``plugin_id``.

        Raises
        ------
        PluginError
            No such plugin (the message lists the known ids).
        """
        with self._lock:
            info = self._infos.get(plugin_id)
            known = ", ".join(sorted(self._infos)) or "none"
        if info is None:
            raise PluginError(
                f"no plugin {plugin_id!r} (installed: {known}); see `medview plugins list`"
            )
        return info

    def require(self, plugin_id: str) -> Manifest:
        """The manifest of an available plugin, or ``PluginError`` with the reason."""
        info = self.get(plugin_id)
        if not info.available or info.manifest is None:
            raise PluginError(f"plugin {plugin_id!r} is unavailable: {info.reason}")
        return info.manifest

    def mark_unavailable(self, plugin_id: str, reason: str) -> None:
        """Record that a plugin broke at import or prepare; the others carry on."""
        with self._lock:
            info = self._infos.get(plugin_id)
            if info is None:
                return
            broken = replace(info, available=False, reason=reason)
            self._infos[plugin_id] = broken
            self._all = [broken if i is info else i for i in self._all]

    def create(self, plugin_id: str) -> Plugin:
        """Import the plugin's module (first time only) and call its factory.

        Raises
        ------
        PluginError
            The plugin is unavailable, its module cannot be imported, or the factory fails or
            returns something without ``prepare``/``run``/``release``. The plugin is then
            marked unavailable with that reason.
        """
        manifest = self.require(plugin_id)
        info = self.get(plugin_id)
        module_name, attribute = manifest.factory.split(":")
        try:
            module = _import_plugin_module(info, module_name)
            factory = getattr(module, attribute)
            plugin = factory()
        except Exception as exc:
            reason = f"cannot load its code ({type(exc).__name__}: {exc})"
            log.warning("plugin %s: %s", plugin_id, reason, exc_info=True)
            self.mark_unavailable(plugin_id, reason)
            raise PluginError(f"plugin {plugin_id!r} {reason}") from exc
        missing = [
            m for m in ("prepare", "run", "release") if not callable(getattr(plugin, m, None))
        ]
        if missing:
            reason = f"its factory returned an object without {', '.join(missing)}()"
            self.mark_unavailable(plugin_id, reason)
            raise PluginError(f"plugin {plugin_id!r}: {reason}")
        return plugin


def _import_plugin_module(info: PluginInfo, module_name: str):
    """Import ``module_name`` of the plugin: installed package, or the folder as a package."""
    if info.package:
        return importlib.import_module(f"{info.package}.{module_name}")
    package = _FOLDER_PACKAGE + re.sub(r"\W", "_", info.id)
    if package not in sys.modules:
        init = info.folder / "__init__.py"
        # The folder becomes a package, so a plugin can use relative imports between its
        # own modules without being on sys.path (two plugins may both have "model.py").
        if init.exists():
            spec = importlib.util.spec_from_file_location(
                package, init, submodule_search_locations=[str(info.folder)]
            )
        else:
            spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
            spec.submodule_search_locations = [str(info.folder)]
        if spec is None:
            raise ImportError(f"cannot import the plugin folder {info.folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        try:
            if spec.loader is not None:
                spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[package]
            raise
    return importlib.import_module(f"{package}.{module_name}")
