"""The experiment runner: one experiment file in, one run directory out.

:func:`run` (and ``orbitshare run [EXPERIMENT.toml]``) loads and validates an experiment
(:func:`orbitshare.experiment.validate.load_experiment`; ``None`` is the embedded default), builds its time
steps, grid, geography and systems, makes the datasets its ``[outputs]`` ask for in ONE streaming
pass over time chunks (:func:`orbitshare.engine.service.service`, or :func:`orbitshare.engine.coverage.coverage`
when no capacity output is asked for), then the country, group and equity accounts, and writes:

=========================  ===================================================================
``experiment.toml``         the resolved configuration (``Experiment.to_toml()``), written first
``results.h5``              every dataset as a netCDF4 group, with provenance (``files`` has "netcdf")
``countries.csv`` ...       ``countries.csv``, ``groups.csv``, ``equity.csv`` (``files`` has "csv")
``map_*.png``               the maps of ``outputs.maps``; ``lorenz_capacity_per_person.png`` with "lorenz"
``report.md``/``.html``     the report (with "countries")
``checkpoint/state.npz``    only while the run is going or after it was stopped
=========================  ===================================================================

``map_systems_serving.png`` (systems that may serve each country) is written only when landing rights
leave some country out of some system's service area.

The capacity rule (``capacity.rule``, ``exp.capacity_rule``) and the demand (``[demand]``, ``exp.demand``) go
to :func:`~orbitshare.engine.service.service`. Under an allocation rule ("maxmin", "throughput") the accounts,
equity and Lorenz curves are of the rate served per subscriber, the maps ``served_per_subscriber_mbps`` and
``demand_met_fraction`` are drawn, ``capacity_per_person_mbps`` and ``capacity_mbps`` asked for are drawn as
``served_per_subscriber_mbps`` and ``served_mbps`` (the report says so), and the Lorenz figure is
``lorenz_served_per_subscriber.png``.

Default run directory: ``runs/<experiment name>`` under the current directory (a name that would
lead elsewhere is refused). Every file is written through a temporary file and ``os.replace``: a
stopped run never leaves a half-written file.

The run directory is :mod:`orbitshare.rundir`'s: it is locked for the lifetime of the run (a second
run or resume into it is refused), its manifest ``.orbitshare-run.json`` lists the files the run
wrote, and only those are ever replaced or deleted. Nothing is overwritten without
``overwrite=True``: a directory holding an interrupted run, or a finished run of another experiment, is
refused with :class:`~orbitshare.errors.ResultsError`, and one holding anything else is refused even
then, unless empty. A finished run of the SAME experiment (the same resolved configuration, the same
input files by sha256 and the same orbitshare version, as its results.h5 records them) is up to date:
:func:`run` returns it, read from disk, without computing anything (``Results.up_to_date``). A
run that replaces a finished run is built beside it and swapped in only when
complete; interrupted, it leaves the old run as it was (``resume=True`` continues it). The free
space is checked against an estimate of the results' size before they are written.

Checkpoints and resume
----------------------
After each finished time chunk the merged accumulator state (the integer arrays and float sums of
:class:`~orbitshare.kernels.chunkstate.ChunkState`, the SGP4 error counts, the kept time series if
any, the number of finished chunks and the chunk length) goes atomically to
``<run>/checkpoint/state.npz`` with the configuration's fingerprint (sha256 of ``to_toml()`` less
its first, comment line, which names the file it came from), the sha256 of every input file the
pass reads (element files, fetch cache entries, boundaries, population raster: the ``input_files``
of the provenance, hashed once) and the geography's cache key (:mod:`orbitshare.checkpoint`).
``resume=True`` continues from it:
the finished chunks are not propagated again and, the chunk partition being the same, the results
are bit-identical to an uninterrupted run. A checkpoint of another configuration, or one whose
input files changed since (the message names the file), is refused. The
checkpoint is removed when the run has finished.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numba
import numpy as np
import xarray as xr

from orbitshare._version import __version__
from orbitshare.analysis.accounts import (
    country_accounts,
    equity_summary,
    group_accounts,
    is_allocation,
    lorenz_curves,
)
from orbitshare.analysis.protection import epfd_by_system, epfd_country_summary, gso_equity
from orbitshare.checkpoint import (
    CHECKPOINT,
    Fingerprint,
    check_inputs,
    clear_stale_temporaries,
    config_fingerprint,
    input_records,
    read_checkpoint,
    remove_checkpoint,
    write_checkpoint,
)
from orbitshare.elements.elementset import ElementSet
from orbitshare.elements.fetch import fetch_group
from orbitshare.elements.owners import satellite_owners
from orbitshare.engine.coverage import coverage as coverage_fn
from orbitshare.engine.dask_backend import get_client
from orbitshare.engine.gso import arc_occupancy, visible_arc
from orbitshare.engine.passinputs import default_chunk_steps
from orbitshare.engine.service import service
from orbitshare.errors import ConfigError, OrbitshareError, ParameterError, ResultsError
from orbitshare.experiment import (
    DATASETS,
    Experiment,
    build_geography,
    build_grid,
    build_systems,
    build_times,
    load_experiment,
)
from orbitshare.experiment.build import build_epfd_kwargs, service_options
from orbitshare.experiment.schema import ALLOCATION_RULES, MAP_VARIABLES, size_text
from orbitshare.geo.naturalearth import find_boundaries, find_population
from orbitshare.io import open_results, read_provenance, save_results
from orbitshare.progress import Progress
from orbitshare.report.document import MAPS_NOTE, report_meta, write_report
from orbitshare.report.epfd import EPFD_BLOCKS, epfd_blocks, write_epfd_maps
from orbitshare.report.figures import (
    SERVED_MAPS,
    grid_edges,
    map_figure,
    map_outlines,
    slug,
    unique_name,
    write_choropleth,
    write_figures,
    write_served_maps,
    write_serving_map,
)
from orbitshare.report.tables import write_tables
from orbitshare.rundir import STAGING, RunDirectory, locked, read_manifest

__all__ = [
    "run",
    "dry_run",
    "DryRun",
    "Results",
    "Progress",
    "compare_runs",
    "config_fingerprint",
    "default_out_dir",
    "CHECKPOINT",
    "RESULTS_FILE",
]

RESULTS_FILE = "results.h5"
CONFIG_FILE = "experiment.toml"
# test hook: seconds to sleep after each checkpoint (lets a test stop a run between chunks)
_DELAY_ENV = "ORBITSHARE_RUNNER_CHUNK_DELAY_S"
#: the results.h5 groups a run writes: the datasets, and the EPFD country summary after "epfd"
_GROUPS = (*DATASETS, "epfd_countries")


# ============================================================================ results
@dataclass
class Results:
    """What :func:`run` made: the Datasets (None when not asked for), where they went.

    ``files``: the paths written, in order; ``timings``: seconds per stage (``geography``,
    ``systems``, ``pass``, ``accounts``, ``writing``, ``total``); ``resumed_chunks``: time chunks
    taken from a checkpoint.
    """

    experiment: Experiment
    out_dir: Path | None
    files: list[Path] = field(default_factory=list)
    coverage: xr.Dataset | None = None
    spectrum: xr.Dataset | None = None
    capacity: xr.Dataset | None = None
    countries: xr.Dataset | None = None
    groups: xr.Dataset | None = None
    equity: xr.Dataset | None = None
    lorenz: xr.Dataset | None = None
    gso: xr.Dataset | None = None
    epfd: xr.Dataset | None = None  # single-entry EPFD, one orbitshare.epfd per system (analysis.protection)
    epfd_countries: xr.Dataset | None = None
    timings: dict[str, float] = field(default_factory=dict)
    resumed_chunks: int = 0
    up_to_date: bool = False

    @property
    def datasets(self) -> dict[str, xr.Dataset]:
        """name → Dataset of the datasets made, in the order of ``outputs.datasets``."""
        return {n: getattr(self, n) for n in _GROUPS if getattr(self, n) is not None}

    def __repr__(self) -> str:
        return (
            f"Results({self.experiment.name!r}, out_dir={str(self.out_dir)!r}, datasets="
            f"{list(self.datasets)}, files={len(self.files)})"
        )


# ============================================================================ progress
# Progress (the stages' bars or plain lines on stderr) lives in orbitshare.progress; imported above.


# ============================================================================ dry run
#: Seconds per thread of the streaming pass, calibrated on this project's 2-core x86-64 CI-class machine
#: (one thread, ``compute.threads = 1``, other jobs sharing the cores) with the runner's timings of the
#: small test experiment (1116 + 588 Walker satellites, 60 s steps): coverage only at 5° and 1°, 200 steps
#: (pass 0.57 s and 3.50 s), and capacity under "maxmin" at 5° (200 steps, 8.7 s) and 1° (100 steps,
#: 29.2 s). Per satellite-step (propagation and the footprint rows) and per satellite-step-footprint-cell
#: (the cells inside each satellite's footprint, :func:`orbitshare.experiment.budget.footprint_cells`):
TIME_S_PER_SAT_STEP = 2.0e-6
TIME_S_PER_PAIR_STEP = 1.8e-8
#: the same under an allocation rule ("maxmin", "throughput": the per-step allocation of every pair)
ALLOCATION_S_PER_SAT_STEP = 2.5e-5
ALLOCATION_S_PER_PAIR_STEP = 3.0e-7
#: each time chunk of a run (its checkpoint, written and fsync'ed, and the chunk's set-up): the small test
#: experiment in 40 chunks of 5 steps against 1 chunk of 200 took 0.3 s more per chunk, measured with the
#: machine's 2 cores oversubscribed (load 7); about 0.2 s on a machine of one's own
CHUNK_S = 0.2
#: the other stages, measured with the same runs: the accounts per cell and system, writing results.h5,
#: and the report with its figures (written with the "countries" dataset); per map figure from the
#: default experiment's run (2° grid, 12 map figures: writing 17.0 s; its pass 82.5 s on 2 threads, where
#: these rates give 78 s)
ACCOUNTS_S_PER_CELL_SYSTEM = 2.0e-5
WRITE_RESULTS_S = 1.0
WRITE_REPORT_S = 3.5
WRITE_MAP_S = 1.0
#: the geography read from its cache (a first build at a new resolution takes longer: seconds to a minute)
GEOGRAPHY_CACHED_S = 0.5


@dataclass(frozen=True)
class DryRun:
    """What :func:`run` would do with an experiment, computed without running it (:func:`dry_run`).

    Sizes: ``cells`` (grid cells), ``steps`` (time steps), ``satellites`` (all systems; an upper bound when
    an element file was sized rather than parsed: ``satellites_exact``), ``systems`` (name → satellites),
    ``chunk_steps`` and ``chunks`` of the streaming pass, ``threads``. Estimates: ``peak_bytes`` (memory)
    and ``output_bytes`` (the run directory) from :func:`orbitshare.experiment.budget.estimate_resources`;
    ``pairs_per_step`` (satellite-cell pairs in view per step, from the footprint caps over the mean cell
    area: 0.71 of the pairs the small test experiment's inclined shells see, whose high-latitude cells are
    smaller); ``seconds`` (expected time, s) and ``stage_seconds`` (per stage) from the calibrated rates of
    this module (``TIME_S_PER_...``, ``CHUNK_S``), the pass divided by the thread count (ideal scaling).
    """

    experiment: Experiment
    out_dir: Path
    cells: int
    steps: int
    satellites: int
    satellites_exact: bool
    systems: dict[str, int]
    chunk_steps: int
    chunks: int
    threads: int
    pairs_per_step: int
    peak_bytes: int
    limit_bytes: int | None
    output_bytes: int
    stage_seconds: dict[str, float]

    @property
    def seconds(self) -> float:
        """Expected time of the run, s (the sum of ``stage_seconds``)."""
        return float(sum(self.stage_seconds.values()))

    def lines(self) -> list[str]:
        """The summary ``orbitshare run --dry-run`` prints, one ``key: value`` a line."""
        exp = self.experiment
        g = exp.grid.resolution_deg
        sats = f"{self.satellites:,}" + ("" if self.satellites_exact else " (at most: element files sized, not read)")
        limit = "unknown" if self.limit_bytes is None else size_text(self.limit_bytes)
        stages = ", ".join(f"{k} {_duration(v)}" for k, v in self.stage_seconds.items())
        return [
            f"experiment: {exp.name}" + (f" ({exp.source})" if exp.source else ""),
            f"run directory: {self.out_dir}",
            f"cells: {self.cells:,} ({round(180 / g)} x {round(360 / g)} of {g:g} deg)",
            f"steps: {self.steps:,} of {exp.time.step_s:g} s "
            f"({_iso_text(exp.time.start)} to {_iso_text(exp.time.stop)})",
            f"systems: {len(self.systems)} ("
            + ", ".join(f"{name}: {n:,}" for name, n in self.systems.items())
            + " satellites)",
            f"satellites: {sats}",
            f"pass: {self.chunks:,} chunks of {self.chunk_steps:,} steps on {self.threads} threads, "
            f"{self.pairs_per_step:,} satellite-cell pairs in view per step",
            f"datasets: {', '.join(exp.outputs.datasets)}; files: {', '.join(exp.outputs.files)}",
            f"memory: {size_text(self.peak_bytes)} estimated peak (limit {limit})",
            f"output: {size_text(self.output_bytes)} estimated",
            f"expected time: {_duration(self.seconds)} ({stages}; rates of a 2-core test machine, "
            "one thread, scaled by the threads: expect within a factor of 2-3)",
            "dry run: nothing computed or written",
        ]


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _iso_text(t: Any) -> str:
    if isinstance(t, _dt.datetime):
        return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(t)


def dry_run(
    experiment: Experiment | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> DryRun:
    """The sizes, memory, output and expected time of running ``experiment`` (a validated
    :class:`~orbitshare.experiment.schema.Experiment`, a path, or None for the embedded default) into
    ``out_dir`` (default ``runs/<name>``), without running it: nothing is computed, built, downloaded
    or written (element files are parsed for their satellite counts). See :class:`DryRun`.

    Raises :class:`~orbitshare.errors.ConfigError` for a bad experiment, as :func:`run` does (also for one
    whose estimated peak memory is over the limit: the message names the estimate and its largest part).
    """
    from orbitshare.experiment.budget import available_threads, footprint_pairs, satellite_count

    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment, deep=True)
    est = exp.estimate
    if est is None:  # an Experiment made in code, not by validation
        from orbitshare.experiment.budget import estimate_resources

        est = estimate_resources(exp)
    out = Path(out_dir) if out_dir is not None else default_out_dir(exp)
    counts = [satellite_count(s)[0] for s in exp.systems]
    exact = [s.walker is not None or s.filing is not None for s in exp.systems]
    sized = sum(c for c, e in zip(counts, exact, strict=True) if not e)
    rest = est.satellites - sum(c for c, e in zip(counts, exact, strict=True) if e)  # parsed element files
    if sized and rest >= 0:
        counts = [c if e else round(c * rest / sized) for c, e in zip(counts, exact, strict=True)]
    pairs = sum(footprint_pairs(s, n, est.cells, None) for s, n in zip(exp.systems, counts, strict=True))
    threads = max(int(exp.compute.threads or available_threads()), 1)
    nsys = len(exp.systems)
    chunk = exp.compute.chunk_steps or default_chunk_steps(
        est.satellites,
        est.steps,
        ncells=est.cells,
        nsys=nsys,
        keep_time_series=exp.outputs.keep_time_series,
        nthreads=threads,
    )
    chunk = max(min(int(chunk), est.steps), 1)
    want = set(exp.outputs.datasets)
    allocation = bool(want & {"spectrum", "capacity", "equity", "lorenz"}) and exp.capacity_rule in ALLOCATION_RULES
    per_sat, per_pair = (
        (ALLOCATION_S_PER_SAT_STEP, ALLOCATION_S_PER_PAIR_STEP)
        if allocation
        else (TIME_S_PER_SAT_STEP, TIME_S_PER_PAIR_STEP)
    )
    stages = {
        "geography": GEOGRAPHY_CACHED_S,
        "pass": est.steps * (per_sat * est.satellites + per_pair * pairs) / threads + CHUNK_S * -(-est.steps // chunk),
        "accounts": ACCOUNTS_S_PER_CELL_SYSTEM * est.cells * nsys if "countries" in want else 0.0,
        "writing": (WRITE_RESULTS_S if "netcdf" in exp.outputs.files else 0.0)
        + (WRITE_REPORT_S if "countries" in want else 0.0)
        + WRITE_MAP_S * len(exp.outputs.maps) * (nsys + 1),
    }
    return DryRun(
        experiment=exp,
        out_dir=out,
        cells=est.cells,
        steps=est.steps,
        satellites=est.satellites,
        satellites_exact=est.satellites_exact,
        systems={s.name: int(n) for s, n in zip(exp.systems, counts, strict=True)},
        chunk_steps=chunk,
        chunks=-(-est.steps // chunk),
        threads=threads,
        pairs_per_step=int(pairs),
        peak_bytes=est.peak_bytes,
        limit_bytes=est.limit_bytes,
        output_bytes=est.output_bytes,
        stage_seconds=stages,
    )


# ============================================================================ stopping
_STOP: dict[str, int | None] = {"signal": None}


def request_stop(signum: int | None = None, frame: FrameType | None = None) -> None:
    """Signal handler: ask the run to stop at the next safe point (after the current chunk's
    checkpoint, or between stages) with ``KeyboardInterrupt``; a second signal stops at once."""
    if _STOP["signal"] is not None:
        raise KeyboardInterrupt(f"signal {signum} (again)")
    _STOP["signal"] = signum if signum is not None else 0


def install_signal_handlers() -> Callable[[], None]:
    """Route SIGINT and SIGTERM to :func:`request_stop` (main thread only); return a function
    restoring the previous handlers. A signal must not raise inside a Numba kernel call (that turns
    into a SystemError), so the run stops between chunks instead, its last checkpoint written."""
    old: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            old[sig] = signal.signal(sig, request_stop)
    _STOP["signal"] = None

    def restore() -> None:
        for sig, h in old.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, h)
        _STOP["signal"] = None

    return restore


def _check_stop() -> None:
    if _STOP["signal"] is not None:
        raise KeyboardInterrupt(f"signal {_STOP['signal']}")


# ============================================================================ helpers
def default_out_dir(experiment: Experiment) -> Path:
    """``runs/<experiment name>`` under the current directory.

    Raises :class:`~orbitshare.errors.ConfigError` (key ``experiment.name``) for a name that would
    put the run directory anywhere else (``..``, ``/``, an absolute path): validation allows safe
    names only, this guards an :class:`~orbitshare.experiment.schema.Experiment` made in code.
    """
    runs = Path.cwd() / "runs"
    name = experiment.name
    out = Path(os.path.abspath(runs / name)) if "\x00" not in name else runs
    if out.parent != runs or out.name != name:
        raise ConfigError(
            f"experiment.name: {name!r} would put the run directory outside {runs}; expected letters, "
            "digits, '.', '_' or '-' (or pass --out DIR)"
        )
    return out


def _load(experiment: Experiment | str | os.PathLike[str] | None) -> Experiment:
    if isinstance(experiment, Experiment):
        return experiment
    return load_experiment(experiment)


def _prepare_dir(rd: RunDirectory, fingerprint: str) -> dict[str, Any] | None:
    """The checkpoint to resume in the locked run directory ``rd`` (None: a fresh start); the
    directory rules (what may be replaced, the staging of a replacement) are :mod:`orbitshare.rundir`'s."""
    ck = rd.build / CHECKPOINT
    clear_stale_temporaries(ck)  # of a killed checkpoint write
    if rd.resume and ck.exists():
        return read_checkpoint(ck, fingerprint, config_file=rd.build / CONFIG_FILE)
    return None


