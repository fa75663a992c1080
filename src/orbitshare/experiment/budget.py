"""The memory budget of a run: its peak memory and output size, estimated before anything is allocated.

:func:`estimate_resources` adds up, from the sizes a validated
:class:`~orbitshare.experiment.schema.Experiment` implies (time steps, satellites, grid cells, systems
and the output options; arithmetic only, nothing is built), what a run holds at its peak:

* the interpreter, NumPy, Numba and xarray with the compiled kernels: :data:`RUNTIME_BYTES`;
* the element sets: :data:`ELEMENT_BYTES` per satellite;
* the time grid: :data:`STEP_BYTES` per time step (its arrays and Skyfield's while it is made);
* the propagation chunk buffers: 49 B × satellites × ``chunk_steps`` (positions, velocities, SGP4
  error codes of one chunk), per concurrent chunk (one; one per worker of a local Dask cluster);
* the per-cell state: (28·b + 90) B per cell and system (chunk kernel with b time blocks held at
  once, the merged state, the result arrays), with capacity (28·b + 56) B more, with kept counts 2 B
  per step of a chunk more; b is the thread count (capacity: the chunk's 8 time blocks), fewer when
  their state passes :data:`~orbitshare.kernels.visibility.BLOCK_STATE_BYTES`, as
  :func:`orbitshare.kernels.visibility.accumulate_chunk` holds them;
* with a capacity dataset under an allocation rule (``[capacity] rule`` "maxmin" or "throughput"): the
  allocation's (satellite, cell) pairs of a time step, :data:`PAIR_BYTES` each, satellites x the cells of
  a footprint (:func:`footprint_cells`: the spherical cap above the system's mask over the mean cell area),
  per thread at work (one per time block, at most the chunk's blocks), and the per-cell float64 sums of
  the served rate, 8 B per system and cell of each time block;
* with a capacity dataset and two systems whose bands overlap, the co-frequency sharing pass
  (:mod:`orbitshare.kernels.spectrum`): per cell and time block of a chunk (at most
  :data:`~orbitshare.kernels.spectrum.SPECTRUM_TIME_BLOCKS`) (20 + 8·bands) B per system + 17 B, and the
  merged sums, (12 + 8·bands) B per system + 8 B per cell;
* the geography (country fractions, at most what :data:`orbitshare.geo.build.DENSE_LIMIT_BYTES`
  keeps in memory, population, land, areas);
* the kept time series: 2 B × systems × steps × cells;
* the Lorenz curves (``lorenz_points``) and the GSO arc (360 / ``gso_bin_deg`` longitude bins per
  country and mask);
* the EPFD statistics of "epfd" (:func:`orbitshare.epfd`, one system at a time): per cell, GSO pointing
  (every ``epfd.arc_step_deg`` of the visible arc) and antenna, the counts above each mask level and the
  maximum, or the margin histogram of the worst pointing, whichever is larger;
* the worker processes of a local Dask cluster (:data:`WORKER_BYTES` each).

The estimate is checked against a limit: ``[compute] memory_limit_gb`` (GB = 1e9 bytes) or, by
default, :data:`MEMORY_FRACTION` of the memory available now (``MemAvailable`` of ``/proc/meminfo``,
else ``os.sysconf``). Above it, validation refuses the experiment and names the key that drives the
largest part (``time.step_s``, ``outputs.keep_time_series``, ``outputs.lorenz_points``,
``systems[0].walker[0]``, ...). The output estimate (the results file, CSV tables and maps) is what a
run directory will hold; ``orbitshare validate`` prints both.

>>> from orbitshare.experiment.validate import load_experiment
>>> est = load_experiment().estimate
>>> est.steps, est.satellites, est.cells
(360, 8232, 16200)
>>> est.peak_bytes < 2e9 and est.largest.key
'systems[0]'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from orbitshare.constants import RE_KM
from orbitshare.elements.filings import Shell, load_filings
from orbitshare.engine.passinputs import default_chunk_steps
from orbitshare.experiment.schema import (
    ALLOCATION_RULES,
    CAPACITY_DATASETS,
    Experiment,
    MemoryPart,
    ResourceEstimate,
    SystemSection,
    bands_overlap,
    size_text,
)
from orbitshare.kernels.spectrum import SPECTRUM_TIME_BLOCKS
from orbitshare.kernels.visibility import BLOCK_STATE_BYTES, CAPACITY_TIME_BLOCKS
from orbitshare.timegrid import count_steps

__all__ = [
    "available_memory_bytes",
    "available_threads",
    "estimate_resources",
    "footprint_pairs",
    "memory_limit",
    "satellite_count",
    "MEMORY_FRACTION",
    "MAX_SATELLITES",
    "RUNTIME_BYTES",
    "ELEMENT_BYTES",
    "STEP_BYTES",
    "WORKER_BYTES",
    "FETCH_SATELLITES",
    "RECORD_BYTES",
    "PAIR_BYTES",
    "ASSUMED_ALTITUDE_KM",
    "footprint_cells",
]

#: Share of the available memory a run may use by default (``[compute] memory_limit_gb`` sets another).
MEMORY_FRACTION = 0.8
#: Most satellites of an experiment (of one Walker shell as well), checked before any is generated.
MAX_SATELLITES = 10_000_000
#: The interpreter, NumPy, Numba, xarray and the compiled kernels, bytes.
RUNTIME_BYTES = 250_000_000
#: One satellite's element record with the pass's copy of its SGP4 parameters, bytes.
ELEMENT_BYTES = 500
#: One time step of the time grid while it is made (8 float64/datetime64 arrays and Skyfield's), bytes.
STEP_BYTES = 176
#: One step of one satellite in the propagation buffers (positions, velocities, error code), bytes.
SAT_STEP_BYTES = 49
#: One worker process of a local Dask cluster (its interpreter and libraries), bytes.
WORKER_BYTES = 300_000_000
#: Satellites assumed for a ``fetch`` system (its group is downloaded at run time only; the largest
#: CelesTrak groups hold about 10,000).
FETCH_SATELLITES = 20_000
#: Fewest bytes of one element record in a file (a TLE without a name line is 2 x 69 characters and two
#: line ends): an element file's size over this bounds its satellites from above.
RECORD_BYTES = 140
#: One (satellite, cell) pair of the capacity allocation of a time step (indices, caps, demand, served), bytes.
PAIR_BYTES = 40
#: Altitude assumed for the footprint of a system from an element file or a fetched group (not read at
#: validation), km: the top of the broadband LEO shells (OneWeb), so that the estimate errs high for LEO.
ASSUMED_ALTITUDE_KM = 1200.0
#: Countries of the country table (the geography's and the GSO arc's country dimension).
COUNTRIES = 260
#: The result variables per cell and system of each engine dataset (float64 each).
_CELL_VARIABLES = {"coverage": 4, "spectrum": 2, "capacity": 3}
#: One country's row of a CSV table, per system, bytes.
_CSV_ROW_BYTES = 400
#: One map figure (PNG), bytes.
_MAP_BYTES = 400_000
_DENSE_GEOGRAPHY_BYTES = 1_500_000_000  # orbitshare.geo.build.DENSE_LIMIT_BYTES: larger goes to a file


def available_threads() -> int:
    """Threads a run may use: ``$NUMBA_NUM_THREADS`` when set, else the machine's cores."""
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


