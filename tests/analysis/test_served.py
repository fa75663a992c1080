"""Country and group accounts, equity and Lorenz curves of an allocation (capacity rule "maxmin" or
"throughput"), on a hand-made capacity Dataset with the variables of orbitshare.engine.service.service.

The toy world (one row of four 90° cells), busy hour 2 Mbit/s per subscriber::

    cell   country_fraction      land   population   subscribers        served S1 / S2 (Mbit/s)
    0      AAA 1.0               1.0    1000         AAA 100            100 / 0
    1      AAA 0.4, BBB 0.4      0.8    400          AAA 20, BBB 40     60 / 20
    2      BBB 1.0               1.0    600          BBB 120            120 / 60
    3      ocean                 0      50           none               0 / 0

    adoption AAA 0.1, BBB 0.2, CCC 0.1 (CCC is not on the grid)
    S1 may serve everyone; S2 may not serve AAA -> demand_share S1: AAA 1, BBB 0.5; S2: AAA 0, BBB 0.5
    demand on S1: cell 0 AAA 200; cell 1 AAA 40, BBB 40; cell 2 BBB 120.  on S2: cell 1 BBB 40; cell 2 BBB 120
    S1's 60 in cell 1 splits 30 / 30 (equal demand); S2's 20 all to BBB
    served: AAA S1 130, S2 0; BBB S1 150, S2 80.  demand: AAA 240, BBB 320 (S1 160, S2 160)
    per-piece served per subscriber: AAA cell 0 1.0, cell 1 1.5; BBB cell 1 1.25, cell 2 1.5
"""

import warnings

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis import equity as eq
from orbitshare.analysis.accounts import (
    country_accounts,
    equity_summary,
    group_accounts,
    is_allocation,
    lorenz_curves,
    threshold_name,
)
from orbitshare.errors import ParameterError

LAT = np.array([0.0])
LON = np.array([-135.0, -45.0, 45.0, 135.0])
CODES = ["AAA", "BBB", "CCC"]
SYSTEMS = ["S1", "S2"]
BUSY = 2.0


def geography() -> xr.Dataset:
    frac = np.zeros((3, 1, 4), np.float32)
    frac[0, 0, 0] = 1.0
    frac[0, 0, 1] = frac[1, 0, 1] = 0.4
    frac[1, 0, 2] = 1.0
    land = np.minimum(frac.astype(np.float64).sum(axis=0), 1.0).astype(np.float32)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "land_fraction": (("lat", "lon"), land),
            "population": (("lat", "lon"), np.array([[1000.0, 400.0, 600.0, 50.0]])),
        },
        coords={
            "lat": LAT,
            "lon": LON,
            "country": CODES,
            "country_name": ("country", ["Aland", "Beland", "Celand"]),
            "ldc": ("country", np.array([1, 0, 0], bool)),
            "lldc": ("country", np.array([0, 0, 1], bool)),
            "sids": ("country", np.array([0, 1, 0], bool)),
            "itu_region": ("country", np.array([1, 2, 3], np.int8)),
            "un_member": ("country", np.ones(3, bool)),
        },
    )


def capacity(served=None, demand_share=None, adoption=(0.1, 0.2, 0.1), thresholds=(1.0, 1.5, 2.0)) -> xr.Dataset:
    """A capacity Dataset of an allocation with the brief's variables (the ones the accounts read, and
    the per-system ones the report shows)."""
    if served is None:
        served = [[100.0, 60.0, 120.0, 0.0], [0.0, 20.0, 60.0, 0.0]]
    if demand_share is None:
        demand_share = [[1.0, 0.5, 0.5], [0.0, 0.5, 0.5]]
    grid = {"system": SYSTEMS, "lat": LAT, "lon": LON}
    sv = np.asarray(served, np.float64).reshape(2, 1, 4)
    return xr.Dataset(
        {
            "served_mbps": (("system", "lat", "lon"), sv, {"units": "Mbit/s"}),
            "adoption": ("country", np.asarray(adoption, np.float64)),
            "demand_share": (("system", "country"), np.asarray(demand_share, np.float64)),
            "served_country": (("system", "country"), (np.asarray(demand_share) > 0).astype(np.int8)),
            "offered_mbps": ("system", [1000.0, 500.0], {"units": "Mbit/s"}),
            "delivered_mbps": ("system", [280.0, 80.0], {"units": "Mbit/s"}),
            "satellite_utilisation": ("system", [0.28, 0.16], {"units": "1"}),
            "gateway_fraction": ("system", [1.0, 0.5], {"units": "1"}),
        },
        coords={
            **grid,
            "country": CODES,
            "population": (("lat", "lon"), np.array([[1000.0, 400.0, 600.0, 50.0]])),
            "beams": ("system", [8, 16]),
            "beam_capacity_mbps": ("system", [2500.0, 1000.0]),
            "max_beams_per_cell": ("system", [2, 1]),
            "gateway_mask_deg": ("system", [25.0, 30.0]),
            "isl": ("system", [False, True]),
        },
        attrs={
            "rule": "maxmin",
            "busy_hour_mbps": BUSY,
            "thresholds_mbps": np.asarray(thresholds, np.float64),
            "adoption_source": "0.1 (test)",
            "model": "test model paragraph",
        },
    )


