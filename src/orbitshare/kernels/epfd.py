"""EPFD↓ kernel: the equivalent power flux-density of non-GSO satellites at GSO earth stations, per step.

Units: km, rad inside; PFD and EPFD in linear W/m² in the reference bandwidth (40 kHz) inside the
kernel, dB(W/m²·40 kHz) outside. Positions are ITRS (Earth-fixed). No xarray, no I/O.

What one step computes. For every grid cell (an earth station at the cell centre on the WGS84
surface, height 0), every GSO pointing of its row and every antenna ``a``::

    epfd(cell, pointing, a) = Σ_i pfd_i · g_a(φ_i)          (linear; 10 log10 of it in dB)

over the satellites i in view of the cell above their system's elevation mask (the coverage engine's
exact test, :func:`orbitshare.kernels.footprint.vis_h`: ``n·d > 0 and (n·d)² > sin²m·|d|²``, same
operations, same bits), ``pfd_i`` the satellite's PFD (W/m² in 40 kHz) and ``g_a = 10^((G(φ) −
Gmax)/10)`` the relative gain of the ITU-R S.1428-1 pattern (:mod:`orbitshare.kernels.antenna`) at
the angle φ between the pointing direction and the satellite, seen from the cell. A step with no
satellite in view leaves 0 (−inf dB).

Pointings. Row i (geodetic latitude) has ``np_row[i]`` pointings, the GSO slots at longitude offsets
``δ_p`` (deg) from the cell's own meridian; ``wp[i, :, p]`` is the unit vector from the cell towards the
slot in the cell's local frame (the ITRS rotated by the cell's longitude about the polar axis), the
same for every cell of the row. The satellite's direction is rotated into that frame
(``(dx cos λ + dy sin λ, −dx sin λ + dy cos λ, dz)``) and ``s = sin(φ/2) = |ŵ − d̂| / 2`` (no
cancellation near φ = 0).

The gain, by range of φ (every choice is the same in both passes and in :func:`epfd_step_values`):

* φ ≥ :data:`NEAR_DEG` (34.1°): S.1428-1 is constant by range for every D/λ ([34.1°, 80°), [80°, 120°),
  [120°, 180°]); the kernel only sums the PFD per range (a branch-free SIMD loop over the pointings)
  and multiplies by each antenna's range gain at the end.
* from the largest φr of the antennas (95 λ/D for D/λ ≤ 100; ~4.06° for 0.6 m at 11.7 GHz) to 34.1°:
  the pattern is one of two curves independent of D/λ (D/λ ≤ 100 or > 100); one table per curve in
  cos φ (no square root), times 10^(−Gmax/10) per antenna at the end (:func:`build_gain`).
* below (main lobe): per antenna, a table in s = sin(φ/2) = |ŵ − d̂| / 2 (no cancellation near
  φ = 0), :data:`TABLE_BINS` bins.

Each table bin holds the value at its start and the change to its end (left limit), linear in
between; a bin in which that line is off by more than :data:`TABLE_FLAG_DB` from the pattern at any of
7 interior points (a discontinuity, or the main lobe of a large antenna) is flagged and evaluated
exactly (:func:`~orbitshare.kernels.antenna.s1428_gain_params` at φ = 2 asin s), as is every pair
with ``exact``. Tested against the Recommendation's equations at random angles: ≤ 0.01 dB (tables),
1e-9 dB (exact).

Footprints. Phase A (parallel over satellites) walks each satellite's footprint row by row from its
nadir row as :func:`orbitshare.kernels.footprint.footprint_start` / ``next_row`` do; per row the
closed form :func:`~orbitshare.kernels.footprint.row_cos_threshold` predicts the visible longitude
interval (its acos by a polynomial, :func:`~orbitshare.kernels.footprint.acos_approx`, 2e-8 rad: a
prediction only), widened by :data:`MARGIN_CELLS` on each side (the whole row for a degenerate row) and
trimmed with the exact test; a row whose candidate range has no visible cell ends the walk in that
direction. Phase B (parallel over rows, each thread owning whole rows, interleaved by thread:
:func:`row_order`) re-tests every candidate cell exactly, lists each cell's satellites in index order
(:func:`_row_pairs`) and sums per cell in that order: no float atomics, the same bits for any thread
count or chunking (checked).

Statistics (flat in time). Pass 1: per (cell, pointing, antenna) the class counts of the step's
EPFD against the ascending mask levels (class c = the number of levels strictly below the EPFD;
steps with no satellite are class 0 and are not stored: class 0 = n_steps − Σ others) and the
maximum. Pass 2 (margin): for one selected pointing per (cell, antenna), a histogram on given bin
edges (linear), bin b = [e[b−1], e[b]) (bin 0 below e[0], including no satellite, is not stored:
the caller sets it to n_steps − Σ others; the last bin is at or above the last edge).

Cost. Starlink (10,926 satellites, mask 25°), 2° grid, 4 antennas, 5° pointings: per step ~630,000
satellite-cell pairs in cells with a GSO pointing, ~17.5 million pair-pointings, ~3.1 million of them
within 34.1°, ~25,000 exact gain evaluations (flagged main-lobe bins). One thread, per step, on a
shared two-core machine (absolute values high by up to 2×, the shares hold): propagation ~3.5 ms (each
pass), phase A ~11 ms (each pass; the serial CSR 1.2 ms), phase B of pass 1 ~70-100 ms (satellite
lists ~8, the pointing loop ~16, listing the near pointings ~8-13, the side-lobe tables and main lobe
~22-26, the statistics ~15), phase B of pass 2 ~25-37 ms (satellite lists ~8, the few selected
pointings the rest), against ~9-14 ms for the whole coverage pass. The pair-pointings alone, at ~1 ns
each, cost 1-2 coverage passes: evaluating every pointing of the arc cannot come within 3× of the
coverage pass however well this kernel is tuned.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from orbitshare._jit import njit, pjit
from orbitshare.kernels.antenna import s1428_gain_params
from orbitshare.kernels.footprint import acos_approx, footprint_start, next_row, row_cos_threshold, vis_h, wrap

__all__ = [
    "FAMILY_BINS",
    "FAR_PROBE_DEG",
    "LANES",
    "MARGIN_CELLS",
    "NEAR_DEG",
    "TABLE_BINS",
    "TABLE_FLAG_DB",
    "accumulate_epfd_chunk",
    "build_gain",
    "epfd_step_values",
    "gain_table_eval",
    "padded",
    "pointing_vectors",
    "row_offsets",
    "row_order",
    "table_bins",
]

#: Candidate cells added on each side of a row's predicted visible interval before the exact tests.
MARGIN_CELLS = 2
#: A table bin whose linear interpolation is off by more than this (dB) at an interior point is exact.
TABLE_FLAG_DB = 0.002
_TABLE_PROBES = 7
#: Bins of the gain table in s = sin(φ/2) ∈ [0, 1] (0.028° wide near φ = 0).
TABLE_BINS = 4096
#: Bins of the side-lobe family tables in cos φ (see :func:`build_gain`).
FAMILY_BINS = 4096
#: Beyond this off-axis angle (deg) S.1428-1 is constant by range for every D/λ: [34.1°, 80°), [80°, 120°),
#: [120°, 180°] (for D/λ ≤ 100 the Recommendation writes (33.1°, 80°], (80°, 120°], (120°, 180°]: the same
#: values but at the two boundary angles themselves, a set of measure zero).
NEAR_DEG = 34.1
#: One angle (deg) inside each constant far range, where its value is read off the pattern.
FAR_PROBE_DEG = (50.0, 100.0, 150.0)
_C_NEAR = math.cos(math.radians(NEAR_DEG))
_C80 = math.cos(math.radians(80.0))
_C120 = math.cos(math.radians(120.0))


def table_bins(d_over_lambda: float) -> int:
    """Bins of the gain table in s = sin(φ/2): :data:`TABLE_BINS` (small enough to stay in cache; the main lobe
    of a large antenna spans a few bins, which are flagged and evaluated exactly)."""
    return TABLE_BINS


# --------------------------------------------------------------------------- gain
@njit
def _rel_gain_exact(s, dl, gmax, g1, phi_m, phi_r):
    """Relative gain 10^((G − Gmax)/10) at s = sin(φ/2) (exact S.1428-1)."""
    if s > 1.0:
        s = 1.0
    phi = 2.0 * math.degrees(math.asin(s))
    g = s1428_gain_params(phi, dl, gmax, g1, phi_m, phi_r)
    return 10.0 ** ((g - gmax) / 10.0)


@njit
def _build_tables(dl, gp, nb, tab, flag, cfar):
    nant = dl.shape[0]
    for a in range(nant):
        gmax, g1, phi_m, phi_r = gp[a, 0], gp[a, 1], gp[a, 2], gp[a, 3]
        for k in range(nb + 1):
            tab[k, a, 0] = _rel_gain_exact(k / nb, dl[a], gmax, g1, phi_m, phi_r)
        for k in range(nb):
            end = _rel_gain_exact((k + 1) / nb - 1e-13, dl[a], gmax, g1, phi_m, phi_r)
            tab[k, a, 1] = end - tab[k, a, 0]
            for q in range(1, _TABLE_PROBES + 1):
                t = q / (_TABLE_PROBES + 1.0)
                ex = _rel_gain_exact((k + t) / nb, dl[a], gmax, g1, phi_m, phi_r)
                ap = tab[k, a, 0] + tab[k, a, 1] * t
                if not (ap > 0.0) or abs(10.0 * math.log10(ap / ex)) > TABLE_FLAG_DB:
                    flag[k, a] = True
                    break
        for b in range(3):
            s = math.sin(math.radians(FAR_PROBE_DEG[b]) / 2.0)
            cfar[a, b] = _rel_gain_exact(s, dl[a], gmax, g1, phi_m, phi_r)


@njit
def _abs_gain_c(c, dl, g):
    """10^(G/10) of S.1428-1 at cos φ = c (D/λ dl, constants g = (Gmax, G1, φm, φr))."""
    cc = min(max(c, -1.0), 1.0)
    return 10.0 ** (g[0] / 10.0) * _rel_gain_exact(math.sin(math.acos(cc) / 2.0), dl, g[0], g[1], g[2], g[3])


@njit
def _build_family(dl, gp, fam, c_split, nfb, famtab, famflag):
    """Absolute linear gain 10^(G/10) of each family (0: D/λ ≤ 100, 1: D/λ > 100) in ``nfb`` bins uniform in
    cos φ from cos NEAR_DEG to ``c_split``, from one member antenna (the pattern there does not depend on D/λ)."""
    w = (c_split - _C_NEAR) / nfb
    for f in range(2):
        a = -1
        for b in range(dl.shape[0]):
            if fam[b] == f:
                a = b
                break
        if a < 0:
            continue
        g = gp[a]
        for k in range(nfb + 1):
            famtab[k, f, 0] = _abs_gain_c(_C_NEAR + k * w + (1e-13 if k < nfb else -1e-13), dl[a], g)
        for k in range(nfb):
            end = _abs_gain_c(_C_NEAR + (k + 1) * w - 1e-13, dl[a], g)
            famtab[k, f, 1] = end - famtab[k, f, 0]
            for q in range(1, _TABLE_PROBES + 1):
                t = q / (_TABLE_PROBES + 1.0)
                ex = _abs_gain_c(_C_NEAR + (k + t) * w, dl[a], g)
                ap = famtab[k, f, 0] + famtab[k, f, 1] * t
                if not (ap > 0.0) or abs(10.0 * math.log10(ap / ex)) > TABLE_FLAG_DB:
                    famflag[k, f] = True
                    break
        famflag[nfb, f] = True


def build_gain(d_over_lambdas, s1428_params_fn):
    """The kernel's gain input for antennas of these D/λ (each ≥ 20): a tuple ``(tab float64[nb + 1, nant, 2],
    flag bool[nb + 1, nant], nb, dl float64[nant], gp float64[nant, 4], cfar float64[nant, 3], famtab
    float64[nfb + 1, 2, 2], famflag bool[nfb + 1, 2], fam int64[nant], inv_gmax float64[nant], c_split, inv_w,
    nfb)``.

    ``tab[k, a]`` = (relative gain at s = sin(φ/2) = k / nb, change to the bin's end); ``flag``: bin evaluated
    exactly; ``gp`` the S.1428-1 constants (Gmax, G1, φm, φr) from ``s1428_params_fn``; ``cfar`` the relative
    gains of the three constant far-sidelobe ranges (φ in [34.1°, 80°), [80°, 120°), [120°, 180°]).

    Side lobes. From the largest φr of the antennas (95 λ/D for D/λ ≤ 100) up to NEAR_DEG the pattern is
    one of two curves that do not depend on D/λ (29 − 25 log φ then −9 dBi for D/λ ≤ 100; 29 − 25 log φ then
    34 − 30 log φ for D/λ > 100): ``famtab[k, family]`` holds 10^(G/10) there, in ``nfb`` bins uniform in
    cos φ between cos NEAR_DEG and ``c_split`` = cos(that φr) (no square root: φ only through cos φ); the
    antenna's relative gain is that times ``inv_gmax[a]`` = 10^(−Gmax/10). ``inv_w`` = nfb / (c_split −
    cos NEAR_DEG); ``famflag``: bins evaluated exactly (per antenna)."""
    dl = np.ascontiguousarray(d_over_lambdas, dtype=np.float64)
    nb = max(table_bins(float(x)) for x in dl)
    gp = np.array([s1428_params_fn(float(x)) for x in dl], np.float64).reshape(len(dl), 4)
    tab = np.zeros((nb + 1, len(dl), 2))
    flag = np.zeros((nb + 1, len(dl)), np.bool_)
    cfar = np.zeros((len(dl), 3))
    _build_tables(dl, gp, nb, tab, flag, cfar)
    fam = (dl > 100.0).astype(np.int64)
    phi_split = float(np.max(gp[:, 3]))
    c_split = math.cos(math.radians(phi_split)) if phi_split < NEAR_DEG else _C_NEAR
    nfb = FAMILY_BINS
    famtab = np.zeros((nfb + 1, 2, 2))
    famflag = np.zeros((nfb + 1, 2), np.bool_)
    if c_split > _C_NEAR:
        _build_family(dl, gp, fam, c_split, nfb, famtab, famflag)
    inv_w = nfb / (c_split - _C_NEAR) if c_split > _C_NEAR else 0.0
    inv_gmax = 10.0 ** (-gp[:, 0] / 10.0)
    return tab, flag, nb, dl, gp, cfar, famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb


@njit(inline="always")
def _gain_near(a, s, k, t, exact, tab, flag, dl, gp):
    """Relative gain of antenna ``a`` at s = sin(φ/2) (table bin k, fraction t): table, or exact. (The gain
    arrays come one by one, not as a tuple: unpacking a tuple in the inner loop costs reference counts.)"""
    if exact or flag[k, a]:
        return _rel_gain_exact(s, dl[a], gp[a, 0], gp[a, 1], gp[a, 2], gp[a, 3])
    return tab[k, a, 0] + tab[k, a, 1] * t


@njit(inline="always")
def _bin(s, nb):
    x = s * nb
    k = int(x)
    if k >= nb:
        return nb, 0.0
    return k, x - k


@njit
def gain_table_eval(phi_deg, a, exact, gain):
    """float64[n]: the kernel's relative gain (linear) of antenna ``a`` at the angles ``phi_deg`` (deg), as the
    kernel evaluates it (main lobe: table in s; side lobes: family table in cos φ; far ranges: constants; a
    flagged bin or ``exact``: the pattern itself)."""
    tab, flag, nb, dl, gp, cfar = gain[0], gain[1], gain[2], gain[3], gain[4], gain[5]
    famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb = gain[6:]
    out = np.empty(phi_deg.shape[0])
    for i in range(phi_deg.shape[0]):
        c = math.cos(math.radians(phi_deg[i]))
        s = math.sin(math.radians(phi_deg[i]) / 2.0)
        if c > _C_NEAR:
            if c <= c_split and not exact:
                k, t = _fbin(c, inv_w, nfb)
                f = fam[a]
                if not famflag[k, f]:
                    out[i] = (famtab[k, f, 0] + famtab[k, f, 1] * t) * inv_gmax[a]
                    continue
            k, t = _bin(s, nb)
            out[i] = _gain_near(a, s, k, t, exact, tab, flag, dl, gp)
        elif c > _C80:
            out[i] = cfar[a, 0]
        elif c > _C120:
            out[i] = cfar[a, 1]
        else:
            out[i] = cfar[a, 2]
    return out


@njit(inline="always")
def _fbin(c, inv_w, nfb):
    """Family-table bin and fraction of cos φ = c (cos NEAR_DEG < c ≤ c_split)."""
    x = (c - _C_NEAR) * inv_w
    k = int(x)
    if k >= nfb:
        return nfb, 0.0
    return k, x - k


# --------------------------------------------------------------------------- pointings
#: The pointing loop of the cell kernel runs over whole groups of this many pointings (two 4-wide vectors):
#: a row's pointings are padded with zero vectors, so no pointing goes through a scalar remainder loop.
LANES = 8


def padded(n: int) -> int:
    """n rounded up to a multiple of :data:`LANES` (the pointing lanes the cell kernel evaluates)."""
    return (int(n) + LANES - 1) // LANES * LANES


def pointing_vectors(pxy, pz, offsets_deg, np_row, r_gso_km):
    """wp float64[nlat, 3, P]: unit vectors (components on axis 1) from each row's cell (at longitude 0) to
    the GSO slots at the longitude offsets ``offsets_deg[i, p]`` (p < np_row[i]), orbit radius ``r_gso_km``;
    P is pmax rounded up to a multiple of :data:`LANES` and the entries past np_row[i] are zero (padding
    lanes: see :func:`padded`)."""
    nlat, pmax = offsets_deg.shape
    wp = np.zeros((nlat, 3, padded(max(pmax, 1))))
    for i in range(nlat):
        for p in range(int(np_row[i])):
            d = math.radians(offsets_deg[i, p])
            w = np.array([r_gso_km * math.cos(d) - pxy[i], r_gso_km * math.sin(d), -pz[i]])
            wp[i, :, p] = w / math.sqrt(w @ w)
    return wp


def row_offsets(np_row, nlon):
    """int64[nlat + 1]: start of each row's (cell, pointing) entries in the flat arrays (cell j of row i,
    pointing p at ``base[i] + j·np_row[i] + p``)."""
    base = np.zeros(len(np_row) + 1, np.int64)
    base[1:] = np.cumsum(np.asarray(np_row, np.int64) * nlon)
    return base


# --------------------------------------------------------------------------- phase A: footprints
@njit(inline="always")
def _row_candidates(x, y, z, pos, s2, sm, rho, r2, rn, t, dlon, pxy_i, pz_i, nxy_i, nz_i, cos_lon, sin_lon):
    """(jlo, jhi) unwrapped candidate columns of one row for a satellite (jhi < jlo: none visible)."""
    nlon = cos_lon.shape[0]
    dz = z - pz_i
    ndz = nz_i * dz
    dz2 = dz * dz
    c = row_cos_threshold(rho, z, r2, rn, sm, pxy_i, pz_i, nxy_i, nz_i, dlon)
    if c != c or c < -1.0 - 1e-9:
        jlo = 0
        jhi = nlon - 1
    elif c > 1.0 + 1e-9:
        return 1, 0
    else:
        cc = min(max(c, -1.0), 1.0)
        hw = acos_approx(cc) / dlon  # |error| ≤ 2e-8 rad: far inside MARGIN_CELLS (a prediction, trimmed exactly)
        jlo = int(math.floor(t - 0.5 - hw)) + 1 - MARGIN_CELLS
        jhi = int(math.ceil(t - 0.5 + hw)) - 1 + MARGIN_CELLS
        if jhi - jlo + 1 >= nlon:
            jlo = 0
            jhi = nlon - 1
    while jlo <= jhi:
        k = wrap(jlo, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k], sin_lon[k]):
            break
        jlo += 1
    while jhi >= jlo:
        k = wrap(jhi, nlon)
        if vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cos_lon[k], sin_lon[k]):
            break
        jhi -= 1
    return jlo, jhi


@pjit
def _footprints(r, err, k, sat_sm, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, dlon, dlat, rec, nrec):
    """Phase A of step k: rec[q, n] = (row, jlo, jhi) candidate ranges of satellite q, nrec[q] of them."""
    nsat = r.shape[0]
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    for q in prange(nsat):
        nrec[q] = 0
        x = r[q, k, 0]
        y = r[q, k, 1]
        z = r[q, k, 2]
        if err[q, k] != 0 or not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
            continue
        sm = sat_sm[q]
        rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0 = footprint_start(
            x, y, z, sm, lon0, dlon, dlat, nlat, nlon
        )
        i = i0
        step = 1
        n = 0
        while i >= 0:
            jlo, jhi = _row_candidates(
                x, y, z, pos, s2, sm, rho, r2, rn, t, dlon, pxy[i], pz[i], nxy[i], nz[i], cos_lon, sin_lon
            )
            empty = jhi < jlo
            if not empty:
                rec[q, n, 0] = i
                rec[q, n, 1] = jlo
                rec[q, n, 2] = jhi
                n += 1
            i, step = next_row(i, step, i0, nlat, empty, walk_all)
        nrec[q] = n


@njit
def _by_row(rec, nrec, nlat):
    """CSR by row of the phase-A records, satellites in index order: (start int64[nlat + 1], sat, jlo, jhi)."""
    nsat = rec.shape[0]
    cnt = np.zeros(nlat + 1, np.int64)
    for q in range(nsat):
        for n in range(nrec[q]):
            cnt[rec[q, n, 0] + 1] += 1
    for i in range(nlat):
        cnt[i + 1] += cnt[i]
    tot = cnt[nlat]
    sat = np.empty(tot, np.int64)
    jlo = np.empty(tot, np.int64)
    jhi = np.empty(tot, np.int64)
    fill = cnt[:nlat].copy()
    for q in range(nsat):
        for n in range(nrec[q]):
            i = rec[q, n, 0]
            m = fill[i]
            sat[m] = q
            jlo[m] = rec[q, n, 1]
            jhi[m] = rec[q, n, 2]
            fill[i] = m + 1
    return cnt, sat, jlo, jhi


# --------------------------------------------------------------------------- phase B: one row
@njit(inline="always")
def _row_pairs(i, k, r, sat_sm, sat_pfd, rows, geom):
    """The satellites in view of each cell of row i at step k, satellites in index order within a cell:
    ``(off int64[nlon + 1], ux, uy, uz, pf float64[n])`` — cell j's are entries off[j]..off[j + 1] − 1: the
    unit vector from the cell to the satellite in the cell's local frame (the ITRS rotated by the cell's
    longitude: ``(dx cos λ + dy sin λ, −dx sin λ + dy cos λ, dz)``) and the satellite's PFD."""
    start, rsat, rjlo, rjhi = rows
    pxy, pz, nxy, nz, cos_lon, sin_lon = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5]
    nlon = cos_lon.shape[0]
    pxy_i = pxy[i]
    nxy_i = nxy[i]
    off = np.zeros(nlon + 1, np.int64)
    for sweep in range(2):
        if sweep == 1:
            for j in range(nlon):
                off[j + 1] += off[j]
            n = off[nlon]
            ux = np.empty(n)
            uy = np.empty(n)
            uz = np.empty(n)
            pf = np.empty(n)
            fill = off[:nlon].copy()
        for m in range(start[i], start[i + 1]):
            q = rsat[m]
            x = r[q, k, 0]
            y = r[q, k, 1]
            z = r[q, k, 2]
            sm = sat_sm[q]
            pos = sm >= 0.0
            s2 = sm * sm
            dz = z - pz[i]
            ndz = nz[i] * dz
            dz2 = dz * dz
            for jj in range(rjlo[m], rjhi[m] + 1):
                j = wrap(jj, nlon)
                cl = cos_lon[j]
                sl = sin_lon[j]
                if not vis_h(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cl, sl):
                    continue
                if sweep == 0:
                    off[j + 1] += 1
                    continue
                dx = x - pxy_i * cl
                dy = y - pxy_i * sl
                lx = dx * cl + dy * sl
                ly = dy * cl - dx * sl
                inv = 1.0 / math.sqrt(lx * lx + ly * ly + dz2)
                e = fill[j]
                ux[e] = lx * inv
                uy[e] = ly * inv
                uz[e] = dz * inv
                pf[e] = sat_pfd[q]
                fill[j] = e + 1
    return off, ux, uy, uz, pf


