"""The plugin contract: what a plugin receives, what it returns, and the hooks it may offer.

Everything here is plain Python + numpy (no Qt, no torch), so the contract can be imported by
the core, by headless tools and by plugins alike. ``API_VERSION`` is ``MAJOR.MINOR``: a
plugin declares the version it was written for in its manifest; the same major and a minor no
newer than ours is accepted (minor versions only add optional things).

Coordinates are always patient LPS millimetres, computed with the :class:`Volume` helpers
(``index_to_lps``, ``zyx_to_lps``); sizes are millimetres; scores are in ``0..1``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from medview.imaging.volume import Volume

API_VERSION = "1.0"

#: What a plugin does; the UI groups plugins by it.
KINDS = ("detection", "segmentation", "enhancement", "explanation")
#: What a plugin may return (manifest ``outputs``).
OUTPUTS = ("findings", "masks", "overlays", "volumes", "metadata")
#: Devices a manifest may list; the runner picks among the ones that exist.
DEVICES = ("cuda", "mps", "cpu")

Params = Mapping[str, Any]


def api_compatible(version: str) -> bool:
    """True when a plugin written for ``version`` ("MAJOR.MINOR") runs on this API."""
    try:
        major, minor = (int(part) for part in version.split("."))
    except ValueError:
        return False
    our_major, our_minor = (int(part) for part in API_VERSION.split("."))
    return major == our_major and minor <= our_minor


# -- parameters ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a plugin; the UI builds its form from these.

    Attributes
    ----------
    name
        Identifier (``[a-z_][a-z0-9_]*``), the key in ``params``.
    type
        ``"float"``, ``"int"``, ``"bool"``, ``"choice"`` or ``"str"``.
    default
        Value used when the user gives none (already of ``type``).
    minimum, maximum
        Inclusive range for numbers (None: unbounded).
    choices
        Allowed values for ``"choice"``.
    label, help, unit
        What the form shows: a short label, a tooltip sentence and a unit ("HU", "mm").
    step
        Suggested spin-box step for numbers (None: the UI decides).
    """

    name: str
    type: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    help: str = ""
    unit: str = ""
    step: float | None = None

    def coerce(self, value: Any) -> Any:
        """``value`` converted to this parameter's type and checked against its range.

        Strings are accepted for every type (command line ``--param k=v``).

        Raises
        ------
        ValueError
            With one sentence naming the parameter and what is allowed.
        """
        name = self.name
        try:
            if self.type == "bool":
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                        raise ValueError
                    value = lowered in ("true", "1", "yes", "on")
                elif not isinstance(value, bool):
                    raise ValueError
                return value
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            elif self.type == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            elif self.type == "choice":
                value = str(value)
                if value not in self.choices:
                    raise ValueError(
                        f"parameter {name!r} must be one of {', '.join(self.choices)}, "
                        f"not {value!r}"
                    )
                return value
            else:
                return str(value)
        except ValueError as exc:
            if exc.args:
                raise
            raise ValueError(f"parameter {name!r} must be a {self.type}, not {value!r}") from None
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"parameter {name!r} must be >= {self.minimum}, not {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"parameter {name!r} must be <= {self.maximum}, not {value}")
        return value


def resolve_params(specs: Sequence[ParamSpec], given: Params | None) -> dict[str, Any]:
    """Defaults overlaid with ``given``, each value coerced; unknown names are refused.

    Raises
    ------
    ValueError
        For an unknown name or a value out of type or range (one sentence).
    """
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(given or {}) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ValueError(f"unknown parameter {unknown[0]!r} (this plugin takes: {known})")
    values = {spec.name: spec.default for spec in specs}
    for name, value in (given or {}).items():
        values[name] = by_name[name].coerce(value)
    return values


