"""Tubular anatomy of the chest phantom as capsule segments in LPS mm.

Great vessels, airways, the branching pulmonary vessel trees, ribs and clavicles are all chains
of tapered capsules (a segment with a radius at each end). Building them is separate from
drawing them, so nodule placement can keep clear of the same segments the renderer draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medview.imaging._phantom_anatomy import (
    DESCENDING_AORTA_X,
    HU,
    Anatomy,
    canal_y,
    cavity_inside,
    in_lung,
    mediastinum_halfwidth,
    sternum_halfwidth,
    sternum_y,
    taper,
    vertebra_level,
)
from medview.imaging._phantom_segments import LungSpace, Segments, spline
from medview.imaging._phantom_vessels import VesselTree, grow_vessel_tree, node_directions


@dataclass(frozen=True)
class Layer:
    """Segments drawn with one HU value, in drawing order."""

    name: str
    segments: Segments
    hu: float


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@dataclass(frozen=True)
class Hila:
    """Where the pulmonary arteries enter each lung and the veins leave it, LPS mm."""

    artery_right: np.ndarray
    artery_left: np.ndarray
    veins: tuple[np.ndarray, ...]  # right upper, right lower, left upper, left lower
    left_atrium: np.ndarray


def hila(an: Anatomy) -> Hila:
    """Hila just lateral to the mediastinum, below the carina; veins below the arteries."""
    ty, cz = an.trachea_y, an.carina_z
    mw = float(mediastinum_halfwidth(an, ty))
    hx, hy, hz = an.heart_center
    return Hila(
        artery_right=np.array([-(mw + 16.0), ty + 2.0, cz - 24.0]),
        artery_left=np.array([mw + 18.0, ty + 6.0, cz - 18.0]),
        veins=(
            np.array([-(mw + 14.0), ty - 12.0, cz - 34.0]),
            np.array([-(mw + 14.0), ty + 16.0, cz - 52.0]),
            np.array([mw + 16.0, ty - 10.0, cz - 28.0]),
            np.array([mw + 16.0, ty + 16.0, cz - 48.0]),
        ),
        left_atrium=np.array([hx - 25.0, hy + 30.0, hz + 18.0]),
    )


@dataclass(frozen=True)
class Mediastinum:
    """Tubes of the mediastinum: systemic vessels, pulmonary vessels, oesophagus, trachea."""

    systemic: Segments
    pulmonary: Segments
    oesophagus: Segments
    trachea: Segments

    def keep_out(self) -> Segments:
        """What lung vessels and bronchi must not cross (pulmonary vessels they join)."""
        out = Segments()
        for segs in (self.systemic, self.oesophagus, self.trachea):
            out.extend(segs)
        return out


def mediastinum(an: Anatomy, h: Hila) -> Mediastinum:
    """Aorta with its arch to the left, cavae, pulmonary trunk and veins, oesophagus, trachea."""
    ty, cz, sy = an.trachea_y, an.carina_z, an.spine_y
    hx, hy, hz = an.heart_center
    top = 170.0
    dx = DESCENDING_AORTA_X
    v = Segments()
    # Aorta: root in the heart, ascending right-anterior, arch over the left main bronchus
    # passing left of the trachea, descending left of the spine, through the hiatus.
    v.extend(
        spline(
            [
                (hx - 22, hy + 2, hz + 10),
                (-8, ty - 36, cz - 20),
                (-6, ty - 34, cz + 10),
                (8, ty - 26, cz + 24),
                (26, ty - 6, cz + 27),
                (32, ty + 16, cz + 18),
                (dx, sy - 2, cz - 8),
                (dx, sy - 2, an.dome_left[2]),
                (14, sy - 22, -175),
            ],
            [13, 15, 15, 14, 13, 12.5, 12, 12, 10],
            samples=5,
        )
    )
    # Arch branches and the left brachiocephalic vein crossing in front of them.
    v.extend(
        spline(
            [(2, ty - 28, cz + 22), (-12, ty - 24, cz + 50), (-22, ty - 14, top)], [6.5, 6.5, 6.0]
        )
    )
    v.extend(
        spline(
            [(14, ty - 22, cz + 26), (16, ty - 14, cz + 60), (18, ty - 10, top)], [4.5, 4.5, 4.5]
        )
    )
    v.extend(
        spline([(24, ty - 8, cz + 26), (30, ty - 2, cz + 55), (45, ty + 2, top)], [5.0, 5.0, 5.0])
    )
    v.extend(
        spline(
            [(60, ty - 32, cz + 75), (10, ty - 42, cz + 48), (-30, ty - 18, cz + 38)],
            [6.0, 6.0, 7.0],
        )
    )
    # Superior and inferior venae cavae on the right, into the right atrium.
    v.extend(
        spline([(-30, ty - 18, top), (-30, ty - 20, cz - 20), (-20, hy + 15, hz + 22)], [9, 9, 9])
    )
    v.extend(
        spline(
            [(-20, sy - 18, -175), (-20, sy - 20, an.dome_right[2] - 10), (-14, hy + 25, hz - 20)],
            [11, 11, 11],
        )
    )
    # Pulmonary trunk from the heart, splitting under the arch to both hila.
    p = Segments()
    fork = np.array([hx - 18, ty - 14, cz - 12])
    p.extend(
        spline([(hx - 12, hy - 15, hz + 25), (hx - 15, ty - 26, cz - 22), fork], [13, 13.5, 12])
    )
    p.extend(spline([fork, (38, ty - 2, cz - 6), h.artery_left], [10.5, 10, 8.5]))
    p.extend(
        spline(
            [fork, (0, ty - 12, cz - 16), (-22, ty - 10, cz - 18), h.artery_right],
            [10.5, 10, 10, 9],
        )
    )
    for vein in h.veins:
        p.extend(spline([vein, 0.5 * (vein + h.left_atrium), h.left_atrium], [7, 7, 7]))
    oes_y = sy - an.spine_r - 5.0
    sc = an.stomach_center
    oesophagus = spline(
        [
            (8, oes_y, top),
            (8, oes_y, cz - 40),
            (14, oes_y - 7, an.dome_left[2] - 8),
            (sc[0] - 20, sc[1] + 15, sc[2] + 20),
        ],
        [6.5, 6.5, 6.5, 7.0],
    )
    carina = (0.0, ty + 2.0, cz)
    trachea = spline([(0.0, ty, 175.0), (0.0, ty, cz + 30), carina], [10.5, 10.5, 10.0])
    return Mediastinum(v, p, oesophagus, trachea)


def tree_segments(tree: VesselTree, scale: float = 1.0) -> Segments:
    """Every edge of ``tree`` as a capsule with the calibre of its distal node."""
    child, par = tree.edges()
    r = tree.radius[child] * scale
    return Segments(tree.nodes[par], tree.nodes[child], r, r)


def lung_trees(
    an: Anatomy, rng: np.random.Generator, h: Hila, space: LungSpace
) -> tuple[list[VesselTree], list[VesselTree]]:
    """(arteries, veins), one tree per lung each, grown from the hila within ``space``.

    Density (attraction points) and the smallest calibre vary with the seed.
    """
    leaf = rng.uniform(0.45, 0.55)
    n_points = int(rng.integers(1100, 1500))

    def grow(roots, side):
        return grow_vessel_tree(an, space, rng, roots, side, n_points, leaf)

    arteries = [grow([h.artery_right], -1.0), grow([h.artery_left], 1.0)]
    veins = [grow(list(h.veins[:2]), -1.0), grow(list(h.veins[2:]), 1.0)]
    return arteries, veins


def bronchi(
    space: LungSpace, artery: VesselTree, min_radius: float = 1.6
) -> tuple[Segments, np.ndarray]:
    """Bronchi running beside the central arteries (outer wall radii), and their hilar hub.

    Each artery node is shifted by about two calibres, perpendicular to its vessel and
    towards the back (or laterally when the vessel itself runs front to back): the
    bronchovascular bundle. Shifting nodes, not edges, keeps the bronchial tree connected.
    """
    d = node_directions(artery)
    back = np.array([0.0, 1.0, 0.0])
    perp = back[None] - (d @ back)[:, None] * d
    lateral = np.array([np.sign(artery.nodes[0, 0]), 0.0, 0.0])
    weak = np.linalg.norm(perp, axis=1) < 0.3
    perp[weak] = lateral[None] - (d[weak] @ lateral)[:, None] * d[weak]
    offset = _unit(perp) * (2.0 * artery.radius + 1.0)[:, None]
    moved = artery.nodes + offset
    child, par = artery.edges()
    keep = artery.radius[child] >= min_radius
    child, par = child[keep], par[keep]
    middle = 0.5 * (moved[child] + moved[par])
    inside = space(moved[child]) & space(middle) & (space(moved[par]) | (artery.parent[par] < 0))
    child, par = child[inside], par[inside]
    r = artery.radius[child]
    hub = moved[np.flatnonzero(artery.parent < 0)[0]]
    return Segments(moved[par], moved[child], r, r), hub


def airways(med: Mediastinum, space: LungSpace, arteries: list[VesselTree]) -> Segments:
    """Trachea, main bronchi and the bronchial trees, as outer wall radii (lumen is 70 %)."""
    carina = med.trachea.b[-1]
    segs = Segments()
    segs.extend(med.trachea)
    # The right main bronchus is short, wide and steep (about 25 degrees off the midline),
    # the left one longer and flatter (about 45 degrees), passing under the aortic arch.
    for artery, radius, knee in zip(
        arteries, (8.5, 7.8), ((-16.0, 5.0, -14.0), (22.0, 8.0, -16.0)), strict=True
    ):
        tree, hub = bronchi(space, artery)
        bend = carina + np.asarray(knee)
        segs.extend(spline([carina, bend, hub], [9.5, radius, radius * 0.9]))
        segs.extend(tree)
    return segs


def _rib_point(an: Anatomy, side: float, theta: float, z: float, radius: float):
    """A point of a rib just outside the cavity wall at angle ``theta`` from posterior."""
    s = max(float(taper(an, z)), 0.25)
    cy = (1.0 - s) * 22.0
    b = an.cav_b_post if np.cos(theta) > 0 else an.cav_b_ant
    x = side * (an.cav_a * s + 3.0 + radius) * np.sin(theta)
    y = cy + (b * s + 3.0 + radius) * np.cos(theta)
    return (x, y, z)


def ribs(an: Anatomy, rng: np.random.Generator) -> tuple[Segments, Segments]:
    """(bony ribs and clavicles, costal cartilage) as outer radii.

    A rib leaves its vertebra, sweeps round just outside the pleura and falls by several
    vertebral levels towards the front (so an axial slice cuts it obliquely, into short
    arcs); the costal cartilage then climbs to the sternum (ribs 1-7) or the costal margin
    (8-10); 11 and 12 float.
    """
    bone, cartilage = Segments(), Segments()
    first = vertebra_level(an, an.apex_z - 6.0)[1]
    cy_canal = canal_y(an)
    st_y = sternum_y(an)
    st_span = an.sternum_top - an.sternum_bottom
    for n in range(12):
        z_head = first - n * an.vertebra_period
        drop = min(35.0 + 12.0 * n, 80.0) + rng.uniform(-5.0, 5.0)
        theta_bone = (2.2, 2.2, 2.15, 2.1, 2.05, 2.0, 1.95, 1.9, 1.9, 1.9, 1.7, 1.5)[n]
        radius = 3.6 if n < 2 else 4.2
        thetas = np.arange(0.45, theta_bone + 1e-6, 0.15)
        for side in (-1.0, 1.0):
            pts = [
                (side * (an.spine_r + 2.0), an.spine_y + 3.0, z_head),
                (side * (an.spine_r + 14.0), cy_canal + 3.0, z_head + 1.0),
            ]
            for theta in thetas:
                z = z_head - drop * (theta / theta_bone) ** 1.3
                pts.append(_rib_point(an, side, theta, z, radius))
            bone.extend(spline(pts, [radius] * len(pts), samples=2))
            if n >= 10:
                continue
            z_end = pts[-1][2]
            if n < 7:
                # True ribs: the cartilage climbs to the sternum's edge.
                z_st = an.sternum_top - 6.0 - n * (st_span - 12.0) / 6.0
                mid = _rib_point(an, side, 0.5 * (theta_bone + 2.75), 0.5 * (z_end + z_st), radius)
                tip = (side * (sternum_halfwidth(an, z_st) + 2.0), st_y, z_st)
            else:
                # False ribs: the cartilage joins the costal margin below the sternum.
                z_st = min(an.sternum_bottom - 8.0 * (n - 6), z_end + 20.0)
                mid = _rib_point(an, side, 0.5 * (theta_bone + 2.55), 0.5 * (z_end + z_st), radius)
                tip = _rib_point(an, side, 2.55, z_st, radius)
            cart = [pts[-2], pts[-1], mid, tip]
            cartilage.extend(spline(cart, [radius * 0.9] * len(cart), samples=3)[2:])
    # Clavicles: from the manubrium laterally, rising and turning back to the shoulder.
    st_top = an.sternum_top
    for side in (-1.0, 1.0):
        bone.extend(
            spline(
                [
                    (side * 14, st_y - 4, st_top + 4),
                    (side * 45, st_y - 3, st_top + 14),
                    (side * 90, st_y + 14, st_top + 22),
                    (side * (an.cav_a - 5), st_y + 40, st_top + 30),
                ],
                [6.0, 6.0, 5.5, 6.5],
                samples=3,
            )
        )
    return bone, cartilage


def build_layers(an: Anatomy, rng: np.random.Generator) -> tuple[list[Layer], list[Layer]]:
    """(soft-tissue and airway layers drawn before nodules, bone layers drawn after them)."""
    h = hila(an)
    med = mediastinum(an, h)
    space = LungSpace(lambda p: in_lung(an, p), med.keep_out())
    arteries, veins = lung_trees(an, rng, h, space)
    airway = airways(med, space, arteries)
    bone, cartilage = ribs(an, rng)
    soft = [
        Layer("oesophagus", med.oesophagus, 35.0),
        Layer("systemic vessels", med.systemic, HU["vessel"]),
        Layer("pulmonary trunk and veins", med.pulmonary, HU["vessel"]),
        *(Layer("pulmonary veins", tree_segments(t), HU["vessel"]) for t in veins),
        *(Layer("pulmonary arteries", tree_segments(t), HU["vessel"]) for t in arteries),
        Layer("airway walls", airway, HU["airway_wall"]),
        Layer("airway lumen", airway.scaled(0.7), HU["air"]),
    ]
    hard = [
        Layer("costal cartilage", cartilage, HU["cartilage"]),
        Layer("cortical bone", bone, HU["cortical_bone"]),
        Layer("marrow", bone.scaled(1.0, minus=1.3), HU["cancellous_bone"]),
    ]
    return soft, hard


def obstacle_segments(layers: list[Layer], min_radius: float = 1.2) -> Segments:
    """Segments nodules must keep clear of (everything drawn at least this thick)."""
    out = Segments()
    for layer in layers:
        if layer.hu > -500:
            out.extend(layer.segments.without_thin(min_radius))
    return out


def outside_chest_wall(an: Anatomy, points: np.ndarray) -> np.ndarray:
    """True where points lie outside the thoracic cavity (chest wall, not mediastinum)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    return ~cavity_inside(an, p[:, 0], p[:, 1], taper(an, p[:, 2]))
