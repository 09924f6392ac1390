"""AI panel › Save as DICOM…: a derived volume written as a DICOM series (issue 6).

The panel's ``save_volume`` signal brings the derived volume (e.g. a super-resolved series);
the user picks a new or empty folder; :func:`medview.dicom.writer.write_derived_series` writes
the series there on a worker thread through :class:`~medview.view.qt_jobs.QtJobRunner` (the
GUI thread only draws, ARCHITECTURE.md rule 4). The source is the series the plugin ran on
(the job's input volume, kept by the panel next to each derived volume): the new series gets
its Study Instance UID and Frame of Reference UID, so it lines up with the original. With a
study database the written folder is then imported, and the study browser lists the derived
series beside the original. Success or failure is one sentence in the status bar and under
the panel's Run button (rule 5): a non-empty folder gives the writer's own message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow

from medview.core.logging import get_logger
from medview.core.phi import identifier
from medview.dicom.writer import DerivedSeries, write_derived_series
from medview.imaging.volume import Volume
from medview.view.ai_panel import QtAiPanel
from medview.view.qt_jobs import QtJobRunner

__all__ = ["DerivedExport"]

_log = get_logger(__name__)

#: Imports folders into the study database in the background; False when it could not start.
ImportFolders = Callable[[Sequence[Path]], bool]


def _tr(text: str) -> str:
    return QCoreApplication.translate("DerivedExport", text)


def _write(volume: Volume, folder: Path, source: Volume | None) -> DerivedSeries:
    """Worker thread: the series, described by the plugin's own words."""
    meta = volume.meta
    return write_derived_series(
        volume,
        folder,
        source=source.meta if source is not None else None,
        description=meta.series_description or meta.derivation,
    )


class DerivedExport(QObject):
    """Writes the AI panel's derived volumes as DICOM series, off the GUI thread.

    Parameters
    ----------
    window
        The main window: parent of the folder dialog, owner of the status bar.
    panel
        The AI panel (its ``save_volume`` signal is followed; its status line is used).
    import_folders
        Imports the written folder into the study database (the window's ``import_paths``);
        None without a database.

    Attributes
    ----------
    choose_folder
        ``choose_folder(start_folder) -> str``: asks for the target folder, "" when the user
        cancelled. A folder dialog by default; tests replace it.

    Signals
    -------
    saved(object)
        The :class:`~medview.dicom.writer.DerivedSeries` written.
    failed(str)
        The sentence shown when writing failed.
    """

    saved = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        window: QMainWindow,
        panel: QtAiPanel,
        import_folders: ImportFolders | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._panel = panel
        self._import_folders = import_folders
        self._start = str(Path.home())
        self._busy = False
        self.choose_folder: Callable[[str], str] = self._ask_folder
        # Its own runner: a load submitted meanwhile must not make the write's result stale.
        self._jobs = QtJobRunner(self)
        self._jobs.finished.connect(self._on_written)
        self._jobs.failed.connect(self._on_failed)
        panel.save_volume.connect(self.save)

    @property
    def busy(self) -> bool:
        """True from the start of a write until its result (or failure) is shown."""
        return self._busy

    def save(self, volume: object) -> bool:
        """Ask for a folder and write ``volume`` there in the background.

        Returns
        -------
        bool
            False when nothing was started (not a volume, a write already running, or the
            dialog was cancelled).
        """
        if not isinstance(volume, Volume):
            return False
        if self._busy:
            self._tell(_tr("A derived series is being saved; wait until it is done."))
            return False
        chosen = self.choose_folder(self._start)
        if not chosen:
            return False
        folder = Path(chosen)
        self._start = str(folder.parent)
        self._busy = True
        self._tell(_tr("Saving the derived series to {folder}…").format(folder=folder))
        self._jobs.submit(_write, volume, folder, self._panel.derived_source(volume))
        return True

    def shutdown(self) -> None:
        """The window closes: a running write finishes (atomically) unobserved."""
        self._jobs.shutdown()

    # -- internals -------------------------------------------------------------------------
    def _ask_folder(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(
            self._window, _tr("Save the derived series in a new, empty folder"), start
        )

    def _tell(self, text: str) -> None:
        self._window.statusBar().showMessage(text)
        self._panel.set_status(text)

    def _on_written(self, series: object) -> None:
        self._busy = False
        if not isinstance(series, DerivedSeries):
            return
        _log.info(
            "derived series %s written to %s", identifier(series.series_uid), series.directory
        )
        text = _tr("Saved the derived series ({count} images) to {folder}.").format(
            count=len(series.files), folder=series.directory
        )
        if self._import_folders is not None and not self._import_folders([series.directory]):
            text = _tr(
                "Saved the derived series to {folder}; import it with File › Import folder… "
                "once the running import is done."
            ).format(folder=series.directory)
        self._tell(text)
        self.saved.emit(series)

    def _on_failed(self, message: str) -> None:
        self._busy = False
        text = _tr("Could not save the derived series: {reason}").format(reason=message)
        self._tell(text)
        self.failed.emit(text)
