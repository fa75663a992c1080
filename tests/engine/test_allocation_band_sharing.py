"""The allocation when two systems share a band: a system's beams on a cell carry the share of its band that
the co-frequency sharing leaves it (``band_sharing``). Checked by what must hold whatever the code does:

* two copies of one constellation on one band are in line wherever they serve (the same satellite
  positions), so under the equal split each system's beams carry half the band everywhere. That run must
  equal a run without any sharing (the copies on separate bands) in which each system's beam capacity and
  satellite capacity are halved and its cell cap in Mbit/s kept (twice the beams per cell): the same
  constraints in Mbit/s (x ≤ P/2, Σ x ≤ S/2 beam time, Σ x ≤ min(D, K)) and the same demand;
* under the priority split the second copy gets nothing and the first is served as if alone on its band;
* "throughput" refuses it, band_sharing = false restores the old allocation, and Dask gives the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.demand import Demand
from orbitshare.engine.dask_backend import get_client
from orbitshare.engine.service import service
from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.system import Band, System
from orbitshare.timegrid import time_grid

EPOCH = "2026-01-01T00:00:00Z"
KU = Band("Ku", 10700.0, 12700.0)
KA = Band("Ka", 17700.0, 20200.0)
DEMAND = Demand(adoption=0.05, busy_hour_mbps=2.4)


@pytest.fixture(scope="module")
def setup():
    grid = Grid(5.0)
    geog = orbitshare.geography(grid)
    times = time_grid(EPOCH, "2026-01-01T00:30:00Z", 120.0)
    shell = orbitshare.walker(550.0, 53.0, 8, 10, 1, EPOCH, name_prefix="A")
    return grid, geog, times, shell


def _pair(shell, bands, cap, beams, max_beams):
    kw = {"capacity_per_sat_mbps": cap, "beams": beams, "max_beams_per_cell": max_beams, "service_cell_km2": 5000.0}
    names = ("first", "second")
    return [System(name, shell, 25.0, bands=(band,), **kw) for name, band in zip(names, bands, strict=True)]


def test_equal_split_is_half_the_beams_everywhere(setup):
    grid, geog, times, shell = setup
    shared = service(_pair(shell, (KU, KU), 20000.0, 16, 2), grid, times, geog, demand=DEMAND)
    halved = service(_pair(shell, (KU, KA), 10000.0, 16, 4), grid, times, geog, demand=DEMAND)
    a, b = shared["capacity"], halved["capacity"]
    assert a.attrs["band_sharing"] == 1 and b.attrs["band_sharing"] == 0
    assert "full-band beam units" in a.attrs["model"]
    served = a.served_mbps.values
    assert served.sum() > 0 and np.any(a.demand_met_fraction.values < 0.999)  # capacity binds somewhere
    np.testing.assert_allclose(served, b.served_mbps.values, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.delivered_step_mbps.values, b.delivered_step_mbps.values, rtol=1e-12)
    # and not what the full band would give
    alone = service(_pair(shell, (KU, KA), 20000.0, 16, 2), grid, times, geog, demand=DEMAND)["capacity"]
    assert alone.served_mbps.values.sum() > 1.05 * served.sum()
    # the spectrum says why: every cell in view has half the band for each system
    eff = shared["spectrum"].effective_mhz.sel(band="Ku").values
    inview = shared["spectrum"].band_mhz_in_view.sel(band="Ku").values
    np.testing.assert_allclose(eff, 0.5 * inview, rtol=1e-12, atol=1e-9)


def test_priority_split_serves_the_first_as_if_alone(setup):
    grid, geog, times, shell = setup
    run = service(_pair(shell, (KU, KU), 20000.0, 16, 2), grid, times, geog, demand=DEMAND, split="priority")
    apart = service(_pair(shell, (KU, KA), 20000.0, 16, 2), grid, times, geog, demand=DEMAND)
    cap, ref = run["capacity"], apart["capacity"]
    assert cap.delivered_step_mbps.values[1].max() == 0.0
    assert cap.served_mbps.values[1].max() == 0.0
    np.testing.assert_array_equal(cap.served_mbps.values[0], ref.served_mbps.values[0])


def test_band_sharing_false_is_each_system_alone(setup):
    grid, geog, times, shell = setup
    systems = _pair(shell, (KU, KU), 20000.0, 16, 2)
    off = service(systems, grid, times, geog, demand=DEMAND, band_sharing=False)["capacity"]
    apart = service(_pair(shell, (KU, KA), 20000.0, 16, 2), grid, times, geog, demand=DEMAND)["capacity"]
    assert off.attrs["band_sharing"] == 0 and "full-band beam units" not in off.attrs["model"]
    np.testing.assert_array_equal(off.served_mbps.values, apart.served_mbps.values)
    with pytest.raises(ParameterError, match="band_sharing = false"):
        service(systems, grid, times, geog, demand=DEMAND, rule="throughput")
    tp = service(systems, grid, times, geog, demand=DEMAND, rule="throughput", band_sharing=False)["capacity"]
    assert tp.delivered_step_mbps.values.sum() > 0


def test_dask_gives_the_same_bits_with_shared_beams(setup):
    grid, geog, times, shell = setup
    systems = _pair(shell, (KU, KU), 20000.0, 16, 2)
    local = service(systems, grid, times, geog, demand=DEMAND, chunk_steps=5)
    with get_client(workers=2) as client:
        client.wait_for_workers(2, timeout=60)
        remote = service(systems, grid, times, geog, demand=DEMAND, chunk_steps=5, client=client, backend="dask")
    for key in ("capacity", "spectrum"):
        a, b = remote[key], local[key]
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        for v in a.data_vars:
            assert a[v].values.tobytes() == b[v].values.tobytes(), v


def test_a_system_without_bands_is_served_as_before(setup):
    """A third system with a capacity but no band takes no part in the sharing: its beams carry their full
    capacity whatever the two sharing systems do (bit for bit as with band_sharing = false)."""
    grid, geog, times, shell = setup
    other = orbitshare.walker(1200.0, 87.9, 6, 8, 2, EPOCH, norad_start=910000, name_prefix="B")
    third = System("third", other, 10.0, capacity_per_sat_mbps=7200.0, beams=16)
    systems = [*_pair(shell, (KU, KU), 20000.0, 16, 2), third]
    on = service(systems, grid, times, geog, demand=DEMAND)["capacity"]
    off = service(systems, grid, times, geog, demand=DEMAND, band_sharing=False)["capacity"]
    assert on.served_mbps.values[2].sum() > 0
    np.testing.assert_array_equal(on.served_mbps.values[2], off.served_mbps.values[2])
    assert on.served_mbps.values[0].sum() < off.served_mbps.values[0].sum()
