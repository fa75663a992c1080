"""Orbital element sets (TLE and CCSDS OMM) as a struct of NumPy arrays.

:class:`ElementSet` holds one record per object in parallel arrays; :func:`load_elements`
reads 2-/3-line TLE and CelesTrak OMM (CSV, JSON, XML; optionally gzip-compressed) files,
and :meth:`ElementSet.to_tle` / :meth:`ElementSet.to_omm` write them back.

Units follow the TLE/OMM fields as written: mean motion in rev/day (Kozai), angles in
degrees, ``bstar`` in 1/earth radii, ``mean_motion_dot`` = ndot/2 in rev/day^2 and
``mean_motion_ddot`` = nddot/6 in rev/day^3. Epochs are UTC ``datetime64[ns]``.

Round trips (tested on CelesTrak files and on sgp4's SGP4-VER.TLE):

* TLE -> ElementSet -> :meth:`~ElementSet.to_tle`: the same text up to line endings
  (always ``"\\n"``) and trailing whitespace. Cosmetic choices that values cannot carry are
  kept in the per-record ``fmt_flags`` array (a zero exponent written ``-0``, a blank
  ephemeris type, a ``"0 "`` prefix on a name line). Normalized: satellite numbers with
  leading blanks are zero-padded, non-normalized exponent mantissas (``" 01234-5"``) are
  normalized (``" 12340-6"``).
* OMM -> ElementSet -> :meth:`~ElementSet.to_omm` -> load: bit-identical floats, the same
  nanosecond epoch, for CSV, JSON and XML. The CSV text is byte-identical to CelesTrak's
  (CRLF, ``.00057434``, ``.91150244E-3``, ``0``) whenever the values are CelesTrak's (at
  most 8 significant digits, 8/4 decimals for mean motion/angles); other values are
  written with the shortest text that round-trips.
* OMM -> TLE rounds to TLE precision: epoch to 1e-8 day, mean motion and ndot to 8
  decimals, eccentricity to 7 decimals, angles to 4 decimals, bstar/nddot to 5 significant
  digits (values below 1e-10 become zero).
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import io
import json
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape as _xml_escape

import numpy as np

from orbitshare.errors import ElementSetError, ElementSetWarning

__all__ = [
    "ElementSet",
    "ElementSetWarning",
    "Skipped",
    "Duplicate",
    "load_elements",
    "parse_elements",
    "FLAG_TLE",
    "FLAG_NDDOT_EXP_MINUS",
    "FLAG_BSTAR_EXP_MINUS",
    "FLAG_EPHTYPE_BLANK",
    "FLAG_NAME_ZERO_PREFIX",
]

# ---------------------------------------------------------------------------------------
# constants

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

_NS_PER_DAY = 86_400_000_000_000
_NS_PER_TLE_DIGIT = 864_000  # 1e-8 day in ns
_UNIX_JD = 2440587.5
_JD_1949_12_31 = 2433281.5
_NS_1949_12_31 = int(np.datetime64("1949-12-31T00:00:00", "ns").astype(np.int64))

# sgp4 unit conversions, written exactly as sgp4's io.py / SGP4.cpp and omm.py do
_PI = math.pi
_XPDOTP = 1440.0 / (2.0 * _PI)
_DEG2RAD = _PI / 180.0
_OMM_NDOT_UNITS = 1036800.0 / _PI
_OMM_NDDOT_UNITS = 2985984000.0 / 2.0 / _PI

_FLOAT_FIELDS = (
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
_INT_FIELDS = ("norad", "element_set_no", "rev_at_epoch", "ephemeris_type")
_STR_FIELDS = ("name", "intldesg")

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
_ALL_ARRAYS = FIELDS + ("fmt_flags",)

_DEFAULTS: dict[str, Any] = {
    "name": "",
    "intldesg": "",
    "classification": "U",
    "element_set_no": 999,
    "rev_at_epoch": 0,
    "ephemeris_type": 0,
    "bstar": 0.0,
    "mean_motion_dot": 0.0,
    "mean_motion_ddot": 0.0,
    "fmt_flags": 0,
}
_REQUIRED = ("norad", "epoch", "mean_motion", "eccentricity", "inclination", "raan", "arg_perigee", "mean_anomaly")

# OMM keyword <-> field, in CelesTrak's CSV column order
_OMM_COLUMNS = (
    ("OBJECT_NAME", "name"),
    ("OBJECT_ID", "intldesg"),
    ("EPOCH", "epoch"),
    ("MEAN_MOTION", "mean_motion"),
    ("ECCENTRICITY", "eccentricity"),
    ("INCLINATION", "inclination"),
    ("RA_OF_ASC_NODE", "raan"),
    ("ARG_OF_PERICENTER", "arg_perigee"),
    ("MEAN_ANOMALY", "mean_anomaly"),
    ("EPHEMERIS_TYPE", "ephemeris_type"),
    ("CLASSIFICATION_TYPE", "classification"),
    ("NORAD_CAT_ID", "norad"),
    ("ELEMENT_SET_NO", "element_set_no"),
    ("REV_AT_EPOCH", "rev_at_epoch"),
    ("BSTAR", "bstar"),
    ("MEAN_MOTION_DOT", "mean_motion_dot"),
    ("MEAN_MOTION_DDOT", "mean_motion_ddot"),
)
_OMM_REQUIRED = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)

_FORMATS = ("tle", "csv", "json", "xml")


class Skipped(NamedTuple):
    """A record skipped with ``errors="skip"``: where, which field (or None), and why."""

    source: str
    line: int | None
    field: str | None
    message: str


class Duplicate(NamedTuple):
    """A record dropped because its NORAD number occurred again with a newer epoch."""

    norad: int
    kept_epoch: np.datetime64
    dropped_epoch: np.datetime64
    line: int | None
    source: str | None = None


# ---------------------------------------------------------------------------------------
# small helpers


def _error(source: str, line: int | None, field: str | None, message: str, where: str = "line") -> ElementSetError:
    """An ElementSetError with ``source``, ``line`` and ``field`` attributes attached."""
    loc = source if line is None else f"{source}:{line}"
    if where != "line" and line is not None:
        loc = f"{source}: {where} {line}"
    sep = " " if message.startswith("(") else ": "  # "field 'x' (columns 9-16): ..."
    text = f"{loc}: {message}" if field is None else f"{loc}: field {field!r}{sep}{message}"
    err = ElementSetError(text)
    err.source, err.line, err.field = source, line, field  # type: ignore[attr-defined]
    return err


def _days_from_civil(year: int, month: int, day: int) -> int:
    return _dt.date(year, month, day).toordinal() - 719163  # 1970-01-01 is ordinal 719163


def _civil_from_ns(ns: int) -> tuple[_dt.date, int]:
    day, nsod = divmod(ns, _NS_PER_DAY)
    return _dt.date.fromordinal(day + 719163), nsod


def _alpha5_decode(text: str) -> int | None:
    """'A0001' -> 100001, '25544' -> 25544; None when not a valid catalog number."""
    if re.fullmatch(r" *\d{1,5}", text, re.ASCII):
        return int(text)
    if re.fullmatch(r"[A-HJ-NP-Z]\d{4}", text, re.ASCII):
        c = text[0]
        n = ord(c) - ord("A") + 10 - (c > "I") - (c > "O")
        return n * 10000 + int(text[1:])
    return None


def _alpha5_encode(n: int) -> str:
    if n < 100000:
        return "%05d" % n
    i, rest = divmod(n, 10000)
    c = ord("A") + i - 10
    if c >= ord("I"):
        c += 1
    if c >= ord("O"):
        c += 1
    return "%c%04d" % (c, rest)


def _tle_checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (c == "-") for c in line[:68]) % 10


_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_OMM_EPOCH_RE = re.compile(r"(\d{4})-(?:(\d{2})-(\d{2})|(\d{3}))T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?", re.ASCII)
_OBJECT_ID_RE = re.compile(r"(\d{4})-(\d{3})([A-Z]{1,3})", re.ASCII)
_TLE_INTLDESG_RE = re.compile(r"(\d{2})(\d{3})([A-Z]{1,3}) *", re.ASCII)


def _is_float_zero_neg(v: float) -> bool:
    return v == 0.0 and math.copysign(1.0, v) < 0


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


# ---------------------------------------------------------------------------------------
# number formatting (writers)


def _fmt_fixed(v: float, decimals: int) -> str:
    """CelesTrak fixed-point style (``"%.{decimals}f"``) if exact, else shortest round-trip."""
    s = "%.*f" % (decimals, v)
    if _same_float(float(s), v):
        return s
    return np.format_float_positional(v, unique=True, trim="-")


def _fmt_ecc(v: float) -> str:
    """CelesTrak eccentricity style: ``.00278136`` (no leading zero, no trailing zeros)."""
    s = "%.8f" % v
    if not _same_float(float(s), v):
        s = np.format_float_positional(v, unique=True, trim="-")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s.startswith("0."):
        s = s[1:]
    elif s.startswith("-0."):
        s = "-" + s[2:]
    return s or "0"


def _fmt_exp(v: float) -> str:
    """CelesTrak exponent style: ``.39713338E-3``, ``-.2080145E-5``, ``0`` (shortest exact digits)."""
    if v == 0.0:
        return "-0" if _is_float_zero_neg(v) else "0"
    sign, digits, exponent = Decimal(repr(abs(v))).as_tuple()
    ds = "".join(map(str, digits))
    stripped = ds.rstrip("0")
    e10 = len(ds) + int(exponent)  # value = 0.DIGITS * 10**e10
    return "%s.%sE%+d" % ("-" if v < 0 else "", stripped, e10)


def _fmt_epoch_iso(ns: int) -> str:
    date, nsod = _civil_from_ns(ns)
    sec, sub = divmod(nsod, 1_000_000_000)
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    frac = "%06d" % (sub // 1000) if sub % 1000 == 0 else "%09d" % sub
    return "%04d-%02d-%02dT%02d:%02d:%02d.%s" % (date.year, date.month, date.day, h, m, s, frac)


def _tle_exp_parts(v: float) -> tuple[str, str, int]:
    """(sign, 5 mantissa digits, exponent) of the TLE field ``±MMMMM±E``; zero -> exponent 0."""
    sign = "-" if math.copysign(1.0, v) < 0 else " "
    if v == 0.0:
        return sign, "00000", 0
    s = "%.4e" % abs(v)
    digits = s[0] + s[2:6]
    e = int(s[7:]) + 1
    if e < -9:
        return sign, "00000", 0
    return sign, digits, e


# ---------------------------------------------------------------------------------------
# the ElementSet


def _as_array(name: str, value: Any, n: int | None) -> np.ndarray:
    """Coerce one field to its dtype (ValueError naming the field on failure)."""
    if name in _STR_FIELDS:
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        for x in arr.ravel():
            if not isinstance(x, str):
                raise ValueError(f"field {name!r}: expected str values, got {type(x).__name__}")
        arr = arr.copy()
    elif name == "classification":
        arr = np.asarray(value)
        if arr.dtype.kind == "O":
            arr = arr.astype("U")
        if arr.dtype.kind != "U":
            raise ValueError(f"field 'classification': expected strings 'U', 'C' or 'S', got dtype {arr.dtype}")
        arr = arr.astype("<U1", copy=True) if arr.size else arr.astype("<U1")
        bad = ~np.isin(np.asarray(value).astype("U"), ["U", "C", "S"])
        if bad.any():
            raise ValueError(f"field 'classification': expected 'U', 'C' or 'S', got {np.asarray(value)[bad][0]!r}")
    elif name == "epoch":
        arr = np.asarray(value)
        if arr.dtype.kind not in "MUSO":
            raise ValueError(f"field 'epoch': expected datetime64 values, got dtype {arr.dtype}")
        try:
            arr = arr.astype("datetime64[ns]")
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"field 'epoch': cannot convert to datetime64[ns]: {exc}") from None
        if np.isnat(arr).any():
            raise ValueError("field 'epoch': NaT is not a valid epoch")
    elif name in _FLOAT_FIELDS:
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"field {name!r}: expected float64 values, got dtype {arr.dtype}")
        arr = arr.astype(np.float64, copy=True)
        if not np.isfinite(arr).all():
            raise ValueError(f"field {name!r}: values must be finite")
    elif name in _INT_FIELDS or name == "fmt_flags":
        arr = np.asarray(value)
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and arr.size == 0):
            raise ValueError(f"field {name!r}: expected integer values, got dtype {arr.dtype}")
        arr = arr.astype(np.uint8 if name == "fmt_flags" else np.int64, copy=True)
        if name == "norad" and (arr < 0).any():
            raise ValueError("field 'norad': catalog numbers must be >= 0")
    else:  # pragma: no cover
        raise AssertionError(name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"field {name!r}: expected a 1-D array, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"field {name!r}: length {len(arr)} differs from 'norad' length {n}")
    return arr


@dataclass(frozen=True, eq=False, repr=False)
class ElementSet:
    """Element sets of ``n`` objects as parallel, read-only NumPy arrays.

    Fields (all length ``n``): ``norad`` int64; ``name``, ``intldesg`` object (str; OMM
    ``OBJECT_ID`` style ``"1998-067A"``); ``classification`` <U1; ``epoch``
    datetime64[ns] UTC; ``mean_motion`` rev/day (Kozai); ``eccentricity``;
    ``inclination``, ``raan``, ``arg_perigee``, ``mean_anomaly`` deg; ``bstar`` 1/earth
    radii; ``mean_motion_dot`` rev/day^2 (ndot/2 as written); ``mean_motion_ddot`` rev/day^3
    (nddot/6 as written); ``element_set_no``, ``rev_at_epoch``, ``ephemeris_type`` int64;
    ``fmt_flags`` uint8 (provenance/cosmetic bits ``FLAG_*``; not compared by ``==``).

    Metadata: ``source`` (file path or None), ``skipped`` (:class:`Skipped` records from
    ``errors="skip"``), ``duplicates`` (:class:`Duplicate` records dropped by NORAD number).
    Build one with :meth:`from_arrays` or :func:`load_elements`.
    """

    norad: np.ndarray
    name: np.ndarray
    intldesg: np.ndarray
    classification: np.ndarray
    epoch: np.ndarray
    mean_motion: np.ndarray
    eccentricity: np.ndarray
    inclination: np.ndarray
    raan: np.ndarray
    arg_perigee: np.ndarray
    mean_anomaly: np.ndarray
    bstar: np.ndarray
    mean_motion_dot: np.ndarray
    mean_motion_ddot: np.ndarray
    element_set_no: np.ndarray
    rev_at_epoch: np.ndarray
    ephemeris_type: np.ndarray
    fmt_flags: np.ndarray | None = None
    source: str | None = None
    skipped: tuple[Skipped, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()

    def __post_init__(self) -> None:
        n = None
        for name in _ALL_ARRAYS:
            value = getattr(self, name)
            if value is None:
                if name != "fmt_flags":
                    raise ValueError(f"field {name!r} is required")
                value = np.zeros(0 if n is None else n, np.uint8)
            arr = _as_array(name, value, n)
            if n is None:
                n = len(arr)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "skipped", tuple(self.skipped))
        object.__setattr__(self, "duplicates", tuple(self.duplicates))

    # -- construction ------------------------------------------------------------------

    @classmethod
    def _new(
        cls,
        arrays: dict[str, np.ndarray],
        source: str | None = None,
        skipped: Iterable[Skipped] = (),
        duplicates: Iterable[Duplicate] = (),
    ) -> ElementSet:
        """Trusted fast path: arrays already have the right dtypes and lengths."""
        self = object.__new__(cls)
        for name in _ALL_ARRAYS:
            arr = arrays[name]
            if arr.flags.writeable:
                arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "skipped", tuple(skipped))
        object.__setattr__(self, "duplicates", tuple(duplicates))
        return self

    @classmethod
    def from_arrays(cls, *, source: str | None = None, **fields: Any) -> ElementSet:
        """Build from keyword arrays (see the class doc for names, units and dtypes).

        Required: norad, epoch, mean_motion, eccentricity, inclination, raan, arg_perigee,
        mean_anomaly. Optional fields get defaults: name/intldesg "", classification "U",
        element_set_no 999, rev_at_epoch 0, ephemeris_type 0, bstar/mean_motion_dot/
        mean_motion_ddot 0, fmt_flags 0. Raises ValueError on unknown names, missing
        required fields, bad dtypes, non-finite floats or unequal lengths.
        """
        unknown = set(fields) - set(_ALL_ARRAYS)
        if unknown:
            raise ValueError(f"unknown ElementSet field(s): {', '.join(sorted(unknown))}")
        missing = [f for f in _REQUIRED if f not in fields]
        if missing:
            raise ValueError(f"missing required ElementSet field(s): {', '.join(missing)}")
        norad = _as_array("norad", fields["norad"], None)
        n = len(norad)
        kw: dict[str, Any] = {}
        for name in _ALL_ARRAYS:
            if name in fields:
                kw[name] = fields[name]
            else:
                default = _DEFAULTS[name]
                dtype = object if name in _STR_FIELDS else None
                kw[name] = np.full(n, default, dtype=dtype)
        fmt = kw.pop("fmt_flags")
        return cls(**kw, fmt_flags=fmt, source=source)

    @classmethod
    def empty(cls) -> ElementSet:
        """An ElementSet with no records."""
        return cls.from_arrays(
            **{f: np.zeros(0, np.int64) for f in ("norad", "mean_motion")},
            epoch=np.zeros(0, "datetime64[ns]"),
            eccentricity=np.zeros(0),
            inclination=np.zeros(0),
            raan=np.zeros(0),
            arg_perigee=np.zeros(0),
            mean_anomaly=np.zeros(0),
        )

    @classmethod
    def concat(cls, sets: Sequence[ElementSet]) -> ElementSet:
        """Concatenate element sets in order (no deduplication); metadata is merged."""
        sets = list(sets)
        if not sets:
            return cls.empty()
        arrays = {name: np.concatenate([getattr(s, name) for s in sets]) for name in _ALL_ARRAYS}
        sources = {s.source for s in sets}
        source = sources.pop() if len(sources) == 1 else None
        skipped = [k for s in sets for k in s.skipped]
        dups = [d for s in sets for d in s.duplicates]
        return cls._new(arrays, source, skipped, dups)

    def __add__(self, other: ElementSet) -> ElementSet:
        if not isinstance(other, ElementSet):
            return NotImplemented
        return ElementSet.concat([self, other])

    # -- container protocol ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.norad)

    def __getitem__(self, key: Any) -> ElementSet:
        """Select records: int (-> length-1 set), slice, boolean mask or integer index array."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = len(self)
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"index {i} out of range for ElementSet of length {n}")
            i %= n
            key = slice(i, i + 1)
        elif not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool:
                if key.shape != (len(self),):
                    raise IndexError(f"boolean mask of shape {key.shape} does not match length {len(self)}")
            elif key.dtype.kind not in "iu":
                if key.size == 0:
                    key = key.astype(np.intp)
                else:
                    raise IndexError(f"cannot index an ElementSet with dtype {key.dtype}")
            if key.ndim != 1:
                raise IndexError("index arrays must be 1-D")
        arrays = {name: getattr(self, name)[key] for name in _ALL_ARRAYS}
        return ElementSet._new(arrays, self.source, self.skipped, self.duplicates)

    def __iter__(self) -> Iterator[ElementSet]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        """True when all data fields are identical (floats bit-for-bit); ignores
        ``fmt_flags`` and the metadata."""
        if not isinstance(other, ElementSet):
            return NotImplemented
        if len(self) != len(other):
            return False
        for name in FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            if a.dtype.kind == "f":
                if not np.array_equal(a.view(np.uint64), b.view(np.uint64)):
                    return False
            elif a.dtype.kind == "M":
                if not np.array_equal(a.view(np.int64), b.view(np.int64)):
                    return False
            elif a.dtype.kind == "O":
                if a.tolist() != b.tolist():
                    return False
            elif not np.array_equal(a, b):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        n = len(self)
        parts = [f"n={n}"]
        if n:
            lo, med, hi = self.epoch_stats()
            parts.append(f"epochs {np.datetime_as_string(lo, 's')} .. {np.datetime_as_string(hi, 's')}")
        if self.source is not None:
            parts.append(f"source={self.source!r}")
        if self.skipped:
            parts.append(f"skipped={len(self.skipped)}")
        if self.duplicates:
            parts.append(f"duplicates={len(self.duplicates)}")
        return f"ElementSet({', '.join(parts)})"

    # -- summaries ---------------------------------------------------------------------

    def epoch_stats(self) -> tuple[np.datetime64, np.datetime64, np.datetime64]:
        """(min, median, max) epoch as datetime64[ns]; ValueError when empty."""
        if len(self) == 0:
            raise ValueError("epoch_stats() of an empty ElementSet")
        ns = np.sort(self.epoch.view(np.int64))
        n = len(ns)
        mid = n // 2
        med = int(ns[mid]) if n % 2 else (int(ns[mid - 1]) + int(ns[mid])) // 2
        as_dt = lambda x: np.datetime64(int(x), "ns")  # noqa: E731
        return as_dt(ns[0]), as_dt(med), as_dt(ns[-1])

    # -- SGP4 kernel inputs ------------------------------------------------------------

    def sgp4_arrays(self) -> dict[str, np.ndarray]:
        """Kernel inputs in sgp4 units: epoch_jd, epoch_fr (days, like Satrec.jdsatepoch/jdsatepochF),
        bstar, ndot (rad/min^2), nddot (rad/min^3), ecco, argpo, inclo, mo, nodeo (rad), no_kozai (rad/min).

        Records read from a TLE (``fmt_flags & FLAG_TLE``) reproduce ``Satrec.twoline2rv``
        bit for bit, all others ``sgp4.omm.initialize`` (including its epoch split).
        """
        n = len(self)
        tle = (self.fmt_flags & FLAG_TLE) != 0
        ns = self.epoch.view(np.int64)

        # --- epoch: TLE convention (midnight JD + fraction rounded to the TLE's 8 digits)
        day = np.floor_divide(ns, _NS_PER_DAY)
        nsod = ns - day * _NS_PER_DAY
        jd_tle = day.astype(np.float64) + _UNIX_JD
        fr_tle = nsod.astype(np.float64) / float(_NS_PER_DAY)
        # --- epoch: OMM convention (days since 1949-12-31 as a float, then modf)
        delta = ns - _NS_1949_12_31
        us, rem = np.divmod(delta, 1000)
        secs = us.astype(np.float64) / 1e6 + rem.astype(np.float64) / 1e9
        ep = secs / 86400.0
        fr_omm, whole = np.modf(ep)
        x = ep * 1e8
        exact8 = np.round(x) == x
        fr_omm = np.where(exact8, np.round(fr_omm * 1e8) / 1e8, fr_omm)
        jd_omm = whole + _JD_1949_12_31

        mm = self.mean_motion
        ndot_v = self.mean_motion_dot
        bstar = self.bstar.copy()
        nddot_field = self.mean_motion_ddot.copy()
        # TLE exponent fields: sgp4 multiplies the mantissa by pow(10, exponent)
        for i in np.flatnonzero(tle & ((bstar != 0) | (nddot_field != 0))):
            for arr in (bstar, nddot_field):
                v = float(arr[i])
                if v != 0.0:
                    sign, digits, e = _tle_exp_parts(v)
                    arr[i] = float(sign.strip() + "." + digits) * math.pow(10.0, e)
        with np.errstate(all="ignore"):
            out = {
                "epoch_jd": np.where(tle, jd_tle, jd_omm),
                "epoch_fr": np.where(tle, fr_tle, fr_omm),
                "bstar": np.where(tle, bstar, self.bstar),
                "ndot": np.where(tle, ndot_v / (_XPDOTP * 1440.0), ndot_v / _OMM_NDOT_UNITS),
                "nddot": np.where(
                    tle, nddot_field / (_XPDOTP * 1440.0 * 1440), self.mean_motion_ddot / _OMM_NDDOT_UNITS
                ),
                "ecco": self.eccentricity.copy(),
                "argpo": self.arg_perigee * _DEG2RAD,
                "inclo": self.inclination * _DEG2RAD,
                "mo": self.mean_anomaly * _DEG2RAD,
                "nodeo": self.raan * _DEG2RAD,
                "no_kozai": np.where(tle, mm / _XPDOTP, mm / 720.0 * _PI),
            }
        for v in out.values():
            assert v.shape == (n,)
        return out

    # -- writers -----------------------------------------------------------------------

    def _label(self, i: int) -> str:
        name = self.name[i]
        return f"NORAD {int(self.norad[i])}" + (f" ({name})" if name else "")

    def to_tle(self, path: str | os.PathLike[str] | None = None, *, three_line: bool = True) -> str:
        """TLE text (``"\\n"`` line ends); also written to ``path`` when given.

        Values are rounded to TLE precision (see the module doc). Raises ElementSetError
        naming the object for values a TLE cannot hold (NORAD > 339999, epoch outside
        1957-2056, |ndot| >= 1, exponents > 9, field overflow).
        """
        out: list[str] = []
        for i in range(len(self)):
            out.extend(self._tle_lines(i, three_line))
        text = "".join(line + "\n" for line in out)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    def _tle_lines(self, i: int, three_line: bool) -> list[str]:
        label = self._label(i)

        def fail(field: str, msg: str) -> ElementSetError:
            return ElementSetError(f"{label}: field {field!r} cannot be written as a TLE: {msg}")

        norad = int(self.norad[i])
        if norad > 339999:
            raise fail("norad", f"{norad} exceeds 339999, the largest Alpha-5 number")
        satnum = _alpha5_encode(norad)
        flags = int(self.fmt_flags[i])

        intl = self.intldesg[i]
        m = _OBJECT_ID_RE.fullmatch(intl)
        if m and 1957 <= int(m.group(1)) <= 2056:
            intl_txt = (m.group(1)[2:] + m.group(2) + m.group(3)).ljust(8)
        elif len(intl) <= 8 and all(" " <= c <= "~" for c in intl) and not m:
            intl_txt = intl.ljust(8)
        else:
            raise fail("intldesg", f"{intl!r} does not fit the 8-column TLE designator")

        date, nsod = _civil_from_ns(int(self.epoch.view(np.int64)[i]))
        k = (nsod + _NS_PER_TLE_DIGIT // 2) // _NS_PER_TLE_DIGIT
        if k >= 100_000_000:
            date += _dt.timedelta(days=1)
            k -= 100_000_000
        if not 1957 <= date.year <= 2056:
            raise fail("epoch", f"year {date.year} is outside 1957-2056")
        doy = date.toordinal() - _dt.date(date.year, 1, 1).toordinal() + 1
        epoch_txt = "%02d%03d.%08d" % (date.year % 100, doy, k)

        ndot = float(self.mean_motion_dot[i])
        s = "%.8f" % abs(ndot)
        if not s.startswith("0."):
            raise fail("mean_motion_dot", f"|{ndot}| >= 1 rev/day^2")
        ndot_txt = ("-" if math.copysign(1.0, ndot) < 0 else " ") + s[1:]

        def expfield(field: str, v: float, minus_flag: int) -> str:
            sign, digits, e = _tle_exp_parts(v)
            if e > 9:
                raise fail(field, f"{v!r} needs an exponent above 9")
            esign = "-" if e < 0 or (e == 0 and flags & minus_flag) else "+"
            return f"{sign}{digits}{esign}{abs(e)}"

        nddot_txt = expfield("mean_motion_ddot", float(self.mean_motion_ddot[i]), FLAG_NDDOT_EXP_MINUS)
        bstar_txt = expfield("bstar", float(self.bstar[i]), FLAG_BSTAR_EXP_MINUS)

        eph = int(self.ephemeris_type[i])
        if eph == 0 and flags & FLAG_EPHTYPE_BLANK:
            eph_txt = " "
        elif 0 <= eph <= 9:
            eph_txt = str(eph)
        else:
            raise fail("ephemeris_type", f"{eph} is not a single digit")
        elnum = int(self.element_set_no[i])
        if not 0 <= elnum <= 9999:
            raise fail("element_set_no", f"{elnum} is outside 0-9999")
        cls_txt = str(self.classification[i])

        line1 = f"1 {satnum}{cls_txt} {intl_txt} {epoch_txt} {ndot_txt} {nddot_txt} {bstar_txt} {eph_txt} {elnum:4d}"

        def fixed(field: str, v: float, width: int, dec: int, hi: float) -> str:
            t = "%*.*f" % (width, dec, v)
            if len(t) != width or v < 0 or float(t) >= hi:
                raise fail(field, f"{v!r} does not fit {width} columns with {dec} decimals")
            return t

        incl = fixed("inclination", float(self.inclination[i]), 8, 4, 1000.0)
        raan = fixed("raan", float(self.raan[i]), 8, 4, 1000.0)
        argp = fixed("arg_perigee", float(self.arg_perigee[i]), 8, 4, 1000.0)
        ma = fixed("mean_anomaly", float(self.mean_anomaly[i]), 8, 4, 1000.0)
        mm = fixed("mean_motion", float(self.mean_motion[i]), 11, 8, 100.0)
        ecc = float(self.eccentricity[i])
        ecc_txt = "%.7f" % ecc
        if ecc < 0 or not ecc_txt.startswith("0."):
            raise fail("eccentricity", f"{ecc!r} is outside [0, 1)")
        rev = int(self.rev_at_epoch[i])
        if not 0 <= rev <= 99999:
            raise fail("rev_at_epoch", f"{rev} is outside 0-99999")
        line2 = f"2 {satnum} {incl} {raan} {ecc_txt[2:]} {argp} {ma} {mm}{rev:5d}"
        line1 += str(_tle_checksum(line1))
        line2 += str(_tle_checksum(line2))
        lines = [line1, line2]
        if three_line:
            name = self.name[i]
            if "\n" in name or "\r" in name:
                raise fail("name", "contains a line break")
            if name:
                lines.insert(0, ("0 " if flags & FLAG_NAME_ZERO_PREFIX else "") + name)
        return lines

    def _omm_text_rows(self) -> Iterator[dict[str, str]]:
        """Per record: OMM keyword -> text (CelesTrak style, exact)."""
        ns_all = self.epoch.view(np.int64)
        for i in range(len(self)):
            yield {
                "OBJECT_NAME": self.name[i],
                "OBJECT_ID": self.intldesg[i],
                "EPOCH": _fmt_epoch_iso(int(ns_all[i])),
                "MEAN_MOTION": _fmt_fixed(float(self.mean_motion[i]), 8),
                "ECCENTRICITY": _fmt_ecc(float(self.eccentricity[i])),
                "INCLINATION": _fmt_fixed(float(self.inclination[i]), 4),
                "RA_OF_ASC_NODE": _fmt_fixed(float(self.raan[i]), 4),
                "ARG_OF_PERICENTER": _fmt_fixed(float(self.arg_perigee[i]), 4),
                "MEAN_ANOMALY": _fmt_fixed(float(self.mean_anomaly[i]), 4),
                "EPHEMERIS_TYPE": str(int(self.ephemeris_type[i])),
                "CLASSIFICATION_TYPE": str(self.classification[i]),
                "NORAD_CAT_ID": str(int(self.norad[i])),
                "ELEMENT_SET_NO": str(int(self.element_set_no[i])),
                "REV_AT_EPOCH": str(int(self.rev_at_epoch[i])),
                "BSTAR": _fmt_exp(float(self.bstar[i])),
                "MEAN_MOTION_DOT": _fmt_exp(float(self.mean_motion_dot[i])),
                "MEAN_MOTION_DDOT": _fmt_exp(float(self.mean_motion_ddot[i])),
            }

    def to_omm(self, path: str | os.PathLike[str] | None = None, *, format: str = "csv") -> str:
        """OMM text as CelesTrak serves it: ``format`` "csv" (CRLF rows, CelesTrak's number
        style), "json" (list of objects, floats as shortest round-trip numbers) or "xml"
        (CCSDS NDM/OMM 2.0). Loading the result gives bit-identical values. Also written
        to ``path`` when given.
        """
        fmt = format.lower()
        keys = [k for k, _ in _OMM_COLUMNS]
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow(keys)
            for row in self._omm_text_rows():
                w.writerow([row[k] for k in keys])
            text = buf.getvalue()
        elif fmt == "json":
            ints = {"EPHEMERIS_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO", "REV_AT_EPOCH"}
            strs = {"OBJECT_NAME", "OBJECT_ID", "EPOCH", "CLASSIFICATION_TYPE"}
            items = []
            for row in self._omm_text_rows():
                parts = []
                for k in keys:
                    v = row[k]
                    if k in strs:
                        val = json.dumps(v)
                    elif k in ints:
                        val = v
                    else:  # JSON numbers need a leading digit: ".5E-3" -> "0.5E-3"
                        val = re.sub(r"^(-?)\.", r"\g<1>0.", v)
                    parts.append(f'"{k}":{val}')
                items.append("{" + ",".join(parts) + "}")
            text = "[" + ",\n".join(items) + "]\n"
        elif fmt == "xml":
            text = self._to_xml()
        else:
            raise ValueError(f"format must be 'csv', 'json' or 'xml', got {format!r}")
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text

    def _to_xml(self) -> str:
        meta_keys = ("OBJECT_NAME", "OBJECT_ID")
        mean_keys = (
            "EPOCH",
            "MEAN_MOTION",
            "ECCENTRICITY",
            "INCLINATION",
            "RA_OF_ASC_NODE",
            "ARG_OF_PERICENTER",
            "MEAN_ANOMALY",
        )
        tle_keys = (
            "EPHEMERIS_TYPE",
            "CLASSIFICATION_TYPE",
            "NORAD_CAT_ID",
            "ELEMENT_SET_NO",
            "REV_AT_EPOCH",
            "BSTAR",
            "MEAN_MOTION_DOT",
            "MEAN_MOTION_DDOT",
        )

        def tags(row: dict[str, str], ks: Iterable[str]) -> str:
            return "".join(f"<{k}>{_xml_escape(row[k])}</{k}>" for k in ks)

        out = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<ndm xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://sanaregistry.org/r/'
            'ndmxml_unqualified/ndmxml-2.0.0-master-2.0.xsd">\n'
        ]
        for row in self._omm_text_rows():
            out.append(
                '<omm id="CCSDS_OMM_VERS" version="2.0"><header><CREATION_DATE/><ORIGINATOR/>'
                "</header><body><segment><metadata>"
                + tags(row, meta_keys)
                + "<CENTER_NAME>EARTH</CENTER_NAME><REF_FRAME>TEME</REF_FRAME>"
                "<TIME_SYSTEM>UTC</TIME_SYSTEM><MEAN_ELEMENT_THEORY>SGP4</MEAN_ELEMENT_THEORY>"
                "</metadata><data><meanElements>"
                + tags(row, mean_keys)
                + "</meanElements><tleParameters>"
                + tags(row, tle_keys)
                + "</tleParameters></data></segment></body></omm>\n"
            )
        out.append("</ndm>\n")
        return "".join(out)


