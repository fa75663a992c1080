"""Visibility kernel: how many satellites each grid cell sees above its elevation mask, per step.

Units: km, rad. Positions are ITRS (Earth-fixed). No xarray here; :class:`orbitshare.grid.Grid`
provides the per-row geometry (``Grid.row_geometry()``, ``cos_lon``, ``sin_lon``, ``lon_rad``).

The exact per-cell test
-----------------------
A cell centre ``p`` on the WGS84 surface with unit geodetic up-normal ``n`` sees a satellite at
``s`` when its elevation exceeds the mask ``m``, i.e. ``n·d > sin(m)·|d|`` with ``d = s − p``.
Without square roots (``S2 = sin² m``):

* ``m ≥ 0``:  visible ⇔ ``n·d > 0  and  (n·d)² > S2·|d|²``
* ``m < 0``:  visible ⇔ ``n·d > 0  or   (n·d)² < S2·|d|²``

:func:`cell_visible_exact` evaluates exactly this, in a fixed operation order, and
:func:`brute_force_counts` (the NumPy reference) evaluates the same expressions elementwise, so the
two agree bit for bit.

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

Accumulation. Each visible interval adds +1/−1 to a per-(system, row) difference array (a
whole row increments a per-row counter); one prefix sum per touched row and step gives the step's
counts, which update the per-cell statistics. ``sum_visible`` needs no per-step work: the intervals
also go into a second difference array that is kept for the whole time block and prefix-summed once
at its end. ``steps_covered`` is the block length less its gap steps (lead, trail and the inner
gaps, summed when each ends), so a covered step that continues a run only updates the cell's last
covered step. The statistics:

* ``sum_visible``   int64: satellites visible, summed over steps
* ``steps_covered`` int32: steps with count ≥ ``min_visible[system]``
* gap runs (a "gap" step has count < min_visible): ``lead_run`` (gap steps at the start of the
  chunk), ``trail_run`` (at its end), ``max_inner_run`` (longest gap touching neither end) and
  ``all_gap`` (every step a gap; then lead_run = trail_run = nsteps, max_inner_run = 0).
  :func:`merge_chunk_states` combines consecutive chunks exactly; :func:`longest_gap` finishes.

With ``count_any`` the kernel also counts ``steps_any``, the steps with count ≥ 1 (spectrum needs it
whatever min_visible is): copied from ``steps_covered`` where min_visible is 1, counted per step
otherwise.

Capacity (optional, ``capacity_per_sat`` and ``weight``)
--------------------------------------------------------
In the same pass, each visible satellite i (capacity ``cap_i``, Mbps) shares its capacity among the
cells it sees in proportion to their weight ``w[s, c]`` ≥ 0 (population or land area times the
system's served share; 0 where it may not serve)::

    P_i = Σ_{c visible from i} w_c;   if P_i > 0: cell c receives cap_i · w_c / P_i

The footprint walk records the rows it found visible (row, kind, interval) — the same exact row
intervals that feed the counts. P_i is then O(rows): per-row prefix sums of w give each interval's
sum (a whole row: the row total; a degenerate row is re-tested cell by cell). If P_i > 0 the factor
``cap_i / P_i`` goes over the same rows into a per-step float difference array (whole rows into a
per-row term). The per-step prefix pass that already runs over every touched row for the counts
turns it into each cell's factor f_c(k), adds it to the block's per-cell factor sum and adds
``w_c · f_c(k)`` to the step's ``delivered`` total; ``offered`` is Σ cap_i over the satellites with
P_i > 0. At the end ``capacity_sum = w_c · Σ_k f_c(k)``. Conservation, ``delivered == offered`` at
every step to rounding, checks the whole chain cell by cell.

Floating point. Prefix sums and difference arrays cancel: with weights over many decades a plain
float64 difference array would carry errors of eps × (the largest factor in the row), far above a
small cell's own value. Both are therefore double-doubles (TwoSum, the rounding error kept in a second
array), so P_i and f_c(k) are accurate to ~1e-16 of their own size; the sums over steps add positive
terms only. A cell that sees no satellite, or has w = 0, gets exactly 0. A weight smaller than
~1e-32 of its row's total can vanish from P_i (not a practical concern).

Parallelism. ``prange`` over contiguous blocks of time steps; each block has its own scratch and
accumulators, and blocks are merged in time order with the same exact merge. All visibility
statistics are integers, so they do not depend on the number of blocks or threads. The capacity
factor sums are floats added per block in time order, then the blocks in time order: deterministic
for a given block partition, which :func:`accumulate_chunk` derives from the chunk length only when
capacity is on (``CAPACITY_TIME_BLOCKS``), so the thread count never changes a bit; another
partition (nblocks, or chunking) changes them by ~1e-15 relative. ``delivered`` and ``offered``
are per-step sums in a fixed order and do not depend on the partition at all.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import prange

from orbitshare._jit import njit, pjit

__all__ = [
    "CAPACITY_TIME_BLOCKS",
    "ChunkState",
    "accumulate_chunk",
    "brute_force_counts",
    "cell_visible_exact",
    "cells_visible_exact",
    "empty_chunk_state",
    "longest_gap",
    "merge_chunk_states",
    "merge_gap_scalar",
    "merge_gap_states",
    "row_cos_threshold",
]

_WGS84_A = 6378.137
_WGS84_F = 1.0 / 298.257223563
_WGS84_B = _WGS84_A * (1.0 - _WGS84_F)
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_EP2 = _WGS84_E2 / (1.0 - _WGS84_E2)
_TWOPI = 2.0 * math.pi
_INT16_MAX = 32767
#: Per-cell state of the time blocks held at once by :func:`accumulate_chunk` (bytes): beyond it the
#: blocks run in waves of one block per thread, folded in time order (the same results, less memory:
#: it matters at 0.1° with capacity, ~0.7 GB per block for three systems).
BLOCK_STATE_BYTES = 1 << 30

#: Time blocks per chunk when capacity is accumulated (float sums): fixed, so that the block partition,
#: hence the summation order, depends only on the chunk length, never on the thread count.
CAPACITY_TIME_BLOCKS = 8


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
def _wrap(j, n):
    if j < 0:
        j += n
        if j < 0:
            j = j % n
    elif j >= n:
        j -= n
        if j >= n:
            j = j % n
    return j


@njit
def _geodetic_lat_height(rho, z):
    """Geodetic latitude (rad) and height (km) of (rho, z), Bowring's method with one update."""
    th = math.atan2(z * _WGS84_A, rho * _WGS84_B)
    st = math.sin(th)
    ct = math.cos(th)
    phi = math.atan2(z + _WGS84_EP2 * _WGS84_B * st * st * st, rho - _WGS84_E2 * _WGS84_A * ct * ct * ct)
    sp = math.sin(phi)
    h = rho * math.cos(phi) + z * sp - _WGS84_A * math.sqrt(1.0 - _WGS84_E2 * sp * sp)
    return phi, h


