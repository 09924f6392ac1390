"""The 3D CNN nodule detector as a medview plugin: manifest factory ``plugin:NoduleCnnDetector``.

``run``: the input (any orientation, any spacing the manifest accepts) is resampled to the
canonical 1.5 mm LPS grid, cropped to a cheap lung box, swept by batched overlapping windows
of the network, and its heatmap peaks (3D NMS) become findings: centre in LPS mm, diameter
(size head, corrected by a map fitted on the validation phantoms), volume (sphere of that diameter; the mask's volume too), a calibrated score
(Platt scaling fitted on held-out validation phantoms: the estimated probability that the
candidate is a nodule) and a mask resampled onto the input grid.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from medview.ai.api import (
    ExplainHook,
    ExplainPatch,
    Finding,
    Params,
    Result,
    RunContext,
    resolve_params,
)
from medview.ai.manifest import load_manifest
from medview.core.errors import PluginError
from medview.imaging.volume import Volume, VolumeMeta

from . import detect, preprocess
from .model import HEATMAP, NoduleNet, normalise, output_at

#: SNOMED CT "Nodule" (pydicom codes.SCT.Nodule), as the threshold example uses.
LUNG_NODULE = ("27925004", "SCT", "Nodule")
#: Smallest physical extent along every axis, mm: refuses single images and thin slabs.
MIN_EXTENT_MM = 40.0
#: This plugin's manifest (the parameter defaults ``ExplainHook.detect`` runs with).
MANIFEST = Path(__file__).resolve().with_name("plugin.toml")
#: Layer suggested to Grad-CAM: the decoder block at half resolution (3 mm cells), deep
#: enough to be semantic, fine enough to point inside a small nodule.
CAM_LAYER = "dec1"
#: Air, -1000 HU, in the network's input units (the patch padding and the IG baseline).
AIR_INPUT = float(normalise(torch.tensor(-1000.0)))


class NoduleCnnDetector:
    def __init__(self) -> None:
        self.net: NoduleNet | None = None
        self.calibration = (1.0, 0.0)
        self.size_correction = (0.0, 1.0)  # (c0, c1): d = exp(c0) * d_head ** c1
        self.device = "cpu"
        self._last: tuple[int, preprocess.Canonical] | None = None

    # -- life cycle -------------------------------------------------------------------------
    def prepare(self, ctx: RunContext) -> None:
        state = ctx.load_state_dict("model")  # SHA-256 checked, safetensors (no pickle)
        state = {k: v.to("cpu") for k, v in state.items()}
        width = int(state.pop("config.width").item())
        a, b = (float(v) for v in state.pop("calibration"))
        c0, c1 = (float(v) for v in state.pop("size_correction", torch.tensor([0.0, 1.0])))
        net = NoduleNet(width)
        net.load_state_dict(state)
        self.device = ctx.device
        self.net = net.to(ctx.device).eval()
        self.calibration = (a, b)
        self.size_correction = (c0, c1)
        if ctx.device == "cpu":
            torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
        ctx.log.info("nodule CNN ready on %s (width %d)", ctx.device, width)

    def release(self) -> None:
        self.net = None
        self._last = None

    # -- run --------------------------------------------------------------------------------
    def run(self, volume: Volume, params: Params, ctx: RunContext) -> Result:
        if self.net is None:
            raise RuntimeError("run() before prepare()")
        started = time.perf_counter()
        check_input(volume)
        ctx.progress(0.02, "resampling to 1.5 mm")
        can = self._canonical(volume)
        crop = can.volume.array[can.lung_box]
        window = detect.WINDOW if ctx.tile_scale >= 1.0 else detect.WINDOW // 2
        ctx.progress(0.1, "detecting")
        pred = detect.predict(
            self.net,
            crop,
            self.device,
            window,
            check=lambda f: ctx.progress(0.1 + 0.8 * f, "detecting"),
        )
        peaks = detect.find_peaks(pred, preprocess.SPACING_MM)
        a, b = self.calibration
        scored = [(1.0 / (1.0 + math.exp(-(a * p.logit + b))), p) for p in peaks]
        scored = [(s, p) for s, p in scored if s >= params["min_score"]]
        scored = scored[: params["max_findings"]]
        ctx.progress(0.92, "measuring")
        offset = np.array([s.start for s in can.lung_box], dtype=float)
        findings = []
        for score, peak in scored:
            ctx.check_cancelled()
            findings.append(
                self._finding(volume, can.volume, pred, peak, offset, score, params["masks"])
            )
        ctx.progress(1.0, f"{len(findings)} finding(s)")
        return Result(
            findings=tuple(findings),
            metadata={
                "candidates": len(peaks),
                "reported": len(findings),
                "internal_spacing_mm": preprocess.SPACING_MM,
                "lung_box_voxels": [int(n) for n in crop.shape],
                "seconds": round(time.perf_counter() - started, 2),
            },
        )

    def _canonical(self, volume: Volume) -> preprocess.Canonical:
        # Read once, return what was read: an explanation may use this instance beside a run.
        last = self._last
        if last is None or last[0] != id(volume):
            last = (id(volume), preprocess.canonical(volume))
            self._last = last
        return last[1]

    def _finding(self, volume, grid, pred, peak, offset, score, masks) -> Finding:
        sp = preprocess.SPACING_MM
        centre = grid.zyx_to_lps(offset + peak.zyx)
        diameter = detect.correct_diameter(peak.diameter_mm, self.size_correction)
        raw = peak.diameter_mm
        peak = dataclasses.replace(peak, diameter_mm=diameter)  # the mask's reach too
        measurements = {
            "diameter_mm": round(diameter, 2),
            "volume_mm3": round(math.pi / 6.0 * diameter**3, 1),
            "logit": round(peak.logit, 3),
            "head_diameter_mm": round(raw, 2),
        }
        mask_volume = None
        sub, box = detect.finding_mask(pred, peak, sp)
        sub_origin = grid.zyx_to_lps(offset + np.array([s.start for s in box]))
        sub_grid = Volume(sub.astype(np.uint8), (sp, sp, sp), tuple(sub_origin), np.eye(3))
        full = _onto_input(sub_grid, volume)
        if full.any():
            measurements["mask_volume_mm3"] = round(
                float(full.sum()) * volume.voxel_volume_mm3(), 1
            )
            if masks:
                mask_volume = volume.with_array(full, derived=True, derivation="nodule CNN mask")
            zyx = np.argwhere(full)
            return Finding.from_voxel_box(
                volume,
                "lung nodule",
                score,
                zyx.min(axis=0),
                zyx.max(axis=0),
                center_zyx=volume.lps_to_zyx(centre),
                mask=mask_volume,
                code=LUNG_NODULE,
                measurements=measurements,
            )
        half = diameter / 2.0
        low, high = centre - half, centre + half
        return Finding(
            "lung nodule",
            score,
            tuple(centre),
            (tuple(low), tuple(high)),
            (diameter,) * 3,
            None,
            LUNG_NODULE,
            measurements,
        )

    # -- explanation --------------------------------------------------------------------------
    def explainable(self) -> ExplainHook:
        """Captum hook: input = the normalised canonical lung crop (1, 1, z, y, x), padded to
        a multiple of 8; target = the heatmap logit at the finding's centre voxel.

        Also offers ``patch_for`` (a local cube on the canonical grid around one finding,
        with its exact LPS geometry), ``detect`` (``run`` with the manifest defaults) and
        ``cam_layer`` (:data:`CAM_LAYER`)."""
        if self.net is None:
            raise RuntimeError("explainable() before prepare()")

        def preprocess_fn(volume: Volume) -> torch.Tensor:
            crop = self._canonical(volume)
            hu = crop.volume.array[crop.lung_box]
            pad = [(0, (-n) % 8) for n in hu.shape]
            hu = np.pad(hu, pad, constant_values=-1000.0)
            return normalise(torch.from_numpy(np.ascontiguousarray(hu)))[None, None].to(self.device)

        def target_for(finding: Finding):
            can = self._last[1] if self._last else None
            if can is None:
                raise PluginError("call preprocess(volume) before target_for(finding)")
            offset = np.array([s.start for s in can.lung_box], dtype=float)
            zyx = np.round(can.volume.lps_to_zyx(finding.center_lps_mm) - offset).astype(int)
            z, y, x = (int(v) for v in zyx)
            return lambda out: out[:, HEATMAP, z, y, x]

        def to_volume(attribution, volume: Volume) -> Volume:
            can = self._canonical(volume)
            att = attribution.detach().float().cpu().numpy().reshape(attribution.shape[-3:])
            shape = [s.stop - s.start for s in can.lung_box]
            att = att[: shape[0], : shape[1], : shape[2]]
            origin = can.volume.zyx_to_lps([s.start for s in can.lung_box])
            sp = preprocess.SPACING_MM
            sub = Volume(att.astype(np.float32), (sp, sp, sp), tuple(origin), np.eye(3))
            out = sitk.Resample(
                sub.to_sitk(),
                preprocess._reference(volume),
                sitk.Transform(),
                sitk.sitkLinear,
                0.0,
                sitk.sitkFloat32,
            )
            return volume.with_array(
                sitk.GetArrayFromImage(out), derived=True, derivation="nodule CNN attribution"
            )

        return ExplainHook(
            self.net,
            preprocess_fn,
            target_for,
            to_volume,
            patch_for=self._patch_for,
            detect=self._detect,
            cam_layer=CAM_LAYER,
        )

    def _patch_for(self, volume: Volume, finding: Finding, size_vox: int = 64) -> ExplainPatch:
        """A cube of ``size_vox`` (rounded up to a multiple of 8) canonical voxels centred on
        the finding's centre voxel, cut from the whole canonical grid (not only the lung
        box) and padded with air; target = the heatmap logit at the cube's centre voxel."""
        if self.net is None:
            raise RuntimeError("patch_for() before prepare()")
        can = self._canonical(volume)
        grid = can.volume
        size = max(8, 8 * math.ceil(int(size_vox) / 8))
        centre = np.round(grid.lps_to_zyx(finding.center_lps_mm)).astype(int)
        start = centre - size // 2
        hu = np.full((size, size, size), -1000.0, dtype=np.float32)
        lo = np.clip(start, 0, grid.shape)
        hi = np.clip(start + size, 0, grid.shape)
        if np.all(hi > lo):
            src = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            dst = tuple(
                slice(int(a - s0), int(b - s0)) for a, b, s0 in zip(lo, hi, start, strict=True)
            )
            hu[dst] = grid.array[src]
        x = normalise(torch.from_numpy(hu))[None, None].to(self.device)
        c = size // 2
        origin = grid.zyx_to_lps(start.astype(float))  # LPS of the patch's voxel (0, 0, 0)
        spacing, direction = grid.spacing, grid.direction

        def target(out: torch.Tensor) -> torch.Tensor:
            return out[:, HEATMAP, c, c, c]

        def to_volume(attribution) -> Volume:
            att = attribution.detach().float().cpu().numpy().reshape(hu.shape)
            meta = VolumeMeta(
                modality=volume.meta.modality,
                study_uid=volume.meta.study_uid,
                frame_of_reference_uid=volume.meta.frame_of_reference_uid,
                units="attribution",
                derived=True,
                derivation="nodule CNN attribution (canonical patch)",
            )
            return Volume(att.astype(np.float32), spacing, tuple(origin), direction, meta)

        def forward(module, inp: torch.Tensor) -> torch.Tensor:
            return output_at(module, inp, (c, c, c))[:, HEATMAP]  # = target(module(inp))

        return ExplainPatch(x, target, to_volume, background=AIR_INPUT, forward=forward)

    def _detect(self, volume: Volume, ctx: RunContext, params: Params | None = None) -> Result:
        """``run`` with the manifest's defaults (overridden by ``params``)."""
        manifest = load_manifest(MANIFEST)
        return self.run(volume, resolve_params(manifest.parameters, params), ctx)


