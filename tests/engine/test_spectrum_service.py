"""The spectrum Dataset of orbitshare.engine.service with co-frequency sharing: closed forms for two identical
systems on one band (every in-view step in line: equal split W/2, priority W and 0, union exactly W), the
union never above the physical union width, bands that do not overlap change nothing, spectral reuse against
its definition, and the CUDA refusal."""

import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.engine.backends import INLINE_NOT_ON_CUDA
from orbitshare.engine.service import service
from orbitshare.errors import BackendError, ParameterError
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
KU = (("Ku", 10700.0, 12700.0),)


@pytest.fixture(scope="module")
def grid():
    return Grid(5.0)


@pytest.fixture(scope="module")
def times():
    return time_grid("2026-08-18T00:30:00Z", "2026-08-18T01:10:00Z", 120.0)


@pytest.fixture(scope="module")
def geog(grid):
    """Two countries as lat/lon boxes (land where they are), a random population."""
    lat, lon = np.asarray(grid.lat), np.asarray(grid.lon)
    frac = np.zeros((2, *grid.shape))
    frac[0] = ((lat[:, None] >= -30) & (lat[:, None] < 40) & (lon[None, :] >= -60) & (lon[None, :] < 30)) * 1.0
    frac[1] = 0.6 * ((lat[:, None] >= 40) & (lat[:, None] < 60) & (lon[None, :] >= 0) & (lon[None, :] < 90))
    pop = np.random.default_rng(0).lognormal(10, 1, grid.shape) * (frac.sum(axis=0) > 0)
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "population": (("lat", "lon"), pop),
            "land_fraction": (("lat", "lon"), frac.sum(axis=0)),
        },
        coords={"country": ["AAA", "BBB"], "lat": lat, "lon": lon},
    )


@pytest.fixture(scope="module")
def shell():
    return orbitshare.walker(550.0, 53.0, 12, 10, 1, EPOCH, name_prefix="A")


def _twin(shell, bands_b=KU, **kw):
    a = System("a", shell, 25.0, 1, bands=KU, capacity_per_sat_mbps=1000.0, **kw)
    b = System("b", shell, 25.0, 1, bands=bands_b, capacity_per_sat_mbps=1000.0, **kw)
    return [a, b]


@pytest.fixture(scope="module")
def equal(shell, grid, times, geog):
    return service(_twin(shell), grid, times, geog, rule="proportional")


def test_identical_systems_equal_split_and_union(equal, times):
    spec = equal["spectrum"]
    any_frac = equal["coverage"].covered_fraction.values  # min_visible 1: steps with ≥ 1 satellite
    in_view = spec.band_mhz_in_view.sel(band="Ku").values
    np.testing.assert_array_equal(in_view[0], 2000.0 * any_frac[0])
    # the same elements twice: every in-view step is in line, each gets exactly W / 2
    np.testing.assert_array_equal(spec.effective_mhz.sel(band="Ku").values, in_view / 2)
    frac = spec.inline_fraction.values
    seen = any_frac[0] > 0
    assert (frac[:, seen] == 1.0).all() and np.isnan(frac[:, ~seen]).all()
    # the union: exactly 2,000 MHz where both are always in view, never more anywhere
    total = spec.mhz_available_total.values
    always = any_frac[0] == 1.0
    assert always.sum() > 20 and (~always).sum() > 20
    assert (total[always] == 2000.0).all()
    assert total.max() <= 2000.0
    np.testing.assert_array_equal(total, in_view[0])
    assert spec.attrs["cofrequency_sharing"] == 1 and spec.attrs["split"] == "equal"


def test_identical_systems_priority(shell, grid, times, geog, equal):
    spec = service(_twin(shell), grid, times, geog, rule="proportional", split="priority")["spectrum"]
    in_view = equal["spectrum"].band_mhz_in_view.sel(band="Ku").values
    eff = spec.effective_mhz.sel(band="Ku").values
    np.testing.assert_array_equal(eff[0], in_view[0])
    np.testing.assert_array_equal(eff[1], 0.0 * in_view[1])


