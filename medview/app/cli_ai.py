"""``medview plugins list`` and ``medview run``: the AI plugins from the command line.

``run`` imports PATH like ``medview view`` does, runs one plugin on one series through the
same :class:`~medview.ai.runner.Runner` the GUI uses (so the job is audited the same way),
and writes what it found into a new folder: ``result.json`` (findings in LPS mm and the
provenance), masks and overlays as NIfTI, derived volumes as DICOM series.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from medview import __version__
from medview.core.errors import Cancelled, MedviewError, PluginError

RESULT_NAME = "result.json"


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``plugins`` and ``run`` on the ``medview`` parser's subcommands."""
    plugins = commands.add_parser("plugins", help="list the AI plugins and whether they can run")
    actions = plugins.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every plugin found, with why it is unavailable")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=cmd_plugins_list)

    run = commands.add_parser("run", help="run an AI plugin on a series, write the results")
    run.add_argument("plugin", metavar="PLUGIN_ID", help="see `medview plugins list`")
    run.add_argument(
        "path", metavar="PATH", type=Path, help="file, folder, zip or DICOMDIR (imported first)"
    )
    run.add_argument("--series", default="", help="Series Instance UID (default: the biggest)")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="plugin parameter (repeatable)",
    )
    run.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    run.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="fail the job after S seconds (default: none)",
    )
    run.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="new or empty folder for results"
    )
    run.add_argument(
        "--reuse",
        metavar="DIR",
        type=Path,
        action="append",
        default=[],
        help="an earlier `medview run` output on the same series: an explanation plugin "
        "explains its findings instead of running that plugin again (repeatable)",
    )
    run.set_defaults(handler=cmd_run)


