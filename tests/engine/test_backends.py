"""The one backend dispatch (engine.backends) and the pass inputs checked once (engine.passinputs)."""

import numpy as np
import pytest

import orbitshare
from orbitshare.engine.backends import BACKENDS, check_backend, chunk_source
from orbitshare.engine.passinputs import check_capacity_inputs, prepare_pass
from orbitshare.engine.stream import run_pass
from orbitshare.errors import BackendError, ParameterError, ParameterTypeError
from orbitshare.grid import Grid
from orbitshare.kernels.chunkstate import merge_chunk_states
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"


@pytest.fixture(scope="module")
def systems():
    a = orbitshare.walker(550.0, 53.0, 4, 6, 1, EPOCH, name_prefix="A")
    return [System("alpha", a, 25.0, 1)]


@pytest.fixture(scope="module")
def times():
    return time_grid("2026-08-18T00:00:00Z", "2026-08-18T00:20:00Z", 60.0)


def test_backend_names_and_their_requirements():
    assert BACKENDS == ("cpu", "dask", "cuda")
    assert check_backend("cpu") == "cpu"
    assert check_backend("cpu", client=object()) == "dask"  # a client means the Dask backend
    assert check_backend("dask", client=object()) == "dask"
    with pytest.raises(BackendError, match="needs a Dask client"):
        check_backend("dask")
    with pytest.raises(ParameterError, match="got 'gpu'"):
        check_backend("gpu")
    with pytest.raises(BackendError, match="runs in this process"):
        check_backend("cuda", client=object())


def test_cpu_source_chunks_merge_to_the_one_chunk_state(systems, times):
    """The CPU source's chunks, merged in time order, equal the pass over one chunk (exact integers)."""
    grid = Grid(5.0)
    one = run_pass(prepare_pass(systems, grid, times, chunk_steps=len(times))).state
    inputs = prepare_pass(systems, grid, times, chunk_steps=3)
    parts = list(chunk_source("cpu", inputs))
    assert [len(c) for c, _, _ in parts] == [3] * 6 + [2]
    state = parts[0][1]
    for _, st, _ in parts[1:]:
        state = merge_chunk_states(state, st)
    for name in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap"):
        np.testing.assert_array_equal(getattr(state, name), getattr(one, name), err_msg=name)
    assert one.sum_visible.sum() > 0
    # from step 9 on (a resume after three chunks): the chunks of the rest only
    rest = list(chunk_source("cpu", inputs, 9))
    assert [len(c) for c, _, _ in rest] == [3, 3, 3, 2] and rest[0][0].time[0] == times.time[9]


def test_inputs_are_checked_once_with_clear_messages(systems, times):
    grid = Grid(5.0)
    with pytest.raises(ParameterTypeError, match="times: expected a TimeGrid"):
        prepare_pass(systems, grid, [0, 1])
    with pytest.raises(ParameterError, match="chunk_steps: expected an integer >= 1, got 0"):
        prepare_pass(systems, grid, times, chunk_steps=0)
    with pytest.raises(ParameterError, match=r"capacity: expected one capacity per system \(1\)"):
        prepare_pass(systems, grid, times, capacity=([1.0, 2.0], np.ones((36, 72))))
    with pytest.raises(ParameterError, match="do not fit the grid"):
        prepare_pass(systems, grid, times, capacity=([1.0], np.ones((1, 10, 72))))
    cap, w = check_capacity_inputs(([5.0], np.ones((36, 72))), 1, 36, 72)
    assert cap.tolist() == [5.0] and w.shape == (1, 36, 72) and w.flags.c_contiguous
