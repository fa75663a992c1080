"""The fields of an element-set record and the helpers that TLE and OMM readers and writers share.

Field names and their units are those of :class:`~orbitshare.elements.elementset.ElementSet`.
Epochs travel as integer nanoseconds since 1970-01-01T00:00 UTC (the int64 view of
``datetime64[ns]``), so that no reader or writer rounds through a float.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Protocol

from orbitshare.errors import ElementSetError

__all__ = [
    "FIELDS",
    "ARRAY_FIELDS",
    "FLOAT_FIELDS",
    "INT_FIELDS",
    "STR_FIELDS",
    "FLAG_TLE",
    "FLAG_NDDOT_EXP_MINUS",
    "FLAG_BSTAR_EXP_MINUS",
    "FLAG_EPHTYPE_BLANK",
    "FLAG_NAME_ZERO_PREFIX",
    "NS_PER_DAY",
    "days_from_civil",
    "civil_from_ns",
    "record_error",
    "has_lone_surrogate",
    "RecordSink",
]

#: ``fmt_flags`` bit: record was read from a TLE, so :meth:`ElementSet.sgp4_arrays` follows
#: ``Satrec.twoline2rv``; otherwise it follows ``sgp4.omm.initialize``.
FLAG_TLE = 1
#: ``fmt_flags`` bit: the TLE nddot field had a zero exponent written ``-0``.
FLAG_NDDOT_EXP_MINUS = 2
#: ``fmt_flags`` bit: the TLE bstar field had a zero exponent written ``-0``.
FLAG_BSTAR_EXP_MINUS = 4
#: ``fmt_flags`` bit: the TLE ephemeris-type column was blank (value 0).
FLAG_EPHTYPE_BLANK = 8
#: ``fmt_flags`` bit: the TLE name line carried Space-Track's ``"0 "`` prefix.
FLAG_NAME_ZERO_PREFIX = 16

_SURROGATE_RE = re.compile("[\ud800-\udfff]")

#: Nanoseconds per day (epochs are integer ns since 1970-01-01 UTC).
NS_PER_DAY = 86_400_000_000_000

#: The float64 fields (units in the ElementSet class doc).
FLOAT_FIELDS = (
    "mean_motion",
    "eccentricity",
    "inclination",
    "raan",
    "arg_perigee",
    "mean_anomaly",
    "bstar",
    "mean_motion_dot",
    "mean_motion_ddot",
)
#: The int64 fields.
INT_FIELDS = ("norad", "element_set_no", "rev_at_epoch", "ephemeris_type")
#: The str (object array) fields.
STR_FIELDS = ("name", "intldesg")

#: The per-record data fields, in order.
FIELDS = (
    "norad",
    "name",
    "intldesg",
    "classification",
    "epoch",
    "mean_motion",
    "eccentricity",
    "inclination",
    "raan",
    "arg_perigee",
    "mean_anomaly",
    "bstar",
    "mean_motion_dot",
    "mean_motion_ddot",
    "element_set_no",
    "rev_at_epoch",
    "ephemeris_type",
)
#: Every per-record array of an ElementSet: the data fields, then ``fmt_flags``.
ARRAY_FIELDS = FIELDS + ("fmt_flags",)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given proleptic Gregorian date (negative before 1970)."""
    return _dt.date(year, month, day).toordinal() - 719163  # 1970-01-01 is ordinal 719163


def civil_from_ns(ns: int) -> tuple[_dt.date, int]:
    """(date, nanoseconds since that date's midnight) of ``ns`` nanoseconds since 1970-01-01 UTC."""
    day, nsod = divmod(ns, NS_PER_DAY)
    return _dt.date.fromordinal(day + 719163), nsod


def record_error(
    source: str, line: int | None, field: str | None, message: str, where: str = "line"
) -> ElementSetError:
    """An :class:`~orbitshare.errors.ElementSetError` with ``source``, ``line`` and ``field`` attributes.

    The message reads ``"source:line: field 'x': message"``; ``where`` other than ``"line"``
    (``"record"``, ``"segment"``) gives ``"source: record 3: ..."``. A ``message`` starting with
    ``"("`` follows the field name after a blank (``"field 'x' (columns 9-16): ..."``).
    """
    loc = source if line is None else f"{source}:{line}"
    if where != "line" and line is not None:
        loc = f"{source}: {where} {line}"
    sep = " " if message.startswith("(") else ": "  # "field 'x' (columns 9-16): ..."
    text = f"{loc}: {message}" if field is None else f"{loc}: field {field!r}{sep}{message}"
    err = ElementSetError(text)
    err.source, err.line, err.field = source, line, field  # type: ignore[attr-defined]
    return err


def has_lone_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone UTF-16 surrogate (a JSON ``"\\ud800"`` escape): not valid Unicode text.

    >>> has_lone_surrogate("ISS (ZARYA)"), has_lone_surrogate("X\\ud800")
    (False, True)
    """
    return not text.isascii() and _SURROGATE_RE.search(text) is not None


class RecordSink(Protocol):
    """Where the TLE and OMM text readers put what they parse (the reader in :mod:`.read` collects)."""

    def add(self, rec: dict[str, Any], line: int | None) -> None:
        """Take one record: a dict with every name of :data:`ARRAY_FIELDS` (``epoch`` in int ns)."""

    def bad(self, err: ElementSetError) -> None:
        """Take one malformed record: raise ``err`` or note it as skipped."""
