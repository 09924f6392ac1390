"""The demo study writer: valid, deterministic DICOM CT files that read back as the phantom."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

from medview.core.errors import MedviewError
from medview.dicom.demo import NOT_A_PATIENT, demo_uid, write_demo_study
from medview.imaging.phantom import PhantomSpec, make_phantom

SEED = 3
SIZE, SLICES = 64, 24


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "series"
    fractions: list[float] = []
    study = write_demo_study(out, seed=SEED, size=SIZE, slices=SLICES, progress=fractions.append)
    volume, truths = make_phantom(PhantomSpec(size=SIZE, slices=SLICES, seed=SEED))
    return study, volume, truths, fractions


@pytest.fixture(scope="module")
def datasets(demo):
    study = demo[0]
    return [pydicom.dcmread(path) for path in study.files]


def test_writes_one_file_per_slice_and_the_truth(demo):
    study, _, _, fractions = demo
    assert [p.name for p in study.files] == [f"CT{i:04d}.dcm" for i in range(1, SLICES + 1)]
    assert all(p.parent == study.directory for p in study.files)
    assert study.truth_path == study.directory / "truth.json"
    assert study.truth_path.is_file()
    assert fractions == sorted(fractions)
    assert fractions[0] >= 0.0 and fractions[-1] == 1.0


def test_files_are_part10_ct_images_with_the_demo_identity(demo, datasets):
    study = demo[0]
    for path, ds in zip(study.files, datasets, strict=True):
        assert path.read_bytes()[128:132] == b"DICM"
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPClassUID == CTImageStorage
        assert ds.SOPClassUID == CTImageStorage
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    ds = datasets[0]
    assert ds.Modality == "CT"
    assert str(ds.PatientName) == "Demo^Phantom"
    assert ds.PatientID == f"MEDVIEW-DEMO-{SEED}"
    assert ds.StudyDescription == "Demo chest CT (synthetic phantom)"
    assert ds.BodyPartExamined == "CHEST"
    assert ds.Manufacturer == "medview"
    assert ds.ManufacturerModelName == "demo phantom"
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "AXIAL"]
    assert ds.BurnedInAnnotation == "NO"
    assert ds.ImageComments == NOT_A_PATIENT
    assert ds.PixelRepresentation == 0 and ds.BitsAllocated == 16
    assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1
    assert ds.RescaleType == "HU"
    assert [float(v) for v in ds.WindowCenter] == [40, -600]
    assert [float(v) for v in ds.WindowWidth] == [400, 1500]
    assert len(ds.WindowCenterWidthExplanation) == 2


def test_pixels_read_back_as_the_phantom_in_hu(demo, datasets):
    _, volume, _, _ = demo
    nk = volume.shape[0]
    for ds in datasets:
        k = nk - int(ds.InstanceNumber)  # instance 1 is the most superior slice
        hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu, volume.array[k])


def test_geometry_matches_the_volume(demo, datasets):
    _, volume, _, _ = demo
    nk = volume.shape[0]
    di, dj, dk = volume.spacing
    for ds in datasets:
        k = nk - int(ds.InstanceNumber)
        expected = volume.index_to_lps((0.0, 0.0, float(k)))
        np.testing.assert_allclose([float(v) for v in ds.ImagePositionPatient], expected, atol=1e-4)
        assert float(ds.SliceLocation) == pytest.approx(expected[2], abs=1e-4)
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == pytest.approx([dj, di])
        assert float(ds.SliceThickness) == pytest.approx(dk)
        assert float(ds.SpacingBetweenSlices) == pytest.approx(dk)
        assert (ds.Rows, ds.Columns) == volume.shape[1:]
    z = [float(ds.ImagePositionPatient[2]) for ds in datasets]
    assert z == sorted(z, reverse=True)  # CT0001 is the most superior slice


def test_uids_are_valid_unique_and_derived_from_the_seed(demo, datasets):
    study = demo[0]
    assert study.study_uid == demo_uid(SEED, "study")
    assert study.series_uid == demo_uid(SEED, "series", f"{SIZE}x{SLICES}")
    assert demo_uid(SEED + 1, "study") != study.study_uid
    assert demo_uid(SEED, "series", "512x300") != study.series_uid  # grids never share UIDs
    sops = {ds.SOPInstanceUID for ds in datasets}
    assert len(sops) == SLICES
    for uid in (*sops, study.study_uid, study.series_uid, datasets[0].FrameOfReferenceUID):
        assert UID(uid).is_valid
    assert {ds.StudyInstanceUID for ds in datasets} == {study.study_uid}
    assert {ds.SeriesInstanceUID for ds in datasets} == {study.series_uid}


def test_truth_json_matches_the_phantom(demo):
    study, volume, truths, _ = demo
    truth = json.loads(study.truth_path.read_text(encoding="utf-8"))
    assert truth["seed"] == SEED
    assert truth["study_uid"] == study.study_uid
    assert truth["series_uid"] == study.series_uid
    assert truth["shape_zyx"] == list(volume.shape)
    assert truth["spacing_ijk"] == pytest.approx(volume.spacing)
    assert truth["origin"] == pytest.approx(volume.origin)
    expected = [json.loads(json.dumps(asdict(t))) for t in truths]
    assert truth["nodules"] == expected
    assert {n["kind"] for n in truth["nodules"]} >= {"solid", "ground-glass"}


def test_same_seed_gives_identical_files_and_a_rewrite_replaces_the_demo(tmp_path):
    first = write_demo_study(tmp_path / "a", seed=5, size=32, slices=6)
    second = write_demo_study(tmp_path / "b", seed=5, size=32, slices=6)
    for a, b in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first.study_uid == second.study_uid
    # Writing again over a previous demo is allowed and leaves no stale slices behind.
    again = write_demo_study(tmp_path / "b", seed=6, size=32, slices=4)
    assert sorted(p.name for p in (tmp_path / "b").glob("CT*.dcm")) == [p.name for p in again.files]
    assert len(again.files) == 4
    assert again.study_uid != first.study_uid


@pytest.mark.parametrize("intruder", ["notes.txt", "CT0001.dcm", "scan/"])
def test_refuses_a_folder_with_other_data(tmp_path, intruder):
    target = tmp_path / "user-data"
    target.mkdir()
    if intruder.endswith("/"):
        (target / intruder.rstrip("/")).mkdir()
    else:
        (target / intruder).write_bytes(b"precious")
    with pytest.raises(MedviewError) as caught:
        write_demo_study(target, seed=0, size=32, slices=4)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in target.iterdir()) == [intruder.rstrip("/")]


def test_refuses_a_file_as_the_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(MedviewError):
        write_demo_study(target, seed=0, size=32, slices=4)


def test_dciodvfy_finds_no_errors(demo):
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        pytest.skip("dciodvfy (dicom3tools) is not installed")
    study = demo[0]
    for path in (study.files[0], study.files[len(study.files) // 2]):
        run = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
        output = run.stdout + run.stderr
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert not errors, output
