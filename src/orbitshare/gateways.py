"""Gateway (feeder-link earth station) sites of the broadband non-GSO systems.

A satellite of a bent-pipe system delivers capacity only while one of its system's gateways sees it
above the gateway elevation mask. The table ``orbitshare/data/gateways.csv`` lists the publicly known
gateway sites, one row per (system family, site), with the geodetic latitude and longitude of the site
in degrees (WGS84, north and east positive), a status, the date and the public source of the row; its
header comments define the statuses and say how it was built.

:func:`read_gateways` reads and validates a table (the shipped one or a user's); every problem of the
file is reported at once, as one :class:`~orbitshare.errors.DataError` with one line per problem
naming the file, the line and the field::

    sites.csv: line 7: lat_deg: expected a latitude in degrees in [-90, 90], got '95.2'
    sites.csv: line 9: as_of: expected an ISO date YYYY-MM-DD, got nothing (an undated row)

:func:`gateway_sites` turns an experiment's ``gateways`` key into the ``(lat_deg, lon_deg)`` pairs of
:attr:`orbitshare.system.System.gateway_sites`.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from orbitshare.errors import DataError, ParameterError
from orbitshare.geo.parts import country_groups
from orbitshare.landing import _parse_date, _problem, fact_table_rows, read_table_text, system_families

#: The statuses a gateway row may have (definitions in the table's header comments).
STATUSES: tuple[str, ...] = ("operational", "licensed", "planned", "unknown")

#: The columns of a gateway table, in file order.
COLUMNS: tuple[str, ...] = ("family", "site", "country", "lat_deg", "lon_deg", "status", "as_of", "source", "note")

#: The statuses :func:`gateway_sites` takes from the shipped table by default.
DEFAULT_STATUSES: tuple[str, ...] = ("operational", "licensed")

_Record = tuple[str, str, str, float, float, str, dt.date, str, str, int]


def default_path() -> Path:
    """Path of the shipped table ``orbitshare/data/gateways.csv``."""
    return Path(str(resources.files("orbitshare") / "data" / "gateways.csv"))


def _shown(text: str, empty: str = "nothing") -> str:
    return repr(text) if text else empty


def _angle(text: str, limit: float) -> float | None:
    """A finite number in [-limit, limit] (degrees), or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > limit:
        return None
    return value


def _check_row(
    label: str, number: int, fields: list[str], families: set[str], known_iso3: set[str], problems: list[str]
) -> _Record | None:
    """The validated record of one data row, or None after appending its problems."""
    family, site, country, lat_text, lon_text, status, as_of_text, source, note = (f.strip() for f in fields)
    before = len(problems)

    def bad(field: str, message: str) -> None:
        problems.append(_problem(label, number, field, message))

    if family not in families:
        bad(
            "family",
            f"expected a system family of the filings table ({', '.join(sorted(families))}), got {_shown(family)}",
        )
    if not site:
        bad("site", "expected the name of the site, got nothing")
    if country not in known_iso3:
        bad("country", f"expected an ISO 3166-1 alpha-3 code of the country groups table, got {_shown(country)}")
    lat = _angle(lat_text, 90.0)
    if lat is None:
        bad("lat_deg", f"expected a latitude in degrees in [-90, 90], got {_shown(lat_text)}")
    lon = _angle(lon_text, 180.0)
    if lon is None:
        bad("lon_deg", f"expected a longitude in degrees in [-180, 180], got {_shown(lon_text)}")
    if status not in STATUSES:
        bad("status", f"expected one of {', '.join(STATUSES)}, got {_shown(status)}")
    day = _parse_date(as_of_text)
    if day is None:
        bad("as_of", f"expected an ISO date YYYY-MM-DD, got {_shown(as_of_text, 'nothing (an undated row)')}")
    if not source:
        bad(
            "source",
            "expected the source of the row (filing, regulator list, operator page or dated report), got nothing",
        )
    if len(problems) > before or lat is None or lon is None or day is None:
        return None
    return (family, site, country, lat, lon, status, day, source, note, number)


def _duplicate(label: str, record: _Record, seen: dict[tuple[object, ...], int]) -> str | None:
    """A problem line when ``record`` repeats an earlier row's (family, site, country) or (family, lat, lon)."""
    family, site, country, lat, lon = record[:5]
    number = record[-1]
    for field, key in (("site", (family, site, country)), ("lat_deg", (family, lat, lon))):
        if key in seen:
            what = f"({family}, {site}, {country})" if field == "site" else f"({family}, {lat}, {lon})"
            return _problem(label, number, field, f"a second row for {what}; the first is at line {seen[key]}")
    seen[(family, site, country)] = number
    seen[(family, lat, lon)] = number
    return None


