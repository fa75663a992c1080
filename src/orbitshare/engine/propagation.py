"""Propagate element sets with orbitshare's Numba SGP4/SDP4, in TEME or ITRS.

The array contract follows ``sgp4.api.SatrecArray.sgp4``: ``e uint8[nsat, ntime]`` (sgp4 error
codes 0–6), ``r, v float64[nsat, ntime, 3]`` in km and km/s; a failing satellite gets its error
code and NaN rows instead of an exception.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from orbitshare.elements.elementset import ElementSet
from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.kernels import frames as _frames
from orbitshare.kernels import sgp4 as _sgp4
from orbitshare.timegrid import TimeGrid, time_grid_from_times

FRAMES = ("teme", "itrs")

_JD_UNIX_EPOCH = 2440587.5


def sgp4_params(elements: ElementSet):
    """SGP4 initialisation of every satellite: ``(params float64[nsat, NPARAM], err uint8[nsat])``."""
    a = elements.sgp4_arrays()
    args = [
        np.ascontiguousarray(a[k], dtype=np.float64)
        for k in ("epoch_jd", "epoch_fr", "bstar", "ndot", "nddot", "ecco", "argpo", "inclo", "mo", "no_kozai", "nodeo")
    ]
    return _sgp4.sgp4_init(*args)


def _times_from_jd(jd, fr) -> TimeGrid:
    jd = np.atleast_1d(np.asarray(jd, dtype=np.float64))
    fr = np.atleast_1d(np.asarray(fr, dtype=np.float64))
    ns = np.round(((jd - _JD_UNIX_EPOCH) + fr) * 86400e9).astype(np.int64)
    grid = time_grid_from_times(ns.astype("datetime64[ns]"))
    # keep the caller's (jd, fr) exactly for SGP4; the grid supplies UT1 and polar motion
    return TimeGrid(
        time=grid.time,
        jd=jd,
        fr=fr,
        ut1_jd=grid.ut1_jd,
        ut1_fr=grid.ut1_fr,
        xp=grid.xp,
        yp=grid.yp,
        sprime=grid.sprime,
    )


def _check_frame(frame: str) -> str:
    f = str(frame).lower()
    if f not in FRAMES:
        raise ParameterError(f"frame: expected one of {FRAMES}, got {frame!r}")
    return f


def propagate_params(
    params: np.ndarray,
    init_err: np.ndarray,
    times: TimeGrid,
    frame: str,
    buffers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    velocities: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propagate initialised satellites (:func:`sgp4_params`) over ``times``.

    frame : "teme" or "itrs" (checked by the caller); buffers : ``(e, r, v)`` arrays of the right
    shape to write into (else new ones); velocities : False leaves ``v`` in TEME for "itrs".
    Returns ``e uint8[nsat, ntime]``, ``r float64[nsat, ntime, 3]`` km, ``v float64[nsat, ntime, 3]`` km/s.
    """
    nsat, nt = params.shape[0], len(times)
    if buffers is not None and buffers[0].shape == (nsat, nt):
        e, r, v = buffers
    else:
        e = np.empty((nsat, nt), dtype=np.uint8)
        r = np.empty((nsat, nt, 3), dtype=np.float64)
        v = np.empty((nsat, nt, 3), dtype=np.float64)
    jd = np.ascontiguousarray(times.jd, dtype=np.float64)
    fr = np.ascontiguousarray(times.fr, dtype=np.float64)
    _sgp4.sgp4_propagate_into(params, jd, fr, e, r, v)
    if frame == "itrs":
        m, w, thd = _frames.itrs_rotations(times.ut1_jd, times.ut1_fr, times.xp, times.yp, times.sprime)
        if velocities:
            _frames.teme_to_itrs_into(r, v, m, w, thd)
        else:
            _frames.teme_to_itrs_positions_into(r, m)
    return e, r, v


def propagate(elements: ElementSet, jd, fr=None, *, frame: str = "teme"):
    """Positions and velocities of every satellite at every time.

    elements : ElementSet (nsat)
    jd, fr   : float64[ntime] UTC Julian date split (days), as sgp4/Skyfield; or ``jd`` a TimeGrid
               (then ``fr`` is omitted)
    frame    : "teme" (SGP4's frame) or "itrs" (Earth-fixed: GMST 1982 + polar motion, as Skyfield)
    Returns ``e uint8[nsat, ntime]``, ``r float64[nsat, ntime, 3]`` km, ``v float64[nsat, ntime, 3]`` km/s.
    """
    frame = _check_frame(frame)
    if isinstance(jd, TimeGrid):
        if fr is not None:
            raise ParameterTypeError("propagate: pass either a TimeGrid or (jd, fr), not both")
        times = jd
    else:
        if fr is None:
            fr = np.zeros_like(np.asarray(jd, dtype=np.float64))
        if frame == "itrs":
            times = _times_from_jd(jd, fr)
        else:
            jd1 = np.atleast_1d(np.asarray(jd, dtype=np.float64))
            fr1 = np.atleast_1d(np.asarray(fr, dtype=np.float64))
            jd1, fr1 = np.broadcast_arrays(jd1, fr1)
            z = np.zeros(jd1.shape)
            times = TimeGrid(
                time=np.zeros(jd1.shape, "datetime64[ns]"),
                jd=jd1.copy(),
                fr=fr1.copy(),
                ut1_jd=z,
                ut1_fr=z,
                xp=z,
                yp=z,
                sprime=z,
            )
    params, init_err = sgp4_params(elements)
    return propagate_params(params, init_err, times, frame)


def iter_propagate(
    elements: ElementSet,
    times: TimeGrid,
    chunk_steps: int,
    *,
    frame: str = "teme",
    reuse_buffers: bool = False,
    velocities: bool = True,
) -> Iterator:
    """Propagate in time chunks: yields ``(chunk: TimeGrid, e, r, v)`` with at most ``chunk_steps`` steps each.

    Memory holds one chunk at a time: ``nsat × chunk_steps × 49`` bytes. The satellites are
    initialised once; the concatenation of the chunks equals ``propagate(elements, times)``.
    reuse_buffers : write every chunk into the same arrays (no fresh allocation per chunk; the
        yielded arrays are overwritten by the next chunk, so copy what you keep)
    velocities : False skips rotating velocities to ITRS (``v`` then stays in TEME: positions-only
        consumers such as the coverage engine save the work)
    """
    frame = _check_frame(frame)
    params, init_err = sgp4_params(elements)
    buffers = None
    for chunk in times.chunks(int(chunk_steps)):
        e, r, v = propagate_params(params, init_err, chunk, frame, buffers=buffers, velocities=velocities)
        if reuse_buffers:
            buffers = (e, r, v)
        yield chunk, e, r, v