@njit
def merge_gap_scalar(lead1, trail1, inner1, all1, lead2, trail2, inner2, all2):
    """Merge the gap-run state of a chunk with that of the chunk that follows it (exact).

    Returns (lead, trail, inner, all_gap)."""
    if all1 and all2:
        return lead1 + lead2, trail1 + trail2, 0, True
    if all1:
        return lead1 + lead2, trail2, inner2, False
    if all2:
        return lead1, trail1 + trail2, inner1, False
    inner = inner1
    if inner2 > inner:
        inner = inner2
    m = trail1 + lead2
    if m > inner:
        inner = m
    return lead1, trail2, inner, False


# --------------------------------------------------------------------------- one satellite, one step
@njit(inline="always")
def _acos_approx(c):
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
def _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cl, sl):
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
def _add_interval2(diff, sdiff, s, i, jw, je, nlon):
    """Add +1/−1 for the cells jw..je (unwrapped indices, wrapping across ±180°) of row ``i`` to the
    per-step ``diff`` and the per-block ``sdiff`` (sums over steps), both [.., .., nlon + 1]."""
    a = _wrap(jw, nlon)
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
def _add_cell2(diff, sdiff, s, i, j):
    """Add +1/−1 for the single cell j of row ``i`` to ``diff`` and ``sdiff`` (degenerate rows)."""
    diff[s, i, j] += 1
    diff[s, i, j + 1] -= 1
    sdiff[s, i, j] += 1
    sdiff[s, i, j + 1] -= 1


