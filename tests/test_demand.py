"""Demand and adoption tables (orbitshare.demand): every invalid field names itself; every problem of an
adoption table names the file, the line and the field, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from orbitshare import demand as demand_module
from orbitshare.demand import (
    DEFAULT_ADOPTION,
    DEFAULT_BUSY_HOUR_MBPS,
    DEFAULT_OVERBOOKING,
    Demand,
    demand_problems,
    read_adoption,
)
from orbitshare.errors import DataError, ParameterError

HEADER = "iso3,adoption,as_of,source\n"


def write(tmp_path, text, name="adoption.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ============================================================================ Demand
def test_defaults_are_the_module_constants():
    d = Demand()
    assert (d.adoption, d.busy_hour_mbps, d.thresholds_mbps, d.overbooking) == (
        DEFAULT_ADOPTION,
        DEFAULT_BUSY_HOUR_MBPS,
        (10.0, 25.0, 100.0),
        DEFAULT_OVERBOOKING,
    )
    assert d.adoption_by_country is None and d.adoption_source == ""
    assert d.active_user_mbps == DEFAULT_BUSY_HOUR_MBPS * DEFAULT_OVERBOOKING


def test_default_values_are_the_sourced_figures():
    """The defaults against docs/allocation_parameters.md: adoption 1 % and overbooking 20 ([OO21], stated);
    busy hour = Ofcom 2021 453 GB/month as a mean rate x Cisco VNI's busy/average ratio 1.72 (derived)."""
    assert DEFAULT_ADOPTION == 0.01
    assert DEFAULT_OVERBOOKING == 20.0
    mean_mbps = 453e9 * 8 / (30.4 * 86_400) / 1e6  # Ofcom Connected Nations 2021, per fixed connection
    assert round(mean_mbps, 2) == 1.38
    assert round(mean_mbps * 1.72, 2) == 2.37
    assert DEFAULT_BUSY_HOUR_MBPS == round(mean_mbps * 1.72, 1) == 2.4
    # each constant's comment names its source
    source = Path(demand_module.__file__).read_text(encoding="utf-8")
    comments = {}
    for name in ("DEFAULT_ADOPTION", "DEFAULT_BUSY_HOUR_MBPS", "DEFAULT_OVERBOOKING"):
        head = source.split(f"\n{name} = ")[0].rsplit("\n\n", 1)[1]
        assert head.startswith("# source: ") and "docs/allocation_parameters.md" in head
        comments[name] = head
    assert "Oughton 2021" in comments["DEFAULT_ADOPTION"] and "1 %" in comments["DEFAULT_ADOPTION"]
    assert "Oughton 2021" in comments["DEFAULT_OVERBOOKING"] and "factor 20" in comments["DEFAULT_OVERBOOKING"]
    busy = comments["DEFAULT_BUSY_HOUR_MBPS"]
    assert all(part in busy for part in ("Ofcom", "453 GB/month", "1.38 Mbit/s", "Cisco VNI", "1.38 x 1.72 = 2.37"))
    # the figures quoted are those of the parameters document
    doc = (Path(__file__).parents[1] / "docs" / "allocation_parameters.md").read_text(encoding="utf-8")
    for figure in ("| 453 GB/month |", "| 1.38 Mbit/s |", "| 1.72 (global, 2010) |", "| 2.37 Mbit/s | 1.38 × 1.72 |"):
        assert figure in doc
    assert '| [OO21] overbooking factor | 20 ("1 in 20 users access the network") |' in doc
    assert "1 % (baseline)" in doc


def test_overbooking_and_the_active_user_rate():
    d = Demand(busy_hour_mbps=3, overbooking=8)
    assert d.overbooking == 8.0 and isinstance(d.overbooking, float)
    assert d.active_user_mbps == 24.0
    assert Demand(busy_hour_mbps=0.3, overbooking=0.5).active_user_mbps == pytest.approx(0.15)
    assert Demand(overbooking=10) != Demand() and Demand(overbooking=20) == Demand()


def test_values_are_normalised_and_adoption_of():
    d = Demand(adoption=0, adoption_by_country={"FRA": 1, "DEU": 0.25}, busy_hour_mbps=3, thresholds_mbps=[5, 50])
    assert d.adoption == 0.0 and isinstance(d.adoption, float) and d.busy_hour_mbps == 3.0
    assert d.thresholds_mbps == (5.0, 50.0) and isinstance(d.thresholds_mbps, tuple)
    assert (d.adoption_of("FRA"), d.adoption_of("deu"), d.adoption_of("ITA")) == (1.0, 0.25, 0.0)
    assert Demand(adoption=0.3).adoption_of("FRA") == 0.3
    # the table is copied: changing the caller's dict changes nothing
    shares = {"FRA": 0.5}
    d = Demand(adoption_by_country=shares)
    shares["FRA"] = 0.9
    assert d.adoption_of("FRA") == 0.5
    # hashable (the table takes no part in the hash) and the source takes no part in comparisons
    assert hash(d) == hash(Demand(adoption_by_country={"FRA": 0.7}))
    assert Demand(adoption_source="a") == Demand(adoption_source="b")
    assert Demand(adoption_by_country={"FRA": 0.5}) != Demand(adoption_by_country={"FRA": 0.6})


