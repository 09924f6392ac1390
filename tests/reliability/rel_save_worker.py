"""The saving process that issue 11 D1 kills: ``python rel_save_worker.py ROOT``.

It sets up once (a 32 x 32 x 12 demo CT under ``ROOT/ct``, a report model with one masked
finding and two reader measurements, ``MEDVIEW_HOME=ROOT/home``) and then serves forks, so
that each of the 40 kills costs a fork and not a Python start with pydicom, highdicom and
fpdf imported. Commands on stdin, one a line, answers on stdout:

``run V N``
    fork a child that saves versions V, V+1, ... (N of them, 0: until killed); answers
    ``pid P``. Each version saves, in this order, the measurement session (the GUI's
    annotation save, :func:`save_session`), the report draft (:func:`save_draft`) and the
    report export into ``ROOT/report`` (``check_writable`` then ``export_report`` with SR,
    SEG, PDF and JSON, as ``medview report`` does), each with ``version V`` in its text.
``wait``
    reap the child; answers ``status S`` (``-9``: SIGKILL, ``0``: finished its N versions).

The child logs to ``ROOT/events.log`` (O_APPEND, one ``os.write`` a line, so a kill never
leaves half a line): ``T PID begin|end V WHAT`` around each save, and around every atomic
write ``T PID intent V RELPATH SHA256`` for each file before it starts and ``T PID done V
RELPATH`` after it returned. A target killed mid-write must therefore hold the SHA-256 of
its last ``done`` or of its pending ``intent``, nothing else.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(sys.argv[1]).resolve() if __name__ == "__main__" else Path(".")
READER = "Doe^Jane"
FORMATS = ("sr", "seg", "pdf", "json")

_log_fd = -1
_version = 0


def log_event(*fields: object) -> None:
    line = " ".join(str(f) for f in (f"{time.monotonic():.6f}", os.getpid(), *fields))
    os.write(_log_fd, (line + "\n").encode())


def instrument() -> None:
    """Log the intent (target, SHA-256 of the new content) and the end of every atomic write.

    ``atomic_write_bytes`` (sessions, drafts) calls ``paths.atomic_write_files``; the export
    imported its own binding of it: both are wrapped.
    """
    import medview.core.paths as paths
    import medview.reports.export as export

    real = paths.atomic_write_files

    def logged(payloads):
        rel = {Path(t): Path(t).relative_to(ROOT) for t in payloads}
        for target, payload in payloads.items():
            log_event("intent", _version, rel[Path(target)], hashlib.sha256(payload).hexdigest())
        real(payloads)
        for target in payloads:
            log_event("done", _version, rel[Path(target)])

    paths.atomic_write_files = logged
    export.atomic_write_files = logged


def setup():
    """(volume, sources, model): the small study and its report model, built once."""
    from medview.dicom.demo import write_demo_study
    from medview.dicom.loader import load_candidate
    from medview.dicom.scan import scan_paths
    from medview.dicom.series import group_series
    from medview.reports.model import ReportedFinding, ReportModel, StudyInfo
    from medview.reports.sources import SourceImages

    os.environ["MEDVIEW_HOME"] = str(ROOT / "home")
    _small_pdf_font()
    demo = write_demo_study(ROOT / "ct", seed=1, size=32, slices=12)
    paths = [str(p) for p in demo.files]
    (candidate,) = [c for g in group_series(scan_paths(paths).headers) for c in g.candidates]
    volume = load_candidate(candidate)
    sources = SourceImages.read(volume, paths)
    mask = np.zeros(volume.shape, bool)
    mask[5:8, 10:16, 12:18] = True
    center = tuple(float(v) for v in volume.index_to_lps((15.0, 13.0, 6.0)))
    finding = ReportedFinding(
        id="reader/1",
        label="lung nodule",
        center_lps_mm=center,
        size_mm=(6.0, 6.0, 4.0),
        bbox_lps_mm=(tuple(c - 3 for c in center), tuple(c + 3 for c in center)),
        mask=mask,
        decided_by=READER,
        study_uid=volume.meta.study_uid,
    )
    study = StudyInfo.from_dataset(sources.datasets[0])
    model = ReportModel(study, reader=READER, findings=[finding])
    return volume, sources, model


def _small_pdf_font() -> None:
    """Parsing the 5 MB CJK font twice per PDF takes seconds on 2 busy cores; the report text
    here is ASCII and the test is about how files are written, so a small Latin font (from
    matplotlib, when installed) keeps each save short enough for 40 kills in the normal run."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return
    font = Path(next(iter(spec.submodule_search_locations)), "mpl-data/fonts/ttf/DejaVuSans.ttf")
    if font.is_file():
        os.environ["MEDVIEW_CJK_FONT"] = str(font)


