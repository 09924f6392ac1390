"""Starting the GUI: the composition root that wires the model's loaders into the window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def run_viewer(paths: Sequence[Path] = ()) -> int:
    from medview.app.main_window import run_gui
    from medview.model.opening import open_for_viewer

    return run_gui(
        lambda status: open_for_viewer(paths, status=status),
        [],
        folder_loader=lambda folder: open_for_viewer([folder]),
        loader_takes_status=True,
    )
