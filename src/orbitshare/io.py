"""Results on disk: netCDF4 (HDF5, via h5netcdf) with CF attributes, provenance and atomic writes.

A results file holds one :class:`xarray.Dataset` in its root group, or several, one per netCDF4
group (``"coverage"``, later ``"spectrum"``, ...). Every array variable is chunked (about 1 MiB per
chunk) and gzip-compressed (level 4, with the shuffle filter); CF attributes are kept as they are.

Provenance (root-group attributes)
----------------------------------
``orbitshare_version``, ``date_created`` (UTC, ISO 8601), and from the ``provenance`` mapping:

* ``inputs``: paths (a list, or a mapping label → path) → ``input_files``, a JSON list of
  ``{"label", "path", "sha256", "bytes"}`` (:func:`file_sha256`);
* ``config``: a mapping → ``configuration``, its JSON text (sorted keys);
* ``elements``: an :class:`~orbitshare.elements.elementset.ElementSet`, a datetime64 array of epochs, or a
  mapping name → either, with ``start`` (datetime, ISO string or datetime64; default: the saved
  datasets' ``time_coverage_start``) → ``element_epoch_min|median|max`` (ISO) and
  ``element_age_at_start_days_max|median|min`` (age of the oldest, median and newest epoch at the
  start time, days); a mapping gives ``element_epochs``, the same per name as JSON;
* any other key: stored as is when it is a string or a number, else as JSON text.

With a mapping of Datasets the groups are stored exactly as given and the provenance goes in the
root group's attributes (read them with :func:`read_provenance`). A single Dataset is stored in the
root group and the provenance attributes are added to its own attributes.

Atomic writes
-------------
Every file is written to a temporary file in the destination's directory, flushed and fsync'ed,
then moved into place (``os.replace``; without ``overwrite`` a no-clobber hard link). On any error
the temporary file is removed and the destination is untouched: either the old file or no file,
never a half-written one. An existing path is refused unless ``overwrite=True``.

Round trip
----------
:func:`open_results` loads everything into memory and closes the file. The result is identical to
what was written (``xarray.testing.assert_identical``), including dtypes: fixed-width unicode
(``<U``) and object-dtype string variables, stored as variable-length strings, get their numpy
dtype back (recorded in the attribute ``orbitshare_dtype``, removed again on reading; files written
before 0.2 used ``_orbitshare_dtype``, still read); ``datetime64[ns]`` times are stored as int64
nanoseconds since 1970-01-01. ``lazy=True`` leaves the file open and the arrays on disk until used.
:func:`open_tree` gives the same as an :class:`xarray.DataTree` (one node per group, by name).

CF conventions
--------------
The root group carries ``Conventions = "CF-1.10"``, ``title``, ``source`` and ``history`` (unless the
provenance gives them); coordinate and bounds variables are written without ``_FillValue`` (CF: they
may hold no missing values). Project metadata uses attribute names starting ``orbitshare_`` (never a
leading underscore, which netCDF reserves).

Time means (CF 7.1, 7.3): a group whose variables carry ``cell_methods`` naming ``time:`` (a mean or
maximum over the run's period) without a ``time`` dimension gets, in the file, a scalar coordinate
``period`` (``standard_name = "time"``, ``units = "seconds since <start>"``, ``calendar =
"proleptic_gregorian"``, the midpoint of the period) with bounds ``period_bnds`` = [0, duration]
(seconds since the start; no fill values), and those ``cell_methods`` name it (``"period: mean"``).
The period is the groups' ``time_coverage_start`` / ``time_coverage_end`` attributes (the first group
that has both; steps at ``start + k * step``, the end exclusive). :func:`open_results` undoes this
(the Datasets read back are the ones written); plain ``xarray.open_dataset(path, group=...)`` shows
the CF form, with ``period`` and ``period_bnds`` decoded as datetimes. A Dataset that already holds a
``period`` variable, or ``cell_methods`` naming ``period:``, is written as it is.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Literal

import h5netcdf
import numpy as np
import xarray as xr

from orbitshare._version import __version__
from orbitshare.atomic import atomic_path
from orbitshare.elements.elementset import ElementSet
from orbitshare.errors import OrbitshareError, ParameterError, ParameterTypeError
from orbitshare.log import get_logger
from orbitshare.timegrid import to_datetime

__all__ = [
    "atomic_path",
    "file_sha256",
    "open_results",
    "open_tree",
    "read_provenance",
    "save_results",
    "provenance_attrs",
    "epoch_summary",
]

_log = get_logger("io")
_DTYPE_ATTR = "orbitshare_dtype"
_BOUNDS_ATTR = "orbitshare_bounds_attrs"
_OLD_ATTRS = {"_orbitshare_dtype": _DTYPE_ATTR, "_orbitshare_bounds_attrs": _BOUNDS_ATTR}  # before 0.2
# attributes xarray's CF encoder drops from a bounds variable when its parent has the same value
_BOUNDS_DROPPED = (
    "units",
    "standard_name",
    "axis",
    "positive",
    "calendar",
    "long_name",
    "leap_month",
    "leap_year",
    "month_lengths",
)
# the scalar time coordinate of the time means (module docstring, "Time means")
_PERIOD, _PERIOD_BNDS, _PERIOD_ROLE = "period", "period_bnds", "orbitshare_role"
_PERIOD_ROLE_VALUE = "period of the time means (added on writing, removed by open_results)"
_TIME_NAME = re.compile(r"(?<!\S)time:(?=\s)")
_PERIOD_NAME = re.compile(r"(?<!\S)period:(?=\s)")
_CHUNK_BYTES = 1 << 20
_COMPLEVEL = 4
_TIME_UNITS = "nanoseconds since 1970-01-01T00:00:00"


# --------------------------------------------------------------------------- small helpers
def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, as 64 lowercase hex digits (read in ``chunk_bytes`` blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk_bytes)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _utc_now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _iso(t: Any) -> str:
    """ISO 8601 UTC text (``...Z``) of a datetime64 / aware datetime; "" for NaT."""
    t = (
        np.datetime64(t, "ns")
        if not isinstance(t, _dt.datetime)
        else np.datetime64(t.astimezone(_dt.UTC).replace(tzinfo=None), "ns")
    )
    if np.isnat(t):
        return ""
    return np.datetime_as_string(t, unit="s" if t.astype(np.int64) % 1_000_000_000 == 0 else "ns") + "Z"


def _as_datetime64(value: Any, what: str) -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    d = to_datetime(value, what)
    return np.datetime64(d.replace(tzinfo=None), "ns")


def epoch_summary(epochs: Any, start: Any = None) -> dict[str, Any]:
    """Min/median/max of element epochs (datetime64) and their age at ``start`` (days).

    Returns ``{"count", "epoch_min", "epoch_median", "epoch_max"}`` (ISO text, "" when empty) and,
    when ``start`` is given, ``{"age_at_start_days_max", "..._median", "..._min"}`` (float; the
    oldest epoch has the largest age; NaN when empty). The median of an even count is the mean
    of the two middle epochs, rounded to the nanosecond.
    """
    ep = np.sort(np.asarray(epochs, dtype="datetime64[ns]").reshape(-1))
    ep = ep[~np.isnat(ep)]
    out: dict[str, Any] = {"count": int(ep.size)}
    if ep.size:
        ns = ep.astype(np.int64)
        mid = ep.size // 2
        med = ns[mid] if ep.size % 2 else ns[mid - 1] + (ns[mid] - ns[mid - 1]) // 2
        stats = (ns[0], med, ns[-1])
    else:
        stats = None
    for name, k in (("epoch_min", 0), ("epoch_median", 1), ("epoch_max", 2)):
        out[name] = "" if stats is None else _iso(np.datetime64(int(stats[k]), "ns"))
    if start is not None:
        s = _as_datetime64(start, "start").astype(np.int64)
        for name, k in (("age_at_start_days_max", 0), ("age_at_start_days_median", 1), ("age_at_start_days_min", 2)):
            out[name] = math.nan if stats is None else float((s - stats[k]) / 86400e9)
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (Path, os.PathLike)):
        return os.fspath(o)
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    raise ParameterTypeError(f"cannot store {type(o).__name__} in JSON provenance")


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default, allow_nan=True)


def _epochs_of(obj: Any) -> np.ndarray:
    if isinstance(obj, ElementSet):
        return np.asarray(obj.epoch)
    return np.asarray(obj, dtype="datetime64[ns]")


def provenance_attrs(provenance: Mapping[str, Any] | None = None, *, start: Any = None) -> dict[str, Any]:
    """The provenance attributes :func:`save_results` adds (see the module docstring)."""
    prov = dict(provenance or {})
    created = _utc_now_iso()
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.10",
        "title": "orbitshare results",
        "source": f"orbitshare {__version__}",
        "history": f"{created} written by orbitshare {__version__}",
        "orbitshare_version": __version__,
        "date_created": created,
    }
    inputs = prov.pop("inputs", None)
    if inputs is not None:
        items = (
            inputs.items()
            if isinstance(inputs, Mapping)
            else ((None, p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs))
        )
        files = []
        for label, p in items:
            p = Path(p)
            if not p.is_file():
                raise FileNotFoundError(f"provenance inputs: {p} is not a file")
            files.append(
                {
                    "label": label if label is not None else p.name,
                    "path": str(p.resolve()),
                    "sha256": file_sha256(p),
                    "bytes": p.stat().st_size,
                }
            )
        attrs["input_files"] = _json(files)
    config = prov.pop("config", None)
    if config is not None:
        attrs["configuration"] = config if isinstance(config, str) else _json(config)
    start = prov.pop("start", start)
    elements = prov.pop("elements", None)
    if elements is not None:
        if isinstance(elements, Mapping):
            per = {str(k): epoch_summary(_epochs_of(v), start) for k, v in elements.items()}
            attrs["element_epochs"] = _json(per)
            all_ep = (
                np.concatenate([_epochs_of(v).reshape(-1) for v in elements.values()])
                if per
                else np.zeros(0, "datetime64[ns]")
            )
        else:
            all_ep = _epochs_of(elements)
        summ = epoch_summary(all_ep, start)
        for k, v in summ.items():
            attrs["element_count" if k == "count" else f"element_{k}"] = v
    for k, v in prov.items():
        if isinstance(v, str) or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)):
            attrs[str(k)] = v
        else:
            attrs[str(k)] = _json(v)
    return attrs


# --------------------------------------------------------------------------- writing
def _chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Chunk shape of about 1 MiB: halve the largest dimension until it fits."""
    ch = [max(1, int(n)) for n in shape]
    while int(np.prod(ch)) * itemsize > _CHUNK_BYTES and max(ch) > 1:
        i = int(np.argmax(ch))
        ch[i] = (ch[i] + 1) // 2
    return tuple(ch)


