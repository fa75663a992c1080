"""ElementSet, load_elements and the TLE/OMM writers (unit tests + real CelesTrak files)."""

import csv
import errno
import gzip
import os
import re
import warnings
from importlib.resources import files

import numpy as np
import pytest
from sgp4 import omm as sgp4_omm
from sgp4.api import Satrec

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.fields import FIELDS, FLAG_TLE
from orbitshare.elements.read import load_elements, parse_elements
from orbitshare.elements.walker import walker
from orbitshare.errors import DataError, ElementSetError, ElementSetWarning

ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
)
STARLINK = (
    "STARLINK-1008           \r\n"
    "1 44714U 19074B   26150.30936191  .00080211  00000+0  15180-2 0  9995\r\n"
    "2 44714  53.1513 154.1788 0003034  54.2939 305.8351 15.47704531361446\r\n"
)
OMM_CSV = (
    "OBJECT_NAME,OBJECT_ID,EPOCH,MEAN_MOTION,ECCENTRICITY,INCLINATION,RA_OF_ASC_NODE,"
    "ARG_OF_PERICENTER,MEAN_ANOMALY,EPHEMERIS_TYPE,CLASSIFICATION_TYPE,NORAD_CAT_ID,"
    "ELEMENT_SET_NO,REV_AT_EPOCH,BSTAR,MEAN_MOTION_DOT,MEAN_MOTION_DDOT\r\n"
    "CALSPHERE 1,1964-063C,2026-08-18T00:55:00.137856,13.76679809,.00278136,90.2179,73.2093,"
    "103.4323,44.8474,0,U,900,999,7993,.39713338E-3,.4E-5,0\r\n"
    "STARLINK-99999,2026-001A,2026-08-18T02:33:00.000000,15.50000000,.0001,53.0000,10.0000,"
    "90.0000,270.0000,0,U,100332,999,12,-.2080145E-5,.12351474E+0,.26673866E-2\r\n"
)
SGP4_KEYS = [
    ("epoch_jd", "jdsatepoch"),
    ("epoch_fr", "jdsatepochF"),
    ("bstar", "bstar"),
    ("ndot", "ndot"),
    ("nddot", "nddot"),
    ("ecco", "ecco"),
    ("argpo", "argpo"),
    ("inclo", "inclo"),
    ("mo", "mo"),
    ("nodeo", "nodeo"),
    ("no_kozai", "no_kozai"),
]


def _norm_lines(text):
    return [ln.rstrip() for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]


def _assert_sgp4_equal(arrays, i, sat, where=""):
    for key, attr in SGP4_KEYS:
        assert arrays[key][i] == getattr(sat, attr), (where, key, arrays[key][i], getattr(sat, attr))


# --- TLE reading ------------------------------------------------------------------------


def test_parse_iss_fields():
    es = parse_elements(ISS)
    assert len(es) == 1
    assert es.norad[0] == 25544 and es.norad.dtype == np.int64
    assert es.name[0] == "ISS (ZARYA)"
    assert es.intldesg[0] == "1998-067A"
    assert es.classification[0] == "U" and es.classification.dtype == np.dtype("<U1")
    # 08264.51782528 = 2008 day 264 + 51782528e-8 day, exact in ns
    expect = np.datetime64("2008-09-20", "ns") + np.timedelta64(51782528 * 864000, "ns")
    assert es.epoch[0] == expect and es.epoch.dtype == np.dtype("datetime64[ns]")
    assert es.mean_motion[0] == 15.72125391
    assert es.eccentricity[0] == 0.0006703
    assert (es.inclination[0], es.raan[0], es.arg_perigee[0], es.mean_anomaly[0]) == (
        51.6416,
        247.4627,
        130.536,
        325.0288,
    )
    assert es.bstar[0] == -0.11606e-4
    assert es.mean_motion_dot[0] == -0.00002182
    assert es.mean_motion_ddot[0] == 0.0
    assert (es.element_set_no[0], es.rev_at_epoch[0], es.ephemeris_type[0]) == (292, 56353, 0)
    assert es.fmt_flags[0] & FLAG_TLE


