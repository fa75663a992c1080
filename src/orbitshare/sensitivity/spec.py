"""The ``[sweep]`` section of an experiment: parameters at dotted paths, their distributions, the samples.

A sweep is an experiment file with a ``[sweep]`` table::

    [sweep]
    method = "random"            # "grid" | "random" | "sobol" | "morris"
    samples = 8                  # random: samples; sobol: N (a power of 2); morris: trajectories; grid: optional
    seed = 1                     # = 0
    levels = 4                   # morris only: grid levels (even, >= 2) = 4

    [sweep.parameters]
    "systems.0.capacity_per_sat_mbps" = { uniform = [10000, 30000] }
    "systems.*.elevation_mask_deg" = { values = [25, 35] }
    "demand.adoption" = { loguniform = [0.005, 0.05] }
    "outputs.weighting" = { choice = ["population", "area"] }
    "systems.*.landing_rights" = { choice = ["all", "authorised"] }
    "time.start" = { values = [0, 30] }       # days added to time.start and time.stop

Paths are the TOML keys joined by ``.``: ``systems.<i>.<key>`` (``systems.*.<key>``: every system),
``systems.<i>.walker.<j>.<key>``, ``systems.<i>.bands.<j>.<key>``, ``<section>.<key>``. A path names a
scalar (number, string, boolean, date-time) that exists in the file or is a key of the schema there.
``time.start`` takes offsets in days (a number): both ``start`` and ``stop`` move, the window keeps its
length (walker and filing systems whose ``epoch`` is not given move with it: element age changes only for
element files and fixed epochs).

Distributions (one key per parameter): ``values`` (the grid's values; random/sobol/morris draw among them
with equal probability), ``choice`` (the same), ``uniform = [low, high]``, ``loguniform = [low, high]``
(``0 < low``), ``normal = [mean, sd]``. Integer bounds of ``uniform``/``loguniform`` give integers.

Samples: every value is drawn as a point ``u`` of the unit cube mapped through each parameter's inverse
distribution function: ``random`` from :func:`numpy.random.default_rng` (seed); ``sobol`` and ``morris``
from SALib's samplers (seed; Saltelli's scheme without second-order terms: N·(D + 2) samples; Morris:
trajectories·(D + 1)). ``grid`` is the Cartesian product of the ``values``/``choice`` lists (the first
parameter varies slowest).
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.util
import itertools
import math
import os
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from orbitshare.errors import ConfigError
from orbitshare.experiment import schema
from orbitshare.experiment import validate as _validate

__all__ = [
    "METHODS",
    "DISTRIBUTIONS",
    "Parameter",
    "SweepSpec",
    "parse_sweep",
    "expand_path",
    "set_path",
    "design",
]

METHODS = ("grid", "random", "sobol", "morris")
DISTRIBUTIONS = ("values", "choice", "uniform", "loguniform", "normal")
SWEEP_KEYS = ("method", "samples", "seed", "levels", "parameters")
TIME_START = "time.start"

# the keys of the nested tables of a system (array-of-tables keys → their keys)
_SYSTEM_TABLES = {"walker": "WALKER_KEYS", "bands": "BAND_KEYS"}

Scalar = float | int | str | bool | _dt.datetime


# ============================================================================ parameters
@dataclass(frozen=True)
class Parameter:
    """One swept parameter: its dotted ``path``, its ``kind`` (one of :data:`DISTRIBUTIONS`) and ``args``
    (the values for "values"/"choice"; ``(low, high)``; ``(mean, sd)``)."""

    path: str
    kind: str
    args: tuple[Any, ...]

    @property
    def discrete(self) -> bool:
        """True for a list of values ("values" or "choice")."""
        return self.kind in ("values", "choice")

    @property
    def integer(self) -> bool:
        """True when a "uniform"/"loguniform" range has integer bounds (it then gives integers)."""
        return self.kind in ("uniform", "loguniform") and all(_is_int(a) for a in self.args)

    def value(self, u: float) -> Scalar:
        """The value at the quantile ``u`` in [0, 1) of the distribution (the inverse distribution function)."""
        u = min(max(float(u), 0.0), math.nextafter(1.0, 0.0))
        if self.discrete:
            return self.args[min(int(u * len(self.args)), len(self.args) - 1)]
        lo, hi = (float(a) for a in self.args)
        if self.kind == "normal":
            return statistics.NormalDist(lo, hi).inv_cdf(min(max(u, 1e-12), 1 - 1e-12))
        if self.integer:
            if self.kind == "uniform":
                return int(self.args[0]) + min(int(u * (hi - lo + 1)), int(hi - lo))
            return int(round(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))))
        if self.kind == "uniform":
            return lo + u * (hi - lo)
        return math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))

    def describe(self) -> str:
        """The distribution as the report shows it, e.g. ``uniform [10000, 30000]``."""
        return f"{self.kind} [{', '.join(_text(a) for a in self.args)}]"


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class SweepSpec:
    """A validated ``[sweep]`` table: ``method``, ``samples`` (None for a grid without it), ``seed``,
    ``levels`` (Morris), ``parameters`` in file order."""

    method: str
    samples: int | None
    seed: int
    levels: int
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-ready values (for the sweep's fingerprint)."""
        return {
            "method": self.method,
            "samples": self.samples,
            "seed": self.seed,
            "levels": self.levels,
            "parameters": [[p.path, p.kind, [_json_value(a) for a in p.args]] for p in self.parameters],
        }


