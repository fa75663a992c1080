"""CUDA backend (numba.cuda): SGP4 → ITRS, footprint visibility, coverage and capacity on the GPU.

Units as the CPU kernels: km, s, rad; time as (jd, fr) day pairs. Importing this module installs the
NumPy shim of :mod:`orbitshare.kernels.cuda_env` and imports ``numba.cuda``; nothing compiles until the
first call (kernels compile lazily, once per argument types).

Reuse of the CPU math
---------------------
The scalar helpers of :mod:`.sgp4`, :mod:`.sgp4_deep`, :mod:`.frames`, :mod:`.footprint` and :mod:`.capacity` are
Numba ``njit`` functions written with ``math`` only (DESIGN.md, kernel rule 6). :func:`device_of`
turns one into a CUDA device function from its ``py_func``; the njit helpers it calls (looked up among
its globals) are retargeted the same way, recursively, so the device code runs the very same source.
Only two kinds of glue are written here: the per-(satellite, step) SGP4 driver (the body of the CPU
time loop, with the deep-space resonance integrator started fresh from epoch, which the CPU kernel
guarantees gives identical numbers) and the GPU accumulation (atomics, scans, per-cell walks).

Exactness of the counts
-----------------------
The visible set of a row is decided by the exact per-cell test only; the closed form merely predicts
the interval (see :mod:`.footprint`, "Exactness"). On the GPU, NVVM contracts ``a*b + c`` into FMA by
default (numba-cuda has no switch for it without fastmath), which would change the test's rounding.
The exact test used here (:func:`_vis_rn`) therefore performs the same operations in the same order as
``footprint.vis_h`` with libdevice's ``dmul_rn``/``dadd_rn`` (PTX ``mul.rn``/``add.rn``, which are
never contracted), so given the same positions the counts equal the CPU engine bit for bit. The rest of
:func:`footprint.process_row_fast` (prediction, edge walks, degenerate rows) is reused as is, with the
exact test and no-op writers: it returns each row's span, which the GPU code adds with atomics
(degenerate rows — satellite within a few km of the polar axis — are re-tested cell by cell).

SGP4 on the GPU is not bit-identical to the CPU kernel (FMA contraction, libdevice's sin/cos/atan2):
positions agree to ~1e-12 relative, which the tests check. Counts from GPU-propagated positions equal
the CPU engine's except for a cell whose elevation is within ~1e-12 rad of the mask at some step.

Layout on the device
--------------------
* SGP4: one thread per (satellite, step); ``e uint8[nsat, nt]``, ``r, v float64[nsat, nt, 3]`` ITRS.
* Footprints: one thread per (satellite, step) walks the rows of its footprint (the CPU walk) and adds
  each row interval as +1/−1 into a per-step difference array ``diff int32[nk, nsys, nlat, nlon + 1]``
  with int32 atomics (exact whatever the order); whole rows go to ``full int32[nk, nsys, nlat]``.
* Scan: one thread per (step, system, row) turns its difference row into counts in place.
* Cells: one thread per (system, cell) walks the launch's steps in order and updates its running
  statistics (sum, covered, first and last covered step, longest inner gap, steps_any), then zeroes
  the counts for the next launch. The state persists across launches and chunks, so a whole chunk (or
  the fused run) ends in one :class:`~orbitshare.kernels.chunkstate.ChunkState`.

Capacity (optional, as the CPU kernel's "Capacity")
---------------------------------------------------
* The footprint thread walks its rows once for the counts and for P = Σ w over its visible cells (the
  CPU's additions in the CPU's order, from the same double-double prefix sums of w, so P and cap/P are
  the CPU's bits); if P > 0 it walks them again (the row spans are recomputed, identically) and adds
  ±cap/P into per-step factor difference rows ``fdh + fdl float64[nk, nsys, nlat, nlon + 1]`` (whole
  rows into ``ffh + ffl``) with double-double atomics: ``cuda.atomic.add`` returns the old value, so
  the rounding error of each addition is known exactly (TwoSum) and added to the low word. The
  result does not depend on the order of the atomics beyond ~1e-16 relative, and a small cell next
  to a large factor keeps its own digits, as on the CPU; ``offered[s, k]`` gets cap (atomic).
* The scan thread of a row runs the CPU's double-double prefix over its factor row, stores each
  visible cell's factor f_c and adds Σ w_c f_c to ``delivered[s, k]`` (atomic, one per row).
* The cell thread adds f_c to its factor sum in time order; ``capacity_sum = w · Σ_k f_c(k)``.
  Against the CPU kernel (same positions): counts identical, capacity sums within ~1e-13 relative.

``nk`` (steps per launch) is chosen so that the per-step buffers stay under ``memory_bytes``
(default 1 GiB): ≈4 bytes per cell and system and step, ≈20 with capacity.
"""

from __future__ import annotations

import math
import types
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike

from orbitshare.errors import ParameterError
from orbitshare.kernels import capacity as _cap
from orbitshare.kernels import footprint as _fp
from orbitshare.kernels import frames as _frames
from orbitshare.kernels import sgp4 as _sgp4
from orbitshare.kernels import sgp4_deep as _deep
from orbitshare.kernels.chunkstate import ChunkState, empty_chunk_state
from orbitshare.kernels.cuda_env import import_numba_cuda, simulator_enabled
from orbitshare.kernels.sgp4 import (
    C_ARGPDOT,
    C_ARGPO,
    C_ATERM,
    C_AYCOF,
    C_BCC4,
    C_BCC5,
    C_CC1,
    C_CON41,
    C_COSIO,
    C_D2,
    C_D3,
    C_D4,
    C_D2201,
    C_D2211,
    C_D3210,
    C_D3222,
    C_D4410,
    C_D4422,
    C_D5220,
    C_D5232,
    C_D5421,
    C_D5433,
    C_DEDT,
    C_DEEP,
    C_DEL1,
    C_DEL2,
    C_DEL3,
    C_DELMO,
    C_DIDT,
    C_DMDT,
    C_DNODT,
    C_DOMDT,
    C_E3,
    C_ECCO,
    C_EE2,
    C_EPOCH_FR,
    C_EPOCH_JD,
    C_ETA,
    C_GSTO,
    C_INCLO,
    C_IREZ,
    C_ISIMP,
    C_MDOT,
    C_MO,
    C_NO,
    C_NODECF,
    C_NODEDOT,
    C_NODEO,
    C_OMGCOF,
    C_SE2,
    C_SE3,
    C_SGH2,
    C_SGH3,
    C_SGH4,
    C_SH2,
    C_SH3,
    C_SI2,
    C_SI3,
    C_SINIO,
    C_SINMAO,
    C_SL2,
    C_SL3,
    C_SL4,
    C_T2COF,
    C_T3COF,
    C_T4COF,
    C_T5COF,
    C_X1MTH2,
    C_X7THM1,
    C_XFACT,
    C_XGH2,
    C_XGH3,
    C_XGH4,
    C_XH2,
    C_XH3,
    C_XI2,
    C_XI3,
    C_XL2,
    C_XL3,
    C_XL4,
    C_XLAMO,
    C_XLCOF,
    C_XMCOF,
    C_ZMOL,
    C_ZMOS,
    NPARAM,
    X2O3,
    XKE,
)
from orbitshare.kernels.visibility import prepare_grid_inputs

