"""Landing rights: which administrations let which non-GSO system family serve users, as of a date.

The table ``orbitshare/data/landing_rights.csv`` has one row per (system family, ISO 3166-1 alpha-3
country, date of change) with a status (``authorised``, ``pending``, ``prohibited`` or ``unknown``) and
the public source of that status; its header comments define the statuses and say how it was built.
Every UN member state has a ``starlink`` and a ``oneweb`` row (``unknown`` where no public decision
was found).

:func:`read_landing_rights` reads and validates a table (the shipped one or a user's); every problem
of the file is reported at once, as one :class:`~orbitshare.errors.ConfigError` with one line per
problem naming the file, the line and the field::

    rights.csv: line 7: iso3: expected an ISO 3166-1 alpha-3 code of the country groups table, got 'XYZ'
    rights.csv: line 9: as_of: expected an ISO date YYYY-MM-DD, got nothing (an undated row)

:func:`landing_rights` gives the status of every (system family, country) pair of a table as of a date.
A system family is a filings-table ``system_id`` up to its first underscore (:func:`system_family`).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from orbitshare.errors import ConfigError, OrbitshareError, ParameterError
from orbitshare.geo.parts import country_groups

#: The statuses a landing-rights row may have (definitions in the table's header comments).
STATUSES: tuple[str, ...] = ("authorised", "pending", "prohibited", "unknown")

#: The columns of a landing-rights table, in file order.
COLUMNS: tuple[str, ...] = ("system", "iso3", "status", "as_of", "source")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


def system_family(system_id: str) -> str:
    """The landing-rights family of a filings-table ``system_id``: the part before its first ``_``.

    >>> system_family("starlink_gen2_granted"), system_family("oneweb_phase1"), system_family("kuiper")
    ('starlink', 'oneweb', 'kuiper')
    """
    return system_id.split("_", 1)[0]


def system_families() -> tuple[str, ...]:
    """The system families of the filings table ``orbitshare/data/filings.csv``, sorted.

    >>> {"starlink", "oneweb", "kuiper"} <= set(system_families())
    True
    """
    text = (resources.files("orbitshare") / "data" / "filings.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return tuple(sorted({system_family(row["system_id"]) for row in csv.DictReader(lines)}))


def default_path() -> Path:
    """Path of the shipped table ``orbitshare/data/landing_rights.csv``."""
    return Path(str(resources.files("orbitshare") / "data" / "landing_rights.csv"))


def _problem(label: str, line: int | None, field: str, message: str) -> str:
    where = f"line {line}: " if line is not None else ""
    return f"{label}: {where}{field}: {message}"


def _parse_date(text: str) -> dt.date | None:
    """An ISO ``YYYY-MM-DD`` date, or None when ``text`` is not one."""
    if not _DATE_RE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def read_table_text(file: Path, label: str, what: str, error: type[OrbitshareError]) -> str:
    """The UTF-8 text of a fact table's ``.csv`` file (``what``: "gateway table", ...); ``error`` naming the
    file (and the line of the first bad byte) when it is not one: another suffix, missing, a directory,
    unreadable, not UTF-8. Shared by the landing-rights, gateway and adoption tables."""
    if file.suffix.lower() != ".csv":
        shown = repr(file.suffix) if file.suffix else "a suffix-less"
        raise error(_problem(label, None, "file", f"expected a .csv {what}, got {shown} file"))
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise error(_problem(label, None, "file", "no such file")) from None
    except IsADirectoryError:
        raise error(_problem(label, None, "file", "expected a .csv file, got a directory")) from None
    except OSError as exc:
        raise error(_problem(label, None, "file", f"cannot be read ({exc.strerror or exc})")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = text_line_of_byte(data, exc.start)
        raise error(_problem(label, line, "file", "not UTF-8 text (not a CSV table)")) from None


def fact_table_rows(
    text: str, label: str, columns: Sequence[str], problems: list[str]
) -> Iterator[tuple[int, list[str]]]:
    """The data rows of a fact table's CSV text: ``(line number, fields)`` with the right number of fields.

    Blank lines and lines starting with ``#`` are skipped; the first other line must be the header
    ``columns``. Every problem goes to ``problems`` as ``label: line N: field: expected ..., got ...``: a NUL
    byte (reading stops), a malformed row, a wrong header (reading stops), a row with another number of
    fields, no header at all ("an empty table"). Shared by the landing-rights, gateway and adoption tables."""
    header_seen = False
    expected = ",".join(columns)
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if "\x00" in raw:
            problems.append(_problem(label, number, "file", "expected a CSV table, got binary data (a NUL byte)"))
            return
        try:
            fields = next(csv.reader([raw], strict=True))
        except csv.Error as exc:
            problems.append(_problem(label, number, "row", f"expected a CSV row, got {exc}"))
            continue
        if not header_seen:
            header_seen = True
            got = [f.strip() for f in fields]
            if tuple(got) != tuple(columns):
                problems.append(
                    _problem(label, number, "header", f"expected the columns {expected}, got {','.join(got)!r}")
                )
                return
            continue
        if len(fields) != len(columns):
            problems.append(
                _problem(
                    label, number, "row", f"expected {len(columns)} fields ({', '.join(columns)}), got {len(fields)}"
                )
            )
            continue
        yield number, fields
    if not header_seen:
        problems.append(_problem(label, None, "header", f"expected the columns {expected}, got an empty table"))


def read_landing_rights(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read and validate a landing-rights table (default: the shipped one).

    Returns a DataFrame with columns ``system, iso3, status, source`` (str), ``as_of``
    (``datetime64[ns]``, a day) and ``line`` (int, the row's line in the file), sorted by system,
    country and date. Lines starting with ``#`` and blank lines are skipped.

    Raises :class:`~orbitshare.errors.ConfigError` naming the file, line and field of every problem:
    a path that is not a readable ``.csv`` text file, a header other than ``system,iso3,status,as_of,
    source``, a row with another number of fields, a system that is not a family of the filings table,
    an ISO3 code not in the country groups table, a status outside :data:`STATUSES`, a missing or
    malformed ``as_of`` date, a missing source, two rows for one (system, country, date).

    >>> t = read_landing_rights()
    >>> sorted(set(t["status"])) == sorted(STATUSES), bool(t["source"].str.len().gt(0).all())
    (True, True)
    >>> list(t.loc[(t.system == "starlink") & (t.iso3 == "FRA"), "status"])
    ['authorised', 'pending', 'authorised']
    """
    file = default_path() if path is None else Path(path)
    label = str(file)
    text = read_table_text(file, label, "landing-rights table", ConfigError)

    families = set(system_families())
    known_iso3 = {str(c) for c in country_groups()["iso3"]}
    problems: list[str] = []
    records: list[tuple[str, str, str, dt.date, str, int]] = []
    seen: dict[tuple[str, str, dt.date], int] = {}
    for number, fields in fact_table_rows(text, label, COLUMNS, problems):
        system, iso3, status, as_of_text, source = (f.strip() for f in fields)
        ok = True
        if system not in families:
            shown = repr(system) if system else "nothing"
            problems.append(
                _problem(
                    label,
                    number,
                    "system",
                    f"expected a system family of the filings table ({', '.join(sorted(families))}), got {shown}",
                )
            )
            ok = False
        if iso3 not in known_iso3:
            shown = repr(iso3) if iso3 else "nothing"
            problems.append(
                _problem(
                    label,
                    number,
                    "iso3",
                    f"expected an ISO 3166-1 alpha-3 code of the country groups table, got {shown}",
                )
            )
            ok = False
        if status not in STATUSES:
            shown = repr(status) if status else "nothing"
            problems.append(_problem(label, number, "status", f"expected one of {', '.join(STATUSES)}, got {shown}"))
            ok = False
        day = _parse_date(as_of_text)
        if day is None:
            shown = repr(as_of_text) if as_of_text else "nothing (an undated row)"
            problems.append(_problem(label, number, "as_of", f"expected an ISO date YYYY-MM-DD, got {shown}"))
            ok = False
        if not source:
            problems.append(
                _problem(
                    label,
                    number,
                    "source",
                    "expected the source of the status (decision, gazette, operator page or dated report), got nothing",
                )
            )
            ok = False
        if not ok or day is None:
            continue
        key = (system, iso3, day)
        if key in seen:
            problems.append(
                _problem(
                    label,
                    number,
                    "as_of",
                    f"a second row for ({system}, {iso3}, {day.isoformat()}); the first is at line {seen[key]}",
                )
            )
            continue
        seen[key] = number
        records.append((system, iso3, status, day, source, number))
    if problems:
        raise ConfigError("\n".join(problems), problems=problems)

    frame = pd.DataFrame(records, columns=["system", "iso3", "status", "as_of", "source", "line"])
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    frame["line"] = frame["line"].astype(np.int64)
    frame = frame.sort_values(["system", "iso3", "as_of"], kind="stable").reset_index(drop=True)
    return frame[["system", "iso3", "status", "as_of", "source", "line"]]


