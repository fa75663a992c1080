"""Experiment files: schema, strict validation (all problems at once, exact messages), defaults,
relative paths, the embedded default, and the builders."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orbitshare.errors import ConfigError
from orbitshare.experiment import (
    Experiment,
    build_elements,
    build_geography,
    build_grid,
    build_systems,
    build_times,
    default_experiment_path,
    load_experiment,
    validate_experiment,
)
from orbitshare.experiment.validate import available_threads

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "experiments"
SHIPPED = sorted((REPO / "experiments").glob("*.toml"))
UTC = dt.UTC


def problems(path, **kw) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_experiment(path, **kw)
    lines = str(info.value).split("\n")
    assert getattr(info.value, "problems", lines) == lines
    return lines


def write(tmp_path, text, name="x.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


MINIMAL = """
[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T01:00:00Z

[[systems]]
filing = "o3b"
"""


# ============================================================================ shipped experiments
def test_shipped_experiments_exist():
    names = {p.name for p in SHIPPED}
    assert {"default.toml", "starlink_today.toml", "megaconstellations_2030.toml", "gso_arc.toml"} <= names


def _reads_shared(path):
    """The experiment reads ../shared/data (outside its comments)."""
    return any("shared/data/" in line.split("#")[0] for line in path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_experiment_validates(path, monkeypatch, tmp_path, request):
    import urllib.request

    if _reads_shared(path):  # reads the reference data: skips without them
        request.getfixturevalue("shared_data")

    def no_network(*a, **k):
        raise AssertionError("validation must not download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    exp = validate_experiment(path)
    assert isinstance(exp, Experiment)
    assert exp.source == path
    assert exp.name == path.stem
    assert exp.compute.backend == "cpu"
    # every shipped experiment says at its top what question it answers
    head = path.read_text(encoding="utf-8").split("\n[", 1)[0]
    assert "Question" in head
    # and survives a round trip through its resolved TOML
    assert load_experiment(write(tmp_path, exp.to_toml(), path.name)) == exp


def test_default_copies_are_identical():
    assert (REPO / "experiments" / "default.toml").read_bytes() == default_experiment_path().read_bytes()


def test_default_is_the_package_copy_and_needs_no_files():
    exp = load_experiment()
    assert exp.source == default_experiment_path()
    assert exp.name == "default"
    assert [s.kind for s in exp.systems] == ["filing"] * 3
    assert [s.filing for s in exp.systems] == ["starlink_gen1", "oneweb_phase1", "kuiper"]
    assert exp.geography.source == "embedded"
    assert exp.grid.resolution_deg == 2.0
    assert exp.time.stop - exp.time.start == dt.timedelta(hours=6) and exp.time.step_s == 60
    assert all(s.has_capacity and s.bands for s in exp.systems)
    assert "Path(" not in repr(exp.to_dict())  # no paths at all
    assert exp == load_experiment(REPO / "experiments" / "default.toml")


def test_default_loads_without_the_repo(tmp_path):
    """A copy of the package alone (no experiments/, no tle/) finds and validates its default."""
    pkg = tmp_path / "site" / "orbitshare"
    shutil.copytree(REPO / "src" / "orbitshare", pkg, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    code = (
        "import orbitshare, orbitshare.experiment as x; e = x.load_experiment(); "
        "print(orbitshare.__file__); print(e.source); print(e.name, len(e.systems))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0].startswith(str(pkg))
    assert lines[1] == str(pkg / "data" / "default_experiment.toml")
    assert lines[2] == "default 3"


# ============================================================================ broken files
def test_broken_syntax_names_line_and_column(monkeypatch):
    monkeypatch.chdir(DATA)
    (line,) = problems("broken_syntax.toml")
    assert line.startswith("broken_syntax.toml: line 4, column 10: invalid TOML: ")
    assert len(line) > len("broken_syntax.toml: line 4, column 10: invalid TOML: ")


def test_broken_unknown_keys(monkeypatch):
    monkeypatch.chdir(DATA)
    assert problems("broken_unknown_keys.toml") == [
        "broken_unknown_keys.toml: output: unknown key (did you mean 'outputs'?)",
        "broken_unknown_keys.toml: experiment.descripton: unknown key (did you mean 'description'?)",
        "broken_unknown_keys.toml: time.stpe_s: unknown key (did you mean 'step_s'?)",
        "broken_unknown_keys.toml: grid.resolution: unknown key (did you mean 'resolution_deg'?)",
        "broken_unknown_keys.toml: systems[0].elevation_mask: unknown key (did you mean 'elevation_mask_deg'?)",
        "broken_unknown_keys.toml: systems[0].colour: unknown key (expected one of 'name', 'elements', 'walker', "
        "'filing', 'fetch', 'epoch', 'operator', 'administration', 'bands', 'capacity_per_sat_mbps', "
        "'spectral_efficiency_bps_per_hz', 'beams', 'beam_capacity_mbps', 'max_beams_per_cell', 'service_cell_km2', "
        "'gateways', "
        "'gateway_mask_deg', 'isl', 'elevation_mask_deg', 'min_visible', 'serve_countries', "
        "'exclude_countries', 'landing_rights', 'family', 'pfd_dbw_m2_40khz', 'pfd_source')",
    ]


def test_broken_values_all_reported_at_once(monkeypatch):
    monkeypatch.chdir(DATA)
    n = available_threads()
    f = "broken_values.toml"
    assert problems(f) == [
        f"{f}: time.step_s: expected a number of seconds > 0, got 0",
        f"{f}: time.stop: expected a date-time after time.start (2026-01-02T00:00:00Z), got 2026-01-01T00:00:00Z",
        f"{f}: grid.resolution_deg: expected a number of degrees in [0.1, 5] that divides 180 "
        "(e.g. 0.1, 0.25, 0.5, 1, 2, 5), got -1",
        f"{f}: geography.source: expected 'embedded' or 'naturalearth', got 'natural-earth'",
        f"{f}: systems[0].filing: expected a system id of the filings table (did you mean 'starlink_gen1'? one of "
        "starlink_gen1, starlink_gen2_granted, oneweb_phase1, kuiper, telesat_lightspeed, guowang, qianfan_phase1, "
        "iridium_next, globalstar, o3b), got 'starlink'",
        f"{f}: systems[0].administration: expected an ISO 3166-1 alpha-3 code of the country table (or ''), got 'XYZ'",
        f"{f}: systems[0].elevation_mask_deg: expected a number of degrees in (-90, 90), got 95",
        f"{f}: systems[0].min_visible: expected an integer in [1, 32767], got 0",
        f"{f}: systems[0].serve_countries[1]: expected an ISO 3166-1 alpha-3 code of the country table, got 'ZZZ'",
        f"{f}: systems[0].serve_countries[2]: expected an ISO 3166-1 alpha-3 code of the country table, got 7",
        f"{f}: systems[1].walker[0].phasing: expected an integer in [0, planes) = [0, 9], got 10",
        f"{f}: systems[1].walker[1].altitude_km: expected a number of km in (0, 50000), got -5",
        f"{f}: systems[1].walker[1].inclination_deg: expected a number of degrees in [0, 180], got 200",
        f"{f}: systems[1].walker[1].planes: expected an integer >= 1, got 0",
        f"{f}: systems[1].walker[1].sats_per_plane: expected an integer >= 1, got 2.5",
        f"{f}: systems[1].walker[1].pattern: expected 'delta' or 'star', got 'ring'",
        f"{f}: systems[2].bands[1].name: expected a band name unique within the system, got 'Ku' (also bands[0])",
        f"{f}: systems[2].bands[2]: expected a band not overlapping bands[0] ('Ku', 10700-12700 MHz), "
        "got 'Ku-2', 12000-13500 MHz",
        f"{f}: systems[2].bands[2]: expected a band not overlapping bands[1] ('Ku', 13000-14000 MHz), "
        "got 'Ku-2', 12000-13500 MHz",
        f"{f}: systems[2].bands[3].low_mhz: expected a number < high_mhz (17700), got 20200",
        f"{f}: systems[3]: expected exactly one of 'elements', 'walker', 'filing', 'fetch', got none of them",
        f"{f}: systems[4]: expected exactly one of 'elements', 'walker', 'filing', 'fetch', got 'filing' and 'fetch'",
        f"{f}: systems[2].name: expected a name unique among the systems, got 'shells' (also the name of systems[1])",
        f"{f}: compute.threads: expected an integer in [0, {n}] (0 = all {n} cores of this machine), got -1",
        # backend = "cuda" is valid here (validation does not look for a GPU)
        f"{f}: compute.chunk_steps: expected an integer >= 1 (time steps per chunk; leave out for automatic), got 0",
    ]


def test_broken_timezone(monkeypatch):
    monkeypatch.chdir(DATA)
    f = "broken_timezone.toml"
    e = "expected a date-time with a timezone (e.g. 2026-01-01T00:00:00Z)"
    assert problems(f) == [
        f"{f}: time.start: {e}, got the local date-time 2026-01-01T00:00:00 (no timezone)",
        f"{f}: time.stop: {e}, got '2026-01-02T00:00:00' (no timezone)",
        f"{f}: systems[0].epoch: {e}, got the date 2026-01-01",
    ]


def test_broken_paths(monkeypatch):
    monkeypatch.chdir(DATA)
    f = "broken_paths.toml"
    el = "expected a readable TLE or OMM (CSV, JSON, XML) element file"
    assert problems(f) == [
        f"{f}: geography.data_dir: expected an existing folder, got 'no_such_folder' "
        f"({DATA / 'no_such_folder'}: no such folder)",
        f"{f}: geography.population: expected an existing population raster file (.asc or netCDF), got "
        f"'no_such_raster.asc' ({DATA / 'no_such_raster.asc'}: no such file)",
        f"{f}: systems[0].elements: {el}, got 'no_such_catalog.tle' ({DATA / 'no_such_catalog.tle'}: no such file)",
        f"{f}: systems[1].elements: {el}, got 'broken_paths.toml' ({DATA / 'broken_paths.toml'}: neither TLE lines "
        "nor an OMM CSV/JSON/XML header; it starts '# files that do not exist, or are not wh')",
        f"{f}: systems[2].elements: {el}, got '.' ({DATA}: a directory)",
        f"{f}: outputs.owners_data_dir: expected an existing folder (holding satcat/ catalogs), got "
        f"'no_such_satcat' ({DATA / 'no_such_satcat'}: no such folder)",
    ]


def test_broken_capacity_and_outputs(monkeypatch):
    monkeypatch.chdir(DATA)
    f = "broken_capacity.toml"
    assert problems(f) == [
        f"{f}: systems[1].capacity_per_sat_mbps: expected either capacity_per_sat_mbps or "
        "spectral_efficiency_bps_per_hz with beams, got both",
        f"{f}: systems[2].beams: expected an integer >= 1 with spectral_efficiency_bps_per_hz (capacity = "
        "efficiency x bandwidth x beams), got nothing (the key is missing)",
        f"{f}: systems[3].bands: expected at least one band with spectral_efficiency_bps_per_hz (for the "
        "bandwidth), got none",
        f"{f}: outputs.datasets[4]: expected each name once in datasets, got 'capacity' again",
        f"{f}: outputs.datasets: expected 'countries' with 'groups' (they are made from the country accounts), "
        "got ['capacity', 'groups', 'lorenz', 'coverage', 'capacity']",
        f"{f}: systems[0]: expected a capacity (capacity_per_sat_mbps, spectral_efficiency_bps_per_hz with "
        "beams, or beam_capacity_mbps with beams) because outputs.datasets includes 'capacity', got neither",
        f"{f}: outputs.files[1]: expected one of 'netcdf', 'csv', got 'png'",
        f"{f}: outputs.maps[2]: expected one of 'mean_visible', 'covered_fraction', 'max_gap_s', 'band_mhz_in_view', "
        "'band_mhz_x_sats_in_view', 'effective_mhz', 'inline_fraction', 'mhz_available_total', 'reuse_mhz_per_km2', "
        "'capacity_mbps', 'capacity_per_person_mbps', 'served_mbps', "
        "'served_per_subscriber_mbps', 'demand_met_fraction' (did you mean 'max_gap_s'?), "
        "got 'max_gap'",
        f"{f}: outputs.weighting: expected 'population' or 'area', got 'people'",
    ]


def test_broken_structure(monkeypatch):
    monkeypatch.chdir(DATA)
    f = "broken_structure.toml"
    assert problems(f) == [
        f"{f}: time: expected a table [time] with start and stop, got nothing (the key is missing)",
        f"{f}: grid: expected a table ([grid]), got 1.0",
        f"{f}: systems: expected an array of tables ([[systems]], one per system), got a single table ([systems])",
        f"{f}: compute.backend: expected 'cpu', 'dask' or 'cuda', got 'gpu'",
    ]


def test_broken_ranges(monkeypatch):
    """Issue 10: values beyond what a run can hold are refused at validation, every one at once (before:
    1600 wrapped around to 2184, year 1 raised OverflowError, a 401-digit integer OverflowError, the walker
    shell allocated 7.45 GiB, the NUL and CR names passed and failed after the pass)."""
    monkeypatch.chdir(DATA)
    f = "broken_ranges.toml"
    when = "expected a date-time in years 1678-2261 (UTC; what numpy datetime64[ns] holds)"
    printable = "expected printable characters (no control characters such as NUL, tab, CR or line breaks)"
    big = "1000000000000000000000000000000000000000... (401 digits)"
    workers = max(available_threads(), 2)
    assert problems(f) == [
        f"{f}: experiment.description: expected one line of printable characters (no control characters such "
        "as NUL, tab, CR or line breaks), got 'two\\nlines'",
        f"{f}: time.start: {when}, got 0001-01-01T00:00:00+01:00",
        f"{f}: time.stop: {when}, got 9999-01-01T00:00:00Z",
        f"{f}: grid.resolution_deg: expected a number of degrees in [0.1, 5] that divides 180 "
        f"(e.g. 0.1, 0.25, 0.5, 1, 2, 5), got {big}",
        f"{f}: systems[0].walker[0]: expected at most 10,000,000 satellites (planes x sats_per_plane), "
        "got 1,000,000,000 x 1",
        f"{f}: systems[0].name: {printable}, got 'Star\\x00link'",
        f"{f}: systems[0].epoch: {when}, got 2300-01-01T00:00:00Z",
        f"{f}: systems[1].name: {printable}, got 'Line\\r# injected heading'",
        f"{f}: systems[1].epoch: {when}, got 1600-06-01T00:00:00Z",
        f"{f}: systems[1].elevation_mask_deg: expected a number of degrees in (-90, 90), got {big}",
        f"{f}: compute.workers: expected an integer in [1, {workers}] (worker processes of a local Dask cluster; "
        "at most one per core), got 1000000",
        f"{f}: compute.memory_limit_gb: expected a number of GB > 0, got 0",
    ]


def test_every_broken_file_is_tested():
    tested = {
        "broken_syntax",
        "broken_unknown_keys",
        "broken_values",
        "broken_timezone",
        "broken_paths",
        "broken_capacity",
        "broken_structure",
        "broken_ranges",
    }
    assert {p.stem for p in DATA.glob("broken_*.toml")} == tested


# ============================================================================ single rules
def test_unknown_key_suggestion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MINIMAL.replace("[time]", "[time]\nstep_sec = 30") + "\n[compute]\nthread = 2\n")
    assert problems("x.toml") == [
        "x.toml: time.step_sec: unknown key (did you mean 'step_s'?)",
        "x.toml: compute.thread: unknown key (did you mean 'threads'?)",
    ]


def test_dask_backend_keys(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MINIMAL + '\n[compute]\nbackend = "dask"\n')
    exp = load_experiment("x.toml")
    assert (exp.compute.backend, exp.compute.workers, exp.compute.scheduler) == ("dask", 2, None)
    write(tmp_path, MINIMAL + '\n[compute]\nbackend = "dask"\nscheduler = "tcp://127.0.0.1:8786"\n')
    assert load_experiment("x.toml").compute.scheduler == "tcp://127.0.0.1:8786"
    write(tmp_path, MINIMAL + '\n[compute]\nbackend = "dask"\nscheduler = "localhost"\nworkrs = 2\n')
    lines = problems("x.toml")
    assert lines[0].startswith("x.toml: compute.workrs: ") and "did you mean 'workers'" in lines[0]
    assert lines[1] == (
        "x.toml: compute.scheduler: expected a Dask scheduler address like 'tcp://host:8786', got 'localhost'"
    )
    write(tmp_path, MINIMAL + "\n[compute]\nworkers = 2\n")
    assert problems("x.toml") == ["x.toml: compute.workers: expected no value unless backend = 'dask', got 2"]


def test_threads_beyond_this_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    n = available_threads()
    write(tmp_path, MINIMAL + f"\n[compute]\nthreads = {n + 1}\n")
    assert problems("x.toml") == [
        f"x.toml: compute.threads: expected an integer in [0, {n}] (0 = all {n} cores of this machine), got {n + 1}"
    ]


@pytest.mark.parametrize(
    "res, ok",
    [
        (1, True),
        (0.25, True),
        (0.5, True),
        (5, True),
        (2.5, True),
        (0.7, False),
        (0.1, True),
        (0.05, False),
        (10, False),
        (0, False),
        ("1", False),
        (True, False),
    ],
)
def test_grid_resolution(tmp_path, res, ok):
    value = "true" if isinstance(res, bool) else f'"{res}"' if isinstance(res, str) else repr(res)
    p = write(tmp_path, MINIMAL + f"\n[grid]\nresolution_deg = {value}\n")
    if ok:
        assert load_experiment(p).grid.resolution_deg == float(res)
    else:
        (line,) = problems(p)
        assert line.startswith(f"{p}: grid.resolution_deg: expected a number of degrees in [0.1, 5] that divides 180")


def test_missing_file_and_non_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert problems("nope.toml") == ["nope.toml: experiment file not found"]
    (tmp_path / "latin.toml").write_bytes(b'[experiment]\nname = "caf\xe9"\n')
    assert problems("latin.toml") == ["latin.toml: line 2, column 12: invalid TOML: expected UTF-8 text, got byte 0xe9"]


def test_timezone_offsets_are_converted_to_utc(tmp_path):
    p = write(tmp_path, MINIMAL.replace("2026-01-01T00:00:00Z", '"2026-01-01T05:30:00+05:30"'))
    exp = load_experiment(p)
    assert exp.time.start == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert exp.time.start.tzinfo is UTC
    assert exp.systems[0].epoch == exp.time.start  # filing epoch defaults to time.start


def test_defaults_are_filled(tmp_path):
    exp = load_experiment(write(tmp_path, MINIMAL, "minimal.toml"))
    d = exp.to_dict()
    assert d["experiment"] == {"name": "minimal", "description": "", "exclude_territories": []}
    assert d["time"]["step_s"] == 60.0
    assert d["grid"] == {"resolution_deg": 1.0}
    assert d["geography"] == {"source": "embedded"}
    assert d["systems"] == [
        {
            "name": "o3b",
            "filing": "o3b",
            "epoch": dt.datetime(2026, 1, 1, tzinfo=UTC),
            "operator": "SES",
            "administration": "LUX",
            "bands": [],
            "max_beams_per_cell": 1,
            "gateways": "anywhere",
            "gateway_mask_deg": 25.0,
            "isl": False,
            "elevation_mask_deg": 25.0,
            "min_visible": 1,
            "exclude_countries": [],
            "landing_rights": "all",
            "family": "o3b",
        }
    ]
    # no capacity anywhere: the default datasets are those that need none
    assert d["outputs"] == {
        "datasets": ["coverage", "countries", "groups"],
        "files": ["netcdf", "csv"],
        "maps": [],
        "keep_time_series": False,
        "weighting": "population",
        "lorenz_points": 101,
        "gso_bin_deg": 0.5,
        "gso_masks_deg": [5.0, 10.0],
    }
    assert d["compute"] == {"threads": 0, "backend": "cpu"}  # None-valued keys are left out
    # the demand and the capacity rule are written in full, defaults included
    assert d["demand"] == {
        "adoption": 0.01,
        "busy_hour_mbps": 2.4,
        "overbooking": 20.0,
        "thresholds_mbps": [10.0, 25.0, 100.0],
    }
    assert d["capacity"] == {"rule": "maxmin", "band_sharing": True}
    with_cap = load_experiment(write(tmp_path, MINIMAL + "capacity_per_sat_mbps = 1000\n", "cap.toml"))
    assert with_cap.outputs.datasets == ("coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz")


def test_experiment_is_frozen():
    exp = load_experiment()
    with pytest.raises(dataclasses.FrozenInstanceError):
        exp.grid.resolution_deg = 1.0  # type: ignore[misc]


def test_relative_paths_resolve_against_the_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # not the file's folder
    exp = load_experiment(DATA / "valid_relative.toml")
    assert exp.systems[0].elements == REPO / "tle" / "o3b.tle"
    assert exp.systems[0].elements.is_absolute()
    assert exp.systems[0].name == "o3b"
    # the resolved TOML carries absolute paths: it loads the same from anywhere
    p = write(tmp_path, exp.to_toml(), "elsewhere.toml")
    assert load_experiment(p) == exp


def test_valid_relative_values():
    exp = load_experiment(DATA / "valid_relative.toml")
    shells, glob = exp.systems[1], exp.systems[2]
    assert exp.time.start == dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert shells.kind == "walker" and shells.administration == "FRA"
    assert shells.epoch == dt.datetime(2025, 12, 31, tzinfo=UTC)
    assert [s.pattern for s in shells.walker] == ["delta", "star"] and shells.walker[1].phasing == 0
    assert glob.serve_countries == ("USA", "CAN", "MEX") and glob.exclude_countries == ("MEX",)
    assert glob.operator == "Globalstar" and glob.administration == "USA"  # from the filings table
    assert exp.outputs.maps == ("capacity_mbps",) and exp.outputs.keep_time_series is True
    assert exp.compute.threads == 1 and exp.compute.chunk_steps == 10


def test_naturalearth_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("ORBITSHARE_DATA_DIR", raising=False)
    (tmp_path / "ne" / "boundaries").mkdir(parents=True)
    (tmp_path / "ne" / "boundaries" / "ne_110m_admin_0_countries.geojson").write_text("{}")
    (tmp_path / "pop.asc").write_text("")
    body = MINIMAL + '\n[geography]\nsource = "naturalearth"\ndata_dir = "ne"\nscale = "110m"\npopulation = "pop.asc"\n'
    exp = load_experiment(write(tmp_path, body))
    assert exp.geography.data_dir == tmp_path / "ne"
    assert exp.geography.population == tmp_path / "pop.asc"
    monkeypatch.chdir(tmp_path)
    write(tmp_path, body.replace('"110m"', '"50m"'), "y.toml")
    assert problems("y.toml") == [
        "y.toml: geography.data_dir: expected a folder holding ne_50m_admin_0_countries.geojson or "
        f"ne_50m_admin_0_countries*.zip (or its boundaries/ subfolder), got 'ne' ({tmp_path / 'ne'}: not found there)"
    ]
    write(tmp_path, MINIMAL + '\n[geography]\nsource = "naturalearth"\n', "z.toml")
    assert problems("z.toml") == [
        "z.toml: geography.data_dir: expected a folder with Natural Earth boundaries (or $ORBITSHARE_DATA_DIR set), "
        "got nothing (the key is missing)"
    ]
    monkeypatch.setenv("ORBITSHARE_DATA_DIR", str(tmp_path / "ne"))
    assert problems("z.toml") == [
        "z.toml: geography.data_dir: expected a folder holding ne_50m_admin_0_countries.geojson or "
        f"ne_50m_admin_0_countries*.zip (or its boundaries/ subfolder), got '$ORBITSHARE_DATA_DIR' ({tmp_path / 'ne'}: "
        "not found there)"
    ]
    write(tmp_path, MINIMAL + '\n[geography]\nsource = "naturalearth"\nscale = "110m"\n', "z.toml")
    assert load_experiment("z.toml").geography.data_dir == tmp_path / "ne"
    write(tmp_path, MINIMAL + '\n[geography]\ndata_dir = "ne"\n', "w.toml")
    assert problems("w.toml") == [
        "w.toml: geography.data_dir: only used with source = 'naturalearth', got source = "
        "'embedded' (remove data_dir or set source = 'naturalearth')"
    ]


def test_epoch_only_for_generated_systems(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MINIMAL.replace('filing = "o3b"', 'fetch = "o3b"\nepoch = 2026-01-01T00:00:00Z'))
    assert problems("x.toml") == [
        "x.toml: systems[0].epoch: only used with 'walker' or 'filing' systems (the fetch "
        "catalog carries its own epochs), got a fetch system"
    ]


def test_walker_name_required_and_bad_group(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        MINIMAL.replace(
            'filing = "o3b"', "walker = [{ altitude_km = 550, inclination_deg = 53, planes = 2, sats_per_plane = 2 }]"
        )
        + '\n[[systems]]\nfetch = "star link"\n',
    )
    assert problems("x.toml") == [
        "x.toml: systems[0].name: expected a non-empty string (required for walker systems), got nothing (the key is "
        "missing)",
        "x.toml: systems[1].fetch: expected a CelesTrak group name (1-64 letters, digits, '-' or '_'), got 'star link'",
    ]


def test_deep_parses_element_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.tle").write_text(
        "SAT\n1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753\n"
        "2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.8241915741366X\n"
    )
    write(tmp_path, MINIMAL.replace('filing = "o3b"', 'elements = "bad.tle"'))
    assert load_experiment("x.toml").systems[0].name == "bad"  # the sniff accepts it
    (line,) = problems("x.toml", deep=True)
    assert line.startswith("x.toml: systems[0].elements: expected a valid TLE or OMM element file, got 'bad.tle' (")


# ============================================================================ builders
def test_build_times_grid_systems():
    exp = load_experiment(DATA / "valid_relative.toml")
    times = build_times(exp)
    assert len(times) == 15  # 30 min at 120 s
    assert str(times.time[0]) == "2026-01-01T00:00:00.000000000"
    assert build_grid(exp).resolution_deg == 5.0
    systems = build_systems(exp)
    assert [s.name for s in systems] == ["o3b", "test shells", "globalstar"]
    assert [len(s.elements) for s in systems] == [20, 6 * 4 + 3 * 5, 48]
    o3b, shells, glob = systems
    assert o3b.capacity_mbps == 1600 and o3b.elevation_mask_deg == 10
    assert shells.capacity_mbps == pytest.approx(2.5 * (2000 + 2500) * 2)
    assert shells.administration == "FRA" and [b.name for b in shells.bands] == ["Ku", "Ka"]
    assert glob.min_visible == 2 and glob.serve_countries == ("USA", "CAN", "MEX")
    # walker shells: unique catalog numbers from 900000, epoch as given
    norad = shells.elements.norad
    assert list(norad) == list(range(900000, 900039))
    assert {str(e)[:19] for e in shells.elements.epoch} == {"2025-12-31T00:00:00"}


def test_build_elements_filing_matches_table():
    from orbitshare.elements.filings import filing_elements

    exp = load_experiment()
    es = build_elements(exp.systems[1])
    ref = filing_elements("oneweb_phase1", exp.time.start)
    assert len(es) == len(ref) == 588
    assert list(es.norad) == list(ref.norad)


def test_build_geography_passes_the_options(tmp_path, monkeypatch):
    geo_mod = sys.modules["orbitshare.experiment.build"]  # build_geography calls its imported geography

    calls = []
    monkeypatch.setattr(geo_mod, "geography", lambda grid, **kw: calls.append((grid.resolution_deg, kw)) or "geo")
    assert build_geography(load_experiment()) == "geo"
    monkeypatch.delenv("ORBITSHARE_DATA_DIR", raising=False)
    (tmp_path / "ne_50m_admin_0_countries.geojson").write_text("{}")
    exp = load_experiment(write(tmp_path, MINIMAL + '\n[geography]\nsource = "naturalearth"\ndata_dir = "."\n'))
    build_geography(exp)
    assert calls == [
        (2.0, {"source": "embedded"}),
        (1.0, {"source": "naturalearth", "data_dir": tmp_path, "population": None, "scale": "50m"}),
    ]


# ============================================================================ issue 10: ranges and names
WALKER = """
[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T01:00:00Z
step_s = 60

[[systems]]
name = "W"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 2, sats_per_plane = 2 }]
"""
WHEN = "expected a date-time in years 1678-2261 (UTC; what numpy datetime64[ns] holds)"


@pytest.mark.parametrize(
    "replace, line",
    [
        # before: 1600 wrapped around (a report for 2184), year 1 raised MemoryError, 9999 IndexError
        (("2026-01-01T00:00:00Z", "1600-01-01T00:00:00Z"), f"time.start: {WHEN}, got 1600-01-01T00:00:00Z"),
        (("2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z"), f"time.start: {WHEN}, got 0001-01-01T00:00:00Z"),
        (("2026-01-01T01:00:00Z", "9999-01-01T00:00:00Z"), f"time.stop: {WHEN}, got 9999-01-01T00:00:00Z"),
        (("2026-01-01T01:00:00Z", '"2262-01-01T00:00:00+00:00"'), f"time.stop: {WHEN}, got 2262-01-01T00:00:00Z"),
        (("name = ", "epoch = 1677-12-31T23:59:59Z\nname = "), f"systems[0].epoch: {WHEN}, got 1677-12-31T23:59:59Z"),
        # before: OverflowError (astimezone of year 1 with a positive offset)
        (("2026-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00"), f"time.start: {WHEN}, got 0001-01-01T00:30:00+01:00"),
    ],
)
def test_times_outside_datetime64_ns_are_refused(tmp_path, monkeypatch, replace, line):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, WALKER.replace(*replace, 1))
    assert problems("x.toml") == [f"x.toml: {line}"]


def test_the_ends_of_the_time_range_validate_and_build(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = WALKER.replace("2026-01-01T00:00:00Z", "1678-01-01T00:00:00Z").replace(
        "2026-01-01T01:00:00Z", "2261-12-31T23:59:59Z"
    )
    write(tmp_path, text.replace("step_s = 60", "step_s = 31_557_600"))  # a Julian year
    times = build_times(load_experiment("x.toml"))
    assert len(times) == 584 and str(times.time[0]) == "1678-01-01T00:00:00.000000000"
    assert str(times.time[-1]).startswith("2261-01-0")  # 583 Julian years later


def test_step_count_beyond_int32_is_refused(tmp_path, monkeypatch):
    """step_s = 1e-9 over an hour: 3.6e12 steps (before: accepted, then MemoryError at run time)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, WALKER.replace("step_s = 60", "step_s = 1e-9"))
    assert problems("x.toml") == [
        "x.toml: time.step_s: expected at most 2,147,483,647 steps from time.start to time.stop (per-cell step "
        "counts are int32), got 1e-09, which makes 3,600,000,000,000 steps"
    ]


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("step_s = 60", "step_s = {big}", "time.step_s"),
        ("planes = 2,", "planes = 2, altitude_km = {big},", None),
        ('name = "W"', 'name = "W"\nelevation_mask_deg = {big}', "systems[0].elevation_mask_deg"),
        ('name = "W"', 'name = "W"\ncapacity_per_sat_mbps = -{big}', "systems[0].capacity_per_sat_mbps"),
        (
            'name = "W"',
            'name = "W"\nbands = [{{ name = "Ku", low_mhz = 10700, high_mhz = {big} }}]',
            "systems[0].bands[0].high_mhz",
        ),
        ("step_s = 60", "step_s = 60\n[outputs]\ngso_bin_deg = {big}", "outputs.gso_bin_deg"),
    ],
)
def test_integers_a_float_cannot_hold_are_config_errors(tmp_path, monkeypatch, old, new, key):
    """Before: OverflowError (an internal error, exit 1)."""
    monkeypatch.chdir(tmp_path)
    big = "1" + "0" * 400
    text = WALKER.replace(old, new.format(big=big), 1)
    if key is None:  # altitude_km given twice is a TOML error; replace the first instead
        text = WALKER.replace("altitude_km = 550", f"altitude_km = {big}")
        key = "systems[0].walker[0].altitude_km"
    write(tmp_path, text)
    (line,) = problems("x.toml")
    assert line.startswith(f"x.toml: {key}: expected ") and line.endswith("... (401 digits)"), line