cuda = import_numba_cuda()

__all__ = [
    "cuda_accumulate_chunk",
    "cuda_coverage",
    "cuda_propagate_itrs",
    "cuda_propagate_itrs_device",
    "device_of",
]

_SIM = simulator_enabled()
_TPB = 128  # threads per block
_INT16_MAX = 32767
_DEFAULT_MEMORY = 1 << 30


# --------------------------------------------------------------------------- njit helpers → device functions
_DEVICE: dict = {}


def _is_cpu_dispatcher(obj) -> bool:
    return isinstance(obj, numba.core.registry.CPUDispatcher)


def device_of(disp: Any, **overrides: Any) -> Any:
    """A CUDA device function running the ``py_func`` of the njit helper ``disp``.

    Globals of the helper that are njit dispatchers themselves are replaced by their device versions
    (recursively); ``overrides`` replace further globals by name (e.g. a GPU-specific exact test), and
    each must name a global the helper uses (a renamed helper would otherwise keep its CPU version
    silently). Results without overrides are cached per helper."""
    key = id(disp)
    if not overrides and key in _DEVICE:
        return _DEVICE[key]
    f = disp.py_func if hasattr(disp, "py_func") else disp
    unknown = sorted(set(overrides) - set(f.__code__.co_names))
    if unknown:
        raise RuntimeError(f"device_of({f.__qualname__}): it uses no global named {', '.join(unknown)}")
    g = dict(f.__globals__)
    for name in f.__code__.co_names:
        obj = g.get(name)
        if name not in overrides and _is_cpu_dispatcher(obj):
            g[name] = device_of(obj)
    g.update(overrides)
    nf = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
    nf.__qualname__ = f.__qualname__
    nf.__doc__ = f.__doc__
    dev = cuda.jit(device=True)(nf)
    if not overrides:
        _DEVICE[key] = dev
    return dev


_near_secular = device_of(_sgp4.near_secular)
_mean_elements = device_of(_sgp4.mean_elements)
_position_velocity = device_of(_sgp4.position_velocity)
_dspace = device_of(_deep.dspace)
_dpper = device_of(_deep.dpper)
_deep_periodic_terms = device_of(_sgp4.deep_periodic_terms)
_rotate_one = device_of(_frames._rotate_one)
_geodetic_lat_height = device_of(_fp.geodetic_lat_height)
_footprint_start = device_of(_fp.footprint_start)
_wrap = device_of(_fp.wrap)
_next_row = device_of(_fp.next_row)


# --------------------------------------------------------------------------- SGP4, one (satellite, step)
@cuda.jit(device=True)
def _sgp4_step(p, i, t):
    """SGP4/SDP4 of satellite ``i`` (row of ``params``) at ``t`` min since epoch: (err, r TEME km, v km/s).

    The body of ``sgp4._run_sat``'s time loop with the resonance integrator fresh from epoch."""
    deep = p[i, C_DEEP] != 0.0
    isimp = int(p[i, C_ISIMP])
    irez = int(p[i, C_IREZ])
    no = p[i, C_NO]
    ecco = p[i, C_ECCO]
    inclo = p[i, C_INCLO]
    argpo = p[i, C_ARGPO]
    mm, argpm, nodem, tempa, tempe, templ = _near_secular(
        t,
        isimp,
        p[i, C_MO],
        p[i, C_MDOT],
        argpo,
        p[i, C_ARGPDOT],
        p[i, C_NODEO],
        p[i, C_NODEDOT],
        p[i, C_NODECF],
        p[i, C_CC1],
        p[i, C_BCC4],
        p[i, C_BCC5],
        p[i, C_T2COF],
        p[i, C_OMGCOF],
        p[i, C_ETA],
        p[i, C_XMCOF],
        p[i, C_DELMO],
        p[i, C_SINMAO],
        p[i, C_D2],
        p[i, C_D3],
        p[i, C_D4],
        p[i, C_T3COF],
        p[i, C_T4COF],
        p[i, C_T5COF],
    )
    err = 0
    em = ecco
    inclm = inclo
    nm = no
    aterm = p[i, C_ATERM]
    if deep:
        em, argpm, inclm, mm, nodem, nm, atime, xli, xni = _dspace(
            irez,
            p[i, C_D2201],
            p[i, C_D2211],
            p[i, C_D3210],
            p[i, C_D3222],
            p[i, C_D4410],
            p[i, C_D4422],
            p[i, C_D5220],
            p[i, C_D5232],
            p[i, C_D5421],
            p[i, C_D5433],
            p[i, C_DEDT],
            p[i, C_DEL1],
            p[i, C_DEL2],
            p[i, C_DEL3],
            p[i, C_DIDT],
            p[i, C_DMDT],
            p[i, C_DNODT],
            p[i, C_DOMDT],
            argpo,
            p[i, C_ARGPDOT],
            t,
            p[i, C_GSTO],
            p[i, C_XFACT],
            p[i, C_XLAMO],
            no,
            0.0,
            p[i, C_XLAMO],
            no,
            ecco,
            argpm,
            inclo,
            mm,
            nodem,
            no,
        )
        if nm <= 0.0:
            err = 2
        else:
            aterm = math.pow(XKE / nm, X2O3)
    elif nm <= 0.0:
        err = 2
    am = 0.0
    if err == 0:
        err, am, nm, em, mm, argpm, nodem = _mean_elements(aterm, no, em, mm, argpm, nodem, tempa, tempe, templ)
    ep = em
    xincp = inclm
    nodep = nodem
    argpp = argpm
    mp = mm
    sinip = p[i, C_SINIO]
    cosip = p[i, C_COSIO]
    aycof = p[i, C_AYCOF]
    xlcof = p[i, C_XLCOF]
    con41 = p[i, C_CON41]
    x1mth2 = p[i, C_X1MTH2]
    x7thm1 = p[i, C_X7THM1]
    if err == 0 and deep:
        ep, xincp, nodep, argpp, mp = _dpper(
            p[i, C_E3],
            p[i, C_EE2],
            p[i, C_SE2],
            p[i, C_SE3],
            p[i, C_SGH2],
            p[i, C_SGH3],
            p[i, C_SGH4],
            p[i, C_SH2],
            p[i, C_SH3],
            p[i, C_SI2],
            p[i, C_SI3],
            p[i, C_SL2],
            p[i, C_SL3],
            p[i, C_SL4],
            p[i, C_XGH2],
            p[i, C_XGH3],
            p[i, C_XGH4],
            p[i, C_XH2],
            p[i, C_XH3],
            p[i, C_XI2],
            p[i, C_XI3],
            p[i, C_XL2],
            p[i, C_XL3],
            p[i, C_XL4],
            p[i, C_ZMOL],
            p[i, C_ZMOS],
            t,
            em,
            inclm,
            nodem,
            argpm,
            mm,
        )
        (err, xincp, nodep, argpp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1) = _deep_periodic_terms(
            ep, xincp, nodep, argpp
        )
    if err == 0:
        return _position_velocity(
            am, nm, ep, xincp, nodep, argpp, mp, sinip, cosip, aycof, xlcof, con41, x1mth2, x7thm1
        )
    return err, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan


@cuda.jit
def _sgp4_itrs_kernel(p, jd, fr, m, w, thd, k0, e, r, v):
    """Thread (i, k): satellite i at step k0 + k of (jd, fr, m, w, thd); writes e[i, k], r[i, k], v[i, k]
    in ITRS (km, km/s). m, w: float64[nt, 3, 3] (``frames.itrs_rotations``), thd: float64[nt] rad/s."""
    idx = cuda.grid(1)
    nk = e.shape[1]
    if idx >= e.shape[0] * nk:
        return
    i = idx // nk
    k = idx - i * nk
    kg = k0 + k
    t = (jd[kg] - p[i, C_EPOCH_JD]) * 1440.0 + (fr[kg] - p[i, C_EPOCH_FR]) * 1440.0
    err, rx, ry, rz, vx, vy, vz = _sgp4_step(p, i, t)
    rr = cuda.local.array(3, numba.float64)
    vv = cuda.local.array(3, numba.float64)
    rr[0] = rx
    rr[1] = ry
    rr[2] = rz
    vv[0] = vx
    vv[1] = vy
    vv[2] = vz
    e[i, k] = err
    _rotate_one(m[kg], w[kg], thd[kg], rr, vv, r[i, k], v[i, k])


# --------------------------------------------------------------------------- visibility, device side
if _SIM:

    @cuda.jit(device=True)
    def _mul(a, b):
        return a * b

    @cuda.jit(device=True)
    def _add(a, b):
        return a + b
else:
    from numba.cuda import libdevice as _libdevice

    @cuda.jit(device=True)
    def _mul(a, b):
        """a·b rounded once (PTX mul.rn.f64: never contracted into an FMA)."""
        return _libdevice.dmul_rn(a, b)

    @cuda.jit(device=True)
    def _add(a, b):
        """a + b rounded once (PTX add.rn.f64: never contracted into an FMA)."""
        return _libdevice.dadd_rn(a, b)


@cuda.jit(device=True)
def _vis_rn(x, y, pos, s2, pxy_i, nxy_i, ndz, dz2, cl, sl):
    """``footprint.vis_h`` (hence ``cell_visible_exact``), operation for operation, without FMA."""
    dx = _add(x, -_mul(pxy_i, cl))
    dy = _add(y, -_mul(pxy_i, sl))
    nd = _add(_add(_mul(_mul(nxy_i, cl), dx), _mul(_mul(nxy_i, sl), dy)), ndz)
    d2 = _add(_add(_mul(dx, dx), _mul(dy, dy)), dz2)
    if pos:
        return nd > 0.0 and _mul(nd, nd) > _mul(s2, d2)
    return nd > 0.0 or _mul(nd, nd) < _mul(s2, d2)


@cuda.jit(device=True)
def _cell_rn(x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cl, sl):
    """:func:`_vis_rn` with the row terms formed here (the degenerate rows' cell-by-cell test)."""
    dz = z - pz_i
    return _vis_rn(x, y, pos, s2, pxy_i, nxy_i, nz_i * dz, dz * dz, cl, sl)


@cuda.jit(device=True)
def _add_interval_atomic(diff, sdiff, s, i, jw, je, nlon):
    """+1/−1 for the unwrapped columns jw..je of row i (wrapping across ±180°), int32 atomics into
    ``diff[s, i]`` (``sdiff`` unused: sums come from the per-step counts on the GPU)."""
    a = _wrap(jw, nlon)
    n = je - jw + 1
    if a + n <= nlon:
        cuda.atomic.add(diff, (s, i, a), 1)
        cuda.atomic.add(diff, (s, i, a + n), -1)
    else:
        cuda.atomic.add(diff, (s, i, a), 1)
        cuda.atomic.add(diff, (s, i, nlon), -1)
        cuda.atomic.add(diff, (s, i, 0), 1)
        cuda.atomic.add(diff, (s, i, a + n - nlon), -1)


