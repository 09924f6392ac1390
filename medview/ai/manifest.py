"""``plugin.toml``: read with ``tomllib``, validated strictly, never executed.

Strict means unknown keys and wrong types are errors, not warnings: a typo in a manifest
("min_slice") would otherwise silently disable a safety check. Every error is one sentence
naming the file and the key, which is what the plugin list shows as the reason.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medview.ai.api import DEVICES, KINDS, OUTPUTS, ParamSpec, api_compatible
from medview.core.errors import ManifestError
from medview.imaging.volume import Volume

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST_NAME = "plugin.toml"

_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{1,99}")
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PARAM_TYPES = ("float", "int", "bool", "choice", "str")
_OOM = ("smaller-tiles", "cpu")
#: ``[runtime] isolation``: in medview's process (a thread) or in a process of its own.
ISOLATIONS = ("thread", "process")


@dataclass(frozen=True)
class WeightsSpec:
    """One weights file: where it is (relative to the plugin folder) and its SHA-256."""

    name: str
    file: str
    sha256: str
    size: int | None = None
    license: str = ""


@dataclass(frozen=True)
class Manifest:
    """A validated plugin manifest (see plugins/README.md for every field)."""

    id: str
    name: str
    version: str
    api_version: str
    kind: str
    factory: str
    description: str
    license: str
    intended_use: str
    not_for_diagnostic_use: bool
    citation: str
    authors: tuple[str, ...]
    modalities: tuple[str, ...]
    min_slices: int
    spacing_mm: tuple[float, float]
    outputs: tuple[str, ...]
    parameters: tuple[ParamSpec, ...]
    devices: tuple[str, ...]
    memory_mb: int
    gpu_memory_mb: int
    mixed_precision: bool
    on_out_of_memory: tuple[str, ...]
    weights: tuple[WeightsSpec, ...]
    path: Path
    #: "thread", "process", or "" when the manifest does not say (the registry then decides
    #: by where the plugin comes from: bundled plugins in a thread, others in a process).
    isolation: str = ""

    @property
    def folder(self) -> Path:
        return self.path.parent

    def applies_to(self, volume: Volume) -> str | None:
        """None if the plugin accepts ``volume``; else the reason, one sentence."""
        modality = volume.meta.modality.upper()
        if self.modalities and modality not in self.modalities:
            wanted = ", ".join(self.modalities)
            return f"{self.name} needs {wanted} images, this series is {modality or 'unknown'}"
        if volume.is_color:
            return f"{self.name} needs greyscale images"
        slices = volume.shape[0]
        if slices < self.min_slices:
            return f"{self.name} needs at least {self.min_slices} slices, this series has {slices}"
        low, high = self.spacing_mm
        worst = max(volume.spacing)
        finest = min(volume.spacing)
        if worst > high or finest < low:
            return (
                f"{self.name} needs voxel spacing between {low:g} and {high:g} mm, this series "
                f"has {', '.join(f'{s:.3g}' for s in volume.spacing)} mm"
            )
        return None


class _Table:
    """Typed access to one TOML table that remembers which keys were read (strictness)."""

    def __init__(self, data: Mapping[str, Any], where: str, path: Path) -> None:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} must be a table", path)
        self.data, self.where, self.path, self.used = data, where, path, set()

    def fail(self, key: str, message: str) -> ManifestError:
        return ManifestError(f"{self.where}.{key} {message}", self.path)

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., what: str = ""):
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is required")
            return default
        value = self.data[key]
        # bool is an int in Python; a manifest saying `min_slices = true` is still wrong.
        bad_bool = isinstance(value, bool) and bool not in (
            kind if isinstance(kind, tuple) else (kind,)
        )
        if bad_bool or not isinstance(value, kind):
            raise self.fail(key, f"must be {what or _type_name(kind)}, not {value!r}")
        return value

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, str, default)
        return value.strip() if isinstance(value, str) else value

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default, "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known key (check the spelling)")


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names |= {list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_manifest(path: Path) -> Manifest:
    """Read and validate ``path`` (a ``plugin.toml``).

    Raises
    ------
    ManifestError
        Unreadable file, TOML syntax error, missing or unknown key, wrong type or value.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST_NAME} in this folder", path.parent) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read the manifest ({exc})", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"invalid TOML: {exc}", path) from None
    return parse_manifest(raw, path)