def _json_value(v: Any) -> Any:
    return v.isoformat() if isinstance(v, _dt.datetime) else v


# ============================================================================ reading [sweep]
def parse_sweep(table: Any, doc: Mapping[str, Any], label: str) -> SweepSpec:
    """Validate the ``[sweep]`` ``table`` of the experiment ``doc`` (the TOML document less ``[sweep]``);
    raise :class:`~orbitshare.errors.ConfigError` with one line per problem (``label: sweep.key: ...``)."""
    problems: list[str] = []

    def bad(key: str, message: str) -> None:
        problems.append(f"{label}: {key}: {message}")

    if not isinstance(table, dict):
        raise ConfigError(f"{label}: sweep: expected a table [sweep], got {type(table).__name__}")
    for key in table:
        if key not in SWEEP_KEYS:
            bad(f"sweep.{key}", "unknown key (expected one of " + ", ".join(map(repr, SWEEP_KEYS)) + ")")
    method = table.get("method", "random")
    if method not in METHODS:
        bad("sweep.method", f"expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
    elif method in ("sobol", "morris") and importlib.util.find_spec("SALib") is None:
        bad("sweep.method", f'{method!r} needs the SALib package (pip install "orbitshare[sweep]")')
    seed = table.get("seed", 0)
    if not _is_int(seed) or seed < 0:
        bad("sweep.seed", f"expected an integer >= 0, got {seed!r}")
    levels = table.get("levels", 4)
    if not _is_int(levels) or levels < 2 or levels % 2:
        bad("sweep.levels", f"expected an even integer >= 2, got {levels!r}")
    samples = table.get("samples")
    if samples is None and method in ("random", "sobol", "morris"):
        bad("sweep.samples", f"expected an integer >= 1 (method {method!r}), got nothing (the key is missing)")
    elif samples is not None and (not _is_int(samples) or samples < 1):
        bad("sweep.samples", f"expected an integer >= 1, got {samples!r}")
    elif method == "sobol" and isinstance(samples, int) and samples & (samples - 1):
        bad("sweep.samples", f"expected a power of 2 for method 'sobol' (Sobol' sequence balance), got {samples}")
    params = _parse_parameters(table.get("parameters"), doc, method, bad)
    if method == "grid" and samples is not None and params and not problems:
        n = math.prod(len(p.args) for p in params)
        if samples != n:
            bad("sweep.samples", f"expected the grid's size {n} (or no samples key), got {samples}")
    if problems:
        raise ConfigError("\n".join(problems), problems=problems)
    return SweepSpec(method=method, samples=samples, seed=seed, levels=levels, parameters=params)


def _parse_parameters(table: Any, doc: Mapping[str, Any], method: str, bad: Any) -> tuple[Parameter, ...]:
    if not isinstance(table, dict) or not table:
        bad("sweep.parameters", "expected a table of parameters keyed by dotted path, with at least one")
        return ()
    out = []
    for path, dist in table.items():
        where = f'sweep.parameters."{path}"'
        message = path_problem(doc, path)
        if message:
            bad(where, message)
            continue
        p = _parse_distribution(path, dist, method, lambda m, w=where: bad(w, m))
        if p is not None:
            out.append(p)
    return tuple(out)


def _parse_distribution(path: str, dist: Any, method: str, bad: Any) -> Parameter | None:
    if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in DISTRIBUTIONS:
        bad(f"expected a table with one of {', '.join(DISTRIBUTIONS)}, got {dist!r}")
        return None
    kind, args = next(iter(dist.items()))
    if not isinstance(args, list) or not args:
        bad(f"{kind}: expected a non-empty array, got {args!r}")
        return None
    if path == TIME_START and not all(_is_num(a) for a in args):
        bad(f"{kind}: expected numbers of days (offsets of time.start), got {args!r}")
        return None
    if kind in ("values", "choice"):
        if any(isinstance(a, (dict, list)) for a in args):
            bad(f"{kind}: expected scalars, got {args!r}")
            return None
        return Parameter(path, kind, tuple(args))
    if method == "grid":
        bad(f"method 'grid' takes 'values' or 'choice' lists, got {kind!r}")
        return None
    if len(args) != 2 or not all(_is_num(a) for a in args):
        bad(f"{kind}: expected two numbers, got {args!r}")
        return None
    a, b = args
    if kind == "normal" and not b > 0:
        bad(f"normal: expected [mean, sd] with sd > 0, got {args!r}")
        return None
    if kind in ("uniform", "loguniform") and not a < b:
        bad(f"{kind}: expected [low, high] with low < high, got {args!r}")
        return None
    if kind == "loguniform" and not a > 0:
        bad(f"loguniform: expected low > 0, got {args!r}")
        return None
    return Parameter(path, kind, (a, b))


# ============================================================================ dotted paths
def _section_keys(name: str) -> tuple[str, ...] | None:
    """The schema's keys of the top-level table ``name`` (``schema.<NAME>_KEYS``), None if unknown."""
    if name not in schema.TOP_KEYS:
        return None
    for attr in (f"{name.upper()}_KEYS", f"{name.upper().removesuffix('S')}_KEYS"):  # OUTPUT_KEYS of [outputs]
        keys = getattr(schema, attr, None)
        if isinstance(keys, tuple):
            return keys
    return None


def _keys_at(doc: Mapping[str, Any], parts: Sequence[str]) -> list[str]:
    """The keys that may follow ``parts`` (schema keys and keys present in ``doc``)."""
    node: Any = doc
    for part in parts:
        node = node[int(part)] if isinstance(node, list) else node.get(part, {})
    present = list(node) if isinstance(node, dict) else []
    if not parts:
        schema_keys: tuple[str, ...] = tuple(schema.TOP_KEYS)
    elif len(parts) == 1:
        schema_keys = _section_keys(parts[0]) or ()
    elif parts[0] == "systems" and len(parts) == 2:
        schema_keys = schema.SYSTEM_KEYS
    elif parts[0] == "systems" and len(parts) == 4 and parts[2] in _SYSTEM_TABLES:
        schema_keys = getattr(schema, _SYSTEM_TABLES[parts[2]])
    else:
        schema_keys = ()
    return list(dict.fromkeys([*schema_keys, *present]))


def expand_path(doc: Mapping[str, Any], path: str) -> list[str]:
    """The concrete paths of ``path`` (``systems.*.x`` → ``systems.0.x``, ``systems.1.x``, ...)."""
    parts = path.split(".")
    if len(parts) > 1 and parts[0] == "systems" and parts[1] == "*":
        n = len(doc.get("systems", []) or [])
        return [".".join(["systems", str(i), *parts[2:]]) for i in range(n)]
    return [path]


def path_problem(doc: Mapping[str, Any], path: str) -> str:
    """ "" when ``path`` names a scalar of the experiment ``doc``, else what is wrong (with the keys that
    exist there)."""
    if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
        return "expected a dotted path such as 'systems.0.capacity_per_sat_mbps'"
    if path == TIME_START:
        return ""
    for concrete in expand_path(doc, path) or [path]:
        message = _concrete_problem(doc, concrete.split("."))
        if message:
            return message
    return ""


def _concrete_problem(doc: Mapping[str, Any], parts: list[str]) -> str:
    node: Any = doc
    for depth, part in enumerate(parts):
        here = ".".join(parts[:depth]) or "the top level"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                star = " or '*'" if parts[0] == "systems" and depth == 1 else ""
                return f"unknown path: {here} holds {len(node)} table(s); expected an index 0 to {len(node) - 1}{star}"
            node = node[int(part)]
            continue
        keys = _keys_at(doc, parts[:depth])
        if part not in keys or not isinstance(node, dict):
            return f"unknown path: no key {part!r} in {here} (keys there: {', '.join(keys)})"
        last = depth == len(parts) - 1
        value = node.get(part)
        if last:
            if isinstance(value, (dict, list)):
                return f"expected the path of a scalar, got the path of a {type(value).__name__} ({'.'.join(parts)})"
            return ""
        node = {} if value is None else value  # a table the file leaves out: its schema keys
    return ""


def set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at the concrete dotted ``path`` of ``doc`` (tables made as needed); in place."""
    parts = path.split(".")
    node: Any = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[parts[-1]] = value


def apply_values(doc: dict[str, Any], values: Mapping[str, Any]) -> None:
    """Set each parameter's value in ``doc`` (``systems.*`` on every system; ``time.start``: an offset in days
    applied to ``time.start`` and ``time.stop``); in place."""
    for path, value in values.items():
        if path == TIME_START:
            t = doc.setdefault("time", {})
            delta = _dt.timedelta(days=float(value))
            for key in ("start", "stop"):
                if isinstance(t.get(key), _dt.datetime):
                    t[key] = t[key] + delta
                elif isinstance(t.get(key), str):
                    t[key] = _dt.datetime.fromisoformat(t[key].replace("Z", "+00:00")) + delta
            continue
        for concrete in expand_path(doc, path):
            set_path(doc, concrete, value)


# ============================================================================ the design
@dataclass(frozen=True)
class Design:
    """The samples of a sweep: ``values[i]`` maps each parameter path to sample ``i``'s value (empty for the
    base run), ``unit`` the points of the unit cube (NaN rows for a base run that is not a design point),
    ``base`` the sample that is the base experiment, ``design`` the samples drawn by the method."""

    values: tuple[dict[str, Any], ...]
    unit: np.ndarray
    base: int
    design: tuple[int, ...]


def salib_problem(spec: SweepSpec) -> dict[str, Any]:
    """SALib's problem of the sweep: the unit cube, one dimension per parameter."""
    return {
        "num_vars": len(spec.parameters),
        "names": [p.path for p in spec.parameters],
        "bounds": [[0.0, 1.0]] * len(spec.parameters),
    }