def available_memory_bytes() -> int | None:
    """The memory available to a new allocation now, bytes: ``MemAvailable`` of ``/proc/meminfo``, else
    ``os.sysconf`` (free pages x page size); None when neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit(memory_limit_gb: float | None) -> tuple[int | None, str]:
    """(limit in bytes or None when unknown, where it comes from): ``memory_limit_gb`` (GB = 1e9
    bytes) when given, else :data:`MEMORY_FRACTION` of :func:`available_memory_bytes`."""
    if memory_limit_gb is not None:
        return int(memory_limit_gb * 1e9), "compute.memory_limit_gb"
    avail = available_memory_bytes()
    if avail is None:
        return None, "the available memory is unknown"
    return int(avail * MEMORY_FRACTION), (
        f"{MEMORY_FRACTION * 100:.0f} % of the {size_text(avail)} available; [compute] memory_limit_gb sets another"
    )


def _file_records(path: Path) -> int:
    """An upper bound of the element records in a file from its size (a gzip file: its stored
    uncompressed size, modulo 4 GiB as gzip keeps it)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            if fh.read(2) == b"\x1f\x8b" and size >= 18:
                fh.seek(-4, os.SEEK_END)
                size = max(size, int.from_bytes(fh.read(4), "little"))
    except OSError:
        return 0
    return size // RECORD_BYTES + 1


