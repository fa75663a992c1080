"""Frame kernels: TEME (SGP4's frame) to ITRS (Earth-fixed), as Skyfield does it.

r_ITRS = W · R_z(-θ) · r_TEME, with θ the Greenwich mean sidereal angle of 1982 (AIAA 2006-6753
Appendix C) from UT1 and W = R_x(yp) · R_y(xp) · R_z(-s') the polar-motion matrix. Velocities add
the Earth-rotation term: v_PEF = R_z(-θ) v_TEME - θ' ẑ × r_PEF. Time-only terms are computed once
per step and shared by all satellites.
"""

import math

import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from orbitshare._jit import njit, pjit

_TWOPI = 2.0 * math.pi
_JD_J2000 = 2451545.0
_SEC_PER_DAY = 86400.0


@njit
def gmst1982(ut1_jd: float, ut1_fr: float):
    """Greenwich mean sidereal angle (rad, in [0, 2π)) and its rate (rad/s) from UT1 (jd, fr days)."""
    t = (ut1_jd - _JD_J2000 + ut1_fr) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    dg = 8640184.812866 + (0.093104 * 2.0 + (-6.2e-6 * 3.0) * t) * t
    frac = (ut1_jd % 1.0 + ut1_fr + (g / _SEC_PER_DAY) % 1.0) % 1.0
    theta = frac * _TWOPI
    theta_dot = (1.0 + dg / (_SEC_PER_DAY * 36525.0)) * _TWOPI / _SEC_PER_DAY
    return theta, theta_dot


@njit
def itrs_rotations(ut1_jd, ut1_fr, xp, yp, sprime):
    """Per-step TEME→ITRS terms.

    ut1_jd, ut1_fr : float64[ntime], days (UT1)
    xp, yp, sprime : float64[ntime], rad (polar motion, TIO locator)
    Returns (m float64[ntime, 3, 3] = W·R_z(-θ), w float64[ntime, 3, 3] = W, theta_dot float64[ntime] rad/s).
    """
    nt = ut1_jd.shape[0]
    m = np.empty((nt, 3, 3))
    w = np.empty((nt, 3, 3))
    thd = np.empty(nt)
    for k in range(nt):
        theta, theta_dot = gmst1982(ut1_jd[k], ut1_fr[k])
        thd[k] = theta_dot
        ct, st = math.cos(theta), math.sin(theta)
        # R = R_z(-θ): [[c, s, 0], [-s, c, 0], [0, 0, 1]]
        cx, sx = math.cos(yp[k]), math.sin(yp[k])
        cy, sy = math.cos(xp[k]), math.sin(xp[k])
        cz, sz = math.cos(-sprime[k]), math.sin(-sprime[k])
        # rot_x(a) = [[1,0,0],[0,c,-s],[0,s,c]]; rot_y(a) = [[c,0,s],[0,1,0],[-s,0,c]];
        # rot_z(a) = [[c,-s,0],[s,c,0],[0,0,1]]  (Skyfield's conventions)
        rx = np.array(((1.0, 0.0, 0.0), (0.0, cx, -sx), (0.0, sx, cx)))
        ry = np.array(((cy, 0.0, sy), (0.0, 1.0, 0.0), (-sy, 0.0, cy)))
        rz = np.array(((cz, -sz, 0.0), (sz, cz, 0.0), (0.0, 0.0, 1.0)))
        r = np.array(((ct, st, 0.0), (-st, ct, 0.0), (0.0, 0.0, 1.0)))
        # No slice assignment from an array here: it would make Numba compile its shape-error
        # formatting (~4 s of a cold first run).
        wxy = _matmul3(rx, ry, np.empty((3, 3)))
        _matmul3(wxy, rz, w[k])
        _matmul3(w[k], r, m[k])
    return m, w, thd


@njit
def _matmul3(a, b, out):
    """out = a · b for 3×3 matrices (no BLAS, so it also compiles as a device function)."""
    for i in range(3):
        for j in range(3):
            out[i, j] = a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + a[i, 2] * b[2, j]
    return out


