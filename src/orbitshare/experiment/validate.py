"""Experiment files: reading the TOML and validating every section (:func:`load_experiment`).

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

The value rules of a system's own fields (elevation mask, ``min_visible``, bands, capacity, beams,
ISO 3166-1 alpha-3 form of the administration and landing rights) are
:class:`~orbitshare.system.System`'s: validation checks the keys and the TOML types and reports what
:meth:`System.check_fields <orbitshare.system.System.check_fields>` finds under the system's key path.

Landing rights (a system's ``landing_rights`` and ``family``, ``[experiment] exclude_territories``) are
applied at validation, as of ``time.start``, by
:func:`~orbitshare.experiment.build.resolve_landing_rights` (build applies it again, which changes nothing),
so the resolved configuration a run writes shows the serve and exclude lists the run uses. A system's
``gateways`` ("table" or a .csv table of sites) is resolved at validation too
(:func:`~orbitshare.experiment.build.resolve_gateways`: a bad table's problems are reported under
``systems[i].gateways``), and ``[demand] adoption`` as a .csv table is read
(:func:`~orbitshare.demand.read_adoption`: its problems under ``demand.adoption``). The resolved
configuration writes ``[demand]`` and ``[capacity]`` in full, defaults included. ``compute.backend = "cuda"``
is refused with ``capacity.rule`` "maxmin" or "throughput" when a capacity dataset is asked for (the
allocation has no CUDA port yet).
The schema itself is in :mod:`orbitshare.experiment.schema`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import importlib.util
import math
import os
import re
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from orbitshare.demand import (
    DEFAULT_ADOPTION,
    DEFAULT_BUSY_HOUR_MBPS,
    DEFAULT_OVERBOOKING,
    DEFAULT_THRESHOLDS_MBPS,
    Demand,
    demand_problems,
    read_adoption,
)
from orbitshare.elements.filings import filing_systems, load_filings
from orbitshare.elements.read import load_elements
from orbitshare.elements.walker import SHELL_EXPECTED, SHELL_FIELDS, shell_problems
from orbitshare.elements.walker import walker as make_walker
from orbitshare.errors import ConfigError, DataError, OrbitshareError, SystemDefinitionError
from orbitshare.experiment.budget import MAX_SATELLITES, available_threads, estimate_resources
from orbitshare.experiment.build import resolve_gateways, resolve_landing_rights
from orbitshare.experiment.schema import (
    ALLOCATION_RULES,
    AVAILABLE_BACKENDS,
    BACKENDS,
    BAND_KEYS,
    CAPACITY_DATASETS,
    CAPACITY_KEYS,
    CAPACITY_RULES,
    COMPUTE_KEYS,
    DATASETS,
    DEMAND_KEYS,
    EPFD_KEYS,
    EXPERIMENT_KEYS,
    FILES,
    GATEWAY_SPECS,
    GEOGRAPHY_KEYS,
    GRID_KEYS,
    MAP_VARIABLES,
    OUTPUT_KEYS,
    SOURCE_KINDS,
    SPECTRUM_KEYS,
    SPECTRUM_SPLITS,
    SYSTEM_KEYS,
    TIME_KEYS,
    TOP_KEYS,
    WALKER_KEYS,
    WALKER_NORAD_START,
    BandSection,
    ComputeSection,
    EpfdSection,
    Experiment,
    ExperimentSection,
    GeographySection,
    GridSection,
    OutputsSection,
    SpectrumSection,
    SystemSection,
    TimeSection,
    WalkerShell,
    bands_overlap,
    iso_datetime,
    size_text,
)
from orbitshare.geo.build import country_groups
from orbitshare.geo.naturalearth import find_boundaries
from orbitshare.landing import read_landing_rights, system_families, system_family
from orbitshare.system import LANDING_SCENARIOS, System, field_detail, label_problem
from orbitshare.timegrid import MAX_TIME_STEPS, TIME_MAX, TIME_MIN, TIME_RANGE_TEXT, count_steps

__all__ = ["load_experiment", "validate_experiment", "default_experiment_path", "available_threads"]


_MIN_RES_DEG, _MAX_RES_DEG = 0.1, 5.0
_ADOPTION_EXPECTED = "a share of the population in [0, 1] or the path of a .csv adoption table"
_CAPACITY_FIELDS = ("capacity_per_sat_mbps", "spectral_efficiency_bps_per_hz", "beams", "beam_capacity_mbps")
_FETCH_GROUP_RE = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END_RE = re.compile(r"\s*\(at end of document\)\s*$")


class _Missing:
    """A key not given; shown as what was given in a message."""

    def __repr__(self) -> str:
        return "nothing (the key is missing)"


_MISSING: Any = _Missing()  # key absent
_BAD = object()  # key present but invalid (already reported)
_RUN_NAME = "a name of 1 to 100 letters, digits, '.', '_' or '-', not starting with '.'"
_RUN_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


def _run_name(stem: str) -> str:
    """The default ``experiment.name``: the experiment file's stem, other characters as ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".")[:100] or "experiment"


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
    if isinstance(v, (int, float, str)):
        text = repr(v)
        if len(text) <= 60:
            return text
        what = f"{len(v)} characters" if isinstance(v, str) else f"{len(text.lstrip('-'))} digits"
        return f"{text[:40]}... ({what})"
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            return f"the local date-time {v.isoformat()} (no timezone)"
        return iso_datetime(v)
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

    def system(self, path: str, errors: list[SystemDefinitionError], table: dict) -> bool:
        """Report what :meth:`System.check_fields <orbitshare.system.System.check_fields>` found, each
        under ``path.<field>``; the given value is shown as the file wrote it. True when there was none."""
        for err in errors:
            detail = field_detail(err)
            raw = _raw_at(table, err.field)
            if raw is _MISSING and detail.endswith(", got nothing"):
                detail += " (the key is missing)"
            elif raw is not _MISSING and detail.endswith(f", got {raw!r}"):
                detail = detail[: len(detail) - len(repr(raw))] + _show(raw)
            self.add(_join(path, err.field), detail)
        return not errors

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError("\n".join(self.lines), problems=self.lines)