def test_deeply_nested_toml_names_the_file(tmp_path, monkeypatch):
    """Before: RecursionError from tomllib (an internal error)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems("x.toml") == [
        "x.toml: invalid TOML: expected arrays and inline tables nested a few levels deep, got them nested deeper "
        "than the parser can follow"
    ]
    write(tmp_path, "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    assert problems("x.toml")[0].startswith("x.toml: invalid TOML: expected arrays and inline tables nested")


def test_integer_beyond_pythons_digit_limit_names_the_file_and_line(tmp_path, monkeypatch):
    """Before: a bare ValueError from tomllib."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, WALKER.replace("step_s = 60", "step_s = " + "1" * 5000))
    (line,) = problems("x.toml")
    assert line.startswith("x.toml: line 5: invalid TOML: expected a number of sensible size, got Exceeds the limit")


@pytest.mark.parametrize("name", ["a\x00b", "a\rb", "a\nb", "a\tb", "a\x7fb", "a\u2028b", "x" * 101])
def test_system_names_are_printable_one_line_labels(tmp_path, monkeypatch, name):
    """A NUL in a name passed validation and failed after the pass; a CR injected Markdown structure."""
    monkeypatch.chdir(tmp_path)
    escaped = "".join(c if c.isalnum() else f"\\u{ord(c):04x}" for c in name)
    write(tmp_path, WALKER.replace('name = "W"', f'name = "{escaped}"'))
    (line,) = problems("x.toml")
    assert line.startswith("x.toml: systems[0].name: expected "), line
    assert ("printable" in line or "at most 100 characters" in line) and "\n" not in line and "\r" not in line


