"""The run's PNG figures: maps with country outlines, and the Lorenz curves.

:func:`write_figures` writes into a run directory (every file atomically: temporary file in the same
directory, then ``os.replace``, via :func:`orbitshare.atomic.atomic_path`; existing files are replaced)::

    write_figures(out_dir, geography, coverage, capacity=None, equity=None)  -> [PNG paths]

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
  people (``lorenz_population_share``, ``lorenz_capacity_share``), one line per system with its Gini;
* under an allocation rule (capacity rule "maxmin" or "throughput"; :func:`write_served_maps`):
  ``map_served_per_subscriber_<system>.png`` / ``..._all.png`` (Mbit/s per subscriber, linear up to the
  busy-hour rate) and ``map_demand_met_fraction_<system>.png`` / ``..._all.png`` (0-1), and
  ``lorenz_served_per_subscriber.png`` (``lorenz_subscriber_share``, ``lorenz_served_share``);
* ``map_systems_serving.png`` (:func:`write_serving_map`, only when some system's landing rights leave
  out a country): per cell the number of systems that may serve its dominant country.
* ``map_country_demand_met_fraction.png`` or ``map_country_service_ratio.png`` (:func:`write_choropleth`):
  one value per country on a Mollweide (equal-area) map, with true boundaries where a boundaries file is
  given, else drawn from the geography's cells (gridded; the caption says so).

A map whose finite values are uniform (:func:`uniform_value`: max − min ≤ 1e-9·|max|) carries, besides its
``Title``, the text chunk :data:`UNIFORM_KEY` with the sentence (:func:`uniform_sentence`) that the report
shows in its place.

Maps are plate carrée (longitude and latitude linear), :data:`MAP_PIXELS` pixels; the Lorenz figure
:data:`LORENZ_PIXELS`. Each PNG carries its caption as the ``Title`` text chunk (:func:`png_title`),
which :func:`orbitshare.report.document.write_report` uses. :func:`map_figure` draws one map; other
gridded variables (the runner's ``outputs.maps``) use it too.

Country outlines (:func:`map_outlines`): with the embedded geography, the Natural Earth 1:50m boundaries it is
built from (true borders). With another geography they come from the geography itself: each cell gets its
*dominant* label, the country with the largest ``country_fraction`` or "sea" when the cell's unclaimed
share ``1 − Σ country_fraction`` is larger still, and a line is drawn along every cell edge between two
cells of different labels. The outlines are therefore the cell edges of the dominant-country raster
(staircase lines at the grid's resolution; coasts are where sea becomes the dominant label, and a
country that dominates no cell, such as a small island on a coarse grid, has no outline). The line at
±180° (the map's edge) is not drawn.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import xarray as xr

from orbitshare.atomic import atomic_path
from orbitshare.errors import ParameterError
from orbitshare.geo.build import country_cell_pairs
from orbitshare.report.tables import format_index, format_number, plain_text

__all__ = [
    "write_figures",
    "write_serving_map",
    "write_served_maps",
    "SERVED_MAPS",
    "map_figure",
    "dominant_country",
    "outline_segments",
    "map_outlines",
    "grid_edges",
    "png_title",
    "png_text",
    "uniform_value",
    "uniform_sentence",
    "write_choropleth",
    "choropleth_values",
    "UNIFORM_KEY",
    "slug",
    "unique_name",
    "MAP_PIXELS",
    "LORENZ_PIXELS",
    "OUTLINE_COLOR",
]

#: (width, height) of the map PNGs in pixels
MAP_PIXELS = (1200, 675)
#: (width, height) of the Lorenz-curve PNG in pixels
LORENZ_PIXELS = (800, 800)
#: PNG text chunk (key) that marks a uniform map; its value is the sentence the report shows instead
UNIFORM_KEY = "orbitshare-uniform"
#: colour of the country outlines (RGB 0-255); the colour maps used never reach it
OUTLINE_COLOR = (0, 0, 0)
_ZERO_COLOR = "#f4a6a6"  # capacity maps: people but no capacity
_DPI = 100


def slug(name: Any) -> str:
    """``name`` as a file-name stem: runs of characters other than ``A-Za-z0-9._-`` become ``_``.

    >>> slug("S-2 (test)"), slug("OneWeb/Gen 2"), slug("…")
    ('S-2_test', 'OneWeb_Gen_2', 'system')
    """
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return s or "system"


# ============================================================================ outlines
def _edges(ds: xr.Dataset, name: str) -> np.ndarray:
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


def dominant_country(geography: xr.Dataset) -> np.ndarray:
    """int32[nlat, nlon]: index on ``country`` of the cell's dominant country, -1 where sea dominates.

    The dominant label is the country with the largest ``country_fraction`` (the lowest index among
    equals), unless the unclaimed share ``1 − Σ_c country_fraction`` is at least as large (then -1).
    Works on the (country, cell) pairs with a nonzero fraction
    (:func:`orbitshare.geo.build.country_cell_pairs`): memory O(pairs), never countries × cells.
    """
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


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start and stop indices of the runs of True along axis 0 of a 2-D bool array, per column."""
    pad = np.zeros((1, mask.shape[1]), bool)
    d = np.diff(np.concatenate([pad, mask, pad]).astype(np.int8), axis=0)
    s_i, s_j = np.nonzero(d == 1)
    e_i, e_j = np.nonzero(d == -1)
    o1, o2 = np.lexsort((s_i, s_j)), np.lexsort((e_i, e_j))
    return s_j[o1], s_i[o1], e_i[o2]


