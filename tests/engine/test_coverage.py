"""orbitshare.coverage against a direct NumPy brute force (exact geodetic-vertical elevation test at
every cell centre for every satellite and step), on small Walker constellations."""

import json
import math

import numba
import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare.engine.coverage import coverage
from orbitshare.engine.passinputs import default_chunk_steps
from orbitshare.grid import Grid
from orbitshare.system import System
from orbitshare.timegrid import time_grid

EPOCH = "2026-08-18T00:00:00Z"
START = "2026-08-18T00:30:00Z"
STEP_S = 60.0
NT = 90


# --------------------------------------------------------------------------- the reference
def brute_counts(r, e, grid, mask_deg):
    """Satellites visible per step and cell, int32[ntime, nlat, nlon]: for every satellite, step and
    cell centre p (WGS84 surface, geodetic up-normal n), visible ⇔ n·d > 0 and (n·d)² > sin²(mask)·|d|²
    with d = s − p (mask ≥ 0), evaluated elementwise in NumPy."""
    pxy, pz, nxy, nz = grid.row_geometry()
    cl, sl = np.asarray(grid.cos_lon), np.asarray(grid.sin_lon)
    px, py = pxy[:, None] * cl[None, :], pxy[:, None] * sl[None, :]
    nx, ny = nxy[:, None] * cl[None, :], nxy[:, None] * sl[None, :]
    pzz = np.broadcast_to(pz[:, None], px.shape)
    nzz = np.broadcast_to(nz[:, None], px.shape)
    sm = np.sin(np.radians(np.float64(mask_deg)))
    s2 = sm * sm
    nsat, nt = r.shape[:2]
    out = np.zeros((nt, grid.nlat, grid.nlon), np.int32)
    for k in range(nt):
        ok = (e[:, k] == 0) & np.isfinite(r[:, k]).all(axis=1)
        x = r[ok, k, 0][:, None, None]
        y = r[ok, k, 1][:, None, None]
        z = r[ok, k, 2][:, None, None]
        dx, dy, dz = x - px, y - py, z - pzz
        nd = nx * dx + ny * dy + nzz * dz
        d2 = dx * dx + dy * dy + dz * dz
        out[k] = ((nd > 0.0) & (nd * nd > s2 * d2)).sum(axis=0)
    return out


def brute_stats(counts, min_visible, step_s):
    """(mean_visible, covered_fraction, max_gap_s) from per-step counts [ntime, nlat, nlon]."""
    nt = counts.shape[0]
    mean_visible = counts.sum(axis=0, dtype=np.int64) / np.float64(nt)
    covered = counts >= min_visible
    covered_fraction = covered.sum(axis=0, dtype=np.int64) / np.float64(nt)
    run = np.zeros(counts.shape[1:], np.int64)
    best = np.zeros(counts.shape[1:], np.int64)
    for k in range(nt):
        run = np.where(covered[k], 0, run + 1)
        best = np.maximum(best, run)
    return mean_visible, covered_fraction, best * step_s


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def times():
    return time_grid(START, "2026-08-18T02:00:00Z", STEP_S)


@pytest.fixture(scope="module")
def systems():
    a = orbitshare.walker(550.0, 53.0, 6, 8, 1, EPOCH, name_prefix="A")
    b = orbitshare.walker(1200.0, 87.9, 4, 6, 2, EPOCH, raan0_deg=20.0, norad_start=910000, name_prefix="B")
    return [System("alpha", a, 25.0, 1), System("beta", b, 10.0, 2)]


@pytest.fixture(scope="module")
def reference(systems, times):
    """Per-system (e, r) from orbitshare.propagate in ITRS."""
    out = []
    for s in systems:
        e, r, _ = orbitshare.propagate(s.elements, times, frame="itrs")
        out.append((e, r))
    return out


_BRUTE = {}


def brute_for(systems, reference, grid):
    key = grid.nlat
    if key not in _BRUTE:
        _BRUTE[key] = [
            brute_counts(r, e, grid, s.elevation_mask_deg) for s, (e, r) in zip(systems, reference, strict=True)
        ]
    return _BRUTE[key]


def test_times_fixture_is_what_we_think(times):
    assert len(times) == NT