def _time_period(datasets: Mapping[str, xr.Dataset] | list[xr.Dataset]) -> tuple[np.datetime64, np.datetime64] | None:
    """(start, end) of the run from the first Dataset with ``time_coverage_start`` and ``_end`` (None: none
    has both, or they do not parse, or end is not after start)."""
    for ds in datasets.values() if isinstance(datasets, Mapping) else datasets:
        a, b = ds.attrs.get("time_coverage_start"), ds.attrs.get("time_coverage_end")
        if not (isinstance(a, str) and isinstance(b, str) and a and b):
            continue
        try:
            start, end = _as_datetime64(a, "time_coverage_start"), _as_datetime64(b, "time_coverage_end")
        except (OrbitshareError, ValueError, TypeError):
            continue
        if end > start:
            return start, end
    return None


def _time_mean_vars(ds: xr.Dataset) -> list[Hashable]:
    """The variables of ``ds`` whose ``cell_methods`` name ``time:`` but which have no time dimension."""
    return [
        name
        for name, v in ds.variables.items()
        if isinstance(cm := v.attrs.get("cell_methods"), str) and _TIME_NAME.search(cm + " ") and "time" not in v.dims
    ]


def _add_period(ds: xr.Dataset, period: tuple[np.datetime64, np.datetime64] | None) -> xr.Dataset:
    """``ds`` with the scalar coordinate ``period`` and its bounds for its time means (module docstring)."""
    names = _time_mean_vars(ds)
    if period is None or not names or _PERIOD in ds.variables or _PERIOD_BNDS in ds.variables:
        return ds
    if any(_PERIOD_NAME.search(str(v.attrs.get("cell_methods", "")) + " ") for v in ds.variables.values()):
        return ds
    ds = ds.copy(deep=False)  # new variables (their attrs copied): the caller's Dataset stays as it is
    start, end = period
    duration = float((end - start) / np.timedelta64(1, "ns")) / 1e9
    nv = "bnds" if ds.sizes.get("bnds", 2) == 2 else "period_nv"
    origin = np.datetime_as_string(start, unit="s").replace("T", " ")
    attrs = {
        "standard_name": "time",
        "long_name": "period of the time means",
        "units": f"seconds since {origin}",
        "calendar": "proleptic_gregorian",
        "bounds": _PERIOD_BNDS,
        _PERIOD_ROLE: _PERIOD_ROLE_VALUE,
    }
    for name in names:
        v = ds.variables[name]
        v.attrs = {**v.attrs, "cell_methods": _TIME_NAME.sub("period:", v.attrs["cell_methods"] + " ")[:-1]}
    ds = ds.assign_coords({_PERIOD: xr.Variable((), duration / 2.0, attrs)})
    ds[_PERIOD_BNDS] = xr.Variable((nv,), np.array([0.0, duration]))
    return ds


