"""The embedded geography: built from public data vendored in the package (``orbitshare/data/geography``;
sources, versions and licences in its ``ATTRIBUTION.md``); nothing is downloaded.

* Countries: Natural Earth v5.1.1 admin-0 countries at 1:50m (public domain), the polygons and the
  attributes ``ADM0_A3, ISO_A3, NAME_LONG, POP_EST, POP_YEAR`` of the original zip (sha256-pinned), joined
  to the country table as :func:`orbitshare.geo.naturalearth.read_polygons` does. Country fractions are
  exact: the spherical area of (polygon ∩ cell) over the cell's area, polygon edges straight in
  longitude/latitude (:mod:`orbitshare.geo.exact`), at every resolution.
* Population: GPW v4.11 population count 2020 at 1° (CIESIN 2018, CC BY 4.0; not UN-adjusted; 7.969e9
  persons). First, people of 1° cells without Natural Earth land move to the nearest 1° cell with land
  (great circle between cell centres; counted in the ``population_moved_to_land`` attribute). Grids of
  1° and coarser sum the 1° counts (area-weighted overlap where cells do not nest). Finer grids split
  each 1° count (conserved exactly) over its sub-cells: GeoNames places of at least 1,000 people
  (CC BY 4.0; ``geonames_places.csv.gz``) keep their people in their cell when it has land (scaled down
  when a 1° cell's places exceed its count), the rest goes by land area (exact country fractions ×
  cell area). See :func:`orbitshare.geo.population.distribute_counts`. On grids whose cells do not nest
  with 1° cells, people left in a cell without land move to the nearest cell with land (counted too).
* People to countries (downstream, e.g. coverage and equity): a cell's people are split among its
  countries in proportion to their land area in the cell (``country_fraction / land_fraction``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from orbitshare._version import __version__
from orbitshare.errors import DataError
from orbitshare.geo.parts import (
    GeographyParts,
    Polygons,
    geography_parts,
    land_fraction,
    polygon_cell_fractions,
)
from orbitshare.geo.population import Raster, distribute_counts, move_to_land, read_esri_ascii, regrid_counts
from orbitshare.grid import Grid

#: the vendored files (in ``orbitshare/data/geography``)
BOUNDARIES_FILE = "ne_50m_admin_0_countries_v5.1.1.npz"
POPULATION_FILE = "gpw_v4_population_count_rev11_2020_1_deg.asc.gz"
PLACES_FILE = "geonames_places.csv.gz"
FILES = (BOUNDARIES_FILE, POPULATION_FILE, PLACES_FILE)

POPULATION_SOURCE = (
    "GPW v4.11 population count 2020, 1 degree (CIESIN 2018, doi:10.7927/H4JW8BX5, CC BY 4.0); people of "
    "1-degree cells without land moved to the nearest cell with land; below 1 degree each 1-degree count is "
    "split over its sub-cells by GeoNames places (>= 1,000 people, CC BY 4.0) and land area"
)
COUNTRY_SPLIT = "a cell's people are split among its countries by their land area in the cell"
FRACTIONS_METHOD = "exact: spherical area of (polygon intersect cell) / cell area, polygon edges straight in lon/lat"
GROUPS_SOURCE = "orbitshare/data/country_groups.csv (UNSD M49 2026-07-19 flags; ITU RR Art. 5; UN membership)"


def data_path(name: str) -> Path:
    """Path of a vendored geography file (``orbitshare/data/geography/<name>``); ``DataError`` if missing."""
    p = Path(str(resources.files("orbitshare") / "data" / "geography" / name))
    if not p.is_file():
        raise DataError(f"{p}: vendored geography file missing (a broken installation?)")
    return p


@functools.lru_cache(maxsize=1)
def data_versions() -> dict[str, str]:
    """File name -> the first 16 hex digits of its sha256, for each vendored file; part of the cache key."""
    return {name: hashlib.sha256(data_path(name).read_bytes()).hexdigest()[:16] for name in FILES}


# ------------------------------------------------------------------------------------ vendored data
def boundaries() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The vendored Natural Earth 50m admin-0 features (GeoJSON-like dicts: ``properties`` with
    ``ADM0_A3, ISO_A3, NAME_LONG, POP_EST, POP_YEAR``; ``geometry`` a MultiPolygon of (n, 2) arrays,
    degrees) and the file's metadata (``source, sha256, version, scale``)."""
    path = data_path(BOUNDARIES_FILE)
    try:
        with np.load(path) as z:
            x, y = z["x"], z["y"]
            rs, prs, pf = z["ring_start"], z["poly_ring_start"], z["poly_feature"]
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: not a geography boundaries file ({e})") from None
    feats: list[dict[str, Any]] = [
        {"properties": pr, "geometry": {"type": "MultiPolygon", "coordinates": []}} for pr in meta.pop("features")
    ]
    xy = np.stack([x, y], axis=1)
    for p in range(len(prs) - 1):
        rings = [xy[rs[r] : rs[r + 1]] for r in range(prs[p], prs[p + 1])]
        feats[int(pf[p])]["geometry"]["coordinates"].append(rings)
    return feats, meta


@functools.lru_cache(maxsize=1)
def gpw_raster() -> Raster:
    """The vendored GPW v4.11 2020 1° population counts (persons per cell; NaN = no data)."""
    return read_esri_ascii(data_path(POPULATION_FILE))


