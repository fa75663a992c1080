"""orbitshare.io: netCDF4 groups round trip, provenance, atomic writes, overwrite refusal."""

import hashlib
import json
import os

import h5netcdf
import h5py
import numpy as np
import pytest
import xarray as xr

import orbitshare
from orbitshare import io as oio
from orbitshare.errors import ParameterError, ParameterTypeError, ResultsError
from orbitshare.io import file_sha256, open_results, open_tree, read_provenance, save_results


def _assert_same(a: xr.Dataset, b: xr.Dataset):
    """assert_identical plus exact dtypes of every variable (assert_identical ignores str vs object)."""
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        assert a[name].dtype == b[name].dtype, (name, a[name].dtype, b[name].dtype)
        assert a[name].dims == b[name].dims
    assert list(a.coords) == list(b.coords) or set(a.coords) == set(b.coords)
    assert set(a.data_vars) == set(b.data_vars)


def coverage_like():
    """A small Dataset with the shapes and kinds coverage produces (string coords, datetime64 time,
    int16 counts, NaN, CF attributes, bounds)."""
    rng = np.random.default_rng(0)
    lat = np.array([-45.0, 0.0, 45.0])
    lon = np.array([-120.0, 0.0, 120.0, 150.0])
    time = np.datetime64("2026-08-18T00:00", "ns") + np.arange(6) * np.timedelta64(60, "s")
    frac = rng.uniform(size=(2, 3))
    frac[1, 2] = np.nan
    return xr.Dataset(
        {
            "covered_fraction": (
                ("system", "lat", "lon"),
                rng.uniform(size=(2, 3, 4)),
                {"units": "1", "long_name": "fraction covered", "cell_methods": "time: mean"},
            ),
            "max_gap_s": (
                ("system", "lat", "lon"),
                rng.uniform(0, 600, size=(2, 3, 4)),
                {"units": "s", "long_name": "longest gap", "cell_methods": "time: maximum"},
            ),
            "counts": (
                ("system", "time", "lat", "lon"),
                rng.integers(0, 40, (2, 6, 3, 4)).astype(np.int16),
                {"units": "1", "long_name": "satellites visible"},
            ),
            "population_covered_fraction": (("system", "country"), frac, {"units": "1"}),
        },
        coords={
            "system": np.array(["starlink", "kuiper"]),
            "min_visible": ("system", np.array([1, 2], np.int32)),
            "element_epoch_min": ("system", np.array(["2026-08-01T12:00", "2026-07-30T00:00"], "datetime64[ns]")),
            "time": ("time", time, {"standard_name": "time"}),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude", "bounds": "lat_bnds"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
            "lat_bnds": (("lat", "bnds"), np.stack([lat - 22.5, lat + 22.5], 1)),
            "country": np.array(["FRA", "TUV", "NZL"]),
            "country_name": ("country", np.array(["France", "Tuvalu", "New Zealand"], dtype=object)),
            "ldc": ("country", np.array([False, True, False])),
        },
        attrs={
            "Conventions": "CF-1.10",
            "source": "orbitshare 0.1.0",
            "time_step_s": 60.0,
            "time_steps": 6,
            "systems": json.dumps([{"name": "starlink"}]),
        },
    )


def spectrum_like():
    return xr.Dataset(
        {"mhz": (("band", "country"), np.arange(6.0).reshape(2, 3), {"units": "MHz"})},
        coords={"band": np.array(["Ku", "Ka"]), "country": np.array(["FRA", "TUV", "NZL"])},
        attrs={"Conventions": "CF-1.10"},
    )


def test_groups_round_trip_identical(tmp_path):
    cov, spec = coverage_like(), spectrum_like()
    path = tmp_path / "results.nc"
    save_results({"coverage": cov, "spectrum": spec}, path)
    back = open_results(path)
    assert list(back) == ["coverage", "spectrum"]
    _assert_same(back["coverage"], cov)
    _assert_same(back["spectrum"], spec)
    _assert_same(open_results(path, group="coverage"), cov)
    # really loaded: the file is closed and can be removed while the data stay usable
    os.remove(path)
    assert float(back["coverage"].covered_fraction.sum()) > 0


def test_single_dataset_round_trip(tmp_path):
    cov = coverage_like()
    path = tmp_path / "one.nc"
    written = save_results(cov, path, provenance={"config": {"grid": {"resolution_deg": 1.0}}})
    back = open_results(path)
    assert isinstance(back, xr.Dataset)
    _assert_same(back, written)
    _assert_same(back.drop_attrs(deep=False).assign_attrs(cov.attrs), cov)
    assert back.attrs["orbitshare_version"] == orbitshare.__version__
    assert json.loads(back.attrs["configuration"]) == {"grid": {"resolution_deg": 1.0}}
    _assert_same(open_results(path, group="/"), written)