def _drop_period(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`_add_period` on a Dataset read back (nothing when ``period`` is not the one it added)."""
    if _PERIOD not in ds.variables or ds.variables[_PERIOD].attrs.get(_PERIOD_ROLE) != _PERIOD_ROLE_VALUE:
        return ds
    ds = ds.drop_vars([n for n in (_PERIOD, _PERIOD_BNDS) if n in ds.variables])
    for v in ds.variables.values():
        cm = v.attrs.get("cell_methods")
        if isinstance(cm, str) and "time" not in v.dims and _PERIOD_NAME.search(cm + " "):
            v.attrs = {**v.attrs, "cell_methods": _PERIOD_NAME.sub("time:", cm + " ")[:-1]}
    return ds


def _prepare(ds: xr.Dataset) -> tuple[xr.Dataset, dict[Hashable, dict[str, Any]]]:
    """Copy of ``ds`` with encodings set for writing and string dtypes recorded."""
    ds = ds.copy(deep=False)
    encoding: dict[Hashable, dict[str, Any]] = {}
    no_fill = set(ds.coords) | {
        b for v in ds.variables.values() if isinstance(b := v.attrs.get("bounds"), str) and b in ds.variables
    }
    for name in list(ds.variables):
        var = ds.variables[name]
        var.encoding = {}
        kind = var.dtype.kind
        if kind in "UO":
            var.attrs = {**var.attrs, _DTYPE_ATTR: var.dtype.str}
        if kind == "M":
            var.attrs = {k: v for k, v in var.attrs.items() if k not in ("units", "calendar")}
            enc: dict[str, Any] = {"units": _TIME_UNITS, "calendar": "proleptic_gregorian", "dtype": "int64"}
        else:
            enc = {}
        if var.ndim >= 1 and kind in "biufcM" and var.size > 0:
            itemsize = 8 if kind == "M" else var.dtype.itemsize
            enc.update(
                compression="gzip", compression_opts=_COMPLEVEL, shuffle=True, chunksizes=_chunks(var.shape, itemsize)
            )
        if name in no_fill and kind in "fc":  # CF: coordinates and bounds hold no missing values
            enc["_FillValue"] = None
        if enc:
            encoding[name] = enc
    for name in list(ds.variables):
        b = ds.variables[name].attrs.get("bounds")
        if isinstance(b, str) and b in ds.variables and b != name:
            parent, bvar = ds.variables[name].attrs, ds.variables[b]
            keep = {
                k: bvar.attrs[k]
                for k in _BOUNDS_DROPPED
                if k in bvar.attrs and k in parent and _same_attr(parent[k], bvar.attrs[k])
            }
            if keep:
                bvar.attrs = {**bvar.attrs, _BOUNDS_ATTR: json.dumps(keep, default=_json_default)}
    return ds, encoding


def _same_attr(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(a == b)) and np.shape(a) == np.shape(b)
    except Exception:  # pragma: no cover - exotic attribute types
        return False


def _write_group(ds: xr.Dataset, path: Path, group: str | None, mode: Literal["w", "a"]) -> None:
    ds, encoding = _prepare(ds)
    ds.to_netcdf(path, mode=mode, group=group, engine="h5netcdf", encoding=encoding)


def _check_group_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ParameterError(f"group names must be non-empty strings without '/', got {name!r}")
    return name


def save_results(
    ds_or_mapping: xr.Dataset | Mapping[str, xr.Dataset],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    provenance: Mapping[str, Any] | None = None,
) -> xr.Dataset | dict[str, xr.Dataset]:
    """Write a Dataset, or a mapping name → Dataset (one netCDF4 group each), to ``path``.

    ``path`` : the netCDF4/HDF5 file to create (conventionally ``.nc``); refused when it exists
    unless ``overwrite=True`` (``FileExistsError`` naming the path). Written atomically.
    ``provenance`` : optional mapping (``inputs``, ``config``, ``elements``, ``start``, extra keys;
    see the module docstring).
    Returns what a later :func:`open_results` gives back: the Dataset with its provenance attributes
    added, or the mapping of Datasets (unchanged; provenance in the root group). Raises
    :class:`~orbitshare.errors.ParameterTypeError` for something else than Datasets and
    :class:`~orbitshare.errors.ParameterError` for a group name that is empty or holds ``/``.

    A round trip through a temporary directory:

    >>> import tempfile
    >>> ds = xr.Dataset({"covered_fraction": ("lat", [0.25, 1.0], {"units": "1"})}, coords={"lat": [-45.0, 45.0]})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = save_results({"coverage": ds}, Path(tmp) / "results.h5")
    ...     back = open_results(Path(tmp) / "results.h5")
    >>> list(back)
    ['coverage']
    >>> back["coverage"].identical(ds)
    True
    """
    path = Path(path)
    if isinstance(ds_or_mapping, xr.Dataset):
        start = ds_or_mapping.attrs.get("time_coverage_start")
        attrs = provenance_attrs(provenance, start=start or None)
        out = ds_or_mapping.copy(deep=False)
        out.attrs = {**ds_or_mapping.attrs, **attrs}
        with atomic_path(path, overwrite=overwrite) as tmp:
            _write_group(_add_period(out, _time_period([out])), tmp, None, "w")
        _log.debug("wrote %s (one Dataset, %d variables)", path, len(out.variables))
        return out
    if not isinstance(ds_or_mapping, Mapping) or not ds_or_mapping:
        raise ParameterTypeError(
            "save_results: expected an xarray.Dataset or a non-empty mapping name -> Dataset, "
            f"got {type(ds_or_mapping).__name__}"
        )
    groups: dict[str, xr.Dataset] = {}
    for name, ds in ds_or_mapping.items():
        _check_group_name(name)
        if not isinstance(ds, xr.Dataset):
            raise ParameterTypeError(
                f"save_results: group {name!r}: expected an xarray.Dataset, got {type(ds).__name__}"
            )
        groups[str(name)] = ds
    starts = [g.attrs.get("time_coverage_start") for g in groups.values() if g.attrs.get("time_coverage_start")]
    attrs = provenance_attrs(provenance, start=starts[0] if starts else None)
    with atomic_path(path, overwrite=overwrite) as tmp:
        xr.Dataset(attrs=attrs).to_netcdf(tmp, mode="w", engine="h5netcdf")
        period = _time_period(groups)
        for name, ds in groups.items():
            _write_group(_add_period(ds, period), tmp, name, "a")
    _log.debug("wrote %s (groups %s)", path, ", ".join(groups))
    return dict(groups)


# --------------------------------------------------------------------------- reading
def _restore(ds: xr.Dataset) -> xr.Dataset:
    """Undo what :func:`_prepare` recorded: string dtypes, the bounds attributes xarray dropped, the
    scalar time coordinate of the time means."""
    ds = _drop_period(ds)
    for name in list(ds.variables):
        var = ds.variables[name]
        if any(k in var.attrs for k in _OLD_ATTRS):
            var.attrs = {_OLD_ATTRS.get(k, k): v for k, v in var.attrs.items()}
        dt = var.attrs.get(_DTYPE_ATTR)
        battrs = var.attrs.get(_BOUNDS_ATTR)
        if dt is None and battrs is None:
            continue
        attrs = {k: v for k, v in var.attrs.items() if k not in (_DTYPE_ATTR, _BOUNDS_ATTR)}
        if battrs is not None:
            saved = json.loads(battrs)
            attrs = {**attrs, **{k: v for k, v in saved.items() if k not in attrs}}
        data = np.asarray(var.values)
        if dt is not None and data.dtype != np.dtype(str(dt)):
            data = data.astype(np.dtype(str(dt)))
        new = xr.Variable(var.dims, data, attrs)
        new.encoding = dict(var.encoding)
        if name in ds.coords:
            ds = ds.assign_coords({name: new})
        else:
            ds[name] = new
    return ds


def _open_group(path: Path, group: str | None, lazy: bool = False) -> xr.Dataset:
    if lazy:
        return _restore(xr.open_dataset(path, group=group, engine="h5netcdf"))
    with xr.open_dataset(path, group=group, engine="h5netcdf") as ds:
        ds = ds.load()
    return _restore(ds)


def _group_names(path: Path) -> list[str]:
    with h5netcdf.File(path, "r") as f:
        return list(f.groups)


def open_results(
    path: str | os.PathLike[str], group: str | None = None, *, lazy: bool = False
) -> xr.Dataset | dict[str, xr.Dataset]:
    """Read a results file written by :func:`save_results` into memory (the file is closed).

    ``group`` given: that group's Dataset (``"/"`` for the root group). ``group=None``: a dict
    name → Dataset of all groups, or, for a file with no groups (a single saved Dataset), that
    Dataset. ``lazy=True``: the arrays stay on disk until used and the file stays open (close each
    Dataset, or use it in a ``with`` block). A missing file raises ``FileNotFoundError``, a missing
    group ``KeyError`` (both naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such results file")
    if group is not None:
        if group != "/":
            names = _group_names(path)
            if group not in names:
                raise KeyError(f"{path}: no group {group!r}; groups: {', '.join(names) or '(none)'}")
        return _open_group(path, None if group == "/" else group, lazy)
    names = _group_names(path)
    if not names:
        return _open_group(path, None, lazy)
    return {name: _open_group(path, name, lazy) for name in names}


def open_tree(path: str | os.PathLike[str], *, lazy: bool = False) -> xr.DataTree:
    """A results file as an :class:`xarray.DataTree`: the root node holds the provenance attributes,
    one child node per group (``tree["coverage"]``, ...; a file of a single Dataset: the root node).
    Values as :func:`open_results` gives them (``lazy`` likewise); ``node.to_dataset()`` is that group's
    Dataset."""
    got = open_results(path, lazy=lazy)
    if isinstance(got, xr.Dataset):
        return xr.DataTree(got)
    root = xr.Dataset(attrs=read_provenance(path))
    return xr.DataTree.from_dict({"/": root, **{f"/{k}": v for k, v in got.items()}})


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The root-group attributes of a results file (provenance; JSON-valued ones left as text)."""
    with h5netcdf.File(Path(path), "r") as f:
        out = {}
        for k, v in f.attrs.items():
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out
