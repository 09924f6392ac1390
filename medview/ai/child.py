"""The plugin process: imports one plugin, prepares it once, runs its jobs (process isolation).

Started by :mod:`medview.ai.isolation` with multiprocessing's "spawn" context (a fresh
interpreter: forking a process that has Qt, BLAS or CUDA threads can deadlock). It holds the
prepared model between jobs, so only the first job pays the start-up and the model load.

Channels: ``conn`` carries requests and answers (progress, log records, the result or the
error, see :mod:`medview.ai.isolation`); ``control`` carries cancel requests, read by a thread
so that a busy plugin still sees them at its next ``ctx.check_cancelled()``, and its end of
file means medview is gone: the process then stops itself, so it never outlives the app.

The process makes itself a session (process group) leader: medview stops it and anything the
plugin started (a subprocess, DataLoader workers) together with one ``killpg``.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any

from medview.ai import torch_backend
from medview.ai.api import Result
from medview.ai.context import JobContext
from medview.ai.ipc import Transfer
from medview.core.errors import Cancelled, MedviewError, PluginError

log = logging.getLogger("medview.ai.child")

_PR_SET_CHILD_SUBREAPER = 36
#: Linux ``oom_score_adj`` of a plugin process (-1000..1000; higher is killed first).
OOM_SCORE_ADJ = 800


class _Link:
    """The child's side of ``conn``: thread-safe sends (plugins may log from threads)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.Lock()

    def send(self, message: tuple) -> None:
        self.send_bytes(pickle.dumps(message, protocol=5))

    def send_bytes(self, payload: bytes) -> None:
        with self.lock:
            self.conn.send_bytes(payload)


class _ChildJob:
    """What :class:`JobContext` needs from a job: progress out, cancel in."""

    def __init__(self, link: _Link, cancel: threading.Event) -> None:
        self._link, self._cancel = link, cancel
        self._sent = (-1.0, None, 0.0)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def _report(self, fraction: float, message: str) -> None:
        # A plugin may report per slice or per tile: send what the user can see (a new
        # message, a 1 % step, the end, or 5 times a second), not every call.
        last_fraction, last_message, last_time = self._sent
        now = time.monotonic()
        fraction = float(fraction)
        if (
            message != last_message
            or fraction - last_fraction >= 0.01
            or fraction >= 1.0
            or now - last_time >= 0.2
        ):
            self._sent = (fraction, message, now)
            self._link.send(("progress", fraction, str(message)))


class _Forward(logging.Handler):
    """Log records of the plugin go to medview's log (re-emitted there under their name)."""

    def __init__(self, link: _Link) -> None:
        super().__init__()
        self.link = link
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # The pipe may be gone: medview is stopping us anyway.
        with contextlib.suppress(Exception):
            self.link.send(("log", record.levelno, record.name, self.format(record)))


def _no_hooks(plugin_id: str, ctx: JobContext) -> Any:
    raise PluginError(
        "explanation hooks need the explained model in the same process: give this plugin "
        '[runtime] isolation = "thread" (trusted plugins only)'
    )