_FIELD_PART_RE = re.compile(r"([^.\[]+)((?:\[\d+\])*)")


def _raw_at(table: dict, field: str) -> Any:
    """The value at ``field`` (``bands[1].low_mhz``) in a TOML table; _MISSING when there is none."""
    v: Any = table
    for part in field.split("."):
        m = _FIELD_PART_RE.fullmatch(part)
        if m is None or not isinstance(v, dict) or m.group(1) not in v:
            return _MISSING
        v = v[m.group(1)]
        for index in re.findall(r"\d+", m.group(2)):
            if not isinstance(v, list) or int(index) >= len(v):
                return _MISSING
            v = v[int(index)]
    return v


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_float(v) -> float | None:
    """A TOML number as a float; None for another type or an integer a float cannot hold (> ~1.8e308)."""
    if not _is_number(v):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


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
        x = _as_float(v)
        if x is None or not math.isfinite(x) or not ok(x):
            return self.p.bad(_join(self.path, key), expected, v)
        return x

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
        elif isinstance(v, _dt.datetime):
            if v.tzinfo is None or v.utcoffset() is None:
                return self.p.bad(where, expected, v)
            d = v
        else:
            return self.p.bad(where, expected, v)
        # beyond what datetime64[ns] holds, a time would wrap around silently (1600 becomes 2184)
        try:
            utc = d.astimezone(_dt.UTC)
        except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
            utc = None
        if utc is None or not TIME_MIN <= utc < TIME_MAX:
            return self.p.bad(
                where, f"a date-time {TIME_RANGE_TEXT}", _Raw(_show(v) if utc is None else iso_datetime(utc))
            )
        return utc


# ============================================================================ reference tables
def _country_codes() -> set[str]:
    return {str(c) for c in country_groups()["iso3"]}


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


# ============================================================================ validation
def _table(p: _Problems, doc: dict, key: str, path: str | None = None) -> dict | None:
    v = doc.get(key, _MISSING)
    if v is _MISSING:
        return {}
    if not isinstance(v, dict):
        p.bad(path or key, f"a table ([{key}])", v)
        return None
    return v


