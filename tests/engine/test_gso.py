"""Geostationary arc: identification, longitudes, occupancy, visible arc (closed form, brute force)."""

import math

import numpy as np
import pytest
import xarray as xr

from orbitshare import ElementSet, load_elements
from orbitshare.engine.gso import (
    GSO_RADIUS_KM,
    SIDEREAL_REV_PER_DAY,
    arc_occupancy,
    geostationary,
    gso_elevation_deg,
    longitude_bins,
    max_gso_elevation_deg,
    subsatellite_longitudes,
    visible_arc,
    visible_half_width_deg,
)

A_KM = 6378.137
F = 1.0 / 298.257223563
B_KM = A_KM * (1.0 - F)
GEO_TLE = "tle/celestrak_tle_2026-05-30/geo.tle"
T_GEO = "2026-05-30T12:00:00Z"


# ------------------------------------------------------------------ independent reference geometry
def _ref_elevation_deg(lat_deg, lon_deg, slot_lon_deg, r=GSO_RADIUS_KM):
    """Elevation by plain vector math: the surface point from the parametric (reduced) latitude,
    the up-normal as the normalised gradient of x²/a² + y²/a² + z²/b² (no radius-of-curvature formula)."""
    phi, lam = math.radians(lat_deg), math.radians(lon_deg)
    beta = math.atan2(B_KM * math.sin(phi), A_KM * math.cos(phi))  # tan β = (b/a) tan φ
    p = np.array([A_KM * math.cos(beta) * math.cos(lam), A_KM * math.cos(beta) * math.sin(lam), B_KM * math.sin(beta)])
    g = p / np.array([A_KM**2, A_KM**2, B_KM**2])
    n = g / np.linalg.norm(g)
    ls = np.radians(np.asarray(slot_lon_deg, float))
    d = np.array([r * np.cos(ls), r * np.sin(ls), np.zeros_like(ls)]) - p[:, None]
    return np.degrees(np.arcsin(n @ d / np.linalg.norm(d, axis=0)))


STEP = 0.001
SLOTS = np.arange(-180.0, 180.0, STEP) + STEP / 2


def _ref_visible_slots(cells, mask):
    """bool over SLOTS: slot above ``mask`` from any (lat, lon) in cells."""
    vis = np.zeros(len(SLOTS), bool)
    for lat, lon in cells:
        vis |= _ref_elevation_deg(lat, lon, SLOTS) > mask
    return vis


# ------------------------------------------------------------------ identification
def _els(mm, ecc, inc):
    n = len(mm)
    z = np.zeros(n)
    return ElementSet.from_arrays(
        norad=np.arange(1, n + 1),
        epoch=np.full(n, np.datetime64("2026-05-30", "ns")),
        mean_motion=np.asarray(mm, float),
        eccentricity=np.asarray(ecc, float),
        inclination=np.asarray(inc, float),
        raan=z,
        arg_perigee=z,
        mean_anomaly=z,
    )


def test_geostationary_thresholds():
    els = _els(
        [SIDEREAL_REV_PER_DAY, 0.99, 1.01, 0.98, 1.02, 1.0027, 1.0027, 15.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0001, 0.0],
        [0.05, 0, 0, 0, 0, 0.1, 7.0, 0.1],
    )
    assert geostationary(els).tolist() == [True, True, True, False, False, False, False, False]
    assert geostationary(els, max_inclination_deg=10.0, max_eccentricity=0.05).tolist() == [
        True,
        True,
        True,
        False,
        False,
        True,
        True,
        False,
    ]
    assert geostationary(els, mean_motion_rev_per_day=(0.97, 1.03))[[3, 4]].all()
    with pytest.raises(ValueError):
        geostationary(els, mean_motion_rev_per_day=(1.1, 0.9))