def _output_bytes(exp: Experiment, datasets: dict[str, xr.Dataset], nsys: int) -> int:
    """Estimated size of the files the writing stage makes, bytes: the in-memory size of the
    datasets (results.h5), three times that of the accounts (the CSV text), 2 MB per figure, and the
    report: 1 MB plus its embedded figures (base64: 4/3 of 2 MB each)."""
    nbytes = sum(ds.nbytes for ds in datasets.values()) if "netcdf" in exp.outputs.files else 0
    if "csv" in exp.outputs.files:
        nbytes += 3 * sum(datasets[n].nbytes for n in ("countries", "groups", "equity") if n in datasets)
    nfigures = len(exp.outputs.maps) * (nsys + 1) + 1
    return int(nbytes + nfigures * 2_000_000 * (1 + 4 / 3) + 1_000_000)


# ============================================================================ the run
def _owners(exp: Experiment, systems: list) -> dict[str, Any] | None:
    """``owners=`` of country_accounts: None (the systems' administrations) or per-satellite owners."""
    if exp.outputs.owners_data_dir is None:
        return None
    return {
        s.name: satellite_owners(
            s.elements, data_dir=exp.outputs.owners_data_dir, administration=s.administration or None
        )
        for s in systems
    }


def _gso(exp: Experiment, systems: list, geography: xr.Dataset, times: Any, owners: dict | None) -> xr.Dataset:
    elements = ElementSet.concat([s.elements for s in systems])
    if owners is None:
        own = np.concatenate(
            [np.full(len(s.elements), s.administration or "unattributed", dtype=object) for s in systems]
        )
    else:
        own = np.concatenate(
            [np.asarray(getattr(owners[s.name], "owner", owners[s.name]), dtype=object) for s in systems]
        )
    occ = arc_occupancy(elements, own, times.time[0], bin_deg=exp.outputs.gso_bin_deg)
    return visible_arc(geography, masks_deg=exp.outputs.gso_masks_deg, bin_deg=exp.outputs.gso_bin_deg, occupancy=occ)


