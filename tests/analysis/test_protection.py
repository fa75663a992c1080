"""EPFD country summaries and the equity read-out (orbitshare.analysis.protection), on hand-made Datasets.

The toy world (one row of five 72° cells, lon -144 .. 144, each cell 1000 km²)::

    cell   country_fraction            land   population
    0      AAA 0.5, BBB 0.3            0.8    800
    1      BBB 0.6, CCC 0.05           0.65   130
    2      DDD 1.0                     1.0    100
    3      ocean                       0      7
    4      AAA 0.2                     0.2    0

    population: AAA 800·5/8 = 500, BBB 800·3/8 + 130·12/13 = 420, CCC 10, DDD 100, EEE 0 (not on the grid)
    land (km²):  AAA 500 + 200 = 700, BBB 300 + 600 = 900, CCC 50, DDD 1000
    groups: AAA LDC, BBB none, CCC SIDS, DDD LDC + LLDC, EEE LDC (not on the grid)

EPFD (systems S1, S2; antennas 0.6 m, 3 m), exceeded per cell and margin_db per cell::

    S1 0.6 m  exceeded 0 1 0 1 1   margin  3  -2   5  -1  -4
    S1 3 m    exceeded 0 0 0 0 0   margin  1   1   1   1   1
    S2 0.6 m  exceeded 1 0 1 0 0   margin -1   2  -3 nan nan
    S2 3 m    exceeded 0 0 1 0 0   margin  1   1  -1   1   1
"""

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis.protection import (
    PROTECTION_GROUPS,
    SINGLE_ENTRY_NOTE,
    epfd_country_summary,
    equity_readout,
    gso_equity,
)
from orbitshare.errors import ParameterError

LON = np.array([-144.0, -72.0, 0.0, 72.0, 144.0])
LAT = np.array([0.0])
CODES = ["AAA", "BBB", "CCC", "DDD", "EEE"]
ANT = [0.6, 3.0]
EXCEEDED = np.array(
    [[[0, 1, 0, 1, 1], [0, 0, 0, 0, 0]], [[1, 0, 1, 0, 0], [0, 0, 1, 0, 0]]], np.int8
)  # (system, antenna, cell)
MARGIN = np.array([[[3, -2, 5, -1, -4], [1, 1, 1, 1, 1]], [[-1, 2, -3, np.nan, np.nan], [1, 1, -1, 1, 1]]], np.float64)


def _geography():
    frac = np.zeros((5, 1, 5), np.float32)
    frac[0, 0, 0], frac[1, 0, 0] = 0.5, 0.3
    frac[1, 0, 1], frac[2, 0, 1] = 0.6, 0.05
    frac[3, 0, 2] = 1.0
    frac[0, 0, 4] = 0.2
    land = np.minimum(frac.astype(np.float64).sum(axis=0), 1.0).astype(np.float32)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "land_fraction": (("lat", "lon"), land),
            "population": (("lat", "lon"), np.array([[800.0, 130.0, 100.0, 7.0, 0.0]])),
            "cell_area": (("lat", "lon"), np.full((1, 5), 1000.0)),
        },
        coords={
            "lat": LAT,
            "lon": LON,
            "country": CODES,
            "country_name": ("country", [f"Country {c}" for c in CODES]),
            "ldc": ("country", np.array([1, 0, 0, 1, 1], bool)),
            "lldc": ("country", np.array([0, 0, 0, 1, 0], bool)),
            "sids": ("country", np.array([0, 0, 1, 0, 0], bool)),
        },
    )


def _epfd(margin=True):
    dims = ("system", "antenna", "lat", "lon")
    ds = xr.Dataset(
        {"exceeded": (dims, EXCEEDED.reshape(2, 2, 1, 5))},
        coords={"system": ["S1", "S2"], "antenna": ANT, "lat": LAT, "lon": LON},
    )
    if margin:
        ds["margin_db"] = (dims, MARGIN.reshape(2, 2, 1, 5))
    return ds


@pytest.fixture(scope="module")
def summary():
    return epfd_country_summary(_geography(), _epfd())


def _at(ds, var, system, antenna, **sel):
    return ds[var].sel(system=system, antenna=antenna, **sel).values


def test_population_and_land_weights(summary):
    np.testing.assert_allclose(summary["population"].values, [500, 420, 10, 100, 0], rtol=1e-6)
    np.testing.assert_allclose(summary["land_area"].values, [700, 900, 50, 1000, 0], rtol=1e-6)


