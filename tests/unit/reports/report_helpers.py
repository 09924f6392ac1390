"""Helpers shared by the report tests (a uniquely named module: every test folder has a
conftest.py, so ``from conftest import ...`` could find another folder's)."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from medview.app.cli import main

PLUGIN = "medview.threshold-blobs"
READER = "Doe^Jane"


@contextmanager
def home(path: Path):
    old = os.environ.get("MEDVIEW_HOME")
    os.environ["MEDVIEW_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MEDVIEW_HOME", None)
        else:
            os.environ["MEDVIEW_HOME"] = old


@dataclass
class DemoRun:
    study: object  # medview.dicom.demo.DemoStudy
    results: Path
    home: Path

    @property
    def document(self) -> dict:
        return json.loads((self.results / "result.json").read_text(encoding="utf-8"))

    def report(self, out: Path, *extra: str) -> int:
        with home(self.home):
            return main(
                [
                    "report",
                    str(self.study.directory),
                    "--results",
                    str(self.results),
                    "--out",
                    str(out),
                    *extra,
                ]
            )


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) lines of dciodvfy for ``path``."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [x for x in lines if x.startswith("Error")], [
        x for x in lines if x.startswith("Warning")
    ]


def dsrdump(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["dsrdump", "-v", str(path)], capture_output=True, text=True, timeout=60)
