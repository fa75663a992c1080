"""The objects a validated :class:`~orbitshare.experiment.schema.Experiment` builds for the engine.

:func:`build_times` (the :class:`~orbitshare.timegrid.TimeGrid`), :func:`build_grid` (the
:class:`~orbitshare.grid.Grid`), :func:`build_geography` (the geography Dataset) and
:func:`build_systems` (the :class:`~orbitshare.system.System` list, element sets loaded, generated or
fetched).

>>> from orbitshare.experiment.validate import load_experiment
>>> build_grid(load_experiment()).resolution_deg
2.0
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import xarray as xr

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.fetch import fetch_elements
from orbitshare.elements.filings import filing_elements
from orbitshare.elements.read import load_elements
from orbitshare.elements.walker import walker
from orbitshare.errors import ConfigError, DataError, ParameterError
from orbitshare.experiment.schema import WALKER_NORAD_START, Experiment, SystemSection
from orbitshare.gateways import gateway_sites
from orbitshare.geo.build import geography
from orbitshare.grid import Grid
from orbitshare.landing import compose_countries, servable_countries
from orbitshare.system import Band, System
from orbitshare.timegrid import TimeGrid, time_grid

__all__ = [
    "service_options",
    "build_times",
    "build_grid",
    "build_geography",
    "build_elements",
    "resolve_landing_rights",
    "resolve_gateways",
    "system_kwargs",
    "build_system",
    "build_systems",
    "build_epfd_kwargs",
]


def build_times(exp: Experiment) -> TimeGrid:
    """The run's :class:`~orbitshare.timegrid.TimeGrid`: steps of ``exp.time.step_s`` seconds in
    [start, stop)."""
    return time_grid(exp.time.start, exp.time.stop, exp.time.step_s)


def build_grid(exp: Experiment) -> Grid:
    """The run's :class:`~orbitshare.grid.Grid` (cells of ``exp.grid.resolution_deg`` degrees)."""
    return Grid(exp.grid.resolution_deg)


def build_geography(exp: Experiment, grid: Grid | None = None) -> xr.Dataset:
    """The geography Dataset on ``grid`` (default :func:`build_grid`), as :func:`orbitshare.geography`."""
    g = exp.geography
    grid = build_grid(exp) if grid is None else grid
    if g.source == "embedded":
        return geography(grid, source="embedded")
    scale = g.scale if g.scale is not None else "50m"
    return geography(grid, source="naturalearth", data_dir=g.data_dir, population=g.population, scale=scale)


def build_elements(spec: SystemSection) -> ElementSet:
    """The :class:`~orbitshare.elements.elementset.ElementSet` of one system: its element file, its filing's
    or walker shells' elements at ``spec.epoch``, or a CelesTrak group (``fetch`` downloads, or reuses the
    cache of :func:`orbitshare.elements.fetch.fetch_group`)."""
    if spec.elements is not None:
        return load_elements(spec.elements)
    if spec.filing is not None:
        return filing_elements(spec.filing) if spec.epoch is None else filing_elements(spec.filing, spec.epoch)
    if spec.fetch is not None:
        return fetch_elements(spec.fetch)
    shells, epoch = spec.walker or (), spec.epoch
    if epoch is None:
        raise ConfigError(f"system {spec.name!r}: walker shells need an epoch")
    parts, norad = [], spec.walker_norad_start or WALKER_NORAD_START
    prefix = re.sub(r"[^A-Za-z0-9]+", "-", spec.name).strip("-").upper() or "WALKER"
    for j, sh in enumerate(shells):
        parts.append(
            walker(
                sh.altitude_km,
                sh.inclination_deg,
                sh.planes,
                sh.sats_per_plane,
                sh.phasing,
                epoch,
                pattern=sh.pattern,
                norad_start=norad,
                name_prefix=f"{prefix}-{j + 1}" if len(shells) > 1 else prefix,
            )
        )
        norad += sh.total_sats
    return parts[0] if len(parts) == 1 else ElementSet.concat(parts)


def resolve_landing_rights(
    spec: SystemSection, exclude_territories: Sequence[str] = (), as_of: _dt.datetime | None = None
) -> SystemSection:
    """``spec`` with its landing-rights scenario applied to ``serve_countries`` and ``exclude_countries``.

    ``spec.landing_rights``: "all" (no change), "authorised" / "authorised+pending" (the countries of
    ``spec.family`` with that status in the shipped table as of ``as_of``, the experiment's ``time.start``)
    or the path of a landing-rights table (its authorised countries). The system may serve the servable
    countries that are also in its own ``serve_countries`` (when given); its ``exclude_countries`` and the
    experiment's ``exclude_territories`` (ISO 3166-1 alpha-3) are never served. "all" without exclusions
    returns ``spec`` itself; applying it twice changes nothing. Raises
    :class:`~orbitshare.errors.ConfigError` when a scenario other than "all" has no family or no date,
    or the table is invalid.

    >>> import datetime
    >>> s = SystemSection("S", filing="starlink_gen1", landing_rights="authorised", family="starlink")
    >>> def served(day):
    ...     return "FRA" in resolve_landing_rights(s, (), datetime.datetime.fromisoformat(day)).serve_countries
    >>> served("2022-05-01"), served("2022-06-01")
    (False, True)
    >>> resolve_landing_rights(SystemSection("S", fetch="x"), ("RUS",)).exclude_countries
    ('RUS',)
    """
    if spec.landing_rights == "all":
        servable = None
    else:
        if spec.family is None or as_of is None:
            missing = "family" if spec.family is None else "date (time.start)"
            raise ConfigError(
                f"system {spec.name!r}: landing_rights = {spec.landing_rights!r} needs a landing-rights {missing}"
            )
        servable = servable_countries(spec.family, spec.landing_rights, as_of)
    serve, exclude = compose_countries(
        servable, spec.serve_countries, spec.exclude_countries, tuple(exclude_territories)
    )
    if serve == spec.serve_countries and exclude == spec.exclude_countries:
        return spec
    return replace(spec, serve_countries=serve, exclude_countries=exclude)