# --------------------------------------------------------------------------- brute force
@pytest.mark.parametrize("res", [5.0, 2.0])
def test_two_systems_match_brute_force_cell_for_cell(systems, reference, times, res):
    grid = Grid(res)
    ds = coverage(systems, grid, times)
    brute = brute_for(systems, reference, grid)
    assert list(ds.system.values) == ["alpha", "beta"]
    for i, s in enumerate(systems):
        mv, cf, gap = brute_stats(brute[i], s.min_visible, STEP_S)
        np.testing.assert_array_equal(ds.mean_visible.values[i], mv)
        np.testing.assert_array_equal(ds.covered_fraction.values[i], cf)
        np.testing.assert_array_equal(ds.max_gap_s.values[i], gap)
        # not a vacuous comparison: partly covered cells, gaps of different lengths
        assert 0 < cf.mean() < 1 and np.unique(gap).size > 3
    # the two systems really use their own mask and min_visible
    assert not np.array_equal(ds.covered_fraction.values[0], ds.covered_fraction.values[1])
    assert ds.elevation_mask_deg.values.tolist() == [25.0, 10.0]
    assert ds.min_visible.values.tolist() == [1, 2]


@pytest.mark.parametrize("chunk_steps", [1, 7, NT])
def test_result_independent_of_chunk_size(systems, reference, times, chunk_steps):
    grid = Grid(5.0)
    ds = coverage(systems, grid, times, chunk_steps=chunk_steps, keep_time_series=True)
    ref = coverage(systems, grid, times, chunk_steps=NT, keep_time_series=True)
    xr.testing.assert_identical(ds, ref)
    brute = brute_for(systems, reference, grid)
    for i in range(len(systems)):
        np.testing.assert_array_equal(ds.counts.values[i], brute[i])
    assert ds.counts.dtype == np.int16
    np.testing.assert_array_equal(ds.time.values, times.time)


def test_result_independent_of_thread_count(systems, times):
    grid = Grid(5.0)
    nmax = numba.config.NUMBA_NUM_THREADS
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = coverage(systems, grid, times, chunk_steps=30)
        numba.set_num_threads(nmax)
        many = coverage(systems, grid, times, chunk_steps=30)
    finally:
        numba.set_num_threads(old)
    xr.testing.assert_identical(one, many)


def test_never_covered_cell_gap_is_whole_duration(times):
    # an equatorial shell leaves the polar caps uncovered
    eq = orbitshare.walker(800.0, 0.0, 1, 10, 0, EPOCH)
    ds = coverage(System("eq", eq), Grid(5.0), times)
    polar = ds.sel(lat=slice(60, 90))
    assert (polar.covered_fraction == 0).all()
    assert (polar.max_gap_s == NT * STEP_S).all()
    assert (polar.mean_visible == 0).all()
    assert float(ds.max_gap_s.max()) == NT * STEP_S
    assert ds.attrs["time_coverage_end"] == "2026-08-18T02:00:00Z"  # last step + one step


# --------------------------------------------------------------------------- GEO cap
def _elevation_deg(r_sat, grid):
    """Geodetic elevation of one satellite position from every cell centre, float64[nlat, nlon], deg."""
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


def test_single_geo_satellite_covers_its_cap_exactly():
    geo = orbitshare.walker(35786.0, 0.0, 1, 1, 0, EPOCH)
    tg = time_grid(START, "2026-08-18T06:30:00Z", 1800.0)
    grid = Grid(2.0)
    mask = 10.0
    ds = coverage(System("geo", geo, mask), grid, tg)
    e, r, _ = orbitshare.propagate(geo, tg, frame="itrs")
    assert (e == 0).all()
    el = np.stack([_elevation_deg(r[0, k], grid) for k in range(len(tg))])  # [nt, nlat, nlon]
    inside = (el > mask + 0.05).all(axis=0)
    outside = (el < mask - 0.05).all(axis=0)
    cf = ds.covered_fraction.values[0]
    assert inside.sum() > 1000 and outside.sum() > 5000
    assert (cf[inside] == 1.0).all()
    assert (cf[outside] == 0.0).all()
    assert (ds.max_gap_s.values[0][inside] == 0).all()
    assert ((inside | outside).sum()) > 0.97 * cf.size  # only a thin rim is undecided
    np.testing.assert_array_equal(ds.mean_visible.values[0], cf)  # one satellite: count ∈ {0, 1}
    # the cap is centred under the satellite: it includes the sub-satellite cell
    lon_sat = math.degrees(math.atan2(r[0, 0, 1], r[0, 0, 0]))
    j = int(np.argmin(np.abs(((grid.lon - lon_sat) + 180) % 360 - 180)))
    i = int(np.argmin(np.abs(grid.lat)))
    assert cf[i, j] == 1.0


