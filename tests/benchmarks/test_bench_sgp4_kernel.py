"""SGP4 kernel throughput: orbitshare.kernels.sgp4 vs sgp4's SatrecArray, real Starlink, TEME.

One day at 60 s (1,440 steps) for every Starlink object of the 2026-08-18 CelesTrak OMM file.
Run with timing:  python -m pytest tests/benchmarks/test_bench_sgp4_kernel.py --benchmark-enable

Groups (ratios come from one run: the reference is in the same group):
  sgp4-teme        kernel throughput: both write into preallocated output arrays, reused over
                   the rounds (orbitshare ``sgp4_propagate_into``; SatrecArray's ``_sgp4``, the
                   C++ loop behind ``SatrecArray.sgp4``).
  sgp4-teme-alloc  public allocating calls, ``sgp4_propagate`` vs ``SatrecArray.sgp4``: adds
                   the first touch of ~0.8 GB of fresh output pages to both sides.
  sgp4-teme-active the whole active catalogue (near Earth on the vectorised path, ~10 % deep
                   space on the scalar one), 6 h at 60 s, preallocated outputs as in sgp4-teme.
Throughput: extra_info["sat_steps"] / time (/ threads for "per core").
Each benchmark also checks its result against SatrecArray (codes identical, NaN rows
identical, positions within 1e-6 km).
"""

import numba
import numpy as np
import pytest
from sgp4 import omm
from sgp4.api import Satrec, SatrecArray

from orbitshare.kernels.sgp4 import sgp4_init, sgp4_propagate, sgp4_propagate_into

STARLINK_OMM = "omm/celestrak_gp_csv_2026-08-18/starlink.csv"
ACTIVE_OMM = "omm/celestrak_gp_csv_2026-08-18/active.csv"
NTIME = 1440
NTIME_ACTIVE = 360
STEP_S = 60.0
FIELDS = ("jdsatepoch", "jdsatepochF", "bstar", "ndot", "nddot", "ecco", "argpo", "inclo", "mo", "no_kozai", "nodeo")
THREADS = ["1", "all"]


def _case(path, ntime):
    sats = []
    with open(path) as f:
        for fields in omm.parse_csv(f):
            s = Satrec()
            omm.initialize(s, fields)
            sats.append(s)
    params, _ = sgp4_init(*[np.array([getattr(s, k) for s in sats]) for k in FIELDS])
    jd = np.full(ntime, 2461270.5)  # 2026-08-18 00:00 UTC
    fr = np.arange(ntime) * (STEP_S / 86400.0)
    sgp4_propagate(params[:4], jd[:2], fr[:2])  # compile (or load the cache) outside timing
    sa = SatrecArray(sats)
    e_ref, r_ref, _ = sa.sgp4(jd, fr)
    n = len(sats)
    out = (np.empty((n, ntime), np.uint8), np.empty((n, ntime, 3)), np.empty((n, ntime, 3)))
    return {
        "sats": sats,
        "sa": sa,
        "params": params,
        "jd": jd,
        "fr": fr,
        "e_ref": e_ref,
        "r_ref": r_ref,
        "out": out,
        "size": f"nsat={n},ntime={ntime}",
    }


@pytest.fixture(scope="module")
def starlink(shared_data):
    return _case(shared_data / STARLINK_OMM, NTIME)


@pytest.fixture(scope="module")
def active(shared_data):
    return _case(shared_data / ACTIVE_OMM, NTIME_ACTIVE)


def _check(case, e, r, shells=True):
    e_ref, r_ref = case["e_ref"], case["r_ref"]
    np.testing.assert_array_equal(e, e_ref)
    np.testing.assert_array_equal(np.isnan(r), np.isnan(r_ref))
    ok = ~np.isnan(r_ref)
    assert np.abs(r[ok] - r_ref[ok]).max() < 1e-6
    if shells:
        good = r_ref[e_ref == 0]
        rad = np.sqrt((good * good).sum(axis=-1))
        assert rad.min() > 6378.0 and rad.max() < 8000.0  # Starlink shells


