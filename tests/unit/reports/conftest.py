"""A demo CT, one `medview run` of the example plugin on it, and report exports of it.

Everything is built once per session (about 10 s on 2 cores) in its own MEDVIEW_HOME, in
process (the CLI's ``main``), so the report tests share it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from report_helpers import PLUGIN, READER, DemoRun, home

from medview.app.cli import main
from medview.dicom.demo import write_demo_study
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.reports.sources import SourceImages


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


@pytest.fixture(scope="session")
def saliency_study(tmp_path_factory) -> SimpleNamespace:
    """A small demo CT (32 x 32 x 12) and its source images, for the saliency report tests
    (Parametric Maps, saliency key images); each test module writes under ``root`` with its
    own names."""
    root = tmp_path_factory.mktemp("saliency")
    demo = write_demo_study(root / "ct", seed=1, size=32, slices=12)
    paths = [str(p) for p in demo.files]
    (candidate,) = [c for g in group_series(scan_paths(paths).headers) for c in g.candidates]
    sources = SourceImages.read(load_candidate(candidate), paths)
    return SimpleNamespace(demo=demo, sources=sources, root=root)