def satellite_count(spec: SystemSection, filings: list[Shell] | None = None) -> tuple[int, bool]:
    """(satellites, exact) of one system without building it: its Walker shells' planes x
    sats_per_plane, its filing's shells, an element file's size over :data:`RECORD_BYTES` (an upper
    bound), or :data:`FETCH_SATELLITES` for a fetched group (a guess)."""
    if spec.walker is not None:
        return sum(sh.planes * sh.sats_per_plane for sh in spec.walker), True
    if spec.filing is not None:
        rows = load_filings() if filings is None else filings
        return sum(sh.total_sats for sh in rows if sh.system_id == spec.filing), True
    if spec.elements is not None:
        return _file_records(spec.elements), False
    return FETCH_SATELLITES, False


def footprint_cells(altitude_km: float, elevation_mask_deg: float, cells: int) -> int:
    """Cells of a grid of ``cells`` cells within one satellite's footprint, estimated: the spherical cap seen
    above ``elevation_mask_deg`` (degrees) from ``altitude_km`` (km) over the mean cell area, at least one and
    at most the grid.

    >>> footprint_cells(550, 25, 64800), footprint_cells(1200, 25, 64800), footprint_cells(35786, 0, 64800)
    (352, 1147, 27499)
    """
    eps = math.radians(elevation_mask_deg)
    ratio = RE_KM * math.cos(eps) / (RE_KM + max(float(altitude_km), 0.0))
    half_angle = min(max(math.acos(min(max(ratio, -1.0), 1.0)) - eps, 0.0), math.pi)  # Earth central angle
    return int(min(max(math.ceil(cells * (1.0 - math.cos(half_angle)) / 2.0), 1), cells))


def footprint_pairs(spec: SystemSection, nsat: int, cells: int, filings: list[Shell] | None) -> int:
    """(satellite, cell) pairs of one time step of a system: each satellite x the cells of its footprint
    (:func:`footprint_cells`; walker and filing shells at their altitudes, other systems at
    :data:`ASSUMED_ALTITUDE_KM`)."""
    mask = spec.elevation_mask_deg
    if spec.walker is not None:
        return sum(sh.total_sats * footprint_cells(sh.altitude_km, mask, cells) for sh in spec.walker)
    if spec.filing is not None:
        rows = [sh for sh in (load_filings() if filings is None else filings) if sh.system_id == spec.filing]
        if rows:
            return sum(sh.total_sats * footprint_cells(sh.altitude_km, mask, cells) for sh in rows)
    return nsat * footprint_cells(ASSUMED_ALTITUDE_KM, mask, cells)


def _system_key(spec: SystemSection, i: int) -> str:
    """The key of a system's satellites: its largest Walker shell, else the system."""
    if spec.walker:
        j = max(range(len(spec.walker)), key=lambda k: spec.walker[k].total_sats if spec.walker else 0)
        return f"systems[{i}].walker[{j}]"
    return f"systems[{i}]"


def _sharing_bytes(exp: Experiment, cells: int, chunk: int) -> int:
    """Bytes of the co-frequency sharing pass (module docstring); 0 when no two systems' bands overlap."""
    systems = exp.systems
    if not bands_overlap(exp.systems):
        return 0
    nb = len({b.name for s in systems for b in s.bands})
    nsys = len(systems)
    blocks = min(chunk, SPECTRUM_TIME_BLOCKS)
    return cells * (blocks * (nsys * (20 + 8 * nb) + 17) + nsys * (12 + 8 * nb) + 8)


#: the most limit points of an Article 22 mask (data/epfd_limits.csv), and the dB range of the margin histogram
_EPFD_MASK_POINTS = 14
_EPFD_HIST_DB = 100.0


