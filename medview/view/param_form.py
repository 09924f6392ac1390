"""A form built from a plugin's parameter specs (issue 4: "the UI builds its form from them").

Each :class:`~medview.ai.api.ParamSpec` becomes the matching editor: a spin box with the
range, step and unit for numbers, a check box for booleans, a combo box for choices, a line
edit for text; the label and the help sentence (as tooltip) come from the manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from medview.ai.api import ParamSpec

_BIG = 1e9


class QtParamForm(QWidget):
    """Editors for ``specs``; :meth:`values` gives ``{name: value}`` for ``Runner.submit``."""

    def __init__(self, specs: Sequence[ParamSpec] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._editors: dict[str, tuple[ParamSpec, QWidget]] = {}
        self.set_specs(specs)

    def set_specs(self, specs: Sequence[ParamSpec]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._editors = {}
        for spec in specs:
            editor = _editor(spec, self)
            editor.setObjectName(f"param-{spec.name}")
            if spec.help:
                editor.setToolTip(spec.help)
            label = spec.label or spec.name.replace("_", " ")
            self._layout.addRow(label, editor)
            self._editors[spec.name] = (spec, editor)

    def editor(self, name: str) -> QWidget:
        return self._editors[name][1]

    def values(self) -> dict[str, Any]:
        return {name: _value(spec, editor) for name, (spec, editor) in self._editors.items()}


def _editor(spec: ParamSpec, parent: QWidget) -> QWidget:
    if spec.type == "bool":
        box = QCheckBox(parent)
        box.setChecked(bool(spec.default))
        return box
    if spec.type == "choice":
        combo = QComboBox(parent)
        combo.addItems(list(spec.choices))
        combo.setCurrentText(str(spec.default))
        return combo
    if spec.type in ("int", "float"):
        spin = QSpinBox(parent) if spec.type == "int" else QDoubleSpinBox(parent)
        low = spec.minimum if spec.minimum is not None else -_BIG
        high = spec.maximum if spec.maximum is not None else _BIG
        if spec.type == "int":
            spin.setRange(int(max(low, -(2**31) + 1)), int(min(high, 2**31 - 1)))
        else:
            spin.setDecimals(3)
            spin.setRange(float(low), float(high))
        if spec.step is not None:
            spin.setSingleStep(spec.step)
        if spec.unit:
            spin.setSuffix(f" {spec.unit}")
        spin.setValue(spec.default)
        return spin
    line = QLineEdit(str(spec.default), parent)
    return line


def _value(spec: ParamSpec, editor: QWidget) -> Any:
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QComboBox):
        return editor.currentText()
    if isinstance(editor, QSpinBox | QDoubleSpinBox):
        return editor.value()
    assert isinstance(editor, QLineEdit)
    return editor.text()
