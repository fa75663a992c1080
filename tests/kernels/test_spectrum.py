"""orbitshare.kernels.spectrum against a NumPy brute force: every satellite at every cell centre (the exact
elevation test), the highest satellite per system, the angle between two systems' serving satellites, and
the segment split written out again here; closed forms for identical systems."""

import math

import numpy as np
import pytest

import orbitshare
from orbitshare.elements.elementset import ElementSet
from orbitshare.engine.propagation import propagate_params, sgp4_params
from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.kernels.spectrum import bands_overlap, segment_table, spectrum_chunk, spectrum_inputs
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"


def _positions(shells, nt=12, step_s=120.0):
    times = time_grid("2026-08-18T00:30:00Z", "2026-08-18T03:00:00Z", step_s)[:nt]
    els = ElementSet.concat(shells)
    params, init_err = sgp4_params(els)
    e, r, _ = propagate_params(params, init_err, times, "itrs", velocities=False)
    sat_sys = np.concatenate([np.full(len(s), i, np.int32) for i, s in enumerate(shells)])
    return r, e, sat_sys


def _brute(r, e, sat_sys, nsys, sin_mask, grid, bands, share, inline_deg, split):
    """(effective_sum, inline_steps, union_sum) by testing every satellite against every cell."""
    pxy, pz, nxy, nz = (np.asarray(a) for a in grid.row_geometry())
    cl, sl = np.asarray(grid.cos_lon), np.asarray(grid.sin_lon)
    px = pxy[:, None] * cl[None, :]
    py = pxy[:, None] * sl[None, :]
    pzz = np.broadcast_to(pz[:, None], px.shape)
    nlat, nlon = px.shape
    # segments between every band edge, written out independently of segment_table
    edges = sorted({x for sb in bands for b in sb for x in b})
    segs = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=False)]
    nb = max(len(sb) for sb in bands)
    eff = np.zeros((nsys, nb, nlat, nlon))
    inl = np.zeros((nsys, nlat, nlon), np.int64)
    uni = np.zeros((nlat, nlon))
    cosi = math.cos(math.radians(inline_deg))
    for k in range(r.shape[1]):
        best = np.full((nsys, nlat, nlon), -np.inf)
        bsat = np.full((nsys, nlat, nlon), -1)
        for isat in range(r.shape[0]):
            if e[isat, k] or not np.isfinite(r[isat, k]).all():
                continue
            x, y, z = r[isat, k]
            dx, dy, dz = x - px, y - py, z - pzz
            nd = (nxy[:, None] * cl[None, :]) * dx + (nxy[:, None] * sl[None, :]) * dy + nz[:, None] * dz
            d2 = dx * dx + dy * dy + dz * dz
            sm = sin_mask[isat]
            vis = (nd > 0) & (nd * nd > sm * sm * d2) if sm >= 0 else (nd > 0) | (nd * nd < sm * sm * d2)
            el = nd / np.sqrt(d2)
            s = sat_sys[isat]
            upd = vis & ((bsat[s] < 0) | (el > best[s]))
            best[s][upd] = el[upd]
            bsat[s][upd] = isat
        for i in range(nlat):
            for j in range(nlon):
                dirs = {}
                for s in range(nsys):
                    if bsat[s, i, j] >= 0:
                        d = r[bsat[s, i, j], k] - np.array([px[i, j], py[i, j], pzz[i, j]])
                        dirs[s] = d / np.linalg.norm(d)
                edge = set()
                for s in dirs:
                    for t in dirs:
                        ov = any(max(a[0], b[0]) < min(a[1], b[1]) for a in bands[s] for b in bands[t])
                        if s < t and ov and float(dirs[s] @ dirs[t]) > cosi:
                            edge.add((s, t))
                for s in {a for p in edge for a in p}:
                    inl[s, i, j] += 1
                for lo, hi in segs:
                    users = [s for s in dirs if any(b[0] <= lo and hi <= b[1] for b in bands[s])]
                    if not users:
                        continue
                    uni[i, j] += (hi - lo) * max(share[s, i, j] for s in users)
                    # groups: connected components by repeated relaxation
                    lab = {s: s for s in users}
                    for _ in users:
                        for s, t in edge:
                            if s in lab and t in lab:
                                m = min(lab[s], lab[t])
                                lab[s] = lab[t] = m
                    for s in users:
                        group = [t for t in users if lab[t] == lab[s]]
                        v = (hi - lo) / len(group) if split == "equal" else ((hi - lo) if s == min(group) else 0.0)
                        for b, (blo, bhi) in enumerate(bands[s]):
                            if blo <= lo and hi <= bhi:
                                eff[s, b, i, j] += v
    return eff, inl, uni


def _run(r, e, sat_sys, sin_mask, grid, bands, share, inline_deg, split, nblocks=None):
    _, width, in_band = segment_table(bands)
    inp = spectrum_inputs(in_band, width, share, inline_deg, split)
    pxy, pz, nxy, nz = grid.row_geometry()
    return spectrum_chunk(
        r, sat_sys, sin_mask, pxy, pz, nxy, nz, grid.lon_rad, grid.cos_lon, grid.sin_lon, inp, err=e, nblocks=nblocks
    )


