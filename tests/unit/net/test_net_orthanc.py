"""Against a real Orthanc on loopback: echo, find, get, move, store, DICOMweb, failures.

Skipped with a reason when the Orthanc binary is missing (CI installs the Debian package).
"""

from __future__ import annotations

import json
import logging

import pytest
from orthanc_server import PASSWORD, USER

from medview.core.paths import app_dirs
from medview.dicom.index import StudyDatabase
from medview.net import dimse, retrieve, web
from medview.net.errors import (
    AssociationRejectedError,
    AuthenticationError,
    NetworkError,
    TransferAbortedError,
)
from medview.net.inbox import Inbox
from medview.net.nodes import make_node
from medview.net.query import Query
from medview.net.scp import StorageListener


def _node(server, **extra):
    return make_node(
        ae_title=server.aet, host="127.0.0.1", port=server.dicom_port, timeout=10, **extra
    )


def _web(server, **auth):
    auth = auth or {"username": USER, "password": PASSWORD}
    return make_node(base_url=server.base_url, timeout=10, **auth)


def _counts():
    with StudyDatabase(app_dirs().ensure().database) as database:
        return database.counts()


def test_echo_and_rejected_called_aet(orthanc):
    assert dimse.echo(_node(orthanc)) < 5
    wrong = make_node(ae_title="NOT_ORTHANC", host="127.0.0.1", port=orthanc.dicom_port)
    with pytest.raises(AssociationRejectedError, match=r"NOT_ORTHANC@127\.0\.0\.1"):
        dimse.echo(wrong)


@pytest.mark.parametrize(
    "query",
    [
        Query(patient_name="Demo*"),
        Query(patient_name="d?mo^phantom"),  # Orthanc matches names case-insensitively
        Query(patient_id="MEDVIEW-DEMO-0"),
        Query(accession_number="DEMO00000000"),
        Query(study_date="20250101-20261231"),
        Query(modality="CT"),
    ],
)
def test_find_studies(orthanc, demo_study, query):
    found = dimse.find(_node(orthanc), query)
    assert [f["study_uid"] for f in found] == [demo_study.study_uid]
    assert found[0]["modalities"] == ["CT"] and found[0]["instance_count"] == 32


def test_find_excludes_what_does_not_match(orthanc):
    node = _node(orthanc)
    assert dimse.find(node, Query(patient_name="Nobody*")) == []
    assert dimse.find(node, Query(study_date="19900101-19901231")) == []
    assert dimse.find(node, Query(modality="MR")) == []


def test_find_series(orthanc, demo_study):
    found = dimse.find(_node(orthanc), Query(level="series", study_uid=demo_study.study_uid))
    assert [f["series_uid"] for f in found] == [demo_study.series_uid]
    assert found[0]["modality"] == "CT" and found[0]["series_number"] == 1


def test_get_imports_into_the_database_and_out(orthanc, demo_study, tmp_path):
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database:
        result = retrieve.get(
            _node(orthanc), demo_study.study_uid, database=database, dirs=dirs, out=tmp_path / "o"
        )
        assert result.received == 32 and result.imported.instances_added == 32
        assert database.counts()["instances"] == 32
        paths = database.series_paths(demo_study.series_uid)
    assert all(p.startswith(str(dirs.store)) for p in paths)  # the managed store
    assert len(list((tmp_path / "o").glob("*.dcm"))) == 32
    assert not any((dirs.store / "incoming").iterdir())


def test_move_to_medviews_storage_scp(orthanc, demo_study):
    dirs = app_dirs().ensure()
    listener = StorageListener(orthanc.scp_aet, orthanc.scp_port, bind="127.0.0.1")
    with StudyDatabase(dirs.database) as database:
        result = retrieve.move(
            _node(orthanc), demo_study.study_uid, demo_study.series_uid,
            listener=listener, database=database, dirs=dirs,
        )  # fmt: skip
        assert result.received == 32 and database.counts()["series"] == 1
    assert listener._server is None  # started on demand, stopped after


def test_move_to_an_unknown_destination_fails_clearly(orthanc, demo_study):
    listener = StorageListener("STRANGER", orthanc.scp_port, bind="127.0.0.1")
    with pytest.raises(NetworkError, match="knows 'STRANGER'"):
        retrieve.move(_node(orthanc), demo_study.study_uid, listener=listener)
    assert _counts()["instances"] == 0


def test_store_a_derived_series_back(orthanc, demo_study, tmp_path):
    from medview.dicom.writer import write_derived_series

    volume = _load_demo_volume(demo_study)
    derived = write_derived_series(volume, tmp_path / "derived", description="medview test")
    summary = dimse.store(_node(orthanc), [derived.directory])
    assert summary.sent == len(derived.files) and not summary.failed
    found = dimse.find(_node(orthanc), Query(level="series", study_uid=demo_study.study_uid))
    assert derived.series_uid in {f["series_uid"] for f in found}


def _load_demo_volume(demo_study):
    from medview.dicom.loader import load_candidate
    from medview.dicom.scan import scan_paths
    from medview.dicom.series import group_series

    headers = scan_paths([demo_study.directory]).headers
    return load_candidate(group_series(headers)[0].candidates[0])


