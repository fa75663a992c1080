"""Property tests: random valid records round-trip; random corruption only raises ElementSetError."""

import datetime as dt
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.read import parse_elements
from orbitshare.errors import ElementSetError, ElementSetWarning

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _dec(k: int, decimals: int) -> float:
    """The double nearest to k * 10**-decimals (as a parser would read it)."""
    sign = "-" if k < 0 else ""
    k = abs(k)
    return float(f"{sign}{k // 10**decimals}.{k % 10**decimals:0{decimals}d}")


exp_field = st.one_of(
    st.just(0.0),
    st.builds(
        lambda s, m, e: float(f"{s}0.{m}e{e}"),
        st.sampled_from(["", "-"]),
        st.integers(10000, 99999),
        st.integers(-9, 9),
    ),
)
name_chars = st.characters(min_codepoint=32, max_codepoint=126)
names = st.text(name_chars, max_size=24).map(str.strip).filter(lambda s: not s.startswith(("#", "0 ", "1 ", "2 ")))


@st.composite
def tle_records(draw, max_norad=339999):
    year = draw(st.integers(1957, 2056))
    ndays = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    day = draw(st.integers(0, ndays - 1))
    frac = draw(st.integers(0, 10**8 - 1))
    epoch_ns = ((dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days + day) * 86_400_000_000_000 + frac * 864_000
    piece = draw(st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=3))
    intl = draw(
        st.one_of(
            st.just(""), st.builds(lambda y, n: f"{y}-{n:03d}{piece}", st.integers(1957, 2056), st.integers(1, 999))
        )
    )
    return {
        "norad": draw(st.integers(0, max_norad)),
        "name": draw(names),
        "intldesg": intl,
        "classification": draw(st.sampled_from("UCS")),
        "epoch": np.datetime64(epoch_ns, "ns"),
        "mean_motion": _dec(draw(st.integers(1, 99_99999999)), 8),
        "eccentricity": _dec(draw(st.integers(0, 9999999)), 7),
        "inclination": _dec(draw(st.integers(0, 1800000)), 4),
        "raan": _dec(draw(st.integers(0, 3599999)), 4),
        "arg_perigee": _dec(draw(st.integers(0, 3599999)), 4),
        "mean_anomaly": _dec(draw(st.integers(0, 3599999)), 4),
        "bstar": draw(exp_field),
        "mean_motion_dot": _dec(draw(st.integers(-99999999, 99999999)), 8),
        "mean_motion_ddot": draw(exp_field),
        "element_set_no": draw(st.integers(0, 9999)),
        "rev_at_epoch": draw(st.integers(0, 99999)),
        "ephemeris_type": draw(st.integers(0, 9)),
    }


def _build(records):
    return ElementSet.from_arrays(
        **{
            k: np.array([r[k] for r in records] + [None], dtype=object)[:-1]
            if k in ("name", "intldesg")
            else np.array([r[k] for r in records])
            for k in records[0]
        }
    )


def _unique(records):
    seen, out = set(), []
    for r in records:
        if r["norad"] not in seen:
            seen.add(r["norad"])
            out.append(r)
    return out


@SETTINGS
@given(st.lists(tle_records(), min_size=1, max_size=4).map(_unique), st.booleans())
def test_tle_round_trip(records, three_line):
    es = _build(records)
    text = es.to_tle(three_line=three_line)
    back = parse_elements(text)
    if not three_line:
        es = es.from_arrays(
            **{
                f: getattr(es, f)
                for f in (
                    "norad",
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
            }
        )
    assert back == es
    assert back.to_tle(three_line=three_line) == text


@SETTINGS
@given(st.lists(tle_records(), min_size=1, max_size=4).map(_unique), st.sampled_from(["csv", "json", "xml"]))
def test_omm_round_trip_tle_precision(records, fmt):
    es = _build(records)
    assert parse_elements(es.to_omm(format=fmt)) == es


finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def omm_records(draw):
    """Arbitrary doubles and nanosecond epochs (beyond TLE precision), six-digit NORAD numbers."""
    r = draw(tle_records())
    r.update(
        norad=draw(st.integers(0, 999_999_999)),
        name=draw(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(str.strip)),
        epoch=np.datetime64(draw(st.integers(-2_000_000_000_000_000_000, 4_000_000_000_000_000_000)), "ns"),
        mean_motion=draw(st.floats(1e-9, 1e3, exclude_min=False)),
        eccentricity=draw(st.floats(0.0, 1.0, exclude_max=True)),
        inclination=draw(st.floats(0.0, 180.0)),
        raan=draw(st.floats(0.0, 360.0)),
        bstar=draw(finite),
        mean_motion_dot=draw(finite),
        mean_motion_ddot=draw(finite),
    )
    return r


@SETTINGS
@given(st.lists(omm_records(), min_size=1, max_size=3).map(_unique), st.sampled_from(["csv", "json", "xml"]))
def test_omm_round_trip_bit_exact(records, fmt):
    es = _build(records)
    back = parse_elements(es.to_omm(format=fmt))
    assert back == es


def _mutate(text, edits):
    chars = list(text)
    for kind, pos, ch in edits:
        if not chars:
            chars = [ch]
            continue
        i = pos % (len(chars) + (kind == "insert"))
        if kind == "flip" and i < len(chars):
            chars[i] = ch
        elif kind == "insert":
            chars.insert(i, ch)
        elif i < len(chars):
            del chars[i]
    return "".join(chars)


edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete"]),
        st.integers(0, 10**6),
        st.one_of(st.sampled_from(list('0123456789 .-+\n\r,<>"[]{}E#U')), st.characters()),
    ),
    min_size=1,
    max_size=6,
)


def _parse_or_element_error(text, fmt_hint):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ElementSetWarning)
        for errors in ("raise", "skip"):
            for fmt in (None, fmt_hint):
                try:
                    es = parse_elements(text, format=fmt, errors=errors)
                except ElementSetError:
                    continue
                # whatever parsed must be writable and re-readable where it fits
                assert len(es) + len(es.skipped) >= 1
                es.to_omm(format="csv")
                es.sgp4_arrays()
                repr(es)


@SETTINGS
@given(st.lists(tle_records(), min_size=1, max_size=3).map(_unique), edits)
def test_corrupted_tle_raises_only_element_set_error(records, ed):
    _parse_or_element_error(_mutate(_build(records).to_tle(), ed), "tle")


@SETTINGS
@given(st.lists(tle_records(), min_size=1, max_size=3).map(_unique), st.sampled_from(["csv", "json", "xml"]), edits)
def test_corrupted_omm_raises_only_element_set_error(records, fmt, ed):
    _parse_or_element_error(_mutate(_build(records).to_omm(format=fmt), ed), fmt)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_element_set_error(data):
    _parse_or_element_error(data, "tle")