def _with_threads(threads, fn):
    nthreads = 1 if threads == "1" else numba.config.NUMBA_NUM_THREADS
    previous = numba.get_num_threads()
    numba.set_num_threads(nthreads)
    try:
        return fn(nthreads)
    finally:
        numba.set_num_threads(previous)


def _label(benchmark, group, name, case):
    benchmark.group = group
    benchmark.name = name
    benchmark.extra_info["sat_steps"] = len(case["sats"]) * len(case["jd"])


# --- sgp4-teme: kernel throughput, preallocated outputs ------------------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_orbitshare_sgp4_kernel(benchmark, starlink, threads):
    e, r, v = starlink["out"]
    args = (starlink["params"], starlink["jd"], starlink["fr"], e, r, v)

    def run(nthreads):
        _label(
            benchmark, "sgp4-teme", f"orbitshare sgp4_propagate_into [{starlink['size']},threads={nthreads}]", starlink
        )
        benchmark.pedantic(sgp4_propagate_into, args=args, rounds=3, iterations=1)

    e[...] = 255
    r[...] = 0.0
    _with_threads(threads, run)
    _check(starlink, e, r)


def test_satrecarray_sgp4_kernel(benchmark, starlink):
    e, r, v = starlink["out"]
    _label(benchmark, "sgp4-teme", f"sgp4 SatrecArray._sgp4 [{starlink['size']}]", starlink)
    e[...] = 255
    r[...] = 0.0
    benchmark.pedantic(starlink["sa"]._sgp4, args=(starlink["jd"], starlink["fr"], e, r, v), rounds=3, iterations=1)
    _check(starlink, e, r)


# --- sgp4-teme-alloc: the public calls, new output arrays every call -----------------------


@pytest.mark.parametrize("threads", THREADS)
def test_orbitshare_sgp4_propagate(benchmark, starlink, threads):
    def run(nthreads):
        _label(
            benchmark, "sgp4-teme-alloc", f"orbitshare sgp4_propagate [{starlink['size']},threads={nthreads}]", starlink
        )
        return benchmark.pedantic(
            sgp4_propagate, args=(starlink["params"], starlink["jd"], starlink["fr"]), rounds=2, iterations=1
        )

    e, r, v = _with_threads(threads, run)
    _check(starlink, e, r)


def test_satrecarray_sgp4(benchmark, starlink):
    _label(benchmark, "sgp4-teme-alloc", f"sgp4 SatrecArray.sgp4 [{starlink['size']}]", starlink)
    e, r, v = benchmark.pedantic(starlink["sa"].sgp4, args=(starlink["jd"], starlink["fr"]), rounds=2, iterations=1)
    _check(starlink, e, r)


# --- sgp4-teme-active: the mixed catalogue, preallocated outputs -----------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_orbitshare_sgp4_kernel_active(benchmark, active, threads):
    e, r, v = active["out"]
    args = (active["params"], active["jd"], active["fr"], e, r, v)

    def run(nthreads):
        _label(
            benchmark,
            "sgp4-teme-active",
            f"orbitshare sgp4_propagate_into [{active['size']},threads={nthreads}]",
            active,
        )
        benchmark.pedantic(sgp4_propagate_into, args=args, rounds=3, iterations=1)

    e[...] = 255
    r[...] = 0.0
    _with_threads(threads, run)
    _check(active, e, r, shells=False)


def test_satrecarray_sgp4_kernel_active(benchmark, active):
    e, r, v = active["out"]
    _label(benchmark, "sgp4-teme-active", f"sgp4 SatrecArray._sgp4 [{active['size']}]", active)
    e[...] = 255
    r[...] = 0.0
    benchmark.pedantic(active["sa"]._sgp4, args=(active["jd"], active["fr"], e, r, v), rounds=3, iterations=1)
    _check(active, e, r, shells=False)
