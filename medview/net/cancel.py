"""A cancel token for network operations that stops them even while they wait for the peer.

A cooperative check between files is not enough for a retrieve: the worker thread spends most
of its time blocked in pynetdicom waiting for the next message, so a check would only run
when the PACS next sends something. The token therefore also runs callbacks registered by
the operation (e.g. "abort this association"), in the thread that cancels.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from medview.core.errors import Cancelled

log = logging.getLogger(__name__)


class CancelToken:
    """Set once by :meth:`cancel` (any thread); read by the operation.

    Examples
    --------
    >>> token = CancelToken()
    >>> with token.on_cancel(lambda: print("abort")):
    ...     token.cancel()
    abort
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """Ask the operation to stop; runs the registered callbacks once (idempotent)."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a failed abort must not hide the cancel itself
                log.exception("cancel callback failed")

    def check(self, what: str = "the operation") -> None:
        """Raise :class:`~medview.core.errors.Cancelled` if cancelled."""
        if self._event.is_set():
            raise Cancelled(f"{what} was cancelled")

    @contextlib.contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """Run ``callback`` if the token is cancelled while the block runs (or already was)."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._callbacks.append(callback)
        if already:
            callback()
        try:
            yield
        finally:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)