@pytest.fixture(scope="module")
def two_shells():
    a = orbitshare.walker(550.0, 53.0, 6, 6, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1100.0, 70.0, 4, 5, 2, EPOCH, raan0_deg=17.0, norad_start=910000, name_prefix="B")
    return [a, b]


@pytest.mark.parametrize("split", ["equal", "priority"])
def test_against_brute_force(two_shells, split):
    grid = Grid(5.0)
    r, e, sat_sys = _positions(two_shells)
    sin_mask = np.sin(np.radians(np.where(sat_sys == 0, 25.0, 10.0)))
    bands = [[(10700.0, 12700.0), (17700.0, 18600.0)], [(10950.0, 12750.0)]]
    rng = np.random.default_rng(3)
    share = np.where(rng.random((2, grid.nlat, grid.nlon)) < 0.3, 0.0, rng.random((2, grid.nlat, grid.nlon)))
    eff, inl, uni = _run(r, e, sat_sys, sin_mask, grid, bands, share, 30.0, split)
    beff, binl, buni = _brute(r, e, sat_sys, 2, sin_mask, grid, bands, share, 30.0, split)
    assert binl.sum() > 10  # the test sees in-line events
    np.testing.assert_array_equal(inl, binl)
    np.testing.assert_allclose(eff, beff, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(uni, buni, rtol=1e-12, atol=1e-9)
    # the union never exceeds the physical union width (3,000 MHz here) per step
    assert uni.max() <= 2050.0 * r.shape[1] + 900.0 * r.shape[1]


def test_identical_systems_closed_forms(two_shells):
    """The same elements twice on one band: every in-view step is in line; equal → W/2, priority → W and 0;
    the union is W (exactly 2,000 MHz) wherever both are in view."""
    a = two_shells[0]
    grid = Grid(5.0)
    r, e, sat_sys = _positions([a, a], nt=8)
    sin_mask = np.full(len(sat_sys), math.sin(math.radians(25.0)))
    bands = [[(10700.0, 12700.0)], [(10700.0, 12700.0)]]
    share = np.ones((2, grid.nlat, grid.nlon))
    one_r, one_e, _ = _positions([a], nt=8)
    from orbitshare.kernels.visibility import accumulate_chunk

    pxy, pz, nxy, nz = grid.row_geometry()
    st = accumulate_chunk(
        one_r, np.zeros(len(a), np.int32), [math.radians(25.0)], [1], pxy, pz, nxy, nz, grid.lon_rad,
        err=one_e, count_any=True,
    )  # fmt: skip
    n_any = st.steps_any[0]
    assert n_any.sum() > 0
    eff, inl, uni = _run(r, e, sat_sys, sin_mask, grid, bands, share, 10.0, "equal")
    np.testing.assert_array_equal(inl[0], n_any)
    np.testing.assert_array_equal(inl[1], n_any)
    np.testing.assert_array_equal(eff[0, 0], 1000.0 * n_any)
    np.testing.assert_array_equal(eff[1, 0], 1000.0 * n_any)
    np.testing.assert_array_equal(uni, 2000.0 * n_any)
    eff, inl, uni = _run(r, e, sat_sys, sin_mask, grid, bands, share, 10.0, "priority")
    np.testing.assert_array_equal(eff[0, 0], 2000.0 * n_any)
    np.testing.assert_array_equal(eff[1, 0], 0.0 * n_any)


def test_block_partition_integer_parts(two_shells):
    grid = Grid(5.0)
    r, e, sat_sys = _positions(two_shells)
    sin_mask = np.full(len(sat_sys), 0.3)
    bands = [[(10700.0, 12700.0)], [(10950.0, 12750.0)]]
    share = np.ones((2, grid.nlat, grid.nlon))
    a = _run(r, e, sat_sys, sin_mask, grid, bands, share, 20.0, "equal", nblocks=1)
    b = _run(r, e, sat_sys, sin_mask, grid, bands, share, 20.0, "equal", nblocks=5)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-13)


def test_segments_and_overlap():
    edges, width, in_band = segment_table([[(10.0, 20.0)], [(15.0, 30.0), (40.0, 50.0)]])
    np.testing.assert_array_equal(edges, [10, 15, 20, 30, 40, 50])
    np.testing.assert_array_equal(width, [5, 5, 10, 10, 10])
    np.testing.assert_array_equal(in_band[1, 0], [False, True, True, False, False])
    np.testing.assert_array_equal(in_band[1, 1], [False, False, False, False, True])
    assert bands_overlap([[(10.0, 20.0)], [(15.0, 30.0)]])
    assert not bands_overlap([[(10.0, 20.0)], [(20.0, 30.0)]])
    assert not bands_overlap([[(10.0, 20.0), (15.0, 18.0)]])  # one system's own bands never compete


def test_inputs_checked():
    with pytest.raises(ParameterError, match="split"):
        spectrum_inputs(np.ones((1, 1, 1), bool), [1.0], np.ones((1, 2, 2)), 10.0, "fair")
    with pytest.raises(ParameterError, match="inline_angle_deg"):
        spectrum_inputs(np.ones((1, 1, 1), bool), [1.0], np.ones((1, 2, 2)), 0.0, "equal")
