"""coverage() end to end (propagation included) on real Starlink, one day at 60 s, vs the NumPy brute force.

Group "coverage": the full run at 1° (and at 0.25°, only with timing enabled: skipped under
``--benchmark-disable``) and, in the same group, the NumPy brute force and coverage() on a subset of
100 satellites × 10 steps, whose per-step counts must be equal cell for cell.

Group "coverage-kernel": the chunk kernel alone (propagation apart) on one default chunk of the same
day (10,926 satellites × 180 steps, the positions propagated outside the timing) at 1° and 0.25°
(0.25° only timed), its first step's counts equal to the NumPy brute force on 24 rows at 45° N.

    pytest tests/benchmarks/test_bench_coverage.py --benchmark-enable --benchmark-group-by=group
"""

import numpy as np
import pytest

import orbitshare
from orbitshare.engine.coverage import coverage
from orbitshare.grid import Grid
from orbitshare.kernels.visibility import accumulate_chunk
from orbitshare.system import System
from orbitshare.timegrid import time_grid
from reference import brute_force_counts

STARLINK_OMM = "omm/celestrak_gp_csv_2026-08-18/starlink.csv"
NSAT = 10926  # records in that (dated, immutable) snapshot
NTIME = 1440
MASK_DEG = 25.0
SUB_NSAT, SUB_NTIME = 100, 10
CHUNK = 180  # steps of one default chunk of the day (passinputs.default_chunk_steps)
CHECK_ROWS = 24


@pytest.fixture(scope="module")
def case(shared_data):
    es = orbitshare.load_elements(shared_data / STARLINK_OMM)
    assert len(es) == NSAT
    tg = time_grid("2026-08-18T00:00:00Z", "2026-08-19T00:00:00Z", 60)
    assert len(tg) == NTIME
    coverage(System("starlink", es[:50], MASK_DEG), Grid(5.0), tg[:4])  # compile/load outside the timing
    return es, tg


def _check_full(ds, es, grid):
    assert ds.covered_fraction.shape == (1, grid.nlat, grid.nlon)
    cf, mv, gap = ds.covered_fraction.values[0], ds.mean_visible.values[0], ds.max_gap_s.values[0]
    assert ((cf >= 0) & (cf <= 1)).all() and (mv >= 0).all()
    assert ((gap >= 0) & (gap <= NTIME * 60.0)).all()
    # covered ⇔ no gap; mid-latitudes see dozens of Starlink satellites above 25°
    assert np.array_equal(cf == 1.0, gap == 0.0)
    mid = ds.sel(lat=slice(-50, 50))
    assert float(mid.covered_fraction.min()) == 1.0
    assert 10 < float(mid.mean_visible.mean()) < 200
    assert int(ds.element_count[0]) == len(es)


@pytest.mark.benchmark(group="coverage")
@pytest.mark.parametrize("res", [1.0, 0.25], ids=lambda r: f"coverage-nsat={NSAT}-ntime={NTIME}-res={r}")
def test_bench_coverage_starlink(benchmark, case, res):
    if res < 1.0 and benchmark.disabled:
        pytest.skip("the 0.25° run is timed only with benchmarks enabled (--benchmark-enable)")
    es, tg = case
    grid = Grid(res)
    ds = benchmark.pedantic(coverage, args=(System("starlink", es, MASK_DEG), grid, tg), rounds=1, iterations=1)
    _check_full(ds, es, grid)


def _subset(es, tg):
    idx = np.linspace(0, len(es) - 1, SUB_NSAT).astype(int)  # spread over every shell in the file
    return es[idx], tg[:SUB_NTIME]


def _brute(es, tg, grid):
    e, r, _ = orbitshare.propagate(es, tg, frame="itrs")
    pxy, pz, nxy, nz = grid.row_geometry()
    return brute_force_counts(
        r,
        np.zeros(len(es), np.int64),
        1,
        np.full(len(es), np.sin(np.radians(MASK_DEG))),
        pxy,
        pz,
        nxy,
        nz,
        grid.cos_lon,
        grid.sin_lon,
        err=e,
    )


def _kernel_counts(es, tg, grid):
    return coverage(System("starlink", es, MASK_DEG), grid, tg, keep_time_series=True).counts.values[0]


@pytest.mark.benchmark(group="coverage")
@pytest.mark.parametrize(
    "impl", ["numpy-bruteforce", "coverage"], ids=lambda i: f"{i}-nsat={SUB_NSAT}-ntime={SUB_NTIME}-res=1.0"
)
def test_bench_subset(benchmark, case, impl):
    """Per-step counts of coverage() equal the NumPy brute force cell for cell on the subset."""
    es, tg = _subset(*case)
    grid = Grid(1.0)
    if impl == "numpy-bruteforce":
        counts = benchmark.pedantic(_brute, args=(es, tg, grid), rounds=1, iterations=1)[0]
        other = _kernel_counts(es, tg, grid)
    else:
        counts = benchmark.pedantic(_kernel_counts, args=(es, tg, grid), rounds=3, iterations=1)
        other = _brute(es, tg, grid)[0]
    np.testing.assert_array_equal(counts, other)
    assert counts.sum() > 0 and counts.shape == (SUB_NTIME, grid.nlat, grid.nlon)


@pytest.fixture(scope="module")
def chunk_positions(case):
    es, tg = case
    e, r, _ = orbitshare.propagate(es, tg[:CHUNK], frame="itrs")
    return e, r


def _chunk_kernel(r, e, grid, keep_counts=False):
    pxy, pz, nxy, nz = grid.row_geometry()
    n = len(r)
    return accumulate_chunk(r, np.zeros(n, np.int32), np.radians([MASK_DEG]), np.array([1], np.int32), pxy, pz,
                            nxy, nz, grid.lon_rad, cos_lon=grid.cos_lon, sin_lon=grid.sin_lon, err=e,
                            keep_counts=keep_counts)  # fmt: skip


@pytest.mark.benchmark(group="coverage-kernel")
@pytest.mark.parametrize("res", [1.0, 0.25], ids=lambda r: f"kernel-nsat={NSAT}-ntime={CHUNK}-res={r}")
def test_bench_coverage_kernel(benchmark, chunk_positions, res):
    """The chunk kernel alone on one chunk of real Starlink positions; its first step equals the brute force
    on 24 rows at 45° N."""
    if res < 1.0 and benchmark.disabled:
        pytest.skip("the 0.25° kernel is timed only with benchmarks enabled (--benchmark-enable)")
    e, r = chunk_positions
    grid = Grid(res)
    first = _chunk_kernel(np.ascontiguousarray(r[:, :1]), np.ascontiguousarray(e[:, :1]), grid, keep_counts=True)
    st = benchmark.pedantic(_chunk_kernel, args=(r, e, grid), rounds=2, iterations=1)
    assert st.nsteps == CHUNK and int(st.sum_visible.sum()) > 0
    i0 = int(np.searchsorted(grid.lat, 45.0))
    pxy, pz, nxy, nz = (a[i0 : i0 + CHECK_ROWS] for a in grid.row_geometry())
    ref = brute_force_counts(r[:, :1], np.zeros(NSAT, np.int64), 1, np.full(NSAT, np.sin(np.radians(MASK_DEG))),
                             pxy, pz, nxy, nz, grid.cos_lon, grid.sin_lon, err=e[:, :1])  # fmt: skip
    np.testing.assert_array_equal(first.counts[:, :, i0 : i0 + CHECK_ROWS], ref)
    assert ref.sum() > 0