# ---------------------------------------------------------------------------------------
# readers


class _Collector:
    """Accumulates parsed records column-wise; applies the ``errors`` policy."""

    def __init__(self, source: str, errors: str) -> None:
        self.source = source
        self.errors = errors
        self.cols: dict[str, list[Any]] = {name: [] for name in _ALL_ARRAYS}
        self.lines: list[int | None] = []
        self.skipped: list[Skipped] = []

    def add(self, rec: dict[str, Any], line: int | None) -> None:
        for name in _ALL_ARRAYS:
            self.cols[name].append(rec[name])
        self.lines.append(line)

    def bad(self, err: ElementSetError) -> None:
        if self.errors == "raise":
            raise err
        self.skipped.append(Skipped(self.source, getattr(err, "line", None), getattr(err, "field", None), str(err)))

    def finish(self) -> ElementSet:
        c = self.cols
        arrays = {
            "norad": np.array(c["norad"], dtype=np.int64),
            "name": np.array(c["name"] + [None], dtype=object)[:-1],
            "intldesg": np.array(c["intldesg"] + [None], dtype=object)[:-1],
            "classification": np.array(c["classification"], dtype="<U1"),
            "epoch": np.array(c["epoch"], dtype=np.int64).view("datetime64[ns]"),
            "fmt_flags": np.array(c["fmt_flags"], dtype=np.uint8),
        }
        for name in _FLOAT_FIELDS:
            arrays[name] = np.array(c[name], dtype=np.float64)
        for name in ("element_set_no", "rev_at_epoch", "ephemeris_type"):
            arrays[name] = np.array(c[name], dtype=np.int64)
        if not self.lines and not self.skipped:
            raise _error(self.source, None, None, "contains no element sets")
        keep, dups = _dedupe(arrays["norad"], arrays["epoch"].view(np.int64), self.lines, self.source)
        if dups:
            arrays = {k: v[keep] for k, v in arrays.items()}
        es = ElementSet._new(arrays, self.source, self.skipped, dups)
        if self.skipped:
            warnings.warn(
                f"{self.source}: skipped {len(self.skipped)} malformed record(s); "
                f"see ElementSet.skipped (first: {self.skipped[0].message})",
                ElementSetWarning,
                stacklevel=4,
            )
        if dups:
            warnings.warn(
                f"{self.source}: dropped {len(dups)} record(s) with a duplicate NORAD "
                "number (kept the newest epoch); see ElementSet.duplicates",
                ElementSetWarning,
                stacklevel=4,
            )
        return es


