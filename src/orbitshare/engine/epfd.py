"""EPFD↓ of non-GSO systems at GSO earth stations on the grid, checked against RR Article 22.

:func:`epfd` streams the time steps in chunks (SGP4 → ITRS, as the coverage pass) through the kernel
of :mod:`orbitshare.kernels.epfd` and keeps, per cell, GSO pointing and antenna, statistics that do
not grow with time.

Earth stations and pointings
----------------------------
One GSO earth station per cell, at the cell centre on the WGS84 surface (height 0), as the coverage
engine (:mod:`orbitshare.engine.gso` gives the geometry). It points at GSO slots (orbit radius
:data:`~orbitshare.engine.gso.GSO_RADIUS_KM`) at longitude offsets ``δ = k · arc_step_deg`` from
the cell's own meridian (k = 0, ±1, ...) whose geodetic elevation from the cell is above
``gso_min_elevation_deg`` (:func:`~orbitshare.engine.gso.visible_half_width_deg`). Defaults: 5°
steps (the statistics of every pointing are kept: memory and time grow as 1 / arc_step_deg; 5° gives
at most 31 pointings per cell) and a 5° minimum elevation (a common lower limit for GSO FSS earth
stations; a parameter). Each pointing has its own statistics; the cell reports its WORST pointing:
the largest ``worst_ratio`` of :func:`orbitshare.article22.check_epfd`, ties broken by the larger
``epfd_max``, then by the westernmost offset.

EPFD per step
-------------
``EPFD(cell, pointing, antenna) = 10 log10 Σ_i 10^((PFD_i + G(φ_i) − Gmax)/10)`` over the satellites
of the systems with ``pfd_dbw_m2_40khz`` set that are in view of the cell above their system's
elevation mask — the coverage engine's exact test ``n·d > 0 and (n·d)² > sin²m·|d|²`` (geodetic
up-normal n, d = satellite − cell). φ_i is the angle at the cell between the pointing direction and
satellite i, G the ITU-R S.1428-1 pattern (:mod:`orbitshare.kernels.antenna`) for D/λ at
``frequency_mhz`` (default: the centre of the first band of the first system taking part). PFD_i is
the system's PFD in 40 kHz, the masks' reference bandwidth (were a mask's bandwidth B_ref another,
the PFD would be scaled by 10 log10(B_ref / 40 kHz), a flat spectral density). No satellite in view:
EPFD = −inf (below every level).

Statistics
----------
Pass 1 keeps, per (cell, pointing, antenna), exact integer counts of the steps above each limit level
of the Article 22 mask (:func:`orbitshare.article22.epfd_mask` at the frequency, antenna and 40 kHz)
and the maximum: (L + 1) int32 + one float64, ~83 MB at 2° with 4 antennas, 5° pointings (370,080
cell-pointings) and the 11-point 0.6 m mask. The exceedances are exact at the mask's points
(:func:`orbitshare.article22.check_epfd`), plus the latitude-dependent level never to be exceeded
(:func:`orbitshare.article22.never_exceed_level_dbw_m2`, RR Nos. 22.5C.4/22.5C.8), checked exactly
against the maximum. A histogram for every pointing would not fit (0.25 dB bins over 45 dB: ~1.1 GB
at 2°), and the worst pointing is only known at the end; so with ``margin=True`` (default) a second
pass over the same steps histograms the worst pointing of each (cell, antenna) only
(:data:`HIST_BIN_DB` bins from :data:`HIST_BELOW_DB` below the lowest level to :data:`HIST_ABOVE_DB`
above the highest, clipped into the end bins; ~68 MB at 2° with the four 11.7 GHz masks). It repeats
the propagation and the footprints but evaluates one pointing per antenna: 35-55 % of pass 1's time
(measured on Starlink at 2°; the profile is in :mod:`orbitshare.kernels.epfd`).
The level exceeded at a limit point is read off the histogram
(:func:`orbitshare.article22.level_exceeded`: an upper bound within one bin), and ``margin_db`` = min
over the points of (limit − level exceeded), and of (never-exceed level − maximum): a lower bound
within :data:`HIST_BIN_DB`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from orbitshare.engine.gso import GSO_RADIUS_KM, visible_half_width_deg
from orbitshare.engine.passinputs import GridGeometry, default_chunk_steps
from orbitshare.engine.propagation import propagate_params, sgp4_params
from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.grid import Grid
from orbitshare.kernels import epfd as _k
from orbitshare.kernels.antenna import D_OVER_LAMBDA_MIN, d_over_lambda, s1428_params
from orbitshare.system import System, as_systems
from orbitshare.timegrid import TimeGrid

__all__ = ["HIST_ABOVE_DB", "HIST_BELOW_DB", "HIST_BIN_DB", "epfd", "gso_pointings", "gain_tables"]

#: Width of the margin histogram's bins, dB.
HIST_BIN_DB = 0.25
#: The margin histogram starts this far below the lowest limit level, dB.
HIST_BELOW_DB = 20.0
#: ... and ends this far above the highest, dB.
HIST_ABOVE_DB = 10.0
#: Default step between the GSO pointings of a cell, degrees of GSO longitude.
ARC_STEP_DEG = 5.0
#: Default lowest elevation of a GSO pointing, degrees.
GSO_MIN_ELEVATION_DEG = 5.0


def gso_pointings(
    grid: Grid, arc_step_deg: float, gso_min_elevation_deg: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The GSO pointings of each row: ``(offsets_deg float64[nlat, pmax], np_row int64[nlat], wp
    float64[nlat, 3, pmax], base int64[nlat + 1])``; offsets k · arc_step_deg (deg, west to east)
    strictly above ``gso_min_elevation_deg`` (deg) from the row's cells (see the module docstring)."""
    step = float(arc_step_deg)
    if not (math.isfinite(step) and 0.0 < step <= 90.0):
        raise ParameterError(f"arc_step_deg: expected a number of degrees in (0, 90], got {arc_step_deg!r}")
    m = float(gso_min_elevation_deg)
    if not (math.isfinite(m) and 0.0 <= m < 90.0):
        raise ParameterError(f"gso_min_elevation_deg: expected degrees in [0, 90), got {gso_min_elevation_deg!r}")
    hw = visible_half_width_deg(np.asarray(grid.lat, np.float64), m)
    kmax = np.where(hw > 0, np.ceil(hw / step) - 1, -1).astype(np.int64)
    np_row = np.where(kmax >= 0, 2 * kmax + 1, 0).astype(np.int64)
    pmax = max(int(np_row.max()), 1)
    offsets = np.full((grid.nlat, pmax), np.nan)
    for i in range(grid.nlat):
        if np_row[i]:
            offsets[i, : np_row[i]] = np.arange(-kmax[i], kmax[i] + 1) * step
    pxy, pz, _, _ = grid.row_geometry()
    wp = _k.pointing_vectors(pxy, pz, offsets, np_row, GSO_RADIUS_KM)
    return offsets, np_row, wp, _k.row_offsets(np_row, grid.nlon)


