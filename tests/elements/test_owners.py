"""Owner attribution: mapping tables against the fact tables, real catalogs, unknown codes."""

import csv
import re
from collections import Counter

import numpy as np
import pytest

from orbitshare import ElementSet, load_elements
from orbitshare.elements.filings import filing_elements, filing_systems, load_filings
from orbitshare.elements.owners import (
    KINDS,
    SCHEMES,
    UNATTRIBUTED,
    filing_administrations,
    owner_rows,
    owner_table,
    satellite_owners,
)
from orbitshare.errors import DataError
from orbitshare.geo.build import country_groups

OMM = "omm/celestrak_gp_csv_2026-08-18"
NO_COUNTRY_KINDS = {"igo", "multinational", "historical", "unknown"}


def _elements(norad, names=None):
    n = len(norad)
    z = np.zeros(n)
    return ElementSet.from_arrays(
        norad=np.asarray(norad, np.int64),
        name=np.array(names or [""] * n, dtype=object),
        epoch=np.full(n, np.datetime64("2026-01-01T00:00:00", "ns")),
        mean_motion=z + 15.0,
        eccentricity=z,
        inclination=z + 53.0,
        raan=z,
        arg_perigee=z,
        mean_anomaly=z,
    )


# ------------------------------------------------------------------------------ tables
def test_tables_well_formed():
    known_iso = set(country_groups()["iso3"])
    for scheme in SCHEMES:
        t = owner_table(scheme)
        assert t, scheme
        for code, row in t.items():
            assert code and code == code.strip()
            assert row["kind"] in KINDS, (scheme, code, row)
            if row["iso3"]:
                assert re.fullmatch(r"[A-Z]{3}", row["iso3"]), (scheme, code)
                assert row["iso3"] in known_iso, (scheme, code, row["iso3"])
                assert row["kind"] not in NO_COUNTRY_KINDS, (scheme, code)
            else:
                assert row["kind"] in NO_COUNTRY_KINDS, (scheme, code, row)
    with pytest.raises(ValueError, match="scheme"):
        owner_table("spacetrack")


def test_no_duplicate_codes():

    keys = Counter((r["scheme"], r["code"]) for r in owner_rows())
    assert [k for k, v in keys.items() if v > 1] == []


def test_gcat_table_matches_facts(shared_data):
    table = owner_table("gcat")
    with open(shared_data / "satcat" / "gcat_state_codes_to_iso3.csv", encoding="utf-8") as fh:
        facts = list(csv.DictReader(fh))
    assert len(facts) > 200
    for r in facts:
        assert r["gcat_code"] in table, r["gcat_code"]
        assert table[r["gcat_code"]]["iso3"] == r["iso3"], r["gcat_code"]
        if r["gcat_type"] == "IGO":
            assert table[r["gcat_code"]]["kind"] == "igo"
    assert len(table) == len(facts)


def test_celestrak_table_matches_facts(shared_data):
    table = owner_table("celestrak")
    with open(shared_data / "satcat" / "celestrak_owner_codes.csv", encoding="utf-8") as fh:
        facts = list(csv.DictReader(fh))
    assert len(facts) > 100
    for r in facts:
        assert r["owner_code"] in table, r["owner_code"]
        assert table[r["owner_code"]]["iso3"] == r["iso3"], r["owner_code"]
    assert table["CIS"]["iso3"] == "RUS" and table["UK"]["iso3"] == "GBR"
    assert table["ESA"]["kind"] == "igo" and table["CHBZ"]["kind"] == "multinational"


