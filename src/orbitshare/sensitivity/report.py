"""The sweep report: ``report.md`` and ``report.html`` (the run report's renderers, read-only) with the
intervals of the headline indicator, the robustness read-outs and a tornado chart (``tornado.png``).

Tornado chart: per group of LDC, LLDC and SIDS, one bar per parameter from the lowest to the highest
headline indicator as the parameter varies, the parameter's value written at each end, the base run's
value as a vertical line, parameters sorted by the bar's length. In a grid that holds the base run the
other parameters stay at the base's values (one at a time); otherwise each end is the median over the
design samples that share a value of the parameter (a continuous distribution: a third of its samples,
by value).
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
from orbitshare.report.document import _Block as Block
from orbitshare.report.document import _h, _p, _render_html, _render_md, _table
from orbitshare.sensitivity.spec import Parameter, SweepSpec

__all__ = ["TORNADO_GROUPS", "tornado_bars", "write_tornado", "write_report"]

TORNADO_GROUPS = ("ldc", "lldc", "sids")
_LABEL = {"ldc": "LDC", "lldc": "LLDC", "sids": "SIDS", "world": "World"}


def _bins(param: Parameter, values: Sequence[Any]) -> list[tuple[str, np.ndarray]]:
    """(label, positions) of the samples that share a value (discrete) or a third of the values (continuous,
    labelled by the median value of the third)."""
    if param.discrete:
        keys = [str(v) for v in values]
        return [(k, np.flatnonzero(np.array(keys) == k)) for k in dict.fromkeys(keys)]
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    return [(f"~{np.median(x[b]):.3g}", b) for b in np.array_split(order, 3) if b.size]


def tornado_bars(
    spec: SweepSpec, values: dict[str, list[Any]], y: np.ndarray, design: Sequence[int], base: int
) -> list[tuple[str, float, float, str, str]]:
    """(parameter, low, high, value at low, value at high) of ``y`` (per sample), longest bar first.

    A grid that holds the base run: one parameter at a time, the others at the base's values (the classic
    tornado). Otherwise the medians of ``y`` over the design samples that share a value of the parameter
    (a third of its values for a continuous distribution)."""
    oat = spec.method == "grid" and base in design
    bars = []
    for p in spec.parameters:
        idx = np.asarray(list(design), dtype=np.int64)
        if oat:
            others = [q.path for q in spec.parameters if q.path != p.path]
            idx = np.array([i for i in idx if all(values[o][i] == values[o][base] for o in others)], dtype=np.int64)
        v = [values[p.path][i] for i in idx]
        meds = [(float(np.nanmedian(y[idx[b]])), label) for label, b in _bins(p, v) if np.isfinite(y[idx[b]]).any()]
        if meds:
            lo, hi = min(meds), max(meds)
            bars.append((p.path, lo[0], hi[0], lo[1], hi[1]))
    return sorted(bars, key=lambda b: -(b[2] - b[1]))


def write_tornado(
    path: Path,
    spec: SweepSpec,
    values: dict[str, list[Any]],
    groups: xr.Dataset,
    indicator: str,
    base: int,
    design: Sequence[int],
) -> Path | None:
    """Draw the tornado chart of ``indicator`` (one panel per group of :data:`TORNADO_GROUPS`) into the PNG
    ``path`` (atomically); None when no group has a finite value."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [g for g in TORNADO_GROUPS if g in groups["group"].values]
    if not panels:
        return None
    k = len(spec.parameters)
    fig = Figure(figsize=(5.5 * len(panels), 1.4 + 0.5 * k))
    FigureCanvasAgg(fig)
    drawn = False
    for j, g in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), j + 1)
        y = groups[indicator].sel(group=g).values.astype(np.float64)
        bars = list(reversed(tornado_bars(spec, values, y, design, base)))
        for r, (_name, lo, hi, lo_label, hi_label) in enumerate(bars):
            ax.barh(r, max(hi - lo, 1e-12 * max(abs(hi), 1.0)), left=lo, color="#4477aa", height=0.6)
            ax.annotate(
                lo_label, (lo, r), xytext=(-2, 0), textcoords="offset points", ha="right", va="center", fontsize=7
            )
            ax.annotate(
                hi_label, (hi, r), xytext=(2, 0), textcoords="offset points", ha="left", va="center", fontsize=7
            )
            drawn = True
        ax.set_yticks(range(len(bars)))
        ax.set_yticklabels([b[0] for b in bars] if j == 0 else [""] * len(bars), fontsize=8)
        ax.use_sticky_edges = False  # (bars stick to their left end otherwise)
        ax.margins(x=0.25)
        b = float(groups[indicator].sel(group=g, sample=base))
        if math.isfinite(b):
            ax.axvline(b, color="#cc3311", lw=1.2, label="base run")
        ax.set_title(f"{_LABEL.get(g, g)}: {indicator}", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        if j == 0 and math.isfinite(b):
            ax.legend(fontsize=7, loc="lower right")
    if not drawn:
        return None
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": "orbitshare"})
    return path


def _num(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.4g}"


def _pct(x: Any) -> str:
    v = float(x)
    return "n/a" if not math.isfinite(v) else f"{100 * v:.0f} %"


def report_blocks(
    *,
    name: str,
    spec: SweepSpec,
    base_values: dict[str, Any],
    base: int,
    nsamples: int,
    indicator: str,
    robustness: pd.DataFrame,
    ranks: pd.DataFrame,
    indices: pd.DataFrame | None,
    tornado: str | None,
    seconds_per_sample: float,
    design: Sequence[int],
) -> list[Block]:
    """The report's blocks (headings, paragraphs, tables, the figure)."""
    base_note = (
        "sample 0 is the base experiment (run as written, outside the design)"
        if base == 0 and 0 not in design
        else f"the base experiment is the grid point sample {base}"
    )
    blocks = [
        _h(1, f"orbitshare sweep report: {name}"),
        _p(
            f"Method {spec.method}, {len(design)} design samples"
            + ("" if spec.method == "grid" else f" (seed {spec.seed})")
            + f", {nsamples} runs in all; "
            f"{base_note}. Each sample is the run orbitshare run makes of the experiment with the sampled values "
            f"set. Mean time per run: {seconds_per_sample:.1f} s."
        ),
        _h(2, "Parameters"),
        _table(
            ["parameter", "distribution", "base value"],
            [[p.path, p.describe(), str(base_values.get(p.path))] for p in spec.parameters],
            ["l", "l", "r"],
        ),
        _h(2, f"Headline: {indicator}"),
        _p(
            "Per group, over the design samples: the 5 %, 50 % and 95 % quantiles, the base run, and how often "
            "the group is below 1 and below the world figure of the same sample."
        ),
        _table(
            ["group", "q05", "q50", "q95", "base", "P(< 1)", "P(< world)", "n"],
            [
                [
                    _LABEL.get(r.group, r.group),
                    _num(r.q05),
                    _num(r.q50),
                    _num(r.q95),
                    _num(r.base),
                    _pct(r.p_below_1),
                    _pct(r.p_below_world),
                    str(r.n),
                ]
                for r in robustness.itertuples()
            ],
        ),
    ]
    sel = ranks[ranks["sample"].isin(list(design)) & (ranks["sample"] != base)]
    sel = sel[np.isfinite(sel["spearman_rho"].to_numpy(dtype=np.float64))]
    if len(sel):
        rho, n = sel["spearman_rho"].to_numpy(dtype=np.float64), sel["countries"].to_numpy()
        blocks.append(
            _p(
                f"Rank stability of the countries ({indicator}) against the base run: Spearman's rho min "
                f"{rho.min():.3f}, median {np.median(rho):.3f}, max {rho.max():.3f} over {rho.size} samples, "
                f"each over the {n.min()} to {n.max()} countries with people and a value in both "
                "(rank_stability.csv)."
            )
        )
    if tornado is not None:
        blocks.append(
            Block(
                "figure",
                src=tornado,
                caption=f"Tornado: {indicator} as each parameter varies (its values at the ends); red: base run",
            )
        )
    if indices is not None and len(indices):
        cols = [c for c in indices.columns if c not in ("group", "indicator", "parameter")]
        blocks += [
            _h(2, f"{spec.method.capitalize()} indices (SALib) of {indicator}"),
            _table(
                ["group", "parameter", *cols],
                [
                    [_LABEL.get(r["group"], r["group"]), r["parameter"], *(_num(r[c]) for c in cols)]
                    for _, r in indices.iterrows()
                ],
                ["l", "l", *["r"] * len(cols)],
            ),
        ]
    blocks.append(
        _p(
            "Files: sweep.h5 (groups and countries of every sample along 'sample'), groups.csv, countries.csv, "
            "summary.csv (q05/q50/q95 of every indicator), robustness.csv, rank_stability.csv"
            + (", indices.csv" if indices is not None else "")
            + "; each sample's own run directory under samples/."
        )
    )
    return blocks


def write_report(out: Path, blocks: list[Block], title: str) -> list[Path]:
    """``report.md`` and ``report.html`` of ``blocks`` into ``out`` (atomically); their paths."""
    paths = []
    for fname, text in (("report.md", _render_md(blocks)), ("report.html", _render_html(blocks, title, base=out))):
        with atomic_path(out / fname, overwrite=True) as tmp:
            tmp.write_text(text, encoding="utf-8")
        paths.append(out / fname)
    return paths
