"""Shared fixtures: every test gets its own MEDVIEW_HOME, so nothing touches the user's data."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def medview_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("medview-home")
    monkeypatch.setenv("MEDVIEW_HOME", str(home))
    return home
