"""Footprint of one satellite on the grid: the exact per-cell test and the per-row closed form.

Scalar helpers on floats and 1-d arrays, written with ``math`` only (DESIGN.md, kernel rule 6): the
CPU chunk kernel (:mod:`orbitshare.kernels.visibility`) inlines them, and the CUDA backend
(:mod:`orbitshare.kernels.cuda`) reuses them as device functions. Two walks give the same cells:
:func:`footprint_fast` (one row at a time with :func:`process_row_fast`, which the CUDA backend
mirrors, and the sharing kernel uses) and :func:`footprint_rows` (the CPU chunk kernel's: every row's
prediction first, in a loop the compiler vectorises, then the exact edge tests, four of them without a
branch between them; with the per-cell sums of :mod:`orbitshare.kernels.visibility` the chunk kernel
runs ~1.7× faster at 1° and ~2.5× at 0.25° on real Starlink, CPU time). Units: km, rad; positions are ITRS
(Earth-fixed); :class:`orbitshare.grid.Grid` provides the per-row geometry (``Grid.row_geometry()``,
``cos_lon``, ``sin_lon``, ``lon_rad``).

The exact per-cell test
-----------------------
A cell centre ``p`` on the WGS84 surface with unit geodetic up-normal ``n`` sees a satellite at
``s`` when its elevation exceeds the mask ``m``, i.e. ``n·d > sin(m)·|d|`` with ``d = s − p``.
Without square roots (``S2 = sin² m``):

* ``m ≥ 0``:  visible ⇔ ``n·d > 0  and  (n·d)² > S2·|d|²``
* ``m < 0``:  visible ⇔ ``n·d > 0  or   (n·d)² < S2·|d|²``

:func:`cell_visible_exact` evaluates exactly this, in a fixed operation order, and the tests' NumPy
reference (``brute_force_counts`` in ``tests/reference.py``) evaluates the same expressions
elementwise, so the two agree bit for bit.

The per-row closed form (DESIGN.md, kernel rule 7)
--------------------------------------------------
For a row (geodetic latitude φ) the cell at longitude λ is ``p = (pxy cos λ, pxy sin λ, pz)`` with
normal ``n = (nxy cos λ, nxy sin λ, nz)``. For a satellite ``(x, y, z)`` with ``ρ = √(x² + y²)``,
``λs = atan2(y, x)`` and ``c = cos(λ − λs)``::

    n·d  = A c + B,   A = nxy ρ ≥ 0,   B = nz z − (nxy pxy + nz pz)
    |d|² = D − E c,   D = r² + pxy² + pz² − 2 pz z,   E = 2 pxy ρ ≥ 0

Write ``u = n·d`` (so ``c = (u − B)/A`` when A > 0). Then ``|d|² = (K − E u)/A`` with
``K = A D + B E = A·|d|²(u = 0)``, and ``g = (n·d)² − S2 |d|²`` becomes, multiplied by A > 0,

    h(u) = A u² + S2 E u − S2 K.

Sign analysis. ``D − E c = |d|²`` is ≥ 0 for every c in [−1, 1], and ``D − E ≥ 0`` means
``D/E ≥ 1``. If ``K ≤ 0`` then ``c0 = −B/A ≥ D/E ≥ 1`` (n·d > 0 needs c > c0 > 1): no cell of
the row is visible, whatever the mask. If ``K > 0``, h(0) = −S2 K ≤ 0, so h has real roots
``u₋ ≤ 0 ≤ u₊``:

* ``m ≥ 0``: visible ⇔ u > 0 and h(u) > 0 ⇔ u > u₊ = 2 S2 K / (S2 E + √(S2² E² + 4 A S2 K))
  (the cancellation-free form; u₊ = 0 when S2 = 0, i.e. mask 0 gives n·d > 0).
* ``m < 0``: visible ⇔ u > 0 or h(u) < 0 ⇔ u > u₋ = −(S2 E + √(S2² E² + 4 A S2 K)) / (2A).

Either way visible ⇔ ``c > c* = (u* − B)/A`` — one longitude interval ``|λ − λs| < acos c*``
per row: the whole row when ``c* ≤ −1``, none when ``c* ≥ 1``.

Degenerate rows. ``A = 0`` (satellite on the polar axis) makes every cell of the row equivalent;
and when ``A·Δλ²`` is tiny compared with the rounding of n·d the floating-point per-cell test need
not be monotone along the row. Such rows (``A·Δλ² ≤ 1e-9·(|s| + |p|)``, only satellites within a
few km of the polar axis) are tested cell by cell.

Exactness. The closed form only *predicts* the interval. The kernel maps it to a cell index range
(wrapping across ±180°), then re-tests the two edge cells with :func:`cell_visible_exact` and moves
each edge outwards while the next cell outside is visible, or inwards while the edge cell is not.
An empty prediction re-tests the cell under the satellite (and its nearer neighbour); a whole-row
prediction re-tests the cell farthest from it (and its nearer neighbour). The visible set is
therefore the one the per-cell test gives, bit for bit, as long as that test is monotone in
|λ − λs| along the row — true except for cells whose elevation is within ~1e-12 rad of the mask
*and* not adjacent to the interval edge, which requires the degenerate rows handled above.

The prediction needs no accuracy for this: every predicted interval is centred on the satellite's
column position t, so when non-empty it contains the cell nearest the satellite (the one any
non-empty visible set contains), and each edge walk then ends at the true edge; an empty or
whole-row prediction is handled by the walks above. The kernel therefore computes c* with one
division and acos with a polynomial (Abramowitz & Stegun 4.4.46, |error| ≤ 2e-8 rad): a worse
prediction would only cost more exact tests, never change a result.

Latitude band. Rows are visited outwards from the row containing the satellite's geodetic
(nadir) latitude, north and south, until a row has no visible cell (the row next to the nadir row
on each side is always visited). Rows with a visible cell form a contiguous band around the nadir:
the cell of each row nearest the satellite lies at the same longitude offset δ ≤ Δλ/2, and along
that offset meridian the elevation falls monotonically on either side of its maximum, which lies
within δ-sized distances of the nadir latitude (exact on a sphere; the ellipsoid's flattening only
perturbs it slightly). The tests check this against the brute force, including footprints smaller
than a cell, near the poles and on row edges. A satellite at or below the surface (height ≤ 0)
visits every row.

"""