@pytest.fixture(scope="module")
def countries() -> xr.Dataset:
    return country_accounts(geography(), None, capacity=capacity())


def test_is_allocation_and_threshold_names():
    assert is_allocation(capacity())
    assert not is_allocation(xr.Dataset({"capacity_mbps": ("system", [1.0])}, attrs={"rule": "proportional"}))
    assert threshold_name(10.0) == "share_population_at_least_10mbps"
    assert threshold_name(1.5) == "share_population_at_least_1.5mbps"


def test_subscribers_demand_and_served_by_hand(countries):
    c = countries
    np.testing.assert_allclose(c["population"].values, [1200, 800, 0])
    np.testing.assert_allclose(c["adoption"].values, [0.1, 0.2, 0.1])
    np.testing.assert_allclose(c["subscribers"].values, [120, 160, 0])
    np.testing.assert_allclose(c["system_demand_mbps"].sel(system="S1").values, [240, 160, 0])
    np.testing.assert_allclose(c["system_demand_mbps"].sel(system="S2").values, [0, 160, 0])
    np.testing.assert_allclose(c["demand_mbps"].values, [240, 320, 0])
    np.testing.assert_allclose(c["served_mbps"].sel(system="S1").values, [130, 150, 0])
    np.testing.assert_allclose(c["served_mbps"].sel(system="S2").values, [0, 80, 0])
    np.testing.assert_allclose(c["served_total_mbps"].values, [130, 230, 0])
    # S2 may not serve AAA: AAA receives exactly 0 from it, the border cell included
    assert c["served_mbps"].sel(system="S2", country="AAA").item() == 0.0
    assert c.attrs["served_unassigned_mbps"] == pytest.approx(0.0, abs=1e-9)
    assert c.attrs["served_grid_total_mbps"] == pytest.approx(360.0)


def test_ratios_by_hand(countries):
    c = countries
    dm = c["demand_met_fraction"].values
    np.testing.assert_allclose(dm[:2], [130 / 240, 230 / 320])
    assert np.isnan(dm[2])  # no demand: NaN
    sps = c["served_per_subscriber_mbps"].values
    np.testing.assert_allclose(sps[:2], [130 / 120, 230 / 160])
    assert np.isnan(sps[2])
    np.testing.assert_allclose(c["system_demand_met_fraction"].sel(system="S1").values[:2], [130 / 240, 150 / 160])
    assert np.isnan(c["system_demand_met_fraction"].sel(system="S2", country="AAA").item())  # no demand on S2
    np.testing.assert_allclose(c["system_served_per_subscriber_mbps"].sel(system="S2").values[:2], [0.0, 80 / 160])
    np.testing.assert_allclose(c["system_served_per_subscriber_mbps"].sum("system").values[:2], sps[:2], rtol=1e-12)
    assert c["served_per_subscriber_mbps"].attrs["units"] == "Mbit/s"
    assert c.attrs["rule"] == "maxmin" and c.attrs["busy_hour_mbps"] == BUSY
    # no proportional-rule variables under an allocation
    assert "capacity_delivered_mbps" not in c and "capacity_per_person_mbps" not in c