def test_element_file_stem_as_default_name_follows_the_name_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "tle" / "kuiper.tle", tmp_path / "a\tb.tle")
    text = MINIMAL.replace('filing = "o3b"', 'elements = "a\\tb.tle"')
    write(tmp_path, text)
    (line,) = problems("x.toml")
    assert line.startswith("x.toml: systems[0].name: expected a name for this system: the element file's name"), line
    write(tmp_path, text + 'name = "Kuiper"\n')
    assert load_experiment("x.toml").systems[0].name == "Kuiper"


def test_capacity_band_sharing(tmp_path, monkeypatch):
    """[capacity] band_sharing: true by default, written back, and refused with "throughput" where bands overlap."""
    monkeypatch.chdir(tmp_path)
    default = load_experiment(REPO / "experiments" / "default.toml")
    assert default.capacity_band_sharing is True
    assert "band_sharing = true" in default.to_toml()
    text = (REPO / "experiments" / "default.toml").read_text()
    write(tmp_path, text.replace('\nrule = "maxmin"', '\nrule = "throughput"'), "x.toml")
    assert problems("x.toml") == [
        "x.toml: capacity.band_sharing: expected false with rule = 'throughput' when two systems' bands overlap "
        "(the largest Mbit/s total with beams that carry part of their band is a weighted flow, not implemented), "
        "got true"
    ]
    write(tmp_path, text.replace('\nrule = "maxmin"', '\nrule = "throughput"\nband_sharing = false'), "x.toml")
    exp = load_experiment("x.toml")
    assert (exp.capacity_rule, exp.capacity_band_sharing) == ("throughput", False)
    write(tmp_path, text.replace('\nrule = "maxmin"', '\nrule = "maxmin"\nband_sharing = "no"'), "x.toml")
    assert problems("x.toml") == ["x.toml: capacity.band_sharing: expected true or false, got 'no'"]
