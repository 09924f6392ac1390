"""Nodule CNN inference time on the 512 x 512 x 300 demo study (issue 5).

Run with: ``.venv/bin/python -m pytest tests/benchmarks/test_detector_speed.py -m benchmark -s``

Prints the seconds of each stage (resample to the 1.5 mm internal grid + lung box, batched
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


def test_detector_speed_on_the_demo_study():
    volume, truth = make_phantom(PhantomSpec())
    torch.set_num_threads(2)
    detector = NoduleCnnDetector()
    ctx = LocalContext()
    detector.prepare(ctx)
    start = time.perf_counter()
    can = preprocess.canonical(volume)
    resampled = time.perf_counter() - start
    detector._last = None  # time the whole run, resampling included
    start = time.perf_counter()
    result = detector.run(volume, {"min_score": 0.3, "max_findings": 20, "masks": True}, ctx)
    total = time.perf_counter() - start
    crop = [int(s.stop - s.start) for s in can.lung_box]
    print(
        f"\nnodule CNN on {volume.shape} ({volume.spacing[0]:.3f} mm pixels): total {total:.1f} s"
        f" (resample + lung box alone {resampled:.1f} s; network box {crop} voxels at "
        f"{preprocess.SPACING_MM} mm); {len(result.findings)} findings, {len(truth)} true nodules"
    )
