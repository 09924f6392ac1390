"""``medview self-test`` and ``medview diagnostics``: what clinic IT runs after installing.

``self-test`` writes the synthetic demo study into a temporary folder, imports and loads it,
verifies every plugin's weights (SHA-256, read again from disk), runs every plugin that
applies on CPU on a small crop, writes a report (SR, SEG, parametric maps, PDF, JSON), reads
it back and validates it, and with ``--gui`` opens the main window on the demo. It prints one
line per step::

    PASS  load                          0.41 s  64x128x128 CT, ...
    FAIL  weights medview.superres      0.02 s  weights file 'model.safetensors' fails ...

and exits 0 when every step passed (SKIP is not a failure), 1 otherwise. It needs no network
and makes sure of it: while it runs, any Python-level attempt to resolve a host name or open
an internet socket is refused and makes the ``offline`` step fail.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from medview import __version__
from medview.core.errors import MedviewError
from medview.core.paths import HOME_ENV, app_dirs

log = logging.getLogger("medview.selftest")

EXIT_FAILED = 1


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``self-test`` and ``diagnostics`` on the ``medview`` parser."""
    test = commands.add_parser(
        "self-test", help="check this installation end to end (demo, AI plugins, report)"
    )
    test.add_argument("--gui", action="store_true", help="also open the main window on the demo")
    test.add_argument("--size", type=int, default=128, help="demo rows and columns (default 128)")
    test.add_argument("--slices", type=int, default=64, help="demo slices (default 64)")
    test.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda", "mps"),
                      help="where the AI plugins run (default cpu)")  # fmt: skip
    test.add_argument(
        "--keep", type=Path, default=None, metavar="DIR",
        help="work in DIR (new or empty) and keep it, instead of a temporary folder",
    )  # fmt: skip
    test.set_defaults(handler=cmd_self_test)

    diag = commands.add_parser(
        "diagnostics", help="print versions, plugins (weights SHA-256), devices and paths"
    )
    diag.add_argument("--no-devices", action="store_true", help="do not import torch to probe")
    diag.add_argument(
        "--pseudonym", metavar="VALUE", action="append", default=[],
        help="print how the log and audit files of this installation write VALUE (a UID, "
        "patient ID or accession number) and, when it is a file or folder, its path; "
        "repeatable: for finding a study's or a folder's lines",
    )  # fmt: skip
    diag.set_defaults(handler=cmd_diagnostics)


def cmd_diagnostics(args: argparse.Namespace) -> int:
    from medview.app.diagnostics import diagnostics_text

    if args.pseudonym:
        return _print_pseudonyms(args.pseudonym)
    sys.stdout.write(diagnostics_text(devices=not args.no_devices))
    return 0


def _print_pseudonyms(values: list[str]) -> int:
    """One line per value: how this installation's logs write it (issue 11, privacy). A
    value that names an existing file or folder also gets the pseudonym of its path."""
    from medview.core.phi import identifiers_mode, pseudonym
    from medview.core.phi_paths import path_pseudonym

    if identifiers_mode() == "plain":
        print("identifiers are logged as they are (MEDVIEW_LOG_IDENTIFIERS or [privacy] plain)")
    for value in values:
        line = f"{pseudonym(value)}  {value}"
        if Path(value).expanduser().exists():
            line += f"\n{path_pseudonym(value)}  {Path(value).expanduser().absolute()} (path)"
        print(line)
    return 0


# -- no network ----------------------------------------------------------------------------
class _NetworkGuard:
    """Refuses internet sockets and name look-ups while active (a ``sys.addaudithook``).

    Audit hooks cannot be removed, so one hook is installed per process and switched on and
    off. Unix sockets (multiprocessing's forkserver) and loopback stay allowed. C libraries
    that open sockets themselves bypass it; medview's network code is Python (pynetdicom,
    requests), which it sees.
    """

    active = False
    attempts: list[str] = []  # noqa: RUF012 (one per process, by design)
    _installed = False

    @classmethod
    def install(cls) -> None:
        if not cls._installed:
            sys.addaudithook(cls._hook)
            cls._installed = True

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "socket.getaddrinfo":
            host = args[0]
            if host in (None, "localhost", "127.0.0.1", "::1", b"localhost"):
                return
            cls._refuse(f"name look-up of {host!r}")
        elif event == "socket.connect":
            sock, address = args
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return
            if address[0] in ("127.0.0.1", "::1", "localhost"):
                return
            cls._refuse(f"connection to {address!r}")

    @classmethod
    def _refuse(cls, what: str) -> None:
        cls.attempts.append(what)
        raise PermissionError(f"medview self-test: network access refused ({what})")


@contextmanager
def _offline():
    _NetworkGuard.install()
    _NetworkGuard.attempts = []
    _NetworkGuard.active = True
    try:
        yield _NetworkGuard
    finally:
        _NetworkGuard.active = False


