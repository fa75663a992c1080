"""Landing rights applied consistently downstream (issue 11): a country a system may not serve receives
exactly 0 of that system's capacity, covered population and MHz in the country accounts, border cells
included; its neighbours keep theirs; the sums over countries equal the delivered totals; a system
without landing rights keeps its accounts bit for bit.

Small: a 5° grid, a Walker shell, a synthetic geography where AAA and BBB share a row of border cells."""

import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.analysis.accounts import country_accounts, lorenz_curves
from orbitshare.engine.service import served_countries, service
from orbitshare.grid import Grid
from orbitshare.system import Band, System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
CODES = ["AAA", "BBB", "CCC", "DDD"]


def _geography(grid: Grid) -> xr.Dataset:
    """AAA (lat 0..40) and BBB (lat 40..50) share the border row lat 35..45 (AAA 30 %, BBB 50 % of each
    cell's area); CCC lies south; DDD is not on the grid. People live on land only."""
    lat, lon = np.asarray(grid.lat), np.asarray(grid.lon)

    def box(la0: float, la1: float, lo0: float, lo1: float) -> np.ndarray:
        inside = (lat[:, None] >= la0) & (lat[:, None] < la1) & (lon[None, :] >= lo0) & (lon[None, :] < lo1)
        return inside.astype(float)

    frac = np.zeros((4,) + grid.shape)
    frac[0] = box(0, 40, -60, 10)
    frac[1] = 0.7 * box(40, 50, -60, 10)
    border = box(35, 45, -60, 10) > 0
    frac[0][border] = 0.3
    frac[1][border] = 0.5
    frac[2] = box(-40, -20, 60, 120)
    land = np.clip(frac.sum(axis=0), 0, 1)
    rng = np.random.default_rng(1)
    pop = np.where(land > 0, rng.lognormal(10, 1, grid.shape), 0.0)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "population": (("lat", "lon"), pop),
            "land_fraction": (("lat", "lon"), land),
        },
        coords={"country": CODES, "lat": lat, "lon": lon},
    )


def _system(name: str, **rights: tuple) -> System:
    shell = orbitshare.walker(550.0, 53.0, 8, 10, 1, EPOCH, name_prefix=name)
    return System(
        name,
        shell,
        25.0,
        1,
        bands=(Band("Ku", 10700.0, 12700.0),),
        capacity_per_sat_mbps=20000.0,
        **rights,
    )


@pytest.fixture(scope="module")
def run() -> dict:
    grid = Grid(5.0)
    geog = _geography(grid)
    times = time_grid("2026-08-18T00:30:00Z", "2026-08-18T01:30:00Z", 120.0)
    systems = [
        _system("open"),
        _system("noA", exclude_countries=("AAA",)),
        _system("onlyB", serve_countries=("BBB",)),
    ]
    svc = service(systems, grid, times, geog, rule="proportional")
    acc = country_accounts(geog, svc["coverage"], spectrum=svc["spectrum"], capacity=svc["capacity"])
    alone = service(systems[:1], grid, times, geog, rule="proportional")
    acc_alone = country_accounts(geog, alone["coverage"], spectrum=alone["spectrum"], capacity=alone["capacity"])
    return {"svc": svc, "acc": acc, "alone": alone, "acc_alone": acc_alone, "geog": geog}


def _values(acc: xr.Dataset, system: str, country: str) -> dict:
    return {
        "capacity": float(acc["capacity_delivered_mbps"].sel(system=system, country=country)),
        "covered": float(acc["population_covered"].sel(system=system, country=country)),
        "mhz": float(acc["band_mhz_in_view_all_bands"].sel(system=system, country=country)),
        "mhz_band": float(acc["band_mhz_in_view"].sel(system=system, country=country).sum()),
    }


def test_excluded_country_gets_exactly_zero(run: dict) -> None:
    acc = run["acc"]
    assert _values(acc, "noA", "AAA") == {"capacity": 0.0, "covered": 0.0, "mhz": 0.0, "mhz_band": 0.0}
    for neighbour in ("BBB", "CCC"):  # BBB shares AAA's border cells
        assert all(v > 0 for v in _values(acc, "noA", neighbour).values())
    # the open system serves AAA
    assert all(v > 0 for v in _values(acc, "open", "AAA").values())


def test_serve_list_gives_every_other_country_zero(run: dict) -> None:
    acc = run["acc"]
    assert all(v > 0 for v in _values(acc, "onlyB", "BBB").values())
    for other in ("AAA", "CCC", "DDD"):
        for v in _values(acc, "onlyB", other).values():
            assert v == 0.0 or np.isnan(v)  # DDD has no people on the grid: per-person values NaN
    for other in ("AAA", "CCC"):
        assert _values(acc, "onlyB", other) == {"capacity": 0.0, "covered": 0.0, "mhz": 0.0, "mhz_band": 0.0}


