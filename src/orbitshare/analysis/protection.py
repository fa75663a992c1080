"""Protection of GSO networks in runs: single-entry EPFD↓ per system, country summaries, the equity read-out.

RR Article 22's EPFD↓ limits (Tables 22-1A...) are SINGLE-ENTRY limits: each non-GSO system is checked
alone (the aggregate of all systems is Resolution 76 (WRC-15), not modelled). :func:`epfd_by_system` therefore
calls :func:`orbitshare.epfd` once per system with ``pfd_dbw_m2_40khz`` set and concatenates the results on a
``system`` dimension.

Country summaries (:func:`epfd_country_summary`, dataset "epfd_countries" on (system, antenna, country))
weigh cells as the accounts do (:mod:`orbitshare.analysis.accounts`): a country holds the share
``country_fraction / land share`` of a cell's people, and ``cell_area · country_fraction`` km² of its land::

    population_exceeded_fraction  Σ pop·share·exceeded / Σ pop·share          (1)
    land_exceeded_fraction        Σ area·country_fraction·exceeded / Σ area·country_fraction   (1)
    worst_margin_db               min over the country's cells of margin_db (dB; < 0: exceeded)
    exceeded_anywhere             1 where some cell of the country exceeds the limits

The groups LDC, LLDC, SIDS and world get the same from the sums over their members (``group`` dimension).

Equity read-out (:func:`gso_equity`): the administrations that are LDC, LLDC or SIDS and operate GSO
satellites (``gso_sats_own`` of the run's "gso" dataset, :func:`orbitshare.engine.gso.visible_arc`) whose own
territory sees exceedances, per antenna, and the non-GSO systems that cause them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from orbitshare.analysis.accounts import _Cells
from orbitshare.errors import ParameterError

__all__ = [
    "SINGLE_ENTRY_NOTE",
    "PROTECTION_GROUPS",
    "epfd_by_system",
    "epfd_country_summary",
    "gso_equity",
    "equity_readout",
    "no_catalogue_sentence",
]

#: what every per-system EPFD variable counts
SINGLE_ENTRY_NOTE = (
    "single entry: one non-GSO system alone, as the RR Article 22 limits apply (the aggregate of all systems, "
    "Resolution 76, is not modelled)"
)
#: the groups of the summary, with their long names
PROTECTION_GROUPS = {
    "ldc": "Least Developed Countries (UNSD M49)",
    "lldc": "Landlocked Developing Countries (UNSD M49)",
    "sids": "Small Island Developing States (UNSD M49)",
    "world": "all countries",
}


# ============================================================================ per-system EPFD
def epfd_by_system(
    systems: Sequence[Any],
    grid: Any,
    times: Any,
    *,
    frequency_mhz: float | None = None,
    pfd_sources: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Single-entry EPFD↓ of each system with ``pfd_dbw_m2_40khz`` set: one :func:`orbitshare.epfd` call per
    system (``kwargs`` passed on: antenna_diameter_m (m), arc_step_deg (deg), gso_min_elevation_deg (deg),
    margin, chunk_steps), concatenated on ``system``. ``frequency_mhz`` (MHz) None: the centre of the first
    band of the first such system, the same for all (one Article 22 mask per antenna)."""
    from orbitshare.engine.epfd import epfd

    taking = [s for s in systems if s.pfd_dbw_m2_40khz is not None]
    if not taking:
        raise ParameterError("systems: expected at least one System with pfd_dbw_m2_40khz set, got none")
    if frequency_mhz is None and taking[0].bands:
        b = taking[0].bands[0]
        frequency_mhz = 0.5 * (b.low_mhz + b.high_mhz)
    sources = dict(pfd_sources or {})
    parts = [epfd([s], grid, times, frequency_mhz=frequency_mhz, pfd_sources=sources, **kwargs) for s in taking]
    names = [s.name for s in taking]
    per_cell = [n for n, v in parts[0].data_vars.items() if "lat" in v.dims]
    ds = xr.concat([p[per_cell] for p in parts], dim="system", join="exact", combine_attrs="override")
    ds = ds.merge(parts[0].drop_vars(per_cell), combine_attrs="override")
    for v in ds.data_vars.values():
        if "system" in v.dims and "long_name" in v.attrs:
            v.attrs["long_name"] = f"{v.attrs['long_name']} ({SINGLE_ENTRY_NOTE})"
    ds = ds.assign_coords(system=xr.DataArray(names, dims="system", attrs={"long_name": "non-GSO system"}))
    ds["pfd_dbw_m2_40khz"] = xr.DataArray(
        np.array([float(s.pfd_dbw_m2_40khz) for s in taking]),
        dims="system",
        attrs={"long_name": "PFD at the ground from one satellite in the service area", "units": "dB(W/m2) in 40 kHz"},
    )
    ds["pfd_source"] = xr.DataArray(
        np.array([str(sources.get(n, "not given")) for n in names], dtype=str),
        dims="system",
        attrs={"long_name": "source of the PFD value"},
    )
    ds.attrs["single_entry"] = SINGLE_ENTRY_NOTE
    ds.attrs["systems"] = ";".join(names)
    ds.attrs["systems_without_pfd"] = ";".join(s.name for s in systems if s.pfd_dbw_m2_40khz is None)
    for key in ("pfd_sources", "pfd_dbw_m2_40khz"):
        ds.attrs.pop(key, None)
    return ds


