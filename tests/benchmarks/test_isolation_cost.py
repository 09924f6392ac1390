"""What process isolation costs (issue 11, S5): the same small plugin in a thread and in a
plugin process, on a 512 x 512 x 300 volume (int16 and float32).

Run with: ``.venv/bin/python -m pytest tests/benchmarks/test_isolation_cost.py -m benchmark -s``

Prints, per dtype: the first job (thread: import + prepare; process: spawn + import +
prepare) and the median of three warm jobs (the prepared plugin reused), the process/thread
ratio of both, and the volume transfer alone (pickled whole, as through a pipe, against the
file in RAM the isolation uses). Never asserts a time.
"""

from __future__ import annotations

import pickle
import statistics
import time

import numpy as np
import pytest

from medview.ai import ipc
from medview.ai.audit import AuditLog
from medview.ai.jobs import JobState
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.imaging.volume import Volume, VolumeMeta

pytestmark = pytest.mark.benchmark

PLUGIN_ID = "bench.mask"

CODE = '''
import numpy as np

from medview.ai.api import Finding, Result


class Mask:
    """A small plugin: one threshold, one full-grid uint8 mask, one finding."""

    def prepare(self, ctx):
        pass

    def run(self, volume, params, ctx):
        ctx.progress(0.5, "thresholding")
        mask = volume.with_array((volume.array > 100).astype(np.uint8))
        finding = Finding.from_voxel_box(volume, "bright", 0.5, (0, 0, 0), (9, 9, 9), mask=mask)
        return Result(findings=(finding,), metadata={"voxels": int(mask.array.sum())})

    def release(self):
        pass
'''

MANIFEST = f"""
[plugin]
id = "{PLUGIN_ID}"
name = "Threshold mask"
version = "0.1.0"
api_version = "1.0"
kind = "segmentation"
factory = "plugin:Mask"
outputs = ["findings", "masks", "metadata"]
license = "MIT"
intended_use = "Benchmark only."
not_for_diagnostic_use = true
"""


def _volume(dtype) -> Volume:
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1000, (300, 512, 512), dtype=np.int16).astype(dtype)
    meta = VolumeMeta(modality="CT", units="HU", series_uid="1.2.3", study_uid="1.2")
    return Volume(array, (0.7, 0.7, 1.0), meta=meta)


def _jobs(runner: Runner, volume: Volume) -> tuple[float, float]:
    times = []
    for _ in range(4):
        started = time.perf_counter()
        job = runner.run(PLUGIN_ID, volume)
        times.append(time.perf_counter() - started)
        assert job.state is JobState.SUCCEEDED, job.error
    return times[0], statistics.median(times[1:])


def test_isolation_cost(tmp_path):
    folder = tmp_path / "plugins" / "mask"
    folder.mkdir(parents=True)
    (folder / "plugin.py").write_text(CODE, encoding="utf-8")
    (folder / "plugin.toml").write_text(MANIFEST, encoding="utf-8")
    infos = discover(bundled=False, user=False, entry_points=False, extra=[folder.parent])
    print()
    for dtype in (np.int16, np.float32):
        volume = _volume(dtype)
        figures = {}
        for mode in ("thread", "process"):
            runner = Runner(
                PluginRegistry(infos),
                audit=AuditLog(tmp_path / f"audit-{mode}.jsonl"),
                isolation=mode,
            )
            try:
                figures[mode] = _jobs(runner, volume)
            finally:
                runner.shutdown()
        (t_cold, t_warm), (p_cold, p_warm) = figures["thread"], figures["process"]
        mb = volume.array.nbytes / 1e6
        print(
            f"{np.dtype(dtype).name} {mb:.0f} MB: first job thread {t_cold:.2f} s, process "
            f"{p_cold:.2f} s (x{p_cold / t_cold:.1f}); warm job thread {t_warm:.3f} s, "
            f"process {p_warm:.3f} s (x{p_warm / t_warm:.2f}, +{p_warm - t_warm:.3f} s)"
        )
        started = time.perf_counter()
        pickled = pickle.dumps(volume, protocol=5)
        pickle.loads(pickled)
        piped = time.perf_counter() - started
        del pickled
        transfer = ipc.Transfer("bench")
        started = time.perf_counter()
        written: list = []
        keep: list = []
        payload = transfer.dumps(volume, "i", written)
        seen = transfer.loads_trusted(payload, keep)
        mapped = time.perf_counter() - started
        assert seen.array.shape == volume.array.shape
        del seen
        keep.clear()
        transfer.remove_all()
        print(
            f"  volume transfer alone: pickled {piped:.3f} s (before any pipe), "
            f"file in RAM + map {mapped:.3f} s"
        )
