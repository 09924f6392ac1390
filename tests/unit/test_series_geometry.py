"""Geometry checks on small generated series: sorting, splits, gaps, tilt, duplicates."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from pydicom.uid import generate_uid

from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

from dicom_factory import AXIAL, CORONAL, slice_pixels, write_series, write_slice


def examine(folder):
    groups = group_series(scan_paths([folder]).headers)
    assert len(groups) == 1
    return groups[0]


def axial_positions(zs):
    return [(-3.0, -2.5, float(z)) for z in zs]


def acquisition_index(volume, k):
    """Which written slice landed at k (pixels encode 100 * index + column)."""
    return int(round((float(volume.array[k, 0, 0]) + 1024) / 100))


def test_slices_sorted_by_position_not_instance_number_or_file_name(tmp_path):
    # Written in a shuffled z order with instance numbers counting the other way.
    zs = [5.0, -5.0, 0.0, 10.0, -10.0]
    write_series(tmp_path, axial_positions(zs))
    group = examine(tmp_path)
    (candidate,) = group.candidates
    assert candidate.warnings == ()
    volume = load_candidate(candidate)
    assert volume.shape == (5, 8, 10)
    order = [acquisition_index(volume, k) for k in range(5)]
    assert [zs[i] for i in order] == sorted(zs)
    assert volume.spacing == pytest.approx((0.6, 0.8, 5.0))
    assert volume.orientation == "LPS"
    # k=0 is the most inferior slice, and its LPS position is that slice's ImagePositionPatient.
    assert np.allclose(volume.index_to_lps((0, 0, 0)), (-3.0, -2.5, -10.0))
    assert np.allclose(volume.index_to_lps((0, 0, 4)), (-3.0, -2.5, 10.0))
    # The column ramp increases with i: the first voxel of a row is the ramp's start.
    assert volume.array[0, 0, 1] - volume.array[0, 0, 0] == 1


def test_modality_lut_gives_hounsfield_units_as_int16(tmp_path):
    write_series(tmp_path, axial_positions([0, 1, 2]), intercept=-1024, slope=1)
    volume = load_candidate(examine(tmp_path).candidates[0])
    assert volume.array.dtype == np.int16
    assert volume.meta.units == "HU"
    assert int(volume.array[0, 2, 3]) == int(slice_pixels(0, 8, 10)[2, 3]) - 1024


def test_fractional_rescale_uses_float32(tmp_path):
    write_series(tmp_path, axial_positions([0, 1]), intercept=-1000.5, slope=0.5)
    volume = load_candidate(examine(tmp_path).candidates[0])
    assert volume.array.dtype == np.float32
    assert volume.array[1, 0, 3] == pytest.approx((100 + 3) * 0.5 - 1000.5)


def test_coronal_series_geometry(tmp_path):
    # Coronal slices stacked along y (anterior to posterior); normal = row x col = (0, 1, 0).
    write_series(tmp_path, [(0.0, float(y), 50.0) for y in (2.0, 0.0, 4.0)], orientation=CORONAL)
    volume = load_candidate(examine(tmp_path).candidates[0])
    assert volume.plane == "coronal"
    assert volume.orientation == "LIP"
    assert np.allclose(volume.index_to_lps((0, 0, 2)), (0.0, 4.0, 50.0))
    # One row down (j) goes inferior by the row spacing.
    assert np.allclose(
        volume.index_to_lps((0, 1, 0)) - volume.index_to_lps((0, 0, 0)), (0, 0, -0.8)
    )


def test_mixed_orientations_are_split(tmp_path):
    ids = dict(series_uid=generate_uid(), study_uid=generate_uid(), frame_uid=generate_uid())
    write_series(tmp_path / "ax", axial_positions([0, 1, 2]), **ids)
    write_series(
        tmp_path / "co", [(0.0, float(y), 0.0) for y in (0, 1)], orientation=CORONAL, **ids
    )
    group = examine(tmp_path)
    assert len(group.candidates) == 2
    assert any("2 stacks" in w and "split" in w for w in group.warnings)
    assert sorted(c.plane for c in group.candidates) == ["axial", "coronal"]


def test_mixed_image_sizes_are_split(tmp_path):
    ids = dict(series_uid=generate_uid(), study_uid=generate_uid(), frame_uid=generate_uid())
    write_series(tmp_path / "a", axial_positions([0, 1, 2]), rows=8, columns=10, **ids)
    write_series(tmp_path / "b", axial_positions([3, 4]), rows=6, columns=6, **ids)
    group = examine(tmp_path)
    assert sorted(c.shape for c in group.candidates) == [(2, 6, 6), (3, 8, 10)]
    assert any("split" in w for w in group.warnings)


def test_missing_slices_reported_with_positions_and_interpolated(tmp_path):
    write_series(tmp_path, axial_positions([0, 2, 4, 10, 12]))  # 6 and 8 missing
    (candidate,) = examine(tmp_path).candidates
    (warning,) = candidate.warnings
    assert "2 missing slice(s)" in warning
    assert "4.00 to 10.00 mm" in warning
    assert "interpolated" in warning
    volume = load_candidate(candidate)
    assert volume.shape[0] == 7  # 0..12 every 2 mm
    assert np.allclose(volume.index_to_lps((0, 0, 6)), (-3.0, -2.5, 12.0))
    # The slice at 6 mm lies a third of the way from slice 2 (4 mm) to slice 3 (10 mm).
    expected = (2.0 * slice_pixels(2, 8, 10) + slice_pixels(3, 8, 10)) / 3.0 - 1024
    assert np.allclose(volume.array[3], np.rint(expected))
    assert "missing" in volume.meta.warnings[0]


def test_non_uniform_spacing_reported(tmp_path):
    write_series(tmp_path, axial_positions([0, 1, 2, 3.5, 4.5]))
    (candidate,) = examine(tmp_path).candidates
    (warning,) = candidate.warnings
    assert warning.startswith("non-uniform slice spacing")
    assert "2.00 to 3.50 mm" in warning
    assert load_candidate(candidate).shape[0] == 5


def test_gantry_tilt_detected_and_resampled(tmp_path):
    tilt = math.radians(15)
    ids = dict(series_uid=generate_uid(), study_uid=generate_uid(), frame_uid=generate_uid())
    rows = np.arange(8, dtype=np.uint16)[:, np.newaxis].repeat(10, axis=1)
    # Positions move along z and drift posterior (+y): axial planes, sheared stack.
    for k in range(4):
        write_slice(
            tmp_path / f"s{k}.dcm",
            position=(0.0, k * 2.0 * math.tan(tilt), k * 2.0),
            index=k,
            pixels=1000 + 10 * rows + 100 * k,
            **ids,
        )
    (candidate,) = examine(tmp_path).candidates
    assert any("gantry tilt of 15.0" in w for w in candidate.warnings)
    volume = load_candidate(candidate)
    assert volume.orientation == "LPS"
    # Regular grid: k steps straight up the normal from the first slice's position.
    assert np.allclose(volume.index_to_lps((0, 0, 3)) - volume.index_to_lps((0, 0, 0)), (0, 0, 6.0))
    # Grid row j of slice k samples that slice at row j - shift_k (rows vary linearly, so
    # bilinear interpolation is exact up to rounding to integer HU).
    for k in range(4):
        shift = k * 2.0 * math.tan(tilt) / 0.8
        for j in range(int(math.ceil(shift)), 8):
            expected = 1000 + 10 * (j - shift) + 100 * k - 1024
            assert volume.array[k, j, 5] == pytest.approx(expected, abs=0.51)


def test_duplicate_copy_of_same_instance_is_ignored(tmp_path):
    paths = write_series(tmp_path / "a", axial_positions([0, 1, 2]))
    (tmp_path / "copy").mkdir()
    shutil.copy(paths[1], tmp_path / "copy" / "same.dcm")
    group = examine(tmp_path)
    assert any("duplicate file" in w for w in group.warnings)
    assert group.candidates[0].shape[0] == 3


def test_duplicate_positions_split_by_acquisition(tmp_path):
    ids = dict(series_uid=generate_uid(), study_uid=generate_uid(), frame_uid=generate_uid())
    write_series(tmp_path / "a", axial_positions([0, 1, 2]), acquisition_number=1, **ids)
    write_series(tmp_path / "b", axial_positions([0, 1, 2]), acquisition_number=2, **ids)
    group = examine(tmp_path)
    assert len(group.candidates) == 2
    assert all("split by acquisition number" in c.warnings[0] for c in group.candidates)


def test_duplicate_positions_without_key_keep_first(tmp_path):
    ids = dict(series_uid=generate_uid(), study_uid=generate_uid(), frame_uid=generate_uid())
    write_series(tmp_path / "a", axial_positions([0, 1, 2]), **ids)
    write_slice(
        tmp_path / "b" / "dup.dcm", position=(-3.0, -2.5, 1.0), index=9, instance_number=99, **ids
    )
    (candidate,) = examine(tmp_path).candidates
    assert candidate.shape[0] == 3
    assert "share a position" in candidate.warnings[0]
    assert "1 mm" in candidate.warnings[0]
    volume = load_candidate(candidate)
    assert acquisition_index(volume, 1) == 1  # instance 2 kept, instance 99 dropped


def test_single_slice_uses_slice_thickness(tmp_path):
    write_series(tmp_path, [(0.0, 0.0, 7.0)], orientation=AXIAL)
    volume = load_candidate(examine(tmp_path).candidates[0])
    assert volume.shape == (1, 8, 10)
    assert volume.spacing[2] == 1.0


def test_file_removed_after_scan_is_a_load_error(tmp_path):
    from medview.core.errors import DicomLoadError

    paths = write_series(tmp_path, axial_positions([0, 1, 2]))
    (candidate,) = examine(tmp_path).candidates
    paths[1].unlink()
    with pytest.raises(DicomLoadError, match="cannot read pixel data"):
        load_candidate(candidate)


def test_load_and_scan_can_be_cancelled(tmp_path):
    from medview.core.errors import Cancelled
    from medview.dicom.scan import read_headers

    paths = write_series(tmp_path, axial_positions(range(12)))
    (candidate,) = examine(tmp_path).candidates
    calls = []

    def cancel_after_three():
        calls.append(1)
        if len(calls) > 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        load_candidate(candidate, cancel=cancel_after_three, workers=1)
    calls.clear()
    with pytest.raises(Cancelled):
        read_headers(paths * 100, workers=1, cancel=cancel_after_three)
    progress = []
    load_candidate(candidate, progress=progress.append)
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_preview_slice_is_the_middle_slice_at_its_position(tmp_path):
    from medview.dicom.loader import load_preview_slice

    write_series(tmp_path, axial_positions([0, 2, 4, 6, 8]))
    (candidate,) = examine(tmp_path).candidates
    full = load_candidate(candidate)
    preview = load_preview_slice(candidate)
    assert preview.shape == (1, 8, 10)
    assert np.array_equal(preview.array[0], full.array[2])
    assert np.allclose(preview.index_to_lps((3, 4, 0)), full.index_to_lps((3, 4, 2)))
    assert preview.meta.series_uid == full.meta.series_uid