def test_disjoint_bands_change_nothing(shell, grid, times, geog, equal):
    """Bands that do not overlap: no in-line test, each system keeps its band, the union is the sum, and the
    coverage and capacity are those of the overlapping run (the sharing pass touches nothing else)."""
    out = service(_twin(shell, bands_b=(("Ka", 17700.0, 18600.0),)), grid, times, geog, rule="proportional")
    spec = out["spectrum"]
    assert spec.attrs["cofrequency_sharing"] == 0
    np.testing.assert_array_equal(spec.effective_mhz.values, spec.band_mhz_in_view.values)
    seen = out["coverage"].covered_fraction.values > 0
    assert (spec.inline_fraction.values[seen] == 0.0).all()
    cf = out["coverage"].covered_fraction.values
    np.testing.assert_allclose(spec.mhz_available_total.values, 2000.0 * cf[0] + 900.0 * cf[1], rtol=1e-15)
    for name in ("coverage", "capacity"):
        a, b = out[name], equal[name]
        for v in a.data_vars:
            np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


def test_partial_overlap_union_below_physical_width(shell, grid, times, geog):
    other = orbitshare.walker(1100.0, 70.0, 6, 8, 2, EPOCH, raan0_deg=11.0, norad_start=920000, name_prefix="B")
    a = System("a", shell, 25.0, 1, bands=KU, capacity_per_sat_mbps=1000.0)
    b = System("b", other, 15.0, 1, bands=(("Ku", 10950.0, 12750.0),), capacity_per_sat_mbps=1000.0)
    out = service([a, b], grid, times, geog, rule="proportional", inline_angle_deg=40.0)
    spec = out["spectrum"]
    total = spec.mhz_available_total.values
    assert total.max() <= 2050.0 and total.max() > 2000.0
    # at least each system's own in-view band, at most their sum
    in_view = spec.band_mhz_in_view.sel(band="Ku").values
    assert (total >= np.maximum(in_view[0], in_view[1]) - 1e-9).all()
    assert (total <= in_view[0] + in_view[1] + 1e-9).all()
    # sharing only takes away, and only from overlapping systems in view
    eff = spec.effective_mhz.sel(band="Ku").values
    assert (eff <= in_view + 1e-9).all() and (eff < in_view - 1.0).any()
    assert np.nanmax(spec.inline_fraction.values) > 0


def test_reuse_per_km2_under_the_allocation(shell, grid, times, geog):
    systems = [
        System("a", shell, 25.0, 1, bands=KU, spectral_efficiency_bps_per_hz=2.0, beams=8),
        System("b", shell, 25.0, 1, bands=(("Ka", 17700.0, 18600.0),), beam_capacity_mbps=500.0, beams=4),
    ]
    out = service(systems, grid, times, geog)
    spec, cap = out["spectrum"], out["capacity"]
    land = np.asarray(grid.cell_area_km2)[:, None] * np.clip(geog.land_fraction.values, 0.0, 1.0)
    beam = np.array([2.0 * 2000.0 * 8 / 8, 500.0])
    with np.errstate(invalid="ignore", divide="ignore"):
        expect = np.array([2000.0, 900.0])[:, None, None] * cap.served_mbps.values / beam[:, None, None] / land[None]
    got = spec.reuse_mhz_per_km2.values
    has = land > 0
    np.testing.assert_allclose(got[:, has], expect[:, has], rtol=1e-12)
    assert np.isnan(got[:, ~has]).all() and np.nanmax(got) > 0
    prop = service(systems, grid, times[:3], geog, rule="proportional")
    assert "reuse_mhz_per_km2" not in prop["spectrum"]


def test_cuda_refuses_sharing_in_one_line(shell, grid, times, geog):
    with pytest.raises(BackendError) as e:
        service(_twin(shell), grid, times, geog, rule="proportional", backend="cuda")
    assert str(e.value) == INLINE_NOT_ON_CUDA and "\n" not in INLINE_NOT_ON_CUDA


def test_options_checked(shell, grid, times, geog):
    with pytest.raises(ParameterError, match="split"):
        service(_twin(shell), grid, times, geog, rule="proportional", split="fair")
    with pytest.raises(ParameterError, match="inline_angle_deg"):
        service(_twin(shell), grid, times, geog, rule="proportional", inline_angle_deg=-1.0)