def _validate(doc: dict, p: _Problems, base: Path, stem: str, deep: bool) -> Experiment:
    p.unknown_keys(doc, "", TOP_KEYS)
    if "sweep" in doc and not isinstance(doc["sweep"], dict):  # its keys: orbitshare.sensitivity checks them
        p.bad("sweep", "a table ([sweep]) read by `orbitshare sweep`", doc["sweep"])
    cache: dict[str, Any] = {}

    def countries():
        if "countries" not in cache:
            cache["countries"] = _country_codes()
        return cache["countries"]

    def filings():
        if "filings" not in cache:
            cache["filings"] = load_filings()
        return cache["filings"]

    # ---- [experiment]
    exp_sec = None
    t = _table(p, doc, "experiment")
    if t is not None:
        p.unknown_keys(t, "experiment", EXPERIMENT_KEYS)
        r = _Reader(p, t, "experiment")
        name = r.string("name", _RUN_NAME, default=_run_name(stem), nonempty=True)
        if name is not _BAD and not _RUN_NAME_RE.fullmatch(name):  # it names the directory runs/<name>
            name = p.bad("experiment.name", _RUN_NAME, name)
        desc = r.string("description", default="")
        if isinstance(desc, str) and not desc.isprintable():  # it lands in the report's Markdown and HTML
            desc = p.bad(
                "experiment.description",
                "one line of printable characters (no control characters such as NUL, tab, CR or line breaks)",
                desc,
            )
        territories = _iso3_list(p, t, "experiment", "exclude_territories", countries, nonempty=False)
        if _BAD not in (name, desc, territories):
            exp_sec = ExperimentSection(name=name, description=desc, exclude_territories=territories or ())

    # ---- [time]
    time_sec = None
    t = doc.get("time", _MISSING)
    if t is _MISSING:
        p.bad("time", "a table [time] with start and stop", _MISSING)
    elif not isinstance(t, dict):
        p.bad("time", "a table ([time])", t)
    else:
        p.unknown_keys(t, "time", TIME_KEYS)
        r = _Reader(p, t, "time")
        start = r.datetime("start")
        stop = r.datetime("stop")
        step = r.number(
            "step_s",
            "a number of seconds > 0",
            lambda x: x > 0 and (not math.isfinite(x * 1e9) or round(x * 1e9) >= 1),
            default=60.0,
        )
        if start is not _BAD and stop is not _BAD and not stop > start:
            p.bad("time.stop", f"a date-time after time.start ({iso_datetime(start)})", stop)
            stop = _BAD
        if _BAD not in (start, stop, step) and (n := count_steps(start, stop, step)) > MAX_TIME_STEPS:
            step = p.bad(
                "time.step_s",
                f"at most {MAX_TIME_STEPS:,} steps from time.start to time.stop (per-cell step counts are int32)",
                _Raw(f"{_show(t.get('step_s', 60.0))}, which makes {n:,} steps"),
            )
        if _BAD not in (start, stop, step):
            time_sec = TimeSection(start=start, stop=stop, step_s=step)

    # ---- [grid]
    grid_sec = None
    t = _table(p, doc, "grid")
    if t is not None:
        p.unknown_keys(t, "grid", GRID_KEYS)
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
        p.unknown_keys(t, "geography", GEOGRAPHY_KEYS)
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
            scale = r.string("scale", "'10m', '50m' or '110m'", ("10m", "50m", "110m"), default="50m")
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
    exact_sats: dict[int, int] = {}  # satellites of element files parsed (deep)
    raw_systems = doc.get("systems", _MISSING)
    start = time_sec.start if time_sec is not None else None
    if raw_systems is _MISSING:
        p.bad("systems", "at least one [[systems]] table", _MISSING)
    elif isinstance(raw_systems, dict):
        p.bad("systems", "an array of tables ([[systems]], one per system)", _Raw("a single table ([systems])"))
    elif not isinstance(raw_systems, list) or not raw_systems:
        p.bad("systems", "an array of tables ([[systems]], one per system)", raw_systems)
    else:
        norad = WALKER_NORAD_START
        for i, s in enumerate(raw_systems):
            path = f"systems[{i}]"
            if not isinstance(s, dict):
                p.bad(path, "a table", s)
                systems.append(None)
                continue
            spec, used, name, nsat = _validate_system(p, s, path, base, start, norad, countries, filings, deep)
            norad += used
            systems.append(spec)
            names.append(name)
            if nsat is not None:
                exact_sats[i] = nsat
        # every satellite is held at once: a cap before anything is generated (walker and filing sizes
        # are known without building them; parsed element files are counted)
        total = norad - WALKER_NORAD_START + sum(exact_sats.values())
        total += sum(
            sh.total_sats
            for spec in systems
            if spec is not None and spec.filing
            for sh in filings()
            if sh.system_id == spec.filing
        )
        if total > MAX_SATELLITES:
            p.bad("systems", f"at most {MAX_SATELLITES:,} satellites in all", _Raw(f"{total:,} satellites"))
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

    # ---- landing rights, as of time.start, with the experiment's exclude_territories
    territories = exp_sec.exclude_territories if exp_sec is not None else ()
    for i, spec in enumerate(systems):
        if spec is None or (spec.landing_rights != "all" and start is None):
            continue
        try:
            systems[i] = resolve_landing_rights(spec, territories, start)
        except ConfigError as exc:
            for line in exc.problems:
                p.add(f"systems[{i}].landing_rights", line)
            systems[i] = None

    # ---- [outputs]
    out_sec = None
    t = _table(p, doc, "outputs")
    if t is not None:
        out_sec = _validate_outputs(p, t, base, systems)

    # ---- [compute]
    comp_sec = None
    t = _table(p, doc, "compute")
    if t is not None:
        p.unknown_keys(t, "compute", COMPUTE_KEYS)
        r = _Reader(p, t, "compute")
        avail = available_threads()
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
        max_workers = max(avail, 2)
        workers = r.integer(
            "workers",
            f"an integer in [1, {max_workers}] (worker processes of a local Dask cluster; at most one per core)",
            lambda x: 1 <= x <= max_workers,
            default=None,
        )
        limit = r.number("memory_limit_gb", "a number of GB > 0", lambda x: x > 0, default=None)
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
            if importlib.util.find_spec("distributed") is None:
                backend = p.bad(
                    "compute.backend",
                    "'cpu', or install the Dask extra (pip install \"orbitshare[dask]\") for 'dask'",
                    backend,
                )
            elif scheduler is None and workers is None:
                workers = 2
        if _BAD not in (threads, backend, chunk, scheduler, workers, limit):
            comp_sec = ComputeSection(
                threads=threads,
                backend=backend,
                chunk_steps=chunk,
                scheduler=scheduler,
                workers=workers,
                memory_limit_gb=limit,
            )

    # ---- [demand], [capacity]
    demand = None
    t = _table(p, doc, "demand")
    if t is not None:
        demand = _validate_demand(p, t, base)
    rule: Any = None
    band_sharing: Any = True
    t = _table(p, doc, "capacity")
    if t is not None:
        p.unknown_keys(t, "capacity", CAPACITY_KEYS)
        cap_reader = _Reader(p, t, "capacity")
        rule = cap_reader.string("rule", "'maxmin', 'throughput' or 'proportional'", CAPACITY_RULES, default="maxmin")
        band_sharing = cap_reader.boolean("band_sharing", default=True)
        if rule == "throughput" and band_sharing is True and bands_overlap([s for s in systems if s is not None]):
            p.add(
                "capacity.band_sharing",
                "expected false with rule = 'throughput' when two systems' bands overlap (the largest Mbit/s "
                "total with beams that carry part of their band is a weighted flow, not implemented), got true",
            )
    spec_sec = _validate_spectrum(p, _table(p, doc, "spectrum"))
    epfd_sec = _validate_epfd(p, _table(p, doc, "epfd"))
    if (
        out_sec is not None
        and "epfd" in out_sec.datasets
        and all(s is not None and s.pfd_dbw_m2_40khz is None for s in systems)
    ):
        p.add(
            "outputs.datasets",
            "'epfd' needs at least one system with a PFD: set systems[*].pfd_dbw_m2_40khz (with pfd_source), "
            "or leave 'epfd' out",
        )
    # the allocation runs where a capacity dataset is asked for; it has no CUDA port yet
    if (
        comp_sec is not None
        and comp_sec.backend == "cuda"
        and rule in ALLOCATION_RULES
        and out_sec is not None
        and set(out_sec.datasets) & set(CAPACITY_DATASETS)
    ):
        p.add(
            "compute.backend",
            f'the capacity allocation (capacity.rule = "{rule}") has no CUDA port yet; use "cpu" or "dask", '
            'or capacity.rule = "proportional"',
        )

    # the co-frequency sharing runs where bands overlap and a capacity dataset is asked for; no CUDA port yet
    if (
        comp_sec is not None
        and comp_sec.backend == "cuda"
        and out_sec is not None
        and set(out_sec.datasets) & set(CAPACITY_DATASETS)
        and bands_overlap([s for s in systems if s is not None])
    ):
        p.add(
            "compute.backend",
            "the co-frequency sharing of overlapping bands (the in-line test of [spectrum]) has no CUDA port yet; "
            'use "cpu" or "dask", or systems whose bands do not overlap',
        )

    p.raise_if_any()
    checked = tuple(s for s in systems if s is not None)
    assert exp_sec is not None and time_sec is not None and grid_sec is not None and geo_sec is not None
    assert out_sec is not None and comp_sec is not None and len(checked) == len(systems)
    assert demand is not None and isinstance(rule, str) and spec_sec is not None and epfd_sec is not None
    exp = Experiment(
        experiment=exp_sec,
        time=time_sec,
        grid=grid_sec,
        geography=geo_sec,
        systems=checked,
        outputs=out_sec,
        compute=comp_sec,
        demand=demand,
        capacity_rule=rule,
        capacity_band_sharing=bool(band_sharing),
        spectrum=spec_sec,
        epfd=epfd_sec,
    )
    # the memory budget: estimated from the sizes alone, before anything of the run's size exists
    estimate = estimate_resources(exp, exact_sats)
    if estimate.over_limit:
        part = estimate.largest
        p.add(
            part.key,
            f"expected a run within the memory limit of {size_text(estimate.limit_bytes or 0)} "
            f"({estimate.limit_source}), got an estimated peak of {size_text(estimate.peak_bytes)} (the largest "
            f"part: {part.what}, {size_text(part.nbytes)})",
        )
        p.raise_if_any()
    return replace(exp, estimate=estimate)


