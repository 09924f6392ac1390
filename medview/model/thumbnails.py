"""Series thumbnails for the study browser: computed from one file, cached on disk.

Reading a whole series for a 96-pixel preview would cost seconds; the middle file of the
series (the instances are ordered by instance number) is enough and costs milliseconds.
Thumbnails are cached under ``<cache dir>/thumbnails`` as ``.npy`` files keyed by a hash of
the SeriesInstanceUID (a UID from a file is never trusted as a file name), written
atomically (ARCHITECTURE.md, rule 3). Runs on a worker thread; knows nothing of Qt.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medview.core.errors import DicomLoadError, NoDicomFoundError
from medview.core.paths import app_dirs, atomic_write_bytes
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.imaging.thumbnail import thumbnail

__all__ = ["cache_path", "series_thumbnail", "thumbnail_cache_dir"]

log = logging.getLogger(__name__)

#: Bump when the look of thumbnails changes, so old cache files are not reused.
_CACHE_VERSION = 1


def thumbnail_cache_dir() -> Path:
    """Where thumbnails are cached (``<cache dir>/thumbnails``, honouring MEDVIEW_HOME)."""
    return app_dirs().cache / "thumbnails"


def cache_path(series_uid: str, size: int = 96) -> Path:
    """The cache file for ``series_uid`` at ``size`` pixels (a hashed, safe file name)."""
    digest = hashlib.sha256(series_uid.encode("utf-8", "replace")).hexdigest()[:40]
    return thumbnail_cache_dir() / f"{digest}-{size}-v{_CACHE_VERSION}.npy"


def _read_cache(path: Path) -> np.ndarray | None:
    try:
        image = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable thumbnail cache file %s (%s)", path, exc)
        return None
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        return None
    return image


def _write_cache(path: Path, image: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, image, allow_pickle=False)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        # A read-only or full cache folder costs speed, never the thumbnail.
        log.warning("cannot cache the thumbnail %s (%s)", path, exc)


def series_thumbnail(
    paths: Sequence[str | Path],
    series_uid: str | None = None,
    size: int = 96,
    use_cache: bool = True,
) -> np.ndarray:
    """The thumbnail of a series, from the middle of its files.

    Parameters
    ----------
    paths
        The series' files in instance order (``StudyDatabase.series_paths``).
    series_uid
        The SeriesInstanceUID, the cache key; without it nothing is cached.
    size
        Width and height in pixels.
    use_cache
        Read and write the on-disk cache.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` uint8, or ``(size, size, 3)`` for colour images.

    Raises
    ------
    NoDicomFoundError
        ``paths`` is empty or the middle file holds no image.
    DicomLoadError
        The middle file cannot be read.
    """
    cached = cache_path(series_uid, size) if series_uid and use_cache else None
    if cached is not None:
        image = _read_cache(cached)
        if image is not None:
            return image
    if not paths:
        raise NoDicomFoundError("the series has no files")
    middle = Path(paths[len(paths) // 2])
    scan = scan_paths([middle], workers=1)
    if scan.errors:
        raise DicomLoadError(scan.errors[0][1], scan.errors[0][0])
    candidates = [c for group in group_series(scan.headers) for c in group.candidates]
    if not candidates:
        raise NoDicomFoundError("no image in the file", middle)
    volume = load_candidate(candidates[0], workers=1)
    image = thumbnail(volume, size)
    if cached is not None:
        _write_cache(cached, image)
    return image
