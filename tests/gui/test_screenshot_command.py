"""`medview view PATH --screenshot FILE.png`, run as a subprocess on the test's X display."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtGui import QImage

from medview.dicom.demo import write_demo_study

pytestmark = pytest.mark.gui

_SIZE = (800, 600)


def _medview(*args: str) -> subprocess.CompletedProcess:
    # pytest-xvfb sets DISPLAY and the root conftest MEDVIEW_HOME: the child inherits both.
    return subprocess.run(
        [sys.executable, "-m", "medview", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-small")
    write_demo_study(folder, seed=0, size=96, slices=48)
    return folder


def _rgb(path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    buffer = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * height)
    return buffer.reshape(height, image.bytesPerLine())[:, : 3 * width].reshape(height, width, 3)


def test_screenshot_of_the_2x2_layout(demo_dir, tmp_path):
    target = tmp_path / "shot.png"
    size = f"{_SIZE[0]}x{_SIZE[1]}"
    result = _medview(
        "view", str(demo_dir), "--layout", "2x2", "--preset", "lung", "--slice", "24",
        "--size", size, "--screenshot", str(target),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = _rgb(target)
    assert rgb.shape == (_SIZE[1], _SIZE[0], 3)
    # The four views fill the area under the menu bar and banner, above the status bar;
    # each quadrant holds a picture (a blank VTK paste would be uniform black).
    body = rgb[80:-40]
    half_h, half_w = body.shape[0] // 2, body.shape[1] // 2
    quadrants = {
        "axial": body[:half_h, :half_w],
        "coronal": body[:half_h, half_w:],
        "sagittal": body[half_h:, :half_w],
        "3d": body[half_h:, half_w:],
    }
    for name, pixels in quadrants.items():
        grey = pixels.mean(axis=2)
        assert grey.std() > 10, f"the {name} quadrant is blank"
        assert (grey > 100).mean() > 0.01, f"the {name} quadrant has nothing bright"


def test_bad_path_series_and_preset_fail_in_one_line(demo_dir, tmp_path):
    target = tmp_path / "shot.png"
    cases = [
        ("view", str(tmp_path / "missing"), "--screenshot", str(target)),
        ("view", str(demo_dir), "--series", "1.2.3.4", "--screenshot", str(target)),
        ("view", str(demo_dir), "--preset", "nonsense", "--screenshot", str(target)),
    ]
    for args in cases:
        result = _medview(*args)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("medview: error:"), result.stderr
    assert not target.exists()