def gain_tables(d_over_lambdas: Sequence[float]) -> tuple:
    """The kernel's gain input for antennas of these D/λ (:func:`orbitshare.kernels.epfd.build_gain`)."""
    return _k.build_gain(d_over_lambdas, s1428_params)


# ---------------------------------------------------------------------------------------- inputs
def _check_inputs(systems: Any, grid: Any, times: Any, antenna_diameter_m: Any, frequency_mhz: Any):
    syslist = as_systems(systems)
    taking = [s for s in syslist if s.pfd_dbw_m2_40khz is not None]
    if not taking:
        raise ParameterError(
            "systems: expected at least one System with pfd_dbw_m2_40khz set (the PFD at the ground from one "
            "satellite, dB(W/m2) in 40 kHz), got none"
        )
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    if not isinstance(times, TimeGrid):
        raise ParameterTypeError(
            f"times: expected a TimeGrid (orbitshare.time_grid(start, stop, step_s)), got {type(times).__name__}"
        )
    if len(times) == 0:
        raise ParameterError("times: expected at least one time step")
    diam = np.atleast_1d(np.asarray(antenna_diameter_m, dtype=np.float64))
    if diam.ndim != 1 or diam.size == 0 or not np.all(np.isfinite(diam) & (diam > 0)):
        raise ParameterError(f"antenna_diameter_m: expected diameters in m > 0, got {antenna_diameter_m!r}")
    if len(np.unique(diam)) != len(diam):
        raise ParameterError(f"antenna_diameter_m: expected distinct diameters, got {antenna_diameter_m!r}")
    if frequency_mhz is None:
        if not taking[0].bands:
            raise ParameterError(
                f"frequency_mhz: expected a frequency (MHz): system {taking[0].name!r} has no band to take "
                "its centre from"
            )
        b = taking[0].bands[0]
        freq = 0.5 * (b.low_mhz + b.high_mhz)
    else:
        freq = float(frequency_mhz)
        if not (math.isfinite(freq) and freq > 0):
            raise ParameterError(f"frequency_mhz: expected a number of MHz > 0, got {frequency_mhz!r}")
    dls = [d_over_lambda(float(d), freq) for d in diam]
    for d, x in zip(diam, dls, strict=True):
        if x < D_OVER_LAMBDA_MIN:
            raise ParameterError(
                f"antenna_diameter_m: {d:g} m at {freq:g} MHz gives D/lambda = {x:.2f}, below the "
                f"{D_OVER_LAMBDA_MIN:g} that ITU-R S.1428-1 covers"
            )
    return syslist, taking, grid, diam, freq, dls