@pytest.mark.parametrize(
    "kw, field, detail",
    [
        ({"adoption": 1.5}, "adoption", "expected a share of the population in [0, 1], got 1.5"),
        ({"adoption": -0.01}, "adoption", "expected a share of the population in [0, 1], got -0.01"),
        ({"adoption": float("nan")}, "adoption", "expected a share of the population in [0, 1], got nan"),
        ({"adoption": True}, "adoption", "expected a share of the population in [0, 1], got True"),
        ({"adoption": "0.05"}, "adoption", "expected a share of the population in [0, 1], got '0.05'"),
        ({"busy_hour_mbps": 0}, "busy_hour_mbps", "expected a number of Mbit/s > 0, got 0"),
        ({"busy_hour_mbps": float("inf")}, "busy_hour_mbps", "expected a number of Mbit/s > 0, got inf"),
        (
            {"busy_hour_mbps": 10**400},
            "busy_hour_mbps",
            "expected a number of Mbit/s > 0, got 1000000000000000000000000000000000000000... (long)",
        ),
        (
            {"thresholds_mbps": []},
            "thresholds_mbps",
            "expected a non-empty sequence of Mbit/s > 0, increasing, got none",
        ),
        ({"thresholds_mbps": 10}, "thresholds_mbps", "expected a non-empty sequence of Mbit/s > 0, increasing, got 10"),
        (
            {"thresholds_mbps": "10"},
            "thresholds_mbps",
            "expected a non-empty sequence of Mbit/s > 0, increasing, got '10'",
        ),
        ({"thresholds_mbps": [10, 0]}, "thresholds_mbps[1]", "expected a number of Mbit/s > 0, got 0"),
        ({"thresholds_mbps": [10, float("nan")]}, "thresholds_mbps[1]", "expected a number of Mbit/s > 0, got nan"),
        (
            {"thresholds_mbps": [10, 10]},
            "thresholds_mbps[1]",
            "expected a number of Mbit/s > thresholds_mbps[0] (10) (increasing, each once), got 10",
        ),
        (
            {"adoption_by_country": {"FRA": 2}},
            "adoption_by_country[FRA]",
            "expected a share of the population in [0, 1], got 2",
        ),
        (
            {"adoption_by_country": {"fr": 0.5}},
            "adoption_by_country",
            "expected ISO 3166-1 alpha-3 codes (three capitals), got 'fr'",
        ),
        (
            {"adoption_by_country": [("FRA", 0.5)]},
            "adoption_by_country",
            "expected a mapping of ISO 3166-1 alpha-3 codes to shares, got list",
        ),
        ({"adoption_source": 3}, "adoption_source", "expected a string, got 3"),
        ({"overbooking": 0}, "overbooking", "expected a number of subscribers per active user > 0, got 0"),
        ({"overbooking": -20}, "overbooking", "expected a number of subscribers per active user > 0, got -20"),
        ({"overbooking": float("inf")}, "overbooking", "expected a number of subscribers per active user > 0, got inf"),
        ({"overbooking": float("nan")}, "overbooking", "expected a number of subscribers per active user > 0, got nan"),
        ({"overbooking": "20"}, "overbooking", "expected a number of subscribers per active user > 0, got '20'"),
        ({"overbooking": True}, "overbooking", "expected a number of subscribers per active user > 0, got True"),
    ],
)
def test_each_invalid_field_is_named(kw, field, detail):
    with pytest.raises(ParameterError) as info:
        Demand(**kw)
    assert str(info.value) == f"Demand.{field}: {detail}"
    assert demand_problems(**kw) == [(field, detail)]


def test_every_problem_at_once():
    found = demand_problems(adoption=2, busy_hour_mbps=-1, thresholds_mbps=[25, 10, 0], overbooking=0)
    assert [f for f, _ in found] == [
        "adoption",
        "busy_hour_mbps",
        "thresholds_mbps[1]",
        "thresholds_mbps[2]",
        "overbooking",
    ]
    assert demand_problems() == []


# ============================================================================ adoption tables
def test_read_a_good_table(tmp_path):
    p = write(
        tmp_path,
        "\ufeff# a comment\n"
        + HEADER
        + "FRA,0.12,2025-11-01,https://example.org/itu-facts-and-figures\n"
        + "\n"
        + 'DEU,1,2025-11-01,"ITU Facts and Figures 2025, table 3"\n'
        + "KIR,0,2024-01-31,a report\n"
        + "TCD,unknown,2025-11-01,no figure found in ITU Facts and Figures 2025\n",
    )
    assert read_adoption(p) == {"FRA": 0.12, "DEU": 1.0, "KIR": 0.0}  # unknown: left out (takes the default)
    assert read_adoption(str(p)) == read_adoption(p)


