"""The experiment keys of the EPFD check (issue 13 §2): "epfd" in outputs.datasets, the [epfd] table and each
system's pfd_source. Every bad value is a problem naming its key path; the resolved experiment writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbitshare.errors import ConfigError
from orbitshare.experiment import load_experiment
from orbitshare.experiment.build import build_epfd_kwargs
from orbitshare.experiment.schema import DATASETS, EpfdSection

from .test_allocation_keys import HEAD  # noqa: TID252 - the same small experiment head


def system(name: str, extra: str = "") -> str:
    return f"""
[[systems]]
name = "{name}"
walker = [{{ altitude_km = 550, inclination_deg = 53, planes = 3, sats_per_plane = 4 }}]
capacity_per_sat_mbps = 1000
bands = [{{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }}]
{extra}
"""


PFD = 'pfd_dbw_m2_40khz = -140.0\npfd_source = "a filing"'
OUT = '\n[outputs]\ndatasets = ["coverage", "epfd"]\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_experiment(write(tmp_path, text))
    return list(info.value.problems)


def test_defaults_and_round_trip(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + system("A", PFD) + system("B") + OUT))
    assert "epfd" in DATASETS and exp.outputs.datasets == ("coverage", "epfd")
    assert exp.epfd == EpfdSection() and exp.epfd.antenna_diameter_m == (0.6, 1.2, 3.0, 10.0)
    assert exp.systems[0].pfd_source == "a filing" and exp.systems[1].pfd_source is None
    kw = build_epfd_kwargs(exp)
    assert kw["pfd_sources"] == {"A": "a filing"} and kw["arc_step_deg"] == 5.0 and kw["margin"] is True
    again = write(tmp_path, exp.to_toml())
    assert load_experiment(again) == exp


def test_epfd_table_values(tmp_path):
    table = "\n[epfd]\nantenna_diameter_m = [1.2, 3]\nfrequency_mhz = 11000\narc_step_deg = 2\nmargin = false\n"
    exp = load_experiment(write(tmp_path, HEAD + system("A", PFD) + OUT + table))
    assert exp.epfd == EpfdSection((1.2, 3.0), 11000.0, 2.0, 5.0, False)
    assert "[epfd]" in exp.to_toml() and "frequency_mhz = 11000.0" in exp.to_toml()


def test_epfd_not_in_the_default_datasets(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + system("A", PFD)))
    assert "epfd" not in exp.outputs.datasets and "gso" not in exp.outputs.datasets


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ("antenna_diameter_m = []", "epfd.antenna_diameter_m"),
        ("antenna_diameter_m = [0.6, -1]", "epfd.antenna_diameter_m[1]"),
        ("antenna_diameter_m = [0.6, 0.6]", "epfd.antenna_diameter_m"),
        ("antenna_diameter_m = 0.6", "epfd.antenna_diameter_m"),
        ("frequency_mhz = 0", "epfd.frequency_mhz"),
        ("arc_step_deg = 0", "epfd.arc_step_deg"),
        ("arc_step_deg = 91", "epfd.arc_step_deg"),
        ("gso_min_elevation_deg = 90", "epfd.gso_min_elevation_deg"),
        ("margin = 1", "epfd.margin"),
        ("colour = 1", "epfd.colour"),
    ],
)
def test_bad_epfd_values_name_the_key(tmp_path, table, where):
    got = problems(tmp_path, HEAD + system("A", PFD) + OUT + f"\n[epfd]\n{table}\n")
    assert len(got) == 1 and f": {where}: " in got[0]


def test_pfd_source_required_with_the_pfd(tmp_path):
    got = problems(tmp_path, HEAD + system("A", "pfd_dbw_m2_40khz = -140.0"))
    assert len(got) == 1 and ": systems[0].pfd_source: expected the source of pfd_dbw_m2_40khz" in got[0]
    got = problems(tmp_path, HEAD + system("A", 'pfd_dbw_m2_40khz = -140.0\npfd_source = "  "'))
    assert len(got) == 1 and ": systems[0].pfd_source: expected a non-empty one-line string" in got[0]
    # a source without a PFD is allowed (kept as provenance)
    assert load_experiment(write(tmp_path, HEAD + system("A", 'pfd_source = "x"'))).systems[0].pfd_source == "x"


def test_epfd_without_any_pfd_is_refused(tmp_path):
    got = problems(tmp_path, HEAD + system("A") + system("B") + OUT)
    assert len(got) == 1
    assert ": outputs.datasets: " in got[0] and "systems[*].pfd_dbw_m2_40khz" in got[0]
