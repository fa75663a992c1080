"""Capacity accumulation of the visibility kernel against a NumPy brute force.

The reference tests every satellite against every cell with the exact elevation test, then for each
satellite and step sums the weights of the cells it sees (P), and gives each of them cap·w/P. The
kernel computes P from per-row prefix sums over its exact row intervals and adds cap/P through
difference arrays; both are float sums in different orders, so they agree to ~1e-15 relative (we
assert 1e-9). Zeros are exact: a cell the system cannot serve (w = 0) or that sees no satellite gets
exactly 0.
"""

import math

import numba
import numpy as np
import pytest

from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.kernels import visibility
from orbitshare.kernels.chunkstate import empty_chunk_state, merge_chunk_states
from orbitshare.kernels.visibility import CAPACITY_TIME_BLOCKS, accumulate_chunk
from reference import assert_state_equal, brute_capacity, random_positions, visible_cells

GEO_R_KM = 42164.0


# --------------------------------------------------------------------------- helpers (references: tests/reference.py)
def run(grid, r, system, nsys, sat_mask_rad, cap, w, **kw):
    pxy, pz, nxy, nz = grid.row_geometry()
    return accumulate_chunk(
        r,
        system,
        np.zeros(nsys),
        np.ones(nsys, np.int32),
        pxy,
        pz,
        nxy,
        nz,
        grid.lon_rad,
        cos_lon=grid.cos_lon,
        sin_lon=grid.sin_lon,
        sat_mask_rad=sat_mask_rad,
        capacity_per_sat=cap,
        weight=w,
        **kw,
    )


