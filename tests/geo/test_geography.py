"""Geography layer: groups table, polygon rasterization, population regridding, both sources, cache."""

import os
import shutil
import time

import numpy as np
import pytest

from orbitshare.errors import ConfigError, DataError, ParameterError
from orbitshare.geo import country_cell_pairs, country_groups, geography
from orbitshare.geo.naturalearth import rasterize
from orbitshare.geo.parts import Polygons, samples_per_cell
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


# ------------------------------------------------------------------ rasterization (closed form)
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


def _dense(frac, grid, nlab):
    out = np.zeros((nlab, grid.nlat, grid.nlon))
    for (i, j, k), f in frac.items():
        out[k, i, j] = f
    return out


def test_two_squares_rasterized_exactly():
    grid = Grid(1.0)
    f = _dense(rasterize(_two_squares(), grid, 4, 2), grid, 2)
    i0 = 90  # row of lat [0, 1)
    j0 = 180  # column of lon [0, 1)
    a = f[0]
    assert a[i0 : i0 + 2, j0 : j0 + 2].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert a.sum() == 4.0
    b = f[1]
    # B minus its hole: exact quarter-cell areas (samples at 1/8, 3/8, 5/8, 7/8 of a cell)
    assert b[i0, j0 + 2] == pytest.approx(9 / 16 - 1 / 16)
    assert b[i0, j0 + 3] == pytest.approx(3 / 16)
    assert b[i0 + 1, j0 + 2] == pytest.approx(3 / 16)
    assert b[i0 + 1, j0 + 3] == pytest.approx(1 / 16)
    assert b.sum() == pytest.approx(1.0 - 1 / 16)


def test_tiny_polygon_gets_its_cell():
    grid = Grid(1.0)
    p = Polygons()
    p.add([np.array([[10.0, 0.0], [11.0, 0.0], [11.0, 1.0], [10.0, 1.0]])], 0)  # fills one cell
    p.add([np.array([[10.40, 0.41], [10.44, 0.41], [10.44, 0.44], [10.40, 0.44]])], 1)  # hits no sample
    p.add([np.array([[20.41, 5.41], [20.43, 5.41], [20.43, 5.43]])], 1)  # alone in its cell
    f = _dense(rasterize(p.finish(), grid, 10, 2), grid, 2)
    i, j = 90, 190
    assert f[1, i, j] > 0 and f[1, 95, 200] > 0
    assert f[:, i, j].sum() == pytest.approx(1.0)
    assert f[1, i, j] == pytest.approx(
        0.04 * 0.03 * np.cos(np.radians(0.425)) * 111.195**2 / grid.cell_area_km2[i], rel=0.02
    )


# ------------------------------------------------------------------ population rasters
def test_esri_ascii_reader(shared_data):
    r = read_esri_ascii(shared_data / GPW)
    assert r.data.shape == (180, 360)
    assert np.isfinite(r.data).sum() == 19103
    assert r.total == pytest.approx(7.969e9, rel=1e-3)
    i, j = np.unravel_index(np.nanargmax(r.data), r.data.shape)
    assert (0.5 * (r.lat_edges[i] + r.lat_edges[i + 1]), 0.5 * (r.lon_edges[j] + r.lon_edges[j + 1])) == (-6.5, 106.5)


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
    assert s.max() <= 1.0 + 1e-5
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


def test_embedded_geography(embedded):
    ds, _ = embedded
    f = _check_dataset(ds)
    assert ds.attrs["geography_source"] == "embedded" and "timezonefinder" in ds.attrs["data_versions"]
    # open ocean is zero: central Pacific and South Atlantic
    for lat, lon in ((0.5, -140.5), (-30.5, -20.5)):
        assert float(ds["land_fraction"].sel(lat=lat, lon=lon)) == 0.0
        assert float(ds["population"].sel(lat=lat, lon=lon)) == 0.0
    # micro-states and atoll states keep a nonzero fraction
    for c in ("MCO", "VAT", "NRU", "TUV", "SMR", "LIE", "MHL", "MDV"):
        assert float(ds["country_fraction"].sel(country=c).sum()) > 0, c
    # Antarctica is south of 60°S
    ata = ds["country_fraction"].sel(country="ATA")
    assert float(ata.where(ds.lat > -60, 0).sum()) == 0
    area = (ds["country_fraction"] * ds["cell_area"]).sum(("lat", "lon"))
    assert float(area.sel(country="RUS")) == pytest.approx(17.1e6, rel=0.05)
    assert float(ds["population"].sum()) == pytest.approx(7.6e9, rel=0.1)
    assert ds.attrs["unplaced_population"] < 1e6
    del f


