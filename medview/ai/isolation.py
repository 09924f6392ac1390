"""Process isolation: a plugin that runs in its own process, behind the plugin protocol.

A thread cannot be killed, and a segfault, ``os._exit`` or the out-of-memory killer in a
plugin thread takes the whole app down. So third-party plugins (and any that declare
``[runtime] isolation = "process"``) run in a child process (:mod:`medview.ai.child`) that
imports the plugin, prepares it once and serves its jobs until released. To the runner a
:class:`ProcessPlugin` is just a plugin: ``prepare``/``run``/``release`` block the worker
thread while progress, log records and the cancel request cross the process boundary, and the
volume and the result's arrays travel through files in RAM (:mod:`medview.ai.ipc`).

What the runner gains: :meth:`ProcessPlugin.kill` really stops a hung or cancelled plugin
(SIGTERM to its process group, SIGKILL after half a second, then reaped); a child that dies
is reported as one sentence ("plugin process exited with signal SIGSEGV") and the next job
starts a fresh process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import replace
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from medview.ai import ipc
from medview.ai.api import Finding, Overlay, Params, Result
from medview.core.errors import Cancelled, PluginError
from medview.imaging.volume import Volume

log = logging.getLogger("medview.ai.isolation")

#: Seconds between SIGTERM and SIGKILL when stopping a plugin process.
TERMINATE_GRACE_S = 0.5
#: Seconds ``release()`` waits for the plugin to clean up before killing its process.
RELEASE_WAIT_S = 2.0
_POLL_S = 0.05

_live: weakref.WeakSet[ProcessPlugin] = weakref.WeakSet()
_swept = False


class PluginProcessDied(PluginError):
    """The plugin process ended without answering (crash, ``os._exit``, killed)."""


class StoppedByRunner(Exception):
    """The runner stopped the process on purpose (timeout, cancel not honoured)."""


class RemoteError(Exception):
    """An exception raised by plugin code in its process: ``remote_type`` is its class name
    (the runner reports ``"RuntimeError: ..."`` exactly as for a thread)."""

    def __init__(self, remote_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(message)
        self.remote_type, self.remote_traceback = remote_type, remote_traceback


class ProcessPlugin:
    """Runs plugin ``info`` on ``device`` in a child process; the :class:`Plugin` protocol.

    One instance is one child; it serves one job at a time (the runner's prepared-plugin
    cache guarantees that) and is reused for later jobs until released or killed.
    """

    def __init__(self, info: Any, device: str) -> None:
        self.info, self.device = info, device
        #: (deterministic, torch threads) of the last run in the process (issue 11 AI2).
        self.last_runtime: tuple[bool, int] = (False, 0)
        self.transfer = ipc.Transfer(uuid.uuid4().hex[:12])
        self._process: Any = None
        self._conn: Any = None
        self._control: Any = None
        self._seq = 0
        self._stopping = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        pid = self._process.pid if self._process is not None else None
        return f"ProcessPlugin({self.info.id}, {self.device}, pid={pid})"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and not self._stopping and self._process.is_alive()

    # -- the plugin protocol ---------------------------------------------------------------
    def prepare(self, ctx: Any) -> None:
        """Start the process, import the plugin there and call its ``prepare``."""
        self._start()
        request = ("prepare", self._next(), ctx.tile_scale, ctx.mixed_precision)
        self._request(request, ctx, loading=True)

    def run(self, volume: Volume, params: Params, ctx: Any) -> Result:
        seq = self._next()
        request = ("run", seq, ctx.tile_scale, ctx.mixed_precision, volume, dict(params))
        written: list[Any] = []
        try:
            payload = self.transfer.dumps(request, "i", written)
        except OSError as exc:
            raise PluginError(f"cannot pass the volume to the plugin process: {exc}") from None
        try:
            return self._request(payload, ctx)
        finally:
            for path in written:  # the child maps it; unlinked, it lives until unmapped
                with contextlib.suppress(OSError):  # Windows: not while mapped (swept later)
                    path.unlink(missing_ok=True)

    def release(self) -> None:
        """Let the plugin free its memory and the process exit; kill it if it does not."""
        process, conn = self._process, self._conn
        if self.alive and process is not None:
            try:
                conn.send_bytes(pickle.dumps(("release", self._next())))
                process.join(RELEASE_WAIT_S)
            except (OSError, ValueError):  # died, or killed by the watchdog meanwhile
                pass
        self.kill()

    # -- stopping --------------------------------------------------------------------------
    def kill(self) -> None:
        """Stop the process and everything it started, and reap it. Idempotent; returns
        when the process is gone (about :data:`TERMINATE_GRACE_S` at worst)."""
        with self._lock:
            self._stopping = True
            process, self._process = self._process, None
        if process is None:
            return
        _stop_tree(process)
        for end in (self._conn, self._control):
            with contextlib.suppress(Exception):
                end.close()
        with contextlib.suppress(Exception):
            process.close()
        self.transfer.remove_all()
        _live.discard(self)

    # -- internals -------------------------------------------------------------------------
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _start(self) -> None:
        global _swept
        if not _swept:  # files of an earlier medview killed mid-transfer
            _swept = True
            ipc.sweep()
        context = multiprocessing.get_context("spawn")
        conn, child_conn = context.Pipe()
        control_in, control = context.Pipe(duplex=False)
        config = {
            "info": self.info,
            "device": self.device,
            "token": self.transfer.stem.rsplit("-", 2)[-2],
            "parent_pid": os.getpid(),
            "log_level": logging.getLogger("medview.plugin").getEffectiveLevel(),
        }
        from medview.ai import child

        process = context.Process(
            target=child.main,
            args=(child_conn, control_in, config),
            name=f"medview-plugin {self.info.id}",
            daemon=False,  # a daemonic process may not start its own (DataLoader workers)
        )
        process.start()
        # Only the child holds these ends now: its exit, or ours, shows as end of file.
        child_conn.close()
        control_in.close()
        self._process, self._conn, self._control = process, conn, control
        _live.add(self)
        log.info("plugin %s: process %s started on %s", self.info.id, process.pid, self.device)

    def _request(self, request: tuple | bytes, ctx: Any, loading: bool = False) -> Any:
        """Send a request and pump the answers until it is done (the worker thread waits
        here): progress to the job, log records to medview's log, cancel to the child.

        A cancel while the process starts or loads the model stops the process at once:
        nothing is lost, and a fresh interpreter may take a second to reach a cancel check.
        """
        job = ctx._job
        process, conn = self._process, self._conn
        if process is None or self._stopping:
            raise StoppedByRunner()
        if job.cancel_requested:
            if loading:
                self.kill()
            raise Cancelled()
        sentinel = process.sentinel
        payload = request if isinstance(request, bytes) else pickle.dumps(request, protocol=5)
        seq = self._seq
        try:
            conn.send_bytes(payload)
        except (OSError, ValueError):
            self._died(process)
        cancel_sent = False
        while True:
            if self._stopping:
                raise StoppedByRunner()
            if job.done:  # the runner gave up on this job meanwhile: stop the plugin too
                self.kill()
                raise StoppedByRunner()
            if job.cancel_requested and loading:
                self.kill()
                raise Cancelled()
            if job.cancel_requested and not cancel_sent:
                cancel_sent = True
                with contextlib.suppress(OSError, ValueError):
                    self._control.send_bytes(pickle.dumps(("cancel", seq)))
            try:
                ready = wait([conn, sentinel], _POLL_S)
            except (OSError, ValueError):  # closed by kill() on the watchdog thread
                raise StoppedByRunner() from None
            if conn in ready:
                try:
                    data = conn.recv_bytes(ipc.MAX_MESSAGE)
                except (EOFError, OSError, ValueError):
                    self._died(process)
                answer = self._decode(data)
                kind = answer[0]
                if kind == "progress":
                    job._report(float(answer[1]), str(answer[2]))
                elif kind == "log":
                    logging.getLogger(str(answer[2])).log(int(answer[1]), "%s", answer[3])
                elif kind == "ok":
                    return None
                elif kind == "result":
                    # (deterministic, threads) of the child's torch: an older or foreign
                    # child that leaves them out counts as not deterministic.
                    extra = answer[2:4] if len(answer) >= 4 else (False, 0)
                    self.last_runtime = (
                        extra[0] is True,
                        int(extra[1]) if isinstance(extra[1], int) else 0,
                    )
                    return revalidated(answer[1])
                elif kind == "cancelled":
                    raise Cancelled()
                elif kind == "error":
                    raise self._error(answer)
            elif sentinel in ready:
                self._died(process)

    def _decode(self, data: bytes) -> tuple:
        try:
            answer = self.transfer.loads_untrusted(data)
        except Exception as exc:
            # A child that breaks the protocol is not reused: whatever it does next is wrong.
            self.kill()
            raise PluginError(f"the plugin process sent an invalid message ({exc})") from None
        if not (isinstance(answer, tuple) and answer and isinstance(answer[0], str)):
            self.kill()
            raise PluginError("the plugin process sent an invalid message")
        return answer

    def _error(self, answer: tuple) -> Exception:
        _, stage, type_name, text, is_medview, remote_tb = answer[:6]
        if type_name == "MemoryError":
            self.kill()  # the child exits after a MemoryError; start a fresh one next time
        if stage == "load":
            reason = f"cannot load its code ({type_name}: {text})"
            error = PluginError(f"plugin {self.info.id!r} {reason}")
            error.reason = reason
            return error
        if is_medview:
            return PluginError(str(text))
        log.warning("plugin %s raised in its process:\n%s", self.info.id, remote_tb)
        return RemoteError(str(type_name), str(text), str(remote_tb))

    def _died(self, process: Any) -> None:
        if self._stopping:
            raise StoppedByRunner()
        with contextlib.suppress(ValueError):  # closed by kill() meanwhile
            process.join(1.0)
        if self._stopping:
            raise StoppedByRunner()
        reason = describe_exit(process.exitcode)
        self.kill()
        raise PluginProcessDied(f"plugin process {reason}")


def revalidated(result: Any) -> Result:
    """``result`` rebuilt through the contract's constructors.

    Unpickling skips ``__init__``, so the checks a plugin's objects pass in medview's own
    process (scores in 0..1, boxes ordered, orthonormal directions) are run again here.

    Raises
    ------
    PluginError
        Not a :class:`Result`, or one that fails those checks.
    """
    try:
        if not isinstance(result, Result):
            raise TypeError(f"plugin returned {type(result).__name__}, not a Result")
        findings = []
        for finding in result.findings:
            if not isinstance(finding, Finding):
                raise TypeError(f"a finding is a {type(finding).__name__}")
            mask = None if finding.mask is None else _volume(finding.mask)
            findings.append(replace(finding, mask=mask))  # replace() runs __post_init__
        overlays = []
        for overlay in result.overlays:
            if not isinstance(overlay, Overlay):
                raise TypeError(f"an overlay is a {type(overlay).__name__}")
            overlays.append(replace(overlay, volume=_volume(overlay.volume)))
        volumes = tuple(_volume(volume) for volume in result.volumes)
        if not isinstance(result.metadata, Mapping):
            raise TypeError("metadata is not a mapping")
        return Result(tuple(findings), tuple(overlays), volumes, dict(result.metadata))
    except (TypeError, ValueError) as exc:
        raise PluginError(f"the plugin process returned an invalid result ({exc})") from None


def _volume(volume: Any) -> Volume:
    if not isinstance(volume, Volume) or not isinstance(volume.array, np.ndarray):
        raise TypeError(f"expected a Volume, got {type(volume).__name__}")
    return replace(volume)


def describe_exit(code: int | None) -> str:
    """One phrase for a process exit code: ``exited with signal SIGSEGV`` / ``exit code 3``."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {
            "SIGSEGV": " (segmentation fault)",
            "SIGKILL": " (killed: out of memory?)",
            "SIGABRT": " (aborted)",
            "SIGBUS": " (bus error)",
        }.get(name, "")
        return f"exited with signal {name}{hint}"
    return f"exited with exit code {code}"


