"""The local study database: SQLite (WAL), patient / study / series / instance.

Files are referenced where they are; the database only remembers where (issue 2). Importing
the same instance twice adds nothing: the SOP Instance UID is the key, and the first path
stays the reference.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from medview.core.errors import DatabaseError
from medview.dicom.header import InstanceHeader

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS patient (
    id INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL,
    patient_name TEXT NOT NULL,
    birth_date TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_id, patient_name)
);
CREATE TABLE IF NOT EXISTS study (
    study_uid TEXT PRIMARY KEY,
    patient_ref INTEGER NOT NULL REFERENCES patient(id),
    study_date TEXT NOT NULL DEFAULT '',
    study_time TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    accession_number TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS series (
    series_uid TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL REFERENCES study(study_uid),
    modality TEXT NOT NULL DEFAULT '',
    series_number INTEGER,
    description TEXT NOT NULL DEFAULT '',
    frame_of_reference_uid TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS instance (
    sop_instance_uid TEXT PRIMARY KEY,
    series_uid TEXT NOT NULL REFERENCES series(series_uid),
    sop_class_uid TEXT NOT NULL DEFAULT '',
    instance_number INTEGER,
    path TEXT NOT NULL,
    transfer_syntax_uid TEXT NOT NULL DEFAULT '',
    rows INTEGER NOT NULL DEFAULT 0,
    columns INTEGER NOT NULL DEFAULT 0,
    number_of_frames INTEGER NOT NULL DEFAULT 1,
    image_position TEXT,
    image_orientation TEXT,
    pixel_spacing TEXT,
    file_size INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instance_series ON instance(series_uid);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);
CREATE INDEX IF NOT EXISTS study_patient ON study(patient_ref);
CREATE INDEX IF NOT EXISTS patient_name_idx ON patient(patient_name);
"""


@dataclass(frozen=True)
class AddResult:
    new_instances: int
    known_instances: int
    new_series: int
    new_studies: int
    new_patients: int