def _dedupe(
    norad: np.ndarray, ns: np.ndarray, lines: list[int | None], source: str
) -> tuple[np.ndarray, list[Duplicate]]:
    """Mask keeping the newest epoch per NORAD number (ties: the first), plus the drops."""
    keep = np.ones(len(norad), bool)
    uniq, counts = np.unique(norad, return_counts=True)
    if (counts == 1).all():
        return keep, []
    dupset = set(uniq[counts > 1].tolist())
    best: dict[int, int] = {}
    drops: list[tuple[int, int]] = []  # (dropped index, kept index at that time)
    for i in np.flatnonzero(np.isin(norad, list(dupset))):
        key = int(norad[i])
        j = best.get(key)
        if j is None:
            best[key] = i
        elif ns[i] > ns[j]:
            keep[j] = False
            drops.append((j, i))
            best[key] = i
        else:
            keep[i] = False
            drops.append((i, j))
    dups = []
    for dropped, _ in sorted(drops):
        key = int(norad[dropped])
        kept = best[key]
        dups.append(
            Duplicate(
                key, np.datetime64(int(ns[kept]), "ns"), np.datetime64(int(ns[dropped]), "ns"), lines[dropped], source
            )
        )
    return keep, dups


# -- TLE ---------------------------------------------------------------------------------

