"""Visibility kernel vs the NumPy brute force on a Walker-like LEO constellation.

4,000 satellites (80 planes × 50, 53°, 550 km, circular, Earth rotation included), 60 one-minute
steps, mask 25°. The brute force tests every satellite against every cell, so it runs on the first
step only (its ids say ``ntime=1``); the kernel's counts for that step must equal it. At 0.25° the
brute force checks a band of 24 rows (``rows=24``) instead of the whole grid.

    pytest tests/benchmarks/test_bench_visibility.py --benchmark-only --benchmark-group-by=group
"""

import math

import numpy as np
import pytest

from orbitshare.grid import Grid
from orbitshare.kernels.visibility import accumulate_chunk
from reference import brute_force_counts

NPLANES, NPER, INC_DEG, ALT_KM = 80, 50, 53.0, 550.0
NSAT = NPLANES * NPER
NTIME, STEP_S = 60, 60.0
MASK_DEG = 25.0
OMEGA_EARTH = 7.2921150e-5  # rad/s


def walker_itrs(ntime=NTIME, step_s=STEP_S):
    """Circular Walker-delta 53°:4000/80/1 positions in an Earth-fixed frame, float64[nsat, ntime, 3] km."""
    a = 6378.137 + ALT_KM
    n = math.sqrt(398600.4418 / a**3)
    p = np.repeat(np.arange(NPLANES), NPER)
    s = np.tile(np.arange(NPER), NPLANES)
    raan = 2 * np.pi * p / NPLANES
    u0 = 2 * np.pi * (s / NPER + p / (NPLANES * NPER))
    t = np.arange(ntime) * step_s
    u = u0[:, None] + n * t[None, :]
    node = raan[:, None] - OMEGA_EARTH * t[None, :] + 0.3
    ci, si = math.cos(math.radians(INC_DEG)), math.sin(math.radians(INC_DEG))
    x = a * (np.cos(node) * np.cos(u) - np.sin(node) * np.sin(u) * ci)
    y = a * (np.sin(node) * np.cos(u) + np.cos(node) * np.sin(u) * ci)
    z = a * np.sin(u) * si
    return np.ascontiguousarray(np.stack([x, y, z], axis=2))


@pytest.fixture(scope="module")
def positions():
    return walker_itrs()


_REF = {}


def _kernel(grid, r, keep_counts=True):
    pxy, pz, nxy, nz = grid.row_geometry()
    return accumulate_chunk(
        r,
        np.zeros(len(r), np.int32),
        np.radians([MASK_DEG]),
        np.array([1], np.int32),
        pxy,
        pz,
        nxy,
        nz,
        grid.lon_rad,
        cos_lon=grid.cos_lon,
        sin_lon=grid.sin_lon,
        keep_counts=keep_counts,
    )


def _brute(grid, r, rows=None):
    pxy, pz, nxy, nz = grid.row_geometry()
    sl = slice(None) if rows is None else rows
    return brute_force_counts(
        r,
        np.zeros(len(r), np.int64),
        1,
        np.full(len(r), math.sin(math.radians(MASK_DEG))),
        pxy[sl],
        pz[sl],
        nxy[sl],
        nz[sl],
        grid.cos_lon,
        grid.sin_lon,
    )


def _reference(grid, r, rows=None):
    key = (grid.nlat, rows)
    if key not in _REF:
        _REF[key] = _brute(grid, r[:, :1], None if rows is None else slice(*rows))
    return _REF[key]


def _check(state, grid, r, rows=None):
    ref = _reference(grid, r, rows)
    got = state.counts[:, :1] if rows is None else state.counts[:, :1, rows[0] : rows[1]]
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(state.sum_visible, state.counts.sum(axis=1, dtype=np.int64))
    assert ref.sum() > 0


@pytest.mark.benchmark(group="visibility")
@pytest.mark.parametrize("res", [1.0], ids=lambda res: f"numpy-bruteforce-nsat={NSAT}-ntime=1-res={res}")
def test_bench_numpy_bruteforce(benchmark, positions, res):
    g = Grid(res)
    r1 = np.ascontiguousarray(positions[:, :1])
    out = benchmark.pedantic(_brute, args=(g, r1), rounds=1, iterations=1)
    _REF.setdefault((g.nlat, None), out)
    np.testing.assert_array_equal(out, _kernel(g, r1).counts)


@pytest.mark.benchmark(group="visibility")
@pytest.mark.parametrize("ntime", [1, NTIME], ids=lambda n: f"kernel-nsat={NSAT}-ntime={n}-res=1.0")
def test_bench_kernel_1deg(benchmark, positions, ntime):
    g = Grid(1.0)
    r = np.ascontiguousarray(positions[:, :ntime])
    _kernel(g, r[:, :1])  # compile outside the timing
    state = benchmark.pedantic(_kernel, args=(g, r), rounds=3, iterations=1)
    _check(state, g, r)


@pytest.mark.benchmark(group="visibility")
@pytest.mark.parametrize("res", [0.25], ids=lambda res: f"kernel-nsat={NSAT}-ntime={NTIME}-res={res}-checked-rows=24")
def test_bench_kernel_fine(benchmark, positions, res):
    g = Grid(res)
    _kernel(g, positions[:, :1])
    state = benchmark.pedantic(_kernel, args=(g, positions), rounds=2, iterations=1)
    i0 = int(np.searchsorted(g.lat, 45.0))
    _check(state, g, positions, rows=(i0, i0 + 24))
