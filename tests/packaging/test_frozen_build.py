"""The frozen bundle (issue 10): packaging/build-linux.sh builds it, its self-test passes.

Slow (the build takes minutes and writes ~1.5 GB under build/ and dist/), so marked ``slow``:

    .venv/bin/python -m pytest tests/packaging -m slow -s

Run it before a release and after changing dependencies, packaging/medview.spec or anything
loaded by name at run time (plugins, codecs, resources). ``MEDVIEW_FROZEN_REUSE=1`` checks an
existing dist/medview instead of building again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "medview"
EXE = BUNDLE / "medview"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux build script"),
]


@pytest.fixture(scope="module")
def bundle():
    if not (os.environ.get("MEDVIEW_FROZEN_REUSE") and EXE.is_file()):
        run = subprocess.run(
            ["bash", str(ROOT / "packaging" / "build-linux.sh")],
            cwd=ROOT, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        print(run.stdout[-2000:])  # the size report
    assert EXE.is_file()
    return BUNDLE


def _frozen(args, home, timeout=900, xvfb=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["MEDVIEW_HOME"] = str(home)
    command = [str(EXE), *args]
    if xvfb:
        command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _user_plugin(home: Path) -> None:
    user = home / "data" / "plugins" / "copy"
    shutil.copytree(ROOT / "plugins" / "threshold_blobs", user)
    manifest = user / "plugin.toml"
    manifest.write_text(manifest.read_text().replace('"medview.threshold-blobs"', '"site.blobs"'))


def test_frozen_self_test_passes_with_the_gui(bundle, tmp_path):
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is needed for the GUI step")
    # A folder plugin dropped into the user folder (no pip) is found and its code runs frozen.
    _user_plugin(tmp_path)
    run = _frozen(["self-test", "--gui"], tmp_path, xvfb=True)
    print(run.stdout)
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAIL ")]
    assert failed == [], run.stdout + run.stderr
    assert run.returncode == 0, run.stderr
    assert "frozen bundle" in run.stdout.splitlines()[0]
    assert "site.blobs (user)" in run.stdout
    steps = ("plugins", "run medview.nodule-cnn", "run medview.saliency", "run site.blobs",
             "check SR", "gui")  # fmt: skip
    for step in steps:
        assert any(line.startswith("PASS") and f"  {step} " in line
                   for line in run.stdout.splitlines()), step  # fmt: skip


def test_frozen_app_discovers_the_bundled_plugins(bundle, tmp_path):
    # medview_plugins is found inside the bundle (and by the entry point of medview's
    # dist-info, which copy_metadata bundles); every weights file passes its SHA-256.
    run = _frozen(["plugins", "list", "--json"], tmp_path)
    assert run.returncode == 0, run.stderr
    plugins = {p["id"]: p for p in json.loads(run.stdout)["plugins"]}
    assert {"medview.nodule-cnn", "medview.saliency", "medview.superres",
            "medview.threshold-blobs"} <= set(plugins)  # fmt: skip
    assert all(p["available"] for p in plugins.values()), plugins
    assert plugins["medview.threshold-blobs"]["source"] == "bundled"


def test_frozen_diagnostics_name_the_bundle(bundle, tmp_path):
    run = _frozen(["diagnostics", "--no-devices"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "(frozen bundle)" in run.stdout
    assert "torch: 2." in run.stdout  # torch's metadata is bundled (provenance needs it)
    # medview's own metadata is bundled: pip-installed plugins' entry point group is readable.
    assert "(medview.plugins): threshold_blobs = medview_plugins.threshold_blobs" in run.stdout
