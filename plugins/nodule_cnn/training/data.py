"""Training and evaluation scans: the demo phantom, widened so a model cannot learn one phantom.

``make_scan(seed)`` draws, from the seed alone (deterministic):

* the phantom's anatomy seed, noise (5-60 HU) and acquisition grid: pixel spacing 0.5-1 mm,
  slice spacing 0.6-3 mm (``PhantomSpec``; the phantom blurs z with the slice profile);
* extra nodules painted into the HU volume (post-processing, ``medview.imaging`` untouched):
  solid, part-solid, ground-glass and *juxtavascular* (touching a vessel), 3-30 mm, so sizes
  and the vessel contact the phantom does not make are covered;
* a reconstruction kernel: extra Gaussian blur (0-1 mm sigma) in-plane;
* body size: every LPS coordinate scaled by 0.85-1.15 about the isocentre (spacing, origin and
  the truth scale together);
* orientation: flips of any index axis (feet-first, prone: origin and direction adjusted so
  the patient stays where they are in LPS) and sometimes a permutation of the axes.

Truth is in LPS mm. Seed ranges never overlap: ``TRAIN``, ``VALIDATION`` (score calibration)
and ``EVALUATION`` (FROC). The canonical (internal-grid) version of a scan is cached as
``.npz`` under ``CACHE`` (gitignored), since generating a scan costs seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from medview.imaging.phantom import PhantomSpec, make_phantom
from medview.imaging.volume import Volume

from .. import preprocess

TRAIN = range(1000, 5000)
VALIDATION = range(5000, 6000)
EVALUATION = range(9000, 10000)
#: Where canonical scans are cached (gitignored).
CACHE = Path(os.environ.get("NODULE_CNN_CACHE", Path(__file__).resolve().parents[3] / ".cache"))
CACHE = CACHE / "nodule_cnn"
_LUNG_HU = -700.0


@dataclass(frozen=True)
class Nodule:
    kind: str  # solid, part-solid, ground-glass, juxtapleural, juxtavascular
    center_lps: tuple[float, float, float]
    diameter_mm: float
    volume_mm3: float


def acquisition(rng: np.random.Generator) -> dict:
    """Grid, noise, kernel, body scale and orientation of one scan."""
    pixel = float(rng.uniform(0.5, 1.0))
    thick = float(np.exp(rng.uniform(np.log(0.6), np.log(3.0))))
    size = int(round(float(rng.uniform(340.0, 380.0)) / pixel))
    slices = int(round(300.0 / thick))
    while size * size * slices > 40e6:  # keep a scan under ~10 s and 0.2 GB to generate
        if pixel < 0.95:
            pixel *= 1.05
            size = int(round(size / 1.05))
        else:
            thick *= 1.1
            slices = int(round(300.0 / thick))
    return {
        "pixel": pixel,
        "thick": thick,
        "size": size,
        "slices": slices,
        "noise": float(rng.uniform(5.0, 60.0)),
        "kernel_mm": float(rng.choice([0.0, rng.uniform(0.2, 1.0)])),
        "scale": float(rng.uniform(0.85, 1.15)),
        "flips": [bool(f) for f in rng.random(3) < 0.3],
        "permute": [int(a) for a in (rng.permutation(3) if rng.random() < 0.15 else range(3))],
        "extra": int(rng.integers(1, 5)),
    }


def _smooth_ball(d: np.ndarray, radius: float, edge: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(np.clip((d - radius) / edge, -30, 30)))


def _paint(hu, spacing, origin, center, radius, value, rng, noise, core=None):
    """Blend a smooth sphere of ``value`` HU into ``hu`` (identity direction grid), keeping
    denser tissue (a vessel stays visible through a nodule touching it) and the noise."""
    sp = np.asarray(spacing[::-1])  # z, y, x
    c = (np.asarray(center[::-1]) - np.asarray(origin[::-1])) / sp
    r = (radius + 2.0) / sp
    lo = np.maximum(0, np.floor(c - r)).astype(int)
    hi = np.minimum(hu.shape, np.ceil(c + r) + 1).astype(int)
    if np.any(hi <= lo):
        return
    zz, yy, xx = np.meshgrid(*[np.arange(lo[a], hi[a]) for a in range(3)], indexing="ij")
    d = np.sqrt(
        ((zz - c[0]) * sp[0]) ** 2 + ((yy - c[1]) * sp[1]) ** 2 + ((xx - c[2]) * sp[2]) ** 2
    )
    block = hu[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    edge = 0.35 + 0.25 * float(sp.max())
    f = _smooth_ball(d, radius, edge)
    target = value + rng.normal(0.0, noise, block.shape)
    if core is not None:
        fc = _smooth_ball(d, core[0], edge)
        target = target * (1 - fc) + (core[1] + rng.normal(0.0, noise, block.shape)) * fc
    new = block * (1 - f) + target * f
    block[...] = np.maximum(block, new)


def _sample(hu, spacing, origin, points):
    """Nearest-voxel HU at LPS points (identity direction grid); outside -> +1000."""
    idx = np.round((points - np.asarray(origin)) / np.asarray(spacing)).astype(int)[:, ::-1]
    ok = np.all((idx >= 0) & (idx < np.asarray(hu.shape)), axis=1)
    out = np.full(len(points), 1000.0)
    out[ok] = hu[idx[ok, 0], idx[ok, 1], idx[ok, 2]]
    return out


_DIRS = np.random.default_rng(7).normal(size=(48, 3))
_DIRS /= np.linalg.norm(_DIRS, axis=1, keepdims=True)


def _add_nodules(vol: Volume, truth: list[Nodule], count: int, rng, noise: float) -> None:
    hu, sp, org = vol.array, vol.spacing, np.asarray(vol.origin)
    air = sitk.GetImageFromArray((hu[:, ::4, ::4] < -400).astype(np.uint8))
    labels = sitk.GetArrayFromImage(sitk.ConnectedComponent(air, True))
    outside = np.unique(
        np.concatenate([labels[:, [0, -1], :].ravel(), labels[:, :, [0, -1]].ravel()])
    )
    lung = (hu[:, ::4, ::4] < _LUNG_HU) & ~np.isin(labels, outside)
    z, y, x = np.nonzero(lung)
    pts = np.stack([x * 4, y * 4, z], 1) * np.asarray(sp) + org
    vessel = np.stack(np.nonzero(hu[:, ::2, ::2] > -150)[::-1], 1) * np.asarray(sp) * (2, 2, 1)
    vessel = vessel + org
    if not len(pts):
        return
    for _ in range(count):
        kind = str(rng.choice(["solid", "part-solid", "ground-glass", "juxtavascular"]))
        diameter = float(np.exp(rng.uniform(np.log(3.0), np.log(30.0))))
        if kind in ("part-solid", "ground-glass"):
            diameter = max(diameter, 5.0)
        radius = diameter / 2
        for _attempt in range(60):
            if kind == "juxtavascular":
                near = pts[rng.integers(len(pts))]
                cand = vessel[np.linalg.norm(vessel - near, axis=1) < 25.0]
                if not len(cand):
                    continue
                v = cand[rng.integers(len(cand))]
                center = v + _DIRS[rng.integers(len(_DIRS))] * radius * rng.uniform(0.6, 1.0)
                shell_ok = (_sample(hu, sp, org, center + _DIRS * (radius + 3)) < -500).mean()
                ok = shell_ok > 0.6 and hu.shape and _sample(hu, sp, org, center[None])[0] < 0
            else:
                center = pts[rng.integers(len(pts))] + rng.uniform(-4, 4, 3)
                shell = _sample(
                    hu, sp, org, np.concatenate([center[None], center + _DIRS * (radius + 3)])
                )
                ok = bool((shell < _LUNG_HU).all())
            if ok and all(
                np.linalg.norm(center - np.asarray(t.center_lps)) > radius + t.diameter_mm / 2 + 5
                for t in truth
            ):
                break
        else:
            continue
        core = None
        if kind == "ground-glass":
            value = rng.uniform(-700, -500)
        elif kind == "part-solid":
            value = rng.uniform(-680, -520)
            core = (radius * rng.uniform(0.3, 0.6), rng.uniform(0, 60))
        else:
            value = rng.uniform(-10, 80)
        _paint(hu, sp, org, center, radius, value, rng, noise, core)
        volume = 4.0 / 3.0 * np.pi * radius**3
        truth.append(Nodule(kind, tuple(float(v) for v in center), diameter, volume))


def _blur_inplane(vol: Volume, sigma_mm: float) -> np.ndarray:
    image = sitk.GetImageFromArray(vol.array.astype(np.float32))
    image.SetSpacing(vol.spacing)
    sig = [sigma_mm, sigma_mm, 0.01]
    out = sitk.SmoothingRecursiveGaussian(image, sig)
    return sitk.GetArrayFromImage(out)


def reorient(vol: Volume, flips, permute) -> Volume:
    """Same patient, other storage order: flip index axes / permute them, fixing the affine."""
    arr = vol.array
    affine = vol.affine.copy()
    for axis_ijk, flip in enumerate(flips):
        if flip:
            n = vol.size_ijk[axis_ijk]
            arr = np.flip(arr, axis=2 - axis_ijk)
            affine[:3, 3] = affine[:3, 3] + affine[:3, axis_ijk] * (n - 1)
            affine[:3, axis_ijk] = -affine[:3, axis_ijk]
    perm = list(permute)  # new index axis a is old index axis perm[a]
    arr = np.transpose(arr, [2 - perm[2 - a] for a in range(3)])
    cols = affine[:3, :3][:, perm]
    spacing = np.linalg.norm(cols, axis=0)
    return Volume(
        np.ascontiguousarray(arr), tuple(spacing), tuple(affine[:3, 3]), cols / spacing, vol.meta
    )


def make_scan(seed: int) -> tuple[Volume, list[Nodule], dict]:
    """One widened phantom scan (HU, float32) with its truth in LPS mm."""
    rng = np.random.default_rng([0x4E43, seed])
    acq = acquisition(rng)
    spec = PhantomSpec(
        size=acq["size"],
        slices=acq["slices"],
        pixel_spacing=acq["pixel"],
        slice_spacing=acq["thick"],
        seed=seed,
        noise_hu=acq["noise"],
    )
    vol, truths = make_phantom(spec)
    vol = vol.with_array(vol.array.astype(np.float32))
    truth = [Nodule(t.kind, t.center_lps, t.diameter_mm, t.volume_mm3) for t in truths]
    _add_nodules(vol, truth, acq["extra"], rng, acq["noise"])
    if acq["kernel_mm"] > 0:
        vol = vol.with_array(_blur_inplane(vol, acq["kernel_mm"]))
    s = acq["scale"]
    vol = Volume(vol.array, tuple(v * s for v in vol.spacing), tuple(v * s for v in vol.origin),
                 vol.direction, vol.meta)  # fmt: skip
    truth = [
        Nodule(t.kind, tuple(v * s for v in t.center_lps), t.diameter_mm * s, t.volume_mm3 * s**3)
        for t in truth
    ]
    vol = reorient(vol, acq["flips"], acq["permute"])
    vol = vol.with_array(np.clip(np.round(vol.array), -1024, 3071).astype(np.int16))
    return vol, truth, acq


def canonical_scan(seed: int) -> dict:
    """The scan on the internal grid, cropped to its lung box; cached as ``.npz``."""
    path = CACHE / f"scan-{seed}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    vol, truth, _acq = make_scan(seed)
    can = preprocess.canonical(vol)
    box = can.lung_box
    arr = can.volume.array[box].astype(np.float32)
    origin = can.volume.zyx_to_lps([b.start for b in box])
    kinds = ["solid", "part-solid", "ground-glass", "juxtapleural", "juxtavascular"]
    out = {
        "hu": np.clip(np.round(arr), -1024, 3071).astype(np.int16),
        "origin": np.asarray(origin, dtype=np.float64),
        "spacing": np.float64(preprocess.SPACING_MM),
        "centers": np.array([t.center_lps for t in truth], dtype=np.float64).reshape(-1, 3),
        "diameters": np.array([t.diameter_mm for t in truth], dtype=np.float64),
        "volumes": np.array([t.volume_mm3 for t in truth], dtype=np.float64),
        "kinds": np.array([kinds.index(t.kind) for t in truth], dtype=np.int64),
    }
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out


KIND_NAMES = ("solid", "part-solid", "ground-glass", "juxtapleural", "juxtavascular")
