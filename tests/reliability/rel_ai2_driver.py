"""Run medview's AI plugins once on a study and print a digest of every output bit (AI2).

``python rel_ai2_driver.py STUDY_DIR [--device cpu] [PLUGIN=PARAMS...]``: loads the study
the way ``medview run`` does, runs each plugin through medview's runner (as the app does),
and prints one JSON line: plugin id -> SHA-256 over its findings (every float in full,
``float.hex``), masks, overlays, derived volumes and metadata, plus the job's
deterministic/threads provenance. Identical lines from separate processes mean
bit-identical results. A separate process per run: a cached model, a warm allocator or a
hash seed cannot make runs agree that would not agree for a user.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _floats(value: Any) -> Any:
    """``value`` with every float as its exact hex form (json would round-trip, but say so)."""
    if isinstance(value, float):
        return float(value).hex()
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _floats(v) for k, v in sorted(value.items())}
    if isinstance(value, np.generic):
        return _floats(value.item())
    return value


def _array_digest(hasher, volume) -> None:
    array = np.ascontiguousarray(np.asarray(volume.array))
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(array.tobytes())
    hasher.update(np.asarray(volume.affine, dtype=np.float64).tobytes())


#: Metadata that names the run rather than its output: how long it took, and the id of a
#: reused detection job (a new UUID each run).
RUN_IDENTITY = ("seconds", "job_id")


def _without_run_identity(value: Any) -> Any:
    """``value`` less the :data:`RUN_IDENTITY` entries, at any depth."""
    if isinstance(value, dict):
        return {k: _without_run_identity(v) for k, v in value.items() if k not in RUN_IDENTITY}
    if isinstance(value, (list, tuple)):
        return [_without_run_identity(v) for v in value]
    return value


def result_digest(result) -> str:
    hasher = hashlib.sha256()
    for finding in result.findings:
        record = {
            "label": finding.label,
            "score": finding.score,
            "center": finding.center_lps_mm,
            "bbox": finding.bbox_lps_mm,
            "size": finding.size_mm,
            "measurements": dict(finding.measurements),
        }
        hasher.update(json.dumps(_floats(record), sort_keys=True).encode())
        if finding.mask is not None:
            _array_digest(hasher, finding.mask)
    for overlay in result.overlays:
        hasher.update(overlay.name.encode())
        _array_digest(hasher, overlay.volume)
    for derived in result.volumes:
        _array_digest(hasher, derived)
    metadata = _without_run_identity(dict(result.metadata))
    hasher.update(json.dumps(_floats(metadata), sort_keys=True, default=str).encode())
    return hasher.hexdigest()


def result_arrays(result) -> dict[str, np.ndarray]:
    """The numbers of a result as arrays, to compare runs on different devices."""
    arrays: dict[str, np.ndarray] = {}
    for n, finding in enumerate(result.findings):
        arrays[f"finding{n}"] = np.array(
            [finding.score, *finding.center_lps_mm, *finding.size_mm], dtype=np.float64
        )
        if finding.mask is not None:
            arrays[f"mask{n}"] = np.asarray(finding.mask.array) > 0
    for overlay in result.overlays:
        arrays[f"overlay:{overlay.name}"] = np.asarray(overlay.volume.array)
    for n, derived in enumerate(result.volumes):
        arrays[f"volume{n}"] = np.asarray(derived.array)
    return arrays


def crop(volume, box: str):
    """The sub-volume ``k0:k1,j0:j1,i0:i1`` with its LPS position kept (a smaller input)."""
    from dataclasses import replace

    (k0, k1), (j0, j1), (i0, i1) = (map(int, part.split(":")) for part in box.split(","))
    origin = volume.index_to_lps(np.array([i0, j0, k0], dtype=float))
    array = np.ascontiguousarray(volume.array[k0:k1, j0:j1, i0:i1])
    return replace(volume, array=array, origin=tuple(float(v) for v in origin))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("study", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--crop", default="", help="k0:k1,j0:j1,i0:i1 voxel box (zyx)")
    parser.add_argument("--save", type=Path, help="also write each run's arrays here (.npz)")
    parser.add_argument("runs", nargs="+", help="PLUGIN_ID[:NAME=VALUE,...]")
    args = parser.parse_args()

    from medview.ai.registry import PluginRegistry
    from medview.ai.runner import JobState, Runner
    from medview.app.startup import load_series

    volume = load_series(args.study)
    if args.crop:
        volume = crop(volume, args.crop)
    runner = Runner(PluginRegistry(), default_device=args.device, cpu_workers=1)
    out: dict[str, Any] = {}
    try:
        for spec in args.runs:
            plugin_id, _, raw = spec.partition(":")
            params = dict(item.split("=", 1) for item in raw.split(",") if item)
            job = runner.submit(plugin_id, volume, params)
            job.wait(600)
            if job.state is not JobState.SUCCEEDED:
                print(f"{plugin_id}: {job.state.value}: {job.error}", file=sys.stderr)
                return 1
            provenance = job.provenance
            if args.save is not None:
                args.save.mkdir(parents=True, exist_ok=True)
                np.savez(args.save / f"{plugin_id}.npz", **result_arrays(job.result))
            out[spec] = {
                "digest": result_digest(job.result),
                "findings": len(job.result.findings),
                "deterministic": provenance.deterministic,
                "threads": provenance.threads,
                "device": provenance.device,
                "seconds": round(provenance.seconds, 2),
            }
    finally:
        runner.shutdown()
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
