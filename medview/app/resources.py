"""Files shipped inside the medview package (style sheets, translations).

They live under ``medview/resources`` as package data, so the same lookup works from a source
checkout and from an installed wheel (``[tool.setuptools.package-data]`` in pyproject.toml).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["resource_path", "resource_text"]


def resource_path(*parts: str) -> Path:
    """A real file path for a packaged resource (``resource_path("i18n", "x.qm")``)."""
    resource = files("medview").joinpath("resources", *parts)
    # Wheels installed as folders (the normal case) give the path itself; a zipped install
    # would extract to a temporary file, which as_file handles.
    with as_file(resource) as path:
        return Path(path)


def resource_text(*parts: str) -> str:
    """The UTF-8 text of a packaged resource."""
    return files("medview").joinpath("resources", *parts).read_text(encoding="utf-8")
