"""fetch_group against a loopback (127.0.0.1) HTTP server serving the shared CelesTrak CSVs."""

import http.server
import os
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
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
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