def _masks(freq: float, diam: np.ndarray) -> list[Any]:
    from orbitshare import article22

    return [article22.epfd_mask(freq, float(d)) for d in diam]


def _mask_arrays(masks: list[Any]) -> tuple[np.ndarray, np.ndarray, int]:
    """(levels dB float64[nant, L] ascending, NaN-padded; percent float64[nant, L]; L)."""
    nlev = max(len(m.levels_dbw_m2) for m in masks)
    lev = np.full((len(masks), nlev), np.nan)
    pct = np.full((len(masks), nlev), np.nan)
    for a, m in enumerate(masks):
        n = len(m.levels_dbw_m2)
        lev[a, :n] = m.levels_dbw_m2
        pct[a, :n] = m.percent_time_not_exceeded
    return lev, pct, nlev


# ---------------------------------------------------------------------------------------- passes
def _sat_arrays(taking: list[System], ref_bw_khz: float):
    from orbitshare.elements.elementset import ElementSet

    elements = ElementSet.concat([s.elements for s in taking])
    shift = 10.0 * math.log10(ref_bw_khz / 40.0)
    pfd_db = np.concatenate([np.full(len(s.elements), float(s.pfd_dbw_m2_40khz) + shift) for s in taking])  # type: ignore[arg-type]
    sm = np.concatenate([np.full(len(s.elements), math.sin(math.radians(s.elevation_mask_deg))) for s in taking])
    return elements, np.ascontiguousarray(10.0 ** (pfd_db / 10.0)), np.ascontiguousarray(sm)


def _stream(elements, times: TimeGrid, chunk_steps: int, args: tuple, stats: tuple, exact: bool, sel=None) -> None:
    """One pass over the steps in chunks: SGP4 → ITRS (as the coverage pass), then the EPFD kernel."""
    sat_sm, sat_pfd, geom, pointing, gain = args
    params, init_err = sgp4_params(elements)
    buffers = None
    for chunk in times.chunks(chunk_steps):
        e, r, v = propagate_params(params, init_err, chunk, "itrs", buffers=buffers, velocities=False)
        buffers = (e, r, v)
        _k.accumulate_epfd_chunk(r, e, sat_sm, sat_pfd, geom, pointing, gain, stats, exact=exact, sel=sel)


def _geom(grid: Grid) -> tuple:
    g = GridGeometry.from_grid(grid)
    dlon = 2.0 * math.pi / grid.nlon
    lon0 = float(g.lon_rad[0]) - 0.5 * dlon
    return (g.pxy, g.pz, g.nxy, g.nz, g.cos_lon, g.sin_lon, lon0, dlon, math.pi / grid.nlat)


def _worst_pointing(ratio, vmax, np_row, base, nlon):
    """Per (cell, antenna): index p of the worst pointing (−1 where the row has none)."""
    nlat = len(np_row)
    nant = ratio.shape[1]
    sel = np.full((nlat, nlon, nant), -1, np.int64)
    for i in range(nlat):
        npi = int(np_row[i])
        if npi == 0:
            continue
        rr = ratio[base[i] : base[i + 1]].reshape(nlon, npi, nant)
        vv = vmax[base[i] : base[i + 1]].reshape(nlon, npi, nant)
        # lexicographic max: ratio, then vmax, then the first (westernmost) pointing
        key_r = np.where(np.isnan(rr), -np.inf, rr)
        best_r = key_r.max(axis=1, keepdims=True)
        cand = key_r == best_r
        vv_c = np.where(cand, vv, -np.inf)
        sel[i] = np.argmax(vv_c, axis=1)
    return sel


