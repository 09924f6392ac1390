"""Measurement scene model (issue 3): values on asymmetric geometry, undo/redo, sessions.

Every volume here has anisotropic spacing and most a non-identity direction; the same anatomy
stored with flipped or permuted axes must give the same measurements, because geometry comes
from the Volume's LPS helpers and never from array axes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medview.core.errors import MedviewError
from medview.core.paths import app_dirs
from medview.imaging.volume import Volume, VolumeMeta
from medview.model.measurements import (
    SCHEMA_VERSION,
    Angle,
    EllipseRoi,
    Length,
    MeasurementScene,
    Plane,
    PointProbe,
    RectangleRoi,
    SceneEvent,
    angle_deg,
    length_mm,
    load_session,
    measurement_records,
    probe,
    roi_stats,
    save_session,
    session_path,
)
from medview.model.roi_stats import find_edges

SPACING = (0.5, 0.75, 2.0)
SPHERE_CENTER = np.array([3.0, -4.0, 6.0])
SPHERE_RADIUS = 10.0


def _rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    a, b = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    rot = np.eye(3)
    rot[a, a], rot[a, b], rot[b, a], rot[b, b] = c, -s, s, c
    return rot


def grid_volume(fn, direction=None, shape=(20, 60, 70), spacing=SPACING, units="HU") -> Volume:
    """A volume (z, y, x) = shape whose voxels hold ``fn(lps)``, centred on the origin."""
    direction = np.eye(3) if direction is None else np.asarray(direction)
    nk, nj, ni = shape
    half = np.array([(ni - 1) * spacing[0], (nj - 1) * spacing[1], (nk - 1) * spacing[2]]) / 2
    origin = -(direction @ half)
    empty = Volume(np.zeros(shape, np.float32), spacing, origin, direction)
    kk, jj, ii = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    lps = empty.index_to_lps(np.stack([ii, jj, kk], axis=-1).reshape(-1, 3))
    uids = tuple(f"1.2.3.{k + 1}" for k in range(nk))
    meta = VolumeMeta(modality="CT", units=units, series_uid="1.2.9", source_sop_uids=uids)
    array = fn(lps).reshape(shape).astype(np.float32)
    return Volume(array, spacing, origin, direction, meta)


def sphere(lps: np.ndarray) -> np.ndarray:
    inside = np.linalg.norm(lps - SPHERE_CENTER, axis=1) <= SPHERE_RADIUS
    return np.where(inside, 100.0, -1000.0)


def ramp(lps: np.ndarray) -> np.ndarray:
    return 2.0 * lps[:, 0] + 3.0 * lps[:, 1] - 0.5 * lps[:, 2]


def reoriented(volume: Volume, flips=(False, False, False), perm=(0, 1, 2)) -> Volume:
    """The same anatomy stored differently: index axes flipped and/or permuted."""
    array = volume.array
    direction = np.array(volume.direction)
    corner = [n - 1 if f else 0 for n, f in zip(volume.size_ijk, flips, strict=True)]
    origin = volume.index_to_lps(corner)
    for axis, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis=2 - axis)
            direction[:, axis] *= -1
    # New index axis a is old axis perm[a]; numpy axes are (k, j, i) = (2, 1, 0).
    array = np.transpose(array, [2 - perm[2], 2 - perm[1], 2 - perm[0]])
    direction = direction[:, list(perm)]
    spacing = tuple(volume.spacing[p] for p in perm)
    return Volume(np.ascontiguousarray(array), spacing, origin, direction, volume.meta)


REORIENTATIONS = [
    ((True, False, False), (0, 1, 2)),
    ((False, True, True), (0, 1, 2)),
    ((True, False, True), (2, 0, 1)),
]


# -- pure values ---------------------------------------------------------------------------


def test_length_and_angle_values():
    assert length_mm(Length((1.0, 2.0, 3.0), (4.0, 6.0, 3.0))) == pytest.approx(5.0)
    assert angle_deg(Angle((1, 1, 1), (5, 1, 1), (1, 1, -7))) == pytest.approx(90.0)
    assert angle_deg(Angle((0, 0, 0), (1, 0, 0), (1, 1, 0))) == pytest.approx(45.0)
    assert angle_deg(Angle((0, 0, 0), (1, 0, 0), (-3, 0, 0))) == pytest.approx(180.0)
    assert angle_deg(Angle((0, 0, 0), (0, 0, 0), (1, 0, 0))) is None


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, 1, 1]), _rotation("z", 30)])
def test_length_across_a_sphere_is_its_diameter(direction):
    volume = grid_volume(sphere, direction)
    ends = find_edges(volume, SPHERE_CENTER, (1.0, 0.0, 0.0), threshold=-450.0)
    assert ends is not None
    length = Length(*ends)
    # Within one voxel (the largest in-plane step along the line).
    assert length_mm(length) == pytest.approx(2 * SPHERE_RADIUS, abs=0.75)
    assert ends[0][0] < ends[1][0]


def test_roi_stats_in_a_constant_region_and_ellipse_area():
    volume = grid_volume(sphere, _rotation("z", 30))
    center = (SPHERE_CENTER[0], SPHERE_CENTER[1], volume.index_to_lps((0, 0, 13))[2])
    ellipse = EllipseRoi(center, (4.0, 3.0, 0.0), (-1.2, 1.6, 0.0))  # a = 5, b = 2
    stats = roi_stats(volume, ellipse)
    assert (stats.mean, stats.sd, stats.min, stats.max) == (100.0, 0.0, 100.0, 100.0)
    assert stats.units == "[hnsf'U]"
    assert stats.area_mm2 == pytest.approx(math.pi * 5 * 2)
    assert stats.sampled_area_mm2 == pytest.approx(math.pi * 5 * 2, rel=0.06)
    assert stats.voxel_count == pytest.approx(math.pi * 10 / (0.5 * 0.75), rel=0.06)


def test_roi_stats_on_an_oblique_plane_through_a_constant_region():
    volume = grid_volume(sphere, _rotation("x", 10))
    plane = Plane.from_axes(SPHERE_CENTER, _rotation("y", 35)[:, 0], _rotation("y", 35)[:, 1])
    u = 6.0 * np.asarray(plane.u)
    v = 4.0 * np.asarray(plane.v)
    ellipse = EllipseRoi(tuple(SPHERE_CENTER), tuple(u), tuple(v), plane=plane)
    stats = roi_stats(volume, ellipse)
    assert (stats.mean, stats.sd, stats.min, stats.max) == (100.0, 0.0, 100.0, 100.0)
    assert stats.sampled_area_mm2 == pytest.approx(math.pi * 24, rel=0.05)


def test_rectangle_stats_of_a_ramp_are_exact():
    volume = grid_volume(ramp, np.diag([-1.0, 1.0, 1.0]))
    # Corners on voxel centres: 11 x 9 voxels of slice k = 7.
    corner = volume.index_to_lps((20, 30, 7))
    far = volume.index_to_lps((30, 38, 7))
    rect = RectangleRoi(
        tuple(corner), (far[0] - corner[0], 0.0, 0.0), (0.0, far[1] - corner[1], 0.0)
    )
    stats = roi_stats(volume, rect)
    xs = corner[0] + np.arange(11) * np.sign(far[0] - corner[0]) * 0.5
    ys = corner[1] + np.arange(9) * 0.75
    values = (2 * xs[None, :] + 3 * ys[:, None] - 0.5 * corner[2]).ravel()
    assert stats.voxel_count == 99
    assert stats.mean == pytest.approx(values.mean(), abs=1e-4)
    assert stats.sd == pytest.approx(values.std(), abs=1e-4)
    assert stats.min == pytest.approx(values.min(), abs=1e-4)
    assert stats.max == pytest.approx(values.max(), abs=1e-4)
    assert stats.area_mm2 == pytest.approx(5.0 * 6.0)
    assert stats.sampled_area_mm2 == pytest.approx(99 * 0.5 * 0.75)


def test_ellipse_mean_of_a_ramp_is_the_centre_value():
    volume = grid_volume(ramp, _rotation("z", 20))
    center = np.array([1.0, 2.0, volume.index_to_lps((0, 0, 9))[2]])
    stats = roi_stats(volume, EllipseRoi(tuple(center), (7.0, 0.0, 0.0), (0.0, 4.0, 0.0)))
    expected = ramp(center[None, :])[0]
    assert stats.mean == pytest.approx(expected, abs=0.3)
    # Extremes of the ramp on the ellipse, reached by the sampled voxels to within one voxel
    # step times the gradient (|(2, 3)| per mm, steps up to 0.75 mm).
    reach = math.hypot(2 * 7, 3 * 4)
    slack = math.hypot(2, 3) * 0.75
    assert expected - reach - 1e-3 <= stats.min <= expected - reach + slack
    assert expected + reach - slack <= stats.max <= expected + reach + 1e-3


def test_probe_returns_the_voxel_value_and_none_outside():
    volume = grid_volume(ramp, _rotation("z", 30))
    point = volume.index_to_lps((12, 40, 5)) + np.array([0.1, -0.1, 0.3])
    result = probe(volume, point)
    assert result is not None
    assert result.ijk == (12, 40, 5)
    assert result.value == float(volume.array[5, 40, 12])
    assert result.units == "[hnsf'U]"
    assert probe(volume, volume.index_to_lps((12, 40, 25))) is None
    assert probe(volume, volume.index_to_lps((-0.6, 3, 3))) is None


@pytest.mark.parametrize(("flips", "perm"), REORIENTATIONS)
def test_same_anatomy_stored_differently_measures_the_same(flips, perm):
    base = grid_volume(ramp, _rotation("z", 15))
    other = reoriented(base, flips, perm)
    assert not np.allclose(other.direction, base.direction)
    k_point = base.index_to_lps((30, 25, 8))
    rois = [
        EllipseRoi(
            tuple(k_point), tuple(6 * base.direction[:, 0]), tuple(4 * base.direction[:, 1])
        ),
        RectangleRoi(
            tuple(k_point), tuple(5 * base.direction[:, 0]), tuple(3 * base.direction[:, 1])
        ),
    ]
    oblique = Plane.from_axes(k_point, _rotation("y", 35)[:, 0], _rotation("y", 35)[:, 1])
    rois.append(
        EllipseRoi(
            tuple(k_point),
            tuple(6 * np.asarray(oblique.u)),
            tuple(4 * np.asarray(oblique.v)),
            plane=oblique,
        )
    )
    for roi in rois:
        a, b = roi_stats(base, roi), roi_stats(other, roi)
        assert a.voxel_count == b.voxel_count > 20
        for name in ("mean", "sd", "min", "max", "sampled_area_mm2"):
            assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-4)
    for point in (k_point, np.add(k_point, (0.2, 0.3, -0.4))):
        pa, pb = probe(base, point), probe(other, point)
        assert pa.value == pb.value
        assert np.allclose(base.index_to_lps(pa.ijk), other.index_to_lps(pb.ijk))
    ea = find_edges(grid_volume(sphere, _rotation("z", 15)), SPHERE_CENTER, (0, 1, 0), -450)
    eb = find_edges(
        reoriented(grid_volume(sphere, _rotation("z", 15)), flips, perm),
        SPHERE_CENTER,
        (0, 1, 0),
        -450,
    )
    assert np.allclose(ea, eb, atol=1e-4)


def test_roi_off_the_volume_has_no_values():
    volume = grid_volume(ramp)
    stats = roi_stats(volume, EllipseRoi((500.0, 0, 0), (5.0, 0, 0), (0, 5.0, 0)))
    assert stats.voxel_count == 0 and stats.mean is None
    assert stats.area_mm2 == pytest.approx(math.pi * 25)


def test_planar_measurements_are_validated():
    with pytest.raises(ValueError):
        EllipseRoi((0, 0, 0), (5.0, 0, 0), (1.0, 5.0, 0))  # axes not perpendicular
    plane = Plane.from_axes((0, 0, 0), (1, 0, 0), (0, 1, 0))
    with pytest.raises(ValueError):
        Length((0, 0, 0), (0, 0, 1.0), plane=plane)  # off the plane
    with pytest.raises(ValueError):
        PointProbe((0, 0, float("nan")))


# -- scene, undo/redo, listeners -------------------------------------------------------------


def test_undo_redo_restores_exact_states():
    scene = MeasurementScene()
    events: list[SceneEvent] = []
    scene.subscribe(events.append)
    length = Length((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), label="a")
    states = [scene.items()]
    scene.add(length)
    states.append(scene.items())
    moved = scene.update(length.id, p2=(10.0, 5.0, 0.0))
    assert moved.id == length.id and length_mm(moved) == pytest.approx(math.hypot(10, 5))
    states.append(scene.items())
    scene.select(length.id)
    scene.remove(length.id)
    assert scene.selected is None
    states.append(scene.items())
    for expected in reversed(states[:-1]):
        assert scene.undo()
        assert scene.items() == expected
    assert not scene.can_undo and not scene.undo()
    assert scene.redo()
    assert scene.items() == states[1]
    assert scene.get(length.id) == length
    assert scene.can_redo
    kinds = [(e.kind, e.cause) for e in events]
    assert kinds == [
        ("added", "edit"),
        ("updated", "edit"),
        ("selected", "edit"),
        ("removed", "edit"),
        ("selected", "edit"),
        ("added", "undo"),
        ("updated", "undo"),
        ("removed", "undo"),
        ("added", "redo"),
    ]
    assert events[1].previous == length and events[1].measurement == moved
    # A new edit after undo clears redo.
    scene.update(length.id, label="renamed")
    assert not scene.can_redo
    assert scene.get(length.id).label == "renamed"


def test_drag_merges_into_one_undo_step_and_history_is_bounded():
    scene = MeasurementScene(history=3)
    probe_point = scene.add(PointProbe((0.0, 0.0, 0.0)))
    scene.update(probe_point.id, point=(1.0, 0, 0))
    for x in (2.0, 3.0, 4.0):
        scene.update(probe_point.id, merge=True, point=(x, 0, 0))
    assert scene.undo()
    assert scene.get(probe_point.id).point == (0.0, 0.0, 0.0)
    assert scene.redo()
    for n in range(5):
        scene.add(Length((0, 0, 0), (n + 1.0, 0, 0)))
    undone = 0
    while scene.undo():
        undone += 1
    assert undone == 3 and len(scene) == 3


def test_listener_errors_do_not_break_the_scene_and_unsubscribe_works():
    scene = MeasurementScene()
    seen = []

    def broken(event):
        raise RuntimeError("listener bug")

    scene.subscribe(broken)
    unsubscribe = scene.subscribe(seen.append)
    m = scene.add(PointProbe((1.0, 2.0, 3.0)))
    assert len(seen) == 1 and m.id in scene
    unsubscribe()
    scene.remove(m.id)
    assert len(seen) == 1
    with pytest.raises(KeyError):
        scene.select("nope")
    with pytest.raises(KeyError):
        scene.update(m.id, label="gone")
    kept = scene.add(PointProbe((0.0, 0.0, 0.0)))
    with pytest.raises(ValueError):
        scene.update(kept.id, id="other")
    with pytest.raises(ValueError):
        scene.add(PointProbe((1.0, 0.0, 0.0), id=kept.id))  # ids are unique
    assert scene.update(kept.id, label="") is kept  # no change: no undo step
    assert scene.undo() and len(scene) == 0


# -- sessions --------------------------------------------------------------------------------


def full_scene() -> MeasurementScene:
    oblique = Plane.from_axes((1.1, 2.2, 3.3), _rotation("y", 23)[:, 0], _rotation("y", 23)[:, 1])
    u, v = np.asarray(oblique.u), np.asarray(oblique.v)
    origin = np.asarray(oblique.origin)
    scene = MeasurementScene()
    scene.add(Length(tuple(origin), tuple(origin + 3.3 * u - 1.7 * v), plane=oblique, label="L"))
    scene.add(Angle((0.1, 0.2, 0.3), (1 / 3, 0, 0), (0, 2 / 7, 0), series_uid="1.2.3"))
    scene.add(EllipseRoi(tuple(origin), tuple(math.pi * u), tuple(math.e * v), plane=oblique))
    scene.add(RectangleRoi((-1.0, -2.0, 5.5), (0, 0.1, 0), (0.3, 0, 0), label="rect ü"))
    scene.add(PointProbe((1e-9, -123.456789, 7.0)))
    scene.select(scene.items()[2].id)
    return scene


def test_json_round_trip_is_lossless(tmp_path):
    scene = full_scene()
    data = scene.to_json()
    assert data["schema_version"] == SCHEMA_VERSION
    again = MeasurementScene.from_json(json.loads(json.dumps(data)))
    assert again.items() == scene.items()
    assert again.selected == scene.selected
    path = session_path(app_dirs(), "1.2.840.113619.2.55.3")
    save_session(path, scene)
    loaded = load_session(path)
    assert loaded.items() == scene.items()
    assert loaded.to_json() == data


def test_broken_or_newer_session_files_raise_medview_error(tmp_path):
    path = tmp_path / "session.json"
    save_session(path, full_scene())
    path.write_text(path.read_text()[:-40], encoding="utf-8")
    with pytest.raises(MedviewError, match=r"session\.json") as info:
        load_session(path)
    assert "\n" not in str(info.value)
    data = full_scene().to_json()
    data["schema_version"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MedviewError, match=r"session\.json.*newer"):
        load_session(path)
    data["schema_version"] = SCHEMA_VERSION
    data["measurements"][0]["p1"] = "oops"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(MedviewError, match=r"session\.json"):
        load_session(path)
    with pytest.raises(MedviewError, match="missing"):
        load_session(tmp_path / "missing.json")


@pytest.mark.parametrize("uid", ["../../etc", "/etc/passwd", "..", "a\\b", "x" * 300, "1.2/../3"])
def test_session_path_stays_inside_the_data_dir(uid):
    dirs = app_dirs()
    path = session_path(dirs, uid)
    assert path.resolve().parent == (dirs.data / "sessions").resolve()
    assert session_path(dirs, "1.2.3").name == "1.2.3.json"


# -- export hook -----------------------------------------------------------------------------


def test_measurement_records_for_reports():
    volume = grid_volume(ramp, np.diag([-1.0, 1.0, 1.0]))
    k_point = volume.index_to_lps((30, 25, 8))
    scene = MeasurementScene()
    scene.add(Length(tuple(k_point), tuple(np.add(k_point, (5, 0, 0))), label="axial"))
    scene.add(Length(tuple(k_point), tuple(np.add(k_point, (0, 0, 6))), label="spans slices"))
    scene.add(EllipseRoi(tuple(k_point), (3.0, 0, 0), (0, 5.0, 0)))
    scene.add(PointProbe(tuple(k_point)))
    records = measurement_records(scene, volume)
    axial, spans, ellipse, point = records
    assert axial["referenced_sop_instance_uid"] == "1.2.3.9" and axial["slice_index"] == 8
    assert axial["values"] == [
        {"name": "Length", "concept": "SCT.Length", "value": pytest.approx(5.0), "unit": "mm"}
    ]
    assert spans["referenced_sop_instance_uid"] is None
    assert ellipse["graphic_type"] == "ELLIPSE" and len(ellipse["graphic_data"]) == 4
    # The major axis comes first.
    first = np.subtract(ellipse["graphic_data"][1], ellipse["graphic_data"][0])
    assert np.linalg.norm(first) == pytest.approx(10.0)
    units = {v["name"]: v["unit"] for v in ellipse["values"]}
    assert units == {
        "Mean": "[hnsf'U]",
        "StandardDeviation": "[hnsf'U]",
        "Minimum": "[hnsf'U]",
        "Maximum": "[hnsf'U]",
        "Area": "mm2",
    }
    assert ellipse["referenced_sop_instance_uid"] == "1.2.3.9"
    assert point["values"][0]["value"] == pytest.approx(ramp(k_point[None, :])[0], abs=1e-3)
    assert point["voxel_ijk"] == [30, 25, 8]
    json.dumps(records, allow_nan=False)


# -- the demo workflow -------------------------------------------------------------------------


def test_length_across_a_phantom_nodule_matches_its_truth():
    from medview.imaging.phantom import PhantomSpec, make_phantom

    volume, nodules = make_phantom(PhantomSpec(size=128, slices=64, seed=0))
    solid = max((n for n in nodules if n.kind == "solid"), key=lambda n: n.diameter_mm)
    ends = find_edges(volume, solid.center_lps, (1.0, 0.0, 0.0), threshold=-400.0)
    assert ends is not None
    scene = MeasurementScene()
    length = scene.add(Length(*ends, label=f"nodule {solid.id}"))
    assert length_mm(length) == pytest.approx(solid.diameter_mm, abs=2 * volume.spacing[0])


def test_a_plane_between_two_slices_samples_one_layer():
    volume = grid_volume(ramp, np.diag([1.0, -1.0, -1.0]))
    on = volume.index_to_lps((35, 30, 10))
    between = volume.index_to_lps((35, 30, 10.5))
    a = roi_stats(volume, EllipseRoi(tuple(on), (4.0, 0, 0), (0, 3.0, 0)))
    b = roi_stats(volume, EllipseRoi(tuple(between), (4.0, 0, 0), (0, 3.0, 0)))
    assert a.voxel_count == b.voxel_count > 0
    assert b.sampled_area_mm2 == pytest.approx(a.sampled_area_mm2)