def check_input(volume: Volume) -> None:
    """Refuse what the model cannot read, in one sentence (the manifest checks first)."""
    modality = volume.meta.modality.upper()
    if modality and modality != "CT":
        raise PluginError(f"the nodule detector needs a CT series, this one is {modality}")
    if volume.is_color:
        raise PluginError("the nodule detector needs a greyscale CT, this series is colour")
    extent = volume.extent_mm()
    if min(extent) < MIN_EXTENT_MM or min(volume.size_ijk) < 16:
        raise PluginError(
            "the nodule detector needs a 3D chest CT at least 40 mm and 16 voxels along every "
            f"axis, this series covers {' x '.join(f'{e:.0f}' for e in extent)} mm "
            f"({' x '.join(str(n) for n in volume.size_ijk)} voxels)"
        )
    if not bool((np.asarray(volume.array[:: max(1, volume.shape[0] // 8)]) < -500).any()):
        raise PluginError(
            "the nodule detector needs a chest CT in Hounsfield units; this series has no "
            "air-density voxels (no lung)"
        )


def _onto_input(sub: Volume, volume: Volume) -> np.ndarray:
    """Nearest-neighbour resample of a small mask onto ``volume``'s grid, touching only the
    input-index box around it; returns the full-size uint8 mask (zeros elsewhere)."""
    lo, hi = volume.index_bounds_of(sub)
    size = np.asarray(volume.size_ijk)
    lo, hi = np.clip(lo, 0, size - 1), np.clip(hi, 0, size - 1)
    ref = sitk.Image([int(v) for v in hi - lo + 1], sitk.sitkUInt8)
    ref.SetSpacing(volume.spacing)
    ref.SetOrigin(tuple(float(v) for v in volume.index_to_lps(lo.astype(float))))
    ref.SetDirection(tuple(float(v) for v in volume.direction.ravel()))
    out = sitk.Resample(
        sub.to_sitk(), ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8
    )
    full = np.zeros(volume.shape, np.uint8)
    full[lo[2] : hi[2] + 1, lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] = sitk.GetArrayFromImage(out)
    return full
