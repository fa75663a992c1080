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

* ``"embedded"`` (default) needs no download and no files: it is built from public data vendored in
  the package (Natural Earth 50m admin-0 countries, public domain; GPW v4.11 2020 1° population
  counts, CC BY 4.0; GeoNames places, CC BY 4.0; see ``orbitshare/data/geography/ATTRIBUTION.md``
  and :mod:`orbitshare.geo.embedded`).
* ``"naturalearth"``: Natural Earth admin-0 polygons from ``data_dir`` (or ``$ORBITSHARE_DATA_DIR``; any
  scale, e.g. 10m), or with ``download=True`` downloaded once into the cache (sha256-pinned), and a
  gridded population raster (default: the embedded population on these polygons' land); see
  :mod:`orbitshare.geo.naturalearth`.

Both sources compute country fractions exactly: the spherical area of (polygon ∩ cell) over the
cell's area, with polygon edges straight in longitude/latitude (:mod:`orbitshare.geo.exact`).

Results are cached as netCDF (h5netcdf) files under ``$ORBITSHARE_CACHE_DIR/geography`` (default
``platformdirs.user_cache_dir("orbitshare")/geography``), keyed by resolution, source, options and the
sha256 of the vendored data files; files are written atomically (temporary file + ``os.replace``).

The country groups (LDC, LLDC, SIDS per the UNSD M49 flags; ITU Regions; UN membership) come from the
project's own table ``orbitshare/data/country_groups.csv`` (:func:`country_groups`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs
import xarray as xr

from orbitshare.errors import ConfigError, DataError
from orbitshare.geo import embedded, naturalearth
from orbitshare.geo.parts import GeographyParts, country_groups, read_pairs
from orbitshare.grid import Grid
from orbitshare.progress import task

__all__ = ["geography", "country_groups", "geography_cache_dir", "country_cell_pairs", "SOURCES"]

#: ``country_fraction`` larger than this (dense float32 bytes) is never held in memory: it goes to the
#: cache file country by country and is read back lazily (0.1°: ~6.5 GB; 0.25°, ~1 GB, stays in memory).
DENSE_LIMIT_BYTES = 1_500_000_000

#: the geography sources :func:`geography` knows
SOURCES = ("embedded", "naturalearth")
#: bump when the algorithm changes, so cached files are rebuilt
_ALGORITHM_VERSION = "4"  # 2: CF bounds without their own long_name; 3: population units "1";
# 4: exact country fractions from Natural Earth polygons, GPW v4.11 + GeoNames population (vendored)
#: Natural Earth scales the ``naturalearth`` source accepts (file names ``ne_{scale}_admin_0_countries*``)
SCALES = ("10m", "50m", "110m")

CellPairs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

#: the pairs of the last file-backed geography read ``[(its variable object, its dims, the pairs)]``: a
#: run reads them for coverage, accounts, equity, Lorenz curves and the maps; one read of a 0.1° file
#: takes ~10 s
_PAIRS_CACHE: list[tuple[Any, tuple, CellPairs]] = []


def country_cell_pairs(geography: xr.Dataset, block_values: int = 16_000_000) -> CellPairs:
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
    return Path(platformdirs.user_cache_dir("orbitshare")) / "geography"


def _file_stamp(path: Path) -> str:
    p = Path(path)
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{int(st.st_mtime)}"


def _open_cached(path: Path) -> xr.Dataset:
    # country_fraction stays lazy (read from the file on first access; 1 GB dense at 0.25°)
    ds = xr.open_dataset(path, engine="h5netcdf")
    for v in ds.variables:
        if v != "country_fraction":
            ds[v].load()
    for v in ("ldc", "lldc", "sids", "un_member"):  # netCDF has no bool
        if ds[v].dtype != bool:
            ds[v] = ds[v].astype(bool)
    # the pairs file written with it: country_cell_pairs need not scan the (lazy) country_fraction
    token = ds.attrs.get("pairs_token")
    if token:
        pairs = read_pairs(path, str(token), ds.sizes["lat"] * ds.sizes["lon"])
        if pairs is not None:
            var = ds["country_fraction"].variable
            _PAIRS_CACHE[:] = [(var, var.dims, pairs)]
    return ds


# ============================================================================ public entry point
def geography(
    grid: Grid | float | None,
    source: str = "embedded",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    population: str | os.PathLike[str] | None = None,
    resolution_res: float | None = None,
    cache: bool = True,
    scale: str = "50m",
    download: bool = False,
) -> xr.Dataset:
    """Country fractions, population and country groups on ``grid`` as an ``xarray.Dataset``.

    Parameters
    ----------
    grid : Grid or float
        The target grid (or its resolution in degrees).
    source : {"embedded", "naturalearth"}
        ``"embedded"`` (default) uses only the data vendored in the package (no download, no files);
        ``"naturalearth"`` reads Natural Earth admin-0 polygons (GeoJSON or the shapefile zip) from
        ``data_dir``, or downloads them (``download=True``).
    data_dir : path, optional
        For ``"naturalearth"``: folder with ``ne_{scale}_admin_0_countries.geojson`` or
        ``ne_{scale}_admin_0_countries*.zip`` (default ``$ORBITSHARE_DATA_DIR``; a ``boundaries/``
        subfolder is also searched).
    population : path, optional
        For ``"naturalearth"``: a gridded population-count raster (ESRI ASCII ``.asc`` or netCDF),
        regridded to ``grid`` conserving totals (area-weighted overlap). Default:
        ``population/gpw_v4_population_count_rev11_2020_1_deg.asc`` next to the boundaries if present,
        else the embedded population placed on these boundaries' land.
    resolution_res : float, optional
        Accepted alias of the grid resolution (used when ``grid`` is None).
    cache : bool
        Read/write the netCDF cache (see module docstring).
    scale : {"10m", "50m", "110m"}
        Natural Earth scale (the file name's ``ne_{scale}_``).
    download : bool
        For ``"naturalearth"`` with no ``data_dir`` and no ``$ORBITSHARE_DATA_DIR``: use the Natural Earth
        v5.1.1 zip downloaded once into the cache and checked against a pinned sha256
        (:func:`orbitshare.geo.naturalearth.fetch_naturalearth`). Default False: nothing is
        downloaded.

    Returns
    -------
    xarray.Dataset
        The geography on the grid.

    Raises
    ------
    ConfigError
        A bad source or scale.
    ParameterError
        A bad grid.
    DataError
        Missing or bad files.

    Notes
    -----
    Cost (2 cores, embedded, Numba kernels compiled; first build and cache write, in a new process):
    5° – 1° about 4–6 s and 0.4 GB peak; 0.5° 7 s and 0.5 GB; 0.25° 9 s and 0.9 GB
    (``country_fraction`` is dense float32: ncountry × nlat × nlon × 4 bytes, 1 GB at 0.25°); 0.1° 12 s
    and 0.8 GB: above :data:`DENSE_LIMIT_BYTES` (0.1°: 6.5 GB dense) ``country_fraction`` is written
    to the cache file one country at a time (55 MB compressed at 0.1°) and returned lazily opened,
    even with ``cache=False`` (which then only skips reading an existing
    file); consumers read it through :func:`country_cell_pairs` (2.2 million pairs at 0.1°, kept in a
    file beside the cache file: 0.6 s to open and read at 0.1°).
    """
    if grid is None:
        if resolution_res is None:
            raise ConfigError("geography: give a grid (or resolution_res)")
        grid = Grid(resolution_res)
    elif not isinstance(grid, Grid):
        grid = Grid(grid)
    if source not in SOURCES:
        raise ConfigError(f"geography: source: expected one of {SOURCES}, got {source!r}")
    if source == "embedded":
        key_parts: dict[str, Any] = {
            "source": source,
            "res": repr(grid.resolution_deg),
            "alg": _ALGORITHM_VERSION,
            "versions": embedded.data_versions(),
        }
    else:
        if scale not in SCALES:
            raise ConfigError(f"geography: scale: expected one of {SCALES}, got {scale!r}")
        boundaries = naturalearth.find_boundaries(data_dir, scale, download=download)
        pop_path = naturalearth.find_population(boundaries, population)
        key_parts = {
            "source": source,
            "res": repr(grid.resolution_deg),
            "alg": _ALGORITHM_VERSION,
            "scale": scale,
            "boundaries": _file_stamp(boundaries),
            "population": _file_stamp(pop_path) if pop_path else "embedded",
            "versions": naturalearth.data_versions() if pop_path is None else {},
        }
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:16]
    res_tag = f"{grid.resolution_deg:g}".replace(".", "p")
    path = geography_cache_dir() / f"geography_{source}_{res_tag}deg_{key}.nc"
    if cache and path.is_file():
        try:
            return _open_cached(path)
        except Exception:  # a damaged cache file is rebuilt
            pass

    t0 = time.perf_counter()
    name = f"geography: first build ({source}, {grid.resolution_deg:g}°; then cached)"
    with task(name, total=1, unit="build") as bar:
        parts: GeographyParts = (
            embedded.build(grid) if source == "embedded" else naturalearth.build(grid, boundaries, pop_path, scale)
        )
        bar.advance()
    parts.base.attrs["build_seconds"] = round(time.perf_counter() - t0, 3)
    parts.base.attrs["cache_key"] = json.dumps(key_parts, sort_keys=True)
    if parts.dense_bytes > DENSE_LIMIT_BYTES:
        # too large for memory: always through the cache file (cache=False only skips reading an old one)
        try:
            parts.write(path)
        except OSError as e:
            raise DataError(
                f"geography: the {grid.resolution_deg:g}° country fractions "
                f"({parts.dense_bytes / 1e9:.1f} GB dense) are kept in a file, and {path} could not "
                f"be written ({e}); set ORBITSHARE_CACHE_DIR to a writable folder"
            ) from e
        return _open_cached(path)
    if cache:
        with contextlib.suppress(OSError):  # read-only cache dir: still return the result
            parts.write(path)
    return parts.dense()
