"""The report's EPFD↓ section and maps: single-entry EPFD of each non-GSO system against RR Article 22.

:func:`epfd_blocks` gives the section (what is counted, the PFD of each system and its source, the share of
the world's people and land where the limits are exceeded per system and antenna, the countries that see
exceedances, the equity read-out of GSO networks of LDC/LLDC/SIDS administrations); the runner passes it to
:func:`orbitshare.report.document.write_report` as ``meta[EPFD_BLOCKS]``. :func:`write_epfd_maps` draws, per
system, the number of antenna sizes for which the limits are exceeded in each cell.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from orbitshare.analysis.protection import SINGLE_ENTRY_NOTE, equity_readout, no_catalogue_sentence
from orbitshare.report.document import _h, _p, _table
from orbitshare.report.figures import grid_edges, map_figure, map_outlines, slug, unique_name
from orbitshare.report.tables import format_number

__all__ = ["EPFD_BLOCKS", "epfd_blocks", "write_epfd_maps", "exceeding_countries"]

#: the ``meta`` key of write_report that holds the section's blocks
EPFD_BLOCKS = "epfd_blocks"
#: at most this many countries are named per (system, antenna) in the section
MAX_NAMED = 12


def _antenna_text(d: float) -> str:
    return f"{format_number(float(d))} m"


def exceeding_countries(summary: xr.Dataset, system: str, antenna_m: float) -> list[str]:
    """Names of the countries with exceedances for ``system`` and an antenna of ``antenna_m`` (m), the largest
    share of population exceeded first."""
    sel = summary.sel(system=system, antenna=antenna_m)
    hit = np.flatnonzero(np.asarray(sel["exceeded_anywhere"].values) > 0)
    share = np.nan_to_num(np.asarray(sel["population_exceeded_fraction"].values, np.float64))
    names = summary["country_name"].values if "country_name" in summary.coords else summary["country"].values
    order = sorted(hit, key=lambda c: (-share[c], str(names[c])))
    return [str(names[c]) for c in order]


def _countries_text(summary: xr.Dataset, system: str, antenna_m: float) -> str:
    """The countries with exceedances (count and names); when they are most of the countries on the grid, the
    count and the names of those without."""
    names = exceeding_countries(summary, system, antenna_m)
    on_grid = np.asarray(summary["land_area"].values, np.float64) > 0
    total = int(on_grid.sum())
    if not names:
        return "none"
    if 2 * len(names) > total:
        sel = summary.sel(system=system, antenna=antenna_m)
        label = summary["country_name"] if "country_name" in summary.coords else summary["country"]
        rest = [
            str(n)
            for n, e, g in zip(label.values, sel["exceeded_anywhere"].values, on_grid, strict=True)
            if g and not e
        ]
        more = f" and {len(rest) - MAX_NAMED} more" if len(rest) > MAX_NAMED else ""
        return f"{len(names)} of {total}; none in: " + (", ".join(rest[:MAX_NAMED]) + more if rest else "no country")
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return f"{len(names)} of {total}: " + ", ".join(names[:MAX_NAMED]) + more


def _world_rows(summary: xr.Dataset) -> list[list[str]]:
    rows = []
    for s in summary["system"].values:
        for d in summary["antenna"].values:
            g = summary.sel(system=s, antenna=d, group="world")
            margin = float(g["group_worst_margin_db"])
            rows.append(
                [
                    str(s),
                    _antenna_text(float(d)),
                    f"{100 * float(g['group_population_exceeded_fraction']):.1f} %",
                    f"{100 * float(g['group_land_exceeded_fraction']):.1f} %",
                    format_number(margin) if np.isfinite(margin) else "n/a",
                    _countries_text(summary, str(s), float(d)),
                ]
            )
    return rows


def _readout_blocks(summary: xr.Dataset) -> list[Any]:
    blocks: list[Any] = [_h(3, "Equity read-out: GSO networks of LDC, LLDC and SIDS administrations")]
    if summary.attrs.get("gso_catalogue") != "yes":
        return blocks + [_p(no_catalogue_sentence())]
    rows = equity_readout(summary)
    if not rows:
        return blocks + [
            _p(
                "No LDC, LLDC or SIDS administration operating GSO satellites in the run's catalogue sees an "
                "exceedance on its own territory, for any system and antenna."
            )
        ]
    blocks.append(
        _p(
            "Administrations that are LDC, LLDC or SIDS and operate GSO satellites (the run's GSO catalogue) whose "
            "own territory sees the Article 22 limits exceeded, per antenna, and the non-GSO systems that cause it "
            "(each system checked alone)."
        )
    )
    table = [
        [_antenna_text(r["antenna_m"]), r["country_name"], r["groups"], str(r["gso_sats_own"]), ", ".join(r["systems"])]
        for r in rows
    ]
    header = ["antenna", "administration", "group", "GSO satellites", "systems exceeding"]
    return blocks + [_table(header, table, align=["r", "l", "l", "r", "l"])]


def epfd_blocks(epfd_ds: xr.Dataset, summary: xr.Dataset | None) -> list[Any]:
    """The report section on EPFD↓ (blocks of :mod:`orbitshare.report.document`) from the "epfd" and
    "epfd_countries" datasets (:mod:`orbitshare.analysis.protection`)."""
    freq = epfd_ds.attrs.get("frequency_mhz")
    blocks: list[Any] = [
        _h(2, "EPFD-down against RR Article 22"),
        _p(
            "Per system, the equivalent power flux-density at a GSO earth station in every cell (the ITU-R S.1428-1 "
            "reference pattern, pointing at the worst GSO position of the visible arc), each step summing the "
            "system's satellites in view, checked against the Article 22 limits per antenna size"
            + (f" at {float(freq):.0f} MHz" if freq is not None else "")
            + f". These are {SINGLE_ENTRY_NOTE}. Population and land shares weigh cells as the country accounts do."
        ),
    ]
    if "pfd_source" in epfd_ds:
        rows = [
            [str(s), format_number(float(v)), str(src)]
            for s, v, src in zip(
                epfd_ds["system"].values, epfd_ds["pfd_dbw_m2_40khz"].values, epfd_ds["pfd_source"].values, strict=True
            )
        ]
        blocks.append(_table(["system", "PFD dB(W/m2) in 40 kHz", "source of the PFD"], rows, align=["l", "r", "l"]))
    if summary is None:
        return blocks
    header = ["system", "antenna", "people exceeded (world)", "land exceeded (world)", "worst margin dB", "countries"]
    blocks.append(_table(header, _world_rows(summary), align=["l", "r", "r", "r", "r", "l"]))
    return blocks + _readout_blocks(summary)


def write_epfd_maps(out_dir: str | os.PathLike, geography: xr.Dataset, epfd_ds: xr.Dataset) -> list[Path]:
    """Per system, ``map_epfd_exceeded_<system>.png`` in ``out_dir``: in each cell the number of antenna sizes
    for which the Article 22 limits are exceeded (0 to the number of antennas; grey: no GSO pointing)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    geo = geography.sortby("lat").sortby("lon")
    ds = epfd_ds.sortby("lat").sortby("lon")
    lat_e, lon_e = grid_edges(geo)
    segments, outlines = map_outlines(geo)
    nant = ds.sizes["antenna"]
    sizes = ", ".join(_antenna_text(float(d)) for d in ds["antenna"].values)
    used: set[str] = set()
    paths = []
    for s in ds["system"].values:
        one = ds.sel(system=s)
        count = np.asarray(one["exceeded"].sum("antenna").transpose("lat", "lon").values, np.float64)
        none = np.asarray(one["worst_ratio"].isnull().all("antenna").transpose("lat", "lon").values)
        field = np.where(none, np.nan, count)
        name = unique_name(f"map_epfd_exceeded_{slug(s)}", used)
        paths.append(
            map_figure(
                out / f"{name}.png",
                lat_e,
                lon_e,
                field,
                title=f"Article 22 EPFD-down limits exceeded: {s} (single entry)",
                cbar_label=f"antenna sizes exceeded (of {nant})",
                segments=segments,
                footnote=f"Per cell, the number of GSO earth-station antenna sizes ({sizes}) for which the EPFD-down "
                "of this system alone exceeds the RR Article 22 limits at the worst GSO pointing; grey: no GSO "
                f"position above the minimum elevation. {outlines}",
                vmax=float(max(nant, 1)),
            )
        )
    return paths
