"""A sweep's samples combined: ``sweep.h5``, ``groups.csv``/``countries.csv``, ``summary.csv``, robustness.

Every sample's ``groups`` and ``countries`` Datasets (from its ``results.h5``, exactly as the run wrote
them) are stacked along a ``sample`` dimension; the sampled values are coordinates on ``sample`` named by
their dotted path (the base run's own values on the base sample; NaN / "" where it has none).

Read-outs, over the DESIGN samples (those the method drew; the base run counts only where it is a grid
point):

* ``summary.csv``: per group and per country, q05, q50 and q95 (linear interpolation, NaN left out) of
  every numeric indicator, with ``n`` (finite values) and the base run's value;
* ``robustness.csv``: per group, the headline indicator (:func:`headline`) and the share of samples in
  which it is below 1 and below the world figure of the same sample (NaN samples left out);
* ``rank_stability.csv``: per sample, Spearman's rank correlation (average ranks for ties) of the
  countries' headline indicator with the base run's, over the countries with population > 0 and a
  finite value in both;
* ``indices.csv`` (methods "sobol" and "morris"): SALib's indices (Sobol' S1, ST and their confidence
  half-widths; Morris mu, mu_star, sigma, mu_star_conf) of the headline indicator of LDC, LLDC, SIDS and
  the world, per parameter, in the unit-cube coordinates of the design.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from orbitshare.atomic import atomic_path
from orbitshare.errors import ResultsError
from orbitshare.io import open_results
from orbitshare.report.tables import _cell, _flat_columns, write_csv_rows
from orbitshare.sensitivity.spec import Design, SweepSpec, salib_problem

__all__ = [
    "HEADLINE_CANDIDATES",
    "HEADLINE_GROUPS",
    "headline",
    "read_sample",
    "stack",
    "flat_table",
    "summary_table",
    "robustness_table",
    "rank_stability",
    "indices",
    "write_csv",
]

#: the headline indicator of a run: the first of these its groups have (service ratio under the
#: proportional rule, share of demand met under an allocation rule, population covered otherwise)
HEADLINE_CANDIDATES = ("service_ratio_total", "demand_met_fraction", "population_covered_any_fraction")
#: the groups the robustness read-out and the indices are about
HEADLINE_GROUPS = ("ldc", "lldc", "sids", "world")
_ID = {"groups": "group", "countries": "country"}
_NAME = {"groups": "group_name", "countries": "country_name"}
_SKIP = ("group_member",)


def headline(groups: xr.Dataset) -> str:
    """The headline indicator of a run's ``groups`` (:data:`HEADLINE_CANDIDATES`)."""
    for name in HEADLINE_CANDIDATES:
        if name in groups.data_vars:
            return name
    raise ResultsError(f"groups: none of {', '.join(HEADLINE_CANDIDATES)} (the headline indicators of a sweep)")


def read_sample(run_dir: Path) -> dict[str, xr.Dataset]:
    """The ``groups`` and ``countries`` Datasets of a finished sample's ``results.h5``."""
    out = {}
    for name in ("groups", "countries"):
        try:
            ds = open_results(run_dir / "results.h5", group=name)
        except (OSError, KeyError, ValueError) as exc:
            raise ResultsError(f"{run_dir / 'results.h5'}: no group {name!r} ({exc})") from None
        assert isinstance(ds, xr.Dataset)
        out[name] = ds
    return out


# ============================================================================ sweep.h5
def _numeric(ds: xr.Dataset) -> xr.Dataset:
    keep = [n for n, v in ds.data_vars.items() if v.dtype.kind in "biuf" and n not in _SKIP]
    return ds[keep]


def coordinate_values(values: Sequence[Any]) -> np.ndarray:
    """The sampled values of one parameter as a coordinate array: float64 for numbers (None → NaN), bool for
    booleans, else text (None → "")."""
    if all(isinstance(v, bool) for v in values):
        return np.array(values, dtype=bool)
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return np.array(["" if v is None else str(v) for v in values], dtype=str)


def sample_values(spec: SweepSpec, d: Design, base: dict[str, Any]) -> dict[str, list[Any]]:
    """path → the value of each sample (the base run's own value on a base sample that is not a design point)."""
    return {p.path: [vals.get(p.path, base.get(p.path)) for vals in d.values] for p in spec.parameters}


