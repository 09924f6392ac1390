"""Diameter correction for the size head, fitted on the validation scans only.

``python -m plugins.nodule_cnn.training.fit_size`` (from the repository root) refits it for
the shipped weights and rewrites ``model.safetensors`` (tensor ``size_correction``) and the
SHA-256 and size in ``plugin.toml``; ``train.py`` calls :func:`fit` after the calibration.

The map is linear in log-diameter, ``log d = c0 + c1 * log d_head``, i.e. ``d = exp(c0) *
d_head ** c1``, fitted by median (least absolute deviation) regression on the validation
phantoms (seeds ``data.VALIDATION``, as the Platt calibration; never the evaluation seeds).
Each true nodule contributes one pair: the size-head diameter of the strongest candidate whose
centre lies within the nodule's radius (the same matching as the evaluation). Only the reported
diameter changes: centres, scores, NMS and so detections stay exactly as before.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

import numpy as np
import torch

from .. import detect
from ..model import NoduleNet
from . import data

PLUGIN = Path(__file__).resolve().parents[1]


def matched_pairs(net: NoduleNet, seeds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(size-head diameter, true diameter, kind index) of every validation nodule found."""
    head, true, kinds = [], [], []
    for seed in seeds:
        scan = data.canonical_scan(seed)
        pred = detect.predict(net, scan["hu"].astype(np.float32))
        sp = float(scan["spacing"])
        centres = (scan["centers"][:, ::-1] - scan["origin"][::-1]) / sp
        best: dict[int, detect.Peak] = {}
        for peak in detect.find_peaks(pred, sp):  # strongest first
            dist = np.linalg.norm((centres - peak.zyx) * sp, axis=1)
            inside = np.flatnonzero(dist <= scan["diameters"] / 2)
            if len(inside):
                n = int(inside[np.argmin(dist[inside])])
                best.setdefault(n, peak)
        for n, peak in sorted(best.items()):
            head.append(peak.diameter_mm)
            true.append(float(scan["diameters"][n]))
            kinds.append(int(scan["kinds"][n]))
    return np.asarray(head), np.asarray(true), np.asarray(kinds)


def median_regression(x: np.ndarray, y: np.ndarray, iters: int = 500) -> tuple[float, float]:
    """(c0, c1) minimising sum |y - c0 - c1 x| (iteratively reweighted least squares)."""
    a = np.stack([np.ones_like(x), x], axis=1)
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    for _ in range(iters):
        w = 1.0 / np.maximum(np.abs(y - a @ coef), 1e-6)
        new = np.linalg.solve(a.T @ (a * w[:, None]), a.T @ (w * y))
        if np.allclose(new, coef, atol=1e-10):
            break
        coef = new
    return float(coef[0]), float(coef[1])


def summary(head: np.ndarray, true: np.ndarray) -> str:
    err = head - true
    return (
        f"median |error| {np.median(np.abs(err)):.2f} mm, median signed {np.median(err):+.2f} mm,"
        f" mean |error| {np.mean(np.abs(err)):.2f} mm"
    )


def fit(net: NoduleNet, seeds) -> tuple[float, float]:
    """Fit the correction on ``seeds`` (validation) and print before/after; (c0, c1)."""
    head, true, kinds = matched_pairs(net, seeds)
    c0, c1 = median_regression(np.log(head), np.log(true))
    fixed = np.array([detect.correct_diameter(d, (c0, c1)) for d in head])
    print(f"size correction on {len(head)} nodules found in {len(seeds)} validation scans: "
          f"c0={c0:.4f} c1={c1:.4f} (d = {np.exp(c0):.4f} * d_head^{c1:.4f})", flush=True)  # fmt: skip
    print(f"  validation before: {summary(head, true)}")
    print(f"  validation after:  {summary(fixed, true)}")
    for k, name in enumerate(data.KIND_NAMES):
        sel = kinds == k
        if sel.any():
            print(f"  {name:<14} n={int(sel.sum()):>2}  signed median before "
                  f"{np.median(head[sel] - true[sel]):+.2f} after "
                  f"{np.median(fixed[sel] - true[sel]):+.2f} mm")  # fmt: skip
    return c0, c1


def write_weights(state: dict, path: Path, metadata: dict | None = None) -> str:
    """Save ``state`` to ``path``; for the shipped file also rewrite SHA-256 and size in
    ``plugin.toml``. Returns the SHA-256."""
    from safetensors.torch import save_file

    save_file(state, str(path), metadata=metadata)
    payload = path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if path.resolve() == (PLUGIN / "model.safetensors").resolve():
        toml = PLUGIN / "plugin.toml"
        text = toml.read_text()
        text = re.sub(r'sha256 = "[0-9a-f]*"', f'sha256 = "{digest}"', text)
        text = re.sub(r"size = \d+", f"size = {len(payload)}", text)
        toml.write_text(text)
    print(f"wrote {path} ({len(payload)} bytes, sha256 {digest})")
    return digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=PLUGIN / "model.safetensors")
    parser.add_argument("--val-scans", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    args = parser.parse_args()
    from safetensors import safe_open
    from safetensors.torch import load_file

    torch.set_num_threads(args.threads)
    state = load_file(str(args.weights))
    with safe_open(str(args.weights), "pt") as f:
        metadata = f.metadata()
    net = NoduleNet(int(state["config.width"].item()))
    extra = ("calibration", "config.width", "size_correction")
    net.load_state_dict({k: v for k, v in state.items() if k not in extra})
    net.eval()
    c0, c1 = fit(net, list(data.VALIDATION)[: args.val_scans])
    if not args.dry_run:
        state["size_correction"] = torch.tensor([c0, c1], dtype=torch.float32)
        write_weights(state, args.weights, metadata)


if __name__ == "__main__":
    main()
