"""The run report: CSV tables, maps, Lorenz curves, ``report.md`` and ``report.html``.

Three functions write into a run directory (every file atomically: temporary file in the same
directory, then ``os.replace``, via :func:`orbitshare.io.atomic_path`; existing files are replaced)::

    write_tables(out_dir, countries, groups, equity)                          -> [countries.csv, groups.csv, equity.csv]
    write_figures(out_dir, geography, coverage, capacity=None, equity=None)   -> [PNG paths]
    write_report(out_dir, *, countries, groups, equity, figures, meta)       -> (report.md, report.html)

Tables
------
``countries.csv``: one row per country of the "countries" Dataset (:func:`orbitshare.analysis.accounts.country_accounts`):
first its coordinates on ``country`` (``country``, ``country_name``, ``m49``, ``ldc``, ``lldc``, ``sids``,
``itu_region``, ``un_member``; booleans as ``1``/``0``), then every data variable on ``country``, in the
Dataset's order. A variable with further dimensions is flattened into one column per label, in the
order of its dimensions: ``population_covered_fraction[starlink]``, ``mhz_available[starlink][Ku]``.
Floats are written as ``repr(float(v))`` (shortest text that reads back to the same float64, so
``float(cell) == value`` exactly; ``nan``, ``inf`` for NaN and infinity), integers as integers.
Variables not on ``country`` (``satellites_unattributed(system)``) are not in the table; the report
lists them. ``groups.csv``: the same for the "groups" Dataset, one row per group (``group_member``
left out: membership follows from the flags in ``countries.csv``). ``equity.csv``: the "equity"
Dataset in long format, columns ``quantity, scope, system, index, partition, value``; ``index`` is the
variable name (``gini``, ``theil_T``, ``theil_L``, ``palma``, ``atkinson_0.5``, ``atkinson_1`` — the
Atkinson index per ``epsilon`` —, ``zero_population_share``, and ``theil_T_between``, ``theil_T_within``,
``theil_L_between``, ``theil_L_within`` with ``partition`` = ``ldc``, ``lldc``, ``sids``, ``itu_region``;
``partition`` is empty for the overall indices). The Lorenz curves are in the figure only.

Figures (matplotlib, Agg canvas; no pyplot, no display)
------------------------------------------------------
* ``map_covered_fraction_<system>.png``: ``covered_fraction(system, lat, lon)`` of the coverage Dataset,
  0-1, per system;
* ``map_capacity_per_person_<system>.png`` and ``map_capacity_per_person_all.png`` (all systems: the sum
  over systems) from the capacity Dataset's ``capacity_per_person_mbps`` (or ``capacity_mbps`` divided by
  the capacity's or the geography's ``population``), Mbit/s per person on a logarithmic colour scale
  from the 1st to the 99th percentile of the cells with capacity (values beyond take the end colours);
  grey: cells without people; light red: people but no capacity;
* ``lorenz_capacity_per_person.png``: the equity Dataset's Lorenz curves of capacity per person across
  people (``lorenz_population_share``, ``lorenz_capacity_share``), one line per system with its Gini.

Maps are plate carrée (longitude and latitude linear), :data:`MAP_PIXELS` pixels; the Lorenz figure
:data:`LORENZ_PIXELS`. Each PNG carries its caption as the ``Title`` text chunk, which
:func:`write_report` uses.

Country outlines come from the geography in use, not from a separate boundary file: each cell gets its
*dominant* label, the country with the largest ``country_fraction`` or "sea" when the cell's unclaimed
share ``1 − Σ country_fraction`` is larger still, and a line is drawn along every cell edge between two
cells of different labels. The outlines are therefore the cell edges of the dominant-country raster
(staircase lines at the grid's resolution; coasts are where sea becomes the dominant label, and a
country that dominates no cell, such as a small island on a coarse grid, has no outline). The line at
±180° (the map's edge) is not drawn.

Report
------
``report.md`` and ``report.html`` are rendered from one list of blocks (headings, paragraphs, lists,
tables, figures) by two small renderers, so they hold the same content; text is escaped for Markdown
and for HTML respectively. The HTML is one file with its style inline (no script, no external
resource) and links the figures and CSV files by relative paths. Content: the inputs (``meta``), the
headline findings for LDCs, LLDCs and SIDS against the rest (population covered, capacity per person,
service ratio, MHz per person, from the groups Dataset), the groups table, coverage and capacity by
system, the top and bottom 10 countries by capacity per person (UN members with more than 1 million
people on the grid), the inequality indices and the Theil decompositions, and the figures.

``meta`` (all optional; :func:`report_meta` collects them from the coverage and geography Datasets):
``title``; ``systems`` (names, or dicts with ``name``, ``element_count``, ``element_source``,
``element_epoch_min|median|max``); ``period_start``, ``period_end`` (ISO text), ``time_step_s``;
``grid_resolution_deg``; ``geography_source`` (and ``geography_detail``); ``created``, ``run_id``,
``config``; any other key is listed among the inputs as it is.
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import math
import os
import re
import struct
import textwrap
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from orbitshare.io import atomic_path

__all__ = [
    "write_tables",
    "write_figures",
    "write_report",
    "report_meta",
    "dominant_country",
    "outline_segments",
    "format_number",
    "format_index",
    "GROUP_LABELS",
    "MAP_PIXELS",
    "LORENZ_PIXELS",
    "OUTLINE_COLOR",
]

#: Display names of the groups of :func:`orbitshare.analysis.accounts.group_accounts`.
GROUP_LABELS = {
    "ldc": "LDC",
    "lldc": "LLDC",
    "sids": "SIDS",
    "rest": "rest",
    "itu_region_1": "ITU Region 1",
    "itu_region_2": "ITU Region 2",
    "itu_region_3": "ITU Region 3",
    "world": "world",
}
_GROUP_LONG = {
    "ldc": "Least Developed Countries",
    "lldc": "Landlocked Developing Countries",
    "sids": "Small Island Developing States",
}
_PARTITION_LABELS = {
    "ldc": "LDC vs others",
    "lldc": "LLDC vs others",
    "sids": "SIDS vs others",
    "itu_region": "ITU Regions (1, 2, 3, none)",
}
#: (width, height) of the map PNGs in pixels
MAP_PIXELS = (1200, 675)
#: (width, height) of the Lorenz-curve PNG in pixels
LORENZ_PIXELS = (800, 800)
#: colour of the country outlines (RGB 0-255); the colour maps used never reach it
OUTLINE_COLOR = (0, 0, 0)
_ZERO_COLOR = "#f4a6a6"  # capacity maps: people but no capacity
_DPI = 100
_MIN_POPULATION = 1e6
_TOP_N = 10


# ============================================================================ formatting
def format_number(x, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits (``.{digits}g``); ``n/a`` for NaN/None, ``∞`` for inf."""
    if x is None:
        return "n/a"
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def format_index(x) -> str:
    """An inequality index as the report prints it: 4 decimals (``0.4123``), ``n/a``, ``∞``."""
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{float(x):.4f}"


