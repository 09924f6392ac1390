"""Captum explanations of a detector's findings: manifest factory ``plugin:SaliencyExplainer``.

``run(volume, params, ctx)``:

1. ``ctx.explainable(params["target"])`` gives the detection plugin's
   :class:`~medview.ai.api.ExplainHook` (the runner prepares that plugin on this job's device
   or reuses it). The hook must offer ``detect`` and ``patch_for``.
2. ``hook.detect(volume, ctx)`` runs the detection with its default parameters (progress
   0-30 %), or returns the runner's earlier result of that plugin on the same volume (the
   reader's own detection job, or ``medview run --reuse DIR``); its findings are returned
   unchanged in this result, and ``metadata["detection"]`` says which job they came from.
3. For each of the ``max_findings`` highest-scoring findings: ``hook.patch_for`` cuts a cube
   of ``patch_size`` voxels around it from the detector's internal grid, :mod:`.methods`
   attributes the finding's target to that patch with the chosen Captum method, the map
   (with the patch's own LPS geometry) is summarised (:mod:`.summary`) and resampled onto
   the input grid (:mod:`.grid`) as one :class:`~medview.ai.api.Overlay` per finding, named
   ``saliency-<method>-finding-<NNN>`` (``NNN`` = the finding's 1-based number in
   ``result.findings``). Cancel is checked before every model evaluation.

``result.metadata["explanations"]`` holds one entry per explained finding: its number,
overlay name, peak in LPS mm, peak distance from the finding's centre, positive fractions
inside the radius and the mask, and seconds; ``metadata["method"]`` the method and its
parameters; ``metadata["target_plugin"]`` the explained plugin's id, version and weights
SHA-256 (``ExplainHook.source``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from medview.ai.api import ExplainHook, Finding, Overlay, Params, Result, RunContext
from medview.core.errors import PluginError
from medview.imaging.volume import Volume

from . import grid, methods, summary

#: Share of the progress bar given to the detection run.
DETECTION_SHARE = 0.3


def settings_from(params: Params) -> methods.Settings:
    """The method settings in ``params`` (the manifest's parameters of the same names)."""
    fields = methods.Settings.__dataclass_fields__
    return methods.Settings(**{k: params[k] for k in fields if k in params})


def explain_finding(
    hook: ExplainHook,
    volume: Volume,
    finding: Finding,
    settings: methods.Settings,
    patch_size: int = 64,
    check=None,
) -> tuple[Volume, dict[str, Any]]:
    """(attribution map as a patch Volume with its own LPS geometry, summary numbers)."""
    if hook.patch_for is None:
        raise PluginError("the detector's explanation hook offers no patch_for")
    started = time.perf_counter()
    patch = hook.patch_for(volume, finding, int(patch_size))
    geometry = patch.to_volume(patch.input.detach()[0, 0] * 0)  # the patch grid, for spacing
    att = methods.attribute(
        hook.module, patch, settings, geometry.spacing, hook.cam_layer, check=check
    )
    att_volume = patch.to_volume(att)
    numbers = summary.summarise(att_volume, finding)
    numbers["seconds"] = round(time.perf_counter() - started, 2)
    return att_volume, numbers


class _Share:
    """``ctx`` with progress mapped into ``[low, high]`` (for the detection run)."""

    def __init__(self, ctx: RunContext, low: float, high: float) -> None:
        self._ctx, self._low, self._high = ctx, low, high

    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        self._ctx.progress(self._low + (self._high - self._low) * fraction, message)

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)


class SaliencyExplainer:
    def __init__(self) -> None:
        self.device = "cpu"

    def prepare(self, ctx: RunContext) -> None:
        self.device = ctx.device  # no weights: the target plugin holds the model

    def release(self) -> None:
        pass

    def run(self, volume: Volume, params: Params, ctx: RunContext) -> Result:
        started = time.perf_counter()
        target = params["target"]
        hook = ctx.explainable(target)
        if hook.detect is None or hook.patch_for is None:
            raise PluginError(
                f"plugin {target!r} cannot be explained per finding: its explanation hook "
                "offers no detect/patch_for (see plugins/README.md, Explanation hook)"
            )
        settings = settings_from(params)
        if settings.method == "gradcam":
            name, _ = methods.resolve_layer(hook.module, settings.layer, hook.cam_layer)
            settings = methods.Settings(**{**settings.__dict__, "layer": name})
        ctx.progress(0.0, f"running {target}")
        detection = hook.detect(volume, _Share(ctx, 0.0, DETECTION_SHARE))
        findings = tuple(detection.findings)
        order = sorted(range(len(findings)), key=lambda n: -findings[n].score)
        chosen = sorted(order[: params["max_findings"]])
        overlays, explanations = [], []
        for done, number in enumerate(chosen):
            share = DETECTION_SHARE + (1.0 - DETECTION_SHARE) * done / len(chosen)
            ctx.progress(share, f"explaining finding {done + 1} of {len(chosen)}")
            finding = findings[number]
            att, numbers = explain_finding(
                hook, volume, finding, settings, params["patch_size"], ctx.check_cancelled
            )
            ctx.check_cancelled()
            name = f"saliency-{settings.method}-finding-{number + 1:03d}"
            overlays.append(_overlay(name, att, volume, settings.method, finding))
            explanations.append({"finding": number + 1, "overlay": name, **numbers})
        ctx.progress(1.0, f"{len(chosen)} finding(s) explained")
        return Result(
            findings=findings,
            overlays=tuple(overlays),
            metadata={
                "target": target,
                # The explained model exactly (version, weights), as the runner reports it.
                "target_plugin": dict(hook.source),
                "method": settings.as_dict(),
                "patch_size_vox": int(params["patch_size"]),
                "explanations": explanations,
                "not_explained": len(findings) - len(chosen),
                "detection": dict(detection.metadata),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )


def _overlay(name: str, att: Volume, volume: Volume, method: str, finding: Finding) -> Overlay:
    full = grid.onto_grid(att, volume)
    peak = float(np.abs(att.array).max()) or 1.0
    signed = method in methods.SIGNED
    what = {
        "ig": "Integrated Gradients",
        "gradcam": "Grad-CAM",
        "smoothgrad": "SmoothGrad",
        "occlusion": "Occlusion",
    }[method]
    return Overlay(
        name=name,
        volume=volume.with_array(
            full, units="attribution", derived=True, derivation=f"{what} attribution"
        ),
        description=(
            f"{what} attribution for the {finding.label} at "
            f"({', '.join(f'{v:.1f}' for v in finding.center_lps_mm)}) mm LPS: "
            + (
                "positive values raised the detector's score, negative lowered it."
                if signed
                else "higher values mattered more to the detector's score."
            )
        ),
        value_range=(-peak, peak) if signed else (0.0, peak),
    )
