"""Per-system coverage: how many satellites each grid cell sees, and how often it is covered.

:func:`coverage` streams over time chunks: for each chunk it propagates every satellite of every
system once (one :func:`orbitshare.iter_propagate` over the concatenated element sets, ITRS) and
hands the positions to :func:`orbitshare.kernels.visibility.accumulate_chunk`, whose per-cell
integer statistics are merged exactly across chunks (:func:`~orbitshare.kernels.visibility.merge_chunk_states`).
Nothing of size (satellite × time × cell) is ever held. :func:`orbitshare.engine.service.service` runs the
same driver (``_drive``) with the kernel's ``steps_any`` and capacity accumulation switched on, so
coverage, spectrum and capacity come from one pass; ``coverage()`` alone never pays for them.

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
from pathlib import Path

import numpy as np

from orbitshare.elements.elementset import ElementSet
from orbitshare.grid import Grid
from orbitshare.kernels.visibility import (
    CAPACITY_TIME_BLOCKS,
    accumulate_chunk,
    empty_chunk_state,
    longest_gap,
    merge_chunk_states,
)
from orbitshare.system import as_systems
from orbitshare.timegrid import TimeGrid

__all__ = ["coverage", "default_chunk_steps", "SAT_STEPS_PER_CHUNK"]

#: Default propagation budget per time chunk, satellite-steps (49 bytes each: r, v, e).
SAT_STEPS_PER_CHUNK = 4_000_000
#: Default budget per chunk for kept per-step counts, bytes (int16 per system, step and cell).
COUNTS_BYTES_PER_CHUNK = 128 * 2**20


# --------------------------------------------------------------------------- helpers
def default_chunk_steps(
    nsat: int,
    ntime: int,
    *,
    ncells: int = 0,
    nsys: int = 1,
    keep_time_series: bool = False,
    nthreads: int | None = None,
) -> int:
    """Steps per chunk: ``SAT_STEPS_PER_CHUNK // nsat`` (and, with kept counts, at most
    ``COUNTS_BYTES_PER_CHUNK`` of int16 counts), at least the thread count, at most ``ntime``."""
    import numba

    nthreads = numba.get_num_threads() if nthreads is None else nthreads
    c = SAT_STEPS_PER_CHUNK // max(int(nsat), 1)
    if keep_time_series and ncells:
        c = min(c, COUNTS_BYTES_PER_CHUNK // (2 * max(nsys, 1) * ncells))
    c = max(c, nthreads, 1)
    return int(max(1, min(c, ntime)))


def _step_seconds(times: TimeGrid) -> float:
    t = np.asarray(times.time, dtype="datetime64[ns]").astype(np.int64)
    if t.size < 2:
        return math.nan
    d = np.diff(t)
    if d[0] <= 0 or np.any(d != d[0]):
        raise ValueError(
            "times: expected regularly spaced, increasing steps (max_gap_s is a number of "
            "steps times the step); build the grid with orbitshare.time_grid(start, stop, step_s)"
        )
    return float(d[0]) / 1e9


def _iso(t: np.datetime64) -> str:
    t = np.datetime64(t, "ns")
    unit = "s" if t.astype(np.int64) % 1_000_000_000 == 0 else "ns"
    return np.datetime_as_string(t, unit=unit) + "Z"


def _iso_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return ""
    return f"PT{seconds:g}S"


def _epoch_stats(epochs: np.ndarray, start: np.datetime64):
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


def _check_geography(geography, grid: Grid) -> None:
    """Raise early (before any propagation) when the geography does not fit the grid."""
    import xarray as xr

    if not isinstance(geography, xr.Dataset):
        raise TypeError(f"geography: expected an xarray.Dataset, got {type(geography).__name__}")
    for name in ("country_fraction", "population"):
        if name not in geography:
            raise ValueError(
                f"geography: missing variable {name!r} (expected country_fraction(country, lat, lon) "
                "and population(lat, lon))"
            )
    cf = geography["country_fraction"]
    pop = geography["population"]
    if set(cf.dims) != {"country", "lat", "lon"}:
        raise ValueError(f"geography.country_fraction: expected dims (country, lat, lon), got {cf.dims}")
    if set(pop.dims) != {"lat", "lon"}:
        raise ValueError(f"geography.population: expected dims (lat, lon), got {pop.dims}")
    for dim, ref in (("lat", grid.lat), ("lon", grid.lon)):
        v = np.asarray(geography[dim].values, dtype=np.float64)
        if v.shape != ref.shape or not np.allclose(v, ref, rtol=0, atol=1e-6):
            raise ValueError(
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
    Returns ``(coords, pop_frac float64[nsys, ncountry], area_frac float64[nsys, ncountry])``.
    """
    from orbitshare.geo.build import country_cell_pairs

    _check_geography(geography, grid)
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


