"""Experiment files: the TOML schema (the dataclass tree a validated file becomes) and its TOML writer.

An experiment file (TOML, read with :mod:`tomllib`) describes one run: the time steps, the grid,
the geography, the satellite systems, what to write and how to compute.
:func:`~orbitshare.experiment.validate.load_experiment` validates it completely (module
:mod:`orbitshare.experiment.validate`) and returns an :class:`Experiment`, the frozen dataclass tree
defined here, with every default filled in and every path made absolute; the ``build_*`` functions of
:mod:`orbitshare.experiment.build` turn that into the objects the engine takes. The value rules of a
system's coverage, bands, capacity and landing rights are :class:`~orbitshare.system.System`'s own.

Schema (``=`` gives the default; keys without one are required)
----------------------------------------------------------------
``[experiment]``
    ``name`` (str) = the file's stem; ``description`` (str of printable characters, one line) = "".
``[time]`` (required)
    ``start``, ``stop``: date-times WITH a timezone: TOML offset date-times
    (``2026-01-01T00:00:00Z``) or strings with an offset (``"2026-01-01T00:00:00+01:00"``); a local
    date-time is an error; years 1678-2261 (what ``datetime64[ns]`` holds). Steps are
    ``start, start + step_s, ...`` before ``stop``.
    ``step_s`` (number of seconds > 0; rounded to whole nanoseconds; at most 2**31 - 1 steps) = 60.
``[grid]``
    ``resolution_deg`` (number in [0.1, 5] dividing 180) = 1.0.
``[geography]``
    ``source`` ("embedded" | "naturalearth") = "embedded".
    With "naturalearth" only: ``data_dir`` (path to a folder with ``ne_{scale}_admin_0_countries``
    GeoJSON/zip, or its ``boundaries/`` subfolder) = ``$ORBITSHARE_DATA_DIR``; ``scale`` ("10m" | "50m" |
    "110m") = "50m"; ``population`` (path to an ``.asc``/netCDF population-count raster) = the
    GPW raster next to the boundaries if present, else the embedded population.
``[[systems]]`` (one or more), each from EXACTLY ONE of
    ``elements`` (path of a TLE/OMM file), ``walker`` (array of tables, one per shell:
    ``altitude_km`` (0, 50000), ``inclination_deg`` [0, 180], ``planes`` >= 1, ``sats_per_plane``
    >= 1, ``phasing`` in [0, planes) = 0, ``pattern`` ("delta" | "star") = "delta"; planes x
    sats_per_plane at most 10,000,000 satellites, as the whole experiment), ``filing``
    (a ``system_id`` of the filings table, :func:`orbitshare.elements.filings.filing_systems`), ``fetch`` (a
    CelesTrak group, downloaded at build time, never at validation); and
    ``name`` (str, unique; at most 100 printable characters, no control characters) = the filing id /
    the element file's stem / the fetch group (required for walker); ``epoch`` (date-time with
    timezone, years 1678-2261; walker and filing only: epoch of the generated
    elements) = ``time.start``; ``operator`` (str) = the filing's operator, else "";
    ``administration`` (ISO3) = the filing's operator country, else ""; ``bands`` (array of tables
    ``name``, ``low_mhz``, ``high_mhz``; 0 < low < high; names unique, bands not overlapping) = [];
    capacity, one way or none (then no capacity outputs): ``capacity_per_sat_mbps`` (> 0; with
    ``beams`` (int >= 1) optional: each beam capacity / beams), OR ``spectral_efficiency_bps_per_hz``
    (> 0) with ``beams`` and at least one band, OR ``beam_capacity_mbps`` (> 0) with ``beams``
    (capacity = beams x beam capacity); ``max_beams_per_cell`` (int >= 1: beams a cell can take) = 1;
    ``service_cell_km2`` (> 0: the area of one service cell, km², the unit max_beams_per_cell counts; a grid
    cell holds max(1, its land area / service_cell_km2) of them; absent = a grid cell is one service cell);
    ``gateways`` ("anywhere" | "table": the shipped gateway table's sites of the system's ``family`` |
    path of a .csv table of sites) = "anywhere"; ``gateway_mask_deg`` ([0, 90)) = 25.0; ``isl``
    (bool: inter-satellite links, no gateway needed) = false;
    ``elevation_mask_deg`` (-90, 90) = 25.0; ``min_visible`` (int in [1, 32767]) = 1;
    ``serve_countries`` (array of ISO3, non-empty; absent = no allow list);
    ``exclude_countries`` (array of ISO3) = [];
    ``landing_rights`` ("all" | "authorised" | "authorised+pending" | path of a .csv table) = "all";
    ``family`` (a landing-rights system family) = derived from the filing or fetch group;
    ``pfd_dbw_m2_40khz`` (finite number: the PFD at the ground from one satellite in its service area,
    dB(W/m²) in 40 kHz, for the EPFD; absent = unknown, the system takes no part in the EPFD);
    ``pfd_source`` (non-empty str: where the PFD value comes from; required with ``pfd_dbw_m2_40khz``).
``[demand]`` (:class:`~orbitshare.demand.Demand`; the defaults of :mod:`orbitshare.demand`)
    ``adoption`` (subscribing share in [0, 1], or the path of a per-country .csv table
    ``iso3,adoption,as_of,source``) = :data:`~orbitshare.demand.DEFAULT_ADOPTION`;
    ``adoption_default`` (share in [0, 1]; only with a table: the share of the countries it lacks) =
    the default adoption; ``busy_hour_mbps`` (> 0, per subscriber) =
    :data:`~orbitshare.demand.DEFAULT_BUSY_HOUR_MBPS`; ``overbooking`` (> 0: subscribers per
    simultaneously active user in the busy hour) = :data:`~orbitshare.demand.DEFAULT_OVERBOOKING`;
    ``thresholds_mbps`` (non-empty array of Mbit/s per active user > 0, increasing) = [10, 25, 100].
``[capacity]``
    ``rule`` ("maxmin" | "throughput" | "proportional": the old sharing rule, for comparison) = "maxmin";
    ``band_sharing`` (bool: where two systems' bands overlap and their serving satellites are in line, each
    system's beams on the cell carry the share of its band the ``[spectrum]`` sharing leaves it; false: each
    system as if alone on its bands; "throughput" needs false when bands overlap) = true.
``[spectrum]`` (co-frequency sharing between non-GSO systems whose bands overlap,
:mod:`orbitshare.kernels.spectrum`)
    ``inline_angle_deg`` (number of degrees in (0, 180]: two systems' serving satellites closer than this, as
    seen from the cell, are in line; FCC 47 CFR §25.261) = 10.0; ``split`` ("equal": an in-line group shares an
    overlapping segment equally | "priority": the group's first system in file order, standing for the ITU
    date of receipt, keeps it) = "equal".
``[epfd]`` (the single-entry EPFD↓ check of "epfd" against RR Article 22: one :func:`orbitshare.epfd` per
system with ``pfd_dbw_m2_40khz``; "epfd" needs at least one such system)
    ``antenna_diameter_m`` (non-empty array of distinct diameters in m > 0) = [0.6, 1.2, 3.0, 10.0];
    ``frequency_mhz`` (> 0, MHz; absent = the centre of the first band of the first system with a PFD);
    ``arc_step_deg`` (degrees in (0, 90]) = 5.0; ``gso_min_elevation_deg`` (degrees in [0, 90)) = 5.0;
    ``margin`` (bool: also the margins, a second pass) = true.
``[outputs]``
    ``datasets`` (array of "coverage", "spectrum", "capacity", "countries", "groups", "equity",
    "lorenz", "gso", "epfd") = every dataset except "gso" and "epfd" when all systems have a capacity, else
    ["coverage", "countries", "groups"]. Dependencies: "countries" needs "coverage"; "groups" and
    "equity" need "countries"; "spectrum", "capacity", "equity" and "lorenz" need a capacity for
    every system; "lorenz" needs "capacity".
    ``files`` (array of "netcdf", "csv") = ["netcdf", "csv"]: the results file (all datasets) and
    CSV tables of the per-country/group datasets.
    ``maps`` (array of variable names, see :data:`MAP_VARIABLES`) = []; each needs its dataset.
    ``keep_time_series`` (bool) = false; ``weighting`` ("population" | "area") = "population";
    ``lorenz_points`` (int >= 2) = 101; ``gso_bin_deg`` (number dividing 360, in (0, 10]) = 0.5;
    ``gso_masks_deg`` (array of numbers in [0, 90), non-empty) = [5.0, 10.0];
    ``owners_data_dir`` (path of a folder with ``satcat/`` catalogs; absent = owners from satellite
    names and the systems' administrations only).
``[compute]``
    ``threads`` (int >= 0; 0 = all cores; at most the cores available) = 0; ``backend`` ("cpu" |
    "dask" | "cuda") = "cpu"; ``chunk_steps`` (int >= 1; absent = automatic);
    ``memory_limit_gb`` (number > 0, GB = 1e9 bytes; absent = 80 % of the memory available when the
    file is validated): validation estimates the run's peak memory (:mod:`orbitshare.experiment.budget`)
    and refuses a run above it, naming the key that drives the estimate. "cuda" (SGP4, the
    coverage counts and the capacity accumulation on an NVIDIA GPU, numba-cuda:
    ``pip install "orbitshare[cuda]"``); validation does not look for a GPU: a run without one stops at the coverage
    pass with a one-line :class:`~orbitshare.errors.BackendError` naming the reason (exit status 1).
    The capacity allocation (``capacity.rule`` "maxmin" or "throughput") has no CUDA port yet: "cuda" with
    it and a capacity dataset (spectrum, capacity, equity, lorenz) is refused at validation.
    With "dask": ``scheduler`` ("tcp://host:port" of an existing cluster) or ``workers`` (int >= 1, at
    most the machine's cores (at least 2): a local cluster of that many worker processes; default when
    neither is given: 2);
    both need the ``dask[distributed]`` package (``pip install "orbitshare[dask]"``).

Paths are relative to the experiment file (``~`` is expanded). ``load_experiment()`` with no path
loads the embedded default (``orbitshare/data/default_experiment.toml``, a copy of the project's
``experiments/default.toml``; it uses no files, so it works from an installed package).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from orbitshare.demand import Demand
from orbitshare.errors import ParameterTypeError

__all__ = [
    "bands_overlap",
    "Experiment",
    "ExperimentSection",
    "TimeSection",
    "GridSection",
    "GeographySection",
    "SystemSection",
    "WalkerShell",
    "BandSection",
    "OutputsSection",
    "ComputeSection",
    "SpectrumSection",
    "EpfdSection",
    "EPFD_KEYS",
    "DATASETS",
    "CAPACITY_DATASETS",
    "FILES",
    "MAP_VARIABLES",
    "BACKENDS",
    "AVAILABLE_BACKENDS",
    "SOURCE_KINDS",
    "WALKER_NORAD_START",
    "TOP_KEYS",
    "EXPERIMENT_KEYS",
    "TIME_KEYS",
    "GRID_KEYS",
    "GEOGRAPHY_KEYS",
    "SYSTEM_KEYS",
    "WALKER_KEYS",
    "BAND_KEYS",
    "OUTPUT_KEYS",
    "COMPUTE_KEYS",
    "DEMAND_KEYS",
    "CAPACITY_KEYS",
    "SPECTRUM_KEYS",
    "SPECTRUM_SPLITS",
    "CAPACITY_RULES",
    "ALLOCATION_RULES",
    "GATEWAY_SPECS",
    "iso_datetime",
    "MemoryPart",
    "ResourceEstimate",
    "size_text",
]

#: datasets an experiment can ask for, in the order a run makes them
DATASETS = ("coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz", "gso", "epfd")
#: datasets that need a capacity for every system (they come from :func:`orbitshare.engine.service.service`)
CAPACITY_DATASETS = ("spectrum", "capacity", "equity", "lorenz")
#: file kinds a run can write
FILES = ("netcdf", "csv")
#: variables that can be drawn as maps, and the dataset each comes from
MAP_VARIABLES = {
    "mean_visible": "coverage",
    "covered_fraction": "coverage",
    "max_gap_s": "coverage",
    "band_mhz_in_view": "spectrum",
    "band_mhz_x_sats_in_view": "spectrum",
    "effective_mhz": "spectrum",
    "inline_fraction": "spectrum",
    "mhz_available_total": "spectrum",
    "reuse_mhz_per_km2": "spectrum",
    "capacity_mbps": "capacity",
    "capacity_per_person_mbps": "capacity",
    "served_mbps": "capacity",
    "served_per_subscriber_mbps": "capacity",
    "demand_met_fraction": "capacity",
}
BACKENDS = ("cpu", "dask", "cuda")
AVAILABLE_BACKENDS = ("cpu", "dask", "cuda")
#: the keys that say where a system's satellites come from (exactly one per system)
SOURCE_KINDS = ("elements", "walker", "filing", "fetch")
#: walker shells of an experiment get catalog numbers from here on, in file order
WALKER_NORAD_START = 900_000

#: how a system's capacity is shared among the cells it sees (``[capacity] rule``): "maxmin" (max-min fair
#: allocation, the default), "throughput" (maximum total), "proportional" (the old sharing rule, comparison only)
CAPACITY_RULES = ("maxmin", "throughput", "proportional")
#: the rules that run the capacity allocation (beam-, cell-, gateway- and demand-limited)
ALLOCATION_RULES = ("maxmin", "throughput")
#: the named gateway settings of a system (besides the path of a .csv table of sites)
GATEWAY_SPECS = ("anywhere", "table")

#: the keys of each table
TOP_KEYS = (
    "experiment",
    "time",
    "grid",
    "geography",
    "systems",
    "outputs",
    "compute",
    "demand",
    "capacity",
    "spectrum",
    "epfd",
    "sweep",  # read by `orbitshare sweep` (orbitshare.sensitivity); a run of the file runs its base experiment
)
EXPERIMENT_KEYS = ("name", "description", "exclude_territories")
TIME_KEYS = ("start", "stop", "step_s")
GRID_KEYS = ("resolution_deg",)
GEOGRAPHY_KEYS = ("source", "data_dir", "scale", "population")
SYSTEM_KEYS = (
    "name",
    *SOURCE_KINDS,
    "epoch",
    "operator",
    "administration",
    "bands",
    "capacity_per_sat_mbps",
    "spectral_efficiency_bps_per_hz",
    "beams",
    "beam_capacity_mbps",
    "max_beams_per_cell",
    "service_cell_km2",
    "gateways",
    "gateway_mask_deg",
    "isl",
    "elevation_mask_deg",
    "min_visible",
    "serve_countries",
    "exclude_countries",
    "landing_rights",
    "family",
    "pfd_dbw_m2_40khz",
    "pfd_source",
)
WALKER_KEYS = ("altitude_km", "inclination_deg", "planes", "sats_per_plane", "phasing", "pattern")
BAND_KEYS = ("name", "low_mhz", "high_mhz")
OUTPUT_KEYS = (
    "datasets",
    "files",
    "maps",
    "keep_time_series",
    "weighting",
    "lorenz_points",
    "gso_bin_deg",
    "gso_masks_deg",
    "owners_data_dir",
)
COMPUTE_KEYS = ("threads", "backend", "chunk_steps", "scheduler", "workers", "memory_limit_gb")
DEMAND_KEYS = ("adoption", "adoption_default", "busy_hour_mbps", "overbooking", "thresholds_mbps")
CAPACITY_KEYS = ("rule", "band_sharing")
SPECTRUM_KEYS = ("inline_angle_deg", "split")
EPFD_KEYS = ("antenna_diameter_m", "frequency_mhz", "arc_step_deg", "gso_min_elevation_deg", "margin")
#: how an in-line group shares an overlapping segment (``[spectrum] split``; the same as
#: :data:`orbitshare.kernels.spectrum.SPLITS`)
SPECTRUM_SPLITS = ("equal", "priority")


# ============================================================================ the dataclass tree
@dataclass(frozen=True)
class ExperimentSection:
    """``[experiment]``: the run's name, a one-line description and the administrations (ISO 3166-1 alpha-3)
    that ask to be left out of every non-GSO service area (``exclude_territories``; WRC-27 agenda item 1.5,
    Resolution 14 (WRC-23)), excluded from every system."""

    name: str
    description: str = ""
    exclude_territories: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimeSection:
    """``[time]``: steps ``start, start + step_s, ...`` before ``stop`` (UTC date-times; ``step_s`` in s)."""

    start: _dt.datetime  # timezone-aware, UTC
    stop: _dt.datetime  # timezone-aware, UTC
    step_s: float = 60.0


@dataclass(frozen=True)
class GridSection:
    """``[grid]``: the cell size, degrees (divides 180)."""

    resolution_deg: float = 1.0


@dataclass(frozen=True)
class GeographySection:
    """``[geography]``: "embedded", or "naturalearth" with its data folder, scale and population raster."""

    source: str = "embedded"
    data_dir: Path | None = None
    scale: str | None = None
    population: Path | None = None


@dataclass(frozen=True)
class WalkerShell:
    """One Walker shell: mean altitude (km), inclination (degrees), ``planes`` × ``sats_per_plane``
    satellites, phasing factor and pattern ("delta" or "star"); see :func:`orbitshare.elements.walker.walker`."""

    altitude_km: float
    inclination_deg: float
    planes: int
    sats_per_plane: int
    phasing: int = 0
    pattern: str = "delta"

    @property
    def total_sats(self) -> int:
        """Satellites in the shell."""
        return self.planes * self.sats_per_plane


@dataclass(frozen=True)
class BandSection:
    """A downlink band of a system: name, ``low_mhz`` < ``high_mhz`` (MHz)."""

    name: str
    low_mhz: float
    high_mhz: float


@dataclass(frozen=True)
class SystemSection:
    """One ``[[systems]]`` table: where its satellites come from (exactly one of ``elements``, ``walker``,
    ``filing``, ``fetch``) and the :class:`~orbitshare.system.System` fields (mask in degrees, bands in
    MHz, capacity in Mbit/s or bit/s/Hz with beams, landing rights as ISO 3166-1 alpha-3 codes).

    ``landing_rights`` is the scenario ("all", "authorised", "authorised+pending" or the absolute path of a
    landing-rights table); validation has already applied it, as of ``time.start``, to ``serve_countries``
    and ``exclude_countries`` (with the experiment's ``exclude_territories``).

    ``gateways`` is "anywhere", "table" (the shipped gateway table's sites of the system's ``family``) or the
    absolute path of a gateway table; validation resolves it into ``gateway_sites`` ((lat_deg, lon_deg)
    pairs; None for "anywhere"), which the resolved TOML does not repeat."""

    name: str
    elements: Path | None = None
    walker: tuple[WalkerShell, ...] | None = None
    filing: str | None = None
    fetch: str | None = None
    epoch: _dt.datetime | None = None  # walker and filing: the generated elements' epoch (UTC)
    operator: str = ""
    administration: str = ""
    bands: tuple[BandSection, ...] = ()
    capacity_per_sat_mbps: float | None = None
    spectral_efficiency_bps_per_hz: float | None = None
    beams: int | None = None
    beam_capacity_mbps: float | None = None
    max_beams_per_cell: int = 1
    service_cell_km2: float | None = None  # km²; None = a grid cell is one service cell
    gateways: str = "anywhere"  # "anywhere", "table" or an absolute path to a .csv table of gateway sites
    gateway_mask_deg: float = 25.0
    isl: bool = False
    elevation_mask_deg: float = 25.0
    min_visible: int = 1
    serve_countries: tuple[str, ...] | None = None
    exclude_countries: tuple[str, ...] = ()
    landing_rights: str = "all"  # "all", "authorised", "authorised+pending" or an absolute path to a .csv table
    family: str | None = None  # the landing-rights family (orbitshare.landing.system_family)
    pfd_dbw_m2_40khz: float | None = None  # dB(W/m²) in 40 kHz at the ground; None = takes no part in the EPFD
    pfd_source: str | None = None  # provenance of pfd_dbw_m2_40khz (required with it)
    walker_norad_start: int | None = None  # first catalog number of its walker shells (not a file key)
    gateway_sites: tuple[tuple[float, float], ...] | None = None  # resolved ``gateways`` (not a file key)

    @property
    def kind(self) -> str:
        """Where the satellites come from: "elements", "walker", "filing" or "fetch"."""
        for k in SOURCE_KINDS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("a validated system has a source")  # pragma: no cover

    @property
    def has_capacity(self) -> bool:
        """True when a capacity is given (capacity_per_sat_mbps, or spectral efficiency or beam capacity
        with beams)."""
        return (
            self.capacity_per_sat_mbps is not None
            or self.spectral_efficiency_bps_per_hz is not None
            or self.beam_capacity_mbps is not None
        )


@dataclass(frozen=True)
class OutputsSection:
    """``[outputs]``: the datasets, files and maps to write and the options of the accounts (GSO bins and
    masks in degrees)."""

    datasets: tuple[str, ...]
    files: tuple[str, ...] = FILES
    maps: tuple[str, ...] = ()
    keep_time_series: bool = False
    weighting: str = "population"
    lorenz_points: int = 101
    gso_bin_deg: float = 0.5
    gso_masks_deg: tuple[float, ...] = (5.0, 10.0)
    owners_data_dir: Path | None = None


@dataclass(frozen=True)
class ComputeSection:
    """``[compute]``: threads (0 = all cores), backend ("cpu", "dask", "cuda"), time steps per chunk
    (None = automatic), the Dask scheduler address or local worker count, and the memory limit of a run
    (GB = 1e9 bytes; None = 80 % of the memory available at validation)."""

    threads: int = 0
    backend: str = "cpu"
    chunk_steps: int | None = None
    scheduler: str | None = None
    workers: int | None = None
    memory_limit_gb: float | None = None


@dataclass(frozen=True)
class SpectrumSection:
    """``[spectrum]``: the co-frequency sharing of overlapping bands: the in-line angle (deg) and the split
    of an in-line group's overlapping segment ("equal" or "priority")."""

    inline_angle_deg: float = 10.0
    split: str = "equal"


@dataclass(frozen=True)
class EpfdSection:
    """``[epfd]``: the single-entry EPFD↓ check against RR Article 22 (:func:`orbitshare.epfd`, one call per
    system): GSO earth-station antenna diameters (m), the frequency (MHz; None = the centre of the first band of
    the first system with a PFD), the GSO pointing step and minimum elevation (deg), and whether to compute
    the margins (a second pass)."""

    antenna_diameter_m: tuple[float, ...] = (0.6, 1.2, 3.0, 10.0)
    frequency_mhz: float | None = None
    arc_step_deg: float = 5.0
    gso_min_elevation_deg: float = 5.0
    margin: bool = True


def size_text(n: float) -> str:
    """A number of bytes as "1.2 GB" / "45 MB" / "3 kB" (powers of 1000)."""
    n = float(min(n, 1e30))
    for unit, scale in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} kB"