_L1_BLANKS = (1, 8, 17, 32, 43, 52, 61, 63)
_L2_BLANKS = (1, 7, 16, 25, 33, 42, 51)
_L2_FIELDS = (  # name, start, end (0-based, exclusive), regex, expectation, hi
    ("inclination", 8, 16, r" *\d{1,3}\.\d{4}", "a number like 'NNN.NNNN' in [0, 180]", 180.0),
    ("raan", 17, 25, r" *\d{1,3}\.\d{4}", "a number like 'NNN.NNNN' in [0, 360]", 360.0),
    ("arg_perigee", 34, 42, r" *\d{1,3}\.\d{4}", "a number like 'NNN.NNNN' in [0, 360]", 360.0),
    ("mean_anomaly", 43, 51, r" *\d{1,3}\.\d{4}", "a number like 'NNN.NNNN' in [0, 360]", 360.0),
    ("mean_motion", 52, 63, r" *\d{1,2}\.\d{8}", "a number like 'NN.NNNNNNNN' above 0", 100.0),
)


def _looks_like_line(s: str, digit: str) -> bool:
    return s.startswith(digit + " ") and len(s) >= 60


def _tle_field(
    source: str, lineno: int, line: str, field: str, a: int, b: int, pattern: str, expect: str
) -> re.Match[str]:
    text = line[a:b]
    m = re.fullmatch(pattern, text, re.ASCII)
    if m is None:
        raise _error(source, lineno, field, f"(columns {a + 1}-{b}): expected {expect}, got {text!r}")
    return m


