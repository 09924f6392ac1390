"""The derived-series writer (geometry round trip) and the torch backend's safe loading."""

from __future__ import annotations

import pickle

import numpy as np
import pydicom
import pytest

from medview.ai import torch_backend
from medview.core.errors import MedviewError, WeightsError
from medview.dicom.loader import load_candidate
from medview.dicom.scan import scan_paths
from medview.dicom.series import group_series
from medview.dicom.writer import write_derived_series
from medview.imaging.volume import Volume, VolumeMeta


def _oblique_volume(array: np.ndarray) -> Volume:
    angle = np.deg2rad(20)
    c, s = np.cos(angle), np.sin(angle)
    # Rotated about S, with distinct spacings: a swapped axis or a flip shows up.
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    meta = VolumeMeta(
        modality="CT",
        units="HU",
        study_uid="1.2.826.0.1.3680043.9.1",
        frame_of_reference_uid="1.2.826.0.1.3680043.9.2",
        series_uid="1.2.826.0.1.3680043.9.3",
        patient_name="Derived^Test",
        patient_id="P1",
        derived=True,
        derivation="test output",
    )
    return Volume(array, (0.7, 0.9, 2.0), (-30.0, 12.5, 80.0), direction, meta)


def _load_back(folder) -> Volume:
    scan = scan_paths([folder], workers=1)
    (group,) = group_series(scan.headers)
    return load_candidate(group.candidates[0], workers=1)


def test_derived_series_round_trips_geometry_and_values(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.integers(-1000, 1500, size=(5, 6, 7)).astype(np.int16)
    volume = _oblique_volume(array)
    series = write_derived_series(volume, tmp_path / "derived")
    assert [p.name for p in series.files] == [f"IM{k:05d}.dcm" for k in range(1, 6)]
    ds = pydicom.dcmread(series.files[0])
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY"]
    assert ds.StudyInstanceUID == volume.meta.study_uid
    assert ds.FrameOfReferenceUID == volume.meta.frame_of_reference_uid
    assert ds.SeriesInstanceUID not in (volume.meta.series_uid, "")
    assert [float(v) for v in ds.PixelSpacing] == [0.9, 0.7]
    assert float(ds.SliceThickness) == 2.0
    assert ds.DerivationDescription == "test output"
    back = _load_back(tmp_path / "derived")
    assert back.shape == volume.shape
    np.testing.assert_allclose(back.affine, volume.affine, atol=1e-4)
    np.testing.assert_array_equal(back.array, array)


def test_float_volumes_are_rescaled_and_the_source_identity_kept(tmp_path):
    array = np.linspace(-2.5, 7.25, 4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    volume = _oblique_volume(array)
    volume = volume.with_array(array, study_uid="", frame_of_reference_uid="")
    source = VolumeMeta(
        modality="CT",
        units="HU",
        study_uid="1.2.3",
        frame_of_reference_uid="1.2.4",
        patient_name="Source^Patient",
    )
    series = write_derived_series(volume, tmp_path / "out", source=source)
    ds = pydicom.dcmread(series.files[0])
    assert ds.StudyInstanceUID == "1.2.3" and ds.FrameOfReferenceUID == "1.2.4"
    assert str(ds.PatientName) == "Source^Patient"
    back = _load_back(tmp_path / "out")
    step = (7.25 + 2.5) / 65535
    np.testing.assert_allclose(back.array, array, atol=step)


def test_writer_refuses_a_non_empty_folder_and_leaves_no_partial_files(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("user data")
    volume = _oblique_volume(np.zeros((2, 3, 4), np.int16))
    with pytest.raises(MedviewError, match="not an empty folder"):
        write_derived_series(volume, target)
    bad = volume.with_array(np.full((2, 3, 4), np.nan, np.float32))
    with pytest.raises(MedviewError, match="NaN"):
        write_derived_series(bad, tmp_path / "nan")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


class NotATensor:
    """Anything a pickle could smuggle in; weights_only must refuse to build it."""

    def __reduce__(self):
        return (print, ("this would run on load",))


def test_weights_load_safely(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    tensors = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    save_file(tensors, str(tmp_path / "m.safetensors"))
    loaded = torch_backend.load_state_dict(tmp_path / "m.safetensors")
    assert torch.equal(loaded["w"], tensors["w"])
    torch.save({"w": tensors["w"]}, tmp_path / "plain.pt")
    assert torch.equal(torch_backend.load_state_dict(tmp_path / "plain.pt")["w"], tensors["w"])
    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"w": NotATensor()}, protocol=2))
    with pytest.raises(WeightsError, match="cannot load weights safely"):
        torch_backend.load_state_dict(tmp_path / "evil.pt")


def test_out_of_memory_is_recognised_without_torch():
    assert torch_backend.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not torch_backend.is_out_of_memory(RuntimeError("shape mismatch"))
    assert torch_backend.torch_version()  # from metadata, torch not imported for it


def test_autocast_is_a_no_op_off_cuda():
    with torch_backend.autocast("cpu", enabled=True):
        pass


def test_reopened_ai_series_is_labelled_derived_and_other_derived_images_are_not(tmp_path):
    """Issue 6: medview's AI output stays labelled when loaded back from disk; a DERIVED
    image without medview's marker (e.g. a scanner's reformat) is not called AI output."""
    volume = _oblique_volume(np.zeros((3, 4, 5), np.int16))
    write_derived_series(volume, tmp_path / "ai")
    back = _load_back(tmp_path / "ai")
    assert back.meta.derived and back.meta.derivation == "test output"

    write_derived_series(volume, tmp_path / "reformat")
    for path in sorted((tmp_path / "reformat").iterdir()):
        ds = pydicom.dcmread(path)
        ds.ImageComments = "MPR reconstructed on the scanner"
        ds.save_as(path)
    other = _load_back(tmp_path / "reformat")
    assert not other.meta.derived and other.meta.derivation == ""
