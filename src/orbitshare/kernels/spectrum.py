"""Co-frequency sharing between non-GSO systems, per cell and step (the in-line test of FCC 47 CFR §25.261).

Units: km, rad, MHz. Positions are ITRS (Earth-fixed); the grid geometry is that of
:mod:`orbitshare.kernels.visibility` (``Grid.row_geometry()``, ``cos_lon``, ``sin_lon``, ``lon_rad``).

Model (per cell ``c`` and step ``k``):

* the SERVING satellite of system ``s`` is its visible satellite (the exact elevation test of the
  coverage engine, :func:`orbitshare.kernels.footprint.vis_h`) of highest elevation, i.e. largest
  ``n·d / |d|`` (``d`` = satellite − cell centre, ``n`` the geodetic up-normal); on a tie the first
  satellite in pass order. A simplification: an earth station tracks the highest satellite.
* systems ``s`` and ``t`` are IN LINE when both serve ``c``, their bands overlap and the angle at the
  cell centre between their serving satellites is below the in-line angle (``cos > cos_inline``).
* the spectrum is cut into elementary SEGMENTS between all band edges. In a segment the in-view systems
  that use it form groups (connected components of the in-line graph among them). ``split="equal"``:
  each member of a group of n gets 1/n of the segment (§25.261(c)); ``"priority"``: the group's first
  system (lowest index: the experiment order stands for the ITU date of receipt) keeps the segment, the
  others get 0. A system alone in its group uses the whole segment.

Per chunk, summed over steps: ``effective_sum[s, b, c]`` (MHz the system's band b gives it, 0 while no
satellite of s is in view), ``inline_steps[s, c]`` (steps at which s is in line with another system) and
``union_sum[c]`` (the width of the union of the segments used by the systems in view, each segment
weighted by the largest served share among them: the plain union width without landing rights).

The time blocks run side by side on a pool of threads, each with its own accumulators, folded in block order:
the float sums depend on the block partition only, which :func:`spectrum_chunk` derives from the chunk
length (:data:`SPECTRUM_TIME_BLOCKS`), never from the thread count. Cost: O(visible cells) per
satellite-step (the footprint row walk) plus O(systems² + systems × segments) per cell in view of a
satellite per step; memory ≈ (12 + 8·bands + 4)·systems + 9 bytes per cell and block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import ArrayLike

from orbitshare._jit import njit
from orbitshare.errors import ParameterError
from orbitshare.kernels.footprint import footprint_rows, record_spans, vis_h

__all__ = [
    "SPECTRUM_TIME_BLOCKS",
    "SPLITS",
    "SpectrumInputs",
    "bands_overlap",
    "check_sharing_options",
    "effective_fraction",
    "rank_serving",
    "segment_split",
    "segment_table",
    "serving_geometry",
    "sharing_scratch",
    "spectrum_chunk",
    "spectrum_inputs",
]

#: Time blocks per chunk of the sharing pass (float sums: a partition that depends on the chunk length only).
SPECTRUM_TIME_BLOCKS = 8

#: The split rules of an in-line group's overlapping segment.
SPLITS = ("equal", "priority")


# --------------------------------------------------------------------------- bands → segments
def segment_table(
    bands: Sequence[Sequence[tuple[float, float] | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The elementary segments between all band edges.

    bands : per system, its bands as (low_mhz, high_mhz) pairs (MHz), or None for a band the system lacks.
    Returns ``(edges float64[nseg + 1]`` (MHz), ``width float64[nseg]`` (MHz), ``in_band bool[nsys, nbmax,
    nseg])``: segment q lies in band b of system s (bands padded to the largest count with no segment)."""
    edges = np.unique(np.array([e for sb in bands for lo_hi in sb if lo_hi is not None for e in lo_hi], np.float64))
    nseg = max(len(edges) - 1, 0)
    nbmax = max((len(sb) for sb in bands), default=0)
    in_band = np.zeros((len(bands), nbmax, nseg), np.bool_)
    mid = 0.5 * (edges[:-1] + edges[1:]) if nseg else np.zeros(0)
    for s, sb in enumerate(bands):
        for b, lo_hi in enumerate(sb):
            if lo_hi is not None:
                in_band[s, b] = (mid > lo_hi[0]) & (mid < lo_hi[1])
    return edges, np.diff(edges) if nseg else np.zeros(0), in_band


def bands_overlap(bands: Sequence[Sequence[tuple[float, float] | None]]) -> bool:
    """True when two different systems share some spectrum (MHz band edges; touching edges do not overlap)."""
    _, _, in_band = segment_table(bands)
    users = in_band.any(axis=1).sum(axis=0) if in_band.size else np.zeros(0)
    return bool(np.any(users >= 2))


