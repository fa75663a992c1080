"""Demand for satellite broadband: who subscribes and how much each subscriber asks for in the busy hour.

A :class:`Demand` holds the subscribing share of the population (``adoption``, one number, or one per
country from a CSV table read by :func:`read_adoption`), the busy-hour demand per subscriber
(``busy_hour_mbps``, Mbit/s), the contention ratio of the busy hour (``overbooking``, subscribers per
simultaneously active user) and the meaningful-connectivity levels the accounts report
(``thresholds_mbps``, Mbit/s per active user). The allocation of :func:`orbitshare.engine.service.service` turns it into
the demand of a cell: population × served share × adoption × busy_hour_mbps. Every field is checked when
the object is made (:func:`demand_problems` lists every problem at once; the experiment reader reports
each under ``demand.<field>``).

An adoption table (CSV, UTF-8) has the header ``iso3,adoption,as_of,source`` and one row per country:
an ISO 3166-1 alpha-3 code of the country groups table, the subscribing share in [0, 1] (or
``unknown``: the country then takes the default share), the date of the figure (``YYYY-MM-DD``) and its
source (a URL or a document citation). Lines starting with ``#`` and blank lines are skipped.

>>> d = Demand(adoption=0.1, adoption_by_country={"FRA": 0.2})
>>> d.adoption_of("FRA"), d.adoption_of("DEU")
(0.2, 0.1)
>>> demand_problems(busy_hour_mbps=0)
[('busy_hour_mbps', 'expected a number of Mbit/s > 0, got 0')]
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orbitshare.errors import DataError, ParameterError
from orbitshare.geo.parts import country_groups
from orbitshare.landing import fact_table_rows, read_table_text

__all__ = [
    "Demand",
    "read_adoption",
    "demand_problems",
    "ADOPTION_COLUMNS",
    "DEFAULT_ADOPTION",
    "DEFAULT_BUSY_HOUR_MBPS",
    "DEFAULT_OVERBOOKING",
    "DEFAULT_THRESHOLDS_MBPS",
]

# source: Ogutu (Osoro) & Oughton 2021 [OO21], baseline adoption scenario of 1 % of the population
# (globalsat scripts/run.py SCENARIO; [OO23] saleos scripts/inputs.py adoption_rate = 0.01 too);
# stated, see docs/allocation_parameters.md, 2.1 and 4.
DEFAULT_ADOPTION = 0.01
"""Subscribing share of the population when an experiment gives none: 1 % ([OO21]'s baseline; see
docs/allocation_parameters.md)."""

# source: derived, see docs/allocation_parameters.md, 2.2 and 4: UK mean data use per fixed connection
# 2021 = 453 GB/month (Ofcom Connected Nations 2021, stated) -> 453e9 B x 8 bit/B / (30.4 d x 86,400 s)
# = 1.38 Mbit/s average; busy hour / average hour = 1.72 (Cisco VNI Usage study 2010, stated);
# 1.38 x 1.72 = 2.37 Mbit/s, rounded to 2.4.
DEFAULT_BUSY_HOUR_MBPS = 2.4
"""Busy-hour demand per subscriber (an average over subscribers), Mbit/s, when an experiment gives
none: UK 2021 mean rate 1.38 Mbit/s x busy/average ratio 1.72 = 2.37, rounded (see
docs/allocation_parameters.md)."""

# source: Ogutu (Osoro) & Oughton 2021 [OO21], overbooking factor 20 ("1 in 20 users access the
# network", globalsat scripts/inputs.py); stated, see docs/allocation_parameters.md, 1.5 and 3.2.
DEFAULT_OVERBOOKING = 20.0
"""Subscribers per simultaneously active user in the busy hour (contention ratio) when an experiment
gives none: [OO21]'s overbooking factor 20 (see docs/allocation_parameters.md)."""

DEFAULT_THRESHOLDS_MBPS: tuple[float, ...] = (10.0, 25.0, 100.0)
"""Meaningful-connectivity levels, Mbit/s per active user (:attr:`Demand.active_user_mbps`), the accounts
report shares of population above."""

