"""The detector on medview's demo studies, as a user meets them: an independent check.

``python -m plugins.nodule_cnn.training.evaluate_demo [--scans 5]`` (from the repository
root) writes the demo study of seeds 0, 1, ... as DICOM (``medview.dicom.demo``, the study
``medview`` opens on a first start: the plain phantom at 512 x 512 x 300, 0.70 x 0.70 x
1.0 mm, without the training generator's widening or painted nodules), reads each back
through medview's own import and loader, runs the detector as ``medview run`` would, and
prints the same FROC report as ``evaluate`` against each study's ``truth.json``.

Why it is a separate check: the training scans (``data.py``) are built in memory from the
phantom with extra nodules, kernels and orientations, and never pass through DICOM. The
demo studies use phantom seeds outside the training, validation and evaluation ranges and
reach the model through the file path a user's CT takes, so a model that had learnt the
training generator's artefacts (rather than nodules) would show it here.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..plugin import NoduleCnnDetector
from . import data
from .evaluate import LocalContext, ScanResult, report


def run_demo(detector: NoduleCnnDetector, ctx: LocalContext, seed: int, folder: Path) -> ScanResult:
    from medview.app.startup import load_series
    from medview.dicom.demo import write_demo_study

    study = write_demo_study(folder / f"demo-{seed}", seed=seed)
    volume = load_series(study.directory)
    truth = json.loads(study.truth_path.read_text(encoding="utf-8"))["nodules"]
    params = {"min_score": 0.0, "max_findings": 100, "masks": False}
    started = time.perf_counter()
    result = detector.run(volume, params, ctx)
    seconds = time.perf_counter() - started
    centres = np.array([n["center_lps"] for n in truth]).reshape(-1, 3)
    radii = np.array([n["diameter_mm"] / 2 for n in truth])
    hits = []
    for finding in result.findings:
        dist = np.linalg.norm(centres - np.array(finding.center_lps_mm), axis=1)
        inside = np.flatnonzero(dist <= radii)
        hits.append(int(inside[np.argmin(dist[inside])]) if len(inside) else -1)
    return ScanResult(
        seed,
        np.array([f.score for f in result.findings]),
        np.array(hits, dtype=int),
        np.array([f.measurements["diameter_mm"] for f in result.findings]),
        [n["kind"] for n in truth],
        np.array([n["diameter_mm"] for n in truth]),
        seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=5)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    seeds = range(args.first, args.first + args.scans)
    used = (data.TRAIN, data.VALIDATION, data.EVALUATION)
    if any(seed in r for seed in seeds for r in used):
        raise SystemExit("demo seeds must lie outside the training/validation/evaluation seeds")
    import torch

    torch.set_num_threads(args.threads)
    detector = NoduleCnnDetector()
    ctx = LocalContext()
    detector.prepare(ctx)
    results = []
    with tempfile.TemporaryDirectory(prefix="medview-demo-eval-") as tmp:
        for seed in seeds:
            results.append(run_demo(detector, ctx, seed, Path(tmp)))
            r = results[-1]
            print(f"demo study seed {seed}: {len(r.kinds)} nodules, {int((r.hit >= 0).sum())} "
                  f"hits among {len(r.scores)} candidates, {r.seconds:.1f} s", flush=True)  # fmt: skip
    report(results, None)


if __name__ == "__main__":
    main()
