"""Reading element files stays bounded and named (issue 10): non-regular paths, size caps, gzip bombs,
blank-line floods, huge integers, repeated keys and invalid Unicode text."""

import builtins
import gzip
import io
import json
import os
import tracemalloc
import warnings
import zlib

import pytest

from orbitshare.elements.read import MAX_TEXT_BYTES, load_elements, parse_elements
from orbitshare.errors import DataError, ElementSetError, ElementSetWarning

ISS = (
    "ISS (ZARYA)\n"
    "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n"
    "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537\n"
)
OMM = {
    "OBJECT_NAME": "CALSPHERE 1",
    "OBJECT_ID": "1964-063C",
    "EPOCH": "2026-08-18T00:55:00.137856",
    "MEAN_MOTION": "13.76679809",
    "ECCENTRICITY": ".00278136",
    "INCLINATION": "90.2179",
    "RA_OF_ASC_NODE": "73.2093",
    "ARG_OF_PERICENTER": "103.4323",
    "MEAN_ANOMALY": "44.8474",
    "NORAD_CAT_ID": "900",
    "BSTAR": ".39713338E-3",
    "MEAN_MOTION_DOT": ".4E-5",
    "MEAN_MOTION_DDOT": "0",
}


def _json_objects(*objs):
    """A JSON list of OMM objects written key by key (so a key may repeat)."""
    return "[" + ",".join("{" + ",".join(f'"{k}":"{v}"' for k, v in obj) + "}" for obj in objs) + "]"


def _gzip_bomb(path, n_bytes, chunk=b"\n" * 2**20):
    """Write a gzip file of ``n_bytes`` newlines (a few KiB on disk), without holding them in memory."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        for _ in range(n_bytes // len(chunk)):
            f.write(z.compress(chunk))
        f.write(z.flush())


# -- paths must be regular files ------------------------------------------------------------------


def test_a_directory_is_refused_naming_it(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path}: expected a regular element file, got a directory$"):
        load_elements(tmp_path)


def no_open(monkeypatch):
    """Make opening any file fail the test (the old reader read /dev/zero forever and blocked on a FIFO)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"opened {args[0]!r}")

    for owner in (os, io, builtins):
        monkeypatch.setattr(owner, "open", refuse)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading():
    with pytest.MonkeyPatch.context() as m:
        no_open(m)
        with pytest.raises(DataError) as err:
            load_elements("/dev/zero")
    assert str(err.value) == "/dev/zero: expected a regular element file, got a character device"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "els.tle"
    os.mkfifo(fifo)
    with pytest.MonkeyPatch.context() as m:
        no_open(m)
        with pytest.raises(DataError) as err:
            load_elements(fifo)
    assert str(err.value) == f"{fifo}: expected a regular element file, got a FIFO (named pipe)"


def test_a_link_to_a_regular_file_is_read(tmp_path):
    (tmp_path / "iss.tle").write_text(ISS)
    (tmp_path / "link.tle").symlink_to(tmp_path / "iss.tle")
    assert load_elements(tmp_path / "link.tle").norad.tolist() == [25544]


# -- size caps --------------------------------------------------------------------------------------


def test_gzip_bomb_is_refused_while_decompressing(tmp_path):
    bomb = tmp_path / "bomb.tle.gz"
    _gzip_bomb(bomb, 64 * 2**20)  # 64 MiB of newlines in some 64 KiB of gzip
    assert bomb.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(
            ElementSetError, match=rf"^{bomb}: gzip data decompresses to more than the limit of 1048576 "
        ):
            load_elements(bomb, max_bytes=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak  # never the whole 64 MiB


def test_gzip_under_the_cap_reads_as_before(tmp_path):
    p = tmp_path / "iss.tle.gz"
    second = ISS.replace("ISS (ZARYA)", "ISS 2")
    p.write_bytes(gzip.compress(ISS.encode()) + gzip.compress(second.encode()))  # two gzip members
    size = len(ISS) + len(second)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ElementSetWarning)  # the second member repeats NORAD 25544
        es = load_elements(p, max_bytes=size)
    assert es.name.tolist() == ["ISS (ZARYA)"] and len(es.duplicates) == 1
    with pytest.raises(ElementSetError, match=f"decompresses to more than the limit of {size - 1} bytes"):
        load_elements(p, max_bytes=size - 1)


def test_plain_file_over_the_cap_is_refused_before_reading(tmp_path):
    p = tmp_path / "iss.tle"
    p.write_text(ISS)
    assert len(load_elements(p, max_bytes=len(ISS))) == 1
    with pytest.raises(
        ElementSetError, match=rf"^{p}: file of 152 bytes exceeds the limit of 151 bytes \(max_bytes\)$"
    ):
        load_elements(p, max_bytes=len(ISS) - 1)
    with pytest.raises(ElementSetError, match=r"^<text>: element data of 152 bytes exceed the limit of 100 bytes"):
        parse_elements(ISS.encode(), max_bytes=100)


