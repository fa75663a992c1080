"""A minimal ESRI shapefile reader for polygon layers (``.shp`` + ``.dbf`` [+ ``.cpg``]).

Reads from a ``.zip`` archive (without unpacking it), from a ``.shp`` file (its ``.dbf``/``.cpg``
siblings next to it) or from a folder holding one layer. Only what admin-boundary layers need:

* ``.shp`` shape types 5 (Polygon), 15 (PolygonZ) and 25 (PolygonM), and null shapes (0); Z and M
  values are ignored. File and record headers are big-endian, record contents little-endian
  (shape type, bounding box, numParts, numPoints, part offsets, x/y points).
* ``.dbf`` (dBASE III) attributes: field types C (str), N and F (int when the field has no decimals
  and the text is an integer, else float; blank → None), L (bool or None), D (``"YYYY-MM-DD"`` or
  None); other types are returned as stripped text. Text is decoded with the encoding named by the
  ``.cpg`` file (default UTF-8). Records flagged deleted are skipped together with their shapes.

:func:`read_shapefile` returns GeoJSON-like features::

    [{"type": "Feature", "properties": {...}, "geometry": {"type": "Polygon" | "MultiPolygon",
      "coordinates": [...]} or None}, ...]

Rings are returned closed and in GeoJSON (RFC 7946) orientation: the shapefile's clockwise outer
rings are reversed to counter-clockwise, its counter-clockwise holes to clockwise. Each hole is
grouped with the smallest outer ring of its shape that contains it (the preceding outer ring when
none does); a shape whose rings are all counter-clockwise (a mis-oriented file) gives one polygon per
ring. Malformed input raises :class:`~orbitshare.errors.DataError` naming the file and the record.
"""

from __future__ import annotations

import codecs
import functools
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orbitshare.errors import DataError

__all__ = ["read_shapefile", "read_shp", "read_dbf", "dbf_encoding"]

_POLYGON_TYPES = {5: "Polygon", 15: "PolygonZ", 25: "PolygonM"}
_SHP_FILE_CODE = 9994


# ============================================================================ .shp
def read_shp(data: bytes, name: str = ".shp") -> list[dict[str, Any] | None]:
    """Geometries of a polygon ``.shp`` file's bytes: a list (one entry per record) of GeoJSON-like
    geometry dicts, or None for null shapes. ``name`` is used in error messages."""
    n = len(data)
    if n < 100:
        raise DataError(f"{name}: not a shapefile (only {n} bytes; the header alone is 100)")
    (code,) = struct.unpack_from(">i", data, 0)
    if code != _SHP_FILE_CODE:
        raise DataError(f"{name}: not a shapefile (file code {code}, expected {_SHP_FILE_CODE})")
    (length_words,) = struct.unpack_from(">i", data, 24)
    version, shape_type = struct.unpack_from("<ii", data, 28)
    if version != 1000:
        raise DataError(f"{name}: unsupported shapefile version {version} (expected 1000)")
    if shape_type not in _POLYGON_TYPES and shape_type != 0:
        raise DataError(
            f"{name}: shape type {shape_type} is not a polygon layer (supported: 5 Polygon, 15 PolygonZ, 25 PolygonM)"
        )
    end = 2 * length_words
    if end > n or end < 100:
        raise DataError(
            f"{name}: header gives a file length of {end} bytes but the file has {n} (truncated or damaged)"
        )
    out: list[dict[str, Any] | None] = []
    pos = 100
    while pos < end:
        rec = len(out) + 1
        if pos + 8 > end:
            raise DataError(f"{name}: record {rec}: truncated record header at byte {pos}")
        number, clen = struct.unpack_from(">ii", data, pos)
        clen *= 2
        pos += 8
        if clen < 4 or pos + clen > end:
            raise DataError(
                f"{name}: record {rec} (number {number}): content length {clen} bytes at "
                f"byte {pos} runs past the end of the file ({end} bytes) or is too short"
            )
        out.append(_shape(data, pos, clen, name, rec))
        pos += clen
    return out