@contextmanager
def _isolated_home(home: Path):
    """Point ``MEDVIEW_HOME`` at ``home`` for the run (database, audit log, settings)."""
    previous = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(home)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = previous


# -- the run -------------------------------------------------------------------------------
class _Printer:
    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self.failed: list[str] = []
        self.broken = False  # a failed step the later ones depend on

    def step(self, name: str, action: Callable[[], str], *, needed: bool = False) -> bool:
        """Run one step, print its line; True only when it passed (not skipped)."""
        from medview.app.selftest import Skip

        if self.broken:
            self.write(f"SKIP  {name:<34} {0.0:6.2f} s  an earlier step failed")
            return False
        start = time.perf_counter()
        status, ok = "PASS", True
        try:
            detail = action()
        except Skip as exc:
            status, detail = "SKIP", str(exc)
        except MedviewError as exc:
            status, ok, detail = "FAIL", False, str(exc)
        except Exception as exc:  # a self-test reports, it does not crash: the log has details
            log.exception("self-test step %s", name)
            status, ok, detail = "FAIL", False, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        detail = " ".join(str(detail).split())  # one line, whatever the message held
        self.write(f"{status}  {name:<34} {seconds:6.2f} s  {detail}")
        if not ok:
            self.failed.append(name)
            self.broken = self.broken or needed
        return status == "PASS"


def run_self_test(
    workspace: Path,
    *,
    size: int = 128,
    slices: int = 64,
    device: str = "cpu",
    gui: bool = False,
    write: Callable[[str], None] = print,
) -> int:
    """Run every step in ``workspace`` (an existing, empty folder); returns the exit code."""
    from medview.app.diagnostics import frozen
    from medview.app.selftest import SelfTestState, SelfTestSteps

    # The user's plugins folder is read before MEDVIEW_HOME points into the workspace.
    user_plugins = app_dirs().plugins
    write(
        f"medview {__version__} self-test: Python {sys.version.split()[0]}, {sys.platform}, "
        f"{'frozen bundle' if frozen() else 'Python environment'}; work folder {workspace}"
    )
    state = SelfTestState(workspace, user_plugins, size, slices, device)
    steps = SelfTestSteps(state)
    printer = _Printer(write)
    total = time.perf_counter()
    with _isolated_home(workspace / "home"), _offline() as guard:
        printer.step("demo study", steps.write_demo, needed=True)
        printer.step("import", steps.import_demo, needed=True)
        printer.step("load", steps.load, needed=True)
        if printer.step("plugins", steps.discover) or state.registry is not None:
            ids = steps.plugin_ids() if state.registry is not None else []
            for plugin_id in ids:
                printer.step(f"weights {plugin_id}", lambda p=plugin_id: steps.verify_weights(p))
            try:
                for plugin_id in ids:
                    printer.step(f"run {plugin_id}", lambda p=plugin_id: steps.run_plugin(p))
            finally:
                steps.shutdown()
        if printer.step("report", steps.write_report):
            printer.step("check SR", steps.check_sr)
            printer.step("check SEG", steps.check_seg)
            printer.step("check PDF", steps.check_pdf)
            printer.step("check JSON", steps.check_json)
            printer.step("dciodvfy", steps.check_dciodvfy)
        if gui:
            from medview.app.selftest_gui import open_main_window

            printer.step("gui", lambda: open_main_window(state.volume))

        def offline() -> str:
            if guard.attempts:
                raise MedviewError(f"tried the network: {'; '.join(guard.attempts[:3])}")
            return "no name look-up and no internet connection attempted"

        printer.broken = False
        printer.step("offline", offline)
    seconds = time.perf_counter() - total
    if printer.failed:
        write(f"FAILED: {len(printer.failed)} step(s) failed ({', '.join(printer.failed)}) "
              f"in {seconds:.1f} s; log: {app_dirs().logs}")  # fmt: skip
        return EXIT_FAILED
    write(f"PASSED: every step in {seconds:.1f} s")
    return 0


def cmd_self_test(args: argparse.Namespace) -> int:
    if not 32 <= args.size <= 512 or not 16 <= args.slices <= 300:
        raise MedviewError("--size must be 32..512 and --slices 16..300")
    if args.keep is not None:
        keep = Path(args.keep)
        if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
            raise MedviewError("exists and is not an empty folder", keep)
        keep.mkdir(parents=True, exist_ok=True)
        return _flushed(keep, args)
    workspace = Path(tempfile.mkdtemp(prefix="medview-selftest-"))
    try:
        return _flushed(workspace, args)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


def _flushed(workspace: Path, args: argparse.Namespace) -> int:
    def write(line: str) -> None:
        print(line, flush=True)  # IT watches the lines come, and a pipe must not hold them

    return run_self_test(
        workspace, size=args.size, slices=args.slices, device=args.device, gui=args.gui,
        write=write,
    )  # fmt: skip