@pytest.mark.parametrize("text", [ISS, STARLINK, ISS.replace("\n", "\r"), "\n\n" + ISS + "\n\n"])
def test_tle_round_trip_text(text):
    es = parse_elements(text)
    assert _norm_lines(es.to_tle()) == _norm_lines(text)


def test_two_line_tle_and_mixed():
    two = "".join(ISS.splitlines(True)[1:])
    es = parse_elements(two + STARLINK)
    assert list(es.name) == ["", "STARLINK-1008"]
    assert _norm_lines(es.to_tle()) == _norm_lines(two + STARLINK)
    assert _norm_lines(es.to_tle(three_line=False)) == _norm_lines(two) + _norm_lines(STARLINK)[1:]


def test_alpha5_round_trip():
    es = parse_elements(ISS)
    big = ElementSet.from_arrays(
        **{
            f: getattr(es, f)
            for f in (
                "name",
                "intldesg",
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
            )
        },
        norad=[100001],
    )
    text = big.to_tle()
    assert text.splitlines()[1][2:7] == "A0001"
    assert parse_elements(text).norad[0] == 100001
    for n, code in [
        (100000, "A0000"),
        (179999, "H9999"),
        (180000, "J0000"),
        (229999, "N9999"),
        (230000, "P0000"),
        (339999, "Z9999"),
    ]:
        t = ElementSet.from_arrays(
            **{
                **{
                    f: getattr(big, f)
                    for f in (
                        "epoch",
                        "mean_motion",
                        "eccentricity",
                        "inclination",
                        "raan",
                        "arg_perigee",
                        "mean_anomaly",
                    )
                },
                "norad": [n],
            }
        ).to_tle()
        assert t.splitlines()[0][2:7] == code
        assert parse_elements(t).norad[0] == n
        # sgp4 agrees on the Alpha-5 decoding
        lines = t.splitlines()
        assert Satrec.twoline2rv(lines[0], lines[1]).satnum == n


def test_alpha5_beyond_limit_names_object():
    es = parse_elements(ISS)
    big = ElementSet.from_arrays(
        **{
            f: getattr(es, f)
            for f in (
                "name",
                "epoch",
                "mean_motion",
                "eccentricity",
                "inclination",
                "raan",
                "arg_perigee",
                "mean_anomaly",
            )
        },
        norad=[340000],
    )
    with pytest.raises(ElementSetError, match=r"NORAD 340000 \(ISS \(ZARYA\)\).*339999"):
        big.to_tle()
    # OMM has no such limit
    assert parse_elements(big.to_omm()).norad[0] == 340000


def _corrupt_line(text, lineno, col, char):
    lines = text.split("\n")
    s = lines[lineno - 1]
    lines[lineno - 1] = s[: col - 1] + char + s[col:]
    return "\n".join(lines)


def _fix_checksum(text, lineno):
    lines = text.split("\n")
    s = lines[lineno - 1]
    cs = sum(int(c) if c.isdigit() else c == "-" for c in s[:68]) % 10
    lines[lineno - 1] = s[:68] + str(cs) + s[69:]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "lineno,col,char,pattern",
    [
        (
            3,
            9,
            "a",
            r"<text>:3: field 'inclination' \(columns 9-16\): expected a number like 'NNN.NNNN'.*got 'a51.6416'",
        ),
        (3, 27, "x", r"<text>:3: field 'eccentricity' \(columns 27-33\): expected 7 digits"),
        (2, 8, "X", r"<text>:2: field 'classification' \(column 8\): expected 'U', 'C' or 'S', got 'X'"),
        (2, 21, "9", r"<text>:2: field 'epoch' \(columns 19-32\): expected a day of year 001-366, got '964'"),
        (2, 54, "*", r"<text>:2: field 'bstar' \(columns 54-61\): expected a signed mantissa"),
        (3, 7, "5", r"<text>:3: field 'norad' \(columns 3-7\): expected '25544' as on line 2, got '25545'"),
        (2, 3, "I", r"<text>:2: field 'norad' \(columns 3-7\): expected a catalog number"),
        (3, 53, "-", r"<text>:3: field 'mean_motion' \(columns 53-63\)"),
    ],
)
def test_tle_field_errors(lineno, col, char, pattern):
    text = _fix_checksum(_corrupt_line(ISS, lineno, col, char), lineno)
    with pytest.raises(ElementSetError, match=pattern) as info:
        parse_elements(text)
    assert info.value.line == lineno


