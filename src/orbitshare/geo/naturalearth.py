"""Geography from Natural Earth admin-0 country polygons and a gridded population raster.

Boundaries: ``ne_{scale}_admin_0_countries.geojson`` or the shapefile zip as distributed
(``ne_{scale}_admin_0_countries*.zip``, read by :mod:`orbitshare.geo.shapefile`) from a data directory
(``data_dir`` or ``$ORBITSHARE_DATA_DIR``, :func:`find_boundaries`), or, with ``download=True`` and no data
directory, the v5.1.1 zip downloaded once into ``$ORBITSHARE_CACHE_DIR/naturalearth`` (default
``platformdirs.user_cache_dir("orbitshare")/naturalearth``) and checked against a pinned sha256
(:func:`fetch_naturalearth`; ``$ORBITSHARE_NATURALEARTH_URL`` replaces the download base URL).

Join: on ``ADM0_A3`` (always set; ``ISO_A3`` is -99 for France and Norway). Where ``ADM0_A3`` is not an
ISO alpha-3 code of the groups table, ``ISO_A3`` is used when it is (SDS→SSD, SAH→ESH, PSX→PSE,
ALD→ALA); Kosovo KOS→XKX; the Natural-Earth-only units are given to the country that administers them:
Somaliland SOL→SOM, N. Cyprus CYN→CYP, Indian Ocean Ter. IOA→AUS, Ashmore and Cartier Is. ATC→AUS,
Siachen Glacier KAS→IND. Any other unknown code keeps its ``ADM0_A3`` as its own country (all groups
false). Natural Earth draws some overseas territories inside their sovereign's feature (French Guiana,
Réunion, … in FRA; Bonaire, Sint Eustatius and Saba in NLD; Svalbard in NOR).

Country fractions: exact, the spherical area of (polygon ∩ cell) over the cell's area with polygon edges
straight in longitude/latitude (:func:`orbitshare.geo.parts.polygon_cell_fractions`, the Numba kernel of
:mod:`orbitshare.geo.exact`); every polygon, however small, keeps its area.

Population: a gridded count raster (ESRI ASCII, plain or ``.gz``, or netCDF), regridded to the grid
conserving totals (:mod:`orbitshare.geo.population`); without one, the embedded population (GPW v4.11
1° counts and GeoNames places, :func:`orbitshare.geo.embedded.population`) placed on these polygons' land.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.errors import ConfigError, DataError
from orbitshare.geo.parts import (
    GeographyParts,
    Polygons,
    country_groups,
    country_table,
    geography_parts,
    land_fraction,
    polygon_cell_fractions,
)
from orbitshare.geo.population import population_on_grid
from orbitshare.geo.shapefile import read_shapefile
from orbitshare.grid import Grid

#: Natural-Earth-only ADM0_A3 codes -> the ISO alpha-3 code of the country they are given to
NE_ALIASES = {"KOS": "XKX", "SOL": "SOM", "CYN": "CYP", "IOA": "AUS", "ATC": "AUS", "KAS": "IND"}
#: file name of the default population raster (GPW v4 counts, 2020, 1°)
GPW_NAME = "gpw_v4_population_count_rev11_2020_1_deg.asc"

PathLike = str | os.PathLike[str]


def data_versions() -> dict[str, str]:
    """Versions (sha256 prefixes) of the vendored files behind the embedded population (the fallback
    without a raster)."""
    from orbitshare.geo import embedded

    return embedded.data_versions()


def _zip_version(path: Path) -> tuple[int, ...]:
    m = re.search(r"_v(\d+(?:\.\d+)*)\.zip$", path.name)
    return tuple(int(x) for x in m.group(1).split(".")) if m else ()


def find_boundaries(data_dir: PathLike | None, scale: str = "50m", *, download: bool = False) -> Path:
    """The Natural Earth admin-0 boundaries file of ``scale`` in ``data_dir`` (or
    ``$ORBITSHARE_DATA_DIR``), or in its ``boundaries/`` subfolder: ``ne_{scale}_admin_0_countries.geojson``
    (preferred) or ``ne_{scale}_admin_0_countries*.zip`` (the shapefile as distributed; the highest
    ``_vX.Y.Z`` version when there are several). ``data_dir`` may also name the file itself.

    With no data directory: ``download=True`` returns :func:`fetch_naturalearth`'s cached (downloaded
    once, sha256-checked) zip; otherwise a ``DataError`` says what to do. A data directory, when given,
    is authoritative: a missing file there is an error even with ``download=True``.
    """
    base = data_dir if data_dir is not None else os.environ.get("ORBITSHARE_DATA_DIR")
    if base is None:
        if download:
            return fetch_naturalearth(scale)
        raise DataError(
            "geography(source='naturalearth'): give data_dir or set ORBITSHARE_DATA_DIR "
            f"(a folder with ne_{scale}_admin_0_countries.geojson or the Natural Earth zip "
            f"ne_{scale}_admin_0_countries.zip), or pass download=True to download it once "
            "into the cache"
        )
    base = Path(base)
    name = f"ne_{scale}_admin_0_countries.geojson"
    for cand in (base / name, base / "boundaries" / name):
        if cand.is_file():
            return cand
    for folder in (base, base / "boundaries"):
        if folder.is_dir():
            zips = [z for z in folder.glob(f"ne_{scale}_admin_0_countries*.zip") if z.is_file()]
            if zips:
                return max(zips, key=lambda z: (_zip_version(z), z.name))
    if base.is_file():
        return base
    raise DataError(
        f"{base}: no {name} or ne_{scale}_admin_0_countries*.zip (looked in the folder and its boundaries/ subfolder)"
    )


# ---------------------------------------------------------------------------- download + cache
#: sha256 of the Natural Earth v5.1.1 admin-0 countries zips (as served by naciscdn.org)
NE_VERSION = "5.1.1"
NE_SHA256 = {
    "50m": "4919f1d35d4526b08f07cd3b8d7351d25328e063b180ca5036f6d1b3ed2ac3e3",
    "110m": "0f243aeac8ac6cf26f0417285b0bd33ac47f1b5bdb719fd3e0df37d03ea37110",
}
#: a download larger than this is refused (the v5.1.1 zips are 0.2 and 0.8 MB)
NE_MAX_BYTES = 64 << 20
NE_DEFAULT_URL = "https://naciscdn.org/naturalearth/{scale}/cultural/ne_{scale}_admin_0_countries.zip"


def naturalearth_cache_dir() -> Path:
    """``$ORBITSHARE_CACHE_DIR/naturalearth``, else
    ``platformdirs.user_cache_dir("orbitshare")/naturalearth``."""
    env = os.environ.get("ORBITSHARE_CACHE_DIR")
    if env:
        return Path(env) / "naturalearth"
    return Path(platformdirs.user_cache_dir("orbitshare")) / "naturalearth"


def naturalearth_url(scale: str = "50m") -> str:
    """Download URL of the admin-0 countries zip: ``$ORBITSHARE_NATURALEARTH_URL`` (a base URL, to which
    ``ne_{scale}_admin_0_countries.zip`` is appended) or the Natural Earth CDN."""
    base = os.environ.get("ORBITSHARE_NATURALEARTH_URL")
    if base:
        return base.rstrip("/") + f"/ne_{scale}_admin_0_countries.zip"
    return NE_DEFAULT_URL.format(scale=scale)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_naturalearth(
    scale: str = "50m", *, cache_dir: PathLike | None = None, url: str | None = None, timeout_s: float = 60
) -> Path:
    """Path of the cached Natural Earth v5.1.1 admin-0 countries zip of ``scale`` ("50m" or "110m"),
    downloading it once from ``url`` (default :func:`naturalearth_url`) into ``cache_dir`` (default
    :func:`naturalearth_cache_dir`) as ``ne_{scale}_admin_0_countries_v5.1.1.zip``.

    The download must match the pinned sha256 (:data:`NE_SHA256`) before it is moved (atomically) into
    the cache; a cached file is re-verified on every use and downloaded again when it does not match.
    A bad download never replaces the cached file. Raises ``ConfigError`` for an unknown scale or a
    non-http(s) URL and ``DataError`` for network/HTTP failures and checksum mismatches.
    ``timeout_s``: network timeout, s.
    """
    if scale not in NE_SHA256:
        raise ConfigError(f"fetch_naturalearth: scale: expected one of {sorted(NE_SHA256)}, got {scale!r}")
    expected = NE_SHA256[scale]
    url = url or naturalearth_url(scale)
    if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ConfigError(f"fetch_naturalearth: url must be http(s), got {url!r}")
    cdir = Path(cache_dir) if cache_dir is not None else naturalearth_cache_dir()
    target = cdir / f"ne_{scale}_admin_0_countries_v{NE_VERSION}.zip"
    if target.is_file() and _sha256_file(target) == expected:
        return target
    manual = (
        f"download ne_{scale}_admin_0_countries.zip (Natural Earth v{NE_VERSION}) yourself and set "
        "ORBITSHARE_DATA_DIR (or data_dir=) to its folder"
    )
    request = urllib.request.Request(url, headers={"User-Agent": f"orbitshare/{__version__}"})
    try:
        cdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"Natural Earth cache folder {cdir}: {e}") from None
    h = hashlib.sha256()
    try:
        with atomic_path(target, overwrite=True, suffix=".part") as tmp:
            try:
                # scheme checked above (http/https only)
                with urllib.request.urlopen(request, timeout=timeout_s) as resp, open(tmp, "wb") as out:
                    size = 0
                    for block in iter(lambda: resp.read(1 << 20), b""):
                        size += len(block)
                        if size > NE_MAX_BYTES:
                            raise DataError(
                                f"Natural Earth download {url}: more than {NE_MAX_BYTES} bytes, "
                                f"not the admin-0 countries zip; {manual}"
                            )
                        h.update(block)
                        out.write(block)
            except urllib.error.HTTPError as e:
                raise DataError(f"Natural Earth download {url} failed: HTTP {e.code} {e.reason}; {manual}") from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise DataError(f"Natural Earth download {url} failed: {reason}; {manual}") from None
            got = h.hexdigest()
            if got != expected:  # raising inside atomic_path deletes the temporary file
                raise DataError(
                    f"Natural Earth download {url}: sha256 mismatch (expected {expected}, got "
                    f"{got}); the file was not cached. The server may serve another version "
                    f"than v{NE_VERSION}: {manual}"
                )
    except OSError as e:  # cache not writable
        raise DataError(f"Natural Earth cache file {target}: {e}") from None
    return target


def find_population(boundaries: Path, population: PathLike | None) -> Path | None:
    """The population raster: ``population`` if given (``DataError`` if it is not a file), else
    :data:`GPW_NAME` next to the boundaries file, in ``../population/`` or ``population/`` of its
    folder, else None (the embedded population is used)."""
    if population is not None:
        p = Path(population)
        if not p.is_file():
            raise DataError(f"{p}: population raster not found")
        return p
    for cand in (
        boundaries.parent / GPW_NAME,
        boundaries.parent.parent / "population" / GPW_NAME,
        boundaries.parent / "population" / GPW_NAME,
    ):
        if cand.is_file():
            return cand
    return None


def _rings_of(geom: dict[str, Any]) -> list:
    t = geom.get("type")
    if t == "Polygon":
        return [geom["coordinates"]]
    if t == "MultiPolygon":
        return geom["coordinates"]
    return []


def read_features(path: PathLike) -> list[dict[str, Any]]:
    """GeoJSON-like features of a boundaries file: GeoJSON (``.geojson``/``.json``) or an ESRI shapefile
    layer (``.zip``, ``.shp`` or a folder; :func:`orbitshare.geo.shapefile.read_shapefile`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        try:
            with open(path, encoding="utf-8") as f:
                fc = json.load(f)
            feats = fc["features"]
            if not isinstance(feats, list):
                raise TypeError("'features' is not a list")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path}: not a GeoJSON FeatureCollection ({e})") from None
        return feats
    if suffix in (".zip", ".shp") or path.is_dir():
        return read_shapefile(path)
    raise DataError(f"{path}: unknown boundaries format (expected .geojson, .json, .zip or .shp)")


