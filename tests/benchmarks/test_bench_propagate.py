"""orbitshare.propagate vs sgp4's SatrecArray on real Starlink, one day at 60 s (TEME and ITRS).

Run with timing:  python -m pytest tests/benchmarks --benchmark-enable --benchmark-json=bench.json
Ratios come from one run: the reference is in the same group.
"""

import numba
import numpy as np
import pytest
from sgp4.api import Satrec, SatrecArray

import orbitshare
from orbitshare.kernels.frames import itrs_rotations
from orbitshare.timegrid import time_grid

STARLINK_OMM = "omm/celestrak_gp_csv_2026-08-18/starlink.csv"


@pytest.fixture(scope="module")
def case(shared_data):
    from sgp4 import omm

    path = shared_data / STARLINK_OMM
    es = orbitshare.load_elements(path)
    sats = []
    with open(path) as f:
        for fields in omm.parse_csv(f):
            s = Satrec()
            omm.initialize(s, fields)
            sats.append(s)
    tg = time_grid("2026-08-18T00:00:00Z", "2026-08-19T00:00:00Z", 60)
    orbitshare.propagate(es[:10], tg[:10], frame="itrs")  # compile outside the timing
    return es, SatrecArray(sats), tg


def _reference_itrs(sa, tg):
    e, r, v = sa.sgp4(tg.jd, tg.fr)
    m, w, thd = itrs_rotations(tg.ut1_jd, tg.ut1_fr, tg.xp, tg.yp, tg.sprime)
    r2 = np.einsum("kij,nkj->nki", m, r)
    return e, r2


def _check(es, tg, e, r, sa, frame):
    e_ref, r_ref = _reference_itrs(sa, tg[:50]) if frame == "itrs" else sa.sgp4(tg.jd[:50], tg.fr[:50])[:2]
    ok = e_ref == 0
    assert np.array_equal(e[:, :50], e_ref)
    assert np.abs(r[:, :50][ok] - r_ref[ok]).max() < 1e-6


@pytest.mark.parametrize("frame", ["teme", "itrs"])
@pytest.mark.parametrize("threads", ["1", "all"])
def test_orbitshare_propagate(benchmark, case, frame, threads):
    es, sa, tg = case
    benchmark.group = f"propagate-{frame} nsat={len(es)},ntime={len(tg)}"
    benchmark.name = f"orbitshare threads={threads if threads == '1' else numba.config.NUMBA_NUM_THREADS}"
    n = numba.get_num_threads()
    numba.set_num_threads(1 if threads == "1" else numba.config.NUMBA_NUM_THREADS)
    try:
        e, r, v = benchmark.pedantic(
            orbitshare.propagate, args=(es, tg), kwargs={"frame": frame}, rounds=3, iterations=1
        )
    finally:
        numba.set_num_threads(n)
    _check(es, tg, e, r, sa, frame)


@pytest.mark.parametrize("frame", ["teme", "itrs"])
def test_reference_satrecarray(benchmark, case, frame):
    es, sa, tg = case
    benchmark.group = f"propagate-{frame} nsat={len(es)},ntime={len(tg)}"
    benchmark.name = "sgp4 SatrecArray" + (" + NumPy rotation" if frame == "itrs" else "")
    if frame == "teme":
        e, r, v = benchmark.pedantic(sa.sgp4, args=(tg.jd, tg.fr), rounds=3, iterations=1)
    else:
        e, r = benchmark.pedantic(_reference_itrs, args=(sa, tg), rounds=3, iterations=1)
    assert e.shape == (len(es), len(tg)) and np.isfinite(r[e == 0]).all()