@pytest.mark.parametrize(
    "row, field, detail",
    [
        (
            "XYZ,0.1,2025-01-01,src",
            "iso3",
            "expected an ISO 3166-1 alpha-3 code of the country groups table, got 'XYZ'",
        ),
        (
            "fra,0.1,2025-01-01,src",
            "iso3",
            "expected an ISO 3166-1 alpha-3 code of the country groups table, got 'fra'",
        ),
        (",0.1,2025-01-01,src", "iso3", "expected an ISO 3166-1 alpha-3 code of the country groups table, got nothing"),
        ("FRA,1.5,2025-01-01,src", "adoption", "expected a share of the population in [0, 1] or 'unknown', got '1.5'"),
        ("FRA,-0,x,src", "as_of", "expected an ISO date YYYY-MM-DD, got 'x'"),
        ("FRA,nan,2025-01-01,src", "adoption", "expected a share of the population in [0, 1] or 'unknown', got 'nan'"),
        ("FRA,,2025-01-01,src", "adoption", "expected a share of the population in [0, 1] or 'unknown', got nothing"),
        ("FRA,0.1,2025-02-30,src", "as_of", "expected an ISO date YYYY-MM-DD, got '2025-02-30'"),
        ("FRA,0.1,,src", "as_of", "expected an ISO date YYYY-MM-DD, got nothing (an undated row)"),
        (
            "FRA,0.1,2025-01-01,",
            "source",
            "expected the source of the figure (a URL or a document citation), got nothing",
        ),
        ("FRA,0.1,2025-01-01", "row", "expected 4 fields (iso3, adoption, as_of, source), got 3"),
        ('FRA,0.1,2025-01-01,"open', "row", "expected a CSV row, got unexpected end of data"),
    ],
)
def test_each_bad_row_names_file_line_and_field(tmp_path, row, field, detail):
    p = write(tmp_path, HEADER + "DEU,0.2,2025-01-01,src\n" + row + "\n")
    with pytest.raises(DataError) as info:
        read_adoption(p)
    assert str(info.value) == f"{p}: line 3: {field}: {detail}"


def test_every_problem_of_a_table_at_once(tmp_path):
    p = write(
        tmp_path,
        HEADER + "FRA,0.1,2025-01-01,src\n" + "XYZ,2,2025-13-01,\n" + "FRA,0.3,2025-01-01,src\n",
    )
    with pytest.raises(DataError) as info:
        read_adoption(p)
    assert str(info.value).split("\n") == [
        f"{p}: line 3: iso3: expected an ISO 3166-1 alpha-3 code of the country groups table, got 'XYZ'",
        f"{p}: line 3: adoption: expected a share of the population in [0, 1] or 'unknown', got '2'",
        f"{p}: line 3: as_of: expected an ISO date YYYY-MM-DD, got '2025-13-01'",
        f"{p}: line 3: source: expected the source of the figure (a URL or a document citation), got nothing",
        f"{p}: line 4: iso3: expected each country once, got 'FRA' again (line 2)",
    ]


def test_bad_files(tmp_path):
    cases = {
        "header.csv": (
            "iso3,share,as_of,source\nFRA,0.1,2025-01-01,src\n",
            "line 1: header: expected the columns iso3,adoption,as_of,source, got 'iso3,share,as_of,source'",
        ),
        "empty.csv": ("# nothing\n\n", "header: expected the columns iso3,adoption,as_of,source, got an empty table"),
        "norows.csv": (HEADER, "rows: expected at least one country row, got none"),
        "nul.csv": (
            HEADER + "FRA,0.1\x00,2025-01-01,src\n",
            "line 2: file: expected a CSV table, got binary data (a NUL byte)",
        ),
    }
    for name, (text, message) in cases.items():
        p = write(tmp_path, text, name)
        with pytest.raises(DataError) as info:
            read_adoption(p)
        assert str(info.value) == f"{p}: {message}"
    with pytest.raises(DataError, match=r"adoption\.txt: file: expected a \.csv adoption table, got '\.txt' file"):
        read_adoption(write(tmp_path, HEADER, "adoption.txt"))
    with pytest.raises(DataError, match=r"missing\.csv: file: no such file"):
        read_adoption(tmp_path / "missing.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match=r"dir\.csv: file: expected a \.csv file, got a directory"):
        read_adoption(tmp_path / "dir.csv")
    (tmp_path / "latin1.csv").write_bytes(HEADER.encode() + b"FRA,0.1,2025-01-01,caf\xe9\n")
    with pytest.raises(DataError, match=r"latin1\.csv: line 2: file: not UTF-8 text"):
        read_adoption(tmp_path / "latin1.csv")
