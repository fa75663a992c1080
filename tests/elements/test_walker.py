"""Walker constellation generator: geometry, validation, and mean altitude against ``sgp4``.

The mean-altitude checks use the ``sgp4`` package (the reference SGP4/SDP4, WGS72) as an
independent implementation: elements go in either through ``Satrec.sgp4init`` or through the
TLE text (``ElementSet.to_tle`` → ``Satrec.twoline2rv``).
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sgp4.api import WGS72, Satrec

from orbitshare.elements.walker import (
    WalkerParameterError,
    mean_motion_for_altitude,
    parse_epoch,
    walker,
)
from orbitshare.errors import OrbitshareError

RE_KM = 6378.137
EPOCH = "2026-01-01T00:00:00Z"
JD_EPOCH = 2461041.5  # 2026-01-01T00:00Z
SAMPLES_PER_REV = 720


def _satrec(n_rev_day, inc, raan=0.0, mean_anomaly=0.0, ecc=0.0, argp=0.0, jd=JD_EPOCH):
    sat = Satrec()
    sat.sgp4init(
        WGS72,
        "i",
        1,
        jd - 2433281.5,
        0.0,
        0.0,
        0.0,
        ecc,
        math.radians(argp),
        math.radians(inc),
        math.radians(mean_anomaly),
        n_rev_day * 2 * math.pi / 1440.0,
        math.radians(raan),
    )
    return sat


def _radius_minus_re(sat, minutes):
    fr = sat.jdsatepochF + np.asarray(minutes) / 1440.0
    err, r, _v = sat.sgp4_array(np.full(fr.shape, sat.jdsatepoch), fr)
    assert (err == 0).all(), f"sgp4 error codes {set(err.tolist())}"
    return np.linalg.norm(r, axis=1) - RE_KM


def mean_altitude_whole_revs(sat, n_rev_day):
    """The walker docstring's definition: mean over the whole revolutions in one day."""
    period = 1440.0 / n_rev_day
    revs = max(1, int(1440.0 // period))
    t = np.arange(revs * SAMPLES_PER_REV) * (period / SAMPLES_PER_REV)
    return float(_radius_minus_re(sat, t).mean())


def mean_altitude_one_day(sat):
    """Mean over exactly 24 h (uniform samples, 30 s)."""
    return float(_radius_minus_re(sat, np.arange(2880) * 0.5).mean())


def one_day_bound_km(n_rev_day, inc):
    """Phase-dependent excess of the 24-h mean (module docstring): J3 term not averaged out."""
    frac = n_rev_day - math.floor(n_rev_day)
    return 7.5 * abs(math.sin(math.radians(inc))) * abs(math.sin(math.pi * frac)) / (math.pi * n_rev_day)


def _satrecs_from_tle(text):
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) % 3 == 0
    return [Satrec.twoline2rv(lines[i + 1], lines[i + 2], WGS72) for i in range(0, len(lines), 3)]


ALTITUDES = [300, 550, 1200, 2000, 5000, 8062, 15000, 20200, 25000, 30000, 35786, 36000]
INCLINATIONS = [0.0, 30.0, 53.0, 87.9, 97.6, 120.0, 150.0]


# ------------------------------------------------------------------------------------------
# mean altitude against sgp4
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("altitude", ALTITUDES)
def test_mean_altitude_matches_sgp4_grid(altitude):
    worst = 0.0
    for inc in INCLINATIONS:
        n = mean_motion_for_altitude(altitude, inc)
        for raan, m in [(0.0, 0.0), (77.0, 100.0), (200.0, 250.0)]:
            sat = _satrec(n, inc, raan, m)
            whole = mean_altitude_whole_revs(sat, n)
            worst = max(worst, abs(whole - altitude))
            assert abs(whole - altitude) < 0.1, (altitude, inc, m, whole)
            day = mean_altitude_one_day(sat)
            assert abs(day - altitude) < one_day_bound_km(n, inc) + 0.1, (altitude, inc, m, day)
    # the worst case measured is about 0.06 km (GEO, 24-h resonance; depends on longitude)
    assert worst < 0.1


def test_one_day_mean_within_1km_in_leo():
    for altitude in (300, 550, 1200, 2000):
        for inc in (53.0, 97.6):
            n = mean_motion_for_altitude(altitude, inc)
            for m in np.linspace(0, 360, 8, endpoint=False):
                day = mean_altitude_one_day(_satrec(n, inc, 0.0, m))
                assert abs(day - altitude) < 0.25


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Inclinations whose radian value is subnormal (below about 1.3e-306°) are excluded: SGP4 itself
# (the sgp4 package as much as orbitshare's kernel) returns NaN positions with error code 0 for
# them, and walker() refuses them (test_walker_rejects_subnormal_inclination).
@given(
    altitude=st.floats(300.0, 36000.0),
    inc=st.floats(0.0, 150.0).filter(lambda i: i == 0.0 or math.radians(i) >= sys.float_info.min),
    phase=st.floats(0.0, 360.0),
    raan=st.floats(0.0, 360.0),
)
def test_mean_altitude_property(altitude, inc, phase, raan):
    n = mean_motion_for_altitude(altitude, inc)
    whole = mean_altitude_whole_revs(_satrec(n, inc, raan, phase), n)
    assert abs(whole - altitude) < 0.1


def test_walker_rejects_subnormal_inclination():
    # The sgp4 package confirms the limit: the smallest normal double in degrees is subnormal in
    # radians and propagates to NaN, while 1e-300° propagates normally.
    tiny = sys.float_info.min
    n = mean_motion_for_altitude(5871.0, 0.0)
    assert math.isnan(mean_altitude_whole_revs(_satrec(n, tiny), n))
    assert abs(mean_altitude_whole_revs(_satrec(n, 1e-300), n) - 5871.0) < 0.1
    with pytest.raises(WalkerParameterError, match="inclination_deg .* too small"):
        walker(5871.0, tiny, 1, 4, 0, EPOCH)
    shell = walker(5871.0, 1e-300, 1, 4, 0, EPOCH)
    assert shell.inclination[0] == 1e-300


@pytest.mark.parametrize("ecc", [0.001, 0.01])
def test_mean_altitude_near_circular(ecc):
    for altitude in (600, 1200, 8000):
        for inc in (0.0, 53.0, 98.0):
            n = mean_motion_for_altitude(altitude, inc, ecc)
            for argp, m in [(0.0, 0.0), (90.0, 200.0)]:
                whole = mean_altitude_whole_revs(_satrec(n, inc, 0.0, m, ecc, argp), n)
                assert abs(whole - altitude) < 0.1


def test_kozai_inverse_round_trips_through_sgp4init():
    # sgp4init applies the un-Kozai step; its semi-major axis must be the Brouwer one we
    # solved for: R_mean = a - 0.75 J2 (3cos^2 i - 1) / a (Earth radii, circular)
    for altitude, inc in [(550, 53.0), (1200, 87.9), (20200, 55.0)]:
        sat = _satrec(mean_motion_for_altitude(altitude, inc), inc)
        a = sat.a
        con41 = 3 * math.cos(math.radians(inc)) ** 2 - 1
        r_mean_km = (a - 0.75 * 0.001082616 * con41 / a) * 6378.135
        assert abs(r_mean_km - RE_KM - altitude) < 0.01


def test_walker_elements_through_tle_text_match_altitude():
    for altitude, inc, planes, spp in [
        (550, 53.0, 4, 3),
        (1200, 87.9, 3, 2),
        (8062, 0.0, 1, 4),
        (20200, 55.0, 3, 2),
        (35786, 0.1, 1, 3),
    ]:
        es = walker(altitude, inc, planes, spp, 0, EPOCH, norad_start=10000)
        n = float(np.asarray(es.mean_motion)[0])
        for sat in _satrecs_from_tle(es.to_tle()):
            whole = mean_altitude_whole_revs(sat, n)
            assert abs(whole - altitude) < 0.1, (altitude, inc, whole)


def test_mean_motion_is_plausible():
    # ISS-like and GEO-like sanity: Kozai mean motion close to the two-body value
    n = mean_motion_for_altitude(35786.0, 0.0)
    assert abs(n - 1.00273791) < 2e-3
    n = mean_motion_for_altitude(550.0, 53.0)
    assert 15.0 < n < 15.1


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------


def _arrays(es):
    return {
        k: np.asarray(getattr(es, k))
        for k in (
            "norad",
            "name",
            "raan",
            "mean_anomaly",
            "inclination",
            "eccentricity",
            "mean_motion",
            "arg_perigee",
            "bstar",
            "epoch",
        )
    }


def _circ_diff(a, b):
    return (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0


def test_shell_size_numbers_and_names():
    es = walker(550, 53.0, 72, 22, 1, EPOCH, norad_start=200000, name_prefix="STARLINK-G1-S1")
    assert len(es) == 72 * 22
    a = _arrays(es)
    assert a["norad"].dtype == np.int64
    np.testing.assert_array_equal(a["norad"], 200000 + np.arange(72 * 22))
    assert a["name"][0] == "STARLINK-G1-S1-P01S01"
    assert a["name"][22] == "STARLINK-G1-S1-P02S01"
    assert a["name"][-1] == "STARLINK-G1-S1-P72S22"
    assert len(set(a["name"].tolist())) == len(es)
    assert np.all(a["mean_motion"] == a["mean_motion"][0])
    assert np.all(a["inclination"] == 53.0)
    assert np.all(a["eccentricity"] == 0.0)
    assert np.all(a["epoch"] == np.datetime64("2026-01-01T00:00:00", "ns"))


def test_name_width_grows_with_counts():
    es = walker(600, 50.0, 120, 3, 0, EPOCH, name_prefix="X")
    names = np.asarray(es.name).tolist()
    assert names[0] == "X-P001S01" and names[-1] == "X-P120S03"
    assert names == sorted(names)


def test_six_digit_norad_default():
    es = walker(550, 53.0, 2, 2, 0, EPOCH)
    np.testing.assert_array_equal(np.asarray(es.norad), [900000, 900001, 900002, 900003])


@pytest.mark.parametrize("pattern,spread", [("delta", 360.0), ("star", 180.0)])
def test_raan_spacing(pattern, spread):
    planes, spp = 6, 4
    es = walker(780, 86.4, planes, spp, 1, EPOCH, pattern=pattern, raan0_deg=10.0)
    raan = np.asarray(es.raan).reshape(planes, spp)
    assert np.all(raan == raan[:, :1])  # one RAAN per plane
    np.testing.assert_allclose(raan[:, 0], 10.0 + np.arange(planes) * spread / planes)
    steps = _circ_diff(raan[1:, 0], raan[:-1, 0])
    np.testing.assert_allclose(steps, spread / planes)


def test_star_and_delta_differ_only_in_nodes():
    d = walker(1200, 87.9, 12, 49, 1, EPOCH, pattern="delta")
    s = walker(1200, 87.9, 12, 49, 1, EPOCH, pattern="star")
    np.testing.assert_array_equal(np.asarray(d.mean_anomaly), np.asarray(s.mean_anomaly))
    np.testing.assert_array_equal(np.asarray(d.mean_motion), np.asarray(s.mean_motion))
    assert np.ptp(np.asarray(s.raan)) == pytest.approx(180.0 - 15.0)
    assert np.ptp(np.asarray(d.raan)) == pytest.approx(360.0 - 30.0)


def test_in_plane_anomaly_spacing():
    planes, spp = 5, 8
    es = walker(1000, 60.0, planes, spp, 2, EPOCH)
    m = np.asarray(es.mean_anomaly).reshape(planes, spp)
    for p in range(planes):
        steps = _circ_diff(np.roll(m[p], -1), m[p])
        np.testing.assert_allclose(steps, 360.0 / spp, atol=1e-9)
    assert np.all((m >= 0.0) & (m < 360.0))


@pytest.mark.parametrize("phasing", [0, 1, 3, 7])
def test_phasing_offset_between_planes(phasing):
    planes, spp = 8, 6
    total = planes * spp
    es = walker(1414, 52.0, planes, spp, phasing, EPOCH)
    m = np.asarray(es.mean_anomaly).reshape(planes, spp)
    # slot j of plane p leads slot j of plane p-1 by F * 360 / T
    lead = _circ_diff(m[1:, 0] - phasing * 360.0 / total, m[:-1, 0])
    np.testing.assert_allclose(lead, 0.0, atol=1e-9)
    # and the formula holds literally
    p, j = np.divmod(np.arange(total), spp)
    expected = (360.0 * j / spp + 360.0 * phasing * p / total) % 360.0
    np.testing.assert_allclose(_circ_diff(np.asarray(es.mean_anomaly), expected), 0.0, atol=1e-9)


def test_walker_globalstar_is_48_8_1():
    es = walker(1414, 52.0, 8, 6, 1, EPOCH)
    m = np.asarray(es.mean_anomaly).reshape(8, 6)
    assert m[1, 0] == pytest.approx(7.5)  # 360 * 1 / 48


def test_walker_copies_optional_elements():
    es = walker(700, 98.0, 2, 2, 1, EPOCH, eccentricity=0.001, arg_perigee_deg=90.0, bstar=1e-5, intldesg="26001A")
    a = _arrays(es)
    assert np.all(a["eccentricity"] == 0.001)
    assert np.all(a["arg_perigee"] == 90.0)
    assert np.all(a["bstar"] == 1e-5)
    assert set(np.asarray(es.intldesg).tolist()) == {"26001A"}


# ------------------------------------------------------------------------------------------
# epochs
# ------------------------------------------------------------------------------------------


def test_epoch_forms_agree():
    want = np.datetime64("2026-01-01T00:00:00", "ns")
    assert parse_epoch("2026-01-01T00:00:00Z") == want
    assert parse_epoch("2026-01-01T01:30:00+01:30") == want
    assert parse_epoch(datetime(2026, 1, 1, tzinfo=UTC)) == want
    assert parse_epoch(datetime(2025, 12, 31, 19, tzinfo=timezone(timedelta(hours=-5)))) == want
    assert parse_epoch(np.datetime64("2026-01-01")) == want


@pytest.mark.parametrize("bad", ["2026-01-01T00:00:00", datetime(2026, 1, 1), "yesterday", np.datetime64("NaT"), 12345])
def test_bad_epoch(bad):
    with pytest.raises(WalkerParameterError, match="epoch"):
        walker(550, 53.0, 2, 2, 0, bad)


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"altitude_km": 0.0}, "altitude_km"),
        ({"altitude_km": -5.0}, "altitude_km"),
        ({"altitude_km": 60000.0}, "altitude_km"),
        ({"altitude_km": float("nan")}, "altitude_km"),
        ({"altitude_km": "high"}, "altitude_km"),
        ({"inclination_deg": -0.1}, "inclination_deg"),
        ({"inclination_deg": 180.5}, "inclination_deg"),
        ({"planes": 0}, "planes"),
        ({"planes": 2.5}, "planes"),
        ({"sats_per_plane": 0}, "sats_per_plane"),
        ({"phasing": -1}, "phasing"),
        ({"planes": 4, "phasing": 4}, "phasing"),
        ({"pattern": "rosette"}, "pattern"),
        ({"eccentricity": 0.7}, "eccentricity"),
        ({"altitude_km": 500.0, "eccentricity": 0.2}, "eccentricity"),
        ({"norad_start": 0}, "norad_start"),
        ({"name_prefix": 5}, "name_prefix"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, name):
    args = {
        "altitude_km": 550.0,
        "inclination_deg": 53.0,
        "planes": 4,
        "sats_per_plane": 3,
        "phasing": 1,
        "epoch": EPOCH,
    }
    args.update(kwargs)
    epoch = args.pop("epoch")
    pos = [args.pop(k) for k in ("altitude_km", "inclination_deg", "planes", "sats_per_plane", "phasing")]
    with pytest.raises(WalkerParameterError, match=name) as info:
        walker(*pos, epoch, **args)
    assert isinstance(info.value, OrbitshareError) and isinstance(info.value, ValueError)


def test_boundaries_are_accepted():
    assert len(walker(550, 0.0, 1, 1, 0, EPOCH)) == 1
    assert len(walker(550, 180.0, 3, 1, 2, EPOCH)) == 3
    assert len(walker(49_000, 10.0, 2, 2, 1, EPOCH)) == 4