def _validate_spectrum(p: _Problems, t: dict | None) -> SpectrumSection | None:
    """The ``[spectrum]`` table (its defaults where a key or the table is missing), None when invalid (each
    problem reported under ``spectrum.<key>``)."""
    if t is None:
        return SpectrumSection()
    p.unknown_keys(t, "spectrum", SPECTRUM_KEYS)
    r = _Reader(p, t, "spectrum")
    angle = r.number(
        "inline_angle_deg", "a number of degrees in (0, 180] (the in-line angle)", lambda x: 0 < x <= 180, default=10.0
    )
    split = r.string("split", "'equal' or 'priority'", SPECTRUM_SPLITS, default="equal")
    if _BAD in (angle, split):
        return None
    return SpectrumSection(inline_angle_deg=float(angle), split=split)


def _pfd_source(p: _Problems, s: dict, path: str, pfd: Any) -> Any:
    """A system's ``pfd_source`` (provenance of its PFD): a non-empty one-line string, required when
    ``pfd_dbw_m2_40khz`` is given; None when neither is; _BAD after a problem (reported under the key)."""
    v = s.get("pfd_source", _MISSING)
    where = _join(path, "pfd_source")
    if v is _MISSING:
        if pfd is not None:
            return p.bad(where, "the source of pfd_dbw_m2_40khz (a filing, paper or page; required with it)", v)
        return None
    if not isinstance(v, str) or not v.strip() or not v.isprintable():
        return p.bad(where, "a non-empty one-line string (the source of pfd_dbw_m2_40khz)", v)
    return v.strip()


