"""The allocation inside the chunk kernel against a brute force: every satellite tested against every cell
(the exact elevation test), the pairs with demand allocated step by step with the public allocate(), the
served Mbit/s summed per cell; gateway visibility against a direct elevation computation."""

from __future__ import annotations

import numpy as np
import pytest

from orbitshare.grid import Grid
from orbitshare.kernels.allocation import RULES, allocate
from orbitshare.kernels.gateway import gateway_geometry, gateway_in_view
from orbitshare.kernels.visibility import accumulate_chunk, allocation_inputs
from reference import geodetic_to_itrs, random_positions, visible_cells


def brute_served(grid, r, system, nsys, sin_mask, sys_cap, beam, cellcap, demand, ok, rule):
    nsat, nt = r.shape[:2]
    served = np.zeros((nsys, *grid.shape))
    delivered = np.zeros((nsys, nt))
    for k in range(nt):
        ps, pc, cells = [], [], {}
        sats = []
        for q in range(nsat):
            if not ok[q, k] or not np.isfinite(r[q, k]).all():
                continue
            s = system[q]
            vis = visible_cells(grid, *r[q, k], sin_mask[q]) & (demand[s] > 0)
            idx = np.flatnonzero(vis)
            if idx.size == 0:
                continue
            sats.append(q)
            for g in idx:
                key = (s, g)
                cells.setdefault(key, len(cells))
                ps.append(len(sats) - 1)
                pc.append(cells[key])
        if not ps:
            continue
        keys = list(cells)
        x = allocate(
            np.array(ps),
            np.array(pc),
            np.array([sys_cap[system[q]] for q in sats]),
            np.array([demand[s].ravel()[g] for s, g in keys]),
            pair_capacity=np.array([beam[system[sats[a]]] for a in ps]),
            cell_capacity=np.array([cellcap[s] for s, _ in keys]),
            rule=rule,
        )
        y = np.bincount(np.array(pc), weights=x, minlength=len(keys))
        for (s, g), v in zip(keys, y, strict=True):
            served[s].ravel()[g] += v
            delivered[s, k] += v
    return served, delivered


@pytest.mark.parametrize("rule", ["maxmin", "throughput", "proportional"])
def test_the_pass_allocates_what_the_brute_force_allocates(rule):
    rng = np.random.default_rng(5)
    grid = Grid(5.0)
    nsys, nsat, nt = 2, 24, 4
    r = random_positions(rng, nsat, nt, 5.0)
    system = (np.arange(nsat) % nsys).astype(np.int32)
    mask = np.radians([10.0, 25.0])
    demand = rng.uniform(0, 5000, (nsys, *grid.shape)) * (rng.random((nsys, *grid.shape)) < 0.6)
    sys_cap, beam, cellcap = np.array([8000.0, 3000.0]), np.array([2000.0, 1500.0]), np.array([4000.0, 1500.0])
    alloc = allocation_inputs(RULES.index(rule), system, sys_cap, beam, cellcap, demand, [None, None], [0.0, 0.0])
    pxy, pz, nxy, nz = grid.row_geometry()
    st = accumulate_chunk(
        r, system, mask, np.ones(nsys, np.int32), pxy, pz, nxy, nz, grid.lon_rad,
        cos_lon=grid.cos_lon, sin_lon=grid.sin_lon, allocation=alloc,
    )  # fmt: skip
    ok = np.ones((nsat, nt), bool)
    served, delivered = brute_served(grid, r, system, nsys, np.sin(mask)[system], sys_cap, beam, cellcap, demand, ok,
                                     rule)  # fmt: skip
    assert served.sum() > 0
    if rule == "throughput":  # a maximum flow: the totals are unique, the split is not
        np.testing.assert_allclose(st.delivered, delivered, rtol=1e-9, atol=1e-6)
    else:
        np.testing.assert_allclose(st.capacity_sum, served, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(st.delivered, delivered, rtol=1e-9, atol=1e-6)
    assert np.all(st.capacity_sum <= nt * demand * (1 + 1e-12) + 1e-9) or rule == "proportional"
    valid = np.isfinite(r).all(axis=2)  # [nsat, nt]: satellites with a position offer their capacity
    offered = np.stack([valid[system == s].sum(axis=0) * sys_cap[s] for s in range(nsys)])
    np.testing.assert_allclose(st.offered, offered, rtol=1e-12)


def test_gateway_visibility_is_the_elevation_test():
    rng = np.random.default_rng(3)
    lat = rng.uniform(-80, 80, 7)
    lon = rng.uniform(-180, 180, 7)
    pos, up = gateway_geometry(lat, lon)
    np.testing.assert_allclose(pos, geodetic_to_itrs(np.radians(lat), np.radians(lon), 0.0)[..., :3], rtol=1e-13)
    r = random_positions(rng, 30, 4, 5.0)
    sat_sys = np.zeros(30, np.int32)
    sat_sys[20:] = 1
    err = np.zeros((30, 4), np.uint8)
    err[3, 2] = 1
    mask = np.radians([20.0, 0.0])
    ok = gateway_in_view(r, err, sat_sys, np.array([False, True]), np.array([0, 7, 7]), pos, up, mask)
    for q in range(30):
        for k in range(4):
            if sat_sys[q] == 1:
                expect = np.isfinite(r[q, k]).all()
            else:
                d = r[q, k] - pos
                elev = np.degrees(np.arcsin(np.sum(d * up, axis=1) / np.linalg.norm(d, axis=1)))
                expect = bool(np.any(elev >= 20.0)) and err[q, k] == 0
            assert ok[q, k] == expect, (q, k)
    assert not ok[3, 2]


def test_a_satellite_without_a_gateway_delivers_nothing():
    grid = Grid(5.0)
    pxy, pz, nxy, nz = grid.row_geometry()
    # one satellite 550 km above (0 N, 0 E); a gateway at (0, 0) sees it, one at (0, 120 E) does not
    r = geodetic_to_itrs(np.radians([[0.0]]), np.radians([[0.0]]), 550.0)[..., :3].reshape(1, 1, 3)
    demand = np.zeros((1, *grid.shape))
    demand[0, 18, 36] = 100.0  # the cell at the sub-satellite point (lat 0-5, lon 0-5)
    out = []
    for site in ((0.0, 0.0), (0.0, 120.0)):
        a = allocation_inputs(0, np.zeros(1, np.int32), [1000.0], [1000.0], [1000.0], demand,
                              [(np.array([site[0]]), np.array([site[1]]))], np.radians([25.0]))  # fmt: skip
        st = accumulate_chunk(r, np.zeros(1, np.int32), np.radians([25.0]), np.ones(1, np.int32), pxy, pz, nxy, nz,
                              grid.lon_rad, cos_lon=grid.cos_lon, sin_lon=grid.sin_lon, allocation=a)  # fmt: skip
        out.append((st.capacity_sum.sum(), st.offered.sum()))
    assert out[0] == (100.0, 1000.0)
    assert out[1] == (0.0, 0.0)
