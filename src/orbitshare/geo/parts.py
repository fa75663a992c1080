"""Building blocks shared by the geography sources: the country groups table, polygon sets and their
exact per-cell country fractions, and the assembly of the geography Dataset.

:mod:`orbitshare.geo.embedded` and :mod:`orbitshare.geo.naturalearth` build with these;
:func:`orbitshare.geo.build.geography` chooses, caches and returns the result. The Numba kernel
behind :func:`polygon_cell_fractions` lives in :mod:`orbitshare.geo.exact`.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Mapping, Sequence
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5netcdf
import numpy as np
import xarray as xr

from orbitshare.atomic import atomic_path
from orbitshare.errors import DataError
from orbitshare.geo.exact import polygon_fractions
from orbitshare.grid import Grid


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


class Polygons:
    """Labelled polygons as flat arrays for :func:`polygon_cell_fractions` (vertices in degrees of
    longitude/latitude, rings implicitly closed).

    :meth:`add` polygons, then :meth:`finish` once; the finished set holds ``vx, vy`` (vertices),
    ``ring_start``, ``poly_ring_start``, ``label`` (int32) and per polygon its bounding box
    (``xmin, xmax, ymin, ymax``, degrees).
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
        """Concatenate the polygons into flat arrays and compute their bounding boxes."""
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
        first = self.ring_start[self.poly_ring_start[:-1]]
        last = self.ring_start[self.poly_ring_start[1:]]
        has = last > first
        if has.any() and self.vx.size:
            starts = first[has]
            self.xmin[has] = np.minimum.reduceat(self.vx, starts)[: has.sum()]
            self.xmax[has] = np.maximum.reduceat(self.vx, starts)[: has.sum()]
            self.ymin[has] = np.minimum.reduceat(self.vy, starts)[: has.sum()]
            self.ymax[has] = np.maximum.reduceat(self.vy, starts)[: has.sum()]
        del self._x, self._y
        return self


