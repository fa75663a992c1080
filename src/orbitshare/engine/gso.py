"""The geostationary arc: who occupies it, and how much of it each country can see.

* :func:`geostationary` picks the GSO objects of an element set (thresholds are parameters).
* :func:`subsatellite_longitudes` gives their Earth-fixed longitudes at one instant (SGP4/SDP4,
  then TEME → ITRS as :func:`orbitshare.engine.propagation.propagate` does).
* :func:`arc_occupancy` counts objects per longitude bin (default 0.5°) and operating country.
* :func:`visible_arc` gives, per country, the part of the arc visible from its territory above each
  elevation mask, how many GSO satellites sit in it, how many are the country's own, and an
  illustrative Appendix-30B-style equal-entitlement baseline.

Geometry of the visible arc
---------------------------
A GSO *slot* at longitude λs is the point ``(r cos λs, r sin λs, 0)`` km (ITRS), r =
:data:`GSO_RADIUS_KM` = 42,164.17 km. A ground point is a cell centre on the WGS84 ellipsoid (height
0) at geodetic latitude φ, longitude λ: ``p = (N cos φ cos λ, N cos φ sin λ, N (1 − e²) sin φ)`` with
geodetic up-normal ``n = (cos φ cos λ, cos φ sin λ, sin φ)``. The slot's elevation is
``asin(n · d / |d|)``, ``d = slot − p`` (the geodetic-vertical test, not the geocentric one). It
depends on λs only through ``c = cos(λs − λ)`` and increases with c, so the slots above a mask m
form one interval ``|λs − λ| < Δ(φ, m)`` centred on the cell's meridian, where ``cos Δ`` is the
larger root c₊ of ``A²c² + (2AB + S2·E)c + (B² − S2·D) = 0`` (the row formula of DESIGN.md with
ρ = r, z = 0; S2 = sin² m). On the equator the ellipsoid's normal is radial and Δ(0, 0) =
acos(a / r) = 81.30°. A slot is visible from a country when it is above the mask from ANY cell with
``country_fraction > 0``; the country's arc is the union of its cells' intervals on the circle,
measured exactly (no binning). The highest GSO elevation seen from latitude φ is that of the slot
on the cell's own meridian (``max_elevation_deg``): about 6.4° at 75° N, so no slot clears 10° there.

Defaults of :func:`geostationary`: a geosynchronous mean motion is one revolution per *sidereal*
day, 1.0027379 rev/day (:data:`SIDEREAL_REV_PER_DAY`); objects within (0.99, 1.01) rev/day (drift
under about ±3.6°/day), eccentricity ≤ 0.01 and inclination ≤ 5° count as geostationary. CelesTrak's
``geo`` group also holds inclined (drifting or decommissioned) objects; they fail the inclination
test.
"""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np

from orbitshare.constants import WGS84_A_KM, WGS84_E2
from orbitshare.elements.elementset import ElementSet
from orbitshare.engine.propagation import propagate
from orbitshare.errors import ParameterError
from orbitshare.timegrid import TimeGrid, time_grid_from_times

__all__ = [
    "GSO_RADIUS_KM",
    "SIDEREAL_REV_PER_DAY",
    "geostationary",
    "subsatellite_longitudes",
    "arc_occupancy",
    "visible_arc",
    "visible_half_width_deg",
    "max_gso_elevation_deg",
    "gso_elevation_deg",
    "longitude_bins",
]

#: Radius of the geostationary orbit, km (the IAU/ITU conventional 42,164.17 km).
GSO_RADIUS_KM = 42164.17
#: Earth rotations per solar day: the mean motion of a geosynchronous orbit, rev/day.
SIDEREAL_REV_PER_DAY = 1.00273790935

UNATTRIBUTED = "unattributed"


