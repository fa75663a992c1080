"""CCSDS Orbit Mean-elements Messages (OMM) as CelesTrak serves them: CSV, JSON and XML.

Reading converts one OMM keyword mapping at a time (:func:`omm_record`) and walks whole
texts (:func:`read_omm_csv`, :func:`read_omm_json`, :func:`read_omm_xml`); writing formats
the records of an ElementSet's columns (:func:`format_omm`).

Conventions: the keywords and their order are CelesTrak's CSV columns (:data:`OMM_COLUMNS`).
Numbers are written in CelesTrak's style (``.00057434``, ``.91150244E-3``, ``0``; CRLF rows in
CSV) whenever that text reads back as the same double (at most 8 significant digits, 8/4
decimals for mean motion/angles); other values get the shortest text that round-trips, so
OMM -> ElementSet -> OMM -> ElementSet is bit-identical and keeps the nanosecond epoch.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape as _xml_escape

import numpy as np

from orbitshare.elements.fields import (
    NS_PER_DAY,
    RecordSink,
    civil_from_ns,
    days_from_civil,
    has_lone_surrogate,
    record_error,
)
from orbitshare.errors import ElementSetError, ParameterError

__all__ = [
    "OMM_COLUMNS",
    "OMM_REQUIRED",
    "omm_record",
    "read_omm_csv",
    "read_omm_json",
    "read_omm_xml",
    "format_omm",
]

#: OMM keyword <-> ElementSet field, in CelesTrak's CSV column order.
OMM_COLUMNS = (
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
#: The keywords every OMM record must carry.
OMM_REQUIRED = (
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

_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_INT_DIGITS_MAX = 18  # significant digits an integer field may have (int64 range; below int()'s 4,300-digit limit)
_OMM_KEYS = frozenset(k for k, _ in OMM_COLUMNS)
_OMM_EPOCH_RE = re.compile(r"(\d{4})-(?:(\d{2})-(\d{2})|(\d{3}))T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?", re.ASCII)


# ---------------------------------------------------------------------------------------
# reading


def omm_record(fields: Mapping[str, Any], source: str, line: int | None, where: str) -> dict[str, Any]:
    """Convert one OMM keyword mapping (text values) into a record dict of every ElementSet array field.

    ``epoch`` comes back as int ns since 1970 UTC. ``line``/``where`` locate the record in
    ``source`` for error messages (``where``: ``"line"``, ``"record"`` or ``"segment"``). Raises
    :class:`~orbitshare.errors.ElementSetError` naming the keyword, expectation and text.
    """

    def err(key: str, msg: str) -> ElementSetError:
        return record_error(source, line, key, msg, where)

    def get(key: str) -> str | None:
        v = fields.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            raise err(key, f"expected a text value, got {type(v).__name__}")
        return v.strip()

    for key in OMM_REQUIRED:
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
        digits = t.lstrip("+-").lstrip("0")
        if len(digits) > _INT_DIGITS_MAX:  # int() refuses over 4,300 digits with a ValueError of its own
            raise err(key, f"expected an integer in [{lo}, {hi}], got {t[:20]!r}... ({len(t)} characters)")
        v = -int(digits or "0") if t[0] == "-" else int(digits or "0")
        if not lo <= v <= hi:
            raise err(key, f"expected an integer in [{lo}, {hi}], got {t!r}")
        return v

    t = get("EPOCH") or ""
    m = _OMM_EPOCH_RE.fullmatch(t)
    if m is None:
        raise err("EPOCH", f"expected 'YYYY-MM-DDThh:mm:ss.ffffff', got {t!r}")
    try:  # the ValueErrors below only carry the reason into the ElementSetError
        year = int(m.group(1))
        if not 1800 <= year <= 2200:
            raise ValueError("year outside 1800-2200")
        if m.group(4):
            day0 = days_from_civil(year, 1, 1) + int(m.group(4)) - 1
            if not 1 <= int(m.group(4)) <= (_dt.date(year, 12, 31).timetuple().tm_yday):
                raise ValueError("day of year out of range")
        else:
            day0 = days_from_civil(year, int(m.group(2)), int(m.group(3)))
        hh, mi, ss = int(m.group(5)), int(m.group(6)), int(m.group(7))
        if hh > 23 or mi > 59 or ss > 59:
            raise ValueError("time of day out of range")
    except ValueError as exc:
        raise err("EPOCH", f"expected a valid UTC date and time, got {t!r} ({exc})") from None
    frac = m.group(8) or ""
    ns = day0 * NS_PER_DAY + (hh * 3600 + mi * 60 + ss) * 1_000_000_000 + int(frac.ljust(9, "0") or "0")

    cls = get("CLASSIFICATION_TYPE") or "U"
    if cls not in ("U", "C", "S"):
        raise err("CLASSIFICATION_TYPE", f"expected 'U', 'C' or 'S', got {cls!r}")
    name = fields.get("OBJECT_NAME")
    if name is not None and not isinstance(name, str):
        raise err("OBJECT_NAME", f"expected a text value, got {type(name).__name__}")
    for key, text in (("OBJECT_NAME", name), ("OBJECT_ID", fields.get("OBJECT_ID"))):
        if isinstance(text, str) and has_lone_surrogate(text):
            raise err(key, f"expected valid Unicode text, got {text!r} (a lone surrogate)")
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


def read_omm_csv(text: str, source: str, sink: RecordSink) -> None:
    """Parse an OMM CSV text (header row of OMM keywords, one record per row) into ``sink``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = None
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            if header is None:
                header = [h.strip().lstrip("\ufeff").upper() for h in row]
                missing = [k for k in OMM_REQUIRED if k not in header]
                if missing:
                    raise record_error(
                        source, reader.line_num, None, f"CSV header lacks required OMM column(s) {', '.join(missing)}"
                    )
                counts = Counter(k for k in header if k in _OMM_KEYS)
                repeated = sorted(k for k, c in counts.items() if c > 1)
                if repeated:
                    raise record_error(
                        source,
                        reader.line_num,
                        repeated[0],
                        f"expected each OMM column once in the CSV header, got {counts[repeated[0]]} columns",
                    )
                continue
            line = reader.line_num
            if len(row) != len(header):
                sink.bad(
                    record_error(
                        source,
                        line,
                        None,
                        f"expected {len(header)} comma-separated values as in the header, got {len(row)}",
                    )
                )
                continue
            try:
                rec = omm_record(dict(zip(header, row, strict=True)), source, line, "line")
            except ElementSetError as e:
                sink.bad(e)
            else:
                sink.add(rec, line)
    except csv.Error as exc:
        raise record_error(source, reader.line_num, None, f"malformed CSV: {exc}") from None


