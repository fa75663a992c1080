"""The filings table, its agreement with the reference fact table, and the shipped tle/ files."""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from sgp4.alpha5 import from_alpha5
from sgp4.api import WGS72, Satrec

from orbitshare.elements.filings import (
    ALPHA5_MAX,
    DEFAULT_EPOCH,
    assumed_planes,
    filing_elements,
    filing_systems,
    generate_tle_dir,
    load_filings,
    read_manifest,
)
from orbitshare.elements.read import load_elements
from orbitshare.errors import DataError, OrbitshareError

REPO = Path(__file__).resolve().parents[2]
TLE_DIR = REPO / "tle"
PACKAGE_CSV = REPO / "src" / "orbitshare" / "data" / "filings.csv"

EXPECTED_COUNTS = {
    "starlink_gen1": 4408,
    "starlink_gen2_granted": 10080,
    "oneweb_phase1": 588,
    "kuiper": 3236,
    "telesat_lightspeed": 198,
    "guowang": 12992,
    "qianfan_phase1": 1296,
    "iridium_next": 66,
    "globalstar": 48,
    "o3b": 20,
}


@pytest.fixture(scope="module")
def shells():
    return load_filings()


# ------------------------------------------------------------------------------------------
# the table itself
# ------------------------------------------------------------------------------------------


def test_table_loads_typed(shells):
    assert len(shells) == 25
    s = shells[0]
    assert (s.system_id, s.shell, s.altitude_km, s.planes, s.sats_per_plane) == (
        "starlink_gen1",
        "G1-S1",
        550.0,
        72,
        22,
    )
    assert isinstance(s.planes_assumed, bool) and isinstance(s.norad_first, int)
    assert filing_systems(shells) == list(EXPECTED_COUNTS)


def test_totals_per_system(shells):
    totals = defaultdict(int)
    for s in shells:
        assert s.planes * s.sats_per_plane == s.total_sats
        assert 0 <= s.phasing < s.planes
        totals[s.system_id] += s.total_sats
    assert dict(totals) == EXPECTED_COUNTS


def test_norad_ranges_unique_and_alpha5(shells):
    ranges = sorted((s.norad_first, s.norad_last) for s in shells)
    for (_a0, a1), (b0, _) in zip(ranges, ranges[1:], strict=False):
        assert a1 < b0
    assert ranges[0][0] >= 200000 and ranges[-1][1] <= ALPHA5_MAX
    for k, s in enumerate(shells):
        assert s.norad_first == 200000 + 4000 * k  # the documented block rule


def test_assumed_planes_follow_the_rule(shells):
    assumed = [s for s in shells if s.planes_assumed]
    assert {s.system_id for s in assumed} == {"guowang", "qianfan_phase1"}
    for s in assumed:
        assert s.planes == assumed_planes(s.total_sats)
    assert assumed_planes(1296) == 36 and assumed_planes(480) == 20 and assumed_planes(7) == 1
    for s in shells:
        if s.phasing_assumed:
            assert s.phasing == (1 if s.planes > 1 else 0)


def test_names_fit_tle_line_zero(shells):
    for s in shells:
        longest = f"{s.name_prefix}-P{s.planes:02d}S{s.sats_per_plane:02d}"
        assert len(longest) <= 24, longest


# ------------------------------------------------------------------------------------------
# against the reference fact table (shared/data)
# ------------------------------------------------------------------------------------------


def _facts(shared_data):
    path = shared_data / "constellations" / "constellation_shells.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        return {row["shell_id"]: row for row in csv.DictReader(fh)}


@pytest.mark.shared
def test_shells_match_fact_table(shared_data, shells):
    facts = _facts(shared_data)
    for s in shells:
        f = facts[s.shell]
        assert float(f["altitude_km"]) == s.altitude_km, s.shell
        assert float(f["inclination_deg"]) == s.inclination_deg, s.shell
        if f["total_sats"]:
            assert int(f["total_sats"]) == s.total_sats, s.shell
        else:  # O3b: count from the status note
            assert str(s.total_sats) in f["status_note"]
        if f["planes"]:
            assert int(f["planes"]) == s.planes and not s.planes_assumed, s.shell
        else:
            assert s.planes_assumed, s.shell
        if f["sats_per_plane"]:
            assert int(f["sats_per_plane"]) == s.sats_per_plane, s.shell
        assert f["operator_country_iso3"] == s.operator_country_iso3, s.shell
        assert f["confidence"] == s.confidence, s.shell


@pytest.mark.shared
def test_system_totals_match_fact_table(shared_data, shells):
    facts = _facts(shared_data)
    ours = defaultdict(int)
    theirs = defaultdict(int)
    for s in shells:
        ours[s.system_id] += s.total_sats
        if facts[s.shell]["total_sats"]:
            theirs[s.system_id] += int(facts[s.shell]["total_sats"])
    del ours["o3b"]
    assert dict(ours) == dict(theirs)
    # the headline numbers of the fact sheet's README
    assert theirs["starlink_gen1"] == 4408 and theirs["kuiper"] == 3236
    assert theirs["guowang"] == 12992 and theirs["qianfan_phase1"] == 1296
    assert theirs["telesat_lightspeed"] == 198 and theirs["oneweb_phase1"] == 588
    # every shell the brief asks for is present
    for shell in (
        "G1-S1",
        "G1-S2",
        "G1-S3",
        "G1-S4",
        "G1-S5",
        "G2-E",
        "G2-F",
        "G2-G",
        "OW1",
        "K1",
        "K2",
        "K3",
        "TL-P",
        "TL-I",
        "GW-A59-1",
        "GW-A59-2",
        "GW-A59-3",
        "GW-2-1",
        "GW-2-2",
        "GW-2-3",
        "GW-2-4",
        "QF-1",
    ):
        assert any(s.shell == shell for s in shells), shell