def test_tle_checksum_and_layout_errors(tmp_path):
    bad = ISS.replace("2927", "2928")
    p = tmp_path / "bad.tle"
    p.write_text(bad)
    with pytest.raises(
        ElementSetError,
        match=rf"{re.escape(str(p))}:2: field 'checksum' \(column 69\): "
        r"line says 8 but its characters sum to 7",
    ):
        load_elements(p)
    short = ISS.replace(" 0  2927", " 0  292")
    with pytest.raises(ElementSetError, match=r"<text>:2: TLE line 1 is 68 characters long, expected 69"):
        parse_elements(short)
    with pytest.raises(ElementSetError, match=r":3: expected TLE line 2"):
        parse_elements(ISS.replace("\n2 25544", "\n3 25544"))
    with pytest.raises(ElementSetError, match="no element sets"):
        parse_elements("\n\n")
    with pytest.raises(ElementSetError, match=r"<text>:2: TLE line 1 column 9: expected a blank, got 'x'"):
        parse_elements(_fix_checksum(_corrupt_line(ISS, 2, 9, "x"), 2))
    with pytest.raises(ElementSetError, match=r"<text>:2: field 'intldesg' \(columns 10-17\)"):
        parse_elements(_fix_checksum(_corrupt_line(ISS, 2, 10, " "), 2))


def test_checksum_counts_minus_signs():
    es = parse_elements(ISS)  # line 1 has two minus signs; verified above
    assert es.to_tle().splitlines()[1].endswith("2927")


def test_zero_exponent_sign_conventions():
    base = (
        "1 00005U 58002B   00179.78495062  .00000023  00000-0  28098-4 0  4753\n"
        "2 00005  34.2682 348.7242 1859667 331.7664  19.3264 10.82419157413667\n"
    )
    variants = [
        ("00000-0", " 28098-4"),
        ("00000+0", " 28098-4"),
        ("00000+0", " 00000+0"),
        ("00000-0", " 00000-0"),
        ("12345-0", " 13519-0"),
        ("12345+0", "-13519+0"),
        ("00000+0", "-00000+0"),
    ]
    for nddot, bstar in variants:
        line1 = base.split("\n")[0].replace("00000-0  28098-4", f"{nddot} {bstar}")
        text = _fix_checksum(line1 + "\n" + base.split("\n")[1], 1)
        es = parse_elements(text)
        assert _norm_lines(es.to_tle()) == _norm_lines(text), (nddot, bstar)
        lines = _norm_lines(text)
        _assert_sgp4_equal(es.sgp4_arrays(), 0, Satrec.twoline2rv(lines[0], lines[1]))


def test_blank_designator_and_ephemeris_type():
    text = (
        "1 11801U          80230.29629788  .01431103  00000-0  14311-1      13\n"
        "2 11801  46.7916 230.4354 7318036  47.4722  10.4117  2.28537848    13\n"
    )
    es = parse_elements(text)
    assert es.intldesg[0] == "" and es.ephemeris_type[0] == 0 and es.element_set_no[0] == 1
    assert _norm_lines(es.to_tle()) == _norm_lines(text)