def _join(
    feats: Sequence[dict[str, Any]], source: str = "Natural Earth features"
) -> tuple[list[str], list[str], dict[str, str]]:
    """Country code of each feature (see the module docstring: ``ADM0_A3``, else ``ISO_A3``, else
    :data:`NE_ALIASES`, else its own ``ADM0_A3``), the codes not in the groups table and their names."""
    known = set(country_groups()["iso3"])
    extra_codes: list[str] = []
    extra_names: dict[str, str] = {}
    codes = []
    for ft in feats:
        pr = ft.get("properties") or {}
        adm = pr.get("ADM0_A3")
        iso = pr.get("ISO_A3")
        if not adm:
            raise DataError(f"{source}: a feature has no ADM0_A3 property")
        if adm in known:
            code = adm
        elif iso in known:
            code = iso
        elif adm in NE_ALIASES:
            code = NE_ALIASES[adm]
        else:
            code = adm
            if code not in extra_names:
                extra_codes.append(code)
                extra_names[code] = pr.get("NAME_LONG") or pr.get("NAME") or code
        codes.append(code)
    return codes, extra_codes, extra_names


def feature_codes(feats: Sequence[dict[str, Any]]) -> list[str]:
    """The country code each Natural Earth feature is joined to (as :func:`read_polygons` does)."""
    return _join(feats)[0]