#: the Lorenz variables of the equity Dataset: proportional rule, then allocation rules
_LORENZ_VARS = ("lorenz_population_share", "lorenz_capacity_share", "lorenz_subscriber_share", "lorenz_served_share")
#: under an allocation rule, the map drawn for a proportional-rule map key of ``outputs.maps``
_ALLOCATION_STAND_IN = {"capacity_per_person_mbps": "served_per_subscriber_mbps", "capacity_mbps": "served_mbps"}


def _allocation_kwargs(exp: Experiment) -> dict[str, Any]:
    """``rule=``, ``band_sharing=``, ``demand=``, ``inline_angle_deg=`` and ``split=`` of
    :func:`~orbitshare.engine.service.service` from ``[capacity]``, ``[demand]`` and ``[spectrum]``."""
    return {
        "rule": exp.capacity_rule,
        "band_sharing": exp.capacity_band_sharing,
        "demand": exp.demand,
        **service_options(exp),
    }


def _served_map_names(exp: Experiment) -> list[str]:
    """The allocation maps of ``outputs.maps`` (:data:`~orbitshare.report.figures.SERVED_MAPS`), a
    ``capacity_per_person_mbps`` asked for standing for ``served_per_subscriber_mbps``; in order, once."""
    names: list[str] = []
    for m in exp.outputs.maps:
        m = _ALLOCATION_STAND_IN.get(m, m)
        if m in SERVED_MAPS and m not in names:
            names.append(m)
    return names


