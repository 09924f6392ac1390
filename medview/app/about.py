"""Help › About medview: versions, plugins with their weights hashes, and "Copy diagnostics".

The text comes from :mod:`medview.app.diagnostics`, the same as ``medview diagnostics``
prints, so a support ticket says the same whether IT pasted it from the dialog or a
terminal. Collecting it imports torch (to say whether CUDA is usable) and hashes nothing new
(discovery's hashes are cached), so it is gathered when the dialog opens, not at start-up.
"""

from __future__ import annotations

import weakref

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medview import __version__
from medview.app.diagnostics import diagnostics_text


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtAboutDialog", text)


class QtAboutDialog(QDialog):
    """The About box: a headline, the diagnostics text (read-only) and two buttons.

    Parameters
    ----------
    text
        The diagnostics; gathered by :func:`diagnostics_text` when None (tests pass one).
    """

    def __init__(self, parent: QWidget | None = None, text: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_tr("About medview"))
        self._text = diagnostics_text() if text is None else text
        purpose = _tr(
            "Radiology workstation with embedded AI. Research and decision support only: "
            "not a medical device, not for diagnostic use."
        )
        headline = QLabel(f"<b>medview {__version__}</b><br>{purpose}", self)
        headline.setWordWrap(True)
        headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._details = QPlainTextEdit(self._text, self)
        self._details.setReadOnly(True)
        self._details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._details.setMinimumSize(640, 320)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self._copy = QPushButton(_tr("Copy diagnostics"), self)
        self._copy.setToolTip(
            _tr("Copy this text for a support ticket (versions and folders, no patient data)")
        )
        buttons.addButton(self._copy, QDialogButtonBox.ButtonRole.ActionRole)
        self._copy.clicked.connect(self.copy_diagnostics)
        buttons.rejected.connect(self.reject)
        self._status = QLabel("", self)
        layout = QVBoxLayout(self)
        layout.addWidget(headline)
        layout.addWidget(self._details, 1)
        layout.addWidget(self._status)
        layout.addWidget(buttons)

    @property
    def text(self) -> str:
        return self._text

    @property
    def copy_button(self) -> QPushButton:
        return self._copy

    def copy_diagnostics(self) -> None:
        """Put the diagnostics text on the clipboard."""
        QGuiApplication.clipboard().setText(self._text)
        self._status.setText(_tr("Copied to the clipboard."))


def add_help_menu(window: QMainWindow) -> tuple[QAction, QAction]:
    """Add Help › Keyboard shortcuts… (F1) and Help › About medview… to ``window``'s menu
    bar; returns the two actions."""
    from medview.app.shortcuts_dialog import add_shortcuts_action

    menu: QMenu = window.menuBar().addMenu(_tr("&Help"))
    shortcuts = add_shortcuts_action(window, menu)
    menu.addSeparator()
    action = QAction(_tr("&About medview…"), window)
    action.setMenuRole(QAction.MenuRole.AboutRole)  # macOS puts it in the application menu
    # A weak reference: a slot holding the window itself would keep it (and its VTK render
    # windows) alive after it is dropped (tests/gui/test_main_window.py checks they are freed).
    window_ref = weakref.ref(window)

    def show_about() -> None:
        parent = window_ref()
        if parent is not None:
            QtAboutDialog(parent).exec()

    action.triggered.connect(show_about)
    menu.addAction(action)
    return shortcuts, action
