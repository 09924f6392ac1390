"""The synthetic chest phantom: determinism, orientation (through LPS helpers) and nodule truth.

Orientation is checked with the phantom's deliberate asymmetry: the heart and the descending
aorta lie on the patient's left (+x), the liver dome on the right (-x), the sternum anterior
(-y) and the spine posterior (+y). Every position goes through the Volume's LPS helpers.
"""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.phantom import NoduleTruth, PhantomSpec, make_phantom
from medview.imaging.volume import Volume

SMALL = {"size": 128, "slices": 64}
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def phantoms() -> dict[int, tuple[Volume, list[NoduleTruth]]]:
    return {seed: make_phantom(PhantomSpec(**SMALL, seed=seed)) for seed in SEEDS}


@pytest.fixture(scope="module")
def medium() -> tuple[Volume, list[NoduleTruth]]:
    """Finer grid (1.9 x 1.9 x 2.5 mm) for checks on small nodules."""
    return make_phantom(PhantomSpec(size=192, slices=120, seed=0))


def mean_hu(volume: Volume, lps, radius_mm: float = 0.0) -> float:
    """Mean HU of the voxels whose centres lie within ``radius_mm`` of an LPS point."""
    centre = np.rint(volume.lps_to_zyx(np.asarray(lps, float))).astype(int)
    reach = np.ceil(radius_mm / np.asarray(volume.spacing[::-1])).astype(int)
    offsets = np.stack(
        np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij"), -1
    ).reshape(-1, 3)
    zyx = np.clip(centre + offsets, 0, np.asarray(volume.shape) - 1)
    dist = np.linalg.norm(volume.zyx_to_lps(zyx) - np.asarray(lps, float), axis=1)
    chosen = zyx[(dist <= radius_mm) | (np.abs(offsets).sum(1) == 0)]
    return float(volume.array[tuple(chosen.T)].mean())


def mirrored(lps, axis: int) -> tuple[float, float, float]:
    point = list(lps)
    point[axis] = -point[axis]
    return tuple(point)


def landmark(volume: Volume, name: str) -> tuple[float, float, float]:
    return tuple(volume.meta.extra["landmarks_lps"][name])


# -- grid and determinism -----------------------------------------------------------------------


def test_spec_defaults_and_validation():
    assert PhantomSpec().spacing == (360 / 512, 360 / 512, 1.0)
    assert PhantomSpec(size=128, slices=64).spacing == (2.8125, 2.8125, 300 / 64)
    assert PhantomSpec(size=64, pixel_spacing=0.5, slice_spacing=2.0).spacing == (0.5, 0.5, 2.0)
    with pytest.raises(ValueError):
        PhantomSpec(size=4)
    with pytest.raises(ValueError):
        PhantomSpec(slice_spacing=-1.0)
    with pytest.raises(ValueError):
        PhantomSpec(noise_hu=-1.0)


def test_volume_is_an_axial_lps_ct_centred_on_the_patient(phantoms):
    volume, _ = phantoms[0]
    assert volume.shape == (64, 128, 128)
    assert volume.array.dtype == np.int16
    assert volume.orientation == "LPS"
    assert volume.plane == "axial"
    np.testing.assert_array_equal(volume.direction, np.eye(3))
    centre = volume.index_to_lps(np.asarray(volume.size_ijk, float) / 2 - 0.5)
    np.testing.assert_allclose(centre, 0.0, atol=1e-9)
    assert volume.meta.modality == "CT"
    assert volume.meta.units == "HU"
    assert volume.meta.extra["synthetic"] is True
    assert {w.name for w in volume.meta.windows} == {"Mediastinum", "Lung"}
    assert volume.array.min() >= -1024 and volume.array.max() <= 3071
    assert mean_hu(volume, (-175.0, -175.0, 0.0), 5.0) < -950  # air outside the body
    # k increases superiorly: the last slice is the most superior one.
    assert volume.index_to_lps((0, 0, 63))[2] > volume.index_to_lps((0, 0, 0))[2]


def test_same_seed_gives_the_same_phantom(phantoms):
    volume, truths = phantoms[0]
    again, again_truths = make_phantom(PhantomSpec(**SMALL, seed=0))
    np.testing.assert_array_equal(again.array, volume.array)
    assert again_truths == truths
    assert again.meta.extra["landmarks_lps"] == volume.meta.extra["landmarks_lps"]


def test_different_seeds_give_different_anatomy(phantoms):
    (a, truths_a), (b, truths_b) = phantoms[0], phantoms[1]
    diff = np.abs(a.array.astype(np.int32) - b.array.astype(np.int32))
    assert diff.mean() > 10.0
    assert truths_a != truths_b
    assert a.meta.extra["landmarks_lps"] != b.meta.extra["landmarks_lps"]


