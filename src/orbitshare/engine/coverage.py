"""Per-system coverage: how many satellites each grid cell sees, and how often it is covered.

:func:`coverage` checks its inputs once (:func:`orbitshare.engine.passinputs.prepare_pass`) and runs
the one streaming pass (:func:`orbitshare.engine.stream.run_pass`): for each time chunk the backend
(:func:`orbitshare.engine.backends.chunk_source`) propagates every satellite of every system once
(ITRS) and hands the positions to :func:`orbitshare.kernels.visibility.accumulate_chunk`, whose
per-cell integer statistics are merged exactly across chunks
(:func:`~orbitshare.kernels.chunkstate.merge_chunk_states`). Nothing of size (satellite × time ×
cell) is ever held. :func:`run_coverage` builds the Dataset from the merged state;
:func:`orbitshare.engine.service.service` runs the same pass with the kernel's ``steps_any`` and
capacity accumulation switched on, so coverage, spectrum and capacity come from one pass;
``coverage()`` alone never pays for them.

Definitions (per system ``s`` and cell; ``n(k)`` = satellites of ``s`` above the system's elevation
mask at step ``k``, the kernel's exact geodetic-vertical test at the cell centre on the WGS84
surface; satellites whose SGP4 step failed are not visible):

* ``mean_visible`` = Σₖ n(k) / N                                  (N = number of steps)
* ``covered_fraction`` = #{k : n(k) ≥ min_visible} / N
* ``max_gap_s`` = (longest run of consecutive steps with n(k) < min_visible) × step. Each step
  stands for the ``step``-long interval that starts at it, so a cell that is never covered has
  ``max_gap_s`` = N × step, the whole duration; a cell covered at every step has 0. With a single
  time step the step is undefined and ``max_gap_s`` is NaN.
* with a ``geography`` (``country_fraction(country, lat, lon)``, ``population(lat, lon)`` persons,
  optionally ``land_fraction(lat, lon)``), for each system and country::

      population_covered_fraction = Σ_cells pop·share·covered_fraction / Σ_cells pop·share
      area_covered_fraction       = Σ_cells A·frac·covered_fraction / Σ_cells A·frac

  with ``A`` the cell area (km², WGS84), ``frac`` the country fraction (so ``A·frac`` is the
  country's land area in the cell) and ``share`` the country's share of the cell's land, hence of
  its population: ``frac`` itself when the geography has no ``land_fraction`` (``frac`` is then a
  share of the land), ``frac / land_fraction`` when it has one (``frac`` is then a share of the
  cell's area, as :func:`orbitshare.geo.build.geography` defines it). NaN where the denominator
  is 0 (no population, or no land, of that country on this grid). NaN population or fraction
  counts as 0.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5netcdf
import h5py
import numpy as np
import xarray as xr

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.engine.backends import check_backend
from orbitshare.engine.passinputs import PassInputs, prepare_pass
from orbitshare.engine.stream import PassResult, run_pass
from orbitshare.errors import ParameterError, ParameterTypeError
from orbitshare.geo.build import country_cell_pairs
from orbitshare.grid import Grid
from orbitshare.kernels.chunkstate import longest_gap
from orbitshare.timegrid import TimeGrid

__all__ = [
    "apply_landing_rights",
    "check_codes",
    "check_geography",
    "country_index",
    "coverage",
    "landing_rights_coverage",
    "run_coverage",
    "served_countries",
]


def _iso(t: Any) -> str:
    t = np.datetime64(t, "ns")
    whole_seconds = t.astype(np.int64) % 1_000_000_000 == 0
    text = np.datetime_as_string(t, unit="s") if whole_seconds else np.datetime_as_string(t, unit="ns")
    return str(text) + "Z"


def _iso_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return ""
    return f"PT{seconds:g}S"


def _epoch_stats(epochs: np.ndarray, start: Any) -> tuple[tuple[Any, ...], tuple[float, ...]]:
    """(min, median, max) epoch as datetime64[ns] (NaT when empty) and ages at start (days)."""
    ep = np.sort(np.asarray(epochs, "datetime64[ns]"))
    ep = ep[~np.isnat(ep)]
    if ep.size == 0:
        nat = np.datetime64("NaT", "ns")
        return (nat, nat, nat), (math.nan, math.nan, math.nan)
    ns = ep.astype(np.int64)
    mid = ns.size // 2
    med = ns[mid] if ns.size % 2 else ns[mid - 1] + (ns[mid] - ns[mid - 1]) // 2
    st = np.datetime64(start, "ns").astype(np.int64)
    vals = (ns[0], med, ns[-1])
    return tuple(np.datetime64(int(v), "ns") for v in vals), tuple(float((st - v) / 86400e9) for v in vals)


def check_geography(geography: Any, grid: Grid) -> None:
    """Raise early (before any propagation) when the geography does not fit the grid: it must be an
    xarray.Dataset with ``country_fraction(country, lat, lon)`` and ``population(lat, lon)`` on the
    grid's cell centres (to 1e-6 deg)."""
    if not isinstance(geography, xr.Dataset):
        raise ParameterTypeError(f"geography: expected an xarray.Dataset, got {type(geography).__name__}")
    for name in ("country_fraction", "population"):
        if name not in geography:
            raise ParameterError(
                f"geography: missing variable {name!r} (expected country_fraction(country, lat, lon) "
                "and population(lat, lon))"
            )
    cf = geography["country_fraction"]
    pop = geography["population"]
    if set(cf.dims) != {"country", "lat", "lon"}:
        raise ParameterError(f"geography.country_fraction: expected dims (country, lat, lon), got {cf.dims}")
    if set(pop.dims) != {"lat", "lon"}:
        raise ParameterError(f"geography.population: expected dims (lat, lon), got {pop.dims}")
    for dim, ref in (("lat", grid.lat), ("lon", grid.lon)):
        v = np.asarray(geography[dim].values, dtype=np.float64)
        if v.shape != ref.shape or not np.allclose(v, ref, rtol=0, atol=1e-6):
            raise ParameterError(
                f"geography: its {dim} coordinate ({v.size} values) does not match the grid's "
                f"({ref.size} cell centres at {grid.resolution_deg:g}°); build it on the same Grid"
            )