def read_polygons(
    features: Sequence[dict[str, Any]] | PathLike, *, source: str | None = None
) -> tuple[Polygons, dict[str, np.ndarray]]:
    """Polygons (labelled by country index) and the country table of Natural Earth admin-0 features.

    ``features``: a list of GeoJSON-like features (``properties`` with ``ADM0_A3``, ``ISO_A3``,
    ``NAME_LONG``/``NAME``; ``geometry`` Polygon/MultiPolygon or None), or a path read with
    :func:`read_features`. ``source`` names the input in error messages.
    """
    if isinstance(features, (str, os.PathLike)):
        source = source or str(features)
        features = read_features(features)
    source = source or "Natural Earth features"
    feats = features
    codes, extra_codes, extra_names = _join(feats, source)
    countries = country_table(extra_codes, extra_names)
    index = {c: i for i, c in enumerate(countries["country"])}
    polys = Polygons()
    for ft, code in zip(feats, codes, strict=True):
        for rings in _rings_of(ft.get("geometry") or {}):
            polys.add([np.asarray(r, np.float64)[:, :2] for r in rings], index[code])
    return polys.finish(), countries


def _ne_version(boundaries: Path, scale: str) -> str:
    """Natural Earth version: from the boundaries zip's own ``_vX.Y.Z`` name, else a sibling
    ``ne_{scale}_admin_0_countries_vX.Y.Z.zip``, else the zip's ``*.VERSION.txt`` (else "unknown")."""
    cands = [boundaries] if boundaries.suffix.lower() == ".zip" else []
    cands += sorted(boundaries.parent.glob(f"ne_{scale}_admin_0_countries_v*.zip"))
    for z in cands:
        m = re.search(r"_v(\d+(?:\.\d+)*)\.zip$", z.name)
        if m:
            return m.group(1)
    if boundaries.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(boundaries) as zf:
                for member in zf.namelist():
                    if member.upper().endswith("VERSION.TXT"):
                        v = zf.read(member).decode("ascii", "replace").strip()
                        if re.fullmatch(r"\d+(?:\.\d+)*", v):
                            return v
        except (OSError, zipfile.BadZipFile):
            pass
    return "unknown"


