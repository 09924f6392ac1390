"""The AI runner's callbacks as Qt signals on the GUI thread (ARCHITECTURE.md rule 4).

:class:`~medview.ai.runner.Runner` calls its listeners on worker threads; Qt objects may only
be touched on the GUI thread. :class:`QtAiBridge` is the listener: each callback emits a
queued signal, so the panel's slots run on the GUI thread, in the order the job reported.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, Qt, Signal

from medview.ai.jobs import Job


class QtAiBridge(QObject):
    """A :class:`~medview.ai.jobs.JobListener` that re-emits on the GUI thread.

    Signals
    -------
    state_changed(object)
        The job (queued, running or a final state).
    progress(object, float, str)
        The job, its fraction 0..1 and message, in order.
    finished(object)
        The job, in a final state with ``result`` or ``error``.
    """

    state_changed = Signal(object)
    progress = Signal(object, float, str)
    finished = Signal(object)
    _state = Signal(object)
    _progress = Signal(object, float, str)
    _finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        queued = Qt.ConnectionType.QueuedConnection
        self._state.connect(self.state_changed, queued)
        self._progress.connect(self.progress, queued)
        self._finished.connect(self.finished, queued)

    # JobListener, called on worker threads. RuntimeError: the bridge's Qt object is gone.
    def job_state_changed(self, job: Job) -> None:
        with contextlib.suppress(RuntimeError):
            self._state.emit(job)

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        with contextlib.suppress(RuntimeError):
            self._progress.emit(job, fraction, message)

    def job_finished(self, job: Job) -> None:
        with contextlib.suppress(RuntimeError):
            self._finished.emit(job)