def _parse_exp_field(source: str, lineno: int, line: str, field: str, a: int) -> tuple[float, bool]:
    m = _tle_field(
        source,
        lineno,
        line,
        field,
        a,
        a + 8,
        r"([ +-])(\d{5})([+-])(\d)",
        "a signed mantissa and exponent like ' 12345-4' or '-12345-4'",
    )
    sign = "-" if m.group(1) == "-" else ""
    value = float(f"{sign}0.{m.group(2)}e{m.group(3)}{m.group(4)}")
    return value, (m.group(4) == "0" and m.group(3) == "-")


def _check_tle_line(source: str, lineno: int, line: str, digit: str, blanks: Sequence[int]) -> None:
    if len(line) < 69:
        raise _error(source, lineno, None, f"TLE line {digit} is {len(line)} characters long, expected 69")
    if len(line) > 69 and not line[69].isspace():
        raise _error(source, lineno, None, f"TLE line {digit} is longer than 69 characters (column 70 is {line[69]!r})")
    if not line.isascii():
        raise _error(source, lineno, None, f"TLE line {digit} contains non-ASCII characters")
    for col in blanks:
        if line[col] != " ":
            raise _error(
                source, lineno, None, f"TLE line {digit} column {col + 1}: expected a blank, got {line[col]!r}"
            )
    cs = line[68]
    if not cs.isdigit():
        raise _error(source, lineno, "checksum", f"(column 69): expected a digit, got {cs!r}")
    computed = _tle_checksum(line)
    if int(cs) != computed:
        raise _error(source, lineno, "checksum", f"(column 69): line says {cs} but its characters sum to {computed}")