class _RepeatedKeys(dict[str, Any]):
    """A JSON object that repeats a key: ``key`` (the first one repeated) appears ``count`` times."""

    key: str
    count: int


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: the object as a dict, or a :class:`_RepeatedKeys` when a key repeats.

    Plain ``json.loads`` keeps the last value of a repeated key, which silently merges two
    records written into one object; the reader reports such a record instead.
    """
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    out = _RepeatedKeys(obj)
    out.key, out.count = key, sum(k == key for k, _ in pairs)
    return out


def _reject_constant(name: str) -> None:
    # caught by read_omm_json and reported as an ElementSetError
    raise ValueError(f"non-finite number {name} is not allowed")


def read_omm_json(text: str, source: str, sink: RecordSink) -> None:
    """Parse an OMM JSON text (a list of keyword objects, or one object) into ``sink``."""
    try:
        data = json.loads(
            text, parse_float=str, parse_int=str, parse_constant=_reject_constant, object_pairs_hook=_object_pairs
        )
    except json.JSONDecodeError as exc:
        raise record_error(source, exc.lineno, None, f"malformed JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise record_error(source, None, None, f"malformed JSON: {exc}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise record_error(source, None, None, f"expected a JSON list of OMM objects, got {type(data).__name__}")
    for i, obj in enumerate(data, 1):
        if not isinstance(obj, dict):
            sink.bad(record_error(source, i, None, f"expected a JSON object, got {type(obj).__name__}", "record"))
            continue
        if isinstance(obj, _RepeatedKeys):
            msg = f"expected each key once per object, got it {obj.count} times (two records merged?)"
            sink.bad(record_error(source, i, obj.key, msg, "record"))
            continue
        try:
            rec = omm_record(obj, source, i, "record")
        except ElementSetError as e:
            sink.bad(e)
        else:
            sink.add(rec, i)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def read_omm_xml(text: str, source: str, sink: RecordSink) -> None:
    """Parse a CCSDS NDM/OMM XML text (one ``<segment>`` per record) into ``sink``."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise record_error(source, line, None, f"malformed XML: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise record_error(source, None, None, f"malformed XML: {exc}") from None
    segments = [el for el in root.iter() if _local(el.tag) == "segment"]
    for i, seg in enumerate(segments, 1):
        fields: dict[str, Any] = {}
        repeated = ""
        for part in seg:
            if _local(part.tag) == "metadata":
                blocks = [part]
            elif _local(part.tag) == "data":
                blocks = [b for b in part if _local(b.tag) in ("meanElements", "tleParameters")]
            else:
                continue
            for block in blocks:
                for el in block:
                    key = _local(el.tag)
                    if key in _OMM_KEYS and key in fields:
                        repeated = repeated or key
                    fields[key] = el.text if el.text is not None else ""
        if repeated:
            sink.bad(
                record_error(source, i, repeated, "expected each OMM keyword once per segment, got it again", "segment")
            )
            continue
        try:
            rec = omm_record(fields, source, i, "segment")
        except ElementSetError as e:
            sink.bad(e)
        else:
            sink.add(rec, i)