from __future__ import annotations

import math

from orbitshare._jit import njit

__all__ = [
    "acos_approx",
    "add_cell2",
    "add_interval2",
    "cell_visible_exact",
    "cells_visible_exact",
    "footprint_fast",
    "footprint_rows",
    "footprint_start",
    "footprint_start_algebraic",
    "geodetic_lat_height",
    "next_row",
    "process_row_fast",
    "row_cos_threshold",
    "row_edges",
    "row_predict",
    "vis_h",
    "wrap",
]


_WGS84_A = 6378.137
_WGS84_F = 1.0 / 298.257223563
_WGS84_B = _WGS84_A * (1.0 - _WGS84_F)
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_EP2 = _WGS84_E2 / (1.0 - _WGS84_E2)
_HALF_PI = 0.5 * math.pi


# --------------------------------------------------------------------------- scalar helpers (math only)
@njit
def cell_visible_exact(x, y, z, px, py, pz, nx, ny, nz, sin_mask):
    """Exact visibility of a satellite at (x, y, z) km from a cell at (px, py, pz) km with unit
    up-normal (nx, ny, nz), for an elevation mask with sine ``sin_mask``. Returns bool.

    m ≥ 0: n·d > 0 and (n·d)² > sin²m·|d|²;  m < 0: n·d > 0 or (n·d)² < sin²m·|d|²  (d = s − p).
    """
    dx = x - px
    dy = y - py
    dz = z - pz
    nd = nx * dx + ny * dy + nz * dz
    d2 = dx * dx + dy * dy + dz * dz
    s2 = sin_mask * sin_mask
    if sin_mask >= 0.0:
        return nd > 0.0 and nd * nd > s2 * d2
    return nd > 0.0 or nd * nd < s2 * d2


#: Alias of :func:`cell_visible_exact`.
cells_visible_exact = cell_visible_exact


