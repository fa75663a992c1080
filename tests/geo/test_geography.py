"""Geography layer: groups table, exact polygon fractions, population regridding, both sources, cache."""

import os
import shutil
import time

import numpy as np
import pytest

from orbitshare.errors import ConfigError, DataError, ParameterError
from orbitshare.geo import country_cell_pairs, country_groups, geography
from orbitshare.geo.embedded import gpw_raster, ne_population_estimates
from orbitshare.geo.parts import Polygons, polygon_cell_fractions
from orbitshare.geo.population import Raster, read_esri_ascii, regrid_counts
from orbitshare.grid import Grid

GPW = "population/gpw_v4_population_count_rev11_2020_1_deg.asc"


# ------------------------------------------------------------------ groups table
def test_groups_table_counts():
    g = country_groups()
    assert len(g["iso3"]) == 250 and len(set(g["iso3"])) == 250
    assert g["ldc"].sum() == 44
    assert g["lldc"].sum() == 32
    assert g["sids"].sum() == 53
    assert g["un_member"].sum() == 193
    idx = {c: i for i, c in enumerate(g["iso3"])}
    for c in ("VAT", "PSE", "TWN", "XKX", "GRL", "PRI", "HKG", "ATA"):
        assert not g["un_member"][idx[c]], c
    for c in ("SSD", "MCO", "TUV", "NRU", "KIR", "CHE", "USA", "PRK"):
        assert g["un_member"][idx[c]], c
    assert not g["ldc"][idx["BTN"]] and not g["ldc"][idx["STP"]] and g["ldc"][idx["SLB"]]
    regions = {"USA": 2, "FRA": 1, "RUS": 1, "MNG": 1, "IRN": 3, "AUS": 3, "BRA": 2, "GRL": 2, "ATA": 0}
    for c, r in regions.items():
        assert g["itu_region"][idx[c]] == r, c
    assert set(np.unique(g["itu_region"])) == {0, 1, 2, 3}
    # 16 of the 53 M49 SIDS are not UN members
    assert (g["sids"] & ~g["un_member"]).sum() == 16


# ------------------------------------------------------------------ exact fractions (closed form)
def _two_squares():
    p = Polygons()
    # square A: exactly cells lon [0, 2) x lat [0, 2); square B offset by a quarter cell, with a hole
    p.add([np.array([[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]], float)], 0)
    p.add(
        [
            np.array([[2.25, 0.25], [3.25, 0.25], [3.25, 1.25], [2.25, 1.25]], float),
            np.array([[2.5, 0.5], [2.5, 0.75], [2.75, 0.75], [2.75, 0.5]], float),
        ],
        1,
    )
    return p.finish()


def _dense(fr, grid, nlab):
    ii, jj, kk, ff, _ = fr
    out = np.zeros((nlab, grid.nlat, grid.nlon))
    out[kk, ii, jj] = ff
    return out


def _sph(lon0, lon1, lat0, lat1):
    return np.radians(lon1 - lon0) * (np.sin(np.radians(lat1)) - np.sin(np.radians(lat0)))


def test_two_squares_exact():
    grid = Grid(1.0)
    f = _dense(polygon_cell_fractions(_two_squares(), grid, 2), grid, 2)
    i0 = 90  # row of lat [0, 1)
    j0 = 180  # column of lon [0, 1)
    a = f[0]
    np.testing.assert_allclose(a[i0 : i0 + 2, j0 : j0 + 2], 1.0, rtol=0, atol=1e-14)
    assert a.sum() == pytest.approx(4.0, abs=1e-12)
    b = f[1]
    # B minus its hole: spherical areas of the overlaps over the cells' areas
    c0, c1 = _sph(2, 3, 0, 1), _sph(2, 3, 1, 2)
    assert b[i0, j0 + 2] == pytest.approx((_sph(2.25, 3, 0.25, 1) - _sph(2.5, 2.75, 0.5, 0.75)) / c0, rel=1e-12)
    assert b[i0, j0 + 3] == pytest.approx(_sph(3, 3.25, 0.25, 1) / c0, rel=1e-12)
    assert b[i0 + 1, j0 + 2] == pytest.approx(_sph(2.25, 3, 1, 1.25) / c1, rel=1e-12)
    assert b[i0 + 1, j0 + 3] == pytest.approx(_sph(3, 3.25, 1, 1.25) / c1, rel=1e-12)