def unit_points(spec: SweepSpec) -> np.ndarray:
    """The design's points in the unit cube, (samples, parameters), before the inverse distributions."""
    k = len(spec.parameters)
    if spec.method == "grid":
        sizes = [len(p.args) for p in spec.parameters]
        idx = np.array(list(itertools.product(*[range(n) for n in sizes])), dtype=np.float64).reshape(-1, k)
        return (idx + 0.5) / np.array(sizes, dtype=np.float64)
    assert spec.samples is not None
    if spec.method == "random":
        return np.random.default_rng(spec.seed).random((spec.samples, k))
    if spec.method == "sobol":
        from SALib.sample import sobol

        return np.asarray(
            sobol.sample(salib_problem(spec), spec.samples, calc_second_order=False, seed=spec.seed), np.float64
        )
    from SALib.sample import morris

    return np.asarray(
        morris.sample(salib_problem(spec), spec.samples, num_levels=spec.levels, seed=spec.seed), np.float64
    )


def design(spec: SweepSpec, base_values: Mapping[str, Any]) -> Design:
    """The samples of ``spec``. ``base_values``: each parameter's value in the base experiment (None where
    it has none). The base experiment is sample 0, unless the method is "grid" and the base is a grid point
    (then that grid point is the base)."""
    unit = unit_points(spec)
    points = [{p.path: _plain(p.value(u)) for p, u in zip(spec.parameters, row, strict=True)} for row in unit]
    if spec.method == "grid":
        for i, pt in enumerate(points):
            if all(_same(pt[path], base_values.get(path)) for path in pt):
                return Design(tuple(points), unit, i, tuple(range(len(points))))
    nan = np.full((1, unit.shape[1]), np.nan)
    return Design(({}, *points), np.vstack([nan, unit]), 0, tuple(range(1, len(points) + 1)))


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same(a: Any, b: Any) -> bool:
    if _is_num(a) and _is_num(b):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


