"""The per-system ``landing_rights`` and ``family`` keys and ``[experiment] exclude_territories``: resolved
as of ``time.start`` into serve/exclude lists, composed with the system's own lists, dumped in the resolved
configuration; bad values give a ConfigError naming the key (or the table's file, line and field)."""

import re
from pathlib import Path

import pytest

from orbitshare.errors import ConfigError
from orbitshare.experiment.build import build_systems, resolve_landing_rights, system_kwargs
from orbitshare.experiment.validate import load_experiment
from orbitshare.landing import servable_countries

SHIPPED = Path(__file__).resolve().parents[2] / "experiments"


def _exp(tmp_path: Path, system: str = "", experiment: str = "", start: str = "2026-01-01", **files: str):
    for name, text in files.items():
        (tmp_path / name.replace("_", ".")).write_text(text, encoding="utf-8")
    text = f"""
[experiment]
name = "lr"
{experiment}

[time]
start = {start}T00:00:00Z
stop = {start}T00:10:00Z

[[systems]]
filing = "starlink_gen1"
{system}
"""
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    return info.value.problems


def test_all_leaves_the_lists_untouched(tmp_path: Path) -> None:
    system = 'serve_countries = ["FRA", "DEU"]\nexclude_countries = ["IND"]'
    spec = load_experiment(_exp(tmp_path, system)).systems[0]
    assert (spec.landing_rights, spec.family) == ("all", "starlink")
    assert (spec.serve_countries, spec.exclude_countries) == (("FRA", "DEU"), ("IND",))
    assert resolve_landing_rights(spec, (), None) is spec
    bare = load_experiment(_exp(tmp_path)).systems[0]
    assert (bare.serve_countries, bare.exclude_countries) == (None, ())
    assert system_kwargs(bare)["landing_rights"] == "all"


def test_shipped_default_is_all() -> None:
    for spec in load_experiment(SHIPPED / "default.toml").systems:
        assert (spec.landing_rights, spec.serve_countries, spec.exclude_countries) == ("all", None, ())


@pytest.mark.parametrize(
    ("start", "scenario", "served"),
    [
        ("2021-01-01", "authorised", False),  # no row yet: unknown
        ("2021-03-01", "authorised", True),  # authorised 2021-02-09
        ("2022-05-01", "authorised", False),  # pending 2022-04-05 (Conseil d'Etat)
        ("2022-05-01", "authorised+pending", True),
        ("2022-06-01", "authorised", True),  # authorised again 2022-05-25
    ],
)
def test_authorised_as_of_time_start(tmp_path: Path, start: str, scenario: str, served: bool) -> None:
    exp = load_experiment(_exp(tmp_path, f'landing_rights = "{scenario}"', start=start))
    spec = exp.systems[0]
    assert spec.landing_rights == scenario
    assert spec.serve_countries == servable_countries("starlink", scenario, start)
    assert ("FRA" in spec.serve_countries) is served


def test_composition(tmp_path: Path) -> None:
    system = (
        'landing_rights = "authorised"\nserve_countries = ["FRA", "CHN", "GBR", "DEU"]\nexclude_countries = ["DEU"]'
    )
    exp = load_experiment(_exp(tmp_path, system, 'exclude_territories = ["gbr"]', start="2022-06-01"))
    spec = exp.systems[0]
    assert exp.experiment.exclude_territories == ("GBR",)
    # CHN is not authorised; DEU and GBR are excluded (exclusion wins)
    assert "CHN" not in servable_countries("starlink", "authorised", "2022-06-01")
    assert spec.serve_countries == ("FRA", "GBR", "DEU")
    assert spec.exclude_countries == ("DEU", "GBR")
    (built,) = build_systems(exp)
    assert (built.serve_countries, built.exclude_countries) == (spec.serve_countries, spec.exclude_countries)
    assert built.landing_rights == "authorised"


def test_exclude_territories_applies_to_every_system(tmp_path: Path) -> None:
    path = _exp(tmp_path, '\n[[systems]]\nfiling = "oneweb_phase1"', 'exclude_territories = ["CHN", "RUS"]')
    exp = load_experiment(path)
    assert [s.exclude_countries for s in exp.systems] == [("CHN", "RUS"), ("CHN", "RUS")]
    assert [s.serve_countries for s in exp.systems] == [None, None]


