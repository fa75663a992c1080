"""Two-/three-line element sets (TLE): checksums, Alpha-5 catalog numbers, field parsing and writing.

Reading works record by record (:func:`parse_tle_record`) and over a whole text
(:func:`read_tle_records`, which resynchronises after a broken record); writing formats the
records of an ElementSet's columns (:func:`format_tle`). Values are rounded to TLE precision
when written: epoch to 1e-8 day, mean motion and ndot to 8 decimals, eccentricity to 7
decimals, angles to 4 decimals, bstar/nddot to 5 significant digits (values below 1e-10
become zero).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from orbitshare.elements.fields import (
    FLAG_BSTAR_EXP_MINUS,
    FLAG_EPHTYPE_BLANK,
    FLAG_NAME_ZERO_PREFIX,
    FLAG_NDDOT_EXP_MINUS,
    FLAG_TLE,
    NS_PER_DAY,
    RecordSink,
    civil_from_ns,
    days_from_civil,
    has_lone_surrogate,
    record_error,
)
from orbitshare.errors import ElementSetError

__all__ = [
    "ALPHA5_MAX",
    "alpha5_decode",
    "alpha5_encode",
    "tle_checksum",
    "tle_exp_parts",
    "parse_tle_record",
    "read_tle_records",
    "format_tle",
]

#: The largest catalog number a TLE can carry (Alpha-5 ``Z9999``).
ALPHA5_MAX = 339999

_NS_PER_TLE_DIGIT = 864_000  # 1e-8 day in ns

_OBJECT_ID_RE = re.compile(r"(\d{4})-(\d{3})([A-Z]{1,3})", re.ASCII)
_TLE_INTLDESG_RE = re.compile(r"(\d{2})(\d{3})([A-Z]{1,3}) *", re.ASCII)


def alpha5_decode(text: str) -> int | None:
    """Catalog number of columns 3-7: ``'A0001'`` -> 100001, ``'25544'`` -> 25544; None when invalid.

    >>> alpha5_decode("25544"), alpha5_decode("A0001"), alpha5_decode("Z9999"), alpha5_decode("I0001")
    (25544, 100001, 339999, None)
    """
    if re.fullmatch(r" *\d{1,5}", text, re.ASCII):
        return int(text)
    if re.fullmatch(r"[A-HJ-NP-Z]\d{4}", text, re.ASCII):
        c = text[0]
        n = ord(c) - ord("A") + 10 - (c > "I") - (c > "O")
        return n * 10000 + int(text[1:])
    return None


def alpha5_encode(n: int) -> str:
    """The 5-column catalog number of ``n`` (0 <= n <= 339999): ``"25544"``, ``"A0001"``.

    Alpha-5 skips the letters I and O:

    >>> alpha5_encode(25544), alpha5_encode(100001), alpha5_encode(180000)
    ('25544', 'A0001', 'J0000')
    """
    if n < 100000:
        return f"{n:05d}"
    i, rest = divmod(n, 10000)
    c = ord("A") + i - 10
    if c >= ord("I"):
        c += 1
    if c >= ord("O"):
        c += 1
    return f"{chr(c)}{rest:04d}"


def tle_checksum(line: str) -> int:
    """The modulo-10 checksum of a TLE line's first 68 columns (digits count, ``-`` counts 1).

    >>> tle_checksum("2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482")
    2
    """
    return sum(int(c) if c.isdigit() else (c == "-") for c in line[:68]) % 10


def tle_exp_parts(v: float) -> tuple[str, str, int]:
    """(sign, 5 mantissa digits, exponent) of the TLE field ``±MMMMM±E``; zero -> exponent 0.

    The field's value is ``sign 0.MMMMM × 10**E``; values below 1e-10 in magnitude become zero.
    """
    sign = "-" if math.copysign(1.0, v) < 0 else " "
    if v == 0.0:
        return sign, "00000", 0
    s = f"{abs(v):.4e}"
    digits = s[0] + s[2:6]
    e = int(s[7:]) + 1
    if e < -9:
        return sign, "00000", 0
    return sign, digits, e


# ---------------------------------------------------------------------------------------
# reading

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
        raise record_error(source, lineno, field, f"(columns {a + 1}-{b}): expected {expect}, got {text!r}")
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
        raise record_error(source, lineno, None, f"TLE line {digit} is {len(line)} characters long, expected 69")
    if len(line) > 69 and not line[69].isspace():
        raise record_error(
            source, lineno, None, f"TLE line {digit} is longer than 69 characters (column 70 is {line[69]!r})"
        )
    if not line.isascii():
        raise record_error(source, lineno, None, f"TLE line {digit} contains non-ASCII characters")
    for col in blanks:
        if line[col] != " ":
            raise record_error(
                source, lineno, None, f"TLE line {digit} column {col + 1}: expected a blank, got {line[col]!r}"
            )
    cs = line[68]
    if not cs.isdigit():
        raise record_error(source, lineno, "checksum", f"(column 69): expected a digit, got {cs!r}")
    computed = tle_checksum(line)
    if int(cs) != computed:
        raise record_error(
            source, lineno, "checksum", f"(column 69): line says {cs} but its characters sum to {computed}"
        )


def parse_tle_record(
    source: str, name: str | None, name_no: int | None, l1: str, n1: int, l2: str, n2: int
) -> dict[str, Any]:
    """One TLE record as a dict of every ElementSet array field (``epoch`` in int ns since 1970 UTC).

    ``name`` is the name line (None for a 2-line record), ``l1``/``l2`` the element lines and
    ``n1``/``n2`` their line numbers in ``source``. Raises :class:`~orbitshare.errors.ElementSetError`
    naming the line, field, columns, expectation and the offending text.
    """
    flags = FLAG_TLE
    if name is not None and name.startswith("0 "):
        name = name[2:]
        flags |= FLAG_NAME_ZERO_PREFIX
    if name is not None and has_lone_surrogate(name):
        raise record_error(source, name_no, "name", f"expected valid Unicode text, got {name!r} (a lone surrogate)")
    _check_tle_line(source, n1, l1, "1", _L1_BLANKS)
    _check_tle_line(source, n2, l2, "2", _L2_BLANKS)

    sat1 = alpha5_decode(l1[2:7])
    if sat1 is None:
        raise record_error(
            source,
            n1,
            "norad",
            f"(columns 3-7): expected a catalog number (5 digits or Alpha-5 like 'A0001'), got {l1[2:7]!r}",
        )
    sat2 = alpha5_decode(l2[2:7])
    if sat2 is None:
        raise record_error(
            source,
            n2,
            "norad",
            f"(columns 3-7): expected a catalog number (5 digits or Alpha-5 like 'A0001'), got {l2[2:7]!r}",
        )
    if sat1 != sat2:
        raise record_error(source, n2, "norad", f"(columns 3-7): expected {l1[2:7]!r} as on line {n1}, got {l2[2:7]!r}")
    cls = l1[7]
    if cls not in "UCS":
        raise record_error(source, n1, "classification", f"(column 8): expected 'U', 'C' or 'S', got {cls!r}")

    raw = l1[9:17]
    m = _TLE_INTLDESG_RE.fullmatch(raw)
    if m:
        yy = int(m.group(1))
        intl = f"{yy + (2000 if yy < 57 else 1900)}-{m.group(2)}{m.group(3)}"
    else:
        intl = raw.strip()
        if len(raw.rstrip()) != len(raw.rstrip().lstrip()) and intl:
            raise record_error(
                source, n1, "intldesg", f"(columns 10-17): expected a designator like '98067A  ', got {raw!r}"
            )

    m = _tle_field(source, n1, l1, "epoch", 18, 32, r"(\d\d)(\d{3})\.(\d{8})", "'YYDDD.DDDDDDDD'")
    yy, doy, frac = int(m.group(1)), int(m.group(2)), int(m.group(3))
    year = yy + (2000 if yy < 57 else 1900)
    ndays = 366 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 365
    if not 1 <= doy <= ndays:
        raise record_error(
            source, n1, "epoch", f"(columns 19-32): expected a day of year 001-{ndays}, got {m.group(2)!r}"
        )
    ns = (days_from_civil(year, 1, 1) + doy - 1) * NS_PER_DAY + frac * _NS_PER_TLE_DIGIT

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
        raise record_error(source, n1, "ephemeris_type", f"(column 63): expected a digit, got {eph_c!r}")
    m = _tle_field(source, n1, l1, "element_set_no", 64, 68, r" *\d{1,4}", "an integer of up to 4 digits")
    elnum = int(m.group(0))

    vals: dict[str, float] = {}
    for field, a, b, pattern, expect, hi in _L2_FIELDS:
        m = _tle_field(source, n2, l2, field, a, b, pattern, expect)
        v = float(m.group(0))
        if v > hi or (field == "mean_motion" and v <= 0.0):
            raise record_error(source, n2, field, f"(columns {a + 1}-{b}): expected {expect}, got {l2[a:b]!r}")
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


# A line that is neither blank nor a "#" comment (lines end with CRLF, CR or LF): its first
# character is not "#", a CR or LF, and has no line character before it (the text starts or a
# CR/LF precedes it); the line holds a non-blank character. Blank runs are skipped inside the
# regex engine, so a text of blank lines costs no per-line Python objects.
_CONTENT_LINE_RE = re.compile(r"[^\r\n#](?<![^\r\n]{2})(?:(?<=\S)|[^\S\r\n]*\S)[^\r\n]*")


def _content_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without trailing blanks) of each non-blank, non-``#`` line, lazily."""
    no, pos = 1, 0
    for m in _CONTENT_LINE_RE.finditer(text):
        a = m.start()
        no += text.count("\n", pos, a) + text.count("\r", pos, a) - text.count("\r\n", pos, a)
        pos = a
        yield no, m.group(0).rstrip()