@njit
def _rotate_one(m, w, thd, r, v, out_r, out_v):
    x = m[0, 0] * r[0] + m[0, 1] * r[1] + m[0, 2] * r[2]
    y = m[1, 0] * r[0] + m[1, 1] * r[1] + m[1, 2] * r[2]
    z = m[2, 0] * r[0] + m[2, 1] * r[1] + m[2, 2] * r[2]
    # Earth-rotation term W · (θ' y_pef, -θ' x_pef, 0), with r_PEF = W^T r_ITRS.
    xp_ = w[0, 0] * x + w[1, 0] * y + w[2, 0] * z
    yp_ = w[0, 1] * x + w[1, 1] * y + w[2, 1] * z
    ex = thd * yp_
    ey = -thd * xp_
    vx = m[0, 0] * v[0] + m[0, 1] * v[1] + m[0, 2] * v[2] + w[0, 0] * ex + w[0, 1] * ey
    vy = m[1, 0] * v[0] + m[1, 1] * v[1] + m[1, 2] * v[2] + w[1, 0] * ex + w[1, 1] * ey
    vz = m[2, 0] * v[0] + m[2, 1] * v[1] + m[2, 2] * v[2] + w[2, 0] * ex + w[2, 1] * ey
    out_r[0] = x
    out_r[1] = y
    out_r[2] = z
    out_v[0] = vx
    out_v[1] = vy
    out_v[2] = vz


@pjit
def teme_to_itrs_into(r, v, m, w, theta_dot):
    """Rotate TEME states to ITRS in place.

    r, v : float64[nsat, ntime, 3], km and km/s, TEME in → ITRS out
    m, w : float64[ntime, 3, 3] from ``itrs_rotations``; theta_dot : float64[ntime] rad/s
    """
    nsat, nt = r.shape[0], r.shape[1]
    for i in prange(nsat):
        rr = np.empty(3)
        vv = np.empty(3)
        for k in range(nt):
            rr[0] = r[i, k, 0]
            rr[1] = r[i, k, 1]
            rr[2] = r[i, k, 2]
            vv[0] = v[i, k, 0]
            vv[1] = v[i, k, 1]
            vv[2] = v[i, k, 2]
            _rotate_one(m[k], w[k], theta_dot[k], rr, vv, r[i, k], v[i, k])


@pjit
def teme_to_itrs_positions_into(r, m):
    """Rotate TEME positions to ITRS in place (no velocities).

    r : float64[nsat, ntime, 3], km, TEME in → ITRS out; m : float64[ntime, 3, 3] from ``itrs_rotations``
    """
    nsat, nt = r.shape[0], r.shape[1]
    for i in prange(nsat):
        for k in range(nt):
            x, y, z = r[i, k, 0], r[i, k, 1], r[i, k, 2]
            r[i, k, 0] = m[k, 0, 0] * x + m[k, 0, 1] * y + m[k, 0, 2] * z
            r[i, k, 1] = m[k, 1, 0] * x + m[k, 1, 1] * y + m[k, 1, 2] * z
            r[i, k, 2] = m[k, 2, 0] * x + m[k, 2, 1] * y + m[k, 2, 2] * z


def teme_to_itrs(
    r: ArrayLike,
    v: ArrayLike,
    ut1_jd: ArrayLike,
    ut1_fr: ArrayLike,
    xp: ArrayLike,
    yp: ArrayLike,
    sprime: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """TEME → ITRS for states ``r, v : float64[nsat, ntime, 3]`` (km, km/s); returns new arrays.

    ut1_jd, ut1_fr : float64[ntime] days; xp, yp, sprime : float64[ntime] rad.
    """
    r2 = np.array(r, dtype=np.float64, order="C", copy=True)
    v2 = np.array(v, dtype=np.float64, order="C", copy=True)
    m, w, thd = itrs_rotations(*(np.ascontiguousarray(a, dtype=np.float64) for a in (ut1_jd, ut1_fr, xp, yp, sprime)))
    teme_to_itrs_into(r2, v2, m, w, thd)
    return r2, v2
