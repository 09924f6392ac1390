"""The runner's memo of detections an explanation reuses (medview/ai/reuse.py, issue 7)."""

from __future__ import annotations

import gc
from dataclasses import replace

import numpy as np

from medview.ai.api import ExplainHook, Finding, Provenance, Result
from medview.ai.reuse import DetectionMemo
from medview.imaging.volume import Volume


def _volume() -> Volume:
    return Volume(np.zeros((4, 5, 6), np.float32), (1.0, 1.0, 2.0), (0, 0, 0), np.eye(3))


def _result(job_id: str) -> Result:
    finding = Finding("lung nodule", 0.8, (1, 2, 3), ((0, 1, 2), (2, 3, 4)), (2, 2, 2))
    provenance = Provenance(
        job_id, "x.det", "1.0", "1.0", {}, {}, "cpu", "cpu", False, {}, "", "", "", "", 0.0, "ok"
    )
    return Result(findings=(finding,), provenance=provenance)


class _Ctx:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.messages.append(message)


def _hook(calls: list[Volume]) -> ExplainHook:
    def detect(volume, ctx):
        calls.append(volume)
        return Result(findings=())

    return ExplainHook(None, lambda v: v, lambda f: 0, lambda a, v: v, detect=detect)


def test_an_explanation_reuses_the_detection_on_the_same_volume():
    memo, volume, calls = DetectionMemo(), _volume(), []
    memo.remember("x.det", volume, _result("job-1"))
    hook = memo.reusing(_hook(calls), "x.det", volume)
    # The runner gives plugins a view of the caller's array (patient name stripped).
    plugin_input = Volume(volume.array.view(), volume.spacing, volume.origin, volume.direction)
    ctx = _Ctx()
    result = hook.detect(plugin_input, ctx)
    assert calls == []
    assert result.metadata["reused_detection"] == {"job_id": "job-1", "findings": 1}
    assert [f.score for f in result.findings] == [0.8]
    assert "job-1" in ctx.messages[0]


def test_other_volumes_plugins_and_empty_results_detect_again():
    memo, volume, other, calls = DetectionMemo(), _volume(), _volume(), []
    memo.remember("x.det", volume, _result("job-1"))
    memo.remember("x.det", other, Result(findings=()))  # nothing found: not worth reusing
    memo.reusing(_hook(calls), "x.det", other).detect(other, _Ctx())
    memo.reusing(_hook(calls), "y.det", volume).detect(volume, _Ctx())
    shifted = replace(volume, origin=(5.0, 0.0, 0.0))  # same voxels, another place: not it
    memo.reusing(_hook(calls), "x.det", volume).detect(shifted, _Ctx())
    assert calls == [other, volume, shifted]


def test_a_closed_series_is_not_kept_alive_and_capacity_is_bounded():
    memo = DetectionMemo(capacity=2)
    volume = _volume()
    memo.remember("x.det", volume, _result("job-1"))
    del volume
    gc.collect()
    kept = [_volume() for _ in range(3)]
    for number, v in enumerate(kept):
        memo.remember("x.det", v, _result(f"job-{number + 2}"))
    assert len(memo._entries) == 2
    assert memo.lookup("x.det", kept[0]) is None  # the oldest was dropped
    assert memo.lookup("x.det", kept[2]).provenance.job_id == "job-4"