# ============================================================================ country summaries
def _per_cell(epfd_ds: xr.Dataset, name: str) -> np.ndarray:
    """float64[system, antenna, ncell] of a (system, antenna, lat, lon) variable (lat-major cells)."""
    da = epfd_ds[name]
    if "system" not in da.dims:
        da = da.expand_dims(system=[str(epfd_ds.attrs.get("system", "system"))])
    a = np.asarray(da.transpose("system", "antenna", "lat", "lon").values, np.float64)
    return a.reshape(a.shape[0], a.shape[1], -1)


def _min_per_country(values: np.ndarray, c: np.ndarray, ncountry: int) -> np.ndarray:
    """[..., ncountry] minimum over each country's pairs of ``values`` [..., npairs] (NaN ignored; NaN if none)."""
    flat = values.reshape(-1, values.shape[-1])
    out = np.full((flat.shape[0], ncountry), np.inf)
    for r in range(flat.shape[0]):
        np.fmin.at(out[r], c, flat[r])
    out[~np.isfinite(out) & (out > 0)] = np.nan
    return out.reshape(values.shape[:-1] + (ncountry,))


def _var(dims: tuple[str, ...], data: Any, long_name: str, units: str = "1") -> xr.Variable:
    return xr.Variable(dims, data, {"long_name": long_name, "units": units})


def _membership(geography: xr.Dataset) -> np.ndarray:
    """bool[group, country] for :data:`PROTECTION_GROUPS` (False where the geography lacks a flag)."""
    n = geography.sizes["country"]
    rows = []
    for g in PROTECTION_GROUPS:
        if g == "world":
            rows.append(np.ones(n, bool))
        elif g in geography.coords or g in geography:
            rows.append(np.asarray(geography[g].values).astype(bool))
        else:
            rows.append(np.zeros(n, bool))
    return np.array(rows)