# ============================================================================ identification
def geostationary(
    elements: ElementSet, *, mean_motion_rev_per_day=(0.99, 1.01), max_eccentricity=0.01, max_inclination_deg=5.0
) -> np.ndarray:
    """bool[n]: which objects are geostationary.

    True when ``lo <= mean_motion <= hi`` (rev/day, Kozai, as in the TLE/OMM), ``eccentricity <=
    max_eccentricity`` and ``inclination <= max_inclination_deg`` (deg). The defaults bracket the
    sidereal rate 1.0027 rev/day (:data:`SIDEREAL_REV_PER_DAY`) within ±1 %.
    """
    lo, hi = (float(x) for x in mean_motion_rev_per_day)
    if not lo <= hi:
        raise ParameterError(
            f"mean_motion_rev_per_day: expected (low, high) with low <= high, got {mean_motion_rev_per_day!r}"
        )
    n = np.asarray(elements.mean_motion, dtype=np.float64)
    return (
        (n >= lo)
        & (n <= hi)
        & (np.asarray(elements.eccentricity) <= float(max_eccentricity))
        & (np.asarray(elements.inclination) <= float(max_inclination_deg))
    )


def _one_time(time) -> TimeGrid:
    if isinstance(time, TimeGrid):
        tg = time
    else:
        if isinstance(time, (str, _dt.datetime, np.datetime64)):
            time = [time]
        tg = time_grid_from_times(time)
    if len(tg) != 1:
        raise ParameterError(f"time: expected one instant, got {len(tg)}")
    return tg


def _wrap180(lon_deg):
    out = np.mod(np.asarray(lon_deg, dtype=np.float64) + 180.0, 360.0) - 180.0
    out[out >= 180.0] -= 360.0
    return out


def subsatellite_longitudes(elements: ElementSet, time) -> np.ndarray:
    """float64[n]: Earth-fixed (ITRS) longitude of each object at ``time``, degrees in [-180, 180).

    ``time``: one instant (timezone-aware datetime, ISO string with zone, datetime64 UTC, or a
    length-1 TimeGrid). Objects whose propagation fails get NaN. The longitude of the sub-satellite
    point is the same geodetic or geocentric: ``atan2(y, x)``.
    """
    tg = _one_time(time)
    if len(elements) == 0:
        return np.zeros(0)
    e, r, _ = propagate(elements, tg, frame="itrs")
    lon = np.degrees(np.arctan2(r[:, 0, 1], r[:, 0, 0]))
    lon = _wrap180(lon)
    lon[(e[:, 0] != 0) | ~np.isfinite(lon)] = np.nan
    return lon


# ============================================================================ occupancy
def longitude_bins(bin_deg: float = 0.5):
    """(centres float64[nb], bounds float64[nb, 2]) of ``bin_deg`` bins covering [-180, 180)."""
    bin_deg = float(bin_deg)
    nb_f = 360.0 / bin_deg if bin_deg > 0 else math.inf
    nb = int(round(nb_f))
    if not (0 < bin_deg <= 360) or abs(nb_f - nb) > 1e-9:
        raise ParameterError(f"bin_deg: expected a positive number of degrees that divides 360, got {bin_deg!r}")
    edges = np.linspace(-180.0, 180.0, nb + 1)
    return 0.5 * (edges[:-1] + edges[1:]), np.stack([edges[:-1], edges[1:]], axis=1)


def _bin_index(lon, bin_deg, nb):
    return np.minimum(np.floor((lon + 180.0) / bin_deg).astype(np.int64), nb - 1)


def _lon_coords(bin_deg):
    import xarray as xr

    centres, bounds = longitude_bins(bin_deg)
    return {
        "longitude": xr.DataArray(
            centres,
            dims="longitude",
            attrs={
                "standard_name": "longitude",
                "long_name": "longitude of GSO arc bin centre",
                "units": "degrees_east",
                "axis": "X",
                "bounds": "longitude_bnds",
            },
        ),
        "longitude_bnds": xr.DataArray(
            bounds,
            dims=("longitude", "bnds"),
            attrs={"units": "degrees_east"},  # (CF: bounds carry no long_name)
        ),
    }