def _parse_tle_record(
    source: str, name: str | None, name_no: int | None, l1: str, n1: int, l2: str, n2: int
) -> dict[str, Any]:
    flags = FLAG_TLE
    if name is not None and name.startswith("0 "):
        name = name[2:]
        flags |= FLAG_NAME_ZERO_PREFIX
    _check_tle_line(source, n1, l1, "1", _L1_BLANKS)
    _check_tle_line(source, n2, l2, "2", _L2_BLANKS)

    sat1 = _alpha5_decode(l1[2:7])
    if sat1 is None:
        raise _error(
            source,
            n1,
            "norad",
            f"(columns 3-7): expected a catalog number (5 digits or Alpha-5 like 'A0001'), got {l1[2:7]!r}",
        )
    sat2 = _alpha5_decode(l2[2:7])
    if sat2 is None:
        raise _error(
            source,
            n2,
            "norad",
            f"(columns 3-7): expected a catalog number (5 digits or Alpha-5 like 'A0001'), got {l2[2:7]!r}",
        )
    if sat1 != sat2:
        raise _error(source, n2, "norad", f"(columns 3-7): expected {l1[2:7]!r} as on line {n1}, got {l2[2:7]!r}")
    cls = l1[7]
    if cls not in "UCS":
        raise _error(source, n1, "classification", f"(column 8): expected 'U', 'C' or 'S', got {cls!r}")

    raw = l1[9:17]
    m = _TLE_INTLDESG_RE.fullmatch(raw)
    if m:
        yy = int(m.group(1))
        intl = f"{yy + (2000 if yy < 57 else 1900)}-{m.group(2)}{m.group(3)}"
    else:
        intl = raw.strip()
        if len(raw.rstrip()) != len(raw.rstrip().lstrip()) and intl:
            raise _error(source, n1, "intldesg", f"(columns 10-17): expected a designator like '98067A  ', got {raw!r}")

    m = _tle_field(source, n1, l1, "epoch", 18, 32, r"(\d\d)(\d{3})\.(\d{8})", "'YYDDD.DDDDDDDD'")
    yy, doy, frac = int(m.group(1)), int(m.group(2)), int(m.group(3))
    year = yy + (2000 if yy < 57 else 1900)
    ndays = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    if not 1 <= doy <= ndays:
        raise _error(source, n1, "epoch", f"(columns 19-32): expected a day of year 001-{ndays}, got {m.group(2)!r}")
    ns = (_days_from_civil(year, 1, 1) + doy - 1) * _NS_PER_DAY + frac * _NS_PER_TLE_DIGIT

    m = _tle_field(
        source, n1, l1, "mean_motion_dot", 33, 43, r"[ +-]\.\d{8}", "a number like ' .00012345' or '-.00012345'"
    )
    ndot = float(m.group(0).replace(" ", ""))
    nddot, nddot_m0 = _parse_exp_field(source, n1, l1, "mean_motion_ddot", 44)
    bstar, bstar_m0 = _parse_exp_field(source, n1, l1, "bstar", 53)
    if nddot_m0:
        flags |= FLAG_NDDOT_EXP_MINUS
    if bstar_m0:
        flags |= FLAG_BSTAR_EXP_MINUS
    eph_c = l1[62]
    if eph_c == " ":
        eph = 0
        flags |= FLAG_EPHTYPE_BLANK
    elif eph_c.isdigit():
        eph = int(eph_c)
    else:
        raise _error(source, n1, "ephemeris_type", f"(column 63): expected a digit, got {eph_c!r}")
    m = _tle_field(source, n1, l1, "element_set_no", 64, 68, r" *\d{1,4}", "an integer of up to 4 digits")
    elnum = int(m.group(0))

    vals: dict[str, float] = {}
    for field, a, b, pattern, expect, hi in _L2_FIELDS:
        m = _tle_field(source, n2, l2, field, a, b, pattern, expect)
        v = float(m.group(0))
        if v > hi or (field == "mean_motion" and v <= 0.0):
            raise _error(source, n2, field, f"(columns {a + 1}-{b}): expected {expect}, got {l2[a:b]!r}")
        vals[field] = v
    m = _tle_field(source, n2, l2, "eccentricity", 26, 33, r"\d{7}", "7 digits (implied leading '0.')")
    ecc = float("0." + m.group(0))
    m = _tle_field(source, n2, l2, "rev_at_epoch", 63, 68, r" *\d{1,5}", "an integer of up to 5 digits")
    rev = int(m.group(0))
    return {
        "norad": sat1,
        "name": name or "",
        "intldesg": intl,
        "classification": cls,
        "epoch": ns,
        "eccentricity": ecc,
        "bstar": bstar,
        "mean_motion_dot": ndot,
        "mean_motion_ddot": nddot,
        "element_set_no": elnum,
        "rev_at_epoch": rev,
        "ephemeris_type": eph,
        "fmt_flags": flags,
        **vals,
    }