def test_errors_skip_lists_and_warns():
    bad = ISS.replace("2927", "2928")
    other = _fix_checksum(_fix_checksum(STARLINK.replace("\r\n", "\n").replace("44714", "44715"), 2), 3)
    text = STARLINK + bad + "junk line\n" + other
    with pytest.warns(ElementSetWarning, match="skipped 2 malformed"):
        es = parse_elements(text, errors="skip")
    assert list(es.norad) == [44714, 44715]
    assert [s.field for s in es.skipped] == ["checksum", None]
    assert es.skipped[0].line == 5 and es.skipped[0].source == "<text>"
    with pytest.raises(ValueError, match="errors must be"):
        parse_elements(ISS, errors="ignore")
    with pytest.raises(ValueError, match="format must be"):
        parse_elements(ISS, format="kvn")


def test_duplicates_keep_newest():
    older = STARLINK.replace("26150.30936191", "26149.30936191")
    older = _fix_checksum(older.replace("\r\n", "\n"), 2)
    with pytest.warns(ElementSetWarning, match="duplicate NORAD"):
        es = parse_elements(older + ISS + STARLINK)
    assert list(es.norad) == [25544, 44714]
    assert es.epoch[1] == parse_elements(STARLINK).epoch[0]
    (dup,) = es.duplicates
    assert dup.norad == 44714 and dup.line == 2 and dup.dropped_epoch < dup.kept_epoch


# --- OMM reading ------------------------------------------------------------------------


def test_omm_csv_fields_and_six_digit_norad():
    es = parse_elements(OMM_CSV)
    assert list(es.norad) == [900, 100332]
    assert es.intldesg[1] == "2026-001A"
    assert es.epoch[0] == np.datetime64("2026-08-18T00:55:00.137856", "ns")
    assert es.bstar[0] == 0.39713338e-3 and es.mean_motion_dot[0] == 0.4e-5
    assert es.to_omm() == OMM_CSV
    tle = es.to_tle()
    assert tle.splitlines()[4][2:7] == "A0332"  # Alpha-5
    back = parse_elements(tle)
    assert list(back.norad) == [900, 100332]


@pytest.mark.parametrize(
    "old,new,pattern",
    [
        (",13.76679809,", ",abc,", r"<text>:2: field 'MEAN_MOTION': expected a number, got 'abc'"),
        (",.00278136,", ",1.5,", r"<text>:2: field 'ECCENTRICITY': expected a number in \[0.0, 1.0\)"),
        ("2026-08-18T00:55:00.137856", "2026-02-30T00:55:00", r"<text>:2: field 'EPOCH': expected a valid UTC date"),
        (",900,", ",9x0,", r"<text>:2: field 'NORAD_CAT_ID': expected an integer, got '9x0'"),
        (",U,900", ",X,900", r"field 'CLASSIFICATION_TYPE': expected 'U', 'C' or 'S'"),
        (",.4E-5,", ",nan,", r"field 'MEAN_MOTION_DOT': expected a number, got 'nan'"),
        (",.4E-5,", ",1e999,", r"field 'MEAN_MOTION_DOT': expected a finite number"),
        (",.4E-5,", ",,", r"field 'MEAN_MOTION_DOT': required value is missing"),
    ],
)
def test_omm_csv_errors(old, new, pattern):
    with pytest.raises(ElementSetError, match=pattern):
        parse_elements(OMM_CSV.replace(old, new, 1))


def test_omm_csv_structure_errors_and_extra_columns():
    with pytest.raises(ElementSetError, match="lacks required OMM column.*BSTAR"):
        parse_elements(OMM_CSV.replace("BSTAR", "BSTARX"))
    with pytest.raises(ElementSetError, match=r"<text>:3: expected 17 comma-separated values"):
        parse_elements(OMM_CSV.replace(",.26673866E-2", ""))
    extra = (
        OMM_CSV.replace("MEAN_MOTION_DDOT\r\n", "MEAN_MOTION_DDOT,FOO\r\n")
        .replace(",0\r\n", ",0,x\r\n")
        .replace("E-2\r\n", "E-2,y\r\n")
    )
    assert parse_elements(extra) == parse_elements(OMM_CSV)


