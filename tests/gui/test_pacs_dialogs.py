"""The PACS dialogs (issue 9) against a real Orthanc on loopback.

Orthanc is started by the network tests' helper (tests/unit/net/orthanc_server.py) with a
generated configuration and stopped by its PID; the tests skip when it is not installed.
"""

from __future__ import annotations

import logging
import stat
import time

import pytest
from PySide6.QtGui import QKeySequence
from unit.net.orthanc_server import AET, ORTHANC, PASSWORD, USER, dicomweb_plugin, free_port
from unit.net.orthanc_server import start_orthanc as start_orthanc_server

from medview.app.main_window import QtMainWindow
from medview.app.pacs_wiring import SHORTCUTS
from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.model.pacs_config import NodeEntry, SessionSecrets, load_entries, save_entries
from medview.model.settings import load_settings
from medview.view.pacs_common import PacsContext
from medview.view.pacs_nodes_dialog import QtPacsNodesDialog
from medview.view.pacs_query_dialog import QtPacsQueryDialog
from medview.view.pacs_send_dialog import QtPacsSendDialog

pytestmark = pytest.mark.skipif(
    ORTHANC is None, reason="the Orthanc binary is missing (apt-get install orthanc)"
)

LISTENER_AET = "MEDVIEWGUI"


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """A small demo study and a bigger one (big enough to cancel in the middle)."""
    root = tmp_path_factory.mktemp("pacs-gui")
    small = write_demo_study(root / "small", seed=0, size=64, slices=32)
    big = write_demo_study(root / "big", seed=1, size=256, slices=160)
    return small, big


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, studies):
    scp_port = free_port()
    server = start_orthanc_server(
        tmp_path_factory.mktemp("orthanc-gui"), scp_aet=LISTENER_AET, scp_port=scp_port
    )
    try:
        for study in studies:
            server.upload(study.files)
        yield server
    finally:
        server.stop()


@pytest.fixture
def database():
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


@pytest.fixture
def context(database, orthanc):
    """Settings of this test's MEDVIEW_HOME holding one DIMSE node for the Orthanc."""
    settings = load_settings()
    secrets = SessionSecrets()
    values = {"ae_title": AET, "host": "127.0.0.1", "port": orthanc.dicom_port, "timeout": 30}
    save_entries(settings, [NodeEntry("orthanc", values)], secrets)
    settings.extra["pacs"]["listener"] = {"ae_title": LISTENER_AET, "port": orthanc.scp_port}
    return PacsContext(settings, app_dirs(), database, secrets)


def _in_database(database: StudyDatabase, series_uid: str) -> int:
    return len(database.series_paths(series_uid))


def _search(qtbot, dialog: QtPacsQueryDialog, **filters) -> int:
    dialog.patient_name_edit.setText(filters.get("name", ""))
    dialog.patient_id_edit.setText(filters.get("patient_id", ""))
    with qtbot.waitSignal(dialog.searched, timeout=30000) as blocker:
        dialog.search_button.click()
    return blocker.args[0]


def _retrieve(qtbot, dialog: QtPacsQueryDialog, row: int = 0, method: str = "C-GET") -> str:
    dialog.results.clearSelection()
    dialog.results.topLevelItem(row).setSelected(True)
    dialog.method_combo.setCurrentText(method)
    with qtbot.waitSignal(dialog.retrieve_finished, timeout=120000) as blocker:
        dialog.retrieve_button.click()
    return blocker.args[0]


