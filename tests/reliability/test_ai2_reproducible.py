"""Issue 11 AI2: the same input, run 3 times on the CPU, gives bit-identical output.

Each run is a separate process (``rel_ai2_driver.py``) with its own medview home, running
the bundled models through medview's runner as the app does: the CNN detector, the
saliency explanation (Integrated Gradients, the gradient path), super-resolution and the
example plugin. The digest covers every float of every finding (in hex), every mask,
overlay and derived volume voxel and the result metadata.

CPU against GPU (max abs difference <= 1e-4, masks Dice >= 0.999) runs only where torch
sees a CUDA device; CI has none, so there it is skipped, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medview.dicom.demo import write_demo_study

DRIVER = Path(__file__).with_name("rel_ai2_driver.py")
#: The right half of the demo's chest (image left = patient right), 48 slices: the detector
#: still sees a whole lung, at half the cost of the full study.
CROP = "8:56,16:112,0:64"
RUNS = (
    "medview.nodule-cnn",
    "medview.saliency:method=ig,n_steps=4,max_findings=1",
    "medview.superres",
    "medview.threshold-blobs",
)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ai2")
    return write_demo_study(root / "ct", seed=0, size=128, slices=64).directory


def _run(study: Path, home: Path, *extra: str, device: str = "cpu") -> dict:
    env = {**os.environ, "MEDVIEW_HOME": str(home)}
    env.pop("MEDVIEW_DETERMINISTIC", None)  # the default: deterministic
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(study), "--device", device, "--crop", CROP,
         *extra, *RUNS],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_three_cpu_runs_are_bit_identical(study, tmp_path):
    runs = [_run(study, tmp_path / f"home{n}") for n in range(3)]
    for spec in RUNS:
        digests = {run[spec]["digest"] for run in runs}
        seconds = [run[spec]["seconds"] for run in runs]
        print(f"AI2 {spec}: {runs[0][spec]['findings']} finding(s), 3 runs {seconds} s, "
              f"{len(digests)} distinct digest(s)")  # fmt: skip
        assert len(digests) == 1, (spec, digests)
        for run in runs:
            # The provenance says how it was made reproducible.
            assert run[spec]["deterministic"] is True and run[spec]["device"] == "cpu"
            assert run[spec]["threads"] == runs[0][spec]["threads"] > 0
    assert runs[0]["medview.nodule-cnn"]["findings"] > 0  # a run that finds nothing proves little


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def test_cpu_and_gpu_agree(study, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here: CPU against GPU (issue 11 AI2) needs one")
    _run(study, tmp_path / "cpu-home", "--save", str(tmp_path / "cpu"))
    _run(study, tmp_path / "gpu-home", "--save", str(tmp_path / "gpu"), device="cuda")
    for spec in RUNS:
        plugin = spec.split(":")[0]
        with np.load(tmp_path / "cpu" / f"{plugin}.npz") as cpu, \
                np.load(tmp_path / "gpu" / f"{plugin}.npz") as gpu:  # fmt: skip
            assert sorted(cpu.files) == sorted(gpu.files), plugin
            for name in cpu.files:
                if name.startswith("mask"):
                    dice = _dice(cpu[name], gpu[name])
                    print(f"AI2 CPU/GPU {plugin} {name}: Dice {dice:.5f}")
                    assert dice >= 0.999, (plugin, name)
                else:
                    diff = float(np.max(np.abs(cpu[name].astype(np.float64) - gpu[name])))
                    print(f"AI2 CPU/GPU {plugin} {name}: max abs difference {diff:.2e}")
                    assert diff <= 1e-4, (plugin, name)