@pytest.mark.parametrize("fmt", ["csv", "json", "xml"])
def test_omm_round_trip_formats(fmt, tmp_path):
    es = parse_elements(OMM_CSV) + parse_elements(ISS)
    text = es.to_omm(tmp_path / f"x.{fmt}", format=fmt)
    back = load_elements(tmp_path / f"x.{fmt}")
    assert back == es
    assert parse_elements(text, format=fmt) == es
    assert not (back.fmt_flags & FLAG_TLE).any()


def test_json_and_xml_errors():
    with pytest.raises(ElementSetError, match=r"<text>:1: malformed JSON"):
        parse_elements("[{]")
    js = parse_elements(OMM_CSV).to_omm(format="json").replace('"NORAD_CAT_ID":900', '"NORAD_CAT_ID":"x"')
    with pytest.raises(ElementSetError, match=r"<text>: record 1: field 'NORAD_CAT_ID'"):
        parse_elements(js)
    with pytest.raises(ElementSetError, match="malformed XML"):
        parse_elements("<ndm><omm>")
    xml = parse_elements(OMM_CSV).to_omm(format="xml").replace("<INCLINATION>90.2179", "<INCLINATION>x")
    with pytest.raises(ElementSetError, match=r"<text>: segment 1: field 'INCLINATION'"):
        parse_elements(xml)


def test_sgp4_omm_xml_parser_reads_our_xml(tmp_path):
    es = parse_elements(OMM_CSV)
    p = tmp_path / "x.xml"
    es.to_omm(p, format="xml")
    with open(p) as fh:
        rows = list(sgp4_omm.parse_xml(fh))
    arrays = es.sgp4_arrays()
    for i, fields in enumerate(rows):
        sat = Satrec()
        sgp4_omm.initialize(sat, fields)
        _assert_sgp4_equal(arrays, i, sat)


def test_gzip_and_format_override(tmp_path):
    p = tmp_path / "x.csv.gz"
    p.write_bytes(gzip.compress(OMM_CSV.encode()))
    assert load_elements(p) == parse_elements(OMM_CSV)
    with pytest.raises(ElementSetError):
        parse_elements(OMM_CSV, format="tle")
    with pytest.raises(ElementSetError, match="corrupt gzip"):
        parse_elements(b"\x1f\x8b\x08garbage")
    with pytest.raises(ElementSetError, match="expected UTF-8"):
        parse_elements(b"\xff\xfe" + ISS.encode())


def test_tle_to_omm_and_back():
    es = parse_elements(ISS + STARLINK)
    for fmt in ("csv", "json", "xml"):
        back = parse_elements(es.to_omm(format=fmt))
        assert back == es
    # OMM -> TLE: same text, except that OMM cannot carry the "-0" zero-exponent spelling
    iss_plus = _fix_checksum(ISS.replace(" 00000-0 ", " 00000+0 "), 2)
    assert _norm_lines(parse_elements(es.to_omm()).to_tle()) == _norm_lines(iss_plus + STARLINK)


def test_omm_to_tle_rounding():
    es = parse_elements(OMM_CSV)[0]
    tle = es.to_tle()
    back = parse_elements(tle)
    assert back.eccentricity[0] == 0.0027814  # 7 decimals
    assert back.bstar[0] == 0.39713e-3  # 5 significant digits
    assert abs((back.epoch[0] - es.epoch[0]) / np.timedelta64(1, "ns")) <= 432000  # 0.5e-8 day


# --- ElementSet container -----------------------------------------------------------------


