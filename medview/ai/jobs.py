"""A job: one plugin run on one volume, its state machine and its listener events.

States go ``queued -> running -> succeeded | failed | cancelled`` (or straight from queued to
cancelled); a final state is reached exactly once, whoever gets there first (the worker, the
watchdog at a timeout, or ``cancel()`` on a queued job). Events are delivered under the job's
lock, so a listener sees them in order and never a progress after the finish.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from medview.ai.api import Provenance, Result
from medview.ai.manifest import Manifest
from medview.imaging.volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    from medview.ai.cache import Prepared

log = logging.getLogger("medview.ai.jobs")


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class JobListener(Protocol):
    """What a job reports; called on a background thread, must return quickly.

    A Qt adapter implements these three methods by emitting queued signals.
    """

    def job_state_changed(self, job: Job) -> None:
        """``job.state`` changed (queued, running, or a final state)."""

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        """Progress in 0..1, never decreasing, in the order the plugin reported it."""

    def job_finished(self, job: Job) -> None:
        """Final: ``job.result`` (succeeded) or ``job.error`` (failed, cancelled) is set."""


class CallbackListener:
    """A :class:`JobListener` from plain functions (any of them may be None)."""

    def __init__(
        self,
        on_state: Callable[[Job], None] | None = None,
        on_progress: Callable[[Job, float, str], None] | None = None,
        on_finished: Callable[[Job], None] | None = None,
    ) -> None:
        self._state, self._progress, self._finished = on_state, on_progress, on_finished

    def job_state_changed(self, job: Job) -> None:
        if self._state:
            self._state(job)

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        if self._progress:
            self._progress(job, fraction, message)

    def job_finished(self, job: Job) -> None:
        if self._finished:
            self._finished(job)


class Job:
    """One plugin run. Created by :meth:`Runner.submit`; read its fields, call ``cancel``.

    Attributes
    ----------
    id
        Short unique id (also in the audit log).
    state, fraction, message
        Current state and last progress.
    result
        The :class:`Result` (with provenance) once succeeded.
    error
        One sentence once failed or cancelled.
    provenance
        Set in every final state (also for failures).
    device
        The device actually used (may become "cpu" after an out-of-memory fallback).
    generation
        The submitter's number, returned untouched: the GUI drops results of a stale one.
    """

    def __init__(
        self,
        *,
        id: str,
        plugin_id: str,
        manifest: Manifest,
        params: Mapping[str, Any],
        volume: Volume,
        device_requested: str,
        device: str,
        timeout_s: float | None,
        generation: int = 0,
    ) -> None:
        self.id, self.plugin_id, self.manifest = id, plugin_id, manifest
        self.params = dict(params)
        self.volume = volume
        self.plugin_input: Volume | None = _plugin_input(volume)
        self.device_requested, self.device = device_requested, device
        self.timeout_s, self.generation = timeout_s, generation
        self.state = JobState.QUEUED
        self.fraction, self.message = 0.0, ""
        self.result: Result | None = None
        self.error = ""
        self.provenance: Provenance | None = None
        self.mixed_precision = False
        #: "thread" or "process" (set by the runner: where the plugin runs).
        self.isolation = "thread"
        self.attempts: list[str] = []
        #: torch's reproducibility settings for the run (set by the runner; issue 11 AI2).
        self.deterministic, self.threads = False, 0
        self.started_at: float | None = None
        self._started_mono = 0.0
        self._cancel_at: float | None = None
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._listeners: list[JobListener] = []
        self._on_queue_cancel: Callable[[Job], None] | None = None
        self._worker: Any = None
        self._entry: Prepared | None = None
        self._isolated: Any = None  # the ProcessPlugin serving this job, while it runs

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.plugin_id}, {self.state.value}, device={self.device})"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until final (True) or ``timeout`` seconds passed (False)."""
        return self._done.wait(timeout)

    def cancel(self) -> bool:
        """Ask the job to stop; False if it already finished.

        A queued job is cancelled at once; a running one stops at the plugin's next
        progress report or cancellation check (see the runner's ``cancel_grace_s``).
        """
        with self._lock:
            if self.state in FINAL:
                return False
            self._cancel.set()
            if self.state is JobState.QUEUED:
                if self._on_queue_cancel is not None:
                    self._on_queue_cancel(self)
            elif self._cancel_at is None:
                self._cancel_at = time.monotonic()
        return True

    # -- used by the runner ------------------------------------------------------------------
    def _attach(self, listeners: list[JobListener], on_queue_cancel: Callable[[Job], None]) -> None:
        self._listeners = list(listeners)
        self._on_queue_cancel = on_queue_cancel

    def _start(self, worker: Any) -> bool:
        with self._lock:
            if self.state is not JobState.QUEUED:
                return False
            self.state = JobState.RUNNING
            self.started_at = time.time()
            self._started_mono = time.monotonic()
            self._worker = worker
            self._emit_state()
        return True

    def _report(self, fraction: float, message: str) -> None:
        with self._lock:
            if self.state is not JobState.RUNNING:
                return  # late progress from an abandoned worker
            fraction = min(1.0, max(float(fraction), self.fraction))
            self.fraction, self.message = fraction, message
            for listener in self._listeners:
                _call(listener.job_progress, self, fraction, message)

    def _complete(
        self, state: JobState, result: Result | None, error: str, provenance: Provenance
    ) -> None:
        with self._lock:
            self.state, self.result, self.error, self.provenance = state, result, error, provenance
            if state is JobState.SUCCEEDED:
                self.fraction = 1.0
            # The input is not needed any more; a finished job must not pin a 300 MB volume.
            self.plugin_input = None
            self._emit_state()
            for listener in self._listeners:
                _call(listener.job_finished, self)
            self._done.set()

    def _emit_state(self) -> None:
        with self._lock:
            for listener in self._listeners:
                _call(listener.job_state_changed, self)


def _call(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:  # a broken listener must not break the job or other listeners
        log.exception("job listener %r failed", method)


def _plugin_input(volume: Volume) -> Volume:
    """What the plugin sees: read-only voxels, no patient name or ID (it never needs them)."""
    array = volume.array.view()
    array.flags.writeable = False
    meta = replace(volume.meta, patient_name="", patient_id="")
    return Volume(array, volume.spacing, volume.origin, volume.direction, meta)
