"""orbitshare.engine.service.service against a NumPy brute force (exact elevation test of every satellite at
every cell centre, then P = Σ weights of the cells a satellite sees and the shares cap·w/P), on small
Walker constellations with a synthetic geography (a few countries, synthetic population) and landing
rights; closed forms for one GEO satellite; determinism; validation."""

import numba
import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.engine.coverage import coverage
from orbitshare.engine.service import served_share, service
from orbitshare.grid import Grid
from orbitshare.system import Band, System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
START = "2026-08-18T00:30:00Z"
STEP_S = 60.0
NT = 40


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def times():
    return time_grid(START, "2026-08-18T01:10:00Z", STEP_S)


@pytest.fixture(scope="module")
def systems():
    a = orbitshare.walker(550.0, 53.0, 6, 8, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1200.0, 87.9, 4, 6, 2, EPOCH, raan0_deg=20.0, norad_start=910000, name_prefix="B")
    return [
        System(
            "alpha",
            a,
            25.0,
            1,
            operator="Alpha Op",
            administration="AAA",
            bands=(Band("Ku", 10700.0, 12700.0), Band("Ka", 17700.0, 18600.0)),
            capacity_per_sat_mbps=20000.0,
            serve_countries=("AAA", "BBB", "CCC"),
            exclude_countries=("CCC",),
        ),
        System(
            "beta",
            b,
            10.0,
            2,
            operator="Beta Op",
            administration="bbb",
            bands=(("Ku", 10950.0, 12750.0),),
            spectral_efficiency_bps_per_hz=2.5,
            beams=4,
            exclude_countries=("AAA",),
        ),
    ]


def synthetic_geography(grid, seed=0, land=True):
    """Countries as lat/lon boxes (resolution independent): AAA and BBB share a border row of partial
    cells, BBB has an exclave, CCC is a small island, DDD is not on the grid; synthetic population
    (zero in some cells, NaN in the southernmost row)."""
    rng = np.random.default_rng(seed)
    lat, lon = np.asarray(grid.lat), np.asarray(grid.lon)

    def box(la0, la1, lo0, lo1):
        inside = (lat[:, None] >= la0) & (lat[:, None] < la1) & (lon[None, :] >= lo0) & (lon[None, :] < lo1)
        return inside.astype(float)

    frac = np.zeros((4,) + grid.shape)
    frac[0] = box(0, 40, -60, 10)
    frac[1] = 0.7 * box(40, 50, -60, 10) + box(-40, -20, 60, 120)
    border = box(35, 45, -60, 10) > 0
    frac[0][border] = 0.3
    frac[1][border] = 0.5  # 80 % land, shared
    frac[2] = 0.05 * box(-10, -5, 150, 155)  # an island: 5 % of the cell's area
    pop = rng.lognormal(10, 2, grid.shape)
    pop[rng.random(grid.shape) < 0.2] = 0.0
    pop[0, :] = np.nan
    ds = xr.Dataset(
        {"country_fraction": (("country", "lat", "lon"), frac), "population": (("lat", "lon"), pop)},
        coords={"country": ["AAA", "BBB", "CCC", "DDD"], "lat": lat, "lon": lon},
    )
    if land:
        ds["land_fraction"] = (("lat", "lon"), np.clip(frac.sum(axis=0), 0, 1))
    return ds


# --------------------------------------------------------------------------- the reference
def visible(grid, rs, mask_deg):
    """bool[nlat, nlon]: cell centres seeing the satellite at rs above the mask (exact test)."""
    pxy, pz, nxy, nz = grid.row_geometry()
    cl, sl = np.asarray(grid.cos_lon), np.asarray(grid.sin_lon)
    dx = rs[0] - pxy[:, None] * cl[None, :]
    dy = rs[1] - pxy[:, None] * sl[None, :]
    dz = rs[2] - pz[:, None]
    nd = (nxy[:, None] * cl[None, :]) * dx + (nxy[:, None] * sl[None, :]) * dy + nz[:, None] * dz
    d2 = dx * dx + dy * dy + dz * dz
    s = np.sin(np.radians(np.float64(mask_deg)))
    return (nd > 0.0) & (nd * nd > s * s * d2)