def test_population_exceeded_fraction_by_hand(summary):
    got = _at(summary, "population_exceeded_fraction", "S1", 0.6)
    np.testing.assert_allclose(got[:4], [0.0, 120 / 420, 1.0, 0.0], rtol=1e-6)
    assert np.isnan(got[4])  # EEE: no cell on the grid
    np.testing.assert_allclose(
        _at(summary, "population_exceeded_fraction", "S2", 0.6)[:4], [1.0, 300 / 420, 0.0, 1.0], rtol=1e-6
    )
    np.testing.assert_allclose(_at(summary, "population_exceeded_fraction", "S1", 3.0)[:4], 0.0)


def test_land_exceeded_fraction_by_hand(summary):
    np.testing.assert_allclose(
        _at(summary, "land_exceeded_fraction", "S1", 0.6)[:4], [200 / 700, 600 / 900, 1.0, 0.0], rtol=1e-6
    )
    np.testing.assert_allclose(
        _at(summary, "land_exceeded_fraction", "S2", 0.6)[:4], [500 / 700, 300 / 900, 0.0, 1.0], rtol=1e-6
    )


def test_worst_margin_and_exceeded_anywhere(summary):
    m = _at(summary, "worst_margin_db", "S1", 0.6)
    np.testing.assert_allclose(m[:4], [-4.0, -2.0, -2.0, 5.0])
    assert np.isnan(m[4])
    np.testing.assert_allclose(_at(summary, "worst_margin_db", "S2", 0.6)[:4], [-1.0, -1.0, 2.0, -3.0])  # NaN skipped
    # AAA exceeded only in the uninhabited cell 4: exceeded anywhere, no people exceeded
    np.testing.assert_array_equal(_at(summary, "exceeded_anywhere", "S1", 0.6), [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(_at(summary, "exceeded_anywhere", "S2", 3.0), [0, 0, 0, 1, 0])


def test_groups_from_member_sums(summary):
    assert list(summary["group"].values) == list(PROTECTION_GROUPS)
    pop = _at(summary, "group_population_exceeded_fraction", "S1", 0.6)
    land = _at(summary, "group_land_exceeded_fraction", "S1", 0.6)
    # ldc AAA + DDD (+ EEE, nothing), lldc DDD, sids CCC, world all
    np.testing.assert_allclose(pop, [0.0, 0.0, 1.0, 130 / 1030], rtol=1e-6)
    np.testing.assert_allclose(land, [200 / 1700, 0.0, 1.0, (200 + 600 + 50) / 2650], rtol=1e-6)
    np.testing.assert_allclose(_at(summary, "group_worst_margin_db", "S1", 0.6), [-4.0, 5.0, -2.0, -4.0])
    np.testing.assert_array_equal(_at(summary, "group_exceeded_anywhere", "S2", 3.0), [1, 1, 0, 1])


def test_without_margin_and_grid_mismatch():
    s = epfd_country_summary(_geography(), _epfd(margin=False))
    assert np.isnan(s["worst_margin_db"].values).all()
    np.testing.assert_array_equal(_at(s, "exceeded_anywhere", "S1", 0.6), [1, 1, 1, 0, 0])
    with pytest.raises(ParameterError, match="lon"):
        epfd_country_summary(_geography(), _epfd().assign_coords(lon=LON + 1.0))


def test_long_names_say_single_entry(summary):
    assert SINGLE_ENTRY_NOTE in summary["population_exceeded_fraction"].attrs["long_name"]
    assert summary.attrs["single_entry"] == SINGLE_ENTRY_NOTE


def _gso(own):
    return xr.Dataset({"gso_sats_own": ("country", np.asarray(own, np.int32))}, coords={"country": CODES})


def test_equity_readout_names_administrations_and_systems(summary):
    # own GSO satellites: AAA 2 (LDC), BBB 1 (not LDC/LLDC/SIDS), CCC 0 (SIDS), DDD 3 (LDC, LLDC), EEE 5 (off grid)
    out = gso_equity(summary, _gso([2, 1, 0, 3, 5]))
    assert out.attrs["gso_catalogue"] == "yes"
    hit = out["protected_gso_exceeded"]
    np.testing.assert_array_equal(hit.sel(system="S1", antenna=0.6).values, [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(hit.sel(system="S2", antenna=0.6).values, [1, 0, 0, 1, 0])
    rows = equity_readout(out)
    got = [(r["antenna_m"], r["country"], r["groups"], r["gso_sats_own"], r["systems"]) for r in rows]
    assert got == [
        (0.6, "AAA", "LDC", 2, ["S1", "S2"]),
        (0.6, "DDD", "LDC/LLDC", 3, ["S2"]),
        (3.0, "DDD", "LDC/LLDC", 3, ["S2"]),
    ]


def test_equity_readout_without_catalogue(summary):
    for gso in (None, _gso([0, 0, 0, 0, 0])):
        out = gso_equity(summary, gso)
        assert out.attrs["gso_catalogue"] == "none"
        assert "protected_gso_exceeded" not in out and equity_readout(out) == []