# ---------------------------------------------------------------------------------------
# writing: number formats


def _is_float_zero_neg(v: float) -> bool:
    return v == 0.0 and math.copysign(1.0, v) < 0


def _same_float(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _fmt_fixed(v: float, decimals: int) -> str:
    """CelesTrak fixed-point style (``"%.{decimals}f"``) if exact, else shortest round-trip."""
    s = f"{v:.{decimals}f}"
    if _same_float(float(s), v):
        return s
    return np.format_float_positional(v, unique=True, trim="-")


def _fmt_ecc(v: float) -> str:
    """CelesTrak eccentricity style: ``.00278136`` (no leading zero, no trailing zeros)."""
    s = f"{v:.8f}"
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
    return f"{'-' if v < 0 else ''}.{stripped}E{e10:+d}"


def _fmt_epoch_iso(ns: int) -> str:
    date, nsod = civil_from_ns(ns)
    sec, sub = divmod(nsod, 1_000_000_000)
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    frac = f"{sub // 1000:06d}" if sub % 1000 == 0 else f"{sub:09d}"
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}T{h:02d}:{m:02d}:{s:02d}.{frac}"


# ---------------------------------------------------------------------------------------
# writing: documents


def _omm_text_rows(columns: Mapping[str, np.ndarray]) -> Iterator[dict[str, str]]:
    """Per record: OMM keyword -> text (CelesTrak style, exact)."""
    ns_all = columns["epoch"].view(np.int64)
    for i in range(len(columns["norad"])):
        yield {
            "OBJECT_NAME": columns["name"][i],
            "OBJECT_ID": columns["intldesg"][i],
            "EPOCH": _fmt_epoch_iso(int(ns_all[i])),
            "MEAN_MOTION": _fmt_fixed(float(columns["mean_motion"][i]), 8),
            "ECCENTRICITY": _fmt_ecc(float(columns["eccentricity"][i])),
            "INCLINATION": _fmt_fixed(float(columns["inclination"][i]), 4),
            "RA_OF_ASC_NODE": _fmt_fixed(float(columns["raan"][i]), 4),
            "ARG_OF_PERICENTER": _fmt_fixed(float(columns["arg_perigee"][i]), 4),
            "MEAN_ANOMALY": _fmt_fixed(float(columns["mean_anomaly"][i]), 4),
            "EPHEMERIS_TYPE": str(int(columns["ephemeris_type"][i])),
            "CLASSIFICATION_TYPE": str(columns["classification"][i]),
            "NORAD_CAT_ID": str(int(columns["norad"][i])),
            "ELEMENT_SET_NO": str(int(columns["element_set_no"][i])),
            "REV_AT_EPOCH": str(int(columns["rev_at_epoch"][i])),
            "BSTAR": _fmt_exp(float(columns["bstar"][i])),
            "MEAN_MOTION_DOT": _fmt_exp(float(columns["mean_motion_dot"][i])),
            "MEAN_MOTION_DDOT": _fmt_exp(float(columns["mean_motion_ddot"][i])),
        }


def _to_xml(columns: Mapping[str, np.ndarray]) -> str:
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
    for row in _omm_text_rows(columns):
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


def format_omm(columns: Mapping[str, np.ndarray], format: str = "csv") -> str:
    """OMM text of the records in ``columns`` (ElementSet field -> array) as CelesTrak serves it.

    ``format``: "csv" (CRLF rows, CelesTrak's number style), "json" (list of objects, floats as
    shortest round-trip numbers) or "xml" (CCSDS NDM/OMM 2.0); raises
    :class:`~orbitshare.errors.ParameterError` for any other.
    """
    fmt = format.lower()
    keys = [k for k, _ in OMM_COLUMNS]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(keys)
        for row in _omm_text_rows(columns):
            w.writerow([row[k] for k in keys])
        return buf.getvalue()
    if fmt == "json":
        ints = {"EPHEMERIS_TYPE", "NORAD_CAT_ID", "ELEMENT_SET_NO", "REV_AT_EPOCH"}
        strs = {"OBJECT_NAME", "OBJECT_ID", "EPOCH", "CLASSIFICATION_TYPE"}
        items = []
        for row in _omm_text_rows(columns):
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
        return "[" + ",\n".join(items) + "]\n"
    if fmt == "xml":
        return _to_xml(columns)
    raise ParameterError(f"format must be 'csv', 'json' or 'xml', got {format!r}")