class SpectrumInputs(NamedTuple):
    """The sharing pass's inputs (:func:`spectrum_inputs` builds them; picklable).

    in_band : bool[nsys, nb, nseg]    segment q in the system's band b (band order of the spectrum Dataset)
    width : float64[nseg]             segment widths, MHz
    share : float64[nsys, nlat, nlon] served share of each cell (for the union's weighting)
    cos_inline : float                cosine of the in-line angle
    priority : bool                   "priority" split (else "equal")
    """

    in_band: np.ndarray
    width: np.ndarray
    share: np.ndarray
    cos_inline: float
    priority: bool


def spectrum_inputs(
    in_band: ArrayLike, width: ArrayLike, share: ArrayLike, inline_angle_deg: float, split: str
) -> SpectrumInputs:
    """Check and pack the sharing pass's inputs (see :class:`SpectrumInputs`; angle in deg, 0 < a ≤ 180)."""
    cosi, prio = check_sharing_options(inline_angle_deg, split)
    ib = np.ascontiguousarray(in_band, np.bool_)
    w = np.ascontiguousarray(width, np.float64)
    sh = np.ascontiguousarray(share, np.float64)
    if ib.ndim != 3 or w.shape != (ib.shape[2],) or sh.ndim != 3 or sh.shape[0] != ib.shape[0]:
        raise ParameterError(
            f"spectrum: in_band {ib.shape}, width {w.shape} and share {sh.shape} do not fit (nsys, nb, nseg)"
        )
    if not np.all(np.isfinite(w) & (w > 0)) or not np.all((sh >= 0) & (sh <= 1)):
        raise ParameterError("spectrum: expected segment widths > 0 (MHz) and served shares in [0, 1]")
    return SpectrumInputs(ib, w, sh, cosi, prio)


def check_sharing_options(inline_angle_deg: float, split: str) -> tuple[float, bool]:
    """``(cos of the in-line angle, priority split?)``; ParameterError naming the argument when the angle
    (deg) is not in (0, 180] or the split is not one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ParameterError(f"split: expected one of {', '.join(map(repr, SPLITS))}, got {split!r}")
    try:
        a = float(inline_angle_deg)
    except (TypeError, ValueError):
        a = math.nan
    if isinstance(inline_angle_deg, bool) or not (0.0 < a <= 180.0):
        raise ParameterError(f"inline_angle_deg: expected an angle in (0, 180] deg, got {inline_angle_deg!r}")
    return math.cos(math.radians(a)), split == "priority"


# --------------------------------------------------------------------------- the kernel
@njit(inline="always")
def _root(parent, s):
    while parent[s] != s:
        s = parent[s]
    return s


@njit(inline="always")
def rank_serving(best, best_sat, ss, g, isat, x, y, pxyi, nxyi, ndz, dz2, cl, sl):
    """Keep satellite ``isat`` (at x, y km; z enters through ``ndz`` = n_z·dz and ``dz2`` = dz²) as system
    ss's serving satellite of cell g (row constants ``pxyi``, ``nxyi``; ``cl``, ``sl`` the cell's cos and sin
    of longitude) when it is higher than the one kept: ``best`` holds the sine of the elevation, ``best_sat``
    the satellite (−1: none yet); on a tie the first one stays."""
    dx = x - pxyi * cl
    dy = y - pxyi * sl
    nd = (nxyi * cl) * dx + (nxyi * sl) * dy + ndz
    el = nd / math.sqrt(dx * dx + dy * dy + dz2)  # sine of the elevation
    if best_sat[ss, g] < 0 or el > best[ss, g]:
        best_sat[ss, g] = isat
        best[ss, g] = el


@njit
def sharing_scratch(nsys):
    """Scratch of :func:`serving_geometry` and :func:`segment_split` for nsys systems:
    (ins, isin, u, adj, parent, size, vq)."""
    return (np.zeros(nsys, np.bool_), np.zeros(nsys, np.bool_), np.zeros((nsys, 3)),
            np.zeros((nsys, nsys), np.bool_), np.zeros(nsys, np.int64), np.zeros(nsys, np.int64),
            np.zeros(nsys))  # fmt: skip


@njit
def serving_geometry(g, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, cosi, ins, isin, u, adj):
    """Cell g at step k: which systems serve it (``ins``: a satellite in view, ``best_sat[s, g]`` ≥ 0), the unit
    vectors from the cell centre to their serving satellites (``u``), the in-line graph (``adj``: bands overlap
    and the angle is below the in-line angle, ``cos > cosi``) and who is in line with anyone (``isin``)."""
    nsys = best_sat.shape[0]
    i = g // nlon
    j = g - i * nlon
    px = pxy[i] * cos_lon[j]
    py = pxy[i] * sin_lon[j]
    pzi = pz[i]
    for s in range(nsys):
        isat = best_sat[s, g]
        ins[s] = isat >= 0
        isin[s] = False
        if isat >= 0:
            dx = r[isat, k, 0] - px
            dy = r[isat, k, 1] - py
            dz = r[isat, k, 2] - pzi
            dn = math.sqrt(dx * dx + dy * dy + dz * dz)
            u[s, 0] = dx / dn
            u[s, 1] = dy / dn
            u[s, 2] = dz / dn
    for s in range(nsys):
        for t in range(s + 1, nsys):
            e = False
            if ins[s] and ins[t] and overlap[s, t]:
                e = u[s, 0] * u[t, 0] + u[s, 1] * u[t, 1] + u[s, 2] * u[t, 2] > cosi
            adj[s, t] = e
            adj[t, s] = e
            if e:
                isin[s] = True
                isin[t] = True


@njit
def segment_split(q, ins, seg_use, adj, width, prio, parent, size, vq):
    """Segment q among the serving systems that use it, grouped by the in-line graph (union-find): the MHz
    each gets into ``vq[s]`` (0 for the others; ``parent[s]`` ≥ 0 marks the users). Returns the users' count."""
    nsys = ins.shape[0]
    nuse = 0
    for s in range(nsys):
        parent[s] = -1
        vq[s] = 0.0
        if ins[s] and seg_use[s, q]:
            parent[s] = s
            nuse += 1
    if nuse == 0:
        return nuse
    for s in range(nsys):
        if parent[s] < 0:
            continue
        for t in range(s + 1, nsys):
            if parent[t] >= 0 and adj[s, t]:
                a = _root(parent, s)
                b = _root(parent, t)
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
    for s in range(nsys):
        size[s] = 0
    for s in range(nsys):
        if parent[s] >= 0:
            size[_root(parent, s)] += 1
    for s in range(nsys):
        if parent[s] < 0:
            continue
        rt = _root(parent, s)
        # priority: the root (the group's lowest index) keeps the segment
        vq[s] = (width[q] if rt == s else 0.0) if prio else width[q] / size[rt]
    return nuse