def _validate_epfd(p: _Problems, t: dict | None) -> EpfdSection | None:
    """The ``[epfd]`` table (defaults where missing), None when invalid (problems under ``epfd.<key>``)."""
    if t is None:
        return EpfdSection()
    p.unknown_keys(t, "epfd", EPFD_KEYS)
    r = _Reader(p, t, "epfd")
    ok = True
    diam: Any = t.get("antenna_diameter_m", _MISSING)
    expected = "a non-empty array of distinct antenna diameters in m > 0"
    if diam is _MISSING:
        diam = EpfdSection.antenna_diameter_m
    elif not isinstance(diam, list) or not diam:
        ok = p.bad("epfd.antenna_diameter_m", expected, diam) is not _BAD
    else:
        for j, d in enumerate(diam):
            x = _as_float(d)
            if x is None or not math.isfinite(x) or x <= 0:
                ok = p.bad(f"epfd.antenna_diameter_m[{j}]", "a diameter in m > 0", d) is not _BAD
        if ok and len({float(d) for d in diam}) != len(diam):
            ok = p.bad("epfd.antenna_diameter_m", expected, diam) is not _BAD
    freq = r.number("frequency_mhz", "a frequency in MHz > 0", lambda x: x > 0, default=None)
    step = r.number("arc_step_deg", "a number of degrees in (0, 90]", lambda x: 0 < x <= 90, default=5.0)
    elev = r.number("gso_min_elevation_deg", "a number of degrees in [0, 90)", lambda x: 0 <= x < 90, default=5.0)
    margin = r.boolean("margin", default=True)
    if not ok or _BAD in (freq, step, elev, margin):
        return None
    return EpfdSection(
        antenna_diameter_m=tuple(float(d) for d in diam),
        frequency_mhz=None if freq is None else float(freq),
        arc_step_deg=float(step),
        gso_min_elevation_deg=float(elev),
        margin=bool(margin),
    )


def _validate_demand(p: _Problems, t: dict, base: Path) -> Demand | None:
    """The ``[demand]`` table as a :class:`~orbitshare.demand.Demand` (its defaults where a key is missing),
    None when invalid (every problem reported under ``demand.<key>``). ``adoption`` is a share in [0, 1] or
    the path of an adoption table (:func:`~orbitshare.demand.read_adoption`; its problems each name the
    file, line and field), ``adoption_default`` the share of the countries the table lacks, ``overbooking``
    the subscribers per simultaneously active user in the busy hour (> 0)."""
    p.unknown_keys(t, "demand", DEMAND_KEYS)
    ok = True
    adoption = t.get("adoption", _MISSING)
    default = t.get("adoption_default", _MISSING)
    by_country: dict[str, float] | None = None
    source = f"{DEFAULT_ADOPTION:g} (the default of orbitshare.demand; source: see docs/allocation_parameters.md)"
    if isinstance(adoption, str):
        if not adoption.lower().endswith(".csv"):
            p.bad("demand.adoption", _ADOPTION_EXPECTED, adoption)
            ok = False
        else:
            table = _resolve(base, adoption)
            try:
                by_country = read_adoption(table)
            except DataError as exc:
                for line in str(exc).splitlines():
                    p.add("demand.adoption", f"expected a valid adoption table, got {line}")
                ok = False
            source = str(table)
        share = DEFAULT_ADOPTION if default is _MISSING else default
    else:
        if default is not _MISSING:
            p.add(
                "demand.adoption_default",
                "only used with an adoption table (demand.adoption = the path of a .csv table), got "
                f"demand.adoption = {_show(adoption) if adoption is not _MISSING else 'nothing (the default)'}",
            )
            ok = False
        if adoption is _MISSING:
            share = DEFAULT_ADOPTION
        else:
            share = adoption
            source = f"{_show(adoption)} (demand.adoption of {p.label})"
    busy = t.get("busy_hour_mbps", DEFAULT_BUSY_HOUR_MBPS)
    overbooking = t.get("overbooking", DEFAULT_OVERBOOKING)
    thresholds = t.get("thresholds_mbps", list(DEFAULT_THRESHOLDS_MBPS))
    if not isinstance(thresholds, list) or not thresholds:
        p.bad("demand.thresholds_mbps", "a non-empty array of Mbit/s > 0, increasing", thresholds)
        thresholds, ok = list(DEFAULT_THRESHOLDS_MBPS), False
    problems = demand_problems(adoption=share, busy_hour_mbps=busy, thresholds_mbps=thresholds, overbooking=overbooking)
    for name, detail in problems:
        key = "adoption_default" if name == "adoption" and isinstance(adoption, str) else name
        raw = _raw_at(t, key)
        if raw is not _MISSING and detail.endswith(f", got {raw!r}"):
            detail = detail[: len(detail) - len(repr(raw))] + _show(raw)
        if key == "adoption":
            detail = detail.replace("expected a share of the population in [0, 1]", f"expected {_ADOPTION_EXPECTED}")
        p.add(f"demand.{key}", detail)
        ok = False
    if not ok:
        return None
    return Demand(
        adoption=share,
        adoption_by_country=by_country,
        busy_hour_mbps=busy,
        thresholds_mbps=tuple(thresholds),
        adoption_source=source,
        overbooking=overbooking,
    )


