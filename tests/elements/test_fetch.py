"""fetch_group against a loopback (127.0.0.1) HTTP server serving the shared CelesTrak CSVs."""

import contextlib
import http.server
import os
import re
import socketserver
import threading
import time
import urllib.parse

import pytest

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.fetch import DEFAULT_BASE_URL, default_cache_dir, fetch_elements, fetch_group
from orbitshare.errors import DataError, OrbitshareError


@pytest.fixture
def server(shared_data):
    """(base_url, request log). GROUP=boom answers HTTP 500; unknown groups get CelesTrak's text."""
    folder = shared_data / "omm" / "celestrak_gp_csv_2026-08-18"
    log = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(url.query)
            group, fmt = q.get("GROUP", [""])[0], q.get("FORMAT", [""])[0]
            log.append((url.path, group, fmt))
            if group == "boom":
                self.send_error(500, "Internal Server Error")
                return
            path = folder / f"{group}.csv"
            if fmt == "csv" and path.is_file():
                body, status = path.read_bytes(), 200
            else:
                body, status = b"No GP data found", 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/NORAD/elements/gp.php", log
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_download_then_cache_then_stale(server, tmp_path, shared_data):
    url, log = server
    cache = tmp_path / "cache"
    path = fetch_group("gps", cache_dir=cache, base_url=url)
    assert path == cache / "gps.csv"
    assert log == [("/NORAD/elements/gp.php", "gps", "csv")]
    assert path.read_bytes() == (shared_data / "omm" / "celestrak_gp_csv_2026-08-18" / "gps.csv").read_bytes()
    assert [p.name for p in cache.iterdir()] == ["gps.csv"]  # no temp files left

    assert fetch_group("gps", cache_dir=cache, base_url=url) == path  # fresh: no request
    assert len(log) == 1

    old = time.time() - 7201
    os.utime(path, (old, old))
    fetch_group("gps", cache_dir=cache, base_url=url)  # stale: downloads again
    assert len(log) == 2
    assert time.time() - path.stat().st_mtime < 60

    fetch_group("gps", cache_dir=cache, base_url=url, max_age_s=0)  # max_age 0: always download
    assert len(log) == 3


def test_fetch_elements(server, tmp_path):
    url, log = server
    es = fetch_elements("stations", cache_dir=tmp_path, base_url=url)
    assert isinstance(es, ElementSet) and len(es) == 22 and (es.norad > 99999).sum() == 1


def test_unknown_group_leaves_cache_untouched(server, tmp_path):
    url, log = server
    fetch_group("gps", cache_dir=tmp_path, base_url=url)
    before = _snapshot(tmp_path)
    with pytest.raises(DataError, match=r"no GP data for group 'nosuchgroup'.*No GP data found"):
        fetch_group("nosuchgroup", cache_dir=tmp_path, base_url=url)
    assert _snapshot(tmp_path) == before


def test_server_error_is_clear_and_keeps_stale_cache(server, tmp_path):
    url, log = server
    stale = tmp_path / "boom.csv"
    stale.write_text("old content")
    old = time.time() - 10_000
    os.utime(stale, (old, old))
    with pytest.raises(OrbitshareError, match=r"HTTP 500.*stale cached copy remains"):
        fetch_group("boom", cache_dir=tmp_path, base_url=url)
    assert stale.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boom.csv"]


def test_non_element_payload(server, tmp_path):
    url, log = server
    with pytest.raises(DataError, match="is not JSON element data|no GP data"):
        fetch_group("gps", cache_dir=tmp_path, base_url=url, format="json")
    assert _snapshot(tmp_path) == {}


def test_environment_overrides(server, tmp_path, monkeypatch):
    url, log = server
    monkeypatch.setenv("ORBITSHARE_CELESTRAK_URL", url)
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    path = fetch_group("iridium")
    assert path == tmp_path / "envcache" / "iridium.csv" and len(log) == 1


def test_argument_validation(tmp_path):
    for bad in ["", "../etc", "a b", "gps&FORMAT=tle", "x" * 65]:
        with pytest.raises(ValueError, match="group name"):
            fetch_group(bad, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="format"):
        fetch_group("gps", cache_dir=tmp_path, format="kvn")
    with pytest.raises(ValueError, match="http"):
        fetch_group("gps", cache_dir=tmp_path, base_url="file:///etc/passwd")
    with pytest.raises(ValueError, match="max_age_s"):
        fetch_group("gps", cache_dir=tmp_path, max_age_s=-1)
    assert DEFAULT_BASE_URL.startswith("https://celestrak.org/")


def test_default_cache_dir_without_env(monkeypatch):
    monkeypatch.delenv("ORBITSHARE_CACHE_DIR", raising=False)
    d = default_cache_dir()
    assert d.name == "celestrak" and "orbitshare" in str(d)


# -- bounded downloads and named protocol errors (issue 10) ----------------------------------------

GOOD_BODY = b"No GP data found"  # what an unknown group gets: a complete, well-formed answer


def _slow_body(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):  # one byte every 0.2 s: each read is quick, the whole would take 200 s
        conn.sendall(b"x")
        time.sleep(0.2)


