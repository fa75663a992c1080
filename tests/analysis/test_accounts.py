"""Per-country and per-group accounts and the equity summary, on small hand-made Datasets.

The toy world (one row of five 72° cells, lon -144 .. 144)::

    cell   country_fraction            land   population   covered S1/S2   capacity S1/S2 (Mbit/s)
    0      AAA 0.5, BBB 0.3            0.8    800          1 / 0           80 / 0
    1      BBB 0.6, CCC 0.05 (island)  0.65   130          0.5 / 0.5       13 / 26
    2      DDD 1.0                     1.0    100          0 / 0           0 / 0      (no service)
    3      ocean                       0      7            1 / 0           50 / 0     (unassigned)
    4      AAA 0.2                     0.2    0            0 / 1           0 / 4      (uninhabited land)

    shares of the land: cell 0 AAA 5/8, BBB 3/8; cell 1 BBB 12/13, CCC 1/13
    population: AAA 500, BBB 300 + 120 = 420, CCC 10, DDD 100, EEE 0 (not on the grid); world 1030
    groups: AAA LDC (ITU 1), BBB rest (ITU 2), CCC SIDS (ITU 3), DDD LDC + LLDC (ITU 1), EEE none (0)
"""

import types
import warnings

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis import equity as eq
from orbitshare.analysis.accounts import country_accounts, equity_summary, group_accounts, lorenz_curves

LON = np.array([-144.0, -72.0, 0.0, 72.0, 144.0])
LAT = np.array([0.0])
CODES = ["AAA", "BBB", "CCC", "DDD", "EEE"]
SYSTEMS = ["S1", "S2"]


def _geography(frac=None, pop=None, land=None, lat=LAT, lon=LON, codes=CODES, flags=None):
    if frac is None:
        frac = np.zeros((5, 1, 5))
        frac[0, 0, 0], frac[1, 0, 0] = 0.5, 0.3
        frac[1, 0, 1], frac[2, 0, 1] = 0.6, 0.05
        frac[3, 0, 2] = 1.0
        frac[0, 0, 4] = 0.2
    frac = np.asarray(frac, np.float32)
    if pop is None:
        pop = np.array([[800.0, 130.0, 100.0, 7.0, 0.0]])
    if land is None:
        land = np.minimum(frac.astype(np.float64).sum(axis=0), 1.0).astype(np.float32)
    if flags is None:
        flags = {"ldc": [1, 0, 0, 1, 0], "lldc": [0, 0, 0, 1, 0], "sids": [0, 0, 1, 0, 0], "itu": [1, 2, 3, 1, 0]}
    n = len(codes)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac, {"units": "1"}),
            "land_fraction": (("lat", "lon"), land, {"units": "1"}),
            "population": (("lat", "lon"), np.asarray(pop, np.float64), {"units": "persons"}),
            "cell_area": (("lat", "lon"), np.full((lat.size, lon.size), 1000.0), {"units": "km2"}),
        },
        coords={
            "lat": lat,
            "lon": lon,
            "country": codes,
            "country_name": ("country", [f"Country {c}" for c in codes]),
            "ldc": ("country", np.array(flags["ldc"], bool)),
            "lldc": ("country", np.array(flags["lldc"], bool)),
            "sids": ("country", np.array(flags["sids"], bool)),
            "itu_region": ("country", np.array(flags["itu"], np.int8)),
            "un_member": ("country", np.ones(n, bool)),
        },
    )


def _sys_grid(name, values, systems=SYSTEMS, lat=LAT, lon=LON, **attrs):
    v = np.asarray(values, np.float64).reshape(len(systems), lat.size, lon.size)
    return xr.DataArray(
        v, dims=("system", "lat", "lon"), coords={"system": systems, "lat": lat, "lon": lon}, name=name, attrs=attrs
    )


def _coverage(counts=False):
    ds = xr.Dataset({"covered_fraction": _sys_grid("covered_fraction", [[1, 0.5, 0, 1, 0], [0, 0.5, 0, 0, 1]])})
    ds = ds.assign_coords(element_count=("system", [3, 4]), min_visible=("system", [1, 1]))
    if counts:
        # two steps: in cell 1, S1 covers step 0 and S2 step 1, so the union covers it all the time
        c = np.zeros((2, 2, 1, 5), np.int16)
        c[0, :, 0, 0] = 1
        c[0, :, 0, 3] = 2
        c[0, 0, 0, 1] = 1
        c[1, 1, 0, 1] = 1
        c[1, :, 0, 4] = 1
        ds["counts"] = (("system", "time", "lat", "lon"), c)
    return ds