@njit
def effective_fraction(g, s, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, cosi, seg_use, in_band, width,
                       prio, ins, isin, u, adj, parent, size, vq):  # fmt: skip
    """The share of system s's band width it may use on cell g at step k (its ``effective_mhz`` over its
    ``band_width_mhz``, as :func:`_share_cell` counts them; 1 when nothing is in line with it or when it has no
    band (it takes no part in the sharing), 0 when it has no satellite in view of g). The other arguments:
    scratch of :func:`serving_geometry` and :func:`segment_split`."""
    serving_geometry(g, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, cosi, ins, isin, u, adj)
    nb = in_band.shape[1]
    got = 0.0
    full = 0.0
    for q in range(width.shape[0]):
        nbq = 0
        for b in range(nb):
            if in_band[s, b, q]:
                nbq += 1
        if nbq == 0:
            continue
        full += width[q] * nbq
        if segment_split(q, ins, seg_use, adj, width, prio, parent, size, vq) > 0:
            got += vq[s] * nbq
    return got / full if full > 0.0 else 1.0


@njit
def _share_cell(g, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, in_band, seg_use, width, share, cosi,
                prio, eff, inl, uni, ins, isin, u, adj, parent, size, vq):  # fmt: skip
    """One cell's step: the serving satellites' directions, the in-line graph, each segment's split."""
    nsys = best_sat.shape[0]
    nb = in_band.shape[1]
    nseg = width.shape[0]
    i = g // nlon
    j = g - i * nlon
    serving_geometry(g, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, cosi, ins, isin, u, adj)
    for s in range(nsys):
        if isin[s]:
            inl[s, g] += 1
    for q in range(nseg):
        if segment_split(q, ins, seg_use, adj, width, prio, parent, size, vq) == 0:
            continue
        top = 0.0
        for s in range(nsys):
            if parent[s] >= 0:
                sh = share[s, i, j]
                if sh > top:
                    top = sh
        uni[g] += width[q] * top
        for s in range(nsys):
            if parent[s] < 0:
                continue
            v = vq[s]
            if v != 0.0:
                for b in range(nb):
                    if in_band[s, b, q]:
                        eff[s, b, g] += v


