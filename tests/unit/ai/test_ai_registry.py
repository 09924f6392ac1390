"""Discovery, strict manifests, weights checks and lazy import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medview.ai.api import ParamSpec, resolve_params
from medview.ai.manifest import load_manifest, parse_manifest
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import JobState
from medview.core.errors import ManifestError, PluginError

ROOT = Path(__file__).resolve().parents[3]


def _only(fakes) -> dict:
    return {
        i.id: i for i in discover(bundled=False, user=False, entry_points=False, extra=[fakes.root])
    }


def test_good_and_broken_plugins_are_listed_with_reasons(fakes):
    good, _ = fakes("Ok")
    bad_manifest, folder = fakes("Ok")
    text = (folder / "plugin.toml").read_text().replace('kind = "detection"', 'kind = "magic"')
    (folder / "plugin.toml").write_text(text)
    syntax, folder = fakes("Ok")
    (folder / "plugin.toml").write_text("[plugin\nid = ")
    no_manifest = fakes.root / "just-a-folder"
    no_manifest.mkdir()
    infos = _only(fakes)
    assert infos[good].available and infos[good].reason == ""
    by_folder = {i.folder.name: i for i in infos.values()}
    magic = by_folder[bad_manifest]
    assert not magic.available
    assert "[plugin].kind must be one of detection" in magic.reason and "'magic'" in magic.reason
    assert "\n" not in magic.reason
    assert "invalid TOML" in by_folder[syntax].reason
    assert "no plugin.toml" in by_folder["just-a-folder"].reason


def test_unknown_keys_and_wrong_types_are_errors(tmp_path, fakes):
    _, folder = fakes("Ok")
    path = folder / "plugin.toml"
    base = path.read_text()
    cases = {
        base.replace(
            "min_slices = 4", "min_slice = 4"
        ): "[applies_to].min_slice is not a known key",
        base.replace("min_slices = 4", "min_slices = true"): "min_slices must be an integer",
        base.replace('api_version = "1.0"', 'api_version = "2.0"'): "'2.0' is not supported",
        base.replace("default = 0.15", "default = 9.0"): "default is invalid",
        base.replace("not_for_diagnostic_use = true\n", ""): "not_for_diagnostic_use is required",
        base + '\n[[weights]]\nname = "w"\nfile = "../x.bin"\nsha256 = "' + "0" * 64 + '"\n': (
            "must be a path inside the plugin folder"
        ),
    }
    for text, needle in cases.items():
        path.write_text(text)
        with pytest.raises(ManifestError) as caught:
            load_manifest(path)
        assert needle in str(caught.value)
        assert str(caught.value).startswith(str(path))


def test_parameters_coerce_and_check_ranges():
    specs = (
        ParamSpec("level", "float", 1.0, minimum=0.0, maximum=2.0),
        ParamSpec("count", "int", 3, minimum=1),
        ParamSpec("fast", "bool", False),
        ParamSpec("mode", "choice", "a", choices=("a", "b")),
    )
    values = resolve_params(specs, {"level": "1.5", "count": "4", "fast": "yes", "mode": "b"})
    assert values == {"level": 1.5, "count": 4, "fast": True, "mode": "b"}
    assert resolve_params(specs, None) == {"level": 1.0, "count": 3, "fast": False, "mode": "a"}
    for bad, needle in [
        ({"level": 3}, "<= 2.0"),
        ({"count": 1.5}, "must be a int"),
        ({"fast": "maybe"}, "must be a bool"),
        ({"mode": "c"}, "one of a, b"),
        ({"level": "nan"}, "must be a float"),
    ]:
        with pytest.raises(ValueError, match=needle):
            resolve_params(specs, bad)


def test_tampered_or_missing_weights_make_the_plugin_unavailable(fakes):
    tampered, folder = fakes("ReadsWeights", weights=b"trusted config")
    (folder / "config.bin").write_bytes(b"evil config!!!")
    missing, folder = fakes("ReadsWeights", weights=b"x")
    (folder / "config.bin").unlink()
    infos = _only(fakes)
    assert not infos[tampered].available
    assert "fails its SHA-256 check" in infos[tampered].reason
    assert not infos[missing].available and "is missing" in infos[missing].reason


def test_weights_tampered_after_discovery_are_refused_before_use(fakes, make_runner, volume):
    plugin_id, folder = fakes("ReadsWeights", weights=b"trusted config")
    runner = make_runner()
    (folder / "config.bin").write_bytes(b"evil config!!!")
    job = runner.run(plugin_id, volume)
    assert job.state is JobState.FAILED
    assert "fails its SHA-256 check" in job.error
    info = runner.registry.get(plugin_id)
    assert not info.available and "SHA-256" in info.reason


def test_intact_weights_reach_the_plugin(fakes, make_runner, volume):
    plugin_id, _ = fakes("ReadsWeights", weights=b"trusted config")
    job = make_runner().run(plugin_id, volume)
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.result.metadata == {"config": "trusted config"}
    assert len(job.provenance.weights_sha256["config"]) == 64


def test_import_error_marks_only_that_plugin_unavailable(fakes, make_runner, volume):
    broken, folder = fakes("Ok")
    (folder / "plugin.py").write_text("import no_such_module_anywhere\n")
    fine, _ = fakes("Ok")
    runner = make_runner()
    job = runner.run(broken, volume)
    assert job.state is JobState.FAILED
    assert "No module named 'no_such_module_anywhere'" in job.error
    assert not runner.registry.get(broken).available
    with pytest.raises(PluginError, match="unavailable"):
        runner.submit(broken, volume)
    assert runner.run(fine, volume).state is JobState.SUCCEEDED


def test_discovery_never_imports_plugin_code(fakes, tmp_path):
    plugin_id, folder = fakes("Ok")
    marker = tmp_path / "imported"
    (folder / "plugin.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    registry = PluginRegistry(
        discover(bundled=False, user=False, entry_points=False, extra=[fakes.root])
    )
    assert registry.get(plugin_id).available
    assert not marker.exists()


def test_duplicate_ids_keep_the_first(tmp_path, fakes):
    plugin_id, folder = fakes("Ok")
    copy = fakes.root / "zz-copy"
    copy.mkdir()
    for name in ("plugin.toml", "plugin.py"):
        (copy / name).write_bytes((folder / name).read_bytes())
    infos = discover(bundled=False, user=False, entry_points=False, extra=[fakes.root])
    same = [i for i in infos if i.id == plugin_id]
    assert [i.available for i in same].count(True) == 1
    assert any("duplicate plugin id" in i.reason for i in same)


def test_user_folder_and_bundled_plugins_are_discovered(fakes, medview_home):
    plugin_id, folder = fakes("Ok")
    user = medview_home / "data" / "plugins"
    user.mkdir(parents=True)
    folder.rename(user / folder.name)
    infos = {i.id: i for i in discover()}
    assert infos[plugin_id].source == "user" and infos[plugin_id].available
    bundled = infos["medview.threshold-blobs"]
    assert bundled.available and bundled.source == "bundled"
    assert bundled.folder.resolve() == (ROOT / "plugins" / "threshold_blobs").resolve()


def test_import_and_discovery_keep_torch_vtk_and_qt_out(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        import medview.ai, medview.ai.runner, medview.ai.registry
        from medview.ai.registry import PluginRegistry
        registry = PluginRegistry()
        assert registry.plugins(), "no plugin discovered"
        heavy = [m for m in ("torch", "vtk", "vtkmodules", "PySide6") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    env = {"MEDVIEW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_parse_manifest_rejects_an_empty_document(tmp_path):
    with pytest.raises(ManifestError, match=r"manifest.plugin is required"):
        parse_manifest({}, tmp_path / "plugin.toml")