@cuda.jit(device=True)
def _no_interval(diff, sdiff, s, i, jw, je, nlon):
    """Interval writer of the span walk: writes nothing (the caller adds the interval it returns)."""
    return


@cuda.jit(device=True)
def _no_cell(diff, sdiff, s, i, j):
    """Cell writer of the span walk's degenerate rows: writes nothing (the caller re-tests them)."""
    return


#: ``footprint.process_row_fast`` with the exact test without FMA, writing nothing: returns the row's
#: ``(kind, jw, je)`` — 0 none, 1 whole row, 2 the unwrapped columns jw..je, 3 a degenerate row
#: (satellite within a few km of the polar axis) whose visible cells the caller re-tests one by one
_row_span = device_of(_fp.process_row_fast, vis_h=_vis_rn, add_interval2=_no_interval, add_cell2=_no_cell)
_wsum = device_of(_cap.wsum)


@cuda.jit(device=True)
def _dd_atomic_add(hi, lo, idx, v):
    """hi[idx] + lo[idx] += v as a double-double under concurrency: the atomic returns the old value, so
    the rounding error of the one addition it made is known exactly (TwoSum) and goes to ``lo``."""
    a = cuda.atomic.add(hi, idx, v)
    t = a + v
    bp = t - a
    cuda.atomic.add(lo, idx, (a - (t - bp)) + (v - bp))


@cuda.jit(device=True)
def _count_row(kind, jw, je, x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon, sin_lon, diffk, fullk, s, i):
    """Add a row's visible cells (from :func:`_row_span`) as +1/−1 into diffk[s, i] (whole rows into
    fullk[s, i]) with int32 atomics: exact whatever the order."""
    nlon = cos_lon.shape[0]
    if kind == 1:
        cuda.atomic.add(fullk, (s, i), 1)
    elif kind == 2:
        _add_interval_atomic(diffk, diffk, s, i, jw, je, nlon)
    else:
        for j in range(nlon):
            if _cell_rn(x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon[j], sin_lon[j]):
                cuda.atomic.add(diffk, (s, i, j), 1)
                cuda.atomic.add(diffk, (s, i, j + 1), -1)


@cuda.jit(device=True)
def _weight_row(p, kind, jw, je, x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon, sin_lon, w, wh, wl, s, i):
    """``p`` plus the weight of a row's visible cells: the additions of ``capacity.capacity_sat`` in
    the same order (prefix sums for whole rows and intervals, cell by cell for degenerate rows), so P is
    the CPU's to the last bit."""
    nlon = cos_lon.shape[0]
    if kind == 1:
        p += wh[s, i, nlon] + wl[s, i, nlon]
    elif kind == 2:
        a = _wrap(jw, nlon)
        n = je - jw + 1
        if a + n <= nlon:
            p += _wsum(wh, wl, s, i, a, a + n)
        else:
            p += _wsum(wh, wl, s, i, a, nlon) + _wsum(wh, wl, s, i, 0, a + n - nlon)
    else:
        for j in range(nlon):
            if _cell_rn(x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon[j], sin_lon[j]):
                p += w[s, i, j]
    return p


@cuda.jit(device=True)
def _factor_row(
    f, kind, jw, je, x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon, sin_lon, fdh, fdl, ffh, ffl, s, i
):
    """Add the factor ``f`` = cap/P over a row's visible cells as +f/−f into the double-double difference
    row (fdh + fdl)[s, i] (whole rows into (ffh + ffl)[s, i]) with double-double atomics."""
    nlon = cos_lon.shape[0]
    if kind == 1:
        _dd_atomic_add(ffh, ffl, (s, i), f)
    elif kind == 2:
        a = _wrap(jw, nlon)
        n = je - jw + 1
        _dd_atomic_add(fdh, fdl, (s, i, a), f)
        if a + n <= nlon:
            _dd_atomic_add(fdh, fdl, (s, i, a + n), -f)
        else:
            _dd_atomic_add(fdh, fdl, (s, i, nlon), -f)
            _dd_atomic_add(fdh, fdl, (s, i, 0), f)
            _dd_atomic_add(fdh, fdl, (s, i, a + n - nlon), -f)
    else:
        for j in range(nlon):
            if _cell_rn(x, y, z, pos, s2, pxy_i, pz_i, nxy_i, nz_i, cos_lon[j], sin_lon[j]):
                _dd_atomic_add(fdh, fdl, (s, i, j), f)
                _dd_atomic_add(fdh, fdl, (s, i, j + 1), -f)


@cuda.jit(device=True)
def _footprint(
    x,
    y,
    z,
    sm,
    s,
    cap,
    do_cap,
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
    diffk,
    fullk,
    w,
    wh,
    wl,
    fdh,
    fdl,
    ffh,
    ffl,
):
    """One satellite-step's visible cells into diffk[s] / fullk[s]: the row walk of
    ``footprint.footprint_fast`` (north from the nadir row, then south, to the first empty row).

    With ``do_cap`` the same walk also sums P = Σ w over the visible cells and, if P > 0, walks again to
    add cap/P into the factor difference arrays (the CPU's ``capacity_sat``; the rows are found twice,
    identically). Returns True when the satellite delivered (P > 0)."""
    nlat = pxy.shape[0]
    nlon = cos_lon.shape[0]
    rho, r2, rn, twoz, inv_dlon, pos, s2, t, walk_all, i0 = _footprint_start(x, y, z, sm, lon0, dlon, dlat, nlat, nlon)
    p = 0.0
    f = 0.0
    for phase in range(2 if do_cap else 1):
        if phase == 1:
            if not (p > 0.0):
                return False
            f = cap / p
        i = i0
        step = 1
        while i >= 0:
            kind, jw, je = _row_span(
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
                diffk,
                diffk,
                s,
                i,
            )
            if kind != 0:
                if phase == 0:
                    _count_row(
                        kind,
                        jw,
                        je,
                        x,
                        y,
                        z,
                        pos,
                        s2,
                        pxy[i],
                        pz[i],
                        nxy[i],
                        nz[i],
                        cos_lon,
                        sin_lon,
                        diffk,
                        fullk,
                        s,
                        i,
                    )
                    if do_cap:
                        p = _weight_row(
                            p,
                            kind,
                            jw,
                            je,
                            x,
                            y,
                            z,
                            pos,
                            s2,
                            pxy[i],
                            pz[i],
                            nxy[i],
                            nz[i],
                            cos_lon,
                            sin_lon,
                            w,
                            wh,
                            wl,
                            s,
                            i,
                        )
                else:
                    _factor_row(
                        f,
                        kind,
                        jw,
                        je,
                        x,
                        y,
                        z,
                        pos,
                        s2,
                        pxy[i],
                        pz[i],
                        nxy[i],
                        nz[i],
                        cos_lon,
                        sin_lon,
                        fdh,
                        fdl,
                        ffh,
                        ffl,
                        s,
                        i,
                    )
            i, step = _next_row(i, step, i0, nlat, kind == 0, walk_all)
    return do_cap