def test_population_shares_at_thresholds(countries):
    c = countries
    for name, aaa, bbb in (
        ("share_population_at_least_1mbps", 1.0, 1.0),
        ("share_population_at_least_1.5mbps", 200 / 1200, 600 / 800),
        ("share_population_at_least_2mbps", 0.0, 0.0),
    ):
        np.testing.assert_allclose(c[name].values[:2], [aaa, bbb], err_msg=name)
        assert np.isnan(c[name].values[2])  # no subscriber
        assert c[name].attrs["units"] == "1"
    names = [v for v in c.data_vars if str(v).startswith("share_population")]
    assert names == [threshold_name(t) for t in (1.0, 1.5, 2.0)]


def test_per_system_variables_copied(countries):
    np.testing.assert_allclose(countries["satellite_utilisation"].values, [0.28, 0.16])
    np.testing.assert_allclose(countries["offered_mbps"].values, [1000, 500])
    assert "beams" in countries.coords and "isl" in countries.coords


def test_group_accounts_sum_then_ratio(countries):
    g = group_accounts(countries)
    w = g.sel(group="world")
    assert float(w["subscribers"]) == pytest.approx(280)
    assert float(w["demand_mbps"]) == pytest.approx(560)
    assert float(w["served_total_mbps"]) == pytest.approx(360)
    assert float(w["demand_met_fraction"]) == pytest.approx(360 / 560)
    assert float(w["served_per_subscriber_mbps"]) == pytest.approx(360 / 280)
    assert float(w["adoption"]) == pytest.approx(280 / 2000)
    assert float(w["share_population_at_least_1.5mbps"]) == pytest.approx(800 / 2000)
    ldc = g.sel(group="ldc")  # AAA only
    assert float(ldc["demand_met_fraction"]) == pytest.approx(130 / 240)
    assert float(ldc["served_mbps"].sel(system="S2")) == 0.0
    sids = g.sel(group="sids")  # BBB only
    assert float(sids["served_per_subscriber_mbps"]) == pytest.approx(230 / 160)
    assert float(sids["system_demand_met_fraction"].sel(system="S2")) == pytest.approx(80 / 160)
    lldc = g.sel(group="lldc")  # CCC: nobody on the grid
    assert np.isnan(float(lldc["served_per_subscriber_mbps"]))
    assert np.isnan(float(lldc["share_population_at_least_1mbps"]))
    assert g.attrs["rule"] == "maxmin"


def test_throughput_rule_and_missing_variables():
    cap = capacity()
    cap.attrs["rule"] = "throughput"
    c = country_accounts(geography(), None, capacity=cap)
    np.testing.assert_allclose(c["served_total_mbps"].values, [130, 230, 0])
    with pytest.raises(ParameterError, match="demand_share"):
        country_accounts(geography(), None, capacity=cap.drop_vars("demand_share"))


def _uniform_capacity() -> xr.Dataset:
    """Every subscriber served at the busy-hour rate (to rounding): no landing rights, demand met."""
    subs = np.array([100.0, 60.0, 120.0, 0.0])
    served = np.vstack([subs * BUSY * 0.5, subs * BUSY * 0.5]) * (1 - 1e-13)
    return capacity(served=served, demand_share=[[0.5] * 3, [0.5] * 3])


def test_uniform_service_gives_zero_inequality_and_full_thresholds():
    geo = geography()
    cap = _uniform_capacity()
    c = country_accounts(geo, None, capacity=cap)
    np.testing.assert_allclose(c["demand_met_fraction"].values[:2], 1.0, rtol=1e-12)
    np.testing.assert_allclose(c["share_population_at_least_2mbps"].values[:2], 1.0)  # 2 - rounding counts
    e = equity_summary(geo, c, capacity=cap)
    assert list(e["quantity"].values) == ["served_per_subscriber"]
    for scope in ("countries", "people"):
        row = e.sel(quantity="served_per_subscriber", scope=scope, system="all")
        assert float(row["gini"]) == pytest.approx(0.0, abs=1e-12)
        assert float(row["theil_T"]) == pytest.approx(0.0, abs=1e-12)
        assert float(row["palma"]) == pytest.approx(0.25, rel=1e-9)
    np.testing.assert_allclose(
        e["lorenz_served_share"].sel(system="all").values,
        e["lorenz_subscriber_share"].sel(system="all").values,
        atol=1e-12,
    )
    assert "lorenz_capacity_share" not in e