def test_tiny_polygon_keeps_its_area():
    grid = Grid(1.0)
    p = Polygons()
    p.add([np.array([[10.0, 0.0], [11.0, 0.0], [11.0, 1.0], [10.0, 1.0]])], 0)  # fills one cell
    p.add([np.array([[10.40, 0.41], [10.44, 0.41], [10.44, 0.44], [10.40, 0.44]])], 1)  # inside it
    p.add([np.array([[20.41, 5.41], [20.43, 5.41], [20.43, 5.43]])], 1)  # alone in its cell
    f = _dense(polygon_cell_fractions(p.finish(), grid, 2), grid, 2)
    i, j = 90, 190
    # overlapping polygons: the cell's sum is scaled back to 1
    assert f[:, i, j].sum() == pytest.approx(1.0, abs=1e-12)
    tiny = _sph(10.40, 10.44, 0.41, 0.44) / _sph(10, 11, 0, 1)
    assert f[1, i, j] == pytest.approx(tiny / (1 + tiny), rel=1e-9)
    tri = 0.5 * 0.02 * 0.02 * np.radians(1) ** 2 * np.cos(np.radians(5.42)) / _sph(20, 21, 5, 6)
    assert f[1, 95, 200] == pytest.approx(tri, rel=1e-3)


# ------------------------------------------------------------------ population rasters
def test_esri_ascii_reader(shared_data):
    r = read_esri_ascii(shared_data / GPW)
    assert r.data.shape == (180, 360)
    assert np.isfinite(r.data).sum() == 19103
    assert r.total == pytest.approx(7.969e9, rel=1e-3)
    i, j = np.unravel_index(np.nanargmax(r.data), r.data.shape)
    assert (0.5 * (r.lat_edges[i] + r.lat_edges[i + 1]), 0.5 * (r.lon_edges[j] + r.lon_edges[j + 1])) == (-6.5, 106.5)


def test_vendored_gpw_is_the_shared_file(shared_data):
    """The gzip in the package holds GPW v4.11 2020 1° exactly (the values of the shared .asc)."""
    a, b = read_esri_ascii(shared_data / GPW), gpw_raster()
    np.testing.assert_array_equal(np.nan_to_num(a.data, nan=-1), np.nan_to_num(b.data, nan=-1))
    np.testing.assert_array_equal(a.lat_edges, b.lat_edges)
    np.testing.assert_array_equal(a.lon_edges, b.lon_edges)


@pytest.mark.parametrize("res", [2.0, 0.5, 1.0, 5.0])
def test_regrid_conserves_total(shared_data, res):
    r = read_esri_ascii(shared_data / GPW)
    out = regrid_counts(r, Grid(res))
    assert out.sum() == pytest.approx(r.total, rel=1e-12)
    assert (out >= 0).all()
    if res == 1.0:
        np.testing.assert_allclose(out, np.nan_to_num(r.data), rtol=1e-12)


def test_regrid_area_weighted_split():
    # one 2°x2° source cell at the equator split onto 1° cells: by sin(latitude) (equal halves here)
    r = Raster(np.array([[100.0]]), np.array([0.0, 2.0]), np.array([10.0, 12.0]))
    out = regrid_counts(r, Grid(1.0))
    assert out.sum() == pytest.approx(100.0)
    w0 = np.sin(np.radians(1)) / np.sin(np.radians(2))
    assert out[90, 190] == pytest.approx(50 * w0)
    assert out[91, 190] == pytest.approx(50 * (1 - w0))


