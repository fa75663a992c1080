"""Spectrum and capacity per cell: bands, MHz available, and the capacity allocated to the cells.

Capacity has two models. The default, ``rule="maxmin"`` (or ``"throughput"``), ALLOCATES each step's
satellites to the cells with demand, beam-, cell-, gateway- and demand-limited (the inputs in
:mod:`orbitshare.engine.allocation`, the kernel in :mod:`orbitshare.kernels.allocation`).
``rule="proportional"`` is the old sharing rule described under "Capacity" below, kept for comparison.

:func:`service` runs ONE streaming pass (:func:`orbitshare.engine.coverage.run_coverage`, with the
capacity accumulation of :func:`orbitshare.kernels.visibility.accumulate_chunk` switched on) and
returns ``{"coverage", "spectrum", "capacity"}`` Datasets. Definitions, per system ``s``, cell ``c``
and step ``k`` (``V(s, k)``: the satellites of ``s`` visible from c at step k, the exact elevation
test of the coverage engine; ``N`` steps):

Served share (landing rights)
-----------------------------
``share_X(c)``: country X's share of the cell's LAND, ``country_fraction / land_fraction`` (0 where
the cell has no land) when the geography has ``land_fraction`` (then ``country_fraction`` is a share
of the cell's area, as :func:`orbitshare.geo.build.geography` makes it), else ``country_fraction``
itself (then it is already a share of the land; the convention of :func:`orbitshare.engine.coverage.coverage`).
The served share ``s_c`` in [0, 1]:

* no ``serve_countries`` and no ``exclude_countries``: 1 in every cell, ocean included;
* ``serve_countries`` given: Σ over the served countries (those listed, less any excluded) of
  share_X(c), capped at 1 — 0 where there is no land (the issue's ``Σ country_fraction /
  land_fraction``);
* only ``exclude_countries``: 1 − Σ over the excluded countries of share_X(c), floored at 0 — 1 over
  the ocean (excluding a country does not take the system off the sea).

Spectrum
--------
For each band ``b`` of ``s`` (width ``W_b = high_mhz − low_mhz``)::

    mhz_available(s, b, c)     = W_b · #{k : |V(s, k)| ≥ 1} / N · s_c
    mhz_sat_available(s, b, c) = W_b · Σ_k |V(s, k)| / N · s_c

(the number of steps with at least one satellite is counted separately from ``covered_fraction``,
which uses the system's ``min_visible``). The ``band`` dimension holds the distinct band NAMES of all
systems in order of first appearance; a band name may carry different edges in different systems
(``band_low_mhz(system, band)``, ``band_high_mhz``). Where a system lacks a band every variable of
that (system, band) is NaN — not 0, which means "this band, but no satellite in view".

Capacity (``rule="proportional"``)
----------------------------------
Weight of a cell: ``w_c = population_c · s_c`` (``weighting="population"``) or ``w_c = land area_c ·
s_c`` (``"area"``; land area = cell_area · land_fraction, or cell_area · min(1, Σ country_fraction)
without land_fraction). At each step each visible satellite i of s with capacity ``cap`` (Mbps)
shares it among the cells it sees in proportion to their weight::

    P_i = Σ_{c visible from i} w_c;   if P_i > 0 cell c receives cap · w_c / P_i   (else i delivers nothing)

    capacity_mbps(s, c)            = Σ_k Σ_{i ∈ V(s, k), P_i > 0} cap · w_c / P_i  / N
    capacity_per_person_mbps(s, c) = capacity_mbps / population_c  (NaN where population_c is 0)
    offered_step_mbps(s, k)        = Σ_{i visible from some cell of positive weight} cap
    delivered_step_mbps(s, k)      = Σ_c (capacity the cells receive at step k)  (= offered: conservation)

``capacity_per_person_mbps`` divides by the cell's whole population; under landing rights the
served persons alone get ``capacity_mbps / (population · served_share)``. A cell split between a
served and an unserved country gets capacity in proportion to its served population only. Under
landing rights the three Datasets also carry ``served_country(system, country)`` (int8, 1 = may
serve; :func:`orbitshare.engine.coverage.served_countries`) and ``serves_unlisted(system)``, with which
:func:`orbitshare.analysis.accounts.country_accounts` gives the served countries of a cell its capacity,
MHz and covered people, and an unserved country exactly 0.

Accuracy and determinism: per-cell capacity equals the NumPy brute force (every satellite against
every cell) to ~1e-15 relative (tested at 1e-9); zeros are exact. Results are bit-identical for any
thread count; another ``chunk_steps`` regroups the float sums over time, changing ``capacity_mbps``,
``delivered_mbps`` and ``offered_mbps`` by ~1e-15 relative (tested at 1e-12); all other outputs are
exact integers until the final division and do not change at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from orbitshare.demand import Demand
from orbitshare.engine.allocation import allocation_dataset, allocation_pass_inputs, demand_grid, land_km2
from orbitshare.engine.backends import ALLOCATION_NOT_ON_CUDA, check_backend
from orbitshare.engine.coverage import (
    check_codes,
    check_geography,
    country_index,
    landing_rights_coverage,
    run_coverage,
    served_countries,
)
from orbitshare.engine.passinputs import prepare_pass
from orbitshare.errors import BackendError, ParameterError, ParameterTypeError
from orbitshare.grid import Grid
from orbitshare.kernels.allocation import RULES
from orbitshare.system import as_systems
from orbitshare.timegrid import TimeGrid

__all__ = ["served_countries", "served_share", "service", "WEIGHTINGS"]

#: Weightings of the capacity shares.
WEIGHTINGS = ("population", "area")


# --------------------------------------------------------------------------- shares and weights
def _land_share_sum(geography, isos) -> np.ndarray:
    """Σ over ``isos`` of the countries' shares of each cell's land, float64[nlat, nlon]."""
    idx = country_index(geography)
    cf = geography["country_fraction"].transpose("country", "lat", "lon")
    nlat, nlon = cf.shape[1], cf.shape[2]
    total = np.zeros((nlat, nlon))
    for iso in isos:
        total += np.nan_to_num(np.asarray(cf.isel(country=idx[iso]).values, dtype=np.float64), nan=0.0)
    if "land_fraction" in geography:
        land = np.nan_to_num(np.asarray(geography["land_fraction"].transpose("lat", "lon").values, np.float64), nan=0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            total = np.where(land > 0, total / land, 0.0)
    return total


def served_share(system: Any, geography: xr.Dataset) -> np.ndarray:
    """The system's served share of each cell, float64[nlat, nlon] in [0, 1] (module docstring).

    Raises ValueError naming the field when a country code is not in the geography."""
    if not system.has_landing_rights:
        cf = geography["country_fraction"]
        return np.ones((cf.sizes["lat"], cf.sizes["lon"]))
    idx = country_index(geography)
    check_codes(system, idx)
    excl = set(system.exclude_countries)
    if system.serve_countries is not None:
        served = [c for c in system.serve_countries if c not in excl]
        return np.clip(_land_share_sum(geography, served), 0.0, 1.0)
    return np.clip(1.0 - _land_share_sum(geography, system.exclude_countries), 0.0, 1.0)


def _population(geography) -> np.ndarray:
    return np.nan_to_num(np.asarray(geography["population"].transpose("lat", "lon").values, np.float64), nan=0.0)


# --------------------------------------------------------------------------- the pass
def service(
    systems,
    grid,
    times,
    geography,
    *,
    weighting: str = "population",
    chunk_steps: int | None = None,
    keep_time_series: bool = False,
    resume=None,
    on_chunk=None,
    client=None,
    backend: str = "cpu",
    rule: str = "maxmin",
    demand: Demand | None = None,
) -> dict:
    """Coverage, spectrum and capacity of each system on each cell, in one streaming pass.

    Parameters
    ----------
    systems : System | sequence of System
        Each needs a capacity (``capacity_per_sat_mbps``, or ``spectral_efficiency_bps_per_hz`` ×
        band widths × ``beams``); ``bands`` (may be empty), landing rights optional.
    grid : Grid (or a resolution in degrees)
    times : TimeGrid, regularly spaced
    geography : xarray.Dataset on the grid: ``country_fraction(country, lat, lon)``,
        ``population(lat, lon)``, optionally ``land_fraction(lat, lon)`` (:func:`orbitshare.geography`)
    weighting : "population" (w = population × served share) or "area" (w = land area × served share)
    chunk_steps : time steps per chunk (default :func:`orbitshare.engine.passinputs.default_chunk_steps`)
    keep_time_series : per-step counts in the coverage Dataset (as :func:`orbitshare.engine.coverage.coverage`)
    resume, on_chunk : checkpoint hooks of the streaming pass (:func:`orbitshare.engine.stream.run_pass`; used
        by :mod:`orbitshare.runner`)
    client : a ``distributed.Client`` to run the chunks on a Dask cluster (identical results), or None
    backend : "cpu", or "cuda": SGP4, footprints and the capacity accumulation on the GPU
        (:mod:`orbitshare.kernels.cuda`; the same integer statistics, capacity sums to ~1e-13 relative);
        "cuda" refuses "maxmin" and "throughput" in one line (not ported yet)
    rule : "maxmin" (default: max-min fair in the share of demand met), "throughput" (a maximum flow) or
        "proportional" (the old sharing rule; ``weighting`` applies to it only)
    demand : :class:`orbitshare.demand.Demand` (adoption, busy-hour rate per subscriber, overbooking,
        thresholds) for "maxmin" and "throughput"; default ``Demand()``

    Returns
    -------
    dict with

    ``"coverage"``: exactly what ``coverage(systems, grid, times, geography=geography,
    keep_time_series=keep_time_series)`` returns; when a system has landing rights, passed through
    :func:`orbitshare.engine.coverage.apply_landing_rights` (``population_covered_fraction`` = in view AND
    servable, the geometric view kept as ``population_in_view_fraction``; ``served_country(system,
    country)`` and ``serves_unlisted(system)``, which the spectrum and capacity Datasets then carry too,
    so that :func:`orbitshare.analysis.accounts.country_accounts` gives an excluded country exactly 0).

    ``"spectrum"``: Dataset on ``(system, band, lat, lon)``: ``mhz_available`` and
    ``mhz_sat_available`` (MHz, ``time: mean``), ``band_low_mhz`` / ``band_high_mhz`` /
    ``band_width_mhz`` (system, band; NaN where the system lacks the band), ``served_share`` (system,
    lat, lon), ``bandwidth_mhz`` (system).

    ``"capacity"`` under "maxmin" / "throughput": ``subscribers``, ``demand_mbps``,
    ``demand_met_fraction``, ``served_per_subscriber_mbps``, ``active_user_mbps`` (lat, lon), and per
    system ``system_demand_mbps``, ``served_mbps``, ``system_demand_met_fraction`` (system, lat, lon; Mbit/s,
    time means), ``offered_step_mbps`` / ``delivered_step_mbps`` / ``unused_step_mbps`` (system, time),
    their time means, ``satellite_utilisation``, ``gateway_fraction``, ``capacity_per_sat_mbps`` (system),
    ``adoption`` (country), ``demand_share`` and ``served_country`` (system, country), the allocation
    parameters as ``system`` coordinates, and the attributes ``rule``, ``busy_hour_mbps``, ``overbooking``,
    ``thresholds_mbps``, ``adoption_source``, ``model`` (:func:`orbitshare.engine.allocation.allocation_dataset`).
    A cell is never served above its demand or its caps; delivered ≤ offered at every step.

    ``"capacity"`` under "proportional": Dataset with ``capacity_mbps`` and ``capacity_per_person_mbps``
    (system, lat, lon; Mbps, ``time: mean``; per person NaN where the population is 0), ``served_share`` and ``weight``
    (system, lat, lon), ``delivered_mbps`` and ``offered_mbps`` (system; time means of the totals over
    all cells), ``delivered_step_mbps`` and ``offered_step_mbps`` (system, time; the per-step totals:
    conservation is ``delivered == offered`` at every step, to rounding), ``capacity_per_sat_mbps``
    (system); coordinate ``population`` (lat, lon); attribute ``weighting``.

    All three carry the coverage Dataset's ``system`` coordinates (``operator``, ``administration``,
    ``element_count``, ``elevation_mask_deg``, ...), the grid's CF
    ``lat``/``lon`` with bounds, and the coverage Dataset's time-coverage attributes.

    Memory and time: as :func:`orbitshare.engine.coverage.coverage`, plus per chunk ≈ (28·blocks + 56) bytes
    per cell and system (blocks ≤ ``CAPACITY_TIME_BLOCKS`` = 8), plus the result arrays
    (8 bytes × systems × (2·bands + 4) per cell). The capacity accumulation uses the visibility
    kernel's exact row intervals: O(visible rows) per satellite-step, plus one pass over each touched
    row per step.
    """
    if rule not in RULES:
        raise ParameterError(f"rule: expected one of {', '.join(map(repr, RULES))}, got {rule!r}")
    if rule != "proportional" and backend == "cuda":
        raise BackendError(ALLOCATION_NOT_ON_CUDA)
    check_backend(backend, client)
    syslist = as_systems(systems)
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    if weighting not in WEIGHTINGS:
        raise ParameterError(f"weighting: expected one of {', '.join(map(repr, WEIGHTINGS))}, got {weighting!r}")
    if geography is None:
        raise ParameterError(
            "geography: required (population and country fractions on the grid: orbitshare.geography(grid))"
        )
    if not isinstance(times, TimeGrid):
        raise ParameterTypeError(
            f"times: expected a TimeGrid (orbitshare.time_grid(start, stop, step_s)), got {type(times).__name__}"
        )
    check_geography(geography, grid)
    caps = []
    for s in syslist:
        c = s.capacity_mbps
        if c is None:
            raise ParameterError(
                f"System.capacity_per_sat_mbps: system {s.name!r} has no capacity; give "
                "capacity_per_sat_mbps, or spectral_efficiency_bps_per_hz and beams (with bands)"
            )
        caps.append(c)
    shares = np.stack([served_share(s, geography) for s in syslist])
    pop = _population(geography)
    dgrid = None
    if rule == "proportional":
        base = pop if weighting == "population" else land_km2(geography, grid.cell_area_km2)
        weight = np.ascontiguousarray(base[None, :, :] * shares)
        pass_kw: dict[str, Any] = {"capacity": (np.array(caps), weight)}
    else:
        dgrid = demand_grid(syslist, geography, demand if demand is not None else Demand(), grid.cell_area_km2)
        pass_kw = {"allocation": allocation_pass_inputs(syslist, grid, dgrid, rule)}

    inputs = prepare_pass(
        syslist,
        grid,
        times,
        keep_time_series=keep_time_series,
        chunk_steps=chunk_steps,
        count_any=True,
        **pass_kw,
    )
    cov, result = run_coverage(
        inputs, geography=geography, resume=resume, on_chunk=on_chunk, client=client, backend=backend
    )
    cov = landing_rights_coverage(cov, syslist, geography)  # unchanged without landing rights
    rights = {k: cov[k] for k in ("served_country", "serves_unlisted") if k in cov} or None
    state = result.state
    # the pass was asked for count_any and capacity: those fields are there
    assert state.steps_any is not None and state.capacity_sum is not None
    assert state.delivered is not None and state.offered is not None
    nt = state.nsteps

    # ---- shared coordinates and attributes
    coords = {k: cov.coords[k].variable for k in ("lat", "lon", "lat_bnds", "lon_bnds", "cell_area") if k in cov.coords}
    coords.update({str(k): c.variable for k, c in cov.coords.items() if c.dims == ("system",)})  # names, operator, ...
    base_attrs = {
        k: cov.attrs[k]
        for k in (
            "Conventions",
            "source",
            "time_coverage_start",
            "time_coverage_end",
            "time_coverage_resolution",
            "time_step_s",
            "time_steps",
            "grid_resolution_deg",
            "systems",
        )
        if k in cov.attrs
    }
    cell = ("system", "lat", "lon")
    share_var = xr.Variable(
        cell,
        shares,
        {
            "long_name": "served share of the cell (landing rights)",
            "units": "1",
            "valid_min": 0.0,
            "valid_max": 1.0,
            "comment": "1 without landing rights; with serve_countries the served countries' share of the cell's land "
            "(0 where no land); with only exclude_countries 1 minus the excluded share (1 over the ocean)",
        },
    )

    # ---- spectrum
    band_names = []
    for s in syslist:
        for b in s.bands:
            if b.name not in band_names:
                band_names.append(b.name)
    nsys, nb = len(syslist), len(band_names)
    low = np.full((nsys, nb), np.nan)
    high = np.full((nsys, nb), np.nan)
    for i, s in enumerate(syslist):
        for b in s.bands:
            j = band_names.index(b.name)
            low[i, j], high[i, j] = b.low_mhz, b.high_mhz
    width = high - low
    any_frac = state.steps_any / np.float64(nt) * shares  # [nsys, nlat, nlon]
    sat_mean = state.sum_visible / np.float64(nt) * shares
    mhz = width[:, :, None, None] * any_frac[:, None]
    mhz_sat = width[:, :, None, None] * sat_mean[:, None]
    scoords = dict(coords)
    scoords["band"] = xr.Variable("band", np.array(band_names, dtype=str), {"long_name": "downlink band name"})
    sb = ("system", "band")
    spectrum = xr.Dataset(
        {
            "mhz_available": xr.Variable(
                ("system", "band", "lat", "lon"),
                mhz,
                {
                    "long_name": "bandwidth available: band width while at least one satellite of the system "
                    "is visible, times the served share",
                    "units": "MHz",
                    "cell_methods": "time: mean",
                    "comment": "NaN where the system lacks the band",
                },
            ),
            "mhz_sat_available": xr.Variable(
                ("system", "band", "lat", "lon"),
                mhz_sat,
                {
                    "long_name": "band width times the number of visible satellites of the system, "
                    "times the served share",
                    "units": "MHz",
                    "cell_methods": "time: mean",
                    "comment": "NaN where the system lacks the band",
                },
            ),
            "band_low_mhz": xr.Variable(sb, low, {"long_name": "lower band edge", "units": "MHz"}),
            "band_high_mhz": xr.Variable(sb, high, {"long_name": "upper band edge", "units": "MHz"}),
            "band_width_mhz": xr.Variable(sb, width, {"long_name": "band width", "units": "MHz"}),
            "bandwidth_mhz": xr.Variable(
                "system",
                np.array([s.bandwidth_mhz for s in syslist]),
                {"long_name": "sum of the system's band widths", "units": "MHz"},
            ),
            "served_share": share_var,
        },
        coords=scoords,
        attrs={**base_attrs, "title": "orbitshare spectrum"},
    )

    # ---- capacity
    if dgrid is not None:
        capacity = allocation_dataset(
            syslist, state, times, geography, dgrid, demand if demand is not None else Demand(), rule, coords,
            {**base_attrs, "title": "orbitshare capacity"}, share_var,
        )  # fmt: skip
        capacity = capacity.assign(served_country=(("system", "country"), dgrid.served.astype(np.int8)))
        if rights is not None:
            spectrum = spectrum.assign(rights)
            capacity = capacity.assign(rights)
        return {"coverage": cov, "spectrum": spectrum, "capacity": capacity}
    cap_mean = state.capacity_sum / np.float64(nt)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_person = np.where(pop[None] > 0, cap_mean / pop[None], np.nan)
    ccoords = dict(coords)
    ccoords["population"] = xr.Variable(
        ("lat", "lon"), pop, {"long_name": "population of the cell", "units": "1", "comment": "persons"}
    )
    ccoords["time"] = xr.Variable(
        "time",
        np.asarray(times.time, "datetime64[ns]"),
        {"standard_name": "time", "long_name": "time of step (UTC)", "axis": "T"},
    )
    wdesc = "population x served_share" if weighting == "population" else "land area (km2) x served_share"
    capacity = xr.Dataset(
        {
            "capacity_mbps": xr.Variable(
                cell,
                cap_mean,
                {
                    "long_name": "capacity delivered to the cell",
                    "units": "Mbit s-1",
                    "cell_methods": "time: mean",
                    "comment": f"each visible satellite shares its capacity among the cells it sees in proportion to "
                    f"their weight ({wdesc})",
                },
            ),
            "capacity_per_person_mbps": xr.Variable(
                cell,
                per_person,
                {
                    "long_name": "capacity delivered to the cell per person living in it",
                    "units": "Mbit s-1",
                    "cell_methods": "time: mean",
                    "comment": "capacity_mbps / population; NaN where the population is 0",
                },
            ),
            "delivered_mbps": xr.Variable(
                "system",
                state.delivered.sum(axis=1) / np.float64(nt),
                {"long_name": "capacity delivered over all cells", "units": "Mbit s-1", "cell_methods": "time: mean"},
            ),
            "offered_mbps": xr.Variable(
                "system",
                state.offered.sum(axis=1) / np.float64(nt),
                {
                    "long_name": "capacity of the satellites that see a cell of positive weight",
                    "units": "Mbit s-1",
                    "cell_methods": "time: mean",
                },
            ),
            "delivered_step_mbps": xr.Variable(
                ("system", "time"),
                state.delivered,
                {
                    "long_name": "capacity delivered over all cells at the step",
                    "units": "Mbit s-1",
                    "cell_methods": "area: sum",
                },
            ),
            "offered_step_mbps": xr.Variable(
                ("system", "time"),
                state.offered,
                {
                    "long_name": "capacity of the satellites that see a cell of positive weight at the step",
                    "units": "Mbit s-1",
                    "cell_methods": "area: sum",
                },
            ),
            "capacity_per_sat_mbps": xr.Variable(
                "system", np.array(caps, np.float64), {"long_name": "capacity of each satellite", "units": "Mbit s-1"}
            ),
            "served_share": share_var,
            "weight": xr.Variable(
                cell,
                weight,
                {
                    "long_name": f"capacity-sharing weight of the cell ({wdesc})",
                    "units": "1" if weighting == "population" else "km2",
                },
            ),
        },
        coords=ccoords,
        attrs={**base_attrs, "title": "orbitshare capacity", "weighting": weighting},
    )
    if rights is not None:
        spectrum = spectrum.assign(rights)
        capacity = capacity.assign(rights)
    return {"coverage": cov, "spectrum": spectrum, "capacity": capacity}
