"""The experiment keys of the capacity allocation (issue 12): [demand], [capacity] rule, and each system's
beams, beam_capacity_mbps, max_beams_per_cell, gateways, gateway_mask_deg and isl. Every bad value is a
problem naming its key path, all reported at once; the resolved experiment shows the settings used,
defaults included; build gives the System fields."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from orbitshare.demand import DEFAULT_ADOPTION, DEFAULT_BUSY_HOUR_MBPS, DEFAULT_OVERBOOKING, Demand
from orbitshare.errors import ConfigError
from orbitshare.experiment import build_systems, load_experiment
from orbitshare.experiment.budget import PAIR_BYTES, estimate_resources, footprint_cells

HEAD = """
[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T01:00:00Z

[grid]
resolution_deg = 5
"""
WALKER = "walker = [{ altitude_km = 550, inclination_deg = 53, planes = 3, sats_per_plane = 4 }]"
SYSTEM = f"""
[[systems]]
name = "W"
{WALKER}
capacity_per_sat_mbps = 1000
"""
CUDA_LINE = (
    'compute.backend: the capacity allocation (capacity.rule = "maxmin") has no CUDA port yet; use "cpu" or '
    '"dask", or capacity.rule = "proportional"'
)
ADOPTION_CSV = (
    "# shares for a test\n"
    "iso3,adoption,as_of,source\n"
    "FRA,0.5,2025-11-01,https://example.org/a\n"
    "DEU,unknown,2025-11-01,no figure\n"
)
GATEWAY_CSV = (
    "family,site,country,lat_deg,lon_deg,status,as_of,source,note\n"
    'starlink,"North Bend, WA",USA,47.4824,-121.7613,operational,2019-08-15,a filing,\n'
    "oneweb,Talkeetna,USA,62.3,-150.1,operational,2020-01-01,a filing,\n"
)


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # problems name the file as given: x.toml


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_experiment(os.path.relpath(path))
    return info.value.problems


# ============================================================================ defaults and the resolved TOML
def test_missing_demand_and_capacity_use_the_defaults_shown_in_the_resolved_experiment(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + SYSTEM))
    assert exp.demand == Demand() and exp.capacity_rule == "maxmin"
    assert (exp.demand.adoption, exp.demand.busy_hour_mbps, exp.demand.overbooking) == (
        DEFAULT_ADOPTION,
        DEFAULT_BUSY_HOUR_MBPS,
        DEFAULT_OVERBOOKING,
    )
    assert exp.demand.adoption_by_country is None
    assert "docs/allocation_parameters.md" in exp.demand.adoption_source
    text = exp.to_toml()
    assert (
        "\n[demand]\n"
        f"adoption = {DEFAULT_ADOPTION!r}\n"
        f"busy_hour_mbps = {DEFAULT_BUSY_HOUR_MBPS!r}\n"
        f"overbooking = {DEFAULT_OVERBOOKING!r}\n"
        "thresholds_mbps = [10.0, 25.0, 100.0]\n"
        "\n[capacity]\n"
        'rule = "maxmin"\n'
    ) in text
    # each system's allocation settings, defaults included
    system = exp.to_dict()["systems"][0]
    assert {k: system.get(k) for k in ("max_beams_per_cell", "gateways", "gateway_mask_deg", "isl")} == {
        "max_beams_per_cell": 1,
        "gateways": "anywhere",
        "gateway_mask_deg": 25.0,
        "isl": False,
    }
    # the resolved text gives back the same experiment
    assert load_experiment(write(tmp_path, text, "resolved.toml")) == exp


def test_given_values_and_an_adoption_table(tmp_path):
    (tmp_path / "tables").mkdir()
    write(tmp_path / "tables", ADOPTION_CSV, "adoption.csv")
    text = (
        HEAD
        + """
[[systems]]
name = "W"
WALKER
beams = 8
beam_capacity_mbps = 2500
max_beams_per_cell = 2
gateway_mask_deg = 10
isl = true

[demand]
adoption = "tables/adoption.csv"
adoption_default = 0.02
busy_hour_mbps = 5
overbooking = 8
thresholds_mbps = [1, 50]

[capacity]
rule = "throughput"
""".replace("WALKER", WALKER)
    )
    exp = load_experiment(write(tmp_path, text))
    table = str(tmp_path / "tables" / "adoption.csv")
    assert exp.demand == Demand(0.02, {"FRA": 0.5}, 5.0, (1.0, 50.0), overbooking=8.0)
    assert exp.demand.active_user_mbps == 40.0
    assert exp.demand.adoption_source == table
    assert (exp.demand.adoption_of("FRA"), exp.demand.adoption_of("DEU")) == (0.5, 0.02)  # unknown: the default
    assert exp.capacity_rule == "throughput"
    s = exp.systems[0]
    assert (s.beams, s.beam_capacity_mbps, s.max_beams_per_cell, s.gateway_mask_deg, s.isl) == (
        8,
        2500.0,
        2,
        10.0,
        True,
    )
    d = exp.to_dict()
    assert d["demand"] == {
        "adoption": table,
        "adoption_default": 0.02,
        "busy_hour_mbps": 5.0,
        "overbooking": 8.0,
        "thresholds_mbps": [1.0, 50.0],
    }
    assert d["capacity"] == {"rule": "throughput", "band_sharing": True}
    # the resolved text (absolute table path) gives back the same experiment, from anywhere
    (tmp_path / "elsewhere").mkdir()
    assert load_experiment(write(tmp_path / "elsewhere", exp.to_toml())) == exp
    # build: the System fields and their caps
    (system,) = build_systems(exp)
    assert (system.capacity_mbps, system.beam_mbps, system.cell_cap_mbps) == (20000.0, 2500.0, 5000.0)
    assert (system.gateway_sites, system.gateway_mask_deg, system.isl) == (None, 10.0, True)


def test_a_number_adoption_and_the_proportional_rule(tmp_path):
    text = HEAD + SYSTEM + '[demand]\nadoption = 0\n[capacity]\nrule = "proportional"\n'
    exp = load_experiment(write(tmp_path, text))
    assert exp.demand == Demand(adoption=0.0) and exp.capacity_rule == "proportional"
    assert exp.demand.adoption_source.startswith("0 (demand.adoption of ")
    assert exp.to_dict()["demand"]["adoption"] == 0.0 and "adoption_default" not in exp.to_dict()["demand"]


# ============================================================================ bad values, each named
def test_every_bad_demand_and_capacity_key_is_named_at_once(tmp_path):
    text = (
        HEAD
        + SYSTEM
        + """
[demand]
adoption = 1.5
adoption_default = 0.1
busy_hour_mbps = 0
thresholds_mbps = [25, 10, -1]
overbooking = -20
busy_hours = 3

[capacity]
rule = "max-min"
share = "x"
"""
    )
    assert problems(write(tmp_path, text)) == [
        "x.toml: demand.busy_hours: unknown key (did you mean 'busy_hour_mbps'?)",
        "x.toml: demand.adoption_default: only used with an adoption table (demand.adoption = the path of a .csv "
        "table), got demand.adoption = 1.5",
        "x.toml: demand.adoption: expected a share of the population in [0, 1] or the path of a .csv adoption table, "
        "got 1.5",
        "x.toml: demand.busy_hour_mbps: expected a number of Mbit/s > 0, got 0",
        "x.toml: demand.thresholds_mbps[1]: expected a number of Mbit/s > thresholds_mbps[0] (25) (increasing, each "
        "once), got 10",
        "x.toml: demand.thresholds_mbps[2]: expected a number of Mbit/s > 0, got -1",
        "x.toml: demand.overbooking: expected a number of subscribers per active user > 0, got -20",
        "x.toml: capacity.share: unknown key (expected one of 'rule', 'band_sharing')",
        "x.toml: capacity.rule: expected 'maxmin', 'throughput' or 'proportional', got 'max-min'",
    ]


@pytest.mark.parametrize(
    "demand, line",
    [
        (
            "adoption = true",
            "demand.adoption: expected a share of the population in [0, 1] or the path of a .csv "
            "adoption table, got true",
        ),
        (
            'adoption = "shares.txt"',
            "demand.adoption: expected a share of the population in [0, 1] or the path of a "
            ".csv adoption table, got 'shares.txt'",
        ),
        ('busy_hour_mbps = "2"', "demand.busy_hour_mbps: expected a number of Mbit/s > 0, got '2'"),
        ("busy_hour_mbps = inf", "demand.busy_hour_mbps: expected a number of Mbit/s > 0, got inf"),
        (
            "thresholds_mbps = 10",
            "demand.thresholds_mbps: expected a non-empty array of Mbit/s > 0, increasing, got 10",
        ),
        (
            "thresholds_mbps = []",
            "demand.thresholds_mbps: expected a non-empty array of Mbit/s > 0, increasing, got []",
        ),
        ('thresholds_mbps = ["10"]', "demand.thresholds_mbps[0]: expected a number of Mbit/s > 0, got '10'"),
        ("overbooking = 0", "demand.overbooking: expected a number of subscribers per active user > 0, got 0"),
        ('overbooking = "20"', "demand.overbooking: expected a number of subscribers per active user > 0, got '20'"),
        ("overbooking = nan", "demand.overbooking: expected a number of subscribers per active user > 0, got nan"),
        ("overbooking = true", "demand.overbooking: expected a number of subscribers per active user > 0, got true"),
        (
            'adoption = "a.csv"\nadoption_default = 2',
            "demand.adoption_default: expected a share of the population in [0, 1], got 2",
        ),
    ],
)
def test_each_bad_demand_value(tmp_path, demand, line):
    write(tmp_path, "iso3,adoption,as_of,source\nFRA,0.1,2025-01-01,src\n", "a.csv")
    assert problems(write(tmp_path, HEAD + SYSTEM + "[demand]\n" + demand + "\n")) == [f"x.toml: {line}"]


def test_a_bad_adoption_table_names_its_file_line_and_field(tmp_path):
    table = write(tmp_path, "iso3,adoption,as_of,source\nFRA,0.1,2025-01-01,src\nXYZ,0.2,2025-01-01,\n", "a.csv")
    text = HEAD + SYSTEM + '[demand]\nadoption = "a.csv"\n'
    expected = "x.toml: demand.adoption: expected a valid adoption table, got"
    assert problems(write(tmp_path, text)) == [
        f"{expected} {table}: line 3: iso3: expected an ISO 3166-1 alpha-3 code of the country groups table, got 'XYZ'",
        f"{expected} {table}: line 3: source: expected the source of the figure (a URL or a document citation), "
        "got nothing",
    ]
    text = HEAD + SYSTEM + '[demand]\nadoption = "missing.csv"\n'
    assert problems(write(tmp_path, text)) == [f"{expected} {tmp_path / 'missing.csv'}: file: no such file"]


def test_every_bad_system_key_is_named(tmp_path):
    text = (
        HEAD
        + f"""
[[systems]]
name = "A"
{WALKER}
beam_capacity_mbps = -5
beams = 4
max_beams_per_cell = 0
gateways = "somewhere"
gateway_mask_deg = 90
isl = "no"

[[systems]]
name = "B"
{WALKER}
capacity_per_sat_mbps = 1000
beam_capacity_mbps = 100
beams = 10

[[systems]]
name = "C"
{WALKER}
beam_capacity_mbps = 100
gateways = "table"
"""
    )
    assert problems(write(tmp_path, text)) == [
        "x.toml: systems[0].beam_capacity_mbps: expected a number of Mbit/s > 0, got -5",
        "x.toml: systems[0].max_beams_per_cell: expected an integer >= 1, got 0",
        "x.toml: systems[0].gateway_mask_deg: expected a number of degrees in [0, 90), got 90",
        "x.toml: systems[0].isl: expected true or false, got 'no'",
        "x.toml: systems[0].gateways: expected 'anywhere', 'table' or a path to a .csv table of gateway sites, "
        "got 'somewhere'",
        "x.toml: systems[1].beam_capacity_mbps: expected either capacity_per_sat_mbps or beam_capacity_mbps with "
        "beams, got both",
        "x.toml: systems[2].beams: expected an integer >= 1 with beam_capacity_mbps (capacity = beams x "
        "beam_capacity_mbps), got nothing (the key is missing)",
        "x.toml: systems[2].gateways: expected 'anywhere', 'table' or a path to a .csv table of gateway sites: "
        "'table' needs the system's family (the family key, or a filing or fetch group naming one), got 'table'",
    ]


def test_capacity_per_sat_with_beams_is_now_a_way(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + SYSTEM + "beams = 4\nmax_beams_per_cell = 3\n"))
    (system,) = build_systems(exp)
    assert (system.capacity_mbps, system.beam_mbps, system.cell_cap_mbps) == (1000.0, 250.0, 750.0)


# ============================================================================ gateways
def test_gateways_anywhere_resolves_to_none(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + SYSTEM + 'gateways = "anywhere"\n'))
    assert exp.systems[0].gateways == "anywhere" and exp.systems[0].gateway_sites is None
    (system,) = build_systems(exp)
    assert system.gateway_sites is None and system.delivers_anywhere


def test_gateways_table_resolves_to_the_family_sites(tmp_path):
    """The shipped gateway table's sites of the system's family (orbitshare.gateways, another helper's
    table): the resolved experiment keeps "table", the System gets the sites."""
    from orbitshare.gateways import gateway_sites

    text = HEAD + '[[systems]]\nfiling = "starlink_gen1"\ncapacity_per_sat_mbps = 1000\ngateways = "table"\n'
    exp = load_experiment(write(tmp_path, text))
    sites = gateway_sites("table", "starlink")
    assert sites and (48.2033, -111.9453) in sites
    assert exp.systems[0].gateways == "table" and exp.systems[0].gateway_sites == sites
    assert exp.to_dict()["systems"][0]["gateways"] == "table" and "gateway_sites" not in exp.to_dict()["systems"][0]
    assert load_experiment(write(tmp_path, exp.to_toml(), "resolved.toml")) == exp


def test_gateways_from_a_table_of_sites(tmp_path):
    write(tmp_path, GATEWAY_CSV, "sites.csv")
    text = HEAD + '[[systems]]\nfiling = "starlink_gen1"\ncapacity_per_sat_mbps = 1000\ngateways = "sites.csv"\n'
    exp = load_experiment(write(tmp_path, text))
    assert exp.systems[0].gateways == str(tmp_path / "sites.csv")
    (system,) = build_systems(exp)
    assert system.gateway_sites == ((47.4824, -121.7613),)  # the rows of its family
    # a bad table: each problem names the file, line and field under the key
    write(tmp_path, GATEWAY_CSV.replace("47.4824", "95"), "sites.csv")
    (line,) = problems(write(tmp_path, text))
    assert line == (
        f"x.toml: systems[0].gateways: expected a valid gateway table, got {tmp_path / 'sites.csv'}: line 2: "
        "lat_deg: expected a latitude in degrees in [-90, 90], got '95'"
    )


# ============================================================================ cuda
@pytest.mark.parametrize(
    "rule, datasets, refused",
    [
        (None, '["coverage", "capacity"]', True),
        ('"maxmin"', '["coverage", "spectrum"]', True),
        ('"throughput"', '["coverage", "countries", "equity", "capacity"]', True),
        ('"proportional"', '["coverage", "capacity"]', False),
        (None, '["coverage", "countries"]', False),  # no capacity dataset: no allocation
    ],
)
def test_cuda_with_an_allocation_rule_is_refused_in_one_line(tmp_path, rule, datasets, refused):
    text = HEAD + SYSTEM + f'[outputs]\ndatasets = {datasets}\n[compute]\nbackend = "cuda"\n'
    if rule is not None:
        text += f"[capacity]\nrule = {rule}\n"
    path = write(tmp_path, text)
    if not refused:
        assert load_experiment(path).compute.backend == "cuda"
        return
    name = "maxmin" if rule is None else rule.strip('"')
    assert problems(path) == ["x.toml: " + CUDA_LINE.replace('"maxmin"', f'"{name}"')]


# ============================================================================ the memory budget
def test_the_allocation_memory_in_the_estimate(tmp_path, monkeypatch):
    """Pairs = satellites x the cells of a footprint (cap of Earth central angle 90 - mask - nadir angle
    over the mean cell area), 40 B each per thread at work; plus 8 B per system and cell per time block."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    exp = load_experiment(write(tmp_path, HEAD + SYSTEM + "[compute]\nthreads = 2\n"))
    parts = {p.what.split(" (")[0]: p for p in exp.estimate.parts}
    cells = 36 * 72
    nadir = math.asin(6378.137 * math.cos(math.radians(25)) / (6378.137 + 550))
    central = math.pi / 2 - math.radians(25) - nadir
    in_view = math.ceil(cells * (1 - math.cos(central)) / 2)
    assert footprint_cells(550, 25, cells) == in_view
    pairs = parts["the allocation pairs"]
    assert pairs.nbytes == PAIR_BYTES * 12 * in_view * 2 and pairs.key == "systems[0].walker[0]"
    sums = parts["the served sums"]
    assert sums.nbytes == 8 * 1 * cells * 8 and sums.key == "grid.resolution_deg"  # 8 time blocks of a chunk
    # none under the proportional rule, nor without a capacity dataset
    for extra in ('[capacity]\nrule = "proportional"\n', '[outputs]\ndatasets = ["coverage"]\n'):
        other = load_experiment(write(tmp_path, HEAD + SYSTEM + extra, "y.toml"))
        assert not any("allocation" in p.what for p in estimate_resources(other, threads=2).parts)
    # capped at the grid: a footprint seeing everything
    assert footprint_cells(1e6, -89, 100) == 100


# ============================================================================ the service cell area
def test_service_cell_km2_is_passed_through_and_shown_when_set(tmp_path):
    """systems[i].service_cell_km2 (km² of one service cell; Starlink ≈ 379, docs/allocation_parameters.md
    §1.6): the resolved experiment shows it, gives back an equal experiment, and build gives it to System.
    Unset it is absent from the resolved text and None on the System (a grid cell is one service cell)."""
    exp = load_experiment(
        write(tmp_path, HEAD + SYSTEM + "beams = 8\nmax_beams_per_cell = 2\nservice_cell_km2 = 379\n")
    )
    assert exp.systems[0].service_cell_km2 == 379.0 and isinstance(exp.systems[0].service_cell_km2, float)
    assert exp.to_dict()["systems"][0]["service_cell_km2"] == 379.0
    assert "\nservice_cell_km2 = 379.0\n" in exp.to_toml()
    assert load_experiment(write(tmp_path, exp.to_toml(), "resolved.toml")) == exp
    (system,) = build_systems(exp)
    assert (system.service_cell_km2, system.max_beams_per_cell, system.beam_mbps) == (379.0, 2, 125.0)
    # unset: not in the resolved file, None on the System; the reloaded experiment is equal
    exp = load_experiment(write(tmp_path, HEAD + SYSTEM, "unset.toml"))
    assert exp.systems[0].service_cell_km2 is None and "\nservice_cell_km2 =" not in exp.to_toml()
    assert "service_cell_km2" not in exp.to_dict()["systems"][0]
    assert load_experiment(write(tmp_path, exp.to_toml(), "resolved_unset.toml")) == exp
    assert build_systems(exp)[0].service_cell_km2 is None


@pytest.mark.parametrize(
    "value, shown",
    [("0", "0"), ("-379", "-379"), ("inf", "inf"), ("nan", "nan"), ('"379"', "'379'"), ("true", "true")],
)
def test_a_bad_service_cell_km2_is_named(tmp_path, value, shown):
    text = HEAD + SYSTEM + f"service_cell_km2 = {value}\n"
    assert problems(write(tmp_path, text)) == [
        f"x.toml: systems[0].service_cell_km2: expected a number of km2 > 0, got {shown}"
    ]


def test_a_bad_service_cell_km2_is_reported_with_the_other_system_keys(tmp_path):
    text = HEAD + SYSTEM + "max_beams_per_cell = 0\nservice_cell_km2 = -1\nisl = 1\n"
    assert problems(write(tmp_path, text)) == [
        "x.toml: systems[0].max_beams_per_cell: expected an integer >= 1, got 0",
        "x.toml: systems[0].service_cell_km2: expected a number of km2 > 0, got -1",
        "x.toml: systems[0].isl: expected true or false, got 1",
    ]