# -- File › PACS nodes -------------------------------------------------------------------------
def test_nodes_dialog_saves_tests_and_reports_a_wrong_port(qtbot, orthanc, caplog):
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    context = PacsContext(settings, app_dirs())
    dialog = QtPacsNodesDialog(context)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.add_node()
    dialog.name_edit.setText("orthanc")
    dialog.ae_title_edit.setText(AET)
    dialog.host_edit.setText("127.0.0.1")
    dialog.port_edit.setValue(orthanc.dicom_port)
    assert dialog.save(), dialog.message.text()
    saved = load_settings().extra["pacs"]["nodes"]["orthanc"]
    assert saved == {"ae_title": AET, "host": "127.0.0.1", "port": orthanc.dicom_port}
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600

    with qtbot.waitSignal(dialog.tested, timeout=30000) as blocker:
        dialog.test_button.click()
    assert "answered C-ECHO" in blocker.args[0]
    assert f"{AET}@127.0.0.1:{orthanc.dicom_port}" in dialog.test_result.text()

    wrong = free_port()
    dialog.port_edit.setValue(wrong)
    with qtbot.waitSignal(dialog.tested, timeout=30000) as blocker:
        dialog.test_button.click()
    line = blocker.args[0]
    assert f"nothing is listening at 127.0.0.1:{wrong}" in line and "\n" not in line
    assert "Traceback" not in line

    dialog.ae_title_edit.setText("")  # an incomplete DIMSE address: refused, named, not saved
    assert not dialog.save()
    assert "node 'orthanc'" in dialog.message.text()
    assert load_settings().extra["pacs"]["nodes"]["orthanc"]["port"] == orthanc.dicom_port


def test_dicomweb_credentials_stay_in_the_session_unless_remembered(qtbot, orthanc, caplog):
    if dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is missing (apt-get install orthanc-dicomweb)")
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    context = PacsContext(settings, app_dirs())
    dialog = QtPacsNodesDialog(context)
    qtbot.addWidget(dialog)
    dialog.add_node()
    dialog.name_edit.setText("web")
    dialog.url_edit.setText(orthanc.base_url)
    dialog.auth_combo.setCurrentIndex(1)  # basic
    dialog.user_edit.setText(USER)
    dialog.password_edit.setText(PASSWORD)
    assert not dialog.remember_box.isChecked()
    assert dialog.save(), dialog.message.text()
    text = settings.path.read_text()
    assert PASSWORD not in text and USER not in text
    with qtbot.waitSignal(dialog.tested, timeout=30000) as blocker:
        dialog.test_button.click()
    assert "answered a QIDO-RS search" in blocker.args[0]
    # The session keeps them: the query dialog can use the node.
    nodes, problems = context.nodes()
    assert nodes["web"].password == PASSWORD and not problems
    # A wrong password is one line naming the node, and no credential reaches the log.
    dialog.password_edit.setText("wrong-" + PASSWORD)
    with qtbot.waitSignal(dialog.tested, timeout=30000) as blocker:
        dialog.test_button.click()
    assert "refused the credentials" in blocker.args[0] and "web (" in blocker.args[0]
    dialog.password_edit.setText(PASSWORD)
    dialog.remember_box.setChecked(True)
    assert dialog.save()
    assert PASSWORD in settings.path.read_text()
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600
    assert PASSWORD not in caplog.text
    assert load_entries(load_settings(), SessionSecrets())[0].remember


# -- File › Query PACS ---------------------------------------------------------------------------
def test_query_retrieve_by_cget_and_the_study_browser(qtbot, context, studies, database):
    small, _big = studies
    window = QtMainWindow(database=database, settings=context.settings)
    qtbot.addWidget(window)
    dialog = window.pacs.show_query()
    qtbot.waitExposed(dialog)
    assert dialog.node_combo.currentText() == "orthanc"
    assert [dialog.method_combo.itemText(i) for i in range(dialog.method_combo.count())] == [
        "C-GET",
        "C-MOVE",
    ]
    assert _search(qtbot, dialog, name="Demo*") == 2  # both demo patients match the wildcard
    assert _search(qtbot, dialog, name="Dem?^Phant*", patient_id="MEDVIEW-DEMO-0") == 1
    study = dialog.study_items()[0]
    assert study.text(0) == "Demo, Phantom"
    assert study.text(1) == "MEDVIEW-DEMO-0" and study.text(4) == "CT"
    study.setExpanded(True)  # lists its series on a worker
    qtbot.waitUntil(lambda: study.childCount() == 1, timeout=30000)
    assert study.child(0).text(6) == "32"

    progress = []
    dialog.series_progress.connect(
        lambda uid, received, total: progress.append((uid, received, total))
    )
    line = _retrieve(qtbot, dialog)
    assert line.startswith("Retrieved 1 series (32 images)"), line
    assert progress[-1] == (small.series_uid, 32, 32)
    assert len(progress) >= 2  # progress per instance, not only at the end
    assert study.child(0).text(7) == "complete (32)" and study.text(7) == "complete"
    assert _in_database(database, small.series_uid) == 32
    qtbot.waitUntil(lambda: small.series_uid in window.browser.shown_series(), timeout=30000)
    assert "Retrieved 1 series" in window.statusBar().currentMessage()
    window.pacs.query_action.trigger()  # File › Query PACS… again: the same dialog, results kept
    assert window.pacs.query_dialog is dialog and len(dialog.study_items()) == 1
    dialog.results.setColumnWidth(0, 150)
    dialog.grab().save("/tmp/pacs_query_dialog.png")


