"""Gridded population counts: read a raster (ESRI ASCII grid or netCDF) and regrid it conserving totals.

:func:`read_raster` returns a :class:`Raster` (counts per cell, with the cell edges); :func:`regrid_counts`
moves counts onto a :class:`~orbitshare.grid.Grid` by area-weighted overlap: each source cell's count is
split among the target cells it overlaps in proportion to the overlapping area (on the sphere: the
latitude weight is the difference of sin(latitude), the longitude weight is linear), so the global total
is conserved for coarser and finer targets alike. A finer target spreads a source cell's count evenly
over its area (no dasymetric refinement); :func:`distribute_counts` instead places it by towns and land
area (each source cell's count conserved), and :func:`move_to_land` moves the people of cells without
land to the nearest cell with land.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import xarray as xr

from orbitshare.errors import DataError
from orbitshare.geo.exact import spread_counts
from orbitshare.grid import Grid

__all__ = [
    "Raster",
    "read_raster",
    "read_esri_ascii",
    "regrid_counts",
    "population_on_grid",
    "distribute_counts",
    "move_to_land",
]


@dataclass
class Raster:
    """Counts on a regular lat/lon raster. ``data[i, j]``: row i from SOUTH to north, NaN = no data."""

    data: np.ndarray  # float64[nrows, ncols]
    lat_edges: np.ndarray  # float64[nrows + 1], ascending
    lon_edges: np.ndarray  # float64[ncols + 1], ascending
    source: str = ""

    @property
    def total(self) -> float:
        """Sum of the counts (persons), NaN cells left out."""
        return float(np.nansum(self.data))


def _read_esri_text(f: IO[str], path: Path) -> tuple[dict[str, float], np.ndarray]:
    """The header (lower-case keys) and the values of an open ESRI ASCII grid."""
    header: dict[str, float] = {}
    try:
        for _ in range(6):
            pos = f.tell()
            line = f.readline()
            parts = line.split()
            if len(parts) != 2 or parts[0][0].isdigit() or parts[0][0] in "-+.":
                f.seek(pos)
                break
            header[parts[0].lower()] = float(parts[1])
        for k in ("ncols", "nrows", "cellsize"):
            if k not in header:
                raise DataError(f"{path}: ESRI ASCII header lacks {k!r}")
        data = np.loadtxt(f, dtype=np.float64, ndmin=2)
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a valid ESRI ASCII grid ({e})") from None
    return header, data


def read_esri_ascii(path: str | os.PathLike[str]) -> Raster:
    """Read an ESRI ASCII grid of counts (``ncols, nrows, xllcorner|xllcenter, yllcorner|yllcenter,
    cellsize`` (degrees), ``NODATA_value``; row 0 is the northern row), plain or gzip-compressed
    (``.gz``). NODATA cells become NaN."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="ascii", errors="strict") as f:
                header, data = _read_esri_text(f, path)
        else:
            with open(path, encoding="ascii", errors="strict") as f:
                header, data = _read_esri_text(f, path)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot open population raster ({e})") from None
    ncols, nrows, cs = int(header["ncols"]), int(header["nrows"]), header["cellsize"]
    if data.shape != (nrows, ncols):
        raise DataError(f"{path}: expected {nrows}x{ncols} values, got {data.shape[0]}x{data.shape[1]}")
    if "xllcorner" in header:
        x0 = header["xllcorner"]
    elif "xllcenter" in header:
        x0 = header["xllcenter"] - cs / 2
    else:
        raise DataError(f"{path}: ESRI ASCII header lacks xllcorner/xllcenter")
    if "yllcorner" in header:
        y0 = header["yllcorner"]
    elif "yllcenter" in header:
        y0 = header["yllcenter"] - cs / 2
    else:
        raise DataError(f"{path}: ESRI ASCII header lacks yllcorner/yllcenter")
    nodata = header.get("nodata_value")
    if nodata is not None:
        data[data == nodata] = np.nan
    data = data[::-1].copy()  # south → north
    return Raster(data, y0 + cs * np.arange(nrows + 1), x0 + cs * np.arange(ncols + 1), str(path))


def _read_netcdf(path: Path, variable: str | None = None) -> Raster:
    with xr.open_dataset(path) as ds:
        names = [variable] if variable else [v for v in ds.data_vars if ds[v].ndim == 2]
        if not names:
            raise DataError(f"{path}: no 2-D variable to read as population counts")
        da = ds[names[0]].load()
    latn = next((d for d in da.dims if str(d).lower().startswith("lat") or str(d).lower() == "y"), None)
    lonn = next((d for d in da.dims if str(d).lower().startswith("lon") or str(d).lower() == "x"), None)
    if latn is None or lonn is None:
        raise DataError(f"{path}: cannot find latitude/longitude dimensions in {da.dims}")
    da = da.transpose(latn, lonn).sortby(latn).sortby(lonn)
    lat, lon = da[latn].values.astype(float), da[lonn].values.astype(float)

    def edges(c: np.ndarray) -> np.ndarray:
        d = np.diff(c)
        return np.concatenate([[c[0] - d[0] / 2], c[:-1] + d / 2, [c[-1] + d[-1] / 2]])

    return Raster(da.values.astype(np.float64), edges(lat), edges(lon), str(path))


