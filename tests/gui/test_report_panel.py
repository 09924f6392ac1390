"""The report panel (issue 8): review AI findings, write, sign and export from the GUI.

A real flow: the demo CT imported into the study library and opened, the bundled detector
(``medview.threshold-blobs``) run through the AI panel, one finding accepted and one
rejected in the report panel, text typed, the report exported on the worker into a folder
and read back (pydicom / highdicom): only the accepted finding is in the SR, the JSON holds
the reader and the text, the rejected one is in the audit; then signed (SR VERIFIED); and an
export into a read-only folder fails with one sentence and writes nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from PySide6.QtWidgets import QPushButton

from medview.ai.audit import AuditLog
from medview.ai.jobs import FINAL, JobState
from medview.ai.registry import PluginRegistry, discover
from medview.ai.runner import Runner
from medview.app.main_window import QtMainWindow
from medview.app.report_dock import DRAFT_DELAY_MS, SHORTCUT
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.model.measurement_types import Length
from medview.model.report_draft import draft_path, load_draft
from medview.model.report_export import REVIEW_AUDIT_NAME
from medview.model.settings import Settings, load_settings

pytestmark = pytest.mark.gui

DETECTOR = "medview.threshold-blobs"
READER = "Roe^Richard"
FINDINGS_TEXT = "Two small nodules in the right lower lobe."
IMPRESSION = "One solid nodule, follow-up CT in 6 months. 随访"
SCREENSHOT = Path("/tmp/medview-report-panel.png")


@pytest.fixture(scope="module")
def demo_study(tmp_path_factory):
    # 128² x 64: the detector finds the phantom's nodules (the report tests use the same).
    return write_demo_study(
        tmp_path_factory.mktemp("report-panel") / "ct", seed=0, size=128, slices=64
    )


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


def make_window(qtbot, database, settings: Settings, tmp_path: Path) -> QtMainWindow:
    registry = PluginRegistry(discover(user=False, entry_points=False))
    runner = Runner(registry, audit=AuditLog(tmp_path / "audit.jsonl"), cpu_workers=1)
    window = QtMainWindow(database=database, settings=settings, runner=runner)
    qtbot.addWidget(window)
    window.resize(1400, 950)
    window.show()
    qtbot.waitExposed(window)
    return window


def open_demo(qtbot, window: QtMainWindow, demo_study) -> None:
    with qtbot.waitSignal(window.volume_shown, timeout=60_000):
        window.import_paths([demo_study.directory], open_main=True)
    assert window.mpr.volume.meta.series_uid == demo_study.series_uid


def detect(qtbot, window: QtMainWindow) -> list[str]:
    """Run the detector through the AI panel; the ids of its findings in the review."""
    panel = window.ai.panel
    panel.select_plugin(DETECTOR)
    job = panel.run()
    assert job is not None, panel.status_text
    qtbot.waitUntil(lambda: job.state in FINAL, timeout=120_000)
    assert job.state is JobState.SUCCEEDED, job.error
    qtbot.waitUntil(lambda: len(panel.review) == len(job.result.findings), timeout=10_000)
    return [f.id for f in panel.review]


def export_to(qtbot, window: QtMainWindow, folder: Path, signal: str = "exported"):
    report = window.report
    report.choose_folder = lambda _start: str(folder)
    with qtbot.waitSignal(getattr(report, signal), timeout=120_000) as blocker:
        assert report.export()
        assert report.panel.busy  # the GUI thread returned at once; the worker writes
    assert not report.panel.busy
    return blocker.args[0]


def tracking_identifiers(ds) -> list[str]:
    """Values of every Tracking Identifier (DCM 112039) in an SR's content tree."""
    found = []

    def walk(items):
        for item in items:
            name = item.ConceptNameCodeSequence[0] if "ConceptNameCodeSequence" in item else None
            if name is not None and name.CodeValue == "112039":
                found.append(str(item.TextValue))
            walk(item.get("ContentSequence", []))

    walk(ds.ContentSequence)
    return found