def _pct(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{100.0 * float(x):.1f} %"


def _people(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    x = float(x)
    if x >= 1e9:
        return f"{x / 1e9:.2f} billion"
    if x >= 1e6:
        return f"{x / 1e6:.1f} million"
    return f"{x:,.0f}"


def _count(x) -> str:
    if x is None or not math.isfinite(float(x)):
        return format_number(x)
    return f"{float(x):,.0f}"


def _cell(v) -> str:
    """A value as CSV text that reads back exactly (floats: repr; bools: 1/0)."""
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, np.datetime64):
        return "" if np.isnat(v) else np.datetime_as_string(v) + "Z"
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return s or "system"


# ============================================================================ tables
def _flat_columns(ds, dim, skip=()):
    """[(column name, 1-D array over ``dim``)] from the coordinates and data variables on ``dim``."""
    cols = [(dim, ds[dim].values)]
    for name, c in ds.coords.items():
        if name != dim and c.dims == (dim,):
            cols.append((name, c.values))
    for name, v in ds.data_vars.items():
        if dim not in v.dims or name in skip:
            continue
        others = [d for d in v.dims if d != dim]
        v = v.transpose(*others, dim)
        if not others:
            cols.append((name, v.values))
            continue
        labels = [[_cell(x) for x in (ds[d].values if d in ds.coords else range(ds.sizes[d]))] for d in others]
        arr = v.values
        for idx in itertools.product(*[range(len(lb)) for lb in labels]):
            suffix = "".join(f"[{labels[k][i]}]" for k, i in enumerate(idx))
            cols.append((name + suffix, arr[idx]))
    return cols


def _write_csv(path: Path, header, rows) -> Path:
    with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def _write_flat(path, ds, dim, skip=()):
    cols = _flat_columns(ds, dim, skip)
    n = ds.sizes[dim]
    rows = ([_cell(col[i]) for _, col in cols] for i in range(n))
    return _write_csv(Path(path), [name for name, _ in cols], rows)


def _equity_rows(equity):
    rows = []
    base = ("quantity", "scope", "system")
    for name, v in equity.data_vars.items():
        if not set(base) <= set(v.dims) or not set(v.dims) <= set(base) | {"epsilon", "partition"}:
            continue
        extra = [d for d in ("epsilon", "partition") if d in v.dims]
        v = v.transpose(*base, *extra)
        labels = {d: [_cell(x) for x in equity[d].values] for d in base + tuple(extra)}
        for idx in np.ndindex(*v.shape):
            lab = {d: labels[d][i] for d, i in zip(base + tuple(extra), idx)}
            index = name
            if "epsilon" in lab:
                index = f"{name}_{float(lab['epsilon']):g}"
            rows.append(
                [lab["quantity"], lab["scope"], lab["system"], index, lab.get("partition", ""), _cell(v.values[idx])]
            )
    return rows


def write_tables(out_dir, countries, groups, equity) -> list[Path]:
    """Write ``countries.csv``, ``groups.csv`` and ``equity.csv`` into ``out_dir``; return their paths.

    ``groups`` or ``equity`` may be None (that file is then not written). Formats: module docstring.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [_write_flat(out / "countries.csv", countries, "country")]
    if groups is not None:
        paths.append(_write_flat(out / "groups.csv", groups, "group", skip=("group_member",)))
    if equity is not None:
        paths.append(
            _write_csv(
                out / "equity.csv", ["quantity", "scope", "system", "index", "partition", "value"], _equity_rows(equity)
            )
        )
    return paths


# ============================================================================ outlines
def _edges(ds, name):
    """Cell edges (n + 1) along ``name`` from ``<name>_bnds`` or from the centres."""
    bn = f"{name}_bnds"
    if bn in ds.variables and ds[bn].ndim == 2:
        b = np.asarray(ds[bn].values, np.float64)
        return np.concatenate([b[:, 0], b[-1:, 1]])
    c = np.asarray(ds[name].values, np.float64)
    if c.size == 1:
        return np.array([-90.0, 90.0]) if name == "lat" else np.array([-180.0, 180.0])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def dominant_country(geography) -> np.ndarray:
    """int32[nlat, nlon]: index on ``country`` of the cell's dominant country, -1 where sea dominates.

    The dominant label is the country with the largest ``country_fraction`` (the lowest index among
    equals), unless the unclaimed share ``1 − Σ_c country_fraction`` is at least as large (then -1).
    Works on the (country, cell) pairs with a nonzero fraction
    (:func:`orbitshare.geo.build.country_cell_pairs`): memory O(pairs), never countries × cells.
    """
    from orbitshare.geo.build import country_cell_pairs

    shape = (geography.sizes["lat"], geography.sizes["lon"])
    c, n, f, total = country_cell_pairs(geography)
    best = np.zeros(shape[0] * shape[1])
    arg = np.full(best.shape, -1, np.int32)
    if n.size:
        order = np.lexsort((c, -f, n))  # by cell, then largest fraction, then lowest country index
        ns = n[order]
        first = np.ones(ns.size, bool)
        first[1:] = ns[1:] != ns[:-1]
        top = order[first]
        best[n[top]] = f[top]
        arg[n[top]] = c[top]
    sea = 1.0 - np.minimum(total, 1.0)
    return np.where((best > 0) & (best > sea), arg, -1).astype(np.int32).reshape(shape)


def _runs(mask):
    """Start and stop indices of the runs of True along axis 0 of a 2-D bool array, per column."""
    pad = np.zeros((1, mask.shape[1]), bool)
    d = np.diff(np.concatenate([pad, mask, pad]).astype(np.int8), axis=0)
    s_i, s_j = np.nonzero(d == 1)
    e_i, e_j = np.nonzero(d == -1)
    o1, o2 = np.lexsort((s_i, s_j)), np.lexsort((e_i, e_j))
    return s_j[o1], s_i[o1], e_i[o2]


def outline_segments(geography) -> np.ndarray:
    """float64[nseg, 2, 2]: (lon, lat) end points of the country outlines (module docstring).

    Segments along a cell edge between two cells of different dominant label, consecutive collinear
    edges merged into one segment.
    """
    lab = dominant_country(geography)
    lat_e, lon_e = _edges(geography, "lat"), _edges(geography, "lon")
    if geography["lat"].values[0] > geography["lat"].values[-1]:  # north → south rows
        lab, lat_e = lab[::-1], _edges(geography.isel(lat=slice(None, None, -1)), "lat")
    if geography["lon"].values[0] > geography["lon"].values[-1]:
        lab, lon_e = lab[:, ::-1], _edges(geography.isel(lon=slice(None, None, -1)), "lon")
    segs = []
    # vertical lines at lon_e[j + 1] where cells (i, j) and (i, j + 1) differ; runs along i
    diff_v = lab[:, 1:] != lab[:, :-1]
    j, i0, i1 = _runs(diff_v)
    for a, b, c in zip(j, i0, i1):
        x = lon_e[a + 1]
        segs.append(((x, lat_e[b]), (x, lat_e[c])))
    # horizontal lines at lat_e[i + 1] where cells (i, j) and (i + 1, j) differ; runs along j
    diff_h = (lab[1:, :] != lab[:-1, :]).T
    i, j0, j1 = _runs(diff_h)
    for a, b, c in zip(i, j0, j1):
        y = lat_e[a + 1]
        segs.append(((lon_e[b], y), (lon_e[c], y)))
    return np.array(segs, np.float64).reshape(-1, 2, 2)


# ============================================================================ figures
def _figure(pixels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(pixels[0] / _DPI, pixels[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path, caption: str) -> Path:
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata={"Title": caption, "Software": "orbitshare"})
    return path


def _map(path, lat_e, lon_e, values, *, title, cbar_label, segments, footnote, log=False):
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection
    from matplotlib.colors import ListedColormap, LogNorm, Normalize

    fig = _figure(MAP_PIXELS)
    w, h = MAP_PIXELS
    ax_w = 0.80
    ax_h = ax_w * w / 2.0 / h  # 2:1 (360° × 180°)
    ax = fig.add_axes((0.07, 0.135, ax_w, ax_h))
    cax = fig.add_axes((0.895, 0.135, 0.02, ax_h))
    v = np.ma.masked_invalid(np.asarray(values, np.float64))
    zeros = None
    if log:
        cmap = colormaps["viridis"].with_extremes(bad="#e6e6e6")
        cmap = cmap.with_extremes(under=cmap(0.0), over=cmap(1.0))
        pos = v.compressed()
        pos = pos[pos > 0]
        if pos.size:
            vmin, vmax = (float(q) for q in np.percentile(pos, [1, 99]))
            if not vmin < vmax:
                vmin, vmax = vmin / 10.0, vmax * 10.0
        else:
            vmin, vmax = 1e-6, 1.0
        norm = LogNorm(vmin=vmin, vmax=vmax, clip=False)
        zeros = np.ma.masked_where(~(v.filled(np.nan) == 0), np.ones(v.shape))  # people, no capacity
        v = np.ma.masked_where(v.filled(np.nan) == 0, v)
        extend = "both"
    else:
        cmap = colormaps["YlGnBu"].with_extremes(bad="#e6e6e6")
        norm = Normalize(0.0, 1.0)
        extend = "neither"
    mesh = ax.pcolormesh(lon_e, lat_e, v, cmap=cmap, norm=norm, shading="flat", antialiased=False, rasterized=True)
    if zeros is not None and zeros.count():
        ax.pcolormesh(
            lon_e,
            lat_e,
            zeros,
            cmap=ListedColormap([_ZERO_COLOR]),
            vmin=0,
            vmax=2,
            shading="flat",
            antialiased=False,
            rasterized=True,
        )
    if len(segments):
        ax.add_collection(
            LineCollection(
                segments,
                colors=[tuple(c / 255 for c in OUTLINE_COLOR)],
                linewidths=0.8,
                capstyle="projecting",
                antialiaseds=False,
            )
        )
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xticks(np.arange(-180, 181, 60))
    ax.set_yticks(np.arange(-90, 91, 30))
    ax.set_xlabel("longitude (degrees east)")
    ax.set_ylabel("latitude (degrees north)")
    ax.tick_params(labelsize=8)
    ax.set_title(title, fontsize=12)
    cb = fig.colorbar(mesh, cax=cax, extend=extend)
    cb.set_label(cbar_label)
    cb.ax.tick_params(labelsize=8)
    fig.text(0.07, 0.015, textwrap.fill(footnote, 190), fontsize=7.5, color="#444444", va="bottom")
    return _save(fig, Path(path), title)


def _grid_edges(ds):
    lat_e, lon_e = _edges(ds, "lat"), _edges(ds, "lon")
    return lat_e, lon_e


def _sorted_latlon(da):
    return da.sortby("lat").sortby("lon")


def _unique_name(stem, used):
    name, k = stem, 2
    while name in used:
        name, k = f"{stem}_{k}", k + 1
    used.add(name)
    return name


def write_figures(out_dir, geography, coverage, capacity=None, equity=None) -> list[Path]:
    """Write the maps and the Lorenz curves as PNG into ``out_dir``; return their paths.

    Covered-fraction maps need ``coverage`` (``covered_fraction(system, lat, lon)``), capacity maps
    ``capacity`` (``capacity_per_person_mbps`` or ``capacity_mbps`` (system, lat, lon)), the Lorenz
    figure ``equity`` with ``lorenz_population_share``/``lorenz_capacity_share``; what is missing is
    skipped. Outlines from ``geography`` (module docstring). Sizes: :data:`MAP_PIXELS`, :data:`LORENZ_PIXELS`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    segments = (
        outline_segments(geography)
        if geography is not None and geography.sizes.get("country", 0)
        else np.zeros((0, 2, 2))
    )
    gsrc = geography.attrs.get("geography_source", "") if geography is not None else ""
    foot = (
        "Outlines: edges between grid cells of different dominant country (largest country_fraction, "
        f"or sea) in the geography{' (' + gsrc + ')' if gsrc else ''}; plate carrée."
    )
    paths = []
    used = set()
    if coverage is not None and "covered_fraction" in coverage:
        cf = _sorted_latlon(coverage["covered_fraction"])
        lat_e, lon_e = _grid_edges(coverage.sortby("lat").sortby("lon"))
        res = coverage.attrs.get("grid_resolution_deg")
        for s in cf["system"].values:
            field = cf.sel(system=s).transpose("lat", "lon").values
            mv = ""
            if "min_visible" in cf.coords:
                mv = f" (at least {int(cf['min_visible'].sel(system=s))} satellite(s) in view)"
            title = f"Covered fraction of time, {s}"
            name = _unique_name(f"map_covered_fraction_{_slug(s)}", used)
            paths.append(
                _map(
                    out / f"{name}.png",
                    lat_e,
                    lon_e,
                    field,
                    title=title,
                    cbar_label="fraction of time steps covered (1)",
                    segments=segments,
                    footnote=f"Share of time steps with the system covering the cell{mv}"
                    f"{f'; grid {res:g}°' if res else ''}. " + foot,
                )
            )
    if capacity is not None and ("capacity_per_person_mbps" in capacity or "capacity_mbps" in capacity):
        cds = capacity.sortby("lat").sortby("lon")
        if "capacity_per_person_mbps" in cds:
            cpp = cds["capacity_per_person_mbps"].transpose("system", "lat", "lon")
        else:
            pop = (
                cds["population"]
                if "population" in cds.variables
                else geography["population"].sortby("lat").sortby("lon")
            )
            cpp = (cds["capacity_mbps"] / pop.where(pop > 0)).transpose("system", "lat", "lon")
        lat_e, lon_e = _grid_edges(cds)
        systems = [str(s) for s in cpp["system"].values]
        vals = np.asarray(cpp.values, np.float64)
        fields = [(s, vals[k]) for k, s in enumerate(systems)]
        if len(systems) > 1:
            allv = np.where(np.isnan(vals).all(axis=0), np.nan, np.nansum(vals, axis=0))
            fields.append(("all systems", allv))
        for s, v in fields:
            stem = "map_capacity_per_person_all" if s == "all systems" else f"map_capacity_per_person_{_slug(s)}"
            name = _unique_name(stem, used)
            paths.append(
                _map(
                    out / f"{name}.png",
                    lat_e,
                    lon_e,
                    v,
                    log=True,
                    title=f"Capacity per person, {s}",
                    cbar_label="Mbit/s per person (time mean)",
                    segments=segments,
                    footnote="Capacity delivered to the cell / its population (log scale, 1st to 99th "
                    "percentile of the cells; beyond: the end colours); grey: no population; "
                    "light red: people but no capacity. " + foot,
                )
            )
    if equity is not None and "lorenz_capacity_share" in equity:
        paths.append(_lorenz_figure(out / "lorenz_capacity_per_person.png", equity))
    return paths


def _lorenz_figure(path, equity):
    fig = _figure(LORENZ_PIXELS)
    ax = fig.add_axes((0.12, 0.1, 0.82, 0.8))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="equal shares")
    has_gini = (
        "gini" in equity and "capacity_per_person" in equity["quantity"].values and "people" in equity["scope"].values
    )
    systems = [str(s) for s in equity["system"].values]
    if len(systems) == 2 and "all" in systems:  # one system: "all" is the same curve
        systems = [x for x in systems if x != "all"]
    for s in systems:
        p = np.asarray(equity["lorenz_population_share"].sel(system=s).values, np.float64)
        c = np.asarray(equity["lorenz_capacity_share"].sel(system=s).values, np.float64)
        ok = np.isfinite(p) & np.isfinite(c)
        label = "all systems" if s == "all" else str(s)
        if has_gini:
            g = equity["gini"].sel(quantity="capacity_per_person", scope="people", system=s).item()
            label += f" (Gini {format_index(g)})"
        if not ok.any():
            label += ": no capacity"
        ax.plot(p[ok], c[ok], linewidth=2.0 if s == "all" else 1.3, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.grid(True, color="0.9")
    ax.set_xlabel("cumulative share of people (1), from least to best served")
    ax.set_ylabel("cumulative share of capacity delivered (1)")
    title = "Lorenz curves of capacity per person across people"
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, Path(path), title)