def build(grid: Grid, boundaries: Path, pop_path: Path | None, scale: str) -> GeographyParts:
    """The Natural Earth geography on ``grid`` from the ``boundaries`` file of ``scale`` and the
    population raster ``pop_path`` (None: the embedded population on these boundaries' land), before
    ``country_fraction`` is made dense."""
    from orbitshare.geo import embedded

    polys, countries = read_polygons(boundaries)
    nlabels = len(countries["country"])
    ii, jj, kk, ff, stats = polygon_cell_fractions(polys, grid, nlabels, source=str(boundaries))
    land = land_fraction(grid, ii, jj, ff)
    if pop_path is not None:
        pop = population_on_grid(pop_path, grid)
        pop_attrs = {
            "source": f"{Path(pop_path).name}, regridded by area-weighted overlap (totals conserved)",
            "country_split": embedded.COUNTRY_SPLIT,
        }
        pop_stats = {"population_without_land": float(pop[~(land > 0)].sum())}
    else:
        pop, pop_stats = embedded.population(grid, land, polys)
        pop_attrs = {"source": embedded.POPULATION_SOURCE, "country_split": embedded.COUNTRY_SPLIT}
    attrs = {
        "title": "orbitshare geography: Natural Earth admin-0 countries",
        "source": f"orbitshare {__version__}",
        "geography_source": "naturalearth",
        "boundaries": f"Natural Earth admin-0 countries 1:{scale} ({boundaries.name}), public domain",
        "boundaries_version": _ne_version(boundaries, scale),
        "population_source": pop_attrs["source"],
        "country_fractions": embedded.FRACTIONS_METHOD,
        # the two attributes a report's geography line quotes (orbitshare.report.document)
        "countries": f"Natural Earth 1:{scale} admin-0 countries v{_ne_version(boundaries, scale)} ({boundaries.name}, "
        "public domain); country fractions exact from the polygons",
        "places_and_population": pop_attrs["source"],
        "country_groups": embedded.GROUPS_SOURCE,
        "resolution_deg": grid.resolution_deg,
        "fraction_cells_rescaled": stats["cells_rescaled"],
        **pop_stats,
    }
    return geography_parts(grid, countries, ii, jj, kk, ff, pop, attrs, pop_attrs)
