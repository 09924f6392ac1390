"""Help › About medview and its "Copy diagnostics" button (issue 10); the self-test's GUI step."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from medview import __version__
from medview.app.about import QtAboutDialog
from medview.app.diagnostics import diagnostics_text
from medview.app.main_window import QtMainWindow
from medview.app.selftest_gui import open_main_window

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def text():
    # Gathered once: it imports torch to probe the devices.
    return diagnostics_text()


def test_diagnostics_name_versions_plugins_hashes_and_paths(text, medview_home):
    assert text.startswith(f"medview {__version__}")
    for part in ("Python ", "OS: ", "Qt: PySide6 ", "VTK: 9.", "torch: ", "pydicom: ",
                 "highdicom: ", "CUDA available: "):  # fmt: skip
        assert part in text
    # Every bundled plugin with its version and the start of its weights' SHA-256.
    assert "medview.nodule-cnn 1.0.0 (available; weights model: 8e44766e88fe)" in text
    assert "medview.superres 1.0.0 (available; weights model: cfbf5af4e549)" in text
    assert "medview.saliency 1.0.0 (available; no weights)" in text
    assert "no telemetry" in text


def test_copy_diagnostics_puts_the_text_on_the_clipboard(qtbot, text):
    dialog = QtAboutDialog(text=text)
    qtbot.addWidget(dialog)
    dialog.show()
    QGuiApplication.clipboard().clear()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == text
    assert "data: " in text and "log: " in text  # the folders help support, no patient data


def test_help_menu_opens_the_about_dialog(qtbot, monkeypatch):
    shown = []
    monkeypatch.setattr(QtAboutDialog, "exec", lambda self: shown.append(self) or 0)
    window = QtMainWindow()
    qtbot.addWidget(window)
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus[-1] == "&Help"
    assert window.about_action.text() == "&About medview…"
    monkeypatch.setattr("medview.app.about.diagnostics_text", lambda: "diagnostics here\n")
    window.about_action.trigger()
    assert len(shown) == 1 and shown[0].text == "diagnostics here\n"


def test_self_test_gui_step_draws_every_view(qtbot, phantom):
    detail = open_main_window(phantom.make())
    assert "axial" in detail and "3d" in detail
    QApplication.processEvents()
