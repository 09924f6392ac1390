"""The overlay sign mode and the saliency method selector of the AI panel (issue 7, viewer).

:class:`QtSaliencyControls` owns two combo boxes the panel puts in its overlay box:

* **Show** (positive only / absolute / signed): how a signed overlay is drawn
  (:mod:`medview.model.overlay_display`); "positive" is the default, which for a map that is
  never negative is what was drawn before.
* **Method**: the attribution methods among the loaded ``medview.saliency`` results (hidden
  until there is one). The panel asks :meth:`QtSaliencyControls.overlay_for` which overlay
  belongs to the selected finding and the chosen method (:mod:`medview.model.saliency_choice`)
  whenever the selection or the method changes.

GUI thread only; the matching itself is Qt-free.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QComboBox, QWidget

from medview.ai.api import Result
from medview.model.overlay_display import SIGN_MODES
from medview.model.review import ReviewedFinding
from medview.model.saliency_choice import (
    SaliencyEntry,
    available_methods,
    choose,
    entries_for_result,
)

_SIGN_LABELS = {"positive": "Positive only", "absolute": "Absolute", "signed": "Signed"}
_METHOD_LABELS = {
    "gradcam": "Grad-CAM",
    "ig": "Integrated Gradients",
    "smoothgrad": "SmoothGrad",
    "occlusion": "Occlusion",
}


def _tr(text: str) -> str:
    return QCoreApplication.translate("QtAiPanel", text)


class QtSaliencyControls(QObject):
    """Sign mode and saliency method; the catalogue of loaded saliency overlays.

    Signals
    -------
    sign_changed()
        The sign mode changed (redraw the overlay).
    method_changed()
        The reader chose another method (show that method's overlay for the same finding).
    """

    sign_changed = Signal()
    method_changed = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._entries: list[SaliencyEntry] = []
        self.sign_combo = QComboBox(parent)
        self.sign_combo.setObjectName("overlay-sign")
        for mode in SIGN_MODES:
            self.sign_combo.addItem(_tr(_SIGN_LABELS[mode]), mode)
        self.sign_combo.setToolTip(
            _tr("For signed maps (attributions): draw the positive part, the magnitude or both.")
        )
        self.sign_combo.currentIndexChanged.connect(self.sign_changed)
        self.method_combo = QComboBox(parent)
        self.method_combo.setObjectName("saliency-method")
        self.method_combo.setToolTip(
            _tr("Explanation method: the selected finding's overlay follows this choice.")
        )
        self.method_combo.currentIndexChanged.connect(self._on_method)
        self._quiet = False

    # -- sign ------------------------------------------------------------------------------
    def sign(self) -> str:
        return str(self.sign_combo.currentData() or SIGN_MODES[0])

    def set_sign(self, sign: str) -> None:
        index = self.sign_combo.findData(sign)
        if index < 0:
            raise ValueError(f"unknown overlay sign mode {sign!r}")
        self.sign_combo.setCurrentIndex(index)

    # -- methods ---------------------------------------------------------------------------
    @property
    def entries(self) -> list[SaliencyEntry]:
        return list(self._entries)

    def methods(self) -> list[str]:
        return available_methods(self._entries)

    def method(self) -> str | None:
        data = self.method_combo.currentData()
        return str(data) if data else None

    def set_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        if index < 0:
            raise ValueError(f"no saliency overlays of method {method!r} are loaded")
        self.method_combo.setCurrentIndex(index)

    def add_result(self, job_id: str, result: Result, keys: Sequence[int]) -> list[SaliencyEntry]:
        """Catalogue a finished job's saliency overlays; ``keys``: their rows in the panel.

        The method selector then offers the new run's method and selects it (quietly: the
        panel decides what to show).
        """
        names = [overlay.name for overlay in result.overlays]
        centres = [finding.center_lps_mm for finding in result.findings]
        added = entries_for_result(job_id, names, centres, keys)
        if not added:
            return added
        self._entries.extend(added)
        self._quiet = True
        try:
            self.method_combo.clear()
            for method in self.methods():
                self.method_combo.addItem(_tr(_METHOD_LABELS.get(method, method)), method)
            self.method_combo.setCurrentIndex(self.method_combo.findData(added[-1].method))
        finally:
            self._quiet = False
        return added

    def entry_of(self, key: int) -> SaliencyEntry | None:
        return next((e for e in self._entries if e.key == key), None)

    def overlay_for(self, finding: ReviewedFinding) -> SaliencyEntry | None:
        """The loaded overlay of the chosen method for ``finding``, if there is one."""
        method = self.method()
        if method is None:
            return None
        number = int(finding.id.rsplit("/", 1)[-1]) + 1  # review ids are "<job>/<index>"
        return choose(self._entries, method, finding.job_id, number, finding.finding.center_lps_mm)

    def same_finding(self, entry: SaliencyEntry) -> SaliencyEntry | None:
        """The chosen method's overlay for the finding ``entry`` explains."""
        method = self.method()
        if method is None:
            return None
        return choose(
            self._entries, method, entry.job_id, entry.finding_number, entry.center_lps_mm
        )

    def row_to_show(self, finding: ReviewedFinding | None, shown: int) -> int | None:
        """The overlay row to show now: a row, -1 for none, or None to leave it as it is.

        ``finding`` is the selected finding (None: no selection), ``shown`` the row on
        screen. With a selection: the chosen method's overlay of that finding; if it has none,
        a saliency overlay on screen is hidden (it would explain another finding) while other
        overlays stay. Without one, a saliency overlay on screen is swapped for the chosen
        method's overlay of the same finding.
        """
        on_screen = self.entry_of(shown)
        if finding is not None:
            entry = self.overlay_for(finding)
        elif on_screen is not None:
            entry = self.same_finding(on_screen)
        else:
            return None
        if entry is not None:
            return int(entry.key)  # type: ignore[call-overload]
        return -1 if on_screen is not None else None

    def _on_method(self) -> None:
        if not self._quiet:
            self.method_changed.emit()


__all__ = ["QtSaliencyControls"]
