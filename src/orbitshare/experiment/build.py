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

import re
from typing import Any

import xarray as xr

from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.fetch import fetch_elements
from orbitshare.elements.filings import filing_elements
from orbitshare.elements.read import load_elements
from orbitshare.elements.walker import walker
from orbitshare.errors import ConfigError
from orbitshare.experiment.schema import WALKER_NORAD_START, Experiment, SystemSection
from orbitshare.geo.build import geography
from orbitshare.grid import Grid
from orbitshare.system import Band, System
from orbitshare.timegrid import TimeGrid, time_grid

__all__ = [
    "build_times",
    "build_grid",
    "build_geography",
    "build_elements",
    "system_kwargs",
    "build_system",
    "build_systems",
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
    }


def build_system(spec: SystemSection) -> System:
    """One :class:`~orbitshare.system.System`, its element set built by :func:`build_elements`."""
    return System(elements=build_elements(spec), **system_kwargs(spec))


def build_systems(exp: Experiment) -> list[System]:
    """The run's :class:`~orbitshare.system.System` list, in file order."""
    return [build_system(s) for s in exp.systems]