def test_anatomy_is_the_same_on_a_finer_grid(phantoms, medium):
    """Defined in mm: the grid changes the sampling, not the patient."""
    coarse, coarse_truths = phantoms[0]
    fine, fine_truths = medium
    assert fine_truths == coarse_truths
    assert fine.meta.extra["landmarks_lps"] == coarse.meta.extra["landmarks_lps"]
    heart = landmark(fine, "heart_center")
    assert abs(mean_hu(fine, heart, 6.0) - mean_hu(coarse, heart, 6.0)) < 30.0


# -- orientation through the deliberate asymmetry -----------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_heart_is_on_the_patients_left(phantoms, seed):
    volume, _ = phantoms[seed]
    heart = landmark(volume, "heart_center")
    assert heart[0] > 0  # +x is the patient's left in LPS
    assert 0.0 < mean_hu(volume, heart, 8.0) < 90.0
    assert mean_hu(volume, mirrored(heart, 0), 8.0) < -500.0  # the right lung


@pytest.mark.parametrize("seed", SEEDS)
def test_liver_dome_is_on_the_right_under_the_higher_hemidiaphragm(phantoms, seed):
    volume, _ = phantoms[seed]
    liver = landmark(volume, "liver_dome")
    assert liver[0] < 0
    assert 30.0 < mean_hu(volume, liver, 6.0) < 90.0
    assert mean_hu(volume, mirrored(liver, 0), 6.0) < -500.0  # left lung above a lower dome
    # Lower down, both sides are abdomen: the right is still liver.
    below = (liver[0], liver[1], liver[2] - 40.0)
    assert 30.0 < mean_hu(volume, below, 6.0) < 90.0


@pytest.mark.parametrize("seed", SEEDS)
def test_descending_aorta_is_left_of_the_spine(phantoms, seed):
    volume, _ = phantoms[seed]
    aorta = landmark(volume, "descending_aorta")
    assert aorta[0] > 0
    assert 0.0 < mean_hu(volume, aorta, 5.0) < 90.0
    assert mean_hu(volume, mirrored(aorta, 0), 5.0) < -500.0


@pytest.mark.parametrize("seed", SEEDS)
def test_spine_is_posterior_and_sternum_anterior(phantoms, seed):
    volume, _ = phantoms[seed]
    spine = landmark(volume, "vertebral_body")
    sternum = landmark(volume, "sternum")
    assert spine[1] > 0 > sternum[1]  # +y is posterior in LPS
    assert mean_hu(volume, spine, 5.0) > 150.0
    assert mean_hu(volume, mirrored(spine, 1), 5.0) < 100.0  # anterior mediastinum
    assert mean_hu(volume, sternum, 3.0) > 150.0


def test_trachea_is_air(phantoms):
    volume, _ = phantoms[0]
    assert mean_hu(volume, landmark(volume, "trachea"), 2.0) < -700.0


# -- nodules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_nodule_truth_is_consistent(phantoms, seed):
    _, truths = phantoms[seed]
    assert 4 <= len(truths) <= 8
    assert {t.kind for t in truths} == {"solid", "part-solid", "ground-glass", "juxtapleural"}
    assert [t.id for t in truths] == list(range(1, len(truths) + 1))
    for t in truths:
        assert t.side == ("right" if t.center_lps[0] < 0 else "left")
        assert t.volume_mm3 == pytest.approx(np.pi / 6 * t.diameter_mm**3, rel=1e-3)
        if t.kind == "ground-glass":
            assert t.solid_core_diameter_mm is None
        elif t.kind == "part-solid":
            assert 0 < t.solid_core_diameter_mm < t.diameter_mm
        else:
            assert t.solid_core_diameter_mm == pytest.approx(t.diameter_mm)
    for i, a in enumerate(truths):
        for b in truths[i + 1 :]:
            gap = np.linalg.norm(np.subtract(a.center_lps, b.center_lps))
            assert gap > (a.diameter_mm + b.diameter_mm) / 2


def test_nodule_centres_have_the_right_density(medium):
    volume, truths = medium
    resolvable = 3.0 * max(volume.spacing)
    checked = 0
    for t in truths:
        solid_mm = t.solid_core_diameter_mm or 0.0  # the whole nodule or its solid core
        if t.kind != "ground-glass" and solid_mm >= resolvable:
            assert mean_hu(volume, t.center_lps) > -100.0, t
            checked += 1
        elif t.kind == "ground-glass" and t.diameter_mm >= resolvable:
            assert -750.0 < mean_hu(volume, t.center_lps, 1.0) < -450.0, t
            checked += 1
    assert checked >= 3


def _shell(center, radius: float, n: int = 48) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    unit = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)
    return np.asarray(center)[None] + radius * unit


def test_nodules_lie_in_the_lungs(medium):
    volume, truths = medium
    for t in truths:
        shell = _shell(t.center_lps, t.diameter_mm / 2 + 4.0)
        hu = np.array([mean_hu(volume, p) for p in shell])
        if t.kind == "juxtapleural":
            # Touching the chest wall on one side, lung on the other.
            assert (hu > -300).any(), t
            assert (hu < -500).mean() > 0.4, t
        else:
            assert np.median(hu) < -500, t