@njit
def _spectrum_block(bb, r, err, sat_sys, sin_mask, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, in_band, width, share,
                    cosi, prio, nblocks, c1, tp, seg_use, overlap, eff_b, inl_b, uni_b):  # fmt: skip
    """Time block bb of :func:`_spectrum_blocks` (serial; threads run blocks side by side): its sums into
    ``eff_b[bb]``, ``inl_b[bb]``, ``uni_b[bb]``."""
    nsat = r.shape[0]
    nt = r.shape[1]
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    ncell = nlat * nlon
    nsys = in_band.shape[0]
    dlon = 2.0 * math.pi / nlon
    dlat = math.pi / nlat
    k0 = (bb * nt) // nblocks
    k1 = ((bb + 1) * nt) // nblocks
    eff = eff_b[bb]
    inl = inl_b[bb]
    uni = uni_b[bb]
    best = np.zeros((nsys, ncell))
    best_sat = np.full((nsys, ncell), -1, np.int64)
    seen = np.zeros(ncell, np.bool_)
    cells = np.empty(ncell, np.int64)
    # the footprint walk's own accumulators (unused here) and its row records
    diff = np.zeros((1, nlat, nlon + 1), np.int32)
    full = np.zeros((1, nlat), np.int32)
    pred = np.empty((3, nlat))  # the walk's row predictions
    touched = np.zeros((1, nlat), np.bool_)
    rec = np.zeros((nlat, 4), np.int64)
    ins, isin, u, adj, parent, size, vq = sharing_scratch(nsys)
    for k in range(k0, k1):
        ncl = 0
        for isat in range(nsat):
            if err[isat, k] != 0:
                continue
            x = r[isat, k, 0]
            y = r[isat, k, 1]
            z = r[isat, k, 2]
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
                continue
            ss = sat_sys[isat]
            if not seg_use[ss].any():
                continue  # a system without bands takes no part
            sm = sin_mask[isat]
            nrec = footprint_rows(
                x, y, z, sm, 0, pxy, pz, nxy, nz, c1, tp, cos_lon, sin_lon, lon0, dlon, dlat,
                diff, full, touched, rec, True, pred,
            )  # fmt: skip
            full[0, :] = 0
            pos = sm >= 0.0
            s2 = sm * sm
            for q in range(nrec):
                i, kind, a0, a1, b1 = record_spans(rec, q, nlon)
                dz = z - pz[i]
                ndz = nz[i] * dz
                dz2 = dz * dz
                for seg in range(2):
                    lo = a0 if seg == 0 else 0
                    hi = a1 if seg == 0 else b1
                    for jj in range(lo, hi):
                        cl = cos_lon[jj]
                        sl = sin_lon[jj]
                        if kind == 3 and not vis_h(x, y, pos, s2, pxy[i], nxy[i], ndz, dz2, cl, sl):
                            continue
                        g = i * nlon + jj
                        rank_serving(best, best_sat, ss, g, isat, x, y, pxy[i], nxy[i], ndz, dz2, cl, sl)
                        if not seen[g]:
                            seen[g] = True
                            cells[ncl] = g
                            ncl += 1
        for q in range(ncl):
            g = cells[q]
            _share_cell(g, nlon, r, k, best_sat, pxy, pz, cos_lon, sin_lon, overlap, in_band, seg_use, width,
                        share, cosi, prio, eff, inl, uni, ins, isin, u, adj, parent, size, vq)  # fmt: skip
            seen[g] = False
            for s in range(nsys):
                best_sat[s, g] = -1