def test_sums_over_countries_equal_delivered_totals(run: dict) -> None:
    acc, cap = run["acc"], run["svc"]["capacity"]
    for s in ("open", "noA", "onlyB"):
        total = float(cap["delivered_mbps"].sel(system=s))
        assert total > 0
        assert float(acc["capacity_delivered_mbps"].sel(system=s).sum()) == pytest.approx(total, rel=1e-9)
    assert acc.attrs["capacity_unassigned_mbps"] == pytest.approx(0.0, abs=1e-9 * acc.attrs["capacity_grid_total_mbps"])


def test_people_of_served_share_see_the_band(run: dict) -> None:
    """MHz per served person is what the open system gives (same shell): the served share does not dilute it."""
    acc = run["acc"]
    a = acc["band_mhz_in_view_all_bands"].sel(system="open", country="BBB")
    for s in ("noA", "onlyB"):
        assert float(acc["band_mhz_in_view_all_bands"].sel(system=s, country="BBB")) == pytest.approx(
            float(a), rel=1e-9
        )


def test_coverage_in_view_and_servable(run: dict) -> None:
    cov = run["svc"]["coverage"]
    assert float(cov["population_covered_fraction"].sel(system="noA", country="AAA")) == 0.0
    assert float(cov["population_in_view_fraction"].sel(system="noA", country="AAA")) > 0.0
    assert float(cov["population_covered_fraction"].sel(system="noA", country="BBB")) == float(
        cov["population_in_view_fraction"].sel(system="noA", country="BBB")
    )
    np.testing.assert_array_equal(cov["served_country"].sel(system="onlyB").values, [0, 1, 0, 0])
    assert list(cov["serves_unlisted"].values) == [1, 1, 0]
    for name in ("spectrum", "capacity"):
        assert "served_country" in run["svc"][name]


def test_covered_any_counts_only_serving_systems(run: dict) -> None:
    acc = run["acc"]
    # AAA may be served by "open" alone: its any-system coverage is open's
    assert float(acc["population_covered_any"].sel(country="AAA")) == float(
        acc["population_covered"].sel(system="open", country="AAA")
    )


def test_system_without_rights_is_unchanged(run: dict) -> None:
    """The unrestricted system's rows are bit-identical to a run where it is alone (no landing rights at all)."""
    acc, alone = run["acc"], run["acc_alone"]
    assert "served_country" not in run["alone"]["capacity"]
    for name in ("capacity_delivered_mbps", "population_covered", "band_mhz_in_view", "band_mhz_in_view_all_bands"):
        np.testing.assert_array_equal(acc[name].sel(system="open").values, alone[name].sel(system="open").values)


def test_served_countries_flags(run: dict) -> None:
    geog = run["geog"]
    assert served_countries(_system("x"), geog).tolist() == [True] * 4
    assert served_countries(_system("x", exclude_countries=("AAA",)), geog).tolist() == [False, True, True, True]
    both = _system("x", serve_countries=("AAA", "BBB"), exclude_countries=("BBB",))
    assert served_countries(both, geog).tolist() == [True, False, False, False]
    with pytest.raises(ValueError, match="exclude_countries"):
        served_countries(_system("x", exclude_countries=("ZZZ",)), geog)


def test_people_scope_excluded_pieces_zero(run: dict) -> None:
    """Equity's "people" scope: the people of a country the system may not serve have x = 0 (border
    cells included), so the population share with x = 0 is at least that country's share."""
    geog, svc, acc = run["geog"], run["svc"], run["acc"]
    flags = {k: ("country", [False] * 4) for k in ("ldc", "lldc", "sids")}
    geog = geog.assign_coords(**flags, itu_region=("country", [1, 1, 2, 3]))
    acc = acc.assign_coords(**flags, itu_region=("country", [1, 1, 2, 3]))
    eq = orbitshare.equity_summary(geog, acc, capacity=svc["capacity"], spectrum=svc["spectrum"])
    P = acc["population"]
    share = {c: float(P.sel(country=c) / P.sum()) for c in ("AAA", "BBB")}
    for q in ("capacity_per_person", "mhz_available"):
        zero = eq["zero_population_share"].sel(scope="people", quantity=q)
        assert float(zero.sel(system="noA")) >= share["AAA"] - 1e-12
        assert float(zero.sel(system="onlyB")) >= 1 - share["BBB"] - 1e-12
        assert float(zero.sel(system="open")) < share["AAA"]
    # Lorenz curves of the people scope: capacity shares reach 1
    lor = lorenz_curves(geog, svc["capacity"])
    np.testing.assert_allclose(lor["lorenz_capacity_share"].values[:, -1], 1.0, rtol=1e-9)