# ------------------------------------------------------------------ the two sources at 1°
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("geocache")
    old = os.environ.get("ORBITSHARE_CACHE_DIR")
    os.environ["ORBITSHARE_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        os.environ.pop("ORBITSHARE_CACHE_DIR", None)
    else:
        os.environ["ORBITSHARE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def embedded(cache_dir):
    t = time.perf_counter()
    ds = geography(Grid(1.0))
    return ds, time.perf_counter() - t


@pytest.fixture(scope="module")
def natural_earth(shared_data):
    return geography(Grid(1.0), "naturalearth", data_dir=shared_data / "boundaries", cache=False)


def _check_dataset(ds):
    f = ds["country_fraction"].values
    assert f.dtype == np.float32
    assert f.min() >= 0.0 and f.max() <= 1.0
    s = f.sum(axis=0, dtype=np.float64)
    assert s.max() <= 1.0 + 1e-9  # float32 values are rounded toward zero
    land = ds["land_fraction"].values
    assert (s[land == 0] == 0).all()
    for v in ds.data_vars:
        assert "units" in ds[v].attrs and "long_name" in ds[v].attrs, v
    for c in ("country_name", "ldc", "lldc", "sids", "itu_region", "un_member"):
        assert c in ds.coords and ds[c].dims == ("country",)
    assert ds["sids"].dtype == bool and ds["un_member"].dtype == bool
    assert ds["population"].dtype == np.float64
    assert ds.attrs["Conventions"] == "CF-1.10" and "geography_source" in ds.attrs
    # every UN member state has territory
    tot = f.sum(axis=(1, 2))
    members = ds["country"].values[ds["un_member"].values]
    missing = [c for c, t in zip(ds["country"].values, tot, strict=True) if c in set(members) and t == 0]
    assert missing == []
    return f


def _national(ds):
    """(land km², people) per country: a cell's people split among its countries by land area."""
    c, n, f, sumcf = country_cell_pairs(ds)
    pop = ds["population"].values.ravel()
    area = np.broadcast_to(ds["cell_area"].values, ds["population"].shape).ravel()
    people = np.bincount(c, weights=pop[n] * f / sumcf[n], minlength=ds.sizes["country"])
    land = np.bincount(c, weights=f * area[n], minlength=ds.sizes["country"])
    return land, people


def test_embedded_geography(embedded):
    ds, _ = embedded
    f = _check_dataset(ds)
    assert ds.attrs["geography_source"] == "embedded" and ds.attrs["boundaries_version"] == "5.1.1"
    assert "GPW v4.11" in ds.attrs["population_source"] and "doi:10.7927/H4JW8BX5" in ds.attrs["population_source"]
    # open ocean is zero: central Pacific and South Atlantic
    for lat, lon in ((0.5, -140.5), (-30.5, -20.5)):
        assert float(ds["land_fraction"].sel(lat=lat, lon=lon)) == 0.0
        assert float(ds["population"].sel(lat=lat, lon=lon)) == 0.0
    # micro-states and atoll states keep a nonzero fraction
    for c in ("MCO", "VAT", "NRU", "TUV", "SMR", "LIE", "MHL", "MDV"):
        assert float(ds["country_fraction"].sel(country=c).sum()) > 0, c
    ata = ds["country_fraction"].sel(country="ATA")
    assert float(ata.where(ds.lat > -60, 0).sum()) == 0
    area = (ds["country_fraction"] * ds["cell_area"]).sum(("lat", "lon"))
    assert float(area.sel(country="RUS")) == pytest.approx(17.1e6, rel=0.02)
    # GPW's people, all of them on land (those of 1° cells without Natural Earth land moved there)
    assert float(ds["population"].sum()) == pytest.approx(gpw_raster().total, rel=1e-12)
    assert float(ds["population"].where(ds["land_fraction"] == 0, 0).sum()) == 0.0
    assert 1e6 < ds.attrs["population_moved_to_land"] < 3e6 and ds.attrs["population_moved_cells"] > 0
    del f


@pytest.mark.parametrize("res", [5.0, 1.0, 0.5])
def test_population_conserved(cache_dir, res):
    """The embedded population adds up to GPW's total (1e-9 relative) at 5°, 1° and 0.5°; at 0.5° every
    1° cell keeps its count exactly (the places and land only move people within it)."""
    ds = geography(Grid(res))
    pop = ds["population"].values
    assert pop.sum() == pytest.approx(gpw_raster().total, rel=1e-9)
    assert (pop >= 0).all()
    one = geography(Grid(1.0))["population"].values
    if res == 0.5:
        np.testing.assert_allclose(pop.reshape(180, 2, 360, 2).sum(axis=(1, 3)), one, rtol=1e-9, atol=1e-6)
        assert ds.attrs["population_places"] > 100_000
    if res == 5.0:
        np.testing.assert_allclose(one.reshape(36, 5, 72, 5).sum(axis=(1, 3)), pop, rtol=1e-9, atol=1e-6)


def test_cities_stay_where_they_are(cache_dir):
    """Below 1° the people follow the GeoNames places: in the 20 most populous 1° cells, the 0.5° sub-cell
    of the cell's largest place is the most populous of the four in at least 18 (measured: 18), and the
    most populous sub-cell holds a median 63 % of the cell's people (a uniform spread would give ~25 %)."""
    from orbitshare.geo.embedded import places

    one = geography(Grid(1.0))["population"].values
    half = geography(Grid(0.5))["population"].values
    plat, plon, ppop, _ = places()
    gi, gj = np.floor(plat + 90).astype(int), np.floor(plon + 180).astype(int) % 360
    hits, shares = 0, []
    for t in np.argsort(one.ravel())[::-1][:20]:
        i, j = divmod(int(t), 360)
        sub = half[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        k = int(np.argmax(np.where((gi == i) & (gj == j), ppop, -1)))
        hits += half[int((plat[k] + 90) // 0.5), int((plon[k] + 180) // 0.5)] == sub.max()
        shares.append(sub.max() / sub.sum())
    assert hits >= 18 and np.median(shares) > 0.55


def test_every_un_member_has_land_and_people(embedded):
    """All 193 UN member states have land > 0 and people > 0 at 1° (no exceptions)."""
    ds, _ = embedded
    land, people = _national(ds)
    un = ds["un_member"].values
    lacking = [
        str(c) for c, u, a, p in zip(ds["country"].values, un, land, people, strict=True) if u and (a <= 0 or p <= 0)
    ]
    assert un.sum() == 193 and lacking == []


def test_national_population_vs_natural_earth(embedded):
    """National totals (a cell's people split by land area) against Natural Earth's POP_EST (mostly
    2019; GPW is 2020 and not UN-adjusted), at 1°: median |difference| 7.4 % over the 232 countries with
    an estimate; within 25 % for 83 %; the world total is GPW's 7.969e9 (POP_EST sums to 7.68e9)."""
    ds, _ = embedded
    _, people = _national(ds)
    est = ne_population_estimates()
    codes = list(ds["country"].values)
    d = np.array([abs(people[codes.index(c)] - e) / e for c, e in est.items() if e > 0 and c in codes])
    assert len(d) >= 230
    assert np.median(d) <= 0.08
    assert (d <= 0.25).mean() >= 0.8
    big = {c: people[codes.index(c)] / est[c] for c in ("CHN", "IND", "USA", "IDN", "PAK", "BRA", "NGA", "RUS")}
    assert all(0.9 <= r <= 1.12 for r in big.values()), big


def test_embedded_cache(embedded, cache_dir):
    ds, t_build = embedded
    files = list((cache_dir / "geography").glob("*_1deg_*.nc"))
    assert len(files) == 1 and files[0].suffix == ".nc" and not list(cache_dir.rglob("*.tmp"))
    t = time.perf_counter()
    again = geography(Grid(1.0))
    t_cached = time.perf_counter() - t
    assert t_cached < max(2.0, t_build / 3)
    assert again.equals(ds)
    assert again["country_fraction"].equals(ds["country_fraction"])


def test_large_geography_is_written_country_by_country(embedded, monkeypatch, tmp_path):
    """Above ``DENSE_LIMIT_BYTES`` (0.1°: ~6.5 GB) ``country_fraction`` is never dense in memory: it is
    written to the cache file one country at a time and read back lazily. Forced here at 1°: the same
    values as the in-memory build; an unwritable cache folder is a DataError naming it."""
    import sys

    geo_mod = sys.modules["orbitshare.geo.build"]
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(geo_mod, "DENSE_LIMIT_BYTES", 1000)
    lazy = geography(Grid(1.0), cache=False)
    assert not isinstance(lazy["country_fraction"].variable._data, np.ndarray)  # not loaded yet
    files = sorted((tmp_path / "cache" / "geography").iterdir())
    assert len(files) == 2 and files[0].suffix == ".nc" and files[1].name.endswith(".pairs.npz")
    dense, _ = embedded
    assert lazy.equals(dense)
    assert lazy["country_fraction"].identical(dense["country_fraction"])
    _check_dataset(lazy)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(DataError, match=r"are kept in a file, and .*file/geography/.* could not be written"):
        geography(Grid(5.0))


def test_country_cell_pairs(embedded, cache_dir):
    """The sparse (country, cell) pairs equal the dense array's nonzeros; a file-backed geography's
    pairs are read once per Dataset (from the pairs file written with it), an in-memory one's every
    time (it may be modified in place)."""
    ds, _ = embedded
    c, n, f, sumcf = country_cell_pairs(ds, block_values=10_000)  # several countries per block
    dense = ds["country_fraction"].values.reshape(ds.sizes["country"], -1)
    k, m = np.nonzero(dense > 0)
    np.testing.assert_array_equal(c, k)
    np.testing.assert_array_equal(n, m)
    np.testing.assert_array_equal(f, dense[k, m].astype(np.float64))
    np.testing.assert_allclose(sumcf, dense.sum(axis=0, dtype=np.float64), rtol=1e-12, atol=0)
    assert country_cell_pairs(ds) is not country_cell_pairs(ds)
    lazy = geography(Grid(1.0))  # the cache file, opened lazily
    assert not isinstance(lazy["country_fraction"].variable._data, np.ndarray)
    first = country_cell_pairs(lazy)
    assert country_cell_pairs(lazy) is first
    for a, b in zip(first, (c, n, f, sumcf), strict=True):  # from the pairs file written with the cache
        np.testing.assert_array_equal(a, b)
    # a pairs file that is not the one written with the cache file is ignored: the pairs are scanned
    import sys

    geo_mod = sys.modules["orbitshare.geo.build"]
    (pairs,) = (cache_dir / "geography").glob("*_1deg_*.pairs.npz")
    data = dict(np.load(pairs))
    np.savez(pairs, **dict(data, token=np.array("another"), fraction=data["fraction"] * 0))
    geo_mod._PAIRS_CACHE.clear()
    again = country_cell_pairs(geography(Grid(1.0)))
    for a, b in zip(again, (c, n, f, sumcf), strict=True):
        np.testing.assert_array_equal(a, b)
    np.savez(pairs, **data)


def test_naturalearth_geography(natural_earth):
    ds = natural_earth
    _check_dataset(ds)
    assert ds.attrs["boundaries_version"] == "5.1.1"
    area = (ds["country_fraction"] * ds["cell_area"]).sum(("lat", "lon"))
    assert float(area.sel(country="FRA")) > 5e5  # joined via ADM0_A3 although ISO_A3 is -99
    assert float(area.sel(country="NOR")) > 3e5
    assert float(area.sel(country="XKX")) > 0  # KOS -> XKX
    assert float(ds["population"].sum()) == pytest.approx(7.969e9, rel=1e-4)


def test_sources_agree(embedded, natural_earth):
    """The embedded boundaries are Natural Earth's 50m zip: the same fractions to the last bit; the
    population differs only where GPW's people sit on no land (the embedded source moves them)."""
    emb, _ = embedded
    ne = natural_earth
    np.testing.assert_array_equal(emb["country"].values, ne["country"].values)
    np.testing.assert_array_equal(emb["country_fraction"].values, ne["country_fraction"].values)
    pe, pn = emb["population"].values, ne["population"].values
    assert pe.sum() == pytest.approx(pn.sum(), rel=1e-12)
    assert np.abs(pe - pn).sum() / 2 == pytest.approx(emb.attrs["population_moved_to_land"], rel=1e-9)
    assert ne.attrs["population_without_land"] == pytest.approx(emb.attrs["population_moved_to_land"], rel=1e-9)


def test_naturalearth_110m_quick(shared_data):
    ds = geography(Grid(5.0), "naturalearth", data_dir=shared_data, scale="110m", cache=False)
    f = ds["country_fraction"].values
    assert f.sum(axis=0, dtype=np.float64).max() <= 1.0 + 1e-9
    assert float(ds["country_fraction"].sel(country="FRA").sum()) > 0


def test_naturalearth_without_raster_uses_embedded_population(shared_data, tmp_path):
    """Boundaries alone (no population raster next to them): the embedded population (GPW + places),
    placed on these boundaries' land."""
    shutil.copy(shared_data / "boundaries" / "ne_110m_admin_0_countries.geojson", tmp_path)
    ds = geography(Grid(5.0), "naturalearth", data_dir=tmp_path, scale="110m", cache=False)
    assert ds.attrs["population_source"].startswith("GPW v4.11")
    assert float(ds["population"].sum()) == pytest.approx(gpw_raster().total, rel=1e-12)
    assert float(ds["population"].where(ds["land_fraction"] == 0, 0).sum()) == 0.0


# ------------------------------------------------------------------ errors
def test_errors(monkeypatch, tmp_path):
    with pytest.raises(ConfigError):
        geography(Grid(5.0), source="nowhere")
    monkeypatch.delenv("ORBITSHARE_DATA_DIR", raising=False)
    with pytest.raises(DataError):
        geography(Grid(5.0), source="naturalearth")
    with pytest.raises(DataError):
        geography(Grid(5.0), source="naturalearth", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="scale: expected one of"):
        geography(Grid(5.0), source="naturalearth", data_dir=tmp_path, scale="20m")
    with pytest.raises(DataError, match="ne_10m_admin_0_countries"):
        geography(Grid(5.0), source="naturalearth", data_dir=tmp_path, scale="10m")
    with pytest.raises(ParameterError, match="resolution_deg"):
        geography(7.0)


def test_vendored_files_match_their_attribution():
    """ATTRIBUTION.md lists every vendored geography file with its size and sha256 (the cache key holds
    the first 16 hex digits)."""
    import hashlib
    import re

    from orbitshare.geo.embedded import FILES, data_path, data_versions

    text = (data_path(FILES[0]).parent / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for name in FILES:
        blob = data_path(name).read_bytes()
        m = re.search(rf"\| `{re.escape(name)}` \| ([0-9,]+) \| `([0-9a-f]{{64}})` \|", text)
        assert m is not None, name
        assert int(m.group(1).replace(",", "")) == len(blob)
        assert m.group(2) == hashlib.sha256(blob).hexdigest()
        assert data_versions()[name] == m.group(2)[:16]
