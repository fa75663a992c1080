"""Natural Earth from the shapefile zip: the shapefile reader, zip boundaries in a data dir, and the
sha256-pinned download cache (against a loopback HTTP server only)."""

import hashlib
import http.server
import json
import shutil
import struct
import threading
import zipfile

import numpy as np
import pytest

from orbitshare.errors import DataError
from orbitshare.geo import geography
from orbitshare.geo.naturalearth import NE_SHA256, fetch_naturalearth, find_boundaries, read_features, read_polygons
from orbitshare.geo.shapefile import read_dbf, read_shapefile, read_shp
from orbitshare.grid import Grid

ZIP110 = "boundaries/ne_110m_admin_0_countries_v5.1.1.zip"
GJ110 = "boundaries/ne_110m_admin_0_countries.geojson"
GPW = "population/gpw_v4_population_count_rev11_2020_1_deg.asc"


# ------------------------------------------------------------------ reader vs. the GeoJSON release
def _rings(geom):
    if geom is None:
        return []
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    return [ring for poly in polys for ring in poly]


def test_shapefile_matches_geojson(shared_data):
    feats = read_shapefile(shared_data / ZIP110)
    with open(shared_data / GJ110, encoding="utf-8") as f:
        ref = json.load(f)["features"]
    assert len(feats) == len(ref) == 177
    for a, b in zip(feats, ref, strict=True):
        for key in ("ADM0_A3", "NAME", "POP_EST", "ISO_A3", "NAME_LONG"):
            assert a["properties"][key] == b["properties"][key], (key, b["properties"]["NAME"])
        assert a["geometry"]["type"] == b["geometry"]["type"]
        ra, rb = _rings(a["geometry"]), _rings(b["geometry"])
        assert len(ra) == len(rb)
        for x, y in zip(ra, rb, strict=True):
            assert x == y or x == y[::-1], b["properties"]["NAME"]
    assert isinstance(feats[0]["properties"]["NAME"], str)
    names = {f["properties"]["ADM0_A3"]: f["properties"]["NAME"] for f in feats}
    assert names["CIV"] == "Côte d'Ivoire"  # UTF-8 per the .cpg
    # the dispatching entry points agree
    assert read_features(shared_data / ZIP110) == feats
    p1, c1 = read_polygons(shared_data / ZIP110)
    p2, c2 = read_polygons(ref)
    assert np.array_equal(p1.vx, p2.vx) and np.array_equal(p1.vy, p2.vy)
    assert np.array_equal(p1.label, p2.label) and list(c1["country"]) == list(c2["country"])


