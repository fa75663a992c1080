"""Reading element-set files: format detection, decoding, :func:`parse_elements` and :func:`load_elements`.

The formats themselves live in :mod:`orbitshare.elements.tle` and :mod:`orbitshare.elements.omm`;
this module decodes bytes (UTF-8, optionally gzip-compressed), picks the reader, applies the
``errors`` policy and drops duplicate NORAD numbers.

Reads are bounded: :func:`load_elements` reads regular files only (a directory, FIFO or device
is refused without being opened for reading), and element data larger than ``max_bytes``
(:data:`MAX_TEXT_BYTES` by default), on disk or after gzip decompression, is refused while it is
read, so a small gzip bomb never occupies more than about ``max_bytes`` of memory.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
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
from orbitshare.errors import DataError, ElementSetError, ElementSetWarning, ParameterError

__all__ = ["FORMATS", "MAX_TEXT_BYTES", "parse_elements", "load_elements", "detect_format", "Collector"]

#: The formats :func:`parse_elements` reads.
FORMATS = ("tle", "csv", "json", "xml")

#: Default limit, in bytes, on element data (a file, and a gzip file's contents after
#: decompression) that :func:`load_elements` and :func:`parse_elements` read: 256 MiB, some 16
#: times CelesTrak's active catalog in its largest format (XML, 15 MiB for 16,000 objects in
#: 2026). Pass ``max_bytes=`` to change it.
MAX_TEXT_BYTES = 256 * 2**20

_CHUNK_BYTES = 2**20  # decompression step, bytes

_READERS: dict[str, Callable[[str, str, RecordSink], None]] = {
    "tle": read_tle_records,
    "csv": read_omm_csv,
    "json": read_omm_json,
    "xml": read_omm_xml,
}

_TLE_LINE1 = re.compile(r"^1 [ 0-9A-Z]{5}", re.MULTILINE)
_TLE_LINE2 = re.compile(r"^2 [ 0-9A-Z]{5}", re.MULTILINE)
_LEADING_BLANKS = re.compile("[\ufeff \t\r\n]*")


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
    m = _LEADING_BLANKS.match(text)  # always matches (maybe "")
    start = m.end() if m else 0
    head = text[start : start + 4096]
    if _TLE_LINE1.search(head) and _TLE_LINE2.search(head):
        return "tle"  # a 3-line TLE whose name starts with "<" or "{" is still a TLE
    if head.startswith("<"):
        return "xml"
    if head.startswith(("[", "{")):
        return "json"
    end = text.find("\n", start)
    first = text[start : end if end >= 0 else len(text)].upper()
    if "," in first and ("NORAD_CAT_ID" in first or "EPOCH" in first):
        return "csv"
    return "tle"


def _size_text(n: int) -> str:
    """``"152 bytes"``, ``"268435456 bytes (256 MiB)"``."""
    return f"{n} bytes ({n / 2**20:.4g} MiB)" if n >= 2**20 else f"{n} bytes"


def _check_max_bytes(max_bytes: int) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ParameterError(f"max_bytes must be a positive integer (bytes), got {max_bytes!r}")


def _gunzip(data: bytes, source: str, max_bytes: int) -> bytearray:
    """The decompressed contents of the gzip ``data`` (every member), refused above ``max_bytes``.

    Decompresses step by step, so no more than ``max_bytes`` plus one step is ever held.
    """
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb") as f:
            while chunk := f.read(min(_CHUNK_BYTES, max_bytes + 1 - len(out))):
                out += chunk
                if len(out) > max_bytes:
                    raise record_error(
                        source,
                        None,
                        None,
                        f"gzip data decompresses to more than the limit of {_size_text(max_bytes)} "
                        "(max_bytes); refusing to read further",
                    )
    except (OSError, EOFError, zlib.error) as exc:
        raise record_error(source, None, None, f"corrupt gzip data: {exc}") from None
    return out


def _decode(data: bytes, source: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    if len(data) > max_bytes:
        raise record_error(
            source,
            None,
            None,
            f"element data of {_size_text(len(data))} exceed the limit of {_size_text(max_bytes)} (max_bytes)",
        )
    raw: bytes | bytearray = data
    if data[:2] == b"\x1f\x8b":
        raw = _gunzip(data, source, max_bytes)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise record_error(
            source, line, None, f"expected UTF-8 text, got byte {raw[exc.start]:#04x} at offset {exc.start}"
        ) from None


def _file_kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def _read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``: DataError for anything else, ElementSetError above ``max_bytes``.

    The type is checked with ``os.stat`` before opening (a FIFO is never opened for reading) and
    again on the open descriptor (opened non-blocking, so a FIFO swapped in meanwhile cannot hang).
    """
    src = str(path)
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise DataError(f"{src}: expected a regular element file, got {_file_kind(mode)}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with open(fd, "rb", closefd=True) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{src}: expected a regular element file, got {_file_kind(st.st_mode)}")
        if st.st_size > max_bytes:
            raise record_error(
                src,
                None,
                None,
                f"file of {_size_text(st.st_size)} exceeds the limit of {_size_text(max_bytes)} (max_bytes)",
            )
        data = f.read(max_bytes + 1)  # the file may have grown since fstat
    if len(data) > max_bytes:
        raise record_error(src, None, None, f"file exceeds the limit of {_size_text(max_bytes)} (max_bytes)")
    return data


def parse_elements(
    text: str | bytes,
    *,
    format: str | None = None,
    errors: str = "raise",
    source: str = "<text>",
    max_bytes: int = MAX_TEXT_BYTES,
) -> ElementSet:
    """Parse element sets from a string (or bytes, possibly gzip-compressed).

    ``format``: "tle", "csv", "json", "xml" or None (detect from content). ``errors``:
    "raise" (first bad record raises ElementSetError) or "skip" (bad records are listed in
    ``.skipped`` and a warning is issued). Duplicate NORAD numbers keep the newest epoch
    (ties: the first) and are listed in ``.duplicates``. Records stay in input order.
    Bytes longer than ``max_bytes`` (bytes, default :data:`MAX_TEXT_BYTES`), before or after gzip
    decompression, raise ElementSetError naming ``source`` and the limit.
    A bad ``format``, ``errors`` or ``max_bytes`` raises :class:`~orbitshare.errors.ParameterError`.

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
    _check_max_bytes(max_bytes)
    if format is not None:
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ParameterError(f"format must be one of {', '.join(FORMATS)} or None, got {format!r}")
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), source, max_bytes)
    if format is None:
        fmt = detect_format(text)
    collector = Collector(source, errors)
    _READERS[fmt](text, source, collector)
    return collector.finish()


def load_elements(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    errors: str = "raise",
    max_bytes: int = MAX_TEXT_BYTES,
) -> ElementSet:
    """Read a TLE (2- or 3-line) or CelesTrak OMM (CSV, JSON, XML) file; gzip is detected.

    See :func:`parse_elements` for ``format``, ``errors`` and ``max_bytes`` (the limit applies to
    the file and to its decompressed contents). Errors name the file, line (or record/segment),
    field, expectation and offending text. ``path`` must be a regular file (or a link to one):
    a directory, FIFO or device raises :class:`~orbitshare.errors.DataError` without being read.
    """
    if errors not in ("raise", "skip"):
        raise ParameterError(f"errors must be 'raise' or 'skip', got {errors!r}")
    _check_max_bytes(max_bytes)
    p = Path(path)
    data = _read_regular_file(p, max_bytes)
    return parse_elements(data, format=format, errors=errors, source=str(p), max_bytes=max_bytes)
