"""Who may be served (issue 11): ``may_serve`` / ``systems_serving`` in the country accounts and
``countries_servable`` / ``population_servable`` in the group accounts, from ``served_country`` of
the inputs; without landing rights every country is servable and the other variables are unchanged.

Synthetic inputs on a 2 × 3 grid, no engine: AAA (an LDC and SIDS), BBB (an LLDC), CCC (rest)."""

import numpy as np
import xarray as xr

from orbitshare.analysis.accounts import country_accounts, group_accounts

CODES = ["AAA", "BBB", "CCC"]
SYSTEMS = ["open", "noA"]


def geography() -> xr.Dataset:
    """One country per column pair; population 1..6 per cell."""
    frac = np.zeros((3, 2, 3))
    frac[0, :, 0] = 1.0
    frac[1, :, 1] = 0.6
    frac[2, :, 1] = 0.4
    frac[2, :, 2] = 1.0
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "population": (("lat", "lon"), np.arange(1.0, 7.0).reshape(2, 3)),
            "land_fraction": (("lat", "lon"), np.ones((2, 3))),
        },
        coords={
            "country": CODES,
            "lat": [-10.0, 10.0],
            "lon": [-20.0, 0.0, 20.0],
            "country_name": ("country", ["Aland", "Bland", "Cland"]),
            "ldc": ("country", [True, False, False]),
            "lldc": ("country", [False, True, False]),
            "sids": ("country", [True, False, False]),
            "un_member": ("country", [True, True, True]),
            "itu_region": ("country", [1, 2, 3]),
        },
    )


def capacity(rights: bool) -> xr.Dataset:
    """capacity_mbps 10 per cell for both systems; with ``rights``, noA may not serve AAA."""
    ds = xr.Dataset(
        {"capacity_mbps": (("system", "lat", "lon"), np.full((2, 2, 3), 10.0))},
        coords={"system": SYSTEMS, "lat": [-10.0, 10.0], "lon": [-20.0, 0.0, 20.0]},
    )
    if rights:
        ds["served_country"] = (("system", "country"), np.array([[True, True, True], [False, True, True]]))
        ds["serves_unlisted"] = ("system", np.array([True, True]))
        ds = ds.assign_coords(country=CODES)
    return ds


def test_may_serve_and_systems_serving() -> None:
    geo = geography()
    acc = country_accounts(geo, None, capacity=capacity(True))
    np.testing.assert_array_equal(acc["may_serve"].sel(system="noA").values, [0, 1, 1])
    np.testing.assert_array_equal(acc["may_serve"].sel(system="open").values, [1, 1, 1])
    np.testing.assert_array_equal(acc["systems_serving"].values, [1, 2, 2])
    assert float(acc["capacity_delivered_mbps"].sel(system="noA", country="AAA")) == 0.0
    groups = group_accounts(acc)
    world = groups.sel(group="world")
    assert int(world["countries_servable"].sel(system="noA")) == 2
    assert int(world["countries_servable"].sel(system="open")) == 3
    pop = acc["population"].values
    assert float(world["population_servable"].sel(system="noA")) == float(pop[1] + pop[2])
    assert float(world["population_servable"].sel(system="open")) == float(pop.sum())
    assert int(groups["countries_servable"].sel(group="ldc", system="noA")) == 0
    assert int(groups["countries_servable"].sel(group="lldc", system="noA")) == 1


def test_without_landing_rights_every_country_servable_and_rest_unchanged() -> None:
    geo = geography()
    acc = country_accounts(geo, None, capacity=capacity(False))
    assert acc["may_serve"].dtype == np.int64
    assert (acc["may_serve"].values == 1).all()
    np.testing.assert_array_equal(acc["systems_serving"].values, [2, 2, 2])
    groups = group_accounts(acc)
    np.testing.assert_array_equal(groups["countries_servable"].sel(group="world").values, [3, 3])
    # the other variables do not depend on the new ones: dropping them gives the same groups
    again = group_accounts(acc.drop_vars(["may_serve", "systems_serving"]))
    xr.testing.assert_identical(again, groups.drop_vars(["countries_servable", "population_servable"]))
