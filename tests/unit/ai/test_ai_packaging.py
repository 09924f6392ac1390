"""The wheel carries medview and the bundled plugins: the package list stays complete."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[3]


def _folders(root: Path, package: str) -> set[str]:
    found = {package}
    for path in root.rglob("*"):
        if path.is_dir() and "__pycache__" not in path.parts and not path.name.startswith("."):
            found.add(".".join([package, *path.relative_to(root).parts]))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    assert config["tool"]["setuptools"]["package-dir"]["medview_plugins"] == "plugins"
    on_disk = _folders(ROOT / "medview", "medview") | _folders(ROOT / "plugins", "medview_plugins")
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"


def test_bundled_plugin_files_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["medview_plugins"]
    for needed in ("*/plugin.toml", "*/*.json", "*/*.safetensors"):
        assert needed in patterns
    entry_points = config["project"]["entry-points"]["medview.plugins"]
    assert entry_points["threshold_blobs"] == "medview_plugins.threshold_blobs"
