"""The global lat/lon grid: cell centres, bounds, cell areas (km²) and CF coordinates.

A :class:`Grid` covers the globe with regular cells of ``resolution_deg`` degrees. Rows run south
to north, columns west to east starting at 180° W, so longitudes of cell centres lie in
[-180, 180). Cell areas are exact on the WGS84 ellipsoid. The grid also provides what the
visibility kernel needs: geodetic cell-centre positions on the ellipsoid surface and the geodetic
up-normals, per row (see :meth:`Grid.row_geometry`).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from orbitshare.constants import WGS84_A_KM, WGS84_B_KM, WGS84_E2
from orbitshare.errors import ParameterError

__all__ = ["Grid", "ellipsoid_zone_area_km2", "WGS84_SURFACE_AREA_KM2", "MIN_RESOLUTION_DEG", "MAX_RESOLUTION_DEG"]

#: Finest and coarsest cell size a :class:`Grid` accepts, degrees.
MIN_RESOLUTION_DEG = 0.1
MAX_RESOLUTION_DEG = 5.0
_E = math.sqrt(WGS84_E2)


def ellipsoid_zone_area_km2(lat_deg: float | np.ndarray) -> np.ndarray | float:
    """Area (km²) of the WGS84 ellipsoid between the equator and geodetic latitude ``lat_deg`` (degrees).

    Closed form of ∫₀^φ M(φ')·N(φ')·cos φ' dφ' · 2π (M, N: meridional and prime-vertical radii of
    curvature)::

        S(φ) = π b² [ sin φ / (1 − e² sin² φ) + artanh(e sin φ) / e ]

    Signed: negative for southern latitudes. ``S(90°)`` is half the ellipsoid's surface.

    >>> round(float(ellipsoid_zone_area_km2(90.0)) * 2 / 1e6, 3)  # the whole surface, million km²
    510.066
    >>> float(ellipsoid_zone_area_km2(-30.0)) == -float(ellipsoid_zone_area_km2(30.0))
    True
    """
    s = np.sin(np.deg2rad(np.asarray(lat_deg, dtype=np.float64)))
    return math.pi * WGS84_B_KM**2 * (s / (1.0 - WGS84_E2 * s * s) + np.arctanh(_E * s) / _E)


def _zone_area_between_km2(lat1_deg: np.ndarray, lat2_deg: np.ndarray) -> np.ndarray:
    """Area (km²) of the WGS84 zone between geodetic latitudes lat1 < lat2: S(φ2) − S(φ1) of
    :func:`ellipsoid_zone_area_km2`, rearranged so that narrow zones keep full relative precision::

        S(φ2) − S(φ1) = π b² [ Δs (1 + e² s1 s2) / ((1 − e² s1²)(1 − e² s2²))
                               + artanh(e Δs / (1 − e² s1 s2)) / e ],
        Δs = s2 − s1 = 2 cos((φ1 + φ2)/2) sin((φ2 − φ1)/2),   s = sin φ.
    """
    p1 = np.deg2rad(np.asarray(lat1_deg, dtype=np.float64))
    p2 = np.deg2rad(np.asarray(lat2_deg, dtype=np.float64))
    s1, s2 = np.sin(p1), np.sin(p2)
    ds = 2.0 * np.cos(0.5 * (p1 + p2)) * np.sin(0.5 * (p2 - p1))
    e2 = WGS84_E2
    t1 = ds * (1.0 + e2 * s1 * s2) / ((1.0 - e2 * s1 * s1) * (1.0 - e2 * s2 * s2))
    t2 = np.arctanh(_E * ds / (1.0 - e2 * s1 * s2)) / _E
    return math.pi * WGS84_B_KM**2 * (t1 + t2)


#: Surface area of the WGS84 ellipsoid, km² (≈ 510,065,621.7 km²).
WGS84_SURFACE_AREA_KM2 = float(2.0 * ellipsoid_zone_area_km2(90.0))


def _check_resolution(resolution_deg: float) -> tuple[float, int]:
    try:
        res = float(resolution_deg)
    except (TypeError, ValueError):
        raise ParameterError(
            f"resolution_deg: expected a number of degrees in [{MIN_RESOLUTION_DEG}, {MAX_RESOLUTION_DEG}] that "
            f"divides 180, got {resolution_deg!r}"
        ) from None
    if (
        isinstance(resolution_deg, bool)
        or not math.isfinite(res)
        or not (MIN_RESOLUTION_DEG * (1 - 1e-12) <= res <= MAX_RESOLUTION_DEG * (1 + 1e-12))
    ):
        raise ParameterError(
            f"resolution_deg: expected a number of degrees in [{MIN_RESOLUTION_DEG}, {MAX_RESOLUTION_DEG}] that "
            f"divides 180, got {resolution_deg!r}"
        )
    nlat_f = 180.0 / res
    nlon_f = 360.0 / res
    nlat = int(round(nlat_f))
    if abs(nlat_f - nlat) > 1e-9 or abs(nlon_f - 2 * nlat) > 1e-9:
        lo = 180.0 / math.ceil(nlat_f)
        hi = 180.0 / max(math.floor(nlat_f), 1)
        raise ParameterError(
            f"resolution_deg: expected a value such that 180/resolution_deg and 360/resolution_deg are "
            f"integers (e.g. 5, 2, 1, 0.5, 0.25, 0.1), got {resolution_deg!r} "
            f"(180/{res:g} = {nlat_f:.9g}; nearest valid: {lo:.9g} or {hi:.9g})"
        )
    return res, nlat


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


class Grid:
    """Regular global lat/lon grid of ``resolution_deg``-degree cells.

    Parameters
    ----------
    resolution_deg : float
        Cell size in degrees, from 5 down to 0.1; 180/resolution_deg (and so 360/resolution_deg)
        must be an integer within 1e-9, otherwise :class:`~orbitshare.errors.ParameterError`
        (a ``ValueError``).

    Attributes (all arrays read-only)
    ----------
    resolution_deg : float
    nlat, nlon : int            180/resolution_deg and 360/resolution_deg
    lat : float64[nlat]         cell-centre geodetic latitudes, south → north, degrees_north
    lon : float64[nlon]         cell-centre longitudes in [-180, 180), ascending, degrees_east
    lat_bounds : float64[nlat, 2]   (south, north) edges, degrees_north
    lon_bounds : float64[nlon, 2]   (west, east) edges, degrees_east
    lat_rad, lon_rad : float64      the centres in radians
    cos_lon, sin_lon : float64[nlon]  cos/sin of ``lon_rad`` (the exact values the kernels use)
    cell_area_km2 : float64[nlat]   area of one cell of each row on the WGS84 ellipsoid, km²

    Cell areas use the closed-form area of an ellipsoidal zone (:func:`ellipsoid_zone_area_km2`,
    equivalent to the authalic-latitude formula), in a difference form that keeps full precision
    for narrow rows: a row's cells share the zone between its edge latitudes equally. Summed over
    the globe they give the WGS84 surface area, 510,065,621.7 km².

    >>> g = Grid(5.0)
    >>> g.nlat, g.nlon
    (36, 72)
    >>> float(g.lat[0]), float(g.lon[0])  # centre of the south-west cell, degrees
    (-87.5, -177.5)
    >>> round(float(g.cell_area_km2[18]))  # a cell just north of the equator, km²
    307347
    >>> round(float(g.cell_area_km2.sum()) * g.nlon / 1e6, 3)  # all cells: the WGS84 surface, million km²
    510.066
    """

    def __init__(self, resolution_deg: float) -> None:
        res, nlat = _check_resolution(resolution_deg)
        nlon = 2 * nlat
        self.resolution_deg = res
        self.nlat = nlat
        self.nlon = nlon
        # Edges from integer multiples, so the end points are exact and centres are exact midpoints.
        lat_edges = np.linspace(-90.0, 90.0, nlat + 1)
        lon_edges = np.linspace(-180.0, 180.0, nlon + 1)
        self.lat_bounds = _readonly(np.stack([lat_edges[:-1], lat_edges[1:]], axis=1))
        self.lon_bounds = _readonly(np.stack([lon_edges[:-1], lon_edges[1:]], axis=1))
        self.lat = _readonly(0.5 * (lat_edges[:-1] + lat_edges[1:]))
        self.lon = _readonly(0.5 * (lon_edges[:-1] + lon_edges[1:]))
        self.lat_rad = _readonly(np.deg2rad(self.lat))
        self.lon_rad = _readonly(np.deg2rad(self.lon))
        self.cos_lon = _readonly(np.cos(self.lon_rad))
        self.sin_lon = _readonly(np.sin(self.lon_rad))
        self.cell_area_km2 = _readonly(_zone_area_between_km2(lat_edges[:-1], lat_edges[1:]) / nlon)

    # ------------------------------------------------------------------ geometry for the kernels
    def row_geometry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cell-centre positions and geodetic up-normals per row, on the WGS84 surface (height 0).

        Returns ``(pxy, pz, nxy, nz)``, each float64[nlat] (new, writeable, C-contiguous):
        the cell centre at longitude λ is ``(pxy·cos λ, pxy·sin λ, pz)`` km (ITRS) and its unit
        geodetic normal is ``(nxy·cos λ, nxy·sin λ, nz)``, with

            pxy = N cos φ,  pz = N (1 − e²) sin φ,  nxy = cos φ,  nz = sin φ,
            N = a / √(1 − e² sin² φ).
        """
        phi = np.array(self.lat_rad)
        s = np.sin(phi)
        c = np.cos(phi)
        n = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * s * s)
        pxy = np.ascontiguousarray(n * c)
        pz = np.ascontiguousarray(n * (1.0 - WGS84_E2) * s)
        return pxy, pz, np.ascontiguousarray(c), np.ascontiguousarray(s)

    def cell_centres_itrs(self) -> np.ndarray:
        """Cell-centre positions float64[nlat, nlon, 3] km (ITRS, height 0), same arithmetic as kernels."""
        pxy, pz, _, _ = self.row_geometry()
        out = np.empty((self.nlat, self.nlon, 3))
        out[..., 0] = pxy[:, None] * self.cos_lon[None, :]
        out[..., 1] = pxy[:, None] * self.sin_lon[None, :]
        out[..., 2] = pz[:, None]
        return out

    # ------------------------------------------------------------------ labelled world
    def coords(self) -> dict[str, xr.DataArray]:
        """xarray coordinates with CF attributes: ``lat``, ``lon`` and their bounds (degrees).

        Returns ``{"lat", "lon", "lat_bnds", "lon_bnds"}`` as ``xarray.DataArray`` (bounds on dims
        ``(lat, bnds)`` / ``(lon, bnds)``); pass to ``xr.Dataset(coords=grid.coords())``.
        """
        lat = xr.DataArray(
            np.array(self.lat),
            dims="lat",
            attrs={
                "standard_name": "latitude",
                "long_name": "latitude of cell centre",
                "units": "degrees_north",
                "axis": "Y",
                "bounds": "lat_bnds",
            },
        )
        lon = xr.DataArray(
            np.array(self.lon),
            dims="lon",
            attrs={
                "standard_name": "longitude",
                "long_name": "longitude of cell centre",
                "units": "degrees_east",
                "axis": "X",
                "bounds": "lon_bnds",
            },
        )
        lat_b = xr.DataArray(
            np.array(self.lat_bounds),
            dims=("lat", "bnds"),
            attrs={"units": "degrees_north"},  # CF 7.1: a bounds variable inherits its parent's long_name
        )
        lon_b = xr.DataArray(
            np.array(self.lon_bounds),
            dims=("lon", "bnds"),
            attrs={"units": "degrees_east"},
        )
        return {"lat": lat, "lon": lon, "lat_bnds": lat_b, "lon_bnds": lon_b}

    def cell_area(self) -> xr.DataArray:
        """Cell areas as ``xarray.DataArray`` (lat, lon), km² (``units = "km2"``, CF ``cell_area``)."""
        c = self.coords()
        data = np.broadcast_to(np.asarray(self.cell_area_km2)[:, None], (self.nlat, self.nlon)).copy()
        return xr.DataArray(
            data,
            dims=("lat", "lon"),
            coords={"lat": c["lat"], "lon": c["lon"]},
            name="cell_area",
            attrs={
                "standard_name": "cell_area",
                "long_name": "area of grid cell on the WGS84 ellipsoid",
                "units": "km2",
            },
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(nlat, nlon)``."""
        return (self.nlat, self.nlon)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return self.nlat == other.nlat

    def __hash__(self) -> int:
        return hash(("orbitshare.Grid", self.nlat))

    def __repr__(self) -> str:
        return f"Grid(resolution_deg={self.resolution_deg!r})"
