"""A run asking for "epfd" (issue 13 §2): single-entry EPFD per system, stored as results.h5 groups "epfd" and
"epfd_countries", maps and the report section; checked against direct calls and a brute-force country sum."""

from __future__ import annotations

import numpy as np
import pytest

from orbitshare.analysis.protection import SINGLE_ENTRY_NOTE
from orbitshare.engine.epfd import epfd
from orbitshare.experiment import build_geography, build_grid, build_systems, build_times, load_experiment
from orbitshare.io import open_results
from orbitshare.runner import run

# two tiny Walker shells with a PFD and one without, 5° grid, 1 hour at 60 s: a few seconds
TOML = """\
[experiment]
name = "tiny_epfd"

[time]
start = 2026-01-01T00:00:00Z
stop = 2026-01-01T01:00:00Z
step_s = 60

[grid]
resolution_deg = 5.0

[[systems]]
name = "Shell A"
administration = "USA"
walker = [{ altitude_km = 550, inclination_deg = 53, planes = 6, sats_per_plane = 10 }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
pfd_dbw_m2_40khz = -150.0
pfd_source = "test value A"

[[systems]]
name = "Shell B"
walker = [{ altitude_km = 1200, inclination_deg = 87.9, planes = 4, sats_per_plane = 8, pattern = "star" }]
bands = [{ name = "Ku", low_mhz = 10700, high_mhz = 12700 }]
pfd_dbw_m2_40khz = -160.0
pfd_source = "test value B"

[[systems]]
name = "No PFD"
walker = [{ altitude_km = 700, inclination_deg = 60, planes = 2, sats_per_plane = 4 }]

[epfd]
antenna_diameter_m = [0.6, 3.0]
arc_step_deg = 10

[outputs]
datasets = ["coverage", "countries", "gso", "epfd"]
files = ["netcdf"]

[compute]
chunk_steps = 30
threads = 1
"""


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    d = tmp_path_factory.mktemp("epfd_run")
    path = d / "tiny_epfd.toml"
    path.write_text(TOML)
    res = run(path, out_dir=d / "run", progress=False)
    return path, res


def test_groups_written_per_system(done):
    _, res = done
    groups = open_results(res.out_dir / "results.h5")
    assert {"epfd", "epfd_countries"} <= set(groups)
    ds = groups["epfd"]
    assert list(ds["system"].values) == ["Shell A", "Shell B"]  # "No PFD" takes no part
    assert ds.sizes["antenna"] == 2 and list(ds["pfd_source"].values) == ["test value A", "test value B"]
    assert SINGLE_ENTRY_NOTE in ds["exceeded"].attrs["long_name"]
    names = {p.name for p in res.files}
    assert {"map_epfd_exceeded_Shell_A.png", "map_epfd_exceeded_Shell_B.png", "report.md"} <= names
    text = (res.out_dir / "report.md").read_text()
    assert "## EPFD-down against RR Article 22" in text and "test value B" in text
    assert "no GSO catalogue" in text and "epfd_blocks" not in text


def test_each_system_equals_a_direct_single_entry_call(done):
    path, res = done
    exp = load_experiment(path)
    systems, grid, times = build_systems(exp), build_grid(exp), build_times(exp)
    for s in systems[:2]:
        one = epfd([s], grid, times, antenna_diameter_m=(0.6, 3.0), arc_step_deg=10, frequency_mhz=11700.0)
        got = res.epfd.sel(system=s.name)
        for var in ("epfd_max_dbw_m2", "exceeded", "margin_db", "steps_above_limit"):
            np.testing.assert_array_equal(got[var].values, one[var].values)
    a, b = (res.epfd["epfd_max_dbw_m2"].sel(system=n).values for n in ("Shell A", "Shell B"))
    assert not np.array_equal(a, b, equal_nan=True)


def test_country_summary_equals_a_brute_force_sum(done):
    path, res = done
    exp = load_experiment(path)
    geo = build_geography(exp, build_grid(exp))
    frac = geo["country_fraction"].transpose("country", "lat", "lon").values.astype(np.float64)
    land = geo["land_fraction"].values.astype(np.float64)
    pop = geo["population"].values.astype(np.float64)
    area = geo["cell_area"].broadcast_like(geo["population"]).values.astype(np.float64)
    total = frac.sum(axis=0)
    denom = np.where(land > total * (1 + 1e-6), land, total)
    summ = res.epfd_countries
    checked = 0
    for s in res.epfd["system"].values:
        for d in res.epfd["antenna"].values:
            ex = res.epfd["exceeded"].sel(system=s, antenna=d).transpose("lat", "lon").values > 0
            for k, code in enumerate(geo["country"].values):
                f = frac[k]
                on = f > 0
                if not on.any():
                    continue
                wpop = np.where(on, pop * f / np.where(denom > 0, denom, 1), 0.0)
                wland = f * area
                row = summ.sel(system=s, antenna=d, country=code)
                if wpop.sum() > 0:
                    want = (wpop * ex).sum() / wpop.sum()
                    assert float(row["population_exceeded_fraction"]) == pytest.approx(want, rel=1e-9, abs=1e-12)
                want_land = (wland * ex).sum() / wland.sum()
                assert float(row["land_exceeded_fraction"]) == pytest.approx(want_land, rel=1e-9, abs=1e-12)
                assert int(row["exceeded_anywhere"]) == int(ex[on].any())
                m = res.epfd["margin_db"].sel(system=s, antenna=d).transpose("lat", "lon").values[on]
                if np.isfinite(m).any():
                    assert float(row["worst_margin_db"]) == np.nanmin(m)
                checked += 1
    assert checked > 300
    world = summ["group_population_exceeded_fraction"].sel(group="world").values
    assert np.all((world > 0.05) & (world < 0.95))  # neither nothing nor everything exceeded: a real check
    assert summ.attrs["gso_catalogue"] == "none"