def test_every_gcat_and_ucs_value_is_mapped(shared_data):
    """Every UNState code in psatcat and every UCS operator country is in the tables."""
    gcat, ucs = owner_table("gcat"), owner_table("ucs")
    with open(shared_data / "satcat" / "gcat_psatcat_2025-04-07.tsv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    col = rows[0].index("UNState")
    codes = {re.sub(r"[\[\]*?]", "", r[col]) for r in rows[2:]} - {"-"}
    assert sorted(codes - set(gcat)) == []
    with open(shared_data / "satcat" / "ucs_satellite_database_2023-05-01.csv", encoding="utf-8") as fh:
        names = {r["Country of Operator/Owner"].strip() for r in csv.DictReader(fh)}
    assert sorted(names - set(ucs)) == []
    assert ucs["USA"]["iso3"] == "USA" and ucs["United Kingdom"]["iso3"] == "GBR"
    assert ucs["ESA"]["kind"] == "igo" and ucs["Multinational"]["iso3"] == ""


# ------------------------------------------------------------------------------ real catalogs
def test_starlink_usa(shared_data):
    els = load_elements(shared_data / OMM / "starlink.csv")
    by_gcat = satellite_owners(els, data_dir=shared_data, sources=("gcat",))
    decided = by_gcat.owner_source == "gcat"
    # GCAT (2025-04) knows the older ~60 % of today's Starlinks, all registered by the USA
    assert decided.mean() > 0.55
    assert set(by_gcat.owner[decided]) == {"USA"}
    assert set(by_gcat.owner_kind[~decided]) == {"not_found"}
    own = satellite_owners(els, data_dir=shared_data)  # gcat, ucs, then the constellation name
    assert own.share("USA") >= 0.95
    assert len(own) == len(els) and np.array_equal(own.norad, els.norad)
    assert own.by_source()["gcat"] == int(decided.sum())
    assert "unmapped" not in own.report()


def test_oneweb_gbr(shared_data):
    els = load_elements(shared_data / OMM / "oneweb.csv")
    own = satellite_owners(els, data_dir=shared_data, sources=("gcat",))
    assert own.share("GBR") >= 0.95
    ucs = satellite_owners(els, data_dir=shared_data, sources=("ucs",))
    assert set(ucs.owner[ucs.owner_source == "ucs"]) == {"GBR"}


def test_geo_catalog(shared_data):
    els = load_elements(shared_data / "tle/celestrak_tle_2026-05-30/geo.tle")
    own = satellite_owners(els, data_dir=shared_data)
    shares = own.shares()
    assert list(shares)[0] == "USA" and shares["CHN"] > 0.1
    assert shares[UNATTRIBUTED] < 0.1
    igo = own.owner_kind == "igo"
    assert igo.any() and set(own.owner[igo]) == {UNATTRIBUTED}
    assert own.unmapped == {}
    ds = own.to_dataset()
    assert ds.sizes["satellite"] == len(els) and ds["owner"].dtype.kind == "U"


# ------------------------------------------------------------------------------ synthetic catalogs
@pytest.fixture
def fake_dir(tmp_path):
    sat = tmp_path / "satcat"
    sat.mkdir()
    gcat_rows = [
        ("S00001", "US"),
        ("S00002", "[CN]*"),
        ("S00003", "ZZ"),
        ("S00004", "I-ESA"),
        ("S00005", "-"),
        ("S00006", "I-ESA"),
        ("S00007", "SU"),
    ]
    lines = ["#JCAT\tPiece\tName\tUNState\tComment", "# Updated test"]
    lines += [f"{j}\tx\tsat\t{s}\t-" for j, s in gcat_rows]
    (sat / "gcat_psatcat_2030-01-01.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ucs = ["Name,Country of Operator/Owner,NORAD Number", "a,France,6", "b,Atlantis,8", "c,USA/Japan,9", "d,Japan,5"]
    (sat / "ucs_satellite_database_2030-01-01.csv").write_text("\n".join(ucs) + "\n", encoding="utf-8")
    sc = ["OBJECT_NAME,NORAD_CAT_ID,OWNER", "x,10,PRC", "y,11,NEWCO", "z,1,FR"]
    (tmp_path / "mysatcat.csv").write_text("\n".join(sc) + "\n", encoding="utf-8")
    return tmp_path


def test_unknown_codes_are_unattributed(fake_dir):
    els = _elements(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13], ["", "", "", "", "", "", "", "", "", "STARLINK-99", "NEWCONSTELLATION-1"]
    )
    own = satellite_owners(els, data_dir=fake_dir)
    got = dict(zip(own.norad.tolist(), own.owner.tolist(), strict=True))
    assert got == {
        1: "USA",
        2: "CHN",
        3: UNATTRIBUTED,
        4: UNATTRIBUTED,
        5: "JPN",
        6: "FRA",
        7: "RUS",
        8: UNATTRIBUTED,
        9: UNATTRIBUTED,
        12: "USA",
        13: UNATTRIBUTED,
    }
    kind = dict(zip(own.norad.tolist(), own.owner_kind.tolist(), strict=True))
    assert kind[3] == "unmapped" and kind[4] == "igo" and kind[8] == "unmapped"
    assert kind[9] == "multinational" and kind[13] == "not_found"
    src = dict(zip(own.norad.tolist(), own.owner_source.tolist(), strict=True))
    assert src[5] == "ucs" and src[6] == "ucs" and src[12] == "name" and src[13] == ""
    assert own.owner_code[1] == "[CN]*"
    assert own.unmapped == {("gcat", "ZZ"): 1, ("ucs", "Atlantis"): 1}
    assert "gcat:ZZ" in own.report() and "unattributed: 5" in own.report()


def test_celestrak_satcat(fake_dir):
    els = _elements([10, 11, 1, 99])
    own = satellite_owners(els, data_dir=fake_dir, satcat=fake_dir / "mysatcat.csv")
    assert own.sources[0] == "celestrak"
    assert own.owner.tolist() == ["CHN", UNATTRIBUTED, "FRA", UNATTRIBUTED]
    assert own.unmapped == {("celestrak", "NEWCO"): 1}


def test_administration_overrides(fake_dir):
    els = _elements([1, 2, 200001], ["", "", "KUIPER-X"])
    own = satellite_owners(els, data_dir=fake_dir, administration={200001: "GBR"})
    assert own.owner.tolist() == ["USA", "CHN", "GBR"]
    assert own.owner_source.tolist() == ["gcat", "gcat", "administration"]
    own = satellite_owners(els, sources=(), administration="FRA")
    assert set(own.owner) == {"FRA"}
    own = satellite_owners(els, sources=("name",), administration=["", None, ""])
    assert own.owner.tolist() == [UNATTRIBUTED, UNATTRIBUTED, "USA"]
    with pytest.raises(ValueError, match="alpha-3"):
        satellite_owners(els, sources=(), administration="France")
    with pytest.raises(ValueError, match="3 values"):
        satellite_owners(els, sources=(), administration=["USA"])


def test_data_dir_from_env_and_errors(fake_dir, tmp_path_factory, monkeypatch):
    els = _elements([1])
    monkeypatch.setenv("ORBITSHARE_DATA_DIR", str(fake_dir))
    assert satellite_owners(els).owner.tolist() == ["USA"]
    monkeypatch.delenv("ORBITSHARE_DATA_DIR")
    with pytest.raises(DataError, match="ORBITSHARE_DATA_DIR"):
        satellite_owners(els)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(DataError, match="GCAT"):
        satellite_owners(els, data_dir=empty)
    with pytest.raises(ValueError, match="sources"):
        satellite_owners(els, sources=("spacetrack",))
    assert satellite_owners(_elements([]), sources=("name",)).counts() == {}


def test_filed_systems():
    """Filed (Walker) systems: the filings table's operator country, and the name rule agrees."""

    country = {sh.system_id: sh.operator_country_iso3 for sh in load_filings()}
    for system in filing_systems():
        els = filing_elements(system)
        admin = filing_administrations(els)
        assert set(admin) == {country[system]}, system
        own = satellite_owners(els, sources=("name",), administration=admin)
        assert set(own.owner_source) == {"administration"}
        assert set(satellite_owners(els, sources=("name",)).owner) == {country[system]}, system
    assert filing_administrations(_elements([25544])).tolist() == [""]