def _iso3_list(p: _Problems, s: dict, path: str, key: str, countries: Callable[[], set[str]], nonempty: bool):
    """The upper-cased codes of an array of ISO 3166-1 alpha-3 codes of the country table (first occurrence
    kept), None when the key is absent, _BAD when invalid (reported): the TOML types here, the form of
    each code by :class:`~orbitshare.system.System`, then the country table."""
    v = s.get(key, _MISSING)
    where = f"{path}.{key}"
    if v is _MISSING:
        return None
    expected = "a non-empty array of ISO 3166-1 alpha-3 codes" if nonempty else "an array of ISO 3166-1 alpha-3 codes"
    if not isinstance(v, list) or (nonempty and not v):
        return p.bad(where, expected, v)
    is_field = key in ("serve_countries", "exclude_countries")  # else the country table judges the form
    malformed = {e.field: e for e in System.check_fields(**{key: v})} if is_field else {}
    out, ok = [], True
    for j, c in enumerate(v):
        err = malformed.get(f"{key}[{j}]")
        if not isinstance(c, str):
            p.bad(f"{where}[{j}]", "an ISO 3166-1 alpha-3 code of the country table", c)
            ok = False
        elif err is not None:
            ok = p.system(path, [err], s) and ok
        elif c.upper() not in countries():
            p.bad(f"{where}[{j}]", "an ISO 3166-1 alpha-3 code of the country table", c)
            ok = False
        elif c.upper() not in out:
            out.append(c.upper())
    return tuple(out) if ok else _BAD


def _validate_system(p, s, path, base, start, norad, countries, filings, deep):
    """A SystemSection (or None when invalid), the number of walker catalog numbers it used, its name and
    the satellites of its element file when parsed (``deep``; else None)."""
    p.unknown_keys(s, path, SYSTEM_KEYS)
    r = _Reader(p, s, path)
    ok = True
    kinds = [k for k in SOURCE_KINDS if k in s]
    if len(kinds) != 1:
        given = "none of them" if not kinds else " and ".join(repr(k) for k in kinds)
        p.bad(path, "exactly one of 'elements', 'walker', 'filing', 'fetch'", _Raw(given))
        ok = False
    elements = walker = filing = fetch = None
    default_name = None
    nsat = None
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
                try:
                    nsat = len(load_elements(elements))
                except (OrbitshareError, OSError, ValueError) as exc:
                    msg = str(exc)
                    if msg.startswith(f"{elements}:"):
                        msg = "line " + msg[len(f"{elements}:") :].lstrip()
                    p.bad(f"{path}.elements", "a valid TLE or OMM element file", _given_path(v, elements, msg))
                    ok = False
            default_name = elements.name.split(".")[0] or None
            if default_name is not None and "name" not in s and label_problem(default_name) is not None:
                p.bad(
                    f"{path}.name",
                    f"a name for this system: the element file's name is no good name ({label_problem(default_name)})",
                    _MISSING,
                )
                default_name, ok = None, False
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
    elif "name" in s:
        name = s["name"] if p.system(path, System.check_fields(name=s["name"]), s) else _BAD
    else:
        name = default_name
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

    # the System's own fields: their rules are System's; the country table is the experiment's
    operator = s.get("operator", default_operator)
    if not p.system(path, System.check_fields(operator=operator), s):
        operator = _BAD
    admin = s.get("administration", _MISSING)
    if admin is _MISSING:
        admin = default_admin
    elif not isinstance(admin, str) or (admin and admin.upper() not in countries()):
        errors = System.check_fields(administration=admin) if isinstance(admin, str) else []
        if p.system(path, errors, s):
            p.bad(f"{path}.administration", "an ISO 3166-1 alpha-3 code of the country table (or '')", admin)
        admin = _BAD
    else:
        admin = admin.upper()
    ok = ok and _BAD not in (operator, admin)

    bands = _band_tables(p, s, path)
    capacity = {k: s[k] for k in _CAPACITY_FIELDS if k in s}
    errors = System.check_fields(bands=() if bands is _BAD else bands, **capacity)
    if bands is _BAD:  # reported already; System saw no bands
        errors = [e for e in errors if e.field != "bands"]
    for err in errors:
        if bands is not _BAD and err.field.startswith("bands[") and bands[_band_index(err.field)] is None:
            p.bad(f"{path}.{err.field}", "a table (name, low_mhz, high_mhz)", s["bands"][_band_index(err.field)])
        else:
            p.system(path, [err], s)
    ok = ok and not errors and bands is not _BAD
    cap, eff, beams, beam = (capacity.get(k) for k in _CAPACITY_FIELDS)
    delivery = {k: s[k] for k in ("max_beams_per_cell", "service_cell_km2", "gateway_mask_deg", "isl") if k in s}
    ok = p.system(path, System.check_fields(**delivery), s) and ok
    area = delivery.get("service_cell_km2")  # km² of one service cell; None: a grid cell is one

    coverage = {k: s[k] for k in ("elevation_mask_deg", "min_visible") if k in s}
    ok = p.system(path, System.check_fields(**coverage), s) and ok
    pfd = s.get("pfd_dbw_m2_40khz")  # dB(W/m²) in 40 kHz; the rule is System's
    ok = p.system(path, System.check_fields(pfd_dbw_m2_40khz=pfd), s) and ok
    pfd_source = _pfd_source(p, s, path, pfd)
    ok = ok and pfd_source is not _BAD
    mask, minv = coverage.get("elevation_mask_deg", 25.0), coverage.get("min_visible", 1)
    serve = _iso3_list(p, s, path, "serve_countries", countries, nonempty=True)
    exclude = _iso3_list(p, s, path, "exclude_countries", countries, nonempty=False)
    if _BAD in (serve, exclude):
        ok = False
    scenario, family = _landing_keys(p, s, path, base, filing, fetch)
    if _BAD in (scenario, family):
        ok = False
    gateways, sites = _gateway_keys(p, s, path, base, family)
    if gateways is _BAD:
        ok = False
    if not ok:
        return None, used, name, nsat
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
            bands=tuple(BandSection(band, float(low), float(high)) for band, low, high in bands),
            capacity_per_sat_mbps=None if cap is None else float(cap),
            spectral_efficiency_bps_per_hz=None if eff is None else float(eff),
            beams=beams,
            beam_capacity_mbps=None if beam is None else float(beam),
            max_beams_per_cell=delivery.get("max_beams_per_cell", 1),
            service_cell_km2=None if area is None else float(area),
            gateways=gateways,
            gateway_mask_deg=float(delivery.get("gateway_mask_deg", 25.0)),
            isl=delivery.get("isl", False),
            elevation_mask_deg=float(mask),
            min_visible=minv,
            serve_countries=serve,
            exclude_countries=exclude or (),
            landing_rights=scenario,
            family=family,
            walker_norad_start=norad if walker is not None else None,
            gateway_sites=sites,
            pfd_dbw_m2_40khz=None if pfd is None else float(pfd),
            pfd_source=pfd_source,
        ),
        used,
        name,
        nsat,
    )