# ------------------------------------------------------------------ closed forms and brute force
def test_equator_mask0_closed_form():
    # sphere: half-width acos(R/r) = 81.3°; on the ellipsoid's equator the geodetic normal is radial
    expect = math.degrees(math.acos(A_KM / GSO_RADIUS_KM))
    assert expect == pytest.approx(81.30, abs=0.005)
    assert visible_half_width_deg(0.0, 0.0) == pytest.approx(expect, abs=1e-9)
    assert _ref_elevation_deg(0.0, 10.0, [10.0 + expect])[0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("lat", [0.0, 12.5, -33.0, 51.7, 70.0, 78.0])
@pytest.mark.parametrize("mask", [0.0, 5.0, 10.0, 25.0])
def test_half_width_matches_brute_force(lat, mask):
    lon0 = 37.0
    vis = _ref_visible_slots([(lat, lon0)], mask)
    hw = visible_half_width_deg(lat, mask)
    if not vis.any():
        assert hw == -1.0
        return
    dl = np.abs(((SLOTS[vis] - lon0 + 180) % 360) - 180)
    assert hw == pytest.approx(dl.max(), abs=STEP)
    assert np.count_nonzero(vis) * STEP == pytest.approx(2 * hw, abs=2 * STEP)
    # the exact elevation function agrees with the reference
    for d in (2.0, 30.0, hw * 0.99):
        assert gso_elevation_deg(lat, lon0, lon0 + d) == pytest.approx(
            _ref_elevation_deg(lat, lon0, [lon0 + d])[0], abs=1e-9
        )


def test_high_latitude_max_elevation():
    phi = math.radians(75.0)
    k = A_KM / GSO_RADIUS_KM
    sphere = math.degrees(math.atan2(math.cos(phi) - k, math.sin(phi)))  # closed form on a sphere
    assert sphere == pytest.approx(6.35, abs=0.01)
    el = float(max_gso_elevation_deg(75.0))
    assert el == pytest.approx(_ref_elevation_deg(75.0, 0.0, [0.0])[0], abs=1e-9)  # ellipsoid, exact
    assert abs(el - sphere) < 0.1
    assert 5.0 < el < 10.0
    assert visible_half_width_deg(75.0, 10.0) == -1.0 and visible_half_width_deg(75.0, 5.0) > 0
    # beyond ~81.3° latitude no slot rises above the horizon
    assert visible_half_width_deg(82.0, 0.0) == -1.0 and max_gso_elevation_deg(82.0) < 0


def test_bad_masks_and_bins():
    with pytest.raises(ValueError, match="mask"):
        visible_half_width_deg(0.0, -1.0)
    with pytest.raises(ValueError, match="mask"):
        visible_half_width_deg(0.0, 90.0)
    with pytest.raises(ValueError, match="bin_deg"):
        longitude_bins(0.7)
    c, b = longitude_bins(0.5)
    assert len(c) == 720 and c[0] == -179.75 and b[-1, 1] == 180.0


# ------------------------------------------------------------------ visible_arc on synthetic geography
def _geo(lat, lon, fractions):
    """Synthetic geography: fractions {iso3: [(i, j, f), ...]} on the given cell centres."""
    codes = list(fractions)
    cf = np.zeros((len(codes), len(lat), len(lon)), np.float32)
    for k, c in enumerate(codes):
        for i, j, f in fractions[c]:
            cf[k, i, j] = f
    return xr.Dataset(
        {"country_fraction": (("country", "lat", "lon"), cf)},
        coords={"country": codes, "lat": lat, "lon": lon, "country_name": ("country", [c.lower() for c in codes])},
    )


LAT = np.array([-20.0, 0.0, 75.0])
LON = np.array([-175.0, 0.0, 10.0, 30.0, 100.0, 170.0])


@pytest.fixture(scope="module")
def syn():
    fr = {
        "AAA": [(1, 3, 1.0)],  # one equatorial cell at 30°E
        "BBB": [(2, 1, 0.5), (2, 2, 0.2), (0, 4, 0.01), (1, 5, 0.3)],  # 75°N, 20°S, wraps ±180
        "CCC": [(2, 1, 0.9)],  # only at 75°N
        "DDD": [],
    }  # no land
    return _geo(LAT, LON, fr), fr


def test_visible_arc_closed_form_and_brute_force(syn):
    geo, fr = syn
    va = visible_arc(geo, masks_deg=(0.0, 5.0, 10.0))
    hw0 = math.degrees(math.acos(A_KM / GSO_RADIUS_KM))
    assert va.arc_visible_deg.sel(country="AAA", mask=0.0) == pytest.approx(2 * hw0, abs=1e-9)
    vis_aaa = va.visible.sel(country="AAA", mask=0.0).values
    lon_c = va.longitude.values
    assert np.array_equal(vis_aaa, np.abs(lon_c - 30.0) < hw0)
    for c in ("BBB", "CCC"):
        cells = [(LAT[i], LON[j]) for i, j, _ in fr[c]]
        for m in (0.0, 5.0, 10.0):
            ref = _ref_visible_slots(cells, m)
            assert va.arc_visible_deg.sel(country=c, mask=m) == pytest.approx(ref.sum() * STEP, abs=4 * STEP), (c, m)
            got = va.visible.sel(country=c, mask=m).values
            ref_bins = ref[np.searchsorted(SLOTS, lon_c)]
            assert np.count_nonzero(got != ref_bins) <= 2, (c, m)  # only bins cut by an arc end
    assert va.arc_visible_deg.sel(country="CCC", mask=10.0) == 0.0
    assert va.arc_visible_deg.sel(country="CCC", mask=5.0) > 0.0
    assert va.arc_visible_deg.sel(country="DDD").values.tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(va.max_elevation_deg.sel(country="DDD"))
    assert va.max_elevation_deg.sel(country="AAA") == pytest.approx(90.0, abs=1e-5)
    assert va.max_elevation_deg.sel(country="CCC") == pytest.approx(float(max_gso_elevation_deg(75.0)))
    assert va.country_name.values.tolist() == ["aaa", "bbb", "ccc", "ddd"]
    assert va.longitude.attrs["units"] == "degrees_east" and va.arc_visible_deg.attrs["units"] == "degree"
    assert "gso_sats_own" not in va


def test_visible_arc_with_satellites(syn):
    geo, fr = syn
    sat_lon = np.array([30.0, 111.0, -51.0, 179.9, -150.0, -100.0, 60.0, np.nan])
    sat_own = np.array(["AAA", "AAA", "BBB", "EEE", "unattributed", "AAA", "BBB", "CCC"])
    occ = xr.Dataset(
        {"sat_longitude": ("satellite", sat_lon), "sat_owner": ("satellite", sat_own)}, attrs={"time": "test"}
    )
    va = visible_arc(geo, masks_deg=(5.0, 10.0), occupancy=occ)
    for c in ("AAA", "BBB", "CCC", "DDD"):
        cells = [(LAT[i], LON[j]) for i, j, _ in fr[c]]
        for m in (5.0, 10.0):
            ref = sum(
                any(_ref_elevation_deg(la, lo, [s])[0] > m for la, lo in cells) for s in sat_lon[np.isfinite(sat_lon)]
            )
            assert va.gso_sats_visible.sel(country=c, mask=m) == ref, (c, m)
    assert va.gso_sats_own.values.tolist() == [3, 2, 0, 0]  # CCC's only satellite failed (NaN)
    assert va.entitlement_positions.values.tolist() == [1, 1, 1, 1]
    assert va.holdings_vs_entitlement.values.tolist() == [2, 1, -1, -1]
    assert va.holdings_ratio.values.tolist() == [3.0, 2.0, 0.0, 0.0]
    assert va.attrs["gso_sats_other_owners"] == "EEE:1;unattributed:1"


# ------------------------------------------------------------------ the real GEO catalog
@pytest.fixture(scope="module")
def geo_els(shared_data):
    return load_elements(shared_data / GEO_TLE)


def test_real_geo_catalog(geo_els):
    g = geostationary(geo_els)
    assert len(geo_els) == 574
    assert g.mean() > 0.75  # the rest are inclined (drifting, retired) objects of CelesTrak's group
    lon = subsatellite_longitudes(geo_els[g], T_GEO)
    assert lon.dtype == np.float64 and np.isfinite(lon).all()
    assert (lon >= -180).all() and (lon < 180).all()
    sectors = np.unique(np.floor((lon + 180) / 10))
    assert len(sectors) >= 30  # spread over the whole arc
    occ = arc_occupancy(geo_els, None, T_GEO)
    assert occ.attrs["n_gso"] == g.sum() and occ.attrs["n_failed"] == 0
    assert int(occ["count_all"].sum()) == g.sum() == int(occ["count"].sum())
    np.testing.assert_array_equal(occ.sat_longitude.values, lon)
    assert occ.owner.values.tolist() == ["unattributed"]


def test_longitudes_match_skyfield(geo_els):
    from sgp4.api import Satrec
    from skyfield.api import EarthSatellite
    from skyfield.framelib import itrs

    from orbitshare.timegrid import time_grid_from_times

    sub = geo_els[np.flatnonzero(geostationary(geo_els))[::60]]
    tg = time_grid_from_times([T_GEO])
    lon = subsatellite_longitudes(sub, tg)
    t = tg.skyfield_time()
    tle = sub.to_tle(three_line=False).splitlines()
    for i in range(len(sub)):
        sat = EarthSatellite.from_satrec(Satrec.twoline2rv(tle[2 * i], tle[2 * i + 1]), t.ts)
        _, ref, _ = sat.at(t).frame_latlon(itrs)
        ref_lon = float(np.atleast_1d(ref.degrees)[0])
        assert ((lon[i] - ref_lon + 180) % 360) - 180 == pytest.approx(0.0, abs=1e-5)


def test_occupancy_by_owner(geo_els, shared_data):
    from orbitshare.elements.owners import satellite_owners

    own = satellite_owners(geo_els, data_dir=shared_data)
    occ = arc_occupancy(geo_els, own, T_GEO, bin_deg=1.0)
    assert occ.sizes["longitude"] == 360
    np.testing.assert_array_equal(occ["count"].sum("owner").values, occ["count_all"].values)
    per_owner = occ["count"].sum("longitude").to_series()
    assert per_owner.index[0] == "USA" and occ.owner.values[-1] == "unattributed"
    g = geostationary(geo_els)
    for c in ("USA", "CHN", "GBR"):
        assert per_owner[c] == np.count_nonzero(own.owner[g] == c)
    assert occ["count"].attrs["units"] == "1"
    with pytest.raises(ValueError, match="owners"):
        arc_occupancy(geo_els, ["USA"], T_GEO)
