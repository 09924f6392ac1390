"""FROC evaluation on held-out phantom scans, through the plugin's own ``run``.

``python -m plugins.nodule_cnn.training.evaluate [--scans 20]`` (from the repository root)
generates the evaluation scans (seeds ``data.EVALUATION``, disjoint from training and
validation seeds, with the same widening: spacing, thickness, noise, kernel, body size,
orientation, extra nodules), runs the detector exactly as medview would (weights SHA-256
checked against ``plugin.toml``), and prints:

* sensitivity at 1/8, 1/4, 1/2, 1, 2, 4, 8 false positives per scan and their mean (CPM);
  a detection hits a nodule when its centre lies within the nodule's radius; further
  detections of an already found nodule are neither hits nor false positives;
* sensitivity at 4 FP/scan per nodule type and size bucket (and CPM per group);
* the diameter error (reported diameter vs truth) of the nodules found at 4 FP/scan;
* seconds per scan; and writes ``training/froc.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomllib

from medview.ai import torch_backend

from ..plugin import NoduleCnnDetector
from . import data
from .pngplot import line_plot

PLUGIN = Path(__file__).resolve().parents[1]
FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
SIZE_BUCKETS = ((3.0, 6.0), (6.0, 10.0), (10.0, 20.0), (20.0, 40.0))


class LocalContext:
    """The bits of RunContext the detector uses, for scripts and tests (no runner)."""

    def __init__(self, device: str = "cpu", weights: Path | None = None) -> None:
        self.device = device
        self.mixed_precision = False
        self.tile_scale = 1.0
        self.plugin_dir = PLUGIN
        self.log = logging.getLogger("nodule_cnn.evaluate")
        self._weights = weights

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass

    def load_state_dict(self, name: str) -> dict:
        manifest = tomllib.loads((PLUGIN / "plugin.toml").read_text())
        spec = next(w for w in manifest["weights"] if w["name"] == name)
        path = self._weights or PLUGIN / spec["file"]
        payload = path.read_bytes()
        if self._weights is None and hashlib.sha256(payload).hexdigest() != spec["sha256"]:
            raise RuntimeError(f"{path} does not match the SHA-256 in plugin.toml")
        return torch_backend.load_state_dict(path, payload, self.device)


@dataclass
class ScanResult:
    seed: int
    scores: np.ndarray  # per detection
    hit: np.ndarray  # per detection: index of the nodule hit, or -1
    diameters: np.ndarray  # per detection, mm (reported: size head, corrected)
    kinds: list[str]  # per nodule
    true_diameters: np.ndarray  # per nodule
    seconds: float


def run_scan(detector: NoduleCnnDetector, ctx: LocalContext, seed: int) -> ScanResult:
    volume, truth, _acq = data.make_scan(seed)
    params = {"min_score": 0.0, "max_findings": 100, "masks": False}
    t = time.perf_counter()
    result = detector.run(volume, params, ctx)
    seconds = time.perf_counter() - t
    centres = np.array([n.center_lps for n in truth]).reshape(-1, 3)
    radii = np.array([n.diameter_mm / 2 for n in truth])
    hits, scores, diams = [], [], []
    for f in result.findings:
        dist = np.linalg.norm(centres - np.array(f.center_lps_mm), axis=1)
        inside = np.flatnonzero(dist <= radii)
        hits.append(int(inside[np.argmin(dist[inside])]) if len(inside) else -1)
        scores.append(f.score)
        diams.append(f.measurements["diameter_mm"])
    return ScanResult(
        seed,
        np.array(scores),
        np.array(hits, dtype=int),
        np.array(diams),
        [n.kind for n in truth],
        np.array([n.diameter_mm for n in truth]),
        seconds,
    )


def froc(results: list[ScanResult], select=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FP per scan, sensitivity, threshold) at every distinct score, for the nodules that
    ``select(scan, nodule_index)`` keeps (all by default); FPs always count every scan."""
    entries = []  # (score, scan index, nodule index or -1)
    total = 0
    for s, r in enumerate(results):
        keep = [n for n in range(len(r.kinds)) if select is None or select(r, n)]
        total += len(keep)
        for score, hit in zip(r.scores, r.hit, strict=True):
            if hit >= 0 and hit not in keep:
                continue  # a hit on a nodule outside the group: neither TP nor FP
            entries.append((score, s, int(hit)))
    entries.sort(key=lambda e: -e[0])
    found: set[tuple[int, int]] = set()
    fps, sens, thr = [0.0], [0.0], [1.0 + 1e-9]
    fp = 0
    for score, s, hit in entries:
        if hit < 0:
            fp += 1
        elif (s, hit) in found:
            continue
        else:
            found.add((s, hit))
        fps.append(fp / len(results))
        sens.append(len(found) / max(total, 1))
        thr.append(score)
    return np.array(fps), np.array(sens), np.array(thr)


def sensitivity_at(fps: np.ndarray, sens: np.ndarray, rate: float) -> float:
    """Highest sensitivity reached with at most ``rate`` false positives per scan."""
    ok = fps <= rate + 1e-12
    return float(sens[ok].max()) if ok.any() else 0.0


