"""High-resolution images for training and evaluating the super-resolution generators.

Training (``training_bank``) uses two sources, neither of them a real medical image:

* synthetic chest CT from medview's phantom (``medview.imaging.phantom``) at thin slices and
  fine pixels, widened per seed: pixel spacing 0.5-0.9 mm, slice spacing 0.5-0.9 mm, noise
  2-25 HU, field of view 110-200 mm. Axial slices train in-plane models; coronal and sagittal
  planes (z first) train through-plane models;
* the natural images that ship inside scikit-image (``skimage.data``: camera is held out), for
  texture and edges the phantom does not have.

Evaluation (``evaluation_images``) uses held-out phantom seeds and *real* medical images that
were never used for training, all shipped inside installed packages: CT and MR slices from
pydicom's test files, a sagittal brain MR from matplotlib's sample data, and a nuclear-medicine
whole-body image. Seeds never overlap: ``TRAIN_SEEDS`` and ``EVAL_SEEDS``.

Intensities are normalised the way inference does (:func:`plugins.superres.infer.intensity_range`:
0.5th/99.5th percentiles -> 0/1). Phantom volumes are cached as ``.npz`` under ``CACHE``
(gitignored), since each costs seconds to generate.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medview.imaging.phantom import PhantomSpec, make_phantom

from ..infer import intensity_range

TRAIN_SEEDS = range(100, 124)
EVAL_SEEDS = range(900, 904)
CACHE = Path(os.environ.get("SUPERRES_CACHE", Path(__file__).resolve().parents[3] / ".cache"))
CACHE = CACHE / "superres"

NATURAL_TRAIN = (
    "astronaut", "brick", "cat", "cell", "chelsea", "clock", "coffee", "coins", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
    "text", "shepp_logan_phantom",
)  # fmt: skip
#: Real images for evaluation only: (source, name, description).
REAL_EVAL = (
    ("pydicom", "693_J2KI.dcm", "CT head, 512x512"),
    ("pydicom", "J2K_pixelrep_mismatch.dcm", "CT skull base, 512x512"),
    ("pydicom", "CT_small.dcm", "CT spine, 128x128"),
    ("pydicom", "examples_overlay.dcm", "MR abdomen, 300x484"),
    ("pydicom", "JPEG2000.dcm", "NM whole-body bone scan, 1024x256"),
    ("matplotlib", "s1045.ima.gz", "MR brain sagittal, 256x256"),
)


@dataclass(frozen=True)
class Image:
    """One normalised high-resolution image; for through-plane, axis 0 is z."""

    name: str
    pixels: np.ndarray  # float32, about 0..1
    kind: str  # "phantom", "natural" or "real"


def normalise(array: np.ndarray) -> np.ndarray:
    low, high = intensity_range(array)
    return ((array.astype(np.float32) - low) / (high - low)).astype(np.float32)


def phantom_volume(seed: int) -> np.ndarray:
    """A thin-slice phantom (z, y, x) in HU, int16; cached."""
    path = CACHE / f"phantom-{seed}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["hu"]
    rng = np.random.default_rng([0x5352, seed])
    pixel = float(rng.uniform(0.5, 0.9))
    spec = PhantomSpec(
        size=int(round(float(rng.uniform(110.0, 200.0)) / pixel)),
        slices=int(round(float(rng.uniform(90.0, 140.0)) / 0.7)),
        pixel_spacing=pixel,
        slice_spacing=float(rng.uniform(0.5, 0.9)),
        seed=seed,
        noise_hu=float(rng.uniform(2.0, 25.0)),
    )
    volume, _truth = make_phantom(spec)
    hu = np.clip(np.round(volume.array), -1024, 3071).astype(np.int16)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, hu=hu)
    os.replace(tmp, path)
    return hu


def phantom_planes(seed: int, mode: str, every: int) -> list[Image]:
    """Axial slices (in-plane) or coronal and sagittal planes (through-plane) of a phantom."""
    hu = phantom_volume(seed)
    low, high = intensity_range(hu)
    norm = ((hu.astype(np.float32) - low) / (high - low)).astype(np.float32)
    if mode == "inplane":
        return [
            Image(f"phantom-{seed}-z{k}", norm[k], "phantom") for k in range(0, len(norm), every)
        ]
    coronal = [
        Image(f"phantom-{seed}-y{j}", norm[:, j, :], "phantom")
        for j in range(0, norm.shape[1], every)
    ]
    sagittal = [
        Image(f"phantom-{seed}-x{i}", norm[:, :, i], "phantom")
        for i in range(0, norm.shape[2], every)
    ]
    return coronal + sagittal  # fmt: skip


def natural_images(names=NATURAL_TRAIN) -> list[Image]:
    import skimage.data
    from skimage.color import rgb2gray

    out = []
    for name in names:
        pixels = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
        if pixels.ndim == 3:
            pixels = rgb2gray(pixels[..., :3]).astype(np.float32)
        out.append(Image(name, normalise(pixels), "natural"))
    return out


def real_image(source: str, name: str) -> np.ndarray:
    """A real medical image shipped inside an installed package, as float32 pixels."""
    if source == "matplotlib":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / name
        raw = gzip.decompress(path.read_bytes())  # 256x256 little-endian uint16
        return np.frombuffer(raw, "<u2").reshape(256, 256).astype(np.float32)
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file(name))
    pixels = ds.pixel_array.astype(np.float32)
    return pixels * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))


def training_bank(mode: str) -> list[Image]:
    planes: list[Image] = []
    for seed in TRAIN_SEEDS:
        planes += phantom_planes(seed, mode, every=3)
    return planes + natural_images()


def evaluation_images(mode: str, phantom_planes_per_seed: int = 6) -> list[Image]:
    """Held-out images: phantom planes of ``EVAL_SEEDS`` and the real images."""
    out: list[Image] = []
    for seed in EVAL_SEEDS:
        planes = phantom_planes(seed, mode, every=1)
        # Planes through the body (not the first or last): evenly spread over the middle.
        picks = np.linspace(0.3, 0.7, phantom_planes_per_seed) * len(planes)
        if mode == "through":  # coronal planes only: the first half of the list
            picks = np.linspace(0.3, 0.7, phantom_planes_per_seed) * (len(planes) // 2)
        out += [planes[int(p)] for p in picks]
    for source, name, _what in REAL_EVAL:
        out.append(Image(name, normalise(real_image(source, name)), "real"))
    return out
