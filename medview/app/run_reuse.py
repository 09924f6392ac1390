"""``medview run --reuse DIR``: an earlier ``medview run`` result handed to an explanation.

``medview run medview.saliency PATH --param target=medview.nodule-cnn --reuse DETECTIONS``
explains the findings the detector wrote into ``DETECTIONS`` instead of detecting again
(issue 7: "it runs or reuses the detection"). The earlier result must be for the same
series, by the installed version of the plugin with the same weights (SHA-256): findings
of another model would be explained with a model that did not make them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medview.ai.api import Finding, Provenance, Result
from medview.ai.registry import PluginRegistry
from medview.core.errors import MedviewError
from medview.imaging.volume import Volume
from medview.reports.results import RESULT_NAME, array_on_grid, read_result_document

__all__ = ["load_run_result"]


def load_run_result(folder: Path, volume: Volume, registry: PluginRegistry) -> tuple[str, Result]:
    """(plugin id, its Result with findings and masks) of the ``medview run`` in ``folder``.

    Raises MedviewError naming the file when it is not for ``volume``'s series, or was made
    by another version or other weights of the plugin than the installed one.
    """
    folder = Path(folder)
    path = folder / RESULT_NAME
    document = read_result_document(folder, volume)
    plugin = document.get("plugin") or {}
    plugin_id = str(plugin.get("id", ""))
    manifest = registry.require(plugin_id)
    if str(plugin.get("version", "")) != manifest.version:
        raise MedviewError(
            f"made by {plugin_id} {plugin.get('version')}, but {manifest.version} is "
            "installed: run it again instead of reusing",
            path,
        )
    raw_provenance = document.get("provenance") or {}
    installed = {w.name: w.sha256 for w in manifest.weights}
    if dict(raw_provenance.get("weights_sha256") or {}) != installed:
        raise MedviewError(
            f"made with other weights of {plugin_id} than the installed ones: run it again",
            path,
        )
    shape = list((document.get("input") or {}).get("shape_zyx") or [])
    if shape and shape != list(volume.shape):
        raise MedviewError(f"made on a {shape} grid, not the series' {list(volume.shape)}", path)
    try:
        findings = tuple(_finding(entry, folder, volume) for entry in document["findings"])
        provenance = _provenance(raw_provenance)
    except (KeyError, TypeError, ValueError) as exc:
        raise MedviewError(
            f"result.json has a malformed finding or provenance ({exc})", path
        ) from None
    return plugin_id, Result(findings=findings, provenance=provenance)


def _finding(entry: dict[str, Any], folder: Path, volume: Volume) -> Finding:
    mask = None
    if entry.get("mask"):
        voxels = array_on_grid(folder, entry["mask"], volume, "mask") > 0
        mask = volume.with_array(voxels.astype(np.uint8), derived=True, derivation="mask")
    low, high = entry["bbox_lps_mm"]
    return Finding(
        label=entry["label"],
        score=entry["score"],
        center_lps_mm=tuple(entry["center_lps_mm"]),
        bbox_lps_mm=(tuple(low), tuple(high)),
        size_mm=tuple(entry["size_mm"]),
        mask=mask,
        code=tuple(entry["code"]) if entry.get("code") else None,
        measurements={k: float(v) for k, v in (entry.get("measurements") or {}).items()},
    )


def _provenance(raw: dict[str, Any]) -> Provenance:
    fields = Provenance.__dataclass_fields__
    values = {k: raw[k] for k in fields if k in raw}
    values["attempts"] = tuple(values.get("attempts") or ())
    return Provenance(**values)
