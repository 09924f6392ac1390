"""The minimal plugin printed in plugins/README.md works as printed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from medview.ai.audit import AuditLog
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import JobState, Runner

README = Path(__file__).resolve().parents[3] / "plugins" / "README.md"


def _block(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```\w+\n# " + re.escape(name) + r"\n(.*?)```", text, re.S)
    assert match, f"{name} example missing from {README}"
    return match.group(1)


def test_the_readme_example_plugin_runs(medview_home, volume, tmp_path):
    folder = medview_home / "data" / "plugins" / "hello"
    folder.mkdir(parents=True)
    (folder / "plugin.toml").write_text(_block("hello/plugin.toml"), encoding="utf-8")
    (folder / "plugin.py").write_text(_block("hello/plugin.py"), encoding="utf-8")
    registry = PluginRegistry(discover(bundled=False, entry_points=False))
    assert registry.get("example.brightest-voxel").available
    runner = Runner(registry, audit=AuditLog(tmp_path / "audit.jsonl"))
    try:
        job = runner.run("example.brightest-voxel", volume, {"score": 0.7})
    finally:
        runner.shutdown()
    assert job.state is JobState.SUCCEEDED, job.error
    (finding,) = job.result.findings
    zyx = np.unravel_index(int(np.argmax(volume.array)), volume.shape)
    np.testing.assert_allclose(finding.center_lps_mm, volume.zyx_to_lps(zyx))
    assert finding.score == 0.7
