"""The landing-rights table and its reader: the shipped table validates and covers every UN member,
status selection by date, and every bad input gives one ConfigError line naming file, line and field."""

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import orbitshare
from orbitshare.errors import ConfigError, ParameterError
from orbitshare.geo.parts import country_groups
from orbitshare.landing import (
    COLUMNS,
    SCENARIOS,
    STATUSES,
    compose_countries,
    default_path,
    landing_rights,
    read_landing_rights,
    scenario_problem,
    servable_countries,
    system_families,
    system_family,
)

HEADER = "system,iso3,status,as_of,source\n"
GOOD = "starlink,FRA,authorised,2021-02-09,regulator: Arcep decision of 9 Feb 2021\n"


def _un_members() -> set[str]:
    g = country_groups()
    return {str(c) for c in g["iso3"][g["un_member"]]}


def _write(tmp_path: Path, text: str, name: str = "rights.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_landing_rights(path)
    err = info.value
    assert str(err) == "\n".join(err.problems)
    return err.problems


# ------------------------------------------------------------------------------- the shipped table
def test_shipped_table_validates() -> None:
    table = read_landing_rights()
    assert list(table.columns) == [*COLUMNS, "line"]
    assert set(table["system"]) <= set(system_families())
    assert set(table["iso3"]) <= {str(c) for c in country_groups()["iso3"]}
    assert set(table["status"]) <= set(STATUSES)
    assert table["as_of"].notna().all()
    assert table["source"].str.strip().str.len().gt(0).all()
    assert not table.duplicated(["system", "iso3", "as_of"]).any()
    # sourced: an unknown row says so, every other row names a kind of source and a date or URL
    unknown = table["status"] == "unknown"
    assert table.loc[unknown, "source"].str.startswith("no public decision found as of ").all()
    known = table.loc[~unknown, "source"]
    assert known.str.match(r"(regulator|gazette|court|government|operator|report): ").all()
    assert known.str.contains(r"https?://|\d{4}").all()
    # nothing is dated after the day the table was built
    assert table["as_of"].max() <= pd.Timestamp("2026-12-06")


def test_every_un_member_has_a_starlink_and_a_oneweb_status() -> None:
    latest = landing_rights()
    un = _un_members()
    assert len(un) == 193
    for system in ("starlink", "oneweb"):
        rows = latest[latest["system"] == system]
        assert un <= set(rows["iso3"]), sorted(un - set(rows["iso3"]))
        assert not rows["iso3"].duplicated().any()
    assert latest["status"].isin(STATUSES).all()


def test_shipped_table_records_decisions() -> None:
    latest = landing_rights().set_index(["system", "iso3"])["status"]
    assert latest[("starlink", "USA")] == "authorised"
    assert latest[("starlink", "IRN")] == "prohibited"
    assert latest[("starlink", "CHN")] == "prohibited"
    assert latest[("starlink", "PAK")] == "pending"
    assert latest[("oneweb", "GBR")] == "authorised"
    counts = latest.groupby(level="system").value_counts()
    assert counts[("starlink", "authorised")] >= 30


def test_landing_rights_is_exported() -> None:
    assert orbitshare.landing_rights is landing_rights
    assert "landing_rights" in orbitshare.__all__
    assert default_path().name == "landing_rights.csv"


def test_system_family() -> None:
    assert system_family("starlink_gen2_granted") == "starlink"
    assert system_family("oneweb_phase1") == "oneweb"
    assert {"starlink", "oneweb", "kuiper", "guowang", "qianfan"} <= set(system_families())


# ------------------------------------------------------------------------------------ as_of selection
@pytest.mark.parametrize(
    ("day", "status"),
    [
        ("2021-02-08", "unknown"),  # before Arcep's first decision
        ("2021-02-09", "authorised"),  # the day of the decision counts
        ("2022-04-04", "authorised"),
        ("2022-04-05", "pending"),  # Conseil d'Etat annulled it
        ("2022-05-24", "pending"),
        ("2022-05-25", "authorised"),  # Arcep's new decision
        (None, "authorised"),
    ],
)
def test_status_changes_on_its_date(day: str | None, status: str) -> None:
    table = landing_rights(day)
    row = table[(table["system"] == "starlink") & (table["iso3"] == "FRA")]
    assert len(row) == 1
    assert row["status"].item() == status
    if status == "unknown":
        assert pd.isna(row["as_of"].item())
        assert row["source"].item() == "no row dated on or before 2021-02-08"
    else:
        assert row["as_of"].item() <= pd.Timestamp(day or "2026-12-06")


def test_as_of_accepts_dates_and_timestamps() -> None:
    expect = landing_rights("2022-05-01")
    for day in (
        dt.date(2022, 5, 1),
        dt.datetime(2022, 5, 1, 23, 59),
        np.datetime64("2022-05-01T12:00"),
        pd.Timestamp("2022-05-01 06:00"),
    ):
        pd.testing.assert_frame_equal(landing_rights(day), expect)


@pytest.mark.parametrize("bad", ["2022-13-01", "01/05/2022", "", 20220501, 3.5])
def test_as_of_rejects_non_dates(bad: object) -> None:
    with pytest.raises(ParameterError, match="as_of"):
        landing_rights(bad)


def test_user_table_selection(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# a comment\n"
        + HEADER
        + 'oneweb,NPL,pending,2023-01-10,"report: application filed, 10 Jan 2023"\n'
        + "\n"
        + "oneweb,NPL,authorised,2024-03-01,regulator: licence of 1 Mar 2024\n"
        + 'kuiper,NPL,prohibited,2025-01-01,"gazette: notice, 1 Jan 2025"\n',
    )
    before = landing_rights("2023-06-30", path=path).set_index(["system", "iso3"])
    after = landing_rights("2024-03-01", path=path).set_index(["system", "iso3"])
    assert before.loc[("oneweb", "NPL"), "status"] == "pending"
    assert before.loc[("kuiper", "NPL"), "status"] == "unknown"
    assert after.loc[("oneweb", "NPL"), "status"] == "authorised"
    assert landing_rights(path=path).set_index(["system", "iso3"]).loc[("kuiper", "NPL"), "source"] == (
        "gazette: notice, 1 Jan 2025"
    )
    assert list(read_landing_rights(path)["line"]) == [6, 3, 5]  # sorted by system, country, date


# -------------------------------------------------------------------------------------- bad input
def _one(path: Path, line: int | None, field: str, pattern: str) -> None:
    problems = _problems(path)
    assert len(problems) == 1, problems
    where = f"line {line}: " if line is not None else ""
    assert problems[0].startswith(f"{path}: {where}{field}: "), problems[0]
    assert re.search(pattern, problems[0]), problems[0]


@pytest.mark.parametrize(
    ("row", "field", "pattern"),
    [
        ("starlink,XYZ,authorised,2021-02-09,report: x\n", "iso3", r"ISO 3166-1 alpha-3.*got 'XYZ'"),
        ("starlink,,authorised,2021-02-09,report: x\n", "iso3", r"got nothing"),
        ("skylink,FRA,authorised,2021-02-09,report: x\n", "system", r"system family.*got 'skylink'"),
        ("starlink_gen1,FRA,authorised,2021-02-09,report: x\n", "system", r"got 'starlink_gen1'"),
        (
            "starlink,FRA,allowed,2021-02-09,report: x\n",
            "status",
            r"authorised, pending, prohibited, unknown, got 'allowed'",
        ),
        ("starlink,FRA,authorised,,report: x\n", "as_of", r"got nothing \(an undated row\)"),
        ("starlink,FRA,authorised,2021-02-30,report: x\n", "as_of", r"YYYY-MM-DD, got '2021-02-30'"),
        ("starlink,FRA,authorised,9 Feb 2021,report: x\n", "as_of", r"got '9 Feb 2021'"),
        ("starlink,FRA,authorised,20210209,report: x\n", "as_of", r"got '20210209'"),
        ("starlink,FRA,authorised,2021-02-09,\n", "source", r"got nothing"),
        ("starlink,FRA,authorised,2021-02-09,   \n", "source", r"got nothing"),
        ("starlink,FRA,authorised,2021-02-09\n", "row", r"expected 5 fields .*got 4"),
        ('starlink,FRA,authorised,2021-02-09,"report: unclosed\n', "row", r"expected a CSV row"),
    ],
)
def test_bad_row(tmp_path: Path, row: str, field: str, pattern: str) -> None:
    path = _write(tmp_path, "# comment\n" + HEADER + GOOD + row)
    _one(path, 4, field, pattern)


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "starlink,XYZ,authorised,2021-02-09,report: x\n"
        + "oneweb,FRA,maybe,,\n"
        + GOOD
        + GOOD.replace("authorised", "pending"),
    )
    problems = _problems(path)
    assert [p.split(": ")[1:3] for p in problems] == [
        ["line 2", "iso3"],
        ["line 3", "status"],
        ["line 3", "as_of"],
        ["line 3", "source"],
        ["line 5", "as_of"],
    ]
    assert "a second row for (starlink, FRA, 2021-02-09); the first is at line 4" in problems[-1]