def scene_of(volume, version: int):
    """Two lengths and a point labelled with the version: every version is distinguishable."""
    from medview.model.measurements import Length, MeasurementScene, PointProbe

    a = volume.index_to_lps((8.0, 8.0, 6.0))
    b = volume.index_to_lps((8.0 + version % 13 + 1, 20.0, 6.0))
    series = volume.meta.series_uid
    return MeasurementScene(
        [
            Length(a, b, label=f"version {version} length", series_uid=series),
            Length(b, a, label=f"version {version} back", series_uid=series),
            PointProbe(a, label=f"version {version} probe", series_uid=series),
        ]
    )


def save_version(volume, sources, model, version: int, root: Path = ROOT) -> None:
    from medview.core.paths import app_dirs
    from medview.model.measurements import measurement_records, save_session, session_path
    from medview.model.report_draft import ReportDraft, draft_path, save_draft
    from medview.model.report_export import check_writable
    from medview.reports.export import export_report

    global _version
    _version = version
    dirs, study_uid = app_dirs(), volume.meta.study_uid
    scene = scene_of(volume, version)
    log_event("begin", version, "session")
    save_session(session_path(dirs, study_uid), scene)
    log_event("end", version, "session")
    log_event("begin", version, "draft")
    save_draft(draft_path(dirs, study_uid), ReportDraft(f"version {version}", "no change"))
    log_event("end", version, "draft")
    log_event("begin", version, "report")
    model.impression = f"version {version}"
    model.measurements = measurement_records(scene, volume)
    check_writable(root / "report")
    export_report(model, sources, root / "report", FORMATS)
    log_event("end", version, "report")


def child(volume, sources, model, first: int, count: int) -> None:
    version = first
    while count == 0 or version < first + count:
        save_version(volume, sources, model, version)
        version += 1


def warm_up(volume, sources, model) -> None:
    """One save into ``ROOT/warm-up``, not logged: the children inherit warm caches
    (pydicom's and highdicom's lazily built tables, fonts), so the first cycle of each child,
    the one that is killed, is as fast as any other."""
    global _log_fd
    scratch = ROOT / "warm-up"
    _log_fd = os.open(os.devnull, os.O_WRONLY)
    os.environ["MEDVIEW_HOME"] = str(scratch / "home")
    try:
        save_version(volume, sources, model, 0, scratch)
    finally:
        os.environ["MEDVIEW_HOME"] = str(ROOT / "home")
        os.close(_log_fd)


def serve() -> None:
    global _log_fd
    volume, sources, model = setup()
    instrument()
    warm_up(volume, sources, model)
    _log_fd = os.open(ROOT / "events.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    print("ready", flush=True)
    pid = 0
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["run"]:
            first, count = int(command[1]), int(command[2])
            pid = os.fork()
            if pid == 0:  # the child: save until killed (or N versions done)
                code = 1
                try:
                    child(volume, sources, model, first, count)
                    code = 0
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(code)  # never back into the server's loop
            print(f"pid {pid}", flush=True)
        elif command[:1] == ["wait"]:
            _, status = os.waitpid(pid, 0)
            print(f"status {os.waitstatus_to_exitcode(status)}", flush=True)
        elif command[:1] == ["quit"]:
            break


if __name__ == "__main__":
    serve()
