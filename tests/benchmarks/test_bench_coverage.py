"""coverage() end to end (propagation included) on real Starlink, one day at 60 s, vs the NumPy brute force.

Group "coverage": the full run at 1° (and at 0.25°, only with timing enabled: skipped under
``--benchmark-disable``) and, in the same group, the NumPy brute force and coverage() on a subset of
100 satellites × 10 steps, whose per-step counts must be equal cell for cell.

    pytest tests/benchmarks/test_bench_coverage.py --benchmark-enable --benchmark-group-by=group
"""

import numpy as np
import pytest

import orbitshare
from orbitshare.engine.coverage import coverage
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid
from reference import brute_force_counts

STARLINK_OMM = "omm/celestrak_gp_csv_2026-08-18/starlink.csv"
NSAT = 10926  # records in that (dated, immutable) snapshot
NTIME = 1440
MASK_DEG = 25.0
SUB_NSAT, SUB_NTIME = 100, 10


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