def epfd(
    systems: Any,
    grid: Any,
    times: TimeGrid,
    *,
    antenna_diameter_m: Sequence[float] | float = (0.6, 1.2, 3.0, 10.0),
    frequency_mhz: float | None = None,
    arc_step_deg: float = ARC_STEP_DEG,
    gso_min_elevation_deg: float = GSO_MIN_ELEVATION_DEG,
    chunk_steps: int | None = None,
    margin: bool = True,
    exact_gain: bool = False,
    pfd_sources: Mapping[str, str] | None = None,
    backend: str = "cpu",
):
    """EPFD↓ of the non-GSO systems at a GSO earth station in every cell, against RR Article 22.

    Parameters
    ----------
    systems : System | sequence of System; those with ``pfd_dbw_m2_40khz`` set take part (at least one)
    grid : Grid, or a resolution in degrees
    times : a TimeGrid (``orbitshare.time_grid``)
    antenna_diameter_m : the GSO earth-station antenna diameters, m (each a D/λ ≥ 20 at the frequency)
    frequency_mhz : frequency of the pattern and the mask, MHz (default: centre of the first band of the
        first system taking part)
    arc_step_deg, gso_min_elevation_deg : the GSO pointings (deg; module docstring)
    chunk_steps : time steps per propagation chunk (default as the coverage pass)
    margin : also compute the level exceeded at each limit point and ``margin_db`` (a second pass)
    exact_gain : evaluate S.1428-1 exactly for every pair instead of the table (≤ 0.01 dB apart; slower)
    pfd_sources : system name → source text of its PFD value (default: "not given")
    backend : "cpu" only

    Returns
    -------
    xarray.Dataset
        On ``(antenna, lat, lon)`` (+ ``point``, the limit points of each antenna's mask, NaN-padded);
        NaN where no GSO slot is above the minimum elevation::

            epfd_max_dbw_m2, epfd_max_any_pointing_dbw_m2   largest per-step EPFD↓ (worst / any pointing)
            worst_ratio, exceeded (int8)                     Article 22 check at the worst pointing
            worst_pointing_lon_deg                           GSO longitude of the worst pointing
            steps_above_limit(antenna, point, lat, lon)      steps strictly above each limit level
            level_exceeded_dbw_m2(antenna, point, ...), margin_db   with ``margin`` (HIST_BIN_DB resolution)
            limit_level_dbw_m2, limit_percent_time (antenna, point); n_steps
            attrs: frequency, reference bandwidth, the mask's table / RR edition / source, each system's PFD
            and its source text, the pointing and visibility rules
    """
    if backend != "cpu":
        raise ParameterError(f"backend: epfd runs on 'cpu' only (no GPU kernel yet), got {backend!r}")
    syslist, taking, grid, diam, freq, dls = _check_inputs(systems, grid, times, antenna_diameter_m, frequency_mhz)
    masks = _masks(freq, diam)
    ref_bw = float(masks[0].reference_bandwidth_khz)
    lev_db, pct, nlev = _mask_arrays(masks)
    elements, sat_pfd, sat_sm = _sat_arrays(taking, ref_bw)
    offsets, np_row, wp, base = gso_pointings(grid, arc_step_deg, gso_min_elevation_deg)
    gain = gain_tables(dls)
    geom = _geom(grid)
    nant, nlat, nlon, nt = len(diam), grid.nlat, grid.nlon, len(times)
    if chunk_steps is None:
        chunk_steps = default_chunk_steps(len(elements), nt)
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, int | np.integer) or chunk_steps < 1:
        raise ParameterError(f"chunk_steps: expected an integer >= 1, got {chunk_steps!r}")
    ncp = int(base[-1])
    pointing = (wp, np_row, base)
    # pass 1: class counts against the levels, and the maximum, per (cell, pointing, antenna)
    levels = np.where(np.isnan(lev_db), np.inf, 10.0 ** (lev_db / 10.0))
    cls_k = np.zeros((nant, nlev + 1, ncp), np.int32)  # the kernel's layout (antenna, class, cell-pointing)
    vmax = np.zeros((ncp, nant))
    args = (sat_sm, sat_pfd, geom, pointing, gain)
    _stream(elements, times, int(chunk_steps), args, (levels, cls_k, vmax), exact_gain)
    cls = np.moveaxis(cls_k, 2, 0)  # a view on (cell-pointing, antenna, class)
    never_db = _never_exceed(masks, grid)
    exceeded, ratio = _ratios(cls, vmax, masks, nt, never_db, np_row, base)
    sel = _worst_pointing(ratio, vmax, np_row, base, nlon)
    out = _gather(sel, np_row, base, nlon, ratio, vmax, cls, offsets, grid)
    out["exceeded"] = _pick(exceeded, sel, np_row, base, nlon)
    del cls, cls_k, vmax, ratio, exceeded
    hist_levels = None
    if margin:
        edges_db = _hist_edges(lev_db)
        edges = np.where(np.isnan(edges_db), np.inf, 10.0 ** (edges_db / 10.0))
        hist = np.zeros((nlat, nlon, nant, edges.shape[1] + 1), np.int32)
        _stream(elements, times, int(chunk_steps), args, (edges, hist), exact_gain, sel)
        hist[..., 0] = nt - hist[..., 1:].sum(axis=-1)
        hist_levels = _levels_exceeded(hist, edges_db, masks, nlev)
        out["margin"] = _margin(hist_levels, lev_db, masks, never_db, out["emax"])
    return _dataset(
        grid, diam, freq, masks, lev_db, pct, out, hist_levels, nt, taking, pfd_sources, ref_bw, arc_step_deg,
        gso_min_elevation_deg, exact_gain, syslist,
    )  # fmt: skip