def _capacity(values=None, administration=("BBB", "AAA")):
    if values is None:
        values = [[80, 13, 0, 50, 0], [0, 26, 0, 0, 4]]
    cap = _sys_grid("capacity_mbps", values, units="Mbit/s")
    ds = xr.Dataset(
        {
            "capacity_mbps": cap,
            "capacity_per_sat_mbps": ("system", [10.0, 5.0]),
        }
    )
    return ds.assign_coords(administration=("system", list(administration)), operator=("system", ["Op1", "Op2"]))


def _spectrum():
    v = np.zeros((2, 2, 1, 5))
    v[0, 0, 0] = [100, 100, 0, 100, 0]  # S1 Ku
    v[0, 1, 0] = [200, 0, 0, 0, 0]  # S1 Ka
    v[1, 0, 0] = [0, 50, 0, 0, 0]  # S2 Ku
    da = xr.DataArray(
        v,
        dims=("system", "band", "lat", "lon"),
        coords={"system": SYSTEMS, "band": ["Ku", "Ka"], "lat": LAT, "lon": LON},
    )
    union = xr.DataArray([[300.0, 100.0, 0.0, 100.0, 0.0]], dims=("lat", "lon"), coords={"lat": LAT, "lon": LON})
    eff = da.copy()
    eff[:, 0, 0, 1] = [50.0, 25.0]  # S1 and S2 in line in cell 1: the common Ku band split
    return xr.Dataset(
        {"band_mhz_in_view": da, "band_mhz_x_sats_in_view": da / 2, "effective_mhz": eff, "mhz_available_total": union}
    )


OWNERS = {"S1": "BBB", "S2": np.array(["AAA", "unattributed", "DDD", "ZZZ"], dtype=object)}


@pytest.fixture(scope="module")
def countries():
    return country_accounts(_geography(), _coverage(), capacity=_capacity(), spectrum=_spectrum(), owners=OWNERS)


def _c(ds, var, **sel):
    return ds[var].sel(**sel).values


# ------------------------------------------------------------------ country accounts: hand values
def test_population_split_across_shared_cells(countries):
    # CCC, an island covering 5 % of cell 1's area (1/13 of its land), keeps 10 of its 130 people
    np.testing.assert_allclose(countries["population"].values, [500, 420, 10, 100, 0], rtol=1e-6)
    assert countries.attrs["population_grid_total"] == 1037
    assert countries.attrs["population_unassigned"] == pytest.approx(7, rel=1e-9)
    np.testing.assert_allclose(countries["population_share"].values, np.array([500, 420, 10, 100, 0]) / 1030)
    np.testing.assert_allclose(countries["land_area"].values, [700, 900, 50, 1000, 0], rtol=1e-6)
    # the group flags travel as coordinates
    assert countries["sids"].sel(country="CCC") and countries["ldc"].sel(country="DDD")
    assert countries["population"].attrs["units"] == "1"


