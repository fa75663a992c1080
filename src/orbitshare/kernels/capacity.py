"""Capacity helpers of the chunk kernel: weight prefix sums, double-double adds, one satellite's share.

Units: capacities in Mbit/s (Mbps), weights ≥ 0 without unit (population, land area, ... times the
system's served share), positions km ITRS. The chunk kernel (:mod:`orbitshare.kernels.visibility`)
inlines :func:`capacity_sat`; the CUDA backend reuses :func:`wsum` as a device function and
:func:`weight_prefix` and :func:`prepare_capacity_inputs` as they are.

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
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from orbitshare._jit import njit
from orbitshare.errors import ParameterError
from orbitshare.kernels.footprint import vis_h, wrap

__all__ = [
    "capacity_sat",
    "prepare_capacity_inputs",
    "weight_prefix",
    "wsum",
]


# --------------------------------------------------------------------------- double-double helpers
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
    """hi[s, i] + lo[s, i] += v as a double-double (as :func:`_dd_add3`, for the whole-row terms)."""
    a = hi[s, i]
    t = a + v
    bp = t - a
    lo[s, i] += (a - (t - bp)) + (v - bp)
    hi[s, i] = t


@njit(inline="always")
def wsum(wh, wl, s, i, j0, j1):
    """Σ w[s, i, j0:j1] from the double-double prefix sums (wh + wl)[s, i, j] = Σ w[s, i, :j]."""
    return (wh[s, i, j1] - wh[s, i, j0]) + (wl[s, i, j1] - wl[s, i, j0])


# --------------------------------------------------------------------------- one satellite, one step
@njit(inline="always")
def capacity_sat(x, y, z, sm, s, cap, rec, nrec, w, wh, wl, pxy, pz, nxy, cos_lon, sin_lon, fdh, fdl, ffh, ffl, nz):
    """Share one satellite's capacity ``cap`` (one step) among the cells it sees, by weight.

    P = Σ w over the recorded rows (prefix sums: O(rows)); if P > 0, add cap / P over the same rows
    to the per-step double-double difference arrays (fdh, fdl; whole rows into ffh, ffl). Degenerate
    rows (kind 3) are re-tested cell by cell with the same bits as
    :func:`~orbitshare.kernels.footprint.process_row_fast`.
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
            a = wrap(rec[q, 2], nlon)
            n = rec[q, 3] - rec[q, 2] + 1
            if a + n <= nlon:
                p += wsum(wh, wl, s, i, a, a + n)
            else:
                p += wsum(wh, wl, s, i, a, nlon) + wsum(wh, wl, s, i, 0, a + n - nlon)
        else:
            dz = z - pz[i]
            ndz = nz[i] * dz
            dz2 = dz * dz
            for j in range(nlon):
                if vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]):
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
            a = wrap(rec[q, 2], nlon)
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
                if vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]):
                    _dd_add3(fdh, fdl, s, i, j, f)
                    _dd_add3(fdh, fdl, s, i, j + 1, -f)
    return True


# --------------------------------------------------------------------------- whole chunk
@njit
def weight_prefix(w):
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


def _f64(a: ArrayLike) -> np.ndarray:
    """``a`` as a C-contiguous, writeable float64 array (copied only when needed)."""
    return np.require(a, dtype=np.float64, requirements=["C", "W"])


def prepare_capacity_inputs(
    nsat: int, nsys: int, nlat: int, nlon: int, capacity_per_sat: ArrayLike | float | None, weight: ArrayLike | None
) -> tuple[bool, np.ndarray, np.ndarray]:
    """Validate the capacity arguments of ``accumulate_chunk`` (shared with the CUDA backend).

    capacity_per_sat : None, a scalar or float64[nsat], Mbps (finite, ≥ 0); weight : float64[nsys, nlat,
    nlon] or [nlat, nlon] (finite, ≥ 0), required with capacity_per_sat and refused without it.
    Returns (do_cap, cap_sat float64[nsat] (empty when off), w float64[nsys, nlat, nlon] C-contiguous,
    writeable (empty when off))."""
    do_cap = capacity_per_sat is not None
    if capacity_per_sat is not None:
        cap_sat = _f64(
            np.broadcast_to(np.asarray(capacity_per_sat, np.float64), (nsat,))
            if np.ndim(capacity_per_sat) == 0
            else np.asarray(capacity_per_sat)
        )
        if cap_sat.shape != (nsat,):
            raise ParameterError(f"capacity_per_sat: expected one value per satellite ({nsat}), got {cap_sat.shape}")
        if not np.all(np.isfinite(cap_sat) & (cap_sat >= 0)):
            raise ParameterError("capacity_per_sat: expected finite values >= 0 (Mbps)")
        if weight is None:
            raise ParameterError("weight: required with capacity_per_sat (the weight of each cell, per system)")
        w = np.asarray(weight, np.float64)
        if w.shape == (nlat, nlon):
            w = np.broadcast_to(w, (nsys, nlat, nlon))
        if w.shape != (nsys, nlat, nlon):
            raise ParameterError(f"weight: expected shape ({nsys}, {nlat}, {nlon}) or ({nlat}, {nlon}), got {w.shape}")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ParameterError("weight: expected finite values >= 0")
        w = np.ascontiguousarray(w, dtype=np.float64)
        if not w.flags.writeable:
            w = w.copy()
    else:
        if weight is not None:
            raise ParameterError("weight: given without capacity_per_sat")
        cap_sat = np.zeros(0)
        w = np.zeros((0, 0, 0))
    return do_cap, cap_sat, w