@dataclass(frozen=True)
class MemoryPart:
    """One part of a run's estimated peak memory: what it is (with the sizes that make it), the
    experiment key that drives it, and its size in bytes."""

    what: str
    key: str
    nbytes: int


@dataclass(frozen=True)
class ResourceEstimate:
    """What a run will need, estimated at validation before anything is allocated
    (:func:`orbitshare.experiment.budget.estimate_resources`).

    ``peak_bytes``: the peak memory (bytes, the sum of ``parts``); ``output_bytes``: the size of the
    files the run writes (bytes); ``limit_bytes``: the memory limit it was checked against (None when
    the available memory is unknown); ``limit_source``: where the limit comes from; ``steps``,
    ``satellites``, ``cells``: the sizes it was made from (``satellites_exact`` False when an element
    file's or a fetched group's count was guessed).
    """

    peak_bytes: int
    output_bytes: int
    limit_bytes: int | None
    limit_source: str
    steps: int
    satellites: int
    cells: int
    parts: tuple[MemoryPart, ...]
    satellites_exact: bool = True

    @property
    def largest(self) -> MemoryPart:
        """The part of the estimate driven by a key (all but the runtime) that weighs most."""
        return max([p for p in self.parts if p.key] or self.parts, key=lambda part: part.nbytes)

    @property
    def over_limit(self) -> bool:
        """True when the peak estimate exceeds the limit."""
        return self.limit_bytes is not None and self.peak_bytes > self.limit_bytes

    def summary(self) -> str:
        """One line: ``estimated peak memory 1.2 GB (limit 19.0 GB), output 45 MB``."""
        limit = (
            "no limit: available memory unknown" if self.limit_bytes is None else f"limit {size_text(self.limit_bytes)}"
        )
        return f"estimated peak memory {size_text(self.peak_bytes)} ({limit}), output {size_text(self.output_bytes)}"


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: every default filled in, every path absolute.

    ``demand`` is the ``[demand]`` table as a :class:`~orbitshare.demand.Demand` (the defaults of
    :mod:`orbitshare.demand` where a key is missing; with an adoption table, ``adoption`` is the share of
    the countries it lacks and ``adoption_source`` its absolute path); ``capacity_rule`` is
    ``[capacity] rule`` (one of :data:`CAPACITY_RULES`) and ``capacity_band_sharing`` ``[capacity]
    band_sharing``; ``spectrum`` is ``[spectrum]``. The TOML text writes
    them in full.

    ``source`` is the file it was read from (absolute), or None when made from text. ``estimate`` is the
    :class:`ResourceEstimate` validation checked (None for an Experiment made otherwise); neither takes
    part in comparisons or the TOML text.
    """

    experiment: ExperimentSection
    time: TimeSection
    grid: GridSection
    geography: GeographySection
    systems: tuple[SystemSection, ...]
    outputs: OutputsSection
    compute: ComputeSection
    demand: Demand = field(default_factory=Demand)
    capacity_rule: str = "maxmin"
    capacity_band_sharing: bool = True
    spectrum: SpectrumSection = field(default_factory=SpectrumSection)
    epfd: EpfdSection = field(default_factory=EpfdSection)
    source: Path | None = field(default=None, compare=False)
    estimate: ResourceEstimate | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The experiment's name."""
        return self.experiment.name

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain TOML-ready values (None values left out; paths as
        absolute strings; date-times timezone-aware, UTC)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("source", "estimate"):
                continue
            value = getattr(self, f.name)
            if f.name == "systems":
                out[f.name] = [_section_dict(s) for s in value]
            elif f.name == "demand":
                out[f.name] = _demand_dict(value)
            elif f.name == "capacity_rule":
                out["capacity"] = {"rule": value}
            elif f.name == "capacity_band_sharing":
                out["capacity"]["band_sharing"] = value
            else:
                out[f.name] = _section_dict(value)
        return out

    def to_toml(self) -> str:
        """The resolved configuration as TOML text; :func:`load_experiment` of it gives back an equal
        Experiment (paths are absolute, so the text may live anywhere)."""
        header = "# resolved orbitshare experiment"
        if self.source is not None:
            header += f" (from {self.source})"
        return header + "\n" + _dumps_toml(self.to_dict())