def _gateway_keys(p: _Problems, s: dict, path: str, base: Path, family: Any):
    """A system's ``gateways`` ("anywhere", "table" or the absolute path of a gateway table) and its sites
    ((lat_deg, lon_deg) pairs; None for "anywhere"), resolved by
    :func:`~orbitshare.experiment.build.resolve_gateways`; (_BAD, None) when invalid (reported under
    ``path.gateways``: a table's problems each name its file, line and field)."""
    where = f"{path}.gateways"
    spec = s.get("gateways", "anywhere")
    expected = "'anywhere', 'table' or a path to a .csv table of gateway sites"
    if not isinstance(spec, str) or not (spec in GATEWAY_SPECS or spec.lower().endswith(".csv")):
        return p.bad(where, expected, spec), None
    if spec == "anywhere":
        return spec, None
    if family is _BAD:  # reported already
        return _BAD, None
    if spec == "table" and family is None:
        return p.bad(
            where,
            f"{expected}: 'table' needs the system's family (the family key, or a filing or fetch group naming one)",
            spec,
        ), None
    if spec != "table":
        spec = str(_resolve(base, spec))
    try:
        sites = resolve_gateways(SystemSection("gateways", fetch="x", gateways=spec, family=family)).gateway_sites
    except ConfigError as exc:
        for line in exc.problems:
            p.add(where, line)
        return _BAD, None
    errors = System.check_fields(gateway_sites=sites)
    if errors:
        for err in errors:
            p.add(where, f"expected valid gateway sites, got {err.field}: {field_detail(err)}")
        return _BAD, None
    return spec, sites


def _landing_keys(p: _Problems, s: dict, path: str, base: Path, filing: str | None, fetch: str | None):
    """A system's ``landing_rights`` (a scenario name, or the absolute path of a table that validates) and
    ``family`` (given, or derived from its filing or fetch group; None when neither); _BAD when invalid
    (reported: a table's problems each name its file, line and field)."""
    scenario = s.get("landing_rights", "all")
    if not p.system(path, System.check_fields(landing_rights=scenario), s):
        scenario = _BAD
    elif scenario not in LANDING_SCENARIOS:
        table = _resolve(base, scenario)
        try:
            read_landing_rights(table)
        except ConfigError as exc:
            for line in exc.problems:
                p.add(f"{path}.landing_rights", f"expected a valid landing-rights table, got {line}")
            scenario = _BAD
        else:
            scenario = str(table)
    families = system_families()
    expected = f"a landing-rights system family (one of {', '.join(families)})"
    family = s.get("family", _MISSING)
    if family is _MISSING:
        derived = [system_family(x) for x in (filing, fetch) if x is not None]
        family = derived[0] if derived and derived[0] in families else None
        if family is None and scenario not in (_BAD, "all"):
            family = p.bad(
                f"{path}.family",
                f"{expected}: landing_rights = {s.get('landing_rights')!r} needs one and this system's "
                "filing or fetch group names none",
                _MISSING,
            )
    elif not isinstance(family, str) or family not in families:
        family = p.bad(f"{path}.family", expected, family)
    return scenario, family


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
        p.unknown_keys(sh, where, WALKER_KEYS)
        # the shell's value rules are the walker generator's (shell_problems); reported under their keys
        given = {k: sh.get(k, _MISSING) for k in SHELL_FIELDS}
        given["phasing"] = sh.get("phasing", 0)
        given["pattern"] = sh.get("pattern", "delta")
        huge = [k for k in ("altitude_km", "inclination_deg") if _is_number(given[k]) and _as_float(given[k]) is None]
        for k in huge:  # an integer beyond what a float holds
            p.bad(f"{where}.{k}", SHELL_EXPECTED[k], given[k])
        if huge:
            ok = False
            continue
        values, problems = shell_problems(*(given[k] for k in SHELL_FIELDS))
        for problem in problems:
            p.bad(f"{where}.{problem.field}", problem.expected, problem.value)
        if problems:
            ok = False
            continue
        alt, inc, planes = values["altitude_km"], values["inclination_deg"], values["planes"]
        phasing, pattern = values["phasing"], values["pattern"]
        shell = WalkerShell(alt, inc, planes, values["sats_per_plane"], phasing, pattern)
        if shell.total_sats > MAX_SATELLITES:  # checked before the generator makes a single one
            p.bad(
                where,
                f"at most {MAX_SATELLITES:,} satellites (planes x sats_per_plane)",
                _Raw(f"{planes:,} x {values['sats_per_plane']:,}"),
            )
            ok = False
            continue
        # the walker generator's own checks (e.g. orbits below the surface; they depend on the altitude and
        # inclination only) are part of validation: on a shell of one satellite, whatever the shell's size
        try:
            make_walker(alt, inc, 1, 1, 0, "2026-01-01T00:00:00Z", pattern=pattern)
        except (OrbitshareError, ValueError) as exc:
            p.add(where, f"expected a valid Walker shell, got {exc}")
            ok = False
            continue
        shells.append(shell)
        used += shell.total_sats
    return (tuple(shells) if ok else _BAD), used