# --------------------------------------------------------------------------- geography
def synthetic_geography(grid, rng):
    """country_fraction(country, lat, lon) and population(lat, lon) on ``grid`` (regionmask-like)."""
    nlat, nlon = grid.shape
    frac = np.zeros((4, nlat, nlon))
    # AAA: a block of whole cells plus partial cells on its rim
    frac[0, 20:26, 10:20] = 1.0
    frac[0, 19, 10:20] = 0.4
    # BBB: shares some cells with AAA (a border), and a separate exclave
    frac[1, 25, 10:20] = 0.0
    frac[1, 26:28, 10:20] = 0.7
    frac[1, 19, 10:20] = 0.5
    frac[1, 8:10, 50:52] = 1.0
    # CCC: an island smaller than a cell, uninhabited
    frac[2, 30, 40] = 0.01
    # DDD: not on this grid at all
    pop = rng.uniform(0, 1e6, size=(nlat, nlon))
    pop[30, 40] = 0.0
    pop[0, :] = np.nan  # NaN population counts as none
    return xr.Dataset(
        {"country_fraction": (("country", "lat", "lon"), frac), "population": (("lat", "lon"), pop)},
        coords={
            "country": ["AAA", "BBB", "CCC", "DDD"],
            "country_name": ("country", ["Aland", "Bland", "Cisle", "Dnowhere"]),
            "ldc": ("country", [False, True, False, True]),
            "lat": np.array(grid.lat),
            "lon": np.array(grid.lon),
        },
    )


def test_population_and_area_covered_fractions_by_hand(systems, times):
    grid = Grid(5.0)
    geog = synthetic_geography(grid, np.random.default_rng(1))
    ds = coverage(systems, grid, times, geography=geog)
    area = grid.cell_area_km2
    frac = geog.country_fraction.values
    pop = np.nan_to_num(geog.population.values)
    for s in range(len(systems)):
        cov = ds.covered_fraction.values[s]
        for c, iso in enumerate(geog.country.values):
            num_p = den_p = num_a = den_a = 0.0
            for i in range(grid.nlat):
                for j in range(grid.nlon):
                    f = frac[c, i, j]
                    if f == 0:
                        continue
                    num_p += pop[i, j] * f * cov[i, j]
                    den_p += pop[i, j] * f
                    num_a += area[i] * f * cov[i, j]
                    den_a += area[i] * f
            got_p = float(ds.population_covered_fraction.sel(system=ds.system[s], country=iso))
            got_a = float(ds.area_covered_fraction.sel(system=ds.system[s], country=iso))
            if den_p > 0:
                assert got_p == pytest.approx(num_p / den_p, rel=1e-12, abs=1e-15)
            else:
                assert math.isnan(got_p), iso
            if den_a > 0:
                assert got_a == pytest.approx(num_a / den_a, rel=1e-12, abs=1e-15)
            else:
                assert math.isnan(got_a), iso
    assert ds.population_covered_fraction.dims == ("system", "country")
    assert list(ds.country_name.values) == ["Aland", "Bland", "Cisle", "Dnowhere"]
    assert ds.ldc.values.tolist() == [False, True, False, True]
    # CCC: uninhabited but has land; DDD: nothing
    assert np.isnan(ds.population_covered_fraction.sel(country="CCC")).all()
    assert np.isfinite(ds.area_covered_fraction.sel(country="CCC")).all()
    assert np.isnan(ds.area_covered_fraction.sel(country="DDD")).all()
    for name in ("population_covered_fraction", "area_covered_fraction"):
        assert ds[name].attrs["units"] == "1" and "cell_methods" in ds[name].attrs