def text_line_of_byte(data: bytes, offset: int) -> int:
    """The 1-based line number of byte ``offset`` of ``data`` (lines end at ``\\n``).

    >>> text_line_of_byte(b"a\\nb\\nc", 4)
    3
    """
    return data.count(b"\n", 0, offset) + 1


def _as_day(as_of: object) -> pd.Timestamp:
    """A date argument (ISO string, date, datetime, numpy or pandas timestamp) as a midnight Timestamp."""
    if isinstance(as_of, str):
        day = _parse_date(as_of.strip())
        if day is None:
            raise ParameterError(f"as_of: expected an ISO date YYYY-MM-DD, got {as_of!r}")
        return pd.Timestamp(day)
    if isinstance(as_of, dt.datetime | pd.Timestamp | np.datetime64 | dt.date):
        stamp = pd.Timestamp(as_of)
        if stamp is pd.NaT or pd.isna(stamp):
            raise ParameterError(f"as_of: expected a date, got {as_of!r}")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.normalize()
    raise ParameterError(f"as_of: expected an ISO date string or a date, got {type(as_of).__name__} {as_of!r}")


def landing_rights(as_of: object = None, path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The landing-rights status of every (system family, country) pair of a table, as of a date.

    ``as_of``: an ISO date string ``YYYY-MM-DD``, a :class:`datetime.date`/``datetime``, or a numpy
    or pandas timestamp (the day counts, time of day is ignored); None (default) = the latest status.
    ``path``: a landing-rights CSV (default: the shipped table), validated by :func:`read_landing_rights`.

    Returns a DataFrame with columns ``system, iso3, status, as_of, source``, one row per (system,
    country) pair that the table mentions, sorted by system and country: the latest row dated on or
    before ``as_of``. A pair whose rows all come later has status ``unknown``, ``as_of`` NaT and the
    source ``"no row dated on or before <date>"``.

    >>> from orbitshare.geo.parts import country_groups
    >>> g = country_groups()
    >>> un = set(g["iso3"][g["un_member"]])
    >>> t = landing_rights()
    >>> len(un & set(t.loc[t.system == "starlink", "iso3"])), len(un & set(t.loc[t.system == "oneweb", "iso3"]))
    (193, 193)
    >>> def status(day):
    ...     r = landing_rights(day)
    ...     return r.loc[(r.system == "starlink") & (r.iso3 == "FRA"), "status"].item()
    >>> status("2021-01-01"), status("2022-05-01"), status("2022-06-01")
    ('unknown', 'pending', 'authorised')
    """
    table = read_landing_rights(path)
    if as_of is None:
        chosen = table
        day = None
    else:
        day = _as_day(as_of)
        chosen = table[table["as_of"] <= day]
    latest = chosen.drop_duplicates(["system", "iso3"], keep="last")
    pairs = table[["system", "iso3"]].drop_duplicates()
    out = pairs.merge(latest[["system", "iso3", "status", "as_of", "source"]], on=["system", "iso3"], how="left")
    missing = out["status"].isna()
    if missing.any():
        shown = day.date().isoformat() if day is not None else "the latest date"
        out.loc[missing, "status"] = "unknown"
        out.loc[missing, "source"] = f"no row dated on or before {shown}"
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    out = out.sort_values(["system", "iso3"], kind="stable").reset_index(drop=True)
    return out[list(COLUMNS)]


#: The named landing-rights scenarios of a system, and the statuses each lets it serve (None: every country).
SCENARIOS: dict[str, tuple[str, ...] | None] = {
    "all": None,
    "authorised": ("authorised",),
    "authorised+pending": ("authorised", "pending"),
}


def scenario_problem(scenario: object) -> str | None:
    """None when ``scenario`` is a landing-rights scenario (a name of :data:`SCENARIOS` or a path string ending
    in ``.csv``), else the expectation and what was given.

    >>> scenario_problem("authorised") is None, scenario_problem("rights.CSV") is None
    (True, True)
    >>> scenario_problem("authorized")
    "expected 'all', 'authorised', 'authorised+pending' or a path to a .csv landing-rights table, got 'authorized'"
    """
    if isinstance(scenario, str) and (scenario in SCENARIOS or scenario.lower().endswith(".csv")):
        return None
    return (
        f"expected 'all', 'authorised', 'authorised+pending' or a path to a .csv landing-rights table, got {scenario!r}"
    )


def servable_countries(
    family: str, scenario: str, as_of: object, path: str | os.PathLike[str] | None = None
) -> tuple[str, ...] | None:
    """The countries (ISO 3166-1 alpha-3, sorted) a system of ``family`` may serve under a landing-rights
    ``scenario`` as of a date; None for ``"all"`` (every country, ocean included).

    ``scenario``: ``"authorised"`` (countries whose status is authorised), ``"authorised+pending"`` (or
    pending), or the path of a landing-rights CSV (its authorised countries). ``path``: the table of the
    named scenarios (default: the shipped one). ``as_of``: as for :func:`landing_rights`. A family the table
    does not mention may serve no country. Raises :class:`~orbitshare.errors.ConfigError` for a bad table
    and :class:`~orbitshare.errors.ParameterError` for a bad scenario or date.

    >>> servable_countries("starlink", "all", "2026-01-01") is None
    True
    >>> "FRA" in servable_countries("starlink", "authorised", "2022-05-01")
    False
    >>> "FRA" in servable_countries("starlink", "authorised+pending", "2022-05-01")
    True
    >>> "FRA" in servable_countries("starlink", "authorised", "2022-06-01")
    True
    """
    problem = scenario_problem(scenario)
    if problem is not None:
        raise ParameterError(f"scenario: {problem}")
    statuses = SCENARIOS.get(scenario, ("authorised",))
    if statuses is None:
        return None
    table = landing_rights(as_of, path if scenario in SCENARIOS else scenario)
    chosen = table[(table["system"] == family) & table["status"].isin(statuses)]
    return tuple(sorted(str(c) for c in chosen["iso3"]))


def compose_countries(
    servable: tuple[str, ...] | None,
    serve: tuple[str, ...] | None,
    exclude: tuple[str, ...],
    territories: tuple[str, ...] = (),
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """A system's ``(serve_countries, exclude_countries)`` under landing rights: the countries it may serve
    are ``servable`` ∩ ``serve`` (None = no restriction; the order of ``serve`` kept), the excluded ones
    ``exclude`` ∪ ``territories`` (first occurrence kept; an excluded country is never served).

    >>> compose_countries(None, None, ("IND",))
    (None, ('IND',))
    >>> compose_countries(("FRA", "DEU", "ITA"), ("ITA", "ESP", "FRA"), ("IND",), ("FRA", "IND"))
    (('ITA', 'FRA'), ('IND', 'FRA'))
    """
    if servable is None:
        allowed = serve
    elif serve is None:
        allowed = servable
    else:
        keep = set(servable)
        allowed = tuple(c for c in serve if c in keep)
    excluded = tuple(dict.fromkeys((*exclude, *territories)))
    return allowed, excluded