def polygon_cell_fractions(
    polys: Polygons, grid: Grid, nlabels: int, source: str = "polygons"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Exact country fractions of labelled polygons on ``grid`` (:func:`orbitshare.geo.exact.polygon_fractions`:
    the spherical area of polygon ∩ cell over the cell's area, edges straight in lon/lat).

    The polygons of one label add up per cell; each value is clipped to [0, 1], and where a cell's
    labels add up to more than 1 (overlapping polygons, or rounding) they are scaled down to sum 1.
    Returns ``(ii, jj, kk, ff, stats)``: cell row, cell column, label (int64) and fraction (float64),
    sorted by cell then label, and ``stats`` (``cells_rescaled``: cells scaled down by more than
    1e-9; ``max_sum``: the largest sum before scaling). Raises ``DataError`` (naming ``source``) for
    coordinates outside [-180, 180] × [-90, 90] or an edge that spans more than 180° of longitude
    (except along a pole).
    """
    vx, vy = polys.vx, polys.vy
    if vx.size and (
        not (np.isfinite(vx).all() and np.isfinite(vy).all())
        or vx.min() < -180.0 - 1e-9
        or vx.max() > 180.0 + 1e-9
        or vy.min() < -90.0 - 1e-9
        or vy.max() > 90.0 + 1e-9
    ):
        raise DataError(f"{source}: polygon coordinates outside longitude [-180, 180], latitude [-90, 90]")
    vx = np.clip(vx, -180.0, 180.0)
    vy = np.clip(vy, -90.0, 90.0)
    if vx.size:
        rs = polys.ring_start
        nxt = np.arange(1, vx.size + 1)
        nxt[rs[1:] - 1] = rs[:-1]  # each ring's last vertex closes to its first
        # an edge along a pole (both ends at latitude ±90°) may span any longitude: it adds no area
        bad = (np.abs(vx[nxt] - vx) > 180.0) & ~((np.abs(vy) == 90.0) & (vy[nxt] == vy))
        if bad.any():
            k = int(np.argmax(bad))
            raise DataError(
                f"{source}: an edge from ({vx[k]}, {vy[k]}) to ({vx[nxt[k]]}, {vy[nxt[k]]}) spans more than 180° "
                "of longitude; split polygons at the antimeridian (as Natural Earth does)"
            )
    p, i, j, f = polygon_fractions(vx, vy, polys.ring_start, polys.poly_ring_start, grid.resolution_deg)
    lab = polys.label.astype(np.int64)[p]
    key = (i * grid.nlon + j) * nlabels + lab
    order = np.argsort(key, kind="stable")
    key, f = key[order], f[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if key.size else np.zeros(0, np.int64)
    ukey = key[starts]
    ff = np.clip(np.add.reduceat(f, starts), 0.0, 1.0) if key.size else np.zeros(0)
    kk = ukey % nlabels
    cell = ukey // nlabels
    ii, jj = cell // grid.nlon, cell % grid.nlon
    keep = ff > 0
    ii, jj, kk, ff, cell = ii[keep], jj[keep], kk[keep], ff[keep], cell[keep]
    total = np.zeros(grid.nlat * grid.nlon)
    np.add.at(total, cell, ff)
    max_sum = float(total.max()) if total.size else 0.0
    over = total > 1.0
    if over.any():
        ff = ff / np.where(over[cell], total[cell], 1.0)
    stats = {"cells_rescaled": int((total > 1.0 + 1e-9).sum()), "max_sum": max_sum}
    return ii, jj, kk, ff, stats


def land_fraction(grid: Grid, ii: np.ndarray, jj: np.ndarray, ff: np.ndarray) -> np.ndarray:
    """float64[nlat, nlon]: the sum of the sparse fractions per cell, capped at 1."""
    land = np.zeros(grid.nlat * grid.nlon)
    np.add.at(land, np.asarray(ii, np.int64) * grid.nlon + np.asarray(jj, np.int64), np.asarray(ff, np.float64))
    return np.minimum(land, 1.0).reshape(grid.nlat, grid.nlon)


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


def _float32_down(x: np.ndarray) -> np.ndarray:
    """float32 values never above the float64 ones (so float32 fractions keep their float64 sums <= 1)."""
    f = x.astype(np.float32)
    up = f.astype(np.float64) > x
    f[up] = np.nextafter(f[up], np.float32(0.0))
    return f


class GeographyParts:
    """A built geography before ``country_fraction`` is made dense: every other variable and
    coordinate in ``base`` (an xarray.Dataset), the fractions as sparse entries (country index, cell
    row, cell column, value; repeated entries add up, sums are clipped to [0, 1]). Values are stored as
    float32 rounded toward zero: a cell's float32 fractions, added in float64, never exceed its float64 sum."""

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
        self.base = base
        self.shape = (int(ncountry), int(nlat), int(nlon))
        kk = np.asarray(kk, np.int64)
        key = (kk * self.shape[1] + np.asarray(ii, np.int64)) * self.shape[2] + np.asarray(jj, np.int64)
        order = np.argsort(key, kind="stable")
        key = key[order]
        ff = np.asarray(ff, np.float64)[order]
        if key.size:  # repeated entries add up
            first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
            ff = np.add.reduceat(ff, first)
            key = key[first]
        cell = key % (self.shape[1] * self.shape[2])
        self.kk = key // (self.shape[1] * self.shape[2])
        self.ii = cell // self.shape[2]
        self.jj = cell % self.shape[2]
        self.ff = _float32_down(np.clip(ff, 0.0, 1.0))
        self.starts = np.searchsorted(self.kk, np.arange(self.shape[0] + 1))

    @property
    def dense_bytes(self) -> int:
        """Bytes of the dense float32 ``country_fraction``."""
        return 4 * self.shape[0] * self.shape[1] * self.shape[2]

    def country_block(self, k0: int, k1: int) -> np.ndarray:
        """float32[k1 − k0, nlat, nlon]: the dense fractions of countries k0..k1−1."""
        out = np.zeros((k1 - k0,) + self.shape[1:], np.float32)
        a, b = self.starts[k0], self.starts[k1]
        out[self.kk[a:b] - k0, self.ii[a:b], self.jj[a:b]] = self.ff[a:b]  # entries are unique
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
        country at a time (the bounding box of its cells; chunks of one country × 256 × 512 cells, gzip 4;
        chunks without land are never written and read as 0): memory stays O(one country). The
        (country, cell) pairs go to :func:`pairs_path` beside it (``country, cell, fraction``), tied to
        the file by a random token (attribute ``pairs_token`` of both), for :func:`read_pairs`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        enc = {v: {"zlib": True, "complevel": 4} for v in ("population", "land_fraction")}
        nc, nlat, nlon = self.shape
        token = uuid.uuid4().hex
        with atomic_path(pairs_path(path), overwrite=True, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                token=np.array(token),
                country=self.kk.astype(np.int32),
                cell=(self.ii * nlon + self.jj).astype(np.int64),
                fraction=self.ff,
            )
        base = self.base.copy()
        base.attrs["pairs_token"] = token
        with atomic_path(path, overwrite=True) as tmp:
            base.to_netcdf(tmp, engine="h5netcdf", encoding=enc)
            with h5netcdf.File(tmp, "a") as f:
                v = f.create_variable(
                    "country_fraction",
                    ("country", "lat", "lon"),
                    dtype=np.float32,
                    chunks=(1, min(nlat, 256), min(nlon, 512)),
                    compression="gzip",
                    compression_opts=4,
                )  # no _FillValue: never-written chunks read as HDF5's default fill, 0
                for key, val in _CF_ATTRS.items():
                    v.attrs[key] = val
                v.attrs["valid_range"] = np.array([0.0, 1.0], np.float32)
                for k in range(nc):
                    a, b = self.starts[k], self.starts[k + 1]
                    if a == b:
                        continue  # never-written chunks read as the fill value, 0
                    i0, i1 = int(self.ii[a:b].min()), int(self.ii[a:b].max()) + 1
                    j0, j1 = int(self.jj[a:b].min()), int(self.jj[a:b].max()) + 1
                    block = np.zeros((i1 - i0, j1 - j0), np.float32)
                    block[self.ii[a:b] - i0, self.jj[a:b] - j0] = self.ff[a:b]
                    v[k, i0:i1, j0:j1] = block


def pairs_path(path: str | os.PathLike[str]) -> Path:
    """The file of the (country, cell) pairs written beside a cached geography ``path``."""
    p = Path(path)
    return p.with_name(p.stem + ".pairs.npz")


def read_pairs(
    path: str | os.PathLike[str], token: str, ncell: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The (country, cell) pairs written beside the cached geography ``path`` by
    :meth:`GeographyParts.write`, as ``orbitshare.geo.build.country_cell_pairs`` returns them
    (country int64, cell int64, fraction float64, Σ fraction per cell float64[ncell]); None when the
    file is missing, damaged or not the one written with the geography's ``token``."""
    try:
        with np.load(pairs_path(path)) as z:
            if str(z["token"]) != token:
                return None
            c = z["country"].astype(np.int64)
            n = z["cell"].astype(np.int64)
            f = z["fraction"].astype(np.float64)
    except (OSError, KeyError, ValueError):
        return None
    if c.shape != n.shape or c.shape != f.shape or (n.size and (n.min() < 0 or n.max() >= ncell)):
        return None
    return c, n, f, np.bincount(n, weights=f, minlength=ncell).astype(np.float64)


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