def _read_tle(text: str, source: str, errors: str) -> ElementSet:
    col = _Collector(source, errors)
    lines = [(no, s.rstrip()) for no, s in enumerate(re.split(r"\r\n|\r|\n", text), 1)]
    lines = [(no, s) for no, s in lines if s.strip() and not s.startswith("#")]
    n = len(lines)
    i = 0
    while i < n:
        no, s = lines[i]
        if _looks_like_line(s, "1"):
            name, name_no, k1 = None, None, i
        else:
            name, name_no, k1 = s, no, i + 1
        k2 = k1 + 1
        structured = k2 < n and lines[k1][1].startswith("1") and lines[k2][1].startswith("2")
        if structured:
            try:
                rec = _parse_tle_record(source, name, name_no, lines[k1][1], lines[k1][0], lines[k2][1], lines[k2][0])
            except ElementSetError as err:
                col.bad(err)
            else:
                col.add(rec, lines[k1][0])
            i = k2 + 1
            continue
        # structural problem: report, then resynchronise on the next "1 ..." / "2 ..." pair
        if k1 >= n:
            err = _error(source, no, None, f"expected TLE line 1 after name line {s[:40]!r}, got end of file")
        elif not lines[k1][1].startswith("1"):
            err = _error(source, lines[k1][0], None, f"expected TLE line 1 (starting '1 '), got {lines[k1][1][:40]!r}")
        elif k2 >= n:
            err = _error(source, lines[k1][0], None, "expected TLE line 2 after line 1, got end of file")
        else:
            err = _error(source, lines[k2][0], None, f"expected TLE line 2 (starting '2 '), got {lines[k2][1][:40]!r}")
        col.bad(err)
        j = i + 1
        while j < n and not (j + 1 < n and _looks_like_line(lines[j][1], "1") and lines[j + 1][1].startswith("2")):
            j += 1
        if j < n and j - 1 > i and lines[j - 1][1][:2] not in ("1 ", "2 "):
            j -= 1
        i = j
    return col.finish()


# -- OMM ---------------------------------------------------------------------------------


def _omm_record(fields: dict[str, Any], source: str, line: int | None, where: str) -> dict[str, Any]:
    """Convert one OMM keyword mapping (text values) into a record dict."""

    def err(key: str, msg: str) -> ElementSetError:
        return _error(source, line, key, msg, where)

    def get(key: str) -> str | None:
        v = fields.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise err(key, f"expected a text value, got {type(v).__name__}")
        return v.strip()

    for key in _OMM_REQUIRED:
        v = get(key)
        if v is None or v == "":
            raise err(key, "required value is missing")

    def num(
        key: str,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
        default: float | None = None,
    ) -> float:
        t = get(key)
        if t is None or t == "":
            if default is not None:
                return default
            raise err(key, "required value is missing")
        if not _FLOAT_RE.fullmatch(t):
            raise err(key, f"expected a number, got {t!r}")
        v = float(t)
        if not math.isfinite(v):
            raise err(key, f"expected a finite number, got {t!r}")
        if lo is not None and (v < lo or (lo_open and v == lo)) or hi is not None and (v > hi or (hi_open and v == hi)):
            rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
            raise err(key, f"expected a number in {rng}, got {t!r}")
        return v

    def integer(key: str, default: int | None = None, lo: int = 0, hi: int = 999_999_999) -> int:
        t = get(key)
        if t is None or t == "":
            if default is not None:
                return default
            raise err(key, "required value is missing")
        if not _INT_RE.fullmatch(t):
            raise err(key, f"expected an integer, got {t!r}")
        v = int(t)
        if not lo <= v <= hi:
            raise err(key, f"expected an integer in [{lo}, {hi}], got {t!r}")
        return v

    t = get("EPOCH") or ""
    m = _OMM_EPOCH_RE.fullmatch(t)
    if m is None:
        raise err("EPOCH", f"expected 'YYYY-MM-DDThh:mm:ss.ffffff', got {t!r}")
    try:
        year = int(m.group(1))
        if not 1800 <= year <= 2200:
            raise ValueError("year outside 1800-2200")
        if m.group(4):
            day0 = _days_from_civil(year, 1, 1) + int(m.group(4)) - 1
            if not 1 <= int(m.group(4)) <= (_dt.date(year, 12, 31).timetuple().tm_yday):
                raise ValueError("day of year out of range")
        else:
            day0 = _days_from_civil(year, int(m.group(2)), int(m.group(3)))
        hh, mi, ss = int(m.group(5)), int(m.group(6)), int(m.group(7))
        if hh > 23 or mi > 59 or ss > 59:
            raise ValueError("time of day out of range")
    except ValueError as exc:
        raise err("EPOCH", f"expected a valid UTC date and time, got {t!r} ({exc})") from None
    frac = m.group(8) or ""
    ns = day0 * _NS_PER_DAY + (hh * 3600 + mi * 60 + ss) * 1_000_000_000 + int(frac.ljust(9, "0") or "0")

    cls = get("CLASSIFICATION_TYPE") or "U"
    if cls not in ("U", "C", "S"):
        raise err("CLASSIFICATION_TYPE", f"expected 'U', 'C' or 'S', got {cls!r}")
    name = fields.get("OBJECT_NAME")
    if name is not None and not isinstance(name, str):
        raise err("OBJECT_NAME", f"expected a text value, got {type(name).__name__}")
    return {
        "norad": integer("NORAD_CAT_ID"),
        "name": (name or "").strip(),
        "intldesg": get("OBJECT_ID") or "",
        "classification": cls,
        "epoch": ns,
        "mean_motion": num("MEAN_MOTION", 0.0, None, lo_open=True),
        "eccentricity": num("ECCENTRICITY", 0.0, 1.0, hi_open=True),
        "inclination": num("INCLINATION", 0.0, 180.0),
        "raan": num("RA_OF_ASC_NODE", 0.0, 360.0),
        "arg_perigee": num("ARG_OF_PERICENTER", 0.0, 360.0),
        "mean_anomaly": num("MEAN_ANOMALY", 0.0, 360.0),
        "bstar": num("BSTAR"),
        "mean_motion_dot": num("MEAN_MOTION_DOT"),
        "mean_motion_ddot": num("MEAN_MOTION_DDOT"),
        "element_set_no": integer("ELEMENT_SET_NO", 999),
        "rev_at_epoch": integer("REV_AT_EPOCH", 0),
        "ephemeris_type": integer("EPHEMERIS_TYPE", 0, hi=9),
        "fmt_flags": 0,
    }