def _geography_fractions(geography, grid: Grid, covered: np.ndarray):
    """Population- and area-weighted covered fractions per (system, country), and the country coords.

    Weights per cell: population × country share of the cell's land, and cell_area × country_fraction
    (the country's land area in the cell). The share of the land is ``country_fraction`` itself, or
    ``country_fraction / land_fraction`` when the geography has ``land_fraction`` (then
    ``country_fraction`` is a share of the cell's area, as :func:`orbitshare.geo.build.geography`
    makes it). The sums run over the (country, cell) pairs with a nonzero fraction
    (:func:`orbitshare.geo.build.country_cell_pairs`, read a block of countries at a time), so a lazily
    loaded 0.1° ``country_fraction`` is never converted to float64 all at once.
    Returns ``(coords, pop_frac float64[nsys, ncountry], area_frac float64[nsys, ncountry])``;
    ``geography`` has been checked against ``grid`` (:func:`check_geography`) by the caller.
    """
    pop = geography["population"]
    p = np.nan_to_num(np.asarray(pop.transpose("lat", "lon").values, dtype=np.float64), nan=0.0).reshape(-1)
    if "land_fraction" in geography:
        land = np.nan_to_num(
            np.asarray(geography["land_fraction"].transpose("lat", "lon").values, dtype=np.float64), nan=0.0
        ).reshape(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(land > 0, p / land, 0.0)
    area = np.repeat(np.asarray(grid.cell_area_km2, np.float64), grid.nlon)
    cov = covered.reshape(covered.shape[0], -1)
    c, n, f, _ = country_cell_pairs(geography)
    ncountry = geography.sizes["country"]
    out_p = _weighted_fraction(cov[:, n], c, f * p[n], ncountry)
    out_a = _weighted_fraction(cov[:, n], c, f * area[n], ncountry)
    coords = {name: c.variable for name, c in geography.coords.items() if c.dims == ("country",)}
    return coords, out_p, out_a


def _weighted_fraction(cov: np.ndarray, c: np.ndarray, w: np.ndarray, ncountry: int) -> np.ndarray:
    """Σ w·covered / Σ w per (system, country) over the (country, cell) pairs: cov [nsys, npairs] (the
    pairs' cells), c int64[npairs] country index, w [npairs] → [nsys, ncountry] (NaN where Σ w = 0).
    Sums in pair order (bincount): the same on every machine."""
    den = np.bincount(c, weights=w, minlength=ncountry)
    out = np.empty((cov.shape[0], ncountry))
    for s in range(cov.shape[0]):
        num = np.bincount(c, weights=cov[s] * w, minlength=ncountry)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def country_index(geography: xr.Dataset) -> dict:
    """``{ISO3: index}`` along the geography's ``country`` coordinate."""
    return {str(c): i for i, c in enumerate(np.asarray(geography["country"].values))}


def check_codes(system: Any, idx: dict) -> None:
    """Raise ParameterError naming the field when a landing-rights country code is not in ``idx``."""
    for field in ("serve_countries", "exclude_countries"):
        codes = getattr(system, field) or ()
        unknown = [c for c in codes if c not in idx]
        if unknown:
            raise ParameterError(
                f"System.{field}: country code(s) {', '.join(map(repr, unknown))} not in the "
                f"geography's 'country' coordinate (system {system.name!r})"
            )


def served_countries(system: Any, geography: xr.Dataset) -> np.ndarray:
    """Which countries the system may serve: bool[ncountry] in the order of the geography's ``country``.

    True everywhere without landing rights; with ``serve_countries`` the listed countries less the
    excluded ones; with only ``exclude_countries`` every country but the excluded ones. Raises
    ParameterError naming the field when a country code is not in the geography."""
    idx = country_index(geography)
    out = np.ones(len(idx), dtype=bool)
    if not system.has_landing_rights:
        return out
    check_codes(system, idx)
    if system.serve_countries is not None:
        out[:] = False
        for c in system.serve_countries:
            out[idx[c]] = True
    for c in system.exclude_countries:
        out[idx[c]] = False
    return out


def landing_rights_coverage(cov: xr.Dataset, systems: Sequence[Any], geography: Any) -> xr.Dataset:
    """``cov`` through :func:`apply_landing_rights` when a geography is given and a system has landing
    rights (``has_landing_rights``); else ``cov`` itself, unchanged."""
    if geography is None or not any(getattr(s, "has_landing_rights", False) for s in systems):
        return cov
    served = np.stack([served_countries(s, geography) for s in systems])
    unlisted = np.array([s.serve_countries is None for s in systems])
    return apply_landing_rights(cov, served, unlisted)


def apply_landing_rights(cov: xr.Dataset, served: np.ndarray, serves_unlisted: np.ndarray) -> xr.Dataset:
    """Coverage under landing rights: "covered" = in view AND servable, per (system, country).

    ``cov``: a coverage Dataset made with a geography (``population_covered_fraction``,
    ``area_covered_fraction`` on ``(system, country)``); ``served``: bool[nsys, ncountry], True where
    the system may serve the country (:func:`orbitshare.engine.service.served_countries`);
    ``serves_unlisted``: bool[nsys], True where the system may also serve land of no country and the
    ocean (only ``exclude_countries``). Returns a copy in which the geometric fractions are kept as
    ``population_in_view_fraction`` / ``area_in_view_fraction``, ``population_covered_fraction`` /
    ``area_covered_fraction`` are those times the served flag (exactly 0 for a country the system may
    not serve, NaN kept where the country has no population or land on the grid), and
    ``served_country(system, country)`` (int8, 1 = may serve) and ``serves_unlisted(system)`` (int8)
    are added. Called only when a system has landing rights; per-cell variables are unchanged.
    """
    out = cov.copy()
    flag = np.asarray(served, dtype=bool)
    for what in ("population", "area"):
        geo = cov[f"{what}_covered_fraction"]
        out[f"{what}_in_view_fraction"] = geo.assign_attrs(
            long_name=geo.attrs.get("long_name", "").replace("covered_fraction", "fraction in view")
            + " (geometric: landing rights ignored)"
        )
        vals = np.asarray(geo.transpose("system", "country").values, np.float64)
        out[f"{what}_covered_fraction"] = xr.Variable(
            ("system", "country"),
            np.where(flag, vals, vals * 0.0),  # 0 where not served; NaN (no population/land) stays NaN
            {
                **geo.attrs,
                "long_name": f"{what}-weighted covered fraction of the country, in view AND servable",
                "comment": f"{what}_in_view_fraction where served_country = 1, else 0 (landing rights)",
            },
        )
    out["served_country"] = xr.Variable(
        ("system", "country"),
        flag.astype(np.int8),
        {"long_name": "1 where the system may serve the country (landing rights), else 0", "units": "1"},
    )
    out["serves_unlisted"] = xr.Variable(
        "system",
        np.asarray(serves_unlisted, dtype=bool).astype(np.int8),
        {
            "long_name": "1 where the system may serve land of no country and the ocean (no serve_countries)",
            "units": "1",
        },
    )
    return out


class _TimeSeriesWriter:
    """Appends per-step int16 counts to ``counts(system, time, lat, lon)`` in a netCDF4 file (h5netcdf),
    chunked and gzip-compressed; written to a temporary file and moved into place on close."""

    def __init__(self, path, grid: Grid, names, nt: int, attrs: dict, counts_attrs: dict):
        self._ctx = atomic_path(path, overwrite=False)
        tmp = self._ctx.__enter__()
        try:
            f = h5netcdf.File(tmp, "w")
            self._f = f
            nsys, nlat, nlon = len(names), grid.nlat, grid.nlon
            f.dimensions = {"system": nsys, "time": None, "lat": nlat, "lon": nlon, "bnds": 2}
            c = grid.coords()
            for name in ("lat", "lon", "lat_bnds", "lon_bnds"):
                v = f.create_variable(name, c[name].dims, data=np.asarray(c[name].values))
                v.attrs.update(c[name].attrs)
            sv = f.create_variable("system", ("system",), dtype=h5py.string_dtype("utf-8"))
            sv[:] = np.asarray(names, dtype=object)
            sv.attrs["long_name"] = "satellite system"
            tv = f.create_variable("time", ("time",), dtype=np.int64, chunks=(4096,))
            tv.attrs.update(
                standard_name="time",
                long_name="time of step (UTC)",
                axis="T",
                units="nanoseconds since 1970-01-01T00:00:00",
                calendar="proleptic_gregorian",
            )
            ct = max(1, min(nt, (1 << 20) // (2 * nlat * nlon)))
            cl = min(nlat, max(1, (1 << 19) // nlon))
            cv = f.create_variable(
                "counts",
                ("system", "time", "lat", "lon"),
                dtype=np.int16,
                chunks=(1, ct, cl, nlon),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            cv.attrs.update(counts_attrs)
            for k, v in attrs.items():
                f.attrs[k] = v
            self._n = 0
        except BaseException:
            self.abort()
            raise

    def append(self, times: np.ndarray, counts: np.ndarray) -> None:
        n0, n1 = self._n, self._n + counts.shape[1]
        self._f.resize_dimension("time", n1)
        self._f.variables["time"][n0:n1] = np.asarray(times, "datetime64[ns]").astype(np.int64)
        self._f.variables["counts"][:, n0:n1] = counts
        self._n = n1

    def close(self) -> None:
        self._f.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            f = getattr(self, "_f", None)
            if f is not None:
                f.close()
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


# --------------------------------------------------------------------------- the pass
def coverage(
    systems: Any,
    grid,
    times: TimeGrid,
    *,
    geography=None,
    keep_time_series: bool = False,
    chunk_steps: int | None = None,
    time_series_path=None,
    resume=None,
    on_chunk=None,
    client=None,
    backend: str = "cpu",
):
    """Coverage statistics of each system on each grid cell over ``times``.

    Parameters
    ----------
    systems : System | ElementSet | sequence of them
        A bare ElementSet becomes ``System.from_elements`` (name from its file, mask 25°, min 1).
    grid : Grid (or a resolution in degrees)
    times : TimeGrid, regularly spaced (``orbitshare.time_grid``)
    geography : xarray.Dataset, optional
        ``country_fraction(country, lat, lon)`` and ``population(lat, lon)`` on the same grid; adds
        ``population_covered_fraction`` and ``area_covered_fraction`` on ``(system, country)``.
    keep_time_series : bool
        Also produce per-step counts ``counts(system, time, lat, lon)`` int16 (saturating at 32767).
    chunk_steps : int, optional
        Time steps per chunk (default :func:`default_chunk_steps`); results do not depend on it,
        nor on the number of Numba threads (all statistics are integer until the final division).
    time_series_path : path, optional
        With ``keep_time_series``, stream the counts into this new netCDF4 file (one chunk at a time,
        gzip level 4, written atomically; an existing file is refused) instead of the Dataset; the
        Dataset then carries the path in its ``time_series_file`` attribute.
    resume, on_chunk : checkpoint hooks of the streaming pass (:func:`orbitshare.engine.stream.run_pass`; used by
        :mod:`orbitshare.runner` to checkpoint after each time chunk and resume a killed run).

    Returns
    -------
    xarray.Dataset on ``(system, lat, lon)``:
        ``mean_visible`` float64 (satellites, ``time: mean``), ``covered_fraction`` float64 (1,
        ``time: mean``), ``max_gap_s`` float64 (s, ``time: maximum``; N × step for a never-covered
        cell); with a geography ``population_covered_fraction`` and ``area_covered_fraction``
        (system, country); with ``keep_time_series`` in memory, ``counts`` (system, time, lat, lon).
        Coordinates: CF ``lat``/``lon`` with bounds (``grid.coords()``), ``cell_area`` (lat, lon, km²),
        ``system`` names with ``operator``, ``administration``, ``elevation_mask_deg``, ``min_visible``,
        ``element_count``,
        ``element_epoch_min|median|max`` and ``element_age_at_start_days_max|median|min`` (age of the
        oldest/median/newest epoch at the first step), ``sgp4_error_steps`` (satellite-steps skipped
        because SGP4 failed); ``time`` only when the time series is in the Dataset; the geography's
        ``country`` coordinates. Attributes: ``Conventions``, ``title``, ``source``,
        ``time_coverage_start`` (first step), ``time_coverage_end`` (last step + step: the end of the
        last interval), ``time_coverage_resolution`` (ISO 8601), ``time_step_s``, ``time_steps``,
        ``grid_resolution_deg``, ``systems`` (JSON: per system name, mask, min_visible, element
        count, epochs and ages).

    client : a ``distributed.Client`` to run the chunks on a Dask cluster (identical results;
        :func:`orbitshare.engine.backends.get_client`), or None for this process.
    backend : "cpu" (Numba on this machine's cores) or "cuda" (SGP4, ITRS and the footprint counts
        on the GPU, :mod:`orbitshare.kernels.cuda`, per time chunk; the same integer statistics as
        the CPU given the same positions, see that module on SGP4's last bits). "cuda" raises
        :class:`~orbitshare.errors.BackendError` when no CUDA device is available (the reason in the
        message), and cannot be combined with ``client``.

    Memory
    ------
    Bounded by the chunk, not the duration. Peak ≈ 49 B × nsat × chunk_steps (positions,
    velocities and error codes, one set of buffers reused for every chunk) — with the default of at
    most 4·10⁶ satellite-steps per chunk, ≤ 400 MB — + ≈ (28·threads + 90) B per cell and system
    (kernel, merged state, results) + with counts kept in memory 2 B × nsys × ntime × ncells
    (streamed: ≤ 128 MiB per chunk), plus the Python/NumPy/Numba/xarray baseline (~210 MB).
    Measured (ru_maxrss, 10,926 Starlink satellites, 60 s steps, 1° grid): 590 MB for 1 day, 592 MB
    for 3 days; a 30-day run of 10,000 satellites therefore stays near 0.6 GB, well under 2 GB.
    """
    check_backend(backend, client)
    inputs = prepare_pass(systems, grid, times, keep_time_series=keep_time_series, chunk_steps=chunk_steps)
    ds, _ = run_coverage(
        inputs,
        geography=geography,
        time_series_path=time_series_path,
        resume=resume,
        on_chunk=on_chunk,
        client=client,
        backend=backend,
    )
    return landing_rights_coverage(ds, inputs.systems, geography)


def run_coverage(
    inputs: PassInputs,
    *,
    geography: Any = None,
    time_series_path: str | os.PathLike[str] | None = None,
    resume: Any = None,
    on_chunk: Any = None,
    client: Any = None,
    backend: str = "cpu",
) -> tuple[xr.Dataset, PassResult]:
    """Run the streaming pass on checked ``inputs`` and build the coverage Dataset.

    The one body behind :func:`coverage` and :func:`orbitshare.engine.service.service` (which asks
    for ``count_any`` and capacity in ``inputs``); arguments as :func:`coverage`.
    Returns ``(coverage Dataset, PassResult)``: the merged state carries the capacity sums.
    """
    grid, times = inputs.grid, inputs.times
    nt, step_s = len(times), inputs.step_s
    names = inputs.names
    min_visible = inputs.min_visible
    if geography is not None:
        check_geography(geography, grid)
    if time_series_path is not None and not inputs.keep_counts:
        raise ParameterError("time_series_path: given without keep_time_series=True")
    if time_series_path is not None and Path(time_series_path).exists():
        raise FileExistsError(f"{time_series_path}: file exists; remove it or choose another time_series_path")
    start = np.datetime64(times.time[0], "ns")

    # ---- metadata first (the streamed file carries it too)
    sys_meta: list[dict[str, Any]] = []
    for s in inputs.systems:
        (e0, e1, e2), (a0, a1, a2) = _epoch_stats(s.elements.epoch, start)
        sys_meta.append(
            {
                "name": s.name,
                "operator": s.operator,
                "administration": s.administration,
                "elevation_mask_deg": s.elevation_mask_deg,
                "min_visible": s.min_visible,
                "element_count": len(s.elements),
                "source": s.elements.source or "",
                "epochs": (e0, e1, e2),
                "ages": (a0, a1, a2),
            }
        )
    end = start + np.timedelta64(int(round(step_s * 1e9)), "ns") * nt if math.isfinite(step_s) else start
    attrs = {
        "Conventions": "CF-1.10",
        "title": "orbitshare coverage",
        "source": f"orbitshare {__version__}",
        "time_coverage_start": _iso(start),
        "time_coverage_end": _iso(end),
        "time_coverage_resolution": _iso_duration(step_s),
        "time_step_s": step_s,
        "time_steps": nt,
        "grid_resolution_deg": float(grid.resolution_deg),
        "systems": json.dumps(
            [
                {
                    "name": m["name"],
                    "operator": m["operator"],
                    "administration": m["administration"],
                    "elevation_mask_deg": m["elevation_mask_deg"],
                    "min_visible": m["min_visible"],
                    "element_count": m["element_count"],
                    "element_source": m["source"],
                    "element_epoch_min": "" if np.isnat(m["epochs"][0]) else _iso(m["epochs"][0]),
                    "element_epoch_median": "" if np.isnat(m["epochs"][1]) else _iso(m["epochs"][1]),
                    "element_epoch_max": "" if np.isnat(m["epochs"][2]) else _iso(m["epochs"][2]),
                    "element_age_at_start_days_max": m["ages"][0],
                    "element_age_at_start_days_median": m["ages"][1],
                    "element_age_at_start_days_min": m["ages"][2],
                }
                for m in sys_meta
            ]
        ),
    }
    counts_attrs = {
        "long_name": "number of satellites visible above the elevation mask",
        "units": "1",
        "comment": "saturates at 32767",
    }

    writer = None
    if time_series_path is not None:
        if resume is not None:
            raise ParameterError("resume: not supported with time_series_path")
        writer = _TimeSeriesWriter(time_series_path, grid, names, nt, attrs, counts_attrs)
    try:
        result = run_pass(inputs, backend=backend, client=client, resume=resume, on_chunk=on_chunk, counts_sink=writer)
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    state, err_steps, counts_mem = result.state, result.err_steps, result.counts

    # ---- results
    mean_visible = state.sum_visible / np.float64(nt)
    covered = state.steps_covered / np.float64(nt)
    max_gap = longest_gap(state).astype(np.float64) * step_s

    coords: dict[str, Any] = dict(grid.coords())
    coords["cell_area"] = grid.cell_area().variable
    coords["system"] = xr.Variable("system", np.array(names), {"long_name": "satellite system"})
    sysc = {
        "operator": (np.array([m["operator"] for m in sys_meta], dtype=str), {"long_name": "operator"}),
        "administration": (
            np.array([m["administration"] for m in sys_meta], dtype=str),
            {"long_name": "notifying administration (ISO 3166-1 alpha-3; empty when unknown)"},
        ),
        "elevation_mask_deg": (
            np.array([m["elevation_mask_deg"] for m in sys_meta]),
            {"long_name": "minimum elevation above the local (geodetic) horizon", "units": "degree"},
        ),
        "min_visible": (
            min_visible.astype(np.int32),
            {"long_name": "satellites needed in view for a step to count as covered", "units": "1"},
        ),
        "element_count": (
            np.array([m["element_count"] for m in sys_meta], np.int64),
            {"long_name": "number of satellites (element sets)", "units": "1"},
        ),
        "sgp4_error_steps": (
            err_steps,
            {"long_name": "satellite-steps skipped because SGP4 returned an error", "units": "1"},
        ),
    }
    for k, label in enumerate(("min", "median", "max")):
        sysc[f"element_epoch_{label}"] = (
            np.array([m["epochs"][k] for m in sys_meta], "datetime64[ns]"),
            {"long_name": f"{label} epoch of the system's element sets (UTC)"},
        )
    for k, label in enumerate(("max", "median", "min")):
        sysc[f"element_age_at_start_days_{label}"] = (
            np.array([m["ages"][k] for m in sys_meta], np.float64),
            {"long_name": f"{label} age of the element sets at time_coverage_start", "units": "day"},
        )
    for name, (data, a) in sysc.items():
        coords[name] = xr.Variable("system", data, a)

    dims = ("system", "lat", "lon")
    data_vars = {
        "mean_visible": xr.Variable(
            dims,
            mean_visible,
            {
                "long_name": "mean number of satellites visible above the elevation mask",
                "units": "1",
                "cell_methods": "time: mean",
            },
        ),
        "covered_fraction": xr.Variable(
            dims,
            covered,
            {
                "long_name": "fraction of time steps with at least min_visible satellites visible",
                "units": "1",
                "valid_min": 0.0,
                "valid_max": 1.0,
                "cell_methods": "time: mean",
            },
        ),
        "max_gap_s": xr.Variable(
            dims,
            max_gap,
            {
                "long_name": "longest run of consecutive time steps with fewer than min_visible satellites visible",
                "units": "s",
                "cell_methods": "time: maximum",
                "comment": "steps x time_step_s; a cell never covered has the whole duration "
                "(time_steps x time_step_s), a cell always covered 0",
            },
        ),
    }
    if counts_mem is not None:
        coords["time"] = xr.Variable(
            "time",
            np.asarray(times.time, "datetime64[ns]"),
            {"standard_name": "time", "long_name": "time of step (UTC)", "axis": "T"},
        )
        data_vars["counts"] = xr.Variable(("system", "time", "lat", "lon"), counts_mem, counts_attrs)
    if geography is not None:
        ccoords, pop_frac, area_frac = _geography_fractions(geography, grid, covered)
        coords.update(ccoords)
        data_vars["population_covered_fraction"] = xr.Variable(
            ("system", "country"),
            pop_frac,
            {
                "long_name": "population-weighted covered_fraction of the country's cells",
                "units": "1",
                "cell_methods": "time: mean area: mean (weighted by population x land_share)",
                "comment": "sum(population*land_share*covered_fraction)/sum(population*land_share), land_share = "
                "the country's share of the cell's land (country_fraction/land_fraction when the "
                "geography has land_fraction, else country_fraction); NaN where the country has "
                "no population on this grid",
            },
        )
        data_vars["area_covered_fraction"] = xr.Variable(
            ("system", "country"),
            area_frac,
            {
                "long_name": "land-area-weighted covered_fraction of the country's cells",
                "units": "1",
                "cell_methods": "time: mean area: mean (weighted by cell_area x country_fraction)",
                "comment": "sum(cell_area*country_fraction*covered_fraction)/sum(cell_area*country_fraction); "
                "NaN where the country has no land on this grid",
            },
        )
    if time_series_path is not None:
        attrs["time_series_file"] = os.fspath(time_series_path)
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), result
