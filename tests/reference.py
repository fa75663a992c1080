"""Brute-force references and shared inputs for the kernel tests (imported as ``reference``).

The references test every satellite against every cell with NumPy, elementwise, using the same float64
expressions as the kernels' exact test (:func:`orbitshare.kernels.footprint.cell_visible_exact`), so
counts agree bit for bit; they are slow (O(nsat · ntime · ncells)) and meant for small grids. Units:
km (ITRS positions), rad, Mbps.
"""

import numpy as np

from orbitshare.constants import WGS84_A_KM, WGS84_E2
from orbitshare.kernels.chunkstate import ChunkState


# --------------------------------------------------------------------------- visibility counts
def brute_force_counts(r, system, nsys, sin_mask, pxy, pz, nxy, nz, cos_lon, sin_lon, err=None, sat_chunk=64):
    """Reference: per-step counts int32[nsys, ntime, nlat, nlon] by testing every satellite against
    every cell with the exact test (same float64 expressions as
    :func:`orbitshare.kernels.footprint.cell_visible_exact`).

    sin_mask : float64[nsat], the sine of each satellite's mask. Slow: O(nsat·ntime·ncells).
    """
    r = np.asarray(r, dtype=np.float64)
    system = np.asarray(system)
    sin_mask = np.asarray(sin_mask, dtype=np.float64)
    nsat, nt = r.shape[:2]
    nlat, nlon = len(pxy), len(cos_lon)
    pxy = np.asarray(pxy, np.float64)[:, None]
    nxy = np.asarray(nxy, np.float64)[:, None]
    px = pxy * np.asarray(cos_lon, np.float64)[None, :]
    py = pxy * np.asarray(sin_lon, np.float64)[None, :]
    nx = nxy * np.asarray(cos_lon, np.float64)[None, :]
    ny = nxy * np.asarray(sin_lon, np.float64)[None, :]
    pzz = np.broadcast_to(np.asarray(pz, np.float64)[:, None], (nlat, nlon))
    nzz = np.broadcast_to(np.asarray(nz, np.float64)[:, None], (nlat, nlon))
    out = np.zeros((nsys, nt, nlat, nlon), np.int32)
    ok_all = np.isfinite(r).all(axis=2)
    if err is not None:
        ok_all &= np.asarray(err) == 0
    for k in range(nt):
        for i0 in range(0, nsat, sat_chunk):
            idx = np.arange(i0, min(nsat, i0 + sat_chunk))
            idx = idx[ok_all[idx, k]]
            if idx.size == 0:
                continue
            x = r[idx, k, 0][:, None, None]
            y = r[idx, k, 1][:, None, None]
            z = r[idx, k, 2][:, None, None]
            sm = sin_mask[idx][:, None, None]
            dx = x - px
            dy = y - py
            dz = z - pzz
            nd = nx * dx + ny * dy + nzz * dz
            d2 = dx * dx + dy * dy + dz * dz
            s2 = sm * sm
            vis = np.where(sm >= 0.0, (nd > 0.0) & (nd * nd > s2 * d2), (nd > 0.0) | (nd * nd < s2 * d2))
            sy = system[idx]
            for s in np.unique(sy):
                out[s, k] += vis[sy == s].sum(axis=0, dtype=np.int32)
    return out


def _normal_and_distance2(grid, x, y, z):
    """(n·d, |d|²) over the cells, d = (x, y, z) − cell centre (km), n the geodetic up-normal (same float64
    expressions as cell_visible_exact)."""
    pxy, pz, nxy, nz = grid.row_geometry()
    cl, sl = np.asarray(grid.cos_lon), np.asarray(grid.sin_lon)
    dx = x - pxy[:, None] * cl[None, :]
    dy = y - pxy[:, None] * sl[None, :]
    dz = z - pz[:, None]
    nd = (nxy[:, None] * cl[None, :]) * dx + (nxy[:, None] * sl[None, :]) * dy + nz[:, None] * dz
    return nd, dx * dx + dy * dy + dz * dz


def elevation_sine(grid, x, y, z):
    """float[nlat, nlon]: sine of the elevation of (x, y, z) km (ITRS) from every cell centre (geodetic up)."""
    nd, d2 = _normal_and_distance2(grid, x, y, z)
    return nd / np.sqrt(d2)


def visible_cells(grid, x, y, z, sm):
    """bool[nlat, nlon]: the exact test (same float64 expressions as cell_visible_exact)."""
    nd, d2 = _normal_and_distance2(grid, x, y, z)
    s2 = sm * sm
    if sm >= 0:
        return (nd > 0.0) & (nd * nd > s2 * d2)
    return (nd > 0.0) | (nd * nd < s2 * d2)