def epfd_country_summary(geography: xr.Dataset, epfd_ds: xr.Dataset) -> xr.Dataset:
    """The "epfd_countries" Dataset on (system, antenna, country) and (system, antenna, group): shares of
    population and land (1) where the Article 22 limits are exceeded, the worst margin (dB) and whether any
    cell exceeds them (module docstring). ``epfd_ds``: :func:`epfd_by_system` (or one :func:`orbitshare.epfd`
    result) on the geography's grid."""
    cells = _Cells(geography)
    cells.check_grid(epfd_ds, "epfd")
    ex = np.nan_to_num(_per_cell(epfd_ds, "exceeded"), nan=0.0) > 0  # (sys, ant, ncell)
    wpop = cells.share * cells.pop[cells.n]
    area = cells.area if cells.area is not None else np.ones(cells.ncell)
    wland = cells.frac * area[cells.n]
    exp_ = ex[..., cells.n].astype(np.float64)  # (sys, ant, npairs)
    pop_num, pop_den = cells.country_sum(exp_ * wpop), cells.country_sum(wpop)
    land_num, land_den = cells.country_sum(exp_ * wland), cells.country_sum(wland)
    any_ex = cells.country_sum(exp_) > 0
    if "margin_db" in epfd_ds:
        margin = _min_per_country(_per_cell(epfd_ds, "margin_db")[..., cells.n], cells.c, cells.ncountry)
    else:
        margin = np.full(any_ex.shape, np.nan)
    member = _membership(geography)  # (group, country)
    g_pop_num, g_pop_den = pop_num @ member.T, pop_den @ member.T
    g_land_num, g_land_den = land_num @ member.T, land_den @ member.T
    g_any = (any_ex.astype(np.float64) @ member.T) > 0
    g_margin = np.stack([np.fmin.reduce(np.where(m, margin, np.inf), axis=-1) for m in member], axis=-1)
    g_margin = np.where(np.isfinite(g_margin), g_margin, np.nan)

    def frac(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    c3, g3 = ("system", "antenna", "country"), ("system", "antenna", "group")
    what = "Article 22 EPFD-down limits exceeded (worst GSO pointing; " + SINGLE_ENTRY_NOTE + ")"
    data = {
        "population": _var(("country",), pop_den, "population on the grid", "persons"),
        "land_area": _var(("country",), land_den, "land area on the grid", "km2" if cells.area is not None else "1"),
        "population_exceeded_fraction": _var(c3, frac(pop_num, pop_den), f"share of the population where the {what}"),
        "land_exceeded_fraction": _var(c3, frac(land_num, land_den), f"share of the land where the {what}"),
        "worst_margin_db": _var(c3, margin, "smallest EPFD-down margin over the country's cells (< 0: exceeded)", "dB"),
        "exceeded_anywhere": _var(c3, any_ex.astype(np.int8), f"{what} in some cell of the country (1: yes)"),
        "group_population_exceeded_fraction": _var(g3, frac(g_pop_num, g_pop_den), f"group: population share, {what}"),
        "group_land_exceeded_fraction": _var(g3, frac(g_land_num, g_land_den), f"group: land share, {what}"),
        "group_worst_margin_db": _var(g3, g_margin, "group: smallest EPFD-down margin over its cells", "dB"),
        "group_exceeded_anywhere": _var(g3, g_any.astype(np.int8), f"group: {what} in some member (1: yes)"),
    }
    coords: dict[str, Any] = {
        "system": np.asarray(epfd_ds["system"].values if "system" in epfd_ds.dims else ["system"], dtype=str),
        "antenna": epfd_ds["antenna"],
        "group": xr.DataArray(list(PROTECTION_GROUPS), dims="group"),
        "group_name": xr.DataArray(list(PROTECTION_GROUPS.values()), dims="group"),
    }
    for name, c in geography.coords.items():
        if c.dims == ("country",):
            coords[str(name)] = c
    return xr.Dataset(
        data,
        coords=coords,
        attrs={"title": "EPFD-down against RR Article 22 per country", "single_entry": SINGLE_ENTRY_NOTE},
    )


# ============================================================================ equity read-out
def no_catalogue_sentence() -> str:
    """The read-out's one sentence when the run has no GSO catalogue."""
    return (
        "The run has no GSO catalogue with owners (the 'gso' dataset was not asked for, or its element sets hold "
        "no geostationary satellite attributed to a country), so the GSO networks of LDC, LLDC and SIDS "
        "administrations cannot be named."
    )


def gso_equity(summary: xr.Dataset, gso: xr.Dataset | None) -> xr.Dataset:
    """``summary`` with ``gso_sats_own(country)`` and ``protected_gso_exceeded(system, antenna, country)`` (1 where
    the country is LDC, LLDC or SIDS, operates GSO satellites in ``gso`` (:func:`~orbitshare.engine.gso.
    visible_arc` with occupancy) and its territory sees exceedances from the system); ``attrs["gso_catalogue"]``
    "yes" / "none" (then :func:`no_catalogue_sentence`)."""
    out = summary.copy()
    if gso is None or "gso_sats_own" not in gso or not bool((gso["gso_sats_own"] > 0).any()):
        out.attrs["gso_catalogue"] = "none"
        return out
    own = np.asarray(gso["gso_sats_own"].reindex(country=summary["country"].values, fill_value=0).values, np.int64)
    flags = [np.asarray(summary[g].values).astype(bool) for g in ("ldc", "lldc", "sids") if g in summary.coords]
    dev = np.logical_or.reduce(flags) if flags else np.zeros(own.shape, bool)
    hit = (np.asarray(summary["exceeded_anywhere"].values) > 0) & (own > 0)[None, None, :] & dev[None, None, :]
    out["gso_sats_own"] = _var(("country",), own, "GSO satellites operated by the country (run's GSO catalogue)")
    out["protected_gso_exceeded"] = _var(
        ("system", "antenna", "country"),
        hit.astype(np.int8),
        "LDC/LLDC/SIDS administration with GSO satellites whose territory sees the system exceed the Article 22 "
        "limits (1: yes; " + SINGLE_ENTRY_NOTE + ")",
    )
    out.attrs["gso_catalogue"] = "yes"
    return out


def equity_readout(summary: xr.Dataset) -> list[dict[str, Any]]:
    """Rows of the read-out: per antenna (m) and LDC/LLDC/SIDS administration with GSO satellites whose
    territory sees exceedances: ``antenna_m``, ``country``, ``country_name``, ``groups``, ``gso_sats_own``,
    ``systems`` (the systems causing them). Empty when none (or no catalogue: ``attrs["gso_catalogue"]``)."""
    if "protected_gso_exceeded" not in summary:
        return []
    hit = np.asarray(summary["protected_gso_exceeded"].values) > 0  # (sys, ant, country)
    systems = [str(s) for s in summary["system"].values]
    names = summary["country_name"].values if "country_name" in summary.coords else summary["country"].values
    rows = []
    for a, d in enumerate(np.asarray(summary["antenna"].values, np.float64)):
        for c in np.flatnonzero(hit[:, a, :].any(axis=0)):
            groups = [g.upper() for g in ("ldc", "lldc", "sids") if g in summary.coords and bool(summary[g].values[c])]
            rows.append(
                {
                    "antenna_m": float(d),
                    "country": str(summary["country"].values[c]),
                    "country_name": str(names[c]),
                    "groups": "/".join(groups),
                    "gso_sats_own": int(summary["gso_sats_own"].values[c]),
                    "systems": [systems[s] for s in np.flatnonzero(hit[:, a, c])],
                }
            )
    return rows
