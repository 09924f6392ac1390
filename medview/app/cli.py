"""The ``medview`` command: headless subcommands and the GUI entry point.

This module is the CLI boundary of ARCHITECTURE.md rule 5: medview's own errors become one line
on stderr and a non-zero exit code; anything unexpected is logged with its traceback and
reported in one line that points at the log file. Qt and VTK are imported only when the GUI
starts, so the headless commands start fast and work without a display.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from medview import __version__
from medview.core.errors import Cancelled, MedviewError
from medview.core.logging import setup_logging

log = logging.getLogger("medview.cli")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
#: Some inputs worked, some did not (unreadable files, volumes that failed to load).
EXIT_PARTIAL = 3
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

COMMANDS = (
    "demo", "import", "info", "studies", "paths", "gui", "view", "plugins", "run", "report", "pacs",
    "self-test", "diagnostics", "growth",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medview",
        description="Radiology workstation with embedded AI. Without a command, opens the viewer "
        "(on PATH if given, else on the demo study).",
    )
    parser.add_argument("--version", action="version", version=f"medview {__version__}")
    parser.add_argument("--verbose", action="store_true", help="also print the log to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="write the synthetic demo chest CT as DICOM")
    demo.add_argument("--out", required=True, type=Path, help="folder to write the series into")
    demo.add_argument("--seed", type=int, default=0, help="anatomy seed (default 0)")
    demo.add_argument("--size", type=int, default=512, help="rows and columns (default 512)")
    demo.add_argument("--slices", type=int, default=300, help="number of slices (default 300)")
    demo.set_defaults(handler=_cmd_demo)

    imp = commands.add_parser("import", help="import files, folders, zip files or a DICOMDIR")
    imp.add_argument("paths", nargs="+", type=Path)
    imp.add_argument("--copy", action="store_true", help="copy files into medview's store")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.set_defaults(handler=_cmd_import)

    info = commands.add_parser("info", help="describe DICOM files without importing them")
    info.add_argument("paths", nargs="+", type=Path)
    info.add_argument("--json", action="store_true", help="print one JSON document")
    info.add_argument("--load", action="store_true", help="also decode pixels into volumes")
    info.set_defaults(handler=_cmd_info)

    studies = commands.add_parser("studies", help="list what the local database holds")
    studies.add_argument("--json", action="store_true", help="print one JSON document")
    studies.add_argument("--filter", default="", help="name, ID, accession, date or modality")
    studies.set_defaults(handler=_cmd_studies)

    paths = commands.add_parser("paths", help="show where medview keeps data, settings and logs")
    paths.set_defaults(handler=_cmd_paths)

    gui = commands.add_parser("gui", help="open the viewer (the default without a command)")
    gui.add_argument("paths", nargs="*", type=Path)
    gui.set_defaults(handler=_cmd_gui)

    view = commands.add_parser(
        "view", help="open one series in the viewer with options; --screenshot saves a PNG"
    )
    view.add_argument("path", type=Path, help="file, folder, zip or DICOMDIR (imported first)")
    view.add_argument("--series", default="", help="Series Instance UID (default: the biggest)")
    view.add_argument("--layout", default="2x2", choices=("1x1", "1x2", "2x2"))
    view.add_argument("--preset", default="", help="window: lung, mediastinum, bone, brain, "
                      "abdomen, liver, auto or a preset name from the file")  # fmt: skip
    view.add_argument("--slice", type=int, default=None, help="axial slice number (1-based)")
    view.add_argument("--slab", default="", help="thick-slab projection of the MPR views: "
                      "mip:10, minip:5, mean:20 (mm; default 10) or off")  # fmt: skip
    view.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    view.add_argument("--screenshot", type=Path, default=None, help="save the window as PNG, exit")
    view.set_defaults(handler=_cmd_view)

    from medview.app.cli_ai import add_commands  # `plugins list` and `run` (issue 4)

    add_commands(commands)
    from medview.app.cli_report import add_commands as add_report  # `report` (issue 8)

    add_report(commands)
    from medview.app.cli_growth import add_commands as add_growth  # prior vs current

    add_growth(commands)
    from medview.app.cli_pacs import add_commands as add_pacs  # `pacs` (issue 9)

    add_pacs(commands)
    from medview.app.cli_selftest import add_commands as add_selftest  # issue 10

    add_selftest(commands)
    return parser


def _register_path_arguments(args: argparse.Namespace) -> None:
    """Every file or folder named on the command line is written to the log file as a
    pseudonym, in messages of this command and of what it calls (issue 11, privacy)."""
    from medview.core.phi_paths import register_user_path

    for value in vars(args).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Path):
                register_user_path(item)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    if verbose:
        argv.remove("--verbose")
    log_path = setup_logging(console=verbose)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `medview` and `medview PATH` open the viewer
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    _register_path_arguments(args)
    try:
        if args.command in ("import", "run", "report", "pacs"):  # they write into data/
            from medview.core.paths import app_dirs
            from medview.core.sweep import sweep_app_dirs  # issue 11 D1: killed saves' temps

            sweep_app_dirs(app_dirs())
        return int(args.handler(args) or EXIT_OK)
    except MedviewError as exc:
        log.warning("%s failed: %s", args.command, exc)
        print(f"medview: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (Cancelled, KeyboardInterrupt):
        print("medview: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the boundary: log the traceback, show one line
        log.exception("internal error in %s", args.command)
        print(
            f"medview: internal error ({type(exc).__name__}: {exc}); details in {log_path}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _cmd_demo(args: argparse.Namespace) -> int:
    from medview.dicom.demo import write_demo_study

    if not 16 <= args.size <= 1024 or not 1 <= args.slices <= 2000:
        raise MedviewError("--size must be 16..1024 and --slices 1..2000")
    study = write_demo_study(args.out, seed=args.seed, size=args.size, slices=args.slices)
    print(f"wrote {len(study.files)} DICOM files to {study.directory}")
    print(f"ground truth: {study.truth_path}")
    return EXIT_OK


def _open_database():
    from medview.core.paths import app_dirs
    from medview.dicom.index import StudyDatabase

    dirs = app_dirs().ensure()
    return StudyDatabase(dirs.database)


def _cmd_import(args: argparse.Namespace) -> int:
    from medview.dicom.importer import import_paths

    with _open_database() as database:
        summary = import_paths(args.paths, database, copy=args.copy)
    if args.json:
        _print_json(summary.as_dict())
    else:
        print(
            f"imported {summary.instances_added} new instance(s) "
            f"({summary.instances_known} already known) in {summary.series} series of "
            f"{summary.studies} study(ies); {summary.files_seen} file(s) looked at, "
            f"{summary.skipped} non-DICOM skipped, {len(summary.errors)} unreadable "
            f"({summary.seconds:.2f} s)"
        )
        for warning in summary.warnings:
            print(f"warning: {warning}")
        for path, reason in summary.errors:
            print(f"unreadable: {path}: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if summary.errors else EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    from medview.dicom.info import describe, format_text

    report = describe(args.paths, load=args.load)
    if args.json:
        _print_json(report)
    else:
        print(format_text(report))
    failed_loads = any(
        "load_error" in volume
        for patient in report["patients"]
        for study in patient["studies"]
        for series in study["series"]
        for volume in series["volumes"]
    )
    if not report["patients"] and report["errors"]:
        first = report["errors"][0]
        raise MedviewError(first["reason"], first["path"])
    return EXIT_PARTIAL if report["errors"] or failed_loads else EXIT_OK


def _cmd_studies(args: argparse.Namespace) -> int:
    with _open_database() as database:
        tree = database.tree(args.filter)
        counts = database.counts()
    if args.json:
        _print_json({"counts": counts, "patients": tree})
        return EXIT_OK
    if not tree:
        print("the local database is empty: import studies with `medview import PATH`")
        return EXIT_OK
    for patient in tree:
        print(f"{patient['patient_name'] or '(no name)'}  ID {patient['patient_id'] or '-'}")
        for study in patient["studies"]:
            print(
                f"  {study['study_date'] or '-'}  {study['description'] or '(no description)'}"
                f"  accession {study['accession_number'] or '-'}  {study['study_uid']}"
            )
            for series in study["series"]:
                number = series["series_number"] if series["series_number"] is not None else "-"
                print(
                    f"    #{number} {series['modality']} {series['description'] or '(no description)'}"
                    f": {series['instances']} instance(s)  {series['series_uid']}"
                )
    print(
        f"{counts['patients']} patient(s), {counts['studies']} study(ies), "
        f"{counts['series']} series, {counts['instances']} instance(s)"
    )
    return EXIT_OK


def _cmd_paths(args: argparse.Namespace) -> int:
    from medview.core.logging import LOG_FILE_NAME
    from medview.core.paths import app_dirs

    dirs = app_dirs()
    print(f"data:     {dirs.data}")
    print(f"database: {dirs.database}")
    print(f"store:    {dirs.store}")
    print(f"plugins:  {dirs.plugins}")
    print(f"settings: {dirs.config}")
    print(f"cache:    {dirs.cache}")
    print(f"log:      {dirs.logs / LOG_FILE_NAME}")
    return EXIT_OK


def _cmd_gui(args: argparse.Namespace) -> int:
    from medview.app.startup import run_viewer

    return run_viewer(args.paths)


def _cmd_view(args: argparse.Namespace) -> int:
    from medview.app.startup import ViewOptions, run_view
    from medview.imaging.slab import parse_slab

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise MedviewError(f"--size must look like 1600x1000, not {args.size!r}") from None
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise MedviewError("--size must be between 320x240 and 8192x8192")
    try:
        slab = parse_slab(args.slab)
    except ValueError as exc:
        raise MedviewError(f"--slab: {exc}") from None
    options = ViewOptions(
        slab=slab,
        layout=args.layout,
        preset=args.preset,
        slice_number=args.slice,
        screenshot=args.screenshot,
        size=(width, height),
    )
    return run_view(args.path, args.series, options)
