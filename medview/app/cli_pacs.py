"""``medview pacs echo|find|get|move|store``: talk to a PACS from the command line (issue 9).

The node comes from flags (``--host --port --called-aet``, ``--dicomweb URL``) or by name
from the settings (``[pacs.nodes.NAME]`` in settings.toml; flags override its fields).
Passwords and tokens are read from the settings or the environment (``MEDVIEW_PACS_PASSWORD``,
``MEDVIEW_PACS_TOKEN``), never from the command line, where other users could see them.
Errors are :class:`~medview.net.errors.NetworkError` sentences; the ``medview`` boundary
prints them on one line and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from medview.core.errors import MedviewError

PASSWORD_ENV = "MEDVIEW_PACS_PASSWORD"
TOKEN_ENV = "MEDVIEW_PACS_TOKEN"
EXIT_OK, EXIT_PARTIAL = 0, 3


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``pacs`` and its actions on the ``medview`` parser's subcommands."""
    pacs = commands.add_parser("pacs", help="query, retrieve from and send to a PACS")
    actions = pacs.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)

    echo = actions.add_parser("echo", help="check that a node answers (C-ECHO)")
    _node_options(echo, web=False)
    echo.set_defaults(handler=cmd_echo)

    find = actions.add_parser("find", help="search studies or series (C-FIND or QIDO-RS)")
    _node_options(find)
    find.add_argument("--level", default="study", choices=("study", "series"))
    find.add_argument("--patient-name", default="", help="wildcards * and ? allowed, e.g. 'DOE*'")
    find.add_argument("--patient-id", default="")
    find.add_argument("--accession", default="", help="accession number")
    find.add_argument("--date", default="", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    find.add_argument("--modality", default="", help="e.g. CT")
    find.add_argument("--study", default="", help="Study Instance UID (needed for --level series)")
    find.add_argument("--limit", type=int, default=0, help="at most N results (default: all)")
    find.add_argument("--json", action="store_true", help="print one JSON document")
    find.set_defaults(handler=cmd_find)

    for name, help_text in (
        ("get", "retrieve a study or series by C-GET (or WADO-RS) into the database"),
        ("move", "retrieve a study or series by C-MOVE to medview's storage SCP"),
    ):
        action = actions.add_parser(name, help=help_text)
        _node_options(action, web=name == "get")
        action.add_argument("--study", default="", metavar="UID", help="Study Instance UID")
        action.add_argument("--series", default="", metavar="UID", help="Series Instance UID")
        action.add_argument(
            "--out", type=Path, default=None, metavar="DIR", help="also copy the files here"
        )
        action.add_argument(
            "--no-import", action="store_true", help="only write --out, leave the database alone"
        )
        action.add_argument("--json", action="store_true", help="print the summary as JSON")
        if name == "move":
            action.add_argument("--listen-aet", default="", help="medview's SCP AE title")
            action.add_argument("--listen-port", type=int, default=0, help="medview's SCP port")
        action.set_defaults(handler=cmd_get if name == "get" else cmd_move)

    store = actions.add_parser("store", help="send DICOM files (C-STORE or STOW-RS)")
    _node_options(store)
    store.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    store.add_argument("--json", action="store_true", help="print the summary as JSON")
    store.set_defaults(handler=cmd_store)


def _node_options(parser: argparse.ArgumentParser, web: bool = True) -> None:
    group = parser.add_argument_group("node (by name from the settings, or by flags)")
    group.add_argument(
        "--node", default="", metavar="NAME", help="a [pacs.nodes.NAME] entry of settings.toml"
    )
    group.add_argument("--host", default="", metavar="HOST", help="PACS host name or address")
    group.add_argument("--port", type=int, default=None, metavar="N", help="PACS DICOM port")
    group.add_argument("--called-aet", default="", metavar="AET", help="the PACS's AE title")
    group.add_argument("--aet", default="", help="medview's (calling) AE title [MEDVIEW]")
    group.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds [30]")
    if web:
        group.add_argument("--dicomweb", default="", metavar="URL", help="DICOMweb base URL")
        group.add_argument(
            "--user", default="", help=f"basic auth user; password from ${PASSWORD_ENV}"
        )
    parser.set_defaults(web_capable=web)


def _settings_pacs() -> dict[str, Any]:
    from medview.model.settings import load_settings

    pacs = load_settings().extra.get("pacs", {})
    return pacs if isinstance(pacs, dict) else {}


def resolve_node(args: argparse.Namespace, pacs_settings: dict[str, Any] | None = None):
    """The node for this command: the named settings entry with the flags on top."""
    from medview.net.nodes import make_node, parse_nodes

    values: dict[str, Any] = {}
    if args.node:
        settings = _settings_pacs() if pacs_settings is None else pacs_settings
        nodes = parse_nodes(settings.get("nodes") or {})
        if args.node not in nodes:
            known = ", ".join(nodes) or "none"
            raise MedviewError(f"no node {args.node!r} in the settings (known: {known})")
        node = nodes[args.node]
        values = {
            "ae_title": node.ae_title, "host": node.host, "port": node.port,
            "base_url": node.base_url, "calling_ae_title": node.calling_ae_title,
            "username": node.username, "password": node.password, "token": node.token,
            "timeout": node.timeout_s,
        }  # fmt: skip
    flags = {
        "host": args.host,
        "port": args.port,
        "ae_title": args.called_aet,
        "calling_ae_title": args.aet,
        "timeout": args.timeout,
        "base_url": getattr(args, "dicomweb", ""),
        "username": getattr(args, "user", ""),
    }
    values.update({k: v for k, v in flags.items() if v not in ("", None)})
    if values.get("username") and not values.get("password"):
        values["password"] = os.environ.get(PASSWORD_ENV, "")
        if not values["password"]:
            raise MedviewError(f"--user needs the password in ${PASSWORD_ENV}")
    if os.environ.get(TOKEN_ENV) and not values.get("username"):
        values["token"] = os.environ[TOKEN_ENV]
    if not values:
        raise MedviewError(
            "give --node NAME, or --host, --port and --called-aet, or --dicomweb URL"
        )
    return make_node(args.node, **values)


def _use_web(args: argparse.Namespace, node) -> bool:
    # --dicomweb on the command line, or a node with only a URL, means DICOMweb.
    return bool(getattr(args, "dicomweb", "")) or (node.has_dicomweb and not node.has_dimse)


def _print_json(document: object) -> None:
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def cmd_echo(args: argparse.Namespace) -> int:
    from medview.net import dimse

    node = resolve_node(args)
    seconds = dimse.echo(node)
    print(f"{node.describe()} answered C-ECHO in {seconds * 1000:.0f} ms")
    return EXIT_OK


def cmd_find(args: argparse.Namespace) -> int:
    from medview.net.query import Query

    node = resolve_node(args)
    query = Query(
        level=args.level,
        patient_name=args.patient_name,
        patient_id=args.patient_id,
        accession_number=args.accession,
        study_date=args.date,
        modality=args.modality,
        study_uid=args.study,
    )
    if args.limit < 0:
        raise MedviewError("--limit must be 0 (all) or more")
    if _use_web(args, node):
        from medview.net import web

        results = web.search(node, query, limit=args.limit)
    else:
        from medview.net import dimse

        results = dimse.find(node, query, limit=args.limit)
    if args.json:
        _print_json({"node": node.describe(), "level": args.level, "results": results})
        return EXIT_OK
    for item in results:
        if args.level == "study":
            print(
                f"{item['study_date'] or '-'}  {item['patient_name'] or '(no name)'}  "
                f"ID {item['patient_id'] or '-'}  accession {item['accession_number'] or '-'}  "
                f"{','.join(item['modalities'] or []) or '-'}  {item['study_description'] or ''}"
                f"  {item['study_uid']}"
            )
        else:
            print(
                f"#{item['series_number'] if item['series_number'] is not None else '-'} "
                f"{item['modality'] or '-'} {item['series_description'] or '(no description)'}: "
                f"{item['instance_count'] or '?'} instance(s)  {item['series_uid']}"
            )
    print(f"{len(results)} match(es) at {args.level} level from {node.describe()}")
    return EXIT_OK


def _retrieve(args: argparse.Namespace, method: str) -> int:
    from medview.core.paths import app_dirs
    from medview.dicom.index import StudyDatabase

    node = resolve_node(args)
    if not args.study and not args.series:
        raise MedviewError("give --study UID or --series UID")
    if args.no_import and args.out is None:
        raise MedviewError("--no-import needs --out DIR")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise MedviewError("is not a folder", args.out)
    dirs = app_dirs().ensure()
    database = None if args.no_import else StudyDatabase(dirs.database)
    try:
        result = _run_retrieve(args, method, node, database, dirs)
    finally:
        if database is not None:
            database.close()
    if args.json:
        _print_json({"node": node.describe(), "method": method, **result.as_dict()})
        return EXIT_OK
    what = f"series {args.series}" if args.series else f"study {args.study}"
    line = f"retrieved {result.received} instance(s) of {what} in {result.seconds:.2f} s"
    if result.imported is not None:
        line += (
            f"; imported {result.imported.instances_added} new "
            f"({result.imported.instances_known} already known)"
        )
    if result.out is not None:
        line += f"; copied to {result.out}"
    print(line)
    return EXIT_OK


def _run_retrieve(args, method, node, database, dirs):
    from medview.net import dimse, retrieve
    from medview.net.query import Query

    if method == "get" and _use_web(args, node):
        from medview.net import web

        return web.retrieve(
            node, args.study, args.series, database=database, dirs=dirs, out=args.out
        )
    study = args.study
    if not study:  # PS3.4 C.6.2.1: a series-level retrieve names its study too
        found = dimse.find(node, Query(level="SERIES", series_uid=args.series), limit=1)
        if not found:
            raise MedviewError(f"{node.describe()} has no series {args.series}")
        study = found[0]["study_uid"]
    if method == "get":
        return retrieve.get(node, study, args.series, database=database, dirs=dirs, out=args.out)
    from medview.net.scp import DEFAULT_SCP_AET, DEFAULT_SCP_PORT, StorageListener

    listener_settings = _settings_pacs().get("listener") or {}
    listener = StorageListener(
        args.listen_aet or listener_settings.get("ae_title") or DEFAULT_SCP_AET,
        args.listen_port or listener_settings.get("port") or DEFAULT_SCP_PORT,
    )
    return retrieve.move(
        node, study, args.series, listener=listener, database=database, dirs=dirs, out=args.out
    )


def cmd_get(args: argparse.Namespace) -> int:
    return _retrieve(args, "get")


def cmd_move(args: argparse.Namespace) -> int:
    return _retrieve(args, "move")


def cmd_store(args: argparse.Namespace) -> int:
    node = resolve_node(args)
    if _use_web(args, node):
        from medview.net import web

        summary = web.store(node, args.paths)
    else:
        from medview.net import dimse

        summary = dimse.store(node, args.paths)
    if args.json:
        _print_json({"node": node.describe(), **summary.as_dict()})
    else:
        print(
            f"sent {summary.sent} file(s) to {node.describe()}; {len(summary.failed)} failed, "
            f"{len(summary.skipped)} non-DICOM skipped"
        )
        for path, reason in summary.failed:
            print(f"failed: {path}: {reason}", file=sys.stderr)
    return EXIT_PARTIAL if summary.failed else EXIT_OK
