"""Time scales and time grids.

Skyfield provides the time scales (UTC, TT, UT1) and Earth-orientation data, always offline:
the data kernels come from the project's ``kernels/`` folder when present (or the directory in
``ORBITSHARE_KERNELS_DIR``), else from the ``skyfield-data`` package. Nothing is downloaded.

:func:`time_grid` makes the :class:`TimeGrid` (UTC steps with the Julian dates, UT1 and polar
motion the kernels need) that propagation and coverage run over.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from skyfield.data import iers
from skyfield.timelib import Time, Timescale

from orbitshare.errors import DataError, ParameterError, ParameterTypeError

__all__ = [
    "TimeGrid",
    "time_grid",
    "time_grid_from_times",
    "timescale",
    "data_kernel_path",
    "to_datetime",
    "check_time_range",
    "count_steps",
    "step_nanoseconds",
    "TIME_MIN",
    "TIME_MAX",
    "TIME_RANGE_TEXT",
    "MAX_TIME_STEPS",
]

#: Earth-orientation data kernel (IERS finals, UT1 − UTC and polar motion) and planetary ephemeris.
FINALS_FILE = "finals2000A.all"
EPHEMERIS_FILE = "de421.bsp"
#: radians per arcsecond
ASEC2RAD = np.pi / (180.0 * 3600.0)

#: The instants a time grid may hold: years 1678-2261 (UTC), inside what ``numpy.datetime64[ns]``
#: holds (1677-09-21 to 2262-04-11; outside it a conversion wraps around silently). ``TIME_MAX`` is
#: excluded.
TIME_MIN = _dt.datetime(1678, 1, 1, tzinfo=_dt.UTC)
TIME_MAX = _dt.datetime(2262, 1, 1, tzinfo=_dt.UTC)
TIME_RANGE_TEXT = "in years 1678-2261 (UTC; what numpy datetime64[ns] holds)"
#: Most steps of a time grid: the per-cell step counts of a pass are int32.
MAX_TIME_STEPS = 2**31 - 1


def data_kernel_path(name: str) -> Path:
    """Path of a data kernel (``finals2000A.all``, ``de421.bsp``).

    Search order: ``$ORBITSHARE_KERNELS_DIR``, the repository's ``kernels/`` folder (for a source
    checkout), then the ``skyfield-data`` package. Raises DataError when none has it.
    """
    candidates = []
    env = os.environ.get("ORBITSHARE_KERNELS_DIR")
    if env:
        candidates.append(Path(env) / name)
    candidates.append(Path(__file__).resolve().parents[2] / "kernels" / name)
    try:
        import skyfield_data  # its own path helper warns about expiry; info() reports that instead

        candidates.append(Path(skyfield_data.__file__).resolve().parent / "data" / name)
    except ImportError:  # pragma: no cover - skyfield-data is a dependency
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(
        f"data kernel {name!r} not found; looked in: {', '.join(str(c.parent) for c in candidates)}. "
        "Install skyfield-data or set ORBITSHARE_KERNELS_DIR."
    )


@functools.cache
def _timescale_cached(finals_path: str) -> Timescale:
    with open(finals_path, "rb") as f:
        finals = iers.parse_x_y_dut1_from_finals_all(f)
    if len(finals) == 0:
        raise DataError(f"{finals_path}: no Earth-orientation rows could be parsed")
    daily_tt, daily_delta_t, leap_dates, leap_offsets = iers.build_timescale_arrays(finals["utc_mjd"], finals["dut1"])
    ts = Timescale((daily_tt, daily_delta_t), leap_dates, leap_offsets)
    iers.install_polar_motion_table(ts, finals)
    return ts


def timescale() -> Timescale:
    """Skyfield ``Timescale`` with UT1 and polar motion from the offline ``finals2000A.all``.

    Cached: every call returns the same object.
    """
    return _timescale_cached(str(data_kernel_path(FINALS_FILE)))


def check_time_range(value: _dt.datetime, what: str) -> _dt.datetime:
    """``value`` (an aware datetime) when it lies in [:data:`TIME_MIN`, :data:`TIME_MAX`), else
    :class:`~orbitshare.errors.ParameterError` naming ``what``.

    >>> import datetime as dt
    >>> check_time_range(dt.datetime(1600, 1, 1, tzinfo=dt.UTC), "start")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    orbitshare.errors.ParameterError: start: expected a date-time in years 1678-2261 ... got 1600-01-01T00:00:00+00:00
    """
    if not TIME_MIN <= value < TIME_MAX:
        raise ParameterError(f"{what}: expected a date-time {TIME_RANGE_TEXT}, got {value.isoformat()}")
    return value


def _datetime64_years_ok(arr: np.ndarray) -> np.ndarray:
    """True where a datetime64 value (any unit) lies in [TIME_MIN, TIME_MAX) (NaT: False). Done in
    coarse units first, so that no conversion wraps around."""
    years = arr.astype("datetime64[Y]").astype(np.int64) + 1970  # floors; never overflows
    ok = ~np.isnat(arr) & (years >= TIME_MIN.year) & (years < TIME_MAX.year)
    return np.asarray(ok)


def _datetime64_ns(arr: np.ndarray, what: str) -> np.ndarray:
    """``arr`` (datetime64 of any unit) as datetime64[ns]; ParameterError naming ``what`` for NaT or an
    instant outside [TIME_MIN, TIME_MAX) instead of a silent wrap-around."""
    if arr.dtype == np.dtype("datetime64[ns]") and not np.isnat(arr).any():
        return arr
    ok = _datetime64_years_ok(arr)
    if not ok.all():
        bad = arr[~ok].reshape(-1)[0]
        raise ParameterError(f"{what}: expected a date-time {TIME_RANGE_TEXT}, got {bad}")
    return arr.astype("datetime64[ns]")


def to_datetime(value: Any, what: str) -> _dt.datetime:
    """A timezone-aware UTC ``datetime`` from an aware datetime, a ``numpy.datetime64`` (taken as UTC)
    or an ISO 8601 string with a zone (``Z`` or ``+hh:mm``), in years 1678-2261 (:data:`TIME_MIN`,
    :data:`TIME_MAX`: what ``datetime64[ns]`` holds). ``what`` names the argument in error messages:
    :class:`~orbitshare.errors.ParameterError` for a string that is not ISO 8601, a naive datetime, NaT
    or an instant out of that range, :class:`~orbitshare.errors.ParameterTypeError` for another type.

    >>> to_datetime("2024-01-01T01:00:00+01:00", "start").isoformat()
    '2024-01-01T00:00:00+00:00'
    """
    if isinstance(value, np.datetime64):
        ns = _datetime64_ns(np.asarray(value), what).astype(np.int64)
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=int(ns // 1000))
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ParameterError(f"{what}: expected an ISO 8601 datetime with timezone, got {value!r}") from None
    if not isinstance(value, _dt.datetime):
        raise ParameterTypeError(
            f"{what}: expected a datetime, numpy.datetime64 or ISO string, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ParameterError(f"{what}: datetime {value.isoformat()} has no timezone; add one (e.g. 'Z' or +00:00)")
    try:
        utc = value.astimezone(_dt.UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise ParameterError(f"{what}: expected a date-time {TIME_RANGE_TEXT}, got {value.isoformat()}") from None
    return check_time_range(utc, what)


@dataclass(frozen=True)
class TimeGrid:
    """Time steps with everything the kernels need, per step.

    ``jd``, ``fr``: UTC Julian date split as sgp4 and Skyfield expect (days).
    ``ut1_jd``, ``ut1_fr``: UT1 Julian date split (days), for GMST.
    ``xp``, ``yp``: polar motion (rad); ``sprime``: TIO locator s' (rad).
    ``time``: datetime64[ns] UTC labels.
    """

    time: np.ndarray
    jd: np.ndarray
    fr: np.ndarray
    ut1_jd: np.ndarray
    ut1_fr: np.ndarray
    xp: np.ndarray
    yp: np.ndarray
    sprime: np.ndarray

    def __len__(self) -> int:
        return len(self.jd)

    def __getitem__(self, index: int | np.integer | slice | np.ndarray) -> TimeGrid:
        """The steps at ``index`` (an integer gives a one-step TimeGrid)."""
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        return TimeGrid(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    def chunks(self, chunk_steps: int) -> Iterator[TimeGrid]:
        """Yield consecutive TimeGrid slices of at most ``chunk_steps`` steps."""
        if chunk_steps < 1:
            raise ParameterError(f"chunk_steps: expected an integer >= 1, got {chunk_steps}")
        for i in range(0, len(self), chunk_steps):
            yield self[i : i + chunk_steps]

    def skyfield_time(self) -> Time:
        """These steps as a Skyfield ``Time`` (from the same offline timescale)."""
        return timescale().utc(*_utc_components(self.time))


def _utc_components(time: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int, np.ndarray]:
    t = np.asarray(time, dtype="datetime64[ns]")
    days = t.astype("datetime64[D]")
    sec = (t - days).astype(np.int64) / 1e9
    ymd = days.astype(object)
    year = np.array([d.year for d in ymd])
    month = np.array([d.month for d in ymd])
    day = np.array([d.day for d in ymd])
    return year, month, day, 0, 0, sec


def time_grid_from_times(times: Any) -> TimeGrid:
    """TimeGrid for arbitrary UTC instants (datetime64 array or list of aware datetimes or ISO strings)."""
    arr = np.asarray(times)
    if arr.dtype.kind != "M":
        arr = np.array(
            [np.datetime64(to_datetime(t, "times").replace(tzinfo=None), "ns") for t in np.atleast_1d(times)]
        )
    arr = _datetime64_ns(np.atleast_1d(arr), "times")
    ts = timescale()
    t = ts.utc(*_utc_components(arr))
    jd = np.atleast_1d(np.asarray(t.whole, dtype=np.float64))
    fr = np.atleast_1d(np.asarray(t.tai_fraction - t._leap_seconds() / 86400.0, dtype=np.float64))
    ut1_fr = np.atleast_1d(np.asarray(t.ut1_fraction, dtype=np.float64))
    sprime, x, y = t.polar_motion_angles()
    n = len(arr)
    return TimeGrid(
        time=arr,
        jd=np.ascontiguousarray(jd * np.ones(n)),
        fr=np.ascontiguousarray(fr * np.ones(n)),
        ut1_jd=np.ascontiguousarray(jd * np.ones(n)),
        ut1_fr=np.ascontiguousarray(ut1_fr * np.ones(n)),
        xp=np.ascontiguousarray(np.asarray(x, dtype=np.float64) * ASEC2RAD * np.ones(n)),
        yp=np.ascontiguousarray(np.asarray(y, dtype=np.float64) * ASEC2RAD * np.ones(n)),
        sprime=np.ascontiguousarray(np.asarray(sprime, dtype=np.float64) * ASEC2RAD * np.ones(n)),
    )


def _finite(x: Any) -> bool:
    """A number that a float holds, finite (a huge Python int is not)."""
    try:
        return bool(np.isfinite(float(x)))
    except OverflowError:
        return False


def step_nanoseconds(step_s: float) -> int | None:
    """A step of ``step_s`` seconds (> 0, finite) as whole nanoseconds; None when it is too large
    for a float to hold in ns (then any span is one step)."""
    ns = float(step_s) * 1e9
    return int(round(ns)) if np.isfinite(ns) else None


def count_steps(start: _dt.datetime, stop: _dt.datetime, step_s: float) -> int:
    """The number of steps ``start, start + step_s, ...`` before ``stop`` (aware datetimes, ``step_s``
    seconds > 0): exact integer arithmetic, nothing allocated (what :func:`time_grid` would make).

    >>> import datetime as dt
    >>> count_steps(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2036, 1, 1, tzinfo=dt.UTC), 1.0)
    315532800
    """
    span_ns = ((stop - start) // _dt.timedelta(microseconds=1)) * 1000
    step_ns = step_nanoseconds(step_s)
    if span_ns <= 0:
        return 0
    if step_ns is None or step_ns >= span_ns:
        return 1
    return -(-span_ns // max(step_ns, 1))


def time_grid(start: Any, stop: Any, step_s: float) -> TimeGrid:
    """Steps ``start, start + step_s, ...`` in [start, stop) (stop excluded, like ``numpy.arange``).

    ``start``/``stop``: timezone-aware datetimes, ISO strings with a zone, or datetime64 (UTC), in
    years 1678-2261 (what ``datetime64[ns]`` holds). ``step_s``: step in seconds (> 0; whole
    nanoseconds); at most :data:`MAX_TIME_STEPS` steps. Bad values raise
    :class:`~orbitshare.errors.ParameterError` (a ``ValueError``) before anything is allocated.

    >>> tg = time_grid("2024-01-01T00:00:00Z", "2024-01-01T00:03:00Z", 60.0)
    >>> len(tg)
    3
    >>> str(tg.time[0]), str(tg.time[-1])
    ('2024-01-01T00:00:00.000000000', '2024-01-01T00:02:00.000000000')
    >>> float((tg.time[1] - tg.time[0]) / np.timedelta64(1, "s"))  # step, s
    60.0
    """
    t0 = to_datetime(start, "start")
    t1 = to_datetime(stop, "stop")
    if not (isinstance(step_s, (int, float, np.integer, np.floating)) and step_s > 0 and _finite(step_s)):
        raise ParameterError(f"step_s: expected a positive number of seconds, got {step_s!r}")
    if t1 <= t0:
        raise ParameterError(f"stop ({t1.isoformat()}) must be after start ({t0.isoformat()})")
    step_ns = step_nanoseconds(step_s)
    if step_ns is not None and step_ns < 1:
        raise ParameterError(f"step_s: expected at least one nanosecond, got {step_s!r}")
    n = count_steps(t0, t1, step_s)
    if n > MAX_TIME_STEPS:
        raise ParameterError(
            f"step_s: expected at most {MAX_TIME_STEPS:,} steps from start to stop (per-cell step counts are "
            f"int32), got {n:,} steps of {step_s!r} s"
        )
    a = np.datetime64(t0.replace(tzinfo=None), "ns")
    if n == 1:
        return time_grid_from_times(np.array([a]))
    assert step_ns is not None  # n > 1: the step is shorter than the span (< 2**64 ns)
    # a + k * step in modular uint64 arithmetic: exact, as every a + k * step lies in datetime64[ns]
    # while k * step alone may not fit int64 (spans over 292 years); the same integers otherwise
    offsets = np.arange(n, dtype=np.uint64) * np.uint64(step_ns)
    times = (offsets + np.uint64(int(a.astype(np.int64)) % 2**64)).view(np.int64).view("datetime64[ns]")
    return time_grid_from_times(times)
