"""time_grid and timescale against Skyfield and closed-form expectations."""

import datetime as dt
import tracemalloc

import numpy as np
import pytest

from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.timegrid import count_steps, data_kernel_path, time_grid, time_grid_from_times, timescale, to_datetime


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


# ----------------------------------------------------------------------------- issue 10: the range
RANGE = "expected a date-time in years 1678-2261"


@pytest.mark.parametrize(
    "start, stop, what",
    [
        ("1600-01-01T00:00:00Z", "1600-01-01T01:00:00Z", "start"),  # before: a grid in 2184
        ("0001-01-01T00:00:00+01:00", "2026-01-01T00:00:00Z", "start"),  # before: OverflowError
        ("0001-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "start"),  # before: a grid from 1754
        ("2026-01-01T00:00:00Z", "9999-01-01T00:00:00Z", "stop"),  # before: stop in 1815, "must be after"
        (np.datetime64("1600-01-01", "D"), "2026-01-01T00:00:00Z", "start"),  # before: wrapped to 2184
        (np.datetime64("NaT"), "2026-01-01T00:00:00Z", "start"),
        (dt.datetime(2262, 1, 1, tzinfo=dt.UTC), dt.datetime(2262, 1, 2, tzinfo=dt.UTC), "start"),
    ],
)
def test_times_outside_datetime64_ns_raise_parameter_error(start, stop, what):
    with pytest.raises(ParameterError, match=rf"^{what}: {RANGE}"):
        time_grid(start, stop, 600)


def test_time_grid_from_times_refuses_instants_it_cannot_hold():
    with pytest.raises(ParameterError, match=rf"^times: {RANGE} .*got 1600-01-01$"):
        time_grid_from_times(np.array(["2026-01-01", "1600-01-01"], "datetime64[D]"))
    with pytest.raises(ParameterError, match=rf"^when: {RANGE}"):
        to_datetime(np.datetime64("2300-01-01T00:00:00", "s"), "when")
    assert to_datetime(np.datetime64("2261-12-31", "D"), "when") == dt.datetime(2261, 12, 31, tzinfo=dt.UTC)


def test_absurd_step_counts_are_refused_before_allocating():
    """step_s = 1e-9 over an hour: before, np.arange of 3.6e12 steps (MemoryError)."""
    tracemalloc.start()
    try:
        with pytest.raises(ParameterError, match=r"^step_s: expected at most 2,147,483,647 steps .* 3,600,000,000,000"):
            time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 1e-9)
        with pytest.raises(ParameterError, match="at least one nanosecond"):
            time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 1e-10)
        assert tracemalloc.get_traced_memory()[1] < 10e6
    finally:
        tracemalloc.stop()
    # a step longer than the span: one step (before: OverflowError for 1e300 s)
    assert len(time_grid("2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", 1e300)) == 1


def test_spans_longer_than_292_years_are_exact():
    """(stop - start) in int64 ns overflows beyond 292 years: before, the step count came out wrong."""
    start = dt.datetime(1700, 1, 1, tzinfo=dt.UTC)
    stop = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
    day = 86400.0
    tg = time_grid(start, stop, 1000 * day)
    expected = [start + k * dt.timedelta(days=1000) for k in range(-(-(stop - start).days // 1000))]
    assert len(tg) == count_steps(start, stop, 1000 * day) == len(expected) == 183
    assert [to_datetime(t, "t") for t in tg.time] == expected


def test_count_steps_is_the_grid_length():
    for stop, step in (("2026-01-01T01:00:00Z", 60), ("2026-01-01T01:00:30Z", 60), ("2026-01-01T00:00:01Z", 0.3)):
        t0, t1 = to_datetime("2026-01-01T00:00:00Z", "start"), to_datetime(stop, "stop")
        assert count_steps(t0, t1, step) == len(time_grid(t0, t1, step))
