"""Pointing game on held-out phantom scans: does the attribution peak lie in the nodule?

``python -m plugins.saliency.evaluate [--scans 5] [--first 9000] [--threads 1]`` (from the
repository root) generates evaluation scans of the nodule detector (seeds from
``plugins/nodule_cnn/training/data.py``'s ``EVALUATION`` range, never trained or calibrated
on), runs the shipped detector as medview would (default minimum score 0.3, weights SHA-256
checked), matches findings to the truth as the detector's own FROC evaluation does (centre
within the nodule's radius; only the best-scoring finding per nodule), and explains every
true-positive finding on its 64^3 patch with the plugin's default settings:

* ``ig``: Integrated Gradients, 32 steps, air baseline;
* ``gradcam``: the plugin's default Grad-CAM (element-wise, signed) on the detector's
  suggested layer;
* ``gradcam-elementwise``: the same map through a ReLU (HiResCAM), same layer;
* ``gradcam-pooled``: classic Grad-CAM (pooled channel weights), same layer;
* ``gradcam-random``: the default Grad-CAM on a copy of the detector with every weight
  re-initialised (a control: what the architecture alone gives);
* ``patch-centre``: no model at all, the peak put at the patch's centre voxel (a control:
  the patch is centred on the finding, so a centred map scores by construction).

A hit: the map's peak (its most positive voxel) lies within the nodule's true radius of its
true centre. Prints the accuracy per method with the median peak distance and the median
share of positive attribution within the radius, and writes ``--json`` (default
``plugins/saliency/pointing_game.json``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from medview.ai.api import Finding

HERE = Path(__file__).resolve().parent
METHODS = (
    "ig",
    "gradcam",
    "gradcam-elementwise",
    "gradcam-pooled",
    "gradcam-random",
    "patch-centre",
)


def _randomised(module):
    import torch

    model = copy.deepcopy(module).eval()
    torch.manual_seed(1234)
    for sub in model.modules():
        if isinstance(sub, (torch.nn.Conv3d, torch.nn.BatchNorm3d)):
            sub.reset_parameters()
    return model


def true_positives(findings, truth) -> list[tuple[Finding, int]]:
    """(finding, nodule index) for the best-scoring finding within each nodule's radius."""
    centres = np.array([n.center_lps for n in truth]).reshape(-1, 3)
    radii = np.array([n.diameter_mm / 2 for n in truth])
    best: dict[int, Finding] = {}
    for f in findings:
        dist = np.linalg.norm(centres - np.array(f.center_lps_mm), axis=1)
        inside = np.flatnonzero(dist <= radii)
        if not len(inside):
            continue
        n = int(inside[np.argmin(dist[inside])])
        if n not in best or f.score > best[n].score:
            best[n] = f
    return [(best[n], n) for n in sorted(best)]