@njit
def row_cos_threshold(rho, z, r2, rnorm, sin_mask, pxy_i, pz_i, nxy_i, nz_i, dlon):
    """Threshold c* on c = cos(λ − λs) for one row: visible ⇔ c > c* (see the module docstring).

    rho, z : satellite distance from the polar axis and z, km; r2 = |s|², rnorm = |s|
    sin_mask : sine of the elevation mask; pxy_i, pz_i, nxy_i, nz_i : the row's geometry
    dlon : column width, rad. Returns c* (≥ 1: none, ≤ −1: whole row) or NaN for a degenerate row
    that must be tested cell by cell.
    """
    a = nxy_i * rho
    if a * dlon * dlon <= 1e-9 * (rnorm + pxy_i + abs(pz_i)):
        return math.nan
    b = nz_i * z - (nxy_i * pxy_i + nz_i * pz_i)
    d = r2 + pxy_i * pxy_i + pz_i * pz_i - 2.0 * pz_i * z
    e = 2.0 * pxy_i * rho
    k = a * d + b * e
    if k <= 0.0:
        return 2.0
    s2 = sin_mask * sin_mask
    q = s2 * e
    sq = math.sqrt(q * q + 4.0 * a * s2 * k)
    if sin_mask >= 0.0:
        den = q + sq
        u = 2.0 * s2 * k / den if den > 0.0 else 0.0
    else:
        u = -(q + sq) / (2.0 * a)
    return (u - b) / a


@njit
def wrap(j, n):
    """Column index ``j`` (an int, possibly unwrapped across ±180°) brought into ``0 .. n − 1`` for a row
    of ``n`` columns: one addition or subtraction in the usual case, a modulo otherwise."""
    if j < 0:
        j += n
        if j < 0:
            j = j % n
    elif j >= n:
        j -= n
        if j >= n:
            j = j % n
    return j


@njit(inline="always")
def record_spans(rec, q, nlon):
    """The columns of the footprint row record ``rec[q]`` (:func:`footprint_fast` with ``record=True``) as
    ``(i, kind, a0, a1, b1)``: row ``i``, the record's kind (3: degenerate, test cell by cell) and the two
    column ranges ``a0 .. a1 − 1`` and ``0 .. b1 − 1`` (the second empty unless the span wraps past 180°);
    a whole row (kinds other than 2) is ``0 .. nlon − 1``."""
    i = rec[q, 0]
    kind = rec[q, 1]
    a0 = 0
    a1 = nlon
    b1 = 0
    if kind == 2:
        a0 = wrap(rec[q, 2], nlon)
        n = rec[q, 3] - rec[q, 2] + 1
        if a0 + n <= nlon:
            a1 = a0 + n
        else:
            b1 = a0 + n - nlon
    return i, kind, a0, a1, b1


@njit
def geodetic_lat_height(rho, z):
    """Geodetic latitude (rad) and height (km) of (rho, z), Bowring's method with one update."""
    th = math.atan2(z * _WGS84_A, rho * _WGS84_B)
    st = math.sin(th)
    ct = math.cos(th)
    phi = math.atan2(z + _WGS84_EP2 * _WGS84_B * st * st * st, rho - _WGS84_E2 * _WGS84_A * ct * ct * ct)
    sp = math.sin(phi)
    h = rho * math.cos(phi) + z * sp - _WGS84_A * math.sqrt(1.0 - _WGS84_E2 * sp * sp)
    return phi, h


# --------------------------------------------------------------------------- one satellite, one step
@njit(inline="always")
def acos_approx(c):
    """acos(c) for c in [−1, 1] to within 2e-8 rad (Abramowitz & Stegun 4.4.46)."""
    ac = abs(c)
    p = -0.0012624911
    p = p * ac + 0.0066700901
    p = p * ac - 0.0170881256
    p = p * ac + 0.0308918810
    p = p * ac - 0.0501743046
    p = p * ac + 0.0889789874
    p = p * ac - 0.2145988016
    p = p * ac + 1.5707963050
    v = math.sqrt(1.0 - ac) * p
    if c < 0.0:
        return math.pi - v
    return v


@njit(inline="always")
def vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cl, sl):
    """:func:`cell_visible_exact` with the row constants hoisted: ``ndz = nz·(z − pz)``,
    ``dz2 = (z − pz)²``, ``s2 = sin²m``, ``pos = sin m ≥ 0``. Same operations in the same order
    (``(nx dx + ny dy) + nz dz``, ``(dx² + dy²) + dz²``), so the same bits."""
    dx = x - pxy_i * cl
    dy = y - pxy_i * sl
    nd = (nxy_i * cl) * dx + (nxy_i * sl) * dy + ndz
    d2 = dx * dx + dy * dy + dz2
    if pos:
        return nd > 0.0 and nd * nd > s2 * d2
    return nd > 0.0 or nd * nd < s2 * d2