def test_cancel_mid_retrieve_imports_nothing(qtbot, context, studies, database):
    _small, big = studies
    dialog = QtPacsQueryDialog(context)
    qtbot.addWidget(dialog)
    assert _search(qtbot, dialog, patient_id="MEDVIEW-DEMO-1") == 1
    cancelled_at = []

    def cancel_on_first(uid, received, total):
        if not cancelled_at:
            cancelled_at.append(time.monotonic())
            dialog.cancel_button.click()

    dialog.series_progress.connect(cancel_on_first)
    line = _retrieve(qtbot, dialog)
    finished = time.monotonic()
    assert line.startswith("Retrieve cancelled"), line
    # The association was aborted at once, not left to run into the 30 s timeout.
    assert finished - cancelled_at[0] < 10
    assert _in_database(database, big.series_uid) == 0
    incoming = app_dirs().store / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())
    item = dialog.series_item(big.series_uid)
    assert item is not None and item.text(7) == "cancelled"
    assert not dialog.is_retrieving and dialog.retrieve_button.isEnabled()


def test_retrieve_by_cmove_to_the_listener_started_in_the_nodes_dialog(
    qtbot, context, studies, database, orthanc
):
    small, _big = studies
    nodes = QtPacsNodesDialog(context)
    qtbot.addWidget(nodes)
    assert nodes.listener_aet_edit.text() == LISTENER_AET
    nodes.listener_port_edit.setValue(orthanc.scp_port)
    with qtbot.waitSignal(nodes.listener_changed, timeout=30000) as blocker:
        nodes.listener_button.click()
    assert blocker.args[0] == f"Listening as {LISTENER_AET} on port {orthanc.scp_port}"
    assert context.listener_running() and nodes.listener_button.text() == "Stop"

    dialog = QtPacsQueryDialog(context)
    qtbot.addWidget(dialog)
    assert _search(qtbot, dialog, patient_id="MEDVIEW-DEMO-0") == 1
    line = _retrieve(qtbot, dialog, method="C-MOVE")
    assert line.startswith("Retrieved 1 series (32 images)"), line
    assert _in_database(database, small.series_uid) == 32
    assert context.listener_running()  # started by the user: still listening

    # A second listener on the same port cannot start: one line, and the first keeps going.
    other = QtPacsNodesDialog(PacsContext(context.settings, app_dirs()))
    qtbot.addWidget(other)
    other.listener_port_edit.setValue(orthanc.scp_port)
    with qtbot.waitSignal(other.listener_changed, timeout=30000) as blocker:
        other.listener_button.click()
    assert blocker.args[0].startswith(f"cannot listen on port {orthanc.scp_port}"), blocker.args[0]

    with qtbot.waitSignal(nodes.listener_changed, timeout=30000) as blocker:
        nodes.listener_button.click()
    assert blocker.args[0].startswith("Stopped") and not context.listener_running()
    # Stopped: a C-MOVE starts one for its own retrieve and stops it afterwards.
    line = _retrieve(qtbot, dialog, method="C-MOVE")
    assert line.startswith("Retrieved 1 series (32 images)"), line
    assert context.listener is None