def _maps_note(exp: Experiment, capacity: xr.Dataset | None) -> str:
    """The report's sentence on maps asked for under the proportional rule's names and drawn as their
    allocation counterparts; "" when none."""
    if capacity is None or not is_allocation(capacity):
        return ""
    asked = [m for m in exp.outputs.maps if m in _ALLOCATION_STAND_IN]
    if not asked:
        return ""
    rule = capacity.attrs.get("rule", "maxmin")
    what = {
        "served_per_subscriber_mbps": "the rate served per subscriber",
        "served_mbps": "the rate served to the cell",
    }
    parts = [f"{m} as {_ALLOCATION_STAND_IN[m]} ({what[_ALLOCATION_STAND_IN[m]]})" for m in asked]
    return (
        f'Under the capacity rule "{rule}" there is no capacity per person or capacity spread over cells: the maps '
        "asked for are drawn as their allocation counterparts, " + " and ".join(parts) + "."
    )


def _maps(out: Path, exp: Experiment, geography: xr.Dataset, res: Results) -> list[Path]:
    """The PNG maps of ``outputs.maps`` (one per system; capacity per person also for all systems).

    Under an allocation rule (capacity rule "maxmin" or "throughput") ``served_per_subscriber_mbps`` and
    ``demand_met_fraction`` are drawn by :func:`~orbitshare.report.figures.write_served_maps`;
    ``capacity_per_person_mbps`` stands for ``served_per_subscriber_mbps`` and ``capacity_mbps`` for
    ``served_mbps`` (the report says so)."""
    alloc = res.capacity is not None and is_allocation(res.capacity)
    wanted = list(exp.outputs.maps)
    if alloc:
        wanted = [_ALLOCATION_STAND_IN.get(m, m) for m in wanted]
    paths = []
    if "covered_fraction" in wanted and res.coverage is not None:
        paths += write_figures(out, geography, res.coverage[["covered_fraction"]])
    if "capacity_per_person_mbps" in wanted and res.capacity is not None and not alloc:
        paths += write_figures(out, geography, None, res.capacity[["capacity_per_person_mbps"]])
    if alloc and res.capacity is not None:
        served_maps = _served_map_names(exp)
        stand_in = "capacity_per_person_mbps" in exp.outputs.maps
        for m in served_maps:
            note = (
                "Drawn for capacity_per_person_mbps of outputs.maps (no capacity per person under this rule)."
                if stand_in and m == "served_per_subscriber_mbps"
                else ""
            )
            paths += write_served_maps(out, geography, res.capacity, [m], note=note)
    others = [
        m
        for m in dict.fromkeys(wanted)
        if m not in ("covered_fraction", "capacity_per_person_mbps") and m not in SERVED_MAPS
    ]
    if not others:
        return paths
    segments, outlines = map_outlines(geography)
    used = {p.stem for p in paths}
    for m in others:
        ds = getattr(res, MAP_VARIABLES.get(m, "capacity"))
        if ds is None or m not in ds:
            continue
        ds = ds.sortby("lat").sortby("lon")
        lat_e, lon_e = grid_edges(ds)
        da = ds[m]
        if "band" in da.dims:  # sum over the bands of each system (a system's bands do not overlap)
            da = da.sum("band", skipna=True, min_count=1)
        attrs = ds[m].attrs
        log = m != "inline_fraction"  # a fraction in [0, 1]: linear
        scale = "log scale" if log else "linear scale"
        per = [(s, da.sel(system=s)) for s in da["system"].values] if "system" in da.dims else [("all systems", da)]
        for s, one in per:
            name = unique_name(f"map_{m}_{slug(str(s))}", used)
            title = f"{attrs.get('long_name', m)}, {s}"[:110]
            paths.append(
                map_figure(
                    out / f"{name}.png",
                    lat_e,
                    lon_e,
                    one.transpose("lat", "lon").values,
                    log=log,
                    title=title,
                    cbar_label=f"{m} ({attrs.get('units', '1')})",
                    segments=segments,
                    footnote=f"{m}: {attrs.get('long_name', '')} ({scale}, 1st to 99th percentile of the cells). "
                    + outlines,
                )
            )
    return paths