def reference_share(system, geog):
    """The served share written out from the definition (per cell, by country)."""
    cf = np.nan_to_num(geog.country_fraction.values)
    land = geog.land_fraction.values if "land_fraction" in geog else None
    codes = list(geog.country.values)

    def share(c):
        if land is None:
            return cf[c]
        return np.divide(cf[c], land, out=np.zeros_like(cf[c]), where=land > 0)

    if system.serve_countries is None and not system.exclude_countries:
        return np.ones(cf.shape[1:])
    if system.serve_countries is not None:
        tot = sum(
            (share(codes.index(c)) for c in system.serve_countries if c not in system.exclude_countries),
            np.zeros(cf.shape[1:]),
        )
        return np.minimum(tot, 1.0)
    tot = sum((share(codes.index(c)) for c in system.exclude_countries), np.zeros(cf.shape[1:]))
    return np.maximum(1.0 - tot, 0.0)


def brute_service(system, grid, times, geog, weighting="population"):
    """Per-step brute force for one system: dict of capacity_mbps, delivered/offered per step, the
    per-step counts, and the weights."""
    e, r, _ = orbitshare.propagate(system.elements, times, frame="itrs")
    share = reference_share(system, geog)
    pop = np.nan_to_num(geog.population.values)
    if weighting == "population":
        w = pop * share
    else:
        land = (
            geog.land_fraction.values
            if "land_fraction" in geog
            else np.minimum(geog.country_fraction.sum("country").values, 1)
        )
        w = grid.cell_area_km2[:, None] * land * share
    cap = system.capacity_mbps
    nt = len(times)
    capsum = np.zeros(grid.shape)
    counts = np.zeros((nt,) + grid.shape, np.int32)
    delivered = np.zeros(nt)
    offered = np.zeros(nt)
    for k in range(nt):
        step = np.zeros(grid.shape)
        for q in range(r.shape[0]):
            if e[q, k] != 0:
                continue
            vis = visible(grid, r[q, k], system.elevation_mask_deg)
            counts[k] += vis
            p = w[vis].sum()
            if p > 0:
                step[vis] += cap * w[vis] / p
                offered[k] += cap
        capsum += step
        delivered[k] = step.sum()
    return {
        "capacity_mbps": capsum / nt,
        "delivered": delivered,
        "offered": offered,
        "counts": counts,
        "share": share,
        "weight": w,
        "pop": pop,
    }


_BRUTE = {}


def brute_for(systems, times, grid, geog, weighting):
    key = (grid.nlat, weighting)
    if key not in _BRUTE:
        _BRUTE[key] = [brute_service(s, grid, times, geog, weighting) for s in systems]
    return _BRUTE[key]


def assert_close_with_exact_zeros(got, ref, rtol=1e-9):
    np.testing.assert_array_equal(got == 0, ref == 0)
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