# ============================================================================ the sweep file
@dataclass(frozen=True)
class SweepFile:
    """A sweep file read: its ``spec``, the experiment ``doc`` (the TOML document less ``[sweep]``), the
    validated ``base`` experiment, and what the experiment reader needs for the samples (``label`` of its
    messages, ``base_dir`` of relative paths, ``stem`` of the default name, ``source`` path)."""

    spec: SweepSpec
    doc: dict[str, Any]
    base: Any  # orbitshare.experiment.Experiment
    label: str
    base_dir: Path
    stem: str
    source: Path


def read_sweep(path: str | os.PathLike[str]) -> SweepFile:
    """Read a sweep file: ``[sweep]`` taken off, the rest validated by the experiment reader
    (:func:`~orbitshare.experiment.load_experiment`'s rules), then ``[sweep]`` itself.

    Raises :class:`~orbitshare.errors.ConfigError` (every problem, ``file: key: message``).
    """
    label = os.fspath(path)
    source = Path(os.path.abspath(Path(path).expanduser()))
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{label}: experiment file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: cannot read the experiment file ({exc})") from None
    doc = _validate._parse_text(text, label)
    if "sweep" not in doc:
        raise ConfigError(f"{label}: sweep: expected a table [sweep] (method, samples, seed, parameters), got nothing")
    table = doc.pop("sweep")
    base = _experiment(copy.deepcopy(doc), label, source)
    spec = parse_sweep(table, doc, label)
    return SweepFile(spec, doc, base, label, source.parent, source.stem, source)


