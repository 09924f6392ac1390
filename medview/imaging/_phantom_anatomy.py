"""The chest phantom's anatomy: seeded parameters and analytic regions in patient LPS mm.

Every organ is a function of physical coordinates (x to the patient's left, y posterior,
z superior, millimetres), so the same seed gives the same anatomy on any grid. The functions
broadcast: the renderer calls them with a row of x, a column of y and one z per slice; nodule
placement calls them with (n,) point arrays.

The left/right and anterior/posterior asymmetry is deliberate (heart and descending aorta on
the left, liver dome under the higher right hemidiaphragm, sternum anterior, spine posterior):
orientation tests rely on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Hounsfield units of the tissues, kept in one place so tests and renderer agree.
HU = {
    "air": -1000.0,
    "skin": 30.0,
    "fat": -100.0,
    "mediastinal_fat": -85.0,
    "muscle": 50.0,
    "diaphragm": 40.0,
    "lung": -860.0,
    "pericardial_fat": -90.0,
    "myocardium": 48.0,
    "blood": 38.0,
    "liver": 58.0,
    "spleen": 45.0,
    "stomach_wall": 40.0,
    "stomach_fluid": 12.0,
    "cortical_bone": 800.0,
    "cancellous_bone": 230.0,
    "posterior_elements": 450.0,
    "disc": 80.0,
    "canal": 20.0,
    "cartilage": 110.0,
    "vessel": 40.0,
    "airway_wall": 45.0,
}

#: x of the descending aorta's centreline (left of the spine), shared with the tube builder.
DESCENDING_AORTA_X = 30.0

#: Lattice of the lung texture: spacing (mm) and shape (z, y, x) covering 300 x 300 x 360 mm.
TEXTURE_STEP_MM = 6.0
TEXTURE_SHAPE = (61, 51, 61)

#: Liver, stomach and spleen start this far below the diaphragm surface (its muscle).
DIAPHRAGM_MM = 4.0


@dataclass(frozen=True, eq=False)  # eq=False: comparing the texture array is meaningless
class Anatomy:
    """Seeded shape parameters of one phantom (all lengths in mm, LPS)."""

    # body wall: superellipse outline, skin and subcutaneous fat
    body_a: float
    body_b_ant: float
    body_b_post: float
    body_power: float
    skin: float
    fat: float
    # thoracic cavity (inside the ribs) and its taper towards the lung apices
    cav_a: float
    cav_b_ant: float
    cav_b_post: float
    taper_z: float
    apex_z: float
    # mediastinum half-width: anterior junction, middle bulge, paravertebral
    mw_ant: float
    mw_mid: float
    mw_post: float
    # spine
    spine_y: float
    spine_r: float
    vertebra_period: float
    vertebra_phase: float
    # diaphragm domes (x, y, z of each peak) and curvatures
    dome_right: tuple[float, float, float]
    dome_left: tuple[float, float, float]
    dia_cx: float
    dia_cy_ant: float
    dia_cy_post: float
    # heart: centre, semi-axes (long, short, vertical), long-axis angle in the axial plane
    heart_center: tuple[float, float, float]
    heart_axes: tuple[float, float, float]
    heart_angle: float
    # abdomen
    liver_edge: float
    stomach_center: tuple[float, float, float]
    stomach_axes: tuple[float, float, float]
    stomach_air_y: float
    spleen_center: tuple[float, float, float]
    spleen_axes: tuple[float, float, float]
    # airway and sternum
    carina_z: float
    trachea_y: float
    sternum_top: float
    sternum_bottom: float
    # lung parenchyma: density gradient (dependent lung is denser) and mild texture
    lung_gradient: float
    texture: np.ndarray  # TEXTURE_SHAPE (z, y, x) lattice values, HU


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw one plausible adult chest from ``rng`` (the only source of variation)."""
    u = rng.uniform
    body_a = u(158.0, 178.0)
    body_b_ant = u(104.0, 120.0)
    body_b_post = u(106.0, 120.0)
    fat = u(9.0, 22.0)
    skin = 2.0
    # The cavity sits inside skin, fat and the chest-wall muscle (thicker posteriorly).
    cav_a = body_a - skin - fat - u(10.0, 14.0)
    cav_b_ant = body_b_ant - skin - fat - u(14.0, 18.0)
    cav_b_post = body_b_post - skin - 0.6 * fat - u(14.0, 18.0)
    spine_r = u(14.0, 16.5)
    spine_y = cav_b_post - u(50.0, 54.0)
    apex_z = u(128.0, 140.0)
    dome_rz = u(-52.0, -40.0)
    # The right hemidiaphragm sits higher than the left (the liver pushes it up).
    dome_lz = dome_rz - u(20.0, 28.0)
    dome_x = 0.5 * cav_a + u(0.0, 8.0)
    dome_right = (-dome_x, u(-5.0, 10.0), dome_rz)
    dome_left = (dome_x + u(-4.0, 4.0), u(0.0, 12.0), dome_lz)
    heart_axes = (u(56.0, 64.0), u(40.0, 46.0), u(46.0, 54.0))
    heart_x = u(28.0, 38.0)
    heart_y = u(-30.0, -20.0)
    # The heart rests on the central tendon, between the domes.
    heart_z = dome_lz - 8.0 + 0.6 * heart_axes[2]
    carina_z = u(45.0, 58.0)
    stomach_axes = (u(36.0, 44.0), u(32.0, 40.0), u(40.0, 50.0))
    stomach_center = (u(50.0, 62.0), u(-30.0, -15.0), dome_lz - DIAPHRAGM_MM - stomach_axes[2])
    spleen_axes = (u(22.0, 28.0), u(40.0, 50.0), u(45.0, 55.0))
    spleen_center = (cav_a - spleen_axes[0] - 2.0, u(35.0, 50.0), dome_lz - 40.0)
    # Parenchymal texture: random values on a coarse lattice in mm, smoothly interpolated.
    texture = rng.normal(0.0, u(10.0, 16.0), size=TEXTURE_SHAPE).astype(np.float32)
    return Anatomy(
        body_a=body_a,
        body_b_ant=body_b_ant,
        body_b_post=body_b_post,
        body_power=u(2.3, 2.7),
        skin=skin,
        fat=fat,
        cav_a=cav_a,
        cav_b_ant=cav_b_ant,
        cav_b_post=cav_b_post,
        taper_z=u(35.0, 50.0),
        apex_z=apex_z,
        mw_ant=u(10.0, 14.0),
        mw_mid=u(8.0, 14.0),
        mw_post=u(36.0, 42.0),
        spine_y=spine_y,
        spine_r=spine_r,
        vertebra_period=u(24.0, 28.0),
        vertebra_phase=u(0.0, 28.0),
        dome_right=dome_right,
        dome_left=dome_left,
        dia_cx=u(0.008, 0.011),
        dia_cy_ant=u(0.003, 0.005),
        dia_cy_post=u(0.007, 0.009),
        heart_center=(heart_x, heart_y, heart_z),
        heart_axes=heart_axes,
        heart_angle=np.deg2rad(u(-42.0, -28.0)),
        liver_edge=u(10.0, 25.0),
        stomach_center=stomach_center,
        stomach_axes=stomach_axes,
        stomach_air_y=stomach_center[1] - u(5.0, 15.0),
        spleen_center=spleen_center,
        spleen_axes=spleen_axes,
        carina_z=carina_z,
        trachea_y=spine_y - spine_r - 22.0,
        sternum_top=apex_z - u(38.0, 46.0),
        sternum_bottom=dome_rz - u(5.0, 15.0),
        lung_gradient=u(30.0, 60.0),
        texture=texture,
    )


