"""Drawing the chest phantom on a voxel grid: organs slice by slice, tubes and spheres by box.

Work stays in float32 and in small windows (one slice, or a segment's bounding box) so a
512 x 512 x 300 phantom draws in seconds without full-size temporaries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medview.imaging._phantom_anatomy import (
    DIAPHRAGM_MM,
    HU,
    TEXTURE_STEP_MM,
    Anatomy,
    body_inside,
    canal_y,
    cavity_inside,
    diaphragm_z,
    heart_q,
    liver_side,
    mediastinum_halfwidth,
    sternum_halfwidth,
    sternum_y,
    taper,
    vertebra_level,
)
from medview.imaging._phantom_segments import Segments


class Canvas:
    """A float32 HU volume ``[k, j, i]`` with the LPS mm coordinate of each axis.

    The grid is axial with identity direction, so x depends on i only, y on j, z on k.
    """

    def __init__(self, array: np.ndarray, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray):
        self.array = array
        self.xs = xs.astype(np.float32)
        self.ys = ys.astype(np.float32)
        self.zs = zs.astype(np.float32)
        spacing = [abs(float(v[1] - v[0])) if len(v) > 1 else 1.0 for v in (xs, ys, zs)]
        #: Edge width for anti-aliasing: one voxel, so thin structures fade rather than alias.
        self.h = float(np.prod(spacing) ** (1.0 / 3.0))

    def window(self, lo, hi) -> tuple[slice, slice, slice] | None:
        """Array slices (k, j, i) covering the LPS box ``lo..hi``, or None when outside."""
        return self.windows(np.asarray(lo, float)[None], np.asarray(hi, float)[None])[0]

    def windows(self, lo: np.ndarray, hi: np.ndarray) -> list[tuple[slice, slice, slice] | None]:
        """:meth:`window` for many boxes at once (rows of ``lo`` and ``hi``)."""
        bounds = []
        for axis in (2, 1, 0):
            coords = (self.xs, self.ys, self.zs)[axis]
            bounds.append(np.searchsorted(coords, lo[:, axis], side="left"))
            bounds.append(np.searchsorted(coords, hi[:, axis], side="right"))
        b = np.stack(bounds, 1).tolist()
        return [
            (slice(k0, k1), slice(j0, j1), slice(i0, i1))
            if k1 > k0 and j1 > j0 and i1 > i0
            else None
            for k0, k1, j0, j1, i0, i1 in b
        ]

    def coverage(self, radius: float) -> float:
        """Peak scale of the soft edge of a tube of ``radius`` (1 unless sub-voxel).

        A soft edge one voxel wide would swell a sub-voxel vessel to a whole voxel; scaling
        its peak keeps the partial volume (cross-section pi r^2) about right instead.
        """
        half = 0.5 * self.h
        if radius >= half:
            return 1.0
        return min(1.0, 3.0 * self.h * radius * radius / (radius + half) ** 3 / 0.75)

    def _alpha(self, dist2: np.ndarray, radius, mean_radius: float) -> np.ndarray:
        alpha = np.sqrt(dist2)
        np.subtract(radius, alpha, out=alpha)
        alpha *= 1.0 / self.h
        alpha += 0.5
        np.clip(alpha, 0.0, 1.0, out=alpha)
        scale = self.coverage(mean_radius)
        if scale < 1.0:
            alpha *= scale
        return alpha

    def _blend(self, win, alpha: np.ndarray, hu: float, below: float | None) -> None:
        block = self.array[win]
        if below is not None:
            alpha *= block < below
        block += alpha * (np.float32(hu) - block)

    def paint_segments(self, segs: Segments, hu: float, below: float | None = None) -> None:
        """Blend tapered capsules into the volume with soft (anti-aliased) edges."""
        if not len(segs):
            return
        rmax = np.maximum(segs.r0, segs.r1)[:, None] + self.h
        lo = np.minimum(segs.a, segs.b) - rmax
        hi = np.maximum(segs.a, segs.b) + rmax
        wins = self.windows(lo, hi)
        for win, a, b, r0, r1 in zip(wins, segs.a, segs.b, segs.r0, segs.r1, strict=True):
            if win is None:
                continue
            mean_r = 0.5 * (r0 + r1)
            if self.coverage(mean_r) < 0.05:
                continue  # far below a voxel: it would not change a single HU
            sz, sy, sx = win
            x = self.xs[sx] - np.float32(a[0])
            y = self.ys[sy] - np.float32(a[1])
            z = self.zs[sz] - np.float32(a[2])
            d = (b - a).astype(np.float32)
            length2 = float(d @ d)
            if length2 < 1e-9:
                t = np.zeros((len(z), len(y), len(x)), np.float32)
            else:
                t = (x * (d[0] / length2))[None, None, :] + (y * (d[1] / length2))[None, :, None]
                t = t + (z * (d[2] / length2))[:, None, None]
                np.clip(t, 0.0, 1.0, out=t)
            dist2 = np.square(x[None, None, :] - t * d[0])
            dist2 += np.square(y[None, :, None] - t * d[1])
            dist2 += np.square(z[:, None, None] - t * d[2])
            radius = t * np.float32(r1 - r0)
            radius += np.float32(r0)
            self._blend(win, self._alpha(dist2, radius, mean_r), hu, below)

    def paint_sphere(self, center, radius: float, hu: float, below: float | None = None) -> None:
        center = np.asarray(center, dtype=np.float64)
        win = self.window(center - radius - self.h, center + radius + self.h)
        if win is None:
            return
        sz, sy, sx = win
        dist2 = (
            np.square(self.xs[sx] - np.float32(center[0]))[None, None, :]
            + np.square(self.ys[sy] - np.float32(center[1]))[None, :, None]
        )
        dist2 = dist2 + np.square(self.zs[sz] - np.float32(center[2]))[:, None, None]
        self._blend(win, self._alpha(dist2, np.float32(radius), radius), hu, below)


def _lattice_weights(coords: np.ndarray, n: int) -> np.ndarray:
    """Gaussian interpolation weights from ``n`` lattice nodes to ``coords`` (rows, L2 = 1).

    Normalising the L2 norm (not the sum) keeps the field's standard deviation equal to the
    lattice values' whatever the grid: the texture looks the same at any resolution.
    """
    nodes = (np.arange(n) - (n - 1) / 2.0) * TEXTURE_STEP_MM
    w = np.exp(-0.5 * ((coords[:, None] - nodes[None, :]) / (0.7 * TEXTURE_STEP_MM)) ** 2)
    w /= np.sqrt(np.square(w).sum(axis=1, keepdims=True)) + 1e-12
    # Exact zeros, not float32 denormals: those make the matrix products crawl.
    w[w < 1e-6] = 0.0
    return w.astype(np.float32)


class SlicePainter:
    """Draws the organs that are simplest as 2D regions, one axial slice at a time.

    Everything that does not change with z (body wall, diaphragm height map, mediastinum
    width) is computed once per grid; a slice then costs a handful of masked copies.
    """

    def __init__(self, an: Anatomy, canvas: Canvas):
        self.an = an
        self.canvas = canvas
        x = canvas.xs[None, :]
        y = canvas.ys[:, None]
        self.x, self.y = x, y
        base = np.full((len(canvas.ys), len(canvas.xs)), HU["air"], np.float32)
        base[body_inside(an, x, y, 0.0)] = HU["skin"]
        base[body_inside(an, x, y, an.skin)] = HU["fat"]
        inner = an.skin + an.fat
        base[body_inside(an, x, y, inner, an.skin + 0.6 * an.fat)] = HU["muscle"]
        self.base = base
        self.mw = mediastinum_halfwidth(an, y).astype(np.float32)
        self.dz = diaphragm_z(an, x, y).astype(np.float32)
        self.dz_max = float(self.dz.max())
        self.cavity_full = cavity_inside(an, x, y, 1.0)
        self.lung_xy_full = self.cavity_full & (np.abs(x) > self.mw)
        self.liver = liver_side(an, x, y)
        # Dependent (posterior) lung is denser: supine patient, gravity along +y.
        self.lung_base = (HU["lung"] + an.lung_gradient * (y / an.cav_b_post)).astype(np.float32)
        # Transposed and contiguous: matmul with a transposed view is several times slower.
        self.tex_wxt = np.ascontiguousarray(_lattice_weights(canvas.xs, an.texture.shape[2]).T)
        self.tex_wy = _lattice_weights(canvas.ys, an.texture.shape[1])

    def _win2d(self, x0, x1, y0, y1):
        c = self.canvas
        i0, i1 = np.searchsorted(c.xs, x0), np.searchsorted(c.xs, x1, side="right")
        j0, j1 = np.searchsorted(c.ys, y0), np.searchsorted(c.ys, y1, side="right")
        if i1 <= i0 or j1 <= j0:
            return None
        return slice(j0, j1), slice(i0, i1)

    def paint(self, k: int) -> None:
        an, out = self.an, self.canvas.array[k]
        z = float(self.canvas.zs[k])
        out[...] = self.base
        s = float(taper(an, z))
        if s > 0.0:
            if s >= 1.0:
                cavity, lung_xy = self.cavity_full, self.lung_xy_full
            else:
                cavity = cavity_inside(an, self.x, self.y, s)
                lung_xy = cavity & (np.abs(self.x) > mediastinum_halfwidth(an, self.y, s))
            np.copyto(out, HU["mediastinal_fat"], where=cavity)
            if z < self.dz_max + DIAPHRAGM_MM:
                self._abdomen(out, z, cavity)
            lung = lung_xy & (self.dz < z)
            np.copyto(out, self.lung_base + self._texture(z), where=lung)
            self._heart(out, z)
        self._spine(out, z)
        self._sternum(out, z)

    def _texture(self, z: float) -> np.ndarray:
        """The lung texture field on this slice (HU, zero mean)."""
        wz = _lattice_weights(np.array([z], np.float32), self.an.texture.shape[0])[0]
        used = np.flatnonzero(wz > 1e-4)
        plane = np.tensordot(wz[used], self.an.texture[used], axes=(0, 0))
        return (self.tex_wy @ plane) @ self.tex_wxt

    def _abdomen(self, out: np.ndarray, z: float, cavity: np.ndarray) -> None:
        below = self.dz > z + DIAPHRAGM_MM
        np.copyto(out, HU["diaphragm"], where=cavity & (self.dz >= z) & ~below)
        abdomen = cavity & below
        np.copyto(out, HU["fat"], where=abdomen)
        np.copyto(out, HU["liver"], where=abdomen & self.liver)
        an = self.an
        for centre, axes, organ in (
            (an.spleen_center, an.spleen_axes, "spleen"),
            (an.stomach_center, an.stomach_axes, "stomach"),
        ):
            dzc = (z - centre[2]) / axes[2]
            if abs(dzc) >= 1.0:
                continue
            win = self._win2d(
                centre[0] - axes[0], centre[0] + axes[0], centre[1] - axes[1], centre[1] + axes[1]
            )
            if win is None:
                continue
            q = (
                ((self.x[:, win[1]] - centre[0]) / axes[0]) ** 2
                + ((self.y[win[0]] - centre[1]) / axes[1]) ** 2
                + dzc * dzc
            )
            region = abdomen[win]
            block = out[win]
            if organ == "spleen":
                np.copyto(block, HU["spleen"], where=region & (q < 1.0))
                continue
            np.copyto(block, HU["stomach_wall"], where=region & (q < 1.0))
            lumen = region & (q < 0.85**2)
            # Supine: air rises to the anterior (-y) side, fluid lies posteriorly.
            air = self.y[win[0]] < an.stomach_air_y
            np.copyto(block, HU["air"], where=lumen & air)
            np.copyto(block, HU["stomach_fluid"], where=lumen & ~air)

    def _heart(self, out: np.ndarray, z: float) -> None:
        an = self.an
        cx, cy, cz = an.heart_center
        a, _, c = an.heart_axes
        if abs(z - cz) >= c:
            return
        win = self._win2d(cx - a, cx + a, cy - a, cy + a)
        if win is None:
            return
        q = heart_q(an, self.x[:, win[1]], self.y[win[0]], z)
        # The heart rests on the diaphragm: nothing of it below the diaphragm surface.
        above = self.dz[win] < z
        block = out[win]
        np.copyto(block, HU["pericardial_fat"], where=above & (q < 1.0))
        np.copyto(block, HU["myocardium"], where=above & (q < 0.92**2))
        np.copyto(block, HU["blood"], where=above & (q < 0.74**2))

    def _spine(self, out: np.ndarray, z: float) -> None:
        an = self.an
        sy, sr, cy = an.spine_y, an.spine_r, canal_y(an)
        win = self._win2d(-40.0, 40.0, sy - sr - 2.0, cy + 30.0)
        if win is None:
            return
        x, y, block = self.x[:, win[1]], self.y[win[0]], out[win]
        is_body, zc = vertebra_level(an, z)
        q = (x / (1.1 * sr)) ** 2 + ((y - sy) / sr) ** 2
        if is_body:
            np.copyto(block, HU["cortical_bone"], where=q < 1.0)
            np.copyto(block, HU["cancellous_bone"], where=q < ((sr - 1.6) / sr) ** 2)
            bone = (np.abs(x) > 5.0) & (np.abs(x) < 11.0) & (y > sy) & (y < cy)
            bone |= (np.abs(x) < 3.5) & (y > cy + 8.0) & (y < cy + 26.0)
            if abs(z - zc) < 6.0:
                # Transverse processes run back and out towards the rib tubercles.
                along = np.abs(y - cy - 0.35 * (np.abs(x) - 8.0))
                bone |= (along < 3.5) & (np.abs(x) > 8.0) & (np.abs(x) < 27.0)
        else:
            np.copyto(block, HU["disc"], where=q < 1.0)
            bone = np.zeros(q.shape, dtype=bool)
        bone |= (x / 11.5) ** 2 + ((y - cy) / 10.5) ** 2 < 1.0
        np.copyto(block, HU["posterior_elements"], where=bone)
        np.copyto(block, HU["canal"], where=(x / 7.0) ** 2 + ((y - cy) / 6.5) ** 2 < 1.0)

    def _sternum(self, out: np.ndarray, z: float) -> None:
        an = self.an
        if not an.sternum_bottom < z < an.sternum_top:
            return
        w, sy = sternum_halfwidth(an, z), sternum_y(an)
        win = self._win2d(-w - 1.0, w + 1.0, sy - 8.0, sy + 8.0)
        if win is None:
            return
        x, y, block = self.x[:, win[1]], self.y[win[0]], out[win]
        np.copyto(block, HU["cortical_bone"], where=(x / w) ** 2 + ((y - sy) / 6.5) ** 2 < 1.0)
        inner = (x / (w - 1.6)) ** 2 + ((y - sy) / 4.9) ** 2 < 1.0
        np.copyto(block, HU["cancellous_bone"], where=inner)


# -- point spread function, noise, quantisation -------------------------------------------------


def _gaussian_kernel(sigma_vox: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3.0 * sigma_vox)))
    k = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (k / sigma_vox) ** 2)
    return (w / w.sum()).astype(np.float32)


def _convolve(block: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """1D convolution of ``block`` along ``axis``, edges extended (air stays air)."""
    r = len(kernel) // 2
    n = block.shape[axis]
    pad = [(0, 0)] * block.ndim
    pad[axis] = (r, r)
    padded = np.pad(block, pad, mode="edge")

    def part(start: int) -> np.ndarray:
        index = [slice(None)] * block.ndim
        index[axis] = slice(start, start + n)
        return padded[tuple(index)]

    out = block * kernel[r]
    for s in range(1, r + 1):
        out += kernel[r + s] * (part(r + s) + part(r - s))
    return out


def blur(array: np.ndarray, sigma_mm: tuple[float, float, float], spacing, chunk: int = 16) -> None:
    """In-place separable Gaussian (sigma per axis x, y, z in mm), slab by slab.

    Axes where sigma is under a quarter voxel are left alone: the kernel would be a delta.
    """
    sig = [s / sp for s, sp in zip(sigma_mm, spacing, strict=True)]
    nz, ny, _ = array.shape
    plane = [(ax, _gaussian_kernel(s)) for ax, s in ((2, sig[0]), (1, sig[1])) if s >= 0.25]
    if plane:
        for k0 in range(0, nz, chunk):
            block = array[k0 : k0 + chunk]
            for axis, kern in plane:
                block = _convolve(block, kern, axis)
            array[k0 : k0 + chunk] = block
    if sig[2] >= 0.25 and nz > 1:
        kern = _gaussian_kernel(sig[2])
        for j0 in range(0, ny, chunk):
            array[:, j0 : j0 + chunk] = _convolve(array[:, j0 : j0 + chunk], kern, 0)


def finish(
    array: np.ndarray,
    noise_hu: float,
    rng: np.random.Generator,
    progress: Callable[[float], None] | None = None,
    chunk: int = 16,
) -> np.ndarray:
    """Add Gaussian noise, clip to the 12-bit CT range and round to int16, slab by slab."""
    out = np.empty(array.shape, dtype=np.int16)
    nz = array.shape[0]
    for k0 in range(0, nz, chunk):
        block = array[k0 : k0 + chunk]
        if noise_hu > 0:
            noise = rng.standard_normal(block.shape, dtype=np.float32)
            noise *= np.float32(noise_hu)
            block += noise
        np.clip(block, -1024.0, 3071.0, out=block)
        np.rint(block, out=block)
        out[k0 : k0 + chunk] = block
        if progress:
            progress(min(1.0, (k0 + chunk) / nz))
    return out
