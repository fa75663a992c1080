"""Gateway visibility: may a satellite deliver at a step (a gateway of its system in view)?

A bent-pipe satellite relays its users' traffic to a gateway (feeder link), so it delivers only while at
least one gateway of its system sees it above the gateway elevation mask. Gateways are points on the
WGS84 ellipsoid (height 0); the test is the same elevation test as the cells' (km, ITRS)::

    d = r − g;   elevation ≥ mask  ⇔  d · n ≥ |d| sin(mask)

with n the gateway's geodetic up-normal. A system without gateway sites ("anywhere") or with
inter-satellite links delivers at every valid step.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange
from numpy.typing import ArrayLike

from orbitshare._jit import pjit
from orbitshare.constants import WGS84_A_KM, WGS84_E2
from orbitshare.errors import ParameterError

__all__ = ["gateway_geometry", "gateway_in_view"]


def gateway_geometry(lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """ITRS positions (km) and unit geodetic up-normals of sites on the WGS84 surface, float64[n, 3] each."""
    phi = np.radians(np.asarray(lat_deg, np.float64).reshape(-1))
    lam = np.radians(np.asarray(lon_deg, np.float64).reshape(-1))
    if phi.shape != lam.shape:
        raise ParameterError(f"gateway sites: {phi.size} latitudes but {lam.size} longitudes")
    s, c = np.sin(phi), np.cos(phi)
    n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * s * s)
    pos = np.stack([n * c * np.cos(lam), n * c * np.sin(lam), n * (1.0 - WGS84_E2) * s], axis=1)
    up = np.stack([c * np.cos(lam), c * np.sin(lam), s], axis=1)
    return np.ascontiguousarray(pos), np.ascontiguousarray(up)


@pjit
def _in_view(r, err, sat_sys, free, gw_ptr, gw_pos, gw_up, sin_mask, out):
    nsat, nt = r.shape[0], r.shape[1]
    for isat in prange(nsat):
        ss = sat_sys[isat]
        g0 = gw_ptr[ss]
        g1 = gw_ptr[ss + 1]
        sm = sin_mask[ss]
        for k in range(nt):
            if err[isat, k] != 0:
                out[isat, k] = False
                continue
            x = r[isat, k, 0]
            y = r[isat, k, 1]
            z = r[isat, k, 2]
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
                out[isat, k] = False
                continue
            if free[ss]:
                out[isat, k] = True
                continue
            ok = False
            for g in range(g0, g1):
                dx = x - gw_pos[g, 0]
                dy = y - gw_pos[g, 1]
                dz = z - gw_pos[g, 2]
                up = dx * gw_up[g, 0] + dy * gw_up[g, 1] + dz * gw_up[g, 2]
                if up >= math.sqrt(dx * dx + dy * dy + dz * dz) * sm:
                    ok = True
                    break
            out[isat, k] = ok


def gateway_in_view(
    r: np.ndarray,
    err: np.ndarray,
    sat_sys: np.ndarray,
    free: np.ndarray,
    gw_ptr: np.ndarray,
    gw_pos: np.ndarray,
    gw_up: np.ndarray,
    gw_mask_rad: np.ndarray,
) -> np.ndarray:
    """bool[nsat, ntime]: the satellite may deliver (valid position, and ISL/"anywhere" or a gateway in view).

    r : float64[nsat, ntime, 3] ITRS km; err : uint8[nsat, ntime] (nonzero: no position);
    sat_sys : int32[nsat]; free : bool[nsys] (no gateway condition); gw_ptr : int64[nsys + 1] (system s's
    gateways are rows gw_ptr[s]:gw_ptr[s+1] of gw_pos / gw_up, :func:`gateway_geometry`);
    gw_mask_rad : float64[nsys] gateway elevation masks, rad."""
    out = np.empty(r.shape[:2], np.bool_)
    _in_view(
        r,
        err,
        sat_sys,
        np.ascontiguousarray(free, np.bool_),
        np.ascontiguousarray(gw_ptr, np.int64),
        np.ascontiguousarray(gw_pos, np.float64).reshape(-1, 3),
        np.ascontiguousarray(gw_up, np.float64).reshape(-1, 3),
        np.sin(np.asarray(gw_mask_rad, np.float64)),
        out,
    )
    return out