def _plain(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return _section_dict(v)
    return v


def _demand_dict(demand: Demand) -> dict[str, Any]:
    """The ``[demand]`` table of a Demand: ``adoption`` (a share, or the adoption table's path with
    ``adoption_default`` the share of the countries it lacks), ``busy_hour_mbps``, ``overbooking``,
    ``thresholds_mbps``."""
    out: dict[str, Any] = {}
    if demand.adoption_by_country is not None:
        out["adoption"] = demand.adoption_source
        out["adoption_default"] = demand.adoption
    else:
        out["adoption"] = demand.adoption
    out["busy_hour_mbps"] = demand.busy_hour_mbps
    out["overbooking"] = demand.overbooking
    out["thresholds_mbps"] = list(demand.thresholds_mbps)
    return out


def _section_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name in ("walker_norad_start", "gateway_sites"):
            continue
        v = getattr(obj, f.name)
        if v is None:
            continue
        out[f.name] = _plain(v)
    return out


# ============================================================================ TOML writer
def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_str(k)


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, _dt.datetime):
        return iso_datetime(v) if v.tzinfo is not None else v.isoformat()
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ParameterTypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _dumps_table(d: dict[str, Any], prefix: str, lines: list[str]) -> None:
    for k, v in d.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in d.items():
        name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
        if isinstance(v, dict):
            lines.append("")
            lines.append(f"[{name}]")
            _dumps_table(v, name, lines)
        elif _is_table_array(v):
            for item in v:
                lines.append("")
                lines.append(f"[[{name}]]")
                _dumps_table(item, name, lines)


def _dumps_toml(d: dict[str, Any]) -> str:
    lines: list[str] = []
    _dumps_table(d, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"


def iso_datetime(d: _dt.datetime) -> str:
    """An aware date-time as ISO 8601, ``Z`` for UTC.

    >>> import datetime
    >>> iso_datetime(datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    '2026-01-01T00:00:00Z'
    """
    if d.utcoffset() == _dt.timedelta(0):
        return d.replace(tzinfo=None).isoformat() + "Z"
    return d.isoformat()


def bands_overlap(systems: Sequence[SystemSection]) -> bool:
    """True when two of the systems have bands that share spectrum (MHz; touching edges do not): then the
    ``[spectrum]`` co-frequency sharing applies."""
    for i, a in enumerate(systems):
        for b in systems[i + 1 :]:
            if any(max(x.low_mhz, y.low_mhz) < min(x.high_mhz, y.high_mhz) for x in a.bands for y in b.bands):
                return True
    return False
