"""C-GET speed: medview against dcmtk's getscu, from the same Orthanc in the same run (issue 9).

Run with: ``.venv/bin/python -m pytest tests/benchmarks/test_pacs_speed.py -m benchmark -s``

Both retrieve the 300-slice 512×512 demo study (about 150 MB) from a local Orthanc over
loopback into a folder. Prints seconds, MB/s and the throughput ratio; never asserts a time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from medview.core.paths import app_dirs
from medview.dicom.demo import write_demo_study
from medview.dicom.index import StudyDatabase
from medview.net import retrieve
from medview.net.nodes import make_node

pytestmark = pytest.mark.benchmark

SIZE, SLICES, REPEATS = 512, 300, 2


def _megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def _getscu(getscu: str, server, study_uid: str, out: Path, pdu: int = 0) -> float:
    out.mkdir()
    command = [
        getscu, "-S", "-aet", "MEDVIEW", "-aec", server.aet, "-od", str(out),
        *(["-pdu", str(pdu)] if pdu else []),
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}",
        "127.0.0.1", str(server.dicom_port),
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    seconds = time.perf_counter() - started
    assert len(list(out.iterdir())) == SLICES
    return seconds


def test_cget_medview_vs_getscu(tmp_path):
    from unit.net.orthanc_server import ORTHANC, start_orthanc

    getscu = shutil.which("getscu")
    if ORTHANC is None or getscu is None:
        pytest.skip("needs the orthanc and dcmtk Debian packages (Orthanc, getscu)")
    study = write_demo_study(tmp_path / "ct", seed=7, size=SIZE, slices=SLICES)
    server = start_orthanc(tmp_path / "orthanc")
    try:
        started = time.perf_counter()
        server.upload(study.files)
        print(
            f"\nuploaded {len(study.files)} files to Orthanc in {time.perf_counter() - started:.1f} s"
        )
        node = make_node(ae_title=server.aet, host="127.0.0.1", port=server.dicom_port, timeout=60)
        medview_s, getscu_s, getscu_big_s, import_s = [], [], [], []
        size_mb = 0.0
        for run in range(REPEATS):
            out = tmp_path / f"medview{run}"
            started = time.perf_counter()
            result = retrieve.get(node, study.study_uid, out=out)
            medview_s.append(time.perf_counter() - started)
            assert result.received == SLICES
            size_mb = _megabytes(out)

            getscu_s.append(_getscu(getscu, server, study.study_uid, tmp_path / f"getscu{run}"))
            # getscu's default maximum PDU is 16 KiB, medview's 1 MiB: dcmtk's largest
            # (128 KiB) shows how much of the difference is the PDU size.
            big = tmp_path / f"getscu_pdu{run}"
            getscu_big_s.append(_getscu(getscu, server, study.study_uid, big, pdu=131072))

        dirs = app_dirs().ensure()
        with StudyDatabase(dirs.database) as database:
            started = time.perf_counter()
            retrieve.get(node, study.study_uid, database=database, dirs=dirs)
            import_s.append(time.perf_counter() - started)
    finally:
        server.stop()
    best_m, best_g = min(medview_s), min(getscu_s)
    print(f"C-GET of {SLICES} slices {SIZE}x{SIZE} ({size_mb:.0f} MB) from Orthanc on loopback:")
    print(f"  medview retrieve.get -> folder: {best_m:.2f} s ({size_mb / best_m:.0f} MB/s)")
    print(f"  dcmtk getscu         -> folder: {best_g:.2f} s ({size_mb / best_g:.0f} MB/s)")
    best_b = min(getscu_big_s)
    print(f"  dcmtk getscu -pdu 131072 -> folder: {best_b:.2f} s ({size_mb / best_b:.0f} MB/s)")
    print(f"  throughput medview / getscu: {best_g / best_m:.2f}x (with -pdu 131072: "
          f"{best_b / best_m:.2f}x)")  # fmt: skip
    print(f"  medview C-GET + import into the database and store: {import_s[0]:.2f} s")
