"""time_grid and timescale against Skyfield and closed-form expectations."""

import datetime as dt

import numpy as np
import pytest

from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.timegrid import data_kernel_path, time_grid, timescale


def test_stop_is_excluded_like_arange():
    tg = time_grid("2026-08-18T00:00:00Z", "2026-08-18T01:00:00Z", 60)
    assert len(tg) == 60
    assert tg.time[0] == np.datetime64("2026-08-18T00:00:00", "ns")
    assert tg.time[-1] == np.datetime64("2026-08-18T00:59:00", "ns")
    tg2 = time_grid("2026-08-18T00:00:00Z", "2026-08-18T01:00:30Z", 60)
    assert len(tg2) == 61


def test_jd_fr_equal_skyfield_utc_split():
    tg = time_grid(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), "2026-03-02T12:00:00+00:00", 3600)
    ts = timescale()
    for k in (0, 5, 23):
        t = ts.utc(2026, 3, 1, 12 + k)
        assert tg.jd[k] + tg.fr[k] == pytest.approx(t.whole + t.tai_fraction - t._leap_seconds() / 86400, abs=1e-12)
        assert tg.ut1_jd[k] + tg.ut1_fr[k] == pytest.approx(t.ut1, abs=1e-12)
    # UT1 - UTC is below 0.9 s by definition
    assert np.all(np.abs((tg.ut1_fr - tg.fr) * 86400) < 0.9)
    # polar motion is a fraction of an arcsecond
    assert np.all(np.abs(tg.xp) < 1e-5) and np.all(np.abs(tg.yp) < 1e-5)
    assert np.any(tg.xp != 0)


def test_timezone_offsets_are_respected():
    a = time_grid("2026-01-01T02:00:00+02:00", "2026-01-01T03:00:00+02:00", 600)
    b = time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 600)
    np.testing.assert_array_equal(a.time, b.time)


@pytest.mark.parametrize(
    "start, stop, step, match",
    [
        ("2026-01-01T00:00:00", "2026-01-02T00:00:00Z", 60, "no timezone"),
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", 60, "must be after"),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", -5, "step_s"),
        ("yesterday", "2026-01-02T00:00:00Z", 60, "ISO 8601"),
    ],
)
def test_bad_input_is_explained(start, stop, step, match):
    with pytest.raises(ParameterError, match=match):
        time_grid(start, stop, step)


def test_bad_types_and_chunks_are_parameter_errors():
    with pytest.raises(ParameterTypeError, match="start: expected a datetime"):
        time_grid(12345, "2026-01-02T00:00:00Z", 60)
    tg = time_grid("2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z", 60)
    with pytest.raises(ParameterError, match="chunk_steps"):
        list(tg.chunks(0))


def test_chunks_cover_the_grid_exactly():
    tg = time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 60)
    parts = list(tg.chunks(7))
    assert [len(p) for p in parts] == [7] * 8 + [4]
    np.testing.assert_array_equal(np.concatenate([p.time for p in parts]), tg.time)


def test_data_kernels_are_offline():
    assert data_kernel_path("finals2000A.all").is_file()
    assert data_kernel_path("de421.bsp").is_file()
    assert timescale() is timescale()


def test_datetime64_bounds_are_utc():
    a = time_grid(np.datetime64("2026-01-01T00:00"), np.datetime64("2026-01-01T01:00"), 600)
    b = time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 600)
    np.testing.assert_array_equal(a.time, b.time)