@pytest.mark.parametrize(
    ("name", "content", "line", "field", "pattern"),
    [
        ("rights.txt", HEADER + GOOD, None, "file", r"expected a \.csv.*'\.txt'"),
        ("rights.parquet", "PAR1", None, "file", r"expected a \.csv"),
        ("rights.csv", "system;iso3;status;as_of;source\n" + GOOD, 1, "header", r"expected the columns"),
        ("rights.csv", "iso3,system,status,as_of,source\n" + GOOD, 1, "header", r"got 'iso3,system"),
        ("rights.csv", "# only comments\n\n", None, "header", r"empty table"),
    ],
)
def test_bad_file(tmp_path: Path, name: str, content: str, line: int | None, field: str, pattern: str) -> None:
    _one(_write(tmp_path, content, name), line, field, pattern)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "rights.csv"
    binary.write_bytes(HEADER.encode() + GOOD.encode() + b"\xff\xfe\x00\x01garbage\n")
    _one(binary, 3, "file", r"not UTF-8")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(HEADER.encode() + b"a\x00b\n")
    _one(nul, 2, "file", r"binary data")
    _one(tmp_path / "absent.csv", None, "file", r"no such file")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    _one(folder, None, "file", r"directory")


def test_landing_rights_validates_the_table(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "starlink,FRA,authorised,2021-02-09,\n")
    with pytest.raises(ConfigError, match=r"line 2: source"):
        landing_rights(path=path)


