"""Loading speed and memory against baselines measured in the same run (issue 2).

Run with: ``.venv/bin/python -m pytest tests/benchmarks -m benchmark -s``

Prints figures and ratios; it never asserts a wall-clock time (timings depend on the machine).
What it asserts is that each method produced the same voxels, so the figures compare equals.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
import pytest

from medview.dicom.demo import write_demo_study
from medview.dicom.importer import import_paths
from medview.dicom.index import StudyDatabase
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

pytestmark = pytest.mark.benchmark

SIZE, SLICES = 512, 300


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "ct"
    write_demo_study(folder, seed=7, size=SIZE, slices=SLICES)
    return folder


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix == ".dcm")


def best_of(function, repeats: int = 3):
    """Best wall time of ``repeats`` runs (the warm-cache figure) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def peak_bytes(function) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def read_bytes(files: list[Path]) -> int:
    total = 0
    for path in files:
        with open(path, "rb") as handle:
            total += len(handle.read())
    return total


def read_bytes_uncached(files: list[Path]) -> int | None:
    """Read every byte bypassing the page cache (O_DIRECT): the cold-read baseline.

    Dropping the page cache is not allowed in this sandbox (drop_caches and fadvise have no
    effect), so the device read is measured with O_DIRECT instead. None where unsupported.
    """
    import mmap

    flag = getattr(os, "O_DIRECT", None)
    if flag is None:
        return None
    buffer = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT requires
    total = 0
    try:
        for path in files:
            fd = os.open(path, os.O_RDONLY | flag)
            try:
                while (count := os.readv(fd, [buffer])) > 0:
                    total += count
            finally:
                os.close(fd)
    except OSError:
        return None
    return total


def read_bytes_two_threads(files: list[Path]) -> int:
    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(lambda p: len(p.read_bytes()), files))


def plain_pydicom_loop(folder: Path) -> np.ndarray:
    """What a script would do: read every file, sort by z, stack, rescale in float."""
    datasets = [pydicom.dcmread(p) for p in dicom_files(folder)]
    datasets.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    stack = np.stack([ds.pixel_array for ds in datasets])
    return stack * float(datasets[0].RescaleSlope) + float(datasets[0].RescaleIntercept)


def medview_load(folder: Path):
    scan = scan_paths([folder])
    (group,) = group_series(scan.headers)
    return load_candidate(group.candidates[0])


def test_uncompressed_ct_load(ct_series: Path):
    files = dicom_files(ct_series)
    int16_bytes = SIZE * SIZE * SLICES * 2
    read_bytes(files)  # warm the page cache: every method below reads warm files
    t_bytes, _, _ = best_of(lambda: read_bytes(files))
    t_bytes2, _, _ = best_of(lambda: read_bytes_two_threads(files))
    t_cold, _, cold_bytes = best_of(lambda: read_bytes_uncached(files))
    t_medview, t_medview_med, volume = best_of(lambda: medview_load(ct_series))
    t_plain, _, reference = best_of(lambda: plain_pydicom_loop(ct_series), repeats=2)
    assert np.array_equal(volume.array, reference.astype(np.int16))
    assert volume.array.dtype == np.int16
    peak_medview = peak_bytes(lambda: medview_load(ct_series))
    peak_plain = peak_bytes(lambda: plain_pydicom_loop(ct_series))
    print()
    print(
        f"series: {SLICES} x {SIZE} x {SIZE} uncompressed CT, {int16_bytes / 2**20:.0f} MiB as int16, {os.cpu_count()} CPUs"
    )
    print(f"plain read of the bytes (warm, 1 thread):   {t_bytes:.3f} s")
    print(f"plain read of the bytes (warm, 2 threads):  {t_bytes2:.3f} s")
    print(
        f"medview scan + decode + stack:              {t_medview:.3f} s (median {t_medview_med:.3f} s)"
    )
    print(f"plain single-threaded pydicom loop:         {t_plain:.3f} s")
    if cold_bytes:
        print(f"cold read of the bytes (O_DIRECT, 1 thread): {t_cold:.3f} s")
        print(f"ratio medview / cold read of the bytes:     {t_medview / t_cold:.2f}x (goal <= 2x)")
    print(f"ratio medview / warm read of the bytes:     {t_medview / t_bytes:.2f}x")
    print(f"ratio medview / pydicom loop:               {t_medview / t_plain:.2f}x (goal < 1x)")
    print(
        f"peak memory medview / int16 series size:    {peak_medview / int16_bytes:.2f}x (goal <= 3.5x)"
    )
    print(f"peak memory pydicom loop / int16 size:      {peak_plain / int16_bytes:.2f}x")


def _compressed_copy(source: Path, target: Path, syntax, count: int) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in dicom_files(source)[:count]:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        ds.save_as(target / path.name, enforce_file_format=True)
    return target


@pytest.mark.parametrize("syntax_name", ["JPEG2000Lossless", "RLELossless"])
def test_compressed_ct_load(ct_series: Path, tmp_path: Path, syntax_name: str):
    syntax = getattr(pydicom.uid, syntax_name)
    folder = _compressed_copy(ct_series, tmp_path / syntax_name, syntax, 60)
    scan = scan_paths([folder])
    (group,) = group_series(scan.headers)
    candidate = group.candidates[0]
    t_serial, _, serial = best_of(lambda: load_candidate(candidate, workers=1), repeats=2)
    t_pool, _, pooled = best_of(lambda: load_candidate(candidate), repeats=2)
    assert np.array_equal(serial.array, pooled.array)
    print()
    print(f"{syntax_name}: 60 slices of {SIZE}x{SIZE}")
    print(f"  one process:      {t_serial:.3f} s ({1000 * t_serial / 60:.1f} ms/slice)")
    print(
        f"  worker processes: {t_pool:.3f} s ({1000 * t_pool / 60:.1f} ms/slice), speed-up {t_serial / t_pool:.2f}x"
    )


def test_header_indexing_3000_files(tmp_path: Path):
    roots = []
    for seed in range(10):
        roots.append(
            write_demo_study(tmp_path / f"s{seed}", seed=seed, size=64, slices=300).directory
        )
    files = [p for root in roots for p in dicom_files(root)]
    assert len(files) == 3000
    read_bytes(files)

    def index_once(name: str):
        db_path = tmp_path / f"{name}.sqlite"
        with StudyDatabase(db_path) as database:
            summary = import_paths(roots, database)
        db_path.unlink()
        shutil.rmtree(tmp_path / "store", ignore_errors=True)
        return summary

    t_index, t_median, summary = best_of(lambda: index_once("bench"))
    assert summary.instances_added == 3000
    t_headers, _, _ = best_of(lambda: scan_paths(roots))
    print()
    print(
        f"header indexing of 3000 files into a new database (warm): {t_index:.3f} s (median {t_median:.3f} s; goal < 2 s)"
    )
    print(f"  of which header scan alone:                             {t_headers:.3f} s")