def test_population_weights_use_land_share_when_land_fraction_given(systems, times):
    """With ``land_fraction`` (orbitshare.geography's layout: country_fraction = share of the cell's
    area), a country's population in a cell is population × country_fraction / land_fraction."""
    grid = Grid(5.0)
    geog = synthetic_geography(grid, np.random.default_rng(2))
    land = np.clip(geog.country_fraction.sum("country").values, 0, 1)
    geog["land_fraction"] = (("lat", "lon"), land)
    ds = coverage(systems, grid, times, geography=geog)
    frac = geog.country_fraction.values
    pop = np.nan_to_num(geog.population.values)
    cov = ds.covered_fraction.values[0]
    for c, iso in enumerate(["AAA", "BBB"]):
        num = den = 0.0
        for i, j in zip(*np.nonzero(frac[c]), strict=True):
            share = frac[c, i, j] / land[i, j]
            num += pop[i, j] * share * cov[i, j]
            den += pop[i, j] * share
        got = float(ds.population_covered_fraction.sel(system="alpha", country=iso))
        assert got == pytest.approx(num / den, rel=1e-12)
    # the area weighting is unchanged by land_fraction
    ref = coverage(systems, grid, times, geography=geog.drop_vars("land_fraction"))
    xr.testing.assert_identical(ds.area_covered_fraction, ref.area_covered_fraction)
    assert not np.allclose(
        ds.population_covered_fraction.sel(country="AAA"), ref.population_covered_fraction.sel(country="AAA")
    )