def brute_capacity(grid, r, system, nsys, sin_mask, cap, w, err=None):
    """(capacity_sum [nsys, nlat, nlon], delivered [nsys, nt], offered [nsys, nt], steps_any)."""
    nsat, nt = r.shape[:2]
    w = np.broadcast_to(w, (nsys,) + grid.shape)
    capsum = np.zeros((nsys,) + grid.shape)
    delivered = np.zeros((nsys, nt))
    offered = np.zeros((nsys, nt))
    anyc = np.zeros((nsys,) + grid.shape, np.int32)
    for k in range(nt):
        seen = np.zeros((nsys,) + grid.shape, bool)
        step = np.zeros((nsys,) + grid.shape)
        for q in range(nsat):
            if not np.isfinite(r[q, k]).all() or (err is not None and err[q, k] != 0):
                continue
            s = system[q]
            vis = visible_cells(grid, *r[q, k], sin_mask[q])
            seen[s] |= vis
            p = w[s][vis].sum()
            if p > 0:
                step[s][vis] += cap[q] * w[s][vis] / p
                offered[s, k] += cap[q]
        capsum += step
        delivered[:, k] = step.reshape(nsys, -1).sum(axis=1)
        anyc += seen
    return capsum, delivered, offered, anyc


def stats_from_counts(counts, min_visible):
    """Independent reference of the chunk statistics from per-step counts [nsys, nt, nlat, nlon]."""
    nsys, nt = counts.shape[:2]
    mv = np.asarray(min_visible).reshape(nsys, 1, 1)
    cov = counts >= mv[:, None]
    run = np.zeros(counts.shape[:1] + counts.shape[2:], np.int64)
    longest = np.zeros_like(run)
    inner = np.zeros_like(run)
    seen = np.zeros(run.shape, bool)
    lead = np.full(run.shape, nt)
    for k in range(nt):
        c = cov[:, k]
        inner = np.where(c & seen, np.maximum(inner, run), inner)
        lead = np.where(c & ~seen, k, lead)
        seen |= c
        run = np.where(c, 0, run + 1)
        longest = np.maximum(longest, run)
    return {
        "sum_visible": counts.sum(axis=1, dtype=np.int64),
        "steps_covered": cov.sum(axis=1),
        "lead_run": lead,
        "trail_run": run,
        "max_inner_run": np.where(seen, inner, 0),
        "all_gap": ~seen,
        "longest": longest,
    }


# --------------------------------------------------------------------------- inputs and comparisons
def geodetic_to_itrs(lat_rad, lon_rad, h_km):
    """ITRS position, km [..., 3], of geodetic latitude/longitude (rad) and height (km) on WGS84."""
    s = np.sin(lat_rad)
    n = WGS84_A_KM / np.sqrt(1 - WGS84_E2 * s * s)
    return np.stack(
        [
            (n + h_km) * np.cos(lat_rad) * np.cos(lon_rad),
            (n + h_km) * np.cos(lat_rad) * np.sin(lon_rad),
            (n * (1 - WGS84_E2) + h_km) * s,
        ],
        axis=-1,
    )


def random_positions(rng, nsat, nt, res):
    """Random satellites 300–40,000 km up, with extra ones over and near the poles, on or across
    ±180°, on cell edges and centres, and NaN rows."""
    lat = np.arcsin(rng.uniform(-1, 1, (nsat, nt)))
    lon = rng.uniform(-np.pi, np.pi, (nsat, nt))
    kind = rng.integers(0, 8, (nsat, nt))
    lat[kind == 1] = np.pi / 2 * np.sign(rng.normal(size=(kind == 1).sum()))  # over a pole
    lat[kind == 2] = np.deg2rad(rng.choice([-1, 1], (kind == 2).sum()) * rng.uniform(80, 90, (kind == 2).sum()))
    lon[kind == 3] = np.pi * rng.choice([-1.0, 1.0], (kind == 3).sum()) + rng.normal(0, 1e-3, (kind == 3).sum())
    edge = kind == 4  # on cell edges/centres
    lon[edge] = np.deg2rad(np.round(rng.uniform(-180, 180, edge.sum()) / (res / 2)) * (res / 2))
    lat[edge] = np.deg2rad(np.round(rng.uniform(-90, 90, edge.sum()) / (res / 2)) * (res / 2))
    alt = np.exp(rng.uniform(np.log(300.0), np.log(40000.0), (nsat, nt)))
    r = geodetic_to_itrs(lat, lon, alt)
    r[kind == 1, 0:2] = 0.0  # exactly on the axis
    r[rng.random((nsat, nt)) < 0.05] = np.nan
    return np.ascontiguousarray(r)


def assert_state_equal(a: ChunkState, b: ChunkState):
    """The integer statistics of two chunk states (and their counts, when both kept them) are identical."""
    assert a.nsteps == b.nsteps
    for f in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    if a.counts is not None and b.counts is not None:
        np.testing.assert_array_equal(a.counts, b.counts)