@njit(inline="always")
def _cell_all(npi, npad, lo, hi, ux, uy, uz, pf, wx, wy, wz, accn, accf, cb, lst, exact, tab, flag, nb, dl, gp, cfar,
              famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb):  # fmt: skip
    """accn[p, a] = the linear EPFD of every pointing p < npi and antenna at one cell (satellites lo..hi−1).

    Per satellite, a branch-free loop over the pointings (SIMD) takes cos φ, adds the PFD to the far range
    sums ``accf[0:3, p]`` and counts the pointings with φ < NEAR_DEG. Only if there are any, a second
    branch-free loop lists them (``lst``) and a third adds, for the listed pointings only, the side-lobe
    family sums ``accf[3:5, p]`` (one lookup per family, no square root), or per antenna in the main lobe, in
    a flagged bin or with ``exact`` (the table loads no longer wait behind a mispredicted branch per
    pointing). ``wx, wy, wz`` are the row's pointing vectors (float64[≥ npad] each, zero past npi: the first
    loop runs over whole vector groups, npad = :func:`padded` (npi)), ``accf`` float64[5, ≥ npad], ``cb``
    float64[≥ npad] and ``lst`` int64[≥ npi] scratch. Every sum runs over the satellites in index order, the
    same operations as before the split (padding lanes add nothing to a real pointing): the same bits, for
    any thread count."""
    nant = dl.shape[0]
    for p in range(npi):
        for a in range(nant):
            accn[p, a] = 0.0
    for p in range(npad):
        for b in range(5):
            accf[b, p] = 0.0
    use0 = False
    use1 = False
    for a in range(nant):
        if fam[a] == 0:
            use0 = True
        else:
            use1 = True
    for t in range(lo, hi):
        u0 = ux[t]
        u1 = uy[t]
        u2 = uz[t]
        f = pf[t]
        nnear = 0
        for p in range(npad):  # lanes npi..npad - 1: zero vectors, c = 0 (not near; their sums unused)
            c = wx[p] * u0 + wy[p] * u1 + wz[p] * u2
            cb[p] = c
            nnear += 1 if c > _C_NEAR else 0
            accf[0, p] += f if (c <= _C_NEAR and c > _C80) else 0.0
            accf[1, p] += f if (c <= _C80 and c > _C120) else 0.0
            accf[2, p] += f if c <= _C120 else 0.0
        if nnear == 0:
            continue
        m = 0
        for p in range(npi):
            lst[m] = p
            m += 1 if cb[p] > _C_NEAR else 0
        for q in range(m):
            p = lst[q]
            c = cb[p]
            if c <= c_split and not exact:
                k, fr = _fbin(c, inv_w, nfb)
                if not (famflag[k, 0] or famflag[k, 1]):
                    if use0:
                        accf[3, p] += f * (famtab[k, 0, 0] + famtab[k, 0, 1] * fr)
                    if use1:
                        accf[4, p] += f * (famtab[k, 1, 0] + famtab[k, 1, 1] * fr)
                    continue
            ex = wx[p] - u0
            ey = wy[p] - u1
            ez = wz[p] - u2
            s = 0.5 * math.sqrt(ex * ex + ey * ey + ez * ez)
            k, fr = _bin(s, nb)
            for a in range(nant):
                accn[p, a] += f * _gain_near(a, s, k, fr, exact, tab, flag, dl, gp)
    for p in range(npi):
        for a in range(nant):
            accn[p, a] += (cfar[a, 0] * accf[0, p] + cfar[a, 1] * accf[1, p] + cfar[a, 2] * accf[2, p]) + accf[
                3 + fam[a], p
            ] * inv_gmax[a]


