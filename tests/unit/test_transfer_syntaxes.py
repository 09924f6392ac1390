"""Compressed and unusual encodings decode to the same voxels as their uncompressed twins."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series

from dicom_factory import write_enhanced_ct


def load(name: str):
    (group,) = group_series(scan_paths([get_testdata_file(name)]).headers)
    return load_candidate(group.candidates[0])


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",  # RLE Lossless (pylibjpeg-rle)
        "MR_small_jp2klossless.dcm",  # JPEG 2000 Lossless (pylibjpeg-openjpeg)
        "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless
        "MR_small_bigendian.dcm",  # Explicit VR Big Endian (retired, still in archives)
        "MR_small_implicit.dcm",  # Implicit VR Little Endian
        "MR_small_expb.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_lossless_encodings_match_uncompressed(name):
    reference = load("MR_small.dcm")
    volume = load(name)
    assert volume.shape == reference.shape
    assert np.array_equal(volume.array, reference.array)
    assert np.allclose(volume.affine, reference.affine)


def test_deflated_file_decodes():
    volume = load("image_dfl.dcm")
    assert volume.shape[1:] == (512, 512)
    assert volume.array.std() > 0


def test_rgb_rle_16_bit_keeps_colour_in_8_bits():
    eight = load("SC_rgb_rle.dcm")
    sixteen = load("SC_rgb_rle_16bit.dcm")
    assert eight.is_color and sixteen.is_color and sixteen.array.dtype == np.uint8
    # Same picture: the 16-bit file repeats each 8-bit value in both bytes.
    assert np.abs(eight.array.astype(int) - sixteen.array.astype(int)).max() <= 1


def test_jpeg_baseline_colour_is_rgb():
    volume = load("SC_rgb_jpeg_dcmtk.dcm")
    assert volume.is_color and volume.array.shape[-1] == 3
    # The test image has a red band at the top: R well above G and B there.
    top = volume.array[0, 5, :, :].astype(int).mean(axis=0)
    assert top[0] > top[1] + 100 and top[0] > top[2] + 100


def test_monochrome1_is_flagged_for_inverted_display():
    volume = load("MR_small.dcm")
    assert volume.meta.invert_display is False
    # pydicom ships no MONOCHROME1 file; the flag is set from the header (PS3.3 C.7.6.3.1.2).
    from dataclasses import replace

    from medview.dicom import loader

    (group,) = group_series(scan_paths([get_testdata_file("MR_small.dcm")]).headers)
    candidate = group.candidates[0]
    header = replace(candidate.first, photometric="MONOCHROME1")
    flipped = replace(candidate, slices=(replace(candidate.slices[0], header=header),))
    assert loader.load_candidate(flipped).meta.invert_display is True


def test_enhanced_multiframe_frames_sorted_by_position(tmp_path):
    zs = [4.0, -2.0, 0.0, 2.0]
    path = write_enhanced_ct(tmp_path / "enh.dcm", zs)
    (group,) = group_series(scan_paths([path]).headers)
    (candidate,) = group.candidates
    volume = load_candidate(candidate)
    assert volume.shape == (4, 6, 7)
    assert volume.spacing == pytest.approx((0.25, 0.5, 2.0))
    assert np.allclose(volume.index_to_lps((0, 0, 0)), (1.0, 2.0, -2.0))
    # k order is z order: frames 1, 2, 3, 0 (stored value 100 * frame, then -1024 HU).
    assert [int(volume.array[k, 0, 0]) + 1024 for k in range(4)] == [100, 200, 300, 0]
    assert volume.meta.units == "HU"


def test_enhanced_multiframe_per_frame_rescale(tmp_path):
    path = write_enhanced_ct(tmp_path / "enh.dcm", [0.0, 1.0], slopes=[1.0, 0.5])
    (group,) = group_series(scan_paths([path]).headers)
    volume = load_candidate(group.candidates[0])
    assert volume.array.dtype == np.float32
    assert volume.array[1, 0, 4] == pytest.approx((100 + 4) * 0.5)
    assert volume.array[0, 0, 4] == pytest.approx(4)


def test_rt_dose_frames_use_grid_frame_offsets():
    volume = load("rtdose.dcm")
    assert volume.shape[0] == 15
    step = volume.index_to_lps((0, 0, 1)) - volume.index_to_lps((0, 0, 0))
    assert np.linalg.norm(step) == pytest.approx(abs(volume.spacing[2]))