def _stop_tree(process: Any) -> None:
    """SIGTERM the plugin's process group (the child reaps what it started), SIGKILL the
    group after :data:`TERMINATE_GRACE_S`, reap the child."""
    pid = process.pid
    if os.name == "posix" and pid:
        for sig, wait_s in ((signal.SIGTERM, TERMINATE_GRACE_S), (signal.SIGKILL, 5.0)):
            # The child is its own group leader (os.setsid), so killpg(pid) never reaches
            # medview's group; before setsid ran there is no such group (ESRCH).
            with contextlib.suppress(OSError):
                os.killpg(pid, sig)
            if process.exitcode is None:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            process.join(wait_s)
    else:  # pragma: no cover - Windows: no process groups; the process only
        process.terminate()
        process.join(TERMINATE_GRACE_S)
        if process.exitcode is None:
            process.kill()
            process.join(5.0)
    if process.exitcode is None:  # pragma: no cover - an unkillable process (D state)
        log.error("plugin process %s did not stop", pid)


def live_processes() -> list[ProcessPlugin]:
    """The plugin processes running now (diagnostics and tests)."""
    return [plugin for plugin in list(_live) if plugin.alive]


@atexit.register
def _kill_all() -> None:
    # Runs before multiprocessing's own exit handler, which would wait for non-daemonic
    # children forever.
    for plugin in list(_live):
        with contextlib.suppress(Exception):
            plugin.kill()