# -- results -------------------------------------------------------------------------------
def _point(value: Sequence[float], what: str) -> tuple[float, float, float]:
    point = tuple(float(v) for v in value)
    if len(point) != 3 or not all(math.isfinite(v) for v in point):
        raise ValueError(f"{what} must be three finite numbers, got {value!r}")
    return point  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class Finding:
    """One thing a plugin found, in patient LPS millimetres.

    Attributes
    ----------
    label
        What it is, as a short lower-case term ("lung nodule"); ``code`` makes it exact.
    score
        Confidence in ``0..1`` (not a calibrated probability unless the model card says so).
    center_lps_mm
        Centre (x, y, z) in patient LPS mm.
    bbox_lps_mm
        Axis-aligned box in LPS mm: ``((x0, y0, z0), (x1, y1, z1))`` with ``x0 <= x1`` ...
    size_mm
        Extent along L, P, S in mm (the box size unless the plugin measures better).
    mask
        Optional binary mask as a Volume on the input grid (same shape and geometry).
    code
        Optional ``(value, scheme, meaning)``, e.g. ``("786838002", "SCT", "Pulmonary
        nodule")``, so reports can code it one to one.
    measurements
        Named numbers with their unit in the name ("diameter_mm", "mean_hu").
    """

    label: str
    score: float
    center_lps_mm: tuple[float, float, float]
    bbox_lps_mm: tuple[tuple[float, float, float], tuple[float, float, float]]
    size_mm: tuple[float, float, float]
    mask: Volume | None = None
    code: tuple[str, str, str] | None = None
    measurements: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a finding needs a label")
        score = float(self.score)
        if not (0.0 <= score <= 1.0):
            raise ValueError(f"finding score must be in 0..1, got {self.score!r}")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "center_lps_mm", _point(self.center_lps_mm, "center_lps_mm"))
        low, high = (_point(corner, "bbox_lps_mm corner") for corner in self.bbox_lps_mm)
        if any(a > b for a, b in zip(low, high, strict=True)):
            raise ValueError("bbox_lps_mm must be (min corner, max corner)")
        object.__setattr__(self, "bbox_lps_mm", (low, high))
        size = _point(self.size_mm, "size_mm")
        if any(s < 0 for s in size):
            raise ValueError("size_mm must not be negative")
        object.__setattr__(self, "size_mm", size)

    @classmethod
    def from_voxel_box(
        cls,
        volume: Volume,
        label: str,
        score: float,
        zyx_low: Sequence[float],
        zyx_high: Sequence[float],
        center_zyx: Sequence[float] | None = None,
        **extra: Any,
    ) -> Finding:
        """A finding from an inclusive voxel box ``[zyx_low, zyx_high]`` on ``volume``'s grid.

        The LPS box encloses the eight voxel-corner points (half a voxel beyond the centres),
        whatever the volume's orientation; the centre defaults to the box centre.
        """
        low = np.asarray(zyx_low, dtype=float) - 0.5
        high = np.asarray(zyx_high, dtype=float) + 0.5
        corners = np.array(
            [
                [z, y, x]
                for z in (low[0], high[0])
                for y in (low[1], high[1])
                for x in (low[2], high[2])
            ]
        )
        lps = volume.zyx_to_lps(corners)
        lo, hi = lps.min(axis=0), lps.max(axis=0)
        center = (
            volume.zyx_to_lps(np.asarray(center_zyx, dtype=float))
            if center_zyx is not None
            else (lo + hi) / 2
        )
        return cls(
            label=label,
            score=score,
            center_lps_mm=tuple(center),
            bbox_lps_mm=(tuple(lo), tuple(hi)),
            size_mm=tuple(hi - lo),
            **extra,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the mask voxels (``has_mask`` says whether there is one)."""
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "center_lps_mm": [round(v, 3) for v in self.center_lps_mm],
            "size_mm": [round(v, 3) for v in self.size_mm],
            "bbox_lps_mm": [[round(v, 3) for v in corner] for corner in self.bbox_lps_mm],
            "code": list(self.code) if self.code else None,
            "measurements": {k: float(v) for k, v in self.measurements.items()},
            "has_mask": self.mask is not None,
        }


@dataclass(frozen=True, eq=False)
class Overlay:
    """A float map on the input grid (heatmap, probability, saliency).

    Attributes
    ----------
    name
        Short identifier, also the file name on export.
    volume
        The map, same shape and geometry as the input.
    description
        One sentence for the user (what high values mean).
    value_range
        The values' meaningful range for display, e.g. ``(0.0, 1.0)``.
    """

    name: str
    volume: Volume
    description: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class Provenance:
    """Who computed a result, how, on what: attached to every result and audited."""

    job_id: str
    plugin_id: str
    plugin_version: str
    api_version: str
    weights_sha256: Mapping[str, str]
    parameters: Mapping[str, Any]
    device: str
    device_requested: str
    mixed_precision: bool
    versions: Mapping[str, str]
    input_series_uid: str
    input_study_uid: str
    started: str
    finished: str
    seconds: float
    outcome: str
    error: str = ""
    attempts: tuple[str, ...] = ()
    #: Where the plugin ran: "thread" (in medview's process) or "process" (its own, issue 11).
    isolation: str = "thread"
    #: Deterministic kernels asked of torch, and its intra-op threads (issue 11 AI2): with
    #: both the same, a rerun on the same machine gives the same bits.
    deterministic: bool = False
    threads: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "plugin_id": self.plugin_id,
            "plugin_version": self.plugin_version,
            "api_version": self.api_version,
            "weights_sha256": dict(self.weights_sha256),
            "parameters": dict(self.parameters),
            "device": self.device,
            "device_requested": self.device_requested,
            "mixed_precision": self.mixed_precision,
            "versions": dict(self.versions),
            "input_series_uid": self.input_series_uid,
            "input_study_uid": self.input_study_uid,
            "started": self.started,
            "finished": self.finished,
            "seconds": round(self.seconds, 3),
            "outcome": self.outcome,
            "error": self.error,
            "attempts": list(self.attempts),
            "isolation": self.isolation,
            "deterministic": self.deterministic,
            "threads": self.threads,
        }


@dataclass(frozen=True, eq=False)
class Result:
    """What a plugin returns; the runner attaches ``provenance``.

    Attributes
    ----------
    findings
        Detections or segmented structures.
    overlays
        Float maps on the input grid.
    volumes
        Derived volumes with their own geometry (enhancement, super-resolution); their
        ``meta.derived`` should be True and ``meta.derivation`` say how they were made.
    metadata
        Free-form JSON-serialisable values (model outputs worth keeping, timings).
    """

    findings: tuple[Finding, ...] = ()
    overlays: tuple[Overlay, ...] = ()
    volumes: tuple[Volume, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", tuple(self.findings))
        object.__setattr__(self, "overlays", tuple(self.overlays))
        object.__setattr__(self, "volumes", tuple(self.volumes))


def check_result(result: object, volume: Volume) -> Result:
    """``result`` if it is a valid :class:`Result` for ``volume``; else ``ValueError``.

    Masks and overlays must lie on the input grid: a plugin that resampled and forgot to
    resample back would otherwise put findings in the wrong place.
    """
    if not isinstance(result, Result):
        raise ValueError(f"plugin returned {type(result).__name__}, not a Result")
    for finding in result.findings:
        if finding.mask is not None and not _same_grid(finding.mask, volume):
            raise ValueError(f"mask of finding {finding.label!r} is not on the input grid")
    for overlay in result.overlays:
        if not _same_grid(overlay.volume, volume):
            raise ValueError(f"overlay {overlay.name!r} is not on the input grid")
    return result


def _same_grid(a: Volume, b: Volume) -> bool:
    return a.shape == b.shape and np.allclose(a.affine, b.affine, atol=1e-4)


# -- what the runner gives a plugin -----------------------------------------------------------
@runtime_checkable
class RunContext(Protocol):
    """Given by the runner to ``prepare`` and ``run``; plugins never see Qt.

    Attributes
    ----------
    device
        torch device string the plugin must use: ``"cuda:0"``, ``"mps"`` or ``"cpu"``.
    mixed_precision
        True when the plugin may run under autocast (CUDA and manifest allows it).
    tile_scale
        1.0 normally; 0.5 on a retry after CUDA ran out of memory (halve your tiles).
    plugin_dir
        The plugin's folder (read-only; write nothing there).
    log
        A logger named after the plugin (goes to medview's log file).
    """

    device: str
    mixed_precision: bool
    tile_scale: float
    plugin_dir: Path
    log: logging.Logger

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1); also raises ``Cancelled`` when the job was cancelled."""

    def check_cancelled(self) -> None:
        """Raise :class:`medview.core.errors.Cancelled` if the user cancelled the job."""

    @property
    def cancelled(self) -> bool:
        """True once cancel was requested (for loops that clean up before raising)."""

    def weights(self, name: str) -> Path:
        """Path of the weights file ``name`` from the manifest, its SHA-256 verified."""

    def read_weights(self, name: str) -> bytes:
        """The bytes of weights file ``name``, SHA-256 checked after reading."""

    def load_state_dict(self, name: str) -> dict[str, Any]:
        """Tensors of weights file ``name`` on ``device``, loaded safely (no pickle)."""

    def explainable(self, plugin_id: str) -> ExplainHook:
        """For explanation plugins: the hook of detection plugin ``plugin_id``, prepared
        on this job's device (raises ``PluginError`` if it offers none)."""


@runtime_checkable
class Plugin(Protocol):
    """The life cycle every plugin implements (the manifest's ``factory`` returns one)."""

    def prepare(self, ctx: RunContext) -> None:
        """Load the model once, on ``ctx.device``; called before the first run on a device."""

    def run(self, volume: Volume, params: Params, ctx: RunContext) -> Result:
        """Compute the result for ``volume`` with resolved ``params``."""

    def release(self) -> None:
        """Free device memory; ``prepare`` is called again before any later run."""


@dataclass(frozen=True)
class ExplainPatch:
    """A model input around one finding, for explainers that work locally (added in 1.0,
    optional: see :attr:`ExplainHook.patch_for`).

    Attributes
    ----------
    input
        ``torch.Tensor`` of shape ``(1, C, D, H, W)`` on the plugin's device: exactly a model
        input (normalised as the model expects), cut from the plugin's own internal grid and
        padded with ``background`` where the patch leaves the scan.
    target
        ``target(output) -> tensor (N,)``: for a batch of model outputs, the scalar to
        attribute for this finding in each batch item (e.g. a heatmap logit at its centre).
    to_volume
        ``to_volume(attribution) -> Volume``: an attribution of the input's spatial shape
        (``(D, H, W)``, or with leading batch/channel axes of size 1) as a float32 ``Volume``
        with the patch's own exact LPS geometry (not the input grid: resample it with
        SimpleITK through the two Volumes' geometry to put it there).
    background
        The model-input value of "nothing here" (air for CT): the padding value, and the
        natural baseline for Integrated Gradients or occlusion.
    forward
        Optional: ``forward(module, x) -> tensor (N,)``, the same numbers as
        ``target(module(x))`` computed with less work (e.g. only the output voxels the
        target reads). Explainers that need only the target (Integrated Gradients,
        SmoothGrad, occlusion) use it; ``module`` is passed in because an explainer may
        evaluate a copy (randomised for a sanity check, batch norms folded).
    """

    input: Any
    target: Callable[[Any], Any]
    to_volume: Callable[[Any], Volume]
    background: float = 0.0
    forward: Callable[[Any, Any], Any] | None = None


@dataclass(frozen=True)
class ExplainHook:
    """What a detection plugin offers to be explained (by Captum, in an explanation plugin).

    Attributes
    ----------
    module
        The torch module (``torch.nn.Module``) in eval mode, on the plugin's device.
    preprocess
        ``preprocess(volume) -> tensor``: exactly the model input the plugin builds.
    target_for
        ``target_for(finding) -> target``: the output index (or a callable selecting a
        scalar from the output) to attribute for that finding.
    to_volume
        ``to_volume(attribution_tensor, volume) -> Volume`` mapping an attribution back to
        the input grid (so the overlay lands where the finding is).
    patch_for
        Optional (``None``: not offered). ``patch_for(volume, finding, size_vox) ->
        ExplainPatch``: a cubic model input of about ``size_vox`` voxels a side centred on
        ``finding``, with its target and its geometry, so an explainer can work on a local
        patch instead of the whole preprocessed volume.
    detect
        Optional (``None``: not offered). ``detect(volume, ctx) -> Result``: run the plugin's
        own detection with its default parameters (progress and cancel through ``ctx``), so
        an explanation plugin can find the findings it explains.
    cam_layer
        Optional: the name (as in ``module.named_modules()``) of the layer the plugin
        suggests for Grad-CAM; ``""`` when it suggests none.
    source
        Filled by the runner, not the plugin: the explained plugin's ``plugin_id``,
        ``plugin_version`` and ``weights_sha256`` (file name -> SHA-256), so an explanation
        records exactly which model it explained (issue 7, provenance).
    """

    module: Any
    preprocess: Callable[[Volume], Any]
    target_for: Callable[[Finding], Any]
    to_volume: Callable[[Any, Volume], Volume]
    patch_for: Callable[[Volume, Finding, int], ExplainPatch] | None = None
    detect: Callable[[Volume, RunContext], Result] | None = None
    cam_layer: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Explainable(Protocol):
    """Optional: a prepared detection plugin that can be explained."""

    def explainable(self) -> ExplainHook: ...