# -- regions (all broadcast over x, y, z) ---------------------------------------------------


def body_inside(an: Anatomy, x, y, inset: float, inset_post: float | None = None):
    """Inside the body superellipse shrunk by ``inset`` mm (``inset_post`` at the back)."""
    inset_post = inset if inset_post is None else inset_post
    a = an.body_a - inset
    b = np.where(y < 0, an.body_b_ant - inset, an.body_b_post - inset_post)
    p = an.body_power
    return np.abs(x / a) ** p + np.abs(y / b) ** p < 1.0


def taper(an: Anatomy, z):
    """Cavity scale at height z: 1 below ``taper_z``, closing like a dome at the apex."""
    t = np.clip((np.asarray(z, dtype=np.float64) - an.taper_z) / (an.apex_z - an.taper_z), 0, None)
    return np.sqrt(np.clip(1.0 - t**1.6, 0.0, None))


def cavity_inside(an: Anatomy, x, y, s):
    """Inside the ribs at cavity scale ``s`` (from :func:`taper`), minus the paraspinal block."""
    s = np.maximum(s, 1e-6)
    # The apices sit posteriorly: the shrinking cavity drifts back.
    cy = (1.0 - s) * 22.0
    b = np.where(y < cy, an.cav_b_ant, an.cav_b_post) * s
    inside = (x / (an.cav_a * s)) ** 2 + ((y - cy) / b) ** 2 < 1.0
    # Spine, rib heads and paraspinal muscles: a rounded block the lungs wrap around.
    paraspinal = (x / an.mw_post) ** 2 + ((y - an.spine_y - 35.0) / 40.0) ** 2 < 1.0
    return inside & ~paraspinal


