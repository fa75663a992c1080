"""The capacity allocation's inputs on the grid: who subscribes, what each system may give each cell.

Definitions (per system s, country X, cell c; Mbit/s):

* ``share_X(c)``: X's share of the cell's land (as :mod:`orbitshare.engine.service`); the cell's people
  are split among its countries by it. No country, no demand: nobody subscribes at sea or in the air.
* subscribers ``N_c = population_c · Σ_X share_X(c) · adoption_X``.
* A country's subscribers are split equally among the systems that may serve it (landing rights):
  ``m_{s,X} = 1 / n_X`` where s may serve X (``n_X`` such systems), else 0. A subscriber is a customer of
  one system, so the systems never share a subscriber's demand, and the joint allocation of a step is
  block-diagonal: each system's cells are served by its own satellites only.
* demand ``D_{s,c} = busy_hour_mbps · population_c · Σ_X share_X(c) · adoption_X · m_{s,X}``.
* service cells in a grid cell ``n_c = max(1, land area_c / service_cell_km2)`` (1 without
  ``service_cell_km2``); one satellite may give a cell ``min(beams, n_c) × beam capacity`` (one beam per
  service cell), a cell may take ``max_beams_per_cell × n_c × beam capacity`` from a system.
* A satellite delivers while a gateway of its system is in view above ``gateway_mask_deg`` (its whole
  capacity, ``System.capacity_mbps``), always with ``isl`` or ``gateways = "anywhere"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from orbitshare.demand import Demand
from orbitshare.engine.coverage import served_countries
from orbitshare.errors import ParameterError
from orbitshare.kernels.allocation import RULES
from orbitshare.kernels.visibility import AllocationInputs, allocation_inputs

__all__ = ["MODEL", "DemandGrid", "allocation_dataset", "allocation_pass_inputs", "demand_grid", "land_km2"]


@dataclass(frozen=True)
class DemandGrid:
    """Subscribers and demand on the grid (module docstring).

    subscribers float64[nlat, nlon] (persons); demand float64[nsys, nlat, nlon] (Mbit/s, busy hour);
    adoption float64[ncountry] (share); demand_share float64[nsys, ncountry] (m_{s,X});
    served bool[nsys, ncountry] (s may serve X); land_km2 float64[nlat, nlon]."""

    subscribers: np.ndarray
    demand: np.ndarray
    adoption: np.ndarray
    demand_share: np.ndarray
    served: np.ndarray
    land_km2: np.ndarray


def _land_shares(geography: xr.Dataset) -> np.ndarray:
    """share_X(c) float64[ncountry, nlat, nlon]: each country's share of the cell's land (0 without land)."""
    cf = np.nan_to_num(np.asarray(geography["country_fraction"].transpose("country", "lat", "lon").values, np.float64))
    if "land_fraction" in geography:
        land = np.nan_to_num(np.asarray(geography["land_fraction"].transpose("lat", "lon").values, np.float64))
        with np.errstate(invalid="ignore", divide="ignore"):
            cf = np.where(land[None] > 0, cf / land[None], 0.0)
    return cf


def land_km2(geography: xr.Dataset, cell_area_km2: Any) -> np.ndarray:
    """Land area of each cell, km² float64[nlat, nlon]: cell area × land_fraction (or × min(1, Σ country_fraction)
    without it)."""
    if "land_fraction" in geography:
        land = np.asarray(geography["land_fraction"].transpose("lat", "lon").values, np.float64)
    else:
        land = np.asarray(geography["country_fraction"].sum("country").transpose("lat", "lon").values, np.float64)
    return np.asarray(cell_area_km2, np.float64)[:, None] * np.clip(np.nan_to_num(land), 0.0, 1.0)


def demand_grid(systems: Sequence[Any], geography: xr.Dataset, demand: Demand, cell_area_km2: Any) -> DemandGrid:
    """Subscribers and each system's busy-hour demand per cell (module docstring).

    systems : the pass's systems (landing rights read from them); geography : on the grid
    (``country_fraction``, ``population``, optionally ``land_fraction``); demand : the Demand;
    cell_area_km2 : float64[nlat] area of a cell of each row, km²."""
    isos = [str(c) for c in np.asarray(geography["country"].values)]
    adoption = np.array([demand.adoption_of(c) for c in isos], np.float64)
    served = np.stack([served_countries(s, geography) for s in systems]) if systems else np.zeros((0, len(isos)), bool)
    n_x = served.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(served, 1.0 / np.maximum(n_x, 1)[None, :], 0.0)
    pop = np.nan_to_num(np.asarray(geography["population"].transpose("lat", "lon").values, np.float64))
    shares = _land_shares(geography)
    subscribers = pop * np.tensordot(adoption, shares, axes=(0, 0))
    dem = np.stack(
        [
            demand.busy_hour_mbps * pop * np.tensordot(adoption * share[s], shares, axes=(0, 0))
            for s in range(len(systems))
        ]
    )
    return DemandGrid(
        subscribers=subscribers,
        demand=np.ascontiguousarray(np.clip(dem, 0.0, None)),
        adoption=adoption,
        demand_share=share,
        served=served,
        land_km2=land_km2(geography, cell_area_km2),
    )


def allocation_pass_inputs(
    systems: Sequence[Any], grid: Any, dgrid: DemandGrid, rule: str, *, band_sharing: bool = True
) -> AllocationInputs:
    """The chunk kernel's allocation inputs (:class:`~orbitshare.kernels.visibility.AllocationInputs`) for
    the systems (in the pass's order), the demand grid and the rule ("maxmin" or "throughput");
    ``band_sharing``: beams carry the share of their band that the co-frequency sharing leaves them."""
    if rule not in RULES[:2]:
        raise ParameterError(f"rule: expected 'maxmin' or 'throughput' for the allocation pass, got {rule!r}")
    sat_sys = np.concatenate([np.full(len(s.elements), i, np.int32) for i, s in enumerate(systems)])
    caps, pair_caps, cell_caps, masks = [], [], [], []
    gws: list[tuple[np.ndarray, np.ndarray] | None] = []
    for s in systems:
        cap = s.capacity_mbps
        if cap is None:
            raise ParameterError(
                f"System.capacity_per_sat_mbps: system {s.name!r} has no capacity; give capacity_per_sat_mbps, "
                "spectral_efficiency_bps_per_hz with beams (and bands), or beams with beam_capacity_mbps"
            )
        beam = s.beam_mbps
        n_c = np.ones_like(dgrid.land_km2)
        if s.service_cell_km2 is not None:
            n_c = np.maximum(1.0, dgrid.land_km2 / float(s.service_cell_km2))
        beams = float(s.beams) if s.beams is not None else 1.0
        caps.append(cap)
        pair_caps.append(beam * np.minimum(beams, n_c))
        cell_caps.append(s.max_beams_per_cell * beam * n_c)
        if s.isl or s.gateway_sites is None:
            gws.append(None)
        else:
            site = np.asarray(s.gateway_sites, np.float64).reshape(-1, 2)
            gws.append((site[:, 0], site[:, 1]))
        masks.append(np.radians(float(s.gateway_mask_deg)))
    return allocation_inputs(
        RULES.index(rule),
        sat_sys,
        np.array(caps, np.float64),
        np.stack(pair_caps),
        np.stack(cell_caps),
        dgrid.demand,
        gws,
        np.array(masks, np.float64),
    )._replace(band_sharing=bool(band_sharing))


#: One paragraph on the model, stored with the capacity Dataset and shown in the report.
MODEL = (
    "Capacity as delivered (fluid beam-hopping model). Each satellite offers its capacity (beams x beam "
    "capacity) while a gateway of its system is in view above the gateway mask (always with inter-satellite "
    "links or gateways = 'anywhere'); one satellite gives a grid cell at most one beam per service cell it "
    "holds (min(beams, n_c) x beam capacity), a cell takes at most max_beams_per_cell beams per service cell "
    "from a system, and never more than its demand. Demand is subscribers x the busy-hour rate per "
    "subscriber, subscribers = population x adoption, split equally among the systems that may serve the "
    "country (landing rights); nobody subscribes at sea or in the air. At every time step the satellites in "
    "view are allocated to the cells {rule}. Rates are time means over the steps, all steps taken as busy hour."
)

_RULE_TEXT = {
    "maxmin": "max-min fairly in the share of demand met (leximin: the worst-served cell first)",
    "throughput": "for the largest total (a maximum flow; how it splits among cells is not unique)",
}


def _var(dims: Any, data: Any, long_name: str, units: str, **attrs: Any) -> xr.Variable:
    return xr.Variable(dims, data, {"long_name": long_name, "units": units, **attrs})


def _gateways_text(s: Any) -> str:
    if s.isl:
        return "inter-satellite links (no gateway condition)"
    if s.gateway_sites is None:
        return "anywhere (assumed: a gateway always in view)"
    return f"{len(s.gateway_sites)} sites"


def _system_parameters(systems: Sequence[Any]) -> dict[str, xr.Variable]:
    """The allocation parameters of each system, as ``system`` coordinates (what the report quotes)."""
    nan = float("nan")
    rows = {
        "beams": ([s.beams if s.beams is not None else 1 for s in systems], "beams per satellite", "1"),
        "beam_capacity_mbps": ([s.beam_mbps for s in systems], "capacity of one beam", "Mbit/s"),
        "max_beams_per_cell": (
            [s.max_beams_per_cell for s in systems],
            "beams a service cell takes from the system",
            "1",
        ),
        "service_cell_km2": (
            [nan if s.service_cell_km2 is None else s.service_cell_km2 for s in systems],
            "area of a service cell (NaN: the grid cell)",
            "km2",
        ),
        "gateway_mask_deg": ([s.gateway_mask_deg for s in systems], "gateway elevation mask", "degree"),
        "isl": ([int(bool(s.isl)) for s in systems], "inter-satellite links (1) or bent pipe (0)", "1"),
    }
    out = {k: xr.Variable("system", np.asarray(v), {"long_name": ln, "units": u}) for k, (v, ln, u) in rows.items()}
    out["gateways"] = xr.Variable("system", np.array([_gateways_text(s) for s in systems], dtype=str),
                                  {"long_name": "where the satellites find a gateway"})  # fmt: skip
    return out


def allocation_dataset(
    systems: Sequence[Any],
    state: Any,
    times: Any,
    geography: xr.Dataset,
    dgrid: DemandGrid,
    demand: Demand,
    rule: str,
    coords: dict,
    attrs: dict,
    share_var: xr.Variable,
) -> xr.Dataset:
    """The capacity Dataset of an allocation pass (rule "maxmin" or "throughput"); ``state`` is the pass's
    merged ChunkState (``capacity_sum`` = served Mbit/s summed over steps, ``offered`` / ``delivered``
    per step). Variables: see :func:`orbitshare.engine.service.service`."""
    nt = np.float64(state.nsteps)
    served = state.capacity_sum / nt
    total = served.sum(axis=0)
    dem_total = dgrid.demand.sum(axis=0)
    subs = dgrid.subscribers
    with np.errstate(invalid="ignore", divide="ignore"):
        met = np.where(dem_total > 0, total / dem_total, np.nan)
        per_sub = np.where(subs > 0, total / subs, np.nan)
        sys_met = np.where(dgrid.demand > 0, served / dgrid.demand, np.nan)
    overbooking = float(getattr(demand, "overbooking", 1.0))
    offered, delivered = state.offered, state.delivered
    nsat = np.array([len(s.elements) for s in systems], np.float64)
    caps = np.array([s.capacity_mbps for s in systems], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        utilisation = np.where(offered.sum(axis=1) > 0, delivered.sum(axis=1) / offered.sum(axis=1), np.nan)
        gw_fraction = np.where(nsat * caps > 0, offered.sum(axis=1) / (nsat * caps * nt), np.nan)
    cell, mean = ("system", "lat", "lon"), {"cell_methods": "time: mean"}
    step, area = ("system", "time"), {"cell_methods": "area: sum"}
    rate = "Mbit/s"
    data = {
        "subscribers": _var(("lat", "lon"), subs, "subscribers in the cell (population x adoption)", "1"),
        "demand_mbps": _var(
            ("lat", "lon"), dem_total, "busy-hour demand of the cell's subscribers that some system may serve", rate
        ),
        "system_demand_mbps": _var(cell, dgrid.demand, "the system's share of the cell's busy-hour demand", rate),
        "served_mbps": _var(cell, served, "rate the system's satellites serve the cell (allocated)", rate, **mean),
        "demand_met_fraction": _var(
            ("lat", "lon"),
            met,
            "share of the cell's demand met, all systems",
            "1",
            comment="served / demand; NaN where there is no demand",
            **mean,
        ),  # fmt: skip
        "served_per_subscriber_mbps": _var(
            ("lat", "lon"),
            per_sub,
            "rate served per subscriber, all systems",
            rate,
            comment="served / subscribers; NaN where nobody subscribes",
            **mean,
        ),  # fmt: skip
        "active_user_mbps": _var(
            ("lat", "lon"),
            per_sub * overbooking,
            "busy-hour rate per active user, all systems",
            rate,
            comment=f"served per subscriber x overbooking ({overbooking:g} subscribers per active user); the "
            "meaningful-connectivity thresholds are compared with it",
            **mean,
        ),  # fmt: skip
        "system_demand_met_fraction": _var(cell, sys_met, "share of the system's demand in the cell met", "1", **mean),
        "offered_step_mbps": _var(
            step, offered, "capacity of the satellites that may deliver (gateway in view)", rate, **area
        ),  # fmt: skip
        "delivered_step_mbps": _var(step, delivered, "rate served over all cells", rate, **area),
        "unused_step_mbps": _var(step, offered - delivered, "capacity offered but not served", rate, **area),
        "offered_mbps": _var("system", offered.sum(axis=1) / nt, "capacity that may deliver", rate, **mean),
        "delivered_mbps": _var("system", delivered.sum(axis=1) / nt, "rate served over all cells", rate, **mean),
        "unused_mbps": _var("system", (offered - delivered).sum(axis=1) / nt, "capacity not served", rate, **mean),
        "satellite_utilisation": _var("system", utilisation, "served / offered over the period", "1"),
        "gateway_fraction": _var(
            "system", gw_fraction, "share of satellite-steps able to deliver (gateway in view, or ISL)", "1"
        ),
        "capacity_per_sat_mbps": _var("system", caps, "capacity of each satellite", rate),
        "adoption": _var("country", dgrid.adoption, "subscribing share of the population", "1"),
        "demand_share": _var(
            ("system", "country"),
            dgrid.demand_share,
            "the system's share of the country's subscribers",
            "1",
            comment="1 / (number of systems that may serve the country) where this one may, else 0",
        ),  # fmt: skip
        "served_share": share_var,
    }
    ccoords = dict(coords)
    pop = np.nan_to_num(np.asarray(geography["population"].transpose("lat", "lon").values, np.float64))
    ccoords["population"] = xr.Variable(("lat", "lon"), pop, {"long_name": "population of the cell", "units": "1"})
    ccoords["time"] = xr.Variable(
        "time",
        np.asarray(times.time, "datetime64[ns]"),
        {"standard_name": "time", "long_name": "time of step (UTC)", "axis": "T"},
    )
    ccoords["country"] = xr.Variable("country", np.asarray(geography["country"].values))
    ccoords.update(_system_parameters(systems))
    return xr.Dataset(
        data,
        coords=ccoords,
        attrs={
            **attrs,
            "rule": rule,
            "busy_hour_mbps": float(demand.busy_hour_mbps),
            "overbooking": overbooking,
            "thresholds_mbps": np.asarray(demand.thresholds_mbps, np.float64),
            "adoption_source": str(demand.adoption_source),
            "model": MODEL.format(rule=_RULE_TEXT[rule]),
        },
    )