def test_equity_on_served_per_subscriber_weighted_by_subscribers(countries):
    geo = geography()
    e = equity_summary(geo, countries, capacity=capacity(), lorenz_points=None)
    x = countries["served_per_subscriber_mbps"].values[:2]
    w = countries["subscribers"].values[:2]
    row = e.sel(quantity="served_per_subscriber", scope="countries", system="all")
    assert float(row["gini"]) == pytest.approx(eq.gini(x, w), rel=1e-12)
    t = eq.theil(x, w, np.array([1, 0]))
    assert float(row["theil_T_between"].sel(partition="ldc")) == pytest.approx(t.T_between, rel=1e-12)
    # people: the pieces (AAA 0, AAA 1, BBB 1, BBB 2) with their served per subscriber, weighted by subscribers
    xp = np.array([1.0, 1.5, 1.25, 1.5])
    wp = np.array([100.0, 20.0, 40.0, 120.0])
    rp = e.sel(quantity="served_per_subscriber", scope="people", system="all")
    assert float(rp["gini"]) == pytest.approx(eq.gini(xp, wp), rel=1e-12)
    assert float(rp["palma"]) == pytest.approx(eq.palma(xp, wp), rel=1e-12)
    # S2 serves AAA nothing: zeros kept in Gini, dropped (and recorded) in Theil L
    r2 = e.sel(quantity="served_per_subscriber", scope="countries", system="S2")
    x2 = countries["system_served_per_subscriber_mbps"].sel(system="S2").values[:2]
    assert float(r2["gini"]) == pytest.approx(eq.gini(x2, w), rel=1e-12)
    assert float(r2["zero_population_share"]) == pytest.approx(120 / 280)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eq.ZerosDroppedWarning)
        p, lc = eq.lorenz(xp, wp)
    np.testing.assert_allclose(e["lorenz_subscriber_share"].sel(system="all").values, p)
    np.testing.assert_allclose(e["lorenz_served_share"].sel(system="all").values, lc)
    lz = lorenz_curves(geo, capacity(), points=None)
    np.testing.assert_allclose(lz["lorenz_served_share"].sel(system="all").values, lc)


def test_equity_refuses_allocation_without_served_accounts():
    geo = geography()
    cap_prop = xr.Dataset(
        {"capacity_mbps": (("system", "lat", "lon"), np.ones((2, 1, 4)))},
        coords={"system": SYSTEMS, "lat": LAT, "lon": LON},
    )
    c = country_accounts(geo, None, capacity=cap_prop)
    with pytest.raises(ParameterError, match="served_per_subscriber"):
        equity_summary(geo, c, capacity=capacity())


def test_a_country_no_system_may_serve_keeps_its_demand_and_gets_zero():
    """Landing rights that leave BBB unserved: its subscribers still demand 160 x 2 Mbit/s, they get 0, and
    the groups count that demand (not a NaN that would drop BBB from the group's share of demand met)."""
    cap = capacity(served=[[100.0, 60.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]], demand_share=[[1.0, 0.0, 1.0], [0.0] * 3])
    c = country_accounts(geography(), None, capacity=cap)
    np.testing.assert_allclose(c["demand_mbps"].values, [240, 320, 0])
    np.testing.assert_allclose(c["servable_demand_mbps"].values, [240, 0, 0])
    np.testing.assert_allclose(c["served_total_mbps"].values, [160, 0, 0])
    assert c["demand_met_fraction"].sel(country="BBB").item() == 0.0
    assert c["demand_met_fraction"].sel(country="AAA").item() == pytest.approx(160 / 240)
    assert np.isnan(c["demand_met_fraction"].sel(country="CCC").item())  # no subscribers on the grid
    g = group_accounts(c)
    assert float(g["demand_met_fraction"].sel(group="world")) == pytest.approx(160 / 560)
    assert float(g["demand_met_fraction"].sel(group="sids")) == 0.0  # BBB is the toy's SIDS