@njit(inline="always")
def add_interval2(diff, sdiff, s, i, jw, je, nlon):
    """Add +1/−1 for the cells jw..je (unwrapped indices, wrapping across ±180°) of row ``i`` to the
    per-step ``diff`` and the per-block ``sdiff`` (sums over steps), both [.., .., nlon + 1]."""
    a = wrap(jw, nlon)
    n = je - jw + 1
    if a + n <= nlon:
        diff[s, i, a] += 1
        diff[s, i, a + n] -= 1
        sdiff[s, i, a] += 1
        sdiff[s, i, a + n] -= 1
    else:
        diff[s, i, a] += 1
        diff[s, i, nlon] -= 1
        diff[s, i, 0] += 1
        diff[s, i, a + n - nlon] -= 1
        sdiff[s, i, a] += 1
        sdiff[s, i, nlon] -= 1
        sdiff[s, i, 0] += 1
        sdiff[s, i, a + n - nlon] -= 1


@njit(inline="always")
def add_cell2(diff, sdiff, s, i, j):
    """Add +1/−1 for the single cell j of row ``i`` to ``diff`` and ``sdiff`` (degenerate rows)."""
    diff[s, i, j] += 1
    diff[s, i, j + 1] -= 1
    sdiff[s, i, j] += 1
    sdiff[s, i, j + 1] -= 1