def main(conn: Any, control: Any, config: dict[str, Any]) -> None:
    """Entry point of the plugin process (the ``target`` of the spawned Process)."""
    _isolate()
    cancel = threading.Event()
    # [request being served, latest request cancelled]: a cancel for an earlier request is
    # ignored, one that arrives before its request is read is remembered.
    current = [0, 0]
    link = _Link(conn)
    threading.Thread(
        target=_watch_control, args=(control, cancel, current), name="control", daemon=True
    ).start()
    root = logging.getLogger()
    root.handlers[:] = [_Forward(link)]
    root.setLevel(config.get("log_level", logging.INFO))

    info, device = config["info"], config["device"]
    transfer = Transfer(config["token"], config["parent_pid"])
    job = _ChildJob(link, cancel)
    plugin: Any = None
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        keep: list[Any] = []
        request = transfer.loads_trusted(payload, keep)
        kind, seq = request[0], request[1]
        current[0] = seq
        cancel.clear()
        if current[1] >= seq:
            cancel.set()
        stage = kind
        try:
            if kind == "release":
                if plugin is not None:
                    plugin.release()
                link.send(("ok",))
                return
            _, _, tile_scale, mixed = request[:4]
            ctx = JobContext(job, info.manifest, device, tile_scale, mixed, _no_hooks)  # type: ignore[arg-type]
            if kind == "prepare":
                stage = "load"
                plugin = _instantiate(info)
                stage = "prepare"
                plugin.prepare(ctx)
                link.send(("ok",))
            elif kind == "run":
                volume, params = request[4], request[5]
                runtime = torch_backend.apply_determinism()
                with torch_backend.autocast(device, mixed):
                    result = plugin.run(volume, params, ctx)
                del volume, request
                if not isinstance(result, Result):
                    raise ValueError(f"plugin returned {type(result).__name__}, not a Result")
                stage = "result"
                link.send_bytes(transfer.dumps(("result", result, *runtime), "o"))
        except BaseException as exc:  # everything is reported; the loop goes on
            _report_error(link, stage, exc)
            if isinstance(exc, MemoryError):
                # After a MemoryError the interpreter may be in a poor state, and a plugin
                # that lowered its own memory limit keeps it: let medview start a fresh one.
                os._exit(70)
        finally:
            keep.clear()


def _report_error(link: _Link, stage: str, exc: BaseException) -> None:
    if isinstance(exc, Cancelled):
        link.send(("cancelled",))
        return
    text = str(exc) or repr(exc)
    if stage == "result" and not isinstance(exc, ValueError):
        text = f"its result cannot be passed to medview ({text})"
    link.send(
        (
            "error",
            stage,
            type(exc).__name__,
            text,
            isinstance(exc, MedviewError),
            traceback.format_exc(limit=20),
        )
    )


def _instantiate(info: Any) -> Any:
    from medview.ai.registry import _import_plugin_module

    module_name, attribute = info.manifest.factory.split(":")
    plugin = getattr(_import_plugin_module(info, module_name), attribute)()
    missing = [m for m in ("prepare", "run", "release") if not callable(getattr(plugin, m, None))]
    if missing:
        raise TypeError(f"its factory returned an object without {', '.join(missing)}()")
    return plugin


def _watch_control(control: Any, cancel: threading.Event, current: list[int]) -> None:
    while True:
        try:
            message = pickle.loads(control.recv_bytes())
        except (EOFError, OSError):
            # medview exited (or crashed) without stopping us: never outlive it.
            _stop_descendants()
            os._exit(0)
        if message[0] == "cancel":
            current[1] = max(current[1], message[1])
            if message[1] == current[0]:
                cancel.set()


def _isolate() -> None:
    """Own process group, reaper of our descendants, tracebacks on a crash."""
    faulthandler.enable()  # a segfaulting plugin leaves a Python traceback on stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is medview's to handle
    if os.name != "posix":  # pragma: no cover - Windows: medview kills the process only
        return
    with contextlib.suppress(OSError):
        os.setsid()
    if sys.platform.startswith("linux"):
        # When memory runs out, the kernel's out-of-memory killer is to pick the plugin, not
        # medview (which is usually the bigger process, holding the series and the review).
        with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as adj:
            adj.write(str(OOM_SCORE_ADJ))
        with contextlib.suppress(Exception):
            import ctypes

            # Orphaned grandchildren become ours, so we can reap them when told to stop.
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, _on_terminate)


def _on_terminate(signum: int, frame: Any) -> None:
    _stop_descendants()
    os._exit(128 + signum)


def _stop_descendants() -> None:
    """SIGTERM every process the plugin started and reap them (no zombies left behind).

    medview follows with SIGKILL to the whole group after half a second, for any that ignore
    SIGTERM or when this handler cannot run (a plugin stuck in C code)."""
    if os.name != "posix" or os.getpgrp() != os.getpid():
        return  # not our own group: never signal medview's
    with contextlib.suppress(ValueError):  # only the main thread may change handlers
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)
