"""Report and CSV side of landing rights (issue 11): the "Who may be served" section, the headline
naming the LDC/LLDC/SIDS no system may serve, the ``may_serve`` / ``systems_serving`` columns of
countries.csv and the map of the number of systems that may serve each country.

Synthetic inputs on a 2 × 3 grid, no engine: AAA (an LDC and SIDS), BBB (an LLDC), CCC (rest)."""

import csv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from orbitshare.analysis.accounts import country_accounts, group_accounts
from orbitshare.report.document import write_report
from orbitshare.report.figures import png_title, write_serving_map
from orbitshare.report.tables import write_tables

CODES = ["AAA", "BBB", "CCC"]
SYSTEMS = ["open", "noA"]


def geography() -> xr.Dataset:
    """AAA column 0, BBB/CCC share column 1, CCC column 2; population 1e6..6e6 per cell."""
    frac = np.zeros((3, 2, 3))
    frac[0, :, 0] = 1.0
    frac[1, :, 1] = 0.6
    frac[2, :, 1] = 0.4
    frac[2, :, 2] = 1.0
    return xr.Dataset(
        {
            "country_fraction": (("country", "lat", "lon"), frac),
            "population": (("lat", "lon"), 1e6 * np.arange(1.0, 7.0).reshape(2, 3)),
            "land_fraction": (("lat", "lon"), np.ones((2, 3))),
        },
        coords={
            "country": CODES,
            "lat": [-10.0, 10.0],
            "lon": [-20.0, 0.0, 20.0],
            "country_name": ("country", ["Aland", "Bland", "Cland"]),
            "ldc": ("country", [True, False, False]),
            "lldc": ("country", [False, True, False]),
            "sids": ("country", [True, False, False]),
            "un_member": ("country", [True, True, True]),
            "itu_region": ("country", [1, 2, 3]),
        },
    )


def accounts(served: list[list[bool]] | None) -> tuple[xr.Dataset, xr.Dataset]:
    """Country and group accounts of two systems delivering 10 Mbit/s per cell; ``served``: the
    ``served_country(system, country)`` of a run with landing rights, None for a run without."""
    cap = xr.Dataset(
        {"capacity_mbps": (("system", "lat", "lon"), np.full((2, 2, 3), 10.0))},
        coords={"system": SYSTEMS, "lat": [-10.0, 10.0], "lon": [-20.0, 0.0, 20.0]},
    )
    if served is not None:
        cap["served_country"] = (("system", "country"), np.array(served))
        cap["serves_unlisted"] = ("system", np.array([True, True]))
        cap = cap.assign_coords(country=CODES)
    countries = country_accounts(geography(), None, capacity=cap)
    return countries, group_accounts(countries)


@pytest.fixture(scope="module")
def restricted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Neither system may serve AAA; open may serve BBB and CCC, noA only BBB."""
    out = tmp_path_factory.mktemp("serving")
    countries, groups = accounts([[False, True, True], [False, True, False]])
    maps = write_serving_map(out, geography(), countries)
    tables = write_tables(out, countries, groups, None)
    md, _ = write_report(out, countries=countries, groups=groups, equity=None, figures=maps, meta={})
    return {"out": out, "countries": countries, "maps": maps, "tables": tables, "md": md.read_text()}


def test_report_names_unserved_ldc_and_serving_table(restricted: dict) -> None:
    md = restricted["md"]
    assert "## Who may be served" in md
    line = next(x for x in md.splitlines() if "No system may serve" in x)
    assert "LDC: Aland (AAA)" in line and "SIDS: Aland (AAA)" in line and "LLDC: none" in line
    assert "| open | 2 of 3 |" in md and "| noA | 1 of 3 |" in md
    assert "1 countries" in md and "may be served by no system" in md


def test_countries_csv_has_may_serve(restricted: dict) -> None:
    with open(restricted["out"] / "countries.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["may_serve[noA]"] for r in rows] == ["0", "1", "0"]
    assert [r["systems_serving"] for r in rows] == ["0", "2", "1"]
    with open(restricted["out"] / "groups.csv", newline="") as f:
        world = next(r for r in csv.DictReader(f) if r["group"] == "world")
    countries = restricted["countries"]
    assert world["countries_servable[open]"] == "2"
    assert float(world["population_servable[noA]"]) == float(countries["population"].sel(country="BBB"))


def test_serving_map_written(restricted: dict) -> None:
    (path,) = restricted["maps"]
    assert Path(path).name == "map_systems_serving.png"
    assert "Systems that may serve" in (png_title(path) or "")
    assert "map_systems_serving.png" in restricted["md"]


def test_without_landing_rights_no_restriction(tmp_path: Path) -> None:
    countries, groups = accounts(None)
    assert write_serving_map(tmp_path, geography(), countries) == []
    md, _ = write_report(tmp_path, countries=countries, groups=groups, equity=None, figures=[], meta={})
    text = md.read_text()
    assert "Every system may serve every country (no landing-rights restriction)." in text
    assert "No system may serve" not in text
