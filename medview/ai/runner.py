"""The job runner: AI plugins on background threads, with progress, cancel and timeouts.

Qt-free. Each device has a lane: the CPU lane has a few worker threads (CPU jobs run in
parallel), each GPU (``cuda:N``, ``mps``) has one worker, so GPU jobs queue instead of
fighting for memory. Listeners get state changes, progress (in order, never decreasing) and
the finish, on the worker thread (or the watchdog's): a GUI adapter re-emits them as queued
signals and must not block.

Honest limits
-------------
* Cancel is cooperative: a plugin sees it at its next ``ctx.progress()`` or
  ``ctx.check_cancelled()``. A plugin that does not stop within ``cancel_grace_s`` is marked
  cancelled anyway and its worker abandoned.
* A thread cannot be killed in Python. At the timeout the job is marked failed, its worker
  is abandoned (it keeps running until the plugin returns, then exits) and a new worker
  replaces it. An abandoned GPU worker may still hold device memory, and its replacement then
  runs beside it: that is the price of not freezing the queue.
* Hence process isolation (:mod:`medview.ai.isolation`): third-party plugins, and any whose
  manifest says ``[runtime] isolation = "process"``, run in a child process behind the same
  protocol. There a timeout or an unhonoured cancel (after ``process_cancel_grace_s``)
  really stops the plugin (its process group is killed and reaped), and a crash (segfault,
  ``os._exit``, out-of-memory kill) fails only the job; the next job gets a fresh process.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from medview import __version__
from medview.ai import device as devices
from medview.ai import torch_backend
from medview.ai.api import (
    API_VERSION,
    ExplainHook,
    Params,
    Provenance,
    Result,
    check_result,
    resolve_params,
)
from medview.ai.audit import AuditLog
from medview.ai.cache import PreparedCache
from medview.ai.context import JobContext
from medview.ai.isolation import PluginProcessDied, ProcessPlugin, StoppedByRunner
from medview.ai.jobs import FINAL, Job, JobListener, JobState
from medview.ai.manifest import Manifest
from medview.ai.registry import PluginRegistry
from medview.ai.reuse import DetectionMemo
from medview.core.errors import Cancelled, MedviewError, PluginError
from medview.imaging.volume import Volume

log = logging.getLogger("medview.ai.runner")

__all__ = ["Job", "JobListener", "JobState", "Runner"]


class _Worker:
    def __init__(self, lane: _Lane) -> None:
        self.lane = lane
        self.abandoned = False
        self.job: Job | None = None


class _Lane:
    """A queue and its worker threads for one device."""

    def __init__(self, runner: Runner, device: str, size: int) -> None:
        self.runner, self.device, self.size = runner, device, size
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.workers: list[_Worker] = []
        for _ in range(size):
            self.add_worker()

    def add_worker(self) -> None:
        worker = _Worker(self)
        self.workers.append(worker)
        thread = threading.Thread(
            target=self._loop, args=(worker,), name=f"medview-ai-{self.device}", daemon=True
        )
        thread.start()

    def replace(self, worker: _Worker) -> None:
        worker.abandoned = True
        if worker in self.workers:
            self.workers.remove(worker)
            self.add_worker()

    def _loop(self, worker: _Worker) -> None:
        while not worker.abandoned:
            job = self.queue.get()
            if job is None:
                return
            worker.job = job
            try:
                self.runner._execute(job, worker)
            except BaseException:  # never let a worker die silently
                log.exception("runner worker crashed on job %s", job.id)
            finally:
                worker.job = None


class Runner:
    """Runs plugin jobs in the background.

    Parameters
    ----------
    registry
        The discovered plugins (default: a fresh discovery).
    default_device
        ``"auto"`` (CUDA, then MPS, then CPU), or a device; the app passes its setting.
    cpu_workers
        Parallel CPU jobs.
    cache_capacity
        Prepared plugins kept loaded (LRU).
    audit
        Where to append one line per job (default ``app_dirs().data / "audit.jsonl"``).
    default_timeout_s
        Timeout of jobs that give none (None: no timeout).
    cancel_grace_s
        How long a cancelled job may take to stop before its worker is abandoned.
    isolation
        None: each plugin as its registry entry says (``PluginInfo.isolation``: the manifest's
        ``[runtime] isolation``, else "thread" for bundled and "process" for third-party
        plugins); ``"thread"`` or ``"process"``: every plugin so.
    process_cancel_grace_s
        How long a cancelled job in a plugin process may take to stop before the process is
        killed (capped by ``cancel_grace_s``); killing is safe there, so it can be short.
    """

    def __init__(
        self,
        registry: PluginRegistry | None = None,
        *,
        default_device: str = "auto",
        cpu_workers: int = 2,
        cache_capacity: int = 2,
        audit: AuditLog | None = None,
        default_timeout_s: float | None = 600.0,
        cancel_grace_s: float = 1.5,
        probe: Callable[[], list[str]] | None = None,
        isolation: str | None = None,
        process_cancel_grace_s: float = 1.0,
    ) -> None:
        if isolation not in (None, "thread", "process"):
            raise ValueError(f"isolation must be None, 'thread' or 'process', not {isolation!r}")
        self.registry = registry or PluginRegistry()
        self.default_device = default_device
        self.cpu_workers = max(1, cpu_workers)
        self.cache = PreparedCache(cache_capacity)
        #: Latest successful result per plugin and input volume, reused by explanations.
        self.detections = DetectionMemo()
        self.audit = audit or AuditLog()
        self.default_timeout_s = default_timeout_s
        self.cancel_grace_s = cancel_grace_s
        self.isolation = isolation
        self.process_cancel_grace_s = process_cancel_grace_s
        self._probe = probe
        self._lanes: dict[str, _Lane] = {}
        self._listeners: list[JobListener] = []
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    # -- public API ------------------------------------------------------------------------
    def add_listener(self, listener: JobListener) -> None:
        """Receive the events of every job (the GUI's adapter registers here)."""
        with self._lock:
            self._listeners.append(listener)

    def submit(
        self,
        plugin_id: str,
        volume: Volume,
        params: Params | None = None,
        *,
        device: str | None = None,
        timeout_s: float | None = ...,  # type: ignore[assignment]
        listener: JobListener | None = None,
        generation: int = 0,
    ) -> Job:
        """Queue ``plugin_id`` on ``volume``; returns at once with the :class:`Job`.

        Parameters
        ----------
        plugin_id
            An available plugin (see ``registry.plugins()``).
        volume
            The series; the plugin gets a read-only, de-identified view of it.
        params
            Parameter values by name (strings are converted); missing ones take defaults.
        device
            ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; default: the
            runner's ``default_device``.
        timeout_s
            Seconds the job may run (from its start, prepare included); None: no limit;
            omitted: the runner's ``default_timeout_s``.
        listener
            Receives this job's events (in addition to the runner's listeners).
        generation
            Returned untouched on the job, for the GUI to drop stale results.

        Raises
        ------
        PluginError
            Unknown or unavailable plugin, the plugin does not apply to ``volume`` (the reason
            says why), a parameter out of type or range, or no usable device.
        """
        manifest = self.registry.require(plugin_id)
        reason = manifest.applies_to(volume)
        if reason:
            raise PluginError(reason)
        try:
            resolved = resolve_params(manifest.parameters, params)
        except ValueError as exc:
            raise PluginError(str(exc)) from None
        requested = device or self.default_device
        chosen = devices.choose_device(requested, manifest.devices, probe=self._probe)
        timeout = self.default_timeout_s if timeout_s is ... else timeout_s
        job = Job(
            id=uuid.uuid4().hex[:12],
            plugin_id=plugin_id,
            manifest=manifest,
            params=resolved,
            volume=volume,
            device_requested=requested,
            device=chosen,
            timeout_s=timeout,
            generation=generation,
        )
        job.isolation = self.isolation or self.registry.get(plugin_id).isolation
        with self._lock:
            listeners = [*self._listeners, *([listener] if listener else [])]
            self._jobs[job.id] = job
            lane = self._lanes.get(chosen)
            if lane is None:
                size = 1 if devices.is_gpu(chosen) else self.cpu_workers
                lane = self._lanes[chosen] = _Lane(self, chosen, size)
            self._start_watchdog()
        job._attach(listeners, self._finish_cancelled_in_queue)
        job._emit_state()
        lane.queue.put(job)
        return job

    def run(self, plugin_id: str, volume: Volume, params: Params | None = None, **options) -> Job:
        """Submit and wait; returns the finished job (check ``job.state``)."""
        job = self.submit(plugin_id, volume, params, **options)
        job.wait()
        return job

    def jobs(self) -> list[Job]:
        """The queued and running jobs."""
        with self._lock:
            return list(self._jobs.values())

    def shutdown(self) -> None:
        """Cancel queued and running jobs, stop the workers, release prepared plugins."""
        self._stop.set()
        for job in self.jobs():
            job.cancel()
        for job in self.jobs():
            if job._isolated is not None:  # killing is safe and quick: closing must not wait
                self._abandon(job, JobState.CANCELLED, "cancelled: the runner was shut down")
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            for _ in lane.workers:
                lane.queue.put(None)
        self.cache.clear()

    # -- execution (worker threads) ----------------------------------------------------------
    def _execute(self, job: Job, worker: _Worker) -> None:
        if not job._start(worker):
            return  # cancelled while queued
        manifest = job.manifest
        try:
            result = self._run_with_fallbacks(job, manifest, worker)
            result = check_result(result, job.volume)
        except StoppedByRunner:
            return  # the watchdog stopped the plugin process and finishes the job
        except Cancelled:
            self._finish(job, JobState.CANCELLED, error="cancelled by the user")
        except MedviewError as exc:
            self._finish(job, JobState.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("plugin %s failed on job %s", job.plugin_id, job.id)
            # An exception from a plugin process keeps the name of the plugin's exception.
            name = getattr(exc, "remote_type", type(exc).__name__)
            self._finish(job, JobState.FAILED, error=f"{name}: {exc}")
        else:
            self._finish(job, JobState.SUCCEEDED, result=result)

    def _run_with_fallbacks(self, job: Job, manifest: Manifest, worker: _Worker) -> Result:
        """Run once; after an out-of-memory, retry as the manifest allows."""
        strategies = list(manifest.on_out_of_memory)
        tile_scale = 1.0
        while True:
            try:
                return self._attempt(job, manifest, job.device, tile_scale, worker)
            except Exception as exc:
                if not torch_backend.is_out_of_memory(exc) or job.device == "cpu":
                    raise
                job.attempts.append(f"{job.device} (tile scale {tile_scale:g}): out of memory")
                log.warning("plugin %s ran out of memory on %s", job.plugin_id, job.device)
                if "smaller-tiles" in strategies:
                    strategies.remove("smaller-tiles")
                    tile_scale /= 2
                elif "cpu" in strategies:
                    strategies.remove("cpu")
                    job.device = "cpu"
                else:
                    raise PluginError(
                        f"{manifest.name} ran out of memory on {job.device} and allows no "
                        "fallback; close other GPU programs or choose --device cpu"
                    ) from None

    def _attempt(
        self, job: Job, manifest: Manifest, device: str, tile_scale: float, worker: _Worker
    ) -> Result:
        mixed = manifest.mixed_precision and device.startswith("cuda")
        ctx = JobContext(job, manifest, device, tile_scale, mixed, self._explain_hook)
        entry = self.cache.acquire((job.plugin_id, device))
        job._entry = entry
        try:
            if worker.abandoned:
                raise Cancelled()
            if isinstance(entry.plugin, ProcessPlugin) and not entry.plugin.alive:
                entry.plugin.kill()  # died while idle (e.g. the out-of-memory killer)
                entry.plugin = None
            if entry.plugin is None:
                ctx.progress(0.0, "loading the model")
                entry.plugin = self._prepare(job, ctx, device)
            if isinstance(entry.plugin, ProcessPlugin):
                job._isolated = entry.plugin
                # The process applies autocast and the determinism switches itself.
                result = entry.plugin.run(job.plugin_input, job.params, ctx)
                job.deterministic, job.threads = entry.plugin.last_runtime
            else:
                job.deterministic, job.threads = torch_backend.apply_determinism()
                with torch_backend.autocast(device, mixed):
                    result = entry.plugin.run(job.plugin_input, job.params, ctx)
            job.mixed_precision = mixed
            return result
        except Cancelled:
            raise
        except BaseException as exc:
            dead = isinstance(entry.plugin, ProcessPlugin) and not entry.plugin.alive
            if torch_backend.is_out_of_memory(exc) or entry.plugin is None or dead:
                self.cache.evict(entry)
            raise
        finally:
            job._entry = None
            job._isolated = None
            self.cache.done(entry)

    def _prepare(self, job: Job, ctx: JobContext, device: str):
        """A new prepared instance: in this process, or in a plugin process."""
        if job.isolation != "process":
            plugin = self.registry.create(job.plugin_id)
        else:
            plugin = ProcessPlugin(self.registry.get(job.plugin_id), device)
            job._isolated = plugin  # the watchdog can stop it while it loads
        try:
            plugin.prepare(ctx)
        except BaseException as exc:
            if isinstance(plugin, ProcessPlugin):
                plugin.kill()
            # e.g. weights tampered with since discovery, or code that does not import;
            # a crashed process may be a passing shortage, so it does not count.
            if isinstance(exc, MedviewError) and not isinstance(exc, PluginProcessDied):
                self.registry.mark_unavailable(job.plugin_id, exc.reason)
            raise
        return plugin

    def _explain_hook(self, plugin_id: str, ctx: JobContext) -> ExplainHook:
        """Prepare ``plugin_id`` on ``ctx.device`` (or reuse it) and return its hook.

        The target stays in the prepared-plugin cache; with a cache capacity of at least 2
        it is not released while the explanation runs.
        """
        manifest = self.registry.require(plugin_id)
        entry = self.cache.acquire((plugin_id, ctx.device))
        try:
            if entry.plugin is None:
                plugin = self.registry.create(plugin_id)
                # The target loads its own weights: a context on its manifest, same job/device.
                plugin.prepare(
                    JobContext(ctx._job, manifest, ctx.device, ctx.tile_scale, ctx.mixed_precision)
                )
                entry.plugin = plugin
            hook_of = getattr(entry.plugin, "explainable", None)
            if not callable(hook_of):
                raise PluginError(f"plugin {plugin_id!r} offers no explanation hook")
            hook = hook_of()
            if not isinstance(hook, ExplainHook):
                raise PluginError(f"plugin {plugin_id!r}: explainable() must return an ExplainHook")
            source = {
                "plugin_id": manifest.id,
                "plugin_version": manifest.version,
                "weights_sha256": {w.name: w.sha256 for w in manifest.weights},
            }
            hook = replace(hook, source=source)
            return self.detections.reusing(hook, plugin_id, ctx._job.volume)
        finally:
            self.cache.done(entry)

    # -- finishing -------------------------------------------------------------------------
    def _finish(
        self, job: Job, state: JobState, result: Result | None = None, error: str = ""
    ) -> bool:
        """Move ``job`` to a final state once: provenance, audit line, listeners."""
        with job._lock:
            if job.state in FINAL:
                return False  # e.g. the worker returns after the watchdog gave up on it
            finished = time.time()
            provenance = self._provenance(job, state, error, finished)
            if result is not None:
                result = replace(result, provenance=provenance)
            try:
                self.audit.append(provenance.as_dict())
            except OSError:
                log.exception("cannot write the audit log %s", self.audit.path)
            job._complete(state, result, error, provenance)
        if state is JobState.SUCCEEDED and result is not None:
            self.detections.remember(job.plugin_id, job.volume, result)
        with self._lock:
            self._jobs.pop(job.id, None)  # the caller keeps the Job; the runner forgets it
        return True

    def _finish_cancelled_in_queue(self, job: Job) -> None:
        self._finish(job, JobState.CANCELLED, error="cancelled before it started")

    def _provenance(self, job: Job, state: JobState, error: str, finished: float) -> Provenance:
        manifest = job.manifest
        started = job.started_at or finished
        return Provenance(
            job_id=job.id,
            plugin_id=manifest.id,
            plugin_version=manifest.version,
            api_version=API_VERSION,
            weights_sha256={w.name: w.sha256 for w in manifest.weights},
            parameters=dict(job.params),
            device=job.device,
            device_requested=job.device_requested,
            mixed_precision=job.mixed_precision,
            versions=_versions(),
            input_series_uid=job.volume.meta.series_uid,
            input_study_uid=job.volume.meta.study_uid,
            started=_iso(started),
            finished=_iso(finished),
            seconds=finished - started if job.started_at else 0.0,
            outcome=state.value,
            error=error,
            attempts=tuple(job.attempts),
            isolation=job.isolation,
            deterministic=job.deterministic,
            threads=job.threads,
        )

    # -- watchdog: timeouts and cancels that do not stop -----------------------------------
    def _start_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(
                target=self._watch, name="medview-ai-watchdog", daemon=True
            )
            self._watchdog.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            for job in self.jobs():
                if job.state is not JobState.RUNNING or job._worker is None:
                    continue
                isolated = job._isolated is not None
                grace = self.cancel_grace_s
                if isolated:
                    grace = min(grace, self.process_cancel_grace_s)
                stopped = "its process was stopped" if isolated else "its worker was abandoned"
                if job.timeout_s is not None and now - job._started_mono > job.timeout_s:
                    self._abandon(
                        job,
                        JobState.FAILED,
                        f"timed out after {job.timeout_s:g} s "
                        f"(the plugin did not finish; {stopped})",
                    )
                elif job._cancel_at is not None and now - job._cancel_at > grace:
                    self._abandon(
                        job,
                        JobState.CANCELLED,
                        f"cancelled (the plugin did not stop in time; {stopped})",
                    )

    def _abandon(self, job: Job, state: JobState, error: str) -> None:
        worker = job._worker
        job._cancel.set()  # a plugin that checks late still stops at its next check
        entry = job._entry
        if entry is not None:
            self.cache.evict(entry)  # the hung instance is not reused
        isolated = job._isolated
        if isolated is not None:
            # Stopped and reaped before the job is final: whoever sees the final state sees
            # no process left. Its worker thread returns at once and needs no replacement.
            isolated.kill()
        if not self._finish(job, state, error=error):
            return
        log.warning("job %s (%s): %s", job.id, job.plugin_id, error)
        if worker is not None and isolated is None:
            worker.lane.replace(worker)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat(timespec="milliseconds")


def _versions() -> Mapping[str, Any]:
    return {
        "medview": __version__,
        "torch": torch_backend.torch_version(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