@njit(inline="always")
def _process_row_fast(
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
            if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                nvis += 1
        if nvis == 0:
            return 0, 0, -1
        if nvis == nlon:
            return 1, 0, -1
        for j in range(nlon):
            if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[j], sin_lon[j]):
                _add_cell2(diff, sdiff, s, i, j)
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
            if den > 0.0:
                cstar = (2.0 * s2 * k - b * den) / (a * den)
            else:
                cstar = -b / a
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
        hw = _acos_approx(cstar) * inv_dlon
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
        ka = _wrap(ja, nlon)
        kn = _wrap(jn, nlon)
        if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[ka], sin_lon[ka]) and _vis_h(
            x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]
        ):
            return 1, 0, -1
        je = ja - 1
        jw = ja - nlon + 1
        while je >= jw:
            kx = _wrap(je, nlon)
            if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je -= 1
        while jw <= je:
            kx = _wrap(jw, nlon)
            if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw += 1
        if je < jw:
            return 0, 0, -1
        _add_interval2(diff, sdiff, s, i, jw, je, nlon)
        return 2, jw, je

    if je < jw:
        # predicted empty: the cell under the satellite and its nearer neighbour decide
        jn = jc + 1 if t - jc > 0.5 else jc - 1
        kn = _wrap(jn, nlon)
        if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[jc], sin_lon[jc]):
            jw = jc
            je = jc
        elif _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kn], sin_lon[kn]):
            jw = jn
            je = jn
        else:
            return 0, 0, -1
        while je - jw + 1 < nlon:
            kx = _wrap(je + 1, nlon)
            if not _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            je += 1
        while je - jw + 1 < nlon:
            kx = _wrap(jw - 1, nlon)
            if not _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                break
            jw -= 1
    else:
        kx = _wrap(je, nlon)
        if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
            while je - jw + 1 < nlon:
                kx = _wrap(je + 1, nlon)
                if not _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je += 1
        else:
            je -= 1
            while je >= jw:
                kx = _wrap(je, nlon)
                if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                je -= 1
            if je < jw:
                return 0, 0, -1
        kx = _wrap(jw, nlon)
        if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
            while je - jw + 1 < nlon:
                kx = _wrap(jw - 1, nlon)
                if not _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw -= 1
        else:
            jw += 1
            while jw <= je:
                kx = _wrap(jw, nlon)
                if _vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[kx], sin_lon[kx]):
                    break
                jw += 1
            if je < jw:
                return 0, 0, -1
    if je - jw + 1 >= nlon:
        return 1, 0, -1
    _add_interval2(diff, sdiff, s, i, jw, je, nlon)
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
    phi, h = _geodetic_lat_height(rho, z)
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
def _footprint_fast(
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
    :func:`_process_row_fast`; ``rec`` int64[≥ nlat, 4]) for the capacity pass; returns the number of
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
        kind, jw, je = _process_row_fast(
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


# --------------------------------------------------------------------------- capacity helpers
@njit(inline="always")
def _dd_add3(hi, lo, s, i, j, v):
    """hi[s, i, j] + lo[s, i, j] += v as a double-double (TwoSum; the rounding error goes to ``lo``)."""
    a = hi[s, i, j]
    t = a + v
    bp = t - a
    lo[s, i, j] += (a - (t - bp)) + (v - bp)
    hi[s, i, j] = t


@njit(inline="always")
def _dd_add2(hi, lo, s, i, v):
    a = hi[s, i]
    t = a + v
    bp = t - a
    lo[s, i] += (a - (t - bp)) + (v - bp)
    hi[s, i] = t


@njit(inline="always")
def _wsum(wh, wl, s, i, j0, j1):
    """Σ w[s, i, j0:j1] from the double-double prefix sums (wh + wl)[s, i, j] = Σ w[s, i, :j]."""
    return (wh[s, i, j1] - wh[s, i, j0]) + (wl[s, i, j1] - wl[s, i, j0])


@njit(inline="always")
def _capacity_sat(x, y, z, sm, s, cap, rec, nrec, w, wh, wl, pxy, pz, nxy, cos_lon, sin_lon, fdh, fdl, ffh, ffl, nz):
    """Share one satellite's capacity ``cap`` (one step) among the cells it sees, by weight.

    P = Σ w over the recorded rows (prefix sums: O(rows)); if P > 0, add cap / P over the same rows
    to the per-step double-double difference arrays (fdh, fdl; whole rows into ffh, ffl). Degenerate
    rows (kind 3) are re-tested cell by cell with the same bits as :func:`_process_row_fast`.
    Returns True when the satellite delivered (P > 0)."""
    nlon = cos_lon.shape[0]
    pos = sm >= 0.0
    s2 = sm * sm
    p = 0.0
    for q in range(nrec):
        i = rec[q, 0]
        kind = rec[q, 1]
        if kind == 1:
            p += wh[s, i, nlon] + wl[s, i, nlon]
        elif kind == 2:
            a = _wrap(rec[q, 2], nlon)
            n = rec[q, 3] - rec[q, 2] + 1
            if a + n <= nlon:
                p += _wsum(wh, wl, s, i, a, a + n)
            else:
                p += _wsum(wh, wl, s, i, a, nlon) + _wsum(wh, wl, s, i, 0, a + n - nlon)
        else:
            dz = z - pz[i]
            ndz = nz[i] * dz
            dz2 = dz * dz
            for j in range(nlon):
                if _vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]):
                    p += w[s, i, j]
    if not (p > 0.0):
        return False
    f = cap / p
    for q in range(nrec):
        i = rec[q, 0]
        kind = rec[q, 1]
        if kind == 1:
            _dd_add2(ffh, ffl, s, i, f)
        elif kind == 2:
            a = _wrap(rec[q, 2], nlon)
            n = rec[q, 3] - rec[q, 2] + 1
            _dd_add3(fdh, fdl, s, i, a, f)
            if a + n <= nlon:
                _dd_add3(fdh, fdl, s, i, a + n, -f)
            else:
                _dd_add3(fdh, fdl, s, i, nlon, -f)
                _dd_add3(fdh, fdl, s, i, 0, f)
                _dd_add3(fdh, fdl, s, i, a + n - nlon, -f)
        else:
            dz = z - pz[i]
            ndz = nz[i] * dz
            dz2 = dz * dz
            for j in range(nlon):
                if _vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]):
                    _dd_add3(fdh, fdl, s, i, j, f)
                    _dd_add3(fdh, fdl, s, i, j + 1, -f)
    return True


@njit
def _weight_prefix(w):
    """Double-double prefix sums of w[nsys, nlat, nlon] along lon: (wh + wl)[s, i, j] = Σ w[s, i, :j]."""
    nsys, nlat, nlon = w.shape
    wh = np.zeros((nsys, nlat, nlon + 1))
    wl = np.zeros((nsys, nlat, nlon + 1))
    for s in range(nsys):
        for i in range(nlat):
            h = 0.0
            lo = 0.0
            for j in range(nlon):
                v = w[s, i, j]
                t = h + v
                bp = t - h
                lo += (h - (t - bp)) + (v - bp)
                h = t
                wh[s, i, j + 1] = h
                wl[s, i, j + 1] = lo
    return wh, wl


