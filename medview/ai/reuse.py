"""Reuse a detection already computed on the same volume when explaining it (issue 7).

An explanation plugin explains a detection plugin's findings; it asks for them through
``ExplainHook.detect``. When the reader has just run that detector on the series on screen,
running it again costs a minute on a CPU and may even give different findings than the ones
being reviewed (other parameters). So the runner remembers the latest successful result of
each plugin per input volume, and the hook it hands to an explanation plugin returns that
result instead of detecting again. The reused result keeps its own provenance (job id,
parameters, weights) and says so in ``metadata["reused_detection"]``.

Volumes are matched by identity (the app passes the same immutable :class:`Volume` for the
series on screen), held through weak references: a closed series is not kept alive.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from medview.ai.api import ExplainHook, Result, RunContext
from medview.imaging.volume import Volume

__all__ = ["DetectionMemo"]


class DetectionMemo:
    """The latest successful result per (plugin id, input volume), at most ``capacity``."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = max(1, int(capacity))
        self._entries: OrderedDict[tuple[str, int], tuple[weakref.ref, Result]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, plugin_id: str, volume: Volume, result: Result) -> None:
        """Keep ``result`` (only results with findings are worth reusing)."""
        if not result.findings:
            return
        key = (plugin_id, id(volume))
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (weakref.ref(volume), result)
            self._sweep()

    def lookup(self, plugin_id: str, volume: Volume) -> Result | None:
        """The remembered result of ``plugin_id`` on this very ``volume``, else None."""
        with self._lock:
            entry = self._entries.get((plugin_id, id(volume)))
            if entry is None or entry[0]() is not volume:  # id() reused by a new object
                return None
            return entry[1]

    def reusing(self, hook: ExplainHook, plugin_id: str, job_volume: Volume) -> ExplainHook:
        """``hook`` whose ``detect`` returns the remembered result for ``job_volume`` (the
        explanation job's input) when there is one, and detects as before otherwise."""
        detect = hook.detect
        if detect is None:
            return hook

        def detect_or_reuse(volume: Volume, ctx: RunContext) -> Result:
            if _same_voxels(volume, job_volume):
                earlier = self.lookup(plugin_id, job_volume)
                if earlier is not None:
                    job = earlier.provenance.job_id if earlier.provenance else ""
                    ctx.progress(0.0, f"reusing the findings of detection job {job}")
                    reused = {"job_id": job, "findings": len(earlier.findings)}
                    return replace(
                        earlier, metadata={**earlier.metadata, "reused_detection": reused}
                    )
            return detect(volume, ctx)

        return replace(hook, detect=detect_or_reuse)

    def _sweep(self) -> None:
        for key in [k for k, (ref, _) in self._entries.items() if ref() is None]:
            del self._entries[key]
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


def _same_voxels(volume: Volume, job_volume: Volume) -> bool:
    """Whether ``volume`` (what the explanation plugin detects on) is the job's input: the
    runner hands plugins a view of the caller's array, so same memory, shape and geometry."""
    if volume is job_volume:
        return True
    return (
        volume.shape == job_volume.shape
        and np.may_share_memory(volume.array, job_volume.array)
        and np.allclose(volume.affine, job_volume.affine)
    )