def _band_index(field: str) -> int:
    """``i`` of a field ``bands[i]...``."""
    return int(field[len("bands[") : field.index("]")])


def _band_tables(p: _Problems, s: dict, path: str):
    """The bands of a system as ``(name, low_mhz, high_mhz)`` as written (_MISSING for a key not given;
    unknown keys are reported here), None for an item that is not a table (reported with what
    :class:`~orbitshare.system.System` finds), or _BAD when ``bands`` is not an array (reported); their
    value rules are System's."""
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
    out: list[tuple[Any, Any, Any] | None] = []
    for j, b in enumerate(v):
        if isinstance(b, dict):
            p.unknown_keys(b, f"{where}[{j}]", BAND_KEYS)
            out.append((b.get("name", _MISSING), b.get("low_mhz", _MISSING), b.get("high_mhz", _MISSING)))
        else:
            out.append(None)
    return tuple(out)


def _validate_outputs(p, t, base, systems):
    p.unknown_keys(t, "outputs", OUTPUT_KEYS)
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
    default = tuple(d for d in DATASETS if d not in ("gso", "epfd")) if all_cap else ("coverage", "countries", "groups")
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
                        "a capacity (capacity_per_sat_mbps, spectral_efficiency_bps_per_hz with beams, or "
                        f"beam_capacity_mbps with beams) because outputs.datasets includes {cap_users[0]!r}",
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
        if maps_given and importlib.util.find_spec("matplotlib") is None:
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
    """The path of the embedded default experiment inside the installed package
    (``orbitshare/data/default_experiment.toml``)."""
    return Path(str(resources.files("orbitshare") / "data" / "default_experiment.toml"))


def _label(given: str | os.PathLike[str] | None) -> str:
    return os.fspath(given) if given is not None else "orbitshare/data/default_experiment.toml"


def _parse_text(text: str, label: str) -> dict:
    try:
        return tomllib.loads(text)
    except RecursionError:  # tomllib recurses once per level of nested arrays and inline tables
        raise ConfigError(
            f"{label}: invalid TOML: expected arrays and inline tables nested a few levels deep, got them nested "
            "deeper than the parser can follow"
        ) from None
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
        raise ConfigError(f"{label}: {where}: invalid TOML: {msg}") from None
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        m = re.search(r"[0-9][0-9_]{4000,}", text)
        where = f"line {text.count(chr(10), 0, m.start()) + 1}: " if m else ""
        raise ConfigError(f"{label}: {where}invalid TOML: expected a number of sensible size, got {exc}") from None


def _load(path: str | os.PathLike[str] | None, deep: bool) -> Experiment:
    if path is None:
        res = resources.files("orbitshare") / "data" / "default_experiment.toml"
        text = res.read_text(encoding="utf-8")
        source = default_experiment_path()
        label = _label(None)
    else:
        given = path
        source = Path(os.path.abspath(Path(path).expanduser()))
        label = _label(given)
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


def load_experiment(path: str | os.PathLike[str] | None = None, *, deep: bool = False) -> Experiment:
    """Read and validate an experiment file; ``None`` loads the embedded default.

    Raises :class:`~orbitshare.errors.ConfigError` listing every problem (one line each: file, key
    path, what was expected, what was given); TOML syntax errors name the line and column.
    ``deep=True`` also parses every element file completely (slower; default: a format sniff).
    Nothing is downloaded.

    Examples
    --------
    >>> exp = load_experiment()
    >>> exp.name, exp.grid.resolution_deg, exp.time.step_s
    ('default', 2.0, 60.0)
    >>> [s.name for s in exp.systems]
    ['Starlink Gen1', 'OneWeb phase 1', 'Kuiper']
    >>> exp.systems[0].bands[0].low_mhz, exp.systems[0].capacity_per_sat_mbps  # MHz, Mbit/s
    (10700.0, 20000.0)
    """
    return _load(path, deep)


def validate_experiment(path: str | os.PathLike[str] | None = None, *, deep: bool = False) -> Experiment:
    """Same as :func:`load_experiment` (the name for ``orbitshare validate``)."""
    return _load(path, deep)