def threshold_at(fps: np.ndarray, thr: np.ndarray, rate: float) -> float:
    ok = np.flatnonzero(fps <= rate + 1e-12)
    return float(thr[ok[-1]])


def report(results: list[ScanResult], png: Path | None) -> dict:
    fps, sens, thr = froc(results)
    points = {rate: sensitivity_at(fps, sens, rate) for rate in FP_RATES}
    cpm = float(np.mean(list(points.values())))
    n_nod = sum(len(r.kinds) for r in results)
    print(f"FROC over {len(results)} held-out scans (seeds {results[0].seed}..{results[-1].seed}),"
          f" {n_nod} nodules, hit = centre within the nodule radius")  # fmt: skip
    print("  FP/scan     " + "  ".join(f"{r:>6g}" for r in FP_RATES) + "     CPM")
    print("  sensitivity " + "  ".join(f"{points[r]:6.3f}" for r in FP_RATES) + f"   {cpm:.3f}")
    t4 = threshold_at(fps, thr, 4.0)
    print(f"operating point 4 FP/scan: score >= {t4:.4f}")
    groups: dict[str, object] = {}
    for kind in data.KIND_NAMES:
        groups[f"type {kind}"] = lambda r, n, k=kind: r.kinds[n] == k
    for lo, hi in SIZE_BUCKETS:
        groups[f"size {lo:g}-{hi:g} mm"] = lambda r, n, a=lo, b=hi: a <= r.true_diameters[n] < b
    groups["size >= 6 mm"] = lambda r, n: r.true_diameters[n] >= 6.0
    summary = {"cpm": cpm, "sensitivity": {str(k): v for k, v in points.items()}, "groups": {}}
    print(f"  {'group':<24} {'nodules':>7} {'found@4FP':>9} {'sens@4FP':>8} {'CPM':>6}")
    for name, select in groups.items():
        count = sum(1 for r in results for n in range(len(r.kinds)) if select(r, n))
        if not count:
            print(f"  {name:<24} {0:>7}")
            continue
        g_fps, g_sens, _ = froc(results, select)
        g_points = [sensitivity_at(g_fps, g_sens, rate) for rate in FP_RATES]
        found = sum(
            1
            for r in results
            for n in range(len(r.kinds))
            if select(r, n) and np.any((r.hit == n) & (r.scores >= t4))
        )
        print(f"  {name:<24} {count:>7} {found:>9} {found / count:8.3f} {np.mean(g_points):6.3f}")
        summary["groups"][name] = {"nodules": count, "sens_at_4fp": found / count,
                                   "cpm": float(np.mean(g_points))}  # fmt: skip
    errors, rel = [], []
    for r in results:
        for n in range(len(r.kinds)):
            mine = np.flatnonzero((r.hit == n) & (r.scores >= t4))
            if len(mine):
                best = mine[np.argmax(r.scores[mine])]
                errors.append(abs(r.diameters[best] - r.true_diameters[n]))
                rel.append(errors[-1] / r.true_diameters[n])
    if errors:
        print(f"diameter error of nodules found at 4 FP/scan (n={len(errors)}): median "
              f"{np.median(errors):.2f} mm, mean {np.mean(errors):.2f} mm, 90th percentile "
              f"{np.percentile(errors, 90):.2f} mm, median relative {100 * np.median(rel):.1f} %")  # fmt: skip
        summary["median_diameter_error_mm"] = float(np.median(errors))
    secs = [r.seconds for r in results]
    print(f"detector time per scan: median {np.median(secs):.1f} s, max {max(secs):.1f} s")
    if png is not None:
        keep = fps <= 10
        line_plot(
            png,
            {"all nodules": (np.maximum(fps[keep], 1 / 16), sens[keep])},
            f"FROC, {len(results)} held-out phantom scans (CPM {cpm:.3f})",
            "false positives per scan",
            "sensitivity",
            logx=True,
            ylim=(0.0, 1.0),
        )
        print(f"wrote {png}")
    return summary


def evaluate(seeds, weights: Path | None = None, png: Path | None = None, verbose=True) -> dict:
    detector = NoduleCnnDetector()
    ctx = LocalContext(weights=weights)
    detector.prepare(ctx)
    results = []
    for seed in seeds:
        results.append(run_scan(detector, ctx, seed))
        if verbose:
            r = results[-1]
            print(f"scan {seed}: {len(r.kinds)} nodules, {int((r.hit >= 0).sum())} hits among "
                  f"{len(r.scores)} candidates, {r.seconds:.1f} s", flush=True)  # fmt: skip
    return report(results, png)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=20)
    parser.add_argument("--first", type=int, default=data.EVALUATION.start)
    parser.add_argument("--weights", type=Path, default=None, help="default: the shipped ones")
    parser.add_argument("--png", type=Path, default=Path(__file__).resolve().parent / "froc.png")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.first not in data.EVALUATION:
        raise SystemExit("evaluation seeds must come from data.EVALUATION")
    evaluate(range(args.first, args.first + args.scans), args.weights, args.png)


if __name__ == "__main__":
    main()