def _shape(data: bytes, pos: int, clen: int, name: str, rec: int) -> dict[str, Any] | None:
    (st,) = struct.unpack_from("<i", data, pos)
    if st == 0:
        return None
    if st not in _POLYGON_TYPES:
        raise DataError(
            f"{name}: record {rec}: shape type {st} is not a polygon "
            "(supported: 0 null, 5 Polygon, 15 PolygonZ, 25 PolygonM)"
        )
    if clen < 44:
        raise DataError(f"{name}: record {rec}: polygon content of {clen} bytes is shorter than its 44-byte header")
    nparts, npoints = struct.unpack_from("<ii", data, pos + 36)
    need = 44 + 4 * nparts + 16 * npoints
    if nparts < 0 or npoints < 0 or need > clen:
        raise DataError(
            f"{name}: record {rec}: {nparts} parts and {npoints} points do not fit in its {clen} content bytes"
        )
    if nparts == 0 or npoints == 0:
        return None
    parts = np.frombuffer(data, "<i4", nparts, pos + 44).astype(np.int64)
    if parts[0] != 0 or np.any(np.diff(parts) <= 0) or parts[-1] >= npoints:
        raise DataError(
            f"{name}: record {rec}: part offsets {parts.tolist()[:8]} are not increasing from 0 within {npoints} points"
        )
    xy = np.frombuffer(data, "<f8", 2 * npoints, pos + 44 + 4 * nparts).reshape(npoints, 2)
    if not np.isfinite(xy).all():
        raise DataError(f"{name}: record {rec}: non-finite coordinates")
    bounds = list(parts) + [npoints]
    rings = [xy[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return _polygons(rings, name, rec)


def _signed_area(r: np.ndarray) -> float:
    x, y = r[:, 0], r[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1])


def _inside(pt: np.ndarray, ring: np.ndarray) -> bool:
    """Even-odd point-in-ring test."""
    x, y = pt
    xa, ya = ring[:, 0], ring[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    cond = (ya > y) != (yb > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = xa + (y - ya) * (xb - xa) / (yb - ya)
    return bool(np.count_nonzero(cond & (x < xc)) % 2)


def _closed(r: np.ndarray) -> np.ndarray:
    if r.shape[0] and (r[0, 0] != r[-1, 0] or r[0, 1] != r[-1, 1]):
        r = np.vstack([r, r[:1]])
    return r


def _polygons(rings: list[np.ndarray], name: str, rec: int) -> dict[str, Any]:
    rings = [_closed(r) for r in rings]
    for k, r in enumerate(rings):
        if r.shape[0] < 4:
            raise DataError(f"{name}: record {rec}: ring {k} has {r.shape[0]} points (a closed ring needs at least 4)")
    areas = [_signed_area(r) for r in rings]
    outer = [a < 0 for a in areas]  # shapefile outer rings are clockwise (negative area)
    if not any(outer):
        outer = [True] * len(rings)  # mis-oriented: every ring on its own (even-odd fill is the same)
    polys: list[tuple[int, list[int]]] = []  # (outer index, [hole indices])
    holes = []
    for k, is_outer in enumerate(outer):
        if is_outer:
            polys.append((k, []))
        else:
            holes.append((k, len(polys) - 1))
    if holes:
        boxes = [
            (rings[p][:, 0].min(), rings[p][:, 1].min(), rings[p][:, 0].max(), rings[p][:, 1].max()) for p, _ in polys
        ]
        for k, prev in holes:
            best = None
            pt = rings[k][0]
            for m, (p, _) in enumerate(polys):
                x0, y0, x1, y1 = boxes[m]
                if not (x0 <= pt[0] <= x1 and y0 <= pt[1] <= y1):
                    continue
                if (best is None or abs(areas[p]) < abs(areas[polys[best][0]])) and _inside(pt, rings[p]):
                    best = m
            if best is None:
                best = max(prev, 0)
            polys[best][1].append(k)
    coords = []
    for p, hs in polys:
        # GeoJSON orientation: exterior counter-clockwise, holes clockwise
        ext = rings[p] if areas[p] > 0 else rings[p][::-1]
        poly = [ext.tolist()]
        for h in hs:
            poly.append((rings[h] if areas[h] < 0 else rings[h][::-1]).tolist())
        coords.append(poly)
    if len(coords) == 1:
        return {"type": "Polygon", "coordinates": coords[0]}
    return {"type": "MultiPolygon", "coordinates": coords}


# ============================================================================ .dbf
def dbf_encoding(cpg_text: str | None, name: str = ".cpg") -> str:
    """Python codec name for the text of a ``.cpg`` file (None or blank → UTF-8)."""
    if cpg_text is None or not cpg_text.strip():
        return "utf-8"
    enc = cpg_text.strip().split()[-1]  # "UTF-8", "1252", "ANSI 1252", "ISO-8859-1", ...
    if enc.isdigit():
        enc = "cp" + enc
    try:
        return codecs.lookup(enc).name
    except LookupError:
        raise DataError(f"{name}: unknown code page {cpg_text.strip()!r}") from None


def read_dbf(
    data: bytes, name: str = ".dbf", encoding: str = "utf-8"
) -> tuple[list[str], list[dict[str, Any]], list[bool]]:
    """Attribute records of a ``.dbf`` file's bytes: ``(field_names, records, deleted)`` where
    ``records`` is a list of dicts (one per record, deleted ones included) and ``deleted`` a list of
    bools."""
    n = len(data)
    if n < 32:
        raise DataError(f"{name}: not a dBASE file (only {n} bytes; the header alone is 32)")
    nrec, hlen, rlen = struct.unpack_from("<IHH", data, 4)
    if hlen < 33 or hlen > n:
        raise DataError(f"{name}: header length {hlen} is impossible for a {n}-byte file")
    fields: list[tuple[str, str, int, int, int]] = []  # (name, type, offset, length, decimals)
    off = 1  # the deletion flag
    pos = 32
    while pos < hlen and data[pos] != 0x0D:
        if pos + 32 > hlen:
            raise DataError(
                f"{name}: field descriptor {len(fields) + 1} runs past the header ({hlen} bytes); no 0x0D terminator"
            )
        fname = data[pos : pos + 11].split(b"\0", 1)[0].decode("ascii", "replace").strip()
        ftype = chr(data[pos + 11])
        flen, fdec = data[pos + 16], data[pos + 17]
        fields.append((fname, ftype, off, flen, fdec))
        off += flen
        pos += 32
    if pos >= hlen:
        raise DataError(f"{name}: no 0x0D terminator after the field descriptors")
    if off != rlen:
        raise DataError(f"{name}: fields add up to {off} bytes per record but the header says {rlen}")
    if hlen + nrec * rlen > n:
        raise DataError(
            f"{name}: {nrec} records of {rlen} bytes after a {hlen}-byte header need "
            f"{hlen + nrec * rlen} bytes; the file has {n} (truncated)"
        )
    records, deleted = [], []
    for r in range(nrec):
        base = hlen + r * rlen
        flag = data[base]
        if flag not in (0x20, 0x2A):
            raise DataError(f"{name}: record {r + 1}: bad deletion flag {flag:#04x} (expected ' ' or '*')")
        deleted.append(flag == 0x2A)
        rec: dict[str, Any] = {}
        for fname, ftype, foff, flen, fdec in fields:
            raw = data[base + foff : base + foff + flen]
            try:
                rec[fname] = _value(raw, ftype, fdec, encoding)
            except (ValueError, UnicodeDecodeError) as e:
                raise DataError(
                    f"{name}: record {r + 1}, field {fname} ({ftype}): cannot read {raw[:40]!r} ({e})"
                ) from None
        records.append(rec)
    return [f[0] for f in fields], records, deleted


def _value(raw: bytes, ftype: str, fdec: int, encoding: str) -> str | int | float | bool | None:
    if ftype == "C":
        return raw.decode(encoding).rstrip(" \0")
    if ftype in "NF":
        s = raw.strip(b" \0").decode("ascii")
        if not s or set(s) <= {"*"} or set(s) <= {"."}:
            return None
        if fdec == 0 and (s.lstrip("+-").isdigit()):
            return int(s)
        return float(s)
    if ftype == "L":
        s = raw.strip(b" \0").decode("ascii")
        if s in ("", "?"):
            return None
        if s in "YyTt":
            return True
        if s in "NnFf":
            return False
        raise ValueError("not a logical value")
    if ftype == "D":
        s = raw.strip(b" \0").decode("ascii")
        if not s or s == "00000000":
            return None
        if len(s) != 8 or not s.isdigit():
            raise ValueError("not a YYYYMMDD date")
        return f"{s[:4]}-{s[4:6]}-{s[6:]}"
    return raw.decode(encoding).strip(" \0")


# ============================================================================ layer
_Loaders = dict[str, tuple[str, Callable[[], bytes]]]


def _no_close() -> None:
    pass


def _layer_files(path: Path) -> tuple[_Loaders, Callable[[], None]]:
    """``{ext: (display name, bytes loader)}`` for the layer at ``path`` (zip, .shp, or folder), and
    the function that closes what was opened."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".shp")
        if len(found) != 1:
            raise DataError(f"{path}: expected one .shp file in the folder, found {len(found)}")
        path = found[0]
    if path.suffix.lower() == ".shp":
        if not path.is_file():
            raise DataError(f"{path}: no such shapefile")
        sibs = {p.suffix.lower(): p for p in path.parent.iterdir() if p.stem == path.stem}
        loaders = {ext: (str(p), p.read_bytes) for ext, p in sibs.items() if ext in (".shp", ".dbf", ".cpg")}
        return loaders, _no_close
    if path.suffix.lower() == ".zip":
        try:
            zf = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as e:
            raise DataError(f"{path}: not a readable zip archive ({e})") from None
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        shps = [m for m in names if m.lower().endswith(".shp")]
        if len(shps) != 1:
            zf.close()
            raise DataError(f"{path}: expected one .shp layer in the archive, found {len(shps)}")
        stem = shps[0][:-4]
        files: _Loaders = {}
        for m in names:
            if m[:-4] == stem and m[-4:].lower() in (".shp", ".dbf", ".cpg"):
                files[m[-4:].lower()] = (f"{path}!{m}", functools.partial(_zip_read, zf, path, m))
        return files, zf.close
    raise DataError(f"{path}: not a shapefile layer (expected a .zip, a .shp or a folder)")


def _zip_read(zf: zipfile.ZipFile, path: Path, member: str) -> bytes:
    try:
        return zf.read(member)
    except (OSError, zipfile.BadZipFile, EOFError) as e:  # includes CRC errors of damaged archives
        raise DataError(f"{path}: cannot read {member} from the archive ({e})") from None


def read_shapefile(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """GeoJSON-like features of the polygon layer at ``path`` (a ``.zip``, a ``.shp`` or a folder);
    coordinates as stored (Natural Earth: degrees of longitude, latitude)."""
    path = Path(path)
    files, close = _layer_files(path)
    try:
        if ".dbf" not in files:
            raise DataError(f"{path}: the layer has no .dbf attribute file")
        shp_name, shp_load = files[".shp"]
        dbf_name, dbf_load = files[".dbf"]
        enc = "utf-8"
        if ".cpg" in files:
            cpg_name, cpg_load = files[".cpg"]
            enc = dbf_encoding(cpg_load().decode("ascii", "replace"), cpg_name)
        geoms = read_shp(shp_load(), shp_name)
        _, records, deleted = read_dbf(dbf_load(), dbf_name, enc)
    finally:
        close()
    if len(geoms) != len(records):
        raise DataError(f"{path}: {shp_name} has {len(geoms)} shapes but {dbf_name} has {len(records)} records")
    return [
        {"type": "Feature", "properties": rec, "geometry": g}
        for g, rec, dead in zip(geoms, records, deleted, strict=True)
        if not dead
    ]
