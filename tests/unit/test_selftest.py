"""``medview self-test`` (issue 10): passes on a good install, fails on a tampered plugin.

Run in-process (the CLI's ``main``) on the default small demo (128x128x64: about 25 s on two
cores). The frozen bundle runs the same command in tests/packaging/test_frozen_build.py.
"""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from medview.app.cli import main
from medview.app.cli_selftest import _offline
from medview.app.selftest import crop_box, crop_volume, uncrop
from medview.imaging.volume import Volume, VolumeMeta

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
LINE = re.compile(r"^(PASS|FAIL|SKIP)  (.+?)\s+(\d+\.\d\d) s  (.*)$")


def _steps(text: str) -> dict[str, tuple[str, str]]:
    steps = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            steps[match.group(2)] = (match.group(1), match.group(4))
    return steps


def test_self_test_passes_every_step(capsys):
    code = main(["self-test"])
    out = capsys.readouterr().out
    steps = _steps(out)
    failed = {name: detail for name, (status, detail) in steps.items() if status == "FAIL"}
    # (This self-test found that a saliency Parametric Map's window narrower than 1 lacked
    # VOI LUT Function LINEAR_EXACT, which dciodvfy rejects; fixed in reports/pmap.py.)
    assert failed == {}, out
    assert code == 0
    for name in ("demo study", "import", "load", "plugins", "report", "check SR", "check SEG",
                 "check PDF", "check JSON", "offline"):  # fmt: skip
        assert steps[name][0] == "PASS", out
    for plugin in ("medview.nodule-cnn", "medview.saliency", "medview.superres",
                   "medview.threshold-blobs"):  # fmt: skip
        assert steps[f"weights {plugin}"][0] == "PASS"
        assert steps[f"run {plugin}"][0] == "PASS"
    assert "method=gradcam" in steps["run medview.saliency"][1]
    assert "derived" in steps["run medview.superres"][1]
    assert out.rstrip().splitlines()[-1].startswith("PASSED: every step")


def test_a_plugin_with_tampered_weights_fails_the_self_test(capsys, medview_home):
    # A copy of the example plugin dropped into the user plugins folder (as a clinic would),
    # under its own id, whose weights file no longer matches its manifest's SHA-256.
    plugin = Path(medview_home) / "data" / "plugins" / "tampered"
    shutil.copytree(PLUGINS / "threshold_blobs", plugin)
    manifest = plugin / "plugin.toml"
    manifest.write_text(
        manifest.read_text().replace('"medview.threshold-blobs"', '"selftest.tampered"')
    )
    config = plugin / "config.json"
    payload = bytearray(config.read_bytes())
    payload[10] ^= 0x01  # same size, one bit changed: only the hash can tell
    config.write_bytes(bytes(payload))

    code = main(["self-test", "--size", "64", "--slices", "32"])
    out = capsys.readouterr().out
    steps = _steps(out)
    assert code == 1
    status, detail = steps["plugins"]
    assert status == "FAIL"
    assert "selftest.tampered (user) unavailable" in detail and "SHA-256" in detail
    # The other plugins were still checked and run.
    assert steps["weights medview.threshold-blobs"][0] == "PASS"
    assert "FAILED: 1 step(s) failed (plugins)" in out


def test_bad_arguments_are_one_line(capsys):
    assert main(["self-test", "--size", "8"]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "--size must be" in err


def test_the_network_is_refused_during_the_run():
    with _offline() as guard:
        with pytest.raises(PermissionError):
            socket.getaddrinfo("pacs.example.org", 104)
        with pytest.raises(PermissionError):
            socket.create_connection(("192.0.2.1", 104), timeout=0.1)
        # Unix sockets (multiprocessing) stay allowed.
        left, right = socket.socketpair()
        left.close()
        right.close()
    assert len(guard.attempts) == 2


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, 1.0, -1.0])])
def test_crop_and_uncrop_keep_patient_positions(direction):
    # An asymmetric volume, also stored flipped: the crop must keep every voxel's LPS place.
    array = np.arange(10 * 12 * 14, dtype=np.int16).reshape(10, 12, 14)
    meta = VolumeMeta(modality="CT")
    full = Volume(array, (0.7, 0.9, 2.5), (10.0, -20.0, 30.0), direction, meta)
    centre = full.index_to_lps((9, 4, 6))
    box = crop_box(full, centre, 3.0)
    crop = crop_volume(full, box)
    assert crop.shape == (5, 9, 10)  # clipped at the last i and the first j
    for zyx in [(0, 0, 0), (2, 6, 8), (1, 3, 4)]:
        full_zyx = tuple(s.start + v for s, v in zip(box, zyx, strict=True))
        assert crop.array[zyx] == full.array[full_zyx]
        np.testing.assert_allclose(crop.zyx_to_lps(zyx), full.zyx_to_lps(full_zyx))
    back = uncrop(crop, crop, full, box)
    assert back.shape == full.shape and np.allclose(back.affine, full.affine)
    assert np.array_equal(back.array[box], crop.array) and back.array.sum() == crop.array.sum()