def _png_title(path: Path):
    """The ``Title`` text chunk of a PNG (tEXt, zTXt or iTXt), or None."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos = 8
    while pos + 8 <= len(data):
        (n,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + n]
        pos += 12 + n
        try:
            if kind == b"tEXt":
                k, _, v = body.partition(b"\0")
                if k == b"Title":
                    return v.decode("latin-1")
            elif kind == b"zTXt":
                k, _, v = body.partition(b"\0")
                if k == b"Title":
                    return zlib.decompress(v[1:]).decode("latin-1")
            elif kind == b"iTXt":
                k, _, rest = body.partition(b"\0")
                if k == b"Title":
                    comp, rest = rest[0], rest[2:]
                    _lang, _, rest = rest.partition(b"\0")
                    _tr, _, text = rest.partition(b"\0")
                    return (zlib.decompress(text) if comp else text).decode("utf-8")
            elif kind == b"IDAT" or kind == b"IEND":
                break
        except (zlib.error, IndexError, UnicodeDecodeError):
            return None
    return None


# ============================================================================ meta
def report_meta(coverage=None, geography=None, **extra) -> dict:
    """``meta`` for :func:`write_report` from the coverage Dataset's and the geography's attributes.

    Systems with element counts, sources and epochs (``coverage.attrs["systems"]``), period and step,
    grid resolution, geography source; ``extra`` keys are added (and override).
    """
    meta = {}
    if coverage is not None:
        a = coverage.attrs
        systems = None
        if "systems" in a:
            try:
                systems = json.loads(a["systems"])
            except (TypeError, ValueError):
                systems = None
        if systems is None and "system" in coverage.coords:
            systems = [str(s) for s in coverage["system"].values]
        if systems is not None:
            meta["systems"] = systems
        for src, dst in (
            ("time_coverage_start", "period_start"),
            ("time_coverage_end", "period_end"),
            ("time_step_s", "time_step_s"),
            ("grid_resolution_deg", "grid_resolution_deg"),
        ):
            if src in a:
                meta[dst] = a[src]
    if geography is not None:
        g = geography.attrs
        if "geography_source" in g:
            meta["geography_source"] = g["geography_source"]
        detail = "; ".join(str(g[k]) for k in ("countries", "places_and_population", "land") if k in g)
        if detail:
            meta["geography_detail"] = detail
        if "grid_resolution_deg" not in meta and "resolution_deg" in g:
            meta["grid_resolution_deg"] = g["resolution_deg"]
    meta.update(extra)
    return meta


# ============================================================================ document model
@dataclass
class _Code:
    text: str


@dataclass
class _Link:
    text: str
    href: str


@dataclass
class _Block:
    kind: str  # "h", "p", "ul", "table", "figure"
    level: int = 0
    spans: list = field(default_factory=list)  # "h", "p": list of str | _Code | _Link
    items: list = field(default_factory=list)  # "ul": list of span lists
    header: list = field(default_factory=list)  # "table"
    rows: list = field(default_factory=list)
    align: list = field(default_factory=list)  # "l" / "r" per column
    src: str = ""  # "figure"
    caption: str = ""


def _spans(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def _md_text(s: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", str(s)).replace("\n", " ")


def _md_spans(spans) -> str:
    out = []
    for sp in spans:
        if isinstance(sp, _Code):
            t = sp.text.replace("`", "'")
            out.append(f"`{t}`")
        elif isinstance(sp, _Link):
            out.append(f"[{_md_text(sp.text)}]({sp.href})")
        else:
            out.append(_md_text(sp))
    return "".join(out)


def _html_spans(spans) -> str:
    out = []
    for sp in spans:
        if isinstance(sp, _Code):
            out.append(f"<code>{html.escape(sp.text)}</code>")
        elif isinstance(sp, _Link):
            out.append(f'<a href="{html.escape(sp.href, quote=True)}">{html.escape(sp.text)}</a>')
        else:
            out.append(html.escape(str(sp)))
    return "".join(out)


def _render_md(blocks) -> str:
    lines = []
    for b in blocks:
        if b.kind == "h":
            lines += ["#" * b.level + " " + _md_spans(b.spans), ""]
        elif b.kind == "p":
            lines += [_md_spans(b.spans), ""]
        elif b.kind == "ul":
            lines += ["- " + _md_spans(it) for it in b.items] + [""]
        elif b.kind == "table":
            lines.append("| " + " | ".join(_md_spans(_spans(h)) for h in b.header) + " |")
            lines.append("|" + "|".join("---:" if a == "r" else ":---" for a in b.align) + "|")
            for r in b.rows:
                lines.append("| " + " | ".join(_md_spans(_spans(c)) for c in r) + " |")
            lines.append("")
        elif b.kind == "figure":
            lines += [f"![{_md_text(b.caption)}]({b.src})", "", f"*{_md_text(b.caption)}*", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:72rem;margin:2rem auto;
padding:0 1rem;line-height:1.45;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.2rem;font-size:0.92rem}
th,td{border:1px solid #ccc;padding:0.25rem 0.5rem}th{background:#f2f2f2}
td.r,th.r{text-align:right}td.l,th.l{text-align:left}
figure{margin:1rem 0}img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:0.9rem;color:#444}code{background:#f4f4f4;padding:0 0.2rem}
"""


