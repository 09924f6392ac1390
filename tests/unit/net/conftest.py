"""Fixtures for the network tests: the demo study, a real Orthanc, a parser with `pacs`."""

from __future__ import annotations

import argparse

import orthanc_server
import pytest
from orthanc_server import dicomweb_plugin, start_orthanc

from medview.app.cli_pacs import add_commands
from medview.dicom.demo import write_demo_study


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory):
    """The demo CT (64×64×32), written once."""
    return write_demo_study(tmp_path_factory.mktemp("demo") / "ct", seed=0, size=64, slices=32)


def _require_orthanc() -> None:
    if orthanc_server.ORTHANC is None:
        pytest.skip("the Orthanc binary is missing (apt-get install orthanc orthanc-dicomweb)")


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory, demo_study):
    """One Orthanc for the session, holding the demo study; stopped by PID at the end."""
    _require_orthanc()
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        server.upload(demo_study.files)
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_orthanc(tmp_path, demo_study):
    """An Orthanc of the test's own (for killing it mid-transfer)."""
    _require_orthanc()
    server = start_orthanc(tmp_path / "orthanc")
    try:
        server.upload(demo_study.files)
        yield server
    finally:
        server.stop()


@pytest.fixture
def dicomweb(orthanc):
    if dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is missing (apt-get install orthanc-dicomweb)")
    return orthanc


@pytest.fixture
def pacs_cli():
    """Run ``medview pacs ...`` through the module's own parser; return the exit code."""
    from medview.app import cli

    parser = argparse.ArgumentParser(prog="medview")
    add_commands(parser.add_subparsers(dest="command"))

    def run(*argv: str) -> int:
        args = parser.parse_args(["pacs", *argv])
        try:
            return int(args.handler(args) or 0)
        except cli.MedviewError as exc:
            print(f"medview: error: {exc}", file=__import__("sys").stderr)
            return cli.EXIT_ERROR

    return run