# ============================================================================ servable countries
def test_servable_all_is_none() -> None:
    assert servable_countries("starlink", "all", "2026-01-01") is None
    assert SCENARIOS["all"] is None


@pytest.mark.parametrize(
    ("day", "authorised", "with_pending"),
    [("2021-01-01", False, False), ("2021-03-01", True, True), ("2022-05-01", False, True), ("2022-06-01", True, True)],
)
def test_servable_follows_the_status_changes(day: str, authorised: bool, with_pending: bool) -> None:
    # FRA: authorised 2021-02-09, pending 2022-04-05, authorised 2022-05-25
    assert ("FRA" in servable_countries("starlink", "authorised", day)) is authorised
    assert ("FRA" in servable_countries("starlink", "authorised+pending", day)) is with_pending


def test_servable_from_a_user_table(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + "starlink,DEU,pending,2021-02-09,report: x\n")
    assert servable_countries("starlink", str(path), "2022-01-01") == ("FRA",)
    assert servable_countries("oneweb", str(path), "2022-01-01") == ()
    assert servable_countries("starlink", "authorised+pending", "2022-01-01", path) == ("DEU", "FRA")


def test_servable_bad_scenario_and_table(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="scenario: expected 'all', 'authorised'"):
        servable_countries("starlink", "authorized", "2026-01-01")
    assert scenario_problem(3) is not None and scenario_problem("x.CSV") is None
    path = _write(tmp_path, "not a table", name="rights.txt")
    with pytest.raises(ConfigError, match="rights.txt: file: expected a .csv"):
        servable_countries("starlink", "authorised", "2026-01-01", path)


def test_compose_countries() -> None:
    assert compose_countries(None, None, ()) == (None, ())
    assert compose_countries(None, ("FRA",), ("IND",)) == (("FRA",), ("IND",))
    assert compose_countries(("DEU", "FRA"), None, ()) == (("DEU", "FRA"), ())
    assert compose_countries(("DEU", "FRA"), ("ITA", "FRA"), ("IND",), ("CHN", "IND")) == (("FRA",), ("IND", "CHN"))
