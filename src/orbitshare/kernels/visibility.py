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
counts, which update the per-cell statistics; ``sum_visible`` adds each count to the cell's sum in
that same pass (one sequential update per cell and step, cheaper than a second difference array
updated at every interval edge of every satellite). The footprints come from
:func:`~orbitshare.kernels.footprint.footprint_rows` (rows predicted in a vectorised loop, then the
exact edge tests). ``steps_covered`` is the block length less its gap steps (lead, trail and the inner
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

Parallelism. Contiguous blocks of time steps run side by side on a pool of threads (serial Numba code
that releases the GIL: no parallel loop to compile); each block has its own scratch and
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numba
import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from orbitshare._jit import njit, pjit
from orbitshare.errors import ParameterError
from orbitshare.kernels.allocation import allocate_cells
from orbitshare.kernels.capacity import capacity_sat, prepare_capacity_inputs, weight_prefix
from orbitshare.kernels.chunkstate import ChunkState, empty_chunk_state, merge_gap_scalar
from orbitshare.kernels.footprint import footprint_rows, record_spans, vis_h
from orbitshare.kernels.spectrum import SpectrumInputs, effective_fraction, rank_serving, sharing_scratch

__all__ = [
    "ALLOCATION_TIME_BLOCKS",
    "AllocationInputs",
    "BLOCK_STATE_BYTES",
    "CAPACITY_TIME_BLOCKS",
    "THROUGHPUT_WITH_SHARING",
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

#: Why "throughput" refuses beams that carry a share of their band (one line).
THROUGHPUT_WITH_SHARING = (
    "capacity.rule = 'throughput' with co-frequency sharing of the beams (capacity.band_sharing = true): the "
    "largest Mbit/s total when some beams carry part of their band is a weighted flow, not implemented; use "
    "'maxmin', or band_sharing = false (each system as if alone on its bands)"
)

#: Time blocks per chunk with the capacity allocation (as CAPACITY_TIME_BLOCKS, more of them: each step's
#: allocation is the expensive part, and blocks are what runs in parallel).
ALLOCATION_TIME_BLOCKS = 32


# --------------------------------------------------------------------------- allocation helpers
@njit(inline="always")
def collect_pairs(
    x, y, z, sm, ss, rec, nrec, dem, nxt, pxy, pz, nxy, nz, cos_lon, sin_lon, sl, ps, pc, npair, cmap, cids, ncl,
    serves, rank, isat, nxt_any, ranking, ngc,
):  # fmt: skip
    """Append the pairs (local satellite ``sl``, cell) of one satellite-step (when it ``serves``): the cells
    of its recorded footprint rows (the coverage test's exact rows; degenerate rows re-tested cell by cell)
    with demand ``dem[ss] > 0`` (``nxt[ss, i, j]``: the first such j' ≥ j of row i). Cells get local indices
    in order of first appearance (cmap, cids). With ``rank`` the walk visits the cells with demand of any
    system (``nxt_any[0]``) and keeps, per system and cell, the satellite ``isat`` in view of highest
    elevation (``ranking = (best, best_sat, gseen, gcells)``: the sine, the satellite; as the sharing kernel
    ranks them), listing the cells it touches in ``gcells`` (``gseen``; ngc of them). (At most 30
    arguments: Python calls with more through a tuple, which Numba cannot inline.) Returns (npair, ncl, ngc)."""
    best, best_sat, gseen, gcells = ranking
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    base = ss * nlat * nlon
    pos = sm >= 0.0
    s2 = sm * sm
    wl = nxt_any if rank else nxt
    ws = 0 if rank else ss
    for q in range(nrec):
        i, kind, a0, a1, b1 = record_spans(rec, q, nlon)
        dz = z - pz[i]
        ndz = nz[i] * dz
        dz2 = dz * dz
        for seg in range(2):
            lo = a0 if seg == 0 else 0
            hi = a1 if seg == 0 else b1
            j = wl[ws, i, lo]
            while j < hi:
                if kind != 3 or vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]):
                    if rank:
                        gg = i * nlon + j
                        rank_serving(
                            best, best_sat, ss, gg, isat, x, y, pxy[i], nxy[i], ndz, dz2, cos_lon[j], sin_lon[j]
                        )
                        if not gseen[gg]:
                            gseen[gg] = True
                            gcells[ngc] = gg
                            ngc += 1
                    if serves and (not rank or dem[ss, i, j] > 0.0):  # (the demand list has only such cells)
                        g = base + i * nlon + j
                        lc = cmap[g]
                        if lc < 0:
                            lc = ncl
                            cmap[g] = lc
                            cids[ncl] = g
                            ncl += 1
                        ps[npair] = sl
                        pc[npair] = lc
                        npair += 1
                j = wl[ws, i, j + 1]
    return npair, ncl, ngc