class _TimeSeriesWriter:
    """Appends per-step int16 counts to ``counts(system, time, lat, lon)`` in a netCDF4 file (h5netcdf),
    chunked and gzip-compressed; written to a temporary file and moved into place on close."""

    def __init__(self, path, grid: Grid, names, nt: int, attrs: dict, counts_attrs: dict):
        import h5netcdf

        from orbitshare.io import atomic_path

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
            import h5py

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


# --------------------------------------------------------------------------- the driver
def coverage(
    systems,
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
    resume, on_chunk : checkpoint hooks of the streaming pass (``_drive``; used by
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
    velocities and error codes, one set of buffers reused for every chunk) — with the default of at most 4·10⁶ satellite-steps per chunk,
    ≤ 400 MB — + ≈ (28·threads + 90) B per cell and system (kernel, merged state, results) + with
    counts kept in memory 2 B × nsys × ntime × ncells (streamed: ≤ 128 MiB per chunk), plus the
    Python/NumPy/Numba/xarray baseline (~210 MB). Measured (ru_maxrss, 10,926 Starlink satellites,
    60 s steps, 1° grid): 590 MB for 1 day, 592 MB for 3 days; a 30-day run of 10,000 satellites
    therefore stays near 0.6 GB, well under 2 GB.
    """
    ds, _ = _drive(
        systems,
        grid,
        times,
        geography=geography,
        keep_time_series=keep_time_series,
        chunk_steps=chunk_steps,
        time_series_path=time_series_path,
        resume=resume,
        on_chunk=on_chunk,
        client=client,
        backend=backend,
    )
    return ds


def _check_backend(backend, client):
    """Validate ``backend`` for :func:`_drive`; for "cuda", return the :mod:`orbitshare.kernels.cuda`
    module (imported only then), else None."""
    from orbitshare.errors import BackendError

    if backend not in ("cpu", "cuda"):
        raise ValueError(f"backend: expected 'cpu' or 'cuda', got {backend!r}")
    if backend == "cpu":
        return None
    if client is not None:
        raise BackendError("backend = 'cuda' runs in this process: pass client=None (no Dask client)")
    from orbitshare.kernels.cuda_env import cuda_available

    ok, why = cuda_available()
    if not ok:
        raise BackendError(f"compute.backend = 'cuda': CUDA is not available ({why}); use backend = 'cpu' or 'dask'")
    from orbitshare.kernels import cuda as cuda_kernels

    return cuda_kernels


def _drive(
    systems,
    grid,
    times,
    *,
    geography=None,
    keep_time_series=False,
    chunk_steps=None,
    time_series_path=None,
    count_any=False,
    capacity=None,
    resume=None,
    on_chunk=None,
    client=None,
    backend="cpu",
):
    """The one streaming pass behind :func:`coverage` and :func:`orbitshare.engine.service.service`.

    count_any : also count the steps with at least one satellite visible (``state.steps_any``)
    capacity : None, or ``(cap_mbps float64[nsys], weight float64[nsys, nlat, nlon])``: accumulate
        capacity in the same kernel pass (``state.capacity_sum``, ``delivered``, ``offered``). Its float
        sums use a time-block partition that depends on the chunk length only (at most
        ``CAPACITY_TIME_BLOCKS`` blocks per chunk), never on the thread count.
    resume : None, or a mapping from an earlier ``on_chunk`` call of the same pass (same systems,
        grid, times, options and ``chunk_steps``): ``chunks_done`` (int), ``state`` (the merged
        ChunkState of those chunks, ``counts`` None), ``err_steps`` (int64[nsys]) and, with an
        in-memory time series, ``counts`` (int16[nsys, steps done, nlat, nlon]). The finished chunks
        are not propagated again; the chunk partition (and so every float sum) is the same as
        without ``resume``, so the results are bit-identical.
    on_chunk : None, or ``on_chunk(info)`` called after each finished (merged) chunk with a mapping
        ``chunks_done``, ``chunks_total``, ``chunk_steps``, ``steps_done``, ``steps_total``, ``state``,
        ``err_steps`` and ``counts`` (the in-memory counts of the finished steps, or None). Arrays
        are the driver's own: copy or write them out, do not modify them.
    client : None (this process), or a ``distributed.Client``: the chunks are computed as (time chunk ×
        system) Dask tasks (``orbitshare.backends``) and merged here in time order, so the results
        are identical to the local run.
    backend : "cpu", or "cuda": each time chunk is propagated and counted on the GPU (the fused
        :func:`orbitshare.kernels.cuda.cuda_coverage`: SGP4 → ITRS → footprints, positions never
        leave the device; with ``capacity`` the capacity accumulation too) and yields the same
        per-chunk ChunkState, so merging, ``on_chunk`` checkpoints and ``resume`` are unchanged. Not
        with ``client`` (:class:`~orbitshare.errors.BackendError`, as when no CUDA device is
        available).
    Returns ``(coverage Dataset, merged ChunkState)``.
    """
    import numba
    import xarray as xr

    from orbitshare._version import __version__
    from orbitshare.engine.propagation import iter_propagate, sgp4_params

    cuda_kernels = _check_backend(backend, client)
    syslist = as_systems(systems)
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    if not isinstance(times, TimeGrid):
        raise TypeError(
            f"times: expected a TimeGrid (orbitshare.time_grid(start, stop, step_s)), got {type(times).__name__}"
        )
    nt = len(times)
    if nt == 0:
        raise ValueError("times: expected at least one time step")
    step_s = _step_seconds(times)
    if geography is not None:
        _check_geography(geography, grid)
    if time_series_path is not None and not keep_time_series:
        raise ValueError("time_series_path: given without keep_time_series=True")
    if time_series_path is not None and Path(time_series_path).exists():
        raise FileExistsError(f"{time_series_path}: file exists; remove it or choose another time_series_path")

    names = [s.name for s in syslist]
    nsys, nlat, nlon = len(syslist), grid.nlat, grid.nlon
    elements = ElementSet.concat([s.elements for s in syslist])
    sat_sys = np.concatenate([np.full(len(s.elements), i, np.int32) for i, s in enumerate(syslist)])
    nsat = len(elements)
    mask_rad = np.radians(np.array([s.elevation_mask_deg for s in syslist], np.float64))
    min_visible = np.array([s.min_visible for s in syslist], np.int32)
    cap_kw = {}
    if count_any:
        cap_kw["count_any"] = True
    if capacity is not None:
        cap_sys, weight = capacity
        cap_sys = np.asarray(cap_sys, np.float64)
        if cap_sys.shape != (nsys,):
            raise ValueError(f"capacity: expected one capacity per system ({nsys}), got shape {cap_sys.shape}")
        cap_kw["capacity_per_sat"] = np.ascontiguousarray(cap_sys[sat_sys])
        cap_kw["weight"] = np.ascontiguousarray(weight, dtype=np.float64)
    if chunk_steps is None:
        chunk_steps = default_chunk_steps(nsat, nt, ncells=nlat * nlon, nsys=nsys, keep_time_series=keep_time_series)
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, (int, np.integer)) or chunk_steps < 1:
        raise ValueError(f"chunk_steps: expected an integer >= 1, got {chunk_steps!r}")
    chunk_steps = int(chunk_steps)

    pxy, pz, nxy, nz = grid.row_geometry()
    lon_rad = np.array(grid.lon_rad)
    cos_lon = np.array(grid.cos_lon)
    sin_lon = np.array(grid.sin_lon)
    start = np.datetime64(times.time[0], "ns")

    # ---- metadata first (the streamed file carries it too)
    sys_meta = []
    for s in syslist:
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

    # ---- the time loop
    keep = bool(keep_time_series)
    writer = None
    counts_mem = None
    if keep and time_series_path is not None:
        writer = _TimeSeriesWriter(time_series_path, grid, names, nt, attrs, counts_attrs)
    elif keep:
        counts_mem = np.zeros((nsys, nt, nlat, nlon), np.int16)
    state = empty_chunk_state(nsys, nlat, nlon, count_any=count_any, capacity=capacity is not None)
    err_steps = np.zeros(nsys, np.int64)
    k0 = 0
    chunks_done = 0
    chunks_total = -(-nt // chunk_steps)
    if resume is not None:
        if writer is not None:
            writer.abort()
            raise ValueError("resume: not supported with time_series_path")
        chunks_done = int(resume["chunks_done"])
        state = resume["state"]
        k0 = min(chunks_done * chunk_steps, nt)
        if state.nsteps != k0 or not 0 <= chunks_done <= chunks_total:
            raise ValueError(
                f"resume: {chunks_done} chunk(s) of {chunk_steps} steps do not match the state's {state.nsteps} steps"
            )
        expect = (nsys, nlat, nlon)
        for name in ("sum_visible", "steps_covered", "lead_run", "trail_run", "max_inner_run", "all_gap"):
            if np.shape(getattr(state, name)) != expect:
                raise ValueError(f"resume: state.{name} has shape {np.shape(getattr(state, name))}, expected {expect}")
        if (state.steps_any is None) == bool(count_any) or (state.capacity_sum is None) == (capacity is not None):
            raise ValueError("resume: the state was made with other options (count_any / capacity)")
        err_steps = np.asarray(resume["err_steps"], np.int64).copy()
        if keep:
            counts_mem[:, :k0] = resume["counts"]
    try:
        rest = times[k0:] if k0 else times

        def _local_parts():
            chunks = (
                iter_propagate(elements, rest, chunk_steps, frame="itrs", reuse_buffers=True, velocities=False)
                if nsat
                else (
                    (c, np.zeros((0, len(c)), np.uint8), np.zeros((0, len(c), 3)), None)
                    for c in rest.chunks(chunk_steps)
                )
            )
            for chunk, e, r, _v in chunks:
                del _v
                n = len(chunk)
                # integer statistics do not depend on the blocks; capacity's float sums must not depend
                # on the thread count, so their partition depends on the chunk length only
                nblocks = min(CAPACITY_TIME_BLOCKS if capacity is not None else numba.get_num_threads(), n)
                st = accumulate_chunk(
                    r,
                    sat_sys,
                    mask_rad,
                    min_visible,
                    pxy,
                    pz,
                    nxy,
                    nz,
                    lon_rad,
                    cos_lon=cos_lon,
                    sin_lon=sin_lon,
                    err=e,
                    keep_counts=keep,
                    nblocks=nblocks,
                    **cap_kw,
                )
                inc = (
                    np.bincount(sat_sys, weights=np.count_nonzero(e, axis=1), minlength=nsys).astype(np.int64)
                    if nsat
                    else np.zeros(nsys, np.int64)
                )
                del e, r
                yield chunk, st, inc

        def _cuda_parts():
            from orbitshare.kernels.frames import itrs_rotations

            params = sgp4_params(elements)[0] if nsat else None
            for chunk in rest.chunks(chunk_steps):
                n = len(chunk)
                if not nsat:  # nothing to propagate: the (trivial) CPU kernel gives the empty chunk's state
                    st = accumulate_chunk(
                        np.zeros((0, n, 3)),
                        sat_sys,
                        mask_rad,
                        min_visible,
                        pxy,
                        pz,
                        nxy,
                        nz,
                        lon_rad,
                        cos_lon=cos_lon,
                        sin_lon=sin_lon,
                        err=np.zeros((0, n), np.uint8),
                        keep_counts=keep,
                        **cap_kw,
                    )
                    yield chunk, st, np.zeros(nsys, np.int64)
                    continue
                m, w, thd = itrs_rotations(
                    *(
                        np.ascontiguousarray(a, dtype=np.float64)
                        for a in (chunk.ut1_jd, chunk.ut1_fr, chunk.xp, chunk.yp, chunk.sprime)
                    )
                )
                st, e = cuda_kernels.cuda_coverage(
                    params,
                    chunk.jd,
                    chunk.fr,
                    m,
                    w,
                    thd,
                    sat_sys,
                    mask_rad,
                    min_visible,
                    pxy,
                    pz,
                    nxy,
                    nz,
                    lon_rad,
                    cos_lon=cos_lon,
                    sin_lon=sin_lon,
                    keep_counts=keep,
                    **cap_kw,
                )
                inc = np.bincount(sat_sys, weights=np.count_nonzero(e, axis=1), minlength=nsys).astype(np.int64)
                del e
                yield chunk, st, inc

        if k0 >= nt:
            parts = iter(())
        elif cuda_kernels is not None:
            parts = _cuda_parts()
        elif client is not None:
            from orbitshare.engine.backends import dask_drive_chunks

            parts = dask_drive_chunks(
                syslist,
                grid,
                rest,
                chunk_steps,
                client=client,
                count_any=count_any,
                capacity=capacity,
                keep_counts=keep,
            )
        else:
            parts = _local_parts()
        try:
            for chunk, st, inc in parts:
                n = len(chunk)
                err_steps += inc
                if keep:
                    if writer is not None:
                        writer.append(chunk.time, st.counts)
                    else:
                        counts_mem[:, k0 : k0 + n] = st.counts
                    st = st._replace(counts=None)
                state = merge_chunk_states(state, st)
                k0 += n
                chunks_done += 1
                del st
                if on_chunk is not None:
                    on_chunk(
                        {
                            "chunks_done": chunks_done,
                            "chunks_total": chunks_total,
                            "chunk_steps": chunk_steps,
                            "steps_done": k0,
                            "steps_total": nt,
                            "state": state,
                            "err_steps": err_steps,
                            "counts": counts_mem[:, :k0] if counts_mem is not None else None,
                        }
                    )
        finally:
            if hasattr(parts, "close"):
                parts.close()  # cancels Dask tasks still in flight on an error
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()

    # ---- results
    mean_visible = state.sum_visible / np.float64(nt)
    covered = state.steps_covered / np.float64(nt)
    max_gap = longest_gap(state).astype(np.float64) * step_s

    coords = dict(grid.coords())
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
    return xr.Dataset(data_vars, coords=coords, attrs=attrs), state
