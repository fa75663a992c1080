"""The co-frequency sharing sums on the Dask backend (one extra task per chunk with every satellite) equal the
single-process pass bit for bit (tests/backend_equality.py), and a resume state without them is refused."""

import numpy as np
import pytest

import orbitshare
from backend_equality import assert_backends_equal
from orbitshare.engine.dask_backend import get_client
from orbitshare.engine.passinputs import prepare_pass
from orbitshare.engine.stream import run_pass
from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.kernels.chunkstate import empty_chunk_state
from orbitshare.kernels.spectrum import segment_table, spectrum_inputs
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
CHUNK = 7


@pytest.fixture(scope="module")
def pass_inputs():
    grid = Grid(5.0)
    times = time_grid("2026-08-18T00:30:00Z", "2026-08-18T01:10:00Z", 120.0)
    a = orbitshare.walker(550.0, 53.0, 6, 8, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1200.0, 87.9, 4, 6, 2, EPOCH, raan0_deg=20.0, norad_start=910000, name_prefix="B")
    systems = [System("alpha", a, 25.0, 1), System("beta", b, 10.0, 2)]
    _, width, in_band = segment_table([[(10700.0, 12700.0), (17700.0, 18600.0)], [(10950.0, 12750.0), None]])
    share = np.random.default_rng(1).random((2, grid.nlat, grid.nlon))
    spec = spectrum_inputs(in_band, width, share, 30.0, "equal")
    return prepare_pass(systems, grid, times, chunk_steps=CHUNK, count_any=True, spectrum=spec)


def test_dask_sharing_equals_the_local_run(pass_inputs):
    local = run_pass(pass_inputs).state
    assert local.inline_steps.sum() > 0 and np.count_nonzero(local.effective_sum) > 100
    with get_client(workers=2) as client:
        client.wait_for_workers(2, timeout=60)
        dask = run_pass(pass_inputs, client=client).state
    assert_backends_equal(dask, local)


def test_resume_state_must_carry_the_sharing_sums(pass_inputs):
    g = pass_inputs.grid
    state = empty_chunk_state(2, g.nlat, g.nlon, count_any=True)
    with pytest.raises(ParameterError, match="co-frequency sharing"):
        run_pass(pass_inputs, resume={"chunks_done": 0, "state": state, "err_steps": np.zeros(2, np.int64)})
