"""Every file pydicom ships either loads through `medview info` or gets a specific reason.

Issue 2, "Done when": no traceback, no hang. Each file goes through the real CLI entry point
in-process (fast) with --load, so pixel decoding is exercised too. Issue 11, R1: none may take
2 s or more; each file's time is kept and the slowest are printed by the last test (``-s``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydicom.data import get_charset_files, get_palette_files, get_testdata_files

from medview.app import cli

ALL_FILES = sorted(
    {
        str(p)
        for p in get_testdata_files() + get_charset_files() + get_palette_files()
        if Path(p).is_file()
    }
)
#: Files that are not DICOM Part 10 or are known-broken: they must be refused with a reason.
MUST_REFUSE = {
    "no_meta.dcm": "not a DICOM Part 10 file",
    "ExplVR_BigEndNoMeta.dcm": "not a DICOM Part 10 file",
    "ExplVR_LitEndNoMeta.dcm": "not a DICOM Part 10 file",
    "meta_missing_tsyntax.dcm": "no Transfer Syntax UID",
    "README.txt": "not a DICOM Part 10 file",
}


#: Issue 11, R1: the most one file may take through `info --load` (in-process, warm).
MAX_SECONDS = 2.0
_SECONDS: dict[str, float] = {}


def test_corpus_is_the_one_the_issue_names():
    assert len(ALL_FILES) >= 176


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: Path(p).name)
def test_file_loads_or_is_refused_with_a_reason(path, capsys):
    started = time.perf_counter()
    code = cli.main(["info", "--json", "--load", path])
    elapsed = time.perf_counter() - started
    _SECONDS[path] = elapsed
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code != cli.EXIT_INTERNAL, err
    assert elapsed < MAX_SECONDS, f"{path} took {elapsed:.2f} s"
    name = Path(path).name
    if code == cli.EXIT_ERROR:
        # One line on stderr naming the file and the problem.
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("medview: error: ")
        assert name in lines[0]
        reason = lines[0].split(name, 1)[1]
        assert len(reason) > 5
        return
    assert name not in MUST_REFUSE, f"{name} should have been refused"
    report = json.loads(out)
    volumes = [
        volume
        for patient in report["patients"]
        for study in patient["studies"]
        for series in study["series"]
        for volume in series["volumes"]
    ]
    for volume in volumes:
        # Either it loaded (with a value range) or it says why not.
        assert ("value_range" in volume) != ("load_error" in volume)
        if "load_error" in volume:
            assert code == cli.EXIT_PARTIAL and name in volume["load_error"]


@pytest.mark.parametrize("name,reason", sorted(MUST_REFUSE.items()))
def test_known_bad_files_are_refused_specifically(name, reason, capsys):
    (path,) = [p for p in ALL_FILES if Path(p).name == name][:1]
    assert cli.main(["info", path]) == cli.EXIT_ERROR
    assert reason in capsys.readouterr().err


def test_zz_slowest_files_are_reported():
    """Runs after the per-file tests (pytest keeps file order): print the five slowest."""
    if not _SECONDS:
        pytest.skip("no corpus file ran in this session (deselected)")
    slowest = sorted(_SECONDS.items(), key=lambda item: item[1])[-5:]
    print(f"\nR1 corpus: {len(_SECONDS)} files, slowest:")
    for path, seconds in reversed(slowest):
        print(f"  {seconds:.3f} s  {Path(path).name}")
    assert slowest[-1][1] < MAX_SECONDS
