"""EPFD↓ (orbitshare.epfd) against coverage() on the same satellites, grid and steps.

Real Starlink (10,926 satellites, CelesTrak 2026-08-18, ../shared/data), mask 25°, 2° grid, four GSO
antennas (0.6, 1.2, 3.0, 10.0 m) at 11.7 GHz, GSO pointings every 5° above 5°. Group "epfd-short":
10 steps at 60 s (runs whenever benchmarks run, also as a smoke test with --benchmark-disable). Group
"epfd-day": one day at 60 s (1,440 steps), the issue's target (EPFD within 3× the coverage pass), only
with --benchmark-enable (it takes minutes). ``margin`` adds the second (histogram) pass. Group
"epfd-ratio" (only with --benchmark-enable): one test times coverage() and epfd() (margin on) one after
the other on the same inputs, 2 hours at 60 s (120 steps; a size that runs in about half a minute on two
cores), and records both times and their ratio in the benchmark's ``extra_info`` (the ratio of one run:
both under the same machine load).

    pytest tests/benchmarks/test_bench_epfd.py --benchmark-enable --benchmark-group-by=group
"""

import time

import numpy as np
import pytest

import orbitshare
from orbitshare.engine.coverage import coverage
from orbitshare.engine.epfd import epfd
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid

STARLINK_OMM = "omm/celestrak_gp_csv_2026-08-18/starlink.csv"
NSAT, MASK_DEG, PFD = 10926, 25.0, -146.0  # PFD: an illustrative value (dB(W/m2) in 40 kHz), not a filing


@pytest.fixture(scope="module")
def starlink(shared_data):
    es = orbitshare.load_elements(shared_data / STARLINK_OMM)
    assert len(es) == NSAT
    s = System("starlink", es, MASK_DEG, bands=(("Ku", 10700, 12700),), pfd_dbw_m2_40khz=PFD)
    tg = time_grid("2026-08-18T00:00:00Z", "2026-08-19T00:00:00Z", 60)
    grid = Grid(2.0)
    coverage(s, grid, tg[:2])  # compile (or load) the kernels outside the timing
    epfd(s, grid, tg[:2])
    return s, grid, tg


def _run(benchmark, how, s, grid, tg):
    if how == "coverage":
        out = benchmark.pedantic(coverage, args=(s, grid, tg), rounds=1, iterations=1)
        assert out["mean_visible"].max() > 10
        return
    out = benchmark.pedantic(epfd, args=(s, grid, tg), kwargs={"margin": how == "epfd+margin"}, rounds=1, iterations=1)
    assert int(out.n_steps) == len(tg)
    fin = np.isfinite(out.epfd_max_dbw_m2.values)
    assert fin.mean() > 0.5  # most cells (with a GSO arc) see Starlink
    top = np.nanmax(out.epfd_max_any_pointing_dbw_m2.values)
    assert PFD - 20 < top < PFD + 10  # about one satellite's PFD on axis, at the worst


HOWS = ["coverage", "epfd", "epfd+margin"]


@pytest.mark.benchmark(group="epfd-short")
@pytest.mark.parametrize("how", HOWS, ids=lambda h: f"{h}-nsat={NSAT}-ntime=10-res=2-nant=4")
def test_bench_epfd_short(benchmark, starlink, how):
    s, grid, tg = starlink
    _run(benchmark, how, s, grid, tg[:10])


@pytest.mark.benchmark(group="epfd-day")
@pytest.mark.parametrize("how", HOWS, ids=lambda h: f"{h}-nsat={NSAT}-ntime=1440-res=2-nant=4")
def test_bench_epfd_day(benchmark, starlink, how):
    if benchmark.disabled:
        pytest.skip("the one-day EPFD run is timed only with benchmarks enabled (--benchmark-enable)")
    s, grid, tg = starlink
    _run(benchmark, how, s, grid, tg)


RATIO_NTIME = 120


@pytest.mark.benchmark(group="epfd-ratio")
def test_bench_epfd_over_coverage_one_run(benchmark, starlink):
    """coverage() then epfd() (margin on) in one timed call: ``extra_info`` holds each time (s) and the ratio."""
    if benchmark.disabled:
        pytest.skip("the EPFD / coverage ratio is timed only with benchmarks enabled (--benchmark-enable)")
    s, grid, tg = starlink
    tg = tg[:RATIO_NTIME]
    times: dict[str, float] = {}

    def both():
        t0 = time.perf_counter()
        cov = coverage(s, grid, tg)
        t1 = time.perf_counter()
        out = epfd(s, grid, tg)
        t2 = time.perf_counter()
        times.update(coverage_s=t1 - t0, epfd_s=t2 - t1)
        return cov, out

    cov, out = benchmark.pedantic(both, rounds=1, iterations=1)
    assert cov["mean_visible"].max() > 10 and int(out.n_steps) == RATIO_NTIME
    benchmark.extra_info.update(
        problem=f"nsat={NSAT} ntime={RATIO_NTIME} step=60s res=2 nant=4 arc_step=5deg margin=True",
        coverage_s=round(times["coverage_s"], 3),
        epfd_s=round(times["epfd_s"], 3),
        epfd_over_coverage=round(times["epfd_s"] / times["coverage_s"], 2),
    )