@pjit
def _step_rows(k, r, sat_sm, sat_pfd, rows, geom, wp, np_row, base, exact, gain, levels, cls, vmax, order):
    """Phase B of step k, pass 1, parallel over rows (each thread owns whole rows, visited in the order
    :func:`row_order`): per (cell, pointing, antenna) the class of the step's EPFD against the levels, and
    the maximum. ``cls[a, c, e]``: antenna-major, then class, then (cell, pointing): one step's increments
    of neighbouring cells and pointings share cache lines (with the class last, each (cell, pointing,
    antenna) touched a line of its own every step: ~1.5 million lines per step at 2°)."""
    nlat = np_row.shape[0]
    nlon = geom[4].shape[0]
    nlev = levels.shape[1]
    tab, flag, nb, dl, gp, cfar = gain[0], gain[1], gain[2], gain[3], gain[4], gain[5]
    famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb = gain[6:]
    nant = dl.shape[0]
    for ii in prange(nlat):
        i = order[ii]
        npi = np_row[i]
        if npi == 0 or rows[0][i + 1] == rows[0][i]:
            continue
        off, ux, uy, uz, pf = _row_pairs(i, k, r, sat_sm, sat_pfd, rows, geom)
        accn = np.empty((npi, nant))
        npad = min((npi + LANES - 1) // LANES * LANES, wp.shape[2])
        accf = np.empty((5, npad))
        cb = np.empty(npad)
        lst = np.empty(npi, np.int64)
        wx = wp[i, 0]
        wy = wp[i, 1]
        wz = wp[i, 2]
        for j in range(nlon):
            if off[j + 1] == off[j]:
                continue
            _cell_all(npi, npad, off[j], off[j + 1], ux, uy, uz, pf, wx, wy, wz, accn, accf, cb, lst, exact, tab, flag,
                      nb, dl, gp, cfar, famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb)  # fmt: skip
            e0 = base[i] + j * npi
            for a in range(nant):
                for p in range(npi):
                    e = e0 + p
                    v = accn[p, a]
                    if v > vmax[e, a]:
                        vmax[e, a] = v
                    c = 0
                    for lv in range(nlev):  # levels ascending: the count of levels below v, branch-free
                        c += 1 if v > levels[a, lv] else 0
                    if c > 0:
                        cls[a, c, e] += 1


@njit(inline="always")
def _cell_sel(m, lo, hi, ux, uy, uz, pf, wx, wy, wz, slot, need, accn, accf, exact, tab, flag, nb, dl, gp, cfar,
              famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb):  # fmt: skip
    """Pass 2's :func:`_cell_all` for the few pointings selected at one cell: ``accn[q, a]`` for the m slots
    q (pointing vectors ``wx[q], wy[q], wz[q]``) and the antennas with ``slot[a] == q`` (other entries are
    left undefined). Per satellite and slot one branch picks the pointing's range; only the side-lobe family
    and the main-lobe gains of the antennas that use the slot are evaluated (``need`` bool[2, ≥ m] scratch:
    which family a slot needs). Every value is the same sum as :func:`_cell_all`'s, in the same order (a
    skipped ``+ 0.0`` changes no bit): the same bits."""
    nant = dl.shape[0]
    for q in range(m):
        for a in range(nant):
            accn[q, a] = 0.0
        for b in range(5):
            accf[b, q] = 0.0
        need[0, q] = False
        need[1, q] = False
    for a in range(nant):
        if slot[a] >= 0:
            need[fam[a], slot[a]] = True
    for t in range(lo, hi):
        u0 = ux[t]
        u1 = uy[t]
        u2 = uz[t]
        f = pf[t]
        for q in range(m):
            c = wx[q] * u0 + wy[q] * u1 + wz[q] * u2
            if c > _C_NEAR:
                if c <= c_split and not exact:
                    k, fr = _fbin(c, inv_w, nfb)
                    if not (famflag[k, 0] or famflag[k, 1]):
                        if need[0, q]:
                            accf[3, q] += f * (famtab[k, 0, 0] + famtab[k, 0, 1] * fr)
                        if need[1, q]:
                            accf[4, q] += f * (famtab[k, 1, 0] + famtab[k, 1, 1] * fr)
                        continue
                ex = wx[q] - u0
                ey = wy[q] - u1
                ez = wz[q] - u2
                s = 0.5 * math.sqrt(ex * ex + ey * ey + ez * ez)
                k, fr = _bin(s, nb)
                for a in range(nant):
                    if slot[a] == q:
                        accn[q, a] += f * _gain_near(a, s, k, fr, exact, tab, flag, dl, gp)
            elif c > _C80:
                accf[0, q] += f
            elif c > _C120:
                accf[1, q] += f
            else:
                accf[2, q] += f
    for a in range(nant):
        q = slot[a]
        if q >= 0:
            accn[q, a] += (cfar[a, 0] * accf[0, q] + cfar[a, 1] * accf[1, q] + cfar[a, 2] * accf[2, q]) + accf[
                3 + fam[a], q
            ] * inv_gmax[a]


@njit(inline="always")
def _row_selected(sel, i):
    """Whether any cell of row i has a selected pointing (rows without a GSO pointing have none: their
    satellite lists are not built)."""
    for j in range(sel.shape[1]):
        for a in range(sel.shape[2]):
            if sel[i, j, a] >= 0:
                return True
    return False


@pjit
def _step_rows_sel(k, r, sat_sm, sat_pfd, rows, geom, wp, sel, exact, gain, edges, hist, order):
    """Phase B of step k, pass 2 (margin), parallel over rows: the histogram of the selected pointings. The
    distinct pointings of a cell's antennas go through :func:`_cell_sel` (the same operations in the same
    order as pass 1 for those pointings and antennas: the same bits)."""
    nlat, nlon, nant = sel.shape
    nedge = edges.shape[1]
    tab, flag, nb, dl, gp, cfar = gain[0], gain[1], gain[2], gain[3], gain[4], gain[5]
    famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb = gain[6:]
    for ii in prange(nlat):
        i = order[ii]
        if rows[0][i + 1] == rows[0][i] or not _row_selected(sel, i):
            continue
        off, ux, uy, uz, pf = _row_pairs(i, k, r, sat_sm, sat_pfd, rows, geom)
        wx = np.empty(nant)
        wy = np.empty(nant)
        wz = np.empty(nant)
        uniq = np.empty(nant, np.int64)
        slot = np.empty(nant, np.int64)
        accn = np.empty((nant, nant))
        accf = np.empty((5, nant))
        need = np.empty((2, nant), np.bool_)
        for j in range(nlon):
            if off[j + 1] == off[j]:
                continue
            m = 0
            for a in range(nant):
                p = sel[i, j, a]
                slot[a] = -1
                if p < 0:
                    continue
                for q in range(m):
                    if uniq[q] == p:
                        slot[a] = q
                        break
                if slot[a] < 0:
                    uniq[m] = p
                    wx[m] = wp[i, 0, p]
                    wy[m] = wp[i, 1, p]
                    wz[m] = wp[i, 2, p]
                    slot[a] = m
                    m += 1
            if m == 0:
                continue
            _cell_sel(m, off[j], off[j + 1], ux, uy, uz, pf, wx, wy, wz, slot, need, accn, accf, exact, tab, flag, nb,
                      dl, gp, cfar, famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb)  # fmt: skip
            for a in range(nant):
                if slot[a] < 0:
                    continue
                v = accn[slot[a], a]
                lo_e = 0
                hi_e = nedge
                while lo_e < hi_e:  # lo_e = edges <= v: bin [e[lo_e − 1], e[lo_e])
                    mid = (lo_e + hi_e) >> 1
                    if edges[a, mid] <= v:
                        lo_e = mid + 1
                    else:
                        hi_e = mid
                if lo_e > 0:
                    hist[i, j, a, lo_e] += 1


def row_order(nlat: int, nthreads: int) -> np.ndarray:
    """int64[nlat]: the rows in the order the parallel phase B visits them: every nthreads-th row together
    (0, T, 2T, ..., 1, T + 1, ...), so the equal contiguous blocks a static parallel schedule gives each
    thread hold rows of every latitude (a block of adjacent rows would give one thread the empty polar
    rows and another the dense ones: measured on Starlink at 2°, the busiest of 16 threads had 1.99× the
    mean work, 1.09× interleaved). Each row is still summed by one thread: the same bits."""
    t = max(int(nthreads), 1)
    order = [np.arange(b, nlat, t, dtype=np.int64) for b in range(min(t, nlat))]
    return np.concatenate(order) if order else np.zeros(0, np.int64)


def _phase_a(r, err, k, sat_sm, geom, rec, nrec):
    pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, dlon, dlat = geom
    _footprints(r, err, k, sat_sm, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, dlon, dlat, rec, nrec)
    return _by_row(rec, nrec, pxy.shape[0])


def accumulate_epfd_chunk(r, err, sat_sm, sat_pfd, geom, pointing, gain, stats, *, exact=False, sel=None):
    """Accumulate one chunk of steps into ``stats`` (updated in place).

    r : float64[nsat, n, 3] ITRS km; err : uint8[nsat, n] (≠ 0: skipped, as NaN positions)
    sat_sm : float64[nsat] sine of each satellite's system mask; sat_pfd : float64[nsat] PFD, W/m² in 40 kHz
    geom : (pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, dlon, dlat)
    pointing : (wp float64[nlat, 3, pmax], np_row int64[nlat], base int64[nlat + 1])
    gain : :func:`build_gain`
    stats : pass 1 ``(levels float64[nant, L] linear ascending (+inf padded), cls int32[nant, L + 1, Ncp],
        vmax float64[Ncp, nant])``; pass 2 (``sel`` int64[nlat, nlon, nant], −1: none) ``(edges float64[nant,
        E] linear ascending (+inf padded), hist int32[nlat, nlon, nant, E + 1])``.
    """
    wp, np_row, base = pointing
    kgeom = tuple(geom[:6])
    nsat, nt = r.shape[0], r.shape[1]
    nlat = geom[0].shape[0]
    rec = np.empty((nsat, nlat, 3), np.int64)
    nrec = np.zeros(nsat, np.int64)
    order = row_order(nlat, numba.get_num_threads())
    for k in range(nt):
        rows = _phase_a(r, err, k, sat_sm, geom, rec, nrec)
        if sel is None:
            levels, cls, vmax = stats
            _step_rows(k, r, sat_sm, sat_pfd, rows, kgeom, wp, np_row, base, bool(exact), gain, levels, cls, vmax,
                       order)  # fmt: skip
        else:
            edges, hist = stats
            _step_rows_sel(k, r, sat_sm, sat_pfd, rows, kgeom, wp, sel, bool(exact), gain, edges, hist, order)


# --------------------------------------------------------------------------- one step, every value
@njit
def _step_values(r, sat_sm, sat_pfd, rows, geom, wp, np_row, base, exact, gain, out):
    nlon = geom[4].shape[0]
    tab, flag, nb, dl, gp, cfar = gain[0], gain[1], gain[2], gain[3], gain[4], gain[5]
    famtab, famflag, fam, inv_gmax, c_split, inv_w, nfb = gain[6:]
    nant = dl.shape[0]
    for i in range(np_row.shape[0]):
        npi = np_row[i]
        if npi == 0:
            continue
        off, ux, uy, uz, pf = _row_pairs(i, 0, r, sat_sm, sat_pfd, rows, geom)
        accn = np.empty((npi, nant))
        npad = min((npi + LANES - 1) // LANES * LANES, wp.shape[2])
        accf = np.empty((5, npad))
        cb = np.empty(npad)
        lst = np.empty(npi, np.int64)
        for j in range(nlon):
            _cell_all(npi, npad, off[j], off[j + 1], ux, uy, uz, pf, wp[i, 0], wp[i, 1], wp[i, 2], accn, accf, cb,
                      lst, exact, tab, flag, nb, dl, gp, cfar, famtab, famflag, fam, inv_gmax, c_split, inv_w,
                      nfb)  # fmt: skip
            out[base[i] + j * npi : base[i] + (j + 1) * npi] = accn


def epfd_step_values(r_step, sat_sm, sat_pfd, geom, pointing, gain, *, exact=False):
    """float64[Ncp, nant]: the linear EPFD of one step (positions float64[nsat, 3] km, ITRS) for every (cell,
    pointing) — the kernel's per-step values, for tests and small studies (memory Ncp × nant)."""
    wp, np_row, base = pointing
    nant = len(gain[3])
    r = np.ascontiguousarray(r_step, np.float64)[:, None, :].copy()
    err = np.zeros((r.shape[0], 1), np.uint8)
    nlat = geom[0].shape[0]
    rec = np.empty((r.shape[0], nlat, 3), np.int64)
    nrec = np.zeros(r.shape[0], np.int64)
    rows = _phase_a(r, err, 0, sat_sm, geom, rec, nrec)
    out = np.zeros((int(base[-1]), nant))
    _step_values(r, sat_sm, sat_pfd, rows, tuple(geom[:6]), wp, np_row, base, bool(exact), gain, out)
    return out