def _owner_array(owners, n):
    if owners is None:
        return np.full(n, UNATTRIBUTED, dtype=object)
    a = np.asarray(getattr(owners, "owner", owners), dtype=object)
    if a.shape != (n,):
        raise ParameterError(f"owners: expected {n} values aligned with elements, got shape {a.shape}")
    return np.array([UNATTRIBUTED if v is None or str(v) == "" else str(v) for v in a], dtype=object)


def arc_occupancy(elements: ElementSet, owners, time, *, bin_deg: float = 0.5, gso=None):
    """Occupancy of the geostationary arc per longitude bin and operating country.

    Parameters
    ----------
    elements : ElementSet (n)
    owners : :class:`orbitshare.elements.owners.Owners` or str[n] aligned with ``elements`` (ISO alpha-3 or
        ``"unattributed"``); None → all unattributed.
    time : one instant (see :func:`subsatellite_longitudes`).
    bin_deg : bin width, degrees (must divide 360).
    gso : bool[n], optional — which objects to count (default :func:`geostationary` with its defaults).

    Returns an ``xarray.Dataset``::

        count(owner, longitude)      int32  GSO objects per bin and owner
        count_all(longitude)         int32  all GSO objects per bin (sum over owner)
        sat_longitude(satellite)     float64 degrees_east, the GSO objects' longitudes (NaN: failed)
        sat_owner(satellite)         str
        coords: longitude (bin centres, CF, bounds longitude_bnds), owner (ISO alpha-3, sorted by
                count, "unattributed" last), satellite (NORAD), sat_name
        attrs: time, bin_deg, n_gso, n_counted, n_failed (propagation failures, not counted)

    ``count.sum() == count_all.sum() == n_counted == n_gso - n_failed``.
    """
    import xarray as xr

    n = len(elements)
    own = _owner_array(owners, n)
    sel = geostationary(elements) if gso is None else np.asarray(gso, dtype=bool)
    if sel.shape != (n,):
        raise ParameterError(f"gso: expected bool[{n}], got shape {sel.shape}")
    tg = _one_time(time)
    idx = np.flatnonzero(sel)
    sub = elements[idx]
    lon = subsatellite_longitudes(sub, tg)
    sub_own = own[idx]
    ok = np.isfinite(lon)
    centres, _ = longitude_bins(bin_deg)
    nb = len(centres)
    b = _bin_index(lon[ok], float(bin_deg), nb)
    o = sub_own[ok]
    uniq, cnt = np.unique(o.astype(str), return_counts=True) if len(o) else (np.zeros(0, str), np.zeros(0, int))
    order = sorted(range(len(uniq)), key=lambda i: (uniq[i] == UNATTRIBUTED, -cnt[i], uniq[i]))
    owner_list = [str(uniq[i]) for i in order]
    pos = {c: i for i, c in enumerate(owner_list)}
    count = np.zeros((len(owner_list), nb), np.int32)
    if len(o):
        np.add.at(count, (np.array([pos[str(x)] for x in o], np.int64), b), 1)
    coords = _lon_coords(bin_deg)
    coords["owner"] = xr.DataArray(
        np.array(owner_list, dtype=str),
        dims="owner",
        attrs={"long_name": "operating country (ISO 3166-1 alpha-3) or 'unattributed'"},
    )
    coords["satellite"] = xr.DataArray(
        np.asarray(sub.norad, np.int64), dims="satellite", attrs={"long_name": "NORAD catalog number"}
    )
    coords["sat_name"] = xr.DataArray(
        np.asarray(sub.name, dtype=str), dims="satellite", attrs={"long_name": "object name"}
    )
    t_str = np.datetime_as_string(tg.time[0], unit="s") + "Z"
    return xr.Dataset(
        {
            "count": (
                ("owner", "longitude"),
                count,
                {
                    "long_name": "geostationary objects per longitude bin and operating country",
                    "units": "1",
                    "cell_methods": "longitude: sum",
                },
            ),
            "count_all": (
                "longitude",
                count.sum(axis=0, dtype=np.int32),
                {
                    "long_name": "geostationary objects per longitude bin",
                    "units": "1",
                    "cell_methods": "longitude: sum owner: sum",
                },
            ),
            "sat_longitude": (
                "satellite",
                lon,
                {"long_name": "sub-satellite longitude (ITRS)", "units": "degrees_east"},
            ),
            "sat_owner": (
                "satellite",
                np.asarray(sub_own, dtype=str),
                {"long_name": "operating country (ISO 3166-1 alpha-3) or 'unattributed'"},
            ),
        },
        coords=coords,
        attrs={
            "Conventions": "CF-1.10",
            "title": "geostationary arc occupancy",
            "time": t_str,
            "bin_deg": float(bin_deg),
            "n_gso": int(len(idx)),
            "n_counted": int(ok.sum()),
            "n_failed": int((~ok).sum()),
        },
    )