def _render_html(blocks, title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for b in blocks:
        if b.kind == "h":
            out.append(f"<h{b.level}>{_html_spans(b.spans)}</h{b.level}>")
        elif b.kind == "p":
            out.append(f"<p>{_html_spans(b.spans)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_html_spans(it)}</li>" for it in b.items) + "</ul>")
        elif b.kind == "table":
            out.append("<table>")
            out.append(
                "<thead><tr>"
                + "".join(f'<th class="{a}">{_html_spans(_spans(h))}</th>' for h, a in zip(b.header, b.align))
                + "</tr></thead>"
            )
            out.append("<tbody>")
            for r in b.rows:
                out.append(
                    "<tr>"
                    + "".join(f'<td class="{a}">{_html_spans(_spans(c))}</td>' for c, a in zip(r, b.align))
                    + "</tr>"
                )
            out.append("</tbody></table>")
        elif b.kind == "figure":
            src = html.escape(b.src, quote=True)
            cap = html.escape(b.caption)
            out.append(
                f'<figure><a href="{src}"><img src="{src}" alt="{html.escape(b.caption, quote=True)}">'
                f"</a><figcaption>{cap}</figcaption></figure>"
            )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _h(level, *spans):
    return _Block("h", level=level, spans=list(spans))


def _p(*spans):
    return _Block("p", spans=list(spans))