def test_indexing_concat_repr_stats():
    es = parse_elements(ISS + STARLINK)
    both = es + parse_elements(OMM_CSV)
    assert len(both) == 4
    assert list(both[np.array([True, False, True, False])].norad) == [25544, 900]
    assert list(both[np.array([3, 0])].norad) == [100332, 25544]
    assert list(both[1:3].norad) == [44714, 900]
    assert len(both[-1]) == 1 and both[-1].norad[0] == 100332
    with pytest.raises(IndexError):
        both[4]
    with pytest.raises(IndexError):
        both[np.array([True, False])]
    assert ElementSet.concat([]).__len__() == 0
    r = repr(both)
    assert "n=4" in r and "2008-09-20" in r and "2026-08-18" in r
    lo, med, hi = both.epoch_stats()
    assert lo == both.epoch[0] and hi == both.epoch.max() and lo <= med <= hi
    with pytest.raises(ValueError):
        both.norad[0] = 1  # read-only arrays


def test_from_arrays_defaults_and_validation():
    es = ElementSet.from_arrays(
        norad=[1, 2],
        epoch=np.array(["2026-01-01", "2026-01-02"], "datetime64[ns]"),
        mean_motion=[15.0, 14.0],
        eccentricity=[0.001, 0.002],
        inclination=[53.0, 97.0],
        raan=[0.0, 1.0],
        arg_perigee=[0.0, 2.0],
        mean_anomaly=[0.0, 3.0],
    )
    assert list(es.name) == ["", ""] and list(es.classification) == ["U", "U"]
    assert list(es.element_set_no) == [999, 999] and es.bstar.tolist() == [0.0, 0.0]
    assert parse_elements(es.to_omm()) == es
    assert parse_elements(es.to_tle()) == es
    with pytest.raises(ValueError, match="missing required"):
        ElementSet.from_arrays(norad=[1])
    with pytest.raises(ValueError, match="length"):
        ElementSet.from_arrays(
            norad=[1, 2],
            epoch=es.epoch[:1],
            mean_motion=[1.0, 2.0],
            eccentricity=[0.0, 0.0],
            inclination=[0.0, 0.0],
            raan=[0.0, 0.0],
            arg_perigee=[0.0, 0.0],
            mean_anomaly=[0.0, 0.0],
        )
    with pytest.raises(ValueError, match="finite"):
        ElementSet.from_arrays(**{**_fields(es), "bstar": [np.nan, 0.0]})
    with pytest.raises(ValueError, match="classification"):
        ElementSet.from_arrays(**{**_fields(es), "classification": ["U", "X"]})
    with pytest.raises(ValueError, match="unknown"):
        ElementSet.from_arrays(**{**_fields(es), "colour": [1, 2]})


def _fields(es):
    return {
        f: getattr(es, f)
        for f in ("norad", "epoch", "mean_motion", "eccentricity", "inclination", "raan", "arg_perigee", "mean_anomaly")
    }


# --- real data (../shared/data) and sgp4's verification file ------------------------------


def test_real_tle_files_round_trip_and_match_sgp4(shared_data):
    paths = sorted((shared_data / "tle" / "celestrak_tle_2026-05-30").glob("*.tle"))
    assert paths
    for path in paths:
        es = load_elements(path)
        text = path.read_text()
        lines = _norm_lines(text)
        assert _norm_lines(es.to_tle()) == lines, path
        assert len(es) == len(lines) // 3
        arrays = es.sgp4_arrays()
        l12 = [ln for ln in lines if ln[:2] in ("1 ", "2 ")]
        for i in range(len(es)):
            _assert_sgp4_equal(arrays, i, Satrec.twoline2rv(l12[2 * i], l12[2 * i + 1]), path)
        assert parse_elements(es.to_omm()) == es


