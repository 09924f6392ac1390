"""The threshold blob detector as a medview plugin: manifest factory ``plugin:ThresholdBlobDetector``.

The plugin contract in its smallest complete form: ``prepare`` reads its (SHA-256 checked)
configuration once, ``run`` turns the detector's blobs into :class:`Finding` objects in LPS mm
with masks on the input grid, reporting progress and honouring cancel; ``release`` drops what
``prepare`` loaded.
"""

from __future__ import annotations

import json

import numpy as np

from medview.ai.api import Finding, Params, Result, RunContext
from medview.imaging.volume import Volume

from . import detector

#: SNOMED CT "Nodule" (pydicom codes.SCT.Nodule), so a report can code the finding (value, scheme, meaning).
LUNG_NODULE = ("27925004", "SCT", "Nodule")


class ThresholdBlobDetector:
    def __init__(self) -> None:
        self.limits: dict[str, float] | None = None

    def prepare(self, ctx: RunContext) -> None:
        # read_weights checks the SHA-256 of the very bytes it returns.
        config = json.loads(ctx.read_weights("config"))
        self.limits = {k: float(v) for k, v in config.items() if k != "about"}
        ctx.log.info("threshold blob detector ready on %s", ctx.device)

    def run(self, volume: Volume, params: Params, ctx: RunContext) -> Result:
        if self.limits is None:
            raise RuntimeError("run() before prepare()")
        settings = detector.Settings(
            threshold_hu=params["threshold_hu"],
            opening_mm=params["opening_mm"],
            min_diameter_mm=params["min_diameter_mm"],
            max_diameter_mm=params["max_diameter_mm"],
            **self.limits,
        )
        blobs = detector.detect(
            volume.array, volume.spacing, volume.origin, volume.direction, settings, ctx.progress
        )
        findings = []
        for blob in blobs:
            ctx.check_cancelled()
            if blob.score < params["min_score"]:
                continue
            mask = (
                volume.with_array(
                    blob.mask.astype(np.uint8), derived=True, derivation="threshold blob mask"
                )
                if params["masks"]
                else None
            )
            findings.append(
                Finding.from_voxel_box(
                    volume,
                    label="lung nodule candidate",
                    score=blob.score,
                    zyx_low=blob.low_zyx,
                    zyx_high=blob.high_zyx,
                    center_zyx=blob.centroid_zyx,
                    mask=mask,
                    code=LUNG_NODULE,
                    measurements={
                        "diameter_mm": round(blob.diameter_mm, 2),
                        "volume_mm3": round(blob.volume_mm3, 1),
                        "mean_hu": round(blob.mean_hu, 1),
                        "elongation": round(blob.elongation, 3),
                        "flatness": round(blob.flatness, 3),
                        "roundness": round(blob.roundness, 3),
                        "air_around": round(blob.air_around, 3),
                    },
                )
            )
        ctx.progress(1.0, f"{len(findings)} finding(s)")
        return Result(
            findings=tuple(findings),
            metadata={"candidates": len(blobs), "reported": len(findings)},
        )

    def release(self) -> None:
        self.limits = None
