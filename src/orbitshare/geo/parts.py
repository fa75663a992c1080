"""Building blocks shared by the geography sources: the country groups table, polygon sets and
their rasterisation into per-cell country fractions, and the assembly of the geography Dataset.

:mod:`orbitshare.geo.embedded` and :mod:`orbitshare.geo.naturalearth` build with these;
:func:`orbitshare.geo.build.geography` chooses, caches and returns the result. The Numba kernels
behind :class:`Polygons` and :func:`cell_counts` live in :mod:`orbitshare.kernels.rasterize`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5netcdf
import numpy as np
import xarray as xr

from orbitshare.atomic import atomic_path
from orbitshare.errors import ParameterError
from orbitshare.grid import Grid
from orbitshare.kernels.rasterize import cell_label_counts, scanline_fill

#: A sparse set of country fractions: (cell row, cell column, country index) -> fraction of the cell's area.
SparseFractions = dict[tuple[int, int, int], float]


# ============================================================================ country groups table
def country_groups() -> dict[str, np.ndarray]:
    """The project's country groups table as a dict of column arrays (one row per ISO alpha-3 area).

    Columns: ``iso3, iso2, m49, name, region, subregion`` (str), ``ldc, lldc, sids, un_member`` (bool),
    ``itu_region`` (int8, 0 = none), ``itu_split`` (bool), ``as_of, source`` (str). The file's header
    comments state sources and definitions (SIDS = the UNSD M49 flag, 53 areas).

    >>> g = country_groups()
    >>> len(g["iso3"]), int(g["ldc"].sum()), int(g["sids"].sum())
    (250, 44, 53)
    >>> str(g["iso3"][g["itu_region"] == 2][0])  # first area of ITU Region 2 (the Americas)
    'ABW'
    """
    text = (resources.files("orbitshare") / "data" / "country_groups.csv").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    out: dict[str, np.ndarray] = {}
    for col in ("iso3", "iso2", "m49", "name", "region", "subregion", "as_of", "source"):
        out[col] = np.array([r[col] for r in rows], dtype=object)
    for col in ("ldc", "lldc", "sids", "un_member", "itu_split"):
        out[col] = np.array([r[col] == "1" for r in rows], dtype=bool)
    out["itu_region"] = np.array([int(r["itu_region"] or 0) for r in rows], dtype=np.int8)
    return out


def cell_counts(labels: np.ndarray, n: int, nlabels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels per cell of a band of samples (n×n samples per cell; label -1 = none).

    Calls :func:`~orbitshare.kernels.rasterize.cell_label_counts` with output buffers that grow
    until the result fits. Returns ``(rows, cols, labels, counts)``, int64 arrays: cell row and
    column within the band, the label, and how many of the cell's samples carry it.
    """
    labels = np.ascontiguousarray(labels)
    ncell = (labels.shape[0] // n) * (labels.shape[1] // n)
    cap = max(1024, ncell * 2)
    while True:
        bufs = [np.empty(cap, np.int64) for _ in range(4)]
        m = cell_label_counts(labels, n, nlabels, *bufs)
        if m >= 0:
            rows, cols, labs, counts = (b[:m].copy() for b in bufs)
            return rows, cols, labs, counts
        cap = ncell * n * n + 16


class Polygons:
    """Labelled polygons as flat arrays for :func:`~orbitshare.kernels.rasterize.scanline_fill`
    (vertices in degrees of longitude/latitude, rings implicitly closed).

    :meth:`add` polygons, then :meth:`finish` once; the finished set holds ``vx, vy`` (vertices),
    ``ring_start``, ``poly_ring_start``, ``label`` (int32) and per polygon its bounding box
    (``xmin, xmax, ymin, ymax``, degrees), area ``area_km2`` (planar, cos-latitude scaled, km²) and
    representative point ``cx, cy`` (exterior-ring centroid, degrees).
    """

    def __init__(self) -> None:
        self._x: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        self._rs: list[int] = [0]
        self._prs: list[int] = [0]
        self._lab: list[int] = []
        self._nv = 0

    def add(self, rings: Sequence[Any], label: int) -> None:
        """Add one polygon: ``rings`` is a list of (x, y) array pairs or (n, 2) arrays (degrees of
        longitude, latitude); exterior first, then holes. Rings of fewer than 3 vertices are skipped."""
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

    def finish(self) -> Polygons:
        """Concatenate the polygons into flat arrays and compute their boxes, areas and centroids."""
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
                x = self.vx[self.ring_start[r] : self.ring_start[r + 1]]
                y = self.vy[self.ring_start[r] : self.ring_start[r + 1]]
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
            k = 111.195**2 * math.cos(math.radians(0.5 * (self.ymin[p] + self.ymax[p])))
            self.area_km2[p] = max(a_tot, 0.0) * k
        # keep representative points inside the polygon's bounding box
        self.cx = np.clip(self.cx, self.xmin, self.xmax)
        self.cy = np.clip(self.cy, self.ymin, self.ymax)
        del self._x, self._y
        return self

    def fill(
        self,
        out: np.ndarray,
        x0: float,
        dx: float,
        y0: float,
        dy: float,
        row0: int,
        hits: np.ndarray | None = None,
    ) -> np.ndarray:
        """Write polygon labels into ``out`` (int16/int32[nrows, nx]: rows row0.. of the sample grid
        whose sample (i, j) lies at lon x0 + (j + 0.5) dx, lat y0 + (row0 + i + 0.5) dy, degrees)
        where a sample is inside (even-odd rule; later polygons overwrite). Returns (and adds to)
        ``hits``, int64[npoly]: the samples each polygon filled."""
        if hits is None:
            hits = np.zeros(self.label.size, np.int64)
        scanline_fill(
            self.vx,
            self.vy,
            self.ring_start,
            self.poly_ring_start,
            self.ymin,
            self.ymax,
            self.label,
            float(x0),
            float(dx),
            int(out.shape[1]),
            float(y0),
            float(dy),
            int(row0),
            int(out.shape[0]),
            out,
            hits,
        )
        return hits


def samples_per_cell(res_deg: float, override: int | None = None) -> int:
    """Sub-cell samples per axis for cells of ``res_deg`` degrees: 10 down to a sample spacing of
    0.025°, fewer on finer grids (at least 2); ``override`` (an integer >= 1) replaces the rule.

    >>> samples_per_cell(1.0), samples_per_cell(0.1), samples_per_cell(0.1, override=4)
    (10, 4, 4)
    """
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, (int, np.integer)) or override < 1:
            raise ParameterError(f"samples: expected an integer >= 1 (samples per cell and axis), got {override!r}")
        return int(override)
    return int(max(2, min(10, round(res_deg / 0.025))))


