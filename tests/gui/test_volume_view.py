"""The 3D view: CPU ray casting on software GL, presets, downsampling of big volumes."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from medview.imaging.downsample import downsample_mean
from medview.imaging.volume import Volume, VolumeMeta
from medview.view.volume_view import PRESETS, QtVolumeView

from gui_widgets import shown

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def _shared_view(qapp):
    yield from shown(QtVolumeView(), 400, 320)


@pytest.fixture
def view(_shared_view, qtbot):
    return _shared_view


def _bone_cube(shape=(40, 64, 64), spacing=(0.8, 1.0, 2.5)) -> Volume:
    array = np.full(shape, -1000, np.int16)
    nk, nj, ni = shape
    array[nk // 4 : 3 * nk // 4, nj // 4 : 3 * nj // 4, ni // 4 : 3 * ni // 4] = 1200
    return Volume(array, spacing, meta=VolumeMeta(modality="CT", units="HU"))


def test_renders_with_the_cpu_ray_caster_on_software_gl(view, qtbot):
    view.set_volume(_bone_cube())
    qtbot.waitUntil(lambda: view.is_ready, timeout=5000)
    # Xvfb gives Mesa's llvmpipe: the fixed-point CPU ray caster, named in the corner.
    assert view.mapper_name == "vtkFixedPointVolumeRayCastMapper"
    assert "vtkFixedPointVolumeRayCastMapper" in view.info_text()
    assert "Downsampled" not in view.info_text()
    rgb = view.grab_rgb()
    assert rgb[rgb.shape[0] // 2 - 20 : rgb.shape[0] // 2 + 20].mean() > 20  # not blank


def test_presets_change_the_picture(view, qtbot):
    view.set_volume(_bone_cube())
    qtbot.waitUntil(lambda: view.is_ready, timeout=5000)
    pictures = {}
    for name in PRESETS:
        view.set_preset(name)
        assert PRESETS[name][0] in view.info_text()
        pictures[name] = view.grab_rgb().astype(int)
    assert np.abs(pictures["mip"] - pictures["ct-bone"]).mean() > 1.0
    with pytest.raises(KeyError):
        view.set_preset("nonsense")


def test_big_volumes_are_reduced_on_a_worker_and_say_so(view, qtbot):
    volume = _bone_cube(shape=(20, 40, 300), spacing=(0.5, 1.0, 1.0))
    view.set_volume(volume)
    qtbot.waitUntil(lambda: view.is_ready, timeout=10_000)
    assert "Downsampled to 150 × 40 × 20 for 3D" in view.info_text()


def test_downsample_keeps_the_lps_geometry():
    direction = np.diag([-1.0, 1.0, 1.0])
    volume = Volume(np.arange(8 * 6 * 600, dtype=np.int16).reshape(8, 6, 600), (0.5, 1.0, 2.0),
                    (10.0, 20.0, 30.0), direction)  # fmt: skip
    small = downsample_mean(volume, 256)
    assert small.size_ijk == (200, 6, 8)
    # The first new voxel sits at the centre of the first 3-voxel block, in LPS.
    np.testing.assert_allclose(small.index_to_lps((0, 0, 0)), volume.index_to_lps((1, 0, 0)))
    assert small.array[0, 0, 0] == pytest.approx(volume.array[0, 0, :3].mean())
    assert downsample_mean(_bone_cube()) is not None


def test_render_window_is_freed_when_dropped_unclosed(qtbot):
    view = QtVolumeView()
    view.show()
    qtbot.waitExposed(view)
    view.set_volume(_bone_cube())
    deleted = []
    view.render_window.AddObserver("DeleteEvent", lambda *_: deleted.append(True))
    del view
    gc.collect()
    assert deleted == [True]


@pytest.mark.parametrize("orientation", ["LPS", "flip-i", "swap-ij-flip-k"])
def test_3d_is_seen_from_the_front_in_lps(view, qtbot, phantom, orientation):
    # Seen from the front, like the coronal view: the patient's left (the blob) on screen right.
    view.set_volume(phantom.make(phantom.directions[orientation]))
    qtbot.waitUntil(lambda: view.is_ready, timeout=5000)
    view.set_preset("mip")
    grey = view.grab_rgb().mean(axis=2)
    grey[: grey.shape[0] // 8] = 0  # ignore the corner texts
    grey[-grey.shape[0] // 8 :] = 0
    assert grey.max() > 120
    _rows, cols = np.nonzero(grey > 0.9 * grey.max())
    assert cols.size > 30
    assert cols.mean() > grey.shape[1] / 2 + 10
    view.set_preset("ct-bone")
