"""service() with the capacity allocation (rules "maxmin" and "throughput"): caps and demand never exceeded,
conservation per step, the polymatroid identity (maxmin total = throughput total), the demand grid by hand,
landing rights, gateways, the Dask backend bit for bit, and the CUDA refusal."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.demand import Demand
from orbitshare.engine.backends import ALLOCATION_NOT_ON_CUDA
from orbitshare.engine.dask_backend import get_client
from orbitshare.engine.service import service
from orbitshare.errors import BackendError
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def grid():
    return Grid(5.0)


@pytest.fixture(scope="module")
def geog(grid):
    return orbitshare.geography(grid)


@pytest.fixture(scope="module")
def times():
    return time_grid(EPOCH, "2026-01-01T00:40:00Z", 120.0)


@pytest.fixture(scope="module")
def systems():
    a = orbitshare.walker(550.0, 53.0, 8, 10, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1200.0, 87.9, 6, 8, 2, EPOCH, raan0_deg=20.0, norad_start=910000, name_prefix="B")
    return [
        System(
            "alpha", a, 25.0, capacity_per_sat_mbps=20000.0, beams=16, max_beams_per_cell=2, service_cell_km2=5000.0
        ),
        System("beta", b, 10.0, beam_capacity_mbps=450.0, beams=16, exclude_countries=("IND",)),
    ]


DEMAND = Demand(adoption=0.01, busy_hour_mbps=2.4)


@pytest.fixture(scope="module")
def runs(systems, grid, times, geog):
    return {r: service(systems, grid, times, geog, rule=r, demand=DEMAND) for r in ("maxmin", "throughput")}


def test_no_cell_is_served_above_its_demand_or_its_cap(runs, systems, grid):
    cap = runs["maxmin"]["capacity"]
    served = cap.served_mbps.values
    assert served.sum() > 0
    dem = cap.system_demand_mbps.values
    assert np.all(served <= dem * (1 + 1e-9) + 1e-9)
    met = cap.demand_met_fraction.values
    assert np.nanmax(met) <= 1 + 1e-9 and np.nanmin(met) >= 0
    # cell cap of beta: one beam of 450 Mbit/s per cell (no service cells)
    assert served[1].max() <= 450.0 * (1 + 1e-12)


def test_per_step_conservation_and_utilisation(runs, systems):
    for cap in (runs["maxmin"]["capacity"], runs["throughput"]["capacity"]):
        off, dlv = cap.offered_step_mbps.values, cap.delivered_step_mbps.values
        assert np.all(dlv <= off * (1 + 1e-12))
        np.testing.assert_allclose(cap.unused_step_mbps.values, off - dlv)
        # what the cells receive is what the satellites deliver
        nt = cap.sizes["time"]
        np.testing.assert_allclose(cap.served_mbps.values.sum(axis=(1, 2)) * nt, dlv.sum(axis=1), rtol=1e-9)
        # without gateways every satellite may deliver: offered = nsat x capacity
        np.testing.assert_allclose(off[0], len(systems[0].elements) * 20000.0)
        np.testing.assert_allclose(cap.gateway_fraction.values, 1.0)


def test_maxmin_total_equals_the_maximum_throughput(runs):
    a, b = runs["maxmin"]["capacity"], runs["throughput"]["capacity"]
    np.testing.assert_allclose(a.delivered_step_mbps.values, b.delivered_step_mbps.values, rtol=1e-9)
    # maxmin lifts the worst-served cells: its minimum share of demand met is at least throughput's
    assert np.nanmin(a.system_demand_met_fraction.values) >= np.nanmin(b.system_demand_met_fraction.values) - 1e-12


def test_demand_grid_by_hand(runs, geog):
    cap = runs["maxmin"]["capacity"]
    pop = geog.population.fillna(0).transpose("lat", "lon").values
    land = geog.country_fraction.fillna(0).astype(np.float64).sum("country").transpose("lat", "lon").values
    lf = geog.land_fraction.fillna(0).astype(np.float64).transpose("lat", "lon").values
    share_sum = np.where(lf > 0, land / np.where(lf > 0, lf, 1), 0.0)
    np.testing.assert_allclose(cap.subscribers.values, 0.01 * pop * share_sum, rtol=1e-9, atol=1e-9)
    # India: only alpha may serve it (beta excludes it) -> alpha holds all of India's demand
    ds = cap.demand_share.sel(country="IND").values
    np.testing.assert_array_equal(ds, [1.0, 0.0])
    np.testing.assert_array_equal(cap.demand_share.sel(country="FRA").values, [0.5, 0.5])
    total = cap.system_demand_mbps.sum("system")
    np.testing.assert_allclose(total.values, cap.demand_mbps.values, rtol=1e-12, atol=1e-9)


def test_a_country_the_system_may_not_serve_has_no_demand_for_it(runs, geog):
    cap = runs["maxmin"]["capacity"]
    ind = geog.country_fraction.sel(country="IND").fillna(0).transpose("lat", "lon").values
    only_india = (ind > 0.999 * geog.land_fraction.fillna(0).transpose("lat", "lon").values) & (ind > 0)
    assert only_india.any()
    assert np.all(cap.system_demand_mbps.values[1][only_india] == 0.0)
    assert np.all(cap.served_mbps.values[1][only_india] == 0.0)


def test_no_gateway_in_view_no_service(systems, grid, times, geog):
    # a gateway at the South Pole with a 60 degree mask never sees a 53-degree, 550 km satellite
    far = System("alpha", systems[0].elements, 25.0, capacity_per_sat_mbps=20000.0, gateway_sites=((-90.0, 0.0),),
                 gateway_mask_deg=60.0)  # fmt: skip
    cap = service(far, grid, times, geog, demand=DEMAND)["capacity"]
    assert float(cap.delivered_mbps[0]) == 0.0 and float(cap.offered_mbps[0]) == 0.0
    assert float(cap.gateway_fraction[0]) == 0.0
    isl = System("alpha", systems[0].elements, 25.0, capacity_per_sat_mbps=20000.0, gateway_sites=((-90.0, 0.0),),
                 gateway_mask_deg=60.0, isl=True)  # fmt: skip
    assert float(service(isl, grid, times, geog, demand=DEMAND)["capacity"].delivered_mbps[0]) > 0


def test_cuda_refuses_the_allocation_in_one_line(systems, grid, times, geog):
    with pytest.raises(BackendError) as e:
        service(systems, grid, times, geog, backend="cuda")
    assert str(e.value) == ALLOCATION_NOT_ON_CUDA and "\n" not in str(e.value)


def test_dask_backend_gives_identical_results(systems, grid, times, geog, runs):
    with get_client(workers=2) as client:
        client.wait_for_workers(2, timeout=60)
        out = service(systems, grid, times, geog, rule="maxmin", demand=DEMAND, client=client, backend="dask")
    for k in ("coverage", "spectrum", "capacity"):
        a, b = out[k], runs["maxmin"][k]
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        for v in a.data_vars:
            assert a[v].values.tobytes() == b[v].values.tobytes(), v