def _epfd_bytes(exp: Experiment, cells: int) -> int:
    """Peak bytes of :func:`orbitshare.epfd` for one system (runs compute one system after another): the first
    pass's counts above each mask level (int32) and maximum (float64) per (cell, GSO pointing, antenna), or the
    second pass's histogram of the worst pointing (int32, 0.25 dB bins), whichever is larger, plus the output.
    Pointings: every ``arc_step_deg`` of the visible arc (at most ±81.3° from the cell's meridian)."""
    ep = exp.epfd
    nant = len(ep.antenna_diameter_m)
    pointings = 2 * int(81.3 // ep.arc_step_deg) + 1
    pass1 = cells * pointings * nant * (4 * (_EPFD_MASK_POINTS + 1) + 8)
    pass2 = cells * nant * 4 * int(_EPFD_HIST_DB / 0.25) if ep.margin else 0
    return max(pass1, pass2) + cells * nant * 8 * (3 * _EPFD_MASK_POINTS + 8)


def estimate_resources(
    exp: Experiment,
    satellites: Mapping[int, int] | None = None,
    *,
    threads: int | None = None,
) -> ResourceEstimate:
    """The peak memory and output size of running ``exp`` (module docstring), checked against
    ``[compute] memory_limit_gb`` or :data:`MEMORY_FRACTION` of the available memory.

    satellites : exact satellite counts by system index (e.g. of element files parsed by a deep
        validation); the others come from :func:`satellite_count`
    threads : the threads of the run (default ``compute.threads``, 0 meaning every core:
        ``$NUMBA_NUM_THREADS`` or the machine's)

    Arithmetic on Python integers only: nothing of the run's size is allocated, however absurd.
    """
    satellites = dict(satellites or {})
    counts, exact = [], True
    filings = load_filings() if any(s.filing is not None for s in exp.systems) else None
    for i, spec in enumerate(exp.systems):
        if i in satellites:
            counts.append(int(satellites[i]))
        else:
            n, ok = satellite_count(spec, filings)
            counts.append(n)
            exact = exact and ok
    nsat, nsys = sum(counts), len(exp.systems)
    nt = count_steps(exp.time.start, exp.time.stop, exp.time.step_s)
    res = exp.grid.resolution_deg
    cells = round(180 / res) * round(360 / res)
    comp, out = exp.compute, exp.outputs
    if threads is None:
        threads = comp.threads or available_threads()
    threads = max(int(threads), 1)
    want = set(out.datasets)
    capacity = bool(want & set(CAPACITY_DATASETS))
    chunk = comp.chunk_steps or default_chunk_steps(
        nsat, nt, ncells=cells, nsys=nsys, keep_time_series=out.keep_time_series, nthreads=threads
    )
    chunk = max(min(int(chunk), nt), 1)
    local_workers = comp.workers if comp.backend == "dask" and comp.scheduler is None and comp.workers else 0
    concurrent = max(local_workers, 1)
    sat_key = _system_key(exp.systems[counts.index(max(counts))], counts.index(max(counts)))

    parts = [MemoryPart("the interpreter, libraries and compiled kernels", "", RUNTIME_BYTES)]
    parts.append(
        MemoryPart(f"the element sets ({ELEMENT_BYTES} B x {nsat:,} satellites)", sat_key, ELEMENT_BYTES * nsat)
    )
    parts.append(MemoryPart(f"the time grid ({STEP_BYTES} B x {nt:,} steps)", "time.step_s", STEP_BYTES * nt))
    chunk_key = "compute.chunk_steps" if comp.chunk_steps else sat_key
    parts.append(
        MemoryPart(
            f"the propagation chunk buffers ({SAT_STEP_BYTES} B x {nsat:,} satellites x {chunk:,} steps"
            + (f" x {concurrent} workers)" if concurrent > 1 else ")"),
            chunk_key,
            SAT_STEP_BYTES * nsat * chunk * concurrent,
        )
    )
    # time blocks of a chunk held at once, as accumulate_chunk holds them: all while their state fits
    # BLOCK_STATE_BYTES, else one per thread
    nblocks = min(chunk, CAPACITY_TIME_BLOCKS) if capacity else min(chunk, threads)
    per_block = nsys * cells * (28 + (8 if capacity else 0))
    blocks = min(nblocks, max(threads, BLOCK_STATE_BYTES // max(per_block, 1)))
    per_cell = 28 * blocks + 90 + ((28 * blocks + 56) if capacity else 0) + (2 * chunk if out.keep_time_series else 0)
    parts.append(
        MemoryPart(
            f"the per-cell state ({per_cell} B x {cells:,} cells x {nsys} systems"
            + (f" x {concurrent} workers)" if concurrent > 1 else ")"),
            "grid.resolution_deg",
            per_cell * cells * nsys * concurrent,
        )
    )
    if capacity and exp.capacity_rule in ALLOCATION_RULES:
        # the allocation of a time step: its (satellite, cell) pairs, one step per thread at once, and the
        # per-cell sums of the served rate of each time block of a chunk
        pairs = [footprint_pairs(spec, n, cells, filings) for spec, n in zip(exp.systems, counts, strict=True)]
        busiest = pairs.index(max(pairs))
        working = min(threads, nblocks)
        parts.append(
            MemoryPart(
                f"the allocation pairs ({PAIR_BYTES} B x {sum(pairs):,} satellite-cell pairs in view x {working} "
                "threads" + (f" x {concurrent} workers)" if concurrent > 1 else ")"),
                _system_key(exp.systems[busiest], busiest),
                PAIR_BYTES * sum(pairs) * working * concurrent,
            )
        )
        if exp.capacity_band_sharing and bands_overlap(exp.systems):
            # beams that share their band: each block's serving satellite per system and cell, and its touched cells
            parts.append(
                MemoryPart(
                    f"the serving-satellite ranking of shared beams ({16 * nsys + 9} B x {cells:,} cells x {working} "
                    "threads" + (f" x {concurrent} workers)" if concurrent > 1 else ")"),
                    "grid.resolution_deg",
                    (16 * nsys + 9) * cells * working * concurrent,
                )
            )
        parts.append(
            MemoryPart(
                f"the served sums (8 B x {nsys} systems x {cells:,} cells x {nblocks} time blocks"
                + (f" x {concurrent} workers)" if concurrent > 1 else ")"),
                "grid.resolution_deg",
                8 * nsys * cells * nblocks * concurrent,
            )
        )
    sharing = _sharing_bytes(exp, cells, chunk) if capacity else 0
    if sharing:
        parts.append(
            MemoryPart(
                f"the co-frequency sharing state of overlapping bands ({cells:,} cells x {nsys} systems)"
                + (f" x {concurrent} workers" if concurrent > 1 else ""),
                "grid.resolution_deg",
                sharing * concurrent,
            )
        )
    geography = min(4 * COUNTRIES * cells, _DENSE_GEOGRAPHY_BYTES) + 48 * cells
    parts.append(MemoryPart(f"the geography ({cells:,} cells)", "grid.resolution_deg", geography))
    series = 2 * nsys * nt * cells if out.keep_time_series else 0
    if series:
        parts.append(
            MemoryPart(
                f"the kept time series (2 B x {nsys} systems x {nt:,} steps x {cells:,} cells)",
                "outputs.keep_time_series",
                series,
            )
        )
    lorenz = 8 * 4 * out.lorenz_points * (nsys + 1) if want & {"lorenz", "equity"} else 0
    if lorenz:
        parts.append(
            MemoryPart(
                f"the Lorenz curves (32 B x {out.lorenz_points:,} points x {nsys + 1} curves)",
                "outputs.lorenz_points",
                lorenz,
            )
        )
    bins = round(360 / out.gso_bin_deg)
    gso = bins * (COUNTRIES * len(out.gso_masks_deg) + 64) if "gso" in want else 0
    if gso:
        parts.append(
            MemoryPart(
                f"the GSO arc ({bins:,} longitude bins x {COUNTRIES} countries x {len(out.gso_masks_deg)} masks)",
                "outputs.gso_bin_deg",
                gso,
            )
        )
    epfd = _epfd_bytes(exp, cells) if "epfd" in want else 0
    if epfd:
        ep = exp.epfd
        parts.append(
            MemoryPart(
                f"the EPFD statistics (per cell x GSO pointing every {ep.arc_step_deg:g} deg x "
                f"{len(ep.antenna_diameter_m)} antennas; one system at a time)",
                "epfd.arc_step_deg",
                epfd,
            )
        )
    if local_workers:
        parts.append(
            MemoryPart(
                f"the Dask worker processes ({local_workers} x {WORKER_BYTES // 1_000_000} MB)",
                "compute.workers",
                local_workers * WORKER_BYTES,
            )
        )
    peak = sum(p.nbytes for p in parts)

    # the files: the results file (per-cell variables, accounts, time series, curves, arc), CSV, maps
    output = 0
    if "netcdf" in out.files:
        per_cell_vars = sum(n for d, n in _CELL_VARIABLES.items() if d in want)
        output += 8 * per_cell_vars * cells * nsys + 8 * 4 * cells + series + lorenz + gso
        output += 8 * 24 * COUNTRIES * (nsys + 1)
    if "csv" in out.files:
        tables = len(want & {"countries", "groups", "equity", "gso"})
        output += tables * COUNTRIES * (nsys + 1) * _CSV_ROW_BYTES
    output += len(out.maps) * (nsys + 1) * _MAP_BYTES + ("lorenz" in want) * _MAP_BYTES + 100_000
    limit, source = memory_limit(comp.memory_limit_gb)
    return ResourceEstimate(
        peak_bytes=peak,
        output_bytes=output,
        limit_bytes=limit,
        limit_source=source,
        steps=nt,
        satellites=nsat,
        cells=cells,
        parts=tuple(parts),
        satellites_exact=exact,
    )
