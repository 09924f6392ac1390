"""Thumbnails: radiological orientation from LPS geometry, windowing, letterbox; PN names."""

from __future__ import annotations

import numpy as np
import pytest

from medview.imaging.thumbnail import thumbnail, thumbnail_window
from medview.imaging.volume import Volume, VolumeMeta, WindowPreset
from medview.model.names import format_person_name

#: Columns are the i, j, k axes in LPS.
DIRECTIONS = {
    "identity": np.eye(3),
    # i runs to the patient's right: an index-space thumbnail would be mirrored.
    "flip-i": np.diag([-1.0, 1.0, 1.0]),
    # j runs anterior and k inferior: an index-space thumbnail would be upside down.
    "flip-j-flip-k": np.diag([1.0, -1.0, -1.0]),
    # i runs posterior, j left: rows and columns swapped.
    "swap-ij-flip-k": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]),
}


def make_volume(direction, shape_zyx=(9, 40, 40), spacing=(1.0, 1.0, 2.0), **meta) -> Volume:
    """Soft tissue with a bright blob at the patient's left-anterior (+x, -y) corner."""
    direction = np.asarray(direction, float)
    nk, nj, ni = shape_zyx
    size = np.array([ni, nj, nk], float)
    origin = -(direction @ ((size - 1.0) / 2.0 * np.asarray(spacing)))
    probe = Volume(np.zeros(shape_zyx, np.int16), spacing, origin, direction)
    k, j, i = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
    lps = probe.index_to_lps(np.stack([i, j, k], -1).reshape(-1, 3)).reshape(*shape_zyx, 3)
    array = np.full(shape_zyx, 40, np.int16)
    array[(lps[..., 0] > 6) & (lps[..., 0] < 16) & (lps[..., 1] > -16) & (lps[..., 1] < -6)] = 1000
    defaults = {"modality": "CT", "units": "HU"}
    return Volume(array, spacing, origin, direction, VolumeMeta(**{**defaults, **meta}))


def quadrant_means(image: np.ndarray) -> dict[str, float]:
    half = image.shape[0] // 2
    return {
        "top-left": float(image[:half, :half].mean()),
        "top-right": float(image[:half, half:].mean()),
        "bottom-left": float(image[half:, :half].mean()),
        "bottom-right": float(image[half:, half:].mean()),
    }


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_left_anterior_blob_is_top_right(name):
    image = thumbnail(make_volume(DIRECTIONS[name]), size=64)
    assert image.shape == (64, 64)
    assert image.dtype == np.uint8
    means = quadrant_means(image)
    assert max(means, key=means.get) == "top-right", means
    # The blob is saturated in the soft-tissue window (40/400): white.
    assert image[:32, 32:].max() == 255


def test_same_picture_whatever_the_storage_direction():
    pictures = [thumbnail(make_volume(d), size=40) for d in DIRECTIONS.values()]
    for picture in pictures[1:]:
        assert np.mean(picture != pictures[0]) < 0.02


def test_aspect_ratio_is_kept_with_black_bands():
    # 80 mm wide (x), 40 mm tall (y): bands of about a quarter of the height above and below.
    volume = make_volume(np.eye(3), shape_zyx=(3, 40, 80))
    image = thumbnail(volume, size=64)
    assert image[:14].max() == 0 and image[-14:].max() == 0
    assert image[20:44].min() > 0  # soft tissue (40 HU) is mid-grey, not black


def test_first_dicom_window_and_monochrome1_inversion():
    windowed = make_volume(np.eye(3), windows=(WindowPreset(1000.0, 100.0, "HIGH"),))
    image = thumbnail(windowed, size=32)
    assert image.max() == 127 or image.max() == 128  # the blob sits on the window centre
    assert thumbnail_window(windowed) == (1000.0, 100.0)
    plain = thumbnail(make_volume(np.eye(3)), size=32)
    inverted = thumbnail(make_volume(np.eye(3), invert_display=True), size=32)
    assert np.array_equal(inverted, 255 - plain)


def test_letterbox_stays_black_when_inverted():
    volume = make_volume(np.eye(3), shape_zyx=(3, 40, 80), invert_display=True)
    image = thumbnail(volume, size=64)
    assert image[:14].max() == 0


def test_percentile_window_for_mr():
    volume = make_volume(np.eye(3), modality="MR", units="")
    centre, width = thumbnail_window(volume)
    assert 40 <= centre <= 1000 and width > 0
    image = thumbnail(volume, size=32)
    assert image.max() == 255 and image.min() == 0


def test_colour_volume_gives_rgb():
    array = np.zeros((3, 20, 20, 3), np.uint8)
    array[:, :10, 10:, 0] = 200  # red at the top right in index space = left-anterior
    volume = Volume(array, (1.0, 1.0, 1.0), (-9.5, -9.5, -1.0), np.eye(3))
    image = thumbnail(volume, size=20)
    assert image.shape == (20, 20, 3) and image.dtype == np.uint8
    assert image[:10, 10:, 0].mean() > 150 and image[10:, :10, 0].max() == 0


def test_coronal_volume_head_at_the_top():
    # Coronal: i = +x, j = -z (rows run towards the feet), k = +y. Bright band at the head.
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    array = np.full((5, 30, 30), -1000, np.int16)
    array[:, :8, :] = 1000  # the first rows: superior
    volume = Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), direction, VolumeMeta(modality="CT"))
    image = thumbnail(volume, size=30)
    assert image[:6].mean() > 200 and image[-6:].mean() < 10


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        thumbnail(make_volume(np.eye(3)), size=0)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Doe^Jane", "Doe, Jane"),
        ("Doe^Jane^Mary", "Doe, Jane Mary"),
        ("Doe", "Doe"),
        ("^Jane", "Jane"),
        ("Doe^Jane^^^", "Doe, Jane"),
        ("Smith^John^A^Dr^Jr", "Smith, Dr John A Jr"),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "Yamada, Tarou (山田 太郎)"),
        ("Hong^Gildong=洪^吉洞=홍^길동", "Hong, Gildong (洪 吉洞)"),
        ("Wang^XiaoDong==Wang^XiaoDong", "Wang, XiaoDong (Wang XiaoDong)"),
        ("=山田^太郎", "山田 太郎"),
        ("", ""),
        (None, ""),
    ],
)
def test_format_person_name(raw, shown):
    assert format_person_name(raw) == shown


def test_format_person_name_accepts_pydicom_person_name():
    from pydicom.valuerep import PersonName

    assert format_person_name(PersonName("Yamada^Tarou=山田^太郎")) == "Yamada, Tarou (山田 太郎)"