def parse_manifest(raw: Mapping[str, Any], path: Path) -> Manifest:
    """Validate an already-parsed manifest (``path`` is used for messages and the folder)."""
    top = _Table(raw, "manifest", path)
    plugin = _Table(top.get("plugin", dict), "[plugin]", path)
    applies = _Table(top.get("applies_to", dict, {}), "[applies_to]", path)
    runtime = _Table(top.get("runtime", dict, {}), "[runtime]", path)
    raw_params = top.get("parameters", list, [], "an array of tables ([[parameters]])")
    raw_weights = top.get("weights", list, [], "an array of tables ([[weights]])")
    top.finish()

    plugin_id = plugin.text("id")
    if not _ID.fullmatch(plugin_id):
        raise plugin.fail("id", "must be lower-case letters, digits, '.', '-' or '_' (2-100)")
    api_version = plugin.text("api_version")
    if not api_compatible(api_version):
        from medview.ai.api import API_VERSION

        raise plugin.fail(
            "api_version",
            f"{api_version!r} is not supported (medview has plugin API {API_VERSION})",
        )
    kind = plugin.text("kind")
    if kind not in KINDS:
        raise plugin.fail("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    factory = plugin.text("factory")
    if not _FACTORY.fullmatch(factory):
        raise plugin.fail("factory", f"must look like 'module:attribute', not {factory!r}")
    outputs = plugin.strings("outputs")
    for output in outputs:
        if output not in OUTPUTS:
            raise plugin.fail("outputs", f"has {output!r}; allowed: {', '.join(OUTPUTS)}")
    fields = dict(
        id=plugin_id,
        name=plugin.text("name"),
        version=plugin.text("version"),
        api_version=api_version,
        kind=kind,
        factory=factory,
        description=plugin.text("description", ""),
        license=plugin.text("license"),
        intended_use=plugin.text("intended_use"),
        not_for_diagnostic_use=plugin.get("not_for_diagnostic_use", bool),
        citation=plugin.text("citation", ""),
        authors=plugin.strings("authors", []),
        outputs=outputs,
    )
    plugin.finish()

    modalities = tuple(m.upper() for m in applies.strings("modalities", []))
    min_slices = applies.get("min_slices", int, 1)
    spacing = applies.get("spacing_mm", list, [0.0, 1000.0], "[minimum, maximum] in mm")
    if (
        len(spacing) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spacing)
        or not 0 <= spacing[0] <= spacing[1]
    ):
        raise applies.fail("spacing_mm", "must be [minimum, maximum] in mm with minimum <= maximum")
    applies.finish()

    devices = runtime.strings("devices", ["cpu"])
    for device in devices:
        if device not in DEVICES:
            raise runtime.fail("devices", f"has {device!r}; allowed: {', '.join(DEVICES)}")
    if not devices:
        raise runtime.fail("devices", "must name at least one device")
    on_oom = runtime.strings("on_out_of_memory", [])
    for strategy in on_oom:
        if strategy not in _OOM:
            raise runtime.fail("on_out_of_memory", f"has {strategy!r}; allowed: {', '.join(_OOM)}")
    if "cpu" in on_oom and "cpu" not in devices:
        raise runtime.fail("on_out_of_memory", "says 'cpu' but devices does not list cpu")
    memory_mb = runtime.get("memory_mb", int, 0)
    gpu_memory_mb = runtime.get("gpu_memory_mb", int, 0)
    if memory_mb < 0 or gpu_memory_mb < 0:
        raise runtime.fail("memory_mb", "must not be negative")
    mixed_precision = runtime.get("mixed_precision", bool, False)
    isolation = runtime.get("isolation", str, "")
    if "isolation" in runtime.data and isolation not in ISOLATIONS:
        raise runtime.fail(
            "isolation", f"must be one of {', '.join(ISOLATIONS)}, not {isolation!r}"
        )
    runtime.finish()

    return Manifest(
        **fields,
        modalities=modalities,
        min_slices=min_slices,
        spacing_mm=(float(spacing[0]), float(spacing[1])),
        devices=tuple(devices),
        memory_mb=memory_mb,
        gpu_memory_mb=gpu_memory_mb,
        mixed_precision=mixed_precision,
        on_out_of_memory=on_oom,
        parameters=_parameters(raw_params, path),
        weights=_weights(raw_weights, path),
        path=path,
        isolation=isolation,
    )


def _parameters(raw: list, path: Path) -> tuple[ParamSpec, ...]:
    specs: list[ParamSpec] = []
    for index, entry in enumerate(raw):
        table = _Table(entry, f"[[parameters]] #{index + 1}", path)
        name = table.text("name")
        if not _NAME.fullmatch(name) or name in {s.name for s in specs}:
            raise table.fail("name", f"{name!r} must be a unique identifier (a-z, 0-9, _)")
        table.where = f"parameter {name!r}:"
        kind = table.text("type")
        if kind not in _PARAM_TYPES:
            raise table.fail("type", f"must be one of {', '.join(_PARAM_TYPES)}, not {kind!r}")
        number = (int, float)
        minimum = table.get("min", number, None)
        maximum = table.get("max", number, None)
        step = table.get("step", number, None)
        choices = table.strings("choices", [])
        if kind == "choice" and not choices:
            raise table.fail("choices", "is required for a choice parameter")
        spec = ParamSpec(
            name=name,
            type=kind,
            default=None,
            minimum=None if minimum is None else float(minimum),
            maximum=None if maximum is None else float(maximum),
            choices=choices,
            label=table.text("label", name.replace("_", " ")),
            help=table.text("help", ""),
            unit=table.text("unit", ""),
            step=None if step is None else float(step),
        )
        default = table.get("default", (str, int, float, bool))
        table.finish()
        try:
            default = spec.coerce(default)
        except ValueError as exc:
            raise table.fail("default", f"is invalid: {exc}") from None
        specs.append(ParamSpec(**{**spec.__dict__, "default": default}))
    return tuple(specs)


def _weights(raw: list, path: Path) -> tuple[WeightsSpec, ...]:
    specs: list[WeightsSpec] = []
    for index, entry in enumerate(raw):
        table = _Table(entry, f"[[weights]] #{index + 1}", path)
        name = table.text("name")
        if not _NAME.fullmatch(name) or name in {s.name for s in specs}:
            raise table.fail("name", f"{name!r} must be a unique identifier (a-z, 0-9, _)")
        file = table.text("file")
        relative = Path(file)
        # The file must stay inside the plugin folder: no absolute paths, no '..'.
        if relative.is_absolute() or ".." in relative.parts or not file:
            raise table.fail("file", f"must be a path inside the plugin folder, not {file!r}")
        sha = table.text("sha256").lower()
        if not _SHA256.fullmatch(sha):
            raise table.fail("sha256", "must be 64 hexadecimal digits")
        size = table.get("size", int, None)
        specs.append(WeightsSpec(name, file, sha, size, table.text("license", "")))
        table.finish()
    return tuple(specs)