def _slow_headers(conn):
    for c in b"HTTP/1.1 200 OK\r\nX-Pad: " + b"y" * 1000:
        conn.sendall(bytes([c]))
        time.sleep(0.2)


def _endless(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    while True:  # no Content-Length: streams until the client hangs up
        conn.sendall(b"1 " + b"0" * 65534)


RAW_ANSWERS = {  # GROUP -> what the server does with the connection
    "incomplete": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly 19 bytes here."),
    "disconnect": lambda c: None,
    "badstatus": lambda c: c.sendall(b"NOT HTTP AT ALL\r\n\r\n"),
    "longline": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"z" * 70000 + b"\r\n\r\n"),
    "manyheaders": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n"),
    "badchunk": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
    "declaredhuge": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 700000000\r\n\r\n1 2"),
    "endless": _endless,
    "slowbody": _slow_body,
    "slowheaders": _slow_headers,
    "good": lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + GOOD_BODY),
}


@pytest.fixture
def raw_server():
    """A loopback TCP server answering GET ...?GROUP=<g> with RAW_ANSWERS[g], byte for byte."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            request = b""
            while b"\r\n\r\n" not in request:
                data = self.request.recv(4096)
                if not data:
                    return
                request += data
            target = request.split(b" ", 2)[1].decode()
            group = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query).get("GROUP", [""])[0]
            with contextlib.suppress(OSError):  # the client hung up: expected for the bounded cases
                RAW_ANSWERS[group](self.request)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/NORAD/elements/gp.php"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("group", "reason"),
    [
        ("incomplete", r"IncompleteRead"),
        ("disconnect", r"RemoteDisconnected: Remote end closed connection without response"),
        ("badstatus", r"BadStatusLine: NOT HTTP AT ALL \("),
        ("longline", r"LineTooLong"),
        ("manyheaders", r"HTTPException: got more than 100 headers"),
        ("badchunk", r"IncompleteRead"),
    ],
)
def test_protocol_errors_are_data_errors_naming_the_url(raw_server, tmp_path, group, reason):
    stale = tmp_path / f"{group}.csv"
    stale.write_text("old content")
    os.utime(stale, (time.time() - 10_000,) * 2)
    url = rf"{re.escape(raw_server)}\?GROUP={group}&FORMAT=csv"
    with pytest.raises(DataError, match=rf"^CelesTrak download {url} failed: {reason}.*stale cached copy remains"):
        fetch_group(group, cache_dir=tmp_path, base_url=raw_server)
    assert stale.read_text() == "old content" and os.listdir(tmp_path) == [f"{group}.csv"]


def test_invalid_url_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"^CelesTrak download http://127\.0\.0\.1:99x/gp\.php\?GROUP=gps.*InvalidURL"):
        fetch_group("gps", cache_dir=tmp_path, base_url="http://127.0.0.1:99x/gp.php")


@pytest.mark.parametrize(
    ("group", "got"), [("declaredhuge", "the server declares 700000000 bytes"), ("endless", "more than that arrived")]
)
def test_payload_over_the_cap_is_refused_and_nothing_cached(raw_server, tmp_path, group, got):
    t0 = time.monotonic()
    with pytest.raises(DataError, match=rf"payload over the limit of 1000000 bytes \(max_bytes\); {got}$"):
        fetch_group(group, cache_dir=tmp_path, base_url=raw_server, max_bytes=1_000_000)
    assert time.monotonic() - t0 < 5
    assert not tmp_path.exists() or os.listdir(tmp_path) == []


@pytest.mark.parametrize("group", ["slowbody", "slowheaders"])
def test_a_trickling_server_fails_at_the_overall_deadline(raw_server, tmp_path, group):
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"failed: not finished within the deadline of 1 s \(deadline_s\)$"):
        fetch_group(group, cache_dir=tmp_path, base_url=raw_server, deadline_s=1.0, timeout_s=30.0)
    assert 0.9 < time.monotonic() - t0 < 4  # per-read timeouts (30 s) never fire: each byte comes in 0.2 s
    assert os.listdir(tmp_path) == []


def test_limits_are_checked_and_a_good_answer_still_passes(raw_server, tmp_path):
    for key, bad in [("deadline_s", 0), ("deadline_s", float("inf")), ("timeout_s", -1), ("max_bytes", 0)]:
        with pytest.raises(ValueError, match=key):
            fetch_group("gps", cache_dir=tmp_path, **{key: bad})
    with pytest.raises(DataError, match="no GP data for group 'good'"):  # the bounded reader reads it whole
        fetch_group("good", cache_dir=tmp_path, base_url=raw_server, max_bytes=len(GOOD_BODY), deadline_s=5)


def test_a_cache_that_cannot_be_written_is_a_data_error(server, tmp_path, monkeypatch):
    url, log = server

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(DataError, match=r"gps\.csv: cannot cache the download of .*: No space left on device$"):
        fetch_group("gps", cache_dir=tmp_path, base_url=url)
    assert os.listdir(tmp_path) == []