_NOT_A_PASS_INPUT = "experiment"  # the experiment file: its resolved text is the config fingerprint


def _input_files(exp: Experiment) -> dict[str, Path]:
    """label → path of every file the run reads, once its systems and geography are built: the
    experiment file, each system's element file or fetch cache entry, and for a "naturalearth"
    geography its boundaries and population raster. The provenance records them and the
    checkpoint's :class:`~orbitshare.checkpoint.Fingerprint` holds their sha256 (all but the
    experiment file, whose resolved text the configuration fingerprint covers)."""
    files: dict[str, Path] = {}
    if exp.source is not None and Path(exp.source).is_file():
        files[_NOT_A_PASS_INPUT] = Path(exp.source)
    for i, s in enumerate(exp.systems):
        if s.elements is not None:
            files[f"systems[{i}].elements ({s.name})"] = Path(s.elements)
        elif s.fetch is not None:  # the cache entry build_systems just read (fresh: no download)
            files[f"systems[{i}].fetch ({s.name})"] = fetch_group(s.fetch)
    g = exp.geography
    if g.source == "naturalearth":  # the files build_geography read
        boundaries = find_boundaries(g.data_dir, g.scale if g.scale is not None else "50m")
        files["geography.boundaries"] = boundaries
        pop = find_population(boundaries, g.population)
        if pop is not None:
            files["geography.population"] = pop
    return files