# --------------------------------------------------------------------------- the chunk kernel
@pjit  # parallel: its large np.zeros become parallel fills
def _accumulate_kernel(
    r,
    err,
    sat_sys,
    sin_mask,
    min_visible,
    pxy,
    pz,
    nxy,
    nz,
    cos_lon,
    sin_lon,
    lon0,
    nblocks,
    wave,
    keep_counts,
    count_any,
    do_cap,
    cap_sat,
    w,
):
    nt = r.shape[1]
    nsys = min_visible.shape[0]
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    nkeep = nt if keep_counts else 0
    nany = nsys if count_any else 0
    ncap = nsys if do_cap else 0
    # per-row constants of the closed form (bitwise the same as row_cos_threshold computes them)
    c1 = np.empty(nlat)
    tp = np.empty(nlat)
    for i in range(nlat):
        c1[i] = nxy[i] * pxy[i] + nz[i] * pz[i]
        tp[i] = 2.0 * pxy[i]
    if do_cap:
        wh, wl = _weight_prefix(w)
    else:
        wh = np.zeros((0, nlat, nlon + 1))
        wl = np.zeros((0, nlat, nlon + 1))

    counts = np.zeros((nsys, nkeep, nlat, nlon), np.int16)
    delivered = np.zeros((ncap, nt))
    offered = np.zeros((ncap, nt))
    # the running merge of the blocks done so far, in time order (the identity of the merge to start)
    out_sum = np.zeros((nsys, nlat, nlon), np.int64)
    out_cov = np.zeros((nsys, nlat, nlon), np.int32)
    out_lead = np.zeros((nsys, nlat, nlon), np.int32)
    out_trail = np.zeros((nsys, nlat, nlon), np.int32)
    out_inner = np.zeros((nsys, nlat, nlon), np.int32)
    out_all = np.ones((nsys, nlat, nlon), np.bool_)
    out_any = np.zeros((nany, nlat, nlon), np.int32)
    out_fs = np.zeros((ncap, nlat, nlon))

    # blocks run ``wave`` at a time (in parallel), each wave then folded into the running merge in
    # time order: the same left fold over blocks 0, 1, … as one merge at the end, so the results do
    # not depend on ``wave``; per-block state is held for one wave only
    for w0 in range(0, nblocks, wave):
        nbw = min(wave, nblocks - w0)
        sums = np.zeros((nbw, nsys, nlat, nlon), np.int64)
        cov = np.zeros((nbw, nsys, nlat, nlon), np.int32)
        lead = np.zeros((nbw, nsys, nlat, nlon), np.int32)
        trail = np.zeros((nbw, nsys, nlat, nlon), np.int32)
        inner = np.zeros((nbw, nsys, nlat, nlon), np.int32)
        anyc = np.zeros((nbw, nany, nlat, nlon), np.int32)
        fsum = np.zeros((nbw, ncap, nlat, nlon))
        _accumulate_wave(
            r,
            err,
            sat_sys,
            sin_mask,
            min_visible,
            pxy,
            pz,
            nxy,
            nz,
            cos_lon,
            sin_lon,
            lon0,
            nblocks,
            w0,
            keep_counts,
            count_any,
            do_cap,
            cap_sat,
            w,
            wh,
            wl,
            c1,
            tp,
            sums,
            cov,
            lead,
            trail,
            inner,
            counts,
            anyc,
            fsum,
            delivered,
            offered,
        )
        _fold_wave(
            sums,
            cov,
            lead,
            trail,
            inner,
            anyc,
            fsum,
            count_any,
            do_cap,
            out_sum,
            out_cov,
            out_lead,
            out_trail,
            out_inner,
            out_all,
            out_any,
            out_fs,
        )

    out_cap = np.zeros((ncap, nlat, nlon))
    for s in range(ncap):
        for i in range(nlat):
            for j in range(nlon):
                out_cap[s, i, j] = w[s, i, j] * out_fs[s, i, j]
    return out_sum, out_cov, out_lead, out_trail, out_inner, out_all, counts, out_any, out_cap, delivered, offered


@pjit
def _accumulate_wave(
    r,
    err,
    sat_sys,
    sin_mask,
    min_visible,
    pxy,
    pz,
    nxy,
    nz,
    cos_lon,
    sin_lon,
    lon0,
    nblocks,
    w0,
    keep_counts,
    count_any,
    do_cap,
    cap_sat,
    w,
    wh,
    wl,
    c1,
    tp,
    sums,
    cov,
    lead,
    trail,
    inner,
    counts,
    anyc,
    fsum,
    delivered,
    offered,
):
    """Blocks w0 .. w0 + len(sums) − 1 of :func:`_accumulate_kernel` in parallel, block b's statistics
    into index b − w0 of the per-wave arrays (counts, delivered and offered go to their global steps)."""
    nsat = r.shape[0]
    nt = r.shape[1]
    nsys = min_visible.shape[0]
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    dlon = _TWOPI / nlon
    dlat = math.pi / nlat
    ncap = nsys if do_cap else 0
    for bb in prange(sums.shape[0]):
        b = w0 + bb
        k0 = (b * nt) // nblocks
        k1 = ((b + 1) * nt) // nblocks
        diff = np.zeros((nsys, nlat, nlon + 1), np.int32)
        # sum_visible needs no per-step work: every interval also goes into sdiff (never reset within
        # the block) and every whole row into sfull; one prefix sum per row at the end of the block
        # gives Σ_k count_k exactly (integer addition is associative).
        sdiff = np.zeros((nsys, nlat, nlon + 1), np.int64)
        sfull = np.zeros((nsys, nlat), np.int64)
        full = np.zeros((nsys, nlat), np.int32)
        touched = np.zeros((nsys, nlat), np.bool_)
        # capacity: the step's factor cap/P as a double-double difference array (+ whole rows), and
        # the rows of the current satellite's footprint
        fdh = np.zeros((ncap, nlat, nlon + 1))
        fdl = np.zeros((ncap, nlat, nlon + 1))
        ffh = np.zeros((ncap, nlat))
        ffl = np.zeros((ncap, nlat))
        rec = np.zeros((nlat if do_cap else 0, 4), np.int64)
        # last covered step (block-relative), −1 while none: trail = steps since then. While the
        # block runs, cov[bb] holds the summed length of the inner gaps (added when a gap ends), so a
        # covered step that continues a run only rewrites ``last``; at the end of the block
        # steps_covered = nb − lead − trail − (inner gap steps).
        last = np.full((nsys, nlat, nlon), -1, np.int32)
        for k in range(k0, k1):
            kk = k - k0
            for isat in range(nsat):
                if err[isat, k] != 0:
                    continue
                x = r[isat, k, 0]
                y = r[isat, k, 1]
                z = r[isat, k, 2]
                if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
                    continue
                ss = sat_sys[isat]
                nrec = _footprint_fast(
                    x,
                    y,
                    z,
                    sin_mask[isat],
                    ss,
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
                    do_cap,
                )
                if do_cap and nrec > 0:
                    if _capacity_sat(
                        x,
                        y,
                        z,
                        sin_mask[isat],
                        ss,
                        cap_sat[isat],
                        rec,
                        nrec,
                        w,
                        wh,
                        wl,
                        pxy,
                        pz,
                        nxy,
                        cos_lon,
                        sin_lon,
                        fdh,
                        fdl,
                        ffh,
                        ffl,
                        nz,
                    ):
                        offered[ss, k] += cap_sat[isat]
            # prefix sums → this step's counts (and capacity factors) → statistics
            for s in range(nsys):
                mv = min_visible[s]
                anys = count_any and mv != 1
                for i in range(nlat):
                    if not touched[s, i] and mv > 0:
                        continue  # every count is 0: a gap everywhere in the row, nothing to add
                    touched[s, i] = False
                    run = full[s, i]
                    sfull[s, i] += run
                    full[s, i] = 0
                    rh = 0.0
                    rl = 0.0
                    dsum = 0.0
                    if do_cap:
                        rh = ffh[s, i]
                        rl = ffl[s, i]
                        ffh[s, i] = 0.0
                        ffl[s, i] = 0.0
                    for j in range(nlon):
                        run += diff[s, i, j]
                        diff[s, i, j] = 0
                        if do_cap:
                            dh = fdh[s, i, j]
                            dl = fdl[s, i, j]
                            if dh != 0.0 or dl != 0.0:
                                t_ = rh + dh
                                bp = t_ - rh
                                rl += ((rh - (t_ - bp)) + (dh - bp)) + dl
                                rh = t_
                                fdh[s, i, j] = 0.0
                                fdl[s, i, j] = 0.0
                            if run > 0:
                                v = rh + rl
                                fsum[bb, s, i, j] += v
                                dsum += w[s, i, j] * v
                        if keep_counts:
                            if run != 0:
                                counts[s, k, i, j] = run if run < _INT16_MAX else _INT16_MAX
                        if anys and run >= 1:
                            anyc[bb, s, i, j] += 1
                        if run >= mv:
                            lc = last[s, i, j]
                            if lc != kk - 1 or lc < 0:
                                # a new run of covered steps starts at kk
                                if lc < 0:
                                    lead[bb, s, i, j] = kk
                                else:
                                    g = kk - lc - 1
                                    cov[bb, s, i, j] += g
                                    if g > inner[bb, s, i, j]:
                                        inner[bb, s, i, j] = g
                            last[s, i, j] = kk
                    diff[s, i, nlon] = 0
                    if do_cap:
                        fdh[s, i, nlon] = 0.0
                        fdl[s, i, nlon] = 0.0
                        delivered[s, k] += dsum
        nb = k1 - k0
        for s in range(nsys):
            copy_any = count_any and min_visible[s] == 1
            for i in range(nlat):
                acc = sfull[s, i]
                for j in range(nlon):
                    acc += sdiff[s, i, j]
                    sums[bb, s, i, j] = acc
                    lc = last[s, i, j]
                    if lc < 0:
                        lead[bb, s, i, j] = nb
                        trail[bb, s, i, j] = nb
                    else:
                        tr = nb - 1 - lc
                        trail[bb, s, i, j] = tr
                        cov[bb, s, i, j] = nb - lead[bb, s, i, j] - tr - cov[bb, s, i, j]
                    if copy_any:
                        anyc[bb, s, i, j] = cov[bb, s, i, j]


