"""Nodule CNN inference time on the 512 x 512 x 300 demo study (issue 5).

Run with: ``.venv/bin/python -m pytest tests/benchmarks/test_detector_speed.py -m benchmark -s``

On the CPU and, where torch sees one, on a CUDA GPU (after one warm-up run). Prints the seconds of each stage (resample to the 1.5 mm internal grid + lung box, batched
sliding-window network, peaks + measurements + masks) and the total, for the default demo
phantom (``make_phantom(PhantomSpec())``, what ``medview demo`` writes). Never asserts a time.
"""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")

from medview_plugins.nodule_cnn import preprocess  # noqa: E402
from medview_plugins.nodule_cnn.plugin import NoduleCnnDetector  # noqa: E402
from medview_plugins.nodule_cnn.training.evaluate import LocalContext  # noqa: E402

from medview.imaging.phantom import PhantomSpec, make_phantom  # noqa: E402

pytestmark = pytest.mark.benchmark


def _devices() -> list:
    cuda = pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device here: the GPU figure needs one"
    )
    return ["cpu", pytest.param("cuda", marks=cuda)]


@pytest.mark.parametrize("device", _devices())
def test_detector_speed_on_the_demo_study(device):
    volume, truth = make_phantom(PhantomSpec())
    torch.set_num_threads(2)
    detector = NoduleCnnDetector()
    ctx = LocalContext(device=device)
    detector.prepare(ctx)
    params = {"min_score": 0.3, "max_findings": 20, "masks": True}
    if device == "cuda":  # the first CUDA run pays for kernel selection and allocation
        detector.run(volume, params, ctx)
        detector._last = None
    start = time.perf_counter()
    can = preprocess.canonical(volume)
    resampled = time.perf_counter() - start
    detector._last = None  # time the whole run, resampling included
    start = time.perf_counter()
    result = detector.run(volume, params, ctx)
    if device == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    crop = [int(s.stop - s.start) for s in can.lung_box]
    where = torch.cuda.get_device_name(0) if device == "cuda" else "CPU, 2 threads"
    print(
        f"\nnodule CNN on {volume.shape} ({volume.spacing[0]:.3f} mm pixels), {where}: total "
        f"{total:.1f} s (resample + lung box alone {resampled:.1f} s; network box {crop} voxels "
        f"at {preprocess.SPACING_MM} mm); {len(result.findings)} findings, {len(truth)} true "
        "nodules"
    )