def test_geography_from_zip_equals_geojson(shared_data, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(shared_data / ZIP110, d)
    (d / "population").mkdir()
    (d / "population" / GPW.split("/")[1]).symlink_to(shared_data / GPW)
    assert find_boundaries(d, "110m").name == "ne_110m_admin_0_countries_v5.1.1.zip"
    # GeoJSON preferred when both are present
    assert find_boundaries(shared_data, "110m").suffix == ".geojson"
    ds = geography(Grid(2.0), source="naturalearth", data_dir=d, scale="110m", cache=False)
    ref = geography(Grid(2.0), source="naturalearth", data_dir=shared_data, scale="110m", cache=False)
    assert list(ds["country"].values) == list(ref["country"].values)
    assert np.array_equal(ds["country_fraction"].values, ref["country_fraction"].values)
    assert np.array_equal(ds["population"].values, ref["population"].values)
    assert ds.attrs["boundaries_version"] == "5.1.1"


# ------------------------------------------------------------------ download cache (loopback only)
class _Server:
    """A loopback HTTP server serving ``self.body`` (or ``self.status``) for any path."""

    def __init__(self, body):
        self.body, self.status, self.requests = body, 200, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                if outer.status != 200:
                    self.send_error(outer.status)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server(shared_data):
    s = _Server((shared_data / ZIP110).read_bytes())
    yield s
    s.close()


@pytest.fixture
def env(monkeypatch, tmp_path, server):
    monkeypatch.delenv("ORBITSHARE_DATA_DIR", raising=False)
    monkeypatch.setenv("ORBITSHARE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ORBITSHARE_NATURALEARTH_URL", server.base)
    return tmp_path / "cache" / "naturalearth"


def test_fetch_downloads_once_and_verifies(server, env, shared_data):
    p = fetch_naturalearth("110m")
    assert server.requests == ["/ne_110m_admin_0_countries.zip"]
    assert p.parent == env and p.name == "ne_110m_admin_0_countries_v5.1.1.zip"
    assert hashlib.sha256(p.read_bytes()).hexdigest() == NE_SHA256["110m"]
    assert [q.name for q in env.iterdir()] == [p.name]  # no temporary files left
    assert fetch_naturalearth("110m") == p
    assert len(server.requests) == 1  # the cache was used
    # geography(download=True) without a data dir uses the cached zip (no further request)
    ds = geography(
        Grid(5.0), source="naturalearth", scale="110m", download=True, cache=False, population=shared_data / GPW
    )
    assert len(server.requests) == 1 and ds.attrs["boundaries_version"] == "5.1.1"
    assert float(ds["country_fraction"].sel(country="FRA").sum()) > 0
    # a damaged cached file is re-verified on use and downloaded again
    p.write_bytes(b"damaged")
    assert fetch_naturalearth("110m") == p and len(server.requests) == 2
    assert hashlib.sha256(p.read_bytes()).hexdigest() == NE_SHA256["110m"]


def test_no_download_without_opt_in(server, env):
    with pytest.raises(DataError, match="download=True"):
        geography(Grid(5.0), source="naturalearth", scale="110m", cache=False)
    assert server.requests == [] and not env.exists()


def test_fetch_corrupted_download(server, env):
    server.body = server.body[:-100] + b"x" * 100
    with pytest.raises(DataError) as e:
        fetch_naturalearth("110m")
    msg = str(e.value)
    assert server.base in msg and NE_SHA256["110m"] in msg
    assert hashlib.sha256(server.body).hexdigest() in msg and "ORBITSHARE_DATA_DIR" in msg
    assert not env.exists() or list(env.iterdir()) == []


def test_bad_download_keeps_good_cache(server, env, shared_data):
    good = fetch_naturalearth("110m")
    server.body = b"not a zip"
    good.touch()  # still valid: the cache is used, the server is not asked
    assert fetch_naturalearth("110m") == good and len(server.requests) == 1
    # an explicit other scale gets the bad bytes: error, and the 110m file is untouched
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch_naturalearth("50m")
    assert sorted(q.name for q in env.iterdir()) == [good.name]
    assert good.read_bytes() == (shared_data / ZIP110).read_bytes()


def test_fetch_http_error(server, env):
    server.status = 404
    with pytest.raises(DataError, match="HTTP 404"):
        fetch_naturalearth("110m", url=server.base + "missing.zip")
    assert server.requests == ["/missing.zip"]
    assert not env.exists() or list(env.iterdir()) == []


# ------------------------------------------------------------------ hand-made shapefiles
def _shp(records, shape_type=5):
    """A .shp file of polygon records: each a list of rings (lists of (x, y)) or None (null shape)."""
    body = b""
    for n, rings in enumerate(records, 1):
        if rings is None:
            content = struct.pack("<i", 0)
        else:
            pts = [p for r in rings for p in r]
            parts = np.cumsum([0] + [len(r) for r in rings[:-1]])
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            content = struct.pack("<i4d2i", shape_type, min(xs), min(ys), max(xs), max(ys), len(rings), len(pts))
            content += struct.pack(f"<{len(rings)}i", *parts)
            content += np.asarray(pts, "<f8").tobytes()
            if shape_type == 15:  # z range + z values + m range + m values
                content += struct.pack("<2d", 0, 0) + bytes(8 * len(pts)) + struct.pack("<2d", 0, 0)
                content += bytes(8 * len(pts))
        body += struct.pack(">2i", n, len(content) // 2) + content
    header = struct.pack(">7i", 9994, 0, 0, 0, 0, 0, (100 + len(body)) // 2)
    header += struct.pack("<2i4d4d", 1000, shape_type, 0, 0, 0, 0, 0, 0, 0, 0)
    return header + body


def _dbf(fields, rows, deleted=(), encoding="utf-8"):
    """A .dbf file: fields (name, type, length, decimals), rows of raw field strings."""
    rlen = 1 + sum(f[2] for f in fields)
    hlen = 32 + 32 * len(fields) + 1
    out = struct.pack("<B3BIHH20x", 3, 124, 1, 1, len(rows), hlen, rlen)
    for name, typ, length, dec in fields:
        out += name.encode().ljust(11, b"\0") + typ.encode() + bytes(4) + bytes([length, dec]) + bytes(14)
    out += b"\r"
    for i, row in enumerate(rows):
        out += b"*" if i in deleted else b" "
        for (_name, typ, length, _dec), val in zip(fields, row, strict=True):
            raw = val.encode(encoding)
            out += raw.rjust(length) if typ in "NF" else raw.ljust(length)
    return out + b"\x1a"


CW_OUTER = [(0, 0), (0, 10), (10, 10), (10, 0), (0, 0)]  # clockwise: a shapefile outer ring
CCW_HOLE = [(2, 2), (4, 2), (4, 4), (2, 4), (2, 2)]  # counter-clockwise: a hole
CW_OUTER2 = [(20, 0), (20, 5), (25, 5), (25, 0), (20, 0)]
CCW_HOLE2 = [(21, 1), (22, 1), (22, 2), (21, 1)]
FIELDS = [("NAME", "C", 12, 0), ("POP", "N", 10, 0), ("AREA", "F", 12, 3), ("OK", "L", 1, 0), ("DAY", "D", 8, 0)]


def _layer(tmp_path, shp, dbf, cpg=None, name="lay"):
    z = tmp_path / f"{name}.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(f"sub/{name}.shp", shp)
        zf.writestr(f"sub/{name}.dbf", dbf)
        if cpg is not None:
            zf.writestr(f"sub/{name}.cpg", cpg)
    return z


def test_holes_orientation_attributes(tmp_path):
    # holes listed after both outers: each must go to the outer that contains it
    shp = _shp([[CW_OUTER, CW_OUTER2, CCW_HOLE, CCW_HOLE2], None, [CW_OUTER2], [CW_OUTER]], 15)
    rows = [
        ["Açores", "123", "1.5", "T", "20220509"],
        ["nul", "", "", "?", ""],
        ["gone", "1", "1", "F", ""],
        ["Zz", "-7", "**********", "n", "        "],
    ]
    z = _layer(tmp_path, shp, _dbf(FIELDS, rows, deleted={2}, encoding="cp1252"), "1252")
    feats = read_shapefile(z)
    assert [f["properties"]["NAME"] for f in feats] == ["Açores", "nul", "Zz"]  # deleted record skipped
    assert feats[0]["properties"] == {"NAME": "Açores", "POP": 123, "AREA": 1.5, "OK": True, "DAY": "2022-05-09"}
    assert feats[1]["properties"] == {"NAME": "nul", "POP": None, "AREA": None, "OK": None, "DAY": None}
    assert feats[2]["properties"]["POP"] == -7 and feats[2]["properties"]["AREA"] is None
    assert feats[2]["properties"]["OK"] is False
    g = feats[0]["geometry"]
    assert g["type"] == "MultiPolygon" and [len(p) for p in g["coordinates"]] == [2, 2]
    # GeoJSON orientation: exteriors counter-clockwise, holes clockwise, same vertices
    assert g["coordinates"][0][0] == [list(p) for p in CW_OUTER[::-1]]
    assert g["coordinates"][0][1] == [list(p) for p in CCW_HOLE[::-1]]
    assert g["coordinates"][1][1] == [list(p) for p in CCW_HOLE2[::-1]]
    assert feats[1]["geometry"] is None
    assert feats[2]["geometry"] == {"type": "Polygon", "coordinates": [[list(p) for p in CW_OUTER[::-1]]]}
    # the same layer as a folder and as a .shp path
    d = tmp_path / "folder"
    d.mkdir()
    with zipfile.ZipFile(z) as zf:
        for m in zf.namelist():
            (d / m.split("/")[-1]).write_bytes(zf.read(m))
    assert read_shapefile(d) == feats == read_shapefile(d / "lay.shp")


def test_malformed_shapefiles(tmp_path):
    good_shp = _shp([[CW_OUTER]])
    good_dbf = _dbf(FIELDS[:1], [["a"]])
    with pytest.raises(DataError, match="x.shp.*not a shapefile"):
        read_shp(b"\0" * 50, "x.shp")
    with pytest.raises(DataError, match="file code"):
        read_shp(b"\1" * 200, "x.shp")
    with pytest.raises(DataError, match="file length"):
        read_shp(good_shp[:-30], "x.shp")
    # a record whose content runs past the file: patch its content length
    bad = bytearray(good_shp)
    bad[104:108] = struct.pack(">i", 10_000)
    with pytest.raises(DataError, match=r"x\.shp: record 1 .*past the end"):
        read_shp(bytes(bad), "x.shp")
    # too many points for the record
    bad = bytearray(good_shp)
    bad[108 + 40 : 108 + 44] = struct.pack("<i", 99)
    with pytest.raises(DataError, match="record 1: 1 parts and 99 points"):
        read_shp(bytes(bad), "x.shp")
    with pytest.raises(DataError, match="shape type 1 is not a polygon"):
        read_shp(_shp([[CW_OUTER]], 1), "x.shp")
    with pytest.raises(DataError, match="a.dbf: .*truncated"):
        read_dbf(good_dbf[:-5], "a.dbf")
    with pytest.raises(DataError, match="a.dbf: record 1, field POP"):
        read_dbf(_dbf([("POP", "N", 4, 0)], [["12x4"]]), "a.dbf")
    with pytest.raises(DataError, match="no 0x0D"):
        read_dbf(good_dbf[:64] + b"\0" + good_dbf[65:], "a.dbf")  # the terminator after 1 field
    # through the zip entry point: counts differ, garbage archive, undecodable text, missing dbf
    with pytest.raises(DataError, match="1 shapes but .* 2 records"):
        read_shapefile(_layer(tmp_path, good_shp, _dbf(FIELDS[:1], [["a"], ["b"]]), name="n"))
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\3\4 not really a zip")
    with pytest.raises(DataError, match="junk.zip: not a readable zip"):
        read_shapefile(junk)
    with pytest.raises(DataError, match=r"u\.dbf: record 1, field NAME"):
        read_shapefile(_layer(tmp_path, good_shp, _dbf(FIELDS[:1], [["é"]], encoding="latin-1"), "UTF-8", name="u"))
    z = tmp_path / "nodbf.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("nodbf.shp", good_shp)
    with pytest.raises(DataError, match="no .dbf"):
        read_shapefile(z)
    with pytest.raises(DataError, match="unknown code page"):
        read_shapefile(_layer(tmp_path, good_shp, good_dbf, "KLINGON-9", name="k"))
    assert read_shp(good_shp, "ok.shp")[0]["type"] == "Polygon"