def test_population_covered(countries):
    pc = countries["population_covered"]
    np.testing.assert_allclose(pc.sel(system="S1").values, [500, 360, 5, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(pc.sel(system="S2").values, [0, 60, 5, 0, 0], rtol=1e-6)
    # without per-step counts "any system" is the lower bound max_s covered_fraction
    np.testing.assert_allclose(countries["population_covered_any"].values, [500, 360, 5, 0, 0], rtol=1e-6)
    assert countries.attrs["population_covered_any_method"].startswith("lower bound")
    f = countries["population_covered_fraction"].sel(system="S1").values
    np.testing.assert_allclose(f[:4], [1, 360 / 420, 0.5, 0])
    assert np.isnan(f[4])  # no population: NaN


def test_population_covered_any_exact_with_counts():
    ds = country_accounts(_geography(), _coverage(counts=True))
    np.testing.assert_allclose(ds["population_covered_any"].values, [500, 420, 10, 0, 0], rtol=1e-6)
    assert ds.attrs["population_covered_any_method"].startswith("exact")
    assert "capacity_delivered_mbps" not in ds and "satellites_operated" not in ds


def test_capacity_delivered_and_per_person(countries):
    d = countries["capacity_delivered_mbps"]
    np.testing.assert_allclose(d.sel(system="S1").values, [50, 42, 1, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(d.sel(system="S2").values, [4, 24, 2, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(countries["capacity_delivered_total_mbps"].values, [54, 66, 3, 0, 0], rtol=1e-6)
    assert countries.attrs["capacity_unassigned_mbps"] == pytest.approx(50, rel=1e-6)
    cpp = countries["capacity_per_person_total_mbps"].values
    np.testing.assert_allclose(cpp[:4], [54 / 500, 66 / 420, 0.3, 0.0], rtol=1e-6)
    assert np.isnan(cpp[4])
    assert countries["capacity_per_person_total_mbps"].attrs["units"] == "Mbit/s"
    np.testing.assert_allclose(countries["capacity_share"].values, np.array([54, 66, 3, 0, 0]) / 123, rtol=1e-6)


def test_service_ratio_hand_values(countries):
    sr = countries["service_ratio_total"].values
    expect = (np.array([54, 66, 3, 0]) / 123) / (np.array([500, 420, 10, 100]) / 1030)
    np.testing.assert_allclose(sr[:4], expect, rtol=1e-6)
    assert sr[3] == 0  # no service
    assert np.isnan(sr[4])  # no population and no capacity: 0/0
    s1 = countries["service_ratio"].sel(system="S1").values
    np.testing.assert_allclose(
        s1[:4], (np.array([50, 42, 1, 0]) / 93) / (np.array([500, 420, 10, 100]) / 1030), rtol=1e-6
    )


def test_band_mhz_in_view_population_weighted(countries):
    m = countries["band_mhz_in_view"]
    np.testing.assert_allclose(m.sel(system="S1", band="Ku").values[:4], [100, 100, 100, 0], rtol=1e-6)
    np.testing.assert_allclose(m.sel(system="S1", band="Ka").values[:4], [200, 300 * 200 / 420, 0, 0], rtol=1e-6)
    np.testing.assert_allclose(m.sel(system="S2", band="Ku").values[:4], [0, 120 * 50 / 420, 50, 0], rtol=1e-6)
    allb = countries["band_mhz_in_view_all_bands"].sel(system="S1").values[:4]
    np.testing.assert_allclose(allb, [300, 100 + 300 * 200 / 420, 100, 0], rtol=1e-6)
    tot = countries["mhz_available_total"].values[:4]
    # the union of the bands in view per cell (300, 100, 0, 100, 0), never the sum over systems (150 in cell 1)
    np.testing.assert_allclose(tot, [300, (300 * 300 + 120 * 100) / 420, 100, 0], rtol=1e-6)
    assert np.isnan(countries["mhz_available_total"].values[4])
    np.testing.assert_allclose(countries["band_mhz_x_sats_in_view"].values, m.values / 2, rtol=1e-12)
    eff = countries["effective_mhz"]
    np.testing.assert_allclose(eff.sel(system="S2", band="Ku").values[:4], [0, 120 * 25 / 420, 25, 0], rtol=1e-6)
    np.testing.assert_allclose(eff.sel(system="S1", band="Ka").values, m.sel(system="S1", band="Ka").values)
    assert m.attrs["units"] == "MHz"


def test_spectrum_without_bands():
    """Systems that declare capacity but no band: zero-length band axis, zero MHz, no error (a run of
    such a system used to fail reshaping the empty band array)."""
    v = np.zeros((2, 0, 1, 5))
    da = xr.DataArray(
        v,
        dims=("system", "band", "lat", "lon"),
        coords={"system": SYSTEMS, "band": np.array([], dtype=str), "lat": LAT, "lon": LON},
    )
    c = country_accounts(
        _geography(),
        _coverage(),
        capacity=_capacity(),
        spectrum=xr.Dataset(
            {"band_mhz_in_view": da, "band_mhz_x_sats_in_view": da, "mhz_available_total": da.sum(("system", "band"))}
        ),
        owners=OWNERS,
    )
    assert c["band_mhz_in_view"].sizes["band"] == 0
    np.testing.assert_array_equal(c["band_mhz_in_view_all_bands"].sel(system="S1").values[:4], 0.0)
    ref = country_accounts(_geography(), _coverage(), capacity=_capacity(), spectrum=_spectrum(), owners=OWNERS)
    np.testing.assert_array_equal(c["capacity_delivered_mbps"].values, ref["capacity_delivered_mbps"].values)


def test_operated_satellites_capacity_and_resource_balance(countries):
    s = countries["satellites_operated"]
    assert s.dtype == np.int64
    np.testing.assert_array_equal(s.sel(system="S1").values, [0, 3, 0, 0, 0])
    np.testing.assert_array_equal(s.sel(system="S2").values, [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(countries["satellites_unattributed"].values, [0, 2])  # "unattributed", ZZZ
    np.testing.assert_allclose(countries["capacity_operated_total_mbps"].values, [5, 30, 0, 5, 0])
    np.testing.assert_allclose(countries["capacity_operated_unattributed_mbps"].values, [0, 10])
    rb = countries["resource_balance_total"].values
    np.testing.assert_allclose(rb[:2], (np.array([5, 30]) / 40) / (np.array([54, 66]) / 123), rtol=1e-6)
    assert rb[2] == 0  # receives, operates none
    assert rb[3] == np.inf  # operates, receives none
    assert np.isnan(rb[4])  # neither
    assert "inf" in countries["resource_balance_total"].attrs["comment"]


def test_owner_forms_agree():
    geo, cov, cap = _geography(), _coverage(), _capacity()
    ref = country_accounts(geo, cov, capacity=cap, owners=OWNERS)["satellites_operated"]
    # one array for all satellites, split by element_count (S1: 3, S2: 4)
    flat = np.array(["BBB"] * 3 + list(OWNERS["S2"]), dtype=object)
    # an Owners-like object with .owner
    owners_obj = types.SimpleNamespace(owner=flat)
    per_system_s2 = {"S1": "BBB", "S2": types.SimpleNamespace(owner=OWNERS["S2"])}
    for form in (flat, owners_obj, per_system_s2):
        got = country_accounts(geo, cov, capacity=cap, owners=form)["satellites_operated"]
        xr.testing.assert_equal(got, ref)
    # per-system owners: a DataArray, systems with .administration, or capacity's administration coordinate
    expect = np.array([[0, 3, 0, 0, 0], [4, 0, 0, 0, 0]])
    da = xr.DataArray(["BBB", "AAA"], dims="system", coords={"system": SYSTEMS})
    systems = [
        types.SimpleNamespace(name="S2", administration="AAA"),
        types.SimpleNamespace(name="S1", administration="BBB"),
    ]
    for form in (da, systems, None):
        got = country_accounts(geo, cov, capacity=cap, owners=form)
        np.testing.assert_array_equal(got["satellites_operated"].values, expect)
        np.testing.assert_allclose(got["capacity_operated_total_mbps"].values, [20, 30, 0, 0, 0])
    one = country_accounts(geo, cov, capacity=cap, owners="CCC")  # every system
    np.testing.assert_array_equal(one["satellites_operated_total"].values, [0, 0, 7, 0, 0])
    with pytest.raises(ValueError, match="7 satellites"):
        country_accounts(geo, cov, capacity=cap, owners=flat[:5])
    with pytest.raises(ValueError, match="no owner for system"):
        country_accounts(geo, cov, capacity=cap, owners={"S1": "BBB"})


def test_satellites_without_capacity_and_no_owners():
    ds = country_accounts(_geography(), _coverage(), owners={"S1": "AAA", "S2": None})
    np.testing.assert_array_equal(ds["satellites_operated_total"].values, [3, 0, 0, 0, 0])
    np.testing.assert_array_equal(ds["satellites_unattributed"].values, [0, 4])
    assert "capacity_operated_mbps" not in ds
    cap = _capacity().drop_vars("administration")
    ds = country_accounts(_geography(), _coverage(), capacity=cap)
    assert "satellites_operated" not in ds and "resource_balance_total" not in ds


# ------------------------------------------------------------------ conservation and proportionality
def _random_geography(seed=0, res=10.0):
    rng = np.random.default_rng(seed)
    lat = np.arange(-90 + res / 2, 90, res)
    lon = np.arange(-180 + res / 2, 180, res)
    nc = 6
    raw = rng.random((nc, lat.size, lon.size)) * (rng.random((nc, lat.size, lon.size)) < 0.4)
    total = rng.random((lat.size, lon.size)) * (rng.random((lat.size, lon.size)) < 0.6)  # land share
    s = raw.sum(axis=0)
    frac = np.where(s > 0, raw / np.where(s > 0, s, 1) * total, 0.0)
    pop = rng.random((lat.size, lon.size)) * 1e6
    codes = [f"C{i:02d}" for i in range(nc)]
    flags = {
        "ldc": [1, 0, 0, 1, 0, 0],
        "lldc": [0, 1, 0, 1, 0, 0],
        "sids": [0, 0, 1, 0, 0, 0],
        "itu": [1, 2, 3, 1, 2, 0],
    }
    return _geography(frac=frac, pop=pop, lat=lat, lon=lon, codes=codes, flags=flags), rng


def test_population_and_capacity_conserved():
    geo, rng = _random_geography()
    lat, lon = geo["lat"].values, geo["lon"].values
    cap = xr.Dataset(
        {"capacity_mbps": _sys_grid("capacity_mbps", rng.random((2, lat.size, lon.size)) * 100, lat=lat, lon=lon)}
    )
    ds = country_accounts(geo, None, capacity=cap)
    pop = geo["population"].values
    land = geo["land_fraction"].values > 0
    # Σ_countries population = Σ_cells population over cells with land (every land cell is claimed)
    assert ds["population"].sum() == pytest.approx(pop[land].sum(), rel=1e-12)
    assert ds.attrs["population_unassigned"] == pytest.approx(pop[~land].sum(), rel=1e-9)
    c = cap["capacity_mbps"].values
    assert ds["capacity_delivered_mbps"].sum() == pytest.approx(c[:, land].sum(), rel=1e-12)
    np.testing.assert_allclose(
        ds["capacity_delivered_total_mbps"].values, ds["capacity_delivered_mbps"].sum("system").values, rtol=1e-12
    )
    # the world group is the sum of the countries, and its shares and ratios are 1
    g = group_accounts(ds).sel(group="world")
    assert float(g["population"]) == pytest.approx(float(ds["population"].sum()), rel=1e-12)
    assert float(g["service_ratio_total"]) == pytest.approx(1.0, rel=1e-12)
    assert float(g["population_share"]) == pytest.approx(1.0, rel=1e-12)


def test_unclaimed_land_keeps_its_people():
    # land_fraction 0.8 but only 0.4 belongs to a country: the country gets half of the cell's people
    frac = np.zeros((5, 1, 5))
    frac[0, 0, 0] = 0.4
    land = np.array([[0.8, 0, 0, 0, 0]], np.float32)
    pop = np.array([[100.0, 0, 0, 0, 0]])
    ds = country_accounts(_geography(frac=frac, land=land, pop=pop), _coverage())
    assert float(ds["population"].sel(country="AAA")) == pytest.approx(50)
    assert ds.attrs["population_unassigned"] == pytest.approx(50)


def test_proportional_allocation_has_service_ratio_one():
    geo, rng = _random_geography(seed=1)
    lat, lon = geo["lat"].values, geo["lon"].values
    pop = geo["population"].values
    cap = xr.Dataset(
        {"capacity_mbps": _sys_grid("capacity_mbps", np.stack([pop * 0.01, pop * 0.003]), lat=lat, lon=lon)}
    )
    ds = country_accounts(geo, None, capacity=cap)
    served = ds["population"] > 0
    np.testing.assert_allclose(ds["service_ratio_total"].where(served, drop=True).values, 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds["service_ratio"].where(served, drop=True).values, 1.0, rtol=1e-12)
    np.testing.assert_allclose(ds["capacity_per_person_total_mbps"].where(served, drop=True).values, 0.013, rtol=1e-12)
    groups = group_accounts(ds)
    np.testing.assert_allclose(groups["service_ratio_total"].values, 1.0, rtol=1e-12)
    # perfectly equal capacity per person: no inequality
    e = equity_summary(geo, ds, capacity=cap)
    gini = e["gini"].sel(quantity="capacity_per_person").values
    np.testing.assert_allclose(gini, 0.0, atol=1e-12)


def test_grid_mismatch_and_system_mismatch_raise():
    geo = _geography()
    bad = _coverage().assign_coords(lon=LON + 1.0)
    with pytest.raises(ValueError, match="lon coordinate"):
        country_accounts(geo, bad)
    cap = _capacity().assign_coords(system=["S1", "S3"])
    with pytest.raises(ValueError, match="systems"):
        country_accounts(geo, _coverage(), capacity=cap)


# ------------------------------------------------------------------ groups
def test_group_totals_and_recomputed_ratios(countries):
    g = group_accounts(countries)
    assert list(g["group"].values) == [
        "ldc",
        "lldc",
        "sids",
        "rest",
        "itu_region_1",
        "itu_region_2",
        "itu_region_3",
        "world",
    ]
    np.testing.assert_array_equal(g["member_count"].values, [2, 1, 1, 2, 2, 1, 1, 5])
    pop = g["population"]
    np.testing.assert_allclose(pop.values, [600, 100, 10, 420, 600, 420, 10, 1030], rtol=1e-6)
    ldc = g.sel(group="ldc")
    assert float(ldc["capacity_delivered_total_mbps"]) == pytest.approx(54, rel=1e-6)
    # ratios from the group's totals ...
    assert float(ldc["service_ratio_total"]) == pytest.approx((54 / 123) / (600 / 1030), rel=1e-6)
    assert float(ldc["capacity_per_person_total_mbps"]) == pytest.approx(54 / 600, rel=1e-6)
    assert float(ldc["resource_balance_total"]) == pytest.approx((10 / 40) / (54 / 123), rel=1e-6)
    # ... never averaged (AAA and DDD have ratios 1.11 and 0; inf for resource balance)
    members = countries["service_ratio_total"].sel(country=["AAA", "DDD"])
    assert float(ldc["service_ratio_total"]) != pytest.approx(float(members.mean()), rel=1e-3)
    # (the population-weighted mean of the members' service ratios is the group's ratio: an identity)
    assert float(ldc["service_ratio_total"]) == pytest.approx(
        float((members * countries["population"].sel(country=["AAA", "DDD"])).sum() / 600), rel=1e-6
    )
    assert np.isfinite(float(ldc["resource_balance_total"]))  # though DDD's is inf
    # LLDC = DDD alone: operates but receives nothing
    assert float(g["resource_balance_total"].sel(group="lldc")) == np.inf
    assert float(g["service_ratio_total"].sel(group="lldc")) == 0
    # sums of integer counts stay integers; per-system variables keep the system dim
    assert g["satellites_operated"].dtype == np.int64
    np.testing.assert_array_equal(g["satellites_operated_total"].sel(group="world").values, 5)
    assert g["capacity_delivered_mbps"].dims == ("system", "group")
    # covered fractions from totals; population-weighted MHz
    covered_rest = g["population_covered_fraction"].sel(group="rest", system="S1")
    assert float(covered_rest) == pytest.approx(360 / 420, rel=1e-6)
    mhz, P = countries["mhz_available_total"].values, countries["population"].values
    assert float(g["mhz_available_total"].sel(group="itu_region_1")) == pytest.approx(
        (P[0] * mhz[0] + P[3] * mhz[3]) / (P[0] + P[3]), rel=1e-12
    )
    for name in ("population", "service_ratio_total", "band_mhz_in_view", "group_member"):
        assert "long_name" in g[name].attrs and "units" in g[name].attrs, name
    assert bool(g["group_member"].sel(group="ldc", country="DDD"))


def test_world_group_equals_sum_of_countries(countries):
    g = group_accounts(countries).sel(group="world")
    for name in (
        "population",
        "population_covered",
        "capacity_delivered_mbps",
        "capacity_operated_mbps",
        "satellites_operated",
    ):
        np.testing.assert_allclose(g[name].values, countries[name].sum("country").values, rtol=1e-12)
    np.testing.assert_allclose(g["service_ratio"].values, 1.0, rtol=1e-12)
    np.testing.assert_allclose(g["resource_balance"].values, 1.0, rtol=1e-12)
    np.testing.assert_allclose(g["capacity_share"].values, 1.0, rtol=1e-12)


# ------------------------------------------------------------------ equity
@pytest.fixture(scope="module")
def equity(countries):
    return equity_summary(_geography(), countries, capacity=_capacity(), spectrum=_spectrum())


def test_equity_layout_and_attributes(equity):
    assert list(equity["quantity"].values) == ["capacity_per_person", "mhz_available"]
    assert list(equity["scope"].values) == ["countries", "people"]
    assert list(equity["system"].values) == ["S1", "S2", "all"]
    assert list(equity["partition"].values) == ["ldc", "lldc", "sids", "itu_region"]
    assert equity["atkinson"].dims == ("epsilon", "quantity", "scope", "system")
    assert equity["theil_T_between"].dims == ("partition", "quantity", "scope", "system")
    for v in equity.data_vars:
        assert equity[v].attrs["units"] == "1" and equity[v].attrs["long_name"], v


def test_equity_countries_scope_equals_direct_calls(countries, equity):
    pop = countries["population"].values
    keep = pop > 0
    x = countries["capacity_per_person_total_mbps"].values[keep]
    w = pop[keep]
    row = equity.sel(quantity="capacity_per_person", scope="countries", system="all")
    assert float(row["gini"]) == pytest.approx(eq.gini(x, w), rel=1e-12)
    assert float(row["theil_T"]) == pytest.approx(eq.theil(x, w, zeros="keep").T, rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", eq.ZerosDroppedWarning)
        assert float(row["theil_L"]) == pytest.approx(eq.theil(x, w, zeros="drop").L, rel=1e-12)
        assert float(row["atkinson"].sel(epsilon=1.0)) == pytest.approx(eq.atkinson(x, w, 1, zeros="drop"), rel=1e-12)
    assert float(row["atkinson"].sel(epsilon=0.5)) == pytest.approx(eq.atkinson(x, w, 0.5), rel=1e-12)
    assert float(row["palma"]) == pytest.approx(eq.palma(x, w, zeros="keep"), rel=1e-12)
    # MHz available per system (summed over bands)
    xm = countries["band_mhz_in_view_all_bands"].sel(system="S1").values[keep]
    rm = equity.sel(quantity="mhz_available", scope="countries", system="S1")
    assert float(rm["gini"]) == pytest.approx(eq.gini(xm, w), rel=1e-12)
    t = eq.theil(xm, w, countries["itu_region"].values[keep], zeros="keep")
    assert float(rm["theil_T_between"].sel(partition="itu_region")) == pytest.approx(t.T_between, rel=1e-12)


def test_equity_people_scope_equals_cells_weighted_by_population(equity):
    # x per cell (cells with people in a country: 0, 1, 2), w = their population
    x = np.array([80 / 800, 39 / 130, 0.0])
    w = np.array([800.0, 130.0, 100.0])
    row = equity.sel(quantity="capacity_per_person", scope="people", system="all")
    assert float(row["gini"]) == pytest.approx(eq.gini(x, w), rel=1e-12)
    assert float(row["theil_T"]) == pytest.approx(eq.theil(x, w, zeros="keep").T, rel=1e-12)
    assert float(row["palma"]) == pytest.approx(eq.palma(x, w, zeros="keep"), rel=1e-12)
    assert float(row["zero_population_share"]) == pytest.approx(100 / 1030)
    # hand value: x = [0.1, 0.3, 0] with weights [800, 130, 100]; mean 119/1030
    mu = 119 / 1030
    pairs = sum(wi * wj * abs(xi - xj) for xi, wi in zip(x, w, strict=True) for xj, wj in zip(x, w, strict=True))
    assert float(row["gini"]) == pytest.approx(pairs / (2 * 1030**2 * mu), rel=1e-12)
    # the group split of a cell's people: LDC people are AAA's 500 in cell 0 and DDD's 100 in cell 2
    xp = np.array([0.1, 0.1, 0.3, 0.3, 0.0])
    wp = np.array([500, 300, 120, 10, 100.0])
    ldc = np.array([1, 0, 0, 0, 1])
    t = eq.theil(xp, wp, ldc, zeros="keep")  # (float32 country fractions: the split is exact to ~1e-8)
    assert float(row["theil_T_between"].sel(partition="ldc")) == pytest.approx(t.T_between, rel=1e-6)
    assert float(row["theil_T_within"].sel(partition="ldc")) == pytest.approx(t.T_within, rel=1e-6)


def test_theil_between_plus_within_is_total(equity):
    T = equity["theil_T"]
    L = equity["theil_L"]
    ok = np.isfinite(T)
    assert int(ok.sum()) >= 8
    np.testing.assert_allclose(
        (equity["theil_T_between"] + equity["theil_T_within"]).where(ok).values,
        T.broadcast_like(equity["theil_T_between"]).where(ok).values,
        rtol=1e-10,
        atol=1e-14,
    )
    np.testing.assert_allclose(
        (equity["theil_L_between"] + equity["theil_L_within"]).where(ok).values,
        L.broadcast_like(equity["theil_L_between"]).where(ok).values,
        rtol=1e-10,
        atol=1e-14,
    )


def test_zero_rule(countries, equity):
    # DDD (100 people) has no service: kept by gini/T/atkinson(0.5)/palma, dropped by L and atkinson(1)
    row = equity.sel(quantity="capacity_per_person", scope="countries", system="all")
    assert float(row["zero_population_share"]) == pytest.approx(100 / 1030)
    assert np.isfinite(float(row["theil_L"])) and float(row["atkinson"].sel(epsilon=1.0)) < 1
    served = countries["population"].values > 0
    x = countries["capacity_per_person_total_mbps"].values[served]
    w = countries["population"].values[served]
    pos = x > 0
    assert float(row["theil_L"]) == pytest.approx(eq.theil(x[pos], w[pos]).L, rel=1e-12)
    assert float(row["atkinson"].sel(epsilon=1.0)) == pytest.approx(eq.atkinson(x[pos], w[pos], 1), rel=1e-12)
    assert float(row["gini"]) != pytest.approx(eq.gini(x[pos], w[pos]), rel=1e-6)  # zeros kept here
    assert "zeros" in equity.attrs and equity["theil_L"].attrs["zeros"].startswith("drop")
    # S2 reaches the people of cell 1 only (its 4 Mbit/s on AAA's empty land count for AAA as a
    # country, but for no person): across people 900 of 1030 get nothing, so Palma is infinite
    r2 = equity.sel(quantity="capacity_per_person", system="S2")
    assert float(r2["palma"].sel(scope="people")) == np.inf
    assert float(r2["zero_population_share"].sel(scope="people")) == pytest.approx(900 / 1030)
    assert np.isfinite(float(r2["palma"].sel(scope="countries")))
    assert float(r2["zero_population_share"].sel(scope="countries")) == pytest.approx(100 / 1030)


def test_system_serving_nobody_gives_nan_row():
    cap = _capacity(values=[[80, 13, 0, 50, 0], [0, 0, 0, 0, 0]])
    geo = _geography()
    ds = country_accounts(geo, _coverage(), capacity=cap)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ZerosDroppedWarning escapes: the share is recorded instead
        e = equity_summary(geo, ds, capacity=cap)
    r = e.sel(quantity="capacity_per_person", system="S2")
    assert np.isnan(r["gini"]).all() and np.isnan(r["theil_T_between"]).all()
    assert (r["zero_population_share"] == 1).all()
    assert np.isfinite(e["gini"].sel(quantity="capacity_per_person", system="all")).all()
    assert np.isnan(e["lorenz_capacity_share"].sel(system="S2")).all()
    assert np.isnan(ds["service_ratio"].sel(system="S2")).all()  # no world total: no shares


def test_lorenz_curves(equity):
    x = np.array([80 / 800, 39 / 130, 0.0])
    w = np.array([800.0, 130.0, 100.0])
    p, lz = eq.lorenz(x, w)
    lp = equity["lorenz_population_share"].sel(system="all").values
    lc = equity["lorenz_capacity_share"].sel(system="all").values
    assert equity["lorenz_capacity_share"].dims == ("system", "lorenz_point")
    assert lp.size == 101 and lp[0] == 0 and lp[-1] == 1
    np.testing.assert_allclose(lc, np.interp(lp, p, lz), rtol=0, atol=1e-15)
    assert lc[0] == 0 and lc[-1] == pytest.approx(1)
    # bottom 100/1030 of the people (DDD) hold nothing
    assert lc[9] == 0 and lc[10] > 0
    exact = lorenz_curves(_geography(), _capacity(), points=None)
    pe = exact["lorenz_population_share"].sel(system="all").values
    le = exact["lorenz_capacity_share"].sel(system="all").values
    # the (country, cell) pieces with equal x are separate vertices on the same polyline
    np.testing.assert_allclose(np.interp(p, pe, le), lz, atol=1e-15)
    assert pe.size == 6  # five pieces + the origin


def test_equity_needs_matching_inputs(countries):
    with pytest.raises(ValueError, match="no capacity variables"):
        equity_summary(
            _geography(),
            countries.drop_vars(
                [v for v in countries.data_vars if "capacity" in v or "service" in v or "resource" in v]
            ),
            capacity=_capacity(),
        )
    e = equity_summary(_geography(), countries)  # no grids: the people scope is NaN
    assert np.isnan(e["gini"].sel(scope="people")).all()
    assert np.isfinite(e["gini"].sel(scope="countries", system="all")).all()
    assert "lorenz_capacity_share" not in e


def test_results_round_trip_through_save_results(tmp_path, countries, equity):
    from orbitshare.io import open_results, save_results

    groups = group_accounts(countries)
    save_results({"countries": countries, "groups": groups, "equity": equity}, tmp_path / "r.nc")
    back = open_results(tmp_path / "r.nc")
    for name, ds in (("countries", countries), ("groups", groups), ("equity", equity)):
        for v in ds.data_vars:
            np.testing.assert_array_equal(back[name][v].values, ds[v].values, err_msg=f"{name}.{v}")
            assert back[name][v].attrs["units"] == ds[v].attrs["units"]
    assert back["countries"]["sids"].dtype == bool
    assert back["countries"]["resource_balance_total"].sel(country="DDD") == np.inf