def test_resolved_config_dumps_the_scenario_and_lists(tmp_path: Path) -> None:
    exp = load_experiment(_exp(tmp_path, 'landing_rights = "authorised"', 'exclude_territories = ["CHN"]'))
    text = exp.to_toml()
    assert 'landing_rights = "authorised"' in text and 'family = "starlink"' in text
    assert 'exclude_territories = ["CHN"]' in text and "serve_countries = [" in text
    again = tmp_path / "resolved.toml"
    again.write_text(text, encoding="utf-8")
    assert load_experiment(again) == exp  # applying the scenario twice changes nothing


def test_user_table_relative_to_the_file(tmp_path: Path) -> None:
    table = "system,iso3,status,as_of,source\nstarlink,KEN,authorised,2023-07-01,regulator: CA licence\n"
    exp = load_experiment(_exp(tmp_path, 'landing_rights = "rights.csv"', rights_csv=table))
    spec = exp.systems[0]
    assert spec.landing_rights == str(tmp_path / "rights.csv")
    assert spec.serve_countries == ("KEN",)


def test_family_for_a_fetch_group(tmp_path: Path) -> None:
    path = _exp(tmp_path)
    path.write_text(path.read_text().replace('filing = "starlink_gen1"', 'fetch = "oneweb"'), encoding="utf-8")
    assert load_experiment(path).systems[0].family == "oneweb"


@pytest.mark.parametrize(
    ("system", "experiment", "key", "pattern"),
    [
        ('landing_rights = "authorized"', "", "systems[0].landing_rights", "expected 'all', 'authorised'"),
        ("landing_rights = 3", "", "systems[0].landing_rights", "got 3"),
        ('family = "skylink"', "", "systems[0].family", "landing-rights system family .*got 'skylink'"),
        ('family = 1\nlanding_rights = "authorised"', "", "systems[0].family", "got 1"),
        ("", 'exclude_territories = ["XYZ"]', "experiment.exclude_territories[0]", "got 'XYZ'"),
        ("", 'exclude_territories = "CHN"', "experiment.exclude_territories", "an array"),
        (
            'landing_rights = "rights.txt"',
            "",
            "systems[0].landing_rights",
            "a .csv landing-rights table, got 'rights.txt'",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, system: str, experiment: str, key: str, pattern: str) -> None:
    (line,) = _problems(_exp(tmp_path, system, experiment))
    assert f"x.toml: {key}: " in line
    assert re.search(pattern, line), line


def test_family_required_when_it_cannot_be_derived(tmp_path: Path) -> None:
    path = _exp(tmp_path, 'landing_rights = "authorised"')
    path.write_text(path.read_text().replace('filing = "starlink_gen1"', 'fetch = "gps-ops"'), encoding="utf-8")
    (line,) = _problems(path)
    assert "systems[0].family: expected a landing-rights system family" in line
    assert "needs one" in line


def test_bad_table_names_file_line_and_field(tmp_path: Path) -> None:
    bad = "system,iso3,status,as_of,source\nstarlink,XYZ,authorised,2023-07-01,report: x\n"
    lines = _problems(_exp(tmp_path, 'landing_rights = "rights.csv"', rights_csv=bad))
    (line,) = lines
    assert "x.toml: systems[0].landing_rights: expected a valid landing-rights table, got " in line
    assert f"{tmp_path / 'rights.csv'}: line 2: iso3: " in line


def test_table_that_is_not_a_csv(tmp_path: Path) -> None:
    (tmp_path / "rights.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (line,) = _problems(_exp(tmp_path, 'landing_rights = "rights.csv"'))
    assert "systems[0].landing_rights" in line and str(tmp_path / "rights.csv") in line
    (line,) = _problems(_exp(tmp_path, 'landing_rights = "missing.csv"'))
    assert f"{tmp_path / 'missing.csv'}: file: no such file" in line