def _hist_edges(lev_db: np.ndarray) -> np.ndarray:
    """float64[nant, E] histogram edges (dB) per antenna: HIST_BIN_DB steps on a multiple of the bin width."""
    lo = np.floor((np.nanmin(lev_db, axis=1) - HIST_BELOW_DB) / HIST_BIN_DB) * HIST_BIN_DB
    hi = np.ceil((np.nanmax(lev_db, axis=1) + HIST_ABOVE_DB) / HIST_BIN_DB) * HIST_BIN_DB
    n = np.round((hi - lo) / HIST_BIN_DB).astype(np.int64) + 1
    edges = np.full((len(lo), int(n.max())), np.nan)
    for a in range(len(lo)):
        edges[a, : n[a]] = lo[a] + HIST_BIN_DB * np.arange(n[a])
    return edges


def _levels_exceeded(hist, edges_db, masks, nlev):
    """float64[nlat, nlon, nant, L]: the level (dB) exceeded for each limit point's allowed percentage of time,
    from the kernel's histograms (bin 0 below the first edge and the last at or above the last edge are
    clipped into the end bins, as :func:`orbitshare.article22.level_exceeded` expects)."""
    from orbitshare import article22

    nlat, nlon, nant = hist.shape[:3]
    out = np.full((nlat, nlon, nant, nlev), np.nan)
    for a, mk in enumerate(masks):
        e = edges_db[a][~np.isnan(edges_db[a])]
        h = hist[:, :, a, 1 : len(e)].astype(np.int64)
        h[..., 0] += hist[:, :, a, 0]
        h[..., -1] += hist[:, :, a, len(e)]
        n = len(mk.levels_dbw_m2)
        out[:, :, a, :n] = article22.level_exceeded(h, e, 100.0 * mk.allowed_fractions)
    return out


def _never_exceed(masks, grid) -> np.ndarray:
    """float64[nant, nlat]: the level never to be exceeded (dB; RR Nos. 22.5C.4 / 22.5C.8 by latitude)."""
    from orbitshare import article22

    return np.stack([article22.never_exceed_level_dbw_m2(m, np.asarray(grid.lat)) for m in masks])


def _steps_above(cls: np.ndarray) -> np.ndarray:
    """int32[..., L]: steps above level k = Σ of the classes > k (class c: the EPFD above c levels)."""
    return np.cumsum(cls[..., :0:-1], axis=-1, dtype=np.int32)[..., ::-1]


def _ratios(cls, vmax, masks, nt, never_db, np_row, base) -> tuple[np.ndarray, np.ndarray]:
    """(exceeded bool[Ncp, nant], worst_ratio float64[Ncp, nant]) of :func:`orbitshare.article22.check_epfd` per
    (cell, pointing); exceeded and inf where the maximum is above the latitude-dependent never-exceed level."""
    from orbitshare import article22

    ratio = np.empty(vmax.shape)
    exceeded = np.empty(vmax.shape, bool)
    for a, mk in enumerate(masks):
        n = len(mk.levels_dbw_m2)
        exceeded[:, a], ratio[:, a] = article22.check_epfd(_steps_above(cls[:, a])[:, :n], int(nt), mk)
    for i in range(len(np_row)):
        sl = slice(int(base[i]), int(base[i + 1]))
        above = vmax[sl] > 10.0 ** (never_db[:, i] / 10.0)[None, :]
        ratio[sl] = np.where(above, np.inf, ratio[sl])
        exceeded[sl] |= above
    return exceeded, ratio