def read_raster(path: str | os.PathLike[str], variable: str | None = None) -> Raster:
    """Read a population-count raster (persons per cell): ``.asc`` (ESRI ASCII grid) or netCDF
    (``.nc``, via xarray; ``variable`` names the 2-D variable, default the first)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: population raster not found")
    if path.suffix.lower() in (".nc", ".nc4", ".h5", ".cdf"):
        return _read_netcdf(path, variable)
    return read_esri_ascii(path)


def _overlap_1d(
    src_edges: np.ndarray, tgt_edges: np.ndarray, weight: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlap weights between two 1-D partitions: (src index, tgt index, share of the source cell).

    ``weight`` maps edge coordinates to the measure used (identity for longitude, sin for latitude).
    """
    ws = weight(src_edges)
    si: list[int] = []
    ti: list[int] = []
    w: list[float] = []
    for i in range(len(src_edges) - 1):
        a, b = src_edges[i], src_edges[i + 1]
        width = ws[i + 1] - ws[i]
        if width <= 0:
            continue
        k0 = max(int(np.searchsorted(tgt_edges, a, side="right")) - 1, 0)
        k = k0
        while k < len(tgt_edges) - 1 and tgt_edges[k] < b:
            lo, hi = max(a, tgt_edges[k]), min(b, tgt_edges[k + 1])
            if hi > lo:
                si.append(i)
                ti.append(k)
                w.append((weight(np.array([hi]))[0] - weight(np.array([lo]))[0]) / width)
            k += 1
    return np.array(si, np.int64), np.array(ti, np.int64), np.array(w, np.float64)


def regrid_counts(raster: Raster, grid: Grid) -> np.ndarray:
    """Counts of ``raster`` on ``grid`` (float64[nlat, nlon]) by area-weighted overlap; conserves the
    total of the source cells that lie on the globe. Longitudes are wrapped into [-180, 180)."""
    data = np.where(np.isfinite(raster.data), raster.data, 0.0)
    lon_e = np.asarray(raster.lon_edges, float)
    if lon_e[-1] > 180.0 + 1e-9:  # a 0..360 raster: move the part east of 180° to the west
        cut = int(np.argmin(np.abs(lon_e - 180.0)))
        if abs(lon_e[cut] - 180.0) > 1e-9 or lon_e[0] < -180.0 - 1e-9 or lon_e[-1] > lon_e[0] + 360.0 + 1e-9:
            raise DataError(
                f"{raster.source}: longitudes {lon_e[0]}..{lon_e[-1]} must lie in [-180, 180] "
                "or in [0, 360] with an edge at 180"
            )
        data = np.concatenate([data[:, cut:], data[:, :cut]], axis=1)
        lon_e = np.concatenate([lon_e[cut:] - 360.0, lon_e[1 : cut + 1]])
    if lon_e[0] < -180.0 - 1e-9:
        raise DataError(f"{raster.source}: longitudes start at {lon_e[0]} < -180")
    lat_e = np.clip(np.asarray(raster.lat_edges, float), -90.0, 90.0)
    tlat = np.linspace(-90.0, 90.0, grid.nlat + 1)
    tlon = np.linspace(-180.0, 180.0, grid.nlon + 1)
    si, ti, w = _overlap_1d(lat_e, tlat, lambda e: np.sin(np.deg2rad(e)))
    sj, tj, v = _overlap_1d(lon_e, tlon, lambda e: e)
    tmp = np.zeros((grid.nlat, data.shape[1]))
    np.add.at(tmp, ti, data[si] * w[:, None])
    out = np.zeros((grid.nlat, grid.nlon))
    np.add.at(out.T, tj, tmp.T[sj] * v[:, None])
    return out


def population_on_grid(path: str | os.PathLike[str], grid: Grid, variable: str | None = None) -> np.ndarray:
    """Read a population raster and regrid it to ``grid`` (persons per cell)."""
    return regrid_counts(read_raster(path, variable), grid)