# --------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("res,weighting", [(5.0, "population"), (2.0, "population"), (5.0, "area")])
def test_service_matches_brute_force(systems, times, res, weighting):
    grid = Grid(res)
    geog = synthetic_geography(grid)
    out = service(systems, grid, times, geog, weighting=weighting, rule="proportional")
    cap, spec = out["capacity"], out["spectrum"]
    brute = brute_for(systems, times, grid, geog, weighting)
    assert cap.attrs["weighting"] == weighting
    for i, s in enumerate(systems):
        b = brute[i]
        np.testing.assert_array_equal(cap.served_share.values[i], b["share"])
        np.testing.assert_allclose(cap.weight.values[i], b["weight"], rtol=1e-15)
        assert_close_with_exact_zeros(cap.capacity_mbps.values[i], b["capacity_mbps"])
        np.testing.assert_allclose(cap.delivered_step_mbps.values[i], b["delivered"], rtol=1e-9)
        np.testing.assert_array_equal(cap.offered_step_mbps.values[i], b["offered"])
        # conservation at every step: the cells receive what the satellites that see them offer
        np.testing.assert_allclose(
            cap.delivered_step_mbps.values[i], cap.offered_step_mbps.values[i], rtol=1e-12, atol=0
        )
        assert cap.delivered_mbps.values[i] == pytest.approx(b["delivered"].mean(), rel=1e-12)
        assert cap.offered_mbps.values[i] == pytest.approx(b["offered"].mean(), rel=1e-15)
        assert cap.capacity_mbps.values[i].sum() == pytest.approx(b["offered"].mean(), rel=1e-12)
        pop = b["pop"]
        pp = cap.capacity_per_person_mbps.values[i]
        assert np.isnan(pp[pop == 0]).all()
        np.testing.assert_allclose(pp[pop > 0], b["capacity_mbps"][pop > 0] / pop[pop > 0], rtol=1e-9)
        # spectrum: band width × (steps with ≥ 1 satellite) / N × share, and × mean satellites
        any_frac = (b["counts"] >= 1).mean(axis=0)
        mean_vis = b["counts"].mean(axis=0)
        for band in s.bands:
            got = spec.band_mhz_in_view.sel(system=s.name, band=band.name).values
            np.testing.assert_allclose(got, band.width_mhz * any_frac * b["share"], rtol=1e-14, atol=0)
            got = spec.band_mhz_x_sats_in_view.sel(system=s.name, band=band.name).values
            np.testing.assert_allclose(got, band.width_mhz * mean_vis * b["share"], rtol=1e-14, atol=0)
        # not vacuous: partly served, partly covered, capacity in many cells, satellites wasted over
        # unserved land or ocean
        assert 0 < (b["capacity_mbps"] > 0).mean() < 1 and (b["offered"] > 0).all()
        if s.serve_countries is not None:  # satellites over the sea or unserved land offer nothing
            assert (b["offered"] < s.capacity_mbps * len(s.elements)).all()
    # beta needs 2 satellites for coverage but spectrum counts steps with one
    cf = out["coverage"].covered_fraction.sel(system="beta").values
    assert (
        spec.band_mhz_in_view.sel(system="beta", band="Ku").values > 1800.0 * cf * spec.served_share.values[1] + 1e-9
    ).any()


