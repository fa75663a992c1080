"""The experiment keys of issue 13: the [spectrum] table (inline_angle_deg, split), each system's
pfd_dbw_m2_40khz, the renamed spectrum map variables, and the CUDA refusal of overlapping bands. Every bad
value is a problem naming its key path; the resolved experiment writes the settings used, defaults included."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbitshare.errors import ConfigError
from orbitshare.experiment import build_systems, load_experiment
from orbitshare.experiment.build import service_options
from orbitshare.experiment.schema import MAP_VARIABLES, SPECTRUM_SPLITS, SpectrumSection
from orbitshare.kernels.spectrum import SPLITS

from .test_allocation_keys import HEAD, WALKER  # noqa: TID252 - the same small experiment head


def system(name: str, low: float = 10700, high: float = 12700, extra: str = "") -> str:
    return f"""
[[systems]]
name = "{name}"
{WALKER}
capacity_per_sat_mbps = 1000
bands = [{{ name = "Ku", low_mhz = {low}, high_mhz = {high} }}]
{extra}
"""


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return Path(name)  # the working directory is tmp_path: problems name the file as given


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def problems(tmp_path, text) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_experiment(write(tmp_path, text))
    return list(e.value.problems)


def test_defaults_and_round_trip(tmp_path):
    exp = load_experiment(write(tmp_path, HEAD + system("A")))
    assert exp.spectrum == SpectrumSection(10.0, "equal")
    assert service_options(exp) == {"inline_angle_deg": 10.0, "split": "equal"}
    text = exp.to_toml()
    assert '[spectrum]\ninline_angle_deg = 10.0\nsplit = "equal"' in text
    assert load_experiment(write(tmp_path, text, "resolved.toml")) == exp


def test_spectrum_table_read(tmp_path):
    exp = load_experiment(
        write(tmp_path, HEAD + system("A") + '\n[spectrum]\ninline_angle_deg = 5\nsplit = "priority"\n')
    )
    assert exp.spectrum == SpectrumSection(5.0, "priority")
    assert service_options(exp) == {"inline_angle_deg": 5.0, "split": "priority"}


def test_spectrum_problems_all_at_once(tmp_path):
    got = problems(tmp_path, HEAD + system("A") + '\n[spectrum]\ninline_angle_deg = 0\nsplit = "fair"\nangle = 3\n')
    assert got == [
        "x.toml: spectrum.angle: unknown key (expected one of 'inline_angle_deg', 'split')",
        "x.toml: spectrum.inline_angle_deg: expected a number of degrees in (0, 180] (the in-line angle), got 0",
        "x.toml: spectrum.split: expected 'equal' or 'priority', got 'fair'",
    ]


def test_pfd_key(tmp_path):
    extra = 'pfd_dbw_m2_40khz = -142.5\npfd_source = "a test value"'
    exp = load_experiment(write(tmp_path, HEAD + system("A", extra=extra)))
    assert exp.systems[0].pfd_dbw_m2_40khz == -142.5
    assert build_systems(exp)[0].pfd_dbw_m2_40khz == -142.5
    assert load_experiment(write(tmp_path, HEAD + system("A"))).systems[0].pfd_dbw_m2_40khz is None
    got = problems(tmp_path, HEAD + system("A", extra='pfd_dbw_m2_40khz = "loud"\npfd_source = "a test value"'))
    assert any("systems[0].pfd_dbw_m2_40khz" in g for g in got)


def test_cuda_refuses_overlapping_bands(tmp_path):
    cuda = '\n[capacity]\nrule = "proportional"\n\n[compute]\nbackend = "cuda"\n'
    got = problems(tmp_path, HEAD + system("A") + system("B", 11000, 12000) + cuda)
    assert got == [
        "x.toml: compute.backend: the co-frequency sharing of overlapping bands (the in-line test of [spectrum]) "
        'has no CUDA port yet; use "cpu" or "dask", or systems whose bands do not overlap'
    ]
    load_experiment(write(tmp_path, HEAD + system("A") + system("B", 12700, 13000) + cuda))  # touching: no overlap


def test_map_names_and_splits():
    assert SPECTRUM_SPLITS == SPLITS
    for name in ("band_mhz_in_view", "band_mhz_x_sats_in_view", "effective_mhz", "inline_fraction",
                 "mhz_available_total", "reuse_mhz_per_km2"):  # fmt: skip
        assert MAP_VARIABLES[name] == "spectrum"
    assert "mhz_available" not in MAP_VARIABLES and "mhz_sat_available" not in MAP_VARIABLES