def read_tle_records(text: str, source: str, sink: RecordSink) -> None:
    """Parse every 2- or 3-line record of ``text`` into ``sink`` (blank and ``#`` lines are ignored).

    A malformed record goes to ``sink.bad`` (with its line number) and reading resumes at the
    next ``"1 ..."``/``"2 ..."`` line pair. Lines are read lazily through a window of at most
    three lines, so memory does not grow with the number of lines.
    """
    it = _content_lines(text)
    buf: deque[tuple[int, str]] = deque()  # the window: buf[0] is the current line

    def have(k: int) -> bool:
        """Whether the window holds line ``k`` (0-based from the current one), reading on as needed."""
        while len(buf) <= k:
            nxt = next(it, None)
            if nxt is None:
                return False
            buf.append(nxt)
        return True

    while have(0):
        no, s = buf[0]
        if _looks_like_line(s, "1"):
            name, name_no, k1 = None, None, 0
        else:
            name, name_no, k1 = s, no, 1
        k2 = k1 + 1
        if have(k2) and buf[k1][1].startswith("1") and buf[k2][1].startswith("2"):
            (n1, l1), (n2, l2) = buf[k1], buf[k2]
            for _ in range(k2 + 1):
                buf.popleft()
            try:
                rec = parse_tle_record(source, name, name_no, l1, n1, l2, n2)
            except ElementSetError as err:
                sink.bad(err)
            else:
                sink.add(rec, n1)
            continue
        # structural problem: report, then resynchronise on the next "1 ..." / "2 ..." pair
        if not have(k1):
            problem = record_error(source, no, None, f"expected TLE line 1 after name line {s[:40]!r}, got end of file")
        elif not buf[k1][1].startswith("1"):
            problem = record_error(
                source, buf[k1][0], None, f"expected TLE line 1 (starting '1 '), got {buf[k1][1][:40]!r}"
            )
        elif not have(k2):
            problem = record_error(source, buf[k1][0], None, "expected TLE line 2 after line 1, got end of file")
        else:
            problem = record_error(
                source, buf[k2][0], None, f"expected TLE line 2 (starting '2 '), got {buf[k2][1][:40]!r}"
            )
        sink.bad(problem)
        buf.popleft()
        prev = None  # the last line skipped: resume there when it may be a name line
        while have(0) and not (have(1) and _looks_like_line(buf[0][1], "1") and buf[1][1].startswith("2")):
            prev = buf.popleft()
        if have(0) and prev is not None and prev[1][:2] not in ("1 ", "2 "):
            buf.appendleft(prev)