def heavy_weights(rng, grid, nsys):
    """Lognormal weights over ~9 decades, whole rows and blocks of zeros, a different restriction per
    system (like landing rights)."""
    w = np.exp(rng.normal(0, 4, grid.shape))
    w[rng.random(grid.shape) < 0.3] = 0.0
    w[: grid.nlat // 6] = 0.0  # an uninhabited south
    ws = np.repeat(w[None], nsys, axis=0)
    ws[1, :, : grid.nlon // 2] = 0.0  # system 1 may serve the eastern half only
    if nsys > 2:
        ws[2] *= rng.uniform(0, 1, grid.shape)  # system 2: fractional served shares
    return ws


def assert_capacity_close(got, ref, rtol=1e-9):
    np.testing.assert_array_equal(got == 0, ref == 0)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


# --------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("res,seed,nt", [(5.0, 0, 4), (5.0, 1, 3), (2.0, 2, 2), (2.0, 3, 2)])
def test_capacity_equals_brute_force(res, seed, nt):
    rng = np.random.default_rng(seed)
    g = Grid(res)
    nsat, nsys = 40, 3
    r = random_positions(rng, nsat, nt, res)  # poles, the polar axis, ±180°, cell edges, NaN rows
    system = rng.integers(0, nsys, nsat).astype(np.int32)
    mask = np.deg2rad(rng.uniform(0, 40, nsat))
    mask[rng.random(nsat) < 0.1] = np.deg2rad(-rng.uniform(0, 10))
    cap = rng.uniform(100, 20000, nsat)
    w = heavy_weights(rng, g, nsys)
    st = run(g, r, system, nsys, mask, cap, w, count_any=True)
    capsum, delivered, offered, anyc = brute_capacity(g, r, system, nsys, np.sin(mask), cap, w)
    assert (capsum > 0).sum() > 50 and (offered > 0).all()
    assert_capacity_close(st.capacity_sum, capsum)
    np.testing.assert_allclose(st.delivered, delivered, rtol=1e-9, atol=0)
    np.testing.assert_allclose(st.offered, offered, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(st.steps_any, anyc)
    # conservation at every step: what the cells receive is what the serving satellites offer
    np.testing.assert_allclose(st.delivered, st.offered, rtol=1e-12, atol=0)
    # the visibility statistics are those of a run without capacity
    pxy, pz, nxy, nz = g.row_geometry()
    plain = accumulate_chunk(
        r,
        system,
        np.zeros(nsys),
        np.ones(nsys, np.int32),
        pxy,
        pz,
        nxy,
        nz,
        g.lon_rad,
        cos_lon=g.cos_lon,
        sin_lon=g.sin_lon,
        sat_mask_rad=mask,
    )
    assert_state_equal(st, plain)
    np.testing.assert_array_equal(st.steps_any, plain.steps_covered)  # min_visible = 1


def test_min_visible_above_one_counts_steps_with_any_satellite_separately():
    rng = np.random.default_rng(5)
    g = Grid(5.0)
    nsat, nt = 20, 5
    r = random_positions(rng, nsat, nt, 5.0)
    system = rng.integers(0, 2, nsat).astype(np.int32)
    pxy, pz, nxy, nz = g.row_geometry()
    st = accumulate_chunk(
        r,
        system,
        np.deg2rad([5.0, 10.0]),
        np.array([2, 3], np.int32),
        pxy,
        pz,
        nxy,
        nz,
        g.lon_rad,
        cos_lon=g.cos_lon,
        sin_lon=g.sin_lon,
        count_any=True,
        keep_counts=True,
    )
    np.testing.assert_array_equal(st.steps_any, (st.counts >= 1).sum(axis=1))
    assert (st.steps_any > st.steps_covered).any()


def test_single_satellite_shares_equally_over_uniform_weights():
    g = Grid(2.0)
    lon = math.radians(33.0)
    r = np.array([[[GEO_R_KM * math.cos(lon), GEO_R_KM * math.sin(lon), 0.0]] * 2])
    st = run(g, r, np.array([0]), 1, np.array([math.radians(10.0)]), np.array([1000.0]), np.ones(g.shape))
    vis = visible_cells(g, *r[0, 0], math.sin(math.radians(10.0)))
    n = vis.sum()
    assert 100 < n < g.nlat * g.nlon
    np.testing.assert_allclose(st.capacity_sum[0][vis], 2 * 1000.0 / n, rtol=1e-13)
    assert (st.capacity_sum[0][~vis] == 0).all()
    np.testing.assert_allclose(st.delivered[0], [1000.0, 1000.0], rtol=1e-13)
    assert st.offered[0].tolist() == [1000.0, 1000.0]


def test_satellite_seeing_no_weight_delivers_nothing():
    g = Grid(5.0)
    r = np.array([[[GEO_R_KM, 0.0, 0.0]], [[-GEO_R_KM, 0.0, 0.0]]])
    w = np.zeros(g.shape)
    w[:, : g.nlon // 2] = 1.0  # the western hemisphere only: the satellite over 180° sees some of it
    w[:, g.nlon // 4 : 3 * g.nlon // 4] = 0.0  # ... but not this band; the one over 0° sees none
    st = run(g, r, np.array([0, 0]), 1, np.zeros(2), np.array([10.0, 20.0]), w)
    assert st.offered[0].tolist() == [20.0]
    np.testing.assert_allclose(st.delivered[0], [20.0], rtol=1e-14)
    assert st.capacity_sum[0][w == 0].max() == 0.0


def test_whole_rows_and_the_polar_axis():
    """A satellite on the polar axis (every row degenerate or whole) and a high one seeing whole rows."""
    g = Grid(5.0)
    r = np.array([[[0.0, 0.0, 9000.0]], [[0.0, 0.0, -7000.0]], [[1e-3, 0.0, 60000.0]]])
    rng = np.random.default_rng(4)
    w = rng.uniform(0, 5, g.shape)
    mask = np.deg2rad([0.0, 20.0, 5.0])
    cap = np.array([1.0, 2.0, 4.0])
    st = run(g, r, np.array([0, 0, 1]), 2, mask, cap, w)
    capsum, delivered, offered, _ = brute_capacity(g, r, np.array([0, 0, 1]), 2, np.sin(mask), cap, w)
    assert_capacity_close(st.capacity_sum, capsum)
    np.testing.assert_allclose(st.delivered, delivered, rtol=1e-12)
    assert st.offered.tolist() == offered.tolist() == [[3.0], [4.0]]


def test_degenerate_row_partly_visible_is_shared_cell_by_cell():
    """A satellite 0.1 m from the polar axis makes every row degenerate (tested cell by cell); with the
    mask set to the elevation seen from one row at ±90° of the satellite's longitude, about half that
    row sees it, which no interval bookkeeping could describe as a whole row."""
    g = Grid(5.0)
    x, z = 1e-4, 9000.0
    i = 25
    pxy, pz, nxy, nz = g.row_geometry()
    # elevation from the cell of row i on the meridian at 90° E (d ⊥ the satellite's longitude)
    d = np.array([x, -pxy[i], z - pz[i]])
    n = np.array([0.0, nxy[i], nz[i]])
    mask = math.asin(n @ d / np.linalg.norm(d))
    r = np.array([[[x, 0.0, z]]])
    vis = visible_cells(g, x, 0.0, z, math.sin(mask))
    assert 0 < vis[i].sum() < g.nlon  # a partly visible degenerate row
    w = np.random.default_rng(0).uniform(0, 1, g.shape)
    st = run(g, r, np.array([0]), 1, np.array([mask]), np.array([50.0]), w)
    capsum, delivered, offered, _ = brute_capacity(g, r, np.array([0]), 1, np.sin([mask]), np.array([50.0]), w)
    assert_capacity_close(st.capacity_sum, capsum)
    np.testing.assert_array_equal((st.capacity_sum[0] > 0), vis)
    np.testing.assert_allclose(st.delivered, [[50.0]], rtol=1e-13)


# --------------------------------------------------------------------------- determinism
def _case(seed=7, res=5.0, nsat=30, nt=24):
    rng = np.random.default_rng(seed)
    g = Grid(res)
    r = random_positions(rng, nsat, nt, res)
    system = rng.integers(0, 2, nsat).astype(np.int32)
    mask = np.deg2rad(rng.uniform(0, 30, nsat))
    cap = rng.uniform(100, 1000, nsat)
    return g, r, system, mask, cap, heavy_weights(rng, g, 2)


def test_thread_count_does_not_change_capacity_bits():
    g, r, system, mask, cap, w = _case()
    nthreads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(g, r, system, 2, mask, cap, w)
    finally:
        numba.set_num_threads(nthreads)
    many = run(g, r, system, 2, mask, cap, w)
    for f in ("capacity_sum", "delivered", "offered"):
        np.testing.assert_array_equal(getattr(one, f), getattr(many, f), err_msg=f)
    assert_state_equal(one, many)


def test_blocks_held_in_waves_give_the_same_bits(monkeypatch):
    """Above BLOCK_STATE_BYTES the time blocks run in waves (one block per thread) folded in time order:
    every statistic, capacity sums included, has the same bits as with all blocks held at once."""
    g, r, system, mask, cap, w = _case()
    kw = {"count_any": True, "nblocks": 8}
    held = run(g, r, system, 2, mask, cap, w, **kw)
    monkeypatch.setattr(visibility, "BLOCK_STATE_BYTES", 1)
    nthreads = numba.get_num_threads()
    try:
        for threads in sorted({1, nthreads}):
            numba.set_num_threads(threads)
            waves = run(g, r, system, 2, mask, cap, w, **kw)
            for f in ("capacity_sum", "delivered", "offered"):
                np.testing.assert_array_equal(getattr(waves, f), getattr(held, f), err_msg=f)
            assert_state_equal(waves, held)
            np.testing.assert_array_equal(waves.steps_any, held.steps_any)
    finally:
        numba.set_num_threads(nthreads)


def test_default_time_blocks_depend_on_chunk_length_only():
    g, r, system, mask, cap, w = _case(nt=CAPACITY_TIME_BLOCKS + 3)
    a = run(g, r, system, 2, mask, cap, w)
    b = run(g, r, system, 2, mask, cap, w, nblocks=CAPACITY_TIME_BLOCKS)
    np.testing.assert_array_equal(a.capacity_sum, b.capacity_sum)


@pytest.mark.parametrize("chunk", [1, 7, 24])
def test_chunks_and_blocks_change_sums_only_to_rounding(chunk):
    """Another time partition adds the same per-step values in another grouping: equal to ~1e-15
    (asserted: 1e-12 relative); per-step totals are computed per step and do not change at all."""
    g, r, system, mask, cap, w = _case()
    whole = run(g, r, system, 2, mask, cap, w, nblocks=1)
    state = empty_chunk_state(2, g.nlat, g.nlon, capacity=True)
    for k0 in range(0, r.shape[1], chunk):
        part = run(g, np.ascontiguousarray(r[:, k0 : k0 + chunk]), system, 2, mask, cap, w, nblocks=3)
        state = merge_chunk_states(state, part)
    assert_capacity_close(state.capacity_sum, whole.capacity_sum, rtol=1e-12)
    np.testing.assert_array_equal(state.delivered, whole.delivered)
    np.testing.assert_array_equal(state.offered, whole.offered)
    assert_state_equal(state, whole)


# --------------------------------------------------------------------------- validation
def test_input_validation():
    g = Grid(5.0)
    r = np.zeros((2, 1, 3)) + 7000.0
    w = np.ones(g.shape)
    with pytest.raises(ParameterError, match="weight: required"):
        run(g, r, np.array([0, 0]), 1, None, np.ones(2), None)
    with pytest.raises(ParameterError, match="weight"):
        run(g, r, np.array([0, 0]), 1, None, np.ones(2), -w)
    with pytest.raises(ParameterError, match="weight"):
        run(g, r, np.array([0, 0]), 1, None, np.ones(2), np.full(g.shape, np.nan))
    with pytest.raises(ParameterError, match="weight: expected shape"):
        run(g, r, np.array([0, 0]), 1, None, np.ones(2), np.ones((3, 4)))
    with pytest.raises(ParameterError, match="capacity_per_sat"):
        run(g, r, np.array([0, 0]), 1, None, np.ones(3), w)
    with pytest.raises(ParameterError, match="capacity_per_sat"):
        run(g, r, np.array([0, 0]), 1, None, np.array([1.0, -1.0]), w)
    st = run(g, np.zeros((2, 0, 3)), np.array([0, 0]), 1, None, np.ones(2), w)
    assert st.delivered.shape == (1, 0) and (st.capacity_sum == 0).all()
