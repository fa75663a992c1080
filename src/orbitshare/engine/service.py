"""Spectrum and capacity per cell: bands in view, co-frequency sharing, and the capacity allocated to the cells.

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

    band_mhz_in_view(s, b, c)        = W_b · #{k : |V(s, k)| ≥ 1} / N · s_c
    band_mhz_x_sats_in_view(s, b, c) = W_b · Σ_k |V(s, k)| / N · s_c

(the number of steps with at least one satellite is counted separately from ``covered_fraction``,
which uses the system's ``min_visible``). The names say what they count: the band while a satellite is in
view, whoever else uses it, and satellite-MHz (not spectrum); before issue 13 they were ``mhz_available``
and ``mhz_sat_available``.

Co-frequency sharing (:mod:`orbitshare.kernels.spectrum`). The SERVING satellite of ``s`` at (c, k) is the
one of ``V(s, k)`` of highest elevation (a simplification: an earth station tracks the highest satellite).
Systems ``s`` and ``t`` are IN LINE at (c, k) when both serve c, their bands overlap and their serving
satellites are less than ``inline_angle_deg`` (default 10°) apart as seen from the cell centre (FCC 47 CFR
§25.261 defines in-line events between the serving satellites as seen from the earth station). The
spectrum is cut into elementary segments between all band edges; in a segment, the in-view systems that
use it form groups (connected components of the in-line graph among them): ``split="equal"`` gives each
member of a group of n the share 1/n of the segment (§25.261(c)), ``"priority"`` gives it to the group's
first system in ``systems`` order (standing for the ITU date of receipt) and 0 to the others. Outside
in-line events each system uses its whole band::

    effective_mhz(s, b, c)   = Σ_k Σ_{segments q ⊂ b} (MHz of q left to s at k) / N · s_c   (0 while s is not in view)
    inline_fraction(s, c)    = #{k : s in line with some t} / #{k : |V(s, k)| ≥ 1}           (NaN if never in view)
    mhz_available_total(c)   = Σ_k Σ_{q used by a system in view} W_q · max_{such s} s_c / N

``mhz_available_total`` is the union of the bands in view, never a sum over systems: at most the width of the
union of every system's bands (without landing rights exactly the union's width while every system is in
view). The in-line test runs (one extra per-step pass over the cells in view, all cells of the grid, ocean
included) only when two systems' bands overlap; otherwise nothing is shared, ``effective_mhz`` equals
``band_mhz_in_view``, ``inline_fraction`` is 0 (NaN where never in view) and every other result is
bit-identical to a run without it.

Spectral reuse (``rule="maxmin"`` / ``"throughput"`` only; absent under ``"proportional"``, which has no
beams)::

    reuse_mhz_per_km2(s, c)  = bandwidth_mhz(s) · served_mbps(s, c) / beam_capacity_mbps(s) / land_km2(c)

the MHz × beams illuminating the cell (time mean) per km² of land (NaN where the cell has no land).

The ``band`` dimension holds the distinct band NAMES of all
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
from orbitshare.engine.backends import ALLOCATION_NOT_ON_CUDA, INLINE_NOT_ON_CUDA, check_backend
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
from orbitshare.kernels.spectrum import (
    SPLITS,
    SpectrumInputs,
    bands_overlap,
    check_sharing_options,
    segment_table,
    spectrum_inputs,
)
from orbitshare.kernels.visibility import THROUGHPUT_WITH_SHARING
from orbitshare.system import as_systems
from orbitshare.timegrid import TimeGrid

__all__ = ["INLINE_ANGLE_DEG", "served_countries", "served_share", "service", "SPLITS", "WEIGHTINGS"]

#: The default in-line angle, deg (FCC 47 CFR §25.261: an in-line event is two non-GSO satellites within 10°
#: as seen from the earth station).
INLINE_ANGLE_DEG = 10.0

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
    inline_angle_deg: float = INLINE_ANGLE_DEG,
    split: str = "equal",
    band_sharing: bool = True,
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
    inline_angle_deg : the in-line angle of the co-frequency sharing, deg (default 10, FCC §25.261)
    split : "equal" (an in-line group's members share an overlapping segment equally) or "priority" (the
        group's first system in ``systems`` order keeps it); see "Co-frequency sharing" above
    band_sharing : with "maxmin" and overlapping bands: at every step a system's beams on a cell carry the
        share of its band that the sharing leaves it there (f = its effective MHz over its band width; the
        cell is allocated in full-band beam units, so a satellite's capacity bounds its beam time, and
        receives f times that). False: each system as if alone on its bands. "throughput" refuses it
        (the largest Mbit/s total with shared beams is a weighted flow: not implemented)

    Returns
    -------
    dict with

    ``"coverage"``: exactly what ``coverage(systems, grid, times, geography=geography,
    keep_time_series=keep_time_series)`` returns; when a system has landing rights, passed through
    :func:`orbitshare.engine.coverage.apply_landing_rights` (``population_covered_fraction`` = in view AND
    servable, the geometric view kept as ``population_in_view_fraction``; ``served_country(system,
    country)`` and ``serves_unlisted(system)``, which the spectrum and capacity Datasets then carry too,
    so that :func:`orbitshare.analysis.accounts.country_accounts` gives an excluded country exactly 0).

    ``"spectrum"``: Dataset on ``(system, band, lat, lon)``: ``band_mhz_in_view``,
    ``band_mhz_x_sats_in_view`` and ``effective_mhz`` (MHz, ``time: mean``), ``inline_fraction`` (system,
    lat, lon), ``mhz_available_total`` (lat, lon; MHz), ``reuse_mhz_per_km2`` (system, lat, lon; MHz km-2;
    with "maxmin" / "throughput"), ``band_low_mhz`` / ``band_high_mhz`` / ``band_width_mhz`` (system, band;
    NaN where the system lacks the band), ``served_share`` (system, lat, lon), ``bandwidth_mhz`` (system);
    attributes ``inline_angle_deg``, ``split``, ``cofrequency_sharing`` (1 when bands overlap).

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
    syslist = as_systems(systems)
    band_names, low, high = _band_table(syslist)
    sharing = _sharing_bands(low, high)
    if sharing is not None and backend == "cuda":
        raise BackendError(INLINE_NOT_ON_CUDA)
    if sharing is not None and band_sharing and rule == "throughput":
        raise ParameterError(THROUGHPUT_WITH_SHARING)
    check_backend(backend, client)
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
        pass_kw = {"allocation": allocation_pass_inputs(syslist, grid, dgrid, rule, band_sharing=band_sharing)}

    spec_in: SpectrumInputs | None = None
    if sharing is not None:
        spec_in = spectrum_inputs(sharing[2], sharing[1], shares, inline_angle_deg, split)
    else:
        check_sharing_options(inline_angle_deg, split)
    inputs = prepare_pass(
        syslist,
        grid,
        times,
        keep_time_series=keep_time_series,
        chunk_steps=chunk_steps,
        count_any=True,
        spectrum=spec_in,
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
    spectrum = _spectrum_dataset(
        syslist, state, band_names, low, high, shares, share_var, coords, base_attrs, inline_angle_deg, split
    )

    # ---- capacity
    if dgrid is not None:
        capacity = allocation_dataset(
            syslist, state, times, geography, dgrid, demand if demand is not None else Demand(), rule, coords,
            {**base_attrs, "title": "orbitshare capacity"}, share_var,
        )  # fmt: skip
        shared_beams = sharing is not None and band_sharing
        capacity.attrs["band_sharing"] = np.int8(shared_beams)
        if shared_beams:
            capacity.attrs["model"] += " " + SHARED_BEAMS_TEXT
        capacity = capacity.assign(
            served_country=(
                ("system", "country"),
                dgrid.served.astype(np.int8),
                {"long_name": "1 where the system may serve the country (landing rights), else 0", "units": "1"},
            )
        )
        spectrum = spectrum.assign(reuse_mhz_per_km2=_reuse(syslist, capacity["served_mbps"].values, dgrid.land_km2))
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
                    "units": "Mbit/s",
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
                    "units": "Mbit/s",
                    "cell_methods": "time: mean",
                    "comment": "capacity_mbps / population; NaN where the population is 0",
                },
            ),
            "delivered_mbps": xr.Variable(
                "system",
                state.delivered.sum(axis=1) / np.float64(nt),
                {"long_name": "capacity delivered over all cells", "units": "Mbit/s", "cell_methods": "time: mean"},
            ),
            "offered_mbps": xr.Variable(
                "system",
                state.offered.sum(axis=1) / np.float64(nt),
                {
                    "long_name": "capacity of the satellites that see a cell of positive weight",
                    "units": "Mbit/s",
                    "cell_methods": "time: mean",
                },
            ),
            "delivered_step_mbps": xr.Variable(
                ("system", "time"),
                state.delivered,
                {
                    "long_name": "capacity delivered over all cells at the step",
                    "units": "Mbit/s",
                    "cell_methods": "area: sum",
                },
            ),
            "offered_step_mbps": xr.Variable(
                ("system", "time"),
                state.offered,
                {
                    "long_name": "capacity of the satellites that see a cell of positive weight at the step",
                    "units": "Mbit/s",
                    "cell_methods": "area: sum",
                },
            ),
            "capacity_per_sat_mbps": xr.Variable(
                "system", np.array(caps, np.float64), {"long_name": "capacity of each satellite", "units": "Mbit/s"}
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


# --------------------------------------------------------------------------- spectrum
#: The model paragraph's addition when beams carry a share of their band (``band_sharing``).
SHARED_BEAMS_TEXT = (
    "Two systems whose bands overlap share them where their serving satellites are in line (see the spectrum "
    "Dataset): at every step a system's beams on a cell carry the share of its band left to it there "
    "(effective_mhz / band_width_mhz), so the cell is allocated in full-band beam units (demand and cell cap "
    "divided by that share; a satellite's capacity bounds its beam time) and receives that share of them."
)


def _band_table(syslist) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The distinct band names in order of first appearance and each system's edges, MHz
    (float64[nsys, nband]; NaN where the system lacks the band)."""
    names: list[str] = []
    for s in syslist:
        for b in s.bands:
            if b.name not in names:
                names.append(b.name)
    low = np.full((len(syslist), len(names)), np.nan)
    high = np.full((len(syslist), len(names)), np.nan)
    for i, s in enumerate(syslist):
        for b in s.bands:
            j = names.index(b.name)
            low[i, j], high[i, j] = b.low_mhz, b.high_mhz
    return names, low, high


