"""Issue 11, R3: mutation fuzzing of the whole load path, seeded from real files.

Each input is a real pydicom test file (13 seeds: explicit/implicit/big-endian native, JPEG,
JPEG-LS, JPEG 2000, RLE, deflate, RT Dose and enhanced multi-frame) with 1-8 mutations, half
of them aimed at the elements that size or route the decode (Rows, BitsAllocated,
NumberOfFrames, Transfer Syntax, Pixel Data and fragment lengths). It goes through what
``medview info --load`` does: scan and header, series grouping, pixel decode, Volume build.

Measured per input: no exception other than medview's own (MedviewError) escapes, every
refusal is one line naming the file, no input takes more than 5 s (a worker process with a
deadline, so a hang is caught and killed rather than assumed impossible: see rel_fuzzing.py),
and the workers' peak RSS stays under 512 MiB.

Normal run: 2,000 inputs (8 s on 2 idle cores, 30-36 s with the cores shared). Long
campaign, 20,000 inputs (201 s on 2 shared cores, 2026-11-26: 11,848 loaded, 8,152 refused,
0 escapes, hangs or crashes, peak worker RSS 253 MiB, slowest input 0.47 s)::

    .venv/bin/python -m pytest tests/reliability/test_r3_load_fuzz.py -m slow -s

Reproduce a finding: ``rel_fuzzing.mutate(rel_fuzzing.seeds(), SEED, INDEX)`` gives its bytes.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from rel_fuzzing import Campaign, run_campaign

from medview.core.errors import MedviewError
from medview.dicom.info import describe

DEADLINE_S = 5.0
FINDINGS_DIR = Path(__file__).with_name("findings")
RSS_LIMIT_MIB = 512


def _check(campaign: Campaign, count: int) -> None:
    slowest = ", ".join(f"#{i} {name} {s:.2f} s" for s, i, name in reversed(campaign.slowest))
    print(
        f"\nR3 fuzz: {campaign.inputs} inputs in {campaign.wall_seconds:.1f} s; outcomes "
        f"{campaign.outcomes}; peak worker RSS {campaign.peak_rss_kib / 1024:.0f} MiB; "
        f"worker restarts {campaign.worker_restarts}; slowest {slowest}"
    )
    report = "\n".join(
        f"#{f.index} ({f.seed_name}) {f.outcome} after {f.seconds:.2f} s: {f.detail}"
        for f in campaign.findings[:10]
    )
    assert campaign.inputs == count
    assert not campaign.findings, report
    assert set(campaign.outcomes) <= {"ok", "refused"}
    assert campaign.peak_rss_kib < RSS_LIMIT_MIB * 1024
    assert campaign.slowest[-1][0] < DEADLINE_S


def test_load_path_survives_2000_mutated_files(tmp_path):
    campaign = run_campaign(2_000, tmp_path, seed=11, deadline=DEADLINE_S)
    _check(campaign, 2_000)
    # A fuzzer that never reaches the decoder proves little: both outcomes must be common.
    assert campaign.outcomes.get("ok", 0) > 400 and campaign.outcomes.get("refused", 0) > 400


@pytest.mark.slow
def test_load_path_survives_20000_mutated_files(tmp_path):
    campaign = run_campaign(20_000, tmp_path, seed=20_000, deadline=DEADLINE_S)
    _check(campaign, 20_000)


def _rtdose_with_offsets(path, offsets):
    ds = pydicom.dcmread(get_testdata_file("rtdose.dcm"))
    ds.GridFrameOffsetVector = offsets
    ds.save_as(path)
    return path


#: What the fuzzer and its follow-up found, kept as fixed inputs.
FINDINGS = {
    # RLE fragment lengths that make the Rust decoder panic: PanicException derives from
    # BaseException and slipped past `except Exception` (fixed in medview/dicom/pixels.py).
    # (input 11/96 of the first campaign, MR_small_RLE.dcm mutated; stored as found).
    "rle-decoder-panic": lambda tmp: _copy(FINDINGS_DIR / "rle-decoder-panic.dcm", tmp),
    # RT Dose frames mostly at one offset: median step 0, then a division by zero while
    # describing the resampling (fixed in medview/dicom/series.py).
    "grid-offsets-all-zero": lambda tmp: _rtdose_with_offsets(tmp / "z.dcm", [0] * 14 + [5]),
    "grid-offsets-overflow": lambda tmp: _rtdose_with_offsets(
        tmp / "o.dcm", [0, 1e300] + [2e300] * 13
    ),
}


def _copy(source, folder):
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return target


@pytest.mark.parametrize("name", sorted(FINDINGS))
def test_fuzzer_findings_stay_fixed(name, tmp_path):
    path = FINDINGS[name](tmp_path)
    try:
        describe([path], load=True, workers=1)
    except MedviewError as exc:
        assert path.name in str(exc) and "\n" not in str(exc)