@pjit
def _fold_wave(
    sums,
    cov,
    lead,
    trail,
    inner,
    anyc,
    fsum,
    count_any,
    do_cap,
    out_sum,
    out_cov,
    out_lead,
    out_trail,
    out_inner,
    out_all,
    out_any,
    out_fs,
):
    """Merge one wave's blocks, in time order, into the running statistics (in place): exact for the
    integer statistics; the capacity factor sums are added block after block (so they depend on the
    block partition, not on threads or waves)."""
    nbw, nsys, nlat, nlon = sums.shape
    for si in prange(nsys * nlat):
        s = si // nlat
        i = si - s * nlat
        for j in range(nlon):
            sm_ = out_sum[s, i, j]
            cv = out_cov[s, i, j]
            ld = out_lead[s, i, j]
            tr = out_trail[s, i, j]
            inn = out_inner[s, i, j]
            al = out_all[s, i, j]
            for b in range(nbw):
                sm_ += sums[b, s, i, j]
                cv += cov[b, s, i, j]
                ab = cov[b, s, i, j] == 0
                ld, tr, inn, al = merge_gap_scalar(
                    ld, tr, inn, al, lead[b, s, i, j], trail[b, s, i, j], inner[b, s, i, j], ab
                )
            out_sum[s, i, j] = sm_
            out_cov[s, i, j] = cv
            out_lead[s, i, j] = ld
            out_trail[s, i, j] = tr
            out_inner[s, i, j] = inn
            out_all[s, i, j] = al
            if count_any:
                na = out_any[s, i, j]
                for b in range(nbw):
                    na += anyc[b, s, i, j]
                out_any[s, i, j] = na
            if do_cap:
                fs = out_fs[s, i, j]
                for b in range(nbw):
                    fs += fsum[b, s, i, j]
                out_fs[s, i, j] = fs


def _merge_gap_arrays(lead1, trail1, inner1, all1, lead2, trail2, inner2, all2):
    n = lead1.shape[0]
    lead = np.empty(n, np.int32)
    trail = np.empty(n, np.int32)
    inner = np.empty(n, np.int32)
    allg = np.empty(n, np.bool_)
    for q in prange(n):
        a, b, c, d = merge_gap_scalar(lead1[q], trail1[q], inner1[q], all1[q], lead2[q], trail2[q], inner2[q], all2[q])
        lead[q] = a
        trail[q] = b
        inner[q] = c
        allg[q] = d
    return lead, trail, inner, allg


