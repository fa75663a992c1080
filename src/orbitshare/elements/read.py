"""Reading element-set files: format detection, decoding, :func:`parse_elements` and :func:`load_elements`.

The formats themselves live in :mod:`orbitshare.elements.tle` and :mod:`orbitshare.elements.omm`;
this module decodes bytes (UTF-8, optionally gzip-compressed), picks the reader, applies the
``errors`` policy and drops duplicate NORAD numbers.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orbitshare.elements.elementset import Duplicate, ElementSet, Skipped
from orbitshare.elements.fields import ARRAY_FIELDS, FLOAT_FIELDS, RecordSink, record_error
from orbitshare.elements.omm import read_omm_csv, read_omm_json, read_omm_xml
from orbitshare.elements.tle import read_tle_records
from orbitshare.errors import ElementSetError, ElementSetWarning, ParameterError

__all__ = ["FORMATS", "parse_elements", "load_elements", "detect_format", "Collector"]

#: The formats :func:`parse_elements` reads.
FORMATS = ("tle", "csv", "json", "xml")

_READERS: dict[str, Callable[[str, str, RecordSink], None]] = {
    "tle": read_tle_records,
    "csv": read_omm_csv,
    "json": read_omm_json,
    "xml": read_omm_xml,
}

_TLE_LINE1 = re.compile(r"^1 [ 0-9A-Z]{5}", re.MULTILINE)
_TLE_LINE2 = re.compile(r"^2 [ 0-9A-Z]{5}", re.MULTILINE)


class Collector:
    """Accumulates parsed records column-wise (a :class:`~orbitshare.elements.fields.RecordSink`).

    ``errors``: ``"raise"`` (a bad record raises its ElementSetError) or ``"skip"`` (it is kept
    as a :class:`~orbitshare.elements.elementset.Skipped` record). :meth:`finish` builds the
    ElementSet.
    """

    def __init__(self, source: str, errors: str) -> None:
        self.source = source
        self.errors = errors
        self.cols: dict[str, list[Any]] = {name: [] for name in ARRAY_FIELDS}
        self.lines: list[int | None] = []
        self.skipped: list[Skipped] = []

    def add(self, rec: dict[str, Any], line: int | None) -> None:
        """Append one record (every name of ARRAY_FIELDS; ``epoch`` in int ns) read at ``line``."""
        for name in ARRAY_FIELDS:
            self.cols[name].append(rec[name])
        self.lines.append(line)

    def bad(self, err: ElementSetError) -> None:
        """Raise ``err`` (``errors="raise"``) or note it as skipped."""
        if self.errors == "raise":
            raise err
        self.skipped.append(Skipped(self.source, getattr(err, "line", None), getattr(err, "field", None), str(err)))

    def finish(self) -> ElementSet:
        """The ElementSet of the records added, newest epoch per NORAD number (warns on skips and drops).

        Called from :func:`parse_elements`, so its warnings point at that function's caller.
        """
        c = self.cols
        arrays = {
            "norad": np.array(c["norad"], dtype=np.int64),
            "name": np.array(c["name"] + [None], dtype=object)[:-1],
            "intldesg": np.array(c["intldesg"] + [None], dtype=object)[:-1],
            "classification": np.array(c["classification"], dtype="<U1"),
            "epoch": np.array(c["epoch"], dtype=np.int64).view("datetime64[ns]"),
            "fmt_flags": np.array(c["fmt_flags"], dtype=np.uint8),
        }
        for name in FLOAT_FIELDS:
            arrays[name] = np.array(c[name], dtype=np.float64)
        for name in ("element_set_no", "rev_at_epoch", "ephemeris_type"):
            arrays[name] = np.array(c[name], dtype=np.int64)
        if not self.lines and not self.skipped:
            raise record_error(self.source, None, None, "contains no element sets")
        keep, dups = _dedupe(arrays["norad"], arrays["epoch"].view(np.int64), self.lines, self.source)
        if dups:
            arrays = {k: v[keep] for k, v in arrays.items()}
        es = ElementSet.from_trusted_arrays(arrays, self.source, self.skipped, dups)
        if self.skipped:
            warnings.warn(
                f"{self.source}: skipped {len(self.skipped)} malformed record(s); "
                f"see ElementSet.skipped (first: {self.skipped[0].message})",
                ElementSetWarning,
                stacklevel=3,
            )
        if dups:
            warnings.warn(
                f"{self.source}: dropped {len(dups)} record(s) with a duplicate NORAD "
                "number (kept the newest epoch); see ElementSet.duplicates",
                ElementSetWarning,
                stacklevel=3,
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
    for i in np.flatnonzero(np.isin(norad, list(dupset))).tolist():
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


def detect_format(text: str) -> str:
    """``"tle"``, ``"xml"``, ``"json"`` or ``"csv"`` from the content (TLE when unsure)."""
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
            raise record_error(source, None, None, f"corrupt gzip data: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise record_error(
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
    A bad ``format`` or ``errors`` raises :class:`~orbitshare.errors.ParameterError`.

    The ISS element set of the ``sgp4`` documentation, given inline:

    >>> iss = parse_elements(
    ...     "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991\\n"
    ...     "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482\\n"
    ... )
    >>> len(iss), int(iss.norad[0]), float(iss.inclination[0])
    (1, 25544, 51.6439)
    >>> str(iss.epoch[0])[:19], float(iss.mean_motion[0])
    ('2019-12-09T16:38:29', 15.50103472)
    """
    if errors not in ("raise", "skip"):
        raise ParameterError(f"errors must be 'raise' or 'skip', got {errors!r}")
    if format is not None:
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ParameterError(f"format must be one of {', '.join(FORMATS)} or None, got {format!r}")
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), source)
    if format is None:
        fmt = detect_format(text)
    collector = Collector(source, errors)
    _READERS[fmt](text, source, collector)
    return collector.finish()


def load_elements(path: str | os.PathLike[str], *, format: str | None = None, errors: str = "raise") -> ElementSet:
    """Read a TLE (2- or 3-line) or CelesTrak OMM (CSV, JSON, XML) file; gzip is detected.

    See :func:`parse_elements` for ``format`` and ``errors``. Errors name the file, line
    (or record/segment), field, expectation and offending text.
    """
    if errors not in ("raise", "skip"):
        raise ParameterError(f"errors must be 'raise' or 'skip', got {errors!r}")
    p = Path(path)
    data = p.read_bytes()
    return parse_elements(data, format=format, errors=errors, source=str(p))