# ------------------------------------------------------------------------------------------
# bad tables
# ------------------------------------------------------------------------------------------


def _rewrite(tmp_path, edit):
    rows = list(csv.reader(PACKAGE_CSV.read_text(encoding="utf-8").splitlines()))
    edit(rows)
    path = tmp_path / "filings.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_bad_table_names_line_and_column(tmp_path):
    def wrong_total(rows):
        rows[3][rows[0].index("total_sats")] = "999"

    with pytest.raises(DataError, match=r"line 4, column total_sats"):
        load_filings(_rewrite(tmp_path, wrong_total))

    def beyond_alpha5(rows):
        rows[1][rows[0].index("norad_first")] = "339000"

    with pytest.raises(DataError, match="norad_first"):
        load_filings(_rewrite(tmp_path, beyond_alpha5))

    def overlap(rows):
        rows[2][rows[0].index("norad_first")] = "200100"

    with pytest.raises(DataError, match="overlap"):
        load_filings(_rewrite(tmp_path, overlap))

    def no_column(rows):
        col = rows[0].index("phasing")
        for r in rows:
            del r[col]

    with pytest.raises(DataError, match="missing column"):
        load_filings(_rewrite(tmp_path, no_column))

    with pytest.raises(DataError, match="cannot read"):
        load_filings(tmp_path / "absent.csv")


# ------------------------------------------------------------------------------------------
# element sets and the shipped tle/ directory
# ------------------------------------------------------------------------------------------


def test_filing_elements_by_id_and_name():
    es = filing_elements("kuiper", DEFAULT_EPOCH)
    assert len(es) == 3236
    norad = np.asarray(es.norad)
    assert norad[0] == 236000 and norad[1156] == 240000 and norad[-1] == 244000 + 784 - 1
    assert len(filing_elements("Telesat Lightspeed (2023 design)")) == 198
    with pytest.raises(OrbitshareError, match="unknown system"):
        filing_elements("teledesic")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("tle")
    return out, generate_tle_dir(out)


def test_regeneration_is_byte_identical_to_shipped(regenerated):
    out, written = regenerated
    assert [p.name for p in written] == [f"{s}.tle" for s in EXPECTED_COUNTS] + ["MANIFEST"]
    for p in written:
        assert p.read_bytes() == (TLE_DIR / p.name).read_bytes(), p.name
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no temp files left


def test_regeneration_is_deterministic(regenerated, tmp_path):
    out, _ = regenerated
    again = generate_tle_dir(tmp_path)
    for p in again:
        assert p.read_bytes() == (out / p.name).read_bytes()


def test_manifest_matches_files():
    rows = read_manifest(TLE_DIR / "MANIFEST")
    assert [r["file"] for r in rows] == [f"{s}.tle" for s in EXPECTED_COUNTS]
    for r in rows:
        data = (TLE_DIR / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"], r["file"]
        assert int(r["n_sats"]) == EXPECTED_COUNTS[r["system_id"]]
        assert r["epoch"] == "2026-01-01T00:00:00Z"
        assert data.count(b"\n") == 3 * int(r["n_sats"])


def test_shipped_files_load_with_expected_counts():

    for system_id, count in EXPECTED_COUNTS.items():
        es = load_elements(TLE_DIR / f"{system_id}.tle")
        assert len(es) == count, system_id
        norad = np.asarray(es.norad)
        assert len(np.unique(norad)) == count
        assert norad.min() >= 200000 and norad.max() <= ALPHA5_MAX
        assert np.all(np.asarray(es.epoch) == np.datetime64("2026-01-01T00:00:00", "ns"))


def test_shipped_tles_have_the_filed_mean_altitude(shells):
    """A few satellites per shell, read from the TLE text by sgp4 itself."""
    by_norad = {}
    for s in shells:
        for k in (0, s.total_sats // 2, s.total_sats - 1):
            by_norad[s.norad_first + k] = s

    for path in sorted(TLE_DIR.glob("*.tle")):
        lines = path.read_text(encoding="ascii").splitlines()
        for i in range(0, len(lines), 3):
            norad = from_alpha5(lines[i + 1][2:7])
            s = by_norad.get(norad)
            if s is None:
                continue
            sat = Satrec.twoline2rv(lines[i + 1], lines[i + 2], WGS72)
            n_rev_day = sat.no_kozai * 1440.0 / (2 * math.pi)
            period = 1440.0 / n_rev_day
            revs = max(1, int(1440.0 // period))
            t = np.arange(revs * 720) * (period / 720)
            err, r, _ = sat.sgp4_array(np.full(t.shape, sat.jdsatepoch), sat.jdsatepochF + t / 1440)
            assert (err == 0).all()
            alt = float((np.linalg.norm(r, axis=1) - 6378.137).mean())
            assert abs(alt - s.altitude_km) < 0.1, (s.shell, norad, alt)
            assert abs(math.degrees(sat.inclo) - s.inclination_deg) < 1e-4
            del by_norad[norad]
    assert not by_norad, f"not found in tle/: {sorted(by_norad)[:5]}"