class StudyDatabase:
    """Thread-safe access to the SQLite database at ``path`` (created on first use)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self._conn:
                self._conn.executescript(_SCHEMA)
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            version = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()[0]
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open the study database ({exc})", self.path) from exc
        if int(version) > SCHEMA_VERSION:
            raise DatabaseError(
                f"the study database was written by a newer medview (schema {version})", self.path
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StudyDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------
    def add(self, headers: Iterable[InstanceHeader]) -> AddResult:
        """Insert headers in one transaction; known SOP Instance UIDs are left as they are."""
        counts = {"instances": 0, "known": 0, "series": 0, "studies": 0, "patients": 0}
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._lock:
            try:
                with self._conn:
                    cursor = self._conn.cursor()
                    patient_cache: dict[tuple[str, str], int] = {}
                    known_series: set[str] = set()
                    known_studies: set[str] = set()
                    for header in headers:
                        self._add_one(
                            cursor, header, now, counts, patient_cache, known_series, known_studies
                        )
            except sqlite3.Error as exc:
                raise DatabaseError(
                    f"cannot write to the study database ({exc})", self.path
                ) from exc
        return AddResult(
            counts["instances"],
            counts["known"],
            counts["series"],
            counts["studies"],
            counts["patients"],
        )

    def _add_one(
        self,
        cursor,
        header: InstanceHeader,
        now,
        counts,
        patient_cache,
        known_series,
        known_studies,
    ) -> None:
        key = (header.patient_id, header.patient_name)
        patient_ref = patient_cache.get(key)
        if patient_ref is None:
            cursor.execute(
                "INSERT OR IGNORE INTO patient(patient_id, patient_name, birth_date, sex) VALUES (?,?,?,?)",
                (*key, header.patient_birth_date, header.patient_sex),
            )
            counts["patients"] += cursor.rowcount
            patient_ref = cursor.execute(
                "SELECT id FROM patient WHERE patient_id = ? AND patient_name = ?", key
            ).fetchone()[0]
            patient_cache[key] = patient_ref
        study_uid = header.study_uid or f"unknown-study:{header.patient_id}"
        if study_uid not in known_studies:
            cursor.execute(
                "INSERT OR IGNORE INTO study(study_uid, patient_ref, study_date, study_time, description, "
                "accession_number) VALUES (?,?,?,?,?,?)",
                (study_uid, patient_ref, header.study_date, header.study_time,
                 header.study_description, header.accession_number),
            )  # fmt: skip
            counts["studies"] += cursor.rowcount
            known_studies.add(study_uid)
        series_uid = header.series_uid or f"unknown-series:{study_uid}:{header.modality}"
        if series_uid not in known_series:
            cursor.execute(
                "INSERT OR IGNORE INTO series(series_uid, study_uid, modality, series_number, description, "
                "frame_of_reference_uid) VALUES (?,?,?,?,?,?)",
                (series_uid, study_uid, header.modality, header.series_number,
                 header.series_description, header.frame_of_reference_uid),
            )  # fmt: skip
            counts["series"] += cursor.rowcount
            known_series.add(series_uid)
        geo = header.geometry
        cursor.execute(
            "INSERT OR IGNORE INTO instance(sop_instance_uid, series_uid, sop_class_uid, instance_number, "
            "path, transfer_syntax_uid, rows, columns, number_of_frames, image_position, "
            "image_orientation, pixel_spacing, file_size, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (header.sop_instance_uid, series_uid, header.sop_class_uid, header.instance_number,
             header.path, header.transfer_syntax_uid, header.rows,
             header.columns, header.number_of_frames, _json(geo.position), _json(geo.orientation),
             _json(geo.pixel_spacing), header.file_size, now),
        )  # fmt: skip
        if cursor.rowcount:
            counts["instances"] += 1
        else:
            counts["known"] += 1

    # -- reading -------------------------------------------------------------------------
    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot read the study database ({exc})", self.path) from exc

    def counts(self) -> dict[str, int]:
        row = self._query(
            "SELECT (SELECT COUNT(*) FROM patient), (SELECT COUNT(*) FROM study), "
            "(SELECT COUNT(*) FROM series), (SELECT COUNT(*) FROM instance)"
        )[0]
        return {"patients": row[0], "studies": row[1], "series": row[2], "instances": row[3]}

    def tree(self, text: str = "") -> list[dict]:
        """Patients -> studies -> series with instance counts, optionally filtered by text.

        The filter matches patient name or ID, accession, study date or modality, as the
        study browser's search box does.
        """
        like = f"%{text}%"
        rows = self._query(
            """
            SELECT p.id AS pid, p.patient_id, p.patient_name, p.birth_date, p.sex,
                   st.study_uid, st.study_date, st.study_time, st.description AS study_description,
                   st.accession_number,
                   se.series_uid, se.modality, se.series_number, se.description AS series_description,
                   (SELECT COUNT(*) FROM instance i WHERE i.series_uid = se.series_uid) AS instances
            FROM patient p JOIN study st ON st.patient_ref = p.id
                 JOIN series se ON se.study_uid = st.study_uid
            WHERE ? = '' OR p.patient_name LIKE ? OR p.patient_id LIKE ? OR st.accession_number LIKE ?
                  OR st.study_date LIKE ? OR se.modality LIKE ?
            ORDER BY p.patient_name, p.patient_id, st.study_date, st.study_uid, se.series_number, se.series_uid
            """,
            (text, like, like, like, like, like),
        )
        patients: dict[int, dict] = {}
        for row in rows:
            patient = patients.setdefault(
                row["pid"],
                {"patient_id": row["patient_id"], "patient_name": row["patient_name"],
                 "birth_date": row["birth_date"], "sex": row["sex"], "studies": {}},
            )  # fmt: skip
            study = patient["studies"].setdefault(
                row["study_uid"],
                {"study_uid": row["study_uid"], "study_date": row["study_date"],
                 "study_time": row["study_time"], "description": row["study_description"],
                 "accession_number": row["accession_number"], "series": []},
            )  # fmt: skip
            study["series"].append(
                {"series_uid": row["series_uid"], "modality": row["modality"],
                 "series_number": row["series_number"], "description": row["series_description"],
                 "instances": row["instances"]}
            )  # fmt: skip
        result = []
        for patient in patients.values():
            patient["studies"] = list(patient["studies"].values())
            result.append(patient)
        return result

    def series_paths(self, series_uid: str) -> list[str]:
        rows = self._query(
            "SELECT path FROM instance WHERE series_uid = ? ORDER BY instance_number, path",
            (series_uid,),
        )
        return [row["path"] for row in rows]

    def study_instances(
        self, study_uid: str, sop_class_uids: Iterable[str] = ()
    ) -> list[dict[str, str]]:
        """Instances of a study (optionally only these SOP classes), e.g. its SR and SEG objects.

        Each is ``{"sop_instance_uid", "sop_class_uid", "series_uid", "modality",
        "frame_of_reference_uid", "path"}``; re-import (issue 8) reads the files to follow
        their references to the series on screen.
        """
        classes = list(dict.fromkeys(sop_class_uids))
        where = f" AND i.sop_class_uid IN ({','.join('?' * len(classes))})" if classes else ""
        rows = self._query(
            "SELECT i.sop_instance_uid, i.sop_class_uid, i.series_uid, se.modality, "
            "se.frame_of_reference_uid, i.path FROM instance i "
            "JOIN series se ON se.series_uid = i.series_uid "
            f"WHERE se.study_uid = ?{where} ORDER BY se.series_number, i.instance_number, i.path",
            (study_uid, *classes),
        )
        return [dict(row) for row in rows]


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(list(value))  # type: ignore[call-overload]