def mediastinum_halfwidth(an: Anatomy, y, s=1.0):
    """Half-width of the mediastinum at y: narrow anteriorly, wide around the spine.

    It widens towards the thoracic inlet (cavity scale ``s`` < 1), so each apex is a dome
    of its own rather than the two lungs meeting at the top.
    """
    middle = an.mw_mid * np.exp(-(((y + 5.0) / 45.0) ** 2))
    back = (an.mw_post - an.mw_ant) / (1.0 + np.exp(-(y - an.spine_y - 12.0) / 7.0))
    return an.mw_ant + middle + back + 35.0 * (1.0 - s) ** 1.5


def diaphragm_z(an: Anatomy, x, y):
    """Height of the diaphragm's upper surface: the higher of two paraboloid domes."""

    def dome(peak: tuple[float, float, float]):
        dy = y - peak[1]
        cy = np.where(dy > 0, an.dia_cy_post, an.dia_cy_ant)
        return peak[2] - an.dia_cx * (x - peak[0]) ** 2 - cy * dy * dy

    return np.maximum(dome(an.dome_right), dome(an.dome_left))


def heart_q(an: Anatomy, x, y, z):
    """Quadratic form of the heart ellipsoid (< 1 inside), long axis to the left-anterior."""
    cx, cy, cz = an.heart_center
    a, b, c = an.heart_axes
    ca, sa = np.cos(an.heart_angle), np.sin(an.heart_angle)
    dx, dy = x - cx, y - cy
    u = ca * dx + sa * dy
    v = -sa * dx + ca * dy
    return (u / a) ** 2 + (v / b) ** 2 + ((z - cz) / c) ** 2


def lung_masks(an: Anatomy, x, y, z):
    """(right, left) lung regions before the heart and the tubes are drawn over them."""
    s = taper(an, z)
    cavity = cavity_inside(an, x, y, s)
    mw = mediastinum_halfwidth(an, y, s)
    above = z > diaphragm_z(an, x, y)
    return cavity & above & (x < -mw), cavity & above & (x > mw)


def in_lung(an: Anatomy, points: np.ndarray) -> np.ndarray:
    """True where LPS points (n, 3) lie in lung parenchyma (outside heart and diaphragm)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
    right, left = lung_masks(an, x, y, z)
    heart = heart_q(an, x, y, z) < 1.0
    return (right | left) & ~heart


def liver_side(an: Anatomy, x, y):
    """The liver fills the abdomen right of a line running to the left anteriorly."""
    return x < an.liver_edge - 0.45 * y


def vertebra_level(an: Anatomy, z: float) -> tuple[bool, float]:
    """(is this z in a vertebral body rather than a disc, z of that vertebra's centre)."""
    period = an.vertebra_period
    phase = (z - an.vertebra_phase) % period
    centre = z - phase + 0.5 * period
    return phase > 5.0, centre


def canal_y(an: Anatomy) -> float:
    return an.spine_y + an.spine_r + 7.0


def sternum_y(an: Anatomy) -> float:
    return -an.cav_b_ant - 8.0


def sternum_halfwidth(an: Anatomy, z: float) -> float:
    """The manubrium is wide, the body narrower, the xiphoid narrowest."""
    from_top = an.sternum_top - z
    if from_top < 45.0:
        return 24.0 - 0.22 * from_top
    return max(7.0, 14.0 - 0.04 * (from_top - 45.0))


def landmarks(an: Anatomy) -> dict[str, tuple[float, float, float]]:
    """Named LPS points with known tissue, for orientation tests and demos.

    ``liver_dome`` lies under the right dome and its left mirror image in the left lung (the
    left dome is lower); ``heart_center`` is blood and its mirror image right lung.
    """
    rx, ry, rz = an.dome_right
    mid_z = 0.5 * (an.carina_z + an.dome_right[2])
    return {
        "heart_center": tuple(float(v) for v in an.heart_center),
        "liver_dome": (float(rx), float(ry + 15.0), float(rz - 12.0)),
        "descending_aorta": (DESCENDING_AORTA_X, float(an.spine_y - 2.0), float(mid_z)),
        "trachea": (0.0, float(an.trachea_y), float(an.carina_z + 20.0)),
        "vertebral_body": (0.0, float(an.spine_y), float(vertebra_level(an, mid_z)[1])),
        "sternum": (0.0, float(sternum_y(an)), float(an.sternum_top - 60.0)),
    }
