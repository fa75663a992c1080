"""The Dask backend (orbitshare.engine.dask_backend): (time chunk × system) tasks on separate worker processes
merge to exactly the single-process state — integers identical, capacity float sums bit for bit —
also when a worker is killed mid-run. dask[distributed] is a test dependency: these never skip."""

import os
import signal
import time

import numpy as np
import pytest

import orbitshare
from backend_equality import assert_backends_equal
from orbitshare.engine import dask_backend
from orbitshare.engine.dask_backend import (
    SystemInput,
    chunk_system_task,
    dask_chunk_states,
    dask_pass_chunks,
    get_client,
    stack_system_states,
    system_inputs,
)
from orbitshare.engine.passinputs import GridGeometry, prepare_pass
from orbitshare.engine.stream import run_pass
from orbitshare.grid import Grid
from orbitshare.kernels.chunkstate import empty_chunk_state, merge_chunk_states
from orbitshare.kernels.visibility import accumulate_chunk
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
START = "2026-08-18T00:30:00Z"
STOP = "2026-08-18T01:30:00Z"  # 60 steps of 60 s
CHUNK = 7


@pytest.fixture(scope="module")
def times():
    t = time_grid(START, STOP, 60.0)
    assert 58 <= len(t) <= 61
    return t


@pytest.fixture(scope="module")
def grid():
    return Grid(5.0)


@pytest.fixture(scope="module")
def systems():
    a = orbitshare.walker(550.0, 53.0, 6, 8, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1200.0, 87.9, 4, 6, 2, EPOCH, raan0_deg=20.0, norad_start=910000, name_prefix="B")
    return [System("alpha", a, 25.0, 1), System("beta", b, 10.0, 2)]


@pytest.fixture(scope="module")
def capacity(grid):
    # non-uniform weights so the float sums really depend on the summation order
    rng = np.random.default_rng(7)
    w = rng.uniform(0.0, 3.0, (2, grid.nlat, grid.nlon))
    w[:, :, ::5] = 0.0
    return np.array([20000.0, 7500.0]), w


@pytest.fixture(scope="module")
def client():
    with get_client(workers=2) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _merge(stream, nsys, nlat, nlon, *, count_any=False, cap=False):
    state = empty_chunk_state(nsys, nlat, nlon, count_any=count_any, capacity=cap)
    err = np.zeros(nsys, np.int64)
    order = []
    for ci, n, st, e in stream:
        order.append((ci, n))
        assert st.sum_visible.shape[0] == nsys
        state = merge_chunk_states(state, st._replace(counts=None))
        err += e
    return state, err, order


