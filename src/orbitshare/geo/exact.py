"""Exact country fractions: the spherical area of (polygon ∩ cell) over the cell's area, for every cell.

Polygon edges are straight lines in longitude/latitude (as Natural Earth draws them). On the unit
sphere the area element is ``cos φ dφ dλ = ds dλ`` with ``s = sin φ``, so by Green's theorem the area
of a region R inside the cell ``[λ0, λ1] × [φ0, φ1]`` is

    A = −∮_∂R (clip(sin φ, s0, s1) − s0) dλ        (∂R counter-clockwise; s0 = sin φ0, s1 = sin φ1)

restricted to the edge pieces with λ in [λ0, λ1]. Each edge is cut where it crosses a cell row or
column boundary; a piece inside row i, column j adds

    −Δλ (sin φ_m · sin h / h − s0) / (s1 − s0) / Δλ_cell     to cell (i, j),  and
    −Δλ / Δλ_cell                                             to every cell of column j south of row i,

where ``∫ sin φ dλ = Δλ · sin φ_m · sin h / h`` is the closed form along a straight lon/lat edge
(φ_m the piece's mid latitude, h half its latitude change, radians). The second term is accumulated
as a "cover" value summed from north to south (as in a font rasteriser), so the work is linear in the
number of edge pieces plus the cells of each polygon's bounding box. Exterior rings count positive and
holes negative whatever their stored orientation; the result is exact up to floating-point rounding
(about 1e-13 of a cell).
"""

from __future__ import annotations

import math

import numpy as np

from orbitshare._jit import njit

__all__ = ["polygon_fractions", "spread_counts"]

#: entries with |fraction| at or below this are dropped (floating-point noise of the cumulative sums)
FRACTION_EPS = 1e-10


@njit
def _ring_sign(u, v, a, b):
    """+1 when ring vertices a..b−1 (grid units) run counter-clockwise, −1 clockwise, 0 degenerate."""
    s = 0.0
    n = b - a
    u0, v0 = u[a], v[a]  # relative to the first vertex: no cancellation for small rings far from 0
    for k in range(n):
        p = a + k
        q = a + (k + 1) % n
        s += (u[p] - u0) * (v[q] - v0) - (u[q] - u0) * (v[p] - v0)
    if s > 0.0:
        return 1.0
    if s < 0.0:
        return -1.0
    return 0.0


@njit
def _add_piece(ua, va, ub, vb, sign, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover):
    """Add one edge piece (grid units u = (λ+180)/res, v = (φ+90)/res; within one row and column)."""
    du = ub - ua
    if du == 0.0:
        return
    i = int(math.floor(0.5 * (va + vb)))
    j = int(math.floor(0.5 * (ua + ub)))
    i = min(max(i, i_lo), i_hi)
    j = min(max(j, j_lo), j_hi)
    pa = va * res_rad - 0.5 * math.pi
    pb = vb * res_rad - 0.5 * math.pi
    h = 0.5 * (pb - pa)
    sinc = math.sin(h) / h if abs(h) > 1e-8 else 1.0 - h * h / 6.0
    integ = math.sin(0.5 * (pa + pb)) * sinc
    s0 = sin_edges[i]
    s1 = sin_edges[i + 1]
    area[i - i_lo, j - j_lo] -= sign * du * (integ - s0) / (s1 - s0)
    cover[i - i_lo, j - j_lo] -= sign * du


@njit
def _add_edge(u1, v1, u2, v2, sign, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover):
    """Cut the edge (u1, v1) → (u2, v2) at integer u and v (cell boundaries) and add its pieces."""
    du = u2 - u1
    dv = v2 - v1
    # column crossings (integer u strictly between u1 and u2), in order of t
    if du > 0:
        cu = math.floor(u1) + 1.0
        stepu = 1.0
    else:
        cu = math.ceil(u1) - 1.0
        stepu = -1.0
    if dv > 0:
        cv = math.floor(v1) + 1.0
        stepv = 1.0
    else:
        cv = math.ceil(v1) - 1.0
        stepv = -1.0
    pu, pv = u1, v1
    while True:
        tu = (cu - u1) / du if du != 0.0 else 2.0
        tv = (cv - v1) / dv if dv != 0.0 else 2.0
        if tu >= 1.0 and tv >= 1.0:
            break
        if tu <= tv:
            nu = cu
            nv = v1 + tu * dv if tu != tv else cv
            if tu == tv:
                cv += stepv
            cu += stepu
        else:
            nv = cv
            nu = u1 + tv * du
            cv += stepv
        _add_piece(pu, pv, nu, nv, sign, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover)
        pu, pv = nu, nv
    _add_piece(pu, pv, u2, v2, sign, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover)


@njit
def _polygon_edges(u, v, ring_start, r0, r1, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover):
    """Add the edges of rings r0..r1−1 (one polygon: exterior, then holes; vertices in grid units) to
    ``area`` and ``cover`` (float64[i_hi − i_lo + 1, j_hi − j_lo + 1], the polygon's bounding box)."""
    for r in range(r0, r1):
        ra = ring_start[r]
        rb = ring_start[r + 1]
        if rb - ra < 3:
            continue
        orient = _ring_sign(u, v, ra, rb)
        if orient == 0.0:
            continue
        # the exterior ring counts as if counter-clockwise, holes as if clockwise
        sgn = (1.0 if r == r0 else -1.0) * orient
        n = rb - ra
        for k in range(n):
            q0 = ra + k
            q1 = ra + (k + 1) % n
            _add_edge(u[q0], v[q0], u[q1], v[q1], sgn, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover)