@njit
def allocate_into(
    npair,
    nsl,
    ncl,
    pbuf_s,
    pbuf_c,
    sat_ids,
    cids,
    cmap,
    sat_cap,
    pair_cap,
    cell_cap,
    dem,
    sat_sys,
    rule,
    fsum,
    bb,
    delivered,
    k,
    sh_on,
    rpos,
    best_sat,
    pxy,
    pz,
    cos_lon,
    sin_lon,
    in_band,
    width,
    seg_use,
    overlap,
    cosi,
    prio,
):
    """Allocate one step's pairs (:func:`orbitshare.kernels.allocation.allocate_cells`) and add each cell's
    served Mbit/s to ``fsum[bb]`` and the step's total to ``delivered[:, k]``; clears ``cmap``.

    With the co-frequency sharing (``sh_on``) a system's beams on a cell carry the share f of its band
    width that the sharing gives it there at this step (:func:`orbitshare.kernels.spectrum.effective_fraction`,
    from the serving satellites in ``best_sat`` at their ITRS positions ``rpos[:, k]``, km): the cell is
    allocated in units of full-band beam capacity, asking D/f and capped at K/f, and receives f times that
    (so a satellite's beam time, not its Mbit/s, is what its capacity S bounds); f = 0 serves nothing."""
    nlat = dem.shape[1]
    nlon = dem.shape[2]
    ncell = nlat * nlon
    ps = pbuf_s[:npair]
    pc = pbuf_c[:npair]
    cap = np.empty(nsl)
    for a in range(nsl):
        cap[a] = sat_cap[sat_ids[a]]
    d = np.empty(ncl)
    kc = np.empty(ncl)
    pcap = np.empty(ncl)
    for c in range(ncl):
        g = cids[c]
        s = g // ncell
        r = g - s * ncell
        d[c] = dem[s, r // nlon, r % nlon]
        kc[c] = cell_cap[s, r // nlon, r % nlon]
        pcap[c] = pair_cap[s, r // nlon, r % nlon]
    f = np.ones(ncl if sh_on else 0)
    if sh_on:
        ins, isin, u, adj, parent, size, vq = sharing_scratch(best_sat.shape[0])
        for c in range(ncl):
            g = cids[c]
            s = g // ncell
            f[c] = effective_fraction(g - s * ncell, s, nlon, rpos, k, best_sat, pxy, pz, cos_lon, sin_lon,
                                      overlap, cosi, seg_use, in_band, width, prio, ins, isin, u, adj, parent,
                                      size, vq)  # fmt: skip
            if f[c] > 0.0:
                d[c] = d[c] / f[c]
                kc[c] = kc[c] / f[c]
            else:
                d[c] = 0.0
    beam = np.empty(npair)
    for p in range(npair):
        beam[p] = pcap[pc[p]]
    yc = allocate_cells(ps, pc, nsl, ncl, cap, d, beam, kc, rule)
    if sh_on:
        for c in range(ncl):
            yc[c] = yc[c] * f[c]
    for c in range(ncl):
        g = cids[c]
        s = g // ncell
        r = g - s * ncell
        fsum[bb, s, r // nlon, r % nlon] += yc[c]
        delivered[s, k] += yc[c]
        cmap[g] = -1


# --------------------------------------------------------------------------- the chunk kernel
def _accumulate_blocks(
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
    do_alloc,
    rule,
    gw_ok,
    sat_cap,
    pair_cap,
    cell_cap,
    dem,
    nxt,
    sh_on,
    in_band,
    width,
    seg_use,
    seg_any,
    overlap,
    cosi,
    prio,
    nxt_any,
):
    """The chunk's blocks (:func:`_run_block`, serial Numba code that releases the GIL) on a pool of
    ``numba.get_num_threads()`` threads, ``wave`` blocks at a time, each wave folded into the running
    merge in time order (:func:`_fold_wave`). Python drives the threads, so no kernel is compiled as a
    parallel loop (that compilation took longer than the block kernel's own)."""
    nt = r.shape[1]
    nsys = min_visible.shape[0]
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    nkeep = nt if keep_counts else 0
    nany = nsys if count_any else 0
    ncap = nsys if (do_cap or do_alloc) else 0
    # per-row constants of the closed form (bitwise the same as row_cos_threshold computes them)
    c1 = nxy * pxy + nz * pz
    tp = 2.0 * pxy
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
    nthreads = max(1, min(numba.get_num_threads(), wave))
    block = _run_block_alloc if do_alloc else _run_block_count
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        for w0 in range(0, nblocks, wave):
            nbw = min(wave, nblocks - w0)
            sums = np.zeros((nbw, nsys, nlat, nlon), np.int64)
            cov = np.zeros((nbw, nsys, nlat, nlon), np.int32)
            lead = np.zeros((nbw, nsys, nlat, nlon), np.int32)
            trail = np.zeros((nbw, nsys, nlat, nlon), np.int32)
            inner = np.zeros((nbw, nsys, nlat, nlon), np.int32)
            anyc = np.zeros((nbw, nany, nlat, nlon), np.int32)
            fsum = np.zeros((nbw, ncap, nlat, nlon))
            args = (
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
                do_alloc,
                rule,
                gw_ok,
                sat_cap,
                pair_cap,
                cell_cap,
                dem,
                nxt,
                sh_on,
                in_band,
                width,
                seg_use,
                seg_any,
                overlap,
                cosi,
                prio,
                nxt_any,
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
            for _ in pool.map(lambda bb: block(bb, *args), range(nbw)):  # noqa: B023 (used at once)
                pass  # (iterating re-raises a block's exception here)
            _fold_wave(
                sums,
                cov,
                lead,
                trail,
                inner,
                anyc,
                fsum,
                count_any,
                do_cap or do_alloc,
                out_sum,
                out_cov,
                out_lead,
                out_trail,
                out_inner,
                out_all,
                out_any,
                out_fs,
            )

    # with an allocation the served Mbit/s summed over steps, else the sharing factors times the weights
    out_cap = out_fs if do_alloc else (w[:ncap] * out_fs if ncap else np.zeros((0, nlat, nlon)))
    return out_sum, out_cov, out_lead, out_trail, out_inner, out_all, counts, out_any, out_cap, delivered, offered


def _block_kernel(allocating: bool) -> Any:
    """The block kernel :func:`_run_block`, compiled with the capacity allocation (``allocating``) or without.

    ``allocating`` is a closure constant: Numba prunes the branches it decides before typing, so the
    kernel of runs that do not allocate never types (compiles) the allocation (:func:`collect_pairs`,
    :func:`allocate_into` and :func:`orbitshare.kernels.allocation.allocate_cells`, about half of the
    block kernel's cold compile time). Both run the same code otherwise."""

    @njit
    def _run_block(
        bb,
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
        do_alloc,
        rule,
        gw_ok,
        sat_cap,
        pair_cap,
        cell_cap,
        dem,
        nxt,
        sh_on,
        in_band,
        width,
        seg_use,
        seg_any,
        overlap,
        cosi,
        prio,
        nxt_any,
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
        """Block ``w0 + bb`` of a wave of :func:`_accumulate_blocks` (serial; threads run blocks side by side):
        its statistics into index bb of the per-wave arrays, counts, delivered and offered into its own steps."""
        nsat = r.shape[0]
        nt = r.shape[1]
        nsys = min_visible.shape[0]
        nlat = pxy.shape[0]
        nlon = cos_lon.shape[0]
        dlon = _TWOPI / nlon
        dlat = math.pi / nlat
        ncap = nsys if (do_cap or do_alloc) else 0
        ncell = nlat * nlon
        b = w0 + bb
        k0 = (b * nt) // nblocks
        k1 = ((b + 1) * nt) // nblocks
        diff = np.zeros((nsys, nlat, nlon + 1), np.int32)
        full = np.zeros((nsys, nlat), np.int32)
        pred = np.empty((3, nlat))  # the footprint walk's row predictions
        touched = np.zeros((nsys, nlat), np.bool_)
        # capacity: the step's factor cap/P as a double-double difference array (+ whole rows), and
        # the rows of the current satellite's footprint
        fdh = np.zeros((ncap, nlat, nlon + 1))
        fdl = np.zeros((ncap, nlat, nlon + 1))
        ffh = np.zeros((ncap, nlat))
        ffl = np.zeros((ncap, nlat))
        rec = np.zeros((nlat if (do_cap or do_alloc) else 0, 4), np.int64)
        # allocation: the step's (satellite, cell) pairs with local indices, the satellites and cells
        # behind the local indices, and the map cell id -> local index (-1: not yet in this step)
        nalloc = nsys * ncell if do_alloc else 0
        pbuf_s = np.empty(max(4 * ncell, 1 << 16) if do_alloc else 0, np.int64)
        pbuf_c = np.empty(pbuf_s.shape[0], np.int64)
        sat_ids = np.empty(nsat if do_alloc else 0, np.int64)
        cids = np.empty(nalloc, np.int64)
        cmap = np.full(nalloc, -1, np.int64)
        # (typed int64 from the start: a literal 0 would make Numba compile the allocation once more for
        # every mix of literal and int64 arguments it meets while inferring the loop's types)
        npair = np.int64(0)
        nsl = np.int64(0)
        ncl = np.int64(0)
        # co-frequency sharing: each system's serving satellite per cell (the highest in view) and the cells
        # touched this step (to clear them)
        nrank = nsys * ncell if (do_alloc and sh_on) else 0
        best = np.zeros((nsys if nrank else 0, ncell if nrank else 0))
        best_sat = np.full(best.shape, -1, np.int64)
        gseen = np.zeros(ncell if nrank else 0, np.bool_)
        gcells = np.empty(gseen.shape[0], np.int64)
        ngc = np.int64(0)
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
                nrec = footprint_rows(
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
                    full,
                    touched,
                    rec,
                    do_cap or do_alloc,
                    pred,
                )
                if allocating:  # (a closure constant: the count-only kernel never compiles this)
                    serves = do_alloc and gw_ok[isat, k]
                    if serves:
                        offered[ss, k] += sat_cap[isat]
                    serves = serves and sat_cap[isat] > 0.0
                    rank = do_alloc and sh_on and seg_any[ss]
                    if nrec > 0 and (serves or rank):
                        if serves and pbuf_s.shape[0] - npair < ncell:
                            grown_s = np.empty(2 * pbuf_s.shape[0] + ncell, np.int64)
                            grown_c = np.empty(grown_s.shape[0], np.int64)
                            for q in range(npair):  # (a loop: a slice copy would become a parfor)
                                grown_s[q] = pbuf_s[q]
                                grown_c[q] = pbuf_c[q]
                            pbuf_s = grown_s
                            pbuf_c = grown_c
                        n0 = npair
                        npair, ncl, ngc = collect_pairs(
                            x,
                            y,
                            z,
                            sin_mask[isat],
                            ss,
                            rec,
                            nrec,
                            dem,
                            nxt,
                            pxy,
                            pz,
                            nxy,
                            nz,
                            cos_lon,
                            sin_lon,
                            nsl,
                            pbuf_s,
                            pbuf_c,
                            npair,
                            cmap,
                            cids,
                            ncl,
                            serves,
                            rank,
                            isat,
                            nxt_any,
                            (best, best_sat, gseen, gcells),
                            ngc,
                        )
                        if npair > n0:
                            sat_ids[nsl] = isat
                            nsl += 1
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
            if allocating:
                if npair > 0:
                    allocate_into(
                        npair,
                        nsl,
                        ncl,
                        pbuf_s,
                        pbuf_c,
                        sat_ids,
                        cids,
                        cmap,
                        sat_cap,
                        pair_cap,
                        cell_cap,
                        dem,
                        sat_sys,
                        rule,
                        fsum,
                        bb,
                        delivered,
                        k,
                        sh_on,
                        r,
                        best_sat,
                        pxy,
                        pz,
                        cos_lon,
                        sin_lon,
                        in_band,
                        width,
                        seg_use,
                        overlap,
                        cosi,
                        prio,
                    )
                    npair = np.int64(0)
                    nsl = np.int64(0)
                    ncl = np.int64(0)
                for q in range(ngc):
                    gg = gcells[q]
                    gseen[gg] = False
                    for s in range(nsys):
                        best_sat[s, gg] = -1
                ngc = np.int64(0)
            # prefix sums → this step's counts (and capacity factors) → statistics
            for s in range(nsys):
                mv = min_visible[s]
                anys = count_any and mv != 1
                for i in range(nlat):
                    if not touched[s, i] and mv > 0:
                        continue  # every count is 0: a gap everywhere in the row, nothing to add
                    touched[s, i] = False
                    run = full[s, i]
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
                        sums[bb, s, i, j] += run
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
                for j in range(nlon):
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

    return _run_block


#: the block kernel of runs with the capacity allocation, and of all others (:func:`_block_kernel`)
_run_block_alloc = _block_kernel(True)
_run_block_count = _block_kernel(False)


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


class AllocationInputs(NamedTuple):
    """The capacity allocation's inputs of the chunk kernel (per pass; :func:`allocation_inputs` builds them).

    rule : int (index in :data:`orbitshare.kernels.allocation.RULES`); sat_cap float64[nsat] (Mbit/s);
    pair_cap, cell_cap float64[nsys, nlat, nlon] (Mbit/s: what one satellite may give a cell, what a cell
    may take from the system); demand float64[nsys, nlat, nlon] (Mbit/s); next_demand
    int64[nsys, nlat, nlon + 1] (the first j' ≥ j of the row with demand > 0, nlon when none);
    gw_free bool[nsys]; gw_ptr int64[nsys + 1]; gw_pos, gw_up float64[ngw, 3] (km, ITRS; unit);
    gw_mask_rad float64[nsys]; band_sharing: with the co-frequency sharing (``sharing`` of
    :func:`accumulate_chunk`), each system's beams on a cell carry the share of its band it has there"""

    rule: int
    sat_cap: np.ndarray
    pair_cap: np.ndarray
    cell_cap: np.ndarray
    demand: np.ndarray
    next_demand: np.ndarray
    gw_free: np.ndarray
    gw_ptr: np.ndarray
    gw_pos: np.ndarray
    gw_up: np.ndarray
    gw_mask_rad: np.ndarray
    band_sharing: bool = True


def _sharing_args(sharing: SpectrumInputs | None, demand: np.ndarray | None, nsys: int) -> tuple:
    """The chunk kernel's co-frequency sharing arguments for the allocation (see :func:`allocate_into`):
    (on, in_band, width, seg_use, seg_any, overlap, cos_inline, priority, next cell with any demand)."""
    if sharing is None or demand is None:
        return (False, np.zeros((0, 0, 0), np.bool_), np.zeros(0), np.zeros((0, 0), np.bool_), np.zeros(0, np.bool_),
                np.zeros((0, 0), np.bool_), 1.0, False, np.zeros((0, 0, 0), np.int64))  # fmt: skip
    in_band = np.ascontiguousarray(sharing.in_band, np.bool_)
    if in_band.shape[0] != nsys:
        raise ParameterError(f"sharing: bands of {in_band.shape[0]} systems, expected {nsys}")
    seg_use = np.ascontiguousarray(in_band.any(axis=1))  # [system, segment], as the sharing kernel's
    overlap = (seg_use[:, None, :] & seg_use[None, :, :]).any(axis=2) & ~np.eye(nsys, dtype=np.bool_)
    anyd = np.any(np.asarray(demand) > 0, axis=0)  # [lat, lon]: some system has demand
    nxt_any = next_positive(np.asarray(anyd, np.float64).reshape((1, *anyd.shape)))
    return (True, in_band, np.ascontiguousarray(sharing.width, np.float64), seg_use,
            np.ascontiguousarray(seg_use.any(axis=1)), np.ascontiguousarray(overlap), float(sharing.cos_inline),
            bool(sharing.priority), nxt_any)  # fmt: skip


def next_positive(demand: np.ndarray) -> np.ndarray:
    """int64[nsys, nlat, nlon + 1]: for each j the first j' ≥ j of the row with demand > 0 (nlon when none)."""
    nsys, nlat, nlon = demand.shape
    out = np.full((nsys, nlat, nlon + 1), nlon, np.int64)
    for j in range(nlon - 1, -1, -1):
        out[:, :, j] = np.where(demand[:, :, j] > 0, j, out[:, :, j + 1])
    return out


def allocation_inputs(
    rule: int,
    sat_sys: np.ndarray,
    sys_cap: ArrayLike,
    pair_cap: ArrayLike,
    cell_cap: ArrayLike,
    demand: ArrayLike,
    gateways: Sequence[tuple[np.ndarray, np.ndarray] | None],
    gw_mask_rad: ArrayLike,
) -> AllocationInputs:
    """Check and pack the allocation inputs: per system satellite capacity and gateway mask (Mbit/s, rad;
    float64[nsys]); per system and cell the pair cap, the cell cap and the demand (Mbit/s ≥ 0, a number or
    float64[nsys, nlat, nlon] broadcast to the demand's shape); gateways (per system (lat_deg, lon_deg)
    arrays, or None: no gateway condition)."""
    from orbitshare.kernels.gateway import gateway_geometry

    dem = _f64(demand)
    if dem.ndim != 3 or not np.all(np.isfinite(dem) & (dem >= 0)):
        raise ParameterError("allocation: expected finite demands >= 0 (Mbit/s) of shape (nsys, nlat, nlon)")
    nsys = dem.shape[0]
    vals = [_f64(np.atleast_1d(a)) for a in (sys_cap, gw_mask_rad)]
    for name, a in zip(("capacity", "gateway mask"), vals, strict=True):
        if a.shape != (nsys,) or not np.all(a >= 0) or np.any(np.isnan(a)):
            raise ParameterError(f"allocation: expected one {name} >= 0 per system ({nsys}), got {a}")
    caps = []
    for name, given in (("pair cap", pair_cap), ("cell cap", cell_cap)):
        v = np.asarray(given, np.float64)
        v = v[:, None, None] if v.ndim == 1 else v
        v = _f64(np.broadcast_to(v, dem.shape))
        if np.any(np.isnan(v)) or not np.all(v >= 0):
            raise ParameterError(f"allocation: expected {name}s >= 0 (Mbit/s), one per system or per cell")
        caps.append(v)
    if len(gateways) != nsys:
        raise ParameterError(f"allocation: expected one gateway list (or None) per system ({nsys})")
    free = np.array([g is None for g in gateways], np.bool_)
    ptr = np.zeros(nsys + 1, np.int64)
    pos, up = [np.zeros((0, 3))], [np.zeros((0, 3))]
    for s, g in enumerate(gateways):
        n = 0
        if g is not None:
            p, u = gateway_geometry(*g)
            pos.append(p)
            up.append(u)
            n = p.shape[0]
        ptr[s + 1] = ptr[s] + n
    sat_cap = np.ascontiguousarray(vals[0][np.asarray(sat_sys, np.int64)]) if len(sat_sys) else np.zeros(0)
    return AllocationInputs(
        int(rule),
        sat_cap,
        caps[0],
        caps[1],
        dem,
        next_positive(dem),
        free,
        ptr,
        np.ascontiguousarray(np.concatenate(pos)),
        np.ascontiguousarray(np.concatenate(up)),
        vals[1],
    )


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
    allocation: AllocationInputs | None = None,
    sharing: SpectrumInputs | None = None,
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
    allocation : AllocationInputs, optional  the capacity allocation instead of the sharing rule
                                 (:mod:`orbitshare.kernels.allocation`): each step's (satellite, cell) pairs
                                 are the exact visible cells with demand, allocated jointly; ``capacity_sum``
                                 is then the served Mbit/s summed over steps, ``offered`` the capacity of the
                                 satellites that may deliver (gateway in view), ``delivered`` what is served
    sharing : SpectrumInputs, optional  with an allocation: the co-frequency sharing, which scales each
                                 system's beams on a cell by the share of its band it has there at each step
                                 (:func:`allocate_into`; the serving satellites ranked as
                                 :mod:`orbitshare.kernels.spectrum` ranks them)
    Returns a :class:`~orbitshare.kernels.chunkstate.ChunkState` (``steps_any`` with count_any; ``capacity_sum``,
    ``delivered``, ``offered`` with capacity).

    Memory: about (32·b + 25) bytes per cell and system (+ 2·ntime with keep_counts), where b is the
    number of blocks held at once: all nblocks while their state (24–36 bytes per cell and system
    each) fits :data:`BLOCK_STATE_BYTES`, else one per thread (the blocks then run in waves, folded in
    time order: the same results). E.g. ~580 MB for one system at 0.1° with two blocks (~6 MB at
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
    do_alloc = allocation is not None
    if do_alloc and do_cap:
        raise ParameterError("allocation: given with capacity_per_sat (one capacity model at a time)")
    if allocation is not None:
        from orbitshare.kernels.gateway import gateway_in_view

        a = allocation
        if a.demand.shape != (nsys, nlat, nlon) or a.sat_cap.shape != (nsat,):
            raise ParameterError(
                f"allocation: demand of shape {a.demand.shape} or capacities of {a.sat_cap.shape} "
                f"do not fit ({nsys}, {nlat}, {nlon}) and {nsat} satellites"
            )
        gw_ok = gateway_in_view(r, err, np.asarray(system), a.gw_free, a.gw_ptr, a.gw_pos, a.gw_up, a.gw_mask_rad)
        alloc_args: tuple[Any, ...] = (
            True,
            int(a.rule),
            gw_ok,
            a.sat_cap,
            a.pair_cap,
            a.cell_cap,
            a.demand,
            a.next_demand,
        )
        if sharing is not None and a.band_sharing and int(a.rule) == 1:
            raise ParameterError(THROUGHPUT_WITH_SHARING)
        alloc_args += _sharing_args(sharing if a.band_sharing else None, a.demand, nsys)
    else:
        alloc_args = (
            False,
            0,
            np.zeros((0, 0), np.bool_),
            np.zeros(0),
            np.zeros((0, 0, 0)),
            np.zeros((0, 0, 0)),
            np.zeros((0, 0, 0)),
            np.zeros((0, 0, 0), np.int64),
        ) + _sharing_args(None, None, nsys)  # the same types as with an allocation: one compiled kernel for both
    if nblocks is None:
        if do_alloc:
            nblocks = min(nt, ALLOCATION_TIME_BLOCKS)
        else:
            nblocks = min(nt, CAPACITY_TIME_BLOCKS) if do_cap else numba.get_num_threads()
    nblocks = int(max(1, min(int(nblocks), nt)))
    if nt == 0:
        return empty_chunk_state(nsys, nlat, nlon, keep_counts, count_any=count_any, capacity=do_cap or do_alloc)
    count_any = bool(count_any)
    # blocks whose per-cell state is held at once: all of them while that fits BLOCK_STATE_BYTES, else
    # as many as there are threads (a memory bound only: the results do not depend on it)
    ranking = 16 if (do_alloc and alloc_args[8]) else 0  # the shared beams' serving satellites (best, best_sat)
    per_block = (
        nsys * nlat * nlon * (24 + (4 if count_any else 0) + (8 if do_cap else 0) + (24 if do_alloc else 0) + ranking)
    )
    wave = min(nblocks, max(numba.get_num_threads(), BLOCK_STATE_BYTES // max(per_block, 1)))
    out = _accumulate_blocks(
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
        *alloc_args,
    )
    s, c, ld, tr, inn, al, counts, anyc, capsum, delivered, offered = out
    do_cap = do_cap or do_alloc
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