def test_max_bytes_is_checked_and_generous_by_default():
    assert MAX_TEXT_BYTES >= 64 * 2**20
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            parse_elements(ISS, max_bytes=bad)


def test_a_flood_of_blank_lines_costs_no_memory_per_line():
    text = "\n" * 1_000_000 + ISS + "\r\n \t\r" * 100_000 + "# comment\n" * 1000
    tracemalloc.start()
    try:
        es = parse_elements(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(es) == 1
    assert peak < 2**20, peak  # the old reader held a (line number, line) tuple per line: ~100 MB here


def test_line_numbers_count_every_line_ending():
    text = "\r\n\r\n\n\r" + ISS.replace("\n", "\r").replace("2927", "2928")  # CRLF, LF, CR, CR-only lines
    with pytest.raises(ElementSetError, match=r"^<text>:6: field 'checksum'"):
        parse_elements(text)


# -- named errors instead of raw exceptions ---------------------------------------------------------


def test_an_integer_of_5000_digits_is_a_skippable_record_error():
    csv_text = ",".join(OMM) + "\r\n" + ",".join(OMM.values()) + "\r\n"
    huge = csv_text + ",".join({**OMM, "NORAD_CAT_ID": "9" * 5000}.values()) + "\r\n"
    expect = r"^<text>:3: field 'NORAD_CAT_ID': expected an integer in \[0, 999999999\], got '9{20}'\.\.\. \(5000 char"
    with pytest.raises(ElementSetError, match=expect):
        parse_elements(huge)
    with pytest.warns(ElementSetWarning, match="skipped 1 malformed"):
        es = parse_elements(huge, errors="skip")
    assert es.norad.tolist() == [900] and es.skipped[0].field == "NORAD_CAT_ID"
    padded = csv_text.replace(",900,", "," + "0" * 5000 + "900,")  # leading zeros still read as 900
    assert parse_elements(padded).norad.tolist() == [900]
    negative = csv_text.replace(",900,", ",-" + "0" * 5000 + ",")
    assert parse_elements(negative).norad.tolist() == [0]


def test_json_repeated_key_is_a_record_error_not_a_merge():
    first = list(OMM.items())
    merged = first + [("NORAD_CAT_ID", "901"), ("EPOCH", "2026-08-19T00:00:00")]  # two records in one object
    text = _json_objects(first, merged)
    with pytest.raises(
        ElementSetError,
        match=r"^<text>: record 2: field 'NORAD_CAT_ID': expected each key once per object, got it 2 times",
    ):
        parse_elements(text)
    with pytest.warns(ElementSetWarning, match="skipped 1 malformed"):
        es = parse_elements(text, errors="skip")
    assert es.norad.tolist() == [900] and es.skipped[0].line == 2
    single = json.dumps(OMM)[:-1] + ', "INCLINATION": "10.0"}'  # one object, not a list
    with pytest.raises(ElementSetError, match=r"record 1: field 'INCLINATION': expected each key once"):
        parse_elements(single)


def test_xml_repeated_keyword_and_csv_repeated_column_are_refused():
    es = parse_elements(",".join(OMM) + "\r\n" + ",".join(OMM.values()) + "\r\n")
    xml = es.to_omm(format="xml").replace("<INCLINATION>", "<INCLINATION>10.0</INCLINATION><INCLINATION>", 1)
    with pytest.raises(
        ElementSetError, match=r"^<text>: segment 1: field 'INCLINATION': expected each OMM keyword once"
    ):
        parse_elements(xml)
    csv_text = ",".join(OMM) + ",NORAD_CAT_ID\r\n" + ",".join(OMM.values()) + ",901\r\n"
    with pytest.raises(ElementSetError, match=r"^<text>:1: field 'NORAD_CAT_ID': expected each OMM column once"):
        parse_elements(csv_text)


def test_a_lone_surrogate_in_a_name_is_a_record_error():
    text = json.dumps([{**OMM, "OBJECT_NAME": "X\ud800"}])  # valid JSON, not valid Unicode text
    with pytest.raises(ElementSetError, match=r"^<text>: record 1: field 'OBJECT_NAME': expected valid Unicode text"):
        parse_elements(text)
    with pytest.raises(ElementSetError, match=r"^<text>:1: field 'name': expected valid Unicode text"):
        parse_elements(ISS.replace("ISS (ZARYA)", "ISS \udc80"))