def read_gateways(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read and validate a gateway table (default: the shipped one).

    Returns a DataFrame in file order with columns ``family, site, country, status, source, note``
    (str), ``lat_deg``, ``lon_deg`` (float, degrees: geodetic latitude north-positive in [-90, 90],
    longitude east-positive in [-180, 180]), ``as_of`` (``datetime64[ns]``, a day) and ``line`` (int,
    the row's line in the file). Lines starting with ``#`` and blank lines are skipped.

    Raises :class:`~orbitshare.errors.DataError` naming the file, line and field of every problem: a
    path that is not a readable ``.csv`` text file, a header other than :data:`COLUMNS`, a row with
    another number of fields, a family that is not a family of the filings table, a country not in
    the country groups table, a latitude or longitude that is not a number in range, a status outside
    :data:`STATUSES`, a missing or malformed ``as_of`` date, a missing source or site, a second row
    for one (family, site, country) or one (family, latitude, longitude).

    >>> t = read_gateways()
    >>> bool(t["source"].str.len().gt(0).all()), set(t["status"]) <= set(STATUSES)
    (True, True)
    >>> row = t[(t.family == "starlink") & (t.site == "Conrad, MT")]
    >>> float(row.lat_deg.iloc[0]), float(row.lon_deg.iloc[0]), row.status.iloc[0]
    (48.2033, -111.9453, 'operational')
    """
    file = default_path() if path is None else Path(path)
    label = str(file)
    text = read_table_text(file, label, "gateway table", DataError)
    families = set(system_families())
    known_iso3 = {str(c) for c in country_groups()["iso3"]}
    problems: list[str] = []
    records: list[_Record] = []
    seen: dict[tuple[object, ...], int] = {}
    for number, fields in fact_table_rows(text, label, COLUMNS, problems):
        record = _check_row(label, number, fields, families, known_iso3, problems)
        if record is None:
            continue
        duplicate = _duplicate(label, record, seen)
        if duplicate is not None:
            problems.append(duplicate)
            continue
        records.append(record)
    if problems:
        raise DataError("\n".join(problems))
    return _frame(records)


def _frame(records: list[_Record]) -> pd.DataFrame:
    columns = [*COLUMNS, "line"]
    frame = pd.DataFrame(records, columns=columns)
    frame["lat_deg"] = frame["lat_deg"].astype(np.float64)
    frame["lon_deg"] = frame["lon_deg"].astype(np.float64)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["line"] = frame["line"].astype(np.int64)
    return frame[columns]


@functools.lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    return read_gateways(default_path())


def gateway_table() -> pd.DataFrame:
    """The shipped gateway table, validated (a copy of a cached read; columns as :func:`read_gateways`).

    >>> t = gateway_table()
    >>> {"starlink", "oneweb"} <= set(t["family"]), bool(t["lat_deg"].between(-90, 90).all())
    (True, True)
    """
    return _shipped().copy()


def _pairs(rows: pd.DataFrame) -> tuple[tuple[float, float], ...]:
    return tuple((float(lat), float(lon)) for lat, lon in zip(rows["lat_deg"], rows["lon_deg"], strict=True))


def _check_statuses(statuses: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(statuses) if not isinstance(statuses, str) else (statuses,)
    wrong = [s for s in chosen if s not in STATUSES]
    if wrong or not chosen:
        shown = ", ".join(repr(s) for s in wrong) if wrong else "nothing"
        raise ParameterError(f"statuses: expected one or more of {', '.join(STATUSES)}, got {shown}")
    return chosen


def gateway_sites(
    spec: str,
    family: str | None,
    *,
    base: Path | None = None,
    statuses: Iterable[str] = DEFAULT_STATUSES,
) -> tuple[tuple[float, float], ...] | None:
    """The gateway sites ``(lat_deg, lon_deg)`` (degrees, geodetic, north/east positive) of an experiment's
    ``gateways`` key, in file order; None for ``"anywhere"`` (gateways do not limit delivery).

    ``spec``: ``"anywhere"``; ``"table"`` (the shipped table's rows of ``family`` whose status is one of
    ``statuses``); or the path of a CSV in the format of :func:`read_gateways` (relative to ``base``
    when not absolute; all its rows when ``family`` is None, else that family's rows, whatever their
    status). Raises :class:`~orbitshare.errors.ParameterError` when ``"table"`` is asked without a
    family or with a family (or statuses) that has no row, or when the CSV has no row of ``family``;
    :class:`~orbitshare.errors.DataError` for a bad CSV.

    >>> gateway_sites("anywhere", "starlink") is None
    True
    >>> sites = gateway_sites("table", "starlink")
    >>> (48.2033, -111.9453) in sites, all(-90 <= lat <= 90 and -180 <= lon <= 180 for lat, lon in sites)
    (True, True)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ParameterError(f'gateways: expected "anywhere", "table" or a path to a .csv gateway table, got {spec!r}')
    if spec == "anywhere":
        return None
    if spec == "table":
        chosen = _check_statuses(statuses)
        if family is None:
            raise ParameterError('gateways: "table" needs the system family of the system (got none)')
        table = _shipped()
        rows = table[(table["family"] == family) & table["status"].isin(chosen)]
        if rows.empty:
            raise ParameterError(
                f"gateways: the shipped gateway table has no site of family {family!r} with status "
                f"{' or '.join(chosen)} (families: {', '.join(sorted(set(table['family'])))})"
            )
        return _pairs(rows)
    path = Path(spec)
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    table = read_gateways(path)
    rows = table if family is None else table[table["family"] == family]
    if rows.empty:
        whose = "no row" if family is None else f"no row of family {family!r}"
        raise ParameterError(f"gateways: {path}: {whose}")
    return _pairs(rows)
