"""medview's exception and warning types.

Inside medview, code raises these specific exceptions; at the CLI and GUI boundary they are
turned into one clear sentence (ARCHITECTURE.md, rule 5). Anything else escaping is a bug and
is logged with its traceback.
"""

from __future__ import annotations

from pathlib import Path


class MedviewError(Exception):
    """Base class for errors a user can act on. ``str(err)`` is the one-line message."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class DicomLoadError(MedviewError):
    """A file or series could not be read as DICOM image data."""


class NotDicomError(DicomLoadError):
    """The file is not a DICOM Part 10 file (no preamble/DICM, no meta header)."""


class TruncatedFileError(DicomLoadError):
    """The file ends before the data it announces."""


class GeometryError(MedviewError):
    """The slices of a series cannot form one volume as they are."""


class NoDicomFoundError(MedviewError):
    """A path given by the user held no DICOM file medview could use."""


class DatabaseError(MedviewError):
    """The local study database could not be read or written."""


class PluginError(MedviewError):
    """An AI plugin cannot be listed, prepared or run (the message says why)."""


class ManifestError(PluginError):
    """A plugin's ``plugin.toml`` is missing, unreadable or invalid."""


class WeightsError(PluginError):
    """A weights file is missing, has the wrong size or fails its SHA-256 check."""


class Cancelled(Exception):
    """Raised by a cooperative cancellation check; not an error to report."""


class MedviewWarning(UserWarning):
    """Warnings raised by medview itself (turned into errors in the test suite)."""