def _experiment(doc: dict[str, Any], label: str, source: Path) -> Any:
    """The Experiment of ``doc`` as :func:`~orbitshare.experiment.load_experiment` makes it from a file at
    ``source`` (messages labelled ``label``)."""
    p = _validate._Problems(label)
    exp = _validate._validate(doc, p, source.parent, source.stem, False)
    return replace(exp, source=source)


def base_values(sw: SweepFile) -> dict[str, Any]:
    """Each parameter's value in the base experiment (resolved: defaults included; ``time.start``: 0 days;
    ``systems.*``: the systems' common value; None where there is none)."""
    resolved = sw.base.to_dict()
    out: dict[str, Any] = {}
    for p in sw.spec.parameters:
        if p.path == TIME_START:
            out[p.path] = 0
            continue
        got = [_get(resolved, c) for c in expand_path(sw.doc, p.path)]
        out[p.path] = got[0] if got and all(_same(g, got[0]) for g in got) else None
    return out


def _get(doc: Any, path: str) -> Any:
    node = doc
    for part in path.split("."):
        if isinstance(node, list):
            node = node[int(part)] if int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def sample_experiments(sw: SweepFile, d: Design) -> list[Any]:
    """The Experiment of every sample: the base ``doc`` with the sample's values set, validated by the
    experiment reader. Every failing sample is reported at once: one :class:`~orbitshare.errors.ConfigError`
    whose lines name the sample number, the parameter path and value, and the reader's message."""
    out: list[Any] = []
    problems: list[str] = []
    failed: list[int] = []
    for i, values in enumerate(d.values):
        if not values:
            out.append(sw.base)
            continue
        doc = copy.deepcopy(sw.doc)
        apply_values(doc, values)
        try:
            out.append(_experiment(doc, sw.label, sw.source))
        except ConfigError as exc:
            lines = exc.problems or [str(exc)]
            failed.append(i)
            problems += [_sample_problem(sw.label, i, values, line) for line in lines]
    if problems:
        head = f"{sw.label}: sweep: {len(failed)} of {len(d.values)} samples would fail; nothing was run"
        raise ConfigError("\n".join([head, *problems]), problems=[head, *problems])
    return out


def _reader_key(path: str) -> str:
    """A concrete dotted path as the experiment reader names the key: ``systems.0.x`` → ``systems[0].x``."""
    return re.sub(r"\.(\d+|\*)", r"[\1]", path)


def _names_key(path: str, message: str) -> bool:
    """True when the reader's ``message`` is about the key of the parameter ``path``."""
    if path == TIME_START:
        return message.startswith("time.")
    pattern = re.escape(_reader_key(path)).replace(r"\[\*\]", r"\[\d+\]")
    return re.match(pattern + r"(?![A-Za-z0-9_])", message) is not None


def _sample_problem(label: str, i: int, values: Mapping[str, Any], line: str) -> str:
    """One problem line of sample ``i``: ``label: sample i: path = value: key: reader's message``."""
    message = line[len(label) + 2 :] if line.startswith(f"{label}: ") else line
    culprits = [(path, v) for path, v in values.items() if _names_key(path, message)]
    shown = culprits or list(values.items())
    what = ", ".join(f"{path} = {_show(v)}" for path, v in shown)
    return f"{label}: sample {i}: {what}: {message}"


def _show(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return repr(v)
    return str(v)