def validate(path: Path) -> None:
    """dciodvfy (no errors) and dsrdump (no errors or warnings), where installed (.ci/run)."""
    if shutil.which("dciodvfy"):
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
        lines = (run.stdout + run.stderr).splitlines()
        assert [line for line in lines if line.startswith("Error")] == []
    if shutil.which("dsrdump"):
        run = subprocess.run(["dsrdump", "-v", str(path)], capture_output=True, text=True,
                             timeout=60)  # fmt: skip
        # dcmtk's VR checker knows no UTF-8: it says so for the Chinese impression (PS3.3
        # C.12.1.1.2 "ISO_IR 192"); any other warning fails.
        warnings = [
            line
            for line in run.stderr.splitlines()
            if line.startswith("W:") and "does not support this Specific Character Set" not in line
        ]
        assert run.returncode == 0 and "E:" not in run.stderr and warnings == [], run.stderr


def read_only(folder: Path) -> bool:
    """Make ``folder`` unwritable (chmod; as root, which ignores modes, chattr +i)."""
    folder.chmod(0o555)
    if not _writable(folder):
        return True
    subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    return not _writable(folder)


def _writable(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def writable_again(folder: Path) -> None:
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
    folder.chmod(0o755)


def test_review_write_sign_and_export_from_the_report_panel(
    qtbot, database, demo_study, tmp_path, phantom
):
    settings = Settings(path=tmp_path / "settings.toml")
    window = make_window(qtbot, database, settings, tmp_path)
    open_demo(qtbot, window, demo_study)
    ids = detect(qtbot, window)
    assert len(ids) >= 2, "the detector should find the phantom's nodules"
    accepted, rejected = ids[0], ids[1]

    # File › Export report… (its own shortcut) brings the panel up.
    action = window.report.action
    assert action in window.menuBar().actions()[0].menu().actions()
    assert action.shortcut().toString() == SHORTCUT
    shortcuts = [a.shortcut().toString() for a in window.findChildren(type(action))]
    assert shortcuts.count(SHORTCUT) == 1
    action.trigger()
    panel = window.report.panel
    assert window.report.dock.isVisible()

    # Decide in the report panel; the AI panel's review is the same.
    panel.type_texts(FINDINGS_TEXT, IMPRESSION)
    panel.set_reader("")
    qtbot.keyClicks(panel.reader_edit, READER)
    panel.select_finding(accepted)
    assert window.ai.panel.selected_finding() == accepted  # the views went there
    panel.set_decision("accept")
    panel.select_finding(rejected)
    panel.set_decision("reject")
    rows = panel.finding_rows()
    assert rows[0][2] == "accepted" and rows[1][2] == "rejected"
    assert rows[0][3] == rows[1][3] == "Roe, Richard"  # decided by, from the audit trail
    assert all(row[2] == "pending" for row in rows[2:])
    # A reader's measurement on this series is listed and reported.
    series_uid = window.mpr.volume.meta.series_uid
    window.mpr.measurement_scene.add(
        Length((0.0, 0.0, 0.0), (12.5, 0.0, 0.0), label="ruler", series_uid=series_uid)
    )
    assert [row[1] for row in panel.measurement_rows()] == ["ruler"]
    panel.set_formats(["sr", "seg", "pdf", "json"])

    # Unsigned export.
    out = tmp_path / "report"
    outcome = export_to(qtbot, window, out)
    names = sorted(p.name for p in out.iterdir())
    assert {"report-sr.dcm", "report.pdf", "report.json"} <= set(names), names
    assert not [n for n in names if n.endswith(".part") or n.startswith(".")]
    status = panel.status_text
    assert str(out) in status and "report-sr.dcm" in status and "\n" not in status
    # "Send to PACS…" (issue 9) opens the send dialog on the exported folder.
    send = panel.findChild(QPushButton, "send-report")
    assert send.isEnabled()
    send.click()
    dialog = window.pacs.send_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.folder_edit.text() == str(out) and dialog.folder_choice.isChecked()
    dialog.close()
    # The panel, for a person to look at (the window's GL views do not grab well offscreen).
    qtbot.wait(50)
    assert window.report.dock.grab().save(str(SCREENSHOT))

    sr = pydicom.dcmread(out / "report-sr.dcm")
    assert sr.VerificationFlag == "UNVERIFIED"
    # The impression as typed, Chinese included (UTF-8, not Latin-1 with "?" for 随访).
    texts = [item.TextValue for item in sr.ContentSequence[-1].ContentSequence]
    assert IMPRESSION in texts and FINDINGS_TEXT in texts
    trackers = tracking_identifiers(sr)
    # The accepted finding only: not the rejected one, not the pending ones.
    assert [t for t in trackers if t.startswith("Finding ")] == [f"Finding {accepted}"], trackers
    # highdicom reads it back as TID 1500: one finding group + the reader's length.
    report = hd.sr.Comprehensive3DSR.from_dataset(sr)
    groups = report.content.get_planar_roi_measurement_groups() + list(
        report.content.get_volumetric_roi_measurement_groups()
    )
    assert len(groups) == 2

    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert document["reader"] == READER
    assert document["impression"] == IMPRESSION and document["findings_text"] == FINDINGS_TEXT
    assert document["verification"]["flag"] == "UNVERIFIED"
    status_of = {f["id"]: f["status"] for f in document["findings"]}
    assert status_of[accepted] == "accepted" and status_of[rejected] == "rejected"
    assert [m["label"] for m in document["measurements"]] == ["ruler"]
    audit = [(e["action"], e["finding_id"], e["who"]) for e in document["audit"]]
    assert ("reject", rejected, READER) in audit and ("accept", accepted, READER) in audit
    logged = AuditLog(app_dirs().data / REVIEW_AUDIT_NAME).read()
    assert any(e["action"] == "reject" and e["finding_id"] == rejected for e in logged)
    assert len(outcome.model.reported_findings()) == 1

    # Finalise (sign): needs the reader, asks first, then the SR is VERIFIED by the reader.
    asked = []
    window.report.confirm_sign = lambda reader, count: asked.append((reader, count)) or True
    assert window.report.sign()
    assert asked == [(READER, 1)] and panel.signed[0] == READER
    signed = tmp_path / "signed"
    export_to(qtbot, window, signed)
    sr = pydicom.dcmread(signed / "report-sr.dcm")
    assert sr.VerificationFlag == "VERIFIED"
    assert sr.VerifyingObserverSequence[0].VerifyingObserverName == READER
    assert sr.PreliminaryFlag == "FINAL"
    validate(signed / "report-sr.dcm")
    logged = AuditLog(app_dirs().data / REVIEW_AUDIT_NAME).read()
    assert logged[-1]["action"] == "finalize" and logged[-1]["who"] == READER
    # A change after signing withdraws the signature.
    panel.type_texts(FINDINGS_TEXT + " Edited.", IMPRESSION)
    assert panel.signed is None and "sign it again" in panel.status_text

    # An unwritable folder: one sentence naming it, nothing written, the panel usable again.
    locked = tmp_path / "locked"
    locked.mkdir()
    if not read_only(locked):
        writable_again(locked)
        pytest.skip("cannot make a folder read-only here")
    try:
        for target in (locked, locked / "new"):
            message = export_to(qtbot, window, target, signal="failed")
            assert message.startswith("Could not export the report: ")
            assert str(target) in message and "\n" not in message
            assert "Traceback" not in message
            assert list(locked.iterdir()) == []
            assert panel.status_text == message
    finally:
        writable_again(locked)

    # Another series (not from the library, e.g. generated): the findings of the CT are not
    # its findings, and without its DICOM files there is nothing to reference.
    window.show_volume(phantom.make(series_uid="1.2.826.0.1.3680043.9.7.1", study_uid="1.2.9"))
    assert panel.finding_rows() == [] and panel.measurement_rows() == []
    assert panel.impression() == ""  # another study's report starts empty
    message = export_to(qtbot, window, tmp_path / "other", signal="failed")
    assert "not in the study library" in message and "\n" not in message


def test_signing_needs_a_reader_and_a_confirmation(qtbot, database, demo_study, tmp_path):
    window = make_window(qtbot, database, Settings(path=tmp_path / "settings.toml"), tmp_path)
    report = window.report
    report.confirm_sign = lambda reader, count: pytest.fail("asked without a reader")
    assert not report.sign()
    assert report.panel.signed is None and "reader" in report.panel.status_text
    report.panel.set_reader(READER)
    report.confirm_sign = lambda reader, count: False  # the reader said No
    assert not report.sign() and report.panel.signed is None
    # Nothing on screen: no folder is asked for.
    report.choose_folder = lambda _start: pytest.fail("asked for a folder with no series")
    assert not report.export()


def test_text_and_reader_survive_a_restart(qtbot, database, demo_study, tmp_path):
    settings_file = tmp_path / "settings.toml"
    window = make_window(qtbot, database, Settings(path=settings_file), tmp_path)
    open_demo(qtbot, window, demo_study)
    panel = window.report.panel
    qtbot.keyClicks(panel.reader_edit, READER)
    panel.type_texts(FINDINGS_TEXT, IMPRESSION)
    window.close()  # saves the draft and the settings

    assert load_settings(settings_file).extra["report_reader"] == READER
    again = make_window(qtbot, database, load_settings(settings_file), tmp_path)
    assert again.report.panel.reader() == READER
    assert again.report.panel.impression() == ""  # no study yet
    open_demo(qtbot, again, demo_study)
    assert again.report.panel.findings_text() == FINDINGS_TEXT
    assert again.report.panel.impression() == IMPRESSION
    again.close()


def test_the_draft_is_saved_while_the_reader_keeps_typing(qtbot, database, demo_study, tmp_path):
    """A reader typing without a pause longer than the save delay still has the text on
    disk a moment after the first key (issue 11, D2: a crash loses at most that moment)."""
    window = make_window(qtbot, database, Settings(path=tmp_path / "settings.toml"), tmp_path)
    open_demo(qtbot, window, demo_study)
    path = draft_path(app_dirs(), demo_study.study_uid)
    edit = window.report.panel._findings_text  # typed into key by key, as a reader does
    edit.setFocus()
    for i in range(3 * DRAFT_DELAY_MS // 100):  # one key every 100 ms for 3 delays
        qtbot.keyClicks(edit, "ab"[i % 2])
        qtbot.wait(100)
    saved = load_draft(path).findings_text  # read while the reader is still typing
    assert len(saved) >= DRAFT_DELAY_MS // 100, saved
    window.close()


def test_every_report_panel_string_has_a_chinese_translation():
    import ast
    import xml.etree.ElementTree as ET

    import medview.app.report_dock as dock_module
    import medview.view.report_panel as panel_module
    from medview.app.resources import resource_path
    from medview.view.report_panel import FORMAT_LABELS

    root = ET.parse(resource_path("i18n", "medview_zh_CN.ts")).getroot()
    shipped = {
        (context.findtext("name"), message.findtext("source"))
        for context in root.iter("context")
        for message in context.iter("message")
        if message.findtext("translation")
    }
    # The format check boxes' labels are translated through a table, not _tr literals.
    wanted = {("QtReportPanel", label) for label in FORMAT_LABELS.values()}
    for module, context in ((panel_module, "QtReportPanel"), (dock_module, "QtMainWindow")):
        for node in ast.walk(ast.parse(Path(module.__file__).read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "_tr"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                wanted.add((context, node.args[0].value))
    assert len(wanted) > 40 and wanted <= shipped, sorted(wanted - shipped)


def test_the_panel_speaks_chinese(qtbot, qapp, tmp_path):
    from medview.app.i18n import install_translators

    translators = install_translators(qapp, "zh_CN")
    try:
        assert translators
        window = QtMainWindow(
            runner=Runner(PluginRegistry(discover(user=False, entry_points=False)))
        )
        qtbot.addWidget(window)
        assert window.report.action.text() == "导出报告(&R)…"
        assert "未签名" in window.report.panel.signature_text
        window.report.show_panel()
        window.report.dock.resize(420, 820)
        qtbot.wait(50)
        assert window.report.dock.grab().save(
            str(SCREENSHOT.with_name("medview-report-panel-zh.png"))
        )
        window.close()
    finally:
        for translator in translators:
            qapp.removeTranslator(translator)
