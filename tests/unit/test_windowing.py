"""Window presets: CT values and keys, the histogram window, the file's own presets."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.volume import Volume, VolumeMeta, WindowPreset
from medview.imaging.windowing import (
    CT_DEFAULT_WINDOW,
    CT_PRESETS,
    auto_window,
    available_presets,
    ct_preset,
    default_window,
    window_for,
)


def _volume(modality="CT", windows=(), array=None):
    array = np.zeros((4, 8, 8), np.int16) if array is None else array
    return Volume(array, (1.0, 1.0, 1.0), meta=VolumeMeta(modality=modality, windows=windows))


def test_ct_presets_have_the_usual_values_and_number_keys():
    windows = {p.name: p.window for p in CT_PRESETS}
    assert windows["lung"] == (-600.0, 1500.0)
    assert windows["mediastinum"] == (40.0, 400.0)
    assert windows["brain"] == (40.0, 80.0)
    assert windows["abdomen"] == (60.0, 400.0)
    assert windows["liver"] == (60.0, 160.0)
    assert windows["bone"] in ((400.0, 1800.0), (300.0, 1500.0))
    assert [p.key for p in CT_PRESETS] == ["1", "2", "3", "4", "5", "6"]
    assert ct_preset("1").name == "lung" and ct_preset("LIVER").key == "6"
    assert ct_preset("nonsense") is None


def test_auto_window_ignores_hot_voxels():
    rng = np.random.default_rng(0)
    array = rng.normal(300.0, 50.0, (20, 64, 64))
    array[0, 0, :10] = 1e6  # a few hot voxels must not flatten the picture
    center, width = auto_window(array)
    low, high = center - width / 2, center + width / 2
    assert 100 < low < 250 and 350 < high < 500
    assert auto_window(np.full((2, 2, 2), 7.0))[1] == 1.0  # flat image: still a usable width


def test_dicom_presets_come_first_and_are_found_by_name():
    preset = WindowPreset(center=50.0, width=350.0, name="SOFT")
    volume = _volume(windows=(preset,))
    assert default_window(volume) == (50.0, 350.0)
    assert window_for(volume, "soft") == (50.0, 350.0)
    names = [p.name for p in available_presets(volume)]
    assert names[:6] == [p.name for p in CT_PRESETS] and "SOFT" in names and names[-1] == "auto"


def test_defaults_and_unknown_names():
    assert default_window(_volume()) == CT_DEFAULT_WINDOW
    mr = _volume("MR", array=np.arange(1000, dtype=float).reshape(10, 10, 10))
    center, width = default_window(mr)
    assert 400 < center < 600 and width > 900
    assert [p.name for p in available_presets(mr)] == ["auto"]  # no CT presets on MR
    assert window_for(_volume(), "3") == (400.0, 1800.0)
    with pytest.raises(KeyError, match="lung"):
        window_for(_volume(), "nonsense")
