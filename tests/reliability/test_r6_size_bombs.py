"""Issue 11, R6: size bombs are refused before anything is allocated.

The budget is :func:`medview.dicom.limits.memory_budget_bytes`: ``MEDVIEW_PIXEL_BUDGET_MB``,
else half the physical memory. The refusals are checked through ``medview info --load`` in a
child process whose own peak RSS (``os.wait4``) shows nothing was allocated for the claim.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from rel_bombs import claimed_bytes, deflate_bomb, native_bomb, rle_bomb
from rel_measure import run_measured, run_medview

from medview.core.errors import DicomLoadError
from medview.dicom import limits
from medview.dicom.header import read_header
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

from dicom_factory import write_slice

#: `python -m medview info` peaks at 55-115 MiB here; the claims below are 128 MiB to 56 GiB.
RSS_CEILING_MIB = 200


def _one_line_naming(stderr: str, path: Path, words: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("medview: error: ") and path.name in lines[0]
    assert words in lines[0] and "Traceback" not in stderr


def test_default_budget_is_half_the_physical_memory(monkeypatch):
    monkeypatch.delenv(limits.BUDGET_ENV, raising=False)
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert limits.memory_budget_bytes() == physical // 2
    monkeypatch.setenv(limits.BUDGET_ENV, "512")
    assert limits.memory_budget_bytes() == 512 << 20
    monkeypatch.setenv(limits.BUDGET_ENV, "not a number")  # a typo keeps the default limit
    assert limits.memory_budget_bytes() == physical // 2


@pytest.mark.parametrize("writer", [native_bomb, rle_bomb], ids=["native", "rle"])
def test_header_claiming_60_gb_is_refused_before_allocating(tmp_path, writer):
    rows = columns = 65535
    frames = 7
    assert claimed_bytes(rows, columns, frames, 16) > 60e9
    path = writer(tmp_path / "claims-60GB.dcm", rows=rows, columns=columns, frames=frames)
    assert path.stat().st_size < 4096
    run = run_medview("info", "--load", str(path))
    print(f"{writer.__name__}: exit {run.returncode}, peak RSS {run.peak_rss_mib:.0f} MiB")
    assert run.returncode == 1
    _one_line_naming(run.stderr, path, "memory budget")
    assert run.peak_rss_mib < RSS_CEILING_MIB


def test_volume_over_the_budget_is_refused_by_the_loader(tmp_path, monkeypatch):
    """Every file is small; only the stacked volume exceeds the budget: the loader refuses."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    for k in range(40):  # 40 x 128 x 128 int16 = 1.25 MiB
        write_slice(
            tmp_path / f"{k:03d}.dcm", position=(0.0, 0.0, 2.0 * k), index=k, rows=128,
            columns=128, series_uid=series, study_uid=study, frame_uid=frame,
        )  # fmt: skip
    monkeypatch.setenv(limits.BUDGET_ENV, "1")
    (candidate,) = group_series(scan_paths([tmp_path], workers=1).headers)[0].candidates
    with pytest.raises(DicomLoadError, match="memory budget") as caught:
        load_candidate(candidate, workers=1)
    assert caught.value.path is not None and caught.value.path.parent == tmp_path
    monkeypatch.setenv(limits.BUDGET_ENV, "2")
    assert load_candidate(candidate, workers=1).array.shape == (40, 128, 128)


def test_resampling_onto_a_km_long_grid_is_refused(tmp_path):
    """Header positions decide how many slices a gap-filling resample makes (R6)."""
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    positions = [float(k) for k in range(10)] + [1e9]  # one slice 1000 km away
    for k, z in enumerate(positions):
        write_slice(
            tmp_path / f"{k:03d}.dcm", position=(0.0, 0.0, z), index=k, series_uid=series,
            study_uid=study, frame_uid=frame,
        )  # fmt: skip
    candidates = group_series(scan_paths([tmp_path], workers=1).headers)[0].candidates
    regularized = [c for c in candidates if c.regularize]
    assert regularized, [c.warnings for c in candidates]
    with pytest.raises(DicomLoadError, match="memory budget"):
        load_candidate(regularized[0], workers=1)


def test_deflate_bomb_is_refused_in_bounded_memory(tmp_path):
    path = deflate_bomb(tmp_path / "bomb.dcm", rows=8192, columns=8192)
    inflated = claimed_bytes(8192, 8192, 1, 16)
    ratio = inflated / path.stat().st_size
    assert ratio > 10 * limits.MAX_DEFLATE_RATIO  # the stream really is a bomb (~1000x)
    with pytest.raises(DicomLoadError, match="decompression bomb"):
        read_header(path)
    run = run_medview("info", "--load", str(path))
    _one_line_naming(run.stderr, path, "expands more than 100x")
    # The same file through pydicom alone: it inflates the whole stream in memory.
    plain = run_measured(
        [sys.executable, "-c", f"import pydicom; pydicom.dcmread({str(path)!r})"], timeout=120
    )
    print(
        f"deflate bomb {path.stat().st_size} bytes -> {inflated >> 20} MiB ({ratio:.0f}x): "
        f"medview peak RSS {run.peak_rss_mib:.0f} MiB, pydicom.dcmread {plain.peak_rss_mib:.0f} MiB"
    )
    assert run.peak_rss_mib < RSS_CEILING_MIB
    assert plain.returncode == 0 and plain.peak_rss_mib > inflated / (1 << 20)


def test_deflate_bomb_behind_a_long_file_meta_is_refused(tmp_path):
    """The data set starts after a 200 KiB meta group: the check must still find it."""
    path = deflate_bomb(tmp_path / "padded.dcm", rows=4096, columns=4096, meta_padding=200_000)
    with pytest.raises(DicomLoadError, match="decompression bomb"):
        read_header(path)


def test_deflated_file_within_the_ratio_still_opens():
    """pydicom's own deflated CT (57x) is not a bomb: it loads."""
    path = Path(get_testdata_file("image_dfl.dcm"))
    limits.check_deflate(path)
    (candidate,) = group_series(scan_paths([path], workers=1).headers)[0].candidates
    volume = load_candidate(candidate, workers=1)
    assert volume.array.shape == (1, 512, 512) and np.ptp(volume.array) > 0
