"""Import into the SQLite study database: idempotence, order independence, charsets, inputs."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pytest
from pydicom.data import get_charset_files, get_testdata_file

from medview.app import cli
from medview.core.errors import NoDicomFoundError
from medview.core.paths import app_dirs
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase

from dicom_factory import write_series

# Names as their authors wrote them (PS3.5 6.1, Specific Character Set), one per test file.
EXPECTED_NAMES = {
    "chrArab.dcm": "قباني^لنزار",
    "chrFren.dcm": "Buc^Jérôme",
    "chrFrenMulti.dcm": "Buc^Jérôme",
    "chrGerm.dcm": "Äneas^Rüdiger",
    "chrGreek.dcm": "Διονυσιος",
    "chrH31.dcm": "Yamada^Tarou=山田^太郎=やまだ^たろう",
    "chrH32.dcm": "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
    "chrHbrw.dcm": "שרון^דבורה",
    "chrI2.dcm": "Hong^Gildong=洪^吉洞=홍^길동",
    "chrJapMulti.dcm": "やまだ^たろう",
    "chrJapMultiExplicitIR6.dcm": "やまだ^たろう",
    "chrKoreanMulti.dcm": "김희중",
    "chrRuss.dcm": "Люкceмбypг",
    "chrX1.dcm": "Wang^XiaoDong=王^小東",
    "chrX2.dcm": "Wang^XiaoDong=王^小东",
}


@pytest.fixture
def database(medview_home):
    with StudyDatabase(app_dirs().ensure().database) as db:
        yield db


def table_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return {
            t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("patient", "study", "series", "instance")
        }


def test_database_lives_under_medview_home(medview_home):
    assert app_dirs().database.is_relative_to(medview_home)


def test_reimport_adds_nothing_twice(tmp_path, database):
    write_series(tmp_path / "s", [(0, 0, z) for z in range(6)])
    first = import_paths([tmp_path / "s"], database)
    second = import_paths([tmp_path / "s"], database)
    assert (first.instances_added, first.instances_known) == (6, 0)
    assert (second.instances_added, second.instances_known) == (0, 6)
    assert table_counts(database.path) == {"patient": 1, "study": 1, "series": 1, "instance": 6}


def test_shuffled_order_and_duplicate_folder_give_the_same_database(tmp_path, medview_home):
    write_series(tmp_path / "orig", [(0, 0, z) for z in range(8)])
    files = sorted((tmp_path / "orig").iterdir())
    shuffled = files[:]
    random.Random(1).shuffle(shuffled)
    shutil.copytree(tmp_path / "orig", tmp_path / "copy")
    results = []
    for name, inputs in {"a": files, "b": [*shuffled, tmp_path / "copy"]}.items():
        with StudyDatabase(tmp_path / f"{name}.sqlite") as db:
            import_paths(inputs, db)
            tree = db.tree()
        results.append((table_counts(tmp_path / f"{name}.sqlite"), tree))
    assert results[0] == results[1]


def test_source_files_are_never_modified(tmp_path, database):
    paths = write_series(tmp_path / "s", [(0, 0, z) for z in range(3)])
    before = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    import_paths([tmp_path / "s"], database)
    assert before == {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in paths}
    assert sorted(os.listdir(tmp_path / "s")) == sorted(p.name for p in paths)


def test_copy_option_references_managed_store(tmp_path, database):
    write_series(tmp_path / "s", [(0, 0, z) for z in range(3)])
    import_paths([tmp_path / "s"], database, copy=True)
    (series,) = [s for p in database.tree() for st in p["studies"] for s in st["series"]]
    stored = database.series_paths(series["series_uid"])
    assert len(stored) == 3
    assert all(Path(p).is_relative_to(app_dirs().store) and Path(p).exists() for p in stored)


def test_zip_and_dicomdir_inputs(tmp_path, database):
    write_series(tmp_path / "s", [(0, 0, z) for z in range(4)])
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in (tmp_path / "s").iterdir():
            bundle.write(path, f"nested/{path.name}")
        bundle.writestr("../../escape.dcm", b"not allowed outside the store")
    summary = import_paths([archive], database)
    assert summary.instances_added == 4
    assert not (tmp_path / "escape.dcm").exists()
    dicomdir = Path(get_testdata_file("DICOMDIR"))
    summary = import_paths([dicomdir], database)
    assert summary.instances_added == 31 and summary.errors == []


def test_non_dicom_files_are_skipped_and_counted(tmp_path, database):
    write_series(tmp_path / "s", [(0, 0, z) for z in range(2)])
    (tmp_path / "s" / "notes.txt").write_text("hello")
    (tmp_path / "s" / "empty.bin").write_bytes(b"")
    summary = import_paths([tmp_path / "s"], database)
    assert (summary.instances_added, summary.skipped, summary.errors) == (2, 2, [])


def test_folder_without_dicom_is_a_clear_error(tmp_path, database):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(NoDicomFoundError, match="no DICOM files found"):
        import_paths([tmp_path], database)


def test_every_character_set_is_stored_as_written(database, capsys):
    files = [f for f in get_charset_files() if Path(f).name in EXPECTED_NAMES]
    assert len(files) == len(EXPECTED_NAMES)
    import_paths(files, database)
    stored = {p["patient_name"] for p in database.tree()}
    assert set(EXPECTED_NAMES.values()) <= stored
    # And through the CLI's JSON output, unescaped.
    assert cli.main(["studies", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    names = {p["patient_name"] for p in document["patients"]}
    assert "Yamada^Tarou=山田^太郎=やまだ^たろう" in names
    assert not any("\ufffd" in n or "\x1b" in n for n in names)


def test_tree_filter_matches_name_id_and_modality(tmp_path, database):
    write_series(tmp_path / "s", [(0, 0, z) for z in range(2)], patient_name="Filter^Me")
    import_paths([tmp_path / "s"], database)
    assert [p["patient_name"] for p in database.tree("Filter")] == ["Filter^Me"]
    assert database.tree("CT") and not database.tree("MR")
    assert database.tree("GEOM-1")


def test_dicomdir_reference_outside_its_folder_is_refused(tmp_path, database):
    import pydicom

    source = Path(get_testdata_file("DICOMDIR")).parent
    shutil.copytree(source, tmp_path / "media")
    outside = write_series(tmp_path / "elsewhere", [(0.0, 0.0, 0.0)], patient_name="Outside^Root")[
        0
    ]
    dicomdir = pydicom.dcmread(tmp_path / "media" / "DICOMDIR")
    image_records = [r for r in dicomdir.DirectoryRecordSequence if "ReferencedFileID" in r]
    with warnings.catch_warnings():  # lower-case IDs are invalid CS: that is the attack
        warnings.simplefilter("ignore")
        image_records[0].ReferencedFileID = ["..", "elsewhere", outside.name]
        dicomdir.save_as(tmp_path / "media" / "DICOMDIR")
    summary = import_paths([tmp_path / "media" / "DICOMDIR"], database)
    assert summary.instances_added == len(image_records) - 1
    assert "Outside^Root" not in {p["patient_name"] for p in database.tree()}
