"""CUDA backend (orbitshare.kernels.cuda) against the CPU kernels.

Three ways this file runs:
* no GPU (the default here): the device tests skip; ``test_simulator_subprocess`` runs them again in a
  subprocess under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 must be set before numba.cuda is
  imported, hence the subprocess) on tiny inputs, comparing with the CPU kernels exactly;
* under the simulator (that subprocess): the device tests run, tiny;
* on a GPU (tests/gpu/run_gpu_checks.sh): the device tests run on the GPU with larger inputs.

Counts and every integer statistic must equal the CPU bit for bit; GPU SGP4 positions within 1e-9
relative (in the simulator they are exact: it runs the same Python float arithmetic).
"""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from backend_equality import assert_backends_equal
from orbitshare.errors import ParameterError
from orbitshare.kernels import cuda_env as cuda_support
from orbitshare.kernels import frames, sgp4
from orbitshare.kernels.chunkstate import merge_chunk_states
from orbitshare.kernels.visibility import accumulate_chunk

SIM = cuda_support.simulator_enabled()
#: np.row_stack named through a variable, so that ruff's NPY201 fix cannot rewrite it to np.vstack
_ROW_STACK = "row_stack"


def _mode():
    if SIM:
        return "sim"
    if os.environ.get("ORBITSHARE_SKIP_GPU"):
        return None
    ok, _ = cuda_support.cuda_available()
    return "gpu" if ok else None


MODE = _mode()
device = pytest.mark.skipif(MODE is None, reason="no CUDA GPU (the simulator run covers these)")


# ------------------------------------------------------------------ no device needed
def test_numpy_shim_only_when_missing(monkeypatch):
    monkeypatch.setattr(cuda_support, "_SHIM_INSTALLED", False)
    if hasattr(np, _ROW_STACK):
        before = getattr(np, _ROW_STACK)
        assert cuda_support.install_numpy_shim() is False
        assert getattr(np, _ROW_STACK) is before
        assert cuda_support.numpy_shim_status() == "not needed"
        monkeypatch.delattr(np, _ROW_STACK)
    assert not hasattr(np, _ROW_STACK)
    assert cuda_support.install_numpy_shim() is True
    assert getattr(np, _ROW_STACK) is np.vstack
    assert cuda_support.numpy_shim_status() == "installed"
    # monkeypatch restores np.row_stack (or removes it) and the flag afterwards


def test_cuda_info_line():
    line = cuda_support.cuda_info()
    assert line.startswith("cuda available: ") or line.startswith("cuda not available: ")
    assert "numba-cuda" in line and "row_stack shim" in line
    assert "\n" not in line


@pytest.mark.skipif(SIM or MODE == "gpu", reason="already running the device tests")
def test_simulator_subprocess():
    """The device tests below, under Numba's CUDA simulator, tiny inputs, exact comparison."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            __file__,
            "-q",
            "-x",
            "-k",
            "device",
            "-p",
            "no:cacheprovider",
            "--benchmark-disable",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert " passed" in out and "skipped" not in out.split("\n")[-2], out[-2000:]


# ------------------------------------------------------------------ the cuda backend of runs, no device needed
def _two_systems():
    """Two tiny Walker systems (9 and 6 satellites) with different masks and min_visible."""
    from orbitshare.elements.walker import walker
    from orbitshare.system import System

    a = System("leo", walker(550.0, 53.0, 3, 3, 1, "2024-01-01T00:00:00Z"))
    b = System(
        "polar",
        walker(1200.0, 87.9, 2, 3, 1, "2024-01-01T00:00:00Z", norad_start=990000),
        elevation_mask_deg=10.0,
        min_visible=2,
    )
    return [a, b]


def _small_times():
    from orbitshare.timegrid import time_grid

    return time_grid("2024-01-01T06:00:00Z", "2024-01-01T06:10:00Z", 120.0)  # 5 steps


@pytest.mark.skipif(SIM or MODE == "gpu", reason="needs a machine without a CUDA device")
def test_cuda_backend_without_gpu_raises():
    from orbitshare.engine.coverage import coverage
    from orbitshare.errors import BackendError
    from orbitshare.grid import Grid

    ok, why = cuda_support.cuda_available()
    assert not ok
    with pytest.raises(BackendError) as info:
        coverage(_two_systems(), Grid(5.0), _small_times(), backend="cuda", chunk_steps=2)
    msg = str(info.value)
    assert why in msg and "cuda" in msg and "\n" not in msg


def test_cuda_backend_refuses_unknown_backends_and_clients():
    from orbitshare.engine.coverage import coverage
    from orbitshare.errors import BackendError
    from orbitshare.grid import Grid

    g = Grid(5.0)
    with pytest.raises(ValueError, match="backend: expected 'cpu', 'dask' \\(with a client\\) or 'cuda', got 'gpu'"):
        coverage(_two_systems(), g, _small_times(), backend="gpu")
    with pytest.raises(BackendError, match="backend = 'cuda' runs in this process: pass client=None"):
        coverage(_two_systems(), g, _small_times(), backend="cuda", client=object())


_EXPERIMENT = """
[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T00:10:00Z
step_s = 120

[grid]
resolution_deg = 5

[[systems]]
name = "w"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 3, sats_per_plane = 3, phasing = 1 }]
capacity_per_sat_mbps = 1000