def test_query_and_retrieve_over_dicomweb(qtbot, orthanc, studies, database):
    if dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is missing (apt-get install orthanc-dicomweb)")
    small, _big = studies
    settings, secrets = load_settings(), SessionSecrets()
    values = {"base_url": orthanc.base_url, "username": USER, "password": PASSWORD}
    save_entries(settings, [NodeEntry("web", values)], secrets)  # session-only credentials
    dialog = QtPacsQueryDialog(PacsContext(settings, app_dirs(), database, secrets))
    qtbot.addWidget(dialog)
    assert dialog.method_combo.currentText() == "WADO-RS"
    assert _search(qtbot, dialog, name="Demo*", patient_id="MEDVIEW-DEMO-0") == 1
    study = dialog.study_items()[0]
    study.setExpanded(True)
    qtbot.waitUntil(lambda: study.childCount() == 1, timeout=30000)
    study.setSelected(False)
    study.child(0).setSelected(True)  # one series
    with qtbot.waitSignal(dialog.retrieve_finished, timeout=120000) as blocker:
        dialog.retrieve_button.click()
    assert blocker.args[0].startswith("Retrieved 1 series (32 images)"), blocker.args[0]
    assert study.child(0).text(7) == "complete (32)"
    assert _in_database(database, small.series_uid) == 32


def test_a_study_pushed_to_the_running_listener_is_imported(qtbot, context, studies, orthanc):
    small, _big = studies
    window = QtMainWindow(database=context.database, settings=context.settings)
    qtbot.addWidget(window)
    nodes = window.pacs.show_nodes()
    nodes.listener_port_edit.setValue(orthanc.scp_port)
    with qtbot.waitSignal(nodes.listener_changed, timeout=30000):
        nodes.listener_button.click()
    assert window.pacs.context.listener_running()
    study_id = orthanc.rest("POST", "/tools/lookup", small.study_uid.encode())[0]["ID"]
    with qtbot.waitSignal(window.pacs.pushed, timeout=60000) as blocker:
        orthanc.rest("POST", "/modalities/medview/store", study_id.encode())  # Orthanc pushes
    summary, peer = blocker.args
    assert summary.instances_added == 32 and peer.startswith(f"{AET}@127.0.0.1")
    assert _in_database(context.database, small.series_uid) == 32
    qtbot.waitUntil(lambda: small.series_uid in window.browser.shown_series(), timeout=30000)
    assert "sent 32 new image(s)" in window.statusBar().currentMessage()
    window.close()  # stops the listener
    assert not window.pacs.context.listener_running()


@pytest.mark.parametrize("problem", ["not listening", "wrong AE title"])
def test_failures_are_one_line(qtbot, context, orthanc, problem):
    dead = free_port()
    values = {"ae_title": AET, "host": "127.0.0.1", "port": dead, "timeout": 5}
    if problem == "wrong AE title":
        values.update(ae_title="NOTORTHANC", port=orthanc.dicom_port)
    save_entries(context.settings, [NodeEntry("bad", values)], context.secrets)
    dialog = QtPacsQueryDialog(context)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.search_failed, timeout=30000) as blocker:
        dialog.search_button.click()
    line = blocker.args[0]
    assert dialog.status.text() == line and "\n" not in line and dialog.search_button.isEnabled()
    if problem == "not listening":
        assert line.startswith(f"nothing is listening at 127.0.0.1:{dead} (bad ("), line
    else:
        assert line.startswith("bad (NOTORTHANC@127.0.0.1:") and "rejected" in line, line


def test_peer_dropping_mid_retrieve_imports_nothing(qtbot, tmp_path, studies, database):
    _small, big = studies
    server = start_orthanc_server(tmp_path / "orthanc")
    try:
        server.upload(big.files)
        settings, secrets = load_settings(), SessionSecrets()
        values = {"ae_title": AET, "host": "127.0.0.1", "port": server.dicom_port, "timeout": 30}
        save_entries(settings, [NodeEntry("dropping", values)], secrets)
        dialog = QtPacsQueryDialog(PacsContext(settings, app_dirs(), database, secrets))
        qtbot.addWidget(dialog)
        assert _search(qtbot, dialog) == 1
        dialog.series_progress.connect(lambda *_: server.process.poll() is None and server.kill())
        line = _retrieve(qtbot, dialog)
    finally:
        server.stop()
    assert "dropping (" in line and "nothing was imported" in line, line
    assert "\n" not in line and "Traceback" not in line
    assert _in_database(database, big.series_uid) == 0
    assert dialog.series_item(big.series_uid).text(7) == "failed"