def _spectrum_blocks(r, err, sat_sys, sin_mask, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, in_band, width, share,
                     cosi, prio, nblocks):  # fmt: skip
    """The chunk's time blocks (:func:`_spectrum_block`, serial Numba code that releases the GIL) on a pool of
    ``numba.get_num_threads()`` threads, then folded in block order (the same float sums whatever the threads).
    """
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    ncell = nlat * nlon
    nsys = in_band.shape[0]
    nb = in_band.shape[1]
    c1 = nxy * pxy + nz * pz  # (bitwise as the footprint walk's own per-row constants)
    tp = 2.0 * pxy
    seg_use = np.ascontiguousarray(in_band.any(axis=1))  # [system, segment]: the system uses the segment
    overlap = (seg_use[:, None, :] & seg_use[None, :, :]).any(axis=2) & ~np.eye(nsys, dtype=np.bool_)
    eff_b = np.zeros((nblocks, nsys, nb, ncell))
    inl_b = np.zeros((nblocks, nsys, ncell), np.int32)
    uni_b = np.zeros((nblocks, ncell))
    args = (r, err, sat_sys, sin_mask, pxy, pz, nxy, nz, cos_lon, sin_lon, lon0, in_band, width, share, cosi, prio,
            nblocks, c1, tp, seg_use, overlap, eff_b, inl_b, uni_b)  # fmt: skip
    with ThreadPoolExecutor(max_workers=max(1, min(numba.get_num_threads(), nblocks))) as pool:
        for _ in pool.map(lambda bb: _spectrum_block(bb, *args), range(nblocks)):
            pass  # (iterating re-raises a block's exception here)
    # fold the blocks in order (one addition per block and element, as a loop over blocks would)
    eff_o = np.zeros((nsys, nb, ncell))
    inl_o = np.zeros((nsys, ncell), np.int32)
    uni_o = np.zeros(ncell)
    for bb in range(nblocks):
        eff_o += eff_b[bb]
        inl_o += inl_b[bb]
        uni_o += uni_b[bb]
    return eff_o, inl_o, uni_o


# --------------------------------------------------------------------------- Python API
def spectrum_chunk(
    r: ArrayLike,
    system: ArrayLike,
    sin_mask: ArrayLike,
    pxy: ArrayLike,
    pz: ArrayLike,
    nxy: ArrayLike,
    nz: ArrayLike,
    lon_rad: ArrayLike,
    cos_lon: ArrayLike,
    sin_lon: ArrayLike,
    inputs: SpectrumInputs,
    *,
    err: ArrayLike | None = None,
    nblocks: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sharing statistics of one chunk of time steps (module docstring).

    r : float64[nsat, ntime, 3] ITRS positions, km (NaN rows never visible); system : int[nsat]
    sin_mask : float64[nsat] sine of each satellite's elevation mask; pxy, pz, nxy, nz : float64[nlat]
    (``Grid.row_geometry()``); lon_rad, cos_lon, sin_lon : float64[nlon]; inputs : :class:`SpectrumInputs`
    err : uint8[nsat, ntime], optional (nonzero: skipped); nblocks : time blocks (default
    ``min(ntime, SPECTRUM_TIME_BLOCKS)``; the float sums depend on it)

    Returns ``(effective_sum float64[nsys, nb, nlat, nlon]`` (MHz summed over steps),
    ``inline_steps int32[nsys, nlat, nlon]``, ``union_sum float64[nlat, nlon]`` (MHz summed over steps)).
    """
    r = np.require(r, np.float64, ["C"])
    nsat, nt = r.shape[0], r.shape[1]
    sat_sys = np.require(np.asarray(system).reshape(-1), np.int32, ["C"]) if nsat else np.zeros(0, np.int32)
    sm = np.require(np.atleast_1d(sin_mask), np.float64, ["C"]) if nsat else np.zeros(0)
    err = np.zeros((nsat, nt), np.uint8) if err is None else np.require(err, np.uint8, ["C"])
    geo = [np.require(a, np.float64, ["C"]) for a in (pxy, pz, nxy, nz, cos_lon, sin_lon)]
    lon = np.asarray(lon_rad, np.float64)
    nlat, nlon = geo[0].shape[0], lon.shape[0]
    nsys, nb = inputs.in_band.shape[:2]
    if inputs.share.shape != (nsys, nlat, nlon):
        raise ParameterError(f"spectrum: share of shape {inputs.share.shape}, expected ({nsys}, {nlat}, {nlon})")
    if nsat and (sat_sys.min() < 0 or sat_sys.max() >= nsys):
        raise ParameterError(f"system: indices must lie in [0, {nsys - 1}]")
    if nt == 0:
        return np.zeros((nsys, nb, nlat, nlon)), np.zeros((nsys, nlat, nlon), np.int32), np.zeros((nlat, nlon))
    nblocks = int(max(1, min(nt, SPECTRUM_TIME_BLOCKS if nblocks is None else int(nblocks))))
    lon0 = float(lon[0]) - math.pi / nlon
    eff, inl, uni = _spectrum_blocks(
        r, err, sat_sys, sm, geo[0], geo[1], geo[2], geo[3], geo[4], geo[5], lon0, inputs.in_band, inputs.width,
        inputs.share, float(inputs.cos_inline), bool(inputs.priority), nblocks,
    )  # fmt: skip
    return eff.reshape(nsys, nb, nlat, nlon), inl.reshape(nsys, nlat, nlon), uni.reshape(nlat, nlon)