def _table(header, rows, align=None):
    align = align or ["l"] + ["r"] * (len(header) - 1)
    return _Block("table", header=list(header), rows=[list(r) for r in rows], align=list(align))


# ============================================================================ report content
def _val(ds, name, **sel):
    if name not in ds:
        return None
    v = ds[name]
    sel = {k: x for k, x in sel.items() if k in v.dims}
    try:
        return float(v.sel(sel).values)
    except (KeyError, TypeError, ValueError):
        return None


def _system_meta(meta, countries):
    systems = meta.get("systems")
    if systems is None and "system" in countries.dims:
        systems = [str(s) for s in countries["system"].values]
    out = []
    for s in systems or []:
        if isinstance(s, dict):
            out.append(s)
        else:
            out.append({"name": str(s)})
    return out


def _inputs_blocks(meta, countries):
    items = []
    systems = _system_meta(meta, countries)
    if systems:
        parts = []
        for s in systems:
            t = str(s.get("name", "?"))
            info = []
            if s.get("element_count") is not None:
                info.append(f"{int(s['element_count']):,} element sets")
            if s.get("element_source"):
                info.append(f"from {s['element_source']}")
            e0, e1, e2 = (s.get(f"element_epoch_{k}") for k in ("min", "median", "max"))
            if e0 or e2:
                info.append(f"element epochs {e0 or '?'} to {e2 or '?'}" + (f" (median {e1})" if e1 else ""))
            parts.append(t + (f" ({'; '.join(info)})" if info else ""))
        items.append([f"Systems ({len(systems)}): " + "; ".join(parts)])
    else:
        items.append(["Systems: not recorded"])
    if not any(s.get("element_epoch_min") for s in systems):
        items.append(["Element epochs: not recorded"])
    p0, p1 = meta.get("period_start"), meta.get("period_end")
    if p0 or p1:
        step = meta.get("time_step_s")
        items.append(
            [
                f"Period: {p0 or '?'} to {p1 or '?'}"
                + (f", time step {format_number(step)} s" if step is not None else "")
            ]
        )
    else:
        items.append(["Period: not recorded"])
    res = meta.get("grid_resolution_deg")
    items.append([f"Grid: {format_number(res)}° latitude-longitude cells" if res is not None else "Grid: not recorded"])
    gs = meta.get("geography_source")
    items.append(
        [
            f"Geography: {gs}" + (f" ({meta['geography_detail']})" if meta.get("geography_detail") else "")
            if gs
            else "Geography: not recorded"
        ]
    )
    known = {
        "title",
        "systems",
        "period_start",
        "period_end",
        "time_step_s",
        "grid_resolution_deg",
        "geography_source",
        "geography_detail",
    }
    for k, v in meta.items():
        if k in known:
            continue
        items.append([f"{k}: " + (v if isinstance(v, str) else json.dumps(v, default=str))])
    return [_h(2, "Inputs"), _Block("ul", items=items)]


