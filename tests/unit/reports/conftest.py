"""A demo CT, one `medview run` of the example plugin on it, and report exports of it.

Everything is built once per session (about 10 s on 2 cores) in its own MEDVIEW_HOME, in
process (the CLI's ``main``), so the report tests share it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import PLUGIN, READER, DemoRun, home

from medview.app.cli import main
from medview.dicom.demo import write_demo_study


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    root = tmp_path_factory.mktemp("reports")
    study = write_demo_study(root / "ct", seed=0, size=128, slices=64)
    results = root / "results"
    with home(root / "home"):
        code = main(["run", PLUGIN, str(study.directory), "--out", str(results), "--device", "cpu"])
    assert code == 0
    return DemoRun(study, results, root / "home")


@pytest.fixture(scope="session")
def exported(demo_run, tmp_path_factory) -> Path:
    """All four formats, not finalised (UNVERIFIED)."""
    out = tmp_path_factory.mktemp("export") / "report"
    assert demo_run.report(out, "--reader", READER, "--impression", "Two nodules.") == 0
    return out


@pytest.fixture(scope="session")
def finalized(demo_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("final") / "report"
    assert demo_run.report(out, "--reader", READER, "--finalize", "--format", "sr,seg,json") == 0
    return out


@pytest.fixture(scope="session")
def anonymized(demo_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("anon") / "report"
    assert demo_run.report(out, "--reader", READER, "--finalize", "--anonymize") == 0
    return out
