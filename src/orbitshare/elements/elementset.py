"""Orbital element sets (TLE and CCSDS OMM) as a struct of NumPy arrays.

:class:`ElementSet` holds one record per object in parallel arrays. Reading files is
:func:`orbitshare.elements.read.load_elements`; :meth:`ElementSet.to_tle` /
:meth:`ElementSet.to_omm` write them back (formats in :mod:`orbitshare.elements.tle` and
:mod:`orbitshare.elements.omm`).

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

import math
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from orbitshare.atomic import atomic_path
from orbitshare.elements.fields import (
    ARRAY_FIELDS,
    FIELDS,
    FLAG_BSTAR_EXP_MINUS,
    FLAG_EPHTYPE_BLANK,
    FLAG_NAME_ZERO_PREFIX,
    FLAG_NDDOT_EXP_MINUS,
    FLAG_TLE,
    FLOAT_FIELDS,
    INT_FIELDS,
    NS_PER_DAY,
    STR_FIELDS,
)
from orbitshare.elements.omm import format_omm
from orbitshare.elements.tle import format_tle, tle_exp_parts
from orbitshare.errors import DataError, ElementSetError, ElementSetWarning, ParameterError

__all__ = [
    "ElementSet",
    "write_text_atomic",
    "ElementSetWarning",
    "Skipped",
    "Duplicate",
    "FIELDS",
    "FLAG_TLE",
    "FLAG_NDDOT_EXP_MINUS",
    "FLAG_BSTAR_EXP_MINUS",
    "FLAG_EPHTYPE_BLANK",
    "FLAG_NAME_ZERO_PREFIX",
]

_UNIX_JD = 2440587.5
_JD_1949_12_31 = 2433281.5
_NS_1949_12_31 = int(np.datetime64("1949-12-31T00:00:00", "ns").astype(np.int64))

# sgp4 unit conversions, written exactly as sgp4's io.py / SGP4.cpp and omm.py do
_PI = math.pi
_XPDOTP = 1440.0 / (2.0 * _PI)
_DEG2RAD = _PI / 180.0
_OMM_NDOT_UNITS = 1036800.0 / _PI
_OMM_NDDOT_UNITS = 2985984000.0 / 2.0 / _PI

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


def _as_array(name: str, value: Any, n: int | None) -> np.ndarray:
    """Coerce one field to its dtype (ValueError naming the field on failure)."""
    if name in STR_FIELDS:
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        for x in arr.ravel():
            if not isinstance(x, str):
                raise ParameterError(f"field {name!r}: expected str values, got {type(x).__name__}")
        arr = arr.copy()
    elif name == "classification":
        arr = np.asarray(value)
        if arr.dtype.kind == "O":
            arr = arr.astype("U")
        if arr.dtype.kind != "U":
            raise ParameterError(f"field 'classification': expected strings 'U', 'C' or 'S', got dtype {arr.dtype}")
        arr = arr.astype("<U1", copy=True) if arr.size else arr.astype("<U1")
        bad = ~np.isin(np.asarray(value).astype("U"), ["U", "C", "S"])
        if bad.any():
            raise ParameterError(f"field 'classification': expected 'U', 'C' or 'S', got {np.asarray(value)[bad][0]!r}")
    elif name == "epoch":
        arr = np.asarray(value)
        if arr.dtype.kind not in "MUSO":
            raise ParameterError(f"field 'epoch': expected datetime64 values, got dtype {arr.dtype}")
        try:
            arr = arr.astype("datetime64[ns]")
        except (ValueError, TypeError, OverflowError) as exc:
            raise ParameterError(f"field 'epoch': cannot convert to datetime64[ns]: {exc}") from None
        if np.isnat(arr).any():
            raise ParameterError("field 'epoch': NaT is not a valid epoch")
    elif name in FLOAT_FIELDS:
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise ParameterError(f"field {name!r}: expected float64 values, got dtype {arr.dtype}")
        arr = arr.astype(np.float64, copy=True)
        if not np.isfinite(arr).all():
            raise ParameterError(f"field {name!r}: values must be finite")
    elif name in INT_FIELDS or name == "fmt_flags":
        arr = np.asarray(value)
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and arr.size == 0):
            raise ParameterError(f"field {name!r}: expected integer values, got dtype {arr.dtype}")
        arr = arr.astype(np.uint8 if name == "fmt_flags" else np.int64, copy=True)
        if name == "norad" and (arr < 0).any():
            raise ParameterError("field 'norad': catalog numbers must be >= 0")
    else:  # pragma: no cover
        raise AssertionError(name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ParameterError(f"field {name!r}: expected a 1-D array, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ParameterError(f"field {name!r}: length {len(arr)} differs from 'norad' length {n}")
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
    Build one with :meth:`from_arrays` or :func:`~orbitshare.elements.read.load_elements`.

    Select with an index, slice or mask and join with :meth:`concat` (or ``+``):

    >>> import numpy as np
    >>> es = ElementSet.from_arrays(
    ...     norad=[25544, 48274],
    ...     epoch=np.array(["2026-01-01T00:00", "2026-01-01T06:00"], "datetime64[ns]"),
    ...     mean_motion=[15.49, 15.61],
    ...     eccentricity=[0.0004, 0.0008],
    ...     inclination=[51.64, 41.47],
    ...     raan=[10.0, 200.0],
    ...     arg_perigee=[0.0, 0.0],
    ...     mean_anomaly=[0.0, 90.0],
    ... )
    >>> len(es), es.inclination.tolist()
    (2, [51.64, 41.47])
    >>> es[es.inclination > 45.0].norad.tolist()
    [25544]
    >>> len(ElementSet.concat([es, es[1:]]))
    3
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
        for name in ARRAY_FIELDS:
            value = getattr(self, name)
            if value is None:
                if name != "fmt_flags":
                    raise ParameterError(f"field {name!r} is required")
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
    def from_trusted_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        source: str | None = None,
        skipped: Iterable[Skipped] = (),
        duplicates: Iterable[Duplicate] = (),
    ) -> ElementSet:
        """Wrap ``arrays`` (every name of :data:`~orbitshare.elements.fields.ARRAY_FIELDS`) without checks.

        The fast path for readers: the caller guarantees the dtypes and equal lengths that
        :meth:`from_arrays` would check. The arrays are made read-only in place, not copied.
        """
        self = object.__new__(cls)
        for name in ARRAY_FIELDS:
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
        mean_motion_ddot 0, fmt_flags 0. Raises :class:`~orbitshare.errors.ParameterError` (a
        ValueError) on unknown names, missing required fields, bad dtypes, non-finite floats or
        unequal lengths.
        """
        unknown = set(fields) - set(ARRAY_FIELDS)
        if unknown:
            raise ParameterError(f"unknown ElementSet field(s): {', '.join(sorted(unknown))}")
        missing = [f for f in _REQUIRED if f not in fields]
        if missing:
            raise ParameterError(f"missing required ElementSet field(s): {', '.join(missing)}")
        norad = _as_array("norad", fields["norad"], None)
        n = len(norad)
        kw: dict[str, Any] = {}
        for name in ARRAY_FIELDS:
            if name in fields:
                kw[name] = fields[name]
            else:
                default = _DEFAULTS[name]
                dtype = object if name in STR_FIELDS else None
                kw[name] = np.full(n, default, dtype=dtype)
        fmt = kw.pop("fmt_flags")
        return cls(**kw, fmt_flags=fmt, source=source)

    @classmethod
    def empty(cls) -> ElementSet:
        """An ElementSet with no records."""
        return cls.from_arrays(
            norad=np.zeros(0, np.int64),
            mean_motion=np.zeros(0, np.int64),
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
        arrays = {name: np.concatenate([getattr(s, name) for s in sets]) for name in ARRAY_FIELDS}
        sources = {s.source for s in sets}
        source = sources.pop() if len(sources) == 1 else None
        skipped = [k for s in sets for k in s.skipped]
        dups = [d for s in sets for d in s.duplicates]
        return cls.from_trusted_arrays(arrays, source, skipped, dups)

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
        arrays = {name: getattr(self, name)[key] for name in ARRAY_FIELDS}
        return ElementSet.from_trusted_arrays(arrays, self.source, self.skipped, self.duplicates)

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
        """(min, median, max) epoch as datetime64[ns]; ParameterError when empty."""
        if len(self) == 0:
            raise ParameterError("epoch_stats() of an empty ElementSet")
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
        tle = (np.asarray(self.fmt_flags) & FLAG_TLE) != 0  # fmt_flags is never None after __post_init__
        ns = self.epoch.view(np.int64)

        # --- epoch: TLE convention (midnight JD + fraction rounded to the TLE's 8 digits)
        day = np.floor_divide(ns, NS_PER_DAY)
        nsod = ns - day * NS_PER_DAY
        jd_tle = day.astype(np.float64) + _UNIX_JD
        fr_tle = nsod.astype(np.float64) / float(NS_PER_DAY)
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
                    sign, digits, e = tle_exp_parts(v)
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
        for column in out.values():
            assert column.shape == (n,)
        return out

    # -- writers -----------------------------------------------------------------------

    def _columns(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    def to_tle(self, path: str | os.PathLike[str] | None = None, *, three_line: bool = True) -> str:
        """TLE text (``"\\n"`` line ends); also written to ``path`` when given.

        Values are rounded to TLE precision (see the module doc). Raises ElementSetError
        naming the object for values a TLE cannot hold (NORAD > 339999, epoch outside
        1957-2056, |ndot| >= 1, exponents > 9, field overflow).
        """
        text = format_tle(self._columns(), three_line)
        if path is not None:
            write_text_atomic(path, text)
        return text

    def to_omm(self, path: str | os.PathLike[str] | None = None, *, format: str = "csv") -> str:
        """OMM text as CelesTrak serves it: ``format`` "csv" (CRLF rows, CelesTrak's number
        style), "json" (list of objects, floats as shortest round-trip numbers) or "xml"
        (CCSDS NDM/OMM 2.0). Loading the result gives bit-identical values. Also written
        to ``path`` when given.
        """
        text = format_omm(self._columns(), format)
        if path is not None:
            write_text_atomic(path, text)
        return text


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (:func:`~orbitshare.atomic.atomic_path`).

    ``path`` is replaced only once the whole text is written and synced: a failure (text that is
    not valid Unicode, a full disk) leaves the previous file as it was and no temporary file. A
    symbolic link is written through (its target is replaced).
    Raises :class:`~orbitshare.errors.ElementSetError` for text that cannot be encoded and
    :class:`~orbitshare.errors.DataError` when ``path`` exists but is not a regular file, or
    cannot be written.
    """
    p = Path(path)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise ElementSetError(
            f"{p}: cannot write line {line} as UTF-8: {exc.reason} ({text[exc.start : exc.end]!r})"
        ) from None
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise DataError(f"{p}: exists and is not a regular file; refusing to replace it")
    target = Path(os.path.realpath(p)) if p.is_symlink() else p  # a link keeps pointing at the new file
    try:
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise DataError(f"{p}: cannot write: {exc.strerror or exc}") from None