# --------------------------------------------------------------------------- Python API
class ChunkState(NamedTuple):
    """Per-cell statistics of one chunk of consecutive time steps (arrays [nsys, nlat, nlon]).

    nsteps : int                 steps in the chunk
    sum_visible : int64          satellites visible, summed over steps
    steps_covered : int32        steps with count ≥ min_visible[system]
    lead_run : int32             gap steps at the start of the chunk (nsteps when all_gap)
    trail_run : int32            gap steps at the end of the chunk (nsteps when all_gap)
    max_inner_run : int32        longest gap run touching neither end of the chunk (0 if none)
    all_gap : bool               every step was a gap
    counts : int16[nsys, nsteps, nlat, nlon] or None   per-step counts (saturate at 32767)
    steps_any : int32 or None    steps with count ≥ 1 (with ``count_any``)
    capacity_sum : float64 or None   capacity delivered to the cell, Mbps, summed over steps
    delivered : float64[nsys, nsteps] or None   capacity delivered over all cells at each step, Mbps
    offered : float64[nsys, nsteps] or None     capacity of the satellites that see a cell of
                                 positive weight at each step, Mbps (= delivered, up to rounding)
    """

    nsteps: int
    sum_visible: np.ndarray
    steps_covered: np.ndarray
    lead_run: np.ndarray
    trail_run: np.ndarray
    max_inner_run: np.ndarray
    all_gap: np.ndarray
    counts: np.ndarray | None = None
    steps_any: np.ndarray | None = None
    capacity_sum: np.ndarray | None = None
    delivered: np.ndarray | None = None
    offered: np.ndarray | None = None


def empty_chunk_state(
    nsys: int, nlat: int, nlon: int, keep_counts: bool = False, *, count_any: bool = False, capacity: bool = False
) -> ChunkState:
    """The state of zero steps: the identity of :func:`merge_chunk_states` (``count_any``/``capacity``:
    with zero ``steps_any`` / ``capacity_sum``, ``delivered`` and ``offered``)."""
    shape = (nsys, nlat, nlon)
    return ChunkState(
        0,
        np.zeros(shape, np.int64),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.zeros(shape, np.int32),
        np.ones(shape, np.bool_),
        np.zeros((nsys, 0, nlat, nlon), np.int16) if keep_counts else None,
        np.zeros(shape, np.int32) if count_any else None,
        np.zeros(shape, np.float64) if capacity else None,
        np.zeros((nsys, 0), np.float64) if capacity else None,
        np.zeros((nsys, 0), np.float64) if capacity else None,
    )


def merge_gap_states(lead1, trail1, inner1, all1, lead2, trail2, inner2, all2):
    """Elementwise exact merge of two consecutive chunks' gap-run states (any equal shapes).

    Returns (lead_run int32, trail_run int32, max_inner_run int32, all_gap bool), same shape."""
    shape = np.shape(lead1)
    flat = [
        np.ascontiguousarray(np.asarray(a).reshape(-1), dtype=dt)
        for a, dt in (
            (lead1, np.int32),
            (trail1, np.int32),
            (inner1, np.int32),
            (all1, np.bool_),
            (lead2, np.int32),
            (trail2, np.int32),
            (inner2, np.int32),
            (all2, np.bool_),
        )
    ]
    out = _merge_gap_arrays(*flat)
    return tuple(o.reshape(shape) for o in out)


def merge_chunk_states(a: ChunkState, b: ChunkState) -> ChunkState:
    """State of chunk ``a`` followed by chunk ``b`` (``counts``, ``steps_any`` and the capacity fields
    kept only if both have them). Exact, except ``capacity_sum``: one float addition per cell."""
    lead, trail, inner, allg = merge_gap_states(
        a.lead_run, a.trail_run, a.max_inner_run, a.all_gap, b.lead_run, b.trail_run, b.max_inner_run, b.all_gap
    )

    def both(x, y, f):
        return None if x is None or y is None else f(x, y)

    def cat(x, y):
        return np.concatenate([x, y], axis=1)

    return ChunkState(
        a.nsteps + b.nsteps,
        a.sum_visible + b.sum_visible,
        a.steps_covered + b.steps_covered,
        lead,
        trail,
        inner,
        allg,
        both(a.counts, b.counts, cat),
        both(a.steps_any, b.steps_any, np.add),
        both(a.capacity_sum, b.capacity_sum, np.add),
        both(a.delivered, b.delivered, cat),
        both(a.offered, b.offered, cat),
    )


def longest_gap(state: ChunkState) -> np.ndarray:
    """Longest run of consecutive gap steps per cell, int32[nsys, nlat, nlon] (finaliser)."""
    return np.maximum(np.maximum(state.lead_run, state.trail_run), state.max_inner_run).astype(np.int32)


def _f64(a):
    return np.require(a, dtype=np.float64, requirements=["C", "W"])


