"""Cancelling transfers, progress reports, and the GUI's Qt-free PACS helpers (issue 9)."""

from __future__ import annotations

import stat
import time

import pytest
from orthanc_server import AET, PASSWORD, USER

from medview.core.errors import Cancelled
from medview.core.paths import app_dirs
from medview.dicom.index import StudyDatabase
from medview.model import pacs_ops
from medview.model.pacs_config import (
    NodeEntry,
    SessionSecrets,
    listener_config,
    load_entries,
    save_entries,
    set_listener_config,
    usable_nodes,
)
from medview.model.settings import load_settings
from medview.net import dimse, retrieve, web
from medview.net.cancel import CancelToken
from medview.net.errors import NodeConfigError
from medview.net.nodes import make_node


def _node(server):
    return make_node("orthanc", ae_title=AET, host="127.0.0.1", port=server.dicom_port)


def test_cancel_token_runs_callbacks_once():
    token, calls = CancelToken(), []
    with token.on_cancel(lambda: calls.append("a")):
        token.cancel()
        token.cancel()
    assert calls == ["a"] and token.cancelled
    with token.on_cancel(lambda: calls.append("late")):  # already cancelled: runs at once
        pass
    assert calls == ["a", "late"]
    with pytest.raises(Cancelled, match="the send was cancelled"):
        token.check("the send")


@pytest.mark.parametrize("method", ["get", "move"])
def test_cancelled_retrieve_imports_nothing(orthanc, demo_study, method):
    dirs = app_dirs().ensure()
    token, seen = CancelToken(), []

    def progress(received, total):
        seen.append((received, total))
        if received >= 3:
            token.cancel()  # from the thread that receives, as the GUI's cancel may be

    extra = {}
    if method == "move":
        from medview.net.scp import StorageListener

        extra["listener"] = StorageListener(orthanc.scp_aet, orthanc.scp_port)
    with StudyDatabase(dirs.database) as database, pytest.raises(Cancelled):
        getattr(retrieve, method)(
            _node(orthanc), demo_study.study_uid, database=database, dirs=dirs,
            progress=progress, cancel=token, **extra,
        )  # fmt: skip
    with StudyDatabase(dirs.database) as database:
        assert database.series_paths(demo_study.series_uid) == []
    assert 3 <= seen[-1][0] < len(demo_study.files)
    assert not any((dirs.store / "incoming").iterdir())


def test_retrieve_reports_progress_with_the_total(orthanc, demo_study):
    dirs = app_dirs().ensure()
    seen = []
    with StudyDatabase(dirs.database) as database:
        result = retrieve.get(
            _node(orthanc), demo_study.study_uid, demo_study.series_uid, database=database,
            dirs=dirs, progress=lambda received, total: seen.append((received, total)),
        )  # fmt: skip
    count = len(demo_study.files)
    assert result.received == count and seen[-1] == (count, count)
    assert [r for r, _t in seen] == sorted(r for r, _t in seen)


def test_cancelled_store_stops_between_files(orthanc, demo_study):
    token = CancelToken()

    def progress(done, total):
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled, match="after 2 of"):
        dimse.store(_node(orthanc), demo_study.files[:6], progress=progress, cancel=token)


def test_cancelled_wado_retrieve_imports_nothing(dicomweb, demo_study):
    node = make_node("web", base_url=dicomweb.base_url, username=USER, password=PASSWORD)
    dirs = app_dirs().ensure()
    token = CancelToken()

    def progress(received, total):
        assert total == 32
        if received == 2:
            token.cancel()

    with StudyDatabase(dirs.database) as database, pytest.raises(Cancelled):
        web.retrieve(
            node, demo_study.study_uid, demo_study.series_uid, database=database, dirs=dirs,
            progress=progress, cancel=token, expected=32,
        )  # fmt: skip
    assert not any((dirs.store / "incoming").iterdir())


def test_connection_test_lines(orthanc, dicomweb):
    assert "answered C-ECHO in" in pacs_ops.test_connection(_node(orthanc))
    web_node = make_node("web", base_url=dicomweb.base_url, username=USER, password=PASSWORD)
    line = pacs_ops.test_connection(web_node)
    assert line.startswith(f"web ({dicomweb.base_url}) answered a QIDO-RS search")
    assert pacs_ops.retrieve_methods(_node(orthanc)) == ["C-GET", "C-MOVE"]
    assert pacs_ops.retrieve_methods(web_node) == ["WADO-RS"]


