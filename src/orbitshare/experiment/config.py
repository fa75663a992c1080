"""Experiment files: the TOML schema, its strict validation, and the objects an experiment builds.

An experiment file (TOML, read with :mod:`tomllib`) describes one run: the time steps, the grid,
the geography, the satellite systems, what to write and how to compute. :func:`load_experiment`
validates it completely and returns an :class:`Experiment`, a frozen dataclass tree with every
default filled in and every path made absolute; ``build_*`` turn that into the objects the engine
takes (:class:`~orbitshare.timegrid.TimeGrid`, :class:`~orbitshare.grid.Grid`, the geography
Dataset, :class:`~orbitshare.system.System` list).

Validation is strict and complete: unknown keys are rejected (with a ``difflib`` suggestion), and
every problem of the file is reported at once, as ONE :class:`~orbitshare.errors.ConfigError` whose
message has one line per problem (also in its ``problems`` attribute)::

    experiments/x.toml: grid.resolution_deg: expected a number of degrees in [0.1, 5] that divides 180, got -1
    experiments/x.toml: systems[2].bands[0].low_mhz: expected a number < high_mhz (10700), got 12700

A file that validates does not fail later for a reason validation could have caught: element files
exist, are readable and look like TLE/OMM (``deep=True`` parses them fully), Natural Earth data is
found, ISO 3166-1 alpha-3 codes are in the project's country table, filing ids are in the filings
table, Walker shells are valid, the grid resolution divides 180, bands of a system do not overlap,
each system has a capacity when a capacity output is asked for, the thread count is available, ...
Validation never downloads anything (``fetch`` systems are checked for a well-formed group name
only).

Schema (``=`` gives the default; keys without one are required)
----------------------------------------------------------------
``[experiment]``
    ``name`` (str) = the file's stem; ``description`` (str) = "".
``[time]`` (required)
    ``start``, ``stop``: date-times WITH a timezone: TOML offset date-times
    (``2026-01-01T00:00:00Z``) or strings with an offset (``"2026-01-01T00:00:00+01:00"``); a local
    date-time is an error. Steps are ``start, start + step_s, ...`` before ``stop``.
    ``step_s`` (number of seconds > 0; rounded to whole nanoseconds) = 60.
``[grid]``
    ``resolution_deg`` (number in [0.1, 5] dividing 180) = 1.0.
``[geography]``
    ``source`` ("embedded" | "naturalearth") = "embedded".
    With "naturalearth" only: ``data_dir`` (path to a folder with ``ne_{scale}_admin_0_countries``
    GeoJSON/zip, or its ``boundaries/`` subfolder) = ``$ORBITSHARE_DATA_DIR``; ``scale`` ("50m" |
    "110m") = "50m"; ``population`` (path to an ``.asc``/netCDF population-count raster) = the
    GPW raster next to the boundaries if present, else the embedded population.
``[[systems]]`` (one or more), each from EXACTLY ONE of
    ``elements`` (path of a TLE/OMM file), ``walker`` (array of tables, one per shell:
    ``altitude_km`` (0, 50000), ``inclination_deg`` [0, 180], ``planes`` >= 1, ``sats_per_plane``
    >= 1, ``phasing`` in [0, planes) = 0, ``pattern`` ("delta" | "star") = "delta"), ``filing``
    (a ``system_id`` of the filings table, :func:`orbitshare.elements.filings.filing_systems`), ``fetch`` (a
    CelesTrak group, downloaded at build time, never at validation); and
    ``name`` (str, unique) = the filing id / the element file's stem / the fetch group (required for
    walker); ``epoch`` (date-time with timezone; walker and filing only: epoch of the generated
    elements) = ``time.start``; ``operator`` (str) = the filing's operator, else "";
    ``administration`` (ISO3) = the filing's operator country, else ""; ``bands`` (array of tables
    ``name``, ``low_mhz``, ``high_mhz``; 0 < low < high; names unique, bands not overlapping) = [];
    capacity: ``capacity_per_sat_mbps`` (> 0) OR ``spectral_efficiency_bps_per_hz`` (> 0) with
    ``beams`` (int >= 1) and at least one band, or neither (then no capacity outputs);
    ``elevation_mask_deg`` (-90, 90) = 25.0; ``min_visible`` (int in [1, 32767]) = 1;
    ``serve_countries`` (array of ISO3, non-empty; absent = no allow list);
    ``exclude_countries`` (array of ISO3) = [].
``[outputs]``
    ``datasets`` (array of "coverage", "spectrum", "capacity", "countries", "groups", "equity",
    "lorenz", "gso") = every dataset except "gso" when all systems have a capacity, else
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
    "dask" | "cuda") = "cpu"; ``chunk_steps`` (int >= 1; absent = automatic). "cuda" (SGP4, the
    coverage counts and the capacity accumulation on an NVIDIA GPU, numba-cuda:
    ``pip install "orbitshare[cuda]"``); validation does not look for a GPU: a run without one stops at the coverage
    pass with a one-line :class:`~orbitshare.errors.BackendError` naming the reason (exit status 1).
    With "dask": ``scheduler`` ("tcp://host:port" of an existing cluster) or ``workers`` (int >= 1: a
    local cluster of that many worker processes; default when neither is given: 2);
    both need the ``dask[distributed]`` package (``pip install "orbitshare[dask]"``).

Paths are relative to the experiment file (``~`` is expanded). :func:`load_experiment` with no path
loads the embedded default (``orbitshare/data/default_experiment.toml``, a copy of the project's
``experiments/default.toml``; it uses no files, so it works from an installed package).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import os
import re
import tomllib
import zlib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from orbitshare.errors import ConfigError

__all__ = [
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
    "load_experiment",
    "validate_experiment",
    "build_systems",
    "build_system",
    "build_elements",
    "build_times",
    "build_grid",
    "build_geography",
    "system_kwargs",
    "default_experiment_path",
    "DATASETS",
    "FILES",
    "MAP_VARIABLES",
    "BACKENDS",
    "SOURCE_KINDS",
]

#: datasets an experiment can ask for, in the order a run makes them
DATASETS = ("coverage", "spectrum", "capacity", "countries", "groups", "equity", "lorenz", "gso")
#: datasets that need a capacity for every system (they come from :func:`orbitshare.engine.service.service`)
CAPACITY_DATASETS = ("spectrum", "capacity", "equity", "lorenz")
#: file kinds a run can write
FILES = ("netcdf", "csv")
#: variables that can be drawn as maps, and the dataset each comes from
MAP_VARIABLES = {
    "mean_visible": "coverage",
    "covered_fraction": "coverage",
    "max_gap_s": "coverage",
    "mhz_available": "spectrum",
    "mhz_sat_available": "spectrum",
    "capacity_mbps": "capacity",
    "capacity_per_person_mbps": "capacity",
}
BACKENDS = ("cpu", "dask", "cuda")
AVAILABLE_BACKENDS = ("cpu", "dask", "cuda")
#: the keys that say where a system's satellites come from (exactly one per system)
SOURCE_KINDS = ("elements", "walker", "filing", "fetch")

_MIN_RES_DEG, _MAX_RES_DEG = 0.1, 5.0
_WALKER_NORAD_START = 900_000  # walker shells of an experiment are numbered from here, in file order
_FETCH_GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")

_MISSING = object()  # key absent
_BAD = object()  # key present but invalid (already reported)


# ============================================================================ the dataclass tree
@dataclass(frozen=True)
class ExperimentSection:
    name: str
    description: str = ""


@dataclass(frozen=True)
class TimeSection:
    start: _dt.datetime  # timezone-aware, UTC
    stop: _dt.datetime  # timezone-aware, UTC
    step_s: float = 60.0


@dataclass(frozen=True)
class GridSection:
    resolution_deg: float = 1.0


@dataclass(frozen=True)
class GeographySection:
    source: str = "embedded"
    data_dir: Path | None = None
    scale: str | None = None
    population: Path | None = None


@dataclass(frozen=True)
class WalkerShell:
    altitude_km: float
    inclination_deg: float
    planes: int
    sats_per_plane: int
    phasing: int = 0
    pattern: str = "delta"

    @property
    def total_sats(self) -> int:
        return self.planes * self.sats_per_plane


@dataclass(frozen=True)
class BandSection:
    name: str
    low_mhz: float
    high_mhz: float


@dataclass(frozen=True)
class SystemSection:
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
    elevation_mask_deg: float = 25.0
    min_visible: int = 1
    serve_countries: tuple[str, ...] | None = None
    exclude_countries: tuple[str, ...] = ()
    walker_norad_start: int | None = None  # first catalog number of its walker shells (not a file key)

    @property
    def kind(self) -> str:
        """Where the satellites come from: "elements", "walker", "filing" or "fetch"."""
        for k in SOURCE_KINDS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("a validated system has a source")  # pragma: no cover

    @property
    def has_capacity(self) -> bool:
        return self.capacity_per_sat_mbps is not None or self.spectral_efficiency_bps_per_hz is not None


@dataclass(frozen=True)
class OutputsSection:
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
    threads: int = 0
    backend: str = "cpu"
    chunk_steps: int | None = None
    scheduler: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: every default filled in, every path absolute.

    ``source`` is the file it was read from (absolute), or None when made from text.
    """

    experiment: ExperimentSection
    time: TimeSection
    grid: GridSection
    geography: GeographySection
    systems: tuple[SystemSection, ...]
    outputs: OutputsSection
    compute: ComputeSection
    source: Path | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.experiment.name

    def to_dict(self) -> dict:
        """The resolved configuration as plain TOML-ready values (None values left out; paths as
        absolute strings; date-times timezone-aware, UTC)."""
        out = {}
        for f in fields(self):
            if f.name == "source":
                continue
            value = getattr(self, f.name)
            out[f.name] = [_section_dict(s) for s in value] if f.name == "systems" else _section_dict(value)
        return out

    def to_toml(self) -> str:
        """The resolved configuration as TOML text; :func:`load_experiment` of it gives back an equal
        Experiment (paths are absolute, so the text may live anywhere)."""
        header = "# resolved orbitshare experiment"
        if self.source is not None:
            header += f" (from {self.source})"
        return header + "\n" + _dumps_toml(self.to_dict())