def _input_phrase(meta, countries):
    systems = _system_meta(meta, countries)
    names = ", ".join(str(s.get("name", "?")) for s in systems) or "the systems of the run"
    bits = [f"Measured for {len(systems)} system{'s' if len(systems) != 1 else ''} ({names})"]
    epochs = [(s.get("element_epoch_min"), s.get("element_epoch_max")) for s in systems]
    lo = min((e[0] for e in epochs if e[0]), default=None)
    hi = max((e[1] for e in epochs if e[1]), default=None)
    if lo or hi:
        bits.append(f"with element epochs {lo or '?'} to {hi or '?'}")
    p0, p1 = meta.get("period_start"), meta.get("period_end")
    if p0 or p1:
        bits.append(f"over {p0 or '?'} to {p1 or '?'}")
    res = meta.get("grid_resolution_deg")
    if res is not None:
        bits.append(f"on a {format_number(res)}° grid")
    gs = meta.get("geography_source")
    if gs:
        bits.append(f"with the {gs} geography")
    return ", ".join(bits) + " (groups: UNSD M49 flags; values are totals over each group's countries):"


def _headline_blocks(groups, countries, meta):
    blocks = [_h(2, "Headline findings"), _p(_input_phrase(meta, countries))]
    g = groups
    rest = "rest"
    items = []
    for key in ("ldc", "lldc", "sids"):
        if key not in g["group"].values:
            continue
        label = GROUP_LABELS[key]
        n = int(g["member_count"].sel(group=key)) if "member_count" in g.coords else None
        pop = _val(g, "population", group=key)
        head = (
            f"{label} ({_GROUP_LONG[key]}; "
            + (f"{n} countries, " if n is not None else "")
            + f"{_people(pop)} people on the grid)"
        )
        facts = []
        a, b = (
            _val(g, "population_covered_any_fraction", group=key),
            _val(g, "population_covered_any_fraction", group=rest),
        )
        if a is not None:
            facts.append(
                f"{_pct(a)} of the population covered by at least one system (time mean), against {_pct(b)} in the rest"
            )
        a, b = (
            _val(g, "capacity_per_person_total_mbps", group=key),
            _val(g, "capacity_per_person_total_mbps", group=rest),
        )
        if a is not None:
            rel = f", {format_number(a / b, 3)} times the rest's" if b and math.isfinite(a / b) else ""
            facts.append(
                f"capacity per person {format_number(a)} Mbit/s against {format_number(b)} Mbit/s in the rest{rel}"
            )
        a, b = _val(g, "service_ratio_total", group=key), _val(g, "service_ratio_total", group=rest)
        if a is not None:
            facts.append(
                f"service ratio (share of world capacity / share of world population) "
                f"{format_number(a, 3)} against {format_number(b, 3)} in the rest"
            )
        a, b = _val(g, "mhz_available_total", group=key), _val(g, "mhz_available_total", group=rest)
        if a is not None:
            facts.append(
                f"{format_number(a)} MHz of spectrum reaching a person (mean over people, all systems "
                f"and bands) against {format_number(b)} MHz in the rest"
            )
        a, b = _val(g, "resource_balance_total", group=key), _val(g, "resource_balance_total", group=rest)
        if a is not None:
            facts.append(
                f"resource balance (share of capacity operated / share delivered) "
                f"{format_number(a, 3)} against {format_number(b, 3)} in the rest"
            )
        items.append([head + ": " + ("; ".join(facts) if facts else "no indicators computed") + "."])
    if "world" in g["group"].values:
        w = []
        pop = _val(g, "population", group="world")
        w.append(
            f"{_people(pop)} people in {int(g['member_count'].sel(group='world'))} countries"
            if "member_count" in g.coords
            else f"{_people(pop)} people"
        )
        a = _val(g, "population_covered_any_fraction", group="world")
        if a is not None:
            w.append(f"{_pct(a)} covered by at least one system")
        a = _val(g, "capacity_per_person_total_mbps", group="world")
        if a is not None:
            w.append(f"capacity per person {format_number(a)} Mbit/s")
        a = _val(g, "mhz_available_total", group="world")
        if a is not None:
            w.append(f"{format_number(a)} MHz per person")
        items.append(["World: " + "; ".join(w) + "."])
    blocks.append(_Block("ul", items=items))
    method = str(countries.attrs.get("population_covered_any_method", ""))
    if method.startswith("lower bound"):
        blocks.append(
            _p(
                "Coverage by at least one system is a lower bound here: the largest covered fraction "
                "of any one system in each cell (the per-step counts were not kept)."
            )
        )
    return blocks