def _read_csv(text: str, source: str, errors: str) -> ElementSet:
    col = _Collector(source, errors)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = None
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip().lstrip("\ufeff").upper() for h in row]
                missing = [k for k in _OMM_REQUIRED if k not in header]
                if missing:
                    raise _error(
                        source, reader.line_num, None, f"CSV header lacks required OMM column(s) {', '.join(missing)}"
                    )
                continue
            line = reader.line_num
            if len(row) != len(header):
                col.bad(
                    _error(
                        source,
                        line,
                        None,
                        f"expected {len(header)} comma-separated values as in the header, got {len(row)}",
                    )
                )
                continue
            try:
                rec = _omm_record(dict(zip(header, row)), source, line, "line")
            except ElementSetError as e:
                col.bad(e)
            else:
                col.add(rec, line)
    except csv.Error as exc:
        raise _error(source, reader.line_num, None, f"malformed CSV: {exc}") from None
    return col.finish()


def _reject_constant(name: str) -> None:
    raise ValueError(f"non-finite number {name} is not allowed")


def _read_json(text: str, source: str, errors: str) -> ElementSet:
    col = _Collector(source, errors)
    try:
        data = json.loads(text, parse_float=str, parse_int=str, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _error(source, exc.lineno, None, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise _error(source, None, None, f"malformed JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise _error(source, None, None, f"expected a JSON list of OMM objects, got {type(data).__name__}")
    for i, obj in enumerate(data, 1):
        if not isinstance(obj, dict):
            col.bad(_error(source, i, None, f"expected a JSON object, got {type(obj).__name__}", "record"))
            continue
        try:
            rec = _omm_record(obj, source, i, "record")
        except ElementSetError as e:
            col.bad(e)
        else:
            col.add(rec, i)
    return col.finish()


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_xml(text: str, source: str, errors: str) -> ElementSet:
    col = _Collector(source, errors)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise _error(source, line, None, f"malformed XML: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise _error(source, None, None, f"malformed XML: {exc}") from None
    segments = [el for el in root.iter() if _local(el.tag) == "segment"]
    for i, seg in enumerate(segments, 1):
        fields: dict[str, Any] = {}
        for part in seg:
            if _local(part.tag) == "metadata":
                blocks = [part]
            elif _local(part.tag) == "data":
                blocks = [b for b in part if _local(b.tag) in ("meanElements", "tleParameters")]
            else:
                continue
            for block in blocks:
                for el in block:
                    fields[_local(el.tag)] = el.text if el.text is not None else ""
        try:
            rec = _omm_record(fields, source, i, "segment")
        except ElementSetError as e:
            col.bad(e)
        else:
            col.add(rec, i)
    return col.finish()


_READERS = {"tle": _read_tle, "csv": _read_csv, "json": _read_json, "xml": _read_xml}


_TLE_LINE1 = re.compile(r"^1 [ 0-9A-Z]{5}", re.MULTILINE)
_TLE_LINE2 = re.compile(r"^2 [ 0-9A-Z]{5}", re.MULTILINE)


def _detect_format(text: str) -> str:
    s = text.lstrip("\ufeff \t\r\n")
    head = s[:4096]
    if _TLE_LINE1.search(head) and _TLE_LINE2.search(head):
        return "tle"  # a 3-line TLE whose name starts with "<" or "{" is still a TLE
    if s.startswith("<"):
        return "xml"
    if s.startswith(("[", "{")):
        return "json"
    first = s.split("\n", 1)[0].upper()
    if "," in first and ("NORAD_CAT_ID" in first or "EPOCH" in first):
        return "csv"
    return "tle"


def _decode(data: bytes, source: str) -> str:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _error(source, None, None, f"corrupt gzip data: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _error(
            source, line, None, f"expected UTF-8 text, got byte {data[exc.start]:#04x} at offset {exc.start}"
        ) from None


def parse_elements(
    text: str | bytes, *, format: str | None = None, errors: str = "raise", source: str = "<text>"
) -> ElementSet:
    """Parse element sets from a string (or bytes, possibly gzip-compressed).

    ``format``: "tle", "csv", "json", "xml" or None (detect from content). ``errors``:
    "raise" (first bad record raises ElementSetError) or "skip" (bad records are listed in
    ``.skipped`` and a warning is issued). Duplicate NORAD numbers keep the newest epoch
    (ties: the first) and are listed in ``.duplicates``. Records stay in input order.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if format is not None:
        fmt = format.lower()
        if fmt not in _FORMATS:
            raise ValueError(f"format must be one of {', '.join(_FORMATS)} or None, got {format!r}")
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), source)
    if format is None:
        fmt = _detect_format(text)
    return _READERS[fmt](text, source, errors)


def load_elements(path: str | os.PathLike[str], *, format: str | None = None, errors: str = "raise") -> ElementSet:
    """Read a TLE (2- or 3-line) or CelesTrak OMM (CSV, JSON, XML) file; gzip is detected.

    See :func:`parse_elements` for ``format`` and ``errors``. Errors name the file, line
    (or record/segment), field, expectation and offending text.
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    p = Path(path)
    data = p.read_bytes()
    return parse_elements(data, format=format, errors=errors, source=str(p))
