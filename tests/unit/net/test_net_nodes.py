"""Remote node settings: parsing, validation, and credentials kept out of text."""

from __future__ import annotations

import pytest

from medview.net.errors import NetworkError, NodeConfigError
from medview.net.nodes import Node, make_node, parse_nodes
from medview.net.query import Query, check_date_range


def test_parse_nodes_from_settings_tables():
    nodes = parse_nodes(
        {
            "main": {"ae_title": "PACS", "host": "pacs.local", "port": 104, "timeout": 5},
            "web": {"base_url": "https://pacs/dicom-web/", "token": "tok-123"},
        }
    )
    assert list(nodes) == ["main", "web"]
    assert nodes["main"] == Node("main", "PACS", "pacs.local", 104, timeout_s=5.0)
    assert nodes["main"].has_dimse and not nodes["main"].has_dicomweb
    assert nodes["web"].base_url == "https://pacs/dicom-web"
    assert parse_nodes(None) == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"ae_title": "PACS", "host": "h"}, "together"),
        ({"ae_title": "A" * 17, "host": "h", "port": 104}, "AE title"),
        ({"ae_title": "PA\\CS", "host": "h", "port": 104}, "AE title"),
        ({"ae_title": "PACS", "host": "h", "port": 70000}, "65535"),
        ({"ae_title": "PACS", "host": "h", "port": "x"}, "not a number"),
        ({"base_url": "ftp://h"}, "http"),
        ({"base_url": "https://u:p@h/dicom-web"}, "not in the URL"),
        ({"base_url": "https://h", "token": "t", "username": "u", "password": "p"}, "either"),
        ({"base_url": "https://h", "username": "u"}, "both"),
        ({"base_url": "https://h", "timeout": 0}, "positive"),
        ({"base_url": "https://h", "colour": "red"}, "unknown"),
        ({}, "give ae_title"),
    ],
)
def test_invalid_nodes_are_refused_with_their_name(values, message):
    with pytest.raises(NodeConfigError, match=message) as info:
        parse_nodes({"n1": values})
    assert "n1" in str(info.value)


def test_bad_node_names_and_tables():
    with pytest.raises(NodeConfigError, match="node name"):
        parse_nodes({"a b": {"base_url": "https://h"}})
    with pytest.raises(NodeConfigError, match="table"):
        parse_nodes({"a": "https://h"})


def test_credentials_never_in_repr_or_describe():
    node = make_node("w", base_url="https://h/dw", username="alice", password="hunter2")
    bearer = make_node("b", base_url="https://h/dw", token="sEcReT-token")
    for text in (repr(node), node.describe(), repr(bearer), bearer.describe()):
        assert "hunter2" not in text and "sEcReT" not in text
    assert node.describe() == "w (https://h/dw)"


def test_requiring_an_address_explains_what_is_missing():
    with pytest.raises(NodeConfigError, match="--called-aet"):
        make_node(base_url="https://h").require_dimse()
    with pytest.raises(NodeConfigError, match="--dicomweb"):
        make_node(ae_title="P", host="h", port=1).require_dicomweb()


def test_study_query_identifier_and_qido_filters():
    query = Query(patient_name="DOE^J*", patient_id="123", study_date="20200101-20201231",
                  modality="CT", accession_number="A1")  # fmt: skip
    ds = query.identifier()
    assert ds.QueryRetrieveLevel == "STUDY"
    assert ds.PatientName == "DOE^J*" and ds.ModalitiesInStudy == "CT"
    assert ds.StudyDate == "20200101-20201231"
    assert "StudyDescription" in ds and ds.StudyDescription == ""  # a return key
    assert query.qido_filters() == {
        "PatientName": "DOE^J*", "PatientID": "123", "StudyDate": "20200101-20201231",
        "AccessionNumber": "A1", "ModalitiesInStudy": "CT",
    }  # fmt: skip


def test_series_query_needs_a_study_or_series():
    with pytest.raises(NetworkError, match="--study"):
        Query(level="series")
    ds = Query(level="series", study_uid="1.2", modality="SR").identifier()
    assert ds.QueryRetrieveLevel == "SERIES" and ds.Modality == "SR"
    with pytest.raises(NetworkError, match="level"):
        Query(level="image")


@pytest.mark.parametrize("text", ["20200101", "20200101-20201231", "-20201231", "20200101-"])
def test_date_ranges(text):
    assert check_date_range(text) == text


@pytest.mark.parametrize("text", ["2020", "yesterday", "-", "2020010120201231"])
def test_bad_dates(text):
    with pytest.raises(NetworkError, match="YYYYMMDD"):
        check_date_range(text)


def test_cget_contexts_fit_one_association_and_offer_compression():
    from pydicom.uid import JPEG2000Lossless, RLELossless

    from medview.net.contexts import get_contexts

    contexts, roles = get_contexts()
    assert len(contexts) <= 128  # PS3.8 9.3.2.2: odd context IDs 1..255
    ct = [c.transfer_syntax for c in contexts if c.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"]
    assert [RLELossless] in ct and [JPEG2000Lossless] in ct
    assert {r.sop_class_uid for r in roles} == {c.abstract_syntax for c in contexts[1:]}