# ============================================================================ people onto land
def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    la, lo = np.deg2rad(lat_deg), np.deg2rad(lon_deg)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def move_to_land(
    counts: np.ndarray, land: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, float, int]:
    """Move the people of cells without land to the nearest cell with land.

    ``counts`` (persons) and ``land`` (land fraction) are float[nlat, nlon] on a grid with cell-centre
    latitudes ``lat`` and longitudes ``lon`` (degrees); "nearest" is the great-circle distance between
    cell centres (ties: the first cell in row-major order). Returns ``(moved counts, persons moved,
    cells emptied)``; the total is unchanged.
    """
    out = np.array(counts, dtype=np.float64, copy=True)
    src = np.nonzero((out > 0) & ~(land > 0))
    if src[0].size == 0:
        return out, 0.0, 0
    dst = np.nonzero(land > 0)
    if dst[0].size == 0:
        raise DataError("population: no cell has land, so the people cannot be placed")
    vd = _unit_vectors(np.asarray(lat)[dst[0]], np.asarray(lon)[dst[1]])
    vs = _unit_vectors(np.asarray(lat)[src[0]], np.asarray(lon)[src[1]])
    chunk = max(1, 20_000_000 // vd.shape[0])
    moved = 0.0
    for a in range(0, vs.shape[0], chunk):
        best = np.argmax(vs[a : a + chunk] @ vd.T, axis=1)
        r, c = src[0][a : a + chunk], src[1][a : a + chunk]
        people = out[r, c].copy()
        out[r, c] = 0.0
        np.add.at(out, (dst[0][best], dst[1][best]), people)
        moved += float(people.sum())
    return out, moved, int(src[0].size)


def _csr(src: np.ndarray, n: int) -> np.ndarray:
    """Row pointers (int64[n + 1]) of entries sorted by ``src``."""
    return np.searchsorted(src, np.arange(n + 1)).astype(np.int64)


def distribute_counts(
    raster: Raster,
    grid: Grid,
    land: np.ndarray,
    place_lat: np.ndarray | None = None,
    place_lon: np.ndarray | None = None,
    place_pop: np.ndarray | None = None,
) -> np.ndarray:
    """Counts of a coarse ``raster`` on a finer ``grid`` (float64[nlat, nlon], persons), each raster
    cell's count conserved, placed by where people live:

    1. Places (``place_lat, place_lon`` degrees, ``place_pop`` persons; e.g. GeoNames towns) whose grid
       cell has land (``land``: the grid's land fraction) keep their people in that cell; when the places
       of a raster cell add up to more than its count, they are scaled down to it.
    2. The rest of the raster cell's count is spread over the grid cells it overlaps in proportion to
       their land area in the overlap (overlap area × land fraction; the land of a grid cell taken as
       uniform within it, which is exact when grid cells nest in raster cells).
    3. A raster cell that overlaps no land spreads its count by overlap area (see :func:`move_to_land`).

    The overlap areas are spherical (sin-latitude × longitude), as in :func:`regrid_counts`.
    """
    data = np.where(np.isfinite(raster.data), raster.data, 0.0)
    lat_e = np.clip(np.asarray(raster.lat_edges, float), -90.0, 90.0)
    lon_e = np.asarray(raster.lon_edges, float)
    if lon_e[0] < -180.0 - 1e-9 or lon_e[-1] > 180.0 + 1e-9:
        raise DataError(f"{raster.source}: distribute_counts needs longitudes within [-180, 180]")
    tlat = np.linspace(-90.0, 90.0, grid.nlat + 1)
    tlon = np.linspace(-180.0, 180.0, grid.nlon + 1)
    si, ti, w = _overlap_1d(lat_e, tlat, lambda e: np.sin(np.deg2rad(e)))
    sj, tj, v = _overlap_1d(lon_e, tlon, lambda e: e)
    nr, nc = data.shape
    out = np.zeros((grid.nlat, grid.nlon))
    remainder = data.copy()
    if place_pop is not None and place_lat is not None and place_lon is not None and len(place_pop):
        plat = np.asarray(place_lat, float)
        plon = np.asarray(place_lon, float)
        ppop = np.asarray(place_pop, float)
        pi = np.clip(np.floor((plat + 90.0) / grid.resolution_deg).astype(np.int64), 0, grid.nlat - 1)
        pj = np.floor((plon + 180.0) / grid.resolution_deg).astype(np.int64) % grid.nlon
        gi = np.searchsorted(lat_e, plat, side="right") - 1
        gj = np.searchsorted(lon_e, plon, side="right") - 1
        ok = (land[pi, pj] > 0) & (gi >= 0) & (gi < nr) & (gj >= 0) & (gj < nc) & (ppop > 0)
        pi, pj, gi, gj, ppop = pi[ok], pj[ok], gi[ok], gj[ok], ppop[ok]
        g = gi * nc + gj
        q = np.bincount(g, weights=ppop, minlength=nr * nc)
        cnt = data.ravel()
        scale = np.divide(cnt, q, out=np.zeros_like(q), where=q > 0)
        scale = np.minimum(scale, 1.0)
        np.add.at(out, (pi, pj), ppop * scale[g])
        remainder = (cnt - q * scale).reshape(nr, nc)
        remainder = np.maximum(remainder, 0.0)
    spread_counts(
        np.ascontiguousarray(remainder, np.float64),
        np.ascontiguousarray(land, np.float64),
        _csr(si, nr),
        ti,
        w,
        _csr(sj, nc),
        tj,
        v,
        out,
    )
    return out