def _plain(v):
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return _section_dict(v)
    return v


def _section_dict(obj) -> dict:
    out = {}
    for f in fields(obj):
        if f.name == "walker_norad_start":
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


def _toml_value(v) -> str:
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
        return _iso(v) if v.tzinfo is not None else v.isoformat()
    if isinstance(v, (_dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _dumps_table(d: dict, prefix: str, lines: list) -> None:
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


def _dumps_toml(d: dict) -> str:
    lines: list[str] = []
    _dumps_table(d, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"


# ============================================================================ problem collection
class _Raw(str):
    """A description of what was given, shown verbatim by :func:`_show`."""


def _show(v) -> str:
    """A value as the error message shows what was given."""
    if isinstance(v, _Raw):
        return str(v)
    if v is _MISSING:
        return "nothing (the key is missing)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            return f"the local date-time {v.isoformat()} (no timezone)"
        return _iso(v)
    if isinstance(v, _dt.date):
        return f"the date {v.isoformat()}"
    if isinstance(v, _dt.time):
        return f"the time {v.isoformat()}"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        text = "[" + ", ".join(_show(x) for x in v) + "]"
        return text if len(text) <= 60 else text[:56] + " ...]"
    return repr(v)


def _iso(d: _dt.datetime) -> str:
    """An aware date-time as ISO 8601, ``Z`` for UTC."""
    if d.utcoffset() == _dt.timedelta(0):
        return d.replace(tzinfo=None).isoformat() + "Z"
    return d.isoformat()


def _num_text(x: float) -> str:
    """A number in an expectation: 10700 rather than 10700.0."""
    return f"{x:g}" if isinstance(x, float) and x == int(x) and abs(x) < 1e15 else repr(x)


class _Problems:
    def __init__(self, label: str):
        self.label = label
        self.lines: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.lines.append(f"{self.label}: {path}: {message}")

    def bad(self, path: str, expected: str, got) -> object:
        self.add(path, f"expected {expected}, got {_show(got)}")
        return _BAD

    def unknown_keys(self, table: dict, path: str, allowed) -> None:
        allowed = list(allowed)
        for key in table:
            if key in allowed:
                continue
            where = f"{path}.{key}" if path else key
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            if close:
                self.add(where, f"unknown key (did you mean {close[0]!r}?)")
            else:
                self.add(where, "unknown key (expected one of " + ", ".join(map(repr, allowed)) + ")")

    def raise_if_any(self) -> None:
        if self.lines:
            err = ConfigError("\n".join(self.lines))
            err.problems = list(self.lines)
            raise err


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Reader:
    """Typed access to one table, reporting problems under ``path``."""

    def __init__(self, p: _Problems, table: dict, path: str):
        self.p, self.t, self.path = p, table, path

    def raw(self, key):
        return self.t.get(key, _MISSING)

    def _missing(self, key, expected, default):
        if default is _MISSING:
            return self.p.bad(_join(self.path, key), expected, _MISSING)
        return default

    def number(self, key, expected, ok=lambda x: True, default=_MISSING):
        v = self.raw(key)
        if v is _MISSING:
            return self._missing(key, expected, default)
        if not _is_number(v) or not math.isfinite(v) or not ok(v):
            return self.p.bad(_join(self.path, key), expected, v)
        return float(v)

    def integer(self, key, expected, ok=lambda x: True, default=_MISSING):
        v = self.raw(key)
        if v is _MISSING:
            return self._missing(key, expected, default)
        if not _is_int(v) or not ok(v):
            return self.p.bad(_join(self.path, key), expected, v)
        return int(v)

    def string(self, key, expected="a string", choices=None, default=_MISSING, nonempty=False):
        v = self.raw(key)
        if v is _MISSING:
            return self._missing(key, expected, default)
        if not isinstance(v, str) or (choices is not None and v not in choices) or (nonempty and not v.strip()):
            return self.p.bad(_join(self.path, key), expected, v)
        return v

    def boolean(self, key, default=_MISSING):
        v = self.raw(key)
        if v is _MISSING:
            return self._missing(key, "true or false", default)
        if not isinstance(v, bool):
            return self.p.bad(_join(self.path, key), "true or false", v)
        return v

    def datetime(self, key, default=_MISSING):
        expected = "a date-time with a timezone (e.g. 2026-01-01T00:00:00Z)"
        v = self.raw(key)
        if v is _MISSING:
            return self._missing(key, expected, default)
        where = _join(self.path, key)
        if isinstance(v, str):
            text = v.strip()
            if text[-1:] in ("Z", "z"):
                text = text[:-1] + "+00:00"
            try:
                d = _dt.datetime.fromisoformat(text)
            except ValueError:
                return self.p.bad(where, expected, v)
            if d.tzinfo is None or d.utcoffset() is None:
                return self.p.bad(where, expected, _Raw(f"{v!r} (no timezone)"))
            return d.astimezone(_dt.UTC)
        if isinstance(v, _dt.datetime):
            if v.tzinfo is None or v.utcoffset() is None:
                return self.p.bad(where, expected, v)
            return v.astimezone(_dt.UTC)
        return self.p.bad(where, expected, v)


# ============================================================================ reference tables
def _country_codes() -> set[str]:
    from orbitshare.geo.build import country_groups

    return {str(c) for c in country_groups()["iso3"]}


def _filings():
    from orbitshare.elements.filings import load_filings

    return load_filings()


# ============================================================================ file checks
_ELEMENT_SNIFF_BYTES = 65536


def _given_path(written: str, path: Path, what: str) -> _Raw:
    """``'written' (what)``, with the resolved path when it differs from what was written."""
    if os.path.normpath(written) != str(path):
        what = f"{path}: {what}"
    return _Raw(f"{written!r} ({what})")


def _sniff_elements(path: Path) -> str | None:
    """None when ``path`` looks like a TLE/OMM file, else what is wrong."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "a directory"
    try:
        with open(path, "rb") as fh:
            head = fh.read(_ELEMENT_SNIFF_BYTES)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _ELEMENT_SNIFF_BYTES)
        except zlib.error as exc:
            return f"corrupt gzip data: {exc}"
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if not text:
        return "an empty file"
    if re.search(r"^1 [ 0-9A-Z]{5}", text, re.M) and re.search(r"^2 [ 0-9A-Z]{5}", text, re.M):
        return None
    if text.startswith(("<", "[", "{")):
        return None
    first = text.split("\n", 1)[0]
    if "," in first and ("NORAD_CAT_ID" in first.upper() or "EPOCH" in first.upper()):
        return None
    shown = first.strip()[:40]
    return f"neither TLE lines nor an OMM CSV/JSON/XML header; it starts {shown!r}"


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    if not p.is_absolute():
        p = base / p
    return Path(os.path.normpath(p))


def _available_threads() -> int:
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


# ============================================================================ validation
_TOP = ("experiment", "time", "grid", "geography", "systems", "outputs", "compute")
_SYSTEM_KEYS = (
    "name",
    *SOURCE_KINDS,
    "epoch",
    "operator",
    "administration",
    "bands",
    "capacity_per_sat_mbps",
    "spectral_efficiency_bps_per_hz",
    "beams",
    "elevation_mask_deg",
    "min_visible",
    "serve_countries",
    "exclude_countries",
)
_WALKER_KEYS = ("altitude_km", "inclination_deg", "planes", "sats_per_plane", "phasing", "pattern")
_BAND_KEYS = ("name", "low_mhz", "high_mhz")
_OUTPUT_KEYS = (
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


def _table(p: _Problems, doc: dict, key: str, path: str | None = None) -> dict | None:
    v = doc.get(key, _MISSING)
    if v is _MISSING:
        return {}
    if not isinstance(v, dict):
        p.bad(path or key, f"a table ([{key}])", v)
        return None
    return v


def _validate(doc: dict, p: _Problems, base: Path, stem: str, deep: bool) -> Experiment | None:
    p.unknown_keys(doc, "", _TOP)
    cache: dict[str, Any] = {}

    def countries():
        if "countries" not in cache:
            cache["countries"] = _country_codes()
        return cache["countries"]

    def filings():
        if "filings" not in cache:
            cache["filings"] = _filings()
        return cache["filings"]

    # ---- [experiment]
    exp_sec = None
    t = _table(p, doc, "experiment")
    if t is not None:
        p.unknown_keys(t, "experiment", ("name", "description"))
        r = _Reader(p, t, "experiment")
        name = r.string("name", "a non-empty string", default=stem, nonempty=True)
        desc = r.string("description", default="")
        if _BAD not in (name, desc):
            exp_sec = ExperimentSection(name=name, description=desc)

    # ---- [time]
    time_sec = None
    t = doc.get("time", _MISSING)
    if t is _MISSING:
        p.bad("time", "a table [time] with start and stop", _MISSING)
    elif not isinstance(t, dict):
        p.bad("time", "a table ([time])", t)
    else:
        p.unknown_keys(t, "time", ("start", "stop", "step_s"))
        r = _Reader(p, t, "time")
        start = r.datetime("start")
        stop = r.datetime("stop")
        step = r.number("step_s", "a number of seconds > 0", lambda x: x > 0 and round(x * 1e9) >= 1, default=60.0)
        if start is not _BAD and stop is not _BAD and not stop > start:
            p.bad("time.stop", f"a date-time after time.start ({_iso(start)})", stop)
            stop = _BAD
        if _BAD not in (start, stop, step):
            time_sec = TimeSection(start=start, stop=stop, step_s=step)

    # ---- [grid]
    grid_sec = None
    t = _table(p, doc, "grid")
    if t is not None:
        p.unknown_keys(t, "grid", ("resolution_deg",))
        r = _Reader(p, t, "grid")

        def divides(x):
            n = 180.0 / x
            return _MIN_RES_DEG * (1 - 1e-12) <= x <= _MAX_RES_DEG * (1 + 1e-12) and abs(n - round(n)) < 1e-9

        res = r.number(
            "resolution_deg",
            f"a number of degrees in [{_num_text(_MIN_RES_DEG)}, "
            f"{_num_text(_MAX_RES_DEG)}] that divides 180 (e.g. 0.1, 0.25, 0.5, 1, 2, 5)",
            lambda x: x > 0 and divides(x),
            default=1.0,
        )
        if res is not _BAD:
            grid_sec = GridSection(resolution_deg=res)

    # ---- [geography]
    geo_sec = None
    t = _table(p, doc, "geography")
    if t is not None:
        p.unknown_keys(t, "geography", ("source", "data_dir", "scale", "population"))
        r = _Reader(p, t, "geography")
        source = r.string("source", "'embedded' or 'naturalearth'", ("embedded", "naturalearth"), default="embedded")
        data_dir = scale = population = None
        ok = source is not _BAD
        if source == "embedded":
            for key in ("data_dir", "scale", "population"):
                if key in t:
                    p.add(
                        f"geography.{key}",
                        f"only used with source = 'naturalearth', got source = 'embedded' "
                        f"(remove {key} or set source = 'naturalearth')",
                    )
                    ok = False
        elif source == "naturalearth":
            scale = r.string("scale", "'50m' or '110m'", ("50m", "110m"), default="50m")
            dd = r.string("data_dir", "a path to a folder (relative to the experiment file)", default=None)
            if dd is None:
                env = os.environ.get("ORBITSHARE_DATA_DIR")
                if env:
                    data_dir = _resolve(Path.cwd(), env)
                else:
                    p.bad(
                        "geography.data_dir",
                        "a folder with Natural Earth boundaries (or $ORBITSHARE_DATA_DIR set)",
                        _MISSING,
                    )
                    ok = False
            elif dd is _BAD:
                ok = False
            else:
                data_dir = _resolve(base, dd)
            if data_dir is not None and scale is not _BAD:
                from orbitshare.errors import DataError
                from orbitshare.geo.naturalearth import find_boundaries

                written = dd if dd is not None else "$ORBITSHARE_DATA_DIR"
                if not data_dir.exists():
                    p.bad("geography.data_dir", "an existing folder", _given_path(written, data_dir, "no such folder"))
                    ok = False
                else:
                    try:
                        find_boundaries(data_dir, scale)
                    except DataError:
                        p.bad(
                            "geography.data_dir",
                            f"a folder holding ne_{scale}_admin_0_countries.geojson or "
                            f"ne_{scale}_admin_0_countries*.zip (or its boundaries/ subfolder)",
                            _given_path(written, data_dir, "not found there"),
                        )
                        ok = False
            pop = r.string("population", "a path to a population raster (.asc or netCDF)", default=None)
            if pop is _BAD:
                ok = False
            elif pop is not None:
                population = _resolve(base, pop)
                if not population.is_file():
                    p.bad(
                        "geography.population",
                        "an existing population raster file (.asc or netCDF)",
                        _given_path(pop, population, "no such file"),
                    )
                    ok = False
            ok = ok and scale is not _BAD
        if ok:
            geo_sec = GeographySection(source=source, data_dir=data_dir, scale=scale, population=population)

    # ---- [[systems]]
    systems: list[SystemSection | None] = []
    names: list[str | None] = []
    raw_systems = doc.get("systems", _MISSING)
    start = time_sec.start if time_sec is not None else None
    if raw_systems is _MISSING:
        p.bad("systems", "at least one [[systems]] table", _MISSING)
    elif isinstance(raw_systems, dict):
        p.bad("systems", "an array of tables ([[systems]], one per system)", _Raw("a single table ([systems])"))
    elif not isinstance(raw_systems, list) or not raw_systems:
        p.bad("systems", "an array of tables ([[systems]], one per system)", raw_systems)
    else:
        norad = _WALKER_NORAD_START
        for i, s in enumerate(raw_systems):
            path = f"systems[{i}]"
            if not isinstance(s, dict):
                p.bad(path, "a table", s)
                systems.append(None)
                continue
            spec, used, name = _validate_system(p, s, path, base, start, norad, countries, filings, deep)
            norad += used
            systems.append(spec)
            names.append(name)
        # unique names
        seen: dict[str, int] = {}
        for i, name in enumerate(names):
            if name is None:
                continue
            if name in seen:
                p.bad(
                    f"systems[{i}].name",
                    "a name unique among the systems",
                    _Raw(f"{name!r} (also the name of systems[{seen[name]}])"),
                )
                if systems[i] is not None:
                    systems[i] = None
            else:
                seen[name] = i

    # ---- [outputs]
    out_sec = None
    t = _table(p, doc, "outputs")
    if t is not None:
        out_sec = _validate_outputs(p, t, base, systems)

    # ---- [compute]
    comp_sec = None
    t = _table(p, doc, "compute")
    if t is not None:
        p.unknown_keys(t, "compute", ("threads", "backend", "chunk_steps", "scheduler", "workers"))
        r = _Reader(p, t, "compute")
        avail = _available_threads()
        threads = r.integer(
            "threads",
            f"an integer in [0, {avail}] (0 = all {avail} cores of this machine)",
            lambda x: 0 <= x <= avail,
            default=0,
        )
        backend = r.raw("backend")
        if backend is _MISSING:
            backend = "cpu"
        elif backend in BACKENDS and backend not in AVAILABLE_BACKENDS:
            backend = p.bad(
                "compute.backend", f"'cpu' or 'dask' (the {backend} backend is not wired into runs yet)", backend
            )
        elif backend not in AVAILABLE_BACKENDS:
            backend = p.bad("compute.backend", "'cpu', 'dask' or 'cuda'", backend)
        chunk = r.integer(
            "chunk_steps",
            "an integer >= 1 (time steps per chunk; leave out for automatic)",
            lambda x: x >= 1,
            default=None,
        )
        scheduler = r.string(
            "scheduler", "a Dask scheduler address like 'tcp://host:8786'", default=None, nonempty=True
        )
        workers = r.integer(
            "workers", "an integer >= 1 (worker processes of a local Dask cluster)", lambda x: x >= 1, default=None
        )
        if isinstance(scheduler, str) and "://" not in scheduler:
            scheduler = p.bad("compute.scheduler", "a Dask scheduler address like 'tcp://host:8786'", scheduler)
        if backend != "dask":
            for key, val in (("scheduler", scheduler), ("workers", workers)):
                if val is not None and val is not _BAD:
                    p.bad(f"compute.{key}", "no value unless backend = 'dask'", val)
                    backend = _BAD
        elif scheduler is not None and workers is not None and _BAD not in (scheduler, workers):
            workers = p.bad("compute.workers", "to be left out when 'scheduler' is given (one or the other)", workers)
        if backend == "dask":
            import importlib.util

            if importlib.util.find_spec("distributed") is None:
                backend = p.bad(
                    "compute.backend",
                    "'cpu', or install the Dask extra (pip install \"orbitshare[dask]\") for 'dask'",
                    backend,
                )
            elif scheduler is None and workers is None:
                workers = 2
        if _BAD not in (threads, backend, chunk, scheduler, workers):
            comp_sec = ComputeSection(
                threads=threads, backend=backend, chunk_steps=chunk, scheduler=scheduler, workers=workers
            )

    p.raise_if_any()
    return Experiment(
        experiment=exp_sec,
        time=time_sec,
        grid=grid_sec,
        geography=geo_sec,
        systems=tuple(systems),
        outputs=out_sec,
        compute=comp_sec,
    )


def _iso3_list(p: _Problems, r: _Reader, key: str, countries, nonempty: bool):
    v = r.raw(key)
    where = _join(r.path, key)
    if v is _MISSING:
        return None
    expected = "a non-empty array of ISO 3166-1 alpha-3 codes" if nonempty else "an array of ISO 3166-1 alpha-3 codes"
    if not isinstance(v, list) or (nonempty and not v):
        return p.bad(where, expected, v)
    out, ok = [], True
    table = countries()
    for j, c in enumerate(v):
        if not isinstance(c, str) or c.upper() not in table:
            p.bad(f"{where}[{j}]", "an ISO 3166-1 alpha-3 code of the country table", c)
            ok = False
        elif c.upper() not in out:
            out.append(c.upper())
    return tuple(out) if ok else _BAD


def _validate_system(p, s, path, base, start, norad, countries, filings, deep):
    """A SystemSection (or None when invalid) and the number of walker catalog numbers it used."""
    p.unknown_keys(s, path, _SYSTEM_KEYS)
    r = _Reader(p, s, path)
    ok = True
    kinds = [k for k in SOURCE_KINDS if k in s]
    if len(kinds) != 1:
        given = "none of them" if not kinds else " and ".join(repr(k) for k in kinds)
        p.bad(path, "exactly one of 'elements', 'walker', 'filing', 'fetch'", _Raw(given))
        ok = False
    elements = walker = filing = fetch = None
    default_name = None
    default_operator, default_admin = "", ""
    used = 0
    if "elements" in s:
        v = r.string("elements", "a path to a TLE or OMM file (relative to the experiment file)")
        if v is _BAD:
            ok = False
        else:
            elements = _resolve(base, v)
            problem = _sniff_elements(elements)
            if problem is not None:
                p.bad(
                    f"{path}.elements",
                    "a readable TLE or OMM (CSV, JSON, XML) element file",
                    _given_path(v, elements, problem),
                )
                ok = False
            elif deep:
                from orbitshare.elements.elementset import load_elements
                from orbitshare.errors import OrbitshareError

                try:
                    load_elements(elements)
                except (OrbitshareError, OSError, ValueError) as exc:
                    msg = str(exc)
                    if msg.startswith(f"{elements}:"):
                        msg = "line " + msg[len(f"{elements}:") :].lstrip()
                    p.bad(f"{path}.elements", "a valid TLE or OMM element file", _given_path(v, elements, msg))
                    ok = False
            default_name = elements.name.split(".")[0] or None
    if "walker" in s:
        walker, used = _validate_walker(p, s["walker"], f"{path}.walker", norad)
        ok = ok and walker is not _BAD
    if "filing" in s:
        v = r.string("filing", "a system id of the filings table")
        if v is _BAD:
            ok = False
        else:
            rows = [sh for sh in filings() if sh.system_id == v]
            if not rows:
                from orbitshare.elements.filings import filing_systems

                ids = filing_systems(filings())
                close = difflib.get_close_matches(v, ids, n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                p.bad(f"{path}.filing", f"a system id of the filings table ({hint}one of {', '.join(ids)})", v)
                ok = False
            else:
                filing = v
                default_name = v
                default_operator, default_admin = rows[0].operator, rows[0].operator_country_iso3
    if "fetch" in s:
        v = r.string("fetch", "a CelesTrak group name (1-64 letters, digits, '-' or '_')")
        if v is not _BAD and not _FETCH_GROUP_RE.fullmatch(v):
            v = p.bad(f"{path}.fetch", "a CelesTrak group name (1-64 letters, digits, '-' or '_')", v)
        if v is _BAD:
            ok = False
        else:
            fetch = v
            default_name = v
    if len(kinds) != 1:
        default_name = None

    # name
    if default_name is None and "name" not in s and "walker" in s and len(kinds) == 1:
        name = p.bad(f"{path}.name", "a non-empty string (required for walker systems)", _MISSING)
    else:
        name = r.string("name", "a non-empty string", default=default_name, nonempty=True)
    if name is None or name is _BAD:
        ok = False
        name = None

    # epoch
    epoch = None
    if "epoch" in s:
        if kinds and kinds[0] in ("elements", "fetch") and len(kinds) == 1:
            p.add(
                f"{path}.epoch",
                f"only used with 'walker' or 'filing' systems (the {kinds[0]} catalog carries "
                f"its own epochs), got a {kinds[0]} system",
            )
            ok = False
        else:
            epoch = r.datetime("epoch")
            ok = ok and epoch is not _BAD
    elif walker is not None or filing is not None:
        epoch = start
        ok = ok and start is not None

    operator = r.string("operator", default=default_operator)
    admin = r.raw("administration")
    if admin is _MISSING:
        admin = default_admin
    elif not isinstance(admin, str) or (admin and admin.upper() not in countries()):
        admin = p.bad(f"{path}.administration", "an ISO 3166-1 alpha-3 code of the country table (or '')", admin)
    else:
        admin = admin.upper()
    ok = ok and _BAD not in (operator, admin)

    bands = _validate_bands(p, s, path)
    ok = ok and bands is not _BAD

    cap = r.number("capacity_per_sat_mbps", "a number of Mbit/s > 0", lambda x: x > 0, default=None)
    eff = r.number("spectral_efficiency_bps_per_hz", "a number of bit/s/Hz > 0", lambda x: x > 0, default=None)
    beams = r.integer("beams", "an integer >= 1", lambda x: x >= 1, default=None)
    if _BAD in (cap, eff, beams):
        ok = False
    else:
        if cap is not None and (eff is not None or beams is not None):
            p.bad(
                f"{path}.capacity_per_sat_mbps",
                "either capacity_per_sat_mbps or spectral_efficiency_bps_per_hz with beams",
                _Raw("both"),
            )
            ok = False
        elif eff is not None and beams is None:
            p.bad(
                f"{path}.beams",
                "an integer >= 1 with spectral_efficiency_bps_per_hz (capacity = efficiency x bandwidth x beams)",
                _MISSING,
            )
            ok = False
        elif beams is not None and eff is None:
            p.bad(
                f"{path}.spectral_efficiency_bps_per_hz",
                "a number of bit/s/Hz > 0 with beams (capacity = efficiency x bandwidth x beams)",
                _MISSING,
            )
            ok = False
        elif eff is not None and bands is not _BAD and not bands:
            p.bad(
                f"{path}.bands",
                "at least one band with spectral_efficiency_bps_per_hz (for the bandwidth)",
                _Raw("none"),
            )
            ok = False

    mask = r.number("elevation_mask_deg", "a number of degrees in (-90, 90)", lambda x: -90 < x < 90, default=25.0)
    minv = r.integer("min_visible", "an integer in [1, 32767]", lambda x: 1 <= x <= 32767, default=1)
    serve = _iso3_list(p, r, "serve_countries", countries, nonempty=True)
    exclude = _iso3_list(p, r, "exclude_countries", countries, nonempty=False)
    if _BAD in (mask, minv, serve, exclude):
        ok = False
    if not ok:
        return None, used, name
    return (
        SystemSection(
            name=name,
            elements=elements,
            walker=walker,
            filing=filing,
            fetch=fetch,
            epoch=epoch,
            operator=operator,
            administration=admin,
            bands=bands,
            capacity_per_sat_mbps=cap,
            spectral_efficiency_bps_per_hz=eff,
            beams=beams,
            elevation_mask_deg=mask,
            min_visible=minv,
            serve_countries=serve,
            exclude_countries=exclude or (),
            walker_norad_start=norad if walker is not None else None,
        ),
        used,
        name,
    )


def _validate_walker(p, v, path, norad):
    if isinstance(v, dict):
        p.bad(path, "an array of tables ([[systems.walker]], one per shell)", _Raw("a single table"))
        return _BAD, 0
    if not isinstance(v, list) or not v:
        p.bad(path, "an array of tables ([[systems.walker]], one per shell)", v)
        return _BAD, 0
    shells, ok, used = [], True, 0
    for j, sh in enumerate(v):
        where = f"{path}[{j}]"
        if not isinstance(sh, dict):
            p.bad(where, "a table", sh)
            ok = False
            continue
        p.unknown_keys(sh, where, _WALKER_KEYS)
        r = _Reader(p, sh, where)
        alt = r.number("altitude_km", "a number of km in (0, 50000)", lambda x: 0 < x < 50000)
        inc = r.number("inclination_deg", "a number of degrees in [0, 180]", lambda x: 0 <= x <= 180)
        planes = r.integer("planes", "an integer >= 1", lambda x: x >= 1)
        spp = r.integer("sats_per_plane", "an integer >= 1", lambda x: x >= 1)
        if planes is _BAD:
            phasing = r.integer("phasing", "an integer >= 0", lambda x: x >= 0, default=0)
        else:
            phasing = r.integer(
                "phasing", f"an integer in [0, planes) = [0, {planes - 1}]", lambda x: 0 <= x < planes, default=0
            )
        pattern = r.string("pattern", "'delta' or 'star'", ("delta", "star"), default="delta")
        vals = (alt, inc, planes, spp, phasing, pattern)
        if _BAD in vals:
            ok = False
            continue
        shell = WalkerShell(*vals)
        # the walker generator's own checks (e.g. orbits below the surface) are part of validation
        from orbitshare.elements.walker import walker as make_walker
        from orbitshare.errors import OrbitshareError

        try:
            make_walker(alt, inc, planes, 1, phasing, "2026-01-01T00:00:00Z", pattern=pattern)
        except (OrbitshareError, ValueError) as exc:
            p.add(where, f"expected a valid Walker shell, got {exc}")
            ok = False
            continue
        shells.append(shell)
        used += shell.total_sats
    return (tuple(shells) if ok else _BAD), used


def _validate_bands(p, s, path):
    v = s.get("bands", _MISSING)
    where = f"{path}.bands"
    if v is _MISSING:
        return ()
    if not isinstance(v, list):
        return p.bad(
            where,
            "an array of tables (name, low_mhz, high_mhz)",
            v if not isinstance(v, dict) else _Raw("a single table (write [[systems.bands]] or bands = [{...}])"),
        )
    out, ok = [], True
    for j, b in enumerate(v):
        bw = f"{where}[{j}]"
        if not isinstance(b, dict):
            p.bad(bw, "a table (name, low_mhz, high_mhz)", b)
            ok = False
            continue
        p.unknown_keys(b, bw, _BAND_KEYS)
        r = _Reader(p, b, bw)
        name = r.string("name", "a non-empty string", nonempty=True)
        low = r.number("low_mhz", "a number of MHz > 0", lambda x: x > 0)
        high = r.number("high_mhz", "a number of MHz > 0", lambda x: x > 0)
        if low is not _BAD and high is not _BAD and not low < high:
            p.bad(f"{bw}.low_mhz", f"a number < high_mhz ({_num_text(high)})", b["low_mhz"])
            low = _BAD
        if _BAD in (name, low, high):
            ok = False
            continue
        for k, other in enumerate(out):
            if other is None:
                continue
            if other.name == name:
                p.bad(f"{bw}.name", "a band name unique within the system", _Raw(f"{name!r} (also bands[{k}])"))
                ok = False
            elif low < other.high_mhz and other.low_mhz < high:
                p.bad(
                    bw,
                    f"a band not overlapping bands[{k}] ({other.name!r}, {_num_text(other.low_mhz)}-"
                    f"{_num_text(other.high_mhz)} MHz)",
                    _Raw(f"{name!r}, {_num_text(low)}-{_num_text(high)} MHz"),
                )
                ok = False
        out.append(BandSection(name, low, high))
    return tuple(out) if ok else _BAD


def _validate_outputs(p, t, base, systems):
    p.unknown_keys(t, "outputs", _OUTPUT_KEYS)
    r = _Reader(p, t, "outputs")
    ok = True

    def names(key, choices, default):
        """(the names in canonical order or _BAD, the valid names given)"""
        v = t.get(key, _MISSING)
        where = f"outputs.{key}"
        if v is _MISSING:
            return default, default
        if not isinstance(v, list):
            return p.bad(where, "an array of " + ", ".join(map(repr, choices)), v), ()
        good = True
        for j, x in enumerate(v):
            if not isinstance(x, str) or x not in choices:
                close = difflib.get_close_matches(x, choices, n=1, cutoff=0.6) if isinstance(x, str) else []
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                p.bad(f"{where}[{j}]", "one of " + ", ".join(map(repr, choices)) + hint, x)
                good = False
            elif x in v[:j]:
                p.bad(f"{where}[{j}]", f"each name once in {key}", _Raw(f"{x!r} again"))
                good = False
        valid = tuple(c for c in choices if c in v)
        return (valid if good else _BAD), valid

    known = [s for s in systems if s is not None]
    all_cap = bool(known) and all(s.has_capacity for s in known)
    default = tuple(d for d in DATASETS if d != "gso") if all_cap else ("coverage", "countries", "groups")
    datasets, given = names("datasets", DATASETS, default)
    if datasets is not _BAD or given:
        ds = set(given)
        if datasets is not _BAD and not ds:
            p.bad("outputs.datasets", "at least one dataset", t["datasets"])
            ok = False
        for need, wants, why in (
            ("coverage", ("countries",), "the country accounts are made from coverage"),
            ("countries", ("groups", "equity"), "they are made from the country accounts"),
            ("capacity", ("lorenz",), "Lorenz curves are curves of capacity per person"),
        ):
            users = [w for w in wants if w in ds]
            if users and need not in ds:
                p.bad("outputs.datasets", f"{need!r} with {' and '.join(map(repr, users))} ({why})", t["datasets"])
                ok = False
        cap_users = [d for d in CAPACITY_DATASETS if d in ds]
        if cap_users and "datasets" in t:
            for i, s in enumerate(systems):
                if s is not None and not s.has_capacity:
                    p.bad(
                        f"systems[{i}]",
                        "a capacity (capacity_per_sat_mbps, or spectral_efficiency_bps_per_hz "
                        f"with beams) because outputs.datasets includes {cap_users[0]!r}",
                        _Raw("neither"),
                    )
                    ok = False
    files, _ = names("files", FILES, FILES)
    maps, maps_given = names("maps", tuple(MAP_VARIABLES), ())
    if datasets is not _BAD or given:
        for j, m in enumerate(t.get("maps", []) if isinstance(t.get("maps"), list) else []):
            if m in maps_given and MAP_VARIABLES[m] not in given:
                p.bad(
                    f"outputs.maps[{j}]",
                    f"a variable of the datasets asked for ({m!r} needs {MAP_VARIABLES[m]!r} in outputs.datasets)",
                    m,
                )
                ok = False
        if maps_given:
            import importlib.util

            if importlib.util.find_spec("matplotlib") is None:
                p.bad(
                    "outputs.maps",
                    "an empty array when matplotlib is not installed (pip install matplotlib)",
                    t["maps"],
                )
                ok = False
    keep = r.boolean("keep_time_series", default=False)
    weighting = r.string("weighting", "'population' or 'area'", ("population", "area"), default="population")
    lorenz = r.integer("lorenz_points", "an integer >= 2", lambda x: x >= 2, default=101)

    def divides360(x):
        n = 360.0 / x
        return 0 < x <= 10 and abs(n - round(n)) < 1e-9

    gbin = r.number(
        "gso_bin_deg", "a number of degrees in (0, 10] that divides 360", lambda x: x > 0 and divides360(x), default=0.5
    )
    masks = t.get("gso_masks_deg", _MISSING)
    if masks is _MISSING:
        masks = (5.0, 10.0)
    elif not isinstance(masks, list) or not masks:
        masks = p.bad("outputs.gso_masks_deg", "a non-empty array of degrees in [0, 90)", masks)
    else:
        good = True
        for j, m in enumerate(masks):
            if not _is_number(m) or not 0 <= m < 90:
                p.bad(f"outputs.gso_masks_deg[{j}]", "a number of degrees in [0, 90)", m)
                good = False
        masks = tuple(float(m) for m in masks) if good else _BAD
    owners = r.string("owners_data_dir", "a path to a folder holding satcat/ catalogs", default=None)
    if owners is not None and owners is not _BAD:
        written, owners = owners, _resolve(base, owners)
        if not owners.is_dir():
            owners = p.bad(
                "outputs.owners_data_dir",
                "an existing folder (holding satcat/ catalogs)",
                _given_path(written, owners, "no such folder"),
            )
    vals = (datasets, files, maps, keep, weighting, lorenz, gbin, masks, owners)
    if not ok or _BAD in vals:
        return None
    return OutputsSection(*vals)


# ============================================================================ public API
def default_experiment_path() -> Path:
    """The embedded default experiment inside the installed package."""
    return Path(str(resources.files("orbitshare") / "data" / "default_experiment.toml"))


def _label(path: Path, given) -> str:
    return os.fspath(given) if given is not None else "orbitshare/data/default_experiment.toml"


def _parse_text(text: str, label: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS_RE.search(msg)
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            msg = msg[: m.start()]
        else:
            lines = text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
            msg = _TOML_END_RE.sub("", msg)
        where = f"line {line}, column {col}"
        err = ConfigError(f"{label}: {where}: invalid TOML: {msg}")
        err.problems = [str(err)]
        raise err from None


def _load(path, deep: bool) -> Experiment:
    if path is None:
        res = resources.files("orbitshare") / "data" / "default_experiment.toml"
        text = res.read_text(encoding="utf-8")
        source = default_experiment_path()
        label = _label(source, None)
    else:
        given = path
        source = Path(os.path.abspath(Path(path).expanduser()))
        label = _label(source, given)
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{label}: experiment file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{label}: expected an experiment file (TOML), got a directory") from None
        except OSError as exc:
            raise ConfigError(f"{label}: cannot read the experiment file ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ConfigError(
                f"{label}: line {line}, column {col}: invalid TOML: expected UTF-8 text, got byte "
                f"{data[exc.start]:#04x}"
            ) from None
    doc = _parse_text(text, label)
    p = _Problems(label)
    stem = source.stem if path is not None else "default"
    exp = _validate(doc, p, source.parent, stem, deep)
    return Experiment(**{f.name: getattr(exp, f.name) for f in fields(exp) if f.name != "source"}, source=source)


def load_experiment(path=None, *, deep: bool = False) -> Experiment:
    """Read and validate an experiment file; ``None`` loads the embedded default.

    Raises :class:`~orbitshare.errors.ConfigError` listing every problem (one line each: file, key
    path, what was expected, what was given); TOML syntax errors name the line and column.
    ``deep=True`` also parses every element file completely (slower; default: a format sniff).
    Nothing is downloaded.
    """
    return _load(path, deep)


def validate_experiment(path=None, *, deep: bool = False) -> Experiment:
    """Same as :func:`load_experiment` (the name for ``orbitshare validate``)."""
    return _load(path, deep)


# ============================================================================ builders
def build_times(exp: Experiment):
    """The run's :class:`~orbitshare.timegrid.TimeGrid` (steps in [start, stop))."""
    from orbitshare.timegrid import time_grid

    return time_grid(exp.time.start, exp.time.stop, exp.time.step_s)


def build_grid(exp: Experiment):
    """The run's :class:`~orbitshare.grid.Grid`."""
    from orbitshare.grid import Grid

    return Grid(exp.grid.resolution_deg)


def build_geography(exp: Experiment, grid=None):
    """The geography Dataset on ``grid`` (default :func:`build_grid`), as :func:`orbitshare.geography`."""
    from orbitshare.geo.build import geography

    g = exp.geography
    grid = build_grid(exp) if grid is None else grid
    if g.source == "embedded":
        return geography(grid, source="embedded")
    return geography(grid, source="naturalearth", data_dir=g.data_dir, population=g.population, scale=g.scale)


def build_elements(spec: SystemSection):
    """The :class:`~orbitshare.elements.elementset.ElementSet` of one system (``fetch`` downloads, or reuses the
    cache of :func:`orbitshare.elements.fetch.fetch_group`)."""
    kind = spec.kind
    if kind == "elements":
        from orbitshare.elements.elementset import load_elements

        return load_elements(spec.elements)
    if kind == "filing":
        from orbitshare.elements.filings import filing_elements

        return filing_elements(spec.filing, spec.epoch)
    if kind == "fetch":
        from orbitshare.elements.fetch import fetch_elements

        return fetch_elements(spec.fetch)
    from orbitshare.elements.elementset import ElementSet
    from orbitshare.elements.walker import walker

    parts, norad = [], spec.walker_norad_start or _WALKER_NORAD_START
    prefix = re.sub(r"[^A-Za-z0-9]+", "-", spec.name).strip("-").upper() or "WALKER"
    for j, sh in enumerate(spec.walker):
        parts.append(
            walker(
                sh.altitude_km,
                sh.inclination_deg,
                sh.planes,
                sh.sats_per_plane,
                sh.phasing,
                spec.epoch,
                pattern=sh.pattern,
                norad_start=norad,
                name_prefix=f"{prefix}-{j + 1}" if len(spec.walker) > 1 else prefix,
            )
        )
        norad += sh.total_sats
    return parts[0] if len(parts) == 1 else ElementSet.concat(parts)


def system_kwargs(spec: SystemSection) -> dict:
    """Keyword arguments of :class:`~orbitshare.system.System` for ``spec``, except ``elements``."""
    from orbitshare.system import Band

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


def build_system(spec: SystemSection):
    """One :class:`~orbitshare.system.System`."""
    from orbitshare.system import System

    return System(elements=build_elements(spec), **system_kwargs(spec))


def build_systems(exp: Experiment) -> list:
    """The run's :class:`~orbitshare.system.System` list, in file order."""
    return [build_system(s) for s in exp.systems]