def test_landing_rights_shares(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    alpha, beta = systems
    sa = served_share(alpha, geog)
    sb = served_share(beta, geog)
    lat, lon = np.asarray(grid.lat), np.asarray(grid.lon)
    i = lambda la: int(np.argmin(abs(lat - la)))  # noqa: E731
    j = lambda lo: int(np.argmin(abs(lon - lo)))  # noqa: E731
    # alpha serves AAA and BBB (CCC listed but excluded): 1 inside them, 0 over the ocean and CCC
    assert sa[i(20), j(-30)] == 1.0 and sa[i(-30), j(90)] == 1.0
    assert sa[i(-60), j(0)] == 0.0 and (sa[geog.country_fraction.sel(country="CCC").values > 0] == 0).all()
    # on the border cells (30 % AAA, 50 % BBB, 20 % sea): the whole land is served
    assert sa[i(38), j(-30)] == pytest.approx(1.0)
    # beta excludes AAA only: the sea stays served; the border cells keep BBB's 5/8 of the land
    assert sb[i(-60), j(0)] == 1.0 and sb[i(20), j(-30)] == 0.0
    assert sb[i(38), j(-30)] == pytest.approx(0.5 / 0.8)
    # without land_fraction, country_fraction is already a share of the land
    nol = synthetic_geography(grid, land=False)
    assert served_share(beta, nol)[i(38), j(-30)] == pytest.approx(1 - 0.3)
    assert served_share(alpha, nol)[i(38), j(-30)] == pytest.approx(0.3 + 0.5)
    # an unrestricted system serves every cell
    free = System("free", alpha.elements, capacity_per_sat_mbps=1.0)
    assert (served_share(free, geog) == 1.0).all()


# --------------------------------------------------------------------------- determinism
def _assert_services(a, b, capacity_rtol=None):
    xr.testing.assert_identical(a["coverage"], b["coverage"])
    xr.testing.assert_identical(a["spectrum"], b["spectrum"])
    if capacity_rtol is None:
        xr.testing.assert_identical(a["capacity"], b["capacity"])
        return
    ca, cb = a["capacity"], b["capacity"]
    for name in ("capacity_mbps", "capacity_per_person_mbps", "delivered_mbps", "offered_mbps"):
        va, vb = ca[name].values, cb[name].values
        np.testing.assert_array_equal(np.isnan(va), np.isnan(vb))
        np.testing.assert_array_equal(va == 0, vb == 0)
        np.testing.assert_allclose(va, vb, rtol=capacity_rtol, atol=0, err_msg=name)
    for name in ("delivered_step_mbps", "offered_step_mbps", "served_share", "weight", "capacity_per_sat_mbps"):
        xr.testing.assert_identical(ca[name], cb[name])


def test_thread_count_gives_identical_results(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    nmax = numba.config.NUMBA_NUM_THREADS
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = service(systems, grid, times, geog, chunk_steps=20, rule="proportional")
        numba.set_num_threads(nmax)
        many = service(systems, grid, times, geog, chunk_steps=20, rule="proportional")
    finally:
        numba.set_num_threads(old)
    _assert_services(one, many)


@pytest.mark.parametrize("chunk_steps", [1, 7, NT])
def test_chunk_size_changes_capacity_only_to_rounding(systems, times, chunk_steps):
    """Chunks regroup the float sums over time: capacity means agree to ~1e-15 (asserted 1e-12);
    everything else (integer statistics, per-step totals) is identical."""
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    ref = service(systems, grid, times, geog, chunk_steps=NT, rule="proportional")
    got = service(systems, grid, times, geog, chunk_steps=chunk_steps, rule="proportional")
    _assert_services(got, ref, capacity_rtol=1e-12)


def test_coverage_part_is_what_coverage_returns(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    out = service(systems, grid, times, geog, keep_time_series=True, chunk_steps=13, rule="proportional")
    ref = coverage(systems, grid, times, geography=geog, keep_time_series=True)
    xr.testing.assert_identical(out["coverage"], ref)


# --------------------------------------------------------------------------- closed forms
def _geo(mask=10.0, **kw):
    geo = orbitshare.walker(35786.0, 0.0, 1, 1, 0, EPOCH)
    return System("geo", geo, mask, **kw)


def _elevation_deg(r_sat, grid):
    p = grid.cell_centres_itrs()
    _, _, nxy, nz = grid.row_geometry()
    n = np.stack(
        [
            nxy[:, None] * grid.cos_lon[None, :],
            nxy[:, None] * grid.sin_lon[None, :],
            np.broadcast_to(nz[:, None], (grid.nlat, grid.nlon)),
        ],
        axis=-1,
    )
    d = r_sat[None, None, :] - p
    return np.degrees(np.arcsin(np.einsum("ijk,ijk->ij", n, d) / np.linalg.norm(d, axis=-1)))


def test_single_geo_satellite_spectrum_is_band_width_inside_its_cap():
    grid = Grid(2.0)
    tg = time_grid(START, "2026-08-18T03:30:00Z", 1800.0)
    s = _geo(10.0, bands=(("C", 3700.0, 4200.0), ("Ku", 10700.0, 12700.0)), capacity_per_sat_mbps=1000.0)
    geog = synthetic_geography(grid)
    out = service(s, grid, tg, geog, rule="proportional")
    e, r, _ = orbitshare.propagate(s.elements, tg, frame="itrs")
    el = np.stack([_elevation_deg(r[0, k], grid) for k in range(len(tg))])
    inside = (el > 10.05).all(axis=0)
    outside = (el < 9.95).all(axis=0)
    assert inside.sum() > 1000 and outside.sum() > 5000
    spec = out["spectrum"]
    for band, width in (("C", 500.0), ("Ku", 2000.0)):
        m = spec.band_mhz_in_view.sel(system="geo", band=band).values
        assert (m[inside] == width).all() and (m[outside] == 0.0).all()
        assert set(np.unique(m)) <= {0.0, width}  # a GEO satellite barely moves: in or out at every step
        np.testing.assert_array_equal(spec.band_mhz_x_sats_in_view.sel(system="geo", band=band).values, m)
    np.testing.assert_array_equal(spec.band_width_mhz.values, [[500.0, 2000.0]])
    assert float(spec.bandwidth_mhz[0]) == 2500.0


def test_single_satellite_shares_equally_over_uniform_population():
    grid = Grid(2.0)
    tg = time_grid(START, "2026-08-18T01:30:00Z", 1800.0)
    geog = synthetic_geography(grid)
    geog["population"] = xr.full_like(geog.population, 250.0)
    s = _geo(20.0, capacity_per_sat_mbps=1000.0)
    out = service(s, grid, tg, geog, rule="proportional")
    e, r, _ = orbitshare.propagate(s.elements, tg, frame="itrs")
    vis = [visible(grid, r[0, k], 20.0) for k in range(len(tg))]
    expect = sum(v * 1000.0 / v.sum() for v in vis) / len(tg)
    cap = out["capacity"]
    got = cap.capacity_mbps.values[0]
    assert_close_with_exact_zeros(got, expect, rtol=1e-13)
    # the GEO satellite sees the same n cells at both steps: each gets exactly 1/n of its capacity
    assert all((v == vis[0]).all() for v in vis)
    n = vis[0].sum()
    np.testing.assert_allclose(got[vis[0]], 1000.0 / n, rtol=1e-13)
    assert (got[~vis[0]] == 0).all()
    np.testing.assert_allclose(cap.capacity_per_person_mbps.values[0], got / 250.0, rtol=1e-15)
    np.testing.assert_allclose(cap.delivered_step_mbps.values[0], 1000.0, rtol=1e-13)
    assert cap.offered_step_mbps.values[0].tolist() == [1000.0] * len(tg)
    assert float(cap.capacity_per_sat_mbps[0]) == 1000.0


def test_layout_bands_as_a_dimension_and_attributes(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    out = service(systems, grid, times[:5], geog, weighting="area", rule="proportional")
    spec, cap = out["spectrum"], out["capacity"]
    assert spec.band.values.tolist() == ["Ku", "Ka"]
    assert spec.band_mhz_in_view.dims == ("system", "band", "lat", "lon")
    # band names repeat across systems with their own edges; NaN where a system lacks the band
    assert spec.band_low_mhz.sel(system="alpha", band="Ku") == 10700.0
    assert spec.band_low_mhz.sel(system="beta", band="Ku") == 10950.0
    assert np.isnan(spec.band_low_mhz.sel(system="beta", band="Ka"))
    assert np.isnan(spec.band_mhz_in_view.sel(system="beta", band="Ka")).all()
    assert np.isfinite(spec.band_mhz_in_view.sel(system="beta", band="Ku")).all()
    for ds in (spec, cap, out["coverage"]):
        assert ds.operator.values.tolist() == ["Alpha Op", "Beta Op"]
        assert ds.administration.values.tolist() == ["AAA", "BBB"]
        assert ds.attrs["Conventions"] == "CF-1.10" and ds.attrs["time_steps"] == 5
    for name in (
        "band_mhz_in_view",
        "band_mhz_x_sats_in_view",
        "capacity_mbps",
        "capacity_per_person_mbps",
        "delivered_mbps",
        "offered_mbps",
    ):
        v = spec[name] if name in spec else cap[name]
        assert {"units", "long_name", "cell_methods"} <= set(v.attrs), name
    assert spec.band_mhz_in_view.attrs["units"] == "MHz" and cap.capacity_mbps.attrs["units"] == "Mbit/s"
    assert cap.capacity_mbps.dims == ("system", "lat", "lon")
    assert cap.delivered_mbps.dims == ("system",) and cap.delivered_step_mbps.dims == ("system", "time")
    # beta: 2.5 bit/s/Hz × 1800 MHz × 4 beams
    assert cap.capacity_per_sat_mbps.values.tolist() == [20000.0, 2.5 * 1800.0 * 4]
    assert cap.weight.attrs["units"] == "km2" and cap.attrs["weighting"] == "area"
    assert cap.population.dims == ("lat", "lon")


# --------------------------------------------------------------------------- validation
def test_band_validation_names_the_field():
    with pytest.raises(ValueError, match=r"low_mhz: expected a number < high_mhz \(10700\)"):
        Band("Ku", 12700.0, 10700.0)
    with pytest.raises(ValueError, match="low_mhz"):
        Band("Ku", 12700.0, 12700.0)
    with pytest.raises(ValueError, match="Band.low_mhz"):
        Band("Ku", -1.0, 10.0)
    with pytest.raises(ValueError, match="Band.high_mhz"):
        Band("Ku", 1.0, float("inf"))
    with pytest.raises(ValueError, match="Band.low_mhz"):
        Band("Ku", "1", 10.0)
    with pytest.raises(ValueError, match="Band.name"):
        Band("", 1.0, 10.0)
    assert Band("Ka", 17700, 18600).width_mhz == 900.0


def test_system_validation_names_the_field(systems):
    es = systems[0].elements
    with pytest.raises(ValueError, match=r"System.bands\[1\].*low_mhz"):
        System("x", es, bands=(("Ku", 1.0, 2.0), ("Ka", 5.0, 3.0)))
    with pytest.raises(ValueError, match=r"System.bands\[0\]"):
        System("x", es, bands=("Ku",))
    with pytest.raises(ValueError, match=r"System.bands\[1\].name: expected a band name unique"):
        System("x", es, bands=(("Ku", 1.0, 2.0), ("Ku", 3.0, 4.0)))
    with pytest.raises(ValueError, match="System.capacity_per_sat_mbps"):
        System("x", es, capacity_per_sat_mbps=0.0)
    with pytest.raises(ValueError, match="System.capacity_per_sat_mbps: expected either"):
        System(
            "x", es, bands=(("Ku", 1.0, 2.0),), capacity_per_sat_mbps=10.0, spectral_efficiency_bps_per_hz=2.0, beams=3
        )
    with pytest.raises(ValueError, match="System.beams"):
        System("x", es, bands=(("Ku", 1.0, 2.0),), spectral_efficiency_bps_per_hz=2.0)
    with pytest.raises(ValueError, match="System.spectral_efficiency_bps_per_hz"):
        System("x", es, bands=(("Ku", 1.0, 2.0),), beams=2)
    with pytest.raises(ValueError, match="System.spectral_efficiency_bps_per_hz"):
        System("x", es, spectral_efficiency_bps_per_hz=-2.0, beams=2)
    with pytest.raises(ValueError, match="System.bands"):
        System("x", es, spectral_efficiency_bps_per_hz=2.0, beams=2)
    with pytest.raises(ValueError, match="System.beams"):
        System("x", es, bands=(("Ku", 1.0, 2.0),), spectral_efficiency_bps_per_hz=2.0, beams=0)
    with pytest.raises(ValueError, match="System.administration"):
        System("x", es, administration="US")
    with pytest.raises(ValueError, match="System.serve_countries"):
        System("x", es, serve_countries="USA")
    with pytest.raises(ValueError, match="System.exclude_countries"):
        System("x", es, exclude_countries=("US",))
    s = System(
        "x",
        es,
        bands=[("Ku", 10700, 12700)],
        spectral_efficiency_bps_per_hz=3,
        beams=2,
        serve_countries=["usa", "USA"],
        administration="gbr",
    )
    assert s.bands == (Band("Ku", 10700.0, 12700.0),) and s.capacity_mbps == 3 * 2000.0 * 2
    assert s.serve_countries == ("USA",) and s.administration == "GBR"
    assert System("y", es).capacity_mbps is None  # capacity is optional for coverage


def test_service_validation(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid)
    es = systems[0].elements
    with pytest.raises(ValueError, match="System.capacity_per_sat_mbps: system 'x' has no capacity"):
        service(System("x", es), grid, times[:2], geog, rule="proportional")
    with pytest.raises(ValueError, match="System.serve_countries.*'ZZZ'"):
        service(
            System("x", es, capacity_per_sat_mbps=1.0, serve_countries=("AAA", "ZZZ")),
            grid,
            times[:2],
            geog,
            rule="proportional",
        )
    with pytest.raises(ValueError, match="weighting"):
        service(systems, grid, times[:2], geog, weighting="people", rule="proportional")
    with pytest.raises(ValueError, match="geography"):
        service(systems, grid, times[:2], None, rule="proportional")
    with pytest.raises(ValueError, match="lat coordinate"):
        service(systems, Grid(2.0), times[:2], geog, rule="proportional")