@cuda.jit
def _footprint_kernel(
    r,
    err,
    k0,
    sat_sys,
    sin_mask,
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
    do_cap,
    cap_sat,
    w,
    wh,
    wl,
    fdh,
    fdl,
    ffh,
    ffl,
    offered,
):
    """Thread (isat, kk): satellite isat at step k0 + kk of r/err into diff[kk], full[kk] (and, with
    do_cap, its capacity factor into fdh/fdl[kk], ffh/ffl[kk] and its capacity into offered[s, kk])."""
    idx = cuda.grid(1)
    nk = diff.shape[0]
    nsat = r.shape[0]
    if idx >= nsat * nk:
        return
    isat = idx // nk
    kk = idx - isat * nk
    k = k0 + kk
    if err[isat, k] != 0:
        return
    x = r[isat, k, 0]
    y = r[isat, k, 1]
    z = r[isat, k, 2]
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return
    s = sat_sys[isat]
    cap = cap_sat[isat] if do_cap else 0.0
    kc = kk if do_cap else 0
    if _footprint(
        x,
        y,
        z,
        sin_mask[isat],
        s,
        cap,
        do_cap,
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
        diff[kk],
        full[kk],
        w,
        wh,
        wl,
        fdh[kc],
        fdl[kc],
        ffh[kc],
        ffl[kc],
    ):
        cuda.atomic.add(offered, (s, kk), cap)


@cuda.jit
def _scan_kernel(diff, full, nk, do_cap, fdh, fdl, ffh, ffl, w, delivered):
    """Thread (kk, s, i), kk < nk: difference row → counts in place; clears full and the end column.

    With do_cap also the factor row: the double-double running sum of (fdh + fdl)[kk, s, i] (plus the
    whole-row term) gives each cell's factor f_c, stored in fdh where the count is ≥ 1 (0 elsewhere: a
    cell no satellite sees gets exactly nothing); Σ_c w_c f_c is added to delivered[s, kk]. The same
    operations as the CPU's per-step prefix pass."""
    idx = cuda.grid(1)
    nsys = diff.shape[1]
    nlat = diff.shape[2]
    nlon = diff.shape[3] - 1
    if idx >= nk * nsys * nlat:
        return
    kk = idx // (nsys * nlat)
    rest = idx - kk * nsys * nlat
    s = rest // nlat
    i = rest - s * nlat
    run = full[kk, s, i]
    full[kk, s, i] = 0
    rh = 0.0
    rl = 0.0
    dsum = 0.0
    if do_cap:
        rh = ffh[kk, s, i]
        rl = ffl[kk, s, i]
        ffh[kk, s, i] = 0.0
        ffl[kk, s, i] = 0.0
    for j in range(nlon):
        run += diff[kk, s, i, j]
        diff[kk, s, i, j] = run
        if do_cap:
            dh = fdh[kk, s, i, j]
            dl = fdl[kk, s, i, j]
            if dh != 0.0 or dl != 0.0:
                t_ = rh + dh
                bp = t_ - rh
                rl += ((rh - (t_ - bp)) + (dh - bp)) + dl
                rh = t_
                fdl[kk, s, i, j] = 0.0
            v = 0.0
            if run > 0:
                v = rh + rl
                dsum += w[s, i, j] * v
            fdh[kk, s, i, j] = v
    diff[kk, s, i, nlon] = 0
    if do_cap:
        fdh[kk, s, i, nlon] = 0.0
        fdl[kk, s, i, nlon] = 0.0
        if dsum != 0.0:
            cuda.atomic.add(delivered, (s, kk), dsum)


@cuda.jit
def _cells_kernel(
    counts, nk, kbase, min_visible, sums, cov, first, last, inner, anyc, count_any, keep, out16, do_cap, fcell, fsum
):
    """Thread (s, i, j): walk steps 0..nk−1 (global kbase + kk) in order, update the running statistics,
    optionally store int16 counts (saturating) into out16[s, kk], and zero the counts; with do_cap add
    the step's factor fcell[kk, s, i, j] to fsum[s, i, j] (in time order) and zero it."""
    idx = cuda.grid(1)
    nsys = counts.shape[1]
    nlat = counts.shape[2]
    nlon = counts.shape[3] - 1
    if idx >= nsys * nlat * nlon:
        return
    s = idx // (nlat * nlon)
    rest = idx - s * nlat * nlon
    i = rest // nlon
    j = rest - i * nlon
    mv = min_visible[s]
    sm = sums[s, i, j]
    cv = cov[s, i, j]
    fc = first[s, i, j]
    lc = last[s, i, j]
    inn = inner[s, i, j]
    na = 0
    fs = fsum[s, i, j] if do_cap else 0.0
    for kk in range(nk):
        c = counts[kk, s, i, j]
        counts[kk, s, i, j] = 0
        sm += c
        if keep:
            out16[s, kk, i, j] = c if c < _INT16_MAX else _INT16_MAX
        if c >= 1:
            na += 1
        if c >= mv:
            kg = kbase + kk
            if lc < 0:
                fc = kg
            else:
                g = kg - lc - 1
                if g > inn:
                    inn = g
            lc = kg
            cv += 1
        if do_cap:
            fs += fcell[kk, s, i, j]
            fcell[kk, s, i, j] = 0.0
    sums[s, i, j] = sm
    cov[s, i, j] = cv
    first[s, i, j] = fc
    last[s, i, j] = lc
    inner[s, i, j] = inn
    if count_any:
        anyc[s, i, j] += na
    if do_cap:
        fsum[s, i, j] = fs