def _expected_order(times):
    nt = len(times)
    return [(i, min(CHUNK, nt - i * CHUNK)) for i in range(-(-nt // CHUNK))]


# --------------------------------------------------------------------------- no cluster needed
def test_per_system_tasks_stack_to_the_all_systems_chunk(systems, grid, times, capacity):
    """The decomposition itself: one chunk, each system alone, stacked == all systems at once
    (counts, delivered and offered included), with the driver's nblocks rule."""
    geom = GridGeometry.from_grid(grid)
    inputs = system_inputs(systems, capacity, geom)
    chunk = times[7:14]
    n = len(chunk)
    nb = dask_backend.capacity_nblocks(n, True)
    assert nb == min(8, n)
    parts = [chunk_system_task(inp, geom, chunk, True, True, nb) for inp in inputs]
    st = stack_system_states([p[0] for p in parts])
    assert st.counts.shape == (2, n, grid.nlat, grid.nlon)
    assert st.delivered.shape == st.offered.shape == (2, n)

    elements = orbitshare.ElementSet.concat([s.elements for s in systems])
    sat_sys = np.concatenate([np.full(len(s.elements), i, np.int32) for i, s in enumerate(systems)])
    e, r, _ = orbitshare.propagate(elements, chunk, frame="itrs")
    cap_sys, w = capacity
    ref = accumulate_chunk(
        r,
        sat_sys,
        np.radians([s.elevation_mask_deg for s in systems]),
        np.array([s.min_visible for s in systems]),
        *geom[:4],
        geom.lon_rad,
        cos_lon=geom.cos_lon,
        sin_lon=geom.sin_lon,
        err=e,
        keep_counts=True,
        nblocks=nb,
        count_any=True,
        capacity_per_sat=cap_sys[sat_sys],
        weight=w,
    )
    assert_backends_equal(st, ref)
    assert [p[1] for p in parts] == [int(np.count_nonzero(e[sat_sys == i])) for i in range(2)]
    assert st.sum_visible.sum() > 0 and np.count_nonzero(st.capacity_sum) > 0


def test_stack_system_states_checks(grid):
    a = empty_chunk_state(1, 3, 4, count_any=True)
    b = empty_chunk_state(1, 3, 4)
    st = stack_system_states([a, b])
    assert st.sum_visible.shape == (2, 3, 4) and st.steps_any is None and st.capacity_sum is None
    with pytest.raises(ValueError):
        stack_system_states([])
    with pytest.raises(ValueError):
        stack_system_states([a, a._replace(nsteps=3)])


def test_get_client_rejects_both():
    with pytest.raises(ValueError), get_client(scheduler="tcp://127.0.0.1:1", workers=2):
        pass


# --------------------------------------------------------------------------- 2-worker LocalCluster
@pytest.mark.parametrize("with_capacity", [False, True])
def test_dask_states_equal_the_local_run(client, systems, grid, times, capacity, with_capacity):
    cap = capacity if with_capacity else None
    local_result = run_pass(prepare_pass(systems, grid, times, chunk_steps=CHUNK, count_any=True, capacity=cap))
    local = local_result.state
    ds_err = local_result.err_steps
    stream = dask_chunk_states(systems, times, CHUNK, grid, client=client, count_any=True, capacity=cap)
    state, err, order = _merge(stream, 2, grid.nlat, grid.nlon, count_any=True, cap=with_capacity)
    assert order == _expected_order(times)
    assert_backends_equal(state, local)
    np.testing.assert_array_equal(err, ds_err)
    # not vacuous
    assert state.nsteps == len(times)
    assert 0 < state.steps_covered.sum() < 2 * len(times) * grid.nlat * grid.nlon
    assert np.any(state.max_inner_run > 0)
    if with_capacity:
        assert np.count_nonzero(state.capacity_sum) > 100
        assert state.delivered.shape == (2, len(times))


def test_dask_pass_chunks_keeps_counts_and_time_slices(client, systems, grid, times):
    local_counts = run_pass(prepare_pass(systems, grid, times, chunk_steps=CHUNK, keep_time_series=True)).counts
    inputs = prepare_pass(systems, grid, times, chunk_steps=CHUNK, keep_time_series=True)
    got = list(dask_pass_chunks(inputs, client=client, max_chunks_ahead=1))
    assert np.array_equal(np.concatenate([c.time for c, _, _ in got]), times.time)
    counts = np.concatenate([st.counts for _, st, _ in got], axis=1)
    np.testing.assert_array_equal(counts, local_counts)
    assert counts.any()


def test_prepared_inputs_and_early_close(client, systems, grid, times):
    geom = GridGeometry.from_grid(grid)
    inputs = system_inputs(systems, None, geom)
    assert all(isinstance(s, SystemInput) for s in inputs)
    gen = dask_chunk_states(inputs, times, CHUNK, geom, client=client)
    ci, n, st, _ = next(gen)
    assert (ci, n) == (0, CHUNK) and st.nsteps == CHUNK
    gen.close()  # cancels what is in flight, no error


def test_a_killed_worker_does_not_change_the_result(client, systems, grid, times, capacity):
    local_result = run_pass(prepare_pass(systems, grid, times, chunk_steps=CHUNK, count_any=True, capacity=capacity))
    local = local_result.state
    pids = client.run(os.getpid)
    assert len(pids) == 2
    stream = dask_chunk_states(
        systems, times, CHUNK, grid, client=client, count_any=True, capacity=capacity, max_chunks_ahead=1, retries=2
    )
    first = next(stream)
    assert first[0] == 0
    # kill the worker with the most work in flight (chunks 1 and 2 are submitted), SIGKILL: no goodbye
    processing = client.processing()
    victim = max(sorted(pids), key=lambda a: len(processing.get(a, ())))
    os.kill(pids[victim], signal.SIGKILL)
    rest = list(stream)
    state, err, order = _merge([first] + rest, 2, grid.nlat, grid.nlon, count_any=True, cap=True)
    assert order == _expected_order(times)
    assert_backends_equal(state, local)
    np.testing.assert_array_equal(err, local_result.err_steps)
    # the process really died (the nanny starts a new one)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        try:
            os.kill(pids[victim], 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the killed worker process is still alive")
    assert pids[victim] not in client.run(os.getpid).values()


def test_capacity_bits_follow_the_driver_block_rule(client, systems, grid, times, capacity):
    """With chunks longer than CAPACITY_TIME_BLOCKS the block partition changes the float sums' bits:
    the default rule reproduces the local run exactly, another partition does not (the test is live)."""
    local_result = run_pass(prepare_pass(systems, grid, times, chunk_steps=20, capacity=capacity))
    local = local_result.state

    def run(**kw):
        return _merge(
            dask_chunk_states(systems, times, 20, grid, client=client, capacity=capacity, **kw),
            2,
            grid.nlat,
            grid.nlon,
            cap=True,
        )[0]

    assert_backends_equal(run(), local)
    other = run(nblocks_for=lambda n: 1)
    np.testing.assert_array_equal(other.steps_covered, local.steps_covered)
    assert not np.array_equal(other.capacity_sum, local.capacity_sum)
    np.testing.assert_allclose(other.capacity_sum, local.capacity_sum, rtol=1e-12)


def test_all_workers_killed_inputs_are_scattered_again(client, systems, grid, times, capacity, monkeypatch):
    """Every copy of the scattered inputs lost (both workers killed): the chunks in flight are
    resubmitted with fresh copies once the nannies have restarted the workers; same bits."""
    local_result = run_pass(prepare_pass(systems, grid, times, chunk_steps=CHUNK, capacity=capacity))
    local = local_result.state
    client.wait_for_workers(2, timeout=60)
    pids = client.run(os.getpid)
    calls = []
    scatter = client.scatter
    monkeypatch.setattr(client, "scatter", lambda *a, **k: calls.append(1) or scatter(*a, **k))
    stream = dask_chunk_states(systems, times, CHUNK, grid, client=client, capacity=capacity, max_chunks_ahead=1)
    first = next(stream)
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    state, _err, order = _merge([first, *stream], 2, grid.nlat, grid.nlon, cap=True)
    assert order == _expected_order(times)
    assert_backends_equal(state, local)
    assert len(calls) == 4  # inputs + geometry, then both again after the loss
    assert not set(pids.values()) & set(client.run(os.getpid).values())