_GROUP_COLUMNS = (  # (variable, header, formatter)
    ("population", "population", _count),
    ("population_covered_any_fraction", "covered by any system", _pct),
    ("capacity_per_person_total_mbps", "capacity per person (Mbit/s)", format_number),
    ("service_ratio_total", "service ratio", lambda x: format_number(x, 3)),
    ("mhz_available_total", "MHz per person", format_number),
    ("satellites_operated_total", "satellites operated", _count),
    ("resource_balance_total", "resource balance", lambda x: format_number(x, 3)),
)


def _groups_blocks(groups):
    blocks = [
        _h(2, "Groups"),
        _p(
            "LDC, LLDC and SIDS overlap; rest = countries in none of the three; ITU "
            "Regions 1-3; world = all countries. Per-person values and ratios are "
            "recomputed from the group totals (population-weighted), not averaged over "
            "countries."
        ),
    ]
    cols = [c for c in _GROUP_COLUMNS if c[0] in groups]
    header = ["group", "countries"] + [h for _, h, _ in cols]
    rows = []
    for gk in groups["group"].values:
        gk = str(gk)
        n = int(groups["member_count"].sel(group=gk)) if "member_count" in groups.coords else None
        rows.append(
            [GROUP_LABELS.get(gk, gk), "" if n is None else str(n)] + [f(_val(groups, v, group=gk)) for v, _, f in cols]
        )
    blocks.append(_table(header, rows))
    if "system" in groups.dims:
        systems = [str(s) for s in groups["system"].values]
        for var, what, f in (
            ("population_covered_fraction", "Population covered, by system", _pct),
            ("capacity_per_person_mbps", "Capacity per person (Mbit/s), by system", format_number),
        ):
            if var not in groups:
                continue
            blocks.append(_h(3, what))
            rows = [
                [GROUP_LABELS.get(str(gk), str(gk))] + [f(_val(groups, var, group=gk, system=s)) for s in systems]
                for gk in groups["group"].values
            ]
            blocks.append(_table(["group"] + systems, rows))
    return blocks


def _country_blocks(countries):
    var = "capacity_per_person_total_mbps"
    if var not in countries:
        return []
    pop = np.asarray(countries["population"].values, np.float64)
    x = np.asarray(countries[var].values, np.float64)
    ok = (pop > _MIN_POPULATION) & np.isfinite(x)
    crit = f"population on the grid above {_MIN_POPULATION / 1e6:g} million"
    if "un_member" in countries.coords:
        ok &= np.asarray(countries["un_member"].values, bool)
        crit = "UN members with " + crit
    idx = np.nonzero(ok)[0]
    blocks = [
        _h(2, "Countries by capacity per person"),
        _p(f"Capacity delivered per person, all systems (Mbit/s, time mean), among {len(idx)} countries: {crit}."),
    ]
    if not idx.size:
        blocks.append(_p("No country qualifies."))
        return blocks
    order = idx[np.argsort(-x[idx], kind="stable")]
    names = countries["country_name"].values if "country_name" in countries.coords else countries["country"].values
    codes = countries["country"].values
    cov = (
        countries["population_covered_any_fraction"].values if "population_covered_any_fraction" in countries else None
    )
    sr = countries["service_ratio_total"].values if "service_ratio_total" in countries else None
    header = ["rank", "country", "ISO3", "population", "capacity per person (Mbit/s)"]
    if cov is not None:
        header.append("covered by any system")
    if sr is not None:
        header.append("service ratio")

    def rows(sel):
        out = []
        for k in sel:
            rank = int(np.nonzero(order == k)[0][0]) + 1
            r = [str(rank), str(names[k]), str(codes[k]), _count(pop[k]), format_number(x[k])]
            if cov is not None:
                r.append(_pct(cov[k]))
            if sr is not None:
                r.append(format_number(sr[k], 3))
            out.append(r)
        return out

    align = ["r", "l", "l", "r", "r"] + ["r"] * (len(header) - 5)
    blocks += [
        _h(3, f"Top {min(_TOP_N, order.size)} (highest capacity per person)"),
        _table(header, rows(order[:_TOP_N]), align),
        _h(3, f"Bottom {min(_TOP_N, order.size)} (lowest capacity per person)"),
        _table(header, rows(order[::-1][:_TOP_N]), align),
    ]
    return blocks


_INDEX_COLUMNS = (("gini", "Gini"), ("theil_T", "Theil T"), ("theil_L", "Theil L"), ("palma", "Palma"))
_QUANTITY_LABELS = {"capacity_per_person": "capacity per person", "mhz_available": "MHz available"}