# ============================================================================ visibility geometry
def _row_terms(lat_deg, r_km):
    phi = np.radians(np.asarray(lat_deg, dtype=np.float64))
    s, c = np.sin(phi), np.cos(phi)
    nn = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * s * s)
    pxy, pz = nn * c, nn * (1.0 - WGS84_E2) * s
    a = c * r_km
    b = -(c * pxy + s * pz)
    d = r_km * r_km + pxy * pxy + pz * pz
    e = 2.0 * pxy * r_km
    return a, b, d, e


def visible_half_width_deg(lat_deg, mask_deg, r_km: float = GSO_RADIUS_KM):
    """Half-width Δ (deg) of the GSO slot longitudes above ``mask_deg`` from a ground point.

    From the WGS84 surface at geodetic latitude ``lat_deg`` (any longitude λ), the slots with
    ``|λs − λ| < Δ`` have geodetic elevation > ``mask_deg``. Broadcasts; −1 where no slot clears the
    mask, 180 where all do. ``mask_deg`` in [0, 90).
    """
    m = np.asarray(mask_deg, dtype=np.float64)
    if np.any(~(m >= 0) | (m >= 90)):
        raise ParameterError(f"mask_deg: expected elevation masks in [0, 90) degrees, got {mask_deg!r}")
    a, b, d, e = _row_terms(lat_deg, float(r_km))
    s2 = np.sin(np.radians(m)) ** 2
    qa = a * a
    qb = 2.0 * a * b + s2 * e
    qc = b * b - s2 * d
    disc = np.maximum(qb * qb - 4.0 * qa * qc, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cplus = np.where(s2 > 0, (-qb + np.sqrt(disc)) / (2.0 * qa), -b / a)
    hw = np.degrees(np.arccos(np.clip(cplus, -1.0, 1.0)))
    hw = np.where(cplus >= 1.0, -1.0, np.where(cplus <= -1.0, 180.0, hw))
    return hw


def max_gso_elevation_deg(lat_deg, r_km: float = GSO_RADIUS_KM):
    """Highest geodetic elevation (deg) of any GSO slot from the WGS84 surface at ``lat_deg``: the
    slot on the point's own meridian, ``asin((A + B) / √(D − E))`` in the notation of the module."""
    a, b, d, e = _row_terms(lat_deg, float(r_km))
    return np.degrees(np.arcsin(np.clip((a + b) / np.sqrt(d - e), -1.0, 1.0)))


def gso_elevation_deg(lat_deg, lon_deg, slot_lon_deg, r_km: float = GSO_RADIUS_KM):
    """Geodetic elevation (deg) of the GSO slot at ``slot_lon_deg`` from the WGS84 surface point
    (``lat_deg``, ``lon_deg``); broadcasts."""
    a, b, d, e = _row_terms(lat_deg, float(r_km))
    c = np.cos(np.radians(np.asarray(slot_lon_deg, np.float64) - np.asarray(lon_deg, np.float64)))
    return np.degrees(np.arcsin(np.clip((a * c + b) / np.sqrt(d - e * c), -1.0, 1.0)))


def _union_on_circle(centres, half):
    """Disjoint intervals (starts, ends) in [-180, 180] covering ∪ [c − h, c + h] (mod 360)."""
    if len(centres) == 0:
        return np.zeros(0), np.zeros(0)
    if np.any(half >= 180.0):
        return np.array([-180.0]), np.array([180.0])
    a = _wrap180(np.asarray(centres) - half)
    b = a + 2.0 * half
    wrap = b > 180.0
    s = np.concatenate([a, np.full(int(wrap.sum()), -180.0)])
    t = np.concatenate([np.minimum(b, 180.0), b[wrap] - 360.0])
    order = np.argsort(s, kind="stable")
    s, t = s[order], t[order]
    tmax = np.maximum.accumulate(t)
    new = np.empty(len(s), bool)
    new[0] = True
    new[1:] = s[1:] > tmax[:-1]
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(s) - 1]
    return s[first], tmax[last]