def resolve_gateways(spec: SystemSection, base: Path | None = None) -> SystemSection:
    """``spec`` with its ``gateways`` setting resolved into ``gateway_sites`` ((lat_deg, lon_deg) pairs,
    degrees), by :func:`orbitshare.gateways.gateway_sites`: None for "anywhere", the shipped gateway
    table's sites of ``spec.family`` for "table", a table's rows (of ``spec.family`` when given) for the
    path of a .csv table (relative to ``base`` when not absolute). A spec already resolved, or "anywhere",
    is returned as it is. Raises :class:`~orbitshare.errors.ConfigError` (one line per problem) when the
    setting cannot be resolved.

    >>> resolve_gateways(SystemSection("S", fetch="x")).gateway_sites is None
    True
    >>> (48.2033, -111.9453) in resolve_gateways(
    ...     SystemSection("S", filing="starlink_gen1", gateways="table", family="starlink")
    ... ).gateway_sites
    True
    """
    if spec.gateways == "anywhere":
        return spec if spec.gateway_sites is None else replace(spec, gateway_sites=None)
    if spec.gateway_sites is not None:
        return spec
    try:
        sites = gateway_sites(spec.gateways, spec.family, base=base)
    except ParameterError as exc:
        text = str(exc)
        raise ConfigError(text.removeprefix("gateways: ")) from None
    except DataError as exc:
        lines = [f"expected a valid gateway table, got {line}" for line in str(exc).splitlines()]
        raise ConfigError("\n".join(lines), problems=lines) from None
    return replace(spec, gateway_sites=sites)


def system_kwargs(spec: SystemSection) -> dict[str, Any]:
    """Keyword arguments of :class:`~orbitshare.system.System` for ``spec``, except ``elements``."""
    return {
        "name": spec.name,
        "elevation_mask_deg": spec.elevation_mask_deg,
        "min_visible": spec.min_visible,
        "operator": spec.operator,
        "administration": spec.administration,
        "bands": tuple(Band(b.name, b.low_mhz, b.high_mhz) for b in spec.bands),
        "capacity_per_sat_mbps": spec.capacity_per_sat_mbps,
        "spectral_efficiency_bps_per_hz": spec.spectral_efficiency_bps_per_hz,
        "beams": spec.beams,
        "serve_countries": spec.serve_countries,
        "exclude_countries": spec.exclude_countries,
        "landing_rights": spec.landing_rights,
        "beam_capacity_mbps": spec.beam_capacity_mbps,
        "max_beams_per_cell": spec.max_beams_per_cell,
        "service_cell_km2": spec.service_cell_km2,
        "gateway_sites": spec.gateway_sites,
        "gateway_mask_deg": spec.gateway_mask_deg,
        "isl": spec.isl,
        "pfd_dbw_m2_40khz": spec.pfd_dbw_m2_40khz,
    }


def service_options(exp: Experiment) -> dict[str, Any]:
    """The ``[spectrum]`` keyword arguments of :func:`orbitshare.engine.service.service`: ``inline_angle_deg``
    (deg) and ``split``."""
    return {"inline_angle_deg": exp.spectrum.inline_angle_deg, "split": exp.spectrum.split}


def build_system(spec: SystemSection, base: Path | None = None) -> System:
    """One :class:`~orbitshare.system.System`, its element set built by :func:`build_elements`, its gateways
    resolved by :func:`resolve_gateways` (a gateway table path relative to ``base``)."""
    spec = resolve_gateways(spec, base)
    return System(elements=build_elements(spec), **system_kwargs(spec))


def build_systems(exp: Experiment) -> list[System]:
    """The run's :class:`~orbitshare.system.System` list, in file order, landing rights applied as of
    ``time.start`` (:func:`resolve_landing_rights`) and gateways resolved (:func:`resolve_gateways`);
    validation has done both already, so this changes nothing for a loaded experiment."""
    territories = exp.experiment.exclude_territories
    base = exp.source.parent if exp.source is not None else None
    return [build_system(resolve_landing_rights(s, territories, exp.time.start), base) for s in exp.systems]


def build_epfd_kwargs(exp: Experiment) -> dict[str, Any]:
    """Keyword arguments of :func:`orbitshare.analysis.protection.epfd_by_system` from ``[epfd]`` (diameters
    in m, frequency in MHz, pointing step and minimum elevation in deg, margin), the systems' ``pfd_source``
    and ``compute.chunk_steps``."""
    e = exp.epfd
    return {
        "antenna_diameter_m": tuple(e.antenna_diameter_m),
        "frequency_mhz": e.frequency_mhz,
        "arc_step_deg": e.arc_step_deg,
        "gso_min_elevation_deg": e.gso_min_elevation_deg,
        "margin": e.margin,
        "chunk_steps": exp.compute.chunk_steps,
        "pfd_sources": {s.name: s.pfd_source for s in exp.systems if s.pfd_source},
    }
