"""GPU coverage (fused SGP4 → ITRS → visibility on the device) vs the CPU engine, one day.

10,000 satellites (Walker shells; real Starlink elements are not needed for timing) × 1,440 one-minute
steps, mask 25°, at 1°, 0.25° and 0.1° on the GPU (SGP4 included), and the CPU engine (SGP4 + frames +
``accumulate_chunk``) at 0.25° in the same group, so ratios come from one run. Each GPU benchmark
asserts that its counts equal the CPU kernel's on a subset (the first 16 steps). Skipped without a GPU.
Issue target: 0.1° in ≤ 3 s on an H100, ≥ 100× the 2-core CPU engine at 0.25°.

Capacity group: the same run with the capacity accumulation (weights log-uniform over 8 decades, 20 %
zero, 20 Gbps per satellite) on the GPU at 1° and 0.25° and on the CPU at 1°; each GPU benchmark
checks counts, capacity sums, delivered and offered against the CPU kernel (1e-9 relative) on the
first 16 steps.

    pytest tests/benchmarks/test_bench_cuda.py --benchmark-enable --benchmark-group-by=group
"""

import numpy as np
import pytest

from orbitshare.kernels import cuda_env as cuda_support

_OK, _WHY = (False, "simulator") if cuda_support.simulator_enabled() else cuda_support.cuda_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"no CUDA GPU ({_WHY})")

NSAT_SHELLS = (
    (550.0, 53.0, 72, 22),
    (540.0, 53.2, 72, 22),
    (570.0, 70.0, 36, 20),
    (560.0, 97.6, 10, 52),
    (1200.0, 87.9, 12, 50),
)  # 1584 + 1584 + 720 + 520 + 600 = 5,008 per copy; two copies, first 10,000
NTIME, STEP_S, MASK_DEG = 1440, 60.0, 25.0
CHECK_STEPS = 16


def _elements():
    from orbitshare.elements.walker import walker

    out = []
    for copy in range(2):
        for k, (alt, inc, p, s) in enumerate(NSAT_SHELLS):
            out.append(
                walker(
                    alt,
                    inc,
                    p,
                    s,
                    1,
                    "2024-01-01T00:00:00Z",
                    raan0_deg=17.0 * copy + 3.0 * k,
                    norad_start=900000 + 10000 * (5 * copy + k),
                )
            )
    return out


@pytest.fixture(scope="module")
def inputs():
    from orbitshare.engine.propagation import sgp4_params
    from orbitshare.kernels import frames
    from orbitshare.timegrid import time_grid

    params = np.concatenate([sgp4_params(el)[0] for el in _elements()], axis=0)[:10000]
    tg = time_grid("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", STEP_S)
    jd, fr = tg.jd[:NTIME], tg.fr[:NTIME]
    m, w, thd = frames.itrs_rotations(
        tg.ut1_jd[:NTIME], tg.ut1_fr[:NTIME], tg.xp[:NTIME], tg.yp[:NTIME], tg.sprime[:NTIME]
    )
    return params, (jd, fr, m, w, thd)


def _grid(res):
    from orbitshare.grid import Grid

    g = Grid(res)
    pxy, pz, nxy, nz = g.row_geometry()
    return (pxy, pz, nxy, nz, g.lon_rad), {"cos_lon": g.cos_lon, "sin_lon": g.sin_lon}


def _weight(res):
    from orbitshare.grid import Grid

    g = Grid(res)
    rng = np.random.default_rng(3)
    w = 10.0 ** rng.uniform(-2.0, 6.0, (1, g.nlat, g.nlon))
    w[rng.random(w.shape) < 0.2] = 0.0
    return w


CAP_MBPS = 20000.0


def _cpu_engine(params, times, res, nsteps, capacity=False):
    from orbitshare.kernels import frames, sgp4
    from orbitshare.kernels.visibility import accumulate_chunk

    jd, fr, m, w, thd = (a[:nsteps] for a in times)
    e, r, v = sgp4.sgp4_propagate(params, jd, fr)
    frames.teme_to_itrs_into(r, v, m, w, thd)
    geo, kw = _grid(res)
    if capacity:
        kw = dict(kw, capacity_per_sat=CAP_MBPS, weight=_weight(res))
    return accumulate_chunk(
        r, np.zeros(len(params), np.int32), np.radians([MASK_DEG]), [1], *geo, err=e, count_any=True, **kw
    )


def _gpu(params, times, res, nsteps, capacity=False):
    from orbitshare.kernels.cuda import cuda_coverage

    geo, kw = _grid(res)
    if capacity:
        kw = dict(kw, capacity_per_sat=CAP_MBPS, weight=_weight(res))
    times = tuple(a[:nsteps] for a in times)
    state, _e = cuda_coverage(
        params, *times, np.zeros(len(params), np.int32), np.radians([MASK_DEG]), [1], *geo, count_any=True, **kw
    )
    return state


def _same(a, b):
    for f in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap", "steps_any"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@pytest.mark.benchmark(group="coverage nsat=10000,ntime=1440")
@pytest.mark.parametrize("res", [1.0, 0.25, 0.1], ids=lambda r: f"gpu,res={r},nsat=10000,ntime=1440")
def test_gpu_coverage(benchmark, inputs, res):
    params, times = inputs
    _gpu(params[:64], times, res, 4)  # compile outside the timing
    state = benchmark.pedantic(_gpu, args=(params, times, res, NTIME), rounds=3, iterations=1, warmup_rounds=0)
    assert state.nsteps == NTIME and state.sum_visible.sum() > 0
    # counts equal the CPU engine on a subset: the first CHECK_STEPS steps
    _same(_gpu(params, times, res, CHECK_STEPS), _cpu_engine(params, times, res, CHECK_STEPS))


@pytest.mark.benchmark(group="coverage nsat=10000,ntime=1440")
@pytest.mark.parametrize("res", [0.25], ids=lambda r: f"cpu,res={r},nsat=10000,ntime=1440")
def test_cpu_engine_coverage(benchmark, inputs, res):
    params, times = inputs
    state = benchmark.pedantic(_cpu_engine, args=(params, times, res, NTIME), rounds=1, iterations=1)
    assert state.nsteps == NTIME and state.sum_visible.sum() > 0


@pytest.mark.benchmark(group="capacity nsat=10000,ntime=1440")
@pytest.mark.parametrize("res", [1.0, 0.25], ids=lambda r: f"gpu,res={r},nsat=10000,ntime=1440")
def test_gpu_capacity(benchmark, inputs, res):
    params, times = inputs
    _gpu(params[:64], times, res, 4, capacity=True)  # compile outside the timing
    state = benchmark.pedantic(_gpu, args=(params, times, res, NTIME, True), rounds=3, iterations=1, warmup_rounds=0)
    assert state.nsteps == NTIME and state.capacity_sum.sum() > 0
    a = _gpu(params, times, res, CHECK_STEPS, capacity=True)
    b = _cpu_engine(params, times, res, CHECK_STEPS, capacity=True)
    _same(a, b)
    for f in ("capacity_sum", "delivered", "offered"):
        np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-9, atol=0, err_msg=f)


@pytest.mark.benchmark(group="capacity nsat=10000,ntime=1440")
@pytest.mark.parametrize("res", [1.0], ids=lambda r: f"cpu,res={r},nsat=10000,ntime=1440")
def test_cpu_engine_capacity(benchmark, inputs, res):
    params, times = inputs
    state = benchmark.pedantic(_cpu_engine, args=(params, times, res, NTIME, True), rounds=1, iterations=1)
    assert state.nsteps == NTIME and state.capacity_sum.sum() > 0