def polygon_fractions(
    vx: np.ndarray,
    vy: np.ndarray,
    ring_start: np.ndarray,
    poly_ring_start: np.ndarray,
    res_deg: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact area fractions of polygons in the cells of a global ``res_deg``-degree grid.

    ``vx, vy``: float64 vertices (longitude in [-180, 180], latitude in [-90, 90], degrees) of all
    rings concatenated; ring r is ``ring_start[r]:ring_start[r+1]`` (closed implicitly);
    polygon p is rings ``poly_ring_start[p]:poly_ring_start[p+1]``, its exterior first, then its holes
    (either orientation). Edges are straight in lon/lat and must not cross the antimeridian.

    Returns ``(p, i, j, f)``: polygon index, cell row (south → north), cell column (west → east from
    180° W), int64, and the fraction of the cell's spherical area inside the polygon (float64, up to
    rounding in [0, 1]); entries with |f| <= 1e-10 are left out.

    The Numba kernel walks each polygon's edges into two arrays over its bounding box (a piece's own
    cell, and the "cover" of the cells south of it); the cover is summed from north to south here.
    """
    res = float(res_deg)
    nlat = int(round(180.0 / res))
    nlon = 2 * nlat
    ring_start = np.ascontiguousarray(ring_start, np.int64)
    poly_ring_start = np.ascontiguousarray(poly_ring_start, np.int64)
    u = (np.asarray(vx, np.float64) + 180.0) / res
    v = (np.asarray(vy, np.float64) + 90.0) / res
    sin_edges = np.sin(np.radians(-90.0 + res * np.arange(nlat + 1)))
    sin_edges[0], sin_edges[-1] = -1.0, 1.0
    res_rad = math.radians(res)
    out: list[tuple[np.ndarray, ...]] = []
    for p in range(poly_ring_start.size - 1):
        r0, r1 = int(poly_ring_start[p]), int(poly_ring_start[p + 1])
        a, b = int(ring_start[r0]), int(ring_start[r1])
        if b - a < 3:
            continue
        i_lo, i_hi = (min(max(int(math.floor(x)), 0), nlat - 1) for x in (v[a:b].min(), v[a:b].max()))
        j_lo, j_hi = (min(max(int(math.floor(x)), 0), nlon - 1) for x in (u[a:b].min(), u[a:b].max()))
        shape = (i_hi - i_lo + 1, j_hi - j_lo + 1)
        area = np.zeros(shape)
        cover = np.zeros(shape)
        _polygon_edges(u, v, ring_start, r0, r1, res_rad, sin_edges, i_lo, i_hi, j_lo, j_hi, area, cover)
        # each cell also gets the cover of the pieces north of it in its column
        south = np.cumsum(cover[::-1], axis=0)[::-1]
        area[:-1] += south[1:]
        ii, jj = np.nonzero(np.abs(area) > FRACTION_EPS)
        out.append((np.full(ii.size, p, np.int64), ii + i_lo, jj + j_lo, area[ii, jj]))
    if not out:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    return tuple(np.concatenate(x) for x in zip(*out, strict=True))  # type: ignore[return-value]


@njit
def spread_counts(remainder, land, lat_ptr, ti, w, lon_ptr, tj, v, out):
    """Spread each source cell's count over the target cells it overlaps, by land area (in place).

    remainder : float64[nr, nc]     counts of the source cells (persons)
    land : float64[nlat, nlon]      land fraction of the target cells
    lat_ptr : int64[nr + 1]         source row r overlaps target rows ti[lat_ptr[r]:lat_ptr[r+1]], with
    ti, w                           w the share of the source row's area in each (sin-latitude measure)
    lon_ptr, tj, v                  the same for columns (longitude measure)
    out : float64[nlat, nlon]       receives the counts

    Weights: overlap share × land fraction; a source cell that overlaps no land spreads by overlap
    share alone. The source cell's count is conserved either way.
    """
    nr, nc = remainder.shape
    for r in range(nr):
        for c in range(nc):
            cnt = remainder[r, c]
            if not cnt > 0.0:
                continue
            tot = 0.0
            for a in range(lat_ptr[r], lat_ptr[r + 1]):
                for b in range(lon_ptr[c], lon_ptr[c + 1]):
                    tot += w[a] * v[b] * land[ti[a], tj[b]]
            if tot > 0.0:
                k = cnt / tot
                for a in range(lat_ptr[r], lat_ptr[r + 1]):
                    for b in range(lon_ptr[c], lon_ptr[c + 1]):
                        out[ti[a], tj[b]] += k * w[a] * v[b] * land[ti[a], tj[b]]
            else:
                tot = 0.0
                for a in range(lat_ptr[r], lat_ptr[r + 1]):
                    for b in range(lon_ptr[c], lon_ptr[c + 1]):
                        tot += w[a] * v[b]
                if tot > 0.0:
                    k = cnt / tot
                    for a in range(lat_ptr[r], lat_ptr[r + 1]):
                        for b in range(lon_ptr[c], lon_ptr[c + 1]):
                            out[ti[a], tj[b]] += k * w[a] * v[b]