def prepare_grid_inputs(nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad):
    """Validate and normalise the per-system settings and grid geometry of ``accumulate_chunk``
    (shared with the CUDA backend). Returns (system int32[nsat], sin_mask float64[nsat],
    min_visible int32[nsys], pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0)."""
    min_visible = np.require(np.atleast_1d(min_visible), dtype=np.int32, requirements=["C", "W"])
    nsys = min_visible.shape[0]
    mask_rad = _f64(np.atleast_1d(mask_rad))
    if mask_rad.shape != (nsys,):
        raise ValueError(f"mask_rad: expected one mask per system ({nsys}), got shape {mask_rad.shape}")
    system = np.require(
        np.asarray(system).reshape(-1) if nsat else np.zeros(0), dtype=np.int32, requirements=["C", "W"]
    )
    if system.shape != (nsat,):
        raise ValueError(f"system: expected one index per satellite ({nsat}), got shape {system.shape}")
    if nsat and (system.min() < 0 or system.max() >= nsys):
        raise ValueError(f"system: indices must lie in [0, {nsys - 1}]")
    if sat_mask_rad is None:
        sin_mask = np.sin(mask_rad)[system] if nsat else np.zeros(0)
    else:
        sat_mask_rad = _f64(np.atleast_1d(sat_mask_rad))
        if sat_mask_rad.shape != (nsat,):
            raise ValueError(f"sat_mask_rad: expected one mask per satellite ({nsat}), got {sat_mask_rad.shape}")
        sin_mask = np.sin(sat_mask_rad)
    sin_mask = _f64(sin_mask)
    if not np.all(np.abs(sin_mask) < 1.0):
        raise ValueError("mask_rad: elevation masks must lie strictly between -90° and 90°")
    pxy, pz, nxy, nz = (_f64(a) for a in (pxy, pz, nxy, nz))
    lon_rad = _f64(lon_rad)
    cos_lon = _f64(np.cos(lon_rad) if cos_lon is None else cos_lon)
    sin_lon = _f64(np.sin(lon_rad) if sin_lon is None else sin_lon)
    nlat, nlon = pxy.shape[0], lon_rad.shape[0]
    for name, a, n in (
        ("pz", pz, nlat),
        ("nxy", nxy, nlat),
        ("nz", nz, nlat),
        ("cos_lon", cos_lon, nlon),
        ("sin_lon", sin_lon, nlon),
    ):
        if a.shape != (n,):
            raise ValueError(f"{name}: expected shape ({n},), got {a.shape}")
    dlon = 2.0 * math.pi / nlon
    lon0 = float(lon_rad[0]) - 0.5 * dlon
    if nlon > 1 and not np.allclose(np.diff(lon_rad), dlon, rtol=0, atol=1e-9):
        raise ValueError("lon_rad: expected regularly spaced longitudes covering the whole circle")
    return (system, sin_mask, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0)


def prepare_capacity_inputs(nsat, nsys, nlat, nlon, capacity_per_sat, weight):
    """Validate the capacity arguments of ``accumulate_chunk`` (shared with the CUDA backend).

    capacity_per_sat : None, a scalar or float64[nsat], Mbps (finite, ≥ 0); weight : float64[nsys, nlat,
    nlon] or [nlat, nlon] (finite, ≥ 0), required with capacity_per_sat and refused without it.
    Returns (do_cap, cap_sat float64[nsat] (empty when off), w float64[nsys, nlat, nlon] C-contiguous,
    writeable (empty when off))."""
    do_cap = capacity_per_sat is not None
    if do_cap:
        cap_sat = _f64(
            np.broadcast_to(np.asarray(capacity_per_sat, np.float64), (nsat,))
            if np.ndim(capacity_per_sat) == 0
            else np.asarray(capacity_per_sat)
        )
        if cap_sat.shape != (nsat,):
            raise ValueError(f"capacity_per_sat: expected one value per satellite ({nsat}), got {cap_sat.shape}")
        if not np.all(np.isfinite(cap_sat) & (cap_sat >= 0)):
            raise ValueError("capacity_per_sat: expected finite values >= 0 (Mbps)")
        if weight is None:
            raise ValueError("weight: required with capacity_per_sat (the weight of each cell, per system)")
        w = np.asarray(weight, np.float64)
        if w.shape == (nlat, nlon):
            w = np.broadcast_to(w, (nsys, nlat, nlon))
        if w.shape != (nsys, nlat, nlon):
            raise ValueError(f"weight: expected shape ({nsys}, {nlat}, {nlon}) or ({nlat}, {nlon}), got {w.shape}")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ValueError("weight: expected finite values >= 0")
        w = np.ascontiguousarray(w, dtype=np.float64)
        if not w.flags.writeable:
            w = w.copy()
    else:
        if weight is not None:
            raise ValueError("weight: given without capacity_per_sat")
        cap_sat = np.zeros(0)
        w = np.zeros((0, 0, 0))
    return do_cap, cap_sat, w


