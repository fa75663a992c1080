"""Grid: centres, bounds, WGS84 cell areas (closed form vs numeric integration), CF coordinates."""

import math

import numpy as np
import pytest

from orbitshare.constants import WGS84_A_KM, WGS84_B_KM, WGS84_E2
from orbitshare.errors import ParameterError
from orbitshare.grid import WGS84_SURFACE_AREA_KM2, Grid

# WGS84 ellipsoid surface area (NIMA TR8350.2, Table 3.5: 5.10065621718e14 m²)
WGS84_AREA_KM2 = 510_065_621.718


@pytest.mark.parametrize("res", [5.0, 2.0, 1.0, 0.5, 0.25, 0.1])
def test_areas_sum_to_wgs84_surface(res):
    g = Grid(res)
    total = g.cell_area_km2.sum() * g.nlon
    assert abs(total / WGS84_AREA_KM2 - 1.0) < 1e-6
    # and exactly the closed form of the whole ellipsoid, 2πa²(1 + (1 − e²)/e · artanh e)
    e = math.sqrt(WGS84_E2)
    closed = 2 * math.pi * WGS84_A_KM**2 * (1 + (1 - WGS84_E2) / e * math.atanh(e))
    assert total == pytest.approx(closed, rel=1e-12)
    assert pytest.approx(closed, rel=1e-14) == WGS84_SURFACE_AREA_KM2
    ca = g.cell_area()
    assert ca.dims == ("lat", "lon") and ca.attrs["units"] == "km2"
    assert float(ca.sum()) == pytest.approx(total, rel=1e-12)
    # symmetric about the equator, largest at the equator
    np.testing.assert_allclose(g.cell_area_km2, g.cell_area_km2[::-1], rtol=1e-12)
    assert g.cell_area_km2.argmax() in (g.nlat // 2 - 1, g.nlat // 2)


def _row_area_numeric(lat1_deg, lat2_deg, dlon_deg, n=40):
    """∫ M(φ) N(φ) cos φ dφ · Δλ by Gauss–Legendre (M, N radii of curvature of WGS84)."""
    x, w = np.polynomial.legendre.leggauss(n)
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    phi = 0.5 * (p2 - p1) * x + 0.5 * (p1 + p2)
    s = np.sin(phi)
    wden = 1.0 - WGS84_E2 * s * s
    m = WGS84_A_KM * (1 - WGS84_E2) / wden**1.5
    nrad = WGS84_A_KM / np.sqrt(wden)
    return 0.5 * (p2 - p1) * np.sum(w * m * nrad * np.cos(phi)) * math.radians(dlon_deg)


def test_row_area_vs_numeric_integration():
    g = Grid(1.0)
    for i in [0, 1, 45, 89, 90, 120, 178, 179]:
        lo, hi = g.lat_bounds[i]
        ref = _row_area_numeric(lo, hi, 1.0)
        assert g.cell_area_km2[i] == pytest.approx(ref, rel=1e-12), i
    # a 1° equatorial cell is ≈ 111.32 km × 110.57 km
    assert g.cell_area_km2[90] == pytest.approx(111.3195 * 110.5743, rel=1e-4)


def test_centres_and_bounds():
    g = Grid(1.0)
    assert (g.nlat, g.nlon) == (180, 360) and g.shape == (180, 360)
    assert g.lat[0] == -89.5 and g.lat[-1] == 89.5
    assert g.lon[0] == -179.5 and g.lon[-1] == 179.5
    assert np.all(np.diff(g.lat) > 0) and np.all(np.diff(g.lon) > 0)
    for res in (5.0, 0.25, 0.1):
        g = Grid(res)
        assert g.lat_bounds[0, 0] == -90.0 and g.lat_bounds[-1, 1] == 90.0
        assert g.lon_bounds[0, 0] == -180.0 and g.lon_bounds[-1, 1] == 180.0
        np.testing.assert_array_equal(g.lat_bounds[1:, 0], g.lat_bounds[:-1, 1])
        np.testing.assert_array_equal(g.lon_bounds[1:, 0], g.lon_bounds[:-1, 1])
        np.testing.assert_allclose(g.lat, g.lat_bounds.mean(axis=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(g.lon, g.lon_bounds.mean(axis=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.diff(g.lon_bounds, axis=1), res, rtol=0, atol=1e-9)
        assert g.lon.min() >= -180.0 and g.lon.max() < 180.0
        assert g.lat.shape == (g.nlat,) and g.lon.shape == (g.nlon,)
        assert g.nlon == 2 * g.nlat == round(360 / res)
        np.testing.assert_array_equal(g.cos_lon, np.cos(np.deg2rad(g.lon)))
        assert not g.lat.flags.writeable


def test_row_geometry_on_ellipsoid_and_vs_skyfield():
    from skyfield.api import wgs84

    g = Grid(2.0)
    pxy, pz, nxy, nz = g.row_geometry()
    # on the ellipsoid, unit normals, normal ∥ gradient of (ρ/a)² + (z/b)²
    np.testing.assert_allclose((pxy / WGS84_A_KM) ** 2 + (pz / WGS84_B_KM) ** 2, 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(nxy**2 + nz**2, 1.0, rtol=0, atol=1e-15)
    gx, gz = pxy / WGS84_A_KM**2, pz / WGS84_B_KM**2
    np.testing.assert_allclose(nxy * gz - nz * gx, 0.0, atol=1e-18)
    # the same points as Skyfield's WGS84 geodetic positions
    p = g.cell_centres_itrs()
    for i, j in [(0, 0), (10, 33), (44, 90), (45, 179), (89, 100)]:
        ref = wgs84.latlon(g.lat[i], g.lon[j]).itrs_xyz.km
        np.testing.assert_allclose(p[i, j], ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("res", [5, 4, 3, 2.5, 2, 1.5, 1, 0.5, 0.25, 0.2, 0.125, 0.1, np.float32(0.5)])
def test_good_resolutions(res):
    g = Grid(res)
    assert g.nlat == round(180 / float(res))


@pytest.mark.parametrize(
    "res", [0.7, 0.35, 1.1, 7.0, 6.0, 0.05, 0.0, -1.0, float("nan"), float("inf"), "1x", None, True]
)
def test_bad_resolutions(res):
    with pytest.raises(ParameterError, match="resolution_deg"):
        Grid(res)


def test_bad_resolution_message_says_what_is_expected():
    with pytest.raises(ValueError, match=r"180/resolution_deg .* integers") as exc:
        Grid(0.7)
    assert "0.7" in str(exc.value)


def test_coords_cf():
    import xarray as xr

    g = Grid(5.0)
    c = g.coords()
    assert c["lat"].attrs["standard_name"] == "latitude"
    assert c["lat"].attrs["units"] == "degrees_north"
    assert c["lat"].attrs["bounds"] == "lat_bnds"
    assert c["lon"].attrs["standard_name"] == "longitude"
    assert c["lon"].attrs["units"] == "degrees_east"
    assert c["lon"].attrs["bounds"] == "lon_bnds"
    assert c["lat_bnds"].dims == ("lat", "bnds") and c["lon_bnds"].shape == (72, 2)
    ds = xr.Dataset(coords=c)
    assert ds.sizes == {"lat": 36, "lon": 72, "bnds": 2}
    ca = g.cell_area()
    np.testing.assert_array_equal(ca["lat"].values, g.lat)
    np.testing.assert_array_equal(ca.values[:, 7], g.cell_area_km2)


def test_eq_repr_hash():
    assert Grid(1) == Grid(1.0)
    assert Grid(1.0) != Grid(0.5)
    assert Grid(1.0) != 1.0
    assert len({Grid(1.0), Grid(1), Grid(2)}) == 2
    assert repr(Grid(0.25)) == "Grid(resolution_deg=0.25)"
    assert eval(repr(Grid(0.25)), {"Grid": Grid}) == Grid(0.25)