def test_real_coverage_result_round_trip(tmp_path):
    from orbitshare.engine.coverage import coverage
    from orbitshare.grid import Grid
    from orbitshare.system import System
    from orbitshare.timegrid import time_grid

    w = orbitshare.walker(550.0, 53.0, 3, 4, 1, "2026-08-18T00:00:00Z")
    ds = coverage(
        [System("walker-a", w), System("walker-b", w, 10.0, 2)],
        Grid(5.0),
        time_grid("2026-08-18T00:00:00Z", "2026-08-18T00:10:00Z", 60),
        keep_time_series=True,
    )
    save_results({"coverage": ds}, tmp_path / "r.nc")
    _assert_same(open_results(tmp_path / "r.nc", "coverage"), ds)


def test_variables_chunked_and_compressed(tmp_path):
    path = tmp_path / "c.nc"
    save_results({"coverage": coverage_like()}, path)
    with h5py.File(path, "r") as h:
        g = h["coverage"]
        for name in ("covered_fraction", "counts", "population_covered_fraction"):
            assert g[name].chunks is not None, name
            assert g[name].compression == "gzip" and g[name].compression_opts == 4, name


def test_provenance(tmp_path):
    inp = tmp_path / "starlink.csv"
    inp.write_bytes(b"OBJECT_NAME,NORAD_CAT_ID\nX,1\n" * 1000)
    epochs = np.array(["2026-08-17T00:00", "2026-08-16T00:00", "2026-08-10T00:00"], "datetime64[ns]")
    path = tmp_path / "p.nc"
    cov = coverage_like()
    cov.attrs["time_coverage_start"] = "2026-08-18T00:00:00Z"
    save_results(
        {"coverage": cov},
        path,
        provenance={"inputs": {"starlink": inp}, "config": {"a": [1, 2]}, "elements": epochs, "run_id": "abc", "n": 3},
    )
    prov = read_provenance(path)
    files = json.loads(prov["input_files"])
    assert files == [
        {
            "label": "starlink",
            "path": str(inp.resolve()),
            "sha256": hashlib.sha256(inp.read_bytes()).hexdigest(),
            "bytes": inp.stat().st_size,
        }
    ]
    assert prov["orbitshare_version"] == orbitshare.__version__
    assert prov["date_created"].endswith("Z")
    assert json.loads(prov["configuration"]) == {"a": [1, 2]}
    assert prov["element_epoch_min"] == "2026-08-10T00:00:00Z"
    assert prov["element_epoch_median"] == "2026-08-16T00:00:00Z"
    assert prov["element_epoch_max"] == "2026-08-17T00:00:00Z"
    assert prov["element_age_at_start_days_max"] == 8.0
    assert prov["element_age_at_start_days_median"] == 2.0
    assert prov["element_age_at_start_days_min"] == 1.0
    assert prov["run_id"] == "abc" and prov["n"] == 3
    # groups are unchanged by the provenance
    _assert_same(open_results(path, "coverage"), cov)


def test_provenance_per_system_elements(tmp_path):
    a = orbitshare.walker(550.0, 53.0, 2, 2, 1, "2026-08-17T00:00:00Z")
    b = orbitshare.walker(550.0, 53.0, 2, 2, 1, "2026-08-15T00:00:00Z")
    save_results(
        {"x": spectrum_like()},
        tmp_path / "e.nc",
        provenance={"elements": {"a": a, "b": b}, "start": "2026-08-18T00:00:00Z"},
    )
    prov = read_provenance(tmp_path / "e.nc")
    per = json.loads(prov["element_epochs"])
    assert per["a"]["age_at_start_days_min"] == 1.0 and per["b"]["age_at_start_days_max"] == 3.0
    assert prov["element_count"] == 8