def accumulate_chunk(
    r,
    system,
    mask_rad,
    min_visible,
    pxy,
    pz,
    nxy,
    nz,
    lon_rad,
    *,
    cos_lon=None,
    sin_lon=None,
    err=None,
    sat_mask_rad=None,
    keep_counts=False,
    nblocks=None,
    count_any=False,
    capacity_per_sat=None,
    weight=None,
) -> ChunkState:
    """Visibility statistics of one chunk of time steps.

    r : float64[nsat, ntime, 3]  satellite positions, km, ITRS; rows with NaN are never visible
    system : int[nsat]           system index 0..nsys−1 of each satellite
    mask_rad : float64[nsys]     elevation mask of each system, rad (any sign, |mask| < π/2)
    min_visible : int[nsys]      a step is covered where count ≥ min_visible[system]
    pxy, pz, nxy, nz : float64[nlat]  row geometry (``Grid.row_geometry()``)
    lon_rad : float64[nlon]      cell-centre longitudes, rad, regular, ascending from ≈ −π
    cos_lon, sin_lon : float64[nlon], optional  exact cos/sin of lon_rad (default np.cos/np.sin)
    err : uint8[nsat, ntime], optional  SGP4 error codes; nonzero steps are skipped
    sat_mask_rad : float64[nsat], optional  per-satellite masks, overriding ``mask_rad``
    keep_counts : bool           also return per-step counts int16[nsys, ntime, nlat, nlon]
    nblocks : int, optional      time blocks run in parallel (default: numba threads, at most
                                 ntime; with capacity ``min(ntime, CAPACITY_TIME_BLOCKS)``, so that the
                                 float sums do not depend on the thread count); the integer results do
                                 not depend on it, ``capacity_sum`` only to rounding (~1e-15 relative).
                                 A one-step chunk runs on one thread: give chunks at least as many
                                 steps as threads.
    count_any : bool             also count the steps with at least one satellite visible
                                 (``steps_any``; = ``steps_covered`` where min_visible is 1)
    capacity_per_sat : float64[nsat], optional   capacity of each satellite, Mbps (≥ 0): turns on the
                                 capacity accumulation (see "Capacity" in the module docstring)
    weight : float64[nsys, nlat, nlon] or [nlat, nlon]   the weight w ≥ 0 of each cell for each system
                                 (0 where the system may not serve); required with capacity_per_sat
    Returns a :class:`ChunkState` (``steps_any`` with count_any; ``capacity_sum``,
    ``delivered``, ``offered`` with capacity).

    Memory: about (40·b + 25) bytes per cell and system (+ 2·ntime with keep_counts), where b is the
    number of blocks held at once: all nblocks while their state (24–36 bytes per cell and system
    each) fits :data:`BLOCK_STATE_BYTES`, else one per thread (the blocks then run in waves, folded in
    time order: the same results). E.g. ~680 MB for one system at 0.1° with two blocks (~7 MB at
    1°); capacity adds about (28·b + 56) bytes per cell and system. Time: O(visible rows per
    satellite-step) plus one prefix sum per touched row and step; never O(nsat × ncells).
    """
    r = _f64(r)
    if r.ndim != 3 or r.shape[2] != 3:
        raise ValueError(f"r: expected shape (nsat, ntime, 3), got {r.shape}")
    nsat, nt = r.shape[0], r.shape[1]
    (system, sin_mask, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0) = (
        prepare_grid_inputs(
            nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad
        )
    )
    if err is None:
        err = np.zeros((nsat, nt), np.uint8)
    else:
        err = np.require(err, dtype=np.uint8, requirements=["C", "W"])
        if err.shape != (nsat, nt):
            raise ValueError(f"err: expected shape ({nsat}, {nt}), got {err.shape}")
    do_cap, cap_sat, w = prepare_capacity_inputs(nsat, nsys, nlat, nlon, capacity_per_sat, weight)
    if nblocks is None:
        nblocks = min(nt, CAPACITY_TIME_BLOCKS) if do_cap else numba.get_num_threads()
    nblocks = int(max(1, min(int(nblocks), nt)))
    if nt == 0:
        return empty_chunk_state(nsys, nlat, nlon, keep_counts, count_any=count_any, capacity=do_cap)
    count_any = bool(count_any)
    # blocks whose per-cell state is held at once: all of them while that fits BLOCK_STATE_BYTES, else
    # as many as there are threads (a memory bound only: the results do not depend on it)
    per_block = nsys * nlat * nlon * (24 + (4 if count_any else 0) + (8 if do_cap else 0))
    wave = min(nblocks, max(numba.get_num_threads(), BLOCK_STATE_BYTES // max(per_block, 1)))
    out = _accumulate_kernel(
        r,
        err,
        system,
        sin_mask,
        min_visible,
        pxy,
        pz,
        nxy,
        nz,
        cos_lon,
        sin_lon,
        lon0,
        nblocks,
        wave,
        bool(keep_counts),
        count_any,
        do_cap,
        cap_sat,
        w,
    )
    s, c, ld, tr, inn, al, counts, anyc, capsum, delivered, offered = out
    return ChunkState(
        nt,
        s,
        c,
        ld,
        tr,
        inn,
        al,
        counts if keep_counts else None,
        anyc if count_any else None,
        capsum if do_cap else None,
        delivered if do_cap else None,
        offered if do_cap else None,
    )


# --------------------------------------------------------------------------- NumPy reference
def brute_force_counts(r, system, nsys, sin_mask, pxy, pz, nxy, nz, cos_lon, sin_lon, err=None, sat_chunk=64):
    """Reference: per-step counts int32[nsys, ntime, nlat, nlon] by testing every satellite against
    every cell with the exact test (same float64 expressions as :func:`cell_visible_exact`).

    sin_mask : float64[nsat], the sine of each satellite's mask. Slow: O(nsat·ntime·ncells).
    """
    r = np.asarray(r, dtype=np.float64)
    system = np.asarray(system)
    sin_mask = np.asarray(sin_mask, dtype=np.float64)
    nsat, nt = r.shape[:2]
    nlat, nlon = len(pxy), len(cos_lon)
    pxy = np.asarray(pxy, np.float64)[:, None]
    nxy = np.asarray(nxy, np.float64)[:, None]
    px = pxy * np.asarray(cos_lon, np.float64)[None, :]
    py = pxy * np.asarray(sin_lon, np.float64)[None, :]
    nx = nxy * np.asarray(cos_lon, np.float64)[None, :]
    ny = nxy * np.asarray(sin_lon, np.float64)[None, :]
    pzz = np.broadcast_to(np.asarray(pz, np.float64)[:, None], (nlat, nlon))
    nzz = np.broadcast_to(np.asarray(nz, np.float64)[:, None], (nlat, nlon))
    out = np.zeros((nsys, nt, nlat, nlon), np.int32)
    ok_all = np.isfinite(r).all(axis=2)
    if err is not None:
        ok_all &= np.asarray(err) == 0
    for k in range(nt):
        for i0 in range(0, nsat, sat_chunk):
            idx = np.arange(i0, min(nsat, i0 + sat_chunk))
            idx = idx[ok_all[idx, k]]
            if idx.size == 0:
                continue
            x = r[idx, k, 0][:, None, None]
            y = r[idx, k, 1][:, None, None]
            z = r[idx, k, 2][:, None, None]
            sm = sin_mask[idx][:, None, None]
            dx = x - px
            dy = y - py
            dz = z - pzz
            nd = nx * dx + ny * dy + nzz * dz
            d2 = dx * dx + dy * dy + dz * dz
            s2 = sm * sm
            vis = np.where(sm >= 0.0, (nd > 0.0) & (nd * nd > s2 * d2), (nd > 0.0) | (nd * nd < s2 * d2))
            sy = system[idx]
            for s in np.unique(sy):
                out[s, k] += vis[sy == s].sum(axis=0, dtype=np.int32)
    return out