def cmd_plugins_list(args: argparse.Namespace) -> int:
    from medview.ai.registry import PluginRegistry

    infos = PluginRegistry().plugins()
    if args.json:
        json.dump({"plugins": [i.as_dict() for i in infos]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not infos:
        print("no plugins found")
        return 0
    width = max(len(i.id) for i in infos)
    for info in infos:
        state = "available" if info.available else "unavailable"
        line = f"{info.id:<{width}}  {info.version or '-':<8}  {info.kind or '-':<12}  {state}"
        print(line + (f": {info.reason}" if info.reason else ""))
    return 0


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise MedviewError(f"--param must look like NAME=VALUE, not {pair!r}")
        params[name.strip()] = value.strip()
    return params


class _ProgressBar:
    """A text bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last = -1
        self._lock = threading.Lock()

    def job_state_changed(self, job) -> None:
        pass

    def job_progress(self, job, fraction: float, message: str) -> None:
        percent = int(round(100 * fraction))
        with self._lock:
            if not self.tty and percent // 10 == self._last // 10 and percent != 100:
                return
            self._last = percent
            filled = percent * 30 // 100
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] {percent:3d}% {message}"[:79]
            self.stream.write(f"\r{bar:<79}" if self.tty else bar + "\n")
            self.stream.flush()

    def job_finished(self, job) -> None:
        if self.tty:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MedviewError(
            "exists and is not an empty folder; choose a new folder for results", out
        )


def cmd_run(args: argparse.Namespace) -> int:
    from medview.ai.registry import PluginRegistry
    from medview.ai.runner import JobState, Runner
    from medview.app.startup import load_series

    params = _parse_params(args.param)
    if args.timeout is not None and args.timeout <= 0:
        raise MedviewError("--timeout must be a positive number of seconds")
    registry = PluginRegistry()
    manifest = registry.require(args.plugin)  # fail before the (slow) import of PATH
    _check_out(args.out)
    volume = load_series(args.path, args.series)
    runner = Runner(
        registry, default_device=args.device, default_timeout_s=args.timeout, cpu_workers=1
    )
    for folder in args.reuse:
        from medview.app.run_reuse import load_run_result

        plugin_id, earlier = load_run_result(folder, volume, registry)
        runner.detections.remember(plugin_id, volume, earlier)
        print(f"reusing {len(earlier.findings)} finding(s) of {plugin_id} from {folder}")
    try:
        job = runner.submit(args.plugin, volume, params, listener=_ProgressBar())
        try:
            while not job.wait(0.2):
                pass
        except KeyboardInterrupt:
            job.cancel()
            job.wait(runner.cancel_grace_s + 1.0)
            raise Cancelled() from None
    finally:
        runner.shutdown()
    if job.state is JobState.CANCELLED:
        raise Cancelled()
    if job.state is not JobState.SUCCEEDED or job.result is None:
        raise PluginError(f"{manifest.name} failed: {job.error}")
    written = write_outputs(args.out, job, volume, args.path)
    result = job.result
    parts = [f"{len(result.findings)} finding(s)"]
    if result.overlays:
        parts.append(f"{len(result.overlays)} overlay(s)")
    if result.volumes:  # derived series (e.g. super-resolution): say where they went
        parts.append(f"{len(result.volumes)} derived series under {written / 'volumes'}")
    print(f"{', '.join(parts)}; results in {written / RESULT_NAME}")
    return 0


def write_outputs(out: Path, job, volume, source_path: Path | None = None) -> Path:
    """Write a finished job's result into ``out`` (new or empty) atomically; returns ``out``.

    Everything goes into a staging folder beside ``out`` that is renamed into place at the
    end, so ``out`` never holds half a result.
    """
    import SimpleITK as sitk

    from medview.dicom.writer import write_derived_series

    out = Path(out)
    _check_out(out)
    result, manifest = job.result, job.manifest
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        findings: list[dict[str, Any]] = []
        for number, finding in enumerate(result.findings, start=1):
            entry = {"id": number, **finding.as_dict(), "mask": None}
            if finding.mask is not None:
                name = f"masks/finding-{number:03d}.nii.gz"
                (staging / "masks").mkdir(exist_ok=True)
                sitk.WriteImage(finding.mask.to_sitk(), str(staging / name), True)
                entry["mask"] = name
            findings.append(entry)
        overlays = []
        for overlay in result.overlays:
            name = f"overlays/{_safe(overlay.name)}.nii.gz"
            (staging / "overlays").mkdir(exist_ok=True)
            sitk.WriteImage(overlay.volume.to_sitk(), str(staging / name), True)
            overlays.append(
                {
                    "name": overlay.name,
                    "file": name,
                    "description": overlay.description,
                    "value_range": list(overlay.value_range),
                }
            )
        derived = []
        for number, derived_volume in enumerate(result.volumes, start=1):
            folder = f"volumes/{number:02d}"
            series = write_derived_series(
                derived_volume,
                staging / folder,
                source=volume.meta,
                description=derived_volume.meta.derivation or f"{manifest.name} output",
            )
            derived.append(
                {
                    "folder": folder,
                    "series_uid": series.series_uid,
                    "shape_zyx": list(derived_volume.shape),
                    "spacing_ijk": list(derived_volume.spacing),
                    "derivation": derived_volume.meta.derivation,
                }
            )
        document = {
            "generator": "medview run",
            "medview_version": __version__,
            "coordinates": "patient LPS mm",
            "not_for_diagnostic_use": manifest.not_for_diagnostic_use,
            "plugin": {
                "id": manifest.id,
                "name": manifest.name,
                "version": manifest.version,
                "kind": manifest.kind,
                "intended_use": manifest.intended_use,
                "license": manifest.license,
                "citation": manifest.citation,
            },
            "input": {
                "path": str(source_path) if source_path else "",
                "series_uid": volume.meta.series_uid,
                "study_uid": volume.meta.study_uid,
                "modality": volume.meta.modality,
                "shape_zyx": list(volume.shape),
                "spacing_ijk": list(volume.spacing),
                "origin_lps": list(volume.origin),
                "direction": [list(map(float, row)) for row in volume.direction],
            },
            "findings": findings,
            "overlays": overlays,
            "volumes": derived,
            "metadata": dict(result.metadata),
            "provenance": result.provenance.as_dict() if result.provenance else None,
        }
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
        with open(staging / RESULT_NAME, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._")
    return cleaned or "overlay"