def _equity_blocks(equity):
    if equity is None or "gini" not in equity:
        return []
    blocks = [
        _h(2, "Inequality"),
        _p(
            "Indices of capacity per person and of the MHz reaching a person, across countries (each "
            "country one unit, weighted by its population) and across people (grid cells weighted by "
            "their people). Gini, Theil T, Atkinson (ε = 0.5) and Palma keep people without service; "
            "Theil L and Atkinson (ε = 1) are computed among those with service, and the last column is "
            "the population share so excluded. System 'all' = all systems together."
        ),
    ]
    has_atk = "atkinson" in equity and "epsilon" in equity.dims
    header = ["quantity", "scope", "system"] + [h for _, h in _INDEX_COLUMNS]
    if has_atk:
        header += [f"Atkinson ε={float(e):g}" for e in equity["epsilon"].values]
    if "zero_population_share" in equity:
        header.append("share without service")
    rows = []
    for q in equity["quantity"].values:
        for sc in equity["scope"].values:
            for s in equity["system"].values:
                sel = {"quantity": q, "scope": sc, "system": s}
                r = [_QUANTITY_LABELS.get(str(q), str(q)), str(sc), str(s)]
                r += [format_index(_val(equity, v, **sel)) for v, _ in _INDEX_COLUMNS]
                if has_atk:
                    r += [
                        format_index(float(equity["atkinson"].sel(epsilon=e, **sel))) for e in equity["epsilon"].values
                    ]
                if "zero_population_share" in equity:
                    r.append(_pct(_val(equity, "zero_population_share", **sel)))
                rows.append(r)
    blocks.append(_table(header, rows, ["l", "l", "l"] + ["r"] * (len(header) - 3)))
    if "theil_T_between" in equity and "partition" in equity.dims:
        sys_all = "all" if "all" in equity["system"].values else equity["system"].values[-1]
        blocks += [
            _h(3, "Theil decomposition: between and within groups"),
            _p(
                f"For all systems together (system '{sys_all}'): Theil = between-group part + within-"
                "group part, for the partitions LDC, LLDC, SIDS (members vs all others) and ITU Regions. "
                "The between share is the part of the inequality explained by the partition."
            ),
        ]
        header = [
            "quantity",
            "scope",
            "partition",
            "Theil T",
            "T between",
            "T within",
            "T between share",
            "Theil L",
            "L between",
            "L within",
        ]
        rows = []
        for q in equity["quantity"].values:
            for sc in equity["scope"].values:
                for part in equity["partition"].values:
                    sel = {"quantity": q, "scope": sc, "system": sys_all}
                    tT = _val(equity, "theil_T", **sel)
                    tb = _val(equity, "theil_T_between", partition=part, **sel)
                    share = tb / tT if tT and tb is not None and math.isfinite(tb / tT) else None
                    rows.append(
                        [
                            _QUANTITY_LABELS.get(str(q), str(q)),
                            str(sc),
                            _PARTITION_LABELS.get(str(part), str(part)),
                            format_index(tT),
                            format_index(tb),
                            format_index(_val(equity, "theil_T_within", partition=part, **sel)),
                            _pct(share) if share is not None else "n/a",
                            format_index(_val(equity, "theil_L", **sel)),
                            format_index(_val(equity, "theil_L_between", partition=part, **sel)),
                            format_index(_val(equity, "theil_L_within", partition=part, **sel)),
                        ]
                    )
        blocks.append(_table(header, rows, ["l", "l", "l"] + ["r"] * 7))
    return blocks


def _href(path: Path, out_dir: Path) -> str:
    rel = os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())
    return urllib.parse.quote(Path(rel).as_posix(), safe="/._-~")


def _figure_blocks(figures, out_dir):
    items = []
    if isinstance(figures, dict):
        figures = list(figures.items())
    for f in figures or []:
        path, cap = f if isinstance(f, (tuple, list)) else (f, None)
        path = Path(path)
        if not path.is_absolute() and not path.exists():
            path = Path(out_dir) / path
        cap = cap or _png_title(path) or path.stem.replace("_", " ")
        items.append(_Block("figure", src=_href(path, out_dir), caption=cap))
    return [_h(2, "Figures")] + items if items else []


def _files_blocks(out_dir):
    names = [n for n in ("countries.csv", "groups.csv", "equity.csv") if (Path(out_dir) / n).exists()]
    if not names:
        return []
    desc = {
        "countries.csv": "one row per country, every indicator and the group flags",
        "groups.csv": "one row per group",
        "equity.csv": "inequality indices in long format (quantity, scope, system, index, partition, value)",
    }
    return [_h(2, "Tables"), _Block("ul", items=[[_Link(n, n), f": {desc[n]}"] for n in names])]


def _unattributed_blocks(countries):
    if "satellites_unattributed" not in countries or "system" not in countries["satellites_unattributed"].dims:
        return []
    v = countries["satellites_unattributed"]
    if not np.asarray(v.values).any():
        return []
    parts = [f"{s}: {int(v.sel(system=s))}" for s in v["system"].values]
    return [_p("Satellites without an operating country among the countries of the run: " + "; ".join(parts) + ".")]


def write_report(out_dir, *, countries, groups, equity, figures, meta: dict) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir``; return ``(md_path, html_path)``.

    ``figures``: paths (absolute, or relative to ``out_dir``), ``(path, caption)`` pairs or a mapping
    path → caption; without a caption the PNG's ``Title`` chunk (written by :func:`write_figures`) is
    used. ``meta``: the inputs to name (module docstring; :func:`report_meta`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    title = str(meta.get("title") or "orbitshare run report")
    blocks = [_h(1, title)]
    if meta.get("created"):
        blocks.append(_p(f"Created {meta['created']}."))
    blocks += _inputs_blocks(meta, countries)
    if groups is not None:
        blocks += _headline_blocks(groups, countries, meta)
        blocks += _groups_blocks(groups)
    blocks += _country_blocks(countries)
    blocks += _unattributed_blocks(countries)
    blocks += _equity_blocks(equity)
    blocks += _figure_blocks(figures, out)
    blocks += _files_blocks(out)
    md_path, html_path = out / "report.md", out / "report.html"
    for path, text in ((md_path, _render_md(blocks)), (html_path, _render_html(blocks, title))):
        with atomic_path(path, overwrite=True) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return md_path, html_path