def stack(
    datasets: Sequence[xr.Dataset], values: dict[str, list[Any]], *, base: int, design: Sequence[int]
) -> xr.Dataset:
    """The samples' Datasets (numeric data variables) stacked along ``sample``, the sampled ``values`` as
    coordinates; attributes of the first sample, less those that differ."""
    n = len(datasets)
    first = datasets[0]
    varying = [  # coordinates a parameter changes (a system's beams, ...): stacked along sample too
        str(c)
        for c in first.coords
        if c not in first.indexes and not all(c in ds.coords and ds[c].equals(first[c]) for ds in datasets[1:])
    ]
    parts = [_numeric(ds.reset_coords(varying)).assign({c: ds[c].variable for c in varying}) for ds in datasets]
    out = xr.concat(
        parts,
        dim=pd.Index(np.arange(n, dtype=np.int64), name="sample"),
        data_vars="all",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="drop_conflicts",
    )
    coords = {path: ("sample", coordinate_values(v)) for path, v in values.items()}
    in_design = np.zeros(n, dtype=bool)
    in_design[list(design)] = True
    coords["is_base"] = ("sample", np.arange(n) == base)
    coords["in_design"] = ("sample", in_design)
    out = out.set_coords(varying).assign_coords(coords)
    out.attrs["base_sample"] = int(base)
    return out


# ============================================================================ flat tables
def flat_table(ds: xr.Dataset, dim: str) -> tuple[pd.DataFrame, list[str]]:
    """One sample's Dataset as the run's CSV columns (``_flat_columns``); also the names of the indicator
    (data) columns."""
    cols = _flat_columns(ds, dim, skip=_SKIP)
    nlabels = 1 + sum(1 for name, c in ds.coords.items() if name != dim and c.dims == (dim,))
    frame = pd.DataFrame(dict(cols))
    data = [name for name, col in cols[nlabels:] if np.asarray(col).dtype.kind in "biuf"]
    return frame, data


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """``frame`` as CSV at ``path`` (atomically; cells as the run's tables write them)."""
    rows = ([_cell(v) for v in row] for row in frame.itertuples(index=False, name=None))
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        write_csv_rows(f, [str(c) for c in frame.columns], rows)
    return path


def long_table(per_sample: Sequence[xr.Dataset], which: str) -> tuple[pd.DataFrame, list[str]]:
    """The samples' flat tables one under the other, with a first column ``sample``."""
    frames: list[pd.DataFrame] = []
    data: list[str] = []
    for i, ds in enumerate(per_sample):
        frame, data = flat_table(ds, _ID[which])
        frame.insert(0, "sample", i)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), data


# ============================================================================ read-outs
def summary_table(
    table: pd.DataFrame, data: Sequence[str], which: str, design: Sequence[int], base: int
) -> pd.DataFrame:
    """q05, q50, q95 (and ``n``, the base value) of every indicator column of ``table`` per id, over the
    ``design`` samples."""
    ident = _ID[which]
    name_col = _NAME[which] if _NAME[which] in table else ident
    sub = table[table["sample"].isin(list(design))]
    base_rows = table[table["sample"] == base].set_index(ident)
    values = sub[list(data)].to_numpy(dtype=np.float64)
    ids = sub[ident].to_numpy()
    order = list(dict.fromkeys(table[ident].tolist()))
    names = dict(zip(table[ident], table[name_col], strict=False))
    rows = []
    for key in order:
        block = values[ids == key]
        finite = np.isfinite(block)
        with np.errstate(all="ignore"):
            q = _nanquantiles(block)
        for j, col in enumerate(data):
            rows.append(
                (
                    which,
                    key,
                    names.get(key, key),
                    col,
                    int(finite[:, j].sum()),
                    q[0][j],
                    q[1][j],
                    q[2][j],
                    float(base_rows.at[key, col]) if key in base_rows.index else math.nan,
                )
            )
    return pd.DataFrame(rows, columns=["table", "id", "name", "indicator", "n", "q05", "q50", "q95", "base"])


def _nanquantiles(block: np.ndarray) -> np.ndarray:
    """q05, q50, q95 of each column of ``block`` (NaN left out; NaN where a column has no finite value)."""
    out = np.full((3, block.shape[1]), np.nan)
    for j in range(block.shape[1]):
        col = block[:, j]
        col = col[np.isfinite(col)]
        if col.size:
            out[:, j] = np.quantile(col, [0.05, 0.5, 0.95])
    return out