@functools.lru_cache(maxsize=1)
def places() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vendored GeoNames places: (lat, lon (degrees), population (persons), iso2 (str))."""
    path = data_path(PLACES_FILE)
    try:
        df = pd.read_csv(
            path,
            comment="#",
            dtype={"lat": np.float64, "lon": np.float64, "population": np.float64, "iso2": str},
            keep_default_na=False,
        )
        if list(df.columns) != ["lat", "lon", "population", "iso2"]:
            raise ValueError(f"columns {list(df.columns)}, expected lat,lon,population,iso2")
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"{path}: not a places table ({e})") from None
    return (
        df["lat"].to_numpy(np.float64),
        df["lon"].to_numpy(np.float64),
        df["population"].to_numpy(np.float64),
        df["iso2"].to_numpy(str),
    )


def ne_population_estimates() -> dict[str, float]:
    """Natural Earth ``POP_EST`` (persons, mostly 2019) per country code of the country table (the
    join of :func:`orbitshare.geo.naturalearth.read_polygons`; features given to one country add up)."""
    from orbitshare.geo.naturalearth import feature_codes

    feats, _ = boundaries()
    out: dict[str, float] = {}
    for code, ft in zip(feature_codes(feats), feats, strict=True):
        est = ft["properties"].get("POP_EST")
        if est is not None and float(est) >= 0:
            out[code] = out.get(code, 0.0) + float(est)
    return out


# ------------------------------------------------------------------------------------ population
def population(grid: Grid, land: np.ndarray, polys: Polygons) -> tuple[np.ndarray, dict[str, Any]]:
    """The embedded population on ``grid`` (float64[nlat, nlon], persons; see the module docstring)
    given the grid's land fraction ``land`` and the country polygons ``polys`` (their land at 1°
    decides which 1° cells' people move). Returns the counts and attributes (persons and cells moved
    to land)."""
    raster = gpw_raster()
    g1 = Grid(1.0)
    if grid.resolution_deg == 1.0:
        land1 = land
    else:
        i1, j1, _, f1, _ = polygon_cell_fractions(polys, g1, int(polys.label.max()) + 1 if polys.label.size else 1)
        land1 = land_fraction(g1, i1, j1, f1)
    counts1 = regrid_counts(raster, g1)
    counts1, moved1, cells1 = move_to_land(counts1, land1, g1.lat, g1.lon)
    r1 = Raster(counts1, np.linspace(-90.0, 90.0, 181), np.linspace(-180.0, 180.0, 361), raster.source)
    if grid.resolution_deg >= 1.0:
        pop = regrid_counts(r1, grid)
        nplaces = 0
    else:
        plat, plon, ppop, _ = places()
        pop = distribute_counts(r1, grid, land, plat, plon, ppop)
        nplaces = int(plat.size)
    pop, moved2, cells2 = move_to_land(pop, land, grid.lat, grid.lon)
    stats = {
        "population_total": float(pop.sum()),
        "population_gpw_total": float(raster.total),
        "population_moved_to_land": moved1 + moved2,
        "population_moved_cells": cells1 + cells2,
        "population_places": nplaces,
    }
    return pop, stats


# ------------------------------------------------------------------------------------ build
def build(grid: Grid) -> GeographyParts:
    """The embedded geography on ``grid`` (see the module docstring), before ``country_fraction`` is
    made dense. Raises ``DataError`` when a vendored file is missing or damaged."""
    from orbitshare.geo.naturalearth import read_polygons

    feats, meta = boundaries()
    polys, countries = read_polygons(feats, source=str(data_path(BOUNDARIES_FILE)))
    nlabels = len(countries["country"])
    ii, jj, kk, ff, stats = polygon_cell_fractions(polys, grid, nlabels, source=BOUNDARIES_FILE)
    land = land_fraction(grid, ii, jj, ff)
    pop, pop_stats = population(grid, land, polys)
    vers = data_versions()
    attrs = {
        "title": "orbitshare geography: embedded (Natural Earth 50m admin-0, GPW v4.11, GeoNames places)",
        "source": f"orbitshare {__version__}",
        "geography_source": "embedded",
        "boundaries": (
            f"Natural Earth admin-0 countries 1:50m v{meta.get('version', '?')} ({meta.get('source', '?')}, "
            f"sha256 {meta.get('sha256', '?')}), public domain"
        ),
        "boundaries_version": str(meta.get("version", "unknown")),
        "population_source": POPULATION_SOURCE,
        "country_fractions": FRACTIONS_METHOD,
        # the two attributes a report's geography line quotes (orbitshare.report.document)
        "countries": f"Natural Earth 1:50m admin-0 countries v{meta.get('version', '?')} (public domain); "
        "country fractions exact from the polygons",
        "places_and_population": POPULATION_SOURCE,
        "data_versions": json.dumps(vers, sort_keys=True),
        "attribution": "orbitshare/data/geography/ATTRIBUTION.md",
        "country_groups": GROUPS_SOURCE,
        "resolution_deg": grid.resolution_deg,
        "fraction_cells_rescaled": stats["cells_rescaled"],
        **pop_stats,
    }
    pop_attrs = {"source": POPULATION_SOURCE, "country_split": COUNTRY_SPLIT}
    return geography_parts(grid, countries, ii, jj, kk, ff, pop, attrs, pop_attrs)