def _band_pairs(low: np.ndarray, high: np.ndarray) -> list[list[tuple[float, float] | None]]:
    return [
        [None if np.isnan(lo) else (float(lo), float(hi)) for lo, hi in zip(lrow, hrow, strict=True)]
        for lrow, hrow in zip(low, high, strict=True)
    ]


def _sharing_bands(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``segment_table`` of the systems' bands when two systems' bands overlap (the in-line test is then
    needed), else None (nothing is shared: each system uses its whole band)."""
    pairs = _band_pairs(low, high)
    return segment_table(pairs) if bands_overlap(pairs) else None


def _union_width(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Width of the union of each system's own bands, MHz, float64[nsys]."""
    _, width, in_band = segment_table(_band_pairs(low, high))
    if width.size == 0:
        return np.zeros(low.shape[0])
    return (in_band.any(axis=1) * width[None, :]).sum(axis=1)


_SHARING_NOTE = (
    "serving satellite of a system: its visible satellite of highest elevation (an earth station tracks the "
    "highest satellite); two systems are in line when both serve the cell, their bands overlap and their serving "
    "satellites are less than inline_angle_deg apart as seen from the cell centre (FCC 47 CFR 25.261)"
)


def _spectrum_dataset(
    syslist, state, band_names, low, high, shares, share_var, coords, base_attrs, inline_angle_deg, split
) -> xr.Dataset:
    """The spectrum Dataset (module docstring, "Spectrum" and "Co-frequency sharing")."""
    nt = state.nsteps
    width = high - low
    any_frac = state.steps_any / np.float64(nt) * shares  # [nsys, nlat, nlon]
    sat_mean = state.sum_visible / np.float64(nt) * shares
    in_view = width[:, :, None, None] * any_frac[:, None]
    if state.effective_sum is None:  # no overlap: every system uses its whole band whenever it is in view
        effective = in_view
        inline = np.zeros(state.steps_any.shape)
        total = (_union_width(low, high)[:, None, None] * any_frac).sum(axis=0)
    else:
        effective = np.where(np.isnan(width)[:, :, None, None], np.nan, state.effective_sum / np.float64(nt))
        effective = effective * shares[:, None]
        inline = state.inline_steps.astype(np.float64)
        total = state.union_sum / np.float64(nt)
    with np.errstate(invalid="ignore", divide="ignore"):
        inline_frac = np.where(state.steps_any > 0, inline / state.steps_any, np.nan)
    scoords = dict(coords)
    scoords["band"] = xr.Variable("band", np.array(band_names, dtype=str), {"long_name": "downlink band name"})
    sb, sbc = ("system", "band"), ("system", "band", "lat", "lon")
    mean = {"units": "MHz", "cell_methods": "time: mean"}
    split_note = (
        "each member of an in-line group gets an equal share of an overlapping segment"
        if split == "equal"
        else "the group's first system in experiment order (standing for the ITU date of receipt) keeps an "
        "overlapping segment, the others get none"
    )
    return xr.Dataset(
        {
            "band_mhz_in_view": xr.Variable(
                sbc,
                in_view,
                {
                    "long_name": "band width times the share of time steps with at least one satellite of the "
                    "system in view, times the served share",
                    **mean,
                    "comment": "counts the whole band whenever one satellite is in view, whoever else uses it "
                    "(see effective_mhz); NaN where the system lacks the band",
                },
            ),
            "band_mhz_x_sats_in_view": xr.Variable(
                sbc,
                width[:, :, None, None] * sat_mean[:, None],
                {
                    "long_name": "band width times the number of satellites of the system in view, times the "
                    "served share",
                    **mean,
                    "comment": "a count of satellite-MHz, not spectrum: the same band is counted once per "
                    "satellite in view; NaN where the system lacks the band",
                },
            ),
            "effective_mhz": xr.Variable(
                sbc,
                effective,
                {
                    "long_name": "effective bandwidth: the band's MHz left to the system after co-frequency "
                    "sharing with in-line systems, while a satellite of the system is in view, times the served "
                    "share",
                    **mean,
                    "comment": f"{_SHARING_NOTE}; {split_note}; outside in-line events the whole band; 0 "
                    "while no satellite is in view; NaN where the system lacks the band",
                },
            ),
            "inline_fraction": xr.Variable(
                ("system", "lat", "lon"),
                inline_frac,
                {
                    "long_name": "share of the time steps with a satellite of the system in view at which the "
                    "system is in line with another system whose band overlaps",
                    "units": "1",
                    "cell_methods": "time: mean",
                    "comment": f"{_SHARING_NOTE}; not multiplied by the served share; NaN where no satellite "
                    "of the system is ever in view",
                },
            ),
            "mhz_available_total": xr.Variable(
                ("lat", "lon"),
                total,
                {
                    "long_name": "width of the union of the bands of the systems with at least one satellite "
                    "in view (never a sum over systems)",
                    **mean,
                    "comment": "each elementary frequency segment counted once per step, times the largest "
                    "served share among the systems in view that use it (the plain union width without "
                    "landing rights); at most the width of the union of all the systems' bands",
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
        attrs={
            **base_attrs,
            "title": "orbitshare spectrum",
            "inline_angle_deg": float(inline_angle_deg),
            "split": split,
            "cofrequency_sharing": int(state.effective_sum is not None),
        },
    )


def _reuse(syslist, served_mbps: np.ndarray, land: np.ndarray) -> xr.Variable:
    """``reuse_mhz_per_km2(system, lat, lon)``: the system's band MHz × beams illuminating the cell per km² of
    land (beams = served Mbit/s / beam capacity, a time mean); NaN where the cell has no land."""
    bw = np.array([s.bandwidth_mhz for s in syslist], np.float64)
    beam = np.array([s.beam_mbps if s.beam_mbps else np.nan for s in syslist], np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        beams = served_mbps / beam[:, None, None]
        reuse = np.where(land[None] > 0, bw[:, None, None] * beams / land[None], np.nan)
    return xr.Variable(
        ("system", "lat", "lon"),
        reuse,
        {
            "long_name": "spectral reuse: the system's band MHz times the beams illuminating the cell, per km2 of land",
            "units": "MHz km-2",
            "cell_methods": "time: mean",
            "comment": "beams = served_mbps / beam_capacity_mbps (the allocation's served rate; absent under "
            "capacity.rule = 'proportional'); band MHz = bandwidth_mhz, each beam using every band of the system; "
            "NaN where the cell has no land",
        },
    )