# -- File › Send to PACS -------------------------------------------------------------------------
def test_send_a_folder_by_cstore(qtbot, context, orthanc, tmp_path):
    folder = write_demo_study(tmp_path / "derived", seed=7, size=32, slices=6).directory
    dialog = QtPacsSendDialog(context)
    qtbot.addWidget(dialog)
    assert dialog.protocol_combo.currentText() == "C-STORE"
    assert not dialog.series_choice.isEnabled()  # nothing on screen
    dialog.set_folder(tmp_path / "missing")
    dialog.send_button.click()
    assert dialog.status.text().startswith(f"{tmp_path / 'missing'}: not a folder")
    dialog.set_folder(folder)
    with qtbot.waitSignal(dialog.send_finished, timeout=60000) as blocker:
        dialog.send_button.click()
    line = blocker.args[0]
    assert line.startswith("Sent 6 file(s) to orthanc; 0 failed"), line
    assert dialog.progress.value() == dialog.progress.maximum() == 6
    found = orthanc.rest(
        "POST", "/tools/find", b'{"Level": "Instance", "Query": {"PatientID": "MEDVIEW-DEMO-7"}}'
    )
    assert len(found) == 6
    # Leave the module's Orthanc with the two demo studies only.
    for patient in orthanc.rest(
        "POST", "/tools/find", b'{"Level": "Patient", "Query": {"PatientID": "MEDVIEW-DEMO-7"}}'
    ):
        orthanc.rest("DELETE", f"/patients/{patient}")


def test_menu_actions_and_shortcuts_do_not_clash(qtbot, database):
    window = QtMainWindow(database=database, settings=load_settings())
    qtbot.addWidget(window)
    seen: dict[str, str] = {}
    for action in window.findChildren(type(window.pacs.query_action)):
        for sequence in action.shortcuts():
            key = sequence.toString()
            assert key not in seen or seen[key] == action.text(), (
                key,
                seen.get(key),
                action.text(),
            )
            seen[key] = action.text()
    for key in SHORTCUTS.values():
        assert QKeySequence(key).toString() in seen
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    file_actions = menus["File"].actions()
    pacs = [window.pacs.query_action, window.pacs.send_action, window.pacs.nodes_action]
    assert all(action in file_actions for action in pacs)
    assert file_actions.index(window.pacs.nodes_action) < file_actions.index(window._quit_action)
    mnemonics = [a.text().split("&")[1][0].lower() for a in file_actions if "&" in a.text()]
    assert len(mnemonics) == len(set(mnemonics)), mnemonics
    window.pacs.nodes_action.trigger()
    assert window.pacs.nodes_dialog is not None and window.pacs.nodes_dialog.isVisible()


def test_send_the_series_on_screen(qtbot, context, orthanc, database, tmp_path):
    sent = write_demo_study(tmp_path / "on-screen", seed=8, size=32, slices=5)
    window = QtMainWindow(database=database, settings=context.settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.volume_shown, timeout=60000):
        assert window.import_paths([sent.directory], open_main=True)
    dialog = window.pacs.show_send()
    assert dialog.series_choice.isEnabled()
    assert "synthetic phantom" in dialog.series_label.text()
    dialog.series_choice.setChecked(True)
    with qtbot.waitSignal(dialog.send_finished, timeout=60000) as blocker:
        dialog.send_button.click()
    assert blocker.args[0].startswith("Sent 5 file(s) to orthanc; 0 failed"), blocker.args[0]
    query = b'{"Level": "Instance", "Query": {"PatientID": "MEDVIEW-DEMO-8"}}'
    assert len(orthanc.rest("POST", "/tools/find", query)) == 5
    assert blocker.args[0] in window.statusBar().currentMessage()
    patients = b'{"Level": "Patient", "Query": {"PatientID": "MEDVIEW-DEMO-8"}}'
    for patient in orthanc.rest("POST", "/tools/find", patients):
        orthanc.rest("DELETE", f"/patients/{patient}")