def _margin(levels, lev_db, masks, never_db, emax_db) -> np.ndarray:
    """float64[nlat, nlon, nant]: min over the points with an allowed fraction < 1 of (limit − level exceeded),
    and of (never-exceed level − maximum) (dB); as :func:`orbitshare.article22.margin_db`."""
    nlat, nlon, nant, _ = levels.shape
    out = np.full((nlat, nlon, nant), np.nan)
    for a, mk in enumerate(masks):
        n = len(mk.levels_dbw_m2)
        pts = mk.allowed_fractions < 1.0
        m = (mk.levels_dbw_m2[pts][None, None, :] - levels[:, :, a, :n][:, :, pts]).min(axis=-1)
        out[:, :, a] = np.minimum(m, never_db[a][:, None] - emax_db[:, :, a])
    return out


def _pick(values, sel, np_row, base, nlon):
    """values[Ncp, nant] at the selected pointing: [nlat, nlon, nant] (False / 0 where the row has none)."""
    nlat, _, nant = sel.shape
    out = np.zeros((nlat, nlon, nant), values.dtype)
    for i in range(nlat):
        if np_row[i]:
            out[i] = values[base[i] + np.arange(nlon)[:, None] * int(np_row[i]) + sel[i], np.arange(nant)[None, :]]
    return out


def _gather(sel, np_row, base, nlon, ratio, vmax, cls, offsets, grid):
    """The statistics of the selected (worst) pointing of every (cell, antenna), on (lat, lon, antenna[, level])."""
    nlat, _, nant = sel.shape
    nlev = cls.shape[2] - 1
    worst = np.full((nlat, nlon, nant), np.nan)
    emax = np.full((nlat, nlon, nant), np.nan)
    emax_all = np.full((nlat, nlon, nant), np.nan)
    lon_w = np.full((nlat, nlon, nant), np.nan)
    steps = np.zeros((nlat, nlon, nant, nlev), np.int64)
    lon = np.asarray(grid.lon, np.float64)
    for i in range(nlat):
        npi = int(np_row[i])
        if npi == 0:
            continue
        idx = base[i] + np.arange(nlon)[:, None] * npi + sel[i]  # (nlon, nant)
        aa = np.arange(nant)[None, :]
        worst[i] = ratio[idx, aa]
        emax[i] = vmax[idx, aa]
        emax_all[i] = vmax[base[i] : base[i + 1]].reshape(nlon, npi, nant).max(axis=1)
        steps[i] = _steps_above(cls[idx, aa, :])
        lon_w[i] = (lon[:, None] + offsets[i, sel[i]] + 180.0) % 360.0 - 180.0
    with np.errstate(divide="ignore"):
        emax_db = 10.0 * np.log10(emax)
        emax_all_db = 10.0 * np.log10(emax_all)
    return {"worst": worst, "emax": emax_db, "emax_all": emax_all_db, "lon": lon_w, "steps": steps}