def test_real_omm_files_round_trip_and_match_sgp4(shared_data):
    paths = sorted((shared_data / "omm" / "celestrak_gp_csv_2026-08-18").glob("*.csv"))
    assert paths
    for path in paths:
        es = load_elements(path)
        text = path.open(newline="").read()
        assert es.to_omm() == text, path  # byte-identical CelesTrak CSV
        for fmt in ("json", "xml"):
            assert parse_elements(es.to_omm(format=fmt)) == es, (path, fmt)
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(es)
        arrays = es.sgp4_arrays()
        for i, row in enumerate(rows):
            sat = Satrec()
            sgp4_omm.initialize(sat, row)
            _assert_sgp4_equal(arrays, i, sat, path)
            assert es.norad[i] == int(row["NORAD_CAT_ID"])
    active = load_elements(shared_data / "omm" / "celestrak_gp_csv_2026-08-18" / "active.csv")
    assert (active.norad > 99999).sum() == 265
    assert len(active) == 16344


def test_sgp4_verification_file_round_trip():
    path = files("sgp4") / "SGP4-VER.TLE"
    text = path.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ElementSetWarning)
        es = parse_elements(text, errors="skip", source="SGP4-VER.TLE")
    # three verification cases (33333-33335) were edited by hand without fixing their checksums
    assert [s.field for s in es.skipped] == ["checksum"] * 3
    assert [d.norad for d in es.duplicates] == [20413]  # listed twice
    bad = {s.line for s in es.skipped}
    raw = re.split(r"\r\n|\n", text)
    expect, seen = [], set()
    for no, line in enumerate(raw, 1):
        if line.startswith("1 ") and no not in bad and no + 1 not in bad:
            pair = (line.rstrip()[:69], raw[no].rstrip()[:69])  # ignore columns past 69
            if pair not in seen:
                seen.add(pair)
                expect += pair
    assert es.to_tle(three_line=False).splitlines() == expect
    arrays = es.sgp4_arrays()
    for i in range(len(es)):
        _assert_sgp4_equal(arrays, i, Satrec.twoline2rv(expect[2 * i], expect[2 * i + 1]))


@pytest.mark.parametrize("name", ["{curly", "[square", "<angle", "NORAD_CAT_ID,EPOCH"])
def test_tle_names_that_look_like_other_formats_are_still_tle(name):
    """Found by hypothesis: a 3-line TLE whose name starts with '{' was read as JSON."""
    es = walker(550, 53, 1, 2, 0, "2026-01-01T00:00:00Z", norad_start=1, name_prefix=name)
    back = parse_elements(es.to_tle())
    assert list(back.name) == list(es.name)
    assert len(back) == 2 and list(back.norad) == [1, 2]
    assert parse_elements(back.to_tle()) == back  # walker's mean motion is rounded once, then exact


# -- writers replace files atomically (issue 10) ------------------------------------------------------


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    dest = tmp_path / "out.csv"
    dest.write_text("precious\n")
    bad = parse_elements(ISS)
    bad = ElementSet.from_arrays(**{**{f: getattr(bad, f) for f in FIELDS}, "name": np.array(["ISS \ud800"], object)})
    for write in (bad.to_omm, bad.to_tle):  # a name that is not valid Unicode: the old writer truncated dest
        with pytest.raises(ElementSetError, match=rf"^{dest}: cannot write line \d as UTF-8: surrogates not allowed"):
            write(dest)
        assert dest.read_text() == "precious\n"

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DataError, match=rf"^{dest}: cannot write: No space left on device$"):
        parse_elements(ISS).to_tle(dest)
    assert dest.read_text() == "precious\n" and os.listdir(tmp_path) == ["out.csv"]  # no temporary file left


def test_writers_refuse_a_destination_that_is_not_a_regular_file(tmp_path):
    es = parse_elements(ISS)
    with pytest.raises(DataError, match=rf"^{tmp_path}: exists and is not a regular file; refusing to replace it$"):
        es.to_omm(tmp_path)
    target = tmp_path / "real.tle"
    target.write_text("old\n")
    (tmp_path / "link.tle").symlink_to(target)
    es.to_tle(tmp_path / "link.tle")  # a link is written through
    assert (tmp_path / "link.tle").is_symlink() and target.read_text() == es.to_tle()
