"""The choke point between background work and the GUI thread (ARCHITECTURE.md, rule 4).

Loading, decoding and inference run on a thread pool; their results come back to the GUI
thread as queued Qt signals. Every submission gets a generation number and only the latest
one is delivered: when the user has moved on (opened another study), a late result from the
previous job is dropped instead of overwriting what is on screen.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal

from medview.core.errors import Cancelled, MedviewError
from medview.core.logging import get_logger

_log = get_logger(__name__)


class QtJobRunner(QObject):
    """Run callables on a thread pool and report on the GUI thread.

    Signals
    -------
    finished(object)
        The latest job's return value.
    partial(object)
        Something the latest job handed over before finishing (e.g. a preview slice), when it
        was submitted with ``partial=True``.
    failed(str)
        One sentence for the user when the latest job raised. A
        :class:`~medview.core.errors.MedviewError` gives its own message; anything else is
        logged with its traceback and reported as an unexpected error.

    A job that raises :class:`~medview.core.errors.Cancelled` emits neither signal.
    """

    finished = Signal(object)
    partial = Signal(object)
    failed = Signal(str)
    # Internal: carry (generation, ok, payload) and (generation, payload) from a worker
    # thread to the GUI thread.
    _delivered = Signal(int, bool, object)
    _partial_delivered = Signal(int, object)

    def __init__(self, parent: QObject | None = None, max_workers: int = 1) -> None:
        super().__init__(parent)
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="medview-job")
        self._generation = 0
        self._closed = False
        # Queued: the slot runs in this object's thread (the GUI thread), whichever thread
        # emitted the signal.
        self._delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)
        self._partial_delivered.connect(self._on_partial, Qt.ConnectionType.QueuedConnection)

    @property
    def generation(self) -> int:
        """Number of the latest submission; results of older ones are dropped."""
        return self._generation

    def submit(
        self, function: Callable[..., Any], *args: Any, partial: bool = False, **kwargs: Any
    ) -> int:
        """Run ``function(*args, **kwargs)`` on the pool; returns the job's generation.

        With ``partial=True`` the function also gets a ``partial`` keyword argument: a
        thread-safe callable whose argument reaches the :attr:`partial` signal on the GUI
        thread (dropped, like the result, once the job is stale).
        """
        if self._closed:
            raise RuntimeError("the job runner is shut down")
        self._generation += 1
        generation = self._generation
        if partial:
            kwargs["partial"] = lambda payload: self._emit_partial(generation, payload)
        future = self._executor.submit(function, *args, **kwargs)
        future.add_done_callback(lambda done: self._on_done(generation, done))
        return generation

    def invalidate(self) -> None:
        """Drop the result of whatever is running (the user moved on)."""
        self._generation += 1

    def shutdown(self) -> None:
        """Drop pending results, cancel queued jobs; running ones finish unobserved."""
        self._closed = True
        self._generation += 1
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _emit_partial(self, generation: int, payload: object) -> None:
        # RuntimeError: the runner's Qt object is gone, nobody is listening.
        with contextlib.suppress(RuntimeError):
            self._partial_delivered.emit(generation, payload)

    def _on_partial(self, generation: int, payload: object) -> None:
        if generation == self._generation and not self._closed:
            self.partial.emit(payload)

    # Runs on the worker thread (or the submitting thread if the job was already done).
    def _on_done(self, generation: int, future: Future) -> None:
        if future.cancelled():
            return
        error = future.exception()
        try:
            if error is None:
                self._delivered.emit(generation, True, future.result())
            else:
                self._delivered.emit(generation, False, error)
        except RuntimeError:
            # The runner's Qt object was deleted while the job ran: nobody is listening.
            pass

    def _on_delivered(self, generation: int, ok: bool, payload: object) -> None:
        if generation != self._generation or self._closed:
            _log.debug("dropping the stale result of job %d", generation)
            return
        if ok:
            self.finished.emit(payload)
            return
        if isinstance(payload, Cancelled):
            return
        if isinstance(payload, MedviewError):
            _log.warning("job %d failed: %s", generation, payload)
            self.failed.emit(str(payload))
            return
        _log.error("job %d failed unexpectedly", generation, exc_info=payload)
        self.failed.emit(
            QCoreApplication.translate(
                "QtJobRunner", "An unexpected error occurred ({name}); details are in the log file."
            ).format(name=type(payload).__name__)
        )