def test_dicomweb_search_retrieve_store(dicomweb, demo_study, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    node = _web(dicomweb)
    studies = web.search(node, Query(patient_name="Demo*", modality="CT"))
    assert [s["study_uid"] for s in studies] == [demo_study.study_uid]
    series = web.search(node, Query(level="series", study_uid=demo_study.study_uid, modality="CT"))
    assert demo_study.series_uid in {s["series_uid"] for s in series}
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database:
        result = web.retrieve(node, series_uid=demo_study.series_uid, database=database, dirs=dirs)
    assert result.received == 32 and _counts()["instances"] == 32
    summary = web.store(node, [demo_study.files[0]])
    assert summary.sent == 1 and not summary.failed
    assert PASSWORD not in caplog.text


def test_dicomweb_wrong_password_and_bearer(dicomweb, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        web.search(_web(dicomweb, username=USER, password="wrong-pw-1"), Query())
    with pytest.raises(AuthenticationError):  # Orthanc has no bearer tokens: refused too
        web.search(_web(dicomweb, token="bearer-tok-2"), Query())
    assert "wrong-pw-1" not in caplog.text and "bearer-tok-2" not in caplog.text


def test_bearer_token_goes_in_the_header():
    session = web.make_session(make_node(base_url="https://h/dw", token="abc"))
    assert session.headers["Authorization"] == "Bearer abc" and session.auth is None
    session = web.make_session(make_node(base_url="https://h/dw", username="u", password="p"))
    assert session.auth == ("u", "p") and "Authorization" not in session.headers


def test_orthanc_killed_during_get(fresh_orthanc, demo_study, monkeypatch):
    """The peer dies mid-transfer: one clear error, nothing imported."""
    real_write = Inbox.write

    def write_then_kill(self, uid, encoded):
        path = real_write(self, uid, encoded)
        if self.count == 3:
            fresh_orthanc.kill()
        return path

    monkeypatch.setattr(Inbox, "write", write_then_kill)
    dirs = app_dirs().ensure()
    with StudyDatabase(dirs.database) as database, pytest.raises(TransferAbortedError) as info:
        retrieve.get(_node(fresh_orthanc), demo_study.study_uid, database=database, dirs=dirs)
    assert "nothing was imported" in str(info.value)
    assert _counts()["instances"] == 0


def test_cli_against_orthanc(orthanc, demo_study, pacs_cli, capsys, tmp_path, monkeypatch):
    dimse_flags = ["--host", "127.0.0.1", "--port", str(orthanc.dicom_port),
                   "--called-aet", orthanc.aet]  # fmt: skip
    assert pacs_cli("echo", *dimse_flags) == 0
    assert "answered C-ECHO" in capsys.readouterr().out
    assert pacs_cli("find", *dimse_flags, "--patient-name", "Demo*", "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["results"][0]["study_uid"] == demo_study.study_uid
    assert pacs_cli("find", *dimse_flags, "--level", "series", "--study", demo_study.study_uid) == 0
    assert demo_study.series_uid in capsys.readouterr().out
    code = pacs_cli(
        "get", *dimse_flags, "--series", demo_study.series_uid, "--out", str(tmp_path / "g")
    )
    assert code == 0 and "retrieved 32 instance(s)" in capsys.readouterr().out
    assert len(list((tmp_path / "g").iterdir())) == 32
    move = ["move", *dimse_flags, "--series", demo_study.series_uid, "--no-import",
            "--out", str(tmp_path / "m"), "--listen-aet", orthanc.scp_aet,
            "--listen-port", str(orthanc.scp_port), "--json"]  # fmt: skip
    assert pacs_cli(*move) == 0
    assert json.loads(capsys.readouterr().out)["received"] == 32
    assert pacs_cli("store", *dimse_flags, str(demo_study.files[0])) == 0
    assert "sent 1 file(s)" in capsys.readouterr().out
    monkeypatch.setenv("MEDVIEW_PACS_PASSWORD", PASSWORD)
    web_flags = ["--dicomweb", orthanc.base_url, "--user", USER]
    assert pacs_cli("find", *web_flags, "--json") == 0
    assert json.loads(capsys.readouterr().out)["results"]
    assert pacs_cli("get", *web_flags, "--series", demo_study.series_uid, "--json") == 0
    document = json.loads(capsys.readouterr().out)  # the earlier get imported them already
    assert document["received"] == 32 and document["import"]["instances_already_known"] == 32
    assert pacs_cli("store", *web_flags, str(demo_study.files[1])) == 0
    assert "sent 1 file(s)" in capsys.readouterr().out


def test_cli_node_from_settings(orthanc, pacs_cli, capsys):
    from medview.model.settings import settings_path

    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'[pacs.nodes.main]\nae_title = "{orthanc.aet}"\nhost = "127.0.0.1"\n'
        f"port = {orthanc.dicom_port}\n",
        encoding="utf-8",
    )
    assert pacs_cli("echo", "--node", "main") == 0
    assert "main (" in capsys.readouterr().out
    assert pacs_cli("echo", "--node", "other") == 1
    assert "known: main" in capsys.readouterr().err


def test_compressed_transfer_syntax_kept_both_ways(orthanc, demo_study, tmp_path):
    """An RLE Lossless instance goes to the PACS and comes back compressed (PS3.5 A.4.2)."""
    import pydicom
    from pydicom.uid import RLELossless, generate_uid

    ds = pydicom.dcmread(demo_study.files[5])
    ds.compress(RLELossless)
    ds.SeriesInstanceUID = series_uid = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    source = tmp_path / "rle.dcm"
    ds.save_as(source, enforce_file_format=True)
    assert dimse.store(_node(orthanc), [source]).sent == 1
    result = retrieve.get(_node(orthanc), demo_study.study_uid, series_uid, out=tmp_path / "o")
    assert result.received == 1 and result.imported is None
    received = pydicom.dcmread(next((tmp_path / "o").iterdir()))
    assert received.file_meta.TransferSyntaxUID == RLELossless
    assert (received.pixel_array == ds.pixel_array).all()