def evaluate(seeds, patch_size: int = 64, n_steps: int = 32, verbose: bool = True) -> dict:
    from medview_plugins.nodule_cnn.plugin import NoduleCnnDetector
    from medview_plugins.nodule_cnn.training import data
    from medview_plugins.nodule_cnn.training.evaluate import LocalContext

    from . import methods, summary
    from .plugin import explain_finding

    detector = NoduleCnnDetector()
    ctx = LocalContext()
    detector.prepare(ctx)
    hook = detector.explainable()
    random_hook = dataclasses.replace(hook, module=_randomised(hook.module))
    settings = {
        "ig": methods.Settings(method="ig", n_steps=n_steps),
        "gradcam": methods.Settings(method="gradcam"),  # the default: signed element-wise
        "gradcam-elementwise": methods.Settings(method="gradcam", cam_weights="elementwise"),
        "gradcam-pooled": methods.Settings(method="gradcam", cam_weights="pooled"),
        "gradcam-random": methods.Settings(method="gradcam"),
    }
    rows = []
    for seed in seeds:
        started = time.perf_counter()
        volume, truth, _ = data.make_scan(seed)
        result = detector.run(volume, {"min_score": 0.3, "max_findings": 20, "masks": False}, ctx)
        tps = true_positives(result.findings, truth)
        if verbose:
            print(f"scan {seed}: {len(truth)} nodules, {len(result.findings)} findings, "
                  f"{len(tps)} true positives ({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        for finding, n in tps:
            nodule = truth[n]
            radius = nodule.diameter_mm / 2
            row = {"seed": seed, "kind": nodule.kind, "diameter_mm": round(nodule.diameter_mm, 2)}
            for name in METHODS:
                t = time.perf_counter()
                if name == "patch-centre":
                    patch = hook.patch_for(volume, finding, patch_size)
                    grid = patch.to_volume(patch.input.detach()[0, 0] * 0)
                    peak = grid.zyx_to_lps(np.array(grid.shape, dtype=float) // 2)
                    fraction = None
                else:
                    which = random_hook if name == "gradcam-random" else hook
                    att, numbers = explain_finding(
                        which, volume, finding, settings[name], patch_size
                    )
                    peak = np.array(numbers["peak_lps_mm"])
                    truth_finding = Finding(
                        "nodule", 1.0, nodule.center_lps, (nodule.center_lps,) * 2, (0, 0, 0),
                        measurements={"diameter_mm": nodule.diameter_mm},
                    )  # fmt: skip
                    fraction = summary.summarise(att, truth_finding)["positive_fraction_in_radius"]
                distance = float(np.linalg.norm(peak - np.array(nodule.center_lps)))
                row[name] = {
                    "hit": bool(distance <= radius),
                    "peak_distance_mm": round(distance, 2),
                    "positive_fraction_in_radius": fraction,
                    "seconds": round(time.perf_counter() - t, 2),
                }
            rows.append(row)
            if verbose:
                print(f"  {nodule.kind:<13} {nodule.diameter_mm:5.1f} mm  "
                      + "  ".join(f"{m} {'hit ' if row[m]['hit'] else 'miss'} "
                                  f"{row[m]['peak_distance_mm']:5.1f} mm" for m in METHODS)
                      + f"  (ig {row['ig']['seconds']:.0f} s)", flush=True)  # fmt: skip
    return report(rows, list(seeds), patch_size, n_steps)


def report(rows: list[dict], seeds: list[int], patch_size: int, n_steps: int) -> dict:
    out: dict = {
        "scans": len(seeds),
        "seeds": [seeds[0], seeds[-1]] if seeds else [],
        "true_positive_findings": len(rows),
        "patch_size_vox": patch_size,
        "ig_n_steps": n_steps,
        "hit": "attribution peak within the nodule's true radius of its true centre",
        "methods": {},
        "findings": rows,
    }
    print(f"pointing game over {len(seeds)} held-out scans, {len(rows)} true-positive findings")
    print(f"  {'method':<16} {'accuracy':>8} {'hits':>9} {'median peak dist':>17} "
          f"{'median pos. in radius':>22}")  # fmt: skip
    for name in METHODS:
        hits = [r[name]["hit"] for r in rows]
        dist = [r[name]["peak_distance_mm"] for r in rows]
        frac = [r[name]["positive_fraction_in_radius"] for r in rows]
        frac = [f for f in frac if f is not None]
        acc = float(np.mean(hits)) if hits else float("nan")
        out["methods"][name] = {
            "accuracy": round(acc, 4),
            "hits": int(sum(hits)),
            "findings": len(hits),
            "median_peak_distance_mm": round(float(np.median(dist)), 2) if dist else None,
            "median_positive_fraction_in_radius": round(float(np.median(frac)), 4)
            if frac
            else None,
            "median_seconds": round(float(np.median([r[name]["seconds"] for r in rows])), 2)
            if rows
            else None,
        }
        m = out["methods"][name]
        print(f"  {name:<16} {acc:8.3f} {m['hits']:>4}/{len(hits):<4} "
              f"{m['median_peak_distance_mm'] or float('nan'):14.2f} mm "
              f"{m['median_positive_fraction_in_radius'] or float('nan'):22.3f}")  # fmt: skip
    return out


def main() -> None:
    from medview_plugins.nodule_cnn.training import data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=5)
    parser.add_argument("--first", type=int, default=data.EVALUATION.start)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=HERE / "pointing_game.json")
    args = parser.parse_args()
    import torch

    if args.first not in data.EVALUATION or args.first + args.scans - 1 not in data.EVALUATION:
        raise SystemExit("evaluation seeds must come from the detector's data.EVALUATION")
    seeds = list(range(args.first, args.first + args.scans))
    torch.set_num_threads(args.threads)
    summary = evaluate(seeds, args.patch, args.steps)
    summary["command"] = (
        f"python -m plugins.saliency.evaluate --scans {args.scans} --first {args.first} "
        f"--patch {args.patch} --steps {args.steps} --threads {args.threads}"
    )
    args.json.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
