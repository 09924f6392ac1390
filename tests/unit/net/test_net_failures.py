"""Every network failure ends in one clear NetworkError and leaves the database consistent.

These use small misbehaving peers (fake_pacs.py), so they run without Orthanc.
"""

from __future__ import annotations

import logging

import pytest
from fake_pacs import AET, FakePacs, SilentServer
from orthanc_server import free_port

from medview.core.errors import MedviewError
from medview.core.paths import app_dirs
from medview.dicom.index import StudyDatabase
from medview.net import dimse, retrieve, web
from medview.net.errors import (
    AssociationRejectedError,
    NetworkTimeoutError,
    PartialRetrieveError,
    PeerUnreachableError,
    TransferAbortedError,
)
from medview.net.nodes import make_node
from medview.net.query import Query


def _node(port: int, aet: str = AET, timeout: float = 2.0):
    return make_node(ae_title=aet, host="127.0.0.1", port=port, timeout=timeout)


def _assert_nothing_imported() -> None:
    dirs = app_dirs()
    with StudyDatabase(dirs.database) as database:
        assert database.counts()["instances"] == 0
    incoming = dirs.store / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


@pytest.fixture
def fake(demo_study):
    peers = []

    def make(mode: str, **kw):
        peer = FakePacs(demo_study.files[:4], mode, **kw)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.close()


def test_nothing_listening():
    node = _node(free_port())
    with pytest.raises(PeerUnreachableError, match=r"nothing is listening at 127\.0\.0\.1"):
        dimse.echo(node)
    assert issubclass(PeerUnreachableError, MedviewError)


def test_wrong_called_ae_title_is_rejected(fake):
    peer = fake("abort_after:0")
    assert dimse.echo(_node(peer.port)) >= 0
    with pytest.raises(AssociationRejectedError, match="called AE title not recognised"):
        dimse.echo(_node(peer.port, aet="NOT_THE_PACS"))


def test_association_timeout():
    server = SilentServer()
    try:
        with pytest.raises(NetworkTimeoutError, match="within 1 s"):
            dimse.echo(_node(server.port, timeout=1.0))
    finally:
        server.close()


def test_dimse_timeout_during_find(fake):
    peer = fake("slow_find", delay=3.0)
    with pytest.raises(NetworkTimeoutError, match="C-FIND"):
        dimse.find(_node(peer.port, timeout=1.0), Query())


def test_drop_mid_transfer_imports_nothing(fake, demo_study):
    peer = fake("abort_after:2")
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database, pytest.raises(TransferAbortedError) as info:
        retrieve.get(_node(peer.port), demo_study.study_uid, database=database, dirs=dirs)
    assert "2 instance(s)" in str(info.value) and "nothing was imported" in str(info.value)
    assert "\n" not in str(info.value)
    _assert_nothing_imported()


def test_partial_retrieve_imports_nothing(fake, demo_study, tmp_path):
    peer = fake("foreign_class")
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database, pytest.raises(PartialRetrieveError) as info:
        retrieve.get(
            _node(peer.port), demo_study.study_uid, database=database, dirs=dirs, out=tmp_path / "o"
        )
    assert info.value.received == 1 and info.value.failed == 1 and info.value.expected == 2
    assert "partial" in str(info.value)
    assert not (tmp_path / "o").exists()
    _assert_nothing_imported()


def test_dicomweb_unreachable_and_no_credentials_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    node = make_node(
        base_url=f"http://127.0.0.1:{free_port()}/dicom-web", username="u", password="pw-XYZ"
    )
    with pytest.raises(PeerUnreachableError, match="nothing is listening"):
        web.search(node, Query())
    assert "pw-XYZ" not in caplog.text


def test_cli_errors_are_one_line(pacs_cli, capsys):
    port = str(free_port())
    code = pacs_cli("echo", "--host", "127.0.0.1", "--port", port, "--called-aet", "X")
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "nothing is listening" in err
    assert pacs_cli("get", "--host", "127.0.0.1", "--port", port, "--called-aet", "X") == 1
    assert "--study" in capsys.readouterr().err
    assert pacs_cli("echo") == 1
    assert "--node NAME" in capsys.readouterr().err


def test_dicomweb_timeout():
    server = SilentServer()  # accepts the connection, never answers the HTTP request
    try:
        node = make_node(base_url=f"http://127.0.0.1:{server.port}/dicom-web", timeout=1)
        with pytest.raises(NetworkTimeoutError, match="within 1 s"):
            web.search(node, Query())
    finally:
        server.close()
