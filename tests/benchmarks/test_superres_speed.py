"""Super-resolution speed (issue 6): one 256 x 256 slice in-plane x2, and the 512 x 512 x 300
demo study through-plane x2, on this machine's CPU (or the GPU where one is present).

Run with: ``.venv/bin/python -m pytest tests/benchmarks/test_superres_speed.py -m benchmark -s``

Prints seconds and the ratio to the classical interpolation of the same input in the same run
(what the network costs on top). Goals (issue 6): <= 1 s per 256 x 256 slice and <= 5 min for
the study on a 2-core CPU; <= 10 s for the study on a GPU. Never asserts a time.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from medview_plugins.superres import infer  # noqa: E402
from medview_plugins.superres.weights import load_generators  # noqa: E402

from medview.imaging.phantom import PhantomSpec, make_phantom  # noqa: E402

pytestmark = pytest.mark.benchmark
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def test_inplane_x2_of_one_256_slice():
    torch.set_num_threads(2)
    volume, _ = make_phantom(PhantomSpec(size=256, slices=1, seed=4))
    net = load_generators("inplane-x2")["gan"].to(DEVICE)
    plane = infer.intensity_range(volume.array)
    planes = (volume.array.astype(np.float32) - plane[0]) / (plane[1] - plane[0])
    network = _best_of(5, lambda: infer.upscale_planes(net, planes, DEVICE, skip_air=False))
    whole = _best_of(5, lambda: infer.super_resolve(volume, net, "inplane", DEVICE))
    with torch.inference_mode():
        bicubic = _best_of(5, lambda: net.interpolate(torch.from_numpy(planes)[:, None]))
    print(
        f"\nin-plane x2, one 256x256 slice on {DEVICE} ({torch.get_num_threads()} threads):"
        f" network {network:.3f} s, whole plugin path (air skipped) {whole:.3f} s;"
        f" bicubic alone {bicubic * 1000:.1f} ms (network / bicubic = {network / bicubic:.0f}x)"
    )


@pytest.mark.timeout(1800)
def test_through_x2_of_the_demo_study():
    torch.set_num_threads(2)
    volume, _ = make_phantom(PhantomSpec())  # what `medview demo` writes: 512x512x300
    net = load_generators("through-x2")["gan"].to(DEVICE)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    start = time.perf_counter()
    out = infer.super_resolve(volume, net, "through", DEVICE)
    seconds = time.perf_counter() - start
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with torch.inference_mode():
        for j in range(0, volume.shape[1], 16):
            planes = volume.array[:, j : j + 16].transpose(1, 0, 2).astype(np.float32)
            net.interpolate(torch.from_numpy(np.ascontiguousarray(planes))[:, None])
    linear = time.perf_counter() - start
    print(
        f"\nthrough-plane x2 of {volume.shape} -> {out.shape} on {DEVICE}: {seconds:.1f} s"
        f" ({seconds / 60:.2f} min); linear interpolation alone {linear:.1f} s"
        f" (ratio {seconds / linear:.0f}x); process peak RSS {rss_before:.0f} MiB before,"
        f" {rss_after:.0f} MiB after (input {volume.array.nbytes / 2**20:.0f} MiB,"
        f" output {out.array.nbytes / 2**20:.0f} MiB)"
    )