def add_minimum_fractions(frac: SparseFractions, add: SparseFractions) -> SparseFractions:
    """Add ``add`` (dict (i, j, k) -> fraction) to sparse ``frac`` (same), shrinking the other countries
    of a cell proportionally so that the sum over countries stays <= 1. Returns a new dict."""
    by_cell: dict[tuple[int, int], dict[int, float]] = {}
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


def country_table(extra_codes: Sequence[str], extra_names: Mapping[str, str]) -> dict[str, np.ndarray]:
    """Country dimension: every row of the groups table plus any extra codes a source produced
    (named by ``extra_names``, else by the code; all groups false, ITU region 0). Columns
    ``country, country_name, m49, ldc, lldc, sids, itu_region, un_member``."""
    g = country_groups()
    codes = list(g["iso3"])
    names = list(g["name"])
    n0 = len(codes)
    for c in extra_codes:
        if c not in codes:
            codes.append(c)
            names.append(extra_names.get(c, c))
    nextra = len(codes) - n0

    def ext(a: np.ndarray, fill: Any) -> np.ndarray:
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


_CF_ATTRS = {"long_name": "fraction of the cell's area that is land of the country", "units": "1"}


class GeographyParts:
    """A built geography before ``country_fraction`` is made dense: every other variable and
    coordinate in ``base`` (an xarray.Dataset), the fractions as sparse entries (country index, cell
    row, cell column, value; repeated entries add up, values are clipped to [0, 1])."""

    def __init__(
        self,
        base: xr.Dataset,
        ncountry: int,
        nlat: int,
        nlon: int,
        kk: np.ndarray,
        ii: np.ndarray,
        jj: np.ndarray,
        ff: np.ndarray,
    ) -> None:
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

    def dense(self) -> xr.Dataset:
        """The Dataset with a dense in-memory ``country_fraction(country, lat, lon)``."""
        cf = (
            ("country", "lat", "lon"),
            self.country_block(0, self.shape[0]),
            dict(_CF_ATTRS, valid_range=np.array([0.0, 1.0], np.float32)),
        )
        return self.base.assign(country_fraction=cf)

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the whole Dataset to ``path`` (netCDF4/HDF5, atomically), ``country_fraction`` one
        country at a time (chunks of one country, gzip 4): memory stays O(one country)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        enc = {v: {"zlib": True, "complevel": 4} for v in ("population", "land_fraction")}
        nc, nlat, nlon = self.shape
        with atomic_path(path, overwrite=True) as tmp:
            self.base.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
            with h5netcdf.File(tmp, "a") as f:
                v = f.create_variable(
                    "country_fraction",
                    ("country", "lat", "lon"),
                    dtype=np.float32,
                    chunks=(1, nlat, nlon),
                    compression="gzip",
                    compression_opts=4,
                )
                for key, val in _CF_ATTRS.items():
                    v.attrs[key] = val
                v.attrs["valid_range"] = np.array([0.0, 1.0], np.float32)
                for k in range(nc):
                    v[k, :, :] = self.country_block(k, k + 1)[0]