def test_embedded_cache(embedded, cache_dir):
    ds, t_build = embedded
    files = list((cache_dir / "geography").iterdir())
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
    files = list((tmp_path / "cache" / "geography").iterdir())
    assert len(files) == 1 and files[0].suffix == ".nc"
    dense, _ = embedded
    assert lazy.equals(dense)
    assert lazy["country_fraction"].identical(dense["country_fraction"])
    _check_dataset(lazy)
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(DataError, match=r"are kept in a file, and .*file/geography/.* could not be written"):
        geography(Grid(5.0))


def test_country_cell_pairs(embedded):
    """The sparse (country, cell) pairs equal the dense array's nonzeros; a file-backed geography's
    pairs are read once per Dataset, an in-memory one's every time (it may be modified in place)."""
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
    np.testing.assert_array_equal(first[2], f)


def test_naturalearth_geography(natural_earth):
    ds = natural_earth
    _check_dataset(ds)
    assert ds.attrs["boundaries_version"] == "5.1.1"
    area = (ds["country_fraction"] * ds["cell_area"]).sum(("lat", "lon"))
    assert float(area.sel(country="FRA")) > 5e5  # joined via ADM0_A3 although ISO_A3 is -99
    assert float(area.sel(country="NOR")) > 3e5
    assert float(area.sel(country="XKX")) > 0  # KOS -> XKX
    assert float(ds["population"].sum()) == pytest.approx(7.969e9, rel=1e-4)


def _country_population(ds, f):
    tot = f.sum(axis=0)
    share = np.divide(f, tot, out=np.zeros_like(f), where=tot > 0)
    return (share * ds["population"].values[None]).sum(axis=(1, 2))


def test_sources_agree(embedded, natural_earth):
    emb, _ = embedded
    ne = natural_earth
    fn = ne["country_fraction"].values.astype(np.float64)
    fe = emb["country_fraction"].reindex(country=ne["country"], fill_value=0).values.astype(np.float64)
    land = fn.sum(axis=0) > 0
    agree = (fn.argmax(axis=0) == fe.argmax(axis=0)) & (fe.sum(axis=0) > 0)
    share = agree[land].mean()
    print(f"dominant country agrees on {share:.4f} of {land.sum()} Natural Earth land cells")
    assert share >= 0.95
    pn, pe = _country_population(ne, fn), _country_population(emb, fe)
    big = pn > 1e6
    d = np.abs(pe[big] - pn[big]) / pn[big]
    print(f"{big.sum()} countries > 1M: median |diff| {np.median(d):.3f}, within 25 %: {(d <= 0.25).mean():.3f}")
    assert np.median(d) <= 0.10
    assert (d <= 0.25).mean() >= 0.85


def test_naturalearth_110m_quick(shared_data):
    ds = geography(Grid(5.0), "naturalearth", data_dir=shared_data, scale="110m", cache=False)
    f = ds["country_fraction"].values
    assert f.sum(axis=0).max() <= 1.0 + 1e-5
    assert float(ds["country_fraction"].sel(country="FRA").sum()) > 0


def test_naturalearth_without_raster_uses_embedded_population(shared_data, tmp_path):
    """Boundaries alone (no population raster next to them): the population is the embedded one."""
    shutil.copy(shared_data / "boundaries" / "ne_110m_admin_0_countries.geojson", tmp_path)
    ds = geography(Grid(5.0), "naturalearth", data_dir=tmp_path, scale="110m", cache=False)
    assert ds.attrs["population_source"] == "orbitshare embedded population (GeoNames)"
    emb = geography(Grid(5.0), cache=False)
    np.testing.assert_array_equal(ds["population"].values, emb["population"].values)


# ------------------------------------------------------------------ errors
def test_errors(monkeypatch, tmp_path):
    with pytest.raises(ConfigError):
        geography(Grid(5.0), source="nowhere")
    monkeypatch.delenv("ORBITSHARE_DATA_DIR", raising=False)
    with pytest.raises(DataError):
        geography(Grid(5.0), source="naturalearth")
    with pytest.raises(DataError):
        geography(Grid(5.0), source="naturalearth", data_dir=tmp_path)
    with pytest.raises(ConfigError):
        geography(Grid(5.0), source="naturalearth", data_dir=tmp_path, scale="10m")
    with pytest.raises(ParameterError, match="resolution_deg"):
        geography(7.0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ParameterError, match="samples: expected an integer >= 1"):
            geography(Grid(5.0), samples=bad)
    assert samples_per_cell(1.0) == 10 and samples_per_cell(0.1) == 4 and samples_per_cell(5.0, np.int64(3)) == 3