def _dataset(
    grid, diam, freq, masks, lev_db, pct, out, hist_levels, nt, taking, pfd_sources, ref_bw, arc_step_deg,
    gso_min_elevation_deg, exact_gain, syslist,
):  # fmt: skip
    import xarray as xr

    unit = f"dB(W/m2) in {ref_bw:g} kHz"
    dims3 = ("antenna", "lat", "lon")

    def t3(a):  # (lat, lon, antenna, ...) → (antenna, ..., lat, lon)
        return np.moveaxis(np.moveaxis(a, 2, 0), (1, 2), (-2, -1))

    has = ~np.isnan(out["worst"])
    data = {
        "epfd_max_dbw_m2": (
            dims3,
            t3(out["emax"]),
            {"long_name": "largest per-step EPFD-down at the worst GSO pointing over all steps (-inf: never a "
             "satellite in view)", "units": unit},
        ),
        "epfd_max_any_pointing_dbw_m2": (
            dims3,
            t3(out["emax_all"]),
            {"long_name": "largest per-step EPFD-down over all steps and all GSO pointings of the cell", "units": unit},
        ),
        "worst_ratio": (
            dims3,
            t3(out["worst"]),
            {"long_name": "largest ratio, over the limit points, of the steps above the level to the steps the "
             "Article 22 limit allows (worst GSO pointing; > 1: exceeded)", "units": "1"},
        ),
        "exceeded": (
            dims3,
            t3(np.where(has, out["exceeded"], False)).astype(np.int8),
            {"long_name": "Article 22 EPFD-down limit exceeded at some limit point, worst GSO pointing (1: yes)",
             "units": "1"},
        ),
        "worst_pointing_lon_deg": (
            dims3,
            t3(out["lon"]),
            {"long_name": "GSO longitude of the worst pointing", "units": "degrees_east"},
        ),
        "steps_above_limit": (
            ("antenna", "point", "lat", "lon"),
            t3(np.where(has[..., None], out["steps"], -1)).astype(np.int64),
            {"long_name": "time steps with EPFD-down strictly above the limit level (worst GSO pointing; -1: no "
             "GSO pointing)", "units": "1"},
        ),
        "limit_level_dbw_m2": (("antenna", "point"), lev_db, {"long_name": "Article 22 EPFD-down limit level",
                                                               "units": unit}),
        "limit_percent_time": (
            ("antenna", "point"),
            pct,
            {"long_name": "percentage of time during which the EPFD-down may not exceed the level", "units": "%"},
        ),
        "n_steps": ((), np.int64(nt), {"long_name": "time steps counted", "units": "1"}),
    }  # fmt: skip
    if hist_levels is not None:
        lvl = np.where(has[..., None], hist_levels, np.nan)
        data["level_exceeded_dbw_m2"] = (
            ("antenna", "point", "lat", "lon"),
            t3(lvl),
            {"long_name": "EPFD-down level exceeded for the percentage of time the limit point allows (worst GSO "
             f"pointing; upper edge of a {HIST_BIN_DB:g} dB histogram bin)", "units": unit},
        )  # fmt: skip
        data["margin_db"] = (
            dims3,
            t3(np.where(has, out["margin"], np.nan)),
            {"long_name": "smallest over the limit points of (limit level - level exceeded for the allowed "
             "percentage of time), and of (latitude never-exceed level - epfd_max) (worst GSO pointing; lower "
             f"bound within {HIST_BIN_DB:g} dB; < 0: exceeded)", "units": "dB"},
        )  # fmt: skip
    coords = grid.coords()
    coords["antenna"] = xr.DataArray(diam, dims="antenna", attrs={"long_name": "GSO earth-station antenna diameter",
                                                                    "units": "m"})  # fmt: skip
    coords["point"] = xr.DataArray(np.arange(lev_db.shape[1]), dims="point",
                                   attrs={"long_name": "limit point of the antenna's Article 22 mask"})  # fmt: skip
    attrs: dict[str, Any] = {
        "title": "EPFD-down of non-GSO systems at GSO earth stations, against RR Article 22",
        "frequency_mhz": float(freq),
        "reference_bandwidth_khz": float(ref_bw),
        "antenna_pattern": "ITU-R S.1428-1",
        "gain": "exact" if exact_gain else f"table in sin(phi/2), <= {_k.TABLE_FLAG_DB:g} dB at probes",
        "arc_step_deg": float(arc_step_deg),
        "gso_min_elevation_deg": float(gso_min_elevation_deg),
        "earth_station": "cell centre on the WGS84 surface (height 0)",
        "visibility_rule": "n.d > 0 and (n.d)^2 > sin^2(mask) |d|^2 (geodetic normal; each system's mask)",
        "systems": ";".join(s.name for s in taking),
        "systems_without_pfd": ";".join(s.name for s in syslist if s.pfd_dbw_m2_40khz is None),
    }
    for key in ("table", "source", "rr_edition"):
        vals = {str(getattr(m, key, "")) for m in masks}
        attrs[f"mask_{key}"] = ";".join(sorted(v for v in vals if v))
    src = dict(pfd_sources or {})
    attrs["pfd_dbw_m2_40khz"] = "; ".join(f"{s.name}: {s.pfd_dbw_m2_40khz:g}" for s in taking)
    attrs["pfd_sources"] = "; ".join(f"{s.name}: {src.get(s.name, 'not given')}" for s in taking)
    return xr.Dataset(data, coords=coords, attrs=attrs)