def outline_segments(geography: xr.Dataset) -> np.ndarray:
    """float64[nseg, 2, 2]: (lon, lat) end points (deg) of the country outlines (module docstring).

    Segments along a cell edge between two cells of different dominant label, consecutive collinear
    edges merged into one segment.
    """
    lab = dominant_country(geography)
    lat_e, lon_e = _edges(geography, "lat"), _edges(geography, "lon")
    if geography["lat"].values[0] > geography["lat"].values[-1]:  # north → south rows
        lab, lat_e = lab[::-1], _edges(geography.isel(lat=slice(None, None, -1)), "lat")
    if geography["lon"].values[0] > geography["lon"].values[-1]:
        lab, lon_e = lab[:, ::-1], _edges(geography.isel(lon=slice(None, None, -1)), "lon")
    segs: list[tuple[tuple[float, float], tuple[float, float]]] = []
    # vertical lines at lon_e[j + 1] where cells (i, j) and (i, j + 1) differ; runs along i
    diff_v = lab[:, 1:] != lab[:, :-1]
    j, i0, i1 = _runs(diff_v)
    for a, b, c in zip(j, i0, i1, strict=True):
        x = lon_e[a + 1]
        segs.append(((x, lat_e[b]), (x, lat_e[c])))
    # horizontal lines at lat_e[i + 1] where cells (i, j) and (i + 1, j) differ; runs along j
    diff_h = (lab[1:, :] != lab[:-1, :]).T
    i, j0, j1 = _runs(diff_h)
    for a, b, c in zip(i, j0, j1, strict=True):
        y = lat_e[a + 1]
        segs.append(((lon_e[b], y), (lon_e[c], y)))
    return np.array(segs, np.float64).reshape(-1, 2, 2)


@functools.lru_cache(maxsize=1)
def _embedded_border_segments() -> np.ndarray:
    """float64[nseg, 2, 2]: every edge of the vendored Natural Earth 1:50m rings, (lon, lat) in deg."""
    from orbitshare.geo.embedded import boundaries

    rings = [ring for ft in boundaries()[0] for ring in _feature_rings(ft) if len(ring) > 1]
    parts = [np.stack([ring[:-1], ring[1:]], axis=1) for ring in rings]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, 2, 2))


def map_outlines(geography: xr.Dataset | None) -> tuple[np.ndarray, str]:
    """The country outlines of the cell maps and the footnote sentence that says what they are.

    The embedded geography: the Natural Earth 1:50m boundaries it is built from (true borders). Any other:
    :func:`outline_segments` (edges between cells of different dominant country). Segments
    float64[nseg, 2, 2], (lon, lat) in deg; none without a geography or countries."""
    if geography is None or not geography.sizes.get("country", 0):
        return np.zeros((0, 2, 2)), ""
    gsrc = str(geography.attrs.get("geography_source", ""))
    if gsrc == "embedded":
        return _embedded_border_segments(), "Outlines: Natural Earth 1:50m country boundaries; plate carrée."
    return outline_segments(geography), (
        "Outlines: edges between grid cells of different dominant country (largest country_fraction, "
        f"or sea) in the geography{' (' + gsrc + ')' if gsrc else ''}; plate carrée."
    )