def robustness_table(groups: xr.Dataset, indicator: str, design: Sequence[int], base: int) -> pd.DataFrame:
    """Per group: the share of design samples with ``indicator`` below 1 and below the world figure of the
    same sample (NaN samples left out), with the base run's value and q05/q50/q95."""
    da = groups[indicator]
    if "system" in da.dims:  # pragma: no cover - the headline candidates are totals
        raise ResultsError(f"groups: {indicator} is per system; expected a total")
    sub = da.sel(sample=list(design))
    world = sub.sel(group="world").values
    rows = []
    for g in groups["group"].values:
        x = sub.sel(group=g).values.astype(np.float64)
        ok = np.isfinite(x)
        ok_w = ok & np.isfinite(world)
        q = np.quantile(x[ok], [0.05, 0.5, 0.95]) if ok.any() else [math.nan] * 3
        rows.append(
            (
                str(g),
                indicator,
                int(ok.sum()),
                float(np.mean(x[ok] < 1.0)) if ok.any() else math.nan,
                float(np.mean(x[ok_w] < world[ok_w])) if ok_w.any() else math.nan,
                float(da.sel(sample=base, group=g)),
                *map(float, q),
            )
        )
    cols = ["group", "indicator", "n", "p_below_1", "p_below_world", "base", "q05", "q50", "q95"]
    return pd.DataFrame(rows, columns=cols)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of ``a`` and ``b`` (average ranks for ties; NaN pairs left out; NaN for
    fewer than 2 pairs or a constant ranking)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 2:
        return math.nan
    ra = pd.Series(a[ok]).rank(method="average").to_numpy()
    rb = pd.Series(b[ok]).rank(method="average").to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def rank_stability(countries: xr.Dataset, indicator: str, base: int) -> pd.DataFrame:
    """Per sample: Spearman's rank correlation of the countries' ``indicator`` with the base sample's
    (countries with population > 0), and the number of countries compared."""
    da = countries[indicator]
    pop = countries["population"].sel(sample=base).values if "population" in countries else None
    ref = da.sel(sample=base).values.astype(np.float64)
    keep = np.ones(ref.shape, dtype=bool) if pop is None else pop > 0
    rows = []
    for s in countries["sample"].values:
        x = da.sel(sample=s).values.astype(np.float64)
        n = int((keep & np.isfinite(x) & np.isfinite(ref)).sum())
        rows.append((int(s), indicator, n, spearman(np.where(keep, x, np.nan), np.where(keep, ref, np.nan))))
    return pd.DataFrame(rows, columns=["sample", "indicator", "countries", "spearman_rho"])


def indices(spec: SweepSpec, d: Design, groups: xr.Dataset, indicator: str) -> pd.DataFrame | None:
    """SALib's sensitivity indices of ``indicator`` for the groups of :data:`HEADLINE_GROUPS` (methods "sobol"
    and "morris"; None otherwise). A group whose indicator is NaN in some sample is left out."""
    if spec.method not in ("sobol", "morris"):
        return None
    problem = salib_problem(spec)
    design = list(d.design)
    x = d.unit[design]
    rows = []
    for g in HEADLINE_GROUPS:
        if g not in groups["group"].values:
            continue
        y = groups[indicator].sel(group=g, sample=design).values.astype(np.float64)
        if not np.isfinite(y).all():
            continue
        if spec.method == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, seed=spec.seed)
            names = ("S1", "S1_conf", "ST", "ST_conf")
        else:
            from SALib.analyze import morris

            res = morris.analyze(problem, x, y, num_levels=spec.levels, seed=spec.seed)
            names = ("mu", "mu_star", "sigma", "mu_star_conf")
        for k, p in enumerate(spec.parameters):
            rows.append((g, indicator, p.path, *(float(np.asarray(res[n])[k]) for n in names)))
    cols = [
        "group",
        "indicator",
        "parameter",
        *(("S1", "S1_conf", "ST", "ST_conf") if spec.method == "sobol" else ("mu", "mu_star", "sigma", "mu_star_conf")),
    ]
    return pd.DataFrame(rows, columns=cols)