@njit(inline="always")
def process_row_fast(
    x,
    y,
    z,
    sm,
    pos,
    s2,
    rho,
    r2,
    rn,
    twoz,
    t,
    dlon,
    inv_dlon,
    pxy_i,
    pz_i,
    nxy_i,
    nz_i,
    c1_i,
    tp_i,
    cos_lon,
    sin_lon,
    diff,
    sdiff,
    s,
    i,
):
    """Add this satellite's visible cells of row ``i`` to ``diff[s, i]`` and ``sdiff[s, i]``.

    Returns ``(kind, jw, je)``: kind 0 (no visible cell), 1 (whole row: the caller counts it), 2 (the
    interval of unwrapped columns jw..je, added) or 3 (a degenerate row tested cell by cell, its visible
    cells added one by one; they need not form an interval). Per-row
    constants (c1 = nxy pxy + nz pz, tp = 2 pxy) are precomputed; the closed form only predicts the
    interval (its rounding may differ from :func:`row_cos_threshold`): every edge is re-tested with the
    exact test (see "Exactness" in the module docstring)."""
    nlon = cos_lon.shape[0]
    a = nxy_i * rho
    dz = z - pz_i
    ndz = nz_i * dz
    dz2 = dz * dz
    if a * dlon * dlon <= 1e-9 * (rn + pxy_i + abs(pz_i)):  # degenerate row: every cell exactly
        nvis = 0
        for j in range(nlon):
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                nvis += 1
        if nvis == 0:
            return 0, 0, -1
        if nvis == nlon:
            return 1, 0, -1
        for j in range(nlon):
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                add_cell2(diff, sdiff, s, i, j)
        return 3, 0, -1
    b = nz_i * z - c1_i
    d = r2 + pxy_i * pxy_i + pz_i * pz_i - pz_i * twoz  # = row_cos_threshold's d, bit for bit
    e = tp_i * rho
    k = a * d + b * e
    if k <= 0.0:
        cstar = 2.0
    else:
        # c* = (u* − b)/a as in row_cos_threshold, with one division (a prediction: rounding may differ)
        q = s2 * e
        sq = math.sqrt(q * q + 4.0 * a * s2 * k)
        if pos:
            den = q + sq
            cstar = (2.0 * s2 * k - b * den) / (a * den) if den > 0.0 else -b / a
        else:
            cstar = (-(q + sq) - 2.0 * a * b) / (2.0 * a * a)

    jc = int(math.floor(t))
    if jc >= nlon:
        jc = nlon - 1
    whole = False
    if cstar >= 1.0:
        jw = 1
        je = 0
    elif cstar <= -1.0:
        whole = True
        jw = 0
        je = nlon - 1
    else:
        # half-width in columns. Only a prediction: any interval centred on t (empty, whole or in
        # between) leads the exact edge walks below to the same cells (see "Exactness" in the module
        # docstring), so a polynomial acos (|error| ≤ 2e-8 rad, a tiny fraction of a column) serves.
        hw = acos_approx(cstar) * inv_dlon
        je = int(math.ceil(t - 0.5 + hw)) - 1
        jw = int(math.floor(t - 0.5 - hw)) + 1
        if je - jw + 1 >= nlon:
            whole = True

    if whole:
        # the farthest cell from the satellite (it contains the antipodal longitude) and its nearer
        # neighbour; if both are visible, the whole row is.
        ta = t + 0.5 * nlon
        ja = int(math.floor(ta))
        jn = ja + 1 if ta - ja > 0.5 else ja - 1
        ka = wrap(ja, nlon)
        kn = wrap(jn, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[ka], sin_lon[ka]) and vis_h(
            x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]
        ):
            return 1, 0, -1
        je = ja - 1
        jw = ja - nlon + 1
        while je >= jw:
            kx = wrap(je, nlon)
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je -= 1
        while jw <= je:
            kx = wrap(jw, nlon)
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw += 1
        if je < jw:
            return 0, 0, -1
        add_interval2(diff, sdiff, s, i, jw, je, nlon)
        return 2, jw, je

    if je < jw:
        # predicted empty: the cell under the satellite and its nearer neighbour decide
        jn = jc + 1 if t - jc > 0.5 else jc - 1
        kn = wrap(jn, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[jc], sin_lon[jc]):
            jw = jc
            je = jc
        elif vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]):
            jw = jn
            je = jn
        else:
            return 0, 0, -1
        while je - jw + 1 < nlon:
            kx = wrap(je + 1, nlon)
            if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je += 1
        while je - jw + 1 < nlon:
            kx = wrap(jw - 1, nlon)
            if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw -= 1
    else:
        kx = wrap(je, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
            while je - jw + 1 < nlon:
                kx = wrap(je + 1, nlon)
                if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je += 1
        else:
            je -= 1
            while je >= jw:
                kx = wrap(je, nlon)
                if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je -= 1
            if je < jw:
                return 0, 0, -1
        kx = wrap(jw, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
            while je - jw + 1 < nlon:
                kx = wrap(jw - 1, nlon)
                if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw -= 1
        else:
            jw += 1
            while jw <= je:
                kx = wrap(jw, nlon)
                if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw += 1
            if je < jw:
                return 0, 0, -1
    if je - jw + 1 >= nlon:
        return 1, 0, -1
    add_interval2(diff, sdiff, s, i, jw, je, nlon)
    return 2, jw, je


@njit(inline="always")
def footprint_start(x, y, z, sm, lon0, dlon, dlat, nlat, nlon):
    """Per satellite-step terms of the footprint row walk (shared by the CPU and CUDA kernels).

    x, y, z : satellite ITRS position, km; sm : sine of the elevation mask; lon0, dlon, dlat : the
    grid's first longitude edge and cell sizes, rad. Returns (rho, r², |r|, 2z, 1/dlon, sm ≥ 0,
    sm², t = fractional column of the sub-satellite longitude, walk_all, i0 = nadir row). The walk
    goes north from i0, then south from i0 − 1, stopping at the first row without a visible cell
    (north: not before i0 + 1); at or below the surface (walk_all) every row is visited.
    """
    rho = math.sqrt(x * x + y * y)
    r2 = x * x + y * y + z * z
    rn = math.sqrt(r2)
    twoz = 2.0 * z
    inv_dlon = 1.0 / dlon
    pos = sm >= 0.0
    s2 = sm * sm
    t = (math.atan2(y, x) - lon0) / dlon
    if t < 0.0:
        t += nlon
    elif t >= nlon:
        t -= nlon
    if not (t >= 0.0 and t < nlon):
        t = 0.0
    phi, h = geodetic_lat_height(rho, z)
    walk_all = not (h > 0.0)
    if walk_all:
        i0 = 0
    else:
        i0 = int(math.floor((phi + 0.5 * math.pi) / dlat))
        if i0 < 0:
            i0 = 0
        elif i0 >= nlat:
            i0 = nlat - 1
    return rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0


@njit(inline="always")
def next_row(i, step, i0, nlat, empty, walk_all):
    """The footprint walk's next row after row ``i`` (shared by the CPU and CUDA kernels).

    The walk goes north from the nadir row i0, then south from i0 − 1; each direction stops at its
    first row without a visible cell (``empty``; north: not before i0 + 1); with ``walk_all`` every
    row is visited. Returns ``(next row, step)``; the next row is −1 when the walk is over."""
    if empty and not walk_all and (step < 0 or i > i0):
        if step < 0:
            return -1, step
        step = -1
        i = i0
    i += step
    if i >= nlat:
        step = -1
        i = i0 - 1
    return i, step


@njit(inline="always")
def footprint_fast(
    x,
    y,
    z,
    sm,
    s,
    pxy,
    pz,
    nxy,
    nz,
    c1,
    tp,
    cos_lon,
    sin_lon,
    lon0,
    dlon,
    dlat,
    diff,
    sdiff,
    full,
    touched,
    rec,
    do_rec,
):
    """Add one satellite's visible cells (one step) into diff[s], sdiff[s], full[s]; mark touched rows.

    With ``do_rec`` also record each row with a visible cell in ``rec[q] = (row, kind, jw, je)`` (see
    :func:`process_row_fast`; ``rec`` int64[≥ nlat, 4]) for the capacity pass; returns the number of
    rows recorded (0 without ``do_rec``).

    Inlined into the kernel: a call per satellite-step would cost an atomic incref/decref of every
    array argument (≈30 % of the run time at 1°)."""
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0 = footprint_start(x, y, z, sm, lon0, dlon, dlat, nlat, nlon)
    i = i0
    step = 1
    nrec = 0
    while i >= 0:
        kind, jw, je = process_row_fast(
            x,
            y,
            z,
            sm,
            pos,
            s2,
            rho,
            r2,
            rn,
            twoz,
            t,
            dlon,
            inv_dlon,
            pxy[i],
            pz[i],
            nxy[i],
            nz[i],
            c1[i],
            tp[i],
            cos_lon,
            sin_lon,
            diff,
            sdiff,
            s,
            i,
        )
        if kind != 0:
            touched[s, i] = True
            if kind == 1:
                full[s, i] += 1
            if do_rec:
                rec[nrec, 0] = i
                rec[nrec, 1] = kind
                rec[nrec, 2] = jw
                rec[nrec, 3] = je
                nrec += 1
        i, step = next_row(i, step, i0, nlat, kind == 0, walk_all)
    return nrec


@njit(inline="always")
def footprint_start_algebraic(x, y, z, sm, lon0, dlon, dlat, nlat, nlon):
    """:func:`footprint_start` with Bowring's step in algebra instead of trigonometry: the sine and cosine
    of the parametric latitude and of the geodetic latitude are ratios of the same sides (one square root
    each), so one ``atan2`` (the latitude, for the nadir row) and the longitude's remain of seven library
    calls. The same terms; the nadir row can differ from :func:`footprint_start`'s only for a latitude
    within rounding of a row edge, and any row of the footprint's band or next to it gives the walk the
    same rows (see "Latitude band"). Used by :func:`footprint_rows`."""
    rho = math.sqrt(x * x + y * y)
    r2 = x * x + y * y + z * z
    rn = math.sqrt(r2)
    twoz = 2.0 * z
    inv_dlon = 1.0 / dlon
    pos = sm >= 0.0
    s2 = sm * sm
    t = (math.atan2(y, x) - lon0) / dlon
    if t < 0.0:
        t += nlon
    elif t >= nlon:
        t -= nlon
    if not (t >= 0.0 and t < nlon):
        t = 0.0
    za = z * _WGS84_A
    rb = rho * _WGS84_B
    hyp = math.sqrt(za * za + rb * rb)
    st = za / hyp if hyp > 0.0 else 0.0
    ct = rb / hyp if hyp > 0.0 else 1.0
    num = z + _WGS84_EP2 * _WGS84_B * st * st * st
    den = rho - _WGS84_E2 * _WGS84_A * ct * ct * ct
    ln = math.sqrt(num * num + den * den)
    sp = num / ln
    cp = den / ln
    h = rho * cp + z * sp - _WGS84_A * math.sqrt(1.0 - _WGS84_E2 * sp * sp)
    walk_all = not (h > 0.0)
    if walk_all:
        i0 = 0
    else:
        i0 = int(math.floor((math.atan2(num, den) + 0.5 * math.pi) / dlat))
        if i0 < 0:
            i0 = 0
        elif i0 >= nlat:
            i0 = nlat - 1
    return rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0


# --------------------------------------------------------------------------- the CPU walk in two phases
@njit(inline="always")
def row_predict(z, pos, s2, rho, r2, rn, twoz, t, dlon, inv_dlon, pxy_i, pz_i, nxy_i, nz_i, c1_i, tp_i):
    """The prediction of :func:`process_row_fast` for one row, branch-free (selects only, so that a loop
    over rows vectorises): ``(c*, jw, je)``, the threshold and the predicted unwrapped columns as floats
    (meaningful only for −1 < c* < 1), c* NaN for a degenerate row. The same operations as
    :func:`process_row_fast`, hence the same bits (values that are not selected are discarded)."""
    a = nxy_i * rho
    degenerate = a * dlon * dlon <= 1e-9 * (rn + pxy_i + abs(pz_i))
    b = nz_i * z - c1_i
    d = r2 + pxy_i * pxy_i + pz_i * pz_i - pz_i * twoz
    e = tp_i * rho
    k = a * d + b * e
    q = s2 * e
    sq = math.sqrt(q * q + 4.0 * a * s2 * k)  # (NaN where k ≤ 0: not selected)
    den = q + sq
    c_pos = (2.0 * s2 * k - b * den) / (a * den) if den > 0.0 else -b / a
    c_neg = (-(q + sq) - 2.0 * a * b) / (2.0 * a * a)
    cstar = c_pos if pos else c_neg
    cstar = 2.0 if k <= 0.0 else cstar
    cstar = math.nan if degenerate else cstar
    hw = acos_approx(min(max(cstar, -1.0), 1.0)) * inv_dlon
    je = math.ceil(t - 0.5 + hw) - 1.0
    jw = math.floor(t - 0.5 - hw) + 1.0
    return cstar, jw, je


@njit(inline="always")
def row_edges(x, y, pos, s2, t, pxy_i, nxy_i, ndz, dz2, cstar, jwf, jef, cos_lon, sin_lon):
    """The exact edge walks of :func:`process_row_fast` from a prediction of :func:`row_predict` (not a
    degenerate row): ``(kind, jw, je)`` as :func:`process_row_fast` returns them (kind 0, 1 or 2), writing
    nothing. When the predicted interval is neither empty nor whole, the four cells at its edges are
    tested first, unconditionally (no branch between the tests); when the edges hold (the usual case)
    that is the answer, else the walks run as :func:`process_row_fast`'s. Extra tests change nothing:
    the test is a pure function, so the result is the same as :func:`process_row_fast`'s."""
    nlon = cos_lon.shape[0]
    jc = int(math.floor(t))
    if jc >= nlon:
        jc = nlon - 1
    whole = False
    if cstar >= 1.0:
        jw = 1
        je = 0
    elif cstar <= -1.0:
        whole = True
        jw = 0
        je = nlon - 1
    else:
        je = int(jef)
        jw = int(jwf)
        if je - jw + 1 >= nlon:
            whole = True
    if whole:
        ta = t + 0.5 * nlon
        ja = int(math.floor(ta))
        jn = ja + 1 if ta - ja > 0.5 else ja - 1
        ka = wrap(ja, nlon)
        kn = wrap(jn, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[ka], sin_lon[ka]) and vis_h(
            x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]
        ):
            return 1, 0, -1
        je = ja - 1
        jw = ja - nlon + 1
        while je >= jw:
            kx = wrap(je, nlon)
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je -= 1
        while jw <= je:
            kx = wrap(jw, nlon)
            if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw += 1
        if je < jw:
            return 0, 0, -1
        return 2, jw, je
    if je < jw:
        jn = jc + 1 if t - jc > 0.5 else jc - 1
        kn = wrap(jn, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[jc], sin_lon[jc]):
            jw = jc
            je = jc
        elif vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]):
            jw = jn
            je = jn
        else:
            return 0, 0, -1
        while je - jw + 1 < nlon:
            kx = wrap(je + 1, nlon)
            if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je += 1
        while je - jw + 1 < nlon:
            kx = wrap(jw - 1, nlon)
            if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw -= 1
    else:
        # the usual case: the edge cells visible and their outer neighbours not (je − jw + 1 < nlon here,
        # so the walks below would make exactly these four tests and stop)
        k0 = wrap(je, nlon)
        k1 = wrap(je + 1, nlon)
        k2 = wrap(jw, nlon)
        k3 = wrap(jw - 1, nlon)
        v0 = vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k0], sin_lon[k0])
        v1 = vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k1], sin_lon[k1])
        v2 = vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k2], sin_lon[k2])
        v3 = vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k3], sin_lon[k3])
        if v0 & (not v1) & v2 & (not v3):
            return 2, jw, je
        if v0:
            while je - jw + 1 < nlon:
                kx = wrap(je + 1, nlon)
                if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je += 1
        else:
            je -= 1
            while je >= jw:
                kx = wrap(je, nlon)
                if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je -= 1
            if je < jw:
                return 0, 0, -1
        kx = wrap(jw, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
            while je - jw + 1 < nlon:
                kx = wrap(jw - 1, nlon)
                if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw -= 1
        else:
            jw += 1
            while jw <= je:
                kx = wrap(jw, nlon)
                if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw += 1
            if je < jw:
                return 0, 0, -1
    if je - jw + 1 >= nlon:
        return 1, 0, -1
    return 2, jw, je


@njit(inline="always")
def footprint_rows(
    x, y, z, sm, s, pxy, pz, nxy, nz, c1, tp, cos_lon, sin_lon, lon0, dlon, dlat, diff, full, touched, rec, do_rec,
    pred,
):  # fmt: skip
    """:func:`footprint_fast` in two phases, without the per-block ``sdiff`` (the CPU chunk kernel sums
    the counts per cell instead): the same visible cells into ``diff[s]`` (+1/−1) and ``full[s]``, the
    same ``touched`` rows and row records (with ``do_rec``); returns the number of rows recorded.

    Phase 1 predicts every row the footprint can reach (the rows within the footprint's Earth-central
    angle, from a sphere of the polar radius, plus a margin) with :func:`row_predict` in one loop without
    branches, which the compiler vectorises; ``pred`` float64[3, ≥ nlat] holds the predictions. Phase 2
    walks the rows as :func:`footprint_fast` does (north from the nadir row, then south, to the first row
    without a visible cell) with the exact edge tests of :func:`row_edges`; a row outside phase 1's range
    is predicted on the spot. The predictions are the same bits either way, and the visible set is the
    exact test's (see "Exactness"), so the results equal :func:`footprint_fast`'s. The per satellite-step
    terms come from :func:`footprint_start_algebraic`."""
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0 = footprint_start_algebraic(
        x, y, z, sm, lon0, dlon, dlat, nlat, nlon
    )
    if walk_all:
        ilo = 0
        ihi = nlat
    else:
        # Earth-central angle of the footprint's edge on a sphere of the polar radius (the smallest radius
        # gives the widest footprint): acos(b cos m / |s|) − m, m = asin(sm); 1 % and two rows of margin
        arg = _WGS84_B * math.sqrt(1.0 - s2) / rn
        psi = acos_approx(min(arg, 1.0)) - (_HALF_PI - acos_approx(sm))
        nr = max(int(psi * 1.01 / dlat) + 2, 1)
        ilo = max(i0 - nr, 0)
        ihi = min(i0 + nr + 1, nlat)
    for q in range(ihi - ilo):
        ii = ilo + q
        cq, wq, eq = row_predict(
            z, pos, s2, rho, r2, rn, twoz, t, dlon, inv_dlon, pxy[ii], pz[ii], nxy[ii], nz[ii], c1[ii], tp[ii]
        )
        pred[0, q] = cq
        pred[1, q] = wq
        pred[2, q] = eq
    i = i0
    step = 1
    nrec = 0
    while i >= 0:
        pxy_i = pxy[i]
        nxy_i = nxy[i]
        if i >= ilo and i < ihi:
            cstar = pred[0, i - ilo]
            jwf = pred[1, i - ilo]
            jef = pred[2, i - ilo]
        else:
            cstar, jwf, jef = row_predict(
                z, pos, s2, rho, r2, rn, twoz, t, dlon, inv_dlon, pxy_i, pz[i], nxy_i, nz[i], c1[i], tp[i]
            )
        dz = z - pz[i]
        ndz = nz[i] * dz
        dz2 = dz * dz
        jw = 0
        je = -1
        if cstar != cstar:  # a degenerate row: every cell exactly (as process_row_fast)
            nvis = 0
            for j in range(nlon):
                if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                    nvis += 1
            kind = 0 if nvis == 0 else (1 if nvis == nlon else 3)
            if kind == 3:
                for j in range(nlon):
                    if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                        diff[s, i, j] += 1
                        diff[s, i, j + 1] -= 1
        else:
            kind, jw, je = row_edges(x, y, pos, s2, t, pxy_i, nxy_i, ndz, dz2, cstar, jwf, jef, cos_lon, sin_lon)
            if kind == 2:
                a = wrap(jw, nlon)
                n = je - jw + 1
                diff[s, i, a] += 1
                if a + n <= nlon:
                    diff[s, i, a + n] -= 1
                else:
                    diff[s, i, nlon] -= 1
                    diff[s, i, 0] += 1
                    diff[s, i, a + n - nlon] -= 1
        if kind != 0:
            touched[s, i] = True
            if kind == 1:
                full[s, i] += 1
            if do_rec:
                rec[nrec, 0] = i
                rec[nrec, 1] = kind
                rec[nrec, 2] = jw
                rec[nrec, 3] = je
                nrec += 1
        i, step = next_row(i, step, i0, nlat, kind == 0, walk_all)
    return nrec
