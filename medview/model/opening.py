"""Opening studies for the viewer: the demo study on first start, or the user's paths.

Runs on a worker thread (never the GUI thread) and knows nothing of Qt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from medview.core.errors import NoDicomFoundError
from medview.core.paths import AppDirs, app_dirs
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.dicom.loader import load_candidate
from medview.dicom.series import Candidate, group_series
from medview.imaging.volume import Volume

log = logging.getLogger("medview.model.opening")

DEMO_SEED = 0


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
    log.info("opened series %s %s", candidate.series_uid, volume)
    return volume