def geography_parts(
    grid: Grid,
    countries: Mapping[str, np.ndarray],
    ii: np.ndarray,
    jj: np.ndarray,
    kk: np.ndarray,
    ff: np.ndarray,
    population: np.ndarray,
    attrs: Mapping[str, Any],
    pop_attrs: Mapping[str, Any],
) -> GeographyParts:
    """Assemble a geography from sparse fractions (ii, jj, kk, ff: cell row, col, country index, value
    as a fraction of the cell's area), ``population`` (float64[nlat, nlon], persons) and the
    :func:`country_table` ``countries``: everything but the dense ``country_fraction``, which
    :class:`GeographyParts` makes in memory or writes country by country."""
    land_sum = np.zeros(grid.nlat * grid.nlon)
    np.add.at(
        land_sum,
        np.asarray(ii, np.int64) * grid.nlon + np.asarray(jj, np.int64),
        np.clip(np.asarray(ff, np.float64), 0.0, 1.0),
    )
    land = np.minimum(land_sum, 1.0).astype(np.float32).reshape(grid.nlat, grid.nlon)
    c = grid.coords()
    coords = {"lat": c["lat"], "lon": c["lon"], "lat_bnds": c["lat_bnds"], "lon_bnds": c["lon_bnds"]}
    for key, val in countries.items():
        coords[key] = xr.DataArray(
            np.asarray(val, dtype=str if val.dtype == object else val.dtype), dims="country", attrs=_COUNTRY_ATTRS[key]
        )
    base = xr.Dataset(
        {
            "land_fraction": (
                ("lat", "lon"),
                land,
                {"long_name": "fraction of the cell's area that is land (sum of country_fraction)", "units": "1"},
            ),
            "population": (
                ("lat", "lon"),
                np.asarray(population, np.float64),
                {"long_name": "population count per cell", "units": "1", "standard_name_hint": "persons", **pop_attrs},
            ),
            "cell_area": grid.cell_area().variable,
        },
        coords=coords,
        attrs={"Conventions": "CF-1.10", **attrs},
    )
    base["population"].attrs["units"] = "1"  # a number of persons (CF/UDUNITS: no person unit)
    base["population"].attrs.pop("standard_name_hint", None)
    return GeographyParts(base, len(countries["country"]), grid.nlat, grid.nlon, kk, ii, jj, ff)


def pkg_version(name: str) -> str:
    """The installed version of distribution ``name``, or "absent"."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def sparse_to_arrays(frac: SparseFractions) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ii, jj, kk, ff)`` of sparse fractions: cell row, cell column, country index (int64) and
    fraction (float64), in the dict's order."""
    if not frac:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    keys = np.array(list(frac.keys()), dtype=np.int64)
    vals = np.fromiter(frac.values(), dtype=np.float64, count=len(frac))
    return keys[:, 0], keys[:, 1], keys[:, 2], vals