# ---------------------------------------------------------------------------------------
# writing


def _label(columns: Mapping[str, np.ndarray], i: int) -> str:
    name = columns["name"][i]
    return f"NORAD {int(columns['norad'][i])}" + (f" ({name})" if name else "")


def _tle_lines(columns: Mapping[str, np.ndarray], i: int, three_line: bool) -> list[str]:
    label = _label(columns, i)

    def fail(field: str, msg: str) -> ElementSetError:
        return ElementSetError(f"{label}: field {field!r} cannot be written as a TLE: {msg}")

    norad = int(columns["norad"][i])
    if norad > ALPHA5_MAX:
        raise fail("norad", f"{norad} exceeds 339999, the largest Alpha-5 number")
    satnum = alpha5_encode(norad)
    flags = int(columns["fmt_flags"][i])

    intl = columns["intldesg"][i]
    m = _OBJECT_ID_RE.fullmatch(intl)
    if m and 1957 <= int(m.group(1)) <= 2056:
        intl_txt = (m.group(1)[2:] + m.group(2) + m.group(3)).ljust(8)
    elif len(intl) <= 8 and all(" " <= c <= "~" for c in intl) and not m:
        intl_txt = intl.ljust(8)
    else:
        raise fail("intldesg", f"{intl!r} does not fit the 8-column TLE designator")

    date, nsod = civil_from_ns(int(columns["epoch"].view(np.int64)[i]))
    k = (nsod + _NS_PER_TLE_DIGIT // 2) // _NS_PER_TLE_DIGIT
    if k >= 100_000_000:
        date += _dt.timedelta(days=1)
        k -= 100_000_000
    if not 1957 <= date.year <= 2056:
        raise fail("epoch", f"year {date.year} is outside 1957-2056")
    doy = date.toordinal() - _dt.date(date.year, 1, 1).toordinal() + 1
    epoch_txt = f"{date.year % 100:02d}{doy:03d}.{k:08d}"

    ndot = float(columns["mean_motion_dot"][i])
    s = f"{abs(ndot):.8f}"
    if not s.startswith("0."):
        raise fail("mean_motion_dot", f"|{ndot}| >= 1 rev/day^2")
    ndot_txt = ("-" if math.copysign(1.0, ndot) < 0 else " ") + s[1:]

    def expfield(field: str, v: float, minus_flag: int) -> str:
        sign, digits, e = tle_exp_parts(v)
        if e > 9:
            raise fail(field, f"{v!r} needs an exponent above 9")
        esign = "-" if e < 0 or (e == 0 and flags & minus_flag) else "+"
        return f"{sign}{digits}{esign}{abs(e)}"

    nddot_txt = expfield("mean_motion_ddot", float(columns["mean_motion_ddot"][i]), FLAG_NDDOT_EXP_MINUS)
    bstar_txt = expfield("bstar", float(columns["bstar"][i]), FLAG_BSTAR_EXP_MINUS)

    eph = int(columns["ephemeris_type"][i])
    if eph == 0 and flags & FLAG_EPHTYPE_BLANK:
        eph_txt = " "
    elif 0 <= eph <= 9:
        eph_txt = str(eph)
    else:
        raise fail("ephemeris_type", f"{eph} is not a single digit")
    elnum = int(columns["element_set_no"][i])
    if not 0 <= elnum <= 9999:
        raise fail("element_set_no", f"{elnum} is outside 0-9999")
    cls_txt = str(columns["classification"][i])

    line1 = f"1 {satnum}{cls_txt} {intl_txt} {epoch_txt} {ndot_txt} {nddot_txt} {bstar_txt} {eph_txt} {elnum:4d}"

    def fixed(field: str, v: float, width: int, dec: int, hi: float) -> str:
        t = f"{v:{width}.{dec}f}"
        if len(t) != width or v < 0 or float(t) >= hi:
            raise fail(field, f"{v!r} does not fit {width} columns with {dec} decimals")
        return t

    incl = fixed("inclination", float(columns["inclination"][i]), 8, 4, 1000.0)
    raan = fixed("raan", float(columns["raan"][i]), 8, 4, 1000.0)
    argp = fixed("arg_perigee", float(columns["arg_perigee"][i]), 8, 4, 1000.0)
    ma = fixed("mean_anomaly", float(columns["mean_anomaly"][i]), 8, 4, 1000.0)
    mm = fixed("mean_motion", float(columns["mean_motion"][i]), 11, 8, 100.0)
    ecc = float(columns["eccentricity"][i])
    ecc_txt = f"{ecc:.7f}"
    if ecc < 0 or not ecc_txt.startswith("0."):
        raise fail("eccentricity", f"{ecc!r} is outside [0, 1)")
    rev = int(columns["rev_at_epoch"][i])
    if not 0 <= rev <= 99999:
        raise fail("rev_at_epoch", f"{rev} is outside 0-99999")
    line2 = f"2 {satnum} {incl} {raan} {ecc_txt[2:]} {argp} {ma} {mm}{rev:5d}"
    line1 += str(tle_checksum(line1))
    line2 += str(tle_checksum(line2))
    lines = [line1, line2]
    if three_line:
        name = columns["name"][i]
        if "\n" in name or "\r" in name:
            raise fail("name", "contains a line break")
        if name:
            lines.insert(0, ("0 " if flags & FLAG_NAME_ZERO_PREFIX else "") + name)
    return lines


def format_tle(columns: Mapping[str, np.ndarray], three_line: bool = True) -> str:
    """TLE text (``"\\n"`` line ends) of the records in ``columns`` (ElementSet field -> array).

    Raises :class:`~orbitshare.errors.ElementSetError` naming the object for values a TLE
    cannot hold (NORAD > 339999, epoch outside 1957-2056, |ndot| >= 1, exponents > 9, field
    overflow).
    """
    out: list[str] = []
    for i in range(len(columns["norad"])):
        out.extend(_tle_lines(columns, i, three_line))
    return "".join(line + "\n" for line in out)
