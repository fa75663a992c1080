"""The Article 22 EPFD limits table and its checks (orbitshare.article22): the shipped table reads and every mask
is sane, the RR's 60 cm mask holds the RR's values, check_epfd agrees with counts taken by brute force from
hand-made EPFD series, level_exceeded agrees with a hand histogram and with numpy quantiles to one bin, and a
broken row in a copy of the table gives a DataError naming file, line and field."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from orbitshare.article22 import (
    COLUMNS,
    EpfdMask,
    check_epfd,
    default_path,
    epfd_mask,
    level_exceeded,
    margin_db,
    never_exceed_level_dbw_m2,
    read_epfd_limits,
)
from orbitshare.errors import DataError, ParameterError

MASK_KEY = ["table", "band_low_mhz", "band_high_mhz", "regions", "antenna_diameter_m", "reference_bandwidth_khz"]

# RR Art. 22, Table 22-1A, 60 cm, 40 kHz: (epfd dB(W/m2), % of time epfd may not exceed the level)
RR_22_1A_60CM = [(-175.4, 0), (-174.0, 90), (-170.8, 99), (-165.3, 99.73), (-160.4, 99.991), (-160.0, 99.997)]
RR_22_1A_60CM += [(-160.0, 100)]


def _counts(series: np.ndarray, mask: EpfdMask) -> np.ndarray:
    """Brute force: for each series (last axis = time steps), the steps whose EPFD is above each mask level."""
    return (series[..., None, :] > mask.levels_dbw_m2[:, None]).sum(axis=-1)


# --------------------------------------------------------------------------- the shipped table
def test_every_row_of_the_shipped_table_is_sane() -> None:
    t = read_epfd_limits()
    assert list(t.columns) == [*COLUMNS, "line"]
    assert len(t) == 520
    assert t["source"].str.len().gt(20).all() and t["rr_edition"].eq("RR Edition of 2024").all()
    assert t["as_of"].notna().all()
    assert set(t["table"]) == {"22-1A", "22-1B", "22-1C", "22-1D"}
    patterns = t.groupby("table")["reference_pattern"].unique()
    assert all(list(patterns[k]) == ["ITU-R S.1428-1"] for k in ("22-1A", "22-1B", "22-1C"))
    assert list(patterns["22-1D"]) == ["ITU-R BO.1443-3 Annex 1"]
    masks = list(t.groupby(MASK_KEY, sort=False))
    assert len(masks) == 4 * 4 + 6 + 8 + 4 * 8
    for key, m in masks:
        levels, pct = m["epfd_dbw_m2"].to_numpy(), m["percent_time_not_exceeded"].to_numpy()
        assert np.all(np.diff(levels) >= 0) and np.all(np.diff(pct) >= 0), key
        assert pct[0] == 0 and pct[-1] == 100, key
        assert np.all(np.diff(m["line"].to_numpy()) == 1), key  # one block of rows per mask
        top = {"22-1A": -160.0, "22-1B": -164.0, "22-1C": -154.0, "22-1D": {0.3: -158.33}.get(key[4], -160.0)}
        assert levels[-1] == top[key[0]] + (14.0 if key[5] == 1000 else 0.0), key
        assert -210 < levels[0] < levels[-1] or levels[0] == levels[-1], key


def test_1mhz_masks_are_the_40khz_masks_plus_14_db() -> None:
    t = read_epfd_limits()
    for table in ("22-1B", "22-1C"):
        sub = t[t["table"] == table]
        for d in sorted(set(sub["antenna_diameter_m"])):
            a = sub[(sub["antenna_diameter_m"] == d) & (sub["reference_bandwidth_khz"] == 40)]
            b = sub[(sub["antenna_diameter_m"] == d) & (sub["reference_bandwidth_khz"] == 1000)]
            np.testing.assert_array_equal(a["percent_time_not_exceeded"], b["percent_time_not_exceeded"])
            np.testing.assert_allclose(b["epfd_dbw_m2"].to_numpy() - a["epfd_dbw_m2"].to_numpy(), 14.0, atol=1e-9)


def test_22_1a_is_one_mask_set_over_its_four_band_rows() -> None:
    t = read_epfd_limits()
    a = t[t["table"] == "22-1A"]
    bands = sorted({(lo, hi, r) for lo, hi, r in zip(a["band_low_mhz"], a["band_high_mhz"], a["regions"], strict=True)})
    assert bands == [(10700, 11700, "1 2 3"), (11700, 12200, "2"), (12200, 12500, "3"), (12500, 12750, "1 3")]
    cols = ["antenna_diameter_m", "epfd_dbw_m2", "percent_time_not_exceeded"]
    per_band = [a[a["band_low_mhz"] == lo][cols].to_numpy() for lo, _, _ in bands]
    assert all(np.array_equal(per_band[0], other) for other in per_band[1:])
    assert sorted(set(a["antenna_diameter_m"])) == [0.6, 1.2, 3.0, 10.0]


def test_the_60cm_mask_holds_the_rr_values() -> None:
    m = epfd_mask(11000.0, 0.6)
    assert (m.table, m.regions, m.reference_bandwidth_khz, m.reference_pattern) == (
        "22-1A",
        (1, 2, 3),
        40.0,
        "ITU-R S.1428-1",
    )
    assert [
        (float(a), float(b)) for a, b in zip(m.levels_dbw_m2, m.percent_time_not_exceeded, strict=True)
    ] == RR_22_1A_60CM


# --------------------------------------------------------------------------- selecting a mask
def test_epfd_mask_selection() -> None:
    assert epfd_mask(10700.0, 10.0).table == "22-1A" and epfd_mask(12750.0, 3.0).regions == (1, 3)
    assert epfd_mask(18000.0, 2.0).table == "22-1B" and epfd_mask(19950.0, 0.9).table == "22-1C"
    assert epfd_mask(18000.0, 1.0, reference_bandwidth_khz=1000.0).levels_dbw_m2[-1] == -150.0
    d = epfd_mask(12300.0, 0.45, table="22-1D", region=2)
    assert (d.table, d.regions, d.reference_pattern) == ("22-1D", (2,), "ITU-R BO.1443-3 Annex 1")
    assert epfd_mask(12000.0, 1.2, region=2).regions == (2,)
    with pytest.raises(ParameterError, match=r"22-1A 10700-11700 MHz .*0\.6 m, 1\.2 m, 3 m, 10 m at 40 kHz"):
        epfd_mask(11000.0, 0.9)
    with pytest.raises(ParameterError, match="no Article 22 mask"):
        epfd_mask(12000.0, 1.2, region=1)  # 22-1A covers 11.7-12.2 GHz in Region 2 only
    with pytest.raises(ParameterError, match="no Article 22 mask"):
        epfd_mask(12300.0, 0.45)  # BSS (22-1D) only when asked for
    with pytest.raises(ParameterError, match="table"):
        epfd_mask(11000.0, 0.6, table="22-9")
    with pytest.raises(ParameterError, match="region"):
        epfd_mask(11000.0, 0.6, region=4)


def test_allowed_exceedance_fraction() -> None:
    m = epfd_mask(11000.0, 0.6)
    assert m.allowed_exceedance_fraction(-200.0) == 1.0
    for level, pct in RR_22_1A_60CM[:-2]:
        assert m.allowed_exceedance_fraction(level) == pytest.approx((100 - pct) / 100, rel=1e-12)
    assert m.allowed_exceedance_fraction(-160.0) == 0.0  # the repeated level: the strictest point
    assert m.allowed_exceedance_fraction(-150.0) == 0.0
    # between -174 dB (10 %) and -170.8 dB (1 %): log-linear, at the midpoint the geometric mean 3.16 %
    assert m.allowed_exceedance_fraction(-172.4) == pytest.approx(math.sqrt(0.1 * 0.01), rel=1e-12)
    # approaching the vertical step at -160 from below ends at its 0.003 % point
    assert m.allowed_exceedance_fraction(-160.0 - 1e-9) == pytest.approx(3e-5, rel=1e-6)
    with pytest.raises(ParameterError):
        m.allowed_exceedance_fraction(math.nan)


# --------------------------------------------------------------------------- check_epfd
def test_check_epfd_constant_series_just_below_and_above_levels() -> None:
    m = epfd_mask(11000.0, 0.6)
    n = 1000
    below_first = np.full(n, -175.41)
    above_first = np.full(n, -175.39)  # above the 0 % point: may be exceeded all the time
    above_second = np.full(n, -173.99)  # above -174 dB all the time: 10x its 10 %
    series = np.stack([below_first, above_first, above_second])
    exceeded, worst = check_epfd(_counts(series, m), n, m)
    assert exceeded.tolist() == [False, False, True]
    np.testing.assert_allclose(worst, [0.0, 1.0, 10.0])


def test_check_epfd_only_one_point_fails() -> None:
    m = epfd_mask(11000.0, 0.6)
    n = 100_000
    # 15 % of the time at -173.5 dB: fails only the -174 dB / 90 % point (15 % > 10 %)
    high_pct = np.where(np.arange(n) < 15_000, -173.5, -180.0)
    # 9 steps (0.009 %) at -160.2 dB: meets the -160.4 dB / 99.991 % point exactly
    at_edge = np.where(np.arange(n) < 9, -160.2, -180.0)
    # 10 steps at -160.2 dB: one step over that point
    over_edge = np.where(np.arange(n) < 10, -160.2, -180.0)
    # 3 steps above -160 dB: the 100 % point allows none
    never = np.where(np.arange(n) < 3, -159.9, -180.0)
    counts = _counts(np.stack([high_pct, at_edge, over_edge, never]), m)
    exceeded, worst = check_epfd(counts, n, m)
    assert exceeded.tolist() == [True, False, True, True]
    assert worst[0] == pytest.approx(1.5) and worst[1] == pytest.approx(1.0) and worst[2] == pytest.approx(10 / 9)
    assert worst[3] == math.inf
    # only the failing point of the first series is over its allowance
    fails = counts[0] > np.floor((100 - m.percent_time_not_exceeded) / 100 * n + 1e-9)
    assert fails.tolist() == [False, True, False, False, False, False, False]


def test_check_epfd_shapes_and_errors() -> None:
    m = epfd_mask(18000.0, 5.0)
    rng = np.random.default_rng(1)
    series = rng.normal(-186.0, 3.0, size=(2, 3, 500))
    exceeded, worst = check_epfd(_counts(series, m), 500, m)
    assert exceeded.shape == (2, 3) and worst.shape == (2, 3)
    with pytest.raises(ParameterError, match="last axis"):
        check_epfd(np.zeros((2, 3)), 10, m)
    with pytest.raises(ParameterError, match="n_steps"):
        check_epfd(np.zeros(m.levels_dbw_m2.size), 0, m)
    with pytest.raises(ParameterError, match="counts"):
        check_epfd(np.full(m.levels_dbw_m2.size, 11), 10, m)


# --------------------------------------------------------------------------- histograms
def test_level_exceeded_hand_histogram() -> None:
    edges = [-200.0, -190.0, -180.0, -170.0, -160.0]
    hist = [0, 90, 9, 1]  # 100 steps: 90 in [-190, -180), 9 in [-180, -170), 1 in [-170, -160)
    got = level_exceeded(hist, edges, [0.0, 1.0, 5.0, 10.0, 50.0, 100.0])
    np.testing.assert_array_equal(got, [-160.0, -170.0, -170.0, -180.0, -180.0, -200.0])
    assert float(level_exceeded(hist, edges, 1.0)) == -170.0
    two = level_exceeded([hist, [0, 0, 0, 0]], edges, [1.0, 10.0])
    assert two.shape == (2, 2) and two[0].tolist() == [-170.0, -180.0] and np.isnan(two[1]).all()
    with pytest.raises(ParameterError):
        level_exceeded(hist, edges[:-1], 1.0)
    with pytest.raises(ParameterError):
        level_exceeded(hist, edges, 101.0)


def test_level_exceeded_within_one_bin_of_the_quantile() -> None:
    rng = np.random.default_rng(7)
    samples = rng.normal(-175.0, 4.0, size=(5, 20_000))
    edges = np.arange(-220.0, -130.0 + 1e-9, 0.5)
    hist = np.stack([np.histogram(s, bins=edges)[0] for s in samples])
    percents = np.array([0.1, 1.0, 10.0, 50.0])
    got = level_exceeded(hist, edges, percents)
    for i, s in enumerate(samples):
        for j, p in enumerate(percents):
            frac_above = np.mean(s >= got[i, j])
            assert frac_above <= p / 100  # the returned level is exceeded no more than asked
            assert np.mean(s >= got[i, j] - 0.5) > p / 100  # one bin lower, more than asked


def test_margin_db_and_never_exceed_level() -> None:
    m = epfd_mask(11000.0, 0.6)
    edges = np.arange(-200.0, -150.0 + 1e-9, 1.0)
    hist = np.zeros((2, edges.size - 1))
    hist[0, 20] = 1000  # every step in [-180, -179): 5 dB under the lowest binding point (-174 dB at 10 %)
    hist[1, 20] = 980  # 2 % of the steps in [-170, -169): over the -170.8 dB / 1 % point (margin -1.8 at
    hist[1, 30] = 20  # bin resolution: the level exceeded 1 % of the time is below -169, above -170)
    got = margin_db(hist, edges, m)
    assert got[0] == pytest.approx(-174.0 - (-179.0))
    assert got[1] == pytest.approx(-170.8 - (-169.0))
    np.testing.assert_allclose(never_exceed_level_dbw_m2(m, [0.0, 70.0]), [-160.0, -160.0])
    m12 = epfd_mask(11000.0, 1.2)  # RR No. 22.5C.4: antennas larger than 60 cm
    lat = np.array([0.0, -57.5, 60.0, 63.75, -80.0])
    want = [-160.0, -160.0, -160.0 + 3.4 * (57.5 - 60.0) / 4, -160.0 + 3.4 * (57.5 - 63.75) / 4, -165.3]
    np.testing.assert_allclose(never_exceed_level_dbw_m2(m12, lat), np.minimum(want, -160.0))
    assert never_exceed_level_dbw_m2(epfd_mask(18000.0, 1.0), 70.0) == -164.0


# --------------------------------------------------------------------------- bad tables
def _copy_with(tmp_path: Path, edit: dict[int, str]) -> tuple[Path, list[str]]:
    lines = default_path().read_text(encoding="utf-8").splitlines()
    for number, text in edit.items():
        lines[number - 1] = text
    path = tmp_path / "epfd_limits.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def _first_data_line() -> int:
    lines = default_path().read_text(encoding="utf-8").splitlines()
    return next(i for i, s in enumerate(lines, start=1) if s.startswith("table,")) + 1


def test_broken_rows_give_dataerror_naming_file_line_field(tmp_path: Path) -> None:
    first = _first_data_line()
    row = default_path().read_text(encoding="utf-8").splitlines()[first - 1].split(",")
    bad_pct = ",".join(row[:7] + ["abc"] + row[8:])
    no_source = ",".join(row[:11] + [""])
    path, _ = _copy_with(tmp_path, {first: bad_pct, first + 2: no_source})
    with pytest.raises(DataError) as info:
        read_epfd_limits(path)
    problems = str(info.value).split("\n")
    assert problems == [
        f"{path}: line {first}: percent_time_not_exceeded: expected a percentage in [0, 100], got 'abc'",
        f"{path}: line {first + 2}: source: expected text, got nothing",
    ]


def test_a_mask_out_of_order_names_its_line(tmp_path: Path) -> None:
    first = _first_data_line()
    lines = default_path().read_text(encoding="utf-8").splitlines()
    row = lines[first + 1].split(",")  # the 60 cm mask's third point (-170.8 dB, 99 %)
    row[5] = "-176.0"
    path, _ = _copy_with(tmp_path, {first + 1: ",".join(row)})
    with pytest.raises(DataError, match=rf"epfd_limits\.csv: line {first + 1}: epfd_dbw_m2: expected the points"):
        read_epfd_limits(path)
    with pytest.raises(DataError, match=r"line \d+: header: expected the columns"):
        read_epfd_limits(_copy_with(tmp_path, {first - 1: "table,band"})[0])
    with pytest.raises(DataError, match="no such file"):
        read_epfd_limits(tmp_path / "absent.csv")