def _geography_key(geography: xr.Dataset) -> str:
    """The geography's cache key (JSON text) without the size:mtime stamps of its boundaries and
    population files, whose sha256 the fingerprint holds instead (a touched file is the same)."""
    text = str(geography.attrs.get("cache_key", ""))
    try:
        key = json.loads(text)
    except ValueError:
        return text
    if isinstance(key, dict):
        key = {k: v for k, v in key.items() if k not in ("boundaries", "population")}
    return json.dumps(key, sort_keys=True)


def _run_fingerprint(fp: str, records: list[dict[str, Any]], geography: xr.Dataset) -> Fingerprint:
    """The checkpoint :class:`~orbitshare.checkpoint.Fingerprint`: the configuration fingerprint
    ``fp``, the sha256 of the input ``records`` (:func:`_input_files`) and the geography key."""
    inputs = [r for r in records if r["label"] != _NOT_A_PASS_INPUT]
    return Fingerprint.of(fp, inputs, _geography_key(geography))


def _provenance(exp: Experiment, systems: list, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The provenance of results.h5; ``records``: the run's :func:`~orbitshare.checkpoint.input_records`
    (hashed once, for the checkpoint fingerprint too) → ``input_files``."""
    return {
        "input_files": records,
        "config": exp.to_toml(),
        "elements": {s.name: s.elements for s in systems},
        "experiment_name": exp.name,
        "config_sha256": config_fingerprint(exp),
    }


@contextlib.contextmanager
def _compute_client(compute: Any, backend: str | None = None) -> Iterator[Any]:
    """A Dask client for ``backend = "dask"`` (an existing scheduler or a local cluster), else None;
    ``backend`` overrides ``compute.backend``."""
    if (backend or compute.backend) != "dask":
        yield None
        return
    with get_client(scheduler=compute.scheduler, workers=compute.workers) as client:
        yield client


def run(
    experiment: Experiment | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    backend: str | None = None,
) -> Results:
    """Run an experiment into its run directory (module docstring); return the :class:`Results`.

    experiment : an :class:`~orbitshare.experiment.schema.Experiment`, a path to an experiment file, or None
        (the embedded default)
    out_dir : the run directory (default ``runs/<experiment name>`` under the current directory)
    overwrite : replace the run in ``out_dir``, finished or interrupted (only its own files; a
        finished run stays until the new one is complete)
    resume : continue an interrupted run from ``out_dir/checkpoint/state.npz`` (a fresh start when
        there is none), or an interrupted replacement of a finished run
    progress : progress bars on stderr
    backend : run the pass on this backend ("cpu", "dask" or "cuda") instead of ``compute.backend``; the
        configuration, its fingerprint and the files still name ``compute.backend`` (the backends give the
        same bits). A sweep runs each sample as one Dask task this way, with ``backend="cpu"`` inside it.

    Raises :class:`~orbitshare.errors.ConfigError` for a bad experiment (or a name that would lead
    out of ``runs/``), :class:`~orbitshare.errors.ResultsError` for a run directory that may not be
    written (another run holds it, it holds files of no run, too little free space) or a
    checkpoint that does not fit; other errors of the computation as they come.
    ``KeyboardInterrupt`` (and SIGTERM under the CLI) leaves the last checkpoint for ``resume``.
    """
    t_start = time.perf_counter()
    exp = _load(experiment)
    if exp.compute.backend not in ("cpu", "dask", "cuda"):  # pragma: no cover - validation refuses it
        raise ConfigError(f"compute.backend: {exp.compute.backend!r} is not available ('cpu', 'dask' or 'cuda')")
    if backend is not None and backend not in ("cpu", "dask", "cuda"):
        raise ParameterError(f"run: backend: expected 'cpu', 'dask' or 'cuda', got {backend!r}")
    out = Path(out_dir) if out_dir is not None else default_out_dir(exp)
    if not overwrite and not resume:
        done = _up_to_date(exp, out, t_start)
        if done is not None:
            return done
    with RunDirectory.open(out, overwrite=overwrite, resume=resume) as rd:  # locked until the run ends
        return _run_locked(exp, rd, progress=progress, t_start=t_start, backend=backend or exp.compute.backend)


def _up_to_date(exp: Experiment, out: Path, t_start: float) -> Results | None:
    """The finished run in ``out`` read back when it is this experiment's (same resolved configuration,
    same input files by sha256, same orbitshare version, per its results.h5), else None. Runs whose
    systems fetch elements are never taken as up to date (the fetch cache may hold newer elements)."""
    manifest = read_manifest(out) if out.is_dir() else None
    if manifest is None or not manifest.finished or RESULTS_FILE not in manifest.files:
        return None
    if (out / STAGING).exists():  # an interrupted --overwrite waits there: the run directory says so
        return None
    if any(s.fetch is not None for s in exp.systems):
        return None
    with locked(out):  # another run using the directory: refused, named, as RunDirectory.open would
        return _read_if_same(exp, out, manifest.files, t_start)


def _read_if_same(exp: Experiment, out: Path, names: list[str], t_start: float) -> Results | None:
    """:func:`_up_to_date` in the locked run directory."""
    try:
        prov = read_provenance(out / RESULTS_FILE)
        before = [(r["label"], r["sha256"]) for r in json.loads(prov.get("input_files", "[]"))]
        now = [(r["label"], r["sha256"]) for r in input_records(_input_files(exp))]
    except (OSError, ValueError, KeyError, TypeError, OrbitshareError):
        return None
    same = (
        prov.get("orbitshare_version") == __version__
        and prov.get("config_sha256") == config_fingerprint(exp)
        and [b for b in before if b[0] != _NOT_A_PASS_INPUT] == [n for n in now if n[0] != _NOT_A_PASS_INPUT]
    )
    if not same:
        return None
    res = Results(experiment=exp, out_dir=out, files=[out / f for f in names], up_to_date=True)
    got = open_results(out / RESULTS_FILE)
    for name, ds in got.items() if isinstance(got, dict) else ():
        if name in _GROUPS:
            setattr(res, name, ds)
    res.timings["total"] = time.perf_counter() - t_start
    return res


def _run_locked(exp: Experiment, rd: RunDirectory, *, progress: bool, t_start: float, backend: str) -> Results:
    """:func:`run` in the locked run directory ``rd``: the pass, the accounts, the files."""
    out = rd.build  # the run directory, or the staging directory of a run that replaces a finished one
    fp = config_fingerprint(exp)
    ck_path = out / CHECKPOINT
    resume_data = _prepare_dir(rd, fp)
    pr = Progress(progress)
    res = Results(experiment=exp, out_dir=rd.out)
    files = res.files
    files.append(rd.write_text(CONFIG_FILE, exp.to_toml()))

    if exp.compute.threads:
        numba.set_num_threads(exp.compute.threads)
    want = set(exp.outputs.datasets)

    pr.start("geography")
    times = build_times(exp)
    grid = build_grid(exp)
    geography = build_geography(exp, grid)
    res.timings["geography"] = pr.done(f"{grid.nlat}x{grid.nlon} cells, {geography.sizes.get('country', 0)} countries")
    _check_stop()
    pr.start("systems")
    systems = build_systems(exp)
    nsat = sum(len(s.elements) for s in systems)
    res.timings["systems"] = pr.done(f"{len(systems)} systems, {nsat} satellites")
    records = input_records(_input_files(exp))  # hashed once: checkpoint fingerprint and provenance
    run_fp = _run_fingerprint(fp, records, geography)
    if resume_data is not None:
        check_inputs(ck_path, resume_data, run_fp)  # a changed input file is refused, named

    nt = len(times)
    chunk_steps = exp.compute.chunk_steps or default_chunk_steps(
        nsat, nt, ncells=grid.nlat * grid.nlon, nsys=len(systems), keep_time_series=exp.outputs.keep_time_series
    )
    chunk_steps = int(min(chunk_steps, nt))
    if resume_data is not None:
        if resume_data["chunk_steps"] != chunk_steps:
            raise ResultsError(
                f"{ck_path}: checkpoint of {resume_data['chunk_steps']}-step chunks, this run uses "
                f"{chunk_steps}; pass --overwrite to start over"
            )
        res.resumed_chunks = resume_data["chunks_done"]
    delay = float(os.environ.get(_DELAY_ENV, "0") or 0)
    nchunks = -(-nt // chunk_steps)

    def on_chunk(info: dict[str, Any]) -> None:
        write_checkpoint(ck_path, run_fp, info)
        pr.update(min(nt, info["chunks_done"] * chunk_steps))  # in steps: a bar with a rate and an ETA
        if delay > 0:
            time.sleep(delay)
        _check_stop()

    _check_stop()
    pr.start(
        f"coverage pass ({nt} steps in {nchunks} chunks)",
        total=nt,
        done=min(nt, resume_data["chunks_done"] * chunk_steps) if resume_data else 0,
        unit="step",
    )
    kw: dict[str, Any] = {
        "chunk_steps": chunk_steps,
        "keep_time_series": exp.outputs.keep_time_series,
        "resume": resume_data,
        "on_chunk": on_chunk,
    }
    with _compute_client(exp.compute, backend) as client:
        if client is not None:
            kw["client"] = client
        if backend == "cuda":
            kw["backend"] = "cuda"
        if want & {"spectrum", "capacity", "equity", "lorenz"}:
            kw.update(_allocation_kwargs(exp))
            svc = service(systems, grid, times, geography, weighting=exp.outputs.weighting, **kw)
            cov, spec, cap = svc["coverage"], svc["spectrum"], svc["capacity"]
        else:
            cov, spec, cap = coverage_fn(systems, grid, times, geography=geography, **kw), None, None
    note = f"resumed after {res.resumed_chunks} chunk(s)" if res.resumed_chunks else ""
    res.timings["pass"] = pr.done(note)

    _check_stop()
    pr.start("accounts")
    owners = _owners(exp, systems)
    res.coverage = cov if "coverage" in want else None
    res.spectrum = spec if "spectrum" in want else None
    res.capacity = cap if "capacity" in want else None
    countries: xr.Dataset | None = None
    groups: xr.Dataset | None = None
    equity: xr.Dataset | None = None
    if "countries" in want:
        countries = country_accounts(geography, cov, spectrum=spec, capacity=cap, owners=owners)
    if "groups" in want:
        assert countries is not None  # validation: "groups" needs "countries"
        groups = group_accounts(countries)
    if "equity" in want:
        assert countries is not None  # validation: "equity" needs "countries"
        equity = equity_summary(
            geography, countries, capacity=cap, spectrum=spec, lorenz_points=exp.outputs.lorenz_points
        )
        if "lorenz" not in want:
            equity = equity.drop_vars([v for v in equity.variables if "lorenz_point" in equity[v].dims])
    if "lorenz" in want:
        names = [v for v in _LORENZ_VARS if equity is not None and v in equity]
        if equity is not None and names:
            res.lorenz = equity[names]
        else:
            res.lorenz = lorenz_curves(geography, cap, points=exp.outputs.lorenz_points)
    res.countries, res.groups, res.equity = countries, groups, equity
    if "gso" in want:
        res.gso = _gso(exp, systems, geography, times, owners)
    if "epfd" in want:  # single entry: one orbitshare.epfd per system with a PFD (RR Article 22)
        res.epfd = epfd_by_system(systems, grid, times, **build_epfd_kwargs(exp))
        res.epfd_countries = gso_equity(epfd_country_summary(geography, res.epfd), res.gso)
    res.timings["accounts"] = pr.done()

    _check_stop()
    pr.start("writing")
    datasets = res.datasets
    rd.check_free_space(_output_bytes(exp, datasets, len(systems)))
    done, files = files, []  # files: those of the writers, written into the scratch directory `dest`
    dest = rd.open_scratch()  # (a failed write leaves nothing; rd.adopt moves them into the run)
    if "netcdf" in exp.outputs.files:
        save_results(datasets, dest / RESULTS_FILE, overwrite=True, provenance=_provenance(exp, systems, records))
        files.append(dest / RESULTS_FILE)
    if "csv" in exp.outputs.files and countries is not None:
        files += write_tables(dest, countries, groups, equity)
    figures = _maps(dest, exp, geography, res)
    if countries is not None:  # only under landing rights that leave out some country
        figures += write_serving_map(dest, geography, countries)
    if countries is not None:  # one value per country, equal-area; true boundaries where the geography has them
        g = exp.geography
        borders: Any = None
        if g.source == "naturalearth":
            borders = find_boundaries(g.data_dir, g.scale if g.scale is not None else "50m")
        elif g.source == "embedded":
            from orbitshare.geo.embedded import boundaries as embedded_boundaries

            borders = embedded_boundaries()[0]  # the vendored Natural Earth 50m the geography is built from
        figures += write_choropleth(dest, geography, countries, boundaries=borders)
    lorenz_src = equity if equity is not None and any(v in equity for v in _LORENZ_VARS) else res.lorenz
    if lorenz_src is not None and any(v in lorenz_src for v in _LORENZ_VARS):
        figures += write_figures(dest, geography, None, None, lorenz_src)
    if res.epfd is not None:
        figures += write_epfd_maps(dest, geography, res.epfd)
    files += figures
    if countries is not None:
        meta = report_meta(
            cov,
            geography,
            title=f"orbitshare run report: {exp.name}",
            created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            experiment=exp.name,
            description=exp.experiment.description,
            inline_angle_deg=exp.spectrum.inline_angle_deg,
            split=exp.spectrum.split,
        )
        note = _maps_note(exp, res.capacity)
        if note:
            meta[MAPS_NOTE] = note
        if res.epfd is not None:
            meta[EPFD_BLOCKS] = epfd_blocks(res.epfd, res.epfd_countries)
        files += list(write_report(dest, countries=countries, groups=groups, equity=equity, figures=figures, meta=meta))
    files = done + rd.adopt(files)
    res.timings["writing"] = pr.done()
    remove_checkpoint(ck_path)
    rd.finish()  # a run that replaces a finished run is swapped into place here
    res.files = [rd.final(p) for p in files]
    res.timings["total"] = time.perf_counter() - t_start
    return res


# ============================================================================ compare
def _flat_rows(
    ds: xr.Dataset, skip_dims: tuple[str, ...] = ("lorenz_point", "lat", "lon", "time", "longitude", "satellite")
) -> dict[tuple[str, tuple[str, ...]], Any]:
    """(variable, label tuple) → float value (numpy float64) of the numeric variables of ``ds``."""
    out: dict[tuple[str, tuple[str, ...]], Any] = {}
    for name, da in ds.data_vars.items():
        if da.dtype.kind not in "biuf" or any(d in skip_dims for d in da.dims):
            continue
        vals = np.asarray(da.values, np.float64)
        labels = [
            [str(x) for x in ds[d].values] if d in ds.coords else [str(i) for i in range(ds.sizes[d])] for d in da.dims
        ]
        for idx in np.ndindex(vals.shape):
            where = tuple(f"{d}={labels[k][i]}" for k, (d, i) in enumerate(zip(da.dims, idx, strict=True)))
            out[(str(name), where)] = vals[idx]
    return out


def _open_run(path: str | os.PathLike[str]) -> dict[str, xr.Dataset]:
    p = Path(path)
    manifest = read_manifest(p) if p.is_dir() else None
    if manifest is not None and not manifest.finished:
        raise ResultsError(f"{path}: holds an unfinished run (its files may be of an earlier attempt); finish it first")
    f = p / RESULTS_FILE if p.is_dir() else p
    if not f.is_file():
        raise ResultsError(f"{path}: no {RESULTS_FILE} (a finished run directory with files = ['netcdf', ...])")
    got = open_results(f)
    if isinstance(got, xr.Dataset):
        raise ResultsError(f"{path}: {f.name} holds a single Dataset, not the groups of a run")
    return got


def compare_runs(run_a: str | os.PathLike[str], run_b: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Differences of the ``countries`` and ``equity`` datasets of two run directories.

    One row per numeric value present in either run (maps and curves left out): ``dataset``,
    ``variable``, ``where`` (``dim=label`` pairs), ``a``, ``b``, ``diff`` (b − a), ``rel_diff``
    ((b − a) / |a|, NaN where a is 0). NaN in both counts as equal.
    """
    a, b = _open_run(run_a), _open_run(run_b)
    rows = []
    for group in ("countries", "groups", "equity"):
        if group not in a and group not in b:
            continue
        fa = _flat_rows(a[group]) if group in a else {}
        fb = _flat_rows(b[group]) if group in b else {}
        for key in list(fa) + [k for k in fb if k not in fa]:
            va, vb = fa.get(key, np.nan), fb.get(key, np.nan)
            d = vb - va
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = d / abs(va) if va != 0 else np.nan
            rows.append(
                {
                    "dataset": group,
                    "variable": key[0],
                    "where": " ".join(key[1]),
                    "a": va,
                    "b": vb,
                    "diff": d,
                    "rel_diff": rel,
                    "equal": bool(va == vb or (np.isnan(va) and np.isnan(vb))),
                }
            )
    return rows