[outputs]
datasets = DATASETS
files = ["netcdf"]

[capacity]
rule = "proportional"

[compute]
backend = "cuda"
"""


@pytest.mark.parametrize(
    "ds",
    [
        '["coverage"]',
        '["coverage", "countries", "groups"]',
        '["coverage", "capacity"]',
        '["coverage", "spectrum"]',
        '["coverage", "countries", "equity"]',
        '["coverage", "capacity", "lorenz"]',
    ],
)
def test_experiment_cuda_accepted(tmp_path, ds):
    """Validation needs no GPU: "cuda" is accepted with any outputs (capacity runs on the GPU too)."""
    from orbitshare.experiment import load_experiment

    p = tmp_path / "x.toml"
    p.write_text(_EXPERIMENT.replace("DATASETS", ds), encoding="utf-8")
    exp = load_experiment(p)
    assert exp.compute.backend == "cuda"


# ------------------------------------------------------------------ inputs
def _sizes():
    if MODE == "gpu":
        return {"walker": (550.0, 53.0, 20, 10), "ntime": 40, "step_s": 60.0, "res": 1.0}
    return {"walker": (550.0, 53.0, 4, 3), "ntime": 4, "step_s": 120.0, "res": 5.0}


def _elements():
    from orbitshare.elements.elementset import ElementSet  # noqa: F401  (the walker returns one)
    from orbitshare.elements.walker import walker

    alt, inc, planes, per = _sizes()["walker"]
    leo = walker(alt, inc, planes, per, 1, "2024-01-01T00:00:00Z")
    geo = walker(35786.0, 0.1, 1, 2, 0, "2024-01-01T00:00:00Z", norad_start=990000)  # deep space, resonant
    molniya = walker(20000.0, 63.4, 1, 1, 0, "2024-01-01T00:00:00Z", eccentricity=0.45, norad_start=995000)
    return leo, geo, molniya


def _params():
    from orbitshare.engine.propagation import sgp4_params

    ps = [sgp4_params(el)[0] for el in _elements()]
    return np.concatenate(ps, axis=0)


def _times():
    from orbitshare.timegrid import time_grid

    sz = _sizes()
    stop_min = int(sz["ntime"] * sz["step_s"] / 60)
    tg = time_grid("2024-01-01T06:00:00Z", f"2024-01-01T{6 + stop_min // 60:02d}:{stop_min % 60:02d}:00Z", sz["step_s"])
    m, w, thd = frames.itrs_rotations(tg.ut1_jd, tg.ut1_fr, tg.xp, tg.yp, tg.sprime)
    return tg.jd, tg.fr, m, w, thd


def _cpu_itrs(params, jd, fr, m, w, thd):
    e, r, v = sgp4.sgp4_propagate(params, jd, fr, simd=False)  # the scalar path the device mirrors
    frames.teme_to_itrs_into(r, v, m, w, thd)
    return e, r, v


def _grid_args():
    from orbitshare.grid import Grid

    g = Grid(_sizes()["res"])
    pxy, pz, nxy, nz = g.row_geometry()
    return (pxy, pz, nxy, nz, g.lon_rad), {"cos_lon": g.cos_lon, "sin_lon": g.sin_lon}


# ------------------------------------------------------------------ device tests
@device
def test_device_sgp4_itrs_matches_cpu():
    from orbitshare.kernels.cuda import cuda_propagate_itrs

    params = _params()
    times = _times()
    e, r, v = cuda_propagate_itrs(params, *times)
    e0, r0, v0 = _cpu_itrs(params, *times)
    np.testing.assert_array_equal(e, e0)
    ok = e0 == 0
    assert ok.all()
    if MODE == "sim":
        np.testing.assert_array_equal(r, r0)
        np.testing.assert_array_equal(v, v0)
    else:
        np.testing.assert_allclose(r, r0, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(v, v0, rtol=1e-9, atol=1e-12)


def _visibility_inputs():
    params = _params()
    e, r, _ = _cpu_itrs(params, *_times())
    nsat, nt = e.shape
    # special rows: a satellite on the polar axis (degenerate rows, whole rows), one below the surface,
    # a NaN position, an SGP4 error code
    r = r.copy()
    r[0, :] = (0.0, 0.0, 7000.0)
    r[1, 0] = (3000.0, 1000.0, 500.0)
    r[2, 1] = np.nan
    e = e.copy()
    e[3, 0] = 6
    system = np.arange(nsat) % 2
    mask = np.radians([25.0, -5.0])
    min_visible = np.array([1, 2], np.int32)
    return r, e, system, mask, min_visible


@device
@pytest.mark.parametrize("memory_bytes", [1 << 30, 1])  # one launch; one step per launch
def test_device_accumulate_matches_cpu(memory_bytes):
    from orbitshare.kernels.cuda import cuda_accumulate_chunk

    r, e, system, mask, mv = _visibility_inputs()
    geo, kw = _grid_args()
    kw = dict(kw, err=e, keep_counts=True, count_any=True)
    cpu = accumulate_chunk(r, system, mask, mv, *geo, **kw)
    gpu = cuda_accumulate_chunk(r, system, mask, mv, *geo, memory_bytes=memory_bytes, **kw)
    assert_backends_equal(gpu, cpu)
    assert cpu.sum_visible.sum() > 0 and (cpu.steps_covered > 0).any() and (cpu.steps_covered < cpu.nsteps).any()


@device
def test_device_chunks_merge_like_cpu():
    from orbitshare.kernels.cuda import cuda_accumulate_chunk

    r, e, system, mask, mv = _visibility_inputs()
    geo, kw = _grid_args()
    cpu = accumulate_chunk(r, system, mask, mv, *geo, err=e, **kw)
    h = r.shape[1] // 2
    a = cuda_accumulate_chunk(r[:, :h], system, mask, mv, *geo, err=e[:, :h], **kw)
    b = cuda_accumulate_chunk(r[:, h:], system, mask, mv, *geo, err=e[:, h:], **kw)
    assert_backends_equal(merge_chunk_states(a, b), cpu)


@device
def test_device_fused_coverage_matches_cpu():
    from orbitshare.kernels.cuda import cuda_coverage

    params = _params()
    times = _times()
    e0, r0, _ = _cpu_itrs(params, *times)
    nsat = params.shape[0]
    system = np.zeros(nsat, np.int32)
    geo, kw = _grid_args()
    cpu = accumulate_chunk(r0, system, np.radians([25.0]), [1], *geo, err=e0, keep_counts=True, **kw)
    state, e = cuda_coverage(
        params,
        *times,
        system,
        np.radians([25.0]),
        [1],
        *geo,
        keep_counts=True,
        chunk_steps=max(1, len(times[0]) // 2 - 1),
        **kw,
    )
    np.testing.assert_array_equal(e, e0)
    assert_backends_equal(state, cpu)


def _capacity_inputs(nsat, nsys, nlat, nlon):
    """Weights over 12 decades with zeros (cells a system may not serve), per-satellite capacities."""
    rng = np.random.default_rng(7)
    w = 10.0 ** rng.uniform(-6.0, 6.0, (nsys, nlat, nlon))
    w[rng.random(w.shape) < 0.2] = 0.0
    cap = rng.uniform(100.0, 20000.0, nsat)
    cap[::7] = 0.0
    return cap, w


@device
@pytest.mark.parametrize("memory_bytes", [1 << 30, 1])  # one launch; one step per launch
def test_device_capacity_matches_cpu(memory_bytes):
    """Capacity on the GPU: the same counts, and per-cell capacity sums, delivered and offered within
    1e-12 relative of the CPU kernel (the issue asks for 1e-9), including degenerate and whole rows."""
    from orbitshare.kernels.cuda import cuda_accumulate_chunk

    r, e, system, mask, mv = _visibility_inputs()
    geo, kw = _grid_args()
    cap, w = _capacity_inputs(r.shape[0], 2, len(geo[0]), len(geo[4]))
    kw = dict(kw, err=e, count_any=True, capacity_per_sat=cap, weight=w)
    cpu = accumulate_chunk(r, system, mask, mv, *geo, **kw)
    gpu = cuda_accumulate_chunk(r, system, mask, mv, *geo, memory_bytes=memory_bytes, **kw)
    assert_backends_equal(gpu, cpu, capacity_rtol=1e-12)
    assert (cpu.capacity_sum > 0).sum() > 10 and cpu.offered.sum() > 0


@device
def test_device_capacity_validation_as_cpu():
    from orbitshare.kernels.cuda import cuda_accumulate_chunk

    r, e, system, mask, mv = _visibility_inputs()
    geo, kw = _grid_args()
    with pytest.raises(ParameterError, match="weight: required with capacity_per_sat"):
        cuda_accumulate_chunk(r, system, mask, mv, *geo, capacity_per_sat=1.0, **kw)
    with pytest.raises(ParameterError, match="weight: expected finite values >= 0"):
        cuda_accumulate_chunk(
            r, system, mask, mv, *geo, capacity_per_sat=1.0, weight=-np.ones((len(geo[0]), len(geo[4]))), **kw
        )


@device
def test_device_fused_capacity_matches_cpu():
    from orbitshare.kernels.cuda import cuda_coverage

    params = _params()
    times = _times()
    e0, r0, _ = _cpu_itrs(params, *times)
    nsat = params.shape[0]
    system = np.zeros(nsat, np.int32)
    geo, kw = _grid_args()
    cap, w = _capacity_inputs(nsat, 1, len(geo[0]), len(geo[4]))
    kw = dict(kw, capacity_per_sat=cap, weight=w)
    cpu = accumulate_chunk(r0, system, np.radians([25.0]), [1], *geo, err=e0, **kw)
    state, e = cuda_coverage(
        params, *times, system, np.radians([25.0]), [1], *geo, chunk_steps=max(1, len(times[0]) // 2 - 1), **kw
    )
    np.testing.assert_array_equal(e, e0)
    # GPU SGP4 positions differ from the CPU's in the last bits: the counts are compared elsewhere
    assert_backends_equal(state, cpu, capacity_rtol=1e-12 if MODE == "sim" else 1e-9, integers=False)


@device
def test_device_coverage_backend_matches_cpu():
    """``coverage(..., backend="cuda")`` (per-chunk fused GPU pass) equals the CPU run exactly, with the
    time series, over several chunks (the last one short)."""
    import xarray as xr

    from orbitshare.engine.coverage import coverage
    from orbitshare.grid import Grid

    systems, times = _two_systems(), _small_times()
    kw = {"chunk_steps": 2, "keep_time_series": True}
    gpu = coverage(systems, Grid(5.0), times, backend="cuda", **kw)
    cpu = coverage(systems, Grid(5.0), times, backend="cpu", **kw)
    xr.testing.assert_identical(gpu, cpu)
    assert (cpu.covered_fraction > 0).any() and (cpu.covered_fraction < 1).any()


def _capacity_systems():
    from orbitshare.system import Band

    a, b = _two_systems()
    return [
        replace(a, capacity_per_sat_mbps=20000.0, bands=(Band("Ku", 10700.0, 12700.0),)),
        replace(b, capacity_per_sat_mbps=5000.0, bands=(Band("Ka", 17700.0, 20200.0),)),
    ]


@device
def test_device_service_backend_matches_cpu():
    """``service(..., backend="cuda")``: coverage and spectrum identical to the CPU run, capacity
    within 1e-12 relative (simulator: the same positions) or 1e-9 (GPU)."""
    import xarray as xr

    from orbitshare.engine.service import service
    from orbitshare.geo.build import geography
    from orbitshare.grid import Grid

    g = Grid(5.0)
    geo = geography(g)
    systems, times = _capacity_systems(), _small_times()
    out = {b: service(systems, g, times, geo, chunk_steps=2, backend=b, rule="proportional") for b in ("cuda", "cpu")}
    xr.testing.assert_identical(out["cuda"]["coverage"], out["cpu"]["coverage"])
    xr.testing.assert_identical(out["cuda"]["spectrum"], out["cpu"]["spectrum"])
    rtol = 1e-12 if MODE == "sim" else 1e-9
    xr.testing.assert_allclose(out["cuda"]["capacity"], out["cpu"]["capacity"], rtol=rtol, atol=0)
    assert float(out["cpu"]["capacity"].capacity_mbps.sum()) > 0


@device
def test_device_run_experiment_cuda(tmp_path):
    """An experiment with ``[compute] backend = "cuda"`` and capacity and equity outputs runs (runner →
    service(backend="cuda")): coverage identical to the same experiment on the cpu backend, capacity
    within 1e-12 relative (simulator) or 1e-9 (GPU)."""
    import xarray as xr

    from orbitshare.experiment import load_experiment
    from orbitshare.runner import run

    text = _EXPERIMENT.replace("DATASETS", '["coverage", "capacity", "countries", "equity"]')
    res = {}
    for backend in ("cuda", "cpu"):
        p = tmp_path / f"{backend}.toml"
        p.write_text(text.replace('backend = "cuda"', f'backend = "{backend}"'), encoding="utf-8")
        exp = load_experiment(p)
        assert exp.compute.backend == backend
        res[backend] = run(exp, tmp_path / f"run_{backend}", progress=False)
    xr.testing.assert_identical(res["cuda"].coverage, res["cpu"].coverage)
    rtol = 1e-12 if MODE == "sim" else 1e-9
    xr.testing.assert_allclose(res["cuda"].capacity, res["cpu"].capacity, rtol=rtol, atol=0)
    assert float(res["cpu"].capacity.capacity_mbps.sum()) > 0