def test_geography_on_another_grid_is_refused(systems, times):
    geog = synthetic_geography(Grid(5.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="lat coordinate"):
        coverage(systems, Grid(2.0), times[:3], geography=geog)
    with pytest.raises(ValueError, match="population"):
        coverage(systems, Grid(5.0), times[:3], geography=geog.drop_vars("population"))


# --------------------------------------------------------------------------- time series on disk
def test_time_series_streamed_to_file(systems, times, tmp_path):
    import h5py

    grid = Grid(5.0)
    path = tmp_path / "counts.nc"
    ds = coverage(systems, grid, times, keep_time_series=True, time_series_path=path, chunk_steps=13)
    assert "counts" not in ds and "time" not in ds.coords
    assert ds.attrs["time_series_file"] == str(path)
    mem = coverage(systems, grid, times, keep_time_series=True, chunk_steps=NT)
    xr.testing.assert_identical(ds.drop_attrs(deep=False), mem.drop_vars(["counts", "time"]).drop_attrs(deep=False))
    with xr.open_dataset(path, engine="h5netcdf") as f:
        np.testing.assert_array_equal(f.counts.values, mem.counts.values)
        assert f.counts.dtype == np.int16
        np.testing.assert_array_equal(f.time.values, times.time)
        assert list(f.system.values) == ["alpha", "beta"]
        np.testing.assert_array_equal(f.lat.values, grid.lat)
        assert f.attrs["Conventions"] == "CF-1.10"
    with h5py.File(path, "r") as h:
        assert h["counts"].compression == "gzip" and h["counts"].chunks is not None
    assert [p.name for p in tmp_path.iterdir()] == ["counts.nc"]  # no temp file left
    with pytest.raises(FileExistsError, match="counts.nc"):
        coverage(systems, grid, times, keep_time_series=True, time_series_path=path)


def test_failed_run_leaves_no_time_series_file(systems, times, tmp_path, monkeypatch):
    from orbitshare.engine import chunk

    calls = []

    def boom(*a, **k):
        if len(calls) == 2:
            raise RuntimeError("killed in the middle")
        calls.append(1)
        return real(*a, **k)

    real = chunk.accumulate_chunk
    monkeypatch.setattr(chunk, "accumulate_chunk", boom)
    with pytest.raises(RuntimeError, match="killed"):
        coverage(systems, Grid(5.0), times, keep_time_series=True, time_series_path=tmp_path / "x.nc", chunk_steps=10)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- layout and metadata
def test_dataset_layout_and_attributes(systems, times):
    grid = Grid(5.0)
    ds = coverage(systems, grid, times)
    for name in ("mean_visible", "covered_fraction", "max_gap_s"):
        v = ds[name]
        assert v.dims == ("system", "lat", "lon") and v.dtype == np.float64
        assert {"units", "long_name", "cell_methods"} <= set(v.attrs)
    assert ds.covered_fraction.attrs["units"] == "1"
    assert ds.max_gap_s.attrs["units"] == "s" and ds.max_gap_s.attrs["cell_methods"] == "time: maximum"
    assert ds.mean_visible.attrs["cell_methods"] == "time: mean"
    assert ds.lat.attrs["units"] == "degrees_north" and ds.lon.attrs["units"] == "degrees_east"
    assert "time" not in ds.coords
    a = ds.attrs
    assert a["Conventions"] == "CF-1.10" and a["source"] == f"orbitshare {orbitshare.__version__}"
    assert a["time_coverage_start"] == "2026-08-18T00:30:00Z"
    assert a["time_coverage_resolution"] == "PT60S" and a["time_step_s"] == 60.0 and a["time_steps"] == NT
    assert ds.element_count.values.tolist() == [48, 24]
    assert (ds.element_epoch_min.values == np.datetime64("2026-08-18T00:00", "ns")).all()
    np.testing.assert_allclose(ds.element_age_at_start_days_max.values, 1 / 48)
    meta = json.loads(a["systems"])
    assert [m["name"] for m in meta] == ["alpha", "beta"]
    assert meta[0]["element_epoch_median"] == "2026-08-18T00:00:00Z"
    assert meta[1]["min_visible"] == 2 and meta[1]["elevation_mask_deg"] == 10.0
    assert ds.sgp4_error_steps.values.tolist() == [0, 0]


def test_system_validation_names_the_field(systems):
    es = systems[0].elements
    with pytest.raises(ValueError, match="elevation_mask_deg"):
        System("x", es, elevation_mask_deg=90.0)
    with pytest.raises(ValueError, match="elevation_mask_deg"):
        System("x", es, elevation_mask_deg=float("nan"))
    with pytest.raises(ValueError, match="min_visible"):
        System("x", es, min_visible=0)
    with pytest.raises(ValueError, match="min_visible"):
        System("x", es, min_visible=1.5)
    with pytest.raises(ValueError, match="name"):
        System("", es)
    with pytest.raises(TypeError, match="elements"):
        System("x", [1, 2, 3])


def test_bare_element_sets_and_names(systems, times):
    es = systems[0].elements
    ds = coverage(es, Grid(5.0), times[:5])
    assert ds.system.values.tolist() == ["system"] and ds.elevation_mask_deg.values.tolist() == [25.0]
    ds2 = coverage([es, es], Grid(5.0), times[:5])
    assert ds2.system.values.tolist() == ["system", "system_2"]
    with pytest.raises(ValueError, match="duplicate system name"):
        coverage([System("a", es), System("a", es)], Grid(5.0), times[:5])


def test_irregular_times_are_refused(systems):
    from orbitshare.timegrid import time_grid_from_times

    t = np.datetime64("2026-08-18T00:00", "ns") + np.array([0, 60, 180], "timedelta64[s]")
    with pytest.raises(ValueError, match="regularly spaced"):
        coverage(systems, Grid(5.0), time_grid_from_times(t))


def test_default_chunk_steps_bounds_memory():
    assert default_chunk_steps(10_000, 43_200, nthreads=2) == 400
    # a long run is cut into at least MIN_CHUNKS (8) chunks, none below MIN_CHUNK_STEPS (32) steps
    assert default_chunk_steps(10, 1440, nthreads=2) == 180
    assert default_chunk_steps(10, 100, nthreads=2) == 32
    assert default_chunk_steps(10, 20, nthreads=2) == 20
    assert default_chunk_steps(10**9, 100, nthreads=2) == 2
    # kept counts at 0.25°: at most 128 MiB of int16 per chunk
    c = default_chunk_steps(100, 10_000, ncells=1440 * 720, nsys=2, keep_time_series=True, nthreads=2)
    assert c * 2 * 2 * 1440 * 720 <= 128 * 2**20 and c >= 2
