"""Helpers shared by the report tests (a uniquely named module: every test folder has a
conftest.py, so ``from conftest import ...`` could find another folder's)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from medview.ai.api import Finding, Overlay, Provenance, Result
from medview.app.cli import main
from medview.app.cli_ai import write_outputs
from medview.reports.model import METHOD_NAMES

PLUGIN = "medview.threshold-blobs"
#: What a real run records as its torch version (issue 11 AI1: reports refuse results without).
TORCH = metadata.version("torch")
READER = "Doe^Jane"


@contextmanager
def home(path: Path):
    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MEDVIEW_HOME", None)
        else:
            os.environ["MEDVIEW_HOME"] = old


@dataclass
class DemoRun:
    study: object  # medview.dicom.demo.DemoStudy
    results: Path
    home: Path

    @property
    def document(self) -> dict:
        return json.loads((self.results / "result.json").read_text(encoding="utf-8"))

    def report(self, out: Path, *extra: str) -> int:
        with home(self.home):
            return main(
                [
                    "report",
                    str(self.study.directory),
                    "--results",
                    str(self.results),
                    "--out",
                    str(out),
                    *extra,
                ]
            )


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) lines of dciodvfy for ``path``."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [x for x in lines if x.startswith("Error")], [
        x for x in lines if x.startswith("Warning")
    ]


def dsrdump(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["dsrdump", "-v", str(path)], capture_output=True, text=True, timeout=60)


# -- saliency explanations (issue 7): what `medview run medview.saliency` writes ---------------

#: Voxel index (i, j, k) of each finding of :func:`write_saliency_results` (#1 has a mask).
SALIENCY_FINDINGS = ((22, 9, 4), (10, 20, 7), (16, 16, 2))


def blob(shape, center_zyx, sigma_zyx, sign=1.0) -> np.ndarray:
    """A Gaussian with a different width on each axis, cut to a box (so some slices are 0)."""
    z, y, x = np.indices(shape, dtype=np.float32)
    r2 = sum(((a - c) / s) ** 2 for a, c, s in zip((z, y, x), center_zyx, sigma_zyx, strict=True))
    out = sign * np.exp(-0.5 * r2).astype(np.float32)
    out[r2 > 9.0] = 0.0
    return out


def attribution(shape) -> np.ndarray:
    """Asymmetric and signed: a positive blob off centre, a weaker negative one elsewhere."""
    positive = blob(shape, (4, 9, 22), (1.2, 2.0, 3.5))
    return positive + blob(shape, (5, 22, 8), (1.0, 2.0, 2.0), sign=-0.4)


def saliency_maps(shape) -> dict[int, np.ndarray]:
    """1-based finding number -> its attribution map (findings 1 and 2)."""
    return {1: attribution(shape), 2: blob(shape, (7, 20, 10), (1.0, 1.5, 2.5))}


def write_saliency_results(
    volume,
    out: Path,
    *,
    explained: Sequence[int] = (1, 2),
    count: int = 3,
    method: Mapping[str, Any] | None = None,
) -> dict[int, np.ndarray]:
    """Write what `medview run medview.saliency` writes (through its own writer) for the
    first ``count`` findings of :data:`SALIENCY_FINDINGS`, the ``explained`` ones (1-based,
    among 1 and 2) with a map; ``method`` is ``metadata.method`` (the method and its
    parameters; default Grad-CAM without parameters). Returns the maps written."""
    shape = volume.shape
    method = dict(method or {"method": "gradcam"})
    name = method["method"]

    def finding(ijk, mask=False) -> Finding:
        center = tuple(float(v) for v in volume.index_to_lps(np.array(ijk, dtype=float)))
        box = (tuple(c - 3 for c in center), tuple(c + 3 for c in center))
        masked = None
        if mask:
            array = np.zeros(shape, np.uint8)
            i, j, k = (int(v) for v in ijk)
            array[k - 1 : k + 2, j - 2 : j + 3, i - 2 : i + 3] = 1
            masked = volume.with_array(array)
        return Finding("lung nodule candidate", 0.9, center, box, (6.0, 6.0, 6.0), masked,
                       ("27925004", "SCT", "Nodule"), {"diameter_mm": 6.0})  # fmt: skip

    maps = {n: m for n, m in saliency_maps(shape).items() if n in explained and n <= count}
    overlays = tuple(
        Overlay(
            f"saliency-{name}-finding-{n:03d}",
            volume.with_array(m),
            METHOD_NAMES.get(name, name),
            (0.0, 1.0),
        )
        for n, m in maps.items()
    )
    explanations = [
        {"finding": n, "overlay": f"saliency-{name}-finding-{n:03d}", "peak_lps_mm": [0, 0, 0]}
        for n in maps
    ]
    provenance = Provenance(
        "job-e2e", "medview.saliency", "1.0.0", "1.0", {}, {"target": "medview.nodule-cnn",
        **method}, "cpu", "cpu", False, {"torch": TORCH}, volume.meta.series_uid,
        volume.meta.study_uid, "", "", 1.0, "succeeded",
    )  # fmt: skip
    result = Result(
        findings=tuple(
            finding(ijk, mask=number == 1)
            for number, ijk in enumerate(SALIENCY_FINDINGS[:count], start=1)
        ),
        overlays=overlays,
        metadata={"method": method, "explanations": explanations},
        provenance=provenance,
    )
    manifest = SimpleNamespace(
        id="medview.saliency", name="Finding explanations (Captum saliency)", version="1.0.0",
        kind="explanation", intended_use="research", license="Apache-2.0", citation="",
        not_for_diagnostic_use=True,
    )  # fmt: skip
    write_outputs(out, SimpleNamespace(result=result, manifest=manifest), volume)
    return maps