@cuda.jit
def _fill_kernel(a, value):
    """a[i] = value for every element of the 1-D device array a."""
    i = cuda.grid(1)
    if i < a.shape[0]:
        a[i] = value


# --------------------------------------------------------------------------- host side
def _on_device(a) -> bool:
    """True for a CUDA device array (``__cuda_array_interface__``; also the simulator's arrays)."""
    return hasattr(a, "__cuda_array_interface__") or hasattr(a, "copy_to_host")


def _blocks(n):
    return max(1, (n + _TPB - 1) // _TPB)


def _f64(a: ArrayLike) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def _full_device(shape, value, dtype):
    """A device array of ``shape`` filled with ``value`` on the device (no host buffer, no copy)."""
    a = cuda.device_array(shape, dtype)
    n = int(np.prod(shape))
    if n:
        _fill_kernel[_blocks(n), _TPB](a.reshape(n), value)
    return a


def cuda_propagate_itrs_device(
    params: ArrayLike,
    jd: ArrayLike,
    fr: ArrayLike,
    m: ArrayLike,
    w: ArrayLike,
    theta_dot: ArrayLike,
    *,
    k0: int = 0,
    nk: int | None = None,
    params_d: Any = None,
    times_d: tuple | None = None,
) -> tuple[Any, Any, Any]:
    """As :func:`cuda_propagate_itrs` for steps k0..k0+nk−1, results left on the device.

    params_d, times_d : optional device copies of params and of (jd, fr, m, w, theta_dot) to reuse
    across calls. Returns device arrays (e uint8[nsat, nk], r, v float64[nsat, nk, 3])."""
    if params_d is None:
        params_d = cuda.to_device(_f64(params))
    if times_d is None:
        times_d = tuple(cuda.to_device(_f64(a)) for a in (jd, fr, m, w, theta_dot))
    nsat = params_d.shape[0]
    nt = times_d[0].shape[0]
    if nk is None:
        nk = nt - k0
    e = cuda.device_array((nsat, nk), np.uint8)
    r = cuda.device_array((nsat, nk, 3), np.float64)
    v = cuda.device_array((nsat, nk, 3), np.float64)
    if nsat and nk:
        _sgp4_itrs_kernel[_blocks(nsat * nk), _TPB](params_d, *times_d, k0, e, r, v)
    return e, r, v


def cuda_propagate_itrs(
    params: ArrayLike, jd: ArrayLike, fr: ArrayLike, m: ArrayLike, w: ArrayLike, theta_dot: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SGP4 and TEME→ITRS on the GPU, one thread per (satellite, step).

    params : float64[nsat, NPARAM] (``sgp4.sgp4_init``); jd, fr : float64[nt] UTC days;
    m, w : float64[nt, 3, 3], theta_dot : float64[nt] rad/s (``frames.itrs_rotations``).
    Returns host arrays (e uint8[nsat, nt], r float64[nsat, nt, 3] km, v float64[nsat, nt, 3] km/s),
    ITRS, as ``sgp4_propagate_into`` followed by ``teme_to_itrs_into`` (to ~1e-12 relative)."""
    params = _f64(params)
    if params.ndim != 2 or params.shape[1] != NPARAM:
        raise ParameterError(f"params: expected shape (nsat, {NPARAM}), got {params.shape}")
    jd, fr, theta_dot = (np.atleast_1d(_f64(a)) for a in (jd, fr, theta_dot))
    m, w = _f64(m), _f64(w)
    nt = jd.shape[0]
    if fr.shape != (nt,) or theta_dot.shape != (nt,) or m.shape != (nt, 3, 3) or w.shape != (nt, 3, 3):
        raise ParameterError("jd, fr, theta_dot: float64[nt]; m, w: float64[nt, 3, 3]")
    e, r, v = cuda_propagate_itrs_device(params, jd, fr, m, w, theta_dot)
    return e.copy_to_host(), r.copy_to_host(), v.copy_to_host()


class _GridDev:
    """Grid geometry and per-system settings on the device, validated like ``accumulate_chunk``."""

    def __init__(self, nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad):
        (system, sin_mask, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, nsys, nlat, nlon, dlon, lon0) = (
            prepare_grid_inputs(
                nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad
            )
        )
        # per-row constants exactly as visibility._accumulate_kernel forms them
        c1 = nxy * pxy + nz * pz
        tp = 2.0 * pxy
        self.nsys, self.nlat, self.nlon = nsys, nlat, nlon
        self.min_visible = min_visible
        self.dlon = dlon
        self.dlat = math.pi / nlat
        self.lon0 = lon0
        self.sys_d = cuda.to_device(system)
        self.sin_d = cuda.to_device(sin_mask)
        self.geo_d = tuple(cuda.to_device(a) for a in (pxy, pz, nxy, nz, c1, tp, cos_lon, sin_lon))
        self.mv_d = cuda.to_device(min_visible)


class _Accumulator:
    """Running per-cell statistics on the device, fed launch by launch in time order.

    With capacity (``cap_sat`` float64[nsat] Mbps and ``w`` float64[nsys, nlat, nlon], validated by
    ``capacity.prepare_capacity_inputs``) it also keeps each cell's factor sum and each step's
    ``delivered``/``offered`` totals."""

    def __init__(self, g: _GridDev, nsat, keep_counts, count_any, memory_bytes, cap_sat=None, w=None):
        self.g = g
        shape = (g.nsys, g.nlat, g.nlon)
        self.do_cap = cap_sat is not None
        per_step = g.nsys * g.nlat * (g.nlon + 1) * 4 + g.nsys * g.nlat * 4
        if keep_counts:
            per_step += g.nsys * g.nlat * g.nlon * 2
        if self.do_cap:
            per_step += g.nsys * g.nlat * (g.nlon + 1) * 16 + g.nsys * g.nlat * 16
        self.nk = int(max(1, memory_bytes // per_step))
        self.keep = bool(keep_counts)
        self.count_any = bool(count_any)
        self.sums = _full_device(shape, 0, np.int64)
        self.cov = _full_device(shape, 0, np.int32)
        self.first = _full_device(shape, -1, np.int32)
        self.last = _full_device(shape, -1, np.int32)
        self.inner = _full_device(shape, 0, np.int32)
        self.anyc = _full_device(shape if count_any else (0, 0, 0), 0, np.int32)
        if self.do_cap:
            self.w = w
            wh, wl = _cap.weight_prefix(w)  # double-double prefix sums along lon, as the CPU kernel
            self.cap_d = cuda.to_device(_f64(cap_sat))
            self.w_d, self.wh_d, self.wl_d = (cuda.to_device(a) for a in (w, wh, wl))
            self.fsum = _full_device(shape, 0.0, np.float64)
        else:  # one-element placeholders: the kernels never read them, but index them
            self.w = None
            self.cap_d = cuda.to_device(np.zeros(1))
            self.w_d = self.wh_d = self.wl_d = self.fsum = cuda.to_device(np.zeros((1, 1, 1)))
        self.diff = None
        self.full = None
        self.out16 = None
        self.nsteps = 0
        self.counts: list[np.ndarray] | None = [] if keep_counts else None
        self.delivered: list[np.ndarray] = []
        self.offered: list[np.ndarray] = []

    def _buffers(self, nk):
        g = self.g
        if self.diff is None or self.diff.shape[0] < nk:
            self.diff = _full_device((nk, g.nsys, g.nlat, g.nlon + 1), 0, np.int32)
            self.full = _full_device((nk, g.nsys, g.nlat), 0, np.int32)
            self.out16 = cuda.device_array((g.nsys, nk, g.nlat, g.nlon) if self.keep else (0, 0, 0, 0), np.int16)
            nc, ns, nl, nn = (nk, g.nsys, g.nlat, g.nlon + 1) if self.do_cap else (1, 1, 1, 1)
            self.fdh = _full_device((nc, ns, nl, nn), 0.0, np.float64)
            self.fdl = _full_device((nc, ns, nl, nn), 0.0, np.float64)
            self.ffh = _full_device((nc, ns, nl), 0.0, np.float64)
            self.ffl = _full_device((nc, ns, nl), 0.0, np.float64)

    def feed(self, r_d, e_d):
        """Add the steps of device arrays r_d float64[nsat, nk, 3] (ITRS km), e_d uint8[nsat, nk]."""
        g = self.g
        nsat, nt = r_d.shape[0], r_d.shape[1]
        for k0 in range(0, nt, self.nk):
            nk = min(self.nk, nt - k0)
            self._buffers(nk)
            diff = self.diff[:nk] if self.diff.shape[0] != nk else self.diff
            full = self.full[:nk] if self.full.shape[0] != nk else self.full
            totals = (g.nsys, nk) if self.do_cap else (1, 1)
            delivered = _full_device(totals, 0.0, np.float64)
            offered = _full_device(totals, 0.0, np.float64)
            if nsat:
                _footprint_kernel[_blocks(nsat * nk), _TPB](
                    r_d,
                    e_d,
                    k0,
                    g.sys_d,
                    g.sin_d,
                    *g.geo_d,
                    g.lon0,
                    g.dlon,
                    g.dlat,
                    diff,
                    full,
                    self.do_cap,
                    self.cap_d,
                    self.w_d,
                    self.wh_d,
                    self.wl_d,
                    self.fdh,
                    self.fdl,
                    self.ffh,
                    self.ffl,
                    offered,
                )
            _scan_kernel[_blocks(nk * g.nsys * g.nlat), _TPB](
                self.diff, self.full, nk, self.do_cap, self.fdh, self.fdl, self.ffh, self.ffl, self.w_d, delivered
            )
            _cells_kernel[_blocks(g.nsys * g.nlat * g.nlon), _TPB](
                self.diff,
                nk,
                self.nsteps,
                g.mv_d,
                self.sums,
                self.cov,
                self.first,
                self.last,
                self.inner,
                self.anyc,
                self.count_any,
                self.keep,
                self.out16,
                self.do_cap,
                self.fdh,
                self.fsum,
            )
            if self.keep:
                self.counts.append(self.out16.copy_to_host()[:, :nk].copy())
            if self.do_cap:
                self.delivered.append(delivered.copy_to_host())
                self.offered.append(offered.copy_to_host())
            self.nsteps += nk

    def state(self) -> ChunkState:
        g = self.g
        nt = self.nsteps
        if nt == 0:
            return empty_chunk_state(g.nsys, g.nlat, g.nlon, self.keep, count_any=self.count_any, capacity=self.do_cap)
        cuda.synchronize()
        sums = self.sums.copy_to_host()
        cov = self.cov.copy_to_host()
        first = self.first.copy_to_host()
        last = self.last.copy_to_host()
        inner = self.inner.copy_to_host()
        none = last < 0
        lead = np.where(none, nt, first).astype(np.int32)
        trail = np.where(none, nt, nt - 1 - last).astype(np.int32)
        inner = np.where(none, 0, inner).astype(np.int32)
        counts = None
        if self.keep:
            counts = (
                np.concatenate(self.counts, axis=1) if self.counts else np.zeros((g.nsys, 0, g.nlat, g.nlon), np.int16)
            )
        anyc = self.anyc.copy_to_host() if self.count_any else None
        capsum = delivered = offered = None
        if self.do_cap:
            capsum = self.w * self.fsum.copy_to_host()  # w_c · Σ_k f_c(k), as the CPU kernel
            delivered = np.concatenate(self.delivered, axis=1)
            offered = np.concatenate(self.offered, axis=1)
        return ChunkState(nt, sums, cov, lead, trail, inner, none, counts, anyc, capsum, delivered, offered)


def _capacity_args(nsat, g: _GridDev, capacity_per_sat, weight):
    """(cap_sat, w) validated as the CPU kernel does, or (None, None) without capacity."""
    do_cap, cap_sat, w = _cap.prepare_capacity_inputs(nsat, g.nsys, g.nlat, g.nlon, capacity_per_sat, weight)
    return (cap_sat, w) if do_cap else (None, None)


def cuda_accumulate_chunk(
    r: Any,
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
    err: Any = None,
    sat_mask_rad: ArrayLike | None = None,
    keep_counts: bool = False,
    count_any: bool = False,
    memory_bytes: int = _DEFAULT_MEMORY,
    capacity_per_sat: ArrayLike | float | None = None,
    weight: ArrayLike | None = None,
    nblocks: int | None = None,
) -> ChunkState:
    """``visibility.accumulate_chunk`` on the GPU: the same arguments and the same :class:`ChunkState`
    (integer statistics and counts identical to the CPU kernel), so ``merge_chunk_states`` and the
    drivers work unchanged.

    r : float64[nsat, ntime, 3] km ITRS, a NumPy array or a CUDA device array (kept on the device);
    err : uint8[nsat, ntime] likewise (default: all 0). memory_bytes bounds the per-step buffers (steps
    per launch = memory_bytes // (≈4·nsys·nlat·nlon bytes, ≈20 with capacity)). ``nblocks`` is accepted
    and ignored (the GPU result has no block partition). capacity_per_sat (Mbps), weight: as the CPU
    kernel; each satellite's P and cap/P are the CPU's bits, the per-cell factor sums are double-double
    atomics (order-independent to ~1e-16 relative), so ``capacity_sum``, ``delivered`` and ``offered``
    agree with the CPU to ~1e-13 relative or better.
    """
    del nblocks
    on_dev = _on_device(r)
    if not on_dev:
        r = _f64(r)
    if len(r.shape) != 3 or r.shape[2] != 3:
        raise ParameterError(f"r: expected shape (nsat, ntime, 3), got {r.shape}")
    nsat, nt = r.shape[0], r.shape[1]
    g = _GridDev(nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad)
    cap_sat, w_cap = _capacity_args(nsat, g, capacity_per_sat, weight)
    if nt == 0:
        return empty_chunk_state(g.nsys, g.nlat, g.nlon, keep_counts, count_any=count_any, capacity=cap_sat is not None)
    if err is None:
        err = np.zeros((nsat, nt), np.uint8)
    if not _on_device(err):
        err = np.ascontiguousarray(err, dtype=np.uint8)
    if tuple(err.shape) != (nsat, nt):
        raise ParameterError(f"err: expected shape ({nsat}, {nt}), got {tuple(err.shape)}")
    r_d = r if on_dev else cuda.to_device(r)
    e_d = err if _on_device(err) else cuda.to_device(err)
    acc = _Accumulator(g, nsat, keep_counts, count_any, memory_bytes, cap_sat, w_cap)
    acc.feed(r_d, e_d)
    return acc.state()


def cuda_coverage(
    params: ArrayLike,
    jd: ArrayLike,
    fr: ArrayLike,
    m: ArrayLike,
    w: ArrayLike,
    theta_dot: ArrayLike,
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
    sat_mask_rad: ArrayLike | None = None,
    keep_counts: bool = False,
    count_any: bool = False,
    chunk_steps: int | None = None,
    memory_bytes: int = _DEFAULT_MEMORY,
    capacity_per_sat: ArrayLike | float | None = None,
    weight: ArrayLike | None = None,
) -> tuple[ChunkState, np.ndarray]:
    """Fused SGP4 → ITRS → coverage on the GPU: positions never leave the device.

    params, jd, fr, m, w, theta_dot as :func:`cuda_propagate_itrs`; the grid and system arguments as
    :func:`cuda_accumulate_chunk`. chunk_steps : steps propagated per launch (default: as many as the
    count buffers take per launch); capacity_per_sat, weight: as :func:`cuda_accumulate_chunk`.
    Returns (state, e): the :class:`ChunkState` of all nt steps and the
    SGP4 error codes uint8[nsat, nt] (host)."""
    params = _f64(params)
    if params.ndim != 2 or params.shape[1] != NPARAM:
        raise ParameterError(f"params: expected shape (nsat, {NPARAM}), got {params.shape}")
    nsat = params.shape[0]
    jd, fr, theta_dot = (np.atleast_1d(_f64(a)) for a in (jd, fr, theta_dot))
    m, w = _f64(m), _f64(w)
    nt = jd.shape[0]
    if fr.shape != (nt,) or theta_dot.shape != (nt,) or m.shape != (nt, 3, 3) or w.shape != (nt, 3, 3):
        raise ParameterError("jd, fr, theta_dot: float64[nt]; m, w: float64[nt, 3, 3]")
    g = _GridDev(nsat, system, mask_rad, min_visible, pxy, pz, nxy, nz, lon_rad, cos_lon, sin_lon, sat_mask_rad)
    cap_sat, w_cap = _capacity_args(nsat, g, capacity_per_sat, weight)
    acc = _Accumulator(g, nsat, keep_counts, count_any, memory_bytes, cap_sat, w_cap)
    e_all = np.zeros((nsat, nt), np.uint8)
    if nt == 0:
        return acc.state(), e_all
    if chunk_steps is None:
        chunk_steps = acc.nk
    chunk_steps = int(max(1, chunk_steps))
    params_d = cuda.to_device(params)
    times_d = tuple(cuda.to_device(a) for a in (jd, fr, m, w, theta_dot))
    for k0 in range(0, nt, chunk_steps):
        nk = min(chunk_steps, nt - k0)
        e_d, r_d, _v = cuda_propagate_itrs_device(
            params, jd, fr, m, w, theta_dot, k0=k0, nk=nk, params_d=params_d, times_d=times_d
        )
        acc.feed(r_d, e_d)
        e_all[:, k0 : k0 + nk] = e_d.copy_to_host()
    return acc.state(), e_all