def _in_union(x, starts, ends):
    if len(starts) == 0:
        return np.zeros(np.shape(x), bool)
    x = np.asarray(x, np.float64)
    i = np.searchsorted(starts, x, side="right") - 1
    ok = i >= 0
    out = np.zeros(x.shape, bool)
    out[ok] = x[ok] <= ends[i[ok]]
    return out & np.isfinite(x)


def visible_arc(
    geography, *, masks_deg=(5.0, 10.0), bin_deg: float = 0.5, occupancy=None, entitlement_per_administration: int = 1
):
    """The GSO arc visible from each country, and (with ``occupancy``) the satellites in it.

    Parameters
    ----------
    geography : xarray.Dataset with ``country_fraction(country, lat, lon)`` (as from
        :func:`orbitshare.geography`; any 1-D ``lat``/``lon`` cell centres, degrees). A slot is
        visible from a country when it is above the mask from any cell with ``country_fraction > 0``
        (exact geodetic-vertical test from the cell centre on the WGS84 surface).
    masks_deg : elevation masks, degrees in [0, 90).
    bin_deg : width of the ``longitude`` bins of ``visible`` (must divide 360).
    occupancy : Dataset from :func:`arc_occupancy`, optional; adds the satellite counts.
    entitlement_per_administration : positions per administration of the equal-entitlement baseline.

    Returns an ``xarray.Dataset``::

        arc_visible_deg(country, mask)       float64 degree: length of the visible arc (exact union)
        visible(country, mask, longitude)    bool: bin centre inside the visible arc
        max_elevation_deg(country)           float64 degree: highest GSO elevation from the country
                                             (NaN: no cell)
        with occupancy:
        gso_sats_visible(country, mask)      int32: GSO satellites whose longitude is in the arc
        gso_sats_own(country)                int32: GSO satellites operated by the country
        entitlement_positions(country)       int32: baseline positions (= entitlement_per_administration)
        holdings_vs_entitlement(country)     int32: gso_sats_own − entitlement_positions
        holdings_ratio(country)              float64: gso_sats_own / entitlement_positions
        coords: country (+ the geography's country coordinates), mask (degree), longitude (+ bounds)

    The baseline is a deliberately simple illustration in the spirit of the ITU Radio Regulations
    Appendix 30B plan (one orbital position per administration for the planned FSS bands): it
    ignores bands, coverage areas and real filings; it only says how far each country's GSO
    holdings are from "one each". Owners that are not in the geography's ``country`` dimension
    (and ``unattributed``) appear only in ``attrs["gso_sats_other_owners"]``.
    """
    import xarray as xr

    masks = np.atleast_1d(np.asarray(masks_deg, dtype=np.float64))
    lat = np.asarray(geography["lat"].values, np.float64)
    lon = np.asarray(geography["lon"].values, np.float64)
    countries = np.asarray(geography["country"].values).astype(str)
    nc, nm = len(countries), len(masks)
    hw = visible_half_width_deg(lat[None, :], masks[:, None])  # (mask, lat)
    el_max_row = max_gso_elevation_deg(lat)
    centres, _ = longitude_bins(bin_deg)
    nb = len(centres)

    sat_lon: np.ndarray | None = None
    sat_own: np.ndarray | None = None
    if occupancy is not None:
        sat_lon = np.asarray(occupancy["sat_longitude"].values, np.float64)
        sat_own = np.asarray(occupancy["sat_owner"].values).astype(str)
    arc = np.zeros((nc, nm))
    vis = np.zeros((nc, nm, nb), bool)
    elmax = np.full(nc, np.nan)
    nvis = np.zeros((nc, nm), np.int32)
    cf = geography["country_fraction"]
    for k in range(nc):
        frac = np.asarray(cf.isel(country=k).transpose("lat", "lon").values)
        ii, jj = np.nonzero(frac > 0)
        if len(ii) == 0:
            continue
        elmax[k] = el_max_row[ii].max()
        for m in range(nm):
            h = hw[m, ii]
            keep = h > 0
            starts, ends = _union_on_circle(lon[jj[keep]], h[keep])
            arc[k, m] = float(np.sum(ends - starts))
            vis[k, m] = _in_union(centres, starts, ends)
            if sat_lon is not None:
                nvis[k, m] = int(_in_union(sat_lon, starts, ends).sum())

    coords = _lon_coords(bin_deg)
    coords["country"] = geography["country"]
    for name, c in geography.coords.items():
        if c.dims == ("country",) and name != "country":
            coords[name] = c
    coords["mask"] = xr.DataArray(
        masks, dims="mask", attrs={"long_name": "elevation mask (geodetic)", "units": "degree"}
    )
    data = {
        "arc_visible_deg": (
            ("country", "mask"),
            arc,
            {"long_name": "length of the geostationary arc visible from the country above the mask", "units": "degree"},
        ),
        "visible": (
            ("country", "mask", "longitude"),
            vis,
            {"long_name": "GSO slot at the bin centre is above the mask from some cell of the country"},
        ),
        "max_elevation_deg": (
            "country",
            elmax,
            {"long_name": "highest elevation of any GSO slot from the country", "units": "degree"},
        ),
    }
    attrs = {
        "Conventions": "CF-1.10",
        "title": "geostationary arc visible per country",
        "gso_radius_km": GSO_RADIUS_KM,
        "bin_deg": float(bin_deg),
        "visibility_rule": "slot above the mask from any cell with country_fraction > 0; "
        "geodetic elevation from the cell centre on the WGS84 surface",
    }
    if occupancy is not None and sat_lon is not None and sat_own is not None:
        ent = int(entitlement_per_administration)
        if ent < 1:
            raise ParameterError(
                f"entitlement_per_administration: expected an integer >= 1, got {entitlement_per_administration!r}"
            )
        ok = np.isfinite(sat_lon)
        pos = {c: i for i, c in enumerate(countries)}
        own = np.zeros(nc, np.int32)
        other: dict[str, int] = {}
        for o in sat_own[ok]:
            if o in pos:
                own[pos[o]] += 1
            else:
                other[o] = other.get(o, 0) + 1
        data.update(
            {
                "gso_sats_visible": (
                    ("country", "mask"),
                    nvis,
                    {"long_name": "GSO satellites whose longitude lies in the country's visible arc", "units": "1"},
                ),
                "gso_sats_own": ("country", own, {"long_name": "GSO satellites operated by the country", "units": "1"}),
                "entitlement_positions": (
                    "country",
                    np.full(nc, ent, np.int32),
                    {
                        "long_name": "equal-entitlement baseline: orbital positions per administration "
                        "(Appendix-30B-style illustration)",
                        "units": "1",
                    },
                ),
                "holdings_vs_entitlement": (
                    "country",
                    own - np.int32(ent),
                    {"long_name": "own GSO satellites minus equal-entitlement positions", "units": "1"},
                ),
                "holdings_ratio": (
                    "country",
                    own / float(ent),
                    {"long_name": "own GSO satellites per equal-entitlement position", "units": "1"},
                ),
            }
        )
        attrs.update(
            {
                "occupancy_time": occupancy.attrs.get("time", ""),
                "n_gso_counted": int(ok.sum()),
                "gso_sats_other_owners": ";".join(f"{k}:{v}" for k, v in sorted(other.items())),
            }
        )
    return xr.Dataset(data, coords=coords, attrs=attrs)