# ============================================================================ figures
def _figure(pixels: tuple[int, int]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(pixels[0] / _DPI, pixels[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _mpl_text(text: str) -> str:
    """``text`` for a Matplotlib label, shown as it is: :func:`~orbitshare.report.tables.plain_text`, and
    every ``$`` escaped (a system named ``"$\\foo$"`` would otherwise be parsed as mathtext and fail).

    >>> print(_mpl_text("Capacity per person, $S$1"))
    Capacity per person, \\$S\\$1
    """
    return plain_text(text).replace("$", r"\$")


def _save(fig: Any, path: Path, caption: str, uniform: str | None = None) -> Path:
    meta = {"Title": plain_text(caption), "Software": "orbitshare"}
    if uniform is not None:
        meta[UNIFORM_KEY] = plain_text(uniform)
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI, metadata=meta)
    return path


def uniform_value(values: Any) -> float | None:
    """The one value of a uniform field, or None: ``max − min ≤ 1e-9·|max|`` over the finite values (NaN
    ignored); None also where no value is finite.

    >>> uniform_value([[1.0, 1.0], [float("nan"), 1.0]]), uniform_value([0.0, 0.5])
    (1.0, None)
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    hi, lo = float(v.max()), float(v.min())
    return hi if hi - lo <= 1e-9 * abs(hi) else None


def uniform_sentence(title: str, value: float, unit: str) -> str:
    """The sentence that stands for a uniform map: ``title`` (the map's), its one ``value`` and ``unit``.

    >>> uniform_sentence("Share of the demand met, S1", 1.0, "served / busy-hour demand (1)")
    'Share of the demand met, S1: 1 (served / busy-hour demand (1)) in every cell with data; the map is not shown.'
    """
    return f"{title}: {format_number(value)} ({unit}) in every cell with data; the map is not shown."


def map_figure(
    path: str | os.PathLike,
    lat_e: np.ndarray,
    lon_e: np.ndarray,
    values: np.ndarray,
    *,
    title: str,
    cbar_label: str,
    segments: np.ndarray,
    footnote: str,
    log: bool = False,
    vmax: float = 1.0,
) -> Path:
    """Draw one plate-carrée map of ``values`` into the PNG ``path`` (written atomically); return ``path``.

    ``lat_e`` float64[nlat + 1], ``lon_e`` float64[nlon + 1]: cell edges (deg, ascending, as from
    :func:`grid_edges`); ``values`` float[nlat, nlon] in the variable's own unit (NaN: grey). ``log``:
    logarithmic colour scale from the 1st to the 99th percentile of the positive cells, zeros light
    red; otherwise a linear scale from 0 to ``vmax`` (default 1: fractions). ``segments``: outlines as from
    :func:`outline_segments` (lon, lat in deg). ``title`` is also the PNG's ``Title`` chunk, ``cbar_label``
    the colour bar's label (name the unit), ``footnote`` a small note under the map. Size :data:`MAP_PIXELS`.
    """
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
    zeros: np.ma.MaskedArray | None = None
    norm: Any
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
        norm = Normalize(0.0, vmax)
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
                cast(Sequence, segments),  # float64[nseg, 2, 2] (matplotlib's hint says Sequence)
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
    ax.set_title(_mpl_text(title), fontsize=12)
    cb = fig.colorbar(mesh, cax=cax, extend=extend)
    cb.set_label(_mpl_text(cbar_label))
    cb.ax.tick_params(labelsize=8)
    fig.text(0.07, 0.015, textwrap.fill(_mpl_text(footnote), 190), fontsize=7.5, color="#444444", va="bottom")
    one = uniform_value(values)
    return _save(fig, Path(path), title, None if one is None else uniform_sentence(title, one, cbar_label))


def grid_edges(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges ``(lat_e, lon_e)`` (deg, float64[nlat + 1] and float64[nlon + 1]) of ``ds``'s grid.

    From the ``lat_bnds``/``lon_bnds`` variables when ``ds`` has them, else halfway between the cell
    centres (the outer edges mirrored).

    >>> import xarray as xr
    >>> lat_e, lon_e = grid_edges(xr.Dataset(coords={"lat": [-45.0, 45.0], "lon": [-90.0, 90.0]}))
    >>> lat_e.tolist(), lon_e.tolist()
    ([-90.0, 0.0, 90.0], [-180.0, 0.0, 180.0])
    """
    lat_e, lon_e = _edges(ds, "lat"), _edges(ds, "lon")
    return lat_e, lon_e


def _sorted_latlon(da: xr.DataArray) -> xr.DataArray:
    return da.sortby("lat").sortby("lon")


def unique_name(stem: str, used: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3``, ... : the first not in ``used``, which is added to ``used``.

    >>> used = {"map_a"}
    >>> unique_name("map_a", used), unique_name("map_a", used), sorted(used)
    ('map_a_2', 'map_a_3', ['map_a', 'map_a_2', 'map_a_3'])
    """
    name, k = stem, 2
    while name in used:
        name, k = f"{stem}_{k}", k + 1
    used.add(name)
    return name


def write_figures(
    out_dir: str | os.PathLike,
    geography: xr.Dataset | None,
    coverage: xr.Dataset | None,
    capacity: xr.Dataset | None = None,
    equity: xr.Dataset | None = None,
) -> list[Path]:
    """Write the maps and the Lorenz curves as PNG into ``out_dir``; return their paths.

    Covered-fraction maps need ``coverage`` (``covered_fraction(system, lat, lon)``), capacity maps
    ``capacity`` (``capacity_per_person_mbps`` or ``capacity_mbps`` (system, lat, lon)), the Lorenz
    figure ``equity`` with ``lorenz_population_share``/``lorenz_capacity_share``; what is missing is
    skipped. Outlines from ``geography`` (module docstring). Sizes: :data:`MAP_PIXELS`, :data:`LORENZ_PIXELS`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    segments, foot = map_outlines(geography)
    paths: list[Path] = []
    used: set[str] = set()
    if coverage is not None and "covered_fraction" in coverage:
        cf = _sorted_latlon(coverage["covered_fraction"])
        lat_e, lon_e = grid_edges(coverage.sortby("lat").sortby("lon"))
        res = coverage.attrs.get("grid_resolution_deg")
        for s in cf["system"].values:
            field = cf.sel(system=s).transpose("lat", "lon").values
            mv = ""
            if "min_visible" in cf.coords:
                mv = f" (at least {int(cf['min_visible'].sel(system=s))} satellite(s) in view)"
            title = f"Covered fraction of time, {s}"
            name = unique_name(f"map_covered_fraction_{slug(s)}", used)
            paths.append(
                map_figure(
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
            if "population" in cds.variables:
                pop = cds["population"]
            elif geography is not None:
                pop = geography["population"].sortby("lat").sortby("lon")
            else:
                raise ParameterError(
                    "write_figures: capacity has neither capacity_per_person_mbps nor population; "
                    "pass the geography for its population"
                )
            cpp = (cds["capacity_mbps"] / pop.where(pop > 0)).transpose("system", "lat", "lon")
        lat_e, lon_e = grid_edges(cds)
        systems = [str(s) for s in cpp["system"].values]
        vals = np.asarray(cpp.values, np.float64)
        fields = [(s, vals[k]) for k, s in enumerate(systems)]
        if len(systems) > 1:
            allv = np.where(np.isnan(vals).all(axis=0), np.nan, np.nansum(vals, axis=0))
            fields.append(("all systems", allv))
        for s, v in fields:
            stem = "map_capacity_per_person_all" if s == "all systems" else f"map_capacity_per_person_{slug(s)}"
            name = unique_name(stem, used)
            paths.append(
                map_figure(
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
    elif equity is not None and "lorenz_served_share" in equity:
        paths.append(_lorenz_figure(out / "lorenz_served_per_subscriber.png", equity))
    return paths


#: the maps of an allocation's capacity Dataset (:func:`write_served_maps`)
SERVED_MAPS = ("served_per_subscriber_mbps", "demand_met_fraction")


def _served_fields(cds: xr.Dataset, name: str) -> list[tuple[str, np.ndarray]]:
    """(label, float64[nlat, nlon]) per system and, with several systems, for all ("all systems") of
    ``name`` (one of :data:`SERVED_MAPS`) from an allocation's capacity Dataset sorted by lat, lon."""
    served = cds["served_mbps"].transpose("system", "lat", "lon")
    systems = [str(s) for s in served["system"].values]
    sv = np.asarray(served.values, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "served_per_subscriber_mbps":
            subs = np.asarray(cds["subscribers"].transpose("lat", "lon").values, np.float64)
            per = np.where(subs > 0, sv / np.where(subs > 0, subs, 1.0), np.nan)
            total = (
                np.asarray(cds[name].transpose("lat", "lon").values, np.float64) if name in cds else np.nansum(per, 0)
            )
        else:
            if "system_demand_met_fraction" in cds:
                per = np.asarray(cds["system_demand_met_fraction"].transpose("system", "lat", "lon").values, np.float64)
            else:
                dem = np.asarray(cds["system_demand_mbps"].transpose("system", "lat", "lon").values, np.float64)
                per = np.where(dem > 0, sv / np.where(dem > 0, dem, 1.0), np.nan)
            total = np.asarray(cds[name].transpose("lat", "lon").values, np.float64)
    fields = [(s, per[k]) for k, s in enumerate(systems)]
    if len(systems) > 1:
        fields.append(("all systems", total))
    return fields


def write_served_maps(
    out_dir: str | os.PathLike,
    geography: xr.Dataset | None,
    capacity: xr.Dataset,
    names: Sequence[str] = SERVED_MAPS,
    *,
    note: str = "",
) -> list[Path]:
    """Maps of an allocation (capacity rule "maxmin" or "throughput"); return the PNG paths.

    ``names``: any of :data:`SERVED_MAPS`. ``served_per_subscriber_mbps``: the time-mean rate served per
    subscriber (Mbit/s; linear scale from 0 to the busy-hour rate per subscriber, ``attrs["busy_hour_mbps"]``,
    which no cell exceeds), per system (``served_mbps / subscribers``) and, with several systems, for all
    (``map_served_per_subscriber_<system>.png``, ``map_served_per_subscriber_all.png``); grey: no subscribers.
    ``demand_met_fraction``: the share of the busy-hour demand met (1; 0 to 1), per system
    (``system_demand_met_fraction``) and for all (``map_demand_met_fraction_<system>.png``,
    ``..._all.png``); grey: no demand (sea, no subscribers, or no system may serve). ``note``: a sentence
    added to each footnote (the runner says there when a map stands in for ``capacity_per_person_mbps``).
    Outlines as in :func:`write_figures`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [n for n in ("served_mbps", "subscribers", "demand_met_fraction") if n not in capacity.variables]
    if missing:
        raise ParameterError(f"write_served_maps: capacity lacks {missing} (an allocation's capacity Dataset)")
    segments, foot = map_outlines(geography)
    rule = str(capacity.attrs.get("rule", "maxmin"))
    busy = float(capacity.attrs.get("busy_hour_mbps", float("nan")))
    cds = capacity.sortby("lat").sortby("lon")
    lat_e, lon_e = grid_edges(cds)
    paths: list[Path] = []
    used: set[str] = set()
    extra = f" {note}" if note else ""
    for name in names:
        if name not in SERVED_MAPS:
            raise ParameterError(f"write_served_maps: unknown map {name!r}; expected one of {SERVED_MAPS}")
        for s, v in _served_fields(cds, name):
            base = name.removesuffix("_mbps")
            stem = f"map_{base}_all" if s == "all systems" else f"map_{base}_{slug(s)}"
            if name == "served_per_subscriber_mbps":
                title = f"Rate served per subscriber, {s}"
                vmax = busy if math.isfinite(busy) and busy > 0 else float(np.nanmax(v, initial=1.0)) or 1.0
                cbar = "Mbit/s per subscriber (busy hour, time mean)"
                text = (
                    f"Rate served per subscriber (capacity rule {rule!r}; linear scale up to the busy-hour "
                    f"demand of {format_number(busy)} Mbit/s per subscriber); grey: no subscribers."
                )
            else:
                title = f"Share of the demand met, {s}"
                vmax = 1.0
                cbar = "served / busy-hour demand (1)"
                text = (
                    f"Share of the cell's busy-hour demand met (capacity rule {rule!r}); grey: no demand "
                    "(sea, no subscribers, or no system may serve)."
                )
            paths.append(
                map_figure(
                    out / f"{unique_name(stem, used)}.png",
                    lat_e,
                    lon_e,
                    v,
                    title=title,
                    cbar_label=cbar,
                    segments=segments,
                    footnote=text + extra + " " + foot,
                    vmax=vmax,
                )
            )
    return paths


def write_serving_map(out_dir: str | os.PathLike, geography: xr.Dataset, countries: xr.Dataset) -> list[Path]:
    """Write ``map_systems_serving.png`` into ``out_dir`` (number of systems that may serve each cell's
    dominant country, from ``countries["systems_serving"]``); return ``[path]``, or ``[]`` where no
    system is restricted by landing rights (``may_serve`` all 1) or the variables are missing.

    ``geography``: the run's geography (same ``country`` dimension as ``countries``); cells whose
    dominant land is sea are grey. Colour scale: 0 to the number of systems (linear).
    """
    if "may_serve" not in countries or "systems_serving" not in countries:
        return []
    if bool(np.asarray(countries["may_serve"].values).all()):
        return []
    if [str(c) for c in geography["country"].values] != [str(c) for c in countries["country"].values]:
        raise ParameterError("write_serving_map: the geography's country dimension differs from the accounts'")
    geo = geography.sortby("lat").sortby("lon")
    dom = dominant_country(geo)
    n = np.asarray(countries["systems_serving"].values, np.float64)
    field = np.where(dom >= 0, n[np.maximum(dom, 0)], np.nan)
    lat_e, lon_e = grid_edges(geo)
    nsys = countries.sizes.get("system", 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gsrc = geography.attrs.get("geography_source", "")
    segments, outlines = map_outlines(geo)
    return [
        map_figure(
            out / "map_systems_serving.png",
            lat_e,
            lon_e,
            field,
            title="Systems that may serve each country (landing rights)",
            cbar_label="number of systems (1)",
            segments=segments,
            footnote="Per cell, the number of systems that may serve the cell's dominant country (largest "
            f"country_fraction; grey: sea) under their landing rights, out of {nsys}"
            f"{'; geography ' + gsrc if gsrc else ''}. {outlines}",
            vmax=float(max(nsys, 1)),
        )
    ]


# ============================================================================ choropleth
def choropleth_values(countries: xr.Dataset) -> tuple[np.ndarray, str, str, bool] | None:
    """The headline per country for the choropleth: ``(values float64[country], title, unit, is_share)``.

    The share of the demand met (``demand_met_fraction``, 1) under an allocation rule, else the service
    ratio (``service_ratio_total``, 1: share of world capacity / share of world population); None
    without either.
    """
    if "demand_met_fraction" in countries and countries["demand_met_fraction"].dims == ("country",):
        v = countries["demand_met_fraction"]
        return np.asarray(v.values, np.float64), "Share of the demand met by country", "served / demand (1)", True
    if "service_ratio_total" in countries and countries["service_ratio_total"].dims == ("country",):
        v = countries["service_ratio_total"]
        unit = "share of world capacity / share of world population (1)"
        return np.asarray(v.values, np.float64), "Service ratio by country", unit, False
    return None


def _feature_rings(feature: dict[str, Any]) -> list[np.ndarray]:
    """Outer and inner rings (lon, lat in deg) of a GeoJSON-like feature's Polygon or MultiPolygon."""
    geom = feature.get("geometry") or {}
    coords = geom.get("coordinates") or []
    polys: list = {"Polygon": [coords], "MultiPolygon": list(coords)}.get(str(geom.get("type")), [])
    return [np.asarray(r, np.float64)[:, :2] for poly in polys for r in poly]


def _choropleth_norm(values: np.ndarray, share: bool) -> tuple[Any, Any, str]:
    """Colour map, norm and colour-bar ``extend`` for the choropleth (shares linear 0-1; ratios log, centred
    on 1, symmetric decades)."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    if share:
        return colormaps["YlGnBu"].with_extremes(bad="#e6e6e6"), Normalize(0.0, 1.0), "neither"
    pos = values[np.isfinite(values) & (values > 0)]
    dec = float(np.ceil(np.max(np.abs(np.log10(pos))))) if pos.size else 1.0
    r = 10.0 ** min(max(dec, 1.0), 3.0)
    cmap = colormaps["RdBu"].with_extremes(bad="#e6e6e6", under=_ZERO_COLOR)
    return cmap, LogNorm(1.0 / r, r), "both"


def write_choropleth(
    out_dir: str | os.PathLike,
    geography: xr.Dataset,
    countries: xr.Dataset,
    *,
    boundaries: Sequence[dict[str, Any]] | str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``map_country_<headline>.png``: one value per country (:func:`choropleth_values`) on a
    Mollweide (equal-area) map; return ``[path]``, or ``[]`` without a headline variable.

    ``boundaries``: true country boundaries (GeoJSON-like features, or a Natural Earth file read with
    :func:`orbitshare.geo.naturalearth.read_features`; joined to ``countries``' codes as the geography joins
    them, :func:`orbitshare.geo.naturalearth.feature_codes`). Without them the countries are drawn from the
    geography's cells (each cell coloured by its dominant country, :func:`dominant_country`): gridded, and
    the caption says so. A uniform map is
    marked (:data:`UNIFORM_KEY`). Size :data:`MAP_PIXELS`.
    """
    from matplotlib.collections import LineCollection, PolyCollection

    head = choropleth_values(countries)
    if head is None:
        return []
    values, title, unit, share = head
    if [str(c) for c in geography["country"].values] != [str(c) for c in countries["country"].values]:
        raise ParameterError("write_choropleth: the geography's country dimension differs from the accounts'")
    cmap, norm, extend = _choropleth_norm(values, share)
    fig = _figure(MAP_PIXELS)
    ax = fig.add_axes((0.03, 0.12, 0.84, 0.78), projection="mollweide")
    cax = fig.add_axes((0.895, 0.2, 0.02, 0.62))
    rad = np.pi / 180.0
    index = {str(c): k for k, c in enumerate(countries["country"].values)}
    shown: list[float] = []
    if boundaries is not None:
        if isinstance(boundaries, (str, os.PathLike)):
            from orbitshare.geo.naturalearth import read_features

            boundaries = read_features(boundaries)
        from orbitshare.geo.naturalearth import feature_codes

        # the vertices are projected here, point by point: drawn through the Mollweide axes' data transform,
        # matplotlib would first cut every edge into 75 pieces (a minute for Natural Earth 50m); the
        # boundaries' vertices are dense enough for straight edges in the projected plane
        proj = ax.transProjection
        polys, colours = [], []
        for ft, code in zip(boundaries, feature_codes(boundaries), strict=True):  # joined as the geography is
            k = index.get(code, -1)
            x = values[k] if k >= 0 else np.nan
            if np.isfinite(x):
                shown.append(float(x))
            rgba = cmap(norm(x)) if np.isfinite(x) else cmap.get_bad()
            for ring in _feature_rings(ft):
                polys.append(proj.transform(ring * rad))
                colours.append(rgba)
        ax.add_collection(
            PolyCollection(
                polys, facecolors=colours, edgecolors="black", linewidths=0.3, transform=ax.transAffine + ax.transAxes
            )
        )
        how = "Natural Earth country boundaries"
    else:
        geo = geography.sortby("lat").sortby("lon")
        dom = dominant_country(geo)
        field = np.where(dom >= 0, values[np.maximum(dom, 0)], np.nan)
        shown = [float(x) for x in values[np.unique(dom[dom >= 0])] if np.isfinite(x)]
        lat_e, lon_e = grid_edges(geo)
        ax.pcolormesh(
            lon_e * rad, lat_e * rad, np.ma.masked_invalid(field), cmap=cmap, norm=norm, shading="flat", rasterized=True
        )
        segs = outline_segments(geo) if geo.sizes.get("country", 0) else np.zeros((0, 2, 2))
        if len(segs):
            ax.add_collection(LineCollection(cast(Sequence, segs * rad), colors="black", linewidths=0.5))
        how = (
            "countries drawn from the geography's grid cells (each cell in the colour of its dominant country; "
            "gridded, not true boundaries)"
        )
    ax.set_xticklabels([])
    ax.grid(True, color="0.85", linewidth=0.5)
    ax.tick_params(labelsize=7)
    ax.set_title(_mpl_text(title), fontsize=12)
    from matplotlib.cm import ScalarMappable

    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, extend=extend)
    cb.set_label(_mpl_text(unit))
    cb.ax.tick_params(labelsize=8)
    gsrc = geography.attrs.get("geography_source", "")
    foot = (
        f"One value per country; Mollweide equal-area projection; {how}"
        f"{'; geography ' + gsrc if gsrc else ''}; grey: no value (sea, no people)."
    )
    if not share:
        foot += " Blue: above the world's per-person share (ratio > 1); red: below; light red: zero."
    fig.text(0.03, 0.015, textwrap.fill(_mpl_text(foot), 190), fontsize=7.5, color="#444444", va="bottom")
    one = uniform_value(shown)
    stem = "map_country_demand_met_fraction" if share else "map_country_service_ratio"
    path = Path(out_dir) / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return [_save(fig, path, title, None if one is None else uniform_sentence(title, one, unit))]


def _lorenz_figure(path: Path, equity: xr.Dataset) -> Path:
    served = "lorenz_served_share" in equity and "lorenz_capacity_share" not in equity
    px, ly = (
        ("lorenz_subscriber_share", "lorenz_served_share")
        if served
        else ("lorenz_population_share", "lorenz_capacity_share")
    )
    quantity = "served_per_subscriber" if served else "capacity_per_person"
    fig = _figure(LORENZ_PIXELS)
    ax = fig.add_axes((0.12, 0.1, 0.82, 0.8))
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="equal shares")
    has_gini = "gini" in equity and quantity in equity["quantity"].values and "people" in equity["scope"].values
    systems = [str(s) for s in equity["system"].values]
    if len(systems) == 2 and "all" in systems:  # one system: "all" is the same curve
        systems = [x for x in systems if x != "all"]
    for s in systems:
        p = np.asarray(equity[px].sel(system=s).values, np.float64)
        c = np.asarray(equity[ly].sel(system=s).values, np.float64)
        ok = np.isfinite(p) & np.isfinite(c)
        label = "all systems" if s == "all" else str(s)
        if has_gini:
            g = equity["gini"].sel(quantity=quantity, scope="people", system=s).item()
            label += f" (Gini {format_index(g)})"
        if not ok.any():
            label += ": nothing served" if served else ": no capacity"
        ax.plot(p[ok], c[ok], linewidth=2.0 if s == "all" else 1.3, label=_mpl_text(label))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.grid(True, color="0.9")
    if served:
        ax.set_xlabel("cumulative share of subscribers (1), from least to best served")
        ax.set_ylabel("cumulative share of the rate served (1)")
        title = "Lorenz curves of the rate served per subscriber across subscribers"
    else:
        ax.set_xlabel("cumulative share of people (1), from least to best served")
        ax.set_ylabel("cumulative share of capacity delivered (1)")
        title = "Lorenz curves of capacity per person across people"
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, Path(path), title)


def png_title(path: str | os.PathLike) -> str | None:
    """The ``Title`` text chunk of the PNG file ``path`` (tEXt, zTXt or iTXt), or None (no such chunk,
    not a PNG, unreadable)."""
    return png_text(path, "Title")


def png_text(path: str | os.PathLike, key: str) -> str | None:
    """The text chunk ``key`` of the PNG file ``path`` (tEXt, zTXt or iTXt), or None (no such chunk,
    not a PNG, unreadable)."""
    want = key.encode("latin-1")
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
                if k == want:
                    return v.decode("latin-1")
            elif kind == b"zTXt":
                k, _, v = body.partition(b"\0")
                if k == want:
                    return zlib.decompress(v[1:]).decode("latin-1")
            elif kind == b"iTXt":
                k, _, rest = body.partition(b"\0")
                if k == want:
                    comp, rest = rest[0], rest[2:]
                    _lang, _, rest = rest.partition(b"\0")
                    _tr, _, text = rest.partition(b"\0")
                    return (zlib.decompress(text) if comp else text).decode("utf-8")
            elif kind == b"IDAT" or kind == b"IEND":
                break
        except (zlib.error, IndexError, UnicodeDecodeError):
            return None
    return None