#: The columns of an adoption table, in file order.
ADOPTION_COLUMNS: tuple[str, ...] = ("iso3", "adoption", "as_of", "source")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO3_RE = re.compile(r"[A-Z]{3}")

# A problem of a Demand field: (field, "expected ..., got ...").
_Problem = tuple[str, str]


def _real(v: Any) -> float | None:
    """``float(v)`` of a finite real number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    try:
        x = float(v)
    except (OverflowError, TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _shown(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else f"{text[:40]}... (long)"


def _share_problem(v: Any) -> str | None:
    x = _real(v)
    if x is None or not 0.0 <= x <= 1.0:
        return f"expected a share of the population in [0, 1], got {_shown(v)}"
    return None


def demand_problems(
    adoption: Any = DEFAULT_ADOPTION,
    adoption_by_country: Any = None,
    busy_hour_mbps: Any = DEFAULT_BUSY_HOUR_MBPS,
    thresholds_mbps: Any = DEFAULT_THRESHOLDS_MBPS,
    adoption_source: Any = "",
    overbooking: Any = DEFAULT_OVERBOOKING,
) -> list[_Problem]:
    """Every problem of these :class:`Demand` field values, as ``(field, "expected ..., got ...")``;
    ``[]`` when all are valid. Fields: ``adoption`` (a share in [0, 1]), ``adoption_by_country[ISO3]``
    (a mapping of ISO 3166-1 alpha-3 codes to shares in [0, 1]), ``busy_hour_mbps`` (Mbit/s > 0, finite),
    ``thresholds_mbps[j]`` (a non-empty sequence of Mbit/s > 0, finite, increasing, each once),
    ``adoption_source`` (a string), ``overbooking`` (subscribers per active user > 0, finite).

    >>> for name, detail in demand_problems(adoption=1.5, thresholds_mbps=[25, 10]):
    ...     print(f"{name}: {detail}")
    adoption: expected a share of the population in [0, 1], got 1.5
    thresholds_mbps[1]: expected a number of Mbit/s > thresholds_mbps[0] (25) (increasing, each once), got 10
    """
    out: list[_Problem] = []
    if (problem := _share_problem(adoption)) is not None:
        out.append(("adoption", problem))
    if adoption_by_country is not None:
        if not isinstance(adoption_by_country, Mapping):
            out.append(
                (
                    "adoption_by_country",
                    "expected a mapping of ISO 3166-1 alpha-3 codes to shares, "
                    f"got {type(adoption_by_country).__name__}",
                )
            )
        else:
            for code, share in adoption_by_country.items():
                if not (isinstance(code, str) and _ISO3_RE.fullmatch(code)):
                    out.append(
                        ("adoption_by_country", f"expected ISO 3166-1 alpha-3 codes (three capitals), got {code!r}")
                    )
                elif (problem := _share_problem(share)) is not None:
                    out.append((f"adoption_by_country[{code}]", problem))
    x = _real(busy_hour_mbps)
    if x is None or not x > 0:
        out.append(("busy_hour_mbps", f"expected a number of Mbit/s > 0, got {_shown(busy_hour_mbps)}"))
    out.extend(_threshold_problems(thresholds_mbps))
    if not isinstance(adoption_source, str):
        out.append(("adoption_source", f"expected a string, got {_shown(adoption_source)}"))
    x = _real(overbooking)
    if x is None or not x > 0:
        out.append(("overbooking", f"expected a number of subscribers per active user > 0, got {_shown(overbooking)}"))
    return out


def _threshold_problems(thresholds: Any) -> list[_Problem]:
    expected = "a non-empty sequence of Mbit/s > 0, increasing"
    if isinstance(thresholds, (str, bytes, Mapping)):
        return [("thresholds_mbps", f"expected {expected}, got {_shown(thresholds)}")]
    try:
        items = tuple(thresholds)
    except TypeError:
        return [("thresholds_mbps", f"expected {expected}, got {_shown(thresholds)}")]
    if not items:
        return [("thresholds_mbps", f"expected {expected}, got none")]
    out: list[_Problem] = []
    previous: tuple[int, float] | None = None
    for j, t in enumerate(items):
        x = _real(t)
        if x is None or not x > 0:
            out.append((f"thresholds_mbps[{j}]", f"expected a number of Mbit/s > 0, got {_shown(t)}"))
            continue
        if previous is not None and not x > previous[1]:
            k, last = previous
            out.append(
                (
                    f"thresholds_mbps[{j}]",
                    f"expected a number of Mbit/s > thresholds_mbps[{k}] ({last:g}) (increasing, each once), "
                    f"got {_shown(t)}",
                )
            )
            continue
        previous = (j, x)
    return out


@dataclass(frozen=True)
class Demand:
    """What the subscribers of a cell ask for in the busy hour.

    adoption : float            subscribing share of the population, in [0, 1] (countries the table
                                ``adoption_by_country`` lacks, and every country without one)
    adoption_by_country : Mapping[str, float] | None   ISO 3166-1 alpha-3 -> share in [0, 1] (e.g. from
                                :func:`read_adoption`); None = ``adoption`` everywhere
    busy_hour_mbps : float      busy-hour demand per subscriber, Mbit/s (> 0): an average over all
                                subscribers, active or not
    thresholds_mbps : tuple[float, ...]   meaningful-connectivity levels, Mbit/s per ACTIVE user (> 0,
                                increasing)
    adoption_source : str       provenance: "number (source ...)" or the adoption table's path; it takes
                                no part in comparisons
    overbooking : float         contention ratio: subscribers per simultaneously active user in the busy
                                hour (> 0, finite; default 20, [OO21])

    Demand and service are averages over subscribers: a cell's demand is subscribers x
    ``busy_hour_mbps``. Only one subscriber in ``overbooking`` is active at a time in the busy hour, so an
    active user's rate is the rate served per subscriber x ``overbooking``, and the meaningful-connectivity
    thresholds (``thresholds_mbps``) are compared with that rate per active user, not per subscriber. A
    cell whose demand is fully met gives its active users :attr:`active_user_mbps` =
    ``busy_hour_mbps x overbooking`` (2.4 x 20 = 48 Mbit/s with the defaults).

    An invalid field raises :class:`~orbitshare.errors.ParameterError` naming it (``Demand.<field>: ...``;
    :func:`demand_problems` lists every problem).

    >>> Demand().busy_hour_mbps == DEFAULT_BUSY_HOUR_MBPS
    True
    >>> Demand(thresholds_mbps=[5, 50]).thresholds_mbps
    (5.0, 50.0)
    >>> Demand(busy_hour_mbps=2.5, overbooking=8).active_user_mbps
    20.0
    """

    adoption: float = DEFAULT_ADOPTION
    adoption_by_country: Mapping[str, float] | None = field(default=None, hash=False)
    busy_hour_mbps: float = DEFAULT_BUSY_HOUR_MBPS
    thresholds_mbps: tuple[float, ...] = DEFAULT_THRESHOLDS_MBPS
    adoption_source: str = field(default="", compare=False)
    overbooking: float = DEFAULT_OVERBOOKING

    def __post_init__(self) -> None:
        problems = demand_problems(
            self.adoption,
            self.adoption_by_country,
            self.busy_hour_mbps,
            self.thresholds_mbps,
            self.adoption_source,
            self.overbooking,
        )
        if problems:
            name, detail = problems[0]
            raise ParameterError(f"Demand.{name}: {detail}")
        object.__setattr__(self, "adoption", float(self.adoption))
        object.__setattr__(self, "busy_hour_mbps", float(self.busy_hour_mbps))
        object.__setattr__(self, "overbooking", float(self.overbooking))
        object.__setattr__(self, "thresholds_mbps", tuple(float(t) for t in self.thresholds_mbps))
        if self.adoption_by_country is not None:
            shares = {str(k): float(v) for k, v in self.adoption_by_country.items()}
            object.__setattr__(self, "adoption_by_country", shares)

    @property
    def active_user_mbps(self) -> float:
        """The busy-hour rate of an active user when demand is fully met, Mbit/s:
        ``busy_hour_mbps x overbooking`` (the rate the thresholds compare with)."""
        return self.busy_hour_mbps * self.overbooking

    def adoption_of(self, iso3: str) -> float:
        """The subscribing share of country ``iso3`` (ISO 3166-1 alpha-3): its row of
        ``adoption_by_country``, else ``adoption``."""
        if self.adoption_by_country is None:
            return self.adoption
        return self.adoption_by_country.get(iso3.upper(), self.adoption)


# ---------------------------------------------------------------------------------------- the table
def _problem(label: str, line: int | None, name: str, message: str) -> str:
    where = f"line {line}: " if line is not None else ""
    return f"{label}: {where}{name}: {message}"


def _row_problems(fields: list[str], known: set[str]) -> tuple[tuple[str, float | None] | None, list[_Problem]]:
    """``(iso3, share or None for "unknown")`` of one data row and its problems (field, message)."""
    iso3, share_text, as_of, source = (f.strip() for f in fields)
    problems: list[_Problem] = []
    if iso3 not in known:
        shown = repr(iso3) if iso3 else "nothing"
        problems.append(("iso3", f"expected an ISO 3166-1 alpha-3 code of the country groups table, got {shown}"))
    share: float | None = None
    if share_text != "unknown":
        try:
            share = float(share_text)
        except ValueError:
            share = None
        if share is None or not (math.isfinite(share) and 0.0 <= share <= 1.0):
            shown = repr(share_text) if share_text else "nothing"
            problems.append(("adoption", f"expected a share of the population in [0, 1] or 'unknown', got {shown}"))
    day = None
    if _DATE_RE.fullmatch(as_of):
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            day = None
    if day is None:
        shown = repr(as_of) if as_of else "nothing (an undated row)"
        problems.append(("as_of", f"expected an ISO date YYYY-MM-DD, got {shown}"))
    if not source:
        problems.append(("source", "expected the source of the figure (a URL or a document citation), got nothing"))
    return (None if problems else (iso3, share)), problems


def read_adoption(path: str | os.PathLike[str]) -> dict[str, float]:
    """The subscribing share of each country of an adoption table (CSV, module docstring): ISO 3166-1
    alpha-3 code -> share in [0, 1]; rows whose share is ``unknown`` are left out (those countries take
    the default share).

    Raises :class:`~orbitshare.errors.DataError` naming every problem at once, one line each,
    ``file: line N: field: expected ..., got ...``: a path that is not a readable ``.csv`` UTF-8 file, a
    header other than ``iso3,adoption,as_of,source``, a row with another number of fields, a code not in
    the country groups table, a share outside [0, 1], a missing or malformed date, a missing source, a
    country twice, a table without rows.
    """
    file = Path(path)
    label = str(file)
    text = read_table_text(file, label, "adoption table", DataError)
    known = {str(c) for c in country_groups()["iso3"]}
    problems: list[str] = []
    shares: dict[str, float] = {}
    first: dict[str, int] = {}
    for number, fields in fact_table_rows(text, label, ADOPTION_COLUMNS, problems):
        row, mine = _row_problems(fields, known)
        problems.extend(_problem(label, number, name, message) for name, message in mine)
        if row is None:
            continue
        iso3, share = row
        if iso3 in first:
            problems.append(
                _problem(label, number, "iso3", f"expected each country once, got {iso3!r} again (line {first[iso3]})")
            )
            continue
        first[iso3] = number
        if share is not None:
            shares[iso3] = share
    if not first and not problems:
        problems.append(_problem(label, None, "rows", "expected at least one country row, got none"))
    if problems:
        raise DataError("\n".join(problems))
    return shares