def test_file_sha256(tmp_path):
    p = tmp_path / "f.bin"
    data = os.urandom(3 * 2**20 + 17)
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()
    assert file_sha256(p, chunk_bytes=1000) == hashlib.sha256(data).hexdigest()


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "r.nc"
    save_results({"coverage": coverage_like()}, path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="r.nc"):
        save_results({"coverage": spectrum_like()}, path)
    assert path.read_bytes() == before
    save_results({"spectrum": spectrum_like()}, path, overwrite=True)
    assert list(open_results(path)) == ["spectrum"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def _fail_on_second_group(monkeypatch):
    real = oio._write_group
    calls = []

    def write(ds, path, group, mode):
        calls.append(group)
        if len(calls) == 2:
            assert path.exists()  # the first group is already in the temporary file
            raise OSError("disk full (simulated)")
        return real(ds, path, group, mode)

    monkeypatch.setattr(oio, "_write_group", write)


def test_atomic_new_file(tmp_path, monkeypatch):
    _fail_on_second_group(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        save_results({"coverage": coverage_like(), "spectrum": spectrum_like()}, tmp_path / "new.nc")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file


def test_atomic_overwrite_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "r.nc"
    save_results({"spectrum": spectrum_like()}, path)
    before = path.read_bytes()
    _fail_on_second_group(monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        save_results({"coverage": coverage_like(), "spectrum": spectrum_like()}, path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_atomic_single_dataset_interrupted(tmp_path, monkeypatch):
    def boom(self, *a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        save_results(coverage_like(), tmp_path / "k.nc")
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs(tmp_path):
    with pytest.raises(TypeError, match="Dataset"):
        save_results({"a": 1}, tmp_path / "x.nc")
    with pytest.raises(ValueError, match="group names"):
        save_results({"a/b": spectrum_like()}, tmp_path / "x.nc")
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        open_results(tmp_path / "missing.nc")
    save_results({"a": spectrum_like()}, tmp_path / "x.nc")
    with pytest.raises(KeyError, match="no group 'b'"):
        open_results(tmp_path / "x.nc", "b")
    with pytest.raises(FileNotFoundError, match="nope"):
        save_results({"a": spectrum_like()}, tmp_path / "y.nc", provenance={"inputs": [tmp_path / "nope"]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


def test_bad_inputs_are_orbitshare_errors(tmp_path):
    with pytest.raises(ParameterTypeError, match="expected an xarray.Dataset"):
        save_results([spectrum_like()], tmp_path / "x.nc")
    with pytest.raises(ParameterError, match="group names"):
        save_results({"": spectrum_like()}, tmp_path / "x.nc")
    with pytest.raises(ParameterTypeError, match="cannot store object in JSON provenance"):
        save_results(spectrum_like(), tmp_path / "x.nc", provenance={"extra": object()})
    with pytest.raises(ResultsError, match="does not exist"):
        save_results(spectrum_like(), tmp_path / "no" / "x.nc")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- CF details, lazy reading, DataTree


def test_cf_root_attributes_and_no_fill_values_on_coordinates_or_bounds(tmp_path):
    path = tmp_path / "results.nc"
    save_results({"coverage": coverage_like()}, path, provenance={"title": "a test run"})
    with h5netcdf.File(path, "r") as f:
        root = dict(f.attrs)
        assert root["Conventions"] == "CF-1.10"
        assert root["title"] == "a test run"  # the provenance's title wins over the default
        assert root["source"].startswith("orbitshare ")
        assert root["history"].startswith(root["date_created"]) and "orbitshare" in root["history"]
        g = f.groups["coverage"]
        for name in ("lat", "lon", "lat_bnds"):
            assert "_FillValue" not in g.variables[name].attrs, name
        # data variables keep xarray's fill value; no attribute name starts with an underscore but netCDF's own
        for name, var in g.variables.items():
            assert not [k for k in var.attrs if k.startswith("_") and k not in ("_FillValue", "_Netcdf4Dimid")], name
    assert open_results(path)["coverage"].lat.attrs["bounds"] == "lat_bnds"


def test_files_with_the_old_underscore_attributes_still_read(tmp_path):
    ds = coverage_like()
    path = tmp_path / "old.nc"
    old = ds.copy(deep=False)
    old["country_name"] = old.country_name.astype(str).copy()
    old.country_name.attrs["_orbitshare_dtype"] = "|O"
    old.to_netcdf(path, engine="h5netcdf")
    back = open_results(path)
    assert back.country_name.dtype == object
    assert "_orbitshare_dtype" not in back.country_name.attrs and "orbitshare_dtype" not in back.country_name.attrs


def test_lazy_and_tree(tmp_path):
    cov, spec = coverage_like(), spectrum_like()
    path = tmp_path / "results.nc"
    save_results({"coverage": cov, "spectrum": spec}, path)
    lazy = open_results(path, lazy=True)
    try:
        assert not lazy["coverage"].covered_fraction.variable._in_memory
        _assert_same(lazy["coverage"].load(), cov)
    finally:
        for d in lazy.values():
            d.close()
    tree = open_tree(path)
    assert set(tree.children) == {"coverage", "spectrum"}
    _assert_same(tree["coverage"].to_dataset(), cov)
    assert tree.attrs["Conventions"] == "CF-1.10"


def _with_period(ds: xr.Dataset, start: str = "2026-08-18T00:00:00Z", end: str = "2026-08-18T00:06:00Z") -> xr.Dataset:
    return ds.assign_attrs(time_coverage_start=start, time_coverage_end=end)


def test_time_means_get_a_bounded_scalar_time_coordinate_in_the_file(tmp_path):
    """CF 7.1/7.3: the time means name a scalar coordinate ``period`` with bounds [start, end] in the file;
    open_results gives back exactly what was written."""
    cov = _with_period(coverage_like())  # 6 steps of 60 s from 00:00: the period [00:00, 00:06)
    countries = xr.Dataset(
        {"served": ("country", [1.0, 2.0, 3.0], {"units": "Mbit/s", "cell_methods": "time: mean area: sum"})},
        coords={"country": ["FRA", "TUV", "NZL"]},
    )  # no time_coverage_* of its own: the period of the coverage group
    path = tmp_path / "results.nc"
    save_results({"coverage": cov, "countries": countries}, path)
    duration = (np.datetime64("2026-08-18T00:06:00") - np.datetime64("2026-08-18T00:00:00")) / np.timedelta64(1, "s")
    assert duration == 360.0
    with h5netcdf.File(path, "r") as f:
        for name in ("coverage", "countries"):
            g = f.groups[name]
            p, b = g.variables["period"], g.variables["period_bnds"]
            assert p.shape == () and b.shape == (2,), name
            assert p.attrs["standard_name"] == "time" and p.attrs["bounds"] == "period_bnds"
            assert p.attrs["units"] == "seconds since 2026-08-18 00:00:00"
            assert p.attrs["calendar"] == "proleptic_gregorian"
            assert float(p[()]) == duration / 2 and list(b[:]) == [0.0, duration]
            assert "_FillValue" not in p.attrs and "_FillValue" not in b.attrs
        g = f.groups["coverage"]
        assert g.variables["covered_fraction"].attrs["cell_methods"] == "period: mean"
        assert g.variables["max_gap_s"].attrs["cell_methods"] == "period: maximum"
        assert "period" in g.variables["covered_fraction"].attrs["coordinates"].split()
        assert "cell_methods" not in g.variables["counts"].attrs  # over time: not a time mean
        c = f.groups["countries"].variables["served"]
        assert c.attrs["cell_methods"] == "period: mean area: sum"
    plain = xr.open_dataset(path, group="countries", engine="h5netcdf")  # any CF reader: a bounded time
    try:
        assert plain["period"].values == np.datetime64("2026-08-18T00:03:00", "ns")
        np.testing.assert_array_equal(
            plain["period_bnds"].values, np.array(["2026-08-18T00:00", "2026-08-18T00:06"], "datetime64[ns]")
        )
    finally:
        plain.close()
    back = open_results(path)
    _assert_same(back["coverage"], cov)
    _assert_same(back["countries"], countries)
    assert back["coverage"].covered_fraction.attrs["cell_methods"] == "time: mean"
    lazy = open_results(path, lazy=True)
    try:
        _assert_same(lazy["countries"].load(), countries)
    finally:
        for d in lazy.values():
            d.close()
    _assert_same(open_tree(path)["coverage"].to_dataset(), cov)
    single = tmp_path / "single.nc"  # one Dataset in the root group: likewise
    save_results(cov, single)
    with h5netcdf.File(single, "r") as f:
        assert list(f.variables["period_bnds"][:]) == [0.0, duration]
    xr.testing.assert_identical(open_results(single).drop_attrs(), cov.drop_attrs())


def test_no_period_without_time_means_a_known_period_or_when_period_is_taken(tmp_path):
    cov = coverage_like()  # no time_coverage_start/end: the period is unknown
    path = tmp_path / "a.nc"
    save_results({"coverage": cov}, path)
    with h5netcdf.File(path, "r") as f:
        assert "period" not in f.groups["coverage"].variables
        assert f.groups["coverage"].variables["covered_fraction"].attrs["cell_methods"] == "time: mean"
    taken = _with_period(cov)
    taken["covered_fraction"].attrs["cell_methods"] = "period: mean"  # a name of the caller's: written as it is
    save_results({"coverage": taken}, tmp_path / "b.nc")
    with h5netcdf.File(tmp_path / "b.nc", "r") as f:
        assert "period" not in f.groups["coverage"].variables
    _assert_same(open_results(tmp_path / "b.nc")["coverage"], taken)
    equity = xr.Dataset({"gini": ("system", [0.1, 0.2], {"units": "1"})}, coords={"system": ["a", "b"]})
    save_results({"equity": _with_period(equity)}, tmp_path / "c.nc")  # no time means: nothing added
    with h5netcdf.File(tmp_path / "c.nc", "r") as f:
        assert "period" not in f.groups["equity"].variables
