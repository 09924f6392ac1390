"""Opening studies for the viewer: the demo study on first start, or the user's paths.

Runs on a worker thread (never the GUI thread) and knows nothing of Qt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from medview.core.errors import MedviewError, NoDicomFoundError
from medview.core.paths import AppDirs, app_dirs
from medview.core.phi import identifier
from medview.dicom.header import InstanceHeader, read_header
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import Candidate, group_series
from medview.imaging.volume import Volume

log = logging.getLogger("medview.model.opening")

DEMO_SEED = 0
#: Below this many slices the whole series decodes about as fast as a preview would show.
PREVIEW_MIN_SLICES = 32


def demo_folder(dirs: AppDirs) -> Path:
    return dirs.data / "demo" / f"seed-{DEMO_SEED}"


def ensure_demo_study(
    dirs: AppDirs,
    status: Callable[[str], None] | None = None,
    size: int = 512,
    slices: int = 300,
) -> Path:
    """The demo series folder, generating it on first use (a few seconds to half a minute)."""
    folder = demo_folder(dirs)
    truth = folder / "truth.json"
    if truth.exists():
        try:
            json.loads(truth.read_text(encoding="utf-8"))
            return folder
        except (OSError, ValueError):
            log.warning("demo study at %s is incomplete: writing it again", folder)
    from medview.dicom.demo import write_demo_study

    if status:
        status("Generating the demo study (first start only)…")
    log.info("generating the demo study in %s", folder)
    write_demo_study(folder, seed=DEMO_SEED, size=size, slices=slices)
    return folder


def pick_main_candidate(candidates: Sequence[Candidate]) -> Candidate:
    """The candidate a radiologist most likely wants first: the biggest 3D volume."""
    if not candidates:
        raise NoDicomFoundError("no image series found")
    return max(candidates, key=lambda c: (c.kind == "volume", len(c.slices), c.rows * c.columns))


def open_for_viewer(
    paths: Sequence[str | Path] = (),
    dirs: AppDirs | None = None,
    status: Callable[[str], None] | None = None,
) -> Volume:
    """Import ``paths`` (or the demo study) into the database and load the main volume."""
    dirs = (dirs or app_dirs()).ensure()
    targets = [Path(p) for p in paths] or [ensure_demo_study(dirs, status)]
    if status:
        status("Importing…")
    with StudyDatabase(dirs.database) as database:
        summary = import_paths(targets, database, dirs=dirs)
    log.info(
        "imported %s: %d new, %d known instances, %d series, %d unreadable",
        ", ".join(map(str, targets)), summary.instances_added, summary.instances_known,
        summary.series, len(summary.errors),
    )  # fmt: skip
    candidates = [c for group in group_series(summary.headers) for c in group.candidates]
    if status:
        status("Loading…")
    candidate = pick_main_candidate(candidates)
    volume = load_candidate(candidate)
    log.info("opened series %s %s", identifier(candidate.series_uid), volume)
    return volume


def import_and_choose(path: Path, series_uid: str = "") -> Candidate:
    """Import ``path`` into the local database and pick the series to open.

    ``series_uid`` names it; otherwise the biggest volume (:func:`pick_main_candidate`). For
    ``medview view``, ``run`` and ``report``, which take a path on the command line.

    Raises
    ------
    MedviewError
        When the path does not exist, holds no image series, or not ``series_uid``.
    """
    if not path.exists():
        raise MedviewError("no such file or folder", path)
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database:
        summary = import_paths([path], database, dirs=dirs)
    candidates = [c for group in group_series(summary.headers) for c in group.candidates]
    if series_uid:
        candidates = [c for c in candidates if c.series_uid == series_uid]
        if not candidates:
            raise MedviewError(f"no series with UID {series_uid} (see `medview info`)", path)
    return pick_main_candidate(candidates)


def open_series(
    database: StudyDatabase,
    series_uid: str,
    *,
    workers: int | None = None,
    cancel: Callable[[], None] | None = None,
    preview: Callable[[Volume], None] | None = None,
) -> Volume:
    """Load one series of the local database as a Volume (the biggest of its candidates).

    Runs on a worker thread: it reads every header of the series again (files may have
    changed since they were indexed) and decodes the pixels.

    Parameters
    ----------
    database
        The study database that indexed the series.
    series_uid
        Its SeriesInstanceUID.
    preview
        Called (on this thread) with the middle file's slice alone as a one-slice Volume
        (:func:`quick_preview`) before the series is read and decoded, for series of at least
        :data:`PREVIEW_MIN_SLICES` files: progressive loading, the first image on screen in a
        fraction of a second (issue 3).

    Raises
    ------
    NoDicomFoundError
        The database has no files for the series, or none of them is an image any more.
    """
    paths = database.series_paths(series_uid)
    if not paths:
        raise NoDicomFoundError(f"series {series_uid} is not in the local database")
    if preview is not None and len(paths) >= PREVIEW_MIN_SLICES:
        first = quick_preview(paths)
        if first is not None:
            preview(first)
    missing = [p for p in paths if not Path(p).exists()]
    if len(missing) == len(paths):
        raise NoDicomFoundError(
            f"the files of series {series_uid} are gone (first: {missing[0]}); import them again"
        )
    scan = scan_paths([p for p in paths if p not in missing], workers=workers, cancel=cancel)
    candidates = [
        c
        for group in group_series(scan.headers)
        if group.series_uid == series_uid
        for c in group.candidates
    ]
    candidate = pick_main_candidate(candidates)
    volume = load_candidate(candidate, workers=workers, cancel=cancel)
    log.info("opened series %s from the database: %s", identifier(series_uid), volume)
    return volume


def quick_preview(paths: Sequence[str]) -> Volume | None:
    """The middle file of a series (in Instance Number order) alone, as a one-slice Volume.

    Reads one header and one slice, before the whole series' headers are read again: the
    first image is on screen in a fraction of a second even for hundreds of files. None
    when that file is not a single image (the whole series will tell what is wrong).
    """
    middle = Path(paths[len(paths) // 2])
    try:
        candidates = [c for g in group_series([read_header(middle)]) for c in g.candidates]
        if len(candidates) != 1 or len(candidates[0].slices) != 1:
            return None
        return load_candidate(candidates[0], workers=1)
    except MedviewError as err:
        log.info("no preview for %s: %s", middle, err)
        return None


def main_series_uid(headers: Sequence[InstanceHeader]) -> str:
    """The SeriesInstanceUID a reader most likely wants first among ``headers``.

    Raises
    ------
    NoDicomFoundError
        No image series among them.
    """
    candidates = [c for group in group_series(headers) for c in group.candidates]
    return pick_main_candidate(candidates).series_uid
