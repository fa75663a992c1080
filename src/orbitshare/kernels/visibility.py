"""Visibility chunk kernel: how many satellites each grid cell sees above its elevation mask, per step.

Units: km, rad, Mbps. Positions are ITRS (Earth-fixed). No xarray here; :class:`orbitshare.grid.Grid`
provides the per-row geometry (``Grid.row_geometry()``, ``cos_lon``, ``sin_lon``, ``lon_rad``).
:func:`accumulate_chunk` turns the positions of one chunk of time steps into a
:class:`~orbitshare.kernels.chunkstate.ChunkState`. Each satellite-step's visible cells come from the
footprint row walk of :mod:`orbitshare.kernels.footprint` (the exact per-cell test and the per-row
closed form, DESIGN.md kernel rule 7); the optional capacity sharing is described in
:mod:`orbitshare.kernels.capacity`; the statistics and their exact merge are in
:mod:`orbitshare.kernels.chunkstate`.

Accumulation. Each visible interval adds +1/−1 to a per-(system, row) difference array (a
whole row increments a per-row counter); one prefix sum per touched row and step gives the step's
counts, which update the per-cell statistics. ``sum_visible`` needs no per-step work: the intervals
also go into a second difference array that is kept for the whole time block and prefix-summed once
at its end. ``steps_covered`` is the block length less its gap steps (lead, trail and the inner
gaps, summed when each ends), so a covered step that continues a run only updates the cell's last
covered step. The statistics are those of :class:`~orbitshare.kernels.chunkstate.ChunkState`;
:func:`~orbitshare.kernels.chunkstate.merge_chunk_states` combines consecutive chunks exactly and
:func:`~orbitshare.kernels.chunkstate.longest_gap` finishes.

With ``count_any`` the kernel also counts ``steps_any``, the steps with count ≥ 1 (spectrum needs it
whatever min_visible is): copied from ``steps_covered`` where min_visible is 1, counted per step
otherwise.

Capacity (optional, ``capacity_per_sat`` and ``weight``): in the same pass each visible satellite
shares its capacity among the cells it sees in proportion to their weight (see
:mod:`orbitshare.kernels.capacity`); the per-step prefix pass that runs over every touched row for
the counts also turns the factor difference arrays into each cell's factor, its block sum and the
step's ``delivered`` total.

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

import numba
import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from orbitshare._jit import pjit
from orbitshare.errors import ParameterError
from orbitshare.kernels.capacity import capacity_sat, prepare_capacity_inputs, weight_prefix
from orbitshare.kernels.chunkstate import ChunkState, empty_chunk_state, merge_gap_scalar
from orbitshare.kernels.footprint import footprint_fast

__all__ = [
    "BLOCK_STATE_BYTES",
    "CAPACITY_TIME_BLOCKS",
    "accumulate_chunk",
    "prepare_grid_inputs",
]


_TWOPI = 2.0 * math.pi
_INT16_MAX = 32767

#: Per-cell state of the time blocks held at once by :func:`accumulate_chunk` (bytes): beyond it the
#: blocks run in waves of one block per thread, folded in time order (the same results, less memory:
#: it matters at 0.1° with capacity, ~0.7 GB per block for three systems).
BLOCK_STATE_BYTES = 1 << 30

#: Time blocks per chunk when capacity is accumulated (float sums): fixed, so that the block partition,
#: hence the summation order, depends only on the chunk length, never on the thread count.
CAPACITY_TIME_BLOCKS = 8


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
        wh, wl = weight_prefix(w)
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
                nrec = footprint_fast(
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
                if (
                    do_cap
                    and nrec > 0
                    and capacity_sat(
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
                    )
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
                        if keep_counts and run != 0:
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


# --------------------------------------------------------------------------- Python API
def _f64(a: ArrayLike) -> np.ndarray:
    """``a`` as a C-contiguous, writeable float64 array (copied only when needed)."""
    return np.require(a, dtype=np.float64, requirements=["C", "W"])


def prepare_grid_inputs(
    nsat: int,
    system: ArrayLike,
    mask_rad: ArrayLike,
    min_visible: ArrayLike,
    pxy: ArrayLike,
    pz: ArrayLike,
    nxy: ArrayLike,
    nz: ArrayLike,
    lon_rad: ArrayLike,
    cos_lon: ArrayLike | None,
    sin_lon: ArrayLike | None,
    sat_mask_rad: ArrayLike | None,
) -> tuple:
    """Validate and normalise the per-system settings and grid geometry of ``accumulate_chunk``
    (shared with the CUDA backend). Returns (system int32[nsat], sin_mask float64[nsat],
    min_visible int32[nsys], pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0)."""
    min_visible = np.require(np.atleast_1d(min_visible), dtype=np.int32, requirements=["C", "W"])
    nsys = min_visible.shape[0]
    mask_rad = _f64(np.atleast_1d(mask_rad))
    if mask_rad.shape != (nsys,):
        raise ParameterError(f"mask_rad: expected one mask per system ({nsys}), got shape {mask_rad.shape}")
    system = np.require(
        np.asarray(system).reshape(-1) if nsat else np.zeros(0), dtype=np.int32, requirements=["C", "W"]
    )
    if system.shape != (nsat,):
        raise ParameterError(f"system: expected one index per satellite ({nsat}), got shape {system.shape}")
    if nsat and (system.min() < 0 or system.max() >= nsys):
        raise ParameterError(f"system: indices must lie in [0, {nsys - 1}]")
    if sat_mask_rad is None:
        sin_mask = np.sin(mask_rad)[system] if nsat else np.zeros(0)
    else:
        sat_mask_rad = _f64(np.atleast_1d(sat_mask_rad))
        if sat_mask_rad.shape != (nsat,):
            raise ParameterError(f"sat_mask_rad: expected one mask per satellite ({nsat}), got {sat_mask_rad.shape}")
        sin_mask = np.sin(sat_mask_rad)
    sin_mask = _f64(sin_mask)
    if not np.all(np.abs(sin_mask) < 1.0):
        raise ParameterError("mask_rad: elevation masks must lie strictly between -90° and 90°")
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
            raise ParameterError(f"{name}: expected shape ({n},), got {a.shape}")
    dlon = 2.0 * math.pi / nlon
    lon0 = float(lon_rad[0]) - 0.5 * dlon
    if nlon > 1 and not np.allclose(np.diff(lon_rad), dlon, rtol=0, atol=1e-9):
        raise ParameterError("lon_rad: expected regularly spaced longitudes covering the whole circle")
    return (system, sin_mask, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0)


def accumulate_chunk(
    r: ArrayLike,
    system: ArrayLike,
    mask_rad: ArrayLike,
    min_visible: ArrayLike,
    pxy: ArrayLike,
    pz: ArrayLike,
    nxy: ArrayLike,
    nz: ArrayLike,
    lon_rad: ArrayLike,
    *,
    cos_lon: ArrayLike | None = None,
    sin_lon: ArrayLike | None = None,
    err: ArrayLike | None = None,
    sat_mask_rad: ArrayLike | None = None,
    keep_counts: bool = False,
    nblocks: int | None = None,
    count_any: bool = False,
    capacity_per_sat: ArrayLike | float | None = None,
    weight: ArrayLike | None = None,
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
                                 capacity accumulation (see :mod:`orbitshare.kernels.capacity`)
    weight : float64[nsys, nlat, nlon] or [nlat, nlon]   the weight w ≥ 0 of each cell for each system
                                 (0 where the system may not serve); required with capacity_per_sat
    Returns a :class:`~orbitshare.kernels.chunkstate.ChunkState` (``steps_any`` with count_any; ``capacity_sum``,
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
        raise ParameterError(f"r: expected shape (nsat, ntime, 3), got {r.shape}")
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
            raise ParameterError(f"err: expected shape ({nsat}, {nt}), got {err.shape}")
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