# -- nodes in the settings (Qt-free side of File › PACS nodes) --------------------------------
def test_session_credentials_are_not_written_and_remembered_ones_are_private():
    settings, secrets = load_settings(), SessionSecrets()
    web_values = {"base_url": "https://pacs.example.org/dicom-web", "username": "reader",
                  "password": "pw-123"}  # fmt: skip
    save_entries(settings, [NodeEntry("web", web_values)], secrets)
    text = settings.path.read_text()
    assert "pw-123" not in text and "reader" not in text
    assert "pw-123" not in repr(secrets)
    nodes, problems = usable_nodes(load_settings(), secrets)
    assert nodes["web"].password == "pw-123" and not problems
    # A new session has the address only, and the command line can still parse every node.
    assert load_entries(load_settings(), SessionSecrets())[0].values == {
        "base_url": "https://pacs.example.org/dicom-web"
    }
    save_entries(settings, [NodeEntry("web", web_values, remember=True)], secrets)
    assert "pw-123" in settings.path.read_text()
    assert stat.S_IMODE(settings.path.stat().st_mode) == 0o600
    assert load_entries(load_settings(), SessionSecrets())[0].remember


def test_invalid_entries_are_refused_by_name_and_nothing_is_written():
    settings, secrets = load_settings(), SessionSecrets()
    good = NodeEntry("main", {"ae_title": "PACS", "host": "h", "port": 104})
    save_entries(settings, [good], secrets)
    with pytest.raises(NodeConfigError, match=r"node 'bad'.*ae_title, host and port"):
        save_entries(settings, [good, NodeEntry("bad", {"host": "h"})], secrets)
    with pytest.raises(NodeConfigError, match="two nodes are called 'main'"):
        save_entries(settings, [good, good], secrets)
    assert list(load_settings().extra["pacs"]["nodes"]) == ["main"]


def test_listener_settings():
    settings = load_settings()
    assert listener_config(settings) == ("MEDVIEW", 11112)
    set_listener_config(settings, "WORKSTATION1", "11113")
    assert listener_config(load_settings()) == ("WORKSTATION1", 11113)
    with pytest.raises(NodeConfigError, match="listener port"):
        set_listener_config(settings, "X", 70000)
    settings.extra["pacs"]["listener"] = {"ae_title": "A\\B", "port": 5}
    assert listener_config(settings) == ("MEDVIEW", 11112)  # a bad value: the defaults, logged


def test_a_push_is_imported_on_release_and_discarded_on_abort(demo_study):
    from orthanc_server import free_port

    from medview.net.push import PushReceiver
    from medview.net.scp import StorageListener

    dirs = app_dirs().ensure()
    imported = []
    port = free_port()
    node = make_node("self", ae_title="PUSHTEST", host="127.0.0.1", port=port, timeout=10)
    with StudyDatabase(dirs.database) as database:
        listener = StorageListener("PUSHTEST", port, bind="127.0.0.1")
        listener.push = PushReceiver(database, dirs, lambda s, peer: imported.append((s, peer)))
        with listener:
            token = CancelToken()
            cut = lambda done, total: done == 3 and token.cancel()  # noqa: E731
            with pytest.raises(Cancelled):  # an aborted push keeps nothing
                dimse.store(node, demo_study.files, progress=cut, cancel=token)
            assert database.series_paths(demo_study.series_uid) == []
            incoming = dirs.store / "incoming"
            deadline = time.monotonic() + 10  # the listener's thread sees the abort
            while any(incoming.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(incoming.iterdir())
            assert dimse.store(node, demo_study.files[:5]).sent == 5  # released: imported
            deadline = time.monotonic() + 30
            while not imported and time.monotonic() < deadline:
                time.sleep(0.05)
        assert imported and imported[0][0].instances_added == 5
        assert imported[0][1].startswith("MEDVIEW@127.0.0.1")
        assert len(database.series_paths(demo_study.series_uid)) == 5
    assert not any((dirs.store / "incoming").iterdir())
