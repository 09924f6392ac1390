"""The layer rules of ARCHITECTURE.md, checked rather than hoped for."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_linter_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip("import-linter is not installed (pip install -e .[dev])")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_headless_core_does_not_load_qt_vtk_or_torch():
    code = (
        "import sys, medview.core.paths, medview.core.logging, medview.imaging, "
        "medview.dicom.info, medview.dicom.importer, medview.model.opening, medview.app.cli\n"
        "heavy = [m for m in ('torch', 'vtk', 'vtkmodules', 'PySide6') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_ruff_is_clean():
    ruff = Path(sys.executable).with_name("ruff")
    ruff_cmd = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff_cmd is None:
        pytest.skip("ruff is not installed (pip install -e .[dev])")
    result = subprocess.run(
        [ruff_cmd, "check", "--no-cache", "medview", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
